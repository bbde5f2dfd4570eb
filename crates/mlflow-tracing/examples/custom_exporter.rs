//! A program-supplied destination: every finished trace printed as one JSON line, next
//! to (or instead of) the MLflow store.
//!
//! Run: `cargo run --example custom_exporter`.

use mlflow_tracing::{Trace, TraceExporter, Tracing, start_span};

struct JsonLines;

impl TraceExporter for JsonLines {
    fn name(&self) -> String {
        "JSON lines on stdout".to_owned()
    }

    fn export(&mut self, traces: &[&Trace]) -> Result<(), String> {
        for trace in traces {
            let spans: Vec<serde_json::Value> = trace
                .spans()
                .iter()
                .map(|s| serde_json::json!({"name": s.name(), "type": s.span_type().as_str(), "inputs": s.inputs()}))
                .collect();
            let line = serde_json::json!({"trace_id": trace.info().trace_id(), "spans": spans});
            println!("{line}");
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Only the custom destination: the MLflow store is not written.
    let tracing = Tracing::builder()
        .destinations_from_config(false)
        .with_exporter(JsonLines)
        .build()?;
    tracing.in_scope(|| {
        let root = start_span("root").inputs("hello").start();
        let _child = start_span("child").inputs(42).start();
        drop(root);
    });
    tracing.shutdown()?;
    Ok(())
}
