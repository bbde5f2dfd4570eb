//! `mlflow/openai/genai_semconv_converter.py`: OpenAI's Chat Completions format (also the
//! converter for spans of any other or no format) and its Responses format.

use serde_json::{Value, json};

use super::convert::{Attrs, Converter, base_request_params, base_response_attrs, non_empty};
use super::convert::{is_truthy, parse_arguments};
use super::py::{
    Py, Raise, contains, dumps, get, get_or, get_truthy, index, iter, obj, str_of, text,
};
use crate::keys::gen_ai;

pub(super) struct ChatCompletions;
pub(super) struct Responses;

/// `"input" in inputs`: which OpenAI converter; `Raise` where Python's `in` raises.
pub(super) fn is_responses(inputs: Option<&Value>) -> Py<bool> {
    match inputs {
        Some(inputs) => contains(inputs, "input"),
        None => Ok(false),
    }
}

impl Converter for ChatCompletions {
    fn convert_inputs(&self, inputs: &Value) -> Py<Option<Vec<Value>>> {
        let Some(Value::Array(messages)) = get(inputs, "messages")? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for m in messages {
            if get(m, "role")?.and_then(Value::as_str) != Some("system") {
                out.push(convert_message(m)?);
            }
        }
        Ok(Some(out))
    }

    fn convert_system_instructions(&self, inputs: &Value) -> Py<Option<Vec<Value>>> {
        let Some(Value::Array(messages)) = get(inputs, "messages")? else {
            return Ok(None);
        };
        let mut parts = Vec::new();
        for m in messages {
            if get(m, "role")?.and_then(Value::as_str) != Some("system") {
                continue;
            }
            if let Some(Value::String(content)) = get(m, "content")? {
                parts.push(text(Value::String(content.clone())));
            }
        }
        Ok(non_empty(parts))
    }

    fn convert_outputs(&self, outputs: &Value) -> Py<Option<Vec<Value>>> {
        let Some(Value::Array(choices)) = get(outputs, "choices")? else {
            return Ok(None);
        };
        let mut result = Vec::new();
        for choice in choices {
            let msg = match get_truthy(choice, "message")? {
                Some(message) => message.clone(),
                None => get_or(choice, "delta", json!({}))?,
            };
            let mut converted = convert_message(&msg)?;
            if let Some(reason) = get_truthy(choice, "finish_reason")?
                && let Value::Object(map) = &mut converted
            {
                map.insert("finish_reason".to_owned(), reason.clone());
            }
            result.push(converted);
        }
        Ok(Some(result))
    }

    fn extract_request_params(&self, inputs: &Value) -> Py<Attrs> {
        let mut params = base_request_params(inputs)?;
        if params.contains_key(gen_ai::TOOL_DEFINITIONS) {
            let tools = get_or(inputs, "tools", json!([]))?;
            params.insert(gen_ai::TOOL_DEFINITIONS.to_owned(), flatten_tools(&tools)?);
        }
        Ok(params)
    }

    fn extract_response_attrs(&self, outputs: &Value) -> Py<Attrs> {
        let mut attrs = base_response_attrs(outputs)?;
        if let Some(Value::Array(choices)) = get(outputs, "choices")? {
            let mut reasons = Vec::new();
            for c in choices {
                if let Some(reason) = get_truthy(c, "finish_reason")? {
                    reasons.push(reason.clone());
                }
            }
            if !reasons.is_empty() {
                attrs.insert(
                    gen_ai::RESPONSE_FINISH_REASONS.to_owned(),
                    Value::Array(reasons),
                );
            }
        }
        Ok(attrs)
    }
}

