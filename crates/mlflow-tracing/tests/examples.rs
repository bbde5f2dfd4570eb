//! The examples run: each is built by `cargo test` (all features in CI) and run here in a
//! directory of its own, with an empty environment, and what it wrote to `./mlflow.db`
//! is read back.

use std::path::PathBuf;
use std::process::Command;

use mlflow_tracing::local_store::LocalStore;
use mlflow_tracing::{SpanType, StatusCode, Trace};
use serde_json::json;

/// Runs the example `name` in a fresh directory; returns the traces of its database.
fn run_example(name: &str) -> Vec<Trace> {
    // `target/<profile>/deps/tests-…` → `target/<profile>/examples/<name>`.
    let exe = std::env::current_exe().unwrap();
    let path: PathBuf = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: `cargo test` builds the examples (with the features they need)",
        path.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(&path)
        .env_clear()
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let store = LocalStore::open(dir.path().join("mlflow.db")).unwrap();
    store
        .list_traces(None, 100)
        .unwrap()
        .iter()
        .map(|t| store.get_trace(t.info().trace_id()).unwrap().unwrap())
        .collect()
}

#[test]
fn example_tracing_instrument_records_its_instrumented_functions() {
    let traces = run_example("tracing_instrument");
    assert_eq!(traces.len(), 2);
    let ok = traces.iter().find(|t| t.span("answer").is_some()).unwrap();
    let answer = ok.span("answer").unwrap();
    assert_eq!(answer.span_type(), SpanType::Chain);
    assert_eq!(
        answer.inputs(),
        Some(json!({"question": "What is MLflow?"}))
    );
    assert_eq!(answer.events()[0].name(), "answering");
    let retrieve = ok.span("retrieve").unwrap();
    assert_eq!(retrieve.span_type(), SpanType::Retriever);
    assert_eq!(
        retrieve.outputs(),
        Some(json!([
            "doc-1 about What is MLflow?",
            "doc-2 about What is MLflow?"
        ]))
    );
    assert_eq!(retrieve.parent_id(), Some(answer.span_id()));
    let generate = ok.span("generate").unwrap();
    assert_eq!(
        generate.outputs(),
        Some(json!(
            "Answered from 2 documents: doc-1 about What is MLflow?"
        ))
    );
    let failed = traces.iter().find(|t| t.span("answer").is_none()).unwrap();
    let generate = failed.span("generate").unwrap();
    assert_eq!(generate.status().code(), StatusCode::Error);
    assert_eq!(generate.events()[0].name(), "exception");
}

#[test]
fn example_tracing_agent_lands_as_agent_chat_model_and_tool_spans_with_tokens() {
    let traces = run_example("tracing_agent");
    assert_eq!(traces.len(), 1);
    let trace = &traces[0];
    let kinds: Vec<(String, SpanType)> = trace
        .spans()
        .iter()
        .map(|s| (s.name().to_owned(), s.span_type()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("invoke_agent weather-bot".to_owned(), SpanType::Agent),
            ("chat".to_owned(), SpanType::ChatModel),
            ("execute_tool get_weather".to_owned(), SpanType::Tool),
            ("chat".to_owned(), SpanType::ChatModel),
        ]
    );
    let metadata = trace.info().metadata();
    assert_eq!(
        metadata["mlflow.trace.tokenUsage"],
        r#"{"input_tokens": 413, "output_tokens": 29, "total_tokens": 442}"#
    );
    assert!(metadata.contains_key("mlflow.trace.cost"), "{metadata:?}");
    let tool = trace.span("execute_tool get_weather").unwrap();
    assert_eq!(tool.inputs(), Some(json!({"city": "Zürich"})));
    let agent = trace.root_span().unwrap();
    assert_eq!(
        agent.outputs().unwrap()[0]["parts"][0]["content"],
        "It is 21 °C and clear in Zürich."
    );
}
