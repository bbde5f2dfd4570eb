//! Finished traces as MLflow sees them: [`Trace`], [`TraceInfo`] and [`Span`].
//!
//! These are what destinations receive and what reading the local store returns. A span's
//! attributes are kept as stored: MLflow's own attributes are JSON-encoded strings
//! (`mlflow.spanType` is `"\"LLM\""`); [`Span::attribute`] decodes them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use indexmap::IndexMap;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::keys;
use crate::types::{SpanStatus, SpanType, StatusCode, TraceState};

/// A finished trace: its [`TraceInfo`] and its spans.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    info: TraceInfo,
    spans: Vec<Span>,
}

impl Trace {
    pub(crate) fn new(info: TraceInfo, spans: Vec<Span>) -> Self {
        Trace { info, spans }
    }

    /// The trace's info: id, timing, state, tags, metadata, previews.
    pub fn info(&self) -> &TraceInfo {
        &self.info
    }

    /// The spans, in the order they ended.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The root span (the one without a parent).
    pub fn root_span(&self) -> Option<&Span> {
        self.spans.iter().find(|s| s.parent_id.is_none())
    }

    /// The first span with this name.
    pub fn span(&self, name: &str) -> Option<&Span> {
        self.spans.iter().find(|s| s.name == name)
    }

    /// The direct children of `parent`, by start time.
    pub fn children(&self, parent: &Span) -> Vec<&Span> {
        let mut children: Vec<&Span> = self
            .spans
            .iter()
            .filter(|s| s.parent_id.as_deref() == Some(parent.span_id.as_str()))
            .collect();
        children.sort_by_key(|s| s.start_time_ns);
        children
    }
}

/// Trace-level information (MLflow's `TraceInfo` V3).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceInfo {
    pub(crate) trace_id: String,
    pub(crate) experiment_id: Option<String>,
    pub(crate) request_time_ms: i64,
    pub(crate) execution_duration_ms: Option<i64>,
    pub(crate) state: TraceState,
    pub(crate) request_preview: Option<String>,
    pub(crate) response_preview: Option<String>,
    pub(crate) client_request_id: Option<String>,
    pub(crate) metadata: IndexMap<String, String>,
    pub(crate) tags: IndexMap<String, String>,
}

impl TraceInfo {
    /// The MLflow trace id, `tr-<32 hex>`.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The experiment the trace belongs to, when known.
    pub fn experiment_id(&self) -> Option<&str> {
        self.experiment_id.as_deref()
    }

    /// When the root span started, in milliseconds since the Unix epoch.
    pub fn request_time_ms(&self) -> i64 {
        self.request_time_ms
    }

    /// How long the root span ran, in whole milliseconds.
    pub fn execution_duration_ms(&self) -> Option<i64> {
        self.execution_duration_ms
    }

    /// The trace's state.
    pub fn state(&self) -> TraceState {
        self.state
    }

    /// The request preview shown in MLflow's trace list.
    pub fn request_preview(&self) -> Option<&str> {
        self.request_preview.as_deref()
    }

    /// The response preview shown in MLflow's trace list.
    pub fn response_preview(&self) -> Option<&str> {
        self.response_preview.as_deref()
    }

    /// The client request id set with [`update_current_trace`](crate::update_current_trace).
    pub fn client_request_id(&self) -> Option<&str> {
        self.client_request_id.as_deref()
    }

    /// Trace metadata (`mlflow.user`, `mlflow.trace.session`, user metadata, …).
    pub fn metadata(&self) -> &IndexMap<String, String> {
        &self.metadata
    }

    /// Trace tags (`mlflow.traceName`, user tags, …).
    pub fn tags(&self) -> &IndexMap<String, String> {
        &self.tags
    }

    /// The trace name (the root span's name).
    pub fn name(&self) -> Option<&str> {
        self.tags.get(keys::tag::TRACE_NAME).map(String::as_str)
    }
}

/// One event of a span, such as the `exception` event of a failed span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    pub(crate) name: String,
    pub(crate) time_ns: u64,
    pub(crate) attributes: IndexMap<String, Value>,
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
    pub fn attributes(&self) -> &IndexMap<String, Value> {
        &self.attributes
    }
}

/// A finished span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub(crate) trace_id: String,
    pub(crate) otel_trace_id: [u8; 16],
    pub(crate) span_id: String,
    pub(crate) parent_id: Option<String>,
    pub(crate) name: String,
    pub(crate) start_time_ns: u64,
    pub(crate) end_time_ns: u64,
    pub(crate) status: SpanStatus,
    pub(crate) attributes: IndexMap<String, Value>,
    pub(crate) events: Vec<SpanEvent>,
}

impl Span {
    /// The MLflow trace id, `tr-<32 hex>`.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The span id, 16 lowercase hex digits.
    pub fn span_id(&self) -> &str {
        &self.span_id
    }

