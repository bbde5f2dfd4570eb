//! The example runs: its binary in a directory of its own, with an empty environment (no
//! API key, no MLflow variables), and what it wrote to `./mlflow.db` is read back.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use mlflow_tracing::local_store::LocalStore;
use mlflow_tracing::{SpanType, StatusCode, Trace};
use serde_json::json;

/// Runs the example with `args` in a fresh directory; returns the traces of its database.
fn run_example(args: &[&str]) -> Vec<Trace> {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_rig-agent-example"))
        .args(args)
        .env_clear()
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().next(),
        Some("It is 21 °C and clear in Zürich.")
    );
    let store = LocalStore::open(dir.path().join("mlflow.db")).unwrap();
    store
        .list_traces(None, 100)
        .unwrap()
        .iter()
        .map(|t| store.get_trace(t.info().trace_id()).unwrap().unwrap())
        .collect()
}

/// Each span's name and type, in the order they started.
fn kinds(trace: &Trace) -> Vec<(&str, SpanType)> {
    trace
        .spans()
        .iter()
        .map(|s| (s.name(), s.span_type()))
        .collect()
}

#[test]
fn rig_agent_spans_land_as_agent_chat_model_and_tool_spans_with_tokens_and_cost() {
    let traces = run_example(&[]);
    assert_eq!(traces.len(), 1, "one run, one trace");
    let trace = &traces[0];
    assert_eq!(
        kinds(trace),
        [
            ("invoke_agent", SpanType::Agent),
            ("chat", SpanType::ChatModel),
            ("execute_tool", SpanType::Tool),
            ("forecast", SpanType::Retriever),
            ("chat", SpanType::ChatModel),
        ]
    );
    for span in trace.spans() {
        assert_eq!(span.status().code(), StatusCode::Ok, "{}", span.name());
    }

    // rig's own agent span is the root; its turns and tool calls are its children, and the
    // SDK's span inside the tool is the child of rig's `execute_tool`.
    let agent = trace.root_span().unwrap();
    assert_eq!(agent.name(), "invoke_agent");
    assert_eq!(
        agent.attribute("gen_ai.agent.name"),
        Some(json!("weather-bot"))
    );
    let tool = trace.span("execute_tool").unwrap();
    let chats: Vec<_> = trace
        .spans()
        .iter()
        .filter(|s| s.name() == "chat")
        .collect();
    for child in chats.iter().copied().chain([tool]) {
        assert_eq!(child.parent_id(), Some(agent.span_id()), "{}", child.name());
    }
    assert_eq!(
        trace.span("forecast").unwrap().parent_id(),
        Some(tool.span_id())
    );

    // Token usage and cost per completion (MLflow's translation of rig's `gen_ai.*`
    // fields), and for the trace; the agent's run total is not counted twice.
    let usage = |input: u64, output: u64| json!({"input_tokens": input, "output_tokens": output, "total_tokens": input + output});
    assert_eq!(
        chats[0].attribute("mlflow.chat.tokenUsage"),
        Some(usage(182, 17))
    );
    assert_eq!(
        chats[1].attribute("mlflow.chat.tokenUsage"),
        Some(usage(231, 12))
    );
    for chat in &chats {
        assert_eq!(
            chat.attribute("mlflow.llm.model"),
            Some(json!("gpt-4o-mini-2024-07-18"))
        );
        assert_eq!(chat.attribute("mlflow.llm.provider"), Some(json!("openai")));
        let cost = chat.attribute("mlflow.llm.cost").unwrap();
        assert!(cost["total_cost"].as_f64().unwrap() > 0.0, "{cost}");
    }
    let metadata = trace.info().metadata();
    assert_eq!(
        metadata["mlflow.trace.tokenUsage"],
        r#"{"input_tokens": 413, "output_tokens": 29, "total_tokens": 442}"#
    );
    let cost: serde_json::Value = serde_json::from_str(&metadata["mlflow.trace.cost"]).unwrap();
    assert!(cost["total_cost"].as_f64().unwrap() > 0.0, "{cost}");

    // Messages, tool arguments and results (rig records them with
    // `record_content_telemetry(true)`) as inputs and outputs.
    assert_eq!(
        chats[0].inputs().unwrap()[1]["parts"][0]["content"],
        "What's the weather in Zürich?"
    );
    assert_eq!(
        chats[0].outputs().unwrap()[0]["parts"][0]["name"],
        "get_weather"
    );
    assert_eq!(
        chats[1].outputs().unwrap()[0]["parts"][0]["content"],
        "It is 21 °C and clear in Zürich."
    );
    assert_eq!(
        tool.attribute("gen_ai.tool.name"),
        Some(json!("get_weather"))
    );
    assert_eq!(tool.inputs(), Some(json!({"city": "Zürich"})));
    assert_eq!(
        tool.outputs(),
        Some(json!({"city": "Zürich", "temperature_c": 21, "sky": "clear"}))
    );
}

#[test]
fn rig_agent_run_inside_an_sdk_span_is_one_trace_under_it() {
    let traces = run_example(&["--in-span"]);
    assert_eq!(
        traces.len(),
        1,
        "the SDK's span and rig's spans in one trace"
    );
    let trace = &traces[0];
    assert_eq!(
        kinds(trace),
        [
            ("answer", SpanType::Chain),
            ("invoke_agent", SpanType::Agent),
            ("chat", SpanType::ChatModel),
            ("execute_tool", SpanType::Tool),
            ("forecast", SpanType::Retriever),
            ("chat", SpanType::ChatModel),
        ]
    );
    let root = trace.root_span().unwrap();
    assert_eq!(root.name(), "answer");
    assert_eq!(
        root.inputs(),
        Some(json!({"question": "What's the weather in Zürich?"}))
    );
    assert_eq!(
        root.outputs(),
        Some(json!("It is 21 °C and clear in Zürich."))
    );
    // The `tracing` span rig adopted: a child of the SDK's span, the parent of rig's turns
    // and tool calls, with the prompt rig recorded on it.
    let agent = trace.span("invoke_agent").unwrap();
    assert_eq!(agent.parent_id(), Some(root.span_id()));
    assert_eq!(
        agent.attribute("gen_ai.prompt"),
        Some(json!("What's the weather in Zürich?"))
    );
    for span in trace
        .spans()
        .iter()
        .filter(|s| s.name() == "chat" || s.name() == "execute_tool")
    {
        assert_eq!(span.parent_id(), Some(agent.span_id()), "{}", span.name());
    }
    assert_eq!(
        trace.info().metadata()["mlflow.trace.tokenUsage"],
        r#"{"input_tokens": 413, "output_tokens": 29, "total_tokens": 442}"#
    );
}
