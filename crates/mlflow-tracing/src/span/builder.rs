//! [`SpanBuilder`]: configures a span before it starts, and decides where it goes: a child
//! of the current (or given) span, or the root of a new trace in the default pipeline.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use serde::Serialize;

use super::context::{self, CurrentSpan};
use super::guard::SpanGuard;
use super::instrument::Instrumented;
use super::live::{LiveSpan, SpanInner};
use crate::assembly::{Msg, TraceShared};
use crate::json;
use crate::keys::span as attr;
use crate::pipeline::Pipeline;
use crate::setup::{self, Tracing};
use crate::types::SpanType;

/// Starts building a span named `name`.
///
/// Its parent is the span current on this thread, if any; otherwise it starts a new trace
/// in the default pipeline (the thread's scoped one, else the global one, configured from
/// the environment on first use).
///
/// ```
/// # let _g = mlflow_tracing::Tracing::disabled().set_default();
/// use mlflow_tracing::{start_span, SpanType};
///
/// let span = start_span("retrieve").span_type(SpanType::Retriever).start();
/// span.set_inputs("what is mlflow");
/// span.set_outputs(vec!["doc-1", "doc-2"]);
/// // the span ends when `span` is dropped
/// ```
pub fn start_span(name: impl Into<Cow<'static, str>>) -> SpanBuilder {
    SpanBuilder::new(name.into(), None)
}

impl Tracing {
    /// Starts a span in this pipeline; see [`start_span`](crate::start_span). A current span
    /// of another pipeline is not used as the parent.
    pub fn start_span(&self, name: impl Into<Cow<'static, str>>) -> SpanBuilder {
        SpanBuilder::new(name.into(), Some(self.pipeline().clone()))
    }
}

/// How many attributes MLflow sets on a span itself (`mlflow.traceRequestId`,
/// `mlflow.spanType`, `mlflow.spanFunctionName`, inputs, outputs, `mlflow.spanLogLevel`),
/// and one more for the caller.
const OWN_ATTRIBUTES: usize = 7;

/// Where a new span goes, decided when its builder is created.
enum Target {
    /// Tracing is off: a no-op span.
    Noop,
    /// Inside a sampled-out trace: a no-op span that keeps children no-op too.
    Unsampled(Option<SpanContext>),
    /// The root of this process's part of a trace continued from another process.
    Remote(Arc<Pipeline>, SpanContext),
    /// A child of this span.
    Child(Arc<SpanInner>),
    /// A new trace in this pipeline.
    Root(Arc<Pipeline>),
}

/// Configures a span before it starts. Created by [`start_span`](crate::start_span).
///
/// The parent is the current span when the builder is created, unless
/// [`parent`](SpanBuilder::parent) or [`no_parent`](SpanBuilder::no_parent) says
/// otherwise. Attribute and input values are encoded right away, so pass them only when
/// they are at hand; for a span that will not be recorded they are not encoded at all.
#[must_use = "a span builder does nothing until started"]
pub struct SpanBuilder {
    name: Cow<'static, str>,
    span_type: SpanType,
    attributes: Vec<KeyValue>,
    function_name: Option<Cow<'static, str>>,
    inputs: Option<String>,
    start_time: Option<SystemTime>,
    target: Target,
    /// The pipeline named when the builder was made (`Tracing::start_span`).
    pipeline: Option<Arc<Pipeline>>,
}

impl fmt::Debug for SpanBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanBuilder")
            .field("name", &self.name)
            .field("span_type", &self.span_type)
            .finish_non_exhaustive()
    }
}

