//! Many threads tracing at once: separate, complete trees.

use std::collections::HashSet;

use mlflow_tracing::start_span;

use crate::support::pipeline;

#[test]
fn concurrent_traces_stay_separate() {
    const THREADS: usize = 8;
    const TRACES: usize = 100;
    let (tracing, store) = pipeline();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let tracing = &tracing;
            scope.spawn(move || {
                tracing.in_scope(|| {
                    for i in 0..TRACES {
                        let root = start_span(format!("root-{t}-{i}")).start();
                        root.set_inputs(serde_json::json!({"thread": t, "i": i}));
                        for c in 0..3 {
                            let child = start_span(format!("child-{t}-{i}-{c}")).start();
                            let _leaf = start_span(format!("leaf-{t}-{i}-{c}")).start();
                            child.set_outputs(c);
                        }
                    }
                })
            });
        }
    });
    tracing.flush().unwrap();
    let traces = store.traces();
    assert_eq!(traces.len(), THREADS * TRACES);
    let mut ids = HashSet::new();
    for trace in &traces {
        assert!(
            ids.insert(trace.info().trace_id().to_owned()),
            "duplicate trace id"
        );
        assert_eq!(trace.spans().len(), 7);
        let root = trace.root_span().unwrap();
        let suffix = root.name().strip_prefix("root-").unwrap();
        for child in trace.children(root) {
            assert!(
                child.name().starts_with(&format!("child-{suffix}-")),
                "{}",
                child.name()
            );
            let leaves = trace.children(child);
            assert_eq!(leaves.len(), 1);
            assert_eq!(leaves[0].name().replace("leaf-", "child-"), child.name());
        }
        for span in trace.spans() {
            assert_eq!(span.trace_id(), trace.info().trace_id());
        }
    }
    let stats = tracing.stats();
    assert_eq!(stats.spans_ended, (THREADS * TRACES * 7) as u64);
    assert_eq!(stats.spans_dropped, 0);
    assert_eq!(stats.traces_completed, (THREADS * TRACES) as u64);
    assert_eq!(stats.queued_bytes, 0);
}
