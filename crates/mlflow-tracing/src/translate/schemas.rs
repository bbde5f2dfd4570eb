//! The attribute schemas MLflow 3.17 translates (`mlflow/tracing/otel/translation/`):
//! which attribute of each schema holds the span kind, the token counts, the inputs and
//! outputs, the model and its provider, the tool definitions. Most schemas are only such
//! keys (MLflow's `OtelSchemaTranslator` base class, here [`Keys`]); the few that do more
//! are in `special`.

use opentelemetry::{KeyValue, Value as OtelValue};
use serde_json::Value;

use super::py::{self, Count, checked, get};
use super::special;
use crate::model::SpanEvent;

/// What MLflow's base translator reads, by key.
#[derive(Debug)]
pub(super) struct Keys {
    pub(super) kind: Option<&'static str>,
    /// Span kind → MLflow span type.
    pub(super) kinds: &'static [(&'static str, &'static str)],
    pub(super) input_tokens: Option<&'static str>,
    pub(super) output_tokens: Option<&'static str>,
    pub(super) total_tokens: Option<&'static str>,
    pub(super) cache_read_tokens: Option<&'static str>,
    pub(super) cache_write_tokens: Option<&'static str>,
    pub(super) inputs: &'static [&'static str],
    pub(super) outputs: &'static [&'static str],
    pub(super) models: &'static [&'static str],
    pub(super) provider: Option<&'static str>,
    pub(super) tools: &'static [&'static str],
}

const NONE: Keys = Keys {
    kind: None,
    kinds: &[],
    input_tokens: None,
    output_tokens: None,
    total_tokens: None,
    cache_read_tokens: None,
    cache_write_tokens: None,
    inputs: &[],
    outputs: &[],
    models: &[],
    provider: None,
    tools: &[],
};

/// OpenInference (`openinference_semconv`).
pub(super) const OPEN_INFERENCE: Keys = Keys {
    kind: Some("openinference.span.kind"),
    kinds: &[
        ("TOOL", "TOOL"),
        ("CHAIN", "CHAIN"),
        ("LLM", "LLM"),
        ("RETRIEVER", "RETRIEVER"),
        ("EMBEDDING", "EMBEDDING"),
        ("AGENT", "AGENT"),
        ("RERANKER", "RERANKER"),
        ("UNKNOWN", "UNKNOWN"),
        ("GUARDRAIL", "GUARDRAIL"),
        ("EVALUATOR", "EVALUATOR"),
    ],
    input_tokens: Some("llm.token_count.prompt"),
    output_tokens: Some("llm.token_count.completion"),
    total_tokens: Some("llm.token_count.total"),
    cache_read_tokens: Some("llm.token_count.prompt_details.cache_read"),
    cache_write_tokens: Some("llm.token_count.prompt_details.cache_write"),
    inputs: &["input.value"],
    outputs: &["output.value"],
    models: &[
        "llm.response.model_name",
        "llm.model_name",
        "llm.request.model_name",
        "embedding.model_name",
    ],
    provider: Some("llm.provider"),
    tools: &[],
};

/// OpenTelemetry's GenAI semantic conventions (`gen_ai.*`).
pub(super) const GEN_AI: Keys = Keys {
    kind: Some("gen_ai.operation.name"),
    kinds: &[
        ("chat", "CHAT_MODEL"),
        ("create_agent", "AGENT"),
        ("embeddings", "EMBEDDING"),
        ("execute_tool", "TOOL"),
        ("generate_content", "LLM"),
        ("invoke_agent", "AGENT"),
        ("text_completion", "LLM"),
        ("response", "LLM"),
    ],
    input_tokens: Some("gen_ai.usage.input_tokens"),
    output_tokens: Some("gen_ai.usage.output_tokens"),
    total_tokens: None,
    cache_read_tokens: Some("gen_ai.usage.cache_read.input_tokens"),
    cache_write_tokens: Some("gen_ai.usage.cache_write.input_tokens"),
    inputs: &["gen_ai.input.messages", "gen_ai.tool.call.arguments"],
    outputs: &["gen_ai.output.messages", "gen_ai.tool.call.result"],
    models: &["gen_ai.response.model", "gen_ai.request.model"],
    provider: Some("gen_ai.provider.name"),
    tools: &["gen_ai.tool.definitions"],
};

