//! The schemas whose MLflow translator does more than read keys: Gemini CLI, Claude Code,
//! Traceloop's indexed keys, Vercel's AI SDK, VoltAgent, LiveKit, and the schemas that
//! carry messages in span events.

use opentelemetry::{KeyValue, Value as OtelValue};
use serde_json::{Map, Value};

use super::py::{self, Count, checked, decode, get, string};
use super::schemas::{GEN_AI, Keys, Tokens, VERCEL_AI, VOLT_AGENT};
use crate::json;
use crate::model::{SpanEvent, otel_to_json};

// --- Gemini CLI: GenAI keys, on spans of the agent named `gemini-cli` ---

pub(super) fn is_gemini_cli(attrs: &[KeyValue]) -> bool {
    get(attrs, "gen_ai.agent.name").is_some_and(|v| decode(v) == "gemini-cli")
}

pub(super) fn gemini_span_type(attrs: &[KeyValue]) -> Option<&'static str> {
    const KINDS: Keys = Keys {
        kinds: &[
            ("llm_call", "LLM"),
            ("tool_call", "TOOL"),
            ("agent_call", "AGENT"),
        ],
        ..GEN_AI
    };
    is_gemini_cli(attrs)
        .then(|| KINDS.span_type(attrs))
        .flatten()
}

/// The inputs as Gemini's SDK lays them out, `{"contents": [...]}`.
pub(super) fn gemini_input(attrs: &[KeyValue]) -> Option<OtelValue> {
    if !is_gemini_cli(attrs) {
        return None;
    }
    let value = Keys::first(attrs, GEN_AI.inputs)?;
    if py::as_str(value).is_none() {
        // Not a string: MLflow's `try_json_loads` keeps it as it is, unwrapped.
        return Some(value.clone());
    }
    let system_prompt = matches!(get(attrs, "gen_ai.operation.name"), Some(OtelValue::String(s)) if s.as_str() == "system_prompt");
    let decoded = decode(value);
    let contents = match decoded {
        Value::Object(ref o) if o.contains_key("contents") => return Some(value.clone()),
        Value::Array(items) if system_prompt => Value::Array(
            items
                .into_iter()
                .map(|mut item| {
                    if let Some(o) = item
                        .as_object_mut()
                        .filter(|o| o.get("role") == Some(&Value::from("user")))
                    {
                        o.insert("role".to_owned(), Value::from("system"));
                    }
                    item
                })
                .collect(),
        ),
        list @ Value::Array(_) => list,
        text @ Value::String(_) => text,
        _ => return Some(value.clone()),
    };
    let mut wrapped = Map::new();
    wrapped.insert("contents".to_owned(), contents);
    Some(string(json::dumps_ascii(&wrapped)))
}

/// The outputs as Gemini's SDK lays them out: one candidate with every part.
pub(super) fn gemini_output(attrs: &[KeyValue]) -> Option<OtelValue> {
    if !is_gemini_cli(attrs) {
        return None;
    }
    let value = Keys::first(attrs, GEN_AI.outputs)?;
    let parts: Vec<Value> = match decode(value) {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match item.get("parts") {
                Some(Value::Array(parts)) => Some(parts.clone()),
                _ => None,
            })
            .flatten()
            .collect(),
        _ => Vec::new(),
    };
    if parts.is_empty() {
        return Some(value.clone());
    }
    let wrapped =
        serde_json::json!({"candidates": [{"content": {"role": "model", "parts": parts}}]});
    Some(string(json::dumps_ascii(&wrapped)))
}

// --- Claude Code: `span.type` names the span; counts under bare keys ---

const INTERACTION: &str = "claude_code.interaction";
const LLM_REQUEST: &str = "claude_code.llm_request";
const TOOL: &str = "claude_code.tool";
const REDACTED: &str = "<REDACTED>";

fn claude_type(attrs: &[KeyValue]) -> Option<&'static str> {
    let kind = get(attrs, "span.type").map(decode)?;
    let kind = kind.as_str()?;
    let full = if kind.starts_with("claude_code.") {
        kind.to_owned()
    } else {
        format!("claude_code.{kind}")
    };
    [INTERACTION, LLM_REQUEST, TOOL]
        .into_iter()
        .find(|k| *k == full)
}

