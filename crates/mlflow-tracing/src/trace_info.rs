//! The trace-level values MLflow derives from a finished trace: metadata truncation,
//! request/response previews, token-usage aggregation and size statistics.
//!
//! Each function follows the Python SDK 3.17 (`processor/base_mlflow.py`,
//! `utils/truncation.py`, `utils/__init__.py`) so that the values written are the same.

use std::collections::HashMap;

use indexmap::IndexMap;
use opentelemetry::trace::SpanId;
#[cfg(feature = "local-store")]
use serde::Serialize;
use serde_json::{Map, Value};

use crate::keys::{self, MAX_CHARS_IN_METADATA};
use crate::model::Span;
#[cfg(feature = "local-store")]
use crate::model::TraceInfo;

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

/// Sums `mlflow.chat.tokenUsage` over the trace, skipping a span whose ancestor already
/// reported usage (integrations that put cumulative usage on a parent would otherwise be
/// counted twice). `None` when no span reported usage.
pub(crate) fn aggregate_token_usage(spans: &[Span]) -> Option<Map<String, Value>> {
    let ids: std::collections::HashSet<SpanId> = spans.iter().map(Span::span_id).collect();
    let mut children: HashMap<SpanId, Vec<&Span>> = HashMap::new();
    let mut stack: Vec<(&Span, bool)> = Vec::new();
    for span in spans {
        match span.parent_id().filter(|p| ids.contains(p)) {
            Some(parent) => children.entry(parent).or_default().push(span),
            None => stack.push((span, false)),
        }
    }
    let mut totals: IndexMap<&str, i64> = TOKEN_KEYS.iter().map(|k| (*k, 0)).collect();
    let mut has_data = false;
    while let Some((span, ancestor_has_data)) = stack.pop() {
        let usage = span
            .attribute(keys::span::CHAT_USAGE)
            .filter(Value::is_object);
        if let (Some(usage), false) = (&usage, ancestor_has_data) {
            for key in TOKEN_KEYS.iter().chain(CACHE_TOKEN_KEYS.iter()) {
                if let Some(n) = usage.get(*key).and_then(Value::as_i64) {
                    *totals.entry(key).or_insert(0) += n;
                }
            }
            has_data = true;
        }
        let next = ancestor_has_data || usage.is_some();
        if let Some(kids) = children.get(&span.span_id()) {
            stack.extend(kids.iter().map(|kid| (*kid, next)));
        }
    }
    has_data.then(|| {
        totals
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect()
    })
}

#[cfg(feature = "local-store")]
/// MLflow's `mlflow.trace.sizeStats` value and total size: each span's JSON size, the trace
/// info's JSON size and the separators between spans; percentiles by linear interpolation.
pub(crate) fn size_stats(info: &TraceInfo, spans: &[Span]) -> (Map<String, Value>, usize) {
    let mut sizes: Vec<usize> = spans.iter().map(Span::mlflow_json_ascii_len).collect();
    let info_size = crate::json::ascii_len(&EmptyTrace(info));
    let total = sizes.iter().sum::<usize>() + info_size + 2 * sizes.len().saturating_sub(1);
    sizes.sort_unstable();
    let mut stats = Map::new();
    stats.insert("total_size_bytes".into(), total.into());
    stats.insert("num_spans".into(), sizes.len().into());
    stats.insert("max".into(), sizes.last().copied().unwrap_or(0).into());
    for (key, p) in [("p25", 0.25), ("p50", 0.5), ("p75", 0.75)] {
        stats.insert(key.into(), (percentile(&sizes, p) as u64).into());
    }
    (stats, total)
}

#[cfg(feature = "local-store")]
fn percentile(sorted: &[usize], p: f64) -> f64 {
    let Some(last) = sorted.last() else {
        return 0.0;
    };
    let index = p * (sorted.len() - 1) as f64;
    let lower = index as usize;
    if lower + 1 >= sorted.len() {
        return *last as f64;
    }
    let weight = index - lower as f64;
    sorted[lower] as f64 * (1.0 - weight) + sorted[lower + 1] as f64 * weight
}

#[cfg(feature = "local-store")]
/// `Trace(info, TraceData([])).to_json()`: `TraceInfo.to_dict()` of MLflow 3.17 with no
/// spans. Only its length matters; the layout follows `MessageToDict` of the proto.
struct EmptyTrace<'a>(&'a TraceInfo);

#[cfg(feature = "local-store")]
impl Serialize for EmptyTrace<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let info = self.0;
        let mut dict = Map::new();
        dict.insert("trace_id".into(), info.trace_id.clone().into());
        if let Some(id) = &info.client_request_id {
            dict.insert("client_request_id".into(), id.clone().into());
        }
        if let Some(experiment_id) = &info.experiment_id {
            dict.insert(
                "trace_location".into(),
                serde_json::json!({
                    "type": "MLFLOW_EXPERIMENT",
                    "mlflow_experiment": {"experiment_id": experiment_id},
                }),
            );
        }
        dict.insert(
            "request_time".into(),
            timestamp_json(info.request_time_ms).into(),
        );
        dict.insert("state".into(), info.state.as_str().into());
        if !info.metadata.is_empty() {
            let metadata: Map<String, Value> = info
                .metadata
                .iter()
                .map(|(k, v)| {
                    (
                        truncate_chars(k, MAX_CHARS_IN_METADATA).to_owned(),
                        truncate_chars(v, MAX_CHARS_IN_METADATA).into(),
                    )
                })
                .collect();
            dict.insert("trace_metadata".into(), metadata.into());
        }
        if !info.tags.is_empty() {
            let tags: Map<String, Value> = info
                .tags
                .iter()
                .map(|(k, v)| {
                    (
                        truncate_chars(k, keys::MAX_CHARS_IN_TAG_KEY).to_owned(),
                        truncate_chars(v, keys::MAX_CHARS_IN_TAG_VALUE).into(),
                    )
                })
                .collect();
            dict.insert("tags".into(), tags.into());
        }
        if let Some(p) = &info.request_preview {
            dict.insert("request_preview".into(), p.clone().into());
        }
        if let Some(p) = &info.response_preview {
            dict.insert("response_preview".into(), p.clone().into());
        }
        if let Some(d) = info.execution_duration_ms {
            dict.insert("execution_duration_ms".into(), d.into());
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("info", &dict)?;
        map.serialize_entry("data", &serde_json::json!({"spans": []}))?;
        map.end()
    }
}

