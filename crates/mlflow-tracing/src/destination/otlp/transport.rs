//! What the HTTP and gRPC transports share: the [`Transport`] interface, scrubbing
//! secrets from what a receiver echoes back, and reporting partial success.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest,
};

use super::retry::{Retry, SendError};
use crate::config::redact::Secrets;
use crate::report;

/// Exports one request. Implemented by the HTTP and gRPC transports: each encodes the
/// request once, then sends it under `retry`.
pub(super) trait Transport: Send {
    fn export(
        &mut self,
        request: &ExportTraceServiceRequest,
        retry: &Retry,
    ) -> Result<(), SendError>;
}

/// Warns when the receiver accepted a request but rejected some of its spans.
pub(super) fn warn_on_partial_success(partial: Option<ExportTracePartialSuccess>) {
    let Some(partial) = partial.filter(|p| p.rejected_spans > 0) else {
        return;
    };
    let message: String = partial.error_message.chars().take(200).collect();
    report::warn("otlp-partial", || {
        format!(
            "the OTLP receiver rejected {} span(s): {message}",
            partial.rejected_spans
        )
    });
}

/// Scrubs every configured header value from a message that may echo a request back.
/// `message` (text from outside, such as a receiver's error) with every part of every
/// header value, and the endpoint's credentials, replaced by `<redacted>`.
pub(super) fn scrub(message: String, headers: &[(String, String)], endpoint: &str) -> String {
    let mut secrets = Secrets::default();
    for (_, value) in headers {
        secrets.add(value);
    }
    secrets.add_url(endpoint);
    secrets.scrub(&message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed() {
        let headers = vec![("authorization".to_owned(), "Bearer s3cr3t".to_owned())];
        assert_eq!(
            scrub("echo: Bearer s3cr3t!".to_owned(), &headers, "http://h"),
            "echo: <redacted>!"
        );
        // A receiver that echoes only the token.
        assert_eq!(
            scrub("bad token s3cr3t".to_owned(), &headers, "http://h"),
            "bad token <redacted>"
        );
        assert_eq!(
            scrub(
                "refused pw99 for KEY9".to_owned(),
                &[],
                "https://u:pw99@h/v1/traces?api_key=KEY9"
            ),
            "refused <redacted> for <redacted>"
        );
    }
}
