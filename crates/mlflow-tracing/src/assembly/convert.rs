//! Ended OpenTelemetry spans as MLflow spans.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::SpanData;

use crate::json;
use crate::keys;
use crate::model::{Span, SpanEvent, otel_to_json};
use crate::pricing::Prices;
use crate::translate;
use crate::types::SpanStatus;

/// `span`, with the trace's tags when it is the root.
pub(super) fn with_tags(mut span: Span, is_root: bool, tags: &IndexMap<String, String>) -> Span {
    if is_root {
        add_trace_tags(&mut span, tags);
    }
    span
}

/// Puts the trace's user tags on its root span as `mlflow.traceTag.<key>` (plain strings),
/// so that they survive OTLP: MLflow's server restores them as trace tags. Tags starting
/// with `mlflow.` are MLflow's own and are not sent, as in MLflow.
fn add_trace_tags(root: &mut Span, tags: &IndexMap<String, String>) {
    for (key, value) in tags.iter().filter(|(k, _)| !k.starts_with("mlflow.")) {
        root.set_attribute(opentelemetry::KeyValue::new(
            format!("{}{key}", keys::span::TRACE_TAG_PREFIX),
            value.clone(),
        ));
    }
}

/// Adds the span's cost (`mlflow.llm.cost`) when it has token usage and a model MLflow
/// can price, as MLflow's store would (from the span's own attributes or those the GenAI
/// conventions and the other schemas MLflow reads give). Every destination gets it.
pub(super) fn price_span(span: &mut Span, prices: &Prices) {
    if let Some(cost) = translate::price(span, prices) {
        span.set_attribute(opentelemetry::KeyValue::new(keys::span::LLM_COST, cost));
    }
}

/// The stored (JSON-encoded) value of an attribute, as a string.
pub(super) fn raw_attribute(span: &Span, key: &str) -> Option<String> {
    span.raw_attribute(key).map(|v| match v {
        opentelemetry::Value::String(s) => s.as_str().to_owned(),
        other => json::dumps(&otel_to_json(other)),
    })
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Converts an OpenTelemetry span into MLflow's span model, moving its data. Attributes
/// set twice keep their first position and last value, like the Python dict behind
/// MLflow's spans.
pub(super) fn convert_span(data: SpanData, request_id: &Arc<str>) -> Span {
    let mut span = Span {
        trace_id: request_id.clone(),
        otel_trace_id: data.span_context.trace_id(),
        span_id: data.span_context.span_id(),
        parent_id: (data.parent_span_id != SpanId::INVALID).then_some(data.parent_span_id),
        parent_is_remote: data.parent_span_is_remote && data.parent_span_id != SpanId::INVALID,
        name: data.name,
        start_time_ns: unix_nanos(data.start_time),
        end_time_ns: unix_nanos(data.end_time),
        status: SpanStatus::from_otel(&data.status),
        attributes: Vec::with_capacity(data.attributes.len()),
        events: data
            .events
            .events
            .into_iter()
            .map(|e| SpanEvent {
                name: e.name,
                time_ns: unix_nanos(e.timestamp),
                attributes: e.attributes,
            })
            .collect(),
    };
    let mut translate = false;
    for kv in data.attributes {
        if kv.key.as_str() == keys::span::TRANSLATE {
            translate = true;
        } else {
            span.set_attribute(kv);
        }
    }
    if translate {
        // A span of the `tracing` bridge: what MLflow's store adds to a span that has
        // ended, where it adds it (after `mlflow.spanLogLevel`), for every destination.
        for kv in translate::mlflow_attributes(&span.attributes, &span.events) {
            span.set_attribute(kv);
        }
    }
    span
}
