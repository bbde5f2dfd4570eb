//! Nothing lost silently: every span and trace that is not exported is counted, by
//! destination and reason, reported by the next flush, and marked on the trace it was
//! part of; a panicking exporter or a stuck one never hangs a flush.

use std::time::{Duration, Instant};

use mlflow_tracing::testing::InMemoryTraces;
use mlflow_tracing::{FlushError, Trace, TraceExporter, Tracing, start_span};
use mlflow_tracing_test_support::{Receiver, Reply, Tls};

use crate::support::{builder, child};

/// An exporter that panics on its first batch.
struct Panicking;

impl TraceExporter for Panicking {
    fn name(&self) -> String {
        "panicking exporter".to_owned()
    }

    fn export(&mut self, _traces: &[&Trace]) -> Result<(), String> {
        panic!("bug in the exporter");
    }
}

#[test]
fn a_panicking_exporter_is_counted_and_never_hangs_a_flush() {
    let kept = InMemoryTraces::new();
    let tracing = builder(&kept).with_exporter(Panicking).build().unwrap();
    tracing.in_scope(|| drop(start_span("first").start()));
    let started = Instant::now();
    let report = match tracing.flush() {
        Err(FlushError::Lost(report)) => report,
        other => panic!("expected the loss to be reported, got {other:?}"),
    };
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        report.to_string().contains("the exporter panicked"),
        "{report}"
    );
    // The other destination is not affected; later traces to the panicked one are
    // counted, and flushes keep completing.
    tracing.in_scope(|| drop(start_span("second").start()));
    assert!(matches!(tracing.flush(), Err(FlushError::Lost(_))));
    assert_eq!(kept.traces().len(), 2);
    let stats = tracing.stats();
    let panicking = &stats.destinations[1];
    assert_eq!(panicking.lost.exporter_panicked, 2, "{stats:?}");
    assert_eq!((panicking.exported, panicking.queued), (0, 0));
    assert!(tracing.shutdown().is_ok());
}

#[test]
fn a_trace_that_lost_spans_is_exported_marked_incomplete() {
    let store = InMemoryTraces::new();
    // Room for the three first children (about 5.5 kB each while their trace is open)
    // and the root, not for the two last children.
    let tracing = builder(&store).max_queue_bytes(20_000).build().unwrap();
    tracing.in_scope(|| {
        let _root = start_span("root").start();
        for i in 0..5 {
            let child = start_span(format!("child-{i}")).start();
            child.set_inputs("x".repeat(5_000));
        }
    });
    assert!(matches!(tracing.flush(), Err(FlushError::Lost(_))));
    let traces = store.traces();
    assert_eq!(traces.len(), 1);
    let trace = &traces[0];
    assert_eq!(trace.spans().len(), 4, "root and three children");
    assert_eq!(
        trace
            .info()
            .tags()
            .get("mlflow_tracing.incomplete")
            .map(String::as_str),
        Some("2 span(s) not exported: over the memory bound (MLFLOW_TRACE_MAX_QUEUE_BYTES)")
    );
    let stats = tracing.stats();
    assert_eq!(stats.traces_incomplete, 1);
    assert_eq!(stats.spans_lost.over_memory_bound, 2);
    assert_eq!(stats.traces_dropped, 0);
}

#[test]
fn spans_already_sent_over_otlp_are_not_counted_as_lost_at_shutdown() {
    let receiver = Receiver::http(Tls::None, None);
    let tracing = Tracing::builder()
        .with_env(|_| None)
        .otlp_endpoint(receiver.traces_endpoint())
        .otlp_protocol(mlflow_tracing::Protocol::HttpProtobuf)
        .build()
        .unwrap();
    let root = tracing.start_span("unfinished root").start_detached();
    tracing
        .start_span("child")
        .parent(&root)
        .start_detached()
        .end();
    // The root never ends: at shutdown its trace is unfinished, but the child was already
    // handed to OTLP, which takes spans as they end.
    assert!(tracing.shutdown().is_ok());
    let stats = tracing.stats();
    assert_eq!(stats.spans_dropped, 0, "{stats:?}");
    assert_eq!(stats.traces_dropped, 0, "no trace destination: {stats:?}");
    assert_eq!(stats.destinations[0].exported, 1);
    assert_eq!(receiver.wait_for_spans(1, Duration::from_secs(10)).len(), 1);
    drop(root);
}

#[test]
fn unfinished_traces_at_shutdown_are_counted_for_trace_destinations() {
    let store = InMemoryTraces::new();
    let tracing = builder(&store).build().unwrap();
    let root = tracing.start_span("unfinished").start_detached();
    tracing
        .start_span("child")
        .parent(&root)
        .start_detached()
        .end();
    let report = match tracing.shutdown() {
        Err(FlushError::Lost(report)) => report,
        other => panic!("expected the loss to be reported, got {other:?}"),
    };
    assert_eq!(report.traces_lost.abandoned, 1);
    assert_eq!(report.spans_lost.abandoned, 1, "the child reached nothing");
    assert!(store.traces().is_empty());
    drop(root);
}

#[test]
fn flush_async_is_bounded_by_the_flush_timeout() {
    let receiver = Receiver::http(Tls::None, None);
    receiver.script(vec![Reply::Delay(Duration::from_secs(600)); 4]);
    let tracing = Tracing::builder()
        .with_env(|_| None)
        .otlp_endpoint(receiver.traces_endpoint())
        .otlp_protocol(mlflow_tracing::Protocol::HttpProtobuf)
        .flush_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    tracing.in_scope(|| drop(start_span("s").start()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let result = rt.block_on(tracing.flush_async());
    assert_eq!(result, Err(FlushError::Timeout(Duration::from_millis(300))));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn the_global_pipeline_is_built_without_holding_a_lock() {
    if child::is_child() {
        // A `tracing` subscriber that starts an MLflow span for every event it sees; the
        // global pipeline's build reports a warning (the port looks like gRPC's) through
        // it, from inside the build.
        struct SpanOnEvent;
        impl tracing::Subscriber for SpanOnEvent {
            fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
                tracing::span::Id::from_u64(1)
            }
            fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
            fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
            fn event(&self, _: &tracing::Event<'_>) {
                drop(start_span("from the subscriber").start());
            }
            fn enter(&self, _: &tracing::span::Id) {}
            fn exit(&self, _: &tracing::span::Id) {}
        }
        tracing::subscriber::with_default(SpanOnEvent, || {
            let span = start_span("first").start();
            assert!(span.is_recording());
        });
        return;
    }
    // Before, the build held the global lock, and the subscriber's span waited for it
    // forever: the child hung.
    let output = child::run_child_output(
        "losses::the_global_pipeline_is_built_without_holding_a_lock",
        &[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:4317/v1/traces".into(),
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf".into()),
            ("MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS", "200".into()),
        ],
        Duration::from_secs(60),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
