//! Per-span cost on the recording thread, against raw OpenTelemetry SDK spans measured in
//! the same run.
//!
//! Every scenario records one span with a small JSON input and output (what MLflow puts on
//! a span) and ends it:
//!
//! - `otel_sdk`: the OpenTelemetry SDK with its BatchSpanProcessor and a no-op exporter;
//!   the inputs/outputs set as JSON strings (the same bytes MLflow would carry);
//! - `mlflow`: `start_span(..).start()`, `set_inputs`, `set_outputs`, end; exported to a
//!   no-op destination, so the background threads do their full work (assembly, TraceInfo);
//! - `mlflow_metrics`: `mlflow` with span metrics on (the histogram recorded on its own
//!   worker, exported to an in-process OTLP/HTTP receiver at each flush);
//! - `mlflow_cpu` / `mlflow_metrics_cpu`: the same two, timed in the recording thread's
//!   CPU time rather than wall time, so that background work competing for the CPU does
//!   not count: the caller's own cost;
//! - `mlflow_trace_macro`: a `#[trace]` function with two arguments;
//! - `mlflow_nested3`: root → child → grandchild, per span;
//! - `mlflow_disabled` / `mlflow_sampled_out`: tracing off, and sampling ratio 0;
//! - `mlflow_timeout_cpu` / `mlflow_hook_cpu` / `mlflow_scope_cpu`: `mlflow_cpu` with a
//!   trace timeout configured, with a span hook, inside a `TraceScope`;
//! - `no_tracing`: building the same JSON values without any span, the floor;
//! - `tracing_registry_only`: the span made with `tracing` (`info_span!`, the inputs and
//!   outputs as fields), a `Registry` with no layer: what `tracing` itself costs;
//! - `bridge`: that span recorded by the `tracing` bridge (`MlflowLayer`);
//! - `bridge_genai`: a GenAI completion span as rig records it, through the bridge
//!   (translated on the assembler's thread).
//!
//! Timed: the recording loop only. Between samples (untimed) the pipelines are flushed,
//! and queues are sized so that nothing is dropped: what is measured is the full work, not
//! the drop path. `cargo bench -p mlflow-tracing --bench span`.
//!
//! Last run (2-core VM, Rust 1.95, glibc malloc; criterion's median):
//!
//! | scenario | per span | vs `otel_sdk` |
//! | --- | --- | --- |
//! | `no_tracing` (floor) | 0.30 µs | 0.28× |
//! | `otel_sdk` | 1.08 µs | 1× |
//! | `mlflow` | 2.48 µs | 2.3× |
//! | `mlflow_trace_macro` | 2.26 µs | 2.1× |
//! | `mlflow_nested3_per_span` | 1.87 µs | 1.7× |
//! | `mlflow_disabled` | 0.29 µs | 0.27× (= the floor) |
//! | `mlflow_sampled_out` | 0.45 µs | 0.42× |
//!
//! Span metrics on vs off (two runs of the four cases, same machine, while other builds
//! ran; wall time moves with the load, the recording thread's CPU time does not):
//!
//! | scenario | run 1 | run 2 |
//! | --- | --- | --- |
//! | `mlflow` (wall) | 2.05 µs | 4.32 µs |
//! | `mlflow_metrics` (wall) | 2.13 µs | 4.19 µs |
//! | `mlflow_cpu` (CPU) | 1.63 µs | 1.53 µs |
//! | `mlflow_metrics_cpu` (CPU) | 1.55 µs | 1.49 µs |
//!
//! The caller's cost does not change with span metrics: they are recorded on a worker.
//!
//! MLflow's controls, in the recording thread's CPU time (three runs each, one-span
//! traces, while other builds ran): `mlflow_cpu` 1.48–1.73 µs (before they existed:
//! 1.45–1.64 µs); `mlflow_timeout_cpu` (a trace timeout configured: each span registers
//! with its trace) 1.46–1.83 µs; `mlflow_hook_cpu` (a span hook, run on the assembler)
//! 1.48–1.66 µs; `mlflow_scope_cpu` (inside a `TraceScope`: one context read and one
//! reservation per trace) 1.49–1.65 µs. All within the runs' noise.
//!
//! The `tracing` bridge (one run, wall time, while other builds ran: compare within it):
//!
//! | scenario | per span |
//! | --- | --- |
//! | `otel_sdk` | 0.98 µs |
//! | `mlflow` | 3.51 µs |
//! | `tracing_registry_only` | 1.02 µs |
//! | `bridge` | 6.89 µs |
//! | `bridge_genai` | 5.31 µs |
//!
//! `bridge` formats its JSON inputs and outputs as fields (`%json!(..)`) and the bridge
//! parses them back, which `set_inputs` does not; the GenAI span is translated on the
//! assembler's thread, not the caller's (translating it as it closed cost ≈ 7 µs more).
//!
//! For scale: MLflow's Python SDK costs ≈ 200 µs per span on the same kind of machine
//! (`py-overhead` in the shared reference). The background threads' share grows with the
//! allocator's cross-thread cost: with glibc malloc, about 4–5 µs per single-span trace.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mlflow_tracing::bridge::MlflowLayer;
use mlflow_tracing::{Protocol, Trace, TraceExporter, Tracing, TracingBuilder, start_span, trace};
use mlflow_tracing_test_support::{Receiver, Tls};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};
use serde_json::json;
use tracing_subscriber::prelude::*;

