//! MLflow's JSON for a span (`Span.to_dict()` of MLflow 3.17), as stored in the
//! `spans.content` column and in `traces.json`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use opentelemetry::{KeyValue, Value as OtelValue};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{Span, SpanEvent, otel_to_json};

/// Writes an attribute value the way MLflow's span JSON holds it.
struct JsonValue<'a>(&'a OtelValue);

impl Serialize for JsonValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            OtelValue::String(s) => serializer.serialize_str(s.as_str()),
            OtelValue::Bool(b) => serializer.serialize_bool(*b),
            OtelValue::I64(i) => serializer.serialize_i64(*i),
            OtelValue::F64(f) => serializer.serialize_f64(*f),
            other => otel_to_json(other).serialize(serializer),
        }
    }
}

/// Key-values as a JSON object.
struct JsonAttributes<'a>(&'a [KeyValue]);

impl Serialize for JsonAttributes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for kv in self.0 {
            map.serialize_entry(kv.key.as_str(), &JsonValue(&kv.value))?;
        }
        map.end()
    }
}

/// `Span.to_dict()` of MLflow 3.17: key order and shapes as the Python SDK writes them.
pub(super) struct MlflowSpanDict<'a>(pub(super) &'a Span);

impl Serialize for MlflowSpanDict<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let span = self.0;
        let mut map = serializer.serialize_map(Some(10))?;
        map.serialize_entry("trace_id", &BASE64.encode(span.otel_trace_id.to_bytes()))?;
        map.serialize_entry("span_id", &BASE64.encode(span.span_id.to_bytes()))?;
        map.serialize_entry(
            "parent_span_id",
            &span.parent_id.map(|p| BASE64.encode(p.to_bytes())),
        )?;
        map.serialize_entry("name", &span.name)?;
        map.serialize_entry("start_time_unix_nano", &span.start_time_ns)?;
        map.serialize_entry("end_time_unix_nano", &span.end_time_ns)?;
        map.serialize_entry("events", &Events(&span.events))?;
        map.serialize_entry(
            "status",
            &StatusDict {
                code: span.status.code().otel_name(),
                message: span.status.description(),
            },
        )?;
        map.serialize_entry("attributes", &JsonAttributes(&span.attributes))?;
        map.serialize_entry("links", &[(); 0])?;
        map.end()
    }
}

struct Events<'a>(&'a [SpanEvent]);

impl Serialize for Events<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for event in self.0 {
            seq.serialize_element(&EventDict(event))?;
        }
        seq.end()
    }
}

struct EventDict<'a>(&'a SpanEvent);

impl Serialize for EventDict<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("name", &self.0.name)?;
        map.serialize_entry("time_unix_nano", &self.0.time_ns)?;
        map.serialize_entry("attributes", &JsonAttributes(&self.0.attributes))?;
        map.end()
    }
}

#[derive(Serialize)]
struct StatusDict<'a> {
    code: &'a str,
    message: &'a str,
}

#[cfg(test)]
fn hex_to_bytes<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = s
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use opentelemetry::trace::{SpanId, TraceId};

    use super::*;
    use crate::types::SpanStatus;

    pub(crate) fn sample_span() -> Span {
        let attributes = vec![
            KeyValue::new(
                "mlflow.traceRequestId",
                "\"tr-2595d2b5032242e48f6a6b461726e3db\"",
            ),
            KeyValue::new("mlflow.spanType", "\"UNKNOWN\""),
            KeyValue::new("mlflow.spanInputs", "{\"a\": 1}"),
            KeyValue::new("mlflow.spanOutputs", "{\"b\": 2}"),
            KeyValue::new("mlflow.spanLogLevel", "10"),
        ];
        Span {
            trace_id: Arc::from("tr-2595d2b5032242e48f6a6b461726e3db"),
            otel_trace_id: TraceId::from_bytes(hex_to_bytes("2595d2b5032242e48f6a6b461726e3db")),
            span_id: SpanId::from_bytes(hex_to_bytes("b2f251691cb86193")),
            parent_id: None,
            parent_is_remote: false,
            name: Cow::Borrowed("foo"),
            start_time_ns: 1795462123628128158,
            end_time_ns: 1795462123670445894,
            status: SpanStatus::ok(),
            attributes,
            events: Vec::new(),
        }
    }

    #[test]
    fn span_json_matches_the_python_sdk() {
        // The `spans.content` of `wire-captures/i_default_destination.db-dump.txt`,
        // byte for byte, and its size (492) from that trace's `mlflow.trace.sizeStats`.
        let span = sample_span();
        let expected = r#"{"trace_id": "JZXStQMiQuSPamtGFybj2w==", "span_id": "svJRaRy4YZM=", "parent_span_id": null, "name": "foo", "start_time_unix_nano": 1795462123628128158, "end_time_unix_nano": 1795462123670445894, "events": [], "status": {"code": "STATUS_CODE_OK", "message": ""}, "attributes": {"mlflow.traceRequestId": "\"tr-2595d2b5032242e48f6a6b461726e3db\"", "mlflow.spanType": "\"UNKNOWN\"", "mlflow.spanInputs": "{\"a\": 1}", "mlflow.spanOutputs": "{\"b\": 2}", "mlflow.spanLogLevel": "10"}, "links": []}"#;
        assert_eq!(span.to_mlflow_json(), expected);
        assert_eq!(span.mlflow_json_ascii_len(), 492);
    }
}
