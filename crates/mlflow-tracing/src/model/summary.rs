//! The trace-level values MLflow derives from a finished trace: metadata truncation,
//! request/response previews and token-usage aggregation.
//!
//! Each function follows the Python SDK 3.17 (`processor/base_mlflow.py`,
//! `utils/truncation.py`, `utils/__init__.py`) so that the values written are the same.

use std::collections::HashMap;

use indexmap::IndexMap;
use opentelemetry::trace::SpanId;
use serde_json::{Map, Value};

use crate::keys::{self, MAX_CHARS_IN_METADATA};
use crate::model::Span;

/// Truncates to at most `max` characters (Unicode scalar values, as Python counts).
pub(crate) fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((idx, _)) => &s[..idx],
        None => s,
    }
}

/// `mlflow.traceInputs`/`mlflow.traceOutputs`: the raw attribute, cut to 250 characters
/// with a `...` suffix; `""` when absent.
pub(crate) fn truncate_metadata_value(raw: Option<&str>) -> String {
    let Some(value) = raw.filter(|v| !v.is_empty()) else {
        return String::new();
    };
    if value.chars().count() > MAX_CHARS_IN_METADATA {
        let mut cut = truncate_chars(value, MAX_CHARS_IN_METADATA - 3).to_owned();
        cut.push_str("...");
        cut
    } else {
        value.to_owned()
    }
}

/// A request or response preview from the root span's raw inputs/outputs: the text of the
/// last chat message of `role` when the value is a chat payload, else the raw JSON; cut to
/// `max` characters with a `...` suffix.
pub(crate) fn preview(raw: &str, role: &str, max: usize) -> String {
    let parsed: Option<Value> = serde_json::from_str(raw).ok();
    let content = parsed
        .as_ref()
        .and_then(extract_messages)
        .filter(|messages| !messages.is_empty())
        .map(|messages| message_text(last_message(&messages, role)))
        .filter(|text| !text.is_empty());
    let content = content.unwrap_or(raw);
    if content.chars().count() <= max {
        content.to_owned()
    } else {
        let mut cut = truncate_chars(content, max - 3).to_owned();
        cut.push_str("...");
        cut
    }
}

fn is_message(item: &Value) -> bool {
    item.as_object()
        .is_some_and(|o| o.contains_key("role") && o.contains_key("content"))
}

fn truthy_list(v: Option<&Value>) -> Option<&Vec<Value>> {
    v.and_then(Value::as_array).filter(|a| !a.is_empty())
}

/// Chat messages in OpenAI chat-completion requests (`messages`) and responses
/// (`choices[0].message`), Responses API requests (`input`) and responses (`output`), and
/// ResponsesAgent payloads (`request`).
fn extract_messages(obj: &Value) -> Option<Vec<&Value>> {
    let map = obj.as_object()?;
    if let Some(messages) = truthy_list(map.get("messages")) {
        return Some(messages.iter().filter(|m| is_message(m)).collect());
    }
    if let Some(choices) = truthy_list(map.get("choices"))
        && let Some(msg) = choices[0].as_object().and_then(|c| c.get("message"))
        && is_truthy(msg)
        && is_message(msg)
    {
        return Some(vec![msg]);
    }
    if let Some(input) = truthy_list(map.get("input")) {
        return Some(input.iter().filter(|m| is_message(m)).collect());
    }
    if let Some(output) = truthy_list(map.get("output")) {
        return Some(output.iter().filter(|m| is_message(m)).collect());
    }
    if let Some(request) = map.get("request") {
        return extract_messages(request);
    }
    None
}

fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn last_message<'a>(messages: &[&'a Value], role: &str) -> &'a Value {
    messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some(role))
        .or(messages.last())
        .copied()
        .unwrap_or(&Value::Null)
}

fn message_text(message: &Value) -> &str {
    match message.get("content") {
        Some(Value::String(s)) => s,
        Some(Value::Array(parts)) => {
            for part in parts {
                match part {
                    Value::String(s) => return s,
                    Value::Object(o)
                        if matches!(
                            o.get("type").and_then(Value::as_str),
                            Some("text" | "output_text")
                        ) =>
                    {
                        return o.get("text").and_then(Value::as_str).unwrap_or("");
                    }
                    _ => {}
                }
            }
            ""
        }
        _ => "",
    }
}

