//! The current span, and carrying it across threads and tasks.
//!
//! The current MLflow span lives in the OpenTelemetry [`Context`] under a key of its own,
//! so MLflow spans do not become the parents of unrelated OpenTelemetry instrumentation in
//! the same program (MLflow's default, isolated mode). Like any OpenTelemetry context it
//! is per thread: to continue a trace on another thread or in a spawned task, capture a
//! [`TraceContext`] and attach it there.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::pin::Pin;
use std::task::Poll;

use opentelemetry::Context;
use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::trace::{SpanContext, TraceContextExt as _};

use super::live::{LiveSpan, SpanInner};

/// What the context holds for MLflow.
#[derive(Clone)]
pub(crate) enum CurrentSpan {
    /// A recording span.
    Recording(Arc<SpanInner>),
    /// Inside a trace that was sampled out: new spans are no-ops. The context of the span
    /// that was not recorded, when known, so that requests made inside it still say so
    /// (W3C `traceparent` with the sampled flag clear).
    Unsampled(Option<SpanContext>),
    /// A span of another process (W3C trace context from an incoming request): the next
    /// span started here continues its trace, as the root of this process's part.
    Remote(SpanContext),
}

impl CurrentSpan {
    /// The OpenTelemetry context of the span (or remote parent) this stands for.
    pub(crate) fn span_context(&self) -> Option<SpanContext> {
        match self {
            CurrentSpan::Recording(inner) => Some(inner.cx.span().span_context().clone()),
            CurrentSpan::Unsampled(cx) => cx.clone(),
            CurrentSpan::Remote(cx) => Some(cx.clone()),
        }
    }
}

impl CurrentSpan {
    /// When its span was created (see [`next_seq`]); 0 for a sampled-out trace and for a
    /// remote parent (a span entered through the `tracing` bridge wins over them).
    pub(crate) fn seq(&self) -> u64 {
        match self {
            CurrentSpan::Recording(inner) => inner.seq,
            CurrentSpan::Unsampled(_) | CurrentSpan::Remote(_) => 0,
        }
    }
}

/// The next number in the process's order of span creation.
pub(crate) fn next_seq() -> u64 {
    static SEQ: AtomicU64 = AtomicU64::new(1);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    /// The spans the `tracing` bridge made current on this thread (its `tracing` spans
    /// that are entered): (layer, `tracing` span id, creation number, span). Kept apart
    /// from the OpenTelemetry context, which other layers (`tracing-opentelemetry`)
    /// replace with contexts of their own while their spans are entered.
    static ENTERED: RefCell<Vec<(u64, u64, u64, CurrentSpan)>> = const { RefCell::new(Vec::new()) };
}

/// Makes `span` current on this thread until [`exit_bridged`] with the same `owner` and
/// `id`; `seq` is its creation number.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) fn enter_bridged(owner: u64, id: u64, seq: u64, span: CurrentSpan) {
    let _ = ENTERED.try_with(|entered| {
        if let Ok(mut entered) = entered.try_borrow_mut() {
            entered.push((owner, id, seq, span));
        }
    });
}

/// Ends the latest [`enter_bridged`] of `owner` and `id` (spans may exit out of order).
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) fn exit_bridged(owner: u64, id: u64) {
    let removed = ENTERED
        .try_with(|entered| {
            let mut entered = entered.try_borrow_mut().ok()?;
            let at = entered
                .iter()
                .rposition(|(o, i, _, _)| (*o, *i) == (owner, id))?;
            Some(entered.remove(at))
        })
        .ok()
        .flatten();
    // Dropped outside the borrow.
    drop(removed);
}

/// The MLflow span current on this thread, if any: the span of the OpenTelemetry context,
/// or the latest span the `tracing` bridge entered, whichever was created last (a span
/// started inside an entered `tracing` span is current within it, and a `tracing` span
/// entered inside an MLflow span is current within that).
pub(crate) fn current_span() -> Option<CurrentSpan> {
    let from_context = Context::map_current(|cx| cx.get::<CurrentSpan>().cloned());
    let bridged = ENTERED
        .try_with(|entered| {
            let entered = entered.try_borrow().ok()?;
            entered.last().map(|(_, _, seq, span)| (*seq, span.clone()))
        })
        .ok()
        .flatten();
    match (from_context, bridged) {
        (Some(cx), Some((seq, bridged))) => Some(if seq > cx.seq() { bridged } else { cx }),
        (None, Some((_, bridged))) => Some(bridged),
        (cx, None) => cx,
    }
}

/// Whether the context's span is `span`.
fn same(in_context: Option<&CurrentSpan>, span: &CurrentSpan) -> bool {
    match (in_context, span) {
        (Some(CurrentSpan::Recording(a)), CurrentSpan::Recording(b)) => Arc::ptr_eq(a, b),
        (Some(CurrentSpan::Unsampled(a)), CurrentSpan::Unsampled(b)) => a == b,
        (Some(CurrentSpan::Remote(a)), CurrentSpan::Remote(b)) => a == b,
        _ => false,
    }
}

/// The span that is current on this thread (started with [`SpanBuilder::start`] or inside
/// [`SpanBuilder::instrument`]), or `None`.
///
/// [`SpanBuilder::start`]: crate::SpanBuilder::start
/// [`SpanBuilder::instrument`]: crate::SpanBuilder::instrument
pub fn get_current_active_span() -> Option<LiveSpan> {
    match current_span() {
        Some(CurrentSpan::Recording(inner)) => Some(LiveSpan::from_inner(inner)),
        _ => None,
    }
}

