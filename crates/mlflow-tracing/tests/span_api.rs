//! The span API: attributes and their encoding, status, events, exceptions, ending.

use mlflow_tracing::{
    SpanLogLevel, SpanStatus, SpanType, StatusCode, TraceContext, Tracing, get_active_trace_id,
    get_current_active_span, get_last_active_trace_id, start_span,
};
use serde::Serialize;
use serde_json::json;

use crate::support::{ValueError, keys, raw, record, record_one};

#[test]
fn a_span_carries_mlflow_attributes_json_encoded() {
    let trace = record_one(|| {
        let span = start_span("foo").start();
        span.set_inputs(json!({"a": 1}));
        span.set_outputs(json!({"b": 2}));
    });
    let span = &trace.spans()[0];
    let request_id = trace.info().trace_id();
    assert!(
        request_id.starts_with("tr-") && request_id.len() == 35,
        "{request_id}"
    );
    assert!(
        request_id[3..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(span.span_id().to_string().len(), 16);
    assert_eq!(span.parent_id(), None);
    assert_eq!(
        keys(span),
        [
            "mlflow.traceRequestId",
            "mlflow.spanType",
            "mlflow.spanInputs",
            "mlflow.spanOutputs",
            "mlflow.spanLogLevel"
        ]
    );
    assert_eq!(
        raw(span, "mlflow.traceRequestId"),
        format!("\"{request_id}\"")
    );
    assert_eq!(raw(span, "mlflow.spanType"), "\"UNKNOWN\"");
    assert_eq!(raw(span, "mlflow.spanInputs"), "{\"a\": 1}");
    assert_eq!(raw(span, "mlflow.spanOutputs"), "{\"b\": 2}");
    assert_eq!(raw(span, "mlflow.spanLogLevel"), "10");
    assert_eq!(span.status(), &SpanStatus::ok());
    assert!(span.end_time_ns() >= span.start_time_ns());
}

#[test]
fn user_attributes_are_encoded_like_python() {
    let trace = record_one(|| {
        let span = start_span("chain").span_type(SpanType::Chain).start();
        span.set_attributes([
            ("custom.str", json!("hello")),
            ("custom.int", json!(7)),
            ("custom.float", json!(0.5)),
            ("custom.bool", json!(true)),
            ("custom.list", json!([1, 2, 3])),
            ("custom.dict", json!({"k": "v"})),
        ]);
        span.set_attribute("custom.none", ());
        span.set_attribute("custom.unicode", "héllo 😀");
    });
    let span = &trace.spans()[0];
    assert_eq!(raw(span, "custom.str"), "\"hello\"");
    assert_eq!(raw(span, "custom.int"), "7");
    assert_eq!(raw(span, "custom.float"), "0.5");
    assert_eq!(raw(span, "custom.bool"), "true");
    assert_eq!(raw(span, "custom.list"), "[1, 2, 3]");
    assert_eq!(raw(span, "custom.dict"), "{\"k\": \"v\"}");
    assert_eq!(raw(span, "custom.none"), "null");
    assert_eq!(raw(span, "custom.unicode"), "\"héllo 😀\"");
    assert_eq!(span.attribute("custom.dict"), Some(json!({"k": "v"})));
    assert_eq!(span.span_type(), SpanType::Chain);
}

#[test]
fn any_serialize_value_is_accepted() {
    #[derive(Serialize)]
    struct Query<'a> {
        text: &'a str,
        top_k: u32,
    }
    let trace = record_one(|| {
        let span = start_span("retrieve")
            .span_type(SpanType::Retriever)
            .start();
        span.set_inputs(Query {
            text: "mlflow",
            top_k: 3,
        });
        span.set_outputs(vec!["doc-1", "doc-2"]);
    });
    let span = &trace.spans()[0];
    assert_eq!(
        raw(span, "mlflow.spanInputs"),
        "{\"text\": \"mlflow\", \"top_k\": 3}"
    );
    assert_eq!(raw(span, "mlflow.spanOutputs"), "[\"doc-1\", \"doc-2\"]");
    assert_eq!(raw(span, "mlflow.spanLogLevel"), "20");
}

#[test]
fn setting_an_attribute_twice_keeps_its_position_and_the_last_value() {
    let trace = record_one(|| {
        let span = start_span("s").start();
        span.set_inputs(1);
        span.set_attribute("x", 1);
        span.set_inputs(2);
        span.set_span_type(SpanType::Llm);
    });
    let span = &trace.spans()[0];
    assert_eq!(
        keys(span),
        [
            "mlflow.traceRequestId",
            "mlflow.spanType",
            "mlflow.spanInputs",
            "x",
            "mlflow.spanLogLevel"
        ]
    );
    assert_eq!(raw(span, "mlflow.spanInputs"), "2");
    assert_eq!(raw(span, "mlflow.spanType"), "\"LLM\"");
    // The log level follows the type at the end of the span.
    assert_eq!(raw(span, "mlflow.spanLogLevel"), "20");
}

#[test]
fn every_span_type_and_custom_ones() {
    let trace = record_one(|| {
        let _root = start_span("root").start();
        for span_type in SpanType::ALL {
            let _ = start_span(span_type.as_str().to_owned())
                .span_type(span_type)
                .start();
        }
        let _ = start_span("custom").span_type("MY_STEP").start();
    });
    for span_type in SpanType::ALL {
        let span = trace.span(span_type.as_str()).expect("span");
        assert_eq!(
            raw(span, "mlflow.spanType"),
            format!("\"{}\"", span_type.as_str())
        );
        let expected = match span_type {
            SpanType::Llm
            | SpanType::ChatModel
            | SpanType::Tool
            | SpanType::Retriever
            | SpanType::Agent
            | SpanType::Embedding => "20",
            _ => "10",
        };
        assert_eq!(raw(span, "mlflow.spanLogLevel"), expected, "{span_type}");
    }
    assert_eq!(
        raw(trace.span("custom").unwrap(), "mlflow.spanType"),
        "\"MY_STEP\""
    );
}

#[test]
fn nested_spans_form_one_tree() {
    let trace = record_one(|| {
        let root = start_span("chain").span_type(SpanType::Chain).start();
        {
            let _llm = start_span("llm").span_type(SpanType::Llm).start();
            let _inner = start_span("tokenize").start();
        }
        let _tool = start_span("tool").span_type(SpanType::Tool).start();
        assert_eq!(
            get_current_active_span().unwrap().span_id(),
            _tool.span_id()
        );
        drop(root);
    });
    let root = trace.root_span().unwrap();
    assert_eq!(root.name(), "chain");
    let children: Vec<&str> = trace.children(root).iter().map(|s| s.name()).collect();
    assert_eq!(children, ["llm", "tool"]);
    let llm = trace.span("llm").unwrap();
    assert_eq!(trace.children(llm)[0].name(), "tokenize");
    for span in trace.spans() {
        assert_eq!(span.trace_id(), trace.info().trace_id());
        assert_eq!(
            raw(span, "mlflow.traceRequestId"),
            format!("\"{}\"", trace.info().trace_id())
        );
    }
}

#[test]
fn record_exception_matches_mlflow() {
    let trace = record_one(|| {
        let _root = start_span("chain").start();
        let tool = start_span("failing_tool").span_type(SpanType::Tool).start();
        tool.set_inputs(json!({"query": "boom"}));
        tool.record_exception(&ValueError("tool failed"));
    });
    let tool = trace.span("failing_tool").unwrap();
    assert_eq!(tool.status(), &SpanStatus::error("ValueError: tool failed"));
    assert_eq!(tool.events().len(), 1);
    let event = &tool.events()[0];
    assert_eq!(event.name(), "exception");
    assert_eq!(
        event.attribute("exception.message").unwrap(),
        json!("tool failed")
    );
    assert_eq!(
        event.attribute("exception.type").unwrap(),
        json!("ValueError")
    );
    let stacktrace = event.attribute("exception.stacktrace").unwrap();
    let stacktrace = stacktrace.as_str().unwrap();
    assert!(
        stacktrace.starts_with("ValueError: tool failed"),
        "{stacktrace}"
    );
    assert_eq!(raw(tool, "mlflow.spanLogLevel"), "40");
    assert!(tool.outputs().is_none());
    // The parent is not affected.
    assert_eq!(trace.root_span().unwrap().status().code(), StatusCode::Ok);
}

#[test]
fn the_error_source_chain_is_part_of_the_stacktrace() {
    #[derive(Debug)]
    struct Outer(ValueError);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("request failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let trace = record_one(|| {
        let span = start_span("s").start();
        span.record_exception(&Outer(ValueError("connection reset")));
    });
    let event = &trace.spans()[0].events()[0];
    let stacktrace = event.attribute("exception.stacktrace").unwrap();
    let stacktrace = stacktrace.as_str().unwrap();
    assert!(
        stacktrace.starts_with("Outer: request failed\n\nCaused by:\n    0: connection reset"),
        "{stacktrace}"
    );
}