const TOKEN_KEYS: [&str; 3] = ["input_tokens", "output_tokens", "total_tokens"];
const CACHE_TOKEN_KEYS: [&str; 3] = [
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_input_tokens_above_1hr",
];
const COST_KEYS: [&str; 3] = ["input_cost", "output_cost", "total_cost"];

/// Sums `mlflow.chat.tokenUsage` over the trace, skipping a span whose ancestor already
/// reported usage (integrations that put cumulative usage on a parent would otherwise be
/// counted twice). `None` when no span reported usage.
pub(crate) fn aggregate_token_usage(spans: &[Span]) -> Option<Map<String, Value>> {
    let values: Vec<Option<Value>> = spans
        .iter()
        .map(|s| s.attribute(keys::span::CHAT_USAGE))
        .collect();
    aggregate_usage(&nodes(spans, &values))
}

/// Sums `mlflow.llm.cost` over the trace the same way (`aggregate_cost_from_spans`).
pub(crate) fn aggregate_cost(spans: &[Span]) -> Option<Map<String, Value>> {
    let values: Vec<Option<Value>> = spans
        .iter()
        .map(|s| s.attribute(keys::span::LLM_COST))
        .collect();
    aggregate_costs(&nodes(spans, &values))
}

/// One span for the aggregation: its id, its parent's, and its value when it is an
/// object (MLflow's `SpanAggregationNode`).
pub(crate) type Node<'a> = (SpanId, Option<SpanId>, Option<&'a Map<String, Value>>);

/// The nodes of `spans`, with `values[i]` the value of `spans[i]`.
pub(crate) fn nodes<'a>(spans: &[Span], values: &'a [Option<Value>]) -> Vec<Node<'a>> {
    spans
        .iter()
        .zip(values)
        .map(|(s, v)| {
            (
                s.span_id(),
                s.parent_id(),
                v.as_ref().and_then(Value::as_object),
            )
        })
        .collect()
}

