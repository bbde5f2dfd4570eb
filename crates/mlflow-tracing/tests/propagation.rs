//! Distributed tracing in process: W3C headers out of a span, a trace continued from
//! them, and both parts of one trace written to one MLflow SQLite store in either order.

use std::collections::HashMap;
use std::path::Path;

use mlflow_tracing::local_store::LocalStore;
use mlflow_tracing::propagation::{InvalidTraceContext, RemoteParent, TraceHeaders};
use mlflow_tracing::{
    SpanType, TraceState, TraceUpdate, Tracing, start_span, update_current_trace,
};
use serde_json::json;

use crate::support::pipeline;

fn headers_map(headers: &TraceHeaders) -> HashMap<String, String> {
    let mut map = HashMap::new();
    headers.inject(&mut map);
    map
}

#[test]
fn headers_carry_the_current_span_and_continue_its_trace_elsewhere() {
    let (client, client_traces) = pipeline();
    let (server, server_traces) = pipeline();
    let (headers, client_span_id) = client.in_scope(|| {
        let root = start_span("client").span_type(SpanType::Chain).start();
        let call = start_span("call").start();
        let headers = TraceHeaders::current().expect("a current span");
        assert_eq!(TraceHeaders::of(&call), Some(headers.clone()));
        drop(call);
        drop(root);
        (headers, TraceHeaders::current())
    });
    assert!(
        client_span_id.is_none(),
        "no headers without a current span"
    );
    client.flush().unwrap();
    let client_trace = client_traces.traces().remove(0);
    let call = client_trace.span("call").unwrap();
    assert_eq!(
        headers.traceparent(),
        format!(
            "00-{}-{}-01",
            client_trace.spans()[0].otel_trace_id(),
            call.span_id()
        )
    );
    assert_eq!(headers.tracestate(), None);

    let incoming = headers_map(&headers);
    let parent = RemoteParent::extract(&incoming).unwrap();
    assert!(parent.is_sampled());
    assert_eq!(parent.mlflow_trace_id(), client_trace.info().trace_id());
    server.in_scope(|| {
        let _attached = parent.context().attach();
        let handler = start_span("handler").span_type(SpanType::Agent).start();
        assert_eq!(handler.trace_id(), Some(client_trace.info().trace_id()));
        assert_eq!(handler.parent_id(), Some(call.span_id()));
        // Requests made from here carry the server's span on.
        let onward = TraceHeaders::current().unwrap();
        assert!(
            onward
                .traceparent()
                .contains(&handler.span_id().unwrap().to_string())
        );
        drop(start_span("tool").span_type(SpanType::Tool).start());
    });
    server.flush().unwrap();
    let part = server_traces.traces().remove(0);
    assert_eq!(part.info().trace_id(), client_trace.info().trace_id());
    let root = part.root_span().expect("the root of this part");
    assert_eq!(root.name(), "handler");
    assert!(root.parent_is_remote() && root.is_local_root());
    assert_eq!(root.parent_id(), Some(call.span_id()));
    assert_eq!(part.remote_parent_id(), Some(call.span_id()));
    assert_eq!(part.children(root)[0].name(), "tool");
    assert!(!part.children(root)[0].parent_is_remote());
    assert_eq!(part.info().state(), TraceState::Ok);
    assert_eq!(part.info().name(), Some("handler"));
    assert_eq!(
        root.attribute("mlflow.traceRequestId"),
        Some(json!(client_trace.info().trace_id()))
    );
    assert_eq!(client_trace.remote_parent_id(), None);
}