#[test]
fn status_follows_opentelemetry_rules() {
    let trace = record_one(|| {
        let root = start_span("root").start();
        let a = start_span("error_then_ok").start_detached();
        a.set_status(SpanStatus::error("x"));
        a.set_status(SpanStatus::ok());
        a.end();
        let b = start_span("ok_then_error").start_detached();
        b.set_status(StatusCode::Ok);
        b.set_status(SpanStatus::error("ignored"));
        b.end();
        let c = start_span("error_stays").start_detached();
        c.set_status(SpanStatus::error("boom"));
        c.set_status(StatusCode::Unset);
        c.end();
        drop(root);
    });
    assert_eq!(
        trace.span("error_then_ok").unwrap().status(),
        &SpanStatus::ok()
    );
    assert_eq!(
        trace.span("ok_then_error").unwrap().status(),
        &SpanStatus::ok()
    );
    assert_eq!(
        trace.span("error_stays").unwrap().status(),
        &SpanStatus::error("boom")
    );
}

#[test]
fn events_and_log_levels() {
    let trace = record_one(|| {
        let span = start_span("s").start();
        span.add_event("retry", [("attempt", 2_i64)]);
        span.set_log_level(SpanLogLevel::Warning);
        let other = start_span("critical").start();
        other.set_log_level(SpanLogLevel::Critical);
        other.add_event("exception", [("exception.message", "x")]);
    });
    let span = trace.span("s").unwrap();
    assert_eq!(span.events()[0].name(), "retry");
    assert_eq!(span.events()[0].attribute("attempt").unwrap(), json!(2));
    assert_eq!(raw(span, "mlflow.spanLogLevel"), "30");
    // An exception event does not lower a higher level.
    assert_eq!(
        raw(trace.span("critical").unwrap(), "mlflow.spanLogLevel"),
        "50"
    );
}

