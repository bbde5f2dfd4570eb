//! The memory bound: a burst is delivered whole by default; past the bound, drops are
//! counted and reported, never a panic or a block.

use mlflow_tracing::{FlushError, start_span};

use crate::support::{Captured, builder};

#[test]
fn a_burst_of_tens_of_thousands_of_spans_is_delivered_whole() {
    let store = mlflow_tracing::testing::InMemoryTraces::new();
    let tracing = builder(&store).build().unwrap();
    tracing.in_scope(|| {
        for i in 0..10_000 {
            let root = start_span("root").start();
            root.set_inputs(serde_json::json!({"x": i, "level": 0}));
            let child = start_span("child").start();
            child.set_inputs(serde_json::json!({"x": i, "level": 1}));
            let _grandchild = start_span("grandchild").start();
        }
    });
    tracing.flush().unwrap();
    let stats = tracing.stats();
    assert_eq!(stats.spans_dropped, 0);
    assert_eq!(store.traces().len(), 10_000);
    assert_eq!(
        store
            .traces()
            .iter()
            .map(|t| t.spans().len())
            .sum::<usize>(),
        30_000
    );
}

#[test]
fn past_the_bound_spans_are_dropped_counted_and_reported() {
    let store = mlflow_tracing::testing::InMemoryTraces::new();
    // Room for a handful of spans only.
    let tracing = builder(&store).max_queue_bytes(4_000).build().unwrap();
    let started = 2_000;
    let log = Captured::default();
    tracing::subscriber::with_default(log.subscriber(), || {
        tracing.in_scope(|| {
            for _ in 0..started {
                let span = start_span("s").start();
                span.set_inputs("x".repeat(200));
            }
        })
    });
    let log = log.text();
    assert!(log.contains("the export queue is full"), "{log}");
    assert!(log.contains("MLFLOW_TRACE_MAX_QUEUE_BYTES"), "{log}");
    assert_eq!(
        log.matches("the export queue is full").count(),
        1,
        "reports are rate-limited: {log}"
    );
    // The flush reports what was lost since the previous one, and why.
    let report = match tracing.flush() {
        Err(FlushError::Lost(report)) => report,
        other => panic!("expected the losses to be reported, got {other:?}"),
    };
    let stats = tracing.stats();
    let exported = store.traces().len() as u64;
    assert!(stats.spans_dropped > 0, "{stats:?}");
    assert_eq!(stats.spans_lost.over_memory_bound, stats.spans_dropped);
    assert_eq!(report.spans_lost, stats.spans_lost);
    assert_eq!(report.traces_lost.over_memory_bound, stats.traces_dropped);
    assert!(
        report.to_string().contains("over the memory bound"),
        "{report}"
    );
    assert_eq!(exported + stats.traces_dropped, started);
    assert_eq!(stats.spans_ended, started);
    assert_eq!(stats.queued_bytes, 0);
    // Nothing new was lost since: the next flush is clean.
    tracing.flush().unwrap();
}