pub(super) fn claude_span_type(attrs: &[KeyValue]) -> Option<&'static str> {
    match claude_type(attrs)? {
        INTERACTION => Some("AGENT"),
        LLM_REQUEST => Some("LLM"),
        _ => Some("TOOL"),
    }
}

fn claude_int(attrs: &[KeyValue], key: &str) -> Option<i64> {
    get(attrs, key).and_then(|v| py::int_of(&decode(v)))
}

pub(super) fn claude_tokens(attrs: &[KeyValue], which: Tokens) -> Option<Count<'static>> {
    if claude_type(attrs) != Some(LLM_REQUEST) {
        return None;
    }
    let read = || claude_int(attrs, "cache_read_tokens");
    let write = || claude_int(attrs, "cache_creation_tokens");
    let count = match which {
        // Claude counts input tokens without the cached ones; MLflow adds them.
        Tokens::Input => claude_int(attrs, "input_tokens")
            .map(|n| n + read().unwrap_or(0) + write().unwrap_or(0)),
        Tokens::Output => claude_int(attrs, "output_tokens"),
        Tokens::Total => None,
        Tokens::CacheRead => read(),
        Tokens::CacheWrite => write(),
    };
    count.map(Count::Int)
}

fn claude_content<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a OtelValue> {
    checked(attrs, key).filter(|v| decode(v) != REDACTED)
}

pub(super) fn claude_input(attrs: &[KeyValue]) -> Option<OtelValue> {
    match claude_type(attrs)? {
        INTERACTION => claude_content(attrs, "user_prompt")
            .or_else(|| claude_content(attrs, "new_context"))
            .cloned(),
        LLM_REQUEST => claude_content(attrs, "new_context").cloned(),
        _ => {
            if let Some(input) = claude_content(attrs, "tool_input") {
                return Some(input.clone());
            }
            let details: Map<String, Value> =
                ["full_command", "file_path", "skill_name", "subagent_type"]
                    .into_iter()
                    .filter_map(|k| claude_content(attrs, k).map(|v| (k.to_owned(), decode(v))))
                    .collect();
            (!details.is_empty()).then(|| string(json::dumps_ascii(&details)))
        }
    }
}

pub(super) fn claude_output(attrs: &[KeyValue]) -> Option<OtelValue> {
    match claude_type(attrs)? {
        LLM_REQUEST => claude_content(attrs, "response.model_output").cloned(),
        TOOL => claude_content(attrs, "new_context").cloned(),
        _ => None,
    }
}

pub(super) fn claude_output_from_events(
    events: &[SpanEvent],
    attrs: &[KeyValue],
) -> Option<OtelValue> {
    if claude_type(attrs) != Some(TOOL) {
        return None;
    }
    events
        .iter()
        .filter(|e| e.name() == "tool.output")
        .find_map(|event| {
            ["output", "content", "diff"].into_iter().find_map(|key| {
                let value = decode(py::get(event.attributes(), key)?);
                (py::truthy(&value) && value != REDACTED).then(|| string(json::dumps(&value)))
            })
        })
}

// --- Traceloop: indexed prompt and completion keys ---

/// Whether `key` starts with `prefix` and the digits-then-`rest` pattern of Traceloop's
/// `gen_ai.prompt.\d+.content` (Python's `re.match`, anchored at the start only).
fn indexed(key: &str, parts: &[&str]) -> bool {
    let mut rest = key;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return false;
            }
            rest = &rest[digits..];
        }
        match rest.strip_prefix(part) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    true
}

fn first_indexed<'a>(attrs: &'a [KeyValue], parts: &[&str]) -> Option<&'a OtelValue> {
    attrs
        .iter()
        .filter(|kv| indexed(kv.key.as_str(), parts))
        .find_map(|kv| checked(attrs, kv.key.as_str()))
}

pub(super) fn traceloop_input(attrs: &[KeyValue]) -> Option<&OtelValue> {
    checked(attrs, "traceloop.entity.input")
        .or_else(|| first_indexed(attrs, &["gen_ai.prompt.", ".content"]))
        .or_else(|| first_indexed(attrs, &["gen_ai.completion.", ".tool_calls.", ".arguments"]))
}

