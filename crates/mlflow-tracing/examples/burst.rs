//! A burst of spans to an OTLP receiver that is down: memory stays within the bound
//! (`MLFLOW_TRACE_MAX_QUEUE_BYTES`: by default a sixteenth of the process's memory, between 64 MiB and 1 GiB), everything past it is counted,
//! and shutdown returns within the flush timeout.
//!
//! ```sh
//! cargo run --release --example burst -- 1000000
//! ```

use std::time::Instant;

use mlflow_tracing::{Protocol, Tracing, start_span};

/// This process's resident memory now and at its peak, in MiB (Linux; 0 elsewhere).
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spans: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    // Port 9 (discard) on loopback: nothing listens, every connection is refused.
    let tracing = Tracing::builder()
        .otlp_endpoint("http://127.0.0.1:9/v1/traces")
        .otlp_protocol(Protocol::HttpProtobuf)
        .build()?;
    let (baseline, _) = rss_mib();
    let started = Instant::now();
    tracing.in_scope(|| {
        for i in 0..spans / 3 {
            let root = start_span("root").start();
            root.set_inputs(serde_json::json!({"x": i, "level": 0}));
            let child = start_span("child").start();
            child.set_inputs(serde_json::json!({"x": i, "level": 1}));
            let leaf = start_span("leaf").start();
            leaf.set_inputs(serde_json::json!({"x": i, "level": 2}));
            leaf.set_outputs(serde_json::json!({"y": i + 1, "level": 2}));
        }
    });
    let recorded = started.elapsed();
    let (_, peak) = rss_mib();
    let stats = tracing.stats();
    println!(
        "{spans} spans offered in {:.2} s ({:.2} µs each on the caller's thread)",
        recorded.as_secs_f64(),
        recorded.as_secs_f64() * 1e6 / spans as f64
    );
    println!(
        "memory: {baseline:.1} MiB before, {peak:.1} MiB at the peak (bound {} MiB)",
        stats.max_queue_bytes / (1024 * 1024)
    );
    let otlp = &stats.destinations[0];
    println!(
        "spans ended {}, traces not started (queue full) {}, spans lost before export {}, \
         queued for OTLP {}, lost at OTLP {}",
        stats.spans_ended,
        stats.traces_not_started,
        stats.spans_lost.total(),
        otlp.queued,
        otlp.lost.total()
    );
    let started = Instant::now();
    let result = tracing.shutdown();
    println!(
        "shutdown returned after {:.2} s: {}",
        started.elapsed().as_secs_f64(),
        match result {
            Ok(()) => "everything exported".to_owned(),
            Err(err) => err.to_string(),
        }
    );
    Ok(())
}
