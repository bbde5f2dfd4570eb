//! The Anthropic, Gemini and Bedrock Converse converters
//! (`mlflow/{anthropic,gemini,bedrock}/genai_semconv_converter.py`).

use serde_json::{Value, json};

use super::convert::{Attrs, Converter, base_request_params, is_truthy, non_empty};
use super::py::{Py, Raise, contains, dumps, get, get_or, get_truthy, index, iter, obj};
use super::py::{str_of, text};
use crate::keys::gen_ai;

pub(super) struct Anthropic;
pub(super) struct Gemini;
pub(super) struct Bedrock;

fn message(role: Value, parts: Vec<Value>) -> Value {
    obj([("role", role), ("parts", Value::Array(parts))])
}

fn type_of(part: &Value) -> Option<&str> {
    part.get("type").and_then(Value::as_str)
}

impl Converter for Anthropic {
    fn convert_inputs(&self, inputs: &Value) -> Py<Option<Vec<Value>>> {
        let Some(Value::Array(messages)) = get(inputs, "messages")? else {
            return Ok(None);
        };
        messages
            .iter()
            .map(anthropic_message)
            .collect::<Py<Vec<_>>>()
            .map(Some)
    }

    fn convert_system_instructions(&self, inputs: &Value) -> Py<Option<Vec<Value>>> {
        match get(inputs, "system")? {
            Some(Value::String(s)) => Ok(Some(vec![text(Value::String(s.clone()))])),
            Some(Value::Array(blocks)) => blocks
                .iter()
                .map(anthropic_block)
                .collect::<Py<Vec<_>>>()
                .map(Some),
            _ => Ok(None),
        }
    }

    fn convert_outputs(&self, outputs: &Value) -> Py<Option<Vec<Value>>> {
        let Some(Value::Array(content)) = get(outputs, "content")? else {
            return Ok(None);
        };
        let parts = content
            .iter()
            .map(anthropic_block)
            .collect::<Py<Vec<_>>>()?;
        Ok(Some(vec![message(
            get_or(outputs, "role", json!("assistant"))?,
            parts,
        )]))
    }

    fn extract_request_params(&self, inputs: &Value) -> Py<Attrs> {
        let mut params = base_request_params(inputs)?;
        if let Some(stop) = get(inputs, "stop_sequences")? {
            let stop = match stop {
                Value::String(_) => Value::Array(vec![stop.clone()]),
                other => other.clone(),
            };
            params.insert(gen_ai::REQUEST_STOP_SEQUENCES.to_owned(), stop);
        }
        if params.contains_key(gen_ai::TOOL_DEFINITIONS) {
            let tools = get_or(inputs, "tools", json!([]))?;
            params.insert(
                gen_ai::TOOL_DEFINITIONS.to_owned(),
                Value::String(dumps(&tools)),
            );
        }
        Ok(params)
    }
}

fn anthropic_message(msg: &Value) -> Py<Value> {
    let role = get_or(msg, "role", json!("user"))?;
    match get(msg, "content")? {
        Some(Value::String(s)) => Ok(message(role, vec![text(Value::String(s.clone()))])),
        Some(Value::Array(blocks)) => {
            let parts = blocks.iter().map(anthropic_block).collect::<Py<Vec<_>>>()?;
            let has_tool_result = parts
                .iter()
                .any(|p| type_of(p) == Some("tool_call_response"));
            // Anthropic sends tool results as "user" messages.
            if has_tool_result && parts.len() == 1 {
                return Ok(message(json!("tool"), parts));
            }
            Ok(message(role, parts))
        }
        _ => Ok(message(role, Vec::new())),
    }
}