#[test]
fn a_panic_ends_the_span_with_an_error() {
    let traces = record(|| {
        let result = std::panic::catch_unwind(|| {
            let _span = start_span("panicky").start();
            panic!("oh no");
        });
        assert!(result.is_err());
    });
    let span = &traces[0].spans()[0];
    assert_eq!(span.status().code(), StatusCode::Error);
    assert_eq!(
        span.events()[0].attribute("exception.type").unwrap(),
        json!("panic")
    );
}

#[test]
fn detached_spans_take_an_explicit_parent_and_end_on_drop() {
    let trace = record_one(|| {
        let root = start_span("root").start_detached();
        assert!(get_current_active_span().is_none());
        let child = start_span("child")
            .parent(&root)
            .inputs(json!({"x": 1}))
            .start_detached();
        drop(child); // the last handle: ends the span
        let again = start_span("late").parent(&root).start_detached();
        again.end();
        root.end();
    });
    let root = trace.root_span().unwrap();
    assert_eq!(root.name(), "root");
    assert_eq!(trace.children(root).len(), 2);
    assert_eq!(trace.span("child").unwrap().inputs(), Some(json!({"x": 1})));
}

#[test]
fn values_set_before_the_parent_is_given_are_kept() {
    // The default pipeline records nothing, so the builder starts out with no target;
    // `parent` then gives it a recording parent from another pipeline.
    let (tracing, traces) = crate::support::pipeline();
    let root = tracing.start_span("root").start_detached();
    Tracing::disabled().in_scope(|| {
        let child = start_span("child")
            .attribute("model", "gpt-4o-mini")
            .attributes([("temperature", 0.5)])
            .inputs(json!({"q": "x"}))
            .parent(&root)
            .start_detached();
        assert!(child.is_recording());
        child.end();
    });
    root.end();
    tracing.flush().unwrap();
    let trace = traces.traces().remove(0);
    let child = trace.span("child").unwrap();
    assert_eq!(child.attribute("model"), Some(json!("gpt-4o-mini")));
    assert_eq!(child.attribute("temperature"), Some(json!(0.5)));
    assert_eq!(child.inputs(), Some(json!({"q": "x"})));
}

