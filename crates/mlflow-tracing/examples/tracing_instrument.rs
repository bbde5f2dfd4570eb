//! A program instrumented with `tracing` (`#[tracing::instrument]`), recorded as an MLflow
//! trace by one layer: span types, inputs and outputs from fields, the arguments as
//! attributes, a log as a span event, `ret` as outputs, `err` as an exception.
//!
//! Run: `cargo run --example tracing_instrument`, then `mlflow ui` (or
//! `scripts/mlflow-ui.sh`) on `./mlflow.db`.

use std::error::Error;

use mlflow_tracing::bridge::MlflowLayer;
use tracing::Span;
use tracing_subscriber::prelude::*;

/// A retriever: its type and outputs are fields; `query` and `k` become attributes.
#[tracing::instrument(fields(span_type = "RETRIEVER", outputs))]
fn retrieve(query: &str, k: usize) -> Vec<String> {
    let docs: Vec<String> = (1..=k).map(|i| format!("doc-{i} about {query}")).collect();
    // `?docs` is `Debug`, which for a list of strings is JSON: the outputs are that list.
    Span::current().record("outputs", tracing::field::debug(&docs));
    docs
}

/// A model call: `ret` records the answer as the outputs, `err` a failure as an
/// exception with the status ERROR.
#[tracing::instrument(skip(context), ret, err, fields(span_type = "LLM"))]
fn generate(question: &str, context: &[String]) -> Result<String, std::io::Error> {
    if context.is_empty() {
        return Err(std::io::Error::other("no context to answer from"));
    }
    Ok(format!(
        "Answered from {} documents: {}",
        context.len(),
        context[0]
    ))
}

/// The request: a CHAIN span whose inputs are a JSON object.
#[tracing::instrument(fields(
    span_type = "CHAIN",
    inputs = %serde_json::json!({ "question": question }),
    outputs,
))]
fn answer(question: &str) -> Result<String, Box<dyn Error>> {
    tracing::info!(question, "answering"); // a span event
    let docs = retrieve(question, 2);
    let answer = generate(question, &docs)?;
    Span::current().record("outputs", answer.as_str());
    Ok(answer)
}

fn main() -> Result<(), Box<dyn Error>> {
    let _guard = mlflow_tracing::init()?; // flushes on drop
    tracing_subscriber::registry()
        // This program's spans (its crate is its target), and the log of each to stderr.
        .with(
            MlflowLayer::builder()
                .target("tracing_instrument")
                .build()?,
        )
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();

    println!("{}", answer("What is MLflow?")?);
    // A failure: the LLM span ends with the status ERROR and an exception event.
    let failed = {
        let _request = tracing::info_span!("answer_without_context", span_type = "CHAIN").entered();
        generate("What is MLflow?", &[]).is_err()
    };
    assert!(failed);
    println!(
        "trace: {}",
        mlflow_tracing::get_last_active_trace_id().unwrap_or_default()
    );
    Ok(())
}
