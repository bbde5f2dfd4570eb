//! `mlflow-trace load`: a load generator. N traces of D nested spans over T threads, to
//! whatever destination the environment selects, then a flush; it reports what the caller
//! paid per span, the wall and CPU time per span, peak memory, and what was exported and
//! dropped as the SDK counts it.
//!
//! The workload is the one of MLflow's own overhead measurement: every span gets
//! `{"x": i, "level": l}` as inputs and `{"y": i + 1, "level": l}` as outputs.

use std::time::{Duration, Instant};

use clap::Args;
use mlflow_tracing::{Destination, Stats, Trace, TraceExporter, Tracing, Unit, start_span};
use serde_json::json;

#[derive(Args, Debug, Clone)]
pub(crate) struct LoadArgs {
    /// Traces to record (after the warm-up). With --duration, computed from --rate.
    #[arg(long, default_value_t = 6_667)]
    traces: usize,
    /// Spans per trace, nested (root → child → …).
    #[arg(long, default_value_t = 3)]
    depth: usize,
    /// Threads recording at once; the traces are split between them.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Pad each span's inputs to about this many bytes.
    #[arg(long)]
    input_bytes: Option<usize>,
    /// Offer spans at this rate (all threads together), spans per second; default: as
    /// fast as possible.
    #[arg(long)]
    rate: Option<f64>,
    /// With --rate: offer spans for this many seconds (instead of --traces).
    #[arg(long)]
    duration: Option<f64>,
    /// Traces recorded and flushed first, not measured.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// How long the final flush may take, in seconds.
    #[arg(long, default_value_t = 600.0)]
    flush_timeout: f64,
    /// Export to a `TraceExporter` that discards what it gets, instead of the
    /// destinations the environment selects: the SDK's own cost, without a destination's.
    #[arg(long)]
    discard: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// A `TraceExporter` that drops every trace (the SDK counts them as exported).
struct Discard;

impl TraceExporter for Discard {
    fn name(&self) -> String {
        "discard".to_owned()
    }