/// The MLflow trace id (`tr-…`) of the current span, or `None`.
pub fn get_active_trace_id() -> Option<String> {
    get_current_active_span().and_then(|s| s.trace_id().map(str::to_owned))
}

/// The current span, captured to be continued on another thread or task.
///
/// ```
/// # let _g = mlflow_tracing::Tracing::disabled().set_default();
/// use mlflow_tracing::{start_span, TraceContext};
///
/// let _root = start_span("request").start();
/// let cx = TraceContext::current();
/// std::thread::spawn(move || {
///     let _attached = cx.attach();
///     let _child = start_span("work").start(); // a child of "request"
/// })
/// .join()
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct TraceContext {
    cx: Context,
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let span = match self.cx.get::<CurrentSpan>() {
            Some(CurrentSpan::Recording(inner)) => {
                format!("{:?}", LiveSpan::from_inner(inner.clone()))
            }
            Some(CurrentSpan::Unsampled(_)) => "unsampled".to_owned(),
            Some(CurrentSpan::Remote(cx)) => format!(
                "remote(trace_id: {}, span_id: {})",
                cx.trace_id(),
                cx.span_id()
            ),
            None => "none".to_owned(),
        };
        f.debug_struct("TraceContext").field("span", &span).finish()
    }
}

impl TraceContext {
    /// Captures this thread's current context, including the current MLflow span.
    pub fn current() -> Self {
        let cx = Context::current();
        let cx = match current_span() {
            Some(span) if !same(cx.get::<CurrentSpan>(), &span) => cx.with_value(span),
            _ => cx,
        };
        TraceContext { cx }
    }

    /// A context as it is.
    pub(super) fn from_context(cx: Context) -> Self {
        TraceContext { cx }
    }

    /// A context whose current span is `span`.
    pub fn with_span(span: &LiveSpan) -> Self {
        let current = match &span.inner {
            Some(inner) => CurrentSpan::Recording(inner.clone()),
            None => CurrentSpan::Unsampled(None),
        };
        TraceContext {
            cx: Context::current().with_value(current),
        }
    }

    /// A context whose current span is a span of another process: the next span started
    /// in it continues that trace (its parent is `parent`, remote), as the root of this
    /// process's part of the trace. When `parent` is not sampled, spans started in it are
    /// not recorded (MLflow's parent-based sampling), and requests made in it carry the
    /// context on with the sampled flag clear. Parsed from request headers by
    /// [`RemoteParent`](crate::propagation::RemoteParent).
    pub fn remote(parent: &SpanContext) -> Self {
        let current = if !parent.is_valid() {
            return TraceContext {
                cx: Context::current(),
            };
        } else if parent.is_sampled() {
            CurrentSpan::Remote(parent.clone())
        } else {
            CurrentSpan::Unsampled(Some(parent.clone()))
        };
        TraceContext {
            cx: Context::current().with_value(current),
        }
    }

    /// The OpenTelemetry span context of the span this context carries (a recorded span,
    /// a remote parent, or a span that was sampled out), for propagation.
    pub(crate) fn span_context(&self) -> Option<SpanContext> {
        self.cx
            .get::<CurrentSpan>()
            .and_then(CurrentSpan::span_context)
    }

    /// The span this context carries.
    pub fn span(&self) -> Option<LiveSpan> {
        match self.cx.get::<CurrentSpan>() {
            Some(CurrentSpan::Recording(inner)) => Some(LiveSpan::from_inner(inner.clone())),
            _ => None,
        }
    }

    /// Makes this context current on this thread until the guard is dropped.
    pub fn attach(&self) -> ContextGuard {
        ContextGuard {
            _guard: self.cx.clone().attach(),
        }
    }

    /// Runs `f` with this context current.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.attach();
        f()
    }

    /// Makes this context current whenever `future` is polled; use it for futures handed
    /// to `tokio::spawn` or another executor.
    pub fn wrap<F: Future>(&self, future: F) -> InTrace<F> {
        InTrace {
            inner: future.with_context(self.cx.clone()),
        }
    }
}

pin_project_lite::pin_project! {
    /// A future that runs with a captured [`TraceContext`] current whenever it is polled;
    /// see [`TraceContext::wrap`] and [`TraceFutureExt::in_current_trace`].
    #[must_use = "futures do nothing unless `.await`ed or polled"]
    pub struct InTrace<F> {
        #[pin]
        inner: WithContext<F>,
    }
}

impl<F> fmt::Debug for InTrace<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InTrace").finish_non_exhaustive()
    }
}

impl<F: Future> Future for InTrace<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// Extension for futures: carry the current MLflow context into a spawned task.
pub trait TraceFutureExt: Future + Sized {
    /// Runs this future with the current context (and its MLflow span), wherever it is
    /// polled: `tokio::spawn(work().in_current_trace())`.
    fn in_current_trace(self) -> InTrace<Self> {
        TraceContext::current().wrap(self)
    }
}

impl<F: Future> TraceFutureExt for F {}

/// Restores the previous context when dropped. Not `Send`: drop it on the thread that
/// attached it.
#[must_use = "the context is detached as soon as the guard is dropped"]
pub struct ContextGuard {
    _guard: opentelemetry::ContextGuard,
}

impl fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContextGuard")
    }
}