/// `aggregate_usage_from_span_nodes`: token counts, cache counts when reported.
pub(crate) fn aggregate_usage(nodes: &[Node<'_>]) -> Option<Map<String, Value>> {
    aggregate(nodes, &TOKEN_KEYS, &CACHE_TOKEN_KEYS, Sum::Int(0))
}

/// `aggregate_cost_from_span_nodes`: input, output and total cost.
pub(crate) fn aggregate_costs(nodes: &[Node<'_>]) -> Option<Map<String, Value>> {
    aggregate(nodes, &COST_KEYS, &[], Sum::Float(0.0))
}

/// A running sum, integer until a float is added (as Python's numbers are).
#[derive(Debug, Clone, Copy)]
enum Sum {
    Int(i64),
    Float(f64),
}

impl Sum {
    fn add(self, v: &Value) -> Sum {
        match (self, v.as_i64(), v.as_f64()) {
            (Sum::Int(a), Some(b), _) => a
                .checked_add(b)
                .map_or(Sum::Float(a as f64 + b as f64), Sum::Int),
            (Sum::Int(a), None, Some(b)) => Sum::Float(a as f64 + b),
            (Sum::Float(a), _, Some(b)) => Sum::Float(a + b),
            (sum, _, None) => sum,
        }
    }

    fn to_json(self) -> Value {
        match self {
            Sum::Int(n) => Value::from(n),
            Sum::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        }
    }
}

/// MLflow's `_aggregate_from_nodes`: sums `keys` (always in the result) and
/// `optional_keys` (when reported) over the nodes, skipping a node whose ancestor
/// reported a value; the walk is depth first, in MLflow's order, so that float sums are
/// the same. `None` when no node has a value.
fn aggregate(
    nodes: &[Node<'_>],
    keys: &[&str],
    optional_keys: &[&str],
    zero: Sum,
) -> Option<Map<String, Value>> {
    let ids: std::collections::HashSet<SpanId> = nodes.iter().map(|n| n.0).collect();
    let mut children: HashMap<SpanId, Vec<&Node<'_>>> = HashMap::new();
    let mut stack: Vec<(&Node<'_>, bool)> = Vec::new();
    for node in nodes {
        match node.1.filter(|p| ids.contains(p)) {
            Some(parent) => children.entry(parent).or_default().push(node),
            None => stack.push((node, false)),
        }
    }
    let mut totals: IndexMap<&str, Sum> = keys.iter().map(|k| (*k, zero)).collect();
    let mut has_data = false;
    while let Some((node, ancestor_has_data)) = stack.pop() {
        if let (Some(data), false) = (node.2, ancestor_has_data) {
            for key in keys.iter().chain(optional_keys) {
                if let Some(v) = data.get(*key) {
                    let sum = totals.entry(key).or_insert(zero);
                    *sum = sum.add(v);
                }
            }
            has_data = true;
        }
        let next = ancestor_has_data || node.2.is_some();
        if let Some(kids) = children.get(&node.0) {
            stack.extend(kids.iter().map(|kid| (*kid, next)));
        }
    }
    has_data.then(|| {
        totals
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_json()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_truncation() {
        assert_eq!(truncate_metadata_value(None), "");
        assert_eq!(truncate_metadata_value(Some("")), "");
        let long = "é".repeat(300);
        let cut = truncate_metadata_value(Some(&long));
        assert_eq!(cut.chars().count(), 250);
        assert!(cut.ends_with("é..."));
        let exact = "a".repeat(250);
        assert_eq!(truncate_metadata_value(Some(&exact)), exact);
    }

    #[test]
    fn previews_follow_mlflow() {
        assert_eq!(preview("{\"a\": 1}", "user", 1000), "{\"a\": 1}");
        // A string output previews with its JSON quotes.
        assert_eq!(preview("\"hello\"", "assistant", 1000), "\"hello\"");
        let chat = json!({"model": "m", "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "What is MLflow?"}]})
        .to_string();
        assert_eq!(preview(&chat, "user", 1000), "What is MLflow?");
        let completion = json!({"choices": [{"index": 0,
            "message": {"role": "assistant", "content": "An MLOps platform."}}]})
        .to_string();
        assert_eq!(
            preview(&completion, "assistant", 1000),
            "An MLOps platform."
        );
        let parts = json!({"input": [{"role": "user",
            "content": [{"type": "image"}, {"type": "input_text", "text": "no"}, {"type": "text", "text": "yes"}]}]})
        .to_string();
        assert_eq!(preview(&parts, "user", 1000), "yes");
        // No message of the role: the last message.
        let other = json!({"messages": [{"role": "system", "content": "only"}]}).to_string();
        assert_eq!(preview(&other, "user", 1000), "only");
        // Nested ResponsesAgent request.
        let nested =
            json!({"request": {"input": [{"role": "user", "content": "deep"}]}}).to_string();
        assert_eq!(preview(&nested, "user", 1000), "deep");
        // A messages list without messages falls back to the raw JSON.
        let empty = json!({"messages": [1, 2]}).to_string();
        assert_eq!(preview(&empty, "user", 1000), empty);
        let long = json!({"x": "y".repeat(2000)}).to_string();
        let p = preview(&long, "user", 1000);
        assert_eq!(p.chars().count(), 1000);
        assert!(p.ends_with("..."));
    }

    fn span(id: u64, parent: Option<u64>, usage: Option<Value>) -> Span {
        let mut span = crate::model::sample_span();
        span.span_id = SpanId::from(id);
        span.parent_id = parent.map(SpanId::from);
        if let Some(usage) = usage {
            span.set_attribute(opentelemetry::KeyValue::new(
                keys::span::CHAT_USAGE,
                crate::json::dumps(&usage),
            ));
        }
        span
    }

    #[test]
    fn token_usage_skips_descendants_of_spans_with_usage() {
        let u = |i, o| json!({"input_tokens": i, "output_tokens": o, "total_tokens": i + o});
        let spans = vec![
            span(1, None, None),
            span(2, Some(1), Some(u(10, 5))),
            span(3, Some(2), Some(u(100, 100))),
            span(4, Some(1), Some(u(2, 3))),
        ];
        let total = aggregate_token_usage(&spans).unwrap();
        assert_eq!(
            Value::Object(total),
            json!({"input_tokens": 12, "output_tokens": 8, "total_tokens": 20})
        );
        assert_eq!(
            crate::json::dumps(&aggregate_token_usage(&spans)),
            "{\"input_tokens\": 12, \"output_tokens\": 8, \"total_tokens\": 20}"
        );
        assert!(aggregate_token_usage(&spans[..1]).is_none());
        let cached = vec![span(
            1,
            None,
            Some(json!({"input_tokens": 1, "cache_read_input_tokens": 4})),
        )];
        assert_eq!(
            Value::Object(aggregate_token_usage(&cached).unwrap()),
            json!({"input_tokens": 1, "output_tokens": 0, "total_tokens": 0, "cache_read_input_tokens": 4})
        );
    }
}
