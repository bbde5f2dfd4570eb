//! What MLflow's store does to a span before storing it (`translate_span_when_storing` of
//! `mlflow/tracing/otel/translation/`, MLflow 3.17.2), so that spans written by any
//! instrumentation look the same in MLflow whichever SDK wrote them.
//!
//! Attribute values JSON-encoded twice are decoded once (`sanitize_attributes`); then
//! spans that describe themselves in another schema — OpenTelemetry's GenAI semantic
//! conventions (`gen_ai.*`, what Rust LLM crates such as rig and genai emit), OpenInference,
//! Traceloop, Vercel's AI SDK, Google ADK, VoltAgent, LiveKit, Laminar, Langfuse, Spring AI,
//! Gemini CLI, Claude Code — get MLflow's own attributes: the span type (when it is
//! `UNKNOWN`), inputs and outputs, token usage, the chat message format, tool definitions,
//! the model and its provider, and the cost ([`crate::pricing`]). Attributes the span has
//! are never replaced. The schemas are tried in MLflow's order, and values are read with
//! Python's rules (truth tests, `json.loads` with a fallback to the raw text).
//!
//! The local store stores spans translated, as MLflow's SQL store does; a tracking server
//! translates what it receives itself; OTLP backends get spans as recorded. The cost is
//! the exception: the assembler prices each span ([`price`]) for every destination.

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(crate) mod genai_out;
mod py;
mod schemas;
mod special;

use opentelemetry::{KeyValue, Value as OtelValue};
use serde_json::{Map, Value};

use crate::json;
use crate::keys::span as attr;
use crate::model::{Span, SpanEvent};
use crate::pricing::Prices;
use py::{as_str, get, has, loads, parse_int, string, truthy, truthy_otel};
use schemas::{EVENT_SCHEMAS, SCHEMAS, Tokens};

/// The span as MLflow's store stores it: `span` translated. A cost the assembler added
/// ([`price`]) is put where MLflow's store would have put it, so the stored attributes
/// are in the same order as MLflow's.
#[cfg_attr(not(feature = "local-store"), allow(dead_code))]
pub(crate) fn for_store(span: &Span, prices: &Prices) -> Span {
    let attrs = span.attributes();
    let attributes = match attrs.split_last() {
        Some((last, recorded)) if last.key.as_str() == attr::LLM_COST => {
            let again = translate(recorded, span.events(), Some(prices));
            if get(&again, attr::LLM_COST) == Some(&last.value) {
                again
            } else {
                translate(attrs, span.events(), Some(prices))
            }
        }
        _ => translate(attrs, span.events(), Some(prices)),
    };
    Span {
        trace_id: span.trace_id.clone(),
        otel_trace_id: span.otel_trace_id,
        span_id: span.span_id,
        parent_id: span.parent_id,
        parent_is_remote: span.parent_is_remote,
        name: span.name.clone(),
        start_time_ns: span.start_time_ns,
        end_time_ns: span.end_time_ns,
        status: span.status.clone(),
        attributes,
        events: span.events.clone(),
    }
}

/// Keys that hold token counts in some schema: a span without any of them (nor MLflow's
/// own token usage) is never priced, and costs nothing to check.
const TOKEN_KEYS: [&str; 16] = [
    attr::CHAT_USAGE,
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "llm.token_count.total",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.usage.total_tokens",
    "usage.prompt_tokens",
    "usage.completion_tokens",
    "usage.total_tokens",
    "llm.usage.prompt_tokens",
    "llm.usage.completion_tokens",
    "input_tokens",
    "output_tokens",
];

/// The cost of `span` (`mlflow.llm.cost`, as JSON text) as MLflow's store would compute
/// it: from the model, provider and token usage the span has or that translation finds.
/// `None` when the span has a cost already or MLflow would not price it.
pub(crate) fn price(span: &Span, prices: &Prices) -> Option<String> {
    let attrs = span.attributes();
    let has_tokens = attrs.iter().any(|kv| TOKEN_KEYS.contains(&kv.key.as_str()));
    if !has_tokens || has(attrs, attr::LLM_COST) {
        return None;
    }
    let translated = translate(attrs, span.events(), Some(prices));
    get(&translated, attr::LLM_COST)
        .and_then(as_str)
        .map(str::to_owned)
}

