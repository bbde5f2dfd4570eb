//! Small value types of the MLflow span model: span type, status, log level, trace state.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// The kind of work a span represents (`mlflow.spanType`).
///
/// MLflow's UI picks the span's icon and rendering from it. Any other string is allowed
/// too ([`SpanType::custom`]); MLflow shows such spans with a generic icon.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SpanType {
    /// A call to a language model.
    Llm,
    /// A sequence of steps.
    Chain,
    /// An autonomous agent.
    Agent,
    /// A tool called by an agent or a model.
    Tool,
    /// A call to a chat model.
    ChatModel,
    /// A retrieval step (vector search, …).
    Retriever,
    /// A parser.
    Parser,
    /// An embedding computation.
    Embedding,
    /// A reranker.
    Reranker,
    /// A memory read or write.
    Memory,
    /// Not specified (the default).
    #[default]
    Unknown,
    /// A workflow.
    Workflow,
    /// A task.
    Task,
    /// A guardrail check.
    Guardrail,
    /// An evaluator.
    Evaluator,
    /// Any other span type.
    Custom(Cow<'static, str>),
}

impl SpanType {
    /// Every span type MLflow defines, in MLflow's order.
    pub const ALL: [SpanType; 15] = [
        SpanType::Llm,
        SpanType::Chain,
        SpanType::Agent,
        SpanType::Tool,
        SpanType::ChatModel,
        SpanType::Retriever,
        SpanType::Parser,
        SpanType::Embedding,
        SpanType::Reranker,
        SpanType::Memory,
        SpanType::Unknown,
        SpanType::Workflow,
        SpanType::Task,
        SpanType::Guardrail,
        SpanType::Evaluator,
    ];

    /// A span type MLflow does not define.
    pub fn custom(name: impl Into<Cow<'static, str>>) -> Self {
        let name = name.into();
        match Self::known(&name) {
            Some(known) => known,
            None => SpanType::Custom(name),
        }
    }

    fn known(name: &str) -> Option<SpanType> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The span type's name as MLflow spells it (`"LLM"`, `"CHAT_MODEL"`, …).
    pub fn as_str(&self) -> &str {
        match self {
            SpanType::Llm => "LLM",
            SpanType::Chain => "CHAIN",
            SpanType::Agent => "AGENT",
            SpanType::Tool => "TOOL",
            SpanType::ChatModel => "CHAT_MODEL",
            SpanType::Retriever => "RETRIEVER",
            SpanType::Parser => "PARSER",
            SpanType::Embedding => "EMBEDDING",
            SpanType::Reranker => "RERANKER",
            SpanType::Memory => "MEMORY",
            SpanType::Unknown => "UNKNOWN",
            SpanType::Workflow => "WORKFLOW",
            SpanType::Task => "TASK",
            SpanType::Guardrail => "GUARDRAIL",
            SpanType::Evaluator => "EVALUATOR",
            SpanType::Custom(name) => name,
        }
    }

    /// The attribute value MLflow stores: the name as a JSON string.
    pub(crate) fn json(&self) -> Cow<'static, str> {
        match self {
            SpanType::Llm => Cow::Borrowed("\"LLM\""),
            SpanType::Chain => Cow::Borrowed("\"CHAIN\""),
            SpanType::Agent => Cow::Borrowed("\"AGENT\""),
            SpanType::Tool => Cow::Borrowed("\"TOOL\""),
            SpanType::ChatModel => Cow::Borrowed("\"CHAT_MODEL\""),
            SpanType::Retriever => Cow::Borrowed("\"RETRIEVER\""),
            SpanType::Parser => Cow::Borrowed("\"PARSER\""),
            SpanType::Embedding => Cow::Borrowed("\"EMBEDDING\""),
            SpanType::Reranker => Cow::Borrowed("\"RERANKER\""),
            SpanType::Memory => Cow::Borrowed("\"MEMORY\""),
            SpanType::Unknown => Cow::Borrowed("\"UNKNOWN\""),
            SpanType::Workflow => Cow::Borrowed("\"WORKFLOW\""),
            SpanType::Task => Cow::Borrowed("\"TASK\""),
            SpanType::Guardrail => Cow::Borrowed("\"GUARDRAIL\""),
            SpanType::Evaluator => Cow::Borrowed("\"EVALUATOR\""),
            SpanType::Custom(name) => Cow::Owned(crate::json::quote(name)),
        }
    }

    /// The log level a span of this type gets when none was set: INFO for model, tool,
    /// retriever, agent and embedding spans, DEBUG otherwise (as in MLflow).
    pub(crate) fn default_log_level(&self) -> SpanLogLevel {
        match self {
            SpanType::Llm
            | SpanType::ChatModel
            | SpanType::Tool
            | SpanType::Retriever
            | SpanType::Agent
            | SpanType::Embedding => SpanLogLevel::Info,
            _ => SpanLogLevel::Debug,
        }
    }
}

impl fmt::Display for SpanType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SpanType {
    type Err = std::convert::Infallible;

    /// Parses MLflow's spelling; any other string becomes [`SpanType::Custom`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SpanType::custom(s.to_owned()))
    }
}

impl From<&'static str> for SpanType {
    fn from(s: &'static str) -> Self {
        SpanType::custom(s)
    }
}

impl From<String> for SpanType {
    fn from(s: String) -> Self {
        SpanType::custom(s)
    }
}

