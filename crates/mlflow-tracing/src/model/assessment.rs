//! Assessments of a trace or span: [`Feedback`] (a score, a judgement, with a rationale
//! or the error that prevented it) and [`Expectation`] (the ground truth), as
//! `mlflow.log_feedback` and `mlflow.log_expectation` log them, and the stored
//! [`Assessment`] read back.

use indexmap::IndexMap;
use serde_json::Value;

/// Who or what made an assessment: MLflow's `AssessmentSource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentSource {
    pub(crate) source_type: String,
    pub(crate) source_id: String,
}

impl AssessmentSource {
    /// A person (`HUMAN`), e.g. a reviewer's e-mail.
    pub fn human(id: impl Into<String>) -> Self {
        Self::new("HUMAN", id)
    }

    /// An LLM judge (`LLM_JUDGE`), e.g. the judge model's name.
    pub fn llm_judge(id: impl Into<String>) -> Self {
        Self::new("LLM_JUDGE", id)
    }

    /// Code (`CODE`), e.g. the scorer's name.
    pub fn code(id: impl Into<String>) -> Self {
        Self::new("CODE", id)
    }

    fn new(source_type: &str, id: impl Into<String>) -> Self {
        AssessmentSource {
            source_type: source_type.to_owned(),
            source_id: id.into(),
        }
    }

    /// `HUMAN`, `LLM_JUDGE` or `CODE`.
    pub fn source_type(&self) -> &str {
        &self.source_type
    }

    /// The source's id (`default` when none was given, as in MLflow).
    pub fn source_id(&self) -> &str {
        &self.source_id
    }
}

/// Why a feedback has no value: MLflow's `AssessmentError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentError {
    pub(crate) error_code: String,
    pub(crate) error_message: Option<String>,
    pub(crate) stack_trace: Option<String>,
}

impl AssessmentError {
    /// An error with a code (MLflow writes the exception's type name) and a message.
    pub fn new(error_code: impl Into<String>, error_message: impl Into<String>) -> Self {
        AssessmentError {
            error_code: error_code.into(),
            error_message: Some(error_message.into()),
            stack_trace: None,
        }
    }

    /// From a Rust error: its type name as the code, its message, and its chain of
    /// sources as the stack trace.
    pub fn from_error<E: std::error::Error + ?Sized>(error: &E) -> Self {
        let full = std::any::type_name::<E>();
        let code = full.rsplit("::").next().unwrap_or(full).to_owned();
        let message = error.to_string();
        let mut trace = format!("{code}: {message}");
        let mut source = error.source();
        while let Some(cause) = source {
            trace.push_str(&format!("\nCaused by: {cause}"));
            source = cause.source();
        }
        AssessmentError {
            error_code: code,
            error_message: Some(message),
            stack_trace: Some(trace),
        }
    }

    /// The error code.
    pub fn error_code(&self) -> &str {
        &self.error_code
    }

    /// The message.
    pub fn error_message(&self) -> Option<&str> {
        self.error_message.as_deref()
    }

    /// The stack trace.
    pub fn stack_trace(&self) -> Option<&str> {
        self.stack_trace.as_deref()
    }

    /// MLflow's `to_dictionary()`, as the SQL store keeps it.
    #[cfg_attr(
        not(any(feature = "local-store", feature = "mlflow-server")),
        allow(dead_code)
    )]
    pub(crate) fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("error_code".into(), self.error_code.clone().into());
        if let Some(m) = &self.error_message {
            map.insert("error_message".into(), m.clone().into());
        }
        if let Some(s) = &self.stack_trace {
            map.insert("stack_trace".into(), s.clone().into());
        }
        Value::Object(map)
    }

    #[cfg_attr(
        not(any(feature = "local-store", feature = "mlflow-server")),
        allow(dead_code)
    )]
    pub(crate) fn from_json(value: &Value) -> Option<Self> {
        Some(AssessmentError {
            error_code: value["error_code"].as_str()?.to_owned(),
            error_message: value["error_message"].as_str().map(str::to_owned),
            stack_trace: value["stack_trace"].as_str().map(str::to_owned),
        })
    }
}

/// The parts every new assessment has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewAssessment {
    pub(crate) kind: AssessmentKind,
    pub(crate) name: String,
    pub(crate) value: Value,
    pub(crate) error: Option<AssessmentError>,
    pub(crate) source: AssessmentSource,
    pub(crate) rationale: Option<String>,
    pub(crate) metadata: IndexMap<String, String>,
    pub(crate) span_id: Option<String>,
}

/// Feedback or expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssessmentKind {
    /// A judgement of the trace (`mlflow.log_feedback`).
    Feedback,
    /// The expected result (`mlflow.log_expectation`).
    Expectation,
}

impl AssessmentKind {
    /// `feedback` or `expectation`, as MLflow's SQL store writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AssessmentKind::Feedback => "feedback",
            AssessmentKind::Expectation => "expectation",
        }
    }
}

