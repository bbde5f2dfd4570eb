//! The trace timeout (`MLFLOW_TRACE_TIMEOUT_SECONDS`): a trace still open after it has its
//! open spans ended with status ERROR (the root with MLflow's exception event) and is
//! exported, counted as timed out and not as lost.

use std::time::{Duration, Instant};

use mlflow_tracing::testing::InMemoryTraces;
use mlflow_tracing::{StatusCode, TraceState, start_span};

use crate::support::builder;

fn wait_for(traces: &InMemoryTraces, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while traces.traces().len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stuck_trace_is_ended_with_status_error_and_exported() {
    let traces = InMemoryTraces::new();
    let tracing = builder(&traces)
        .trace_timeout(Duration::from_millis(300))
        .trace_timeout_check_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let (root, stuck) = tracing.in_scope(|| {
        let root = start_span("agent").inputs("question").start_detached();
        let stuck = start_span("tool").parent(&root).start_detached();
        start_span("done").parent(&root).start_detached().end();
        (root, stuck)
    });
    wait_for(&traces, 1);
    let exported = traces.traces();
    assert_eq!(exported.len(), 1, "the stuck trace is exported");
    let trace = &exported[0];
    assert_eq!(trace.info().state(), TraceState::Error);
    assert_eq!(trace.spans().len(), 3);
    let agent = trace.span("agent").unwrap();
    assert_eq!(agent.status().code(), StatusCode::Error);
    let event = &agent.events()[0];
    assert_eq!(event.name(), "exception");
    let attr = |k: &str| {
        event
            .attributes()
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.to_string())
            .unwrap()
    };
    assert_eq!(attr("exception.type"), "MlflowTracingException");
    assert_eq!(
        attr("exception.message"),
        format!(
            "Trace {} is timed out after 1 seconds. The operation may be stuck or taking too \
             long to complete. To increase the timeout, set the environment variable \
             MLFLOW_TRACE_TIMEOUT_SECONDS to a larger value.",
            trace.info().trace_id()
        )
    );
    let tool = trace.span("tool").unwrap();
    assert_eq!(tool.status().code(), StatusCode::Error);
    assert!(tool.events().is_empty());
    assert_eq!(trace.span("done").unwrap().status().code(), StatusCode::Ok);
    // Ending the spans later changes nothing and loses nothing.
    stuck.end();
    root.end();
    tracing.flush().expect("nothing lost");
    let stats = tracing.stats();
    assert_eq!(stats.traces_timed_out, 1);
    assert_eq!(stats.traces_lost.total(), 0);
    assert_eq!(traces.traces().len(), 1);
}

#[test]
fn without_a_timeout_an_open_trace_waits_for_the_buffer_ttl() {
    let traces = InMemoryTraces::new();
    let tracing = builder(&traces)
        .trace_timeout(Duration::ZERO)
        .build()
        .unwrap();
    let root = tracing.in_scope(|| start_span("open").start_detached());
    std::thread::sleep(Duration::from_millis(1200));
    assert!(traces.traces().is_empty());
    root.end();
    tracing.flush().unwrap();
    assert_eq!(traces.traces().len(), 1);
    assert_eq!(tracing.stats().traces_timed_out, 0);
}
