//! [`Tracing`]: the handle of a pipeline.

use std::sync::Arc;
use std::time::Duration;

use super::builder::TracingBuilder;
use super::global::{self, DefaultGuard};
use crate::config::{Destination, Settings};
use crate::error::{BuildError, FlushError};
use crate::pipeline::Pipeline;
use crate::stats::Stats;

/// A tracing pipeline: where spans go and how they get there.
///
/// Cheap to clone. Most programs never touch one: the global pipeline is configured from
/// the environment on first use. Build one with [`Tracing::builder`] to configure it in
/// code, to install it globally ([`TracingBuilder::install`]) or to scope it to a thread
/// ([`Tracing::set_default`], handy in tests).
#[derive(Clone, Debug)]
pub struct Tracing {
    inner: Arc<Pipeline>,
}

impl Tracing {
    pub(crate) fn from_pipeline(pipeline: Pipeline) -> Tracing {
        Tracing {
            inner: Arc::new(pipeline),
        }
    }

    /// The running pipeline.
    pub(crate) fn pipeline(&self) -> &Arc<Pipeline> {
        &self.inner
    }

    /// A builder reading the process environment for anything not set in code.
    pub fn builder() -> TracingBuilder {
        TracingBuilder::new()
    }

    /// A pipeline configured from the process environment alone.
    pub fn from_env() -> Result<Tracing, BuildError> {
        TracingBuilder::new().build()
    }

    /// A pipeline that records nothing: every span is a no-op.
    pub fn disabled() -> Tracing {
        Tracing::from_pipeline(Pipeline::start(&Settings::defaults(), Vec::new()))
    }

    /// Waits until every trace finished so far has been exported (or failed), at most the
    /// configured flush timeout (`MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS`, default 10 s).
    ///
    /// Traces whose root span has not ended yet are not waited for.
    pub fn flush(&self) -> Result<(), FlushError> {
        self.inner.flush(self.inner.flush_timeout())
    }

    /// Like [`flush`](Tracing::flush) with an explicit upper bound.
    pub fn flush_with_timeout(&self, timeout: Duration) -> Result<(), FlushError> {
        self.inner.flush(timeout)
    }

    /// [`flush`](Tracing::flush) for async code: completes when everything finished so
    /// far has been exported, or when the flush timeout has passed, without blocking the
    /// executor (the deadline is kept by a short-lived helper thread, so any executor
    /// works).
    pub fn flush_async(&self) -> impl std::future::Future<Output = Result<(), FlushError>> + use<> {
        let pipeline = self.inner.clone();
        let timeout = pipeline.flush_timeout();
        let waiting = pipeline.flush_barrier().wait_async(timeout);
        async move {
            match waiting.await {
                Some(errors) => pipeline.report_since_last_flush(errors),
                None => Err(FlushError::Timeout(timeout)),
            }
        }
    }

    /// Exports everything finished so far and stops the pipeline; later spans are no-ops.
    /// Waits at most the flush timeout.
    pub fn shutdown(&self) -> Result<(), FlushError> {
        self.inner.shutdown(self.inner.flush_timeout())
    }

    /// Like [`shutdown`](Tracing::shutdown) with an explicit upper bound.
    pub fn shutdown_with_timeout(&self, timeout: Duration) -> Result<(), FlushError> {
        self.inner.shutdown(timeout)
    }

    /// Whether spans started in this pipeline are recorded.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_active()
    }

    /// Counters: spans ended and dropped, traces completed and dropped, queue memory,
    /// and per destination the traces (or spans) exported and failed.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Where this pipeline sends traces (and span metrics), in the order the destinations
    /// were added.
    pub fn destinations(&self) -> &[Destination] {
        self.inner.destinations()
    }

    /// Makes this pipeline the default for new traces on the current thread until the
    /// returned guard is dropped; the guard then restores the default that was current
    /// when it was created. Spans started inside a span of this pipeline stay in it on any
    /// thread. Tests use this to run in parallel without global state.
    pub fn set_default(&self) -> DefaultGuard {
        global::set_default(self.clone())
    }

    /// Runs `f` with this pipeline as the thread's default.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.set_default();
        f()
    }
}
