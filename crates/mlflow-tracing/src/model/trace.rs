//! A finished trace: [`Trace`] and its [`TraceInfo`].

use indexmap::IndexMap;
use opentelemetry::trace::SpanId;

use super::Span;
use crate::keys;
use crate::types::TraceState;

/// A finished trace: its [`TraceInfo`] and its spans.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    info: TraceInfo,
    spans: Vec<Span>,
}

impl Trace {
    pub(crate) fn new(info: TraceInfo, spans: Vec<Span>) -> Self {
        Trace { info, spans }
    }

    /// The trace's info: id, timing, state, tags, metadata, previews.
    pub fn info(&self) -> &TraceInfo {
        &self.info
    }

    /// The spans, in the order they ended.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The root span: the one without a parent or, in this process's part of a trace
    /// continued from another process, the one whose parent is remote.
    pub fn root_span(&self) -> Option<&Span> {
        self.spans
            .iter()
            .find(|s| s.parent_id.is_none())
            .or_else(|| self.spans.iter().find(|s| s.parent_is_remote))
    }

    /// The span of another process this trace continues (W3C trace context), when this
    /// is this process's part of a distributed trace (it has no span without a parent):
    /// its root's parent.
    pub fn remote_parent_id(&self) -> Option<SpanId> {
        if self.spans.iter().any(|s| s.parent_id.is_none()) {
            return None;
        }
        self.spans
            .iter()
            .find(|s| s.parent_is_remote)
            .and_then(|s| s.parent_id)
    }

    /// The first span with this name.
    pub fn span(&self, name: &str) -> Option<&Span> {
        self.spans.iter().find(|s| s.name == name)
    }

    /// The direct children of `parent`, by start time.
    pub fn children(&self, parent: &Span) -> Vec<&Span> {
        let mut children: Vec<&Span> = self
            .spans
            .iter()
            .filter(|s| s.parent_id == Some(parent.span_id))
            .collect();
        children.sort_by_key(|s| s.start_time_ns);
        children
    }
}

/// Trace-level information (MLflow's `TraceInfo` V3).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceInfo {
    pub(crate) trace_id: String,
    pub(crate) experiment_id: Option<String>,
    pub(crate) request_time_ms: i64,
    pub(crate) execution_duration_ms: Option<i64>,
    pub(crate) state: TraceState,
    pub(crate) request_preview: Option<String>,
    pub(crate) response_preview: Option<String>,
    pub(crate) client_request_id: Option<String>,
    pub(crate) metadata: IndexMap<String, String>,
    pub(crate) tags: IndexMap<String, String>,
}

impl TraceInfo {
    /// The MLflow trace id, `tr-<32 hex>`.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The experiment the trace belongs to, when known.
    pub fn experiment_id(&self) -> Option<&str> {
        self.experiment_id.as_deref()
    }

    /// When the root span started, in milliseconds since the Unix epoch.
    pub fn request_time_ms(&self) -> i64 {
        self.request_time_ms
    }

    /// How long the root span ran, in whole milliseconds.
    pub fn execution_duration_ms(&self) -> Option<i64> {
        self.execution_duration_ms
    }

    /// The trace's state.
    pub fn state(&self) -> TraceState {
        self.state
    }

    /// The request preview shown in MLflow's trace list.
    pub fn request_preview(&self) -> Option<&str> {
        self.request_preview.as_deref()
    }

    /// The response preview shown in MLflow's trace list.
    pub fn response_preview(&self) -> Option<&str> {
        self.response_preview.as_deref()
    }

    /// The client request id set with [`update_current_trace`](crate::update_current_trace).
    pub fn client_request_id(&self) -> Option<&str> {
        self.client_request_id.as_deref()
    }

    /// Trace metadata (`mlflow.user`, `mlflow.trace.session`, user metadata, …).
    pub fn metadata(&self) -> &IndexMap<String, String> {
        &self.metadata
    }

    /// Trace tags (`mlflow.traceName`, user tags, …).
    pub fn tags(&self) -> &IndexMap<String, String> {
        &self.tags
    }

    /// The trace name (the root span's name).
    pub fn name(&self) -> Option<&str> {
        self.tags.get(keys::tag::TRACE_NAME).map(String::as_str)
    }
}

/// A trace's info and its number of spans, as listed by
/// [`TraceReader::list_traces`](crate::TraceReader::list_traces).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSummary {
    info: TraceInfo,
    span_count: Option<usize>,
}

impl TraceSummary {
    #[cfg_attr(
        not(any(feature = "local-store", feature = "mlflow-server")),
        allow(dead_code)
    )]
    pub(crate) fn new(info: TraceInfo, span_count: Option<usize>) -> Self {
        TraceSummary { info, span_count }
    }

    /// The trace's info.
    pub fn info(&self) -> &TraceInfo {
        &self.info
    }

    /// How many spans the trace has, when the store says so without reading them.
    pub fn span_count(&self) -> Option<usize> {
        self.span_count
    }
}