fn anthropic_block(block: &Value) -> Py<Value> {
    let block_type = get(block, "type")?.and_then(Value::as_str);
    Ok(match block_type {
        Some("text") => text(get_or(block, "text", json!(""))?),
        Some(kind @ ("image" | "document")) => {
            let source = get_or(block, "source", json!({}))?;
            match get(&source, "type")?.and_then(Value::as_str) {
                Some("base64") => obj([
                    ("type", json!("blob")),
                    ("modality", json!(kind)),
                    ("mime_type", get_or(&source, "media_type", json!(""))?),
                    ("content", get_or(&source, "data", json!(""))?),
                ]),
                Some("url") => obj([
                    ("type", json!("uri")),
                    ("modality", json!(kind)),
                    ("uri", get_or(&source, "url", json!(""))?),
                ]),
                _ => text(Value::String(dumps(block))),
            }
        }
        Some("tool_use") => obj([
            ("type", json!("tool_call")),
            ("id", get_or(block, "id", json!(""))?),
            ("name", get_or(block, "name", json!(""))?),
            (
                "arguments",
                get(block, "input")?.cloned().unwrap_or(Value::Null),
            ),
        ]),
        Some("tool_result") => obj([
            ("type", json!("tool_call_response")),
            ("id", get_or(block, "tool_use_id", json!(""))?),
            ("response", get_or(block, "content", json!(""))?),
        ]),
        _ => text(Value::String(dumps(block))),
    })
}

impl Converter for Gemini {
    fn convert_inputs(&self, inputs: &Value) -> Py<Option<Vec<Value>>> {
        match get(inputs, "contents")? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![message(
                json!("user"),
                vec![text(Value::String(s.clone()))],
            )])),
            Some(Value::Array(contents)) => {
                let dialogue = contents
                    .first()
                    .and_then(Value::as_object)
                    .is_some_and(|first| first.contains_key("role"));
                if dialogue {
                    return contents
                        .iter()
                        .map(gemini_content)
                        .collect::<Py<Vec<_>>>()
                        .map(Some);
                }
                let parts = contents.iter().map(gemini_part).collect::<Py<Vec<_>>>()?;
                Ok(Some(vec![message(json!("user"), parts)]))
            }
            Some(_) => Ok(None),
        }
    }

    fn convert_system_instructions(&self, inputs: &Value) -> Py<Option<Vec<Value>>> {
        let Some(config @ Value::Object(_)) = get(inputs, "config")? else {
            return Ok(None);
        };
        match get(config, "system_instruction")? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![text(Value::String(s.clone()))])),
            Some(instruction @ Value::Object(_)) => {
                iter(&get_or(instruction, "parts", json!([]))?)?
                    .iter()
                    .map(gemini_part)
                    .collect::<Py<Vec<_>>>()
                    .map(Some)
            }
            Some(_) => Ok(None),
        }
    }

    fn convert_outputs(&self, outputs: &Value) -> Py<Option<Vec<Value>>> {
        let Some(Value::Array(candidates)) = get(outputs, "candidates")? else {
            return Ok(None);
        };
        let mut result = Vec::new();
        for candidate in candidates {
            let content = get_or(candidate, "content", json!({}))?;
            let parts_list = get_or(&content, "parts", json!([]))?;
            let role = model_is_assistant(get_or(&content, "role", json!("user"))?);
            let parts = iter(&parts_list)?
                .iter()
                .map(gemini_part)
                .collect::<Py<Vec<_>>>()?;
            result.push(message(role, parts));
        }
        Ok(Some(result))
    }

    fn extract_request_params(&self, inputs: &Value) -> Py<Attrs> {
        let Some(Value::Object(config)) = get(inputs, "config")? else {
            return Ok(Attrs::new());
        };
        let mut normalized = config.clone();
        if let Some(v) = normalized.shift_remove("max_output_tokens") {
            normalized.insert("max_tokens".to_owned(), v);
        }
        if let Some(v) = normalized.shift_remove("stop_sequences") {
            normalized.insert("stop".to_owned(), v);
        }
        let mut params = base_request_params(&Value::Object(normalized))?;
        params.shift_remove(gen_ai::TOOL_DEFINITIONS);
        Ok(params)
    }
}

fn model_is_assistant(role: Value) -> Value {
    match role.as_str() {
        Some("model") => json!("assistant"),
        _ => role,
    }
}

fn gemini_content(content: &Value) -> Py<Value> {
    let role = model_is_assistant(get_or(content, "role", json!("user"))?);
    let parts = iter(&get_or(content, "parts", json!([]))?)?
        .iter()
        .map(gemini_part)
        .collect::<Py<Vec<_>>>()?;
    if !parts.is_empty()
        && parts
            .iter()
            .all(|p| type_of(p) == Some("tool_call_response"))
    {
        return Ok(message(json!("tool"), parts));
    }
    Ok(message(role, parts))
}