impl SpanBuilder {
    pub(crate) fn new(name: Cow<'static, str>, pipeline: Option<Arc<Pipeline>>) -> Self {
        let current = context::current_span();
        let named = pipeline.clone();
        let target = match (current, pipeline) {
            (Some(CurrentSpan::Recording(parent)), pipeline)
                if pipeline
                    .as_ref()
                    .is_none_or(|p| Arc::ptr_eq(p, &parent.pipeline)) =>
            {
                Target::Child(parent)
            }
            (Some(CurrentSpan::Unsampled(cx)), None) => Target::Unsampled(cx),
            (Some(CurrentSpan::Remote(cx)), pipeline) => {
                Target::Remote(pipeline.unwrap_or_else(setup::current_pipeline), cx)
            }
            (_, Some(pipeline)) => Target::Root(pipeline),
            (_, None) => Target::Root(setup::current_pipeline()),
        };
        let target = match target {
            Target::Root(p) | Target::Remote(p, _)
                if !p.is_active() || super::scope::disabled_here() =>
            {
                Target::Noop
            }
            other => other,
        };
        SpanBuilder {
            name,
            span_type: SpanType::Unknown,
            attributes: Vec::new(),
            function_name: None,
            inputs: None,
            start_time: None,
            target,
            pipeline: named,
        }
    }

    /// Whether the span will be recorded, as things stand (a later
    /// [`parent`](SpanBuilder::parent) may still change it).
    fn will_record(&self) -> bool {
        matches!(
            self.target,
            Target::Child(_) | Target::Root(_) | Target::Remote(..)
        )
    }

    /// The span type (default `UNKNOWN`).
    pub fn span_type(mut self, span_type: impl Into<SpanType>) -> Self {
        self.span_type = span_type.into();
        self
    }

    /// Adds an attribute, stored as JSON.
    pub fn attribute<T: Serialize>(mut self, key: impl Into<Cow<'static, str>>, value: T) -> Self {
        let key: Cow<'static, str> = key.into();
        self.attributes
            .push(KeyValue::new(key, json::dumps(&value)));
        self
    }

    /// Adds several attributes, each stored as JSON.
    pub fn attributes<K, V>(mut self, attributes: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<Cow<'static, str>>,
        V: Serialize,
    {
        for (key, value) in attributes {
            let key: Cow<'static, str> = key.into();
            self.attributes
                .push(KeyValue::new(key, json::dumps(&value)));
        }
        self
    }

    /// Sets the span's inputs.
    pub fn inputs<T: Serialize>(mut self, inputs: T) -> Self {
        self.inputs = Some(json::dumps(&inputs));
        self
    }

    /// Sets inputs encoded by `build`, called only when the span will be recorded (for
    /// `#[trace]`, which never changes the parent afterwards).
    pub(crate) fn with_encoded_inputs(mut self, build: impl FnOnce() -> String) -> Self {
        if self.will_record() {
            self.inputs = Some(build());
        }
        self
    }

    /// Records the traced function's name (`mlflow.spanFunctionName`).
    pub fn function_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.function_name = Some(name.into());
        self
    }

    /// Starts the span at `start_time` instead of now.
    pub fn start_time(mut self, start_time: SystemTime) -> Self {
        self.start_time = Some(start_time);
        self
    }

    /// Makes `parent` the parent span (it may live on another thread).
    pub fn parent(mut self, parent: &LiveSpan) -> Self {
        self.target = match &parent.inner {
            Some(inner) => Target::Child(inner.clone()),
            None => Target::Unsampled(None),
        };
        self
    }

    /// Makes a span of another process the parent: the span continues that trace, as the
    /// root of this process's part of it (MLflow's
    /// `set_tracing_context_from_http_request_headers`). The trace id is the remote
    /// one, so both processes' spans form one trace in MLflow. When `parent` is not
    /// sampled, the span is not recorded; an invalid context is ignored (a new trace).
    /// [`RemoteParent`](crate::propagation::RemoteParent) parses it from request headers.
    pub fn remote_parent(mut self, parent: &SpanContext) -> Self {
        if !parent.is_valid() {
            return self.no_parent();
        }
        // A new trace (here) in the pipeline named, else the default one, whatever span
        // is current.
        let pipeline = match &self.pipeline {
            Some(p) => p.clone(),
            None => setup::current_pipeline(),
        };
        self.target = if !pipeline.is_active() {
            Target::Noop
        } else if parent.is_sampled() {
            Target::Remote(pipeline, parent.clone())
        } else {
            Target::Unsampled(Some(parent.clone()))
        };
        self
    }