    fn export(&mut self, traces: &[&Trace]) -> Result<(), String> {
        std::hint::black_box(traces);
        Ok(())
    }
}

/// What one run measured.
#[derive(Debug, serde::Serialize)]
struct Report {
    spans: u64,
    traces: u64,
    depth: usize,
    threads: usize,
    wall_s: f64,
    /// What the recording threads spent per span (their loops, averaged over threads).
    us_per_span: f64,
    /// Wall time per span, the final flush included.
    wall_us_per_span: f64,
    /// Process CPU (user + system, all threads) per span, the flush included.
    cpu_us_per_span: f64,
    peak_rss_mb: f64,
    /// Spans exported to the first configured destination, as the SDK counts them (a
    /// trace destination counts traces: each is `depth` spans).
    exported: u64,
    /// Spans the SDK counts as lost for it: dropped by the pipeline (memory bound, traces
    /// not started) or failed at the destination.
    dropped: u64,
    /// Spans still queued for it when the flush returned (a flush that timed out).
    queued: u64,
    destination: String,
    flush: String,
}

pub(crate) fn run(args: &LoadArgs) -> Result<(), Box<dyn std::error::Error>> {
    let traces = match (args.duration, args.rate) {
        (Some(seconds), Some(rate)) => (seconds * rate / args.depth.max(1) as f64) as usize,
        (Some(_), None) => return Err("--duration needs --rate".into()),
        _ => args.traces,
    };
    let flush_timeout = Duration::try_from_secs_f64(args.flush_timeout)
        .map_err(|_| format!("invalid --flush-timeout {}", args.flush_timeout))?;
    let mut builder = Tracing::builder().flush_timeout(flush_timeout);
    if args.discard {
        builder = builder
            .destinations_from_config(false)
            .with_exporter(Discard);
    }
    let tracing = builder.build()?;
    if args.warmup > 0 {
        tracing.in_scope(|| record(0, args.warmup, args, None));
        let _ = tracing.flush();
    }
    let before = tracing.stats();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let threads = args.threads.max(1);
    let per_thread_rate = args.rate.map(|r| r / threads as f64);
    let loops: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let tracing = tracing.clone();
                let share = traces / threads + usize::from(t < traces % threads);
                scope.spawn(move || {
                    let start = Instant::now();
                    tracing.in_scope(|| record(t * traces, share, args, per_thread_rate));
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let flushed = tracing.flush();
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let after = tracing.stats();
    let spans = (traces * args.depth) as u64;
    let Delivery {
        destination,
        exported,
        dropped,
        queued,
    } = delivery(&before, &after, args.depth as u64);
    // Each thread recorded spans / threads spans in its loop.
    let caller: f64 = loops.iter().map(Duration::as_secs_f64).sum::<f64>() / threads as f64;
    let per_span = |seconds: f64| seconds * 1e6 / spans.max(1) as f64;
    let report = Report {
        spans,
        traces: traces as u64,
        depth: args.depth,
        threads,
        wall_s: wall.as_secs_f64(),
        us_per_span: per_span(caller) * threads as f64,
        wall_us_per_span: per_span(wall.as_secs_f64()),
        cpu_us_per_span: per_span(cpu.as_secs_f64()),
        peak_rss_mb: peak_rss_mb(),
        exported,
        dropped,
        queued,
        destination,
        flush: match &flushed {
            Ok(()) => "ok".to_owned(),
            Err(err) => err.to_string(),
        },
    };
    let _ = tracing.shutdown();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_text(&report, args);
    }
    Ok(())
}

/// Records `count` traces numbered from `first`, paced to `rate` spans per second.
fn record(first: usize, count: usize, args: &LoadArgs, rate: Option<f64>) {
    let padding = args.input_bytes.map(|b| "x".repeat(b.saturating_sub(24)));
    let started = Instant::now();
    for n in 0..count {
        if let Some(rate) = rate {
            let due = started + Duration::from_secs_f64((n * args.depth) as f64 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let i = first + n;
        nest(i, 0, args.depth, padding.as_deref());
    }
}

/// One span at `level` and, inside it, the rest of the trace.
fn nest(i: usize, level: usize, depth: usize, padding: Option<&str>) {
    if level == depth {
        return;
    }
    let span = start_span(LEVEL_NAMES[level.min(LEVEL_NAMES.len() - 1)]).start();
    match padding {
        Some(pad) => span.set_inputs(json!({"x": i, "level": level, "pad": pad})),
        None => span.set_inputs(json!({"x": i, "level": level})),
    }
    nest(i, level + 1, depth, padding);
    span.set_outputs(json!({"y": i + 1, "level": level}));
}

const LEVEL_NAMES: [&str; 4] = ["root", "child", "grandchild", "descendant"];

/// What became of the measured spans at one destination.
struct Delivery {
    destination: String,
    exported: u64,
    dropped: u64,
    queued: u64,
}

/// The first configured destination (an exporter added in code only when there is no
/// other) and what the SDK
/// counted for it between two snapshots, in spans. A trace destination counts traces of
/// `depth` spans: a trace exported without some of its spans (dropped one by one at the
/// memory bound) is `depth` spans less those, which are the spans the pipeline dropped
/// outside the traces it dropped whole.
fn delivery(before: &Stats, after: &Stats, depth: u64) -> Delivery {
    let since = |now: u64, then: u64| now.saturating_sub(then);
    let pipeline_dropped = since(after.spans_dropped, before.spans_dropped)
        + since(after.traces_not_started, before.traces_not_started) * depth;
    let configured = after
        .destinations
        .iter()
        .position(|d| !matches!(d.destination, Destination::Exporter { .. }));
    let Some((i, now)) = configured
        .or((!after.destinations.is_empty()).then_some(0))
        .map(|i| (i, &after.destinations[i]))
    else {
        return Delivery {
            destination: "none".to_owned(),
            exported: 0,
            dropped: since(after.spans_ended, before.spans_ended),
            queued: 0,
        };
    };
    let then = before.destinations.get(i);
    let exported = since(now.exported, then.map_or(0, |d| d.exported));
    let failed = since(now.failed, then.map_or(0, |d| d.failed));
    match now.unit {
        Unit::Traces => {
            let whole = since(after.traces_dropped, before.traces_dropped) * depth;
            let from_exported = pipeline_dropped.saturating_sub(whole);
            Delivery {
                destination: now.destination.to_string(),
                exported: (exported * depth).saturating_sub(from_exported),
                dropped: pipeline_dropped + failed * depth,
                queued: now.queued * depth,
            }
        }
        _ => Delivery {
            destination: now.destination.to_string(),
            exported,
            dropped: pipeline_dropped + failed,
            queued: now.queued,
        },
    }
}

fn print_text(r: &Report, args: &LoadArgs) {
    let padding = args
        .input_bytes
        .map_or(String::new(), |b| format!(", inputs of {b} bytes"));
    println!(
        "{} spans ({} traces × {}, {} thread(s){padding}) in {:.2} s",
        r.spans, r.traces, r.depth, r.threads, r.wall_s
    );
    println!(
        "caller {:.2} µs/span; wall incl. flush {:.2} µs/span; CPU {:.2} µs/span; peak RSS {:.1} MiB",
        r.us_per_span, r.wall_us_per_span, r.cpu_us_per_span, r.peak_rss_mb
    );
    let share = if r.spans == 0 {
        0.0
    } else {
        100.0 * r.exported as f64 / r.spans as f64
    };
    println!(
        "exported {} of {} spans ({share:.1} %) to {}; dropped {}{}; flush: {}",
        r.exported,
        r.spans,
        r.destination,
        r.dropped,
        if r.queued > 0 {
            format!("; still queued {}", r.queued)
        } else {
            String::new()
        },
        r.flush
    );
}

/// User + system CPU time of the whole process.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `usage` points to writable memory of the right type; getrusage fills it when
    // it returns 0.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return Duration::ZERO;
    }
    // SAFETY: getrusage returned 0, so it initialised `usage`.
    let usage = unsafe { usage.assume_init() };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The process's peak resident memory, in MiB (Linux; 0 elsewhere).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