/// The previous GenAI name of the cache-write count, read when the current one is absent.
pub(super) const GEN_AI_LEGACY_CACHE_WRITE: &str = "gen_ai.usage.cache_creation.input_tokens";

/// Spring AI: GenAI keys, prompt and completion in events.
const SPRING_AI: Keys = Keys {
    kind: Some("gen_ai.operation.name"),
    kinds: &[("chat", "CHAT_MODEL"), ("embeddings", "EMBEDDING")],
    input_tokens: Some("gen_ai.usage.input_tokens"),
    output_tokens: Some("gen_ai.usage.output_tokens"),
    ..NONE
};

/// Traceloop / OpenLLMetry.
const TRACELOOP: Keys = Keys {
    kind: Some("traceloop.span.kind"),
    kinds: &[
        ("workflow", "WORKFLOW"),
        ("task", "TASK"),
        ("agent", "AGENT"),
        ("tool", "TOOL"),
        ("unknown", "UNKNOWN"),
    ],
    input_tokens: Some("gen_ai.usage.prompt_tokens"),
    output_tokens: Some("gen_ai.usage.completion_tokens"),
    total_tokens: Some("llm.usage.total_tokens"),
    provider: Some("gen_ai.system"),
    ..NONE
};

/// Google ADK.
const GOOGLE_ADK: Keys = Keys {
    inputs: &[
        "gcp.vertex.agent.llm_request",
        "gcp.vertex.agent.tool_call_args",
    ],
    outputs: &[
        "gcp.vertex.agent.llm_response",
        "gcp.vertex.agent.tool_response",
    ],
    ..NONE
};

/// Vercel's AI SDK.
pub(super) const VERCEL_AI: Keys = Keys {
    kind: Some("ai.operationId"),
    kinds: &[
        ("ai.generateText", "LLM"),
        ("ai.generateText.doGenerate", "LLM"),
        ("ai.toolCall", "TOOL"),
        ("ai.streamText", "LLM"),
        ("ai.streamText.doStream", "LLM"),
        ("ai.generateObject", "LLM"),
        ("ai.generateObject.doGenerate", "LLM"),
        ("ai.streamObject", "LLM"),
        ("ai.streamObject.doStream", "LLM"),
        ("ai.embed", "EMBEDDING"),
        ("ai.embed.doEmbed", "EMBEDDING"),
        ("ai.embedMany", "EMBEDDING"),
    ],
    inputs: &["ai.prompt", "ai.toolCall.args", "ai.value", "ai.values"],
    outputs: &[
        "ai.response.text",
        "ai.toolCall.result",
        "ai.response.object",
        "ai.embedding",
        "ai.embeddings",
    ],
    ..NONE
};

/// VoltAgent.
pub(super) const VOLT_AGENT: Keys = Keys {
    kinds: &[
        ("agent", "AGENT"),
        ("llm", "LLM"),
        ("tool", "TOOL"),
        ("memory", "MEMORY"),
    ],
    inputs: &["agent.messages", "llm.messages", "input"],
    outputs: &["output"],
    ..NONE
};

/// LiveKit Agents: GenAI keys with inputs and outputs of its own.
pub(super) const LIVE_KIT: Keys = Keys {
    inputs: &[
        "lk.user_input",
        "lk.user_transcript",
        "lk.chat_ctx",
        "lk.input_text",
    ],
    outputs: &["lk.response.text", "lk.response.function_calls"],
    ..GEN_AI
};

/// Laminar.
const LAMINAR: Keys = Keys {
    kind: Some("lmnr.span.type"),
    kinds: &[
        ("LLM", "LLM"),
        ("TOOL", "TOOL"),
        ("DEFAULT", "CHAIN"),
        ("PIPELINE", "CHAIN"),
        ("EXECUTOR", "AGENT"),
        ("EVALUATOR", "EVALUATOR"),
        ("HUMAN_EVALUATOR", "EVALUATOR"),
        ("EVALUATION", "EVALUATOR"),
        ("CACHED", "LLM"),
    ],
    input_tokens: Some("gen_ai.usage.input_tokens"),
    output_tokens: Some("gen_ai.usage.output_tokens"),
    inputs: &["lmnr.span.input"],
    outputs: &["lmnr.span.output"],
    models: &["gen_ai.response.model", "gen_ai.request.model"],
    provider: Some("gen_ai.system"),
    ..NONE
};

