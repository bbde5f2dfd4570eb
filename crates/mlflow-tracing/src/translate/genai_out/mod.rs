//! MLflow spans in OpenTelemetry's GenAI semantic conventions, for OTLP destinations with
//! `MLFLOW_ENABLE_OTEL_GENAI_SEMCONV=true`: MLflow 3.17.2's `translate_span_to_genai`
//! (`mlflow/tracing/export/genai_semconv/`), value for value.
//!
//! The span type becomes `gen_ai.operation.name` (`CHAT_MODEL` → `chat`, `LLM` →
//! `generate_content`, `EMBEDDING` → `embeddings`, `TOOL` → `execute_tool`, `AGENT` →
//! `invoke_agent`, any other type as it is), the model, provider and token usage their
//! `gen_ai.*` keys, a tool span its name, arguments and result, an agent span its name;
//! the inputs and outputs become `gen_ai.input.messages`, `gen_ai.output.messages`,
//! `gen_ai.system_instructions`, request parameters and response attributes through the
//! converter of the span's message format (OpenAI chat or responses, Anthropic, Gemini,
//! Bedrock Converse; OpenAI chat for any other). MLflow's own `mlflow.*` attributes are
//! dropped except the trace tags (`mlflow.traceTag.*`); the span is renamed
//! `{operation} {tool, agent or model}` and is a CLIENT span for inference operations.

mod convert;
mod openai;
mod others;
mod py;

use opentelemetry::{Array, KeyValue, StringValue, Value as OtelValue};
use serde_json::Value;

use self::convert::{Attrs, Converter};
use crate::keys::{gen_ai, span as attr};
use crate::model::Span;

/// The span kind a translated span is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Internal,
    Client,
}

/// A span as MLflow's GenAI translation sends it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GenAiSpan {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) attributes: Vec<KeyValue>,
}

/// `get_otel_attribute`: the attribute decoded from JSON; `None` when it is missing, not
/// a string or not JSON.
fn decoded(span: &Span, key: &str) -> Option<Value> {
    match span.raw_attribute(key)? {
        OtelValue::String(s) => serde_json::from_str(s.as_str()).ok(),
        _ => None,
    }
}

fn truthy(v: &Value) -> bool {
    convert::is_truthy(v)
}

/// The operation of a span type (`_SPAN_TYPE_TO_OPERATION`), or the type as it is.
fn operation(span_type: &Value) -> Value {
    match span_type.as_str() {
        Some("CHAT_MODEL") => Value::from("chat"),
        Some("LLM") => Value::from("generate_content"),
        Some("EMBEDDING") => Value::from("embeddings"),
        Some("TOOL") => Value::from("execute_tool"),
        Some("AGENT") => Value::from("invoke_agent"),
        _ => span_type.clone(),
    }
}

/// `_get_tool_or_agent_name`: the `gen_ai.tool.name`/`gen_ai.agent.name` attribute (JSON
/// decoded when it holds a JSON string), else the span's name unless it is the operation.
fn tool_or_agent_name(span: &Span, key: &str, operation: &str) -> Option<String> {
    if let Some(OtelValue::String(raw)) = span.raw_attribute(key) {
        let name = match serde_json::from_str::<Value>(raw.as_str()) {
            Ok(Value::String(decoded)) => decoded,
            _ => raw.as_str().to_owned(),
        };
        if !name.is_empty() {
            return Some(name);
        }
    }
    (!span.name().is_empty() && span.name() != operation).then(|| span.name().to_owned())
}

/// Phase 1 (`_translate_universal_attributes`); `None` where MLflow's code raises (a span
/// type that is a list or a dict cannot be looked up).
fn universal(span: &Span) -> Option<Attrs> {
    let mut attrs = Attrs::new();
    let span_type = decoded(span, attr::SPAN_TYPE).filter(truthy);
    if let Some(span_type) = &span_type {
        if span_type.is_array() || span_type.is_object() {
            return None;
        }
        attrs.insert(gen_ai::OPERATION_NAME.to_owned(), operation(span_type));
    }
    if let Some(model) = decoded(span, attr::MODEL).filter(truthy) {
        attrs.insert(gen_ai::REQUEST_MODEL.to_owned(), model);
    }
    if let Some(provider) = decoded(span, attr::MODEL_PROVIDER).filter(truthy) {
        attrs.insert(gen_ai::PROVIDER_NAME.to_owned(), provider);
    }
    if let Some(Value::Object(usage)) = decoded(span, attr::CHAT_USAGE) {
        for (source, key) in [
            ("input_tokens", gen_ai::USAGE_INPUT_TOKENS),
            ("output_tokens", gen_ai::USAGE_OUTPUT_TOKENS),
        ] {
            if let Some(count) = usage.get(source).filter(|v| !v.is_null()) {
                attrs.insert(key.to_owned(), count.clone());
            }
        }
    }
    match span_type.as_ref().and_then(Value::as_str) {
        Some("TOOL") => {
            if let Some(name) = tool_or_agent_name(span, gen_ai::TOOL_NAME, "execute_tool") {
                attrs.insert(gen_ai::TOOL_NAME.to_owned(), Value::String(name));
            }
            if let Some(inputs) = decoded(span, attr::INPUTS).filter(|v| !v.is_null()) {
                attrs.insert(
                    gen_ai::TOOL_CALL_ARGUMENTS.to_owned(),
                    Value::String(py::dumps(&inputs)),
                );
            }
            if let Some(outputs) = decoded(span, attr::OUTPUTS).filter(|v| !v.is_null()) {
                attrs.insert(
                    gen_ai::TOOL_CALL_RESULT.to_owned(),
                    Value::String(py::dumps(&outputs)),
                );
            }
        }
        Some("AGENT") => {
            if let Some(name) = tool_or_agent_name(span, gen_ai::AGENT_NAME, "invoke_agent") {
                attrs.insert(gen_ai::AGENT_NAME.to_owned(), Value::String(name));
            }
        }
        _ => {}
    }
    Some(attrs)
}