impl Converter for Responses {
    fn convert_inputs(&self, inputs: &Value) -> Py<Option<Vec<Value>>> {
        match get(inputs, "input")? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![obj([
                ("role", json!("user")),
                ("parts", json!([text(Value::String(s.clone()))])),
            ])])),
            Some(Value::Array(items)) => items
                .iter()
                .map(convert_input_item)
                .collect::<Py<Vec<_>>>()
                .map(Some),
            Some(_) => Ok(None),
        }
    }

    fn convert_system_instructions(&self, inputs: &Value) -> Py<Option<Vec<Value>>> {
        match get_truthy(inputs, "instructions")? {
            Some(Value::String(s)) => Ok(Some(vec![text(Value::String(s.clone()))])),
            _ => Ok(None),
        }
    }

    fn convert_outputs(&self, outputs: &Value) -> Py<Option<Vec<Value>>> {
        let Some(Value::Array(items)) = get(outputs, "output")? else {
            return Ok(None);
        };
        let status = get_truthy(outputs, "status")?;
        let mut result = Vec::new();
        for item in items {
            let mut converted = convert_output_item(item)?;
            if let (Some(status), Value::Object(map)) = (status, &mut converted) {
                map.insert("finish_reason".to_owned(), status.clone());
            }
            result.push(converted);
        }
        Ok(Some(result))
    }

    fn extract_request_params(&self, inputs: &Value) -> Py<Attrs> {
        ChatCompletions.extract_request_params(inputs)
    }

    fn extract_response_attrs(&self, outputs: &Value) -> Py<Attrs> {
        let mut attrs = base_response_attrs(outputs)?;
        if let Some(status) = get_truthy(outputs, "status")? {
            attrs.insert(
                gen_ai::RESPONSE_FINISH_REASONS.to_owned(),
                Value::Array(vec![status.clone()]),
            );
        }
        Ok(attrs)
    }
}

fn function_call(item: &Value) -> Py<Value> {
    Ok(obj([
        ("role", json!("assistant")),
        (
            "parts",
            Value::Array(vec![obj([
                ("type", json!("tool_call")),
                ("id", index(item, "call_id")?.clone()),
                ("name", index(item, "name")?.clone()),
                ("arguments", parse_arguments(index(item, "arguments")?)),
            ])]),
        ),
    ]))
}

fn convert_input_item(item: &Value) -> Py<Value> {
    match get(item, "type")?.and_then(Value::as_str) {
        Some("function_call") => function_call(item),
        Some("function_call_output") => Ok(obj([
            ("role", json!("tool")),
            (
                "parts",
                Value::Array(vec![obj([
                    ("type", json!("tool_call_response")),
                    ("id", index(item, "call_id")?.clone()),
                    ("response", index(item, "output")?.clone()),
                ])]),
            ),
        ])),
        _ => convert_message(item),
    }
}

fn convert_output_item(item: &Value) -> Py<Value> {
    match get(item, "type")?.and_then(Value::as_str) {
        Some("message") => {
            let mut parts = Vec::new();
            for ci in iter(&get_or(item, "content", json!([]))?)? {
                if get(&ci, "type")?.and_then(Value::as_str) == Some("output_text") {
                    parts.push(text(index(&ci, "text")?.clone()));
                } else {
                    parts.push(text(Value::String(dumps(&ci))));
                }
            }
            Ok(obj([
                ("role", get_or(item, "role", json!("assistant"))?),
                ("parts", Value::Array(parts)),
            ]))
        }
        Some("function_call") => function_call(item),
        _ => Ok(obj([
            ("role", json!("assistant")),
            ("parts", json!([text(Value::String(dumps(item)))])),
        ])),
    }
}