/// Langfuse observations.
const LANGFUSE: Keys = Keys {
    kind: Some("langfuse.observation.type"),
    kinds: &[
        ("generation", "LLM"),
        ("embedding", "EMBEDDING"),
        ("tool", "TOOL"),
        ("retriever", "RETRIEVER"),
        ("agent", "AGENT"),
        ("chain", "CHAIN"),
        ("evaluator", "EVALUATOR"),
        ("guardrail", "GUARDRAIL"),
        ("span", "UNKNOWN"),
    ],
    inputs: &["langfuse.observation.input"],
    outputs: &["langfuse.observation.output"],
    ..NONE
};

impl Keys {
    /// `translate_span_type`: the span kind, decoded when it is JSON, mapped.
    pub(super) fn span_type(&self, attrs: &[KeyValue]) -> Option<&'static str> {
        let kind = get(attrs, self.kind?).filter(|v| py::truthy_otel(v))?;
        self.map_kind(&py::decode(kind))
    }

    pub(super) fn map_kind(&self, kind: &Value) -> Option<&'static str> {
        let kind = kind.as_str()?;
        self.kinds.iter().find(|(k, _)| *k == kind).map(|(_, t)| *t)
    }

    /// `get_attribute_value(attributes, keys)`: the first of `keys` whose value counts.
    pub(super) fn first<'a>(attrs: &'a [KeyValue], keys: &[&str]) -> Option<&'a OtelValue> {
        keys.iter().find_map(|k| checked(attrs, k))
    }

    fn count<'a>(attrs: &'a [KeyValue], key: Option<&str>) -> Option<Count<'a>> {
        get(attrs, key?).map(Count::Raw)
    }

    /// `get_model_name`: the first model key that counts, decoded.
    pub(super) fn model_name(&self, attrs: &[KeyValue]) -> Option<Value> {
        Keys::first(attrs, self.models).map(py::decode)
    }

    /// `get_model_provider`: the provider key when it counts, decoded.
    fn model_provider(&self, attrs: &[KeyValue]) -> Option<Value> {
        checked(attrs, self.provider?).map(py::decode)
    }
}

/// A schema: MLflow's translators, in the order MLflow tries them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Schema {
    OpenInference,
    GeminiCli,
    ClaudeCode,
    GenAi,
    SpringAi,
    Traceloop,
    GoogleAdk,
    VercelAi,
    VoltAgent,
    LiveKit,
    Laminar,
    Langfuse,
}

/// `_TRANSLATORS`, in order.
pub(super) const SCHEMAS: [Schema; 12] = [
    Schema::OpenInference,
    Schema::GeminiCli,
    Schema::ClaudeCode,
    Schema::GenAi,
    Schema::SpringAi,
    Schema::Traceloop,
    Schema::GoogleAdk,
    Schema::VercelAi,
    Schema::VoltAgent,
    Schema::LiveKit,
    Schema::Laminar,
    Schema::Langfuse,
];

/// `_EVENT_TRANSLATORS`, in order.
pub(super) const EVENT_SCHEMAS: [Schema; 3] =
    [Schema::SpringAi, Schema::LiveKit, Schema::ClaudeCode];

/// Token counts by kind.
#[derive(Debug, Clone, Copy)]
pub(super) enum Tokens {
    Input,
    Output,
    Total,
    CacheRead,
    CacheWrite,
}

/// An input value, and whether the schema marks the span's chat format on the way
/// (Vercel's translator writes `mlflow.message.format` while reading inputs).
pub(super) struct Found {
    pub(super) value: Option<OtelValue>,
    pub(super) format: Option<&'static str>,
}

