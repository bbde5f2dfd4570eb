//! The examples run: each is built by `cargo test` (all features in CI) and run here in a
//! directory of its own, with an empty environment, and what it wrote to `./mlflow.db`
//! is read back.

use std::path::PathBuf;
use std::process::Command;

use std::time::Duration;

use mlflow_tracing::local_store::LocalStore;
use mlflow_tracing::{SpanType, StatusCode, Trace};
use serde_json::json;

/// Runs the example `name` in a fresh directory; returns the traces of its database.
fn run_example(name: &str) -> Vec<Trace> {
    run_example_with(name, &[])
}

/// Runs the example `name` in a fresh directory with only the variables `env`; returns the
/// traces of its database.
fn run_example_with(name: &str, env: &[(&str, &str)]) -> Vec<Trace> {
    let dir = run_example_in(name, env);
    let store = LocalStore::open(dir.path().join("mlflow.db")).unwrap();
    store
        .list_traces(None, 100)
        .unwrap()
        .iter()
        .map(|t| store.get_trace(t.info().trace_id()).unwrap().unwrap())
        .collect()
}

/// Runs the example `name` in a fresh directory with only the variables `env`, and checks
/// that it succeeded; returns the directory.
fn run_example_in(name: &str, env: &[(&str, &str)]) -> tempfile::TempDir {
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
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    dir
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

#[test]
fn example_quickstart_records_a_chain_with_its_tool_and_llm() {
    let traces = run_example("quickstart");
    assert_eq!(traces.len(), 1);
    let trace = &traces[0];
    let root = trace.root_span().unwrap();
    assert_eq!(root.name(), "answer");
    assert_eq!(root.span_type(), SpanType::Chain);
    assert_eq!(trace.span("search").unwrap().span_type(), SpanType::Tool);
    assert_eq!(trace.span("complete").unwrap().span_type(), SpanType::Llm);
    assert_eq!(
        trace.span("complete").unwrap().parent_id(),
        Some(root.span_id())
    );
    assert_eq!(trace.info().tags()["env"], "dev");
    assert_eq!(trace.info().metadata()["mlflow.trace.session"], "session-1");
}

#[test]
fn example_mask_emails_leaves_no_address_in_the_store() {
    let traces = run_example("mask_emails");
    assert_eq!(traces.len(), 1);
    let mut masked = 0;
    for span in traces[0].spans() {
        for value in [span.inputs(), span.outputs()].into_iter().flatten() {
            let text = value.to_string();
            assert!(
                !text.contains("ada@example.com") && !text.contains("corp.example.org"),
                "{}: {text}",
                span.name()
            );
            masked += text.matches("[EMAIL]").count();
        }
    }
    assert!(masked >= 2, "{masked}");
}

#[test]
fn example_genai_spans_are_typed_and_priced() {
    let traces = run_example("genai_spans");
    assert!(!traces.is_empty());
    let chat = traces
        .iter()
        .flat_map(|t| t.spans())
        .find(|s| s.name() == "chat gpt-4o-mini")
        .unwrap();
    assert_eq!(chat.span_type(), SpanType::ChatModel);
    assert!(chat.attribute("mlflow.llm.cost").is_some(), "{chat:?}");
    assert!(
        traces
            .iter()
            .any(|t| t.info().metadata().contains_key("mlflow.trace.cost"))
    );
}

#[test]
fn example_span_metrics_sends_the_histogram_and_stores_the_traces() {
    use mlflow_tracing_test_support::{Receiver, Tls};
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let receiver = Receiver::http(Tls::None, None);
    let endpoint = format!("{}/v1/metrics", receiver.base_url());
    let traces = run_example_with(
        "span_metrics",
        &[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint)],
    );
    assert_eq!(traces.len(), 8);
    receiver.wait_for_metrics(1, Duration::from_secs(10));
    // Cumulative: the last export counts every span, three per request of eight.
    let requests = receiver.requests();
    let last = requests
        .iter()
        .rev()
        .find_map(|r| r.metrics.as_ref())
        .unwrap();
    let spans: u64 = last
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == "mlflow.trace.span.duration")
        .filter_map(|m| match &m.data {
            Some(Data::Histogram(h)) => Some(h.data_points.iter().map(|p| p.count).sum::<u64>()),
            _ => None,
        })
        .sum();
    assert_eq!(spans, 24);
}

// The distributed-tracing and OTLP examples check what arrived themselves (a stand-in
// collector when no endpoint is set) and fail when it is wrong.

#[test]
fn example_axum_service_records_one_trace_across_client_and_service() {
    let traces = run_example("axum_service");
    assert!(!traces.is_empty());
    let spans: usize = traces.iter().map(|t| t.spans().len()).sum();
    assert!(spans >= 2, "{spans}");
}

#[test]
fn example_otlp_collector_runs_against_its_stand_in_collector() {
    let dir = run_example_in("otlp_collector", &[]);
    assert!(
        !dir.path().join("mlflow.db").exists(),
        "OTLP only: nothing written to the local store"
    );
}

#[test]
fn example_dual_export_writes_the_store_too() {
    let traces = run_example("dual_export");
    assert!(!traces.is_empty());
}
