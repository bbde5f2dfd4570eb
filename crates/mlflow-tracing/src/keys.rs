//! Attribute, metadata and tag keys with MLflow's exact spelling.
//!
//! These are the names the MLflow Python SDK (`mlflow/tracing/constant.py`), the MLflow
//! server and the MLflow UI agree on. Values of span attributes are JSON-encoded strings.

/// Span attribute keys (`SpanAttributeKey` in the Python SDK).
pub mod span {
    /// The MLflow trace id (`"tr-<32 hex>"`), on every span.
    pub const REQUEST_ID: &str = "mlflow.traceRequestId";
    /// The span type (`"LLM"`, `"CHAIN"`, …).
    pub const SPAN_TYPE: &str = "mlflow.spanType";
    /// The span's inputs.
    pub const INPUTS: &str = "mlflow.spanInputs";
    /// The span's outputs.
    pub const OUTPUTS: &str = "mlflow.spanOutputs";
    /// The traced function's name (set by `#[trace]`).
    pub const FUNCTION_NAME: &str = "mlflow.spanFunctionName";
    /// The span's log level (10, 20, 30, 40, 50).
    pub const LOG_LEVEL: &str = "mlflow.spanLogLevel";
    /// Not exported: the `tracing` bridge marks a span whose fields MLflow translates, for
    /// the assembler to translate it off the recording thread (and the memory bound to
    /// count room for what translation adds).
    pub(crate) const TRANSLATE: &str = "mlflow_tracing.translate";
    /// A free-text description of the span.
    pub const DESCRIPTION: &str = "mlflow.spanDescription";
    /// Token usage of an LLM call: `{"input_tokens", "output_tokens", "total_tokens"}`.
    pub const CHAT_USAGE: &str = "mlflow.chat.tokenUsage";
    /// Tool definitions offered to an LLM (OpenAI format).
    pub const CHAT_TOOLS: &str = "mlflow.chat.tools";
    /// Cost of an LLM call in USD: `{"input_cost", "output_cost", "total_cost"}`.
    pub const LLM_COST: &str = "mlflow.llm.cost";
    /// The model an LLM span called.
    pub const MODEL: &str = "mlflow.llm.model";
    /// The provider of the model an LLM span called.
    pub const MODEL_PROVIDER: &str = "mlflow.llm.provider";
    /// The chat message format of an LLM span's inputs/outputs.
    pub const MESSAGE_FORMAT: &str = "mlflow.message.format";
    /// Prefix of the root-span attributes that carry trace tags over OTLP.
    pub const TRACE_TAG_PREFIX: &str = "mlflow.traceTag.";
}

/// OpenTelemetry's GenAI semantic conventions, as MLflow writes them when it translates
/// spans for OTLP (`GenAiSemconvKey`, `MLFLOW_ENABLE_OTEL_GENAI_SEMCONV`). Defined here:
/// the `opentelemetry-semantic-conventions` crate's GenAI constants are deprecated.
pub mod gen_ai {
    /// The conversation (session) id.
    pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
    /// `chat`, `generate_content`, `embeddings`, `execute_tool`, `invoke_agent`, …
    pub const OPERATION_NAME: &str = "gen_ai.operation.name";
    /// The model asked for.
    pub const REQUEST_MODEL: &str = "gen_ai.request.model";
    /// The model that answered.
    pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
    /// The response's id.
    pub const RESPONSE_ID: &str = "gen_ai.response.id";
    /// The provider (`openai`, `anthropic`, …).
    pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
    /// Input (prompt) tokens.
    pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    /// Output (completion) tokens.
    pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
    /// The input messages, JSON: `[{"role", "parts": [...]}]`.
    pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
    /// The output messages, JSON.
    pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
    /// The system instructions, JSON parts.
    pub const SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
    /// Sampling temperature.
    pub const REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
    /// Maximum tokens to generate.
    pub const REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
    /// Nucleus sampling.
    pub const REQUEST_TOP_P: &str = "gen_ai.request.top_p";
    /// Stop sequences.
    pub const REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
    /// Why generation stopped, per choice.
    pub const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
    /// The tools offered, JSON.
    pub const TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";
    /// The tool a span executes.
    pub const TOOL_NAME: &str = "gen_ai.tool.name";
    /// The tool call's arguments, JSON.
    pub const TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
    /// The tool call's result, JSON.
    pub const TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
    /// The agent a span invokes.
    pub const AGENT_NAME: &str = "gen_ai.agent.name";
}