/// `sanitize_attributes`: a string holding the JSON encoding of a string that is itself
/// a JSON string, object or array is decoded once.
fn sanitize(attrs: &[KeyValue]) -> Vec<KeyValue> {
    attrs
        .iter()
        .map(|kv| {
            // Only the JSON encoding of a string can hold a twice-encoded value.
            let once = as_str(&kv.value)
                .filter(|s| {
                    s.trim_start_matches([' ', '\t', '\n', '\r'])
                        .starts_with('"')
                })
                .and_then(loads);
            match once {
                Some(Value::String(inner))
                    if matches!(
                        loads(&inner),
                        Some(Value::String(_) | Value::Object(_) | Value::Array(_))
                    ) =>
                {
                    KeyValue::new(kv.key.clone(), inner)
                }
                _ => kv.clone(),
            }
        })
        .collect()
}

/// Sets `key` (in place when present, else at the end), as a Python dict does.
fn set(attrs: &mut Vec<KeyValue>, key: &'static str, value: OtelValue) {
    match attrs.iter_mut().find(|kv| kv.key.as_str() == key) {
        Some(kv) => kv.value = value,
        None => attrs.push(KeyValue::new(key, value)),
    }
}

/// `dump_span_attribute_value(value)`.
fn dumped(value: &impl serde::Serialize) -> OtelValue {
    string(json::dumps(value))
}

/// MLflow's attributes that storing a span recorded with `recorded` and `events` would
/// add or change (the span type, inputs, outputs, token usage, message format, tools,
/// model, provider), for the spans of the `tracing` bridge: the assembler sets them, so
/// every destination sees them. The cost is left to [`price`], with the pipeline's prices.
pub(crate) fn mlflow_attributes(recorded: &[KeyValue], events: &[SpanEvent]) -> Vec<KeyValue> {
    translate(recorded, events, None)
        .into_iter()
        .filter(|kv| {
            let key = kv.key.as_str();
            key.starts_with("mlflow.") && get(recorded, key) != Some(&kv.value)
        })
        .collect()
}

/// `translate_span_when_storing`, on the attributes and events of one span; without
/// `prices`, no cost.
fn translate(
    recorded: &[KeyValue],
    events: &[SpanEvent],
    prices: Option<&Prices>,
) -> Vec<KeyValue> {
    let mut a = sanitize(recorded);
    if let Some(kind) = SCHEMAS.iter().find_map(|s| s.span_type(&a)) {
        let current = get(&a, attr::SPAN_TYPE)
            .filter(|v| truthy_otel(v))
            .map(py::decode);
        if current.is_none_or(|t| t == "UNKNOWN") {
            set(&mut a, attr::SPAN_TYPE, dumped(&kind));
        }
    }
    if !has(&a, attr::INPUTS) {
        let mut found = None;
        for schema in SCHEMAS {
            let input = schema.input_value(&a);
            if let Some(format) = input.format {
                // Vercel's translator writes the format, raw, while reading the inputs.
                set(&mut a, attr::MESSAGE_FORMAT, string(format.to_owned()));
            }
            if let Some(value) = input.value.filter(truthy_otel) {
                found = Some(value);
                break;
            }
        }
        let found = found.or_else(|| {
            (!events.is_empty())
                .then(|| {
                    EVENT_SCHEMAS
                        .iter()
                        .find_map(|s| s.input_from_events(events))
                })
                .flatten()
                .filter(truthy_otel)
        });
        if let Some(value) = found {
            set(&mut a, attr::INPUTS, value);
        }
    }
    if !has(&a, attr::OUTPUTS) {
        let found = SCHEMAS
            .iter()
            .find_map(|s| s.output_value(&a).filter(truthy_otel))
            .or_else(|| {
                (!events.is_empty())
                    .then(|| {
                        EVENT_SCHEMAS
                            .iter()
                            .find_map(|s| s.output_from_events(events, &a).filter(truthy_otel))
                    })
                    .flatten()
            });
        if let Some(value) = found {
            set(&mut a, attr::OUTPUTS, value);
        }
    }
    if !has(&a, attr::CHAT_USAGE)
        && let Some(usage) = token_usage(&a)
    {
        set(&mut a, attr::CHAT_USAGE, dumped(&usage));
    }
    if !has(&a, attr::MESSAGE_FORMAT)
        && let Some(format) = SCHEMAS.iter().find_map(|s| s.message_format(&a))
    {
        set(&mut a, attr::MESSAGE_FORMAT, dumped(&format));
    }
    if !has(&a, attr::CHAT_TOOLS)
        && let Some(tools) = SCHEMAS.iter().find_map(|s| s.tool_definitions(&a))
    {
        let tools = tools.clone();
        set(&mut a, attr::CHAT_TOOLS, tools);
    }
    if !has(&a, attr::MODEL)
        && let Some(model) = model_name(&a)
    {
        set(&mut a, attr::MODEL, dumped(&model));
    }
    if !has(&a, attr::MODEL_PROVIDER)
        && let Some(provider) = SCHEMAS
            .iter()
            .find_map(|s| s.model_provider(&a).filter(truthy))
    {
        set(&mut a, attr::MODEL_PROVIDER, dumped(&provider));
    }
    if let Some(prices) = prices
        && !has(&a, attr::LLM_COST)
        && let Some(cost) = cost(&a, prices)
    {
        set(&mut a, attr::LLM_COST, dumped(&cost));
    }
    a
}

