//! What the HTTP and gRPC transports share: the export requests of each signal
//! ([`OtlpRequest`]), the [`Transport`] interface and how one is chosen ([`connect`]),
//! scrubbing secrets from what a receiver echoes back, and what a receiver rejected of an
//! accepted request.

#[cfg(feature = "metrics")]
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::tls::TlsMaterial;
use crate::config::otlp::{OtlpSettings, Protocol};
use crate::config::redact::{self, Secrets};
use crate::destination::retry::{Retry, SendError};
use crate::report;

/// One signal's OTLP export request, as both transports send it: protobuf or OTLP/JSON
/// over HTTP, or the signal service's `Export` call over gRPC. Either encodes it once;
/// every attempt sends the same bytes.
pub(crate) trait OtlpRequest:
    prost::Message + serde::Serialize + Default + Send + Sync + 'static
{
    /// The service's answer.
    type Response: prost::Message + Default + Send + 'static;

    /// How many items a successful `response` says were rejected, and why.
    fn rejected(response: Self::Response) -> Rejected;

    /// The gRPC method of the signal service's `Export` call.
    #[cfg(feature = "otlp-grpc")]
    const GRPC_EXPORT: &'static str;
}

impl OtlpRequest for ExportTraceServiceRequest {
    type Response = ExportTraceServiceResponse;

    fn rejected(response: Self::Response) -> Rejected {
        response
            .partial_success
            .map(|p| Rejected::new(p.rejected_spans, p.error_message))
            .unwrap_or_default()
    }

    #[cfg(feature = "otlp-grpc")]
    const GRPC_EXPORT: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
}

#[cfg(feature = "metrics")]
impl OtlpRequest for ExportMetricsServiceRequest {
    type Response = ExportMetricsServiceResponse;

    fn rejected(response: Self::Response) -> Rejected {
        response
            .partial_success
            .map(|p| Rejected::new(p.rejected_data_points, p.error_message))
            .unwrap_or_default()
    }

    #[cfg(feature = "otlp-grpc")]
    const GRPC_EXPORT: &'static str =
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
}

/// What a receiver that accepted a request rejected of it (OTLP partial success):
/// usually nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rejected {
    /// How many items (spans, data points).
    pub(crate) count: u64,
    /// Why, as the receiver said it (at most 200 characters).
    pub(crate) message: String,
}

impl Rejected {
    pub(super) fn new(count: i64, message: String) -> Rejected {
        Rejected {
            count: u64::try_from(count).unwrap_or(0),
            message: message.chars().take(200).collect(),
        }
    }
}

/// Exports one request. Implemented by the HTTP and gRPC transports: each encodes the
/// request once, then sends it under `retry`. A receiver that accepts a request may still
/// reject part of it: the answer says how much.
pub(crate) trait Transport<R: OtlpRequest>: Send {
    fn export(&mut self, request: &R, retry: &Retry) -> Result<Rejected, SendError>;
}

/// The transport of `settings`' protocol. Created on the thread that exports (the gRPC
/// transport owns a runtime).
pub(crate) fn connect<R: OtlpRequest>(
    settings: &OtlpSettings,
    tls: &TlsMaterial,
) -> Result<Box<dyn Transport<R>>, String> {
    Ok(match settings.protocol.value {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => Box::new(super::grpc::GrpcTransport::new(settings, tls)?),
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            Box::new(super::http::HttpTransport::new(settings, tls)?)
        }
        #[allow(unreachable_patterns)]
        other => return Err(format!("{other} support is not compiled in")),
    })
}

/// One warning when the port looks like the other protocol's: HTTP sent to the gRPC port
/// 4317 fails with a protocol error, gRPC sent to the HTTP port 4318 likewise.
pub(crate) fn warn_on_port_mismatch(settings: &OtlpSettings) {
    let endpoint = redact::redact_url(&settings.endpoint.value);
    let protocol = settings.protocol.value;
    let variable = settings.signal.vars().protocol;
    let advice = match (protocol, settings.url.port()) {
        (Protocol::HttpProtobuf | Protocol::HttpJson, Some(4317)) => format!(
            "OTLP is set to {protocol} but the endpoint {endpoint} uses port 4317, the standard \
             OTLP/gRPC port: HTTP sent to a gRPC port fails. Set {variable}=grpc, or use the \
             receiver's HTTP port (4318)"
        ),
        (Protocol::Grpc, Some(4318)) => format!(
            "OTLP is set to gRPC (MLflow's default protocol) but the endpoint {endpoint} uses \
             port 4318, the standard OTLP/HTTP port: gRPC sent to an HTTP port fails. Set \
             {variable}=http/protobuf, or use the receiver's gRPC port (4317)"
        ),
        _ => return,
    };
    report::warn(&format!("port-mismatch:{endpoint}"), || advice);
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
