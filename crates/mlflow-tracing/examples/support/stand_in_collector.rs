//! A stand-in OTLP/HTTP collector for the examples, used when no
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`/`OTEL_EXPORTER_OTLP_ENDPOINT` names a real one
//! (an OpenTelemetry Collector, Jaeger, Tempo, Phoenix, Langfuse, …): the test-support
//! crate's OTLP receiver on a free loopback port, which keeps the spans it gets, so the
//! example can show what a collector receives.

use mlflow_tracing_test_support::{Receiver, Tls};
use opentelemetry_proto::tonic::trace::v1::Span;

/// The stand-in collector.
pub(crate) struct StandIn(Receiver);

impl StandIn {
    /// Every span it got so far.
    pub(crate) fn spans(&self) -> Vec<Span> {
        self.0
            .requests()
            .into_iter()
            .filter_map(|r| r.request)
            .flat_map(|request| request.resource_spans)
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }
}

/// The traces endpoint of a real collector from the environment, or a stand-in started
/// now.
pub(crate) fn endpoint() -> (String, Option<StandIn>) {
    for var in [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ] {
        if let Ok(endpoint) = std::env::var(var) {
            println!("sending to the collector at {endpoint} ({var})");
            return (endpoint, None);
        }
    }
    let receiver = Receiver::http(Tls::None, None);
    let endpoint = receiver.traces_endpoint();
    println!("no OTEL_EXPORTER_OTLP_ENDPOINT: sending to a stand-in collector at {endpoint}");
    (endpoint, Some(StandIn(receiver)))
}
