//! What a `tracing` field means to the bridge ([`Role`]), and its value ([`FieldValue`]):
//! read with a [`Visit`]or, then encoded as MLflow stores attributes (JSON text), as an
//! event attribute (a plain OpenTelemetry value), or as plain text (names, statuses).

use std::fmt;

use opentelemetry::Value as OtelValue;
use serde_json::Value;
use tracing::field::{Field, Visit};

use crate::json;
use crate::keys::span as attr;

/// What the bridge does with a field of a span or an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// `mlflow.spanType`, `span_type`: the span type.
    SpanType,
    /// `mlflow.spanInputs`, `inputs`: the span's inputs.
    Inputs,
    /// `mlflow.spanOutputs`, `outputs`, and an event's `return` (`#[instrument(ret)]`).
    Outputs,
    /// `error`, `exception`: an error, recorded as MLflow records an exception.
    Error,
    /// `otel.name`: the span's name, as `tracing-opentelemetry` reads it.
    Name,
    /// `otel.status_code` (`OK` or `ERROR`) and `otel.status_message`.
    StatusCode,
    /// See [`Role::StatusCode`].
    StatusMessage,
    /// An event's `message`: the span event's name.
    Message,
    /// Never recorded: `mlflow.traceRequestId` (the SDK's own), `otel.kind`.
    Ignored,
    /// Any other field: an attribute of the span (or of the span event).
    Attribute,
}

impl Role {
    /// The role of a field named `name` on a span (`event` false) or an event.
    pub(super) fn of(name: &str, event: bool) -> Role {
        match name {
            attr::SPAN_TYPE | "span_type" => Role::SpanType,
            attr::INPUTS | "inputs" => Role::Inputs,
            attr::OUTPUTS | "outputs" => Role::Outputs,
            "return" if event => Role::Outputs,
            "error" | "exception" => Role::Error,
            "otel.name" => Role::Name,
            "otel.status_code" => Role::StatusCode,
            "otel.status_message" => Role::StatusMessage,
            "message" if event => Role::Message,
            attr::REQUEST_ID | "otel.kind" => Role::Ignored,
            _ => Role::Attribute,
        }
    }
}