#[test]
fn an_unsampled_caller_is_not_recorded_and_its_flag_goes_on() {
    let (server, traces) = pipeline();
    let parent = RemoteParent::parse(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        None,
    )
    .unwrap();
    assert!(!parent.is_sampled());
    server.in_scope(|| {
        let _attached = parent.context().attach();
        let span = start_span("handler").start();
        assert!(!span.is_recording());
        let onward = TraceHeaders::current().expect("the caller's context goes on");
        assert_eq!(
            onward.traceparent(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        );
    });
    server.flush().unwrap();
    assert!(traces.traces().is_empty());
}

#[test]
fn tracestate_goes_on_with_the_trace() {
    let (server, _traces) = pipeline();
    let parent = RemoteParent::from_headers(|name| match name {
        "traceparent" => Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        "tracestate" => Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        _ => None,
    })
    .unwrap();
    server.in_scope(|| {
        let span = start_span("handler")
            .remote_parent(parent.span_context())
            .start();
        let onward = TraceHeaders::of(&span).unwrap();
        assert_eq!(
            onward.tracestate(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        assert_eq!(
            onward.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["traceparent", "tracestate"]
        );
    });
}

#[test]
fn bad_headers_are_refused_with_the_reason_and_start_a_new_trace() {
    let missing = RemoteParent::from_headers(|_| None).unwrap_err();
    assert_eq!(missing, InvalidTraceContext::Missing);
    let zeros = RemoteParent::parse(
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        None,
    )
    .unwrap_err();
    assert!(
        zeros.to_string().contains("the trace id is all zeros"),
        "{zeros}"
    );
    // A bad tracestate is dropped; the parent stays.
    let parent = RemoteParent::parse(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        Some("not a tracestate"),
    )
    .unwrap();
    assert_eq!(parent.trace_state().header(), "");
    // An invalid span context given as a remote parent is ignored: a new trace.
    let (tracing, traces) = pipeline();
    tracing.in_scope(|| {
        drop(
            start_span("alone")
                .remote_parent(&opentelemetry::trace::SpanContext::empty_context())
                .start(),
        );
    });
    tracing.flush().unwrap();
    let trace = traces.traces().remove(0);
    assert!(trace.root_span().unwrap().parent_id().is_none());
}

fn store_pipeline(db: &Path) -> Tracing {
    let uri = format!("sqlite:///{}", db.display());
    Tracing::builder()
        .with_env(move |k| (k == "MLFLOW_TRACKING_URI").then(|| uri.clone()))
        .build()
        .unwrap()
}

/// The caller's trace with a call span, and the headers of that call.
fn caller(tracing: &Tracing) -> TraceHeaders {
    tracing.in_scope(|| {
        let root = start_span("agent").span_type(SpanType::Agent).start();
        root.set_inputs(json!({"question": "2+2?"}));
        update_current_trace(TraceUpdate::new().tags([("team", "search")])).unwrap();
        let call = start_span("POST /tool").start();
        let headers = TraceHeaders::of(&call).unwrap();
        root.set_outputs(json!({"answer": 4}));
        headers
    })
}

fn service(tracing: &Tracing, headers: &TraceHeaders) {
    let parent = RemoteParent::extract(&headers_map(headers)).unwrap();
    tracing.in_scope(|| {
        let handler = start_span("handle")
            .span_type(SpanType::Tool)
            .remote_parent(parent.span_context())
            .start();
        handler.set_inputs(json!({"a": 2, "b": 2}));
        drop(start_span("compute").start());
        handler.set_outputs(4);
    });
}

fn assert_one_trace(db: &Path) {
    let store = LocalStore::open(db).unwrap();
    let listed = store.list_traces(None, 10).unwrap();
    assert_eq!(listed.len(), 1, "one trace: {listed:?}");
    let id = listed[0].info().trace_id().to_owned();
    let trace = store.get_trace(&id).unwrap().unwrap();
    let mut names: Vec<&str> = trace.spans().iter().map(|s| s.name()).collect();
    names.sort();
    assert_eq!(names, ["POST /tool", "agent", "compute", "handle"]);
    let root = trace.root_span().unwrap();
    assert_eq!(root.name(), "agent");
    let call = trace.span("POST /tool").unwrap();
    let handle = trace.span("handle").unwrap();
    assert_eq!(handle.parent_id(), Some(call.span_id()));
    assert_eq!(trace.children(handle)[0].name(), "compute");
    // The trace's info is the caller's.
    let info = trace.info();
    assert_eq!(info.name(), Some("agent"));
    assert_eq!(info.state(), TraceState::Ok);
    assert_eq!(info.tags().get("team").map(String::as_str), Some("search"));
    assert_eq!(info.request_preview(), Some(r#"{"question": "2+2?"}"#));
    assert_eq!(
        info.request_time_ms() as u64,
        root.start_time_ns() / 1_000_000
    );
}

#[test]
fn both_parts_land_in_one_store_as_one_trace_the_caller_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let (client, server) = (store_pipeline(&db), store_pipeline(&db));
    let headers = caller(&client);
    client.flush().unwrap();
    service(&server, &headers);
    server.flush().unwrap();
    assert_one_trace(&db);
}

#[test]
fn both_parts_land_in_one_store_as_one_trace_the_service_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let (client, server) = (store_pipeline(&db), store_pipeline(&db));
    // The service's part is written first (it answers before the caller's trace ends).
    let headers = client.in_scope(|| {
        let root = start_span("agent").span_type(SpanType::Agent).start();
        root.set_inputs(json!({"question": "2+2?"}));
        update_current_trace(TraceUpdate::new().tags([("team", "search")])).unwrap();
        let call = start_span("POST /tool").start();
        let headers = TraceHeaders::of(&call).unwrap();
        service(&server, &headers);
        server.flush().unwrap();
        let store = LocalStore::open(&db).unwrap();
        let early = store.list_traces(None, 10).unwrap();
        assert_eq!(early.len(), 1);
        assert_eq!(early[0].info().state(), TraceState::InProgress);
        root.set_outputs(json!({"answer": 4}));
        headers
    });
    drop(headers);
    client.flush().unwrap();
    assert_one_trace(&db);
}

#[test]
fn a_trace_that_comes_back_to_its_own_pipeline_is_exported_once_whole() {
    let (tracing, traces) = pipeline();
    tracing.in_scope(|| {
        let root = start_span("agent").start();
        let call = start_span("call").start();
        let headers = TraceHeaders::of(&call).unwrap();
        // The service is in the same program, in the same pipeline.
        let parent = RemoteParent::extract(&headers_map(&headers)).unwrap();
        let handler = start_span("handler")
            .remote_parent(parent.span_context())
            .start();
        drop(start_span("work").start());
        drop(handler);
        drop(call);
        drop(root);
    });
    tracing.flush().unwrap();
    let all = traces.traces();
    assert_eq!(all.len(), 1, "{all:?}");
    let trace = &all[0];
    assert_eq!(trace.spans().len(), 4);
    assert_eq!(trace.root_span().unwrap().name(), "agent");
    assert_eq!(trace.remote_parent_id(), None, "the whole trace is here");
    let handler = trace.span("handler").unwrap();
    assert_eq!(
        handler.parent_id(),
        Some(trace.span("call").unwrap().span_id())
    );
    assert!(!handler.parent_is_remote());
    assert_eq!(tracing.stats().spans_dropped, 0);
}

#[test]
fn two_requests_of_one_caller_make_one_part_here() {
    let (server, traces) = pipeline();
    let parent = RemoteParent::parse(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        None,
    )
    .unwrap();
    server.in_scope(|| {
        let first = start_span("first")
            .remote_parent(parent.span_context())
            .start();
        let second = start_span("second")
            .remote_parent(parent.span_context())
            .start();
        drop(first);
        drop(second);
    });
    server.flush().unwrap();
    let all = traces.traces();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].spans().len(), 2);
    assert!(all[0].spans().iter().all(|s| s.parent_is_remote()));
}

/// The service's part with an LLM span that used tokens.
fn service_with_llm(tracing: &Tracing, headers: &TraceHeaders) {
    let parent = RemoteParent::extract(&headers_map(headers)).unwrap();
    tracing.in_scope(|| {
        let _handler = start_span("handle")
            .remote_parent(parent.span_context())
            .start();
        let llm = start_span("llm").span_type(SpanType::Llm).start();
        llm.set_attribute(
            "mlflow.chat.tokenUsage",
            json!({"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}),
        );
    });
}

fn token_usage(db: &Path) -> serde_json::Value {
    let store = LocalStore::open(db).unwrap();
    let listed = store.list_traces(None, 10).unwrap();
    assert_eq!(listed.len(), 1);
    let usage = listed[0]
        .info()
        .metadata()
        .get("mlflow.trace.tokenUsage")
        .cloned()
        .unwrap_or_default();
    serde_json::from_str(&usage).unwrap_or_default()
}

#[test]
fn the_trace_counts_the_tokens_of_every_part_in_either_order() {
    let expected = json!({"input_tokens": 10, "output_tokens": 5, "total_tokens": 15});
    // The caller first (its trace has no token usage of its own), then the service.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let (client, server) = (store_pipeline(&db), store_pipeline(&db));
    let headers = caller(&client);
    client.flush().unwrap();
    service_with_llm(&server, &headers);
    server.flush().unwrap();
    assert_eq!(token_usage(&db), expected);
    // The service first: its usage stays when the caller's trace is written over it.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let (client, server) = (store_pipeline(&db), store_pipeline(&db));
    client.in_scope(|| {
        let _root = start_span("agent").start();
        let call = start_span("call").start();
        service_with_llm(&server, &TraceHeaders::of(&call).unwrap());
        server.flush().unwrap();
    });
    client.flush().unwrap();
    assert_eq!(token_usage(&db), expected);
}
