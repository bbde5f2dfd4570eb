//! [`TraceUpdate`]: changes to a trace while it runs.

use crate::sync::ENTRY_OVERHEAD;
use crate::types::TraceState;

/// Changes to a trace while it runs: tags, metadata, session, user, previews, state.
///
/// ```
/// # let _g = mlflow_tracing::Tracing::disabled().set_default();
/// use mlflow_tracing::{start_span, update_current_trace, TraceUpdate};
///
/// let _span = start_span("chat").start();
/// let _ = update_current_trace(
///     TraceUpdate::new().tag("env", "prod").session_id("session-1").user("user-1"),
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use = "an update does nothing until passed to update_current_trace"]
pub struct TraceUpdate {
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) metadata: Vec<(String, String)>,
    pub(crate) client_request_id: Option<String>,
    pub(crate) request_preview: Option<String>,
    pub(crate) response_preview: Option<String>,
    pub(crate) state: Option<TraceState>,
    pub(crate) session_id: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) model_id: Option<String>,
}

impl TraceUpdate {
    /// An empty update.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a trace tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Sets several trace tags.
    pub fn tags<K: Into<String>, V: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.tags
            .extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Sets a trace metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// Sets several trace metadata entries.
    pub fn metadata_entries<K: Into<String>, V: Into<String>>(
        mut self,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.metadata
            .extend(entries.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Sets the client request id.
    pub fn client_request_id(mut self, id: impl Into<String>) -> Self {
        self.client_request_id = Some(id.into());
        self
    }

    /// Sets the request preview (instead of the one derived from the root span's inputs).
    pub fn request_preview(mut self, preview: impl Into<String>) -> Self {
        self.request_preview = Some(preview.into());
        self
    }

    /// Sets the response preview (instead of the one derived from the root span's outputs).
    pub fn response_preview(mut self, preview: impl Into<String>) -> Self {
        self.response_preview = Some(preview.into());
        self
    }

    /// Sets the trace state, which then wins over the root span's status. Only
    /// [`TraceState::Ok`] and [`TraceState::Error`] are accepted.
    pub fn state(mut self, state: TraceState) -> Self {
        self.state = Some(state);
        self
    }

    /// Sets the session id (metadata `mlflow.trace.session`).
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Sets the end user (metadata `mlflow.trace.user`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets the model id (metadata `mlflow.modelId`).
    pub fn model_id(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = Some(model_id.into());
        self
    }

    /// What the update costs in memory while it waits to be applied (and then in its
    /// trace), an estimate that errs on the high side.
    pub(crate) fn estimated_bytes(&self) -> usize {
        let pairs = |v: &[(String, String)]| -> usize {
            v.iter()
                .map(|(k, v)| k.len() + v.len() + 2 * ENTRY_OVERHEAD)
                .sum()
        };
        let option = |v: &Option<String>| v.as_ref().map_or(0, |s| s.len() + ENTRY_OVERHEAD);
        256 + pairs(&self.tags)
            + pairs(&self.metadata)
            + [
                &self.client_request_id,
                &self.request_preview,
                &self.response_preview,
                &self.session_id,
                &self.user,
                &self.model_id,
            ]
            .into_iter()
            .map(option)
            .sum::<usize>()
    }

    pub(crate) fn validate(&self) -> Result<(), UpdateTraceError> {
        match self.state {
            Some(state @ (TraceState::InProgress | TraceState::Unspecified)) => {
                Err(UpdateTraceError::InvalidState(state))
            }
            _ => Ok(()),
        }
    }
}

/// Why [`update_current_trace`](crate::update_current_trace) did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateTraceError {
    /// There is no current span (or it is not recorded).
    #[error("no active span: update_current_trace must be called inside a span")]
    NoActiveSpan,
    /// The state is not `OK` or `ERROR`.
    #[error("invalid trace state {0}: expected OK or ERROR")]
    InvalidState(TraceState),
    /// The span's pipeline was shut down: the update cannot be applied.
    #[error("tracing was shut down: the update was not applied")]
    ShutDown,
    /// The export queue is full (`MLFLOW_TRACE_MAX_QUEUE_BYTES`): the update was not
    /// applied.
    #[error("the export queue is full (MLFLOW_TRACE_MAX_QUEUE_BYTES): the update was not applied")]
    QueueFull,
}