    /// The parent's span id; `None` for the root span.
    pub fn parent_id(&self) -> Option<&str> {
        self.parent_id.as_deref()
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

    /// The attributes as stored (MLflow's are JSON-encoded strings).
    pub fn raw_attributes(&self) -> &IndexMap<String, Value> {
        &self.attributes
    }

    /// An attribute, decoded: JSON strings are parsed, other values returned as they are.
    pub fn attribute(&self, key: &str) -> Option<Value> {
        self.attributes.get(key).map(decode_attribute)
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
        crate::json::dumps(&MlflowSpanDict(self))
    }

    /// Length of `json.dumps(span.to_dict())` (ASCII-escaped), MLflow's span size.
    pub(crate) fn mlflow_json_ascii_len(&self) -> usize {
        crate::json::ascii_len(&MlflowSpanDict(self))
    }

    /// Parses MLflow's span JSON (`spans.content`).
    pub(crate) fn from_mlflow_json(trace_id: &str, content: &str) -> Option<Span> {
        let v: Value = serde_json::from_str(content).ok()?;
        let otel_trace_id = decode_id::<16>(v.get("trace_id")?)?;
        let span_id = hex(&decode_id::<8>(v.get("span_id")?)?);
        let parent_id = v
            .get("parent_span_id")
            .and_then(decode_id::<8>)
            .map(|p| hex(&p));
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
        let attributes = match v.get("attributes") {
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => IndexMap::new(),
        };
        let events = v
            .get("events")
            .and_then(Value::as_array)
            .map(|events| {
                events
                    .iter()
                    .map(|e| SpanEvent {
                        name: e
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        time_ns: e.get("time_unix_nano").and_then(Value::as_u64).unwrap_or(0),
                        attributes: match e.get("attributes") {
                            Some(Value::Object(map)) => {
                                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                            }
                            _ => IndexMap::new(),
                        },
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Span {
            trace_id: trace_id.to_owned(),
            otel_trace_id,
            span_id,
            parent_id,
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            start_time_ns: v
                .get("start_time_unix_nano")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            end_time_ns: v
                .get("end_time_unix_nano")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            status,
            attributes,
            events,
        })
    }
}

/// Decodes an attribute value stored the MLflow way (a JSON string); values that are not
/// valid JSON are returned as they are, as MLflow does.
pub(crate) fn decode_attribute(value: &Value) -> Value {
    match value {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| value.clone()),
        other => other.clone(),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
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

/// `Span.to_dict()` of MLflow 3.17: key order and shapes as the Python SDK writes them.
struct MlflowSpanDict<'a>(&'a Span);

impl Serialize for MlflowSpanDict<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let span = self.0;
        let mut map = serializer.serialize_map(Some(10))?;
        map.serialize_entry("trace_id", &BASE64.encode(span.otel_trace_id))?;
        map.serialize_entry("span_id", &BASE64.encode(hex_to_bytes::<8>(&span.span_id)))?;
        map.serialize_entry(
            "parent_span_id",
            &span
                .parent_id
                .as_deref()
                .map(|p| BASE64.encode(hex_to_bytes::<8>(p))),
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
        map.serialize_entry("attributes", &span.attributes)?;
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
        map.serialize_entry("attributes", &self.0.attributes)?;
        map.end()
    }
}

#[derive(Serialize)]
struct StatusDict<'a> {
    code: &'a str,
    message: &'a str,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample_span() -> Span {
        let mut attributes = IndexMap::new();
        attributes.insert(
            "mlflow.traceRequestId".to_owned(),
            Value::String("\"tr-2595d2b5032242e48f6a6b461726e3db\"".to_owned()),
        );
        attributes.insert(
            "mlflow.spanType".to_owned(),
            Value::String("\"UNKNOWN\"".to_owned()),
        );
        attributes.insert(
            "mlflow.spanInputs".to_owned(),
            Value::String("{\"a\": 1}".to_owned()),
        );
        attributes.insert(
            "mlflow.spanOutputs".to_owned(),
            Value::String("{\"b\": 2}".to_owned()),
        );
        attributes.insert(
            "mlflow.spanLogLevel".to_owned(),
            Value::String("10".to_owned()),
        );
        Span {
            trace_id: "tr-2595d2b5032242e48f6a6b461726e3db".to_owned(),
            otel_trace_id: hex_to_bytes("2595d2b5032242e48f6a6b461726e3db"),
            span_id: "b2f251691cb86193".to_owned(),
            parent_id: None,
            name: "foo".to_owned(),
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

    #[test]
    fn span_json_round_trips() {
        let mut span = sample_span();
        span.parent_id = Some("0102030405060708".to_owned());
        span.status = SpanStatus::error("ValueError: tool failed");
        span.events.push(SpanEvent {
            name: "exception".to_owned(),
            time_ns: 5,
            attributes: [("exception.message".to_owned(), Value::from("tool failed"))]
                .into_iter()
                .collect(),
        });
        let parsed = Span::from_mlflow_json(&span.trace_id, &span.to_mlflow_json()).unwrap();
        assert_eq!(parsed, span);
        assert_eq!(parsed.span_type(), SpanType::Unknown);
        assert_eq!(parsed.inputs(), Some(serde_json::json!({"a": 1})));
    }
}