/// The status code of a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// Not set (spans that end get `Ok` unless they are `Error`).
    Unset,
    /// Completed successfully.
    Ok,
    /// Failed.
    Error,
}

impl StatusCode {
    /// MLflow's name for the code (`"OK"`, `"ERROR"`, `"UNSET"`).
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "UNSET",
            StatusCode::Ok => "OK",
            StatusCode::Error => "ERROR",
        }
    }

    /// The OTLP/JSON name (`"STATUS_CODE_OK"`, …) used in MLflow's span JSON.
    pub(crate) fn otel_name(self) -> &'static str {
        match self {
            StatusCode::Unset => "STATUS_CODE_UNSET",
            StatusCode::Ok => "STATUS_CODE_OK",
            StatusCode::Error => "STATUS_CODE_ERROR",
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A span status: a code and, for errors, a description.
///
/// Follows OpenTelemetry: once a span is `Ok` its status no longer changes, `Unset` is
/// ignored, and the description is kept only for `Error`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpanStatus {
    code: StatusCode,
    description: String,
}

impl SpanStatus {
    /// Success.
    pub fn ok() -> Self {
        SpanStatus {
            code: StatusCode::Ok,
            description: String::new(),
        }
    }

    /// Failure, with a description such as `"ValueError: tool failed"`.
    pub fn error(description: impl Into<String>) -> Self {
        SpanStatus {
            code: StatusCode::Error,
            description: description.into(),
        }
    }

    /// Not set.
    pub fn unset() -> Self {
        SpanStatus {
            code: StatusCode::Unset,
            description: String::new(),
        }
    }

    /// The status code.
    pub fn code(&self) -> StatusCode {
        self.code
    }

    /// The description (empty unless the status is an error).
    pub fn description(&self) -> &str {
        &self.description
    }

    pub(crate) fn to_otel(&self) -> opentelemetry::trace::Status {
        match self.code {
            StatusCode::Unset => opentelemetry::trace::Status::Unset,
            StatusCode::Ok => opentelemetry::trace::Status::Ok,
            StatusCode::Error => opentelemetry::trace::Status::error(self.description.clone()),
        }
    }

    pub(crate) fn from_otel(status: &opentelemetry::trace::Status) -> Self {
        match status {
            opentelemetry::trace::Status::Unset => SpanStatus::unset(),
            opentelemetry::trace::Status::Ok => SpanStatus::ok(),
            opentelemetry::trace::Status::Error { description } => {
                SpanStatus::error(description.to_string())
            }
        }
    }
}

impl From<StatusCode> for SpanStatus {
    fn from(code: StatusCode) -> Self {
        SpanStatus {
            code,
            description: String::new(),
        }
    }
}

/// The log level of a span (`mlflow.spanLogLevel`), used by MLflow to filter spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum SpanLogLevel {
    /// 10
    Debug = 10,
    /// 20
    Info = 20,
    /// 30
    Warning = 30,
    /// 40
    Error = 40,
    /// 50
    Critical = 50,
}

impl SpanLogLevel {
    /// The numeric level.
    pub fn value(self) -> u8 {
        self as u8
    }
}

/// The state of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceState {
    /// Unknown.
    Unspecified,
    /// Completed successfully (the root span did not fail).
    Ok,
    /// The root span failed.
    Error,
    /// Not finished yet.
    InProgress,
}

impl TraceState {
    /// MLflow's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceState::Unspecified => "STATE_UNSPECIFIED",
            TraceState::Ok => "OK",
            TraceState::Error => "ERROR",
            TraceState::InProgress => "IN_PROGRESS",
        }
    }

    /// Parses MLflow's name for a state.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "STATE_UNSPECIFIED" => Some(TraceState::Unspecified),
            "OK" => Some(TraceState::Ok),
            "ERROR" => Some(TraceState::Error),
            "IN_PROGRESS" => Some(TraceState::InProgress),
            _ => None,
        }
    }
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_types_spell_like_mlflow() {
        let names: Vec<&str> = SpanType::ALL.iter().map(SpanType::as_str).collect();
        assert_eq!(
            names,
            [
                "LLM",
                "CHAIN",
                "AGENT",
                "TOOL",
                "CHAT_MODEL",
                "RETRIEVER",
                "PARSER",
                "EMBEDDING",
                "RERANKER",
                "MEMORY",
                "UNKNOWN",
                "WORKFLOW",
                "TASK",
                "GUARDRAIL",
                "EVALUATOR"
            ]
        );
        for t in SpanType::ALL {
            assert_eq!(t.json(), crate::json::quote(t.as_str()));
            assert_eq!(t.as_str().parse::<SpanType>().expect("infallible"), t);
        }
    }

    #[test]
    fn custom_span_types_round_trip() {
        assert_eq!(SpanType::custom("LLM"), SpanType::Llm);
        let t = SpanType::custom("MY_STEP");
        assert_eq!(t.as_str(), "MY_STEP");
        assert_eq!(t.json(), "\"MY_STEP\"");
    }

    #[test]
    fn default_log_levels() {
        assert_eq!(SpanType::Llm.default_log_level(), SpanLogLevel::Info);
        assert_eq!(SpanType::Tool.default_log_level(), SpanLogLevel::Info);
        assert_eq!(SpanType::Chain.default_log_level(), SpanLogLevel::Debug);
        assert_eq!(SpanType::Unknown.default_log_level(), SpanLogLevel::Debug);
    }
}