/// Trace metadata keys (`TraceMetadataKey` in the Python SDK).
pub mod metadata {
    /// The user who produced the trace.
    pub const USER: &str = "mlflow.user";
    /// The program that produced the trace.
    pub const SOURCE_NAME: &str = "mlflow.source.name";
    /// The kind of source (`LOCAL`).
    pub const SOURCE_TYPE: &str = "mlflow.source.type";
    /// Git commit of the working directory.
    pub const GIT_COMMIT: &str = "mlflow.source.git.commit";
    /// Git remote URL of the working directory (credentials removed).
    pub const GIT_REPO_URL: &str = "mlflow.source.git.repoURL";
    /// Git branch of the working directory.
    pub const GIT_BRANCH: &str = "mlflow.source.git.branch";
    /// Trace schema version (`"3"`).
    pub const SCHEMA_VERSION: &str = "mlflow.trace_schema.version";
    /// Root span inputs, truncated to 250 characters.
    pub const INPUTS: &str = "mlflow.traceInputs";
    /// Root span outputs, truncated to 250 characters.
    pub const OUTPUTS: &str = "mlflow.traceOutputs";
    /// Aggregated token usage of the trace.
    pub const TOKEN_USAGE: &str = "mlflow.trace.tokenUsage";
    /// Aggregated cost of the trace.
    pub const COST: &str = "mlflow.trace.cost";
    /// Size statistics of the trace.
    pub const SIZE_STATS: &str = "mlflow.trace.sizeStats";
    /// Total size of the trace in bytes.
    pub const SIZE_BYTES: &str = "mlflow.trace.sizeBytes";
    /// Session id (`update_current_trace` `session_id`).
    pub const TRACE_SESSION: &str = "mlflow.trace.session";
    /// End user (`update_current_trace` `user`).
    pub const TRACE_USER: &str = "mlflow.trace.user";
    /// Model id the trace belongs to.
    pub const MODEL_ID: &str = "mlflow.modelId";
    /// The MLflow run the trace was recorded in.
    pub const SOURCE_RUN: &str = "mlflow.sourceRun";
    /// Set by the store once the trace info is final.
    pub const INFO_FINALIZED: &str = "mlflow.trace.infoFinalized";
}

/// Trace tag keys (`TraceTagKey` in the Python SDK).
pub mod tag {
    /// The trace name: the root span's name.
    pub const TRACE_NAME: &str = "mlflow.traceName";
    /// Where the trace's artifacts live.
    pub const ARTIFACT_LOCATION: &str = "mlflow.artifactLocation";
    /// Where the trace's spans are stored (`TRACKING_STORE`).
    pub const SPANS_LOCATION: &str = "mlflow.trace.spansLocation";
    /// Set by this crate (not by MLflow) on a trace exported without some of its spans:
    /// how many were lost and why. Not under `mlflow.`, so MLflow's UI shows it with the
    /// trace's tags.
    pub const INCOMPLETE: &str = "mlflow_tracing.incomplete";
}

/// Value of `mlflow.trace_schema.version`.
pub(crate) const TRACE_SCHEMA_VERSION: &str = "3";
/// Prefix of MLflow (V3) trace ids.
pub(crate) const TRACE_ID_PREFIX: &str = "tr-";
/// Maximum length of metadata values (and of the trace input/output metadata).
pub(crate) const MAX_CHARS_IN_METADATA: usize = 250;
#[cfg(any(feature = "local-store", feature = "mlflow-server"))]
/// Maximum length of tag keys.
pub(crate) const MAX_CHARS_IN_TAG_KEY: usize = 250;
#[cfg(any(feature = "local-store", feature = "mlflow-server"))]
/// Maximum length of tag values.
pub(crate) const MAX_CHARS_IN_TAG_VALUE: usize = 4096;
/// Maximum length of request/response previews against an OSS MLflow.
pub(crate) const MAX_CHARS_IN_PREVIEW: usize = 1000;

/// The instrumentation scope of every span, as in MLflow.
pub(crate) const SCOPE_NAME: &str = "mlflow.tracing.provider";
