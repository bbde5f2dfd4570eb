//! What MLflow's SQL store makes of a trace's spans before it writes them (`log_spans`,
//! then `start_trace` over it, as the Python SDK calls them): each span translated
//! ([`crate::translate`]), and trace-level values taken from the translated spans where the
//! trace's info has none — token usage and cost (summed over the span tree, the info's own
//! values winning key by key), the session (`session.id`, `gen_ai.conversation.id`), the
//! user (`user.id`), and the request and response previews from the root's translated
//! inputs and outputs.

use serde_json::{Map, Value};

use crate::keys::{self, metadata, span as attr};
use crate::model::summary::{aggregate_costs, aggregate_usage, nodes, preview};
use crate::model::{Span, Trace, TraceInfo};
use crate::pricing::Prices;
use crate::translate;

/// A trace as MLflow's store stores it: its info with what the store derives, and its
/// spans translated, in the same order as the trace's.
#[derive(Debug)]
pub(super) struct Stored {
    pub(super) info: TraceInfo,
    pub(super) spans: Vec<Span>,
}

/// The trace as MLflow's store would store it.
pub(super) fn stored(trace: &Trace, prices: &Prices) -> Stored {
    let spans: Vec<Span> = trace
        .spans()
        .iter()
        .map(|s| translate::for_store(s, prices))
        .collect();
    let mut info = trace.info().clone();
    let decoded = |key| -> Vec<Option<Value>> { spans.iter().map(|s| s.attribute(key)).collect() };
    let usage = decoded(attr::CHAT_USAGE);
    if let Some(usage) = aggregate_usage(&nodes(&spans, &usage)) {
        merge_under(&mut info, metadata::TOKEN_USAGE, usage);
    }
    let cost = decoded(attr::LLM_COST);
    if let Some(cost) = aggregate_costs(&nodes(&spans, &cost)) {
        merge_under(&mut info, metadata::COST, cost);
    }
    // The first span to end that names a session (a user): MLflow's store takes it from
    // the first batch of spans that has one, and spans are logged as they end.
    let mut by_end: Vec<&Span> = spans.iter().collect();
    by_end.sort_by_key(|s| s.end_time_ns);
    if !info.metadata.contains_key(metadata::TRACE_SESSION)
        && let Some(session) = by_end.iter().find_map(|s| {
            text_attribute(s, "session.id").or_else(|| text_attribute(s, "gen_ai.conversation.id"))
        })
        && session.chars().count() <= keys::MAX_CHARS_IN_METADATA
    {
        info.metadata
            .insert(metadata::TRACE_SESSION.to_owned(), session);
    }
    if !info.metadata.contains_key(metadata::TRACE_USER)
        && let Some(user) = by_end.iter().find_map(|s| text_attribute(s, "user.id"))
    {
        info.metadata.insert(metadata::TRACE_USER.to_owned(), user);
    }
    if let Some(root) = spans.iter().find(|s| s.parent_id().is_none()) {
        // Tags carried by the root as `mlflow.traceTag.<key>` (how they travel over OTLP),
        // under the trace's own.
        for kv in root.attributes() {
            if let Some(key) = kv.key.as_str().strip_prefix(attr::TRACE_TAG_PREFIX)
                && !key.is_empty()
                && key.chars().count() <= keys::MAX_CHARS_IN_TAG_KEY
                && !info.tags.contains_key(key)
                && let Some(value) = text_value(&kv.value)
                && value.chars().count() <= keys::MAX_CHARS_IN_TAG_VALUE
            {
                info.tags.insert(key.to_owned(), value);
            }
        }
        let raw = |key| match root.raw_attribute(key) {
            Some(opentelemetry::Value::String(s)) if !s.as_str().is_empty() => {
                Some(s.as_str().to_owned())
            }
            _ => None,
        };
        if info.request_preview.is_none() {
            info.request_preview =
                raw(attr::INPUTS).map(|v| preview(&v, "user", keys::MAX_CHARS_IN_PREVIEW));
        }
        if info.response_preview.is_none() {
            info.response_preview =
                raw(attr::OUTPUTS).map(|v| preview(&v, "assistant", keys::MAX_CHARS_IN_PREVIEW));
        }
    }
    Stored { info, spans }
}

/// Puts `derived` under the metadata `key`, the values the info already has there
/// winning key by key (what `start_trace` does over `log_spans`).
fn merge_under(info: &mut TraceInfo, key: &str, mut derived: Map<String, Value>) {
    let own = info
        .metadata
        .get(key)
        .and_then(|raw| serde_json::from_str::<Value>(raw).ok());
    if let Some(Value::Object(own)) = own {
        for (k, v) in own {
            derived.insert(k, v);
        }
    }
    info.metadata
        .insert(key.to_owned(), crate::json::dumps(&derived));
}

/// An attribute that counts (Python's truth test), as text: MLflow's
/// `_try_parse_json_string` (a JSON string decoded, anything else as written).
fn text_attribute(span: &Span, key: &str) -> Option<String> {
    text_value(span.raw_attribute(key)?)
}

fn text_value(value: &opentelemetry::Value) -> Option<String> {
    match value {
        opentelemetry::Value::String(s) => {
            let s = s.as_str();
            match serde_json::from_str::<Value>(s) {
                Ok(Value::String(inner)) if !inner.is_empty() => Some(inner),
                Ok(Value::String(_)) => None,
                _ => (!s.is_empty()).then(|| s.to_owned()),
            }
        }
        opentelemetry::Value::I64(n) if *n != 0 => Some(n.to_string()),
        _ => None,
    }
}
