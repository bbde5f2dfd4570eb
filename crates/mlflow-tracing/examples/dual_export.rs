//! Dual export: every trace to the MLflow store (`./mlflow.db`, or the tracking server
//! `MLFLOW_TRACKING_URI` names) *and* every span to an OpenTelemetry collector over OTLP
//! (`MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT`, here set in code): MLflow for the GenAI view,
//! the collector for the rest of the observability stack.
//!
//! Run against a collector:
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://localhost:4318/v1/traces cargo run --example dual_export`.
//! Without one, it starts a stand-in collector. It reads the trace back from the store
//! and prints what both destinations got.

#[path = "support/stand_in_collector.rs"]
mod stand_in_collector;

use mlflow_tracing::{Protocol, SpanType, TraceUpdate, Tracing, start_span, update_current_trace};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (endpoint, stand_in) = stand_in_collector::endpoint();
    let tracing = Tracing::builder()
        .otlp_endpoint(endpoint)
        .otlp_protocol(Protocol::HttpProtobuf)
        .dual_export(true)
        .build()?;
    for destination in tracing.destinations() {
        println!("destination: {destination}");
    }
    let trace_id = tracing.in_scope(|| {
        let root = start_span("answer").span_type(SpanType::Chain).start();
        root.set_inputs(json!({"question": "What is dual export?"}));
        update_current_trace(TraceUpdate::new().tag("env", "example"))?;
        start_span("retrieve")
            .span_type(SpanType::Retriever)
            .in_scope(|s| s.set_outputs(vec!["doc-1", "doc-2"]));
        root.set_outputs("Both destinations get every trace.");
        Ok::<_, Box<dyn std::error::Error>>(root.trace_id().unwrap_or_default().to_owned())
    })?;
    tracing.flush_async().await?;

    let trace = Tracing::builder()
        .reader()?
        .get_trace(&trace_id)?
        .ok_or("the trace is not in the MLflow store")?;
    println!(
        "MLflow store: trace {trace_id}, {} spans, tags {:?}",
        trace.spans().len(),
        trace.info().tags()
    );
    if let Some(stand_in) = stand_in {
        let spans = stand_in.spans();
        println!(
            "collector: {:?}",
            spans.iter().map(|s| s.name.as_str()).collect::<Vec<_>>()
        );
        let root = spans
            .iter()
            .find(|s| s.name == "answer")
            .ok_or("the collector did not get the root span")?;
        if !root
            .attributes
            .iter()
            .any(|kv| kv.key == "mlflow.traceTag.env")
        {
            return Err("the root span did not carry the trace's tags".into());
        }
        if spans.len() != trace.spans().len() {
            return Err("the two destinations did not get the same spans".into());
        }
    }
    Ok(())
}
