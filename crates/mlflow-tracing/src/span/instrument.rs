//! [`Instrumented`]: a future running inside a span.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::Poll;

use opentelemetry::Context;

use super::LiveSpan;

pin_project_lite::pin_project! {
    /// A future running inside a span; see
    /// [`SpanBuilder::instrument`](crate::SpanBuilder::instrument).
    #[must_use = "futures do nothing unless `.await`ed or polled; the span ends when dropped"]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        span: LiveSpan,
        cx: Context,
        done: bool,
        end_on_ready: bool,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.done {
                // Dropped before completion (cancelled): the span ends here.
                this.span.end();
            }
        }
    }
}

impl<F> fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumented")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<F> Instrumented<F> {
    pub(super) fn new(inner: F, span: LiveSpan, cx: Context, end_on_ready: bool) -> Self {
        Instrumented {
            inner,
            span,
            cx,
            done: false,
            end_on_ready,
        }
    }

    /// The span the future runs in.
    pub fn span(&self) -> &LiveSpan {
        &self.span
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task_cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = this.cx.clone().attach();
        let inner = this.inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(task_cx))) {
            Ok(Poll::Ready(output)) => {
                *this.done = true;
                if *this.end_on_ready {
                    this.span.end();
                }
                Poll::Ready(output)
            }
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                *this.done = true;
                this.span.record_panic(&*payload);
                this.span.end();
                resume_unwind(payload)
            }
        }
    }
}
