//! `otel-load`: the burst of `mlflow-trace load` through raw OpenTelemetry, the baseline
//! of `scripts/bench-compare.sh`.
//!
//! N traces of D nested spans (`root → child → grandchild …`) over T threads, each span
//! with the attributes MLflow puts on it: `mlflow.traceRequestId`, `mlflow.spanType`,
//! `mlflow.spanInputs` (`{"x": i, "level": l}`, JSON text) and `mlflow.spanOutputs`
//! (`{"y": i + 1, "level": l}`), recorded with `opentelemetry_sdk`'s `BatchSpanProcessor`
//! and exported by `opentelemetry-otlp` over HTTP/protobuf to
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (`--exporter otlp`), or to an exporter that drops
//! every batch (`--exporter discard`). The queue is the SDK's (`OTEL_BSP_MAX_QUEUE_SIZE`,
//! 2048 by default: a burst overflows it and spans are dropped, uncounted).
//!
//! Prints the report `mlflow-trace load --json` prints: `spans`, `wall_s`, `us_per_span`
//! (the recording threads), `wall_us_per_span` (flush included), `cpu_us_per_span` (all
//! threads), `peak_rss_mb`, `exported` (spans in batches the exporter accepted), `dropped`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use mlflow_tracing_bench::{cpu_time, padding, peak_rss_mb};
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "The load of `mlflow-trace load` through raw OpenTelemetry")]
struct Args {
    /// Traces to record (after the warm-up).
    #[arg(long, default_value_t = 6_667)]
    traces: usize,
    /// Spans per trace, nested.
    #[arg(long, default_value_t = 3)]
    depth: usize,
    /// Threads recording at once.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Pad each span's inputs to about this many bytes.
    #[arg(long)]
    input_bytes: Option<usize>,
    /// Traces recorded and flushed first, not measured.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Where spans go.
    #[arg(long, value_enum, default_value_t = Exporter::Otlp)]
    exporter: Exporter,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Exporter {
    /// opentelemetry-otlp over HTTP/protobuf, configured by the OTEL_* variables.
    Otlp,
    /// Drops every batch.
    Discard,
}

/// Counts the spans of the batches its inner exporter accepted.
#[derive(Debug)]
struct Counting<E> {
    inner: Option<E>,
    exported: Arc<AtomicU64>,
}

impl<E: SpanExporter> SpanExporter for Counting<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        let result = match &self.inner {
            Some(inner) => inner.export(batch).await,
            None => Ok(()),
        };
        if result.is_ok() {
            self.exported.fetch_add(spans, Ordering::Relaxed);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner
            .as_ref()
            .map_or(Ok(()), |e| e.shutdown_with_timeout(timeout))
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner
            .as_ref()
            .map_or(Ok(()), SpanExporter::force_flush)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        if let Some(inner) = &mut self.inner {
            inner.set_resource(resource);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let exported = Arc::new(AtomicU64::new(0));
    let provider = match args.exporter {
        Exporter::Otlp => SdkTracerProvider::builder().with_batch_exporter(Counting {
            inner: Some(
                opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .build()?,
            ),
            exported: exported.clone(),
        }),
        Exporter::Discard => SdkTracerProvider::builder().with_batch_exporter(Counting::<
            opentelemetry_otlp::SpanExporter,
        > {
            inner: None,
            exported: exported.clone(),
        }),
    }
    .build();
    let tracer = provider.tracer("bench");
    let pad = padding(args.input_bytes);
    if args.warmup > 0 {
        record(&tracer, 0, args.warmup, args.depth, pad.as_deref());
        provider.force_flush()?;
    }
    let before = exported.load(Ordering::Relaxed);
    let cpu_before = cpu_time();
    let started = Instant::now();
    let threads = args.threads.max(1);
    let loops: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let share = args.traces / threads + usize::from(t < args.traces % threads);
                let (tracer, pad) = (&tracer, pad.as_deref());
                scope.spawn(move || {
                    let start = Instant::now();
                    record(tracer, t * args.traces, share, args.depth, pad);
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let flushed = provider.force_flush();
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let spans = (args.traces * args.depth) as u64;
    let exported = exported.load(Ordering::Relaxed).saturating_sub(before);
    let per_span = |seconds: f64| seconds * 1e6 / spans.max(1) as f64;
    let caller: f64 = loops.iter().map(Duration::as_secs_f64).sum();
    let report = json!({
        "spans": spans,
        "traces": args.traces,
        "depth": args.depth,
        "threads": threads,
        "wall_s": wall.as_secs_f64(),
        "us_per_span": per_span(caller),
        "wall_us_per_span": per_span(wall.as_secs_f64()),
        "cpu_us_per_span": per_span(cpu.as_secs_f64()),
        "peak_rss_mb": peak_rss_mb(),
        "exported": exported,
        "dropped": spans.saturating_sub(exported),
        "queued": 0,
        "destination": format!("raw OpenTelemetry → {:?}", args.exporter),
        "flush": match &flushed { Ok(()) => "ok".to_owned(), Err(e) => e.to_string() },
    });
    let _ = provider.shutdown();
    if args.json {
        println!("{report}");
    } else {
        println!("{report:#}");
    }
    Ok(())
}

/// Records `count` traces numbered from `first`.
fn record(tracer: &SdkTracer, first: usize, count: usize, depth: usize, pad: Option<&str>) {
    for i in first..first + count {
        nest(tracer, &Context::current(), i, 0, depth, pad);
    }
}

const LEVEL_NAMES: [&str; 4] = ["root", "child", "grandchild", "descendant"];

/// One span at `level` with MLflow's attributes and, inside it, the rest of the trace.
fn nest(
    tracer: &SdkTracer,
    parent: &Context,
    i: usize,
    level: usize,
    depth: usize,
    pad: Option<&str>,
) {
    if level == depth {
        return;
    }
    let mut span = tracer.start_with_context(LEVEL_NAMES[level.min(3)], parent);
    let request_id = format!("\"tr-{}\"", span.span_context().trace_id());
    let inputs = match pad {
        Some(pad) => json!({"x": i, "level": level, "pad": pad}),
        None => json!({"x": i, "level": level}),
    };
    span.set_attributes([
        KeyValue::new("mlflow.traceRequestId", request_id),
        KeyValue::new("mlflow.spanType", "\"UNKNOWN\""),
        KeyValue::new("mlflow.spanInputs", inputs.to_string()),
    ]);
    let cx = parent.with_span(span);
    nest(tracer, &cx, i, level + 1, depth, pad);
    let outputs = json!({"y": i + 1, "level": level});
    let span = cx.span();
    span.set_attribute(KeyValue::new("mlflow.spanOutputs", outputs.to_string()));
    span.end();
}