/// Spans recorded between two flushes.
const CHUNK: u64 = 20_000;

#[derive(Debug)]
struct NoopOtelExporter;

impl SpanExporter for NoopOtelExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

struct NoopTraces;

impl TraceExporter for NoopTraces {
    fn name(&self) -> String {
        "no-op".to_owned()
    }
    fn export(&mut self, traces: &[&Trace]) -> Result<(), String> {
        black_box(traces);
        Ok(())
    }
}

fn mlflow_builder(env: &'static [(&'static str, &'static str)]) -> TracingBuilder {
    Tracing::builder()
        .with_env(|k| {
            env.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .destinations_from_config(false)
        .with_exporter(NoopTraces)
        .max_queue_bytes(8 << 30)
}

fn mlflow_pipeline(env: &'static [(&'static str, &'static str)]) -> Tracing {
    mlflow_builder(env).build().expect("pipeline")
}

/// Times `record` over `iters` spans, flushing (untimed) every `CHUNK`.
fn timed(iters: u64, flush: impl Fn(), record: impl FnMut(u64)) -> Duration {
    timed_by(wall_time, iters, flush, record)
}

/// Like [`timed`], with `clock` telling the time.
fn timed_by(
    clock: fn() -> Duration,
    iters: u64,
    flush: impl Fn(),
    mut record: impl FnMut(u64),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = CHUNK.min(iters - done);
        let start = clock();
        for i in 0..n {
            record(done + i);
        }
        total += clock().saturating_sub(start);
        flush();
        done += n;
    }
    total
}

/// Wall-clock time since the first call.
fn wall_time() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// The calling thread's CPU time: its own work only, whatever the background threads and
/// the rest of the machine do meanwhile.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given, which we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Times [`one_span`] recorded in `tracing`, flushing (untimed) between chunks.
fn bench_one_span(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    tracing: &Tracing,
) {
    bench_one_span_by(group, name, tracing, wall_time);
}

/// Like [`bench_one_span`], with `clock` telling the time.
fn bench_one_span_by(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    tracing: &Tracing,
    clock: fn() -> Duration,
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            tracing.in_scope(|| timed_by(clock, iters, || drop(tracing.flush()), one_span))
        })
    });
}

/// One MLflow span with a small JSON input and output.
fn one_span(i: u64) {
    let span = start_span("span").start();
    span.set_inputs(json!({"x": i, "level": 0}));
    span.set_outputs(json!({"y": i + 1, "level": 0}));
}