pub(super) fn traceloop_output(attrs: &[KeyValue]) -> Option<&OtelValue> {
    checked(attrs, "traceloop.entity.output")
        .or_else(|| first_indexed(attrs, &["gen_ai.completion.", ".content"]))
}

// --- Vercel's AI SDK: chat spans spread their prompt and response over keys ---

/// `_safe_load_json`: strings decoded up to three times.
fn safe_load(value: Value, depth: u8) -> Value {
    match value {
        Value::String(s) => match py::loads(&s) {
            Some(inner) if depth > 0 => safe_load(inner, depth - 1),
            Some(inner) => inner,
            None => Value::String(s),
        },
        other => other,
    }
}

fn safe_load_otel(v: &OtelValue) -> Value {
    match py::as_str(v) {
        Some(s) => safe_load(Value::String(s.to_owned()), 2),
        None => otel_to_json(v),
    }
}

fn is_vercel_chat(attrs: &[KeyValue]) -> bool {
    get(attrs, "ai.operationId")
        .map(safe_load_otel)
        .is_some_and(|k| k == "ai.generateText.doGenerate" || k == "ai.streamText.doStream")
}

fn unpack(attrs: &[KeyValue], prefix: &str) -> Map<String, Value> {
    attrs
        .iter()
        .filter_map(|kv| {
            let suffix = kv.key.as_str().strip_prefix(prefix)?;
            Some((suffix.to_owned(), safe_load_otel(&kv.value)))
        })
        .collect()
}

pub(super) fn vercel_input(attrs: &[KeyValue]) -> super::schemas::Found {
    if !is_vercel_chat(attrs) {
        return super::schemas::Found {
            value: Keys::first(attrs, VERCEL_AI.inputs).cloned(),
            format: None,
        };
    }
    let mut inputs = unpack(attrs, "ai.prompt.");
    if let Some(tools) = inputs.get_mut("tools") {
        let items: Option<Vec<Value>> = match tools {
            Value::Array(items) => Some(std::mem::take(items)),
            Value::String(s) => Some(s.chars().map(|c| Value::String(c.to_string())).collect()),
            Value::Object(o) => Some(o.keys().map(|k| Value::String(k.clone())).collect()),
            _ => None,
        };
        if let Some(items) = items {
            *tools = Value::Array(items.into_iter().map(|t| safe_load(t, 2)).collect());
        }
    }
    super::schemas::Found {
        value: (!inputs.is_empty()).then(|| string(json::dumps_ascii(&inputs))),
        format: Some("vercel_ai"),
    }
}

pub(super) fn vercel_output(attrs: &[KeyValue]) -> Option<OtelValue> {
    if !is_vercel_chat(attrs) {
        return Keys::first(attrs, VERCEL_AI.outputs).cloned();
    }
    let outputs = unpack(attrs, "ai.response.");
    (!outputs.is_empty()).then(|| string(json::dumps_ascii(&outputs)))
}

// --- VoltAgent ---

pub(super) fn volt_span_type(attrs: &[KeyValue]) -> Option<&'static str> {
    ["span.type", "entity.type"].into_iter().find_map(|key| {
        let kind = decode(get(attrs, key)?);
        VOLT_AGENT.map_kind(&kind)
    })
}

pub(super) fn volt_tokens(attrs: &[KeyValue], which: Tokens) -> Option<Count<'_>> {
    let (first, second) = match which {
        Tokens::Input => ("usage.prompt_tokens", "llm.usage.prompt_tokens"),
        Tokens::Output => ("usage.completion_tokens", "llm.usage.completion_tokens"),
        Tokens::Total => ("usage.total_tokens", "llm.usage.total_tokens"),
        Tokens::CacheRead | Tokens::CacheWrite => return None,
    };
    // Python's `a or b`.
    match get(attrs, first) {
        Some(v) if py::truthy_otel(v) => Some(Count::Raw(v)),
        _ => get(attrs, second).map(Count::Raw),
    }
}

pub(super) fn volt_detected(attrs: &[KeyValue]) -> bool {
    ["voltagent.operation_id", "voltagent.conversation_id"]
        .iter()
        .any(|k| py::has(attrs, k))
}