/// Whether a field named `name` describes a span in MLflow's terms or in a schema
/// MLflow translates: such spans are recorded whatever their target.
pub(super) fn is_schema_field(name: &str) -> bool {
    const PREFIXES: [&str; 8] = [
        "mlflow.",
        "gen_ai.",
        "llm.",
        "langfuse.",
        "openinference.",
        "traceloop.",
        "input.value",
        "output.value",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
        || matches!(name, "span_type" | "inputs" | "outputs")
}

/// A field's value as `tracing` gave it.
#[derive(Debug, Clone)]
pub(super) enum FieldValue {
    /// A string.
    Text(String),
    /// A value formatted with `Debug` or `Display` (`?x`, `%x`, `#[instrument]`'s
    /// arguments and `ret`).
    Formatted(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    /// An error recorded as `&dyn Error`: its message and the messages of its sources.
    Error(String, Vec<String>),
}

impl FieldValue {
    /// As MLflow stores inputs and outputs: JSON text. A string that is a JSON object or
    /// array is stored as that JSON (so `inputs = r#"{...}"#` is not encoded twice), any
    /// other string as a JSON string; a formatted value that is JSON (`Debug` of numbers,
    /// strings, vectors; `Display` of `serde_json::Value`) as that JSON, else as a string.
    pub(super) fn to_json(&self) -> String {
        match self {
            FieldValue::Text(s) => match parse_structured(s) {
                Some(value) => json::dumps(&value),
                None => json::quote(s),
            },
            FieldValue::Formatted(s) => match serde_json::from_str::<Value>(s) {
                Ok(value) => json::dumps(&value),
                Err(_) => json::quote(s),
            },
            FieldValue::I64(n) => json::dumps(n),
            FieldValue::U64(n) => json::dumps(n),
            FieldValue::F64(n) => json::dumps(n),
            FieldValue::Bool(b) => json::dumps(b),
            FieldValue::Error(message, _) => json::quote(message),
        }
    }

    /// As a plain OpenTelemetry value, as `tracing-opentelemetry` records a field: an
    /// attribute of a span or an event. (An unsigned integer past `i64` is text.)
    pub(super) fn to_plain(&self) -> OtelValue {
        match self {
            FieldValue::Text(s) | FieldValue::Formatted(s) => OtelValue::from(s.clone()),
            FieldValue::I64(n) => OtelValue::I64(*n),
            FieldValue::U64(n) => match i64::try_from(*n) {
                Ok(n) => OtelValue::I64(n),
                Err(_) => OtelValue::from(n.to_string()),
            },
            FieldValue::F64(n) => OtelValue::F64(*n),
            FieldValue::Bool(b) => OtelValue::Bool(*b),
            FieldValue::Error(message, _) => OtelValue::from(message.clone()),
        }
    }

    /// As plain text (a name, a status, an error message).
    pub(super) fn text(&self) -> String {
        match self {
            FieldValue::Text(s) | FieldValue::Formatted(s) | FieldValue::Error(s, _) => s.clone(),
            FieldValue::I64(n) => n.to_string(),
            FieldValue::U64(n) => n.to_string(),
            FieldValue::F64(n) => n.to_string(),
            FieldValue::Bool(b) => b.to_string(),
        }
    }

    /// The error's stack of messages, as `record_exception` writes it.
    pub(super) fn stacktrace(&self, type_name: &str) -> String {
        let mut text = format!("{type_name}: {}", self.text());
        if let FieldValue::Error(_, sources) = self
            && !sources.is_empty()
        {
            text.push_str("\n\nCaused by:");
            for (depth, source) in sources.iter().enumerate() {
                text.push_str(&format!("\n    {depth}: {source}"));
            }
        }
        text
    }
}

/// A text that is a JSON object or array, decoded.
fn parse_structured(s: &str) -> Option<Value> {
    let trimmed = s.trim_start_matches([' ', '\t', '\n', '\r']);
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return None;
    }
    serde_json::from_str::<Value>(s)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
}

/// The fields of one span or event, in the order `tracing` visits them.
#[derive(Debug, Default)]
pub(super) struct Fields {
    pub(super) values: Vec<(&'static str, FieldValue)>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: FieldValue) {
        self.values.push((field.name(), value));
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let value = match i64::try_from(value) {
            Ok(n) => FieldValue::I64(n),
            Err(_) => FieldValue::Text(value.to_string()),
        };
        self.push(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let value = match u64::try_from(value) {
            Ok(n) => FieldValue::U64(n),
            Err(_) => FieldValue::Text(value.to_string()),
        };
        self.push(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, FieldValue::Text(value.to_owned()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut sources = Vec::new();
        let mut source = value.source();
        while let Some(cause) = source {
            sources.push(cause.to_string());
            source = cause.source();
        }
        self.push(field, FieldValue::Error(value.to_string(), sources));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, FieldValue::Formatted(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_the_documented_names() {
        assert_eq!(Role::of("mlflow.spanType", false), Role::SpanType);
        assert_eq!(Role::of("span_type", false), Role::SpanType);
        assert_eq!(Role::of("inputs", false), Role::Inputs);
        assert_eq!(Role::of("mlflow.spanOutputs", false), Role::Outputs);
        assert_eq!(Role::of("return", true), Role::Outputs);
        assert_eq!(Role::of("return", false), Role::Attribute);
        assert_eq!(Role::of("message", false), Role::Attribute);
        assert_eq!(Role::of("mlflow.traceRequestId", false), Role::Ignored);
        assert_eq!(Role::of("gen_ai.request.model", false), Role::Attribute);
    }

    #[test]
    fn texts_holding_json_objects_or_arrays_are_stored_as_that_json() {
        let text = |s: &str| FieldValue::Text(s.to_owned()).to_json();
        assert_eq!(text(r#"{"a":1,"b":[true]}"#), r#"{"a": 1, "b": [true]}"#);
        assert_eq!(text(r#"["x"]"#), r#"["x"]"#);
        // Not objects or arrays: strings, even when they are JSON scalars.
        assert_eq!(text("42"), r#""42""#);
        assert_eq!(text("hello"), r#""hello""#);
        assert_eq!(text("{not json"), r#""{not json""#);
        let formatted = |s: &str| FieldValue::Formatted(s.to_owned()).to_json();
        assert_eq!(formatted(&format!("{:?}", "echo")), r#""echo""#);
        assert_eq!(formatted(&format!("{:?}", 42)), "42");
        assert_eq!(formatted(&format!("{:?}", Some(1))), r#""Some(1)""#);
        assert_eq!(FieldValue::U64(u64::MAX).to_json(), "18446744073709551615");
    }

    #[test]
    fn schema_fields_are_recognized_by_prefix() {
        assert!(is_schema_field("gen_ai.operation.name"));
        assert!(is_schema_field("openinference.span.kind"));
        assert!(is_schema_field("langfuse.observation.type"));
        assert!(is_schema_field("input.value"));
        assert!(!is_schema_field("user_id"));
        assert!(!is_schema_field("llmish"));
    }
}