impl Schema {
    fn keys(self) -> &'static Keys {
        match self {
            Schema::OpenInference => &OPEN_INFERENCE,
            Schema::GeminiCli | Schema::GenAi => &GEN_AI,
            Schema::ClaudeCode => &NONE,
            Schema::SpringAi => &SPRING_AI,
            Schema::Traceloop => &TRACELOOP,
            Schema::GoogleAdk => &GOOGLE_ADK,
            Schema::VercelAi => &VERCEL_AI,
            Schema::VoltAgent => &VOLT_AGENT,
            Schema::LiveKit => &LIVE_KIT,
            Schema::Laminar => &LAMINAR,
            Schema::Langfuse => &LANGFUSE,
        }
    }

    pub(super) fn span_type(self, attrs: &[KeyValue]) -> Option<&'static str> {
        match self {
            Schema::GeminiCli => special::gemini_span_type(attrs),
            Schema::ClaudeCode => special::claude_span_type(attrs),
            Schema::VoltAgent => special::volt_span_type(attrs),
            Schema::LiveKit => special::livekit_span_type(attrs),
            _ => self.keys().span_type(attrs),
        }
    }

    pub(super) fn tokens(self, attrs: &[KeyValue], which: Tokens) -> Option<Count<'_>> {
        match self {
            Schema::ClaudeCode => return special::claude_tokens(attrs, which),
            Schema::VoltAgent => return special::volt_tokens(attrs, which),
            _ => {}
        }
        let keys = self.keys();
        match which {
            Tokens::Input => Keys::count(attrs, keys.input_tokens),
            Tokens::Output => Keys::count(attrs, keys.output_tokens),
            Tokens::Total => Keys::count(attrs, keys.total_tokens),
            Tokens::CacheRead => Keys::count(attrs, keys.cache_read_tokens),
            Tokens::CacheWrite => {
                let value = Keys::count(attrs, keys.cache_write_tokens);
                let gen_ai = matches!(self, Schema::GeminiCli | Schema::GenAi | Schema::LiveKit);
                match value {
                    None if gen_ai => Keys::count(attrs, Some(GEN_AI_LEGACY_CACHE_WRITE)),
                    other => other,
                }
            }
        }
    }

    pub(super) fn input_value(self, attrs: &[KeyValue]) -> Found {
        let plain = |value: Option<&OtelValue>| Found {
            value: value.cloned(),
            format: None,
        };
        match self {
            Schema::GeminiCli => plain(special::gemini_input(attrs).as_ref()),
            Schema::ClaudeCode => plain(special::claude_input(attrs).as_ref()),
            Schema::VercelAi => special::vercel_input(attrs),
            Schema::Traceloop => plain(special::traceloop_input(attrs)),
            _ => plain(Keys::first(attrs, self.keys().inputs)),
        }
    }

    pub(super) fn output_value(self, attrs: &[KeyValue]) -> Option<OtelValue> {
        match self {
            Schema::GeminiCli => special::gemini_output(attrs),
            Schema::ClaudeCode => special::claude_output(attrs),
            Schema::VercelAi => special::vercel_output(attrs),
            Schema::Traceloop => special::traceloop_output(attrs).cloned(),
            _ => Keys::first(attrs, self.keys().outputs).cloned(),
        }
    }

    pub(super) fn message_format(self, attrs: &[KeyValue]) -> Option<&'static str> {
        match self {
            Schema::GeminiCli => special::is_gemini_cli(attrs).then_some("gemini"),
            Schema::VoltAgent => special::volt_detected(attrs).then_some("voltagent"),
            Schema::LiveKit => special::livekit_detected(attrs).then_some("livekit"),
            Schema::Laminar => py::has(attrs, "lmnr.span.type").then_some("openai"),
            _ => None,
        }
    }

    pub(super) fn tool_definitions(self, attrs: &[KeyValue]) -> Option<&OtelValue> {
        Keys::first(attrs, self.keys().tools)
    }

    pub(super) fn model_name(self, attrs: &[KeyValue]) -> Option<Value> {
        self.keys().model_name(attrs)
    }

    pub(super) fn model_provider(self, attrs: &[KeyValue]) -> Option<Value> {
        self.keys().model_provider(attrs)
    }

    pub(super) fn input_from_events(self, events: &[SpanEvent]) -> Option<OtelValue> {
        match self {
            Schema::SpringAi => {
                special::event_value(events, "gen_ai.content.prompt", "gen_ai.prompt")
            }
            Schema::LiveKit => special::gen_ai_event_messages(events),
            _ => None,
        }
    }

    pub(super) fn output_from_events(
        self,
        events: &[SpanEvent],
        attrs: &[KeyValue],
    ) -> Option<OtelValue> {
        match self {
            Schema::SpringAi => {
                special::event_value(events, "gen_ai.content.completion", "gen_ai.completion")
            }
            Schema::LiveKit => special::gen_ai_event_choices(events),
            Schema::ClaudeCode => special::claude_output_from_events(events, attrs),
            _ => None,
        }
    }
}
