//! [`SpanGuard`]: a span that is current on this thread until dropped.

use std::fmt;

use opentelemetry::ContextGuard;

use super::LiveSpan;

/// A span that is the current span of this thread until dropped; dropping it ends the
/// span.
///
/// Do not hold it across an `.await`: the thread may run other tasks meanwhile, which
/// would see this span as current. Use [`SpanBuilder::instrument`](crate::SpanBuilder::instrument) for async code.
/// (With `clippy.toml`'s `await-holding-invalid-types = ["mlflow_tracing::SpanGuard"]`,
/// clippy catches it.)
#[must_use = "the span ends as soon as the guard is dropped"]
pub struct SpanGuard {
    span: LiveSpan,
    _cx: Option<ContextGuard>,
}

impl fmt::Debug for SpanGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SpanGuard").field(&self.span).finish()
    }
}

impl SpanGuard {
    pub(super) fn new(span: LiveSpan, cx: Option<ContextGuard>) -> Self {
        SpanGuard { span, _cx: cx }
    }

    /// The span.
    pub fn span(&self) -> &LiveSpan {
        &self.span
    }
}

impl std::ops::Deref for SpanGuard {
    type Target = LiveSpan;
    fn deref(&self) -> &LiveSpan {
        &self.span
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        if std::thread::panicking() && self.span.is_recording() {
            self.span.record_exception_parts(
                "panic",
                "the thread panicked while this span was active",
                "panic",
            );
        }
        self.span.end();
    }
}
