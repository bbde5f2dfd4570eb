//! Finished traces as MLflow sees them: [`Trace`], [`TraceInfo`] and [`Span`], the
//! [`TraceUpdate`]s applied to a trace while it runs, and the trace-level values MLflow
//! derives from the spans (previews, token usage, size statistics).
//!
//! These are what destinations receive and what reading the local store returns. A span's
//! attributes are kept as stored: MLflow's own attributes are JSON-encoded strings
//! (`mlflow.spanType` is `"\"LLM\""`); [`Span::attribute`] decodes them.

pub(crate) mod assessment;
#[cfg(any(feature = "local-store", feature = "mlflow-server"))]
pub(crate) mod size_stats;
mod span;
mod span_json;
#[cfg(any(feature = "local-store", feature = "mlflow-server"))]
mod span_parse;
pub(crate) mod summary;
mod trace;
mod update;

use opentelemetry::{Array, KeyValue, Value as OtelValue};
use serde_json::Value;

pub use assessment::{
    Assessment, AssessmentError, AssessmentKind, AssessmentSource, Expectation, Feedback,
};
pub use span::{Span, SpanEvent};
pub use trace::{Trace, TraceInfo, TraceSummary};
pub use update::{TraceUpdate, UpdateTraceError};

#[cfg(test)]
pub(crate) use span_json::tests::sample_span;

fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a OtelValue> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// An OpenTelemetry value as JSON, as it is (strings are not parsed).
pub(crate) fn otel_to_json(value: &OtelValue) -> Value {
    fn float(f: f64) -> Value {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
    match value {
        OtelValue::Bool(b) => Value::Bool(*b),
        OtelValue::I64(i) => Value::from(*i),
        OtelValue::F64(f) => float(*f),
        OtelValue::String(s) => Value::String(s.as_str().to_owned()),
        OtelValue::Array(Array::Bool(items)) => items.iter().copied().map(Value::Bool).collect(),
        OtelValue::Array(Array::I64(items)) => items.iter().copied().map(Value::from).collect(),
        OtelValue::Array(Array::F64(items)) => items.iter().copied().map(float).collect(),
        OtelValue::Array(Array::String(items)) => items
            .iter()
            .map(|s| Value::String(s.as_str().to_owned()))
            .collect(),
        other => Value::String(other.to_string()),
    }
}

/// Decodes an attribute value stored the MLflow way (JSON text); text that is not valid
/// JSON is returned as a string, as MLflow does.
pub(crate) fn decode_attribute(value: &OtelValue) -> Value {
    match value {
        OtelValue::String(s) => serde_json::from_str(s.as_str())
            .unwrap_or_else(|_| Value::String(s.as_str().to_owned())),
        other => otel_to_json(other),
    }
}
