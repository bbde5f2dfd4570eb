//! A finished span: [`Span`] and its [`SpanEvent`]s.

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::Value as OtelValue;
use opentelemetry::trace::{SpanId, TraceId};
use serde_json::Value;

use super::{decode_attribute, find, otel_to_json};
use crate::keys;
use crate::types::{SpanStatus, SpanType};

/// One event of a span, such as the `exception` event of a failed span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    pub(crate) name: Cow<'static, str>,
    pub(crate) time_ns: u64,
    pub(crate) attributes: Vec<KeyValue>,
}

impl SpanEvent {
    /// The event name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the event happened, in nanoseconds since the Unix epoch.
    pub fn time_ns(&self) -> u64 {
        self.time_ns
    }

    /// The event attributes (plain values, not JSON-encoded).
    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    /// One attribute, as JSON.
    pub fn attribute(&self, key: &str) -> Option<Value> {
        find(&self.attributes, key).map(otel_to_json)
    }
}

/// A finished span.
///
/// Its attributes are OpenTelemetry key-values as recorded: MLflow's own attributes hold
/// JSON text (`mlflow.spanType` is `"\"LLM\""`); [`Span::attribute`] decodes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub(crate) trace_id: Arc<str>,
    pub(crate) otel_trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_id: Option<SpanId>,
    /// Whether the parent is a span of another process (a trace continued from W3C
    /// trace context): this span is then the root of this process's part of the trace.
    pub(crate) parent_is_remote: bool,
    pub(crate) name: Cow<'static, str>,
    pub(crate) start_time_ns: u64,
    pub(crate) end_time_ns: u64,
    pub(crate) status: SpanStatus,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) events: Vec<SpanEvent>,
}

impl Span {
    /// The MLflow trace id, `tr-<32 hex>`.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The OpenTelemetry trace id.
    pub fn otel_trace_id(&self) -> TraceId {
        self.otel_trace_id
    }

    /// The span id (displays as 16 lowercase hex digits).
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The parent's span id; `None` for the root span.
    pub fn parent_id(&self) -> Option<SpanId> {
        self.parent_id
    }

    /// Whether the parent is a span of another process: the span continues a trace from
    /// incoming W3C trace context (see [`propagation`](crate::propagation)).
    pub fn parent_is_remote(&self) -> bool {
        self.parent_is_remote
    }

    /// Whether this span is the root of the trace as this process recorded it: it has no
    /// parent, or its parent is remote.
    pub fn is_local_root(&self) -> bool {
        self.parent_id.is_none() || self.parent_is_remote
    }

    /// The span name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Start time in nanoseconds since the Unix epoch.
    pub fn start_time_ns(&self) -> u64 {
        self.start_time_ns
    }

    /// End time in nanoseconds since the Unix epoch.
    pub fn end_time_ns(&self) -> u64 {
        self.end_time_ns
    }

    /// How long the span ran, in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        self.end_time_ns.saturating_sub(self.start_time_ns)
    }

    /// The span's status.
    pub fn status(&self) -> &SpanStatus {
        &self.status
    }

    /// The span's events.
    pub fn events(&self) -> &[SpanEvent] {
        &self.events
    }

    /// The attributes as recorded, each key once, in the order first set.
    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    /// An attribute as recorded (for MLflow's attributes: the JSON text).
    pub fn raw_attribute(&self, key: &str) -> Option<&OtelValue> {
        find(&self.attributes, key)
    }

    /// An attribute, decoded: JSON text is parsed, other values converted as they are.
    pub fn attribute(&self, key: &str) -> Option<Value> {
        self.raw_attribute(key).map(decode_attribute)
    }

    /// The span type (`mlflow.spanType`), `UNKNOWN` when absent.
    pub fn span_type(&self) -> SpanType {
        match self.attribute(keys::span::SPAN_TYPE) {
            Some(Value::String(s)) => SpanType::custom(s),
            _ => SpanType::Unknown,
        }
    }

    /// The span's inputs (`mlflow.spanInputs`), decoded.
    pub fn inputs(&self) -> Option<Value> {
        self.attribute(keys::span::INPUTS)
    }

    /// The span's outputs (`mlflow.spanOutputs`), decoded.
    pub fn outputs(&self) -> Option<Value> {
        self.attribute(keys::span::OUTPUTS)
    }

    /// MLflow's JSON for this span (`Span.to_dict()`), as stored in the `spans.content`
    /// column and in `traces.json`.
    pub fn to_mlflow_json(&self) -> String {
        crate::json::dumps(&super::span_json::MlflowSpanDict(self))
    }

    #[cfg(any(feature = "local-store", feature = "mlflow-server"))]
    /// Length of `json.dumps(span.to_dict())` (ASCII-escaped), MLflow's span size.
    pub(crate) fn mlflow_json_ascii_len(&self) -> usize {
        crate::json::ascii_len(&super::span_json::MlflowSpanDict(self))
    }

    /// Sets an attribute, keeping its position if it is already there.
    pub(crate) fn set_attribute(&mut self, attribute: KeyValue) {
        match self
            .attributes
            .iter_mut()
            .find(|kv| kv.key == attribute.key)
        {
            Some(existing) => existing.value = attribute.value,
            None => self.attributes.push(attribute),
        }
    }
}