/// `_convert_message`: one chat message with its parts.
fn convert_message(msg: &Value) -> Py<Value> {
    let role = get_or(msg, "role", json!("user"))?;
    let mut parts = convert_content(get(msg, "content")?)?;
    if parts.is_empty()
        && let Some(Value::String(transcript)) = msg
            .get("audio")
            .and_then(Value::as_object)
            .and_then(|audio| audio.get("transcript"))
    {
        parts = vec![text(Value::String(transcript.clone()))];
    }
    if let Some(tool_calls) = get_truthy(msg, "tool_calls")? {
        for tc in iter(tool_calls)? {
            parts.push(convert_tool_call(&tc)?);
        }
    }
    if let Some(tool_call_id) = get_truthy(msg, "tool_call_id")? {
        let result = parts
            .first()
            .and_then(|p| p.get("content"))
            .cloned()
            .unwrap_or(Value::Null);
        return Ok(obj([
            ("role", role),
            (
                "parts",
                Value::Array(vec![obj([
                    ("type", json!("tool_call_response")),
                    ("id", tool_call_id.clone()),
                    ("response", result),
                ])]),
            ),
        ]));
    }
    Ok(obj([("role", role), ("parts", Value::Array(parts))]))
}

fn convert_content(content: Option<&Value>) -> Py<Vec<Value>> {
    match content {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![text(Value::String(s.clone()))]),
        Some(Value::Array(items)) => {
            let mut parts = Vec::new();
            for item in items {
                let item_type = match item {
                    Value::Object(_) => get(item, "type")?.and_then(Value::as_str),
                    _ => None,
                };
                parts.push(match item_type {
                    Some("text" | "input_text") => text(index(item, "text")?.clone()),
                    Some("image_url") => image_url(index(index(item, "image_url")?, "url")?)?,
                    Some("input_image") => image_url(index(item, "image_url")?)?,
                    Some("input_audio") => {
                        let audio = index(item, "input_audio")?;
                        obj([
                            ("type", json!("blob")),
                            ("modality", json!("audio")),
                            (
                                "mime_type",
                                Value::String(format!("audio/{}", str_of(index(audio, "format")?))),
                            ),
                            ("content", index(audio, "data")?.clone()),
                        ])
                    }
                    _ => text(Value::String(dumps(item))),
                });
            }
            Ok(parts)
        }
        Some(other) => Ok(vec![text(Value::String(str_of(other)))]),
    }
}

fn image_url(url: &Value) -> Py<Value> {
    let url = url.as_str().ok_or(Raise)?;
    if url.starts_with("data:") {
        let (header, data) = url.split_once(',').unwrap_or((url, ""));
        let mime = header.strip_prefix("data:").unwrap_or(header);
        let mime = mime.strip_suffix(";base64").unwrap_or(mime);
        return Ok(obj([
            ("type", json!("blob")),
            ("modality", json!("image")),
            ("mime_type", Value::String(mime.to_owned())),
            ("content", Value::String(data.to_owned())),
        ]));
    }
    Ok(obj([
        ("type", json!("uri")),
        ("modality", json!("image")),
        ("uri", Value::String(url.to_owned())),
    ]))
}

fn convert_tool_call(tc: &Value) -> Py<Value> {
    let func = get_or(tc, "function", json!({}))?;
    Ok(obj([
        ("type", json!("tool_call")),
        ("id", get(tc, "id")?.cloned().unwrap_or(Value::Null)),
        ("name", get(&func, "name")?.cloned().unwrap_or(Value::Null)),
        (
            "arguments",
            parse_arguments(&get_or(&func, "arguments", json!("{}"))?),
        ),
    ]))
}

/// `_flatten_tools`: OpenAI's nested tools in the conventions' flat form, JSON.
fn flatten_tools(tools: &Value) -> Py<Value> {
    let mut flattened = Vec::new();
    for tool in iter(tools)? {
        let mut flat = serde_json::Map::new();
        flat.insert("type".to_owned(), get_or(&tool, "type", json!("function"))?);
        match get(&tool, "function")?.filter(|f| is_truthy(f)) {
            Some(func) => {
                for (k, v) in super::py::dict(func)? {
                    flat.insert(k.clone(), v.clone());
                }
            }
            None => {
                for (k, v) in super::py::dict(&tool)? {
                    if k != "type" {
                        flat.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        flattened.push(Value::Object(flat));
    }
    Ok(Value::String(dumps(&Value::Array(flattened))))
}
