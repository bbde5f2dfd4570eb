//! Spans as the tracking server takes them at `/v1/traces`: the Python SDK's
//! `Span.to_otel_proto()`, which differs from what goes to an OTLP collector. Attribute
//! values are typed (MLflow's JSON text decoded: objects become `kvlist_value`, arrays
//! `array_value`, numbers `int_value`/`double_value`), there is no scope, no kind and no
//! flags, and the resource names only the SDK unless the user set resource attributes.
//! Also the reverse: spans read back from `GetTrace` into [`Span`]s.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{Array, KeyValue as OtelKeyValue, Value as OtelValue};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan, Status};
use opentelemetry_proto::tonic::trace::v1::{span, status};
use serde_json::Value;

use crate::config::otlp::ResourceSettings;
use crate::model::{Span, SpanEvent};
use crate::types::{SpanStatus, StatusCode};

fn any(value: any_value::Value) -> AnyValue {
    AnyValue { value: Some(value) }
}

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(any(any_value::Value::StringValue(value.to_owned()))),
        ..KeyValue::default()
    }
}

/// The resource: this SDK, then what the user set (`OTEL_RESOURCE_ATTRIBUTES`,
/// `OTEL_SERVICE_NAME`), which the server keeps as trace tags.
pub(super) fn resource(user: Option<&ResourceSettings>) -> Resource {
    let mut attributes = vec![
        string_kv("telemetry.sdk.language", "rust"),
        string_kv("telemetry.sdk.name", "mlflow-tracing"),
        string_kv("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
    ];
    if let Some(user) = user {
        attributes.extend(user.attributes.iter().map(|(k, v)| string_kv(k, v)));
        attributes.push(string_kv("service.name", &user.service_name.value));
    }
    Resource {
        attributes,
        ..Resource::default()
    }
}

/// The spans of a trace, as the server takes them.
pub(super) fn spans(spans: &[Span]) -> Vec<ProtoSpan> {
    spans.iter().map(to_proto).collect()
}

/// One request carrying `spans` (no scope, as MLflow sends them).
pub(super) fn request(resource: &Resource, spans: Vec<ProtoSpan>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// `Span.to_otel_proto()`.
fn to_proto(s: &Span) -> ProtoSpan {
    let status = s.status();
    ProtoSpan {
        trace_id: s.otel_trace_id().to_bytes().to_vec(),
        span_id: s.span_id().to_bytes().to_vec(),
        parent_span_id: s
            .parent_id()
            .map(|p| p.to_bytes().to_vec())
            .unwrap_or_default(),
        name: s.name().to_owned(),
        start_time_unix_nano: s.start_time_ns(),
        end_time_unix_nano: s.end_time_ns(),
        attributes: s
            .attributes()
            .iter()
            .map(|kv| KeyValue {
                key: kv.key.to_string(),
                value: Some(decoded(&kv.value)),
                ..KeyValue::default()
            })
            .collect(),
        events: s
            .events()
            .iter()
            .map(|e| span::Event {
                time_unix_nano: e.time_ns(),
                name: e.name().to_owned(),
                attributes: e
                    .attributes()
                    .iter()
                    .map(|kv| KeyValue {
                        key: kv.key.to_string(),
                        value: Some(plain(&kv.value)),
                        ..KeyValue::default()
                    })
                    .collect(),
                dropped_attributes_count: 0,
            })
            .collect(),
        status: Some(Status {
            message: status.description().to_owned(),
            code: match status.code() {
                StatusCode::Unset => status::StatusCode::Unset,
                StatusCode::Ok => status::StatusCode::Ok,
                StatusCode::Error => status::StatusCode::Error,
            } as i32,
        }),
        ..ProtoSpan::default()
    }
}

/// A span attribute as MLflow's `span.attributes` returns it (`json.loads` of the stored
/// text, the value itself when that fails; empty and zero values read as `None`), then as
/// `_set_otel_proto_anyvalue` writes it.
fn decoded(value: &OtelValue) -> AnyValue {
    match value {
        OtelValue::String(s) if s.as_str().is_empty() => AnyValue::default(),
        OtelValue::String(s) => match s.as_str() {
            "NaN" => any(any_value::Value::DoubleValue(f64::NAN)),
            "Infinity" => any(any_value::Value::DoubleValue(f64::INFINITY)),
            "-Infinity" => any(any_value::Value::DoubleValue(f64::NEG_INFINITY)),
            text => match serde_json::from_str::<Value>(text) {
                Ok(json) => from_json(&json),
                Err(_) => any(any_value::Value::StringValue(text.to_owned())),
            },
        },
        OtelValue::Bool(false) | OtelValue::I64(0) => AnyValue::default(),
        OtelValue::F64(f) if *f == 0.0 => AnyValue::default(),
        OtelValue::Array(array) if array_len(array) == 0 => AnyValue::default(),
        other => plain(other),
    }
}

fn array_len(array: &Array) -> usize {
    match array {
        Array::Bool(v) => v.len(),
        Array::I64(v) => v.len(),
        Array::F64(v) => v.len(),
        Array::String(v) => v.len(),
        _ => 1,
    }
}

/// A value written as it is (event attributes, and typed span attributes).
fn plain(value: &OtelValue) -> AnyValue {
    use any_value::Value as V;
    let array = |values: Vec<AnyValue>| any(V::ArrayValue(ArrayValue { values }));
    match value {
        OtelValue::Bool(b) => any(V::BoolValue(*b)),
        OtelValue::I64(i) => any(V::IntValue(*i)),
        OtelValue::F64(f) => any(V::DoubleValue(*f)),
        OtelValue::String(s) => any(V::StringValue(s.as_str().to_owned())),
        OtelValue::Array(Array::Bool(v)) => {
            array(v.iter().map(|b| any(V::BoolValue(*b))).collect())
        }
        OtelValue::Array(Array::I64(v)) => array(v.iter().map(|i| any(V::IntValue(*i))).collect()),
        OtelValue::Array(Array::F64(v)) => {
            array(v.iter().map(|f| any(V::DoubleValue(*f))).collect())
        }
        OtelValue::Array(Array::String(v)) => array(
            v.iter()
                .map(|s| any(V::StringValue(s.as_str().to_owned())))
                .collect(),
        ),
        other => any(V::StringValue(other.to_string())),
    }
}

/// A decoded JSON value as an `AnyValue` (`None` → unset).
fn from_json(value: &Value) -> AnyValue {
    use any_value::Value as V;
    match value {
        Value::Null => AnyValue::default(),
        Value::Bool(b) => any(V::BoolValue(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => any(V::IntValue(i)),
            None => any(V::DoubleValue(n.as_f64().unwrap_or(f64::NAN))),
        },
        Value::String(s) => any(V::StringValue(s.clone())),
        Value::Array(items) => any(V::ArrayValue(ArrayValue {
            values: items.iter().map(from_json).collect(),
        })),
        Value::Object(map) => any(V::KvlistValue(KeyValueList {
            values: map
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(from_json(v)),
                    ..KeyValue::default()
                })
                .collect(),
        })),
    }
}

/// An OTLP/JSON `AnyValue` of the REST API (`{"string_value": …}`, `{"kvlist_value":
/// {"values": […]}}`; int64 as a number or a string) as plain JSON.
fn json_of_any(value: &Value) -> Value {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return Value::Null;
    };
    match kind.as_str() {
        "int_value" => match inner {
            Value::String(s) => s.parse::<i64>().map_or(Value::Null, Value::from),
            other => other.clone(),
        },
        "array_value" => Value::Array(
            inner["values"]
                .as_array()
                .map(|a| a.iter().map(json_of_any).collect())
                .unwrap_or_default(),
        ),
        "kvlist_value" => Value::Object(
            inner["values"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|kv| {
                            let key = kv["key"].as_str().unwrap_or_default().to_owned();
                            (key, json_of_any(&kv["value"]))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => inner.clone(),
    }
}

fn id<const N: usize>(value: Option<&Value>) -> Option<[u8; N]> {
    BASE64
        .decode(value?.as_str()?)
        .ok()
        .and_then(|b| b.try_into().ok())
}

fn nanos(value: Option<&Value>) -> u64 {
    match value {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// A span of `GetTrace` (OTLP/JSON with typed attributes), as MLflow's
/// `Span.from_otel_proto` reads it: every attribute JSON-encoded again.
pub(super) fn span_from_json(trace_id: &str, value: &Value) -> Option<Span> {
    let attributes = |v: &Value| -> Vec<(String, Value)> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|kv| {
                        let key = kv["key"].as_str().unwrap_or_default().to_owned();
                        (key, json_of_any(&kv["value"]))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let status = &value["status"];
    let message = status["message"].as_str().unwrap_or_default();
    let status = match status["code"].as_str() {
        Some("STATUS_CODE_ERROR") => SpanStatus::error(message),
        Some("STATUS_CODE_OK") => SpanStatus::from(StatusCode::Ok),
        _ => SpanStatus::from(StatusCode::Unset),
    };
    let events = value["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| SpanEvent {
                    name: Cow::Owned(e["name"].as_str().unwrap_or_default().to_owned()),
                    time_ns: nanos(e.get("time_unix_nano")),
                    attributes: attributes(&e["attributes"])
                        .into_iter()
                        .map(|(k, v)| OtelKeyValue::new(k, event_value(v)))
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Span {
        trace_id: Arc::from(trace_id),
        otel_trace_id: TraceId::from_bytes(id::<16>(value.get("trace_id"))?),
        span_id: SpanId::from_bytes(id::<8>(value.get("span_id"))?),
        parent_id: id::<8>(value.get("parent_span_id")).map(SpanId::from_bytes),
        parent_is_remote: false,
        name: Cow::Owned(value["name"].as_str().unwrap_or_default().to_owned()),
        start_time_ns: nanos(value.get("start_time_unix_nano")),
        end_time_ns: nanos(value.get("end_time_unix_nano")),
        status,
        attributes: attributes(&value["attributes"])
            .into_iter()
            .map(|(k, v)| OtelKeyValue::new(k, crate::json::dumps(&v)))
            .collect(),
        events,
    })
}

/// An event attribute as MLflow keeps it: the value itself.
fn event_value(value: Value) -> OtelValue {
    match value {
        Value::String(s) => OtelValue::from(s),
        Value::Bool(b) => OtelValue::Bool(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => OtelValue::I64(i),
            None => OtelValue::F64(n.as_f64().unwrap_or(f64::NAN)),
        },
        other => OtelValue::from(crate::json::dumps(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample_span;

    /// An `AnyValue` as `{"kind": value}` (`{}` when unset).
    fn any_json(v: &AnyValue) -> Value {
        use any_value::Value as V;
        match &v.value {
            None => serde_json::json!({}),
            Some(V::StringValue(s)) => serde_json::json!({"string": s}),
            Some(V::IntValue(i)) => serde_json::json!({"int": i}),
            Some(V::DoubleValue(f)) => serde_json::json!({"double": f}),
            Some(V::BoolValue(b)) => serde_json::json!({"bool": b}),
            Some(V::ArrayValue(a)) => {
                serde_json::json!({"array": a.values.iter().map(any_json).collect::<Vec<_>>()})
            }
            Some(V::KvlistValue(l)) => serde_json::json!({"kvlist": kv_json(&l.values)}),
            Some(other) => serde_json::json!({"other": format!("{other:?}")}),
        }
    }

    fn kv_json(kvs: &[KeyValue]) -> Value {
        Value::Object(
            kvs.iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        any_json(&kv.value.clone().unwrap_or_default()),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn attributes_are_typed_as_the_python_sdk_sends_them() {
        let mut span = sample_span();
        for (key, value) in [
            ("custom.int", OtelValue::from("7")),
            ("custom.float", OtelValue::from("0.5")),
            ("custom.bool", OtelValue::from("true")),
            ("custom.list", OtelValue::from("[1, 2, 3]")),
            ("custom.dict", OtelValue::from("{\"k\": \"v\"}")),
            ("custom.text", OtelValue::from("not json")),
            ("custom.null", OtelValue::from("null")),
            ("typed.int", OtelValue::I64(3)),
            ("typed.zero", OtelValue::I64(0)),
        ] {
            span.set_attribute(OtelKeyValue::new(key, value));
        }
        let proto = to_proto(&span);
        let attrs = kv_json(&proto.attributes);
        assert_eq!(
            attrs["mlflow.spanType"],
            serde_json::json!({"string": "UNKNOWN"})
        );
        assert_eq!(
            attrs["mlflow.spanInputs"],
            serde_json::json!({"kvlist": {"a": {"int": 1}}})
        );
        assert_eq!(attrs["custom.int"], serde_json::json!({"int": 7}));
        assert_eq!(attrs["custom.float"], serde_json::json!({"double": 0.5}));
        assert_eq!(attrs["custom.bool"], serde_json::json!({"bool": true}));
        assert_eq!(
            attrs["custom.list"],
            serde_json::json!({"array": [{"int": 1}, {"int": 2}, {"int": 3}]})
        );
        assert_eq!(
            attrs["custom.dict"],
            serde_json::json!({"kvlist": {"k": {"string": "v"}}})
        );
        assert_eq!(
            attrs["custom.text"],
            serde_json::json!({"string": "not json"})
        );
        assert_eq!(attrs["custom.null"], serde_json::json!({}));
        assert_eq!(attrs["typed.int"], serde_json::json!({"int": 3}));
        assert_eq!(attrs["typed.zero"], serde_json::json!({}));
        assert_eq!(proto.kind, 0, "no kind, as MLflow sends it");
        assert_eq!(proto.flags, 0, "no flags");
        let request = request(&resource(None), spans(std::slice::from_ref(&span)));
        let scope = &request.resource_spans[0].scope_spans[0];
        assert!(scope.scope.is_none());
        let resource = kv_json(
            &request.resource_spans[0]
                .resource
                .as_ref()
                .unwrap()
                .attributes,
        );
        assert_eq!(resource.as_object().unwrap().len(), 3, "{resource}");
    }

    #[test]
    fn spans_read_back_are_stored_as_mlflow_reads_them() {
        // A span of GetTrace (server_readback/get_trace_nested.json, shortened).
        let json: Value = serde_json::from_str(
            r#"{"trace_id": "w4Hvwfo2h9YkTEXQPOwsIQ==", "span_id": "yn8tULwz9VM=",
                "parent_span_id": "AAAAAAAAAAE=",
                "name": "failing_tool", "start_time_unix_nano": 1795462040679599816,
                "end_time_unix_nano": "1795462040762235456",
                "attributes": [
                  {"key": "mlflow.spanType", "value": {"string_value": "TOOL"}},
                  {"key": "mlflow.spanInputs", "value": {"kvlist_value": {"values": [{"key": "query", "value": {"string_value": "boom"}}]}}},
                  {"key": "mlflow.spanLogLevel", "value": {"int_value": "10"}}],
                "events": [{"time_unix_nano": 5, "name": "exception", "attributes": [
                  {"key": "exception.type", "value": {"string_value": "ValueError"}}]}],
                "status": {"code": "STATUS_CODE_ERROR", "message": "ValueError: tool failed"}}"#,
        )
        .unwrap();
        let span = span_from_json("tr-c381efc1fa3687d6244c45d03cec2c21", &json).unwrap();
        assert_eq!(span.span_type().as_str(), "TOOL");
        assert_eq!(span.inputs(), Some(serde_json::json!({"query": "boom"})));
        assert_eq!(
            span.raw_attribute("mlflow.spanType"),
            Some(&OtelValue::from("\"TOOL\""))
        );
        assert_eq!(
            span.attribute("mlflow.spanLogLevel"),
            Some(serde_json::json!(10))
        );
        assert_eq!(span.end_time_ns(), 1795462040762235456);
        assert!(span.parent_id().is_some());
        assert_eq!(span.status().code(), StatusCode::Error);
        assert_eq!(span.status().description(), "ValueError: tool failed");
        assert_eq!(
            span.events()[0].attribute("exception.type"),
            Some(serde_json::json!("ValueError"))
        );
        assert_eq!(
            span.otel_trace_id().to_string(),
            "c381efc1fa3687d6244c45d03cec2c21"
        );
    }
}