/// A blob or URI part with the modality its MIME type names.
fn with_modality(mut part: Value, mime_type: &Value) -> Py<Value> {
    if is_truthy(mime_type) {
        let modality = mime_type
            .as_str()
            .ok_or(Raise)?
            .split('/')
            .next()
            .unwrap_or("");
        if let Value::Object(map) = &mut part {
            map.insert("modality".to_owned(), json!(modality));
        }
    }
    Ok(part)
}

fn gemini_part(part: &Value) -> Py<Value> {
    match part {
        Value::String(s) => return Ok(text(Value::String(s.clone()))),
        Value::Object(_) => {}
        other => return Ok(text(Value::String(str_of(other)))),
    }
    if let Some(t) = get(part, "text")? {
        return Ok(text(t.clone()));
    }
    if let Some(inline) = get_truthy(part, "inline_data")? {
        let mime_type = get_or(inline, "mime_type", json!(""))?;
        let blob = obj([
            ("type", json!("blob")),
            ("mime_type", mime_type.clone()),
            ("content", get_or(inline, "data", json!(""))?),
        ]);
        return with_modality(blob, &mime_type);
    }
    if let Some(file) = get_truthy(part, "file_data")? {
        let mime_type = get_or(file, "mime_type", json!(""))?;
        let uri = obj([
            ("type", json!("uri")),
            ("mime_type", mime_type.clone()),
            ("uri", get_or(file, "file_uri", json!(""))?),
        ]);
        return with_modality(uri, &mime_type);
    }
    if let Some(call) = get_truthy(part, "function_call")? {
        return Ok(obj([
            ("type", json!("tool_call")),
            ("name", get_or(call, "name", json!(""))?),
            ("arguments", get_or(call, "args", json!({}))?),
        ]));
    }
    if let Some(response) = get_truthy(part, "function_response")? {
        return Ok(obj([
            ("type", json!("tool_call_response")),
            ("name", get_or(response, "name", json!(""))?),
            ("response", get_or(response, "response", json!({}))?),
        ]));
    }
    Ok(text(Value::String(dumps(part))))
}

/// `_INFERENCE_CONFIG_KEY_MAPPING`.
const INFERENCE_CONFIG: [(&str, &str); 4] = [
    ("temperature", gen_ai::REQUEST_TEMPERATURE),
    ("maxTokens", gen_ai::REQUEST_MAX_TOKENS),
    ("topP", gen_ai::REQUEST_TOP_P),
    ("stopSequences", gen_ai::REQUEST_STOP_SEQUENCES),
];

impl Converter for Bedrock {
    fn convert_inputs(&self, inputs: &Value) -> Py<Option<Vec<Value>>> {
        let Some(Value::Array(messages)) = get(inputs, "messages")? else {
            return Ok(None);
        };
        messages
            .iter()
            .map(bedrock_message)
            .collect::<Py<Vec<_>>>()
            .map(Some)
    }

    fn convert_system_instructions(&self, inputs: &Value) -> Py<Option<Vec<Value>>> {
        let Some(Value::Array(system)) = get(inputs, "system")? else {
            return Ok(None);
        };
        let mut parts = Vec::new();
        for block in system {
            if let Some(t) = get_truthy(block, "text")? {
                parts.push(text(t.clone()));
            }
        }
        Ok(non_empty(parts))
    }

    fn convert_outputs(&self, outputs: &Value) -> Py<Option<Vec<Value>>> {
        match outputs
            .get("output")
            .filter(|o| o.is_object())
            .and_then(|o| o.get("message"))
        {
            Some(message @ Value::Object(_)) => Ok(Some(vec![bedrock_message(message)?])),
            _ => Ok(None),
        }
    }

