//! MLflow's `GenAiSemconvConverter`: a provider's message format (a span's inputs and
//! outputs) → `gen_ai.input.messages`, `gen_ai.output.messages`,
//! `gen_ai.system_instructions`, request parameters and response attributes.

use serde_json::{Map, Value};

use super::py::{Py, dumps, get, get_truthy};
use crate::keys::gen_ai;
use crate::translate::py::truthy;

/// Attributes in insertion order; setting a key again keeps its place (a Python dict).
pub(super) type Attrs = Map<String, Value>;

/// `_REQUEST_PARAM_KEYS`: the inputs' keys and the attributes they become.
const REQUEST_PARAMS: [(&str, &str); 5] = [
    ("temperature", gen_ai::REQUEST_TEMPERATURE),
    ("max_tokens", gen_ai::REQUEST_MAX_TOKENS),
    ("top_p", gen_ai::REQUEST_TOP_P),
    ("stop", gen_ai::REQUEST_STOP_SEQUENCES),
    ("tools", gen_ai::TOOL_DEFINITIONS),
];

/// One provider's format.
pub(super) trait Converter {
    fn convert_inputs(&self, inputs: &Value) -> Py<Option<Vec<Value>>>;
    fn convert_outputs(&self, outputs: &Value) -> Py<Option<Vec<Value>>>;
    fn convert_system_instructions(&self, _inputs: &Value) -> Py<Option<Vec<Value>>> {
        Ok(None)
    }
    fn extract_request_params(&self, inputs: &Value) -> Py<Attrs> {
        base_request_params(inputs)
    }
    fn extract_response_attrs(&self, outputs: &Value) -> Py<Attrs> {
        base_response_attrs(outputs)
    }

    /// `translate(inputs, outputs)`: every attribute, or `Raise` (MLflow then adds none).
    fn translate(&self, inputs: Option<&Value>, outputs: Option<&Value>) -> Py<Attrs> {
        let mut result = Attrs::new();
        if let Some(inputs) = inputs {
            if let Some(messages) = self.convert_inputs(inputs)? {
                result.insert(
                    gen_ai::INPUT_MESSAGES.to_owned(),
                    Value::String(dumps(&Value::Array(messages))),
                );
            }
            if let Some(system) = self.convert_system_instructions(inputs)? {
                result.insert(
                    gen_ai::SYSTEM_INSTRUCTIONS.to_owned(),
                    Value::String(dumps(&Value::Array(system))),
                );
            }
            result.extend(self.extract_request_params(inputs)?);
        }
        if let Some(outputs) = outputs {
            if let Some(messages) = self.convert_outputs(outputs)? {
                result.insert(
                    gen_ai::OUTPUT_MESSAGES.to_owned(),
                    Value::String(dumps(&Value::Array(messages))),
                );
            }
            result.extend(self.extract_response_attrs(outputs)?);
        }
        Ok(result)
    }
}

/// `GenAiSemconvConverter.extract_request_params`.
pub(super) fn base_request_params(inputs: &Value) -> Py<Attrs> {
    let mut params = Attrs::new();
    for (source, key) in REQUEST_PARAMS {
        if let Some(value) = get(inputs, source)? {
            let value = if key == gen_ai::TOOL_DEFINITIONS {
                Value::String(dumps(value))
            } else if key == gen_ai::REQUEST_STOP_SEQUENCES && value.is_string() {
                Value::Array(vec![value.clone()])
            } else {
                value.clone()
            };
            params.insert(key.to_owned(), value);
        }
    }
    Ok(params)
}

/// `GenAiSemconvConverter.extract_response_attrs`.
pub(super) fn base_response_attrs(outputs: &Value) -> Py<Attrs> {
    let mut attrs = Attrs::new();
    if let Some(id) = get_truthy(outputs, "id")? {
        attrs.insert(gen_ai::RESPONSE_ID.to_owned(), id.clone());
    }
    if let Some(model) = get_truthy(outputs, "model")? {
        attrs.insert(gen_ai::RESPONSE_MODEL.to_owned(), model.clone());
    }
    Ok(attrs)
}

/// `_parse_tool_arguments`: a string decoded as JSON when it is JSON.
pub(super) fn parse_arguments(args: &Value) -> Value {
    match args {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| args.clone()),
        other => other.clone(),
    }
}

/// `parts or None`.
pub(super) fn non_empty(parts: Vec<Value>) -> Option<Vec<Value>> {
    (!parts.is_empty()).then_some(parts)
}

/// Whether a decoded value is truthy (Python's `bool`).
pub(super) fn is_truthy(v: &Value) -> bool {
    truthy(v)
}
