//! Context propagation: threads, async tasks, both tokio runtime flavours.

use mlflow_tracing::{TraceContext, TraceFutureExt, get_current_active_span, start_span};

use crate::support::{pipeline, record_one};

#[test]
fn a_default_guard_restores_the_default_current_when_it_was_made() {
    let (base, base_traces) = pipeline();
    let (a, a_traces) = pipeline();
    let (b, b_traces) = pipeline();
    let base_guard = base.set_default();
    let a_guard = a.set_default();
    let b_guard = b.set_default();
    // Dropped out of order: each guard restores what was current when it was made, not
    // whatever is on top.
    drop(a_guard); // base was current when a's guard was made
    drop(start_span("first").start());
    drop(b_guard); // a was current when b's guard was made
    drop(start_span("second").start());
    drop(base_guard);
    let names = |tracing: &mlflow_tracing::Tracing,
                 traces: &mlflow_tracing::testing::InMemoryTraces|
     -> Vec<String> {
        tracing.flush().unwrap();
        traces
            .traces()
            .iter()
            .map(|t| t.spans()[0].name().to_owned())
            .collect()
    };
    assert_eq!(names(&base, &base_traces), ["first"]);
    assert_eq!(names(&a, &a_traces), ["second"]);
    assert!(names(&b, &b_traces).is_empty());
}

#[test]
fn a_trace_context_carries_the_span_into_a_thread() {
    let trace = record_one(|| {
        let _root = start_span("request").start();
        let cx = TraceContext::current();
        std::thread::spawn(move || {
            let _attached = cx.attach();
            let _work = start_span("work").start();
            let _inner = start_span("inner").start();
        })
        .join()
        .unwrap();
    });
    let root = trace.root_span().unwrap();
    let work = trace.span("work").unwrap();
    assert_eq!(work.parent_id(), Some(root.span_id()));
    assert_eq!(
        trace.span("inner").unwrap().parent_id(),
        Some(work.span_id())
    );
}

#[test]
fn without_a_context_another_thread_starts_its_own_trace() {
    let (tracing, traces) = pipeline();
    tracing.in_scope(|| {
        let _root = start_span("request").start();
        let t = tracing.clone();
        std::thread::spawn(move || t.in_scope(|| drop(start_span("unrelated").start())))
            .join()
            .unwrap();
    });
    tracing.flush().unwrap();
    assert_eq!(traces.traces().len(), 2);
}

async fn leaf(name: &'static str) -> &'static str {
    let _span = start_span(name).start();
    name
}

async fn workflow() {
    let span = start_span("workflow").start_detached();
    let cx = TraceContext::with_span(&span);
    let steps = cx.wrap(async {
        // Yield so the task may move between threads in a multi-thread runtime.
        tokio::task::yield_now().await;
        let a = tokio::spawn(leaf("spawned_a").in_current_trace());
        let b = tokio::spawn(start_span("spawned_b").instrument(async {
            tokio::task::yield_now().await;
            assert!(get_current_active_span().is_some());
            leaf("under_b").await
        }));
        a.await.unwrap();
        b.await.unwrap();
    });
    steps.await;
    span.end();
}

fn check_async_tree(trace: &mlflow_tracing::Trace) {
    let root = trace.root_span().unwrap();
    assert_eq!(root.name(), "workflow");
    let mut children: Vec<&str> = trace.children(root).iter().map(|s| s.name()).collect();
    children.sort();
    assert_eq!(children, ["spawned_a", "spawned_b"]);
    let b = trace.span("spawned_b").unwrap();
    assert_eq!(trace.children(b)[0].name(), "under_b");
}

#[test]
fn async_tasks_on_a_multi_thread_runtime() {
    let (tracing, traces) = pipeline();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    tracing.in_scope(|| rt.block_on(workflow()));
    rt.block_on(tracing.flush_async()).unwrap();
    check_async_tree(&traces.traces()[0]);
}

#[test]
fn async_tasks_on_a_current_thread_runtime() {
    let (tracing, traces) = pipeline();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracing.in_scope(|| rt.block_on(workflow()));
    // Blocking flush from inside the runtime's thread must not deadlock.
    rt.block_on(async { tracing.flush().unwrap() });
    check_async_tree(&traces.traces()[0]);
}

#[test]
fn an_instrumented_future_is_current_only_while_polled() {
    let trace = record_one(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let fut = start_span("task").instrument(async {
            tokio::task::yield_now().await;
            get_current_active_span().map(|s| s.span_id())
        });
        assert!(get_current_active_span().is_none());
        let inside = rt.block_on(fut);
        assert!(inside.is_some());
        assert!(get_current_active_span().is_none());
    });
    assert_eq!(trace.spans()[0].name(), "task");
}

#[test]
fn a_cancelled_future_ends_its_span() {
    let trace = record_one(|| {
        let fut = start_span("cancelled").instrument(std::future::pending::<()>());
        drop(fut);
    });
    assert_eq!(trace.spans()[0].name(), "cancelled");
}