    fn extract_request_params(&self, inputs: &Value) -> Py<Attrs> {
        let mut params = Attrs::new();
        if let Some(config @ Value::Object(_)) = get(inputs, "inferenceConfig")? {
            for (source, key) in INFERENCE_CONFIG {
                if let Some(value) = get(config, source)? {
                    params.insert(key.to_owned(), value.clone());
                }
            }
        }
        if let Some(tool_config @ Value::Object(_)) = get(inputs, "toolConfig")?
            && let Some(tools) = get_truthy(tool_config, "tools")?
        {
            params.insert(
                gen_ai::TOOL_DEFINITIONS.to_owned(),
                Value::String(dumps(&bedrock_tools(tools)?)),
            );
        }
        Ok(params)
    }
}

fn bedrock_message(msg: &Value) -> Py<Value> {
    let mut role = get_or(msg, "role", json!("user"))?;
    let Some(Value::Array(content)) = get(msg, "content")? else {
        return Ok(message(role, Vec::new()));
    };
    let mut parts = Vec::new();
    let mut has_tool_result = false;
    for block in content {
        if contains(block, "text")? {
            parts.push(text(index(block, "text")?.clone()));
        } else if let Some(tool_use) = get_truthy(block, "toolUse")? {
            let mut arguments = get_or(tool_use, "input", json!({}))?;
            if let Value::String(s) = &arguments
                && let Ok(decoded) = serde_json::from_str::<Value>(s)
            {
                arguments = decoded;
            }
            parts.push(obj([
                ("type", json!("tool_call")),
                (
                    "id",
                    get(tool_use, "toolUseId")?.cloned().unwrap_or(Value::Null),
                ),
                (
                    "name",
                    get(tool_use, "name")?.cloned().unwrap_or(Value::Null),
                ),
                ("arguments", arguments),
            ]));
        } else if let Some(tool_result) = get_truthy(block, "toolResult")? {
            has_tool_result = true;
            let result = get_or(tool_result, "content", json!([]))?;
            parts.push(obj([
                ("type", json!("tool_call_response")),
                (
                    "id",
                    get(tool_result, "toolUseId")?
                        .cloned()
                        .unwrap_or(Value::Null),
                ),
                ("response", bedrock_tool_result(&result)?),
            ]));
        } else if let Some(image) = get_truthy(block, "image")? {
            parts.push(bedrock_image(image)?);
        }
    }
    if has_tool_result {
        role = json!("tool");
    }
    Ok(message(role, parts))
}

fn bedrock_tool_result(content: &Value) -> Py<Value> {
    if !is_truthy(content) {
        return Ok(Value::Null);
    }
    let mut results = Vec::new();
    for item in iter(content)? {
        if let Some(json_value) = get(&item, "json")? {
            results.push(Value::String(dumps(json_value)));
        } else if let Some(t) = get_truthy(&item, "text")? {
            results.push(t.clone());
        }
    }
    Ok(match results.len() {
        0 => Value::Null,
        1 => results.swap_remove(0),
        _ => Value::String(dumps(&Value::Array(results))),
    })
}

fn bedrock_image(image: &Value) -> Py<Value> {
    let format = get_or(image, "format", json!("png"))?;
    let source = get_or(image, "source", json!({}))?;
    let Some(bytes) = get(&source, "bytes")? else {
        return Ok(text(Value::String(dumps(image))));
    };
    Ok(obj([
        ("type", json!("blob")),
        ("modality", json!("image")),
        (
            "mime_type",
            Value::String(format!("image/{}", str_of(&format))),
        ),
        ("content", Value::String(str_of(bytes))),
    ]))
}

fn bedrock_tools(tools: &Value) -> Py<Value> {
    let mut flattened = Vec::new();
    for tool in iter(tools)? {
        let Some(spec) = get_truthy(&tool, "toolSpec")? else {
            continue;
        };
        let mut flat = serde_json::Map::new();
        flat.insert("type".to_owned(), json!("function"));
        flat.insert("name".to_owned(), index(spec, "name")?.clone());
        if let Some(description) = get_truthy(spec, "description")? {
            flat.insert("description".to_owned(), description.clone());
        }
        if let Some(schema) = get_truthy(spec, "inputSchema")? {
            flat.insert(
                "parameters".to_owned(),
                get(schema, "json")?.cloned().unwrap_or(Value::Null),
            );
        }
        flattened.push(Value::Object(flat));
    }
    Ok(Value::Array(flattened))
}
