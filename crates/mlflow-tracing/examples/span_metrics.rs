//! Span metrics to a Prometheus-compatible store: every span's duration in the histogram
//! `mlflow.trace.span.duration`, sent over OTLP/HTTP (protobuf), next to the traces in
//! the MLflow store.
//!
//! Prometheus 3 (started with `--web.enable-otlp-receiver`) takes OTLP at
//! `http://localhost:9090/api/v1/otlp/v1/metrics`, the default here; VictoriaMetrics at
//! `http://localhost:8428/opentelemetry/v1/metrics`. Any other endpoint:
//!
//! ```text
//! OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://localhost:8428/opentelemetry/v1/metrics \
//!   cargo run --example span_metrics
//! ```
//!
//! Then, in Prometheus or Grafana:
//! `sum by (span_type, span_status) (mlflow_trace_span_duration_milliseconds_count)`.

use std::time::Duration;

use mlflow_tracing::{Protocol, SpanType, TraceUpdate, Tracing, start_span, update_current_trace};
use serde_json::json;

#[derive(Debug)]
struct Timeout;

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the tool timed out")
    }
}

impl std::error::Error for Timeout {}

/// One request of a small agent: a chain, an LLM call and a tool that fails now and then.
fn handle(request: u32) {
    let chain = start_span("answer").span_type(SpanType::Chain).start();
    chain.set_inputs(json!({"question": format!("question {request}")}));
    // Trace tags and metadata become histogram attributes: keep them few and bounded
    // (see `metrics_attributes` below). A session id is per request: it is not kept.
    let update = TraceUpdate::new()
        .tags([("env", "example")])
        .metadata("app.version", "1.0.0")
        .session_id(format!("session-{request}"));
    if let Err(err) = update_current_trace(update) {
        eprintln!("update_current_trace: {err}");
    }
    start_span("llm")
        .span_type(SpanType::Llm)
        .in_scope(|_| std::thread::sleep(Duration::from_millis(20 + u64::from(request % 3) * 15)));
    start_span("search")
        .span_type(SpanType::Tool)
        .in_scope(|tool| {
            std::thread::sleep(Duration::from_millis(5));
            if request.is_multiple_of(4) {
                tool.record_exception(&Timeout);
            }
        });
    chain.set_outputs(json!({"answer": "42"}));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
        .unwrap_or_else(|_| "http://localhost:9090/api/v1/otlp/v1/metrics".to_owned());
    let _guard = Tracing::builder()
        .metrics_endpoint(&endpoint)
        // Prometheus takes OTLP over HTTP only.
        .metrics_protocol(Protocol::HttpProtobuf)
        // Only these trace tags and metadata become labels.
        .metrics_attributes(["tags.env", "metadata.app.version"])
        .install()?;
    for request in 0..8 {
        handle(request);
    }
    println!("Recorded 8 requests; span metrics go to {endpoint} as the program ends.");
    println!(
        "Try: sum by (span_type, span_status) (mlflow_trace_span_duration_milliseconds_count)"
    );
    // Dropping the guard flushes: the traces to the store, the histogram to the endpoint.
    Ok(())
}
