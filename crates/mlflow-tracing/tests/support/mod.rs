//! Shared helpers: a pipeline that exports to memory, with an empty environment.

#![allow(dead_code)]

use mlflow_tracing::testing::InMemoryTraces;
use mlflow_tracing::{Span, Trace, Tracing, TracingBuilder};

/// A builder reading no environment variables, exporting only to `traces`.
pub(crate) fn builder(traces: &InMemoryTraces) -> TracingBuilder {
    Tracing::builder()
        .with_env(|_| None)
        .destinations_from_config(false)
        .with_in_memory(traces)
}

/// A pipeline exporting to memory.
pub(crate) fn pipeline() -> (Tracing, InMemoryTraces) {
    let traces = InMemoryTraces::new();
    let tracing = builder(&traces).build().expect("pipeline");
    (tracing, traces)
}

/// Runs `f` with a fresh in-memory pipeline as the thread's default, flushes, and
/// returns the exported traces.
pub(crate) fn record(f: impl FnOnce()) -> Vec<Trace> {
    let (tracing, traces) = pipeline();
    tracing.in_scope(f);
    tracing.flush().expect("flush");
    traces.traces()
}

/// The one trace `f` records.
pub(crate) fn record_one(f: impl FnOnce()) -> Trace {
    let mut traces = record(f);
    assert_eq!(traces.len(), 1, "expected exactly one trace");
    traces.remove(0)
}

/// An attribute exactly as stored (MLflow's JSON string).
pub(crate) fn raw(span: &Span, key: &str) -> String {
    match span.raw_attribute(key) {
        Some(opentelemetry::Value::String(s)) => s.as_str().to_owned(),
        other => panic!("attribute {key} of {} is {other:?}", span.name()),
    }
}

/// Attribute keys in order.
pub(crate) fn keys(span: &Span) -> Vec<&str> {
    span.attributes().iter().map(|kv| kv.key.as_str()).collect()
}