    /// Starts a new trace even if a span is current.
    pub fn no_parent(mut self) -> Self {
        self.target = match std::mem::replace(&mut self.target, Target::Noop) {
            Target::Child(parent) => Target::Root(parent.pipeline.clone()),
            Target::Unsampled(_) => Target::Root(
                self.pipeline
                    .clone()
                    .unwrap_or_else(setup::current_pipeline),
            ),
            Target::Remote(p, _) => Target::Root(p),
            other => other,
        };
        if matches!(&self.target, Target::Root(p) if !p.is_active() || super::scope::disabled_here())
        {
            self.target = Target::Noop;
        }
        self
    }

    /// Starts the span and makes it current on this thread until the guard is dropped.
    pub fn start(self) -> SpanGuard {
        let (span, current) = self.create();
        let cx = current.map(|c| Context::current().with_value(c).attach());
        SpanGuard::new(span, cx)
    }

    /// Starts the span without making it current (MLflow's `start_span_no_context`).
    /// It ends with [`LiveSpan::end`], or when its last handle is dropped.
    pub fn start_detached(self) -> LiveSpan {
        self.create().0
    }

    /// Runs `f` inside the span and ends it afterwards.
    pub fn in_scope<R>(self, f: impl FnOnce(&LiveSpan) -> R) -> R {
        let guard = self.start();
        f(&guard)
    }

    /// Runs `future` inside the span: the span is current whenever the future is polled,
    /// on whatever thread, and ends when the future completes or is dropped. A panic
    /// while polling is recorded on the span and then resumed.
    pub fn instrument<F: Future>(self, future: F) -> Instrumented<F> {
        let (span, current) = self.create();
        let cx = match current {
            Some(c) => Context::current().with_value(c),
            None => Context::current(),
        };
        Instrumented::new(future, span, cx, true)
    }

    /// Like [`instrument`](SpanBuilder::instrument), but the caller ends the span once it
    /// has recorded the output.
    pub(crate) fn instrument_without_end<F: Future>(self, future: F) -> Instrumented<F> {
        let (span, current) = self.create();
        let cx = match current {
            Some(c) => Context::current().with_value(c),
            None => Context::current(),
        };
        Instrumented::new(future, span, cx, false)
    }