/// `_get_token_usage`: the counts of the first schema that has any.
fn token_usage(a: &[KeyValue]) -> Option<Map<String, Value>> {
    SCHEMAS.iter().find_map(|schema| {
        let count = |which| parse_int(schema.tokens(a, which));
        let input = count(Tokens::Input);
        let output = count(Tokens::Output);
        let total = count(Tokens::Total).or_else(|| input?.checked_add(output?));
        if input.is_none() && output.is_none() && total.is_none() {
            return None;
        }
        let mut usage = Map::new();
        let mut put = |key: &str, n: Option<i64>| {
            if let Some(n) = n {
                usage.insert(key.to_owned(), Value::from(n));
            }
        };
        put("input_tokens", input);
        put("output_tokens", output);
        put("total_tokens", total);
        put("cache_read_input_tokens", count(Tokens::CacheRead));
        put("cache_creation_input_tokens", count(Tokens::CacheWrite));
        Some(usage)
    })
}

/// `_get_model_name`: from a schema, else the `model` field of the inputs, else of the
/// outputs.
fn model_name(a: &[KeyValue]) -> Option<Value> {
    if let Some(model) = SCHEMAS.iter().find_map(|s| s.model_name(a).filter(truthy)) {
        return Some(model);
    }
    for key in [attr::INPUTS, attr::OUTPUTS] {
        let Some(value) = get(a, key).filter(|v| truthy_otel(v)) else {
            continue;
        };
        let decoded = match as_str(value) {
            // Without escapes, a text that does not contain `model` has no such key.
            Some(s) if !s.contains('\\') && !s.contains("model") => continue,
            Some(s) => match loads(s) {
                Some(v) => v,
                None => continue,
            },
            None => continue,
        };
        if let Some(model) = decoded.get("model").filter(|m| truthy(m)) {
            // A model that is not a string ends the search, as in MLflow.
            return model.is_string().then(|| model.clone());
        }
    }
    None
}

/// The cost, from the span's usage, model and provider as MLflow decodes them (each must
/// be JSON text).
fn cost(a: &[KeyValue], prices: &Prices) -> Option<Value> {
    let decode = |key| get(a, key).and_then(as_str).and_then(loads);
    let usage = decode(attr::CHAT_USAGE)?;
    let model = decode(attr::MODEL)?;
    let provider = match get(a, attr::MODEL_PROVIDER) {
        Some(_) => Some(decode(attr::MODEL_PROVIDER)?),
        None => None,
    };
    prices
        .cost(&model, &usage, provider.as_ref())
        .map(|c| c.to_json())
}

#[cfg(test)]
mod tests;
