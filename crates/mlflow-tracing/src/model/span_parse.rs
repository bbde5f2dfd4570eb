//! Reading MLflow's span JSON back (`spans.content` of the local store).

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{KeyValue, Value as OtelValue};
use serde_json::Value;

use super::{Span, SpanEvent};
use crate::types::{SpanStatus, StatusCode};

impl Span {
    /// Parses MLflow's span JSON (`spans.content`).
    pub(crate) fn from_mlflow_json(trace_id: &str, content: &str) -> Option<Span> {
        let v: Value = serde_json::from_str(content).ok()?;
        let otel_trace_id = TraceId::from_bytes(decode_id::<16>(v.get("trace_id")?)?);
        let span_id = SpanId::from_bytes(decode_id::<8>(v.get("span_id")?)?);
        let parent_id = v
            .get("parent_span_id")
            .and_then(decode_id::<8>)
            .map(SpanId::from_bytes);
        let status = v.get("status");
        let code = match status.and_then(|s| s.get("code")).and_then(Value::as_str) {
            Some("STATUS_CODE_OK") | Some("OK") => StatusCode::Ok,
            Some("STATUS_CODE_ERROR") | Some("ERROR") => StatusCode::Error,
            _ => StatusCode::Unset,
        };
        let message = status
            .and_then(|s| s.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let status = match code {
            StatusCode::Error => SpanStatus::error(message),
            other => SpanStatus::from(other),
        };
        let events = v
            .get("events")
            .and_then(Value::as_array)
            .map(|events| {
                events
                    .iter()
                    .map(|e| SpanEvent {
                        name: Cow::Owned(
                            e.get("name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                        ),
                        time_ns: e.get("time_unix_nano").and_then(Value::as_u64).unwrap_or(0),
                        attributes: json_to_key_values(e.get("attributes")),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Span {
            trace_id: Arc::from(trace_id),
            otel_trace_id,
            span_id,
            parent_id,
            parent_is_remote: false,
            name: Cow::Owned(
                v.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            ),
            start_time_ns: v
                .get("start_time_unix_nano")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            end_time_ns: v
                .get("end_time_unix_nano")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            status,
            attributes: json_to_key_values(v.get("attributes")),
            events,
        })
    }
}

/// JSON attributes (from the store) as OpenTelemetry key-values: strings stay strings
/// (MLflow's JSON text), scalars and scalar arrays keep their type, anything else is
/// kept as JSON text.
fn json_to_key_values(attributes: Option<&Value>) -> Vec<KeyValue> {
    let Some(Value::Object(map)) = attributes else {
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => OtelValue::from(s.clone()),
                Value::Bool(b) => OtelValue::Bool(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => OtelValue::I64(i),
                    None => OtelValue::F64(n.as_f64().unwrap_or(0.0)),
                },
                other => OtelValue::from(crate::json::dumps(other)),
            };
            KeyValue::new(k.clone(), value)
        })
        .collect()
}

fn decode_id<const N: usize>(v: &Value) -> Option<[u8; N]> {
    let s = v.as_str()?;
    let bytes = match BASE64.decode(s) {
        Ok(bytes) if bytes.len() == N => bytes,
        // MLflow 3.5-era rows stored hex ids.
        _ => (0..s.len())
            .step_by(2)
            .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<Vec<u8>>>()?,
    };
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample_span;
    use crate::types::SpanType;

    #[test]
    fn span_json_round_trips() {
        let mut span = sample_span();
        span.parent_id = Some(SpanId::from_bytes([1, 2, 3, 4, 5, 6, 7, 8]));
        span.status = SpanStatus::error("ValueError: tool failed");
        span.attributes.push(KeyValue::new("typed.int", 7_i64));
        span.attributes.push(KeyValue::new("typed.bool", true));
        span.events.push(SpanEvent {
            name: Cow::Borrowed("exception"),
            time_ns: 5,
            attributes: vec![KeyValue::new("exception.message", "tool failed")],
        });
        let parsed = Span::from_mlflow_json(&span.trace_id, &span.to_mlflow_json()).unwrap();
        assert_eq!(parsed, span);
        assert_eq!(parsed.attribute("typed.int"), Some(serde_json::json!(7)));
        assert_eq!(parsed.span_type(), SpanType::Unknown);
        assert_eq!(parsed.inputs(), Some(serde_json::json!({"a": 1})));
    }
}