/// [`one_span`] made with `tracing`: the inputs and outputs as fields.
fn one_tracing_span(i: u64) {
    let span = tracing::info_span!(
        "span",
        inputs = %json!({"x": i, "level": 0}),
        outputs = tracing::field::Empty,
    );
    let _entered = span.enter();
    span.record(
        "outputs",
        tracing::field::display(json!({"y": i + 1, "level": 0})),
    );
}

/// A completion span as rig-core 0.44 records it (a few of its fields).
fn one_genai_span(i: u64) {
    let span = tracing::info_span!(
        target: "rig::completions",
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        gen_ai.input.messages = tracing::field::Empty,
        gen_ai.output.messages = tracing::field::Empty,
    );
    let _entered = span.enter();
    span.record(
        "gen_ai.input.messages",
        r#"[{"role":"user","parts":[{"type":"text","content":"hi"}]}]"#,
    );
    span.record("gen_ai.usage.input_tokens", i % 100);
    span.record("gen_ai.usage.output_tokens", 7_u64);
    span.record(
        "gen_ai.output.messages",
        r#"[{"role":"assistant","parts":[{"type":"text","content":"hello"}]}]"#,
    );
}

#[trace(span_type = "TOOL")]
fn traced_tool(x: u64, level: u32) -> u64 {
    x + u64::from(level)
}

