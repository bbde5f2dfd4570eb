//! Span hooks (`TracingBuilder::span_hook`), MLflow's `configure(span_processors=...)`:
//! they rewrite or drop each finished span before any destination, off the caller's
//! thread; a panicking hook loses only its span, counted and reported.

use std::sync::{Arc, Mutex};

use mlflow_tracing::hooks::HookSpan;
use mlflow_tracing::testing::InMemoryTraces;
use mlflow_tracing::{FlushError, start_span};
use serde_json::json;

use crate::support::builder;

#[test]
fn a_hook_rewrites_spans_before_the_trace_is_built_and_runs_off_the_callers_thread() {
    let traces = InMemoryTraces::new();
    let threads = Arc::new(Mutex::new(Vec::new()));
    let seen = threads.clone();
    let tracing = builder(&traces)
        .span_hook(move |span: &mut HookSpan<'_>| {
            seen.lock().unwrap().push(std::thread::current().id());
            if let Some(inputs) = span.inputs() {
                let masked = inputs.to_string().replace("ada@example.com", "[EMAIL]");
                span.set_inputs(serde_json::from_str::<serde_json::Value>(&masked).unwrap());
            }
            if span.attribute("api_key").is_some() {
                span.set_attribute("api_key", "[REDACTED]");
            }
            assert_eq!(
                span.trace_tags().get("env").map(String::as_str),
                Some("test")
            );
        })
        .build()
        .unwrap();
    tracing.in_scope(|| {
        let root = start_span("agent")
            .inputs(json!({"from": "ada@example.com"}))
            .start();
        root.update_trace(mlflow_tracing::TraceUpdate::new().tag("env", "test"))
            .unwrap();
        let child = start_span("llm").attribute("api_key", "sk-secret").start();
        child.set_outputs("ok");
    });
    tracing.flush().unwrap();
    let trace = &traces.traces()[0];
    let agent = trace.span("agent").unwrap();
    assert_eq!(agent.inputs(), Some(json!({"from": "[EMAIL]"})));
    // The previews are computed from the rewritten root.
    assert_eq!(
        trace.info().request_preview(),
        Some(r#"{"from": "[EMAIL]"}"#)
    );
    assert_eq!(
        trace
            .info()
            .metadata()
            .get("mlflow.traceInputs")
            .map(String::as_str),
        Some(r#"{"from": "[EMAIL]"}"#)
    );
    let llm = trace.span("llm").unwrap();
    assert_eq!(llm.attribute("api_key"), Some(json!("[REDACTED]")));
    let threads = threads.lock().unwrap();
    assert_eq!(threads.len(), 2);
    assert!(threads.iter().all(|t| *t != std::thread::current().id()));
}

#[test]
fn a_dropped_span_is_filtered_and_its_children_move_to_its_parent() {
    let traces = InMemoryTraces::new();
    let tracing = builder(&traces)
        .span_hook(|span: &mut HookSpan<'_>| {
            if span.name().starts_with("internal") {
                span.drop_span();
            }
        })
        .build()
        .unwrap();
    tracing.in_scope(|| {
        let _root = start_span("root").start();
        let _internal = start_span("internal").start();
        let _inner = start_span("internal-2").start();
        drop(start_span("leaf").start());
    });
    tracing.in_scope(|| {
        let _root = start_span("internal-root").start();
        drop(start_span("kept-child").start());
    });
    tracing.flush().expect("dropping on purpose is not a loss");
    let exported = traces.traces();
    assert_eq!(exported.len(), 1, "a dropped root drops its trace");
    let trace = &exported[0];
    let names: Vec<&str> = trace.spans().iter().map(|s| s.name()).collect();
    assert_eq!(names, ["root", "leaf"]);
    let root = trace.span("root").unwrap();
    assert_eq!(
        trace.span("leaf").unwrap().parent_id(),
        Some(root.span_id())
    );
    let stats = tracing.stats();
    assert_eq!(stats.spans_filtered, 4, "{stats:?}");
    assert_eq!(stats.spans_lost.total(), 0);
    assert_eq!(stats.traces_incomplete, 0);
}

#[test]
fn a_panicking_hook_loses_only_its_span_counted_and_reported() {
    let traces = InMemoryTraces::new();
    let tracing = builder(&traces)
        .span_hook(|span: &mut HookSpan<'_>| {
            if span.name() == "bad" {
                panic!("cannot mask this");
            }
        })
        .build()
        .unwrap();
    tracing.in_scope(|| {
        let _root = start_span("root").start();
        drop(start_span("bad").start());
        drop(start_span("good").start());
    });
    let report = match tracing.flush() {
        Err(FlushError::Lost(report)) => report,
        other => panic!("the loss must be reported, got {other:?}"),
    };
    assert!(
        report.to_string().contains("a span hook panicked"),
        "{report}"
    );
    let trace = &traces.traces()[0];
    assert!(
        trace.span("bad").is_none(),
        "the span is never exported unmasked"
    );
    assert!(trace.span("good").is_some());
    assert_eq!(
        trace
            .info()
            .tags()
            .get("mlflow_tracing.incomplete")
            .map(String::as_str),
        Some("1 span(s) not exported: a span hook panicked")
    );
    let stats = tracing.stats();
    assert_eq!(stats.spans_lost.hook_panicked, 1);
    assert_eq!(stats.traces_incomplete, 1);
    // A panic on the root loses the trace, counted.
    tracing.in_scope(|| drop(start_span("bad").start()));
    assert!(tracing.flush().is_err());
    assert_eq!(tracing.stats().traces_lost.hook_panicked, 1);
    assert_eq!(traces.traces().len(), 1);
}
