//! [`TraceScope`]: tags, metadata, session and user attached to every trace started in a
//! scope, without a span; or tracing turned off for the scope. MLflow's
//! `mlflow.tracing.context(metadata=, tags=, enabled=, session_id=, user=)`.

use std::sync::Arc;

use opentelemetry::Context;

use super::context::{ContextGuard, TraceContext};
use crate::keys::metadata as meta;
use crate::model::TraceUpdate;
use crate::pipeline::Pipeline;
use crate::sync::Ticket;

/// What every trace started in a scope carries; see [`TraceScope`]. Nested scopes are
/// merged when entered: the inner value of a key wins. The update the assembler applies
/// is built once, when the scope is entered, and shared by every trace started in it.
#[derive(Debug, Clone, Default, PartialEq)]
struct ScopeValues {
    metadata: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    enabled: Option<bool>,
    /// `None` when there are no tags or metadata.
    update: Option<Arc<TraceUpdate>>,
}

/// Trace-level information for every trace started while the scope is entered — on this
/// thread, and in futures and threads the [`TraceContext`] carries it to — without
/// creating a span: MLflow's `mlflow.tracing.context(...)`. Scopes nest; for a key set
/// at several levels the innermost value wins. `enabled(false)` records no new trace in
/// the scope (spans of a trace started outside it go on).
///
/// ```
/// # let _g = mlflow_tracing::Tracing::disabled().set_default();
/// use mlflow_tracing::{start_span, TraceScope};
///
/// let _scope = TraceScope::new().session_id("session-123").user("user-456")
///     .tag("project", "my-project").enter();
/// let _span = start_span("agent").start(); // its trace carries all three
/// ```
///
/// For a future, or another thread: `scope.context()` is a [`TraceContext`] to
/// [`wrap`](TraceContext::wrap) the future with or [`attach`](TraceContext::attach) there.
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use = "a scope does nothing until entered"]
pub struct TraceScope {
    values: ScopeValues,
}

impl TraceScope {
    /// An empty scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a metadata entry (immutable once the trace is created, as in MLflow).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.metadata.push((key.into(), value.into()));
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.tags.push((key.into(), value.into()));
        self
    }

    /// The session (`mlflow.trace.session` metadata).
    pub fn session_id(self, session_id: impl Into<String>) -> Self {
        self.metadata(meta::TRACE_SESSION, session_id)
    }

    /// The user (`mlflow.trace.user` metadata).
    pub fn user(self, user: impl Into<String>) -> Self {
        self.metadata(meta::TRACE_USER, user)
    }

    /// Links the scope's traces to an MLflow run (`mlflow.sourceRun` metadata).
    pub fn source_run(self, run_id: impl Into<String>) -> Self {
        self.metadata(meta::SOURCE_RUN, run_id)
    }

    /// Links the scope's traces to a model (`mlflow.modelId` metadata), as MLflow's
    /// `set_active_model` does for the thread.
    pub fn model_id(self, model_id: impl Into<String>) -> Self {
        self.metadata(meta::MODEL_ID, model_id)
    }

    /// Whether traces are recorded in the scope; unset inherits the outer scope's.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.values.enabled = Some(enabled);
        self
    }

    /// The current context with this scope merged into the current one.
    pub fn context(self) -> TraceContext {
        let merged = Context::map_current(|cx| match cx.get::<Arc<ScopeValues>>() {
            Some(outer) => {
                let mut merged = (**outer).clone();
                merged.metadata.extend(self.values.metadata);
                merged.tags.extend(self.values.tags);
                merged.enabled = self.values.enabled.or(outer.enabled);
                merged
            }
            None => self.values,
        });
        let mut merged = merged;
        merged.update = (!merged.tags.is_empty() || !merged.metadata.is_empty()).then(|| {
            Arc::new(
                TraceUpdate::new()
                    .tags(merged.tags.iter().cloned())
                    .metadata_entries(merged.metadata.iter().cloned()),
            )
        });
        TraceContext::from_context(Context::current().with_value(Arc::new(merged)))
    }

    /// Enters the scope on this thread until the guard is dropped.
    pub fn enter(self) -> ContextGuard {
        self.context().attach()
    }

    /// Runs `f` in the scope.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        self.context().in_scope(f)
    }
}

/// Whether the current scope turns new traces off.
pub(super) fn disabled_here() -> bool {
    Context::map_current(|cx| {
        cx.get::<Arc<ScopeValues>>()
            .is_some_and(|s| s.enabled == Some(false))
    })
}

/// The current scope's tags and metadata for a trace just started (`None` without a
/// scope), their memory reserved into the trace's `ticket`. When the queue is full they
/// are not applied (the trace itself fits: it was reserved first).
pub(super) fn for_new_trace(pipeline: &Pipeline, ticket: &mut Ticket) -> Option<Arc<TraceUpdate>> {
    let update =
        Context::map_current(|cx| cx.get::<Arc<ScopeValues>>().and_then(|s| s.update.clone()))?;
    let reserved = pipeline.reserve_update(update.estimated_bytes())?;
    ticket.merge(reserved);
    Some(update)
}