fn spans(c: &mut Criterion) {
    let mut group = c.benchmark_group("span");
    group.measurement_time(Duration::from_secs(8));

    // The floor: building the same JSON values without any tracing.
    group.bench_function("no_tracing", |b| {
        b.iter(|| {
            let i = black_box(7_u64);
            black_box(json!({"x": i, "level": 0}));
            black_box(json!({"y": i + 1, "level": 0}));
        })
    });

    let provider = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(NoopOtelExporter)
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_max_queue_size(CHUNK as usize + 1)
                        .with_max_export_batch_size(512)
                        .build(),
                )
                .build(),
        )
        .build();
    let tracer = provider.tracer("bench");
    group.bench_function("otel_sdk", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || drop(provider.force_flush()),
                |i| {
                    let mut span = tracer.start("span");
                    span.set_attribute(KeyValue::new(
                        "inputs",
                        json!({"x": i, "level": 0}).to_string(),
                    ));
                    span.set_attribute(KeyValue::new(
                        "outputs",
                        json!({"y": i + 1, "level": 0}).to_string(),
                    ));
                    span.end();
                },
            )
        })
    });

    let tracing = mlflow_pipeline(&[]);
    bench_one_span(&mut group, "mlflow", &tracing);

    // The same, with span metrics: each flush exports the histogram (one series).
    let receiver = Receiver::http(Tls::None, None);
    let with_metrics = mlflow_builder(&[])
        .metrics(true)
        .metrics_endpoint(receiver.metrics_endpoint())
        .metrics_protocol(Protocol::HttpProtobuf)
        .build()
        .expect("pipeline with metrics");
    bench_one_span(&mut group, "mlflow_metrics", &with_metrics);
    // The same pair in the recording thread's CPU time, which the background threads (and
    // other processes) on a small machine do not blur.
    bench_one_span_by(&mut group, "mlflow_cpu", &tracing, thread_cpu_time);
    bench_one_span_by(
        &mut group,
        "mlflow_metrics_cpu",
        &with_metrics,
        thread_cpu_time,
    );

    group.bench_function("mlflow_trace_macro", |b| {
        b.iter_custom(|iters| {
            tracing.in_scope(|| {
                timed(
                    iters,
                    || drop(tracing.flush()),
                    |i| {
                        black_box(traced_tool(i, 0));
                    },
                )
            })
        })
    });

    group.bench_function("mlflow_nested3_per_span", |b| {
        b.iter_custom(|iters| {
            let traces = iters.div_ceil(3);
            let elapsed = tracing.in_scope(|| {
                timed(
                    traces,
                    || drop(tracing.flush()),
                    |i| {
                        let root = start_span("root").start();
                        root.set_inputs(json!({"x": i, "level": 0}));
                        {
                            let child = start_span("child").start();
                            child.set_inputs(json!({"x": i, "level": 1}));
                            let grandchild = start_span("grandchild").start();
                            grandchild.set_inputs(json!({"x": i, "level": 2}));
                            grandchild.set_outputs(json!({"y": i, "level": 2}));
                            child.set_outputs(json!({"y": i, "level": 1}));
                        }
                        root.set_outputs(json!({"y": i, "level": 0}));
                    },
                )
            });
            elapsed.mul_f64(iters as f64 / (traces * 3) as f64)
        })
    });

    // MLflow's controls, in the recording thread's CPU time: a trace timeout configured
    // (each span registers with its trace), a span hook (run on the assembler thread, so
    // it should cost the caller nothing), a `TraceScope` entered (read once per trace).
    let with_timeout = mlflow_pipeline(&[("MLFLOW_TRACE_TIMEOUT_SECONDS", "3600")]);
    bench_one_span_by(
        &mut group,
        "mlflow_timeout_cpu",
        &with_timeout,
        thread_cpu_time,
    );
    let with_hook = mlflow_builder(&[])
        .span_hook(|span: &mut mlflow_tracing::hooks::HookSpan<'_>| {
            if span.attribute("api_key").is_some() {
                span.set_attribute("api_key", "[REDACTED]");
            }
        })
        .build()
        .expect("pipeline with a hook");
    bench_one_span_by(&mut group, "mlflow_hook_cpu", &with_hook, thread_cpu_time);
    group.bench_function("mlflow_scope_cpu", |b| {
        b.iter_custom(|iters| {
            tracing.in_scope(|| {
                let _scope = mlflow_tracing::TraceScope::new()
                    .session_id("s")
                    .user("u")
                    .enter();
                timed_by(thread_cpu_time, iters, || drop(tracing.flush()), one_span)
            })
        })
    });

    // The same span made with `tracing`: alone (a `Registry` and no layer), and recorded
    // by the bridge; and a GenAI span as rig records it, translated by the bridge as it ends.
    let bridged = tracing::Dispatch::new(
        tracing_subscriber::registry().with(
            MlflowLayer::builder()
                .tracing(&tracing)
                .all_targets()
                .build()
                .expect("layer"),
        ),
    );
    let registry_only = tracing::Dispatch::new(tracing_subscriber::registry());
    for (name, dispatch, record) in [
        (
            "tracing_registry_only",
            &registry_only,
            one_tracing_span as fn(u64),
        ),
        ("bridge", &bridged, one_tracing_span),
        ("bridge_genai", &bridged, one_genai_span),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                tracing::dispatcher::with_default(dispatch, || {
                    tracing.in_scope(|| timed(iters, || drop(tracing.flush()), record))
                })
            })
        });
    }

    bench_one_span(&mut group, "mlflow_disabled", &Tracing::disabled());
    let sampled_out = mlflow_pipeline(&[("MLFLOW_TRACE_SAMPLING_RATIO", "0")]);
    bench_one_span(&mut group, "mlflow_sampled_out", &sampled_out);
    group.finish();

    for tracing in [&tracing, &with_metrics, &with_timeout, &with_hook] {
        let stats = tracing.stats();
        assert_eq!(
            stats.spans_dropped, 0,
            "the benchmark must not measure the drop path: {stats:?}"
        );
    }
    let metrics = &with_metrics.stats().destinations[1];
    assert!(
        metrics.exported > 0 && metrics.failed == 0,
        "span metrics must be recorded: {metrics:?}"
    );
    let _ = provider.shutdown();
}

criterion_group!(benches, spans);
criterion_main!(benches);