macro_rules! common_setters {
    () => {
        /// Who or what made it (default: MLflow's for this kind, id `default`).
        pub fn source(mut self, source: AssessmentSource) -> Self {
            self.0.source = source;
            self
        }

        /// A metadata entry.
        pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
            self.0.metadata.insert(key.into(), value.into());
            self
        }

        /// Attaches it to one span of the trace (its id, 16 hex digits).
        pub fn span_id(mut self, span_id: impl ToString) -> Self {
            self.0.span_id = Some(span_id.to_string());
            self
        }
    };
}

/// Feedback on a trace or span, as `mlflow.log_feedback` logs it: a value (a number, a
/// boolean, a string, or a list or map of those), or the error that prevented one.
///
/// ```
/// use mlflow_tracing::{AssessmentSource, Feedback};
///
/// let feedback = Feedback::new("correctness", true)
///     .rationale("The answer cites the right document.")
///     .source(AssessmentSource::llm_judge("gpt-4o-mini"));
/// # let _ = feedback;
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use = "feedback does nothing until logged"]
pub struct Feedback(pub(crate) NewAssessment);

impl Feedback {
    /// Feedback named `name` with `value`; the source is `CODE` with id `default`, as in
    /// MLflow.
    pub fn new(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Feedback(NewAssessment {
            kind: AssessmentKind::Feedback,
            name: name.into(),
            value: value.into(),
            error: None,
            source: AssessmentSource::code("default"),
            rationale: None,
            metadata: IndexMap::new(),
            span_id: None,
        })
    }

    /// Feedback named `name` that could not be computed: no value, this error.
    pub fn error(name: impl Into<String>, error: AssessmentError) -> Self {
        let mut feedback = Feedback::new(name, Value::Null);
        feedback.0.error = Some(error);
        feedback
    }

    /// Why this value.
    pub fn rationale(mut self, rationale: impl Into<String>) -> Self {
        self.0.rationale = Some(rationale.into());
        self
    }

    common_setters!();
}

/// The expected result for a trace or span, as `mlflow.log_expectation` logs it: any
/// JSON value.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "an expectation does nothing until logged"]
pub struct Expectation(pub(crate) NewAssessment);

impl Expectation {
    /// An expectation named `name` with `value`; the source is `HUMAN` with id `default`,
    /// as in MLflow.
    pub fn new(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Expectation(NewAssessment {
            kind: AssessmentKind::Expectation,
            name: name.into(),
            value: value.into(),
            error: None,
            source: AssessmentSource::human("default"),
            rationale: None,
            metadata: IndexMap::new(),
            span_id: None,
        })
    }

    common_setters!();
}

/// An assessment as stored, read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub(crate) assessment_id: String,
    pub(crate) trace_id: String,
    pub(crate) new: NewAssessment,
    pub(crate) create_time_ms: i64,
    pub(crate) last_update_time_ms: i64,
    pub(crate) valid: bool,
    pub(crate) overrides: Option<String>,
}

impl Assessment {
    /// `a-<32 hex>`.
    pub fn assessment_id(&self) -> &str {
        &self.assessment_id
    }

    /// The trace it assesses.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// Feedback or expectation.
    pub fn kind(&self) -> AssessmentKind {
        self.new.kind
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.new.name
    }

    /// Its value (`null` for feedback with an error).
    pub fn value(&self) -> &Value {
        &self.new.value
    }

    /// The error of a feedback that could not be computed.
    pub fn error(&self) -> Option<&AssessmentError> {
        self.new.error.as_ref()
    }

    /// Who or what made it.
    pub fn source(&self) -> &AssessmentSource {
        &self.new.source
    }

    /// Why (feedback).
    pub fn rationale(&self) -> Option<&str> {
        self.new.rationale.as_deref()
    }

    /// Its metadata.
    pub fn metadata(&self) -> &IndexMap<String, String> {
        &self.new.metadata
    }

    /// The span it is attached to, if any.
    pub fn span_id(&self) -> Option<&str> {
        self.new.span_id.as_deref()
    }

    /// When it was created, in milliseconds since the Unix epoch.
    pub fn create_time_ms(&self) -> i64 {
        self.create_time_ms
    }

    /// When it was last updated, in milliseconds since the Unix epoch.
    pub fn last_update_time_ms(&self) -> i64 {
        self.last_update_time_ms
    }

    /// Whether it is current (not overridden by a later one).
    pub fn valid(&self) -> bool {
        self.valid
    }

    /// The assessment it overrides, if any.
    pub fn overrides(&self) -> Option<&str> {
        self.overrides.as_deref()
    }
}

/// MLflow's `generate_assessment_id`: `a-` and 32 random hex digits.
#[cfg_attr(not(feature = "local-store"), allow(dead_code))]
pub(crate) fn new_assessment_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    // Two independently seeded SipHash outputs over the time and a counter: 128 random
    // bits, without a dependency on a random number crate.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let half = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(now);
        h.write_u64(n);
        h.finish()
    };
    format!("a-{:016x}{:016x}", half(), half())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_mlflows_and_differ() {
        let (a, b) = (new_assessment_id(), new_assessment_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 34);
        assert!(a.starts_with("a-"));
        assert!(a[2..].chars().all(|c| c.is_ascii_hexdigit()));
    }
}
