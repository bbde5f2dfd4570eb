//! Encoding a finished trace, beside raw OpenTelemetry's encoding of the same spans, in
//! the same run: `cargo bench -p mlflow-tracing --features __bench --bench encode`.
//!
//! The trace is the workload of `mlflow-trace load`: root → child → grandchild, each span
//! with `{"x": i, "level": l}` inputs and `{"y": i + 1, "level": l}` outputs.
//!
//! - `store_rows`: what the local store computes before its SQL (each span's MLflow JSON,
//!   the size statistics, tags and metadata rows);
//! - `otlp_mlflow`: the OTLP/protobuf request the OTLP destination sends for the 3 spans;
//! - `otlp_raw_otel`: `opentelemetry-proto`'s transform of the same 3 spans as
//!   `SpanData` (with MLflow's attributes) and its protobuf encoding — what
//!   `opentelemetry-otlp` does for each batch.
//!
//! Last run (2-core VM, Rust 1.95, glibc malloc; criterion's median, per 3-span trace):
//! see `docs/performance.md`.

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mlflow_tracing::__bench::{OtlpBatch, store_rows};
use mlflow_tracing::testing::InMemoryTraces;
use mlflow_tracing::{Trace, Tracing, start_span};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use prost::Message as _;
use serde_json::json;

const NAMES: [&str; 3] = ["root", "child", "grandchild"];

/// One trace of the workload, recorded by this crate.
fn mlflow_trace() -> Trace {
    let store = InMemoryTraces::new();
    let tracing = Tracing::builder()
        .with_env(|_| None)
        .destinations_from_config(false)
        .with_in_memory(&store)
        .build()
        .expect("pipeline");
    tracing.in_scope(|| nest(7, 0));
    tracing.flush().expect("flush");
    store.traces().pop().expect("one trace")
}

fn nest(i: u64, level: usize) {
    if level == NAMES.len() {
        return;
    }
    let span = start_span(NAMES[level]).start();
    span.set_inputs(json!({"x": i, "level": level}));
    nest(i, level + 1);
    span.set_outputs(json!({"y": i + 1, "level": level}));
}

/// Collects what the SDK exports.
#[derive(Debug, Clone, Default)]
struct Collect(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collect {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if let Ok(mut spans) = self.0.lock() {
            spans.extend(batch);
        }
        Ok(())
    }
}

/// The same trace recorded with the raw OpenTelemetry SDK, with MLflow's attributes.
fn otel_spans() -> (Vec<SpanData>, ResourceAttributesWithSchema) {
    let collect = Collect::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(collect.clone())
        .build();
    let tracer = provider.tracer("mlflow.tracing.provider");
    fn level(tracer: &opentelemetry_sdk::trace::SdkTracer, cx: &opentelemetry::Context, l: usize) {
        if l == NAMES.len() {
            return;
        }
        let mut span = tracer.start_with_context(NAMES[l], cx);
        let request_id = format!("\"tr-{}\"", span.span_context().trace_id());
        span.set_attributes([
            KeyValue::new("mlflow.traceRequestId", request_id),
            KeyValue::new("mlflow.spanType", "\"UNKNOWN\""),
            KeyValue::new("mlflow.spanInputs", json!({"x": 7, "level": l}).to_string()),
        ]);
        let cx = cx.with_span(span);
        level(tracer, &cx, l + 1);
        let span = cx.span();
        span.set_attribute(KeyValue::new(
            "mlflow.spanOutputs",
            json!({"y": 8, "level": l}).to_string(),
        ));
        span.set_attribute(KeyValue::new("mlflow.spanLogLevel", "10"));
        span.end();
    }
    level(&tracer, &opentelemetry::Context::new(), 0);
    let _ = provider.force_flush();
    // The resource the SDK gives a provider built without one.
    let resource =
        ResourceAttributesWithSchema::from(&opentelemetry_sdk::Resource::builder().build());
    let spans = collect.0.lock().map(|s| s.clone()).unwrap_or_default();
    (spans, resource)
}

fn encoding(c: &mut Criterion) {
    let trace = mlflow_trace();
    let batch = OtlpBatch::new(std::slice::from_ref(&trace)).expect("resource");
    let (spans, resource) = otel_spans();
    assert_eq!(spans.len(), 3);
    let mut group = c.benchmark_group("encode_3_span_trace");
    group.bench_function("store_rows", |b| b.iter(|| black_box(store_rows(&trace))));
    group.bench_function("otlp_mlflow", |b| b.iter(|| black_box(batch.encode())));
    group.bench_function("otlp_raw_otel", |b| {
        b.iter_batched(
            || spans.clone(),
            |spans| {
                let request = ExportTraceServiceRequest {
                    resource_spans: group_spans_by_resource_and_scope(spans, &resource),
                };
                black_box(request.encode_to_vec())
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, encoding);
criterion_main!(benches);
