//! The two traces of `mlflow-trace demo`: MLflow's documentation examples, as the Python
//! SDK's reference captures recorded them. Only the public API is used.
//!
//! The library's OTLP tests include this file (`crates/mlflow-tracing/tests/otlp.rs`) to
//! check that what the demo sends matches, on the wire, what MLflow's Python SDK sends.

use mlflow_tracing::{SpanType, TraceUpdate, start_span, update_current_trace};
use serde_json::json;

/// The error the demo's tool raises; its type name is what MLflow shows
/// (`ValueError: tool failed`), as for the Python example.
#[derive(Debug)]
struct ValueError(&'static str);

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ValueError {}

/// Trace 1: one span `foo`.
pub(crate) fn simple() -> Option<String> {
    let span = start_span("foo").start();
    span.set_inputs(json!({"a": 1}));
    span.set_outputs(json!({"b": 2}));
    span.trace_id().map(str::to_owned)
}

/// Trace 2: a chain with an LLM call and a failing tool, with tags, metadata, session
/// and user.
pub(crate) fn nested() -> Option<String> {
    let parent = start_span("chain").span_type(SpanType::Chain).start();
    parent.set_inputs(json!({"question": "What is MLflow?"}));
    parent.set_attributes([
        ("custom.str", json!("hello")),
        ("custom.int", json!(7)),
        ("custom.float", json!(0.5)),
        ("custom.bool", json!(true)),
        ("custom.list", json!([1, 2, 3])),
        ("custom.dict", json!({"k": "v"})),
    ]);
    let update = TraceUpdate::new()
        .tags([("env", "golden"), ("team", "anchors")])
        .metadata("app.version", "1.2.3")
        .session_id("session-1")
        .user("user-1");
    if let Err(err) = update_current_trace(update) {
        eprintln!("mlflow-trace: update_current_trace: {err}");
    }
    {
        let llm = start_span("llm").span_type(SpanType::Llm).start();
        llm.set_inputs(json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is MLflow?"},
            ],
            "temperature": 0.0,
        }));
        llm.set_outputs(json!({
            "id": "chatcmpl-123",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "MLflow is an open source MLOps platform."},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
        }));
        llm.set_attribute(
            mlflow_tracing::keys::span::CHAT_USAGE,
            json!({"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}),
        );
    }
    let tool_result: Result<(), ValueError> = start_span("failing_tool")
        .span_type(SpanType::Tool)
        .in_scope(|tool| {
            tool.set_inputs(json!({"query": "boom"}));
            let result = Err(ValueError("tool failed"));
            if let Err(err) = &result {
                tool.record_exception(err);
            }
            result
        });
    // The chain handles the tool's failure, as the Python example does.
    let _ = tool_result;
    parent.set_outputs(json!({"answer": "MLflow is an open source MLOps platform."}));
    parent.trace_id().map(str::to_owned)
}