    /// Creates the span; the second value is what becomes current with it.
    pub(crate) fn create(self) -> (LiveSpan, Option<CurrentSpan>) {
        let (pipeline, parent, remote) = match self.target {
            Target::Noop => return (LiveSpan::noop(), None),
            Target::Unsampled(cx) => return (LiveSpan::noop(), Some(CurrentSpan::Unsampled(cx))),
            Target::Child(parent) => (parent.pipeline.clone(), Some(parent), None),
            Target::Root(pipeline) => (pipeline, None, None),
            Target::Remote(pipeline, cx) => (pipeline, None, Some(cx)),
        };
        if !pipeline.is_active() {
            return (LiveSpan::noop(), None);
        }
        // A new trace is sampled first, on its id alone (nothing is allocated for a trace
        // sampled out), then reserves the memory its state takes: when the queue is full,
        // the trace is not recorded at all (counted, reported).
        // A trace continued from another process has the caller's id and sampling decision
        // (the sampler is parent-based): only its memory is reserved here.
        let (trace_ticket, primed) = match (&parent, &remote) {
            (Some(_), _) => (None, None),
            (None, Some(_)) => match pipeline.reserve_trace(&self.name) {
                Some(ticket) => (Some(ticket), None),
                None => return (LiveSpan::noop(), Some(CurrentSpan::Unsampled(None))),
            },
            (None, None) => {
                let Some(id) = pipeline.sample_new_trace() else {
                    return (LiveSpan::noop(), Some(CurrentSpan::Unsampled(None)));
                };
                match pipeline.reserve_trace(&self.name) {
                    Some(ticket) => (Some(ticket), Some(crate::pipeline::PrimedTraceId::new(id))),
                    None => return (LiveSpan::noop(), Some(CurrentSpan::Unsampled(None))),
                }
            }
        };
        let mut builder = opentelemetry::trace::SpanBuilder::from_name(self.name.clone());
        builder.start_time = self.start_time;
        // The span's attribute list, allocated once with room for MLflow's own (trace id,
        // type, function name, inputs, outputs, log level) and the builder's: the SDK keeps
        // this vector, so setting them later does not grow it.
        builder.attributes = Some(Vec::with_capacity(OWN_ATTRIBUTES + self.attributes.len()));
        let parent_cx = match (&parent, &remote) {
            (Some(p), _) => p.cx.clone(),
            (None, Some(remote)) => Context::new().with_remote_span_context(remote.clone()),
            (None, None) => Context::new(),
        };
        let span = pipeline.tracer().build_with_context(builder, &parent_cx);
        drop(primed);
        use opentelemetry::trace::Span as _;
        if !span.is_recording() {
            let cx = span.span_context().clone();
            return (LiveSpan::noop(), Some(CurrentSpan::Unsampled(Some(cx))));
        }
        let span_context = span.span_context().clone();
        let trace = match &parent {
            Some(parent) => {
                parent.trace.started.fetch_add(1, Ordering::AcqRel);
                parent.trace.clone()
            }
            None => {
                let mut trace_ticket = trace_ticket.unwrap_or_default();
                let scope = super::scope::for_new_trace(&pipeline, &mut trace_ticket);
                let trace = Arc::new(TraceShared::new(
                    span_context.trace_id(),
                    self.name.to_string(),
                    pipeline.tracks_open_spans(),
                    scope,
                ));
                // When the pipeline was just shut down, the trace's spans are counted as they end.
                let _ = pipeline.send(Msg::TraceStarted(trace.clone(), trace_ticket));
                trace
            }
        };
        let mut span = span;
        // MLflow's attribute order: trace id, span type, attributes, function name, inputs.
        span.set_attribute(KeyValue::new(attr::REQUEST_ID, trace.request_id_value()));
        span.set_attribute(KeyValue::new(attr::SPAN_TYPE, self.span_type.json()));
        for kv in self.attributes {
            span.set_attribute(kv);
        }
        if let Some(function_name) = self.function_name {
            span.set_attribute(KeyValue::new(
                attr::FUNCTION_NAME,
                json::quote(&function_name),
            ));
        }
        if let Some(inputs) = self.inputs {
            span.set_attribute(KeyValue::new(attr::INPUTS, inputs));
        }
        let inner = Arc::new(SpanInner::new(
            Context::new().with_span(span),
            pipeline,
            trace,
            span_context.span_id(),
            parent
                .as_ref()
                .map(|p| p.span_id)
                .or(remote.as_ref().map(SpanContext::span_id)),
            parent.is_none(),
            &self.span_type,
        ));
        super::timeout::register(&inner);
        (
            LiveSpan::from_inner(inner.clone()),
            Some(CurrentSpan::Recording(inner)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::destination::collect::Collected;

    #[test]
    fn spans_reach_every_span_sink_and_traces_every_trace_sink() {
        let (first, second, store) = (
            Collected::default(),
            Collected::default(),
            Collected::default(),
        );
        let tracing = Tracing::from_pipeline(Pipeline::start(
            &Settings::defaults(),
            vec![
                first.span_sink("first"),
                store.trace_sink("store"),
                second.span_sink("second"),
            ],
        ));
        tracing.in_scope(|| {
            let _root = start_span("root").start();
            drop(start_span("child").start());
        });
        tracing.flush().expect("flush");
        assert_eq!(first.names(), ["child", "root"]);
        assert_eq!(second.names(), ["child", "root"]);
        assert_eq!(store.names(), ["root"]);
        let stats = tracing.stats();
        assert_eq!(stats.spans_dropped, 0);
        assert_eq!(
            stats
                .destinations
                .iter()
                .map(|d| d.exported)
                .collect::<Vec<_>>(),
            [2, 1, 2]
        );
    }
}
