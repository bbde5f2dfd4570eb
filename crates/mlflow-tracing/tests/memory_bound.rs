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
    // Past the bound, a new trace is not recorded at all, or (if it started before the
    // queue filled) its root span is dropped when it ends: both are counted.
    assert!(stats.traces_dropped > 0, "{stats:?}");
    assert_eq!(stats.spans_lost.over_memory_bound, stats.spans_dropped);
    assert_eq!(report.spans_lost, stats.spans_lost);
    assert_eq!(report.traces_lost.over_memory_bound, stats.traces_dropped);
    assert!(
        report.to_string().contains("over the memory bound"),
        "{report}"
    );
    assert_eq!(exported + stats.traces_dropped, started);
    assert_eq!(stats.spans_ended + stats.traces_not_started, started);
    assert_eq!(stats.queued_bytes, 0);
    // Nothing new was lost since: the next flush is clean.
    tracing.flush().unwrap();
}

/// This process's resident memory now and at its peak, in KiB (Linux).
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn peak_memory_stays_within_the_bound_when_the_destination_is_down() {
    use crate::support::child;
    const BOUND_MIB: u64 = 32;
    if child::is_child() {
        // A destination that is down (nothing listens): spans pile up to the memory
        // bound, then are dropped and counted.
        let builder = mlflow_tracing::Tracing::builder()
            .with_env(|_| None)
            .max_queue_bytes(BOUND_MIB * 1024 * 1024)
            .flush_timeout(std::time::Duration::from_millis(200));
        let tracing = match std::env::var("MODE").as_deref() {
            // Spans as they end, to an OTLP receiver that is down.
            Ok("spans") => builder
                .otlp_endpoint("http://127.0.0.1:9/v1/traces")
                .otlp_protocol(mlflow_tracing::Protocol::HttpProtobuf),
            // Whole traces, to a destination that takes a second per batch, with trace
            // updates (tags, metadata) on every trace.
            _ => builder.destinations_from_config(false).with_exporter(Slow),
        }
        .build()
        .unwrap();
        let (baseline, _) = rss_kib();
        let spans = std::env::var("SPANS").unwrap().parse::<usize>().unwrap();
        tracing.in_scope(|| {
            for i in 0..spans / 3 {
                let root = start_span("root").start();
                root.set_inputs(serde_json::json!({"x": i, "level": 0}));
                let _ = mlflow_tracing::update_current_trace(
                    mlflow_tracing::TraceUpdate::new()
                        .tag("i", i.to_string())
                        .metadata("request", format!("request-{i}")),
                );
                let child = start_span("child").start();
                child.set_inputs(serde_json::json!({"x": i, "level": 1}));
                let grandchild = start_span("grandchild").start();
                grandchild.set_inputs(serde_json::json!({"x": i, "level": 2}));
                grandchild.set_outputs(serde_json::json!({"y": i + 1, "level": 2}));
            }
        });
        let stats = tracing.stats();
        let (_, peak) = rss_kib();
        let lost = stats.spans_lost.total() + stats.destinations[0].lost.total();
        let not_recorded = stats.traces_not_started;
        println!(
            "MEASURED baseline_kib={baseline} peak_kib={peak} ended={} lost={lost} queued={} \
             traces_not_recorded={not_recorded}",
            stats.spans_ended, stats.destinations[0].queued,
        );
        std::process::exit(0);
    }
    for mode in ["spans", "traces"] {
        let output = child::run_child_output(
            "memory_bound::peak_memory_stays_within_the_bound_when_the_destination_is_down",
            &[("SPANS", "300000".into()), ("MODE", mode.into())],
            std::time::Duration::from_secs(300),
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("MEASURED").map(|(_, m)| m.to_owned()))
            .unwrap_or_else(|| panic!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
        eprintln!("{mode}:{line}");
        let value = |key: &str| -> u64 {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{key} in {line}"))
        };
        // The bound covers what is queued; the stated overhead on top of it is 16 MiB plus
        // a tenth of the bound (allocator slack, thread stacks, the channels' blocks).
        let overhead_kib = 16 * 1024 + BOUND_MIB * 1024 / 10;
        let grown = value("peak_kib").saturating_sub(value("baseline_kib"));
        assert!(
            grown <= BOUND_MIB * 1024 + overhead_kib,
            "{mode}: peak memory grew by {grown} KiB for a bound of {BOUND_MIB} MiB: {line}"
        );
        // Every span is accounted for: a trace started while the queue was full is not
        // recorded (counted as one lost trace, of three spans here); the spans that ended
        // are queued or lost.
        assert_eq!(
            value("ended") + 3 * value("traces_not_recorded"),
            300_000,
            "{mode}: {line}"
        );
        // The bound was reached: spans were lost, or (when each trace reserves its memory
        // as it starts) traces were not recorded.
        assert!(
            value("lost") + value("traces_not_recorded") > 0,
            "{mode}: the bound was reached: {line}"
        );
        if mode == "spans" {
            // Nothing was exported.
            assert_eq!(value("lost") + value("queued"), value("ended"), "{line}");
        }
    }
}

/// A trace destination that takes a second per batch.
struct Slow;

impl mlflow_tracing::TraceExporter for Slow {
    fn name(&self) -> String {
        "slow".to_owned()
    }

    fn export(&mut self, _traces: &[&mlflow_tracing::Trace]) -> Result<(), String> {
        std::thread::sleep(std::time::Duration::from_secs(1));
        Ok(())
    }
}
