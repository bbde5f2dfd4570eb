//! What the HTTP and gRPC transports share: the [`Transport`] interface, scrubbing
//! secrets from what a receiver echoes back, and reporting partial success.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest,
};

use crate::destination::retry::{Retry, SendError};
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
pub(super) fn scrub(mut message: String, headers: &[(String, String)]) -> String {
    for (_, value) in headers {
        if value.len() >= 3 {
            message = message.replace(value.as_str(), "<redacted>");
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed() {
        let headers = vec![("authorization".to_owned(), "Bearer s3cr3t".to_owned())];
        assert_eq!(
            scrub("echo: Bearer s3cr3t!".to_owned(), &headers),
            "echo: <redacted>!"
        );
    }
}
