//! The README example: `#[trace]` on sync and async functions inside a CHAIN span.
//!
//! Run: `cargo run --example quickstart`, then `mlflow-trace traces list` (or open
//! `./mlflow.db` in MLflow's UI).

use mlflow_tracing::{SpanType, TraceUpdate, start_span, trace, update_current_trace};

#[trace(span_type = "TOOL")]
fn search(query: &str) -> Result<Vec<String>, std::io::Error> {
    Ok(vec![format!("doc about {query}")])
}

#[trace(span_type = "LLM", attributes("model" = "gpt-4o-mini"))]
async fn complete(prompt: String) -> String {
    format!("An answer to {prompt}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _guard = mlflow_tracing::init()?; // checks the configuration; flushes on drop

    let answer = start_span("answer")
        .span_type(SpanType::Chain)
        .instrument(async {
            update_current_trace(TraceUpdate::new().session_id("session-1").tag("env", "dev"))?;
            let docs = search("MLflow")?; // a child span
            Ok::<_, Box<dyn std::error::Error>>(complete(docs.join("\n")).await) // another
        });
    println!("{}", answer.await?);
    println!(
        "trace: {}",
        mlflow_tracing::get_last_active_trace_id().unwrap_or_default()
    );
    Ok(())
}