/// `_get_converter`: by message format; `Raise` where `"input" in inputs` raises.
fn converter(format: Option<&Value>, inputs: Option<&Value>) -> py::Py<Box<dyn Converter>> {
    Ok(match format.and_then(Value::as_str) {
        Some("openai") if openai::is_responses(inputs)? => Box::new(openai::Responses),
        Some("anthropic") => Box::new(others::Anthropic),
        Some("gemini") => Box::new(others::Gemini),
        Some("bedrock") => Box::new(others::Bedrock),
        _ => Box::new(openai::ChatCompletions),
    })
}

/// Whether an attribute is kept: not MLflow's own, except the trace tags.
fn kept(key: &str) -> bool {
    !key.starts_with("mlflow.") || key.starts_with(attr::TRACE_TAG_PREFIX)
}

/// `translate_span_to_genai(span)`; `None` when MLflow's translation fails on it, which
/// sends the span unchanged.
pub(crate) fn to_genai(span: &Span) -> Option<GenAiSpan> {
    let mut genai = universal(span)?;
    let mut attributes: Vec<KeyValue> = span
        .attributes()
        .iter()
        .filter(|kv| kept(kv.key.as_str()))
        .cloned()
        .collect();
    if genai.is_empty() {
        // No GenAI mapping: MLflow's attributes dropped, the rest as it is.
        return Some(GenAiSpan {
            name: span.name().to_owned(),
            kind: Kind::Internal,
            attributes,
        });
    }
    let format = decoded(span, attr::MESSAGE_FORMAT);
    let inputs = decoded(span, attr::INPUTS).filter(|v| !v.is_null());
    let outputs = decoded(span, attr::OUTPUTS).filter(|v| !v.is_null());
    if inputs.is_some() || outputs.is_some() {
        let converter = converter(format.as_ref(), inputs.as_ref()).ok()?;
        // A converter that fails adds nothing (MLflow logs it at debug level).
        if let Ok(converted) = converter.translate(inputs.as_ref(), outputs.as_ref()) {
            genai.extend(converted);
        }
    }
    if !genai.contains_key(gen_ai::TOOL_DEFINITIONS)
        && let Some(tools) = decoded(span, attr::CHAT_TOOLS).filter(truthy)
    {
        let tools = match tools {
            Value::String(s) => s,
            other => py::dumps(&other),
        };
        genai.insert(gen_ai::TOOL_DEFINITIONS.to_owned(), Value::String(tools));
    }
    let name = span_name(span.name(), &genai);
    let kind = match genai.get(gen_ai::OPERATION_NAME).and_then(Value::as_str) {
        Some("chat" | "text_completion" | "embeddings" | "generate_content") => Kind::Client,
        _ => Kind::Internal,
    };
    for (key, value) in genai {
        let Some(value) = otel_value(value) else {
            continue;
        };
        match attributes.iter_mut().find(|kv| kv.key.as_str() == key) {
            Some(existing) => existing.value = value,
            None => attributes.push(KeyValue::new(key, value)),
        }
    }
    Some(GenAiSpan {
        name,
        kind,
        attributes,
    })
}

/// `_build_genai_span_name`: `{operation} {tool, agent or model}`, the operation alone,
/// or the span's own name.
fn span_name(original: &str, genai: &Attrs) -> String {
    let operation = genai.get(gen_ai::OPERATION_NAME).filter(|v| truthy(v));
    let target = [gen_ai::TOOL_NAME, gen_ai::AGENT_NAME, gen_ai::REQUEST_MODEL]
        .iter()
        .find_map(|k| genai.get(*k).filter(|v| truthy(v)));
    match (operation, target) {
        (Some(op), Some(target)) => format!("{} {}", py::str_of(op), py::str_of(target)),
        (Some(op), None) => py::str_of(op),
        _ => original.to_owned(),
    }
}

/// A decoded value as an OpenTelemetry attribute value: strings, numbers, booleans and
/// homogeneous lists of them; anything else is not an attribute value and is left out.
fn otel_value(value: Value) -> Option<OtelValue> {
    Some(match value {
        Value::String(s) => OtelValue::String(s.into()),
        Value::Bool(b) => OtelValue::Bool(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => OtelValue::I64(i),
            None => OtelValue::F64(n.as_f64()?),
        },
        Value::Array(items) => OtelValue::Array(array(items)?),
        Value::Null | Value::Object(_) => return None,
    })
}

fn array(items: Vec<Value>) -> Option<Array> {
    if items.iter().all(Value::is_string) {
        return Some(Array::String(
            items
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(StringValue::from(s)),
                    _ => None,
                })
                .collect(),
        ));
    }
    if items.iter().all(Value::is_i64) {
        return Some(Array::I64(items.iter().filter_map(Value::as_i64).collect()));
    }
    if items.iter().all(Value::is_number) {
        return Some(Array::F64(items.iter().filter_map(Value::as_f64).collect()));
    }
    if items.iter().all(Value::is_boolean) {
        return Some(Array::Bool(
            items.iter().filter_map(Value::as_bool).collect(),
        ));
    }
    None
}