// --- LiveKit Agents ---

pub(super) fn livekit_span_type(attrs: &[KeyValue]) -> Option<&'static str> {
    if py::has(attrs, "gen_ai.request.model") {
        return Some("LLM");
    }
    if let Some(op) = get(attrs, "gen_ai.operation.name").filter(|v| py::truthy_otel(v))
        && let Some(op) = decode(op).as_str()
        && let Some(kind) = GEN_AI.map_kind(&Value::String(op.to_lowercase()))
    {
        return Some(kind);
    }
    attrs.iter().find_map(|kv| {
        let key = kv.key.as_str();
        if key == "lk.retry_count" {
            Some("LLM")
        } else if key.starts_with("lk.function_tool") {
            Some("TOOL")
        } else if matches!(
            key,
            "lk.agent_name" | "lk.instructions" | "lk.generation_id"
        ) {
            Some("AGENT")
        } else if key.starts_with("lk.tts")
            || matches!(
                key,
                "lk.input_text"
                    | "lk.user_transcript"
                    | "lk.transcript_confidence"
                    | "lk.transcription_delay"
            )
        {
            Some("UNKNOWN")
        } else {
            None
        }
    })
}

pub(super) fn livekit_detected(attrs: &[KeyValue]) -> bool {
    attrs.iter().any(|kv| kv.key.as_str().starts_with("lk."))
}

// --- Messages in span events ---

/// The first true value of `attribute` in an event named `name` (Spring AI).
pub(super) fn event_value(events: &[SpanEvent], name: &str, attribute: &str) -> Option<OtelValue> {
    events.iter().filter(|e| e.name() == name).find_map(|e| {
        get(e.attributes(), attribute)
            .filter(|v| py::truthy_otel(v))
            .cloned()
    })
}

fn message(role: Value, content: &OtelValue) -> Value {
    let mut m = Map::new();
    m.insert("role".to_owned(), role);
    m.insert("content".to_owned(), decode(content));
    Value::Object(m)
}

fn messages_json(messages: Vec<Value>) -> Option<OtelValue> {
    (!messages.is_empty()).then(|| string(json::dumps_ascii(&messages)))
}

/// The GenAI message events (`gen_ai.system.message`, `gen_ai.user.message`,
/// `gen_ai.assistant.message`) as a message list.
pub(super) fn gen_ai_event_messages(events: &[SpanEvent]) -> Option<OtelValue> {
    let messages = events
        .iter()
        .filter_map(|e| {
            let role = match e.name() {
                "gen_ai.system.message" => "system",
                "gen_ai.user.message" => "user",
                "gen_ai.assistant.message" => "assistant",
                _ => return None,
            };
            let content = get(e.attributes(), "content").filter(|v| py::truthy_otel(v))?;
            Some(message(Value::from(role), content))
        })
        .collect();
    messages_json(messages)
}

/// The GenAI `gen_ai.choice` events as a message list.
pub(super) fn gen_ai_event_choices(events: &[SpanEvent]) -> Option<OtelValue> {
    let messages = events
        .iter()
        .filter(|e| e.name() == "gen_ai.choice")
        .filter_map(|e| {
            let content = get(e.attributes(), "content").filter(|v| py::truthy_otel(v))?;
            let role = get(e.attributes(), "role").map_or(Value::from("assistant"), decode);
            Some(message(role, content))
        })
        .collect();
    messages_json(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceloop_keys_match_from_the_start() {
        assert!(indexed(
            "gen_ai.prompt.0.content",
            &["gen_ai.prompt.", ".content"]
        ));
        assert!(indexed(
            "gen_ai.prompt.12.content_x",
            &["gen_ai.prompt.", ".content"]
        ));
        assert!(!indexed(
            "gen_ai.prompt.x.content",
            &["gen_ai.prompt.", ".content"]
        ));
        assert!(!indexed(
            "x.gen_ai.prompt.0.content",
            &["gen_ai.prompt.", ".content"]
        ));
        assert!(indexed(
            "gen_ai.completion.0.tool_calls.3.arguments",
            &["gen_ai.completion.", ".tool_calls.", ".arguments"]
        ));
    }
}
