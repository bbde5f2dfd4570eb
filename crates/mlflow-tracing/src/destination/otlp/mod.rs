//! OTLP: spans to any OpenTelemetry backend, over gRPC or HTTP (protobuf or JSON); a span
//! sink.
//!
//! The transports are this crate's own, on `opentelemetry-proto` messages, and serve every
//! signal (traces here, the span metrics in `destination::metrics`): they run on the
//! sink's worker thread (gRPC on a private single-threaded Tokio runtime), so export works
//! the same from a plain `fn main`, a multi-thread and a current-thread runtime, and every
//! standard variable (certificates and mutual TLS included) is honoured the same way for
//! both protocols. Transient failures are retried with exponential backoff and jitter,
//! honouring `Retry-After`, within `OTEL_BSP_EXPORT_TIMEOUT`.

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(super) mod doctor;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(super) mod encode;
#[cfg(feature = "otlp-grpc")]
mod grpc;
#[cfg(feature = "otlp-http")]
mod http;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
mod sink;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(super) mod tls;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(super) mod transport;

use super::AnySink;
use crate::config::Settings;
use crate::config::otlp::Protocol;
use crate::error::BuildError;

/// The OTLP sink, when the settings configure an OTLP endpoint.
pub(super) fn select(settings: &Settings) -> Result<Option<AnySink>, BuildError> {
    let Some(otlp) = &settings.otlp else {
        return Ok(None);
    };
    compiled_in(otlp.exporter.protocol.value)?;
    #[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
    return Ok(Some(AnySink::Spans(Box::new(sink::OtlpSink::new(
        otlp.clone(),
    )?))));
    #[cfg(not(any(feature = "otlp-http", feature = "otlp-grpc")))]
    Err(BuildError::FeatureDisabled {
        feature: "otlp-http or otlp-grpc",
        needed_for: "OTLP export (OTEL_EXPORTER_OTLP_ENDPOINT is set)",
    })
}

/// Spans as the OTLP sink holds them, ready to be encoded (the crate's benchmarks), with
/// the resource an empty environment gives.
#[cfg(feature = "__bench")]
#[derive(Debug)]
pub(crate) struct BenchBatch {
    resource: opentelemetry_proto::tonic::resource::v1::Resource,
    items: Vec<super::SpanItem>,
}

#[cfg(feature = "__bench")]
impl BenchBatch {
    pub(crate) fn new(spans: &[crate::model::Span]) -> Option<BenchBatch> {
        let env = crate::config::Env::from_fn(|_| None);
        let settings = crate::config::otlp::resolve_resource(&env).ok()?;
        let items = spans
            .iter()
            .map(|span| {
                std::sync::Arc::new(super::EndedSpan::new(
                    span.clone(),
                    std::sync::Arc::default(),
                    crate::sync::Ticket::default(),
                ))
            })
            .collect();
        Some(BenchBatch {
            resource: encode::resource(&settings, encode::instance_id()),
            items,
        })
    }

    /// The export request, as the sink encodes it.
    pub(crate) fn encode(&self) -> Vec<u8> {
        use prost::Message as _;
        encode::request(&self.resource, &self.items, false).encode_to_vec()
    }
}

/// An error naming the cargo feature `protocol` needs, when it is not compiled in.
pub(super) fn compiled_in(protocol: Protocol) -> Result<(), BuildError> {
    if protocol == Protocol::Grpc && !cfg!(feature = "otlp-grpc") {
        return Err(BuildError::FeatureDisabled {
            feature: "otlp-grpc",
            needed_for: "OTLP over gRPC (OTEL_EXPORTER_OTLP_PROTOCOL=grpc, the default)",
        });
    }
    if protocol.is_http() && !cfg!(feature = "otlp-http") {
        return Err(BuildError::FeatureDisabled {
            feature: "otlp-http",
            needed_for: "OTLP over HTTP (http/protobuf, http/json)",
        });
    }
    Ok(())
}
