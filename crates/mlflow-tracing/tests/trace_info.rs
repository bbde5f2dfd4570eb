//! Trace-level values: TraceInfo, tags, metadata, previews, token usage, state.

use mlflow_tracing::{
    SpanStatus, SpanType, TraceState, TraceUpdate, UpdateTraceError, start_span,
    update_current_trace,
};
use serde_json::json;

use crate::support::record_one;

#[test]
fn trace_info_of_a_single_span() {
    let trace = record_one(|| {
        let span = start_span("foo").start();
        span.set_inputs(json!({"a": 1}));
        span.set_outputs(json!({"b": 2}));
    });
    let info = trace.info();
    let root = trace.root_span().unwrap();
    assert_eq!(
        info.request_time_ms(),
        (root.start_time_ns() / 1_000_000) as i64
    );
    assert_eq!(
        info.execution_duration_ms(),
        Some((root.duration_ns() / 1_000_000) as i64)
    );
    assert_eq!(info.state(), TraceState::Ok);
    assert_eq!(info.name(), Some("foo"));
    assert_eq!(info.request_preview(), Some("{\"a\": 1}"));
    assert_eq!(info.response_preview(), Some("{\"b\": 2}"));
    let m = info.metadata();
    assert_eq!(m["mlflow.traceInputs"], "{\"a\": 1}");
    assert_eq!(m["mlflow.traceOutputs"], "{\"b\": 2}");
    assert_eq!(m["mlflow.trace_schema.version"], "3");
    assert_eq!(m["mlflow.source.type"], "LOCAL");
    assert!(!m["mlflow.source.name"].is_empty());
    assert!(!m["mlflow.user"].is_empty());
    for key in [
        "mlflow.source.git.commit",
        "mlflow.source.git.branch",
        "mlflow.source.git.repoURL",
    ] {
        assert!(m.contains_key(key), "{key}");
    }
    assert!(!m.contains_key("mlflow.trace.tokenUsage"));
    assert_eq!(info.tags().keys().collect::<Vec<_>>(), ["mlflow.traceName"]);
}

#[test]
fn no_inputs_means_empty_metadata_and_no_preview() {
    let trace = record_one(|| drop(start_span("bare").start()));
    assert_eq!(trace.info().metadata()["mlflow.traceInputs"], "");
    assert_eq!(trace.info().metadata()["mlflow.traceOutputs"], "");
    assert_eq!(trace.info().request_preview(), None);
    assert_eq!(trace.info().response_preview(), None);
}

#[test]
fn update_current_trace_sets_tags_metadata_session_and_user() {
    let trace = record_one(|| {
        let _root = start_span("chain").start();
        update_current_trace(
            TraceUpdate::new()
                .tags([("env", "golden"), ("team", "anchors")])
                .metadata("app.version", "1.2.3")
                .session_id("session-1")
                .user("user-1")
                .client_request_id("req-7"),
        )
        .unwrap();
        // From a child span, later: still the same trace; later values win.
        let _child = start_span("child").start();
        update_current_trace(TraceUpdate::new().tag("env", "prod")).unwrap();
    });
    let info = trace.info();
    assert_eq!(info.tags()["env"], "prod");
    assert_eq!(info.tags()["team"], "anchors");
    assert_eq!(info.tags()["mlflow.traceName"], "chain");
    assert_eq!(info.metadata()["app.version"], "1.2.3");
    assert_eq!(info.metadata()["mlflow.trace.session"], "session-1");
    assert_eq!(info.metadata()["mlflow.trace.user"], "user-1");
    assert_eq!(info.client_request_id(), Some("req-7"));
}

#[test]
fn update_current_trace_needs_a_span_and_a_final_state() {
    assert_eq!(
        update_current_trace(TraceUpdate::new()),
        Err(UpdateTraceError::NoActiveSpan)
    );
    let trace = record_one(|| {
        let _root = start_span("root").start();
        assert_eq!(
            update_current_trace(TraceUpdate::new().state(TraceState::InProgress)),
            Err(UpdateTraceError::InvalidState(TraceState::InProgress))
        );
    });
    assert_eq!(trace.info().state(), TraceState::Ok);
}

#[test]
fn trace_state_follows_the_root_unless_set() {
    let failed = record_one(|| {
        let root = start_span("root").start();
        root.set_status(SpanStatus::error("bad"));
    });
    assert_eq!(failed.info().state(), TraceState::Error);
    let child_failed = record_one(|| {
        let _root = start_span("root").start();
        start_span("child")
            .start()
            .set_status(SpanStatus::error("bad"));
    });
    assert_eq!(child_failed.info().state(), TraceState::Ok);
    let overridden = record_one(|| {
        let _root = start_span("root").start();
        update_current_trace(TraceUpdate::new().state(TraceState::Error)).unwrap();
    });
    assert_eq!(overridden.info().state(), TraceState::Error);
}

#[test]
fn user_previews_win() {
    let trace = record_one(|| {
        let root = start_span("root").start();
        root.set_inputs("q");
        update_current_trace(TraceUpdate::new().request_preview("custom request")).unwrap();
    });
    assert_eq!(trace.info().request_preview(), Some("custom request"));
    assert_eq!(trace.info().metadata()["mlflow.traceInputs"], "\"q\"");
}

#[test]
fn chat_previews_and_token_usage() {
    let trace = record_one(|| {
        let root = start_span("chain").span_type(SpanType::Chain).start();
        root.set_inputs(json!({"messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is MLflow?"}]}));
        let llm = start_span("llm").span_type(SpanType::Llm).start();
        llm.set_attribute(
            "mlflow.chat.tokenUsage",
            json!({"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}),
        );
        let nested = start_span("nested").start();
        // Ignored: an ancestor already reports usage.
        nested.set_attribute("mlflow.chat.tokenUsage", json!({"input_tokens": 100}));
        drop(nested);
        drop(llm);
        let other = start_span("llm2").span_type(SpanType::Llm).start();
        other.set_attribute(
            "mlflow.chat.tokenUsage",
            json!({"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}),
        );
        drop(other);
        root.set_outputs(
            json!({"choices": [{"message": {"role": "assistant", "content": "A platform."}}]}),
        );
    });
    let info = trace.info();
    assert_eq!(info.request_preview(), Some("What is MLflow?"));
    assert_eq!(info.response_preview(), Some("A platform."));
    assert_eq!(
        info.metadata()["mlflow.trace.tokenUsage"],
        "{\"input_tokens\": 13, \"output_tokens\": 9, \"total_tokens\": 22}"
    );
}

#[test]
fn long_inputs_are_truncated() {
    let long = "x".repeat(3000);
    let trace = record_one(|| {
        let root = start_span("root").start();
        root.set_inputs(&long);
    });
    let metadata = &trace.info().metadata()["mlflow.traceInputs"];
    assert_eq!(metadata.chars().count(), 250);
    assert!(metadata.starts_with("\"xxx") && metadata.ends_with("..."));
    let preview = trace.info().request_preview().unwrap();
    assert_eq!(preview.chars().count(), 1000);
    assert!(preview.ends_with("..."));
}

#[test]
fn spans_are_ordered_by_start_and_wait_for_late_children() {
    let trace = record_one(|| {
        let root = start_span("root").start_detached();
        let child = start_span("child").parent(&root).start_detached();
        root.end(); // the root ends first; the trace waits for its child
        std::thread::sleep(std::time::Duration::from_millis(5));
        child.end();
    });
    let names: Vec<&str> = trace.spans().iter().map(|s| s.name()).collect();
    assert_eq!(names, ["root", "child"]);
}