#[test]
fn no_parent_starts_a_new_trace() {
    let traces = record(|| {
        let _outer = start_span("outer").start();
        let _other = start_span("independent").no_parent().start();
    });
    assert_eq!(traces.len(), 2);
    assert!(traces.iter().all(|t| t.spans().len() == 1));
}

#[test]
fn trace_ids_are_reported() {
    let (tracing, _traces) = crate::support::pipeline();
    let id = tracing.in_scope(|| {
        assert_eq!(get_active_trace_id(), None);
        let span = start_span("root").start();
        let id = span.trace_id().unwrap().to_owned();
        assert_eq!(get_active_trace_id().as_deref(), Some(id.as_str()));
        assert_eq!(
            TraceContext::current().span().unwrap().trace_id(),
            Some(id.as_str())
        );
        id
    });
    assert_eq!(get_last_active_trace_id().as_deref(), Some(id.as_str()));
    assert_eq!(
        mlflow_tracing::get_last_active_trace_id_in_thread().as_deref(),
        Some(id.as_str())
    );
}

#[test]
fn disabled_tracing_is_a_no_op() {
    let tracing = mlflow_tracing::Tracing::disabled();
    tracing.in_scope(|| {
        let span = start_span("x").inputs(json!({"a": 1})).start();
        assert!(!span.is_recording());
        assert_eq!(span.trace_id(), None);
        span.set_outputs(1);
        assert!(get_current_active_span().is_none());
        assert!(mlflow_tracing::update_current_trace(mlflow_tracing::TraceUpdate::new()).is_err());
    });
    assert!(tracing.flush().is_ok());
}

#[test]
fn shutdown_makes_later_spans_no_ops() {
    let (tracing, traces) = crate::support::pipeline();
    tracing.in_scope(|| drop(start_span("before").start()));
    tracing.shutdown().unwrap();
    assert_eq!(traces.traces().len(), 1);
    tracing.in_scope(|| assert!(!start_span("after").start().is_recording()));
    assert_eq!(
        tracing.shutdown(),
        Err(mlflow_tracing::FlushError::AlreadyShutDown)
    );
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<mlflow_tracing::LiveSpan>();
    send_sync::<mlflow_tracing::Tracing>();
    send_sync::<mlflow_tracing::TraceContext>();
    send_sync::<mlflow_tracing::Trace>();
    send_sync::<mlflow_tracing::Stats>();
    send::<mlflow_tracing::Instrumented<std::future::Ready<()>>>();
}