#[cfg(feature = "local-store")]
/// A protobuf `Timestamp` in JSON form for a millisecond time: RFC 3339 UTC, with `.mmm`
/// only when the milliseconds are not zero.
pub(crate) fn timestamp_json(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (date, time) = civil_from_unix(secs);
    if millis == 0 {
        format!("{date}T{time}Z")
    } else {
        format!("{date}T{time}.{millis:03}Z")
    }
}

#[cfg(feature = "local-store")]
/// `(YYYY-MM-DD, HH:MM:SS)` for Unix seconds (proleptic Gregorian, UTC).
pub(crate) fn civil_from_unix(secs: i64) -> (String, String) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TraceState;
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
        let mut span = crate::model::tests::sample_span();
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

    fn info(metadata: &[(&str, &str)], tags: &[(&str, &str)]) -> TraceInfo {
        TraceInfo {
            trace_id: "tr-2595d2b5032242e48f6a6b461726e3db".into(),
            experiment_id: Some("0".into()),
            request_time_ms: 1795462123628,
            execution_duration_ms: Some(42),
            state: TraceState::Ok,
            request_preview: Some("{\"a\": 1}".into()),
            response_preview: Some("{\"b\": 2}".into()),
            client_request_id: None,
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        }
    }

    #[cfg(feature = "local-store")]
    #[test]
    fn size_stats_match_the_python_sdk() {
        // Expected sizes computed with mlflow 3.17.2:
        // len(Trace(info=TraceInfo(...same fields...), data=TraceData([])).to_json()) == 716
        let info = info(
            &[
                ("mlflow.user", "root"),
                (
                    "mlflow.source.name",
                    "research/golden/i_default_destination.py",
                ),
                ("mlflow.source.type", "LOCAL"),
                ("mlflow.source.git.commit", ""),
                ("mlflow.source.git.repoURL", ""),
                ("mlflow.source.git.branch", ""),
                ("mlflow.trace_schema.version", "3"),
                ("mlflow.traceInputs", "{\"a\": 1}"),
                ("mlflow.traceOutputs", "{\"b\": 2}"),
            ],
            &[("mlflow.traceName", "foo")],
        );
        let spans = vec![crate::model::tests::sample_span()];
        let (stats, total) = size_stats(&info, &spans);
        assert_eq!(total, 716 + 492);
        assert_eq!(
            crate::json::dumps(&stats),
            "{\"total_size_bytes\": 1208, \"num_spans\": 1, \"max\": 492, \"p25\": 492, \"p50\": 492, \"p75\": 492}"
        );
    }

    #[cfg(feature = "local-store")]
    #[test]
    fn size_stats_truncate_and_escape_like_python() {
        // mlflow 3.17.2: TraceInfo(trace_id="tr-000…01", experiment "12",
        // request_time=1795462123000, execution_duration=3, ERROR, client_request_id="req-1",
        // request_preview="héllo", metadata {"k": "é"*300, "x"*260: "v"},
        // tags {"mlflow.traceName": "naïve", "t": "😀"*5000}) -> 51321 bytes.
        let mut info = info(&[], &[]);
        info.trace_id = "tr-00000000000000000000000000000001".into();
        info.experiment_id = Some("12".into());
        info.request_time_ms = 1795462123000;
        info.execution_duration_ms = Some(3);
        info.state = TraceState::Error;
        info.client_request_id = Some("req-1".into());
        info.request_preview = Some("héllo".into());
        info.response_preview = None;
        info.metadata.insert("k".into(), "é".repeat(300));
        info.metadata.insert("x".repeat(260), "v".into());
        info.tags.insert("mlflow.traceName".into(), "naïve".into());
        info.tags.insert("t".into(), "😀".repeat(5000));
        let (_, total) = size_stats(&info, &[]);
        assert_eq!(total, 51321);
    }

    #[cfg(feature = "local-store")]
    #[test]
    fn percentiles_interpolate() {
        // The chain trace written by the Python SDK: spans of 717, 1097 and 1162 bytes gave
        // "p25": 907, "p50": 1097, "p75": 1129.
        assert_eq!(percentile(&[717, 1097, 1162], 0.25), 907.0);
        assert_eq!(percentile(&[717, 1097, 1162], 0.5), 1097.0);
        assert_eq!(percentile(&[717, 1097, 1162], 0.75) as u64, 1129);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[cfg(feature = "local-store")]
    #[test]
    fn timestamps() {
        assert_eq!(timestamp_json(1795462123628), "2026-11-23T19:28:43.628Z");
        assert_eq!(timestamp_json(1795462123000), "2026-11-23T19:28:43Z");
        assert_eq!(timestamp_json(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp_json(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
