//! `mlflow-trace demo`: the two example traces of the MLflow docs, recorded with the
//! public API to whatever destination the environment selects.

use std::sync::{Arc, Mutex};

use mlflow_tracing::{
    SpanType, Trace, TraceExporter, TraceUpdate, Tracing, start_span, update_current_trace,
};
use serde_json::json;

use crate::render;

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

/// Keeps a copy of each exported trace so the demo can print it.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<Trace>>>);

impl TraceExporter for Collected {
    fn name(&self) -> String {
        "demo printer".to_owned()
    }

    fn export(&mut self, traces: &[&Trace]) -> Result<(), String> {
        let mut collected = self.0.lock().map_err(|_| "poisoned".to_owned())?;
        collected.extend(traces.iter().map(|t| (*t).clone()));
        Ok(())
    }
}

/// Trace 1: one span `foo`.
fn simple() -> Option<String> {
    let span = start_span("foo").start();
    span.set_inputs(json!({"a": 1}));
    span.set_outputs(json!({"b": 2}));
    span.trace_id().map(str::to_owned)
}

/// Trace 2: a chain with an LLM call and a failing tool, with tags, metadata, session
/// and user.
fn nested() -> Option<String> {
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

pub(crate) fn run() -> Result<(), Box<dyn std::error::Error>> {
    let printed = Collected::default();
    let tracing = Tracing::builder().with_exporter(printed.clone()).build()?;
    let ids = tracing.in_scope(|| [simple(), nested()]);
    let flushed = tracing.flush();
    let printer = printed.name();
    let destinations: Vec<&String> = tracing
        .destinations()
        .iter()
        .filter(|d| **d != printer)
        .collect();

    println!("Recorded {} traces:", ids.iter().flatten().count());
    for id in ids.iter().flatten() {
        println!("  {id}");
    }
    println!("Sent to:");
    for destination in &destinations {
        println!("  {destination}");
    }
    if let Err(err) = flushed {
        return Err(format!("export failed: {err}").into());
    }
    let traces = printed.0.lock().map_err(|_| "poisoned")?.clone();
    for id in ids.iter().flatten() {
        if let Some(trace) = traces.iter().find(|t| t.info().trace_id() == id) {
            println!();
            print!("{}", render::trace_tree(trace, render::Detail::Summary));
        }
    }
    let uri = mlflow_tracing::get_tracking_uri();
    if destinations.iter().any(|d| d.contains(&uri)) {
        println!();
        println!("Open them in the MLflow UI:");
        println!("  mlflow server --backend-store-uri {uri}");
        println!("  (or `mlflow ui` in the database's directory), or list them here:");
        println!("  mlflow-trace traces list");
    }
    tracing.shutdown()?;
    Ok(())
}
