//! The span API: [`start_span`](crate::start_span) → [`SpanBuilder`] → [`SpanGuard`] /
//! [`LiveSpan`].
//!
//! Spans are OpenTelemetry SDK spans. MLflow's attributes are set on them with MLflow's
//! keys and JSON encoding; everything else (trace assembly, previews, export) happens on
//! the pipeline's background threads.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::Poll;
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, Status, TraceContextExt as _, TraceId, Tracer as _};
use opentelemetry::{Context, ContextGuard, KeyValue, Value};
use serde::Serialize;

use crate::context::CurrentSpan;
use crate::keys::span as attr;
use crate::pipeline::{Msg, Pipeline, TraceShared};
use crate::trace_api::TraceUpdate;
use crate::types::{SpanLogLevel, SpanStatus, SpanType, StatusCode};
use crate::{global, json};

const STATUS_UNSET: u8 = 0;
const STATUS_ERROR: u8 = 1;
const STATUS_OK: u8 = 2;

/// The live state of a recording span.
pub(crate) struct SpanInner {
    /// Holds the OpenTelemetry span; also the parent context of child spans.
    cx: Context,
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) trace: Arc<TraceShared>,
    span_id: SpanId,
    parent_id: Option<SpanId>,
    /// 0 = not set; else the explicit (or raised) level.
    log_level: AtomicU8,
    default_log_level: AtomicU8,
    status: AtomicU8,
    outputs_set: AtomicBool,
    ended: AtomicBool,
}

impl SpanInner {
    fn set(&self, key: &'static str, value: String) {
        self.cx.span().set_attribute(KeyValue::new(key, value));
    }

    fn set_status(&self, status: &SpanStatus) {
        let new = match status.code() {
            StatusCode::Unset => return,
            StatusCode::Error => STATUS_ERROR,
            StatusCode::Ok => STATUS_OK,
        };
        // OpenTelemetry: once OK, the status is final.
        let updated = self
            .status
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                (old != STATUS_OK).then_some(new)
            })
            .is_ok();
        if updated {
            self.cx.span().set_status(status.to_otel());
        }
    }

    fn raise_log_level(&self, level: SpanLogLevel) {
        let level = level.value();
        let _ = self
            .log_level
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                (old < level).then_some(level)
            });
    }

    fn end(&self, end_time: Option<SystemTime>) {
        if self.ended.swap(true, Ordering::AcqRel) {
            return;
        }
        let span = self.cx.span();
        if self.status.load(Ordering::Acquire) != STATUS_ERROR {
            span.set_status(Status::Ok);
        }
        let level = match self.log_level.load(Ordering::Acquire) {
            0 => self.default_log_level.load(Ordering::Acquire),
            explicit => explicit,
        };
        span.set_attribute(KeyValue::new(attr::LOG_LEVEL, log_level_json(level)));
        if self.parent_id.is_none() {
            crate::trace_api::set_last_active_trace_id(&self.trace.request_id);
        }
        match end_time {
            Some(t) => span.end_with_timestamp(t),
            None => span.end(),
        }
    }
}

impl Drop for SpanInner {
    fn drop(&mut self) {
        // A span whose every handle is gone has ended.
        self.end(None);
    }
}

fn log_level_json(level: u8) -> &'static str {
    match level {
        10 => "10",
        20 => "20",
        30 => "30",
        40 => "40",
        50 => "50",
        _ => "20",
    }
}

/// A handle to a span that is being recorded.
///
/// Cheap to clone; every clone refers to the same span. A span that is not recorded
/// (tracing disabled or the trace sampled out) is a no-op handle: every method does
/// nothing and costs next to nothing, and [`is_recording`](LiveSpan::is_recording) is
/// `false`.
///
/// Values given to [`set_inputs`](LiveSpan::set_inputs),
/// [`set_outputs`](LiveSpan::set_outputs) and [`set_attribute`](LiveSpan::set_attribute)
/// are stored as JSON, the way MLflow stores them.
#[derive(Clone, Default)]
pub struct LiveSpan {
    pub(crate) inner: Option<Arc<SpanInner>>,
}

impl fmt::Debug for LiveSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(inner) => f
                .debug_struct("LiveSpan")
                .field("trace_id", &inner.trace.request_id)
                .field("span_id", &inner.span_id)
                .finish(),
            None => f.write_str("LiveSpan(no-op)"),
        }
    }
}

impl LiveSpan {
    /// A span that records nothing.
    pub fn noop() -> Self {
        LiveSpan { inner: None }
    }

    pub(crate) fn from_inner(inner: Arc<SpanInner>) -> Self {
        LiveSpan { inner: Some(inner) }
    }

    /// Whether this span is recorded (`false` for no-op spans).
    pub fn is_recording(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| !i.ended.load(Ordering::Acquire))
    }

    /// The MLflow trace id, `tr-<32 hex>`; `None` for a no-op span.
    pub fn trace_id(&self) -> Option<&str> {
        self.inner.as_deref().map(|i| &*i.trace.request_id)
    }

    /// The OpenTelemetry trace id (the MLflow trace id without `tr-`).
    pub fn otel_trace_id(&self) -> Option<TraceId> {
        self.inner.as_deref().map(|i| i.trace.otel_trace_id)
    }

    /// The span id (prints as 16 hex digits).
    pub fn span_id(&self) -> Option<SpanId> {
        self.inner.as_deref().map(|i| i.span_id)
    }

    /// The parent's span id; `None` for a root span or a no-op span.
    pub fn parent_id(&self) -> Option<SpanId> {
        self.inner.as_deref().and_then(|i| i.parent_id)
    }

    fn live(&self) -> Option<&SpanInner> {
        self.inner
            .as_deref()
            .filter(|i| !i.ended.load(Ordering::Acquire))
    }

    /// Sets the span's inputs (`mlflow.spanInputs`), any `Serialize` value.
    pub fn set_inputs<T: Serialize>(&self, inputs: T) {
        if let Some(inner) = self.live() {
            inner.set(attr::INPUTS, json::dumps(&inputs));
        }
    }

    /// Sets the span's outputs (`mlflow.spanOutputs`), any `Serialize` value.
    pub fn set_outputs<T: Serialize>(&self, outputs: T) {
        if let Some(inner) = self.live() {
            inner.outputs_set.store(true, Ordering::Release);
            inner.set(attr::OUTPUTS, json::dumps(&outputs));
        }
    }

    /// Sets an attribute; the value is stored as JSON (`7` → `"7"`, `"hi"` → `"\"hi\""`).
    pub fn set_attribute<T: Serialize>(&self, key: impl Into<Cow<'static, str>>, value: T) {
        if let Some(inner) = self.live() {
            let key: Cow<'static, str> = key.into();
            inner
                .cx
                .span()
                .set_attribute(KeyValue::new(key, json::dumps(&value)));
        }
    }

    /// Sets several attributes, each stored as JSON.
    pub fn set_attributes<K, V>(&self, attributes: impl IntoIterator<Item = (K, V)>)
    where
        K: Into<Cow<'static, str>>,
        V: Serialize,
    {
        if let Some(inner) = self.live() {
            let span = inner.cx.span();
            for (key, value) in attributes {
                let key: Cow<'static, str> = key.into();
                span.set_attribute(KeyValue::new(key, json::dumps(&value)));
            }
        }
    }

    /// Sets an OpenTelemetry attribute as it is, without MLflow's JSON encoding. MLflow
    /// shows such values raw.
    pub fn set_otel_attribute(&self, attribute: KeyValue) {
        if let Some(inner) = self.live() {
            inner.cx.span().set_attribute(attribute);
        }
    }

    /// Changes the span type.
    pub fn set_span_type(&self, span_type: impl Into<SpanType>) {
        if let Some(inner) = self.live() {
            let span_type = span_type.into();
            inner
                .default_log_level
                .store(span_type.default_log_level().value(), Ordering::Release);
            inner
                .cx
                .span()
                .set_attribute(KeyValue::new(attr::SPAN_TYPE, span_type.json()));
        }
    }

    /// Sets the span's log level (`mlflow.spanLogLevel`). Without one, LLM, chat model,
    /// tool, retriever, agent and embedding spans get INFO and others DEBUG.
    pub fn set_log_level(&self, level: SpanLogLevel) {
        if let Some(inner) = self.live() {
            inner.log_level.store(level.value(), Ordering::Release);
        }
    }

    /// Sets a description (`mlflow.spanDescription`).
    pub fn set_description(&self, description: &str) {
        if let Some(inner) = self.live() {
            inner.set(attr::DESCRIPTION, json::quote(description));
        }
    }

    /// Sets the status. A span that ends without an error status ends `OK`.
    pub fn set_status(&self, status: impl Into<SpanStatus>) {
        if let Some(inner) = self.live() {
            inner.set_status(&status.into());
        }
    }

    /// Adds an event with plain (not JSON-encoded) attribute values. An event named
    /// `exception` raises the span's log level to ERROR.
    pub fn add_event<K, V>(
        &self,
        name: impl Into<Cow<'static, str>>,
        attributes: impl IntoIterator<Item = (K, V)>,
    ) where
        K: Into<opentelemetry::Key>,
        V: Into<Value>,
    {
        if let Some(inner) = self.live() {
            let name: Cow<'static, str> = name.into();
            if name == "exception" {
                inner.raise_log_level(SpanLogLevel::Error);
            }
            let attributes = attributes
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v))
                .collect::<Vec<_>>();
            inner.cx.span().add_event(name, attributes);
        }
    }

    /// Records an error: an `exception` event with `exception.message`,
    /// `exception.type` (the error's type name) and `exception.stacktrace` (the error
    /// and its chain of sources), and the status ERROR `"<Type>: <message>"`, as MLflow
    /// records a Python exception. (No backtrace is captured: symbolizing one takes
    /// milliseconds, too much for the thread that records the span.)
    pub fn record_exception<E: std::error::Error + ?Sized>(&self, error: &E) {
        if self.live().is_none() {
            return;
        }
        let type_name = short_type_name(std::any::type_name::<E>());
        let message = error.to_string();
        let mut stacktrace = format!("{type_name}: {message}");
        let mut source = error.source();
        if source.is_some() {
            stacktrace.push_str("\n\nCaused by:");
        }
        let mut depth = 0;
        while let Some(cause) = source {
            stacktrace.push_str(&format!("\n    {depth}: {cause}"));
            depth += 1;
            source = cause.source();
        }
        self.record_exception_parts(type_name, &message, &stacktrace);
    }

    /// Records an error from its parts: the `exception` event and the ERROR status
    /// `"<type_name>: <message>"`.
    pub fn record_exception_parts(&self, type_name: &str, message: &str, stacktrace: &str) {
        if self.live().is_none() {
            return;
        }
        self.add_event(
            "exception",
            [
                ("exception.message", Value::from(message.to_owned())),
                ("exception.type", Value::from(type_name.to_owned())),
                ("exception.stacktrace", Value::from(stacktrace.to_owned())),
            ],
        );
        self.set_status(SpanStatus::error(format!("{type_name}: {message}")));
    }

    /// Updates this span's trace (tags, metadata, session, user, …); see
    /// [`update_current_trace`](crate::update_current_trace).
    pub fn update_trace(&self, update: TraceUpdate) -> Result<(), crate::UpdateTraceError> {
        let Some(inner) = self.inner.as_deref() else {
            return Err(crate::UpdateTraceError::NoActiveSpan);
        };
        update.validate()?;
        inner.pipeline.send(Msg::Update {
            trace_id: inner.trace.otel_trace_id,
            update: Box::new(update),
        });
        Ok(())
    }

    /// Ends the span: status OK unless it is ERROR, default log level, end time now.
    /// Later calls do nothing.
    pub fn end(&self) {
        if let Some(inner) = &self.inner {
            inner.end(None);
        }
    }

    /// Ends the span at `end_time`.
    pub fn end_at(&self, end_time: SystemTime) {
        if let Some(inner) = &self.inner {
            inner.end(Some(end_time));
        }
    }

    pub(crate) fn outputs_were_set(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.outputs_set.load(Ordering::Acquire))
    }

    /// Records a panic payload caught from traced code.
    pub(crate) fn record_panic(&self, payload: &(dyn std::any::Any + Send)) {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the thread panicked".to_owned());
        self.record_exception_parts("panic", &message, &format!("panic: {message}"));
    }
}

/// The last path segment of a type name, without generics:
/// `my_app::errors::ValueError<T>` → `ValueError`, `dyn core::error::Error` → `Error`.
pub(crate) fn short_type_name(full: &str) -> &str {
    let base = full.split('<').next().unwrap_or(full);
    let base = base.trim_start_matches('&').trim_start_matches("dyn ");
    base.rsplit("::").next().unwrap_or(base).trim()
}

/// A span that is the current span of this thread until dropped; dropping it ends the
/// span.
///
/// Do not hold it across an `.await`: the thread may run other tasks meanwhile, which
/// would see this span as current. Use [`SpanBuilder::instrument`] for async code.
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

/// Where a new span goes, decided when its builder is created.
enum Target {
    /// Tracing is off: a no-op span.
    Noop,
    /// Inside a sampled-out trace: a no-op span that keeps children no-op too.
    Unsampled,
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
        let current = crate::context::current_span();
        let target = match (current, pipeline) {
            (Some(CurrentSpan::Recording(parent)), pipeline)
                if pipeline
                    .as_ref()
                    .is_none_or(|p| Arc::ptr_eq(p, &parent.pipeline)) =>
            {
                Target::Child(parent)
            }
            (Some(CurrentSpan::Unsampled), None) => Target::Unsampled,
            (_, Some(pipeline)) => Target::Root(pipeline),
            (_, None) => Target::Root(global::current_pipeline()),
        };
        let target = match target {
            Target::Root(p) if !p.is_active() => Target::Noop,
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
        }
    }

    fn will_record(&self) -> bool {
        matches!(self.target, Target::Child(_) | Target::Root(_))
    }

    /// The span type (default `UNKNOWN`).
    pub fn span_type(mut self, span_type: impl Into<SpanType>) -> Self {
        self.span_type = span_type.into();
        self
    }

    /// Adds an attribute, stored as JSON.
    pub fn attribute<T: Serialize>(mut self, key: impl Into<Cow<'static, str>>, value: T) -> Self {
        if self.will_record() {
            let key: Cow<'static, str> = key.into();
            self.attributes
                .push(KeyValue::new(key, json::dumps(&value)));
        }
        self
    }

    /// Adds several attributes, each stored as JSON.
    pub fn attributes<K, V>(mut self, attributes: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<Cow<'static, str>>,
        V: Serialize,
    {
        if self.will_record() {
            for (key, value) in attributes {
                let key: Cow<'static, str> = key.into();
                self.attributes
                    .push(KeyValue::new(key, json::dumps(&value)));
            }
        }
        self
    }

    /// Sets the span's inputs.
    pub fn inputs<T: Serialize>(mut self, inputs: T) -> Self {
        if self.will_record() {
            self.inputs = Some(json::dumps(&inputs));
        }
        self
    }

    /// Sets inputs encoded by `build`, called only when the span will be recorded.
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

    /// Makes `parent` the parent span (it may live on another thread). Call it before
    /// setting attributes or inputs.
    pub fn parent(mut self, parent: &LiveSpan) -> Self {
        self.target = match &parent.inner {
            Some(inner) => Target::Child(inner.clone()),
            None => Target::Unsampled,
        };
        self
    }

    /// Starts a new trace even if a span is current. Call it (like
    /// [`parent`](SpanBuilder::parent)) before setting attributes or inputs.
    pub fn no_parent(mut self) -> Self {
        self.target = match std::mem::replace(&mut self.target, Target::Noop) {
            Target::Child(parent) => Target::Root(parent.pipeline.clone()),
            Target::Unsampled => Target::Root(global::current_pipeline()),
            other => other,
        };
        if matches!(&self.target, Target::Root(p) if !p.is_active()) {
            self.target = Target::Noop;
        }
        self
    }

    /// Starts the span and makes it current on this thread until the guard is dropped.
    pub fn start(self) -> SpanGuard {
        let (span, current) = self.create();
        let cx = current.map(|c| Context::current().with_value(c).attach());
        SpanGuard { span, _cx: cx }
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
        Instrumented {
            inner: future,
            span,
            cx,
            done: false,
            end_on_ready: true,
        }
    }

    /// Like [`instrument`](SpanBuilder::instrument), but the caller ends the span once it
    /// has recorded the output.
    pub(crate) fn instrument_without_end<F: Future>(self, future: F) -> Instrumented<F> {
        let mut instrumented = self.instrument(future);
        instrumented.end_on_ready = false;
        instrumented
    }

    /// Creates the span; the second value is what becomes current with it.
    pub(crate) fn create(self) -> (LiveSpan, Option<CurrentSpan>) {
        let (pipeline, parent) = match self.target {
            Target::Noop => return (LiveSpan::noop(), None),
            Target::Unsampled => return (LiveSpan::noop(), Some(CurrentSpan::Unsampled)),
            Target::Child(parent) => (parent.pipeline.clone(), Some(parent)),
            Target::Root(pipeline) => (pipeline, None),
        };
        if !pipeline.is_active() {
            return (LiveSpan::noop(), None);
        }
        let mut builder = opentelemetry::trace::SpanBuilder::from_name(self.name.clone());
        builder.start_time = self.start_time;
        let parent_cx = parent.as_ref().map(|p| p.cx.clone()).unwrap_or_default();
        let span = pipeline.tracer().build_with_context(builder, &parent_cx);
        use opentelemetry::trace::Span as _;
        if !span.is_recording() {
            return (LiveSpan::noop(), Some(CurrentSpan::Unsampled));
        }
        let span_context = span.span_context().clone();
        let trace = match &parent {
            Some(parent) => {
                parent.trace.started.fetch_add(1, Ordering::AcqRel);
                parent.trace.clone()
            }
            None => {
                let trace = Arc::new(TraceShared::new(
                    span_context.trace_id(),
                    self.name.to_string(),
                ));
                pipeline.send(Msg::TraceStarted(trace.clone()));
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
        let inner = Arc::new(SpanInner {
            cx: Context::new().with_span(span),
            pipeline,
            span_id: span_context.span_id(),
            parent_id: parent.as_ref().map(|p| p.span_id),
            trace,
            log_level: AtomicU8::new(0),
            default_log_level: AtomicU8::new(self.span_type.default_log_level().value()),
            status: AtomicU8::new(STATUS_UNSET),
            outputs_set: AtomicBool::new(false),
            ended: AtomicBool::new(false),
        });
        (
            LiveSpan::from_inner(inner.clone()),
            Some(CurrentSpan::Recording(inner)),
        )
    }
}

pin_project_lite::pin_project! {
    /// A future running inside a span; see [`SpanBuilder::instrument`].
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_names() {
        assert_eq!(short_type_name("my_app::errors::ValueError"), "ValueError");
        assert_eq!(
            short_type_name("my_app::Wrapper<alloc::string::String>"),
            "Wrapper"
        );
        assert_eq!(short_type_name("dyn core::error::Error"), "Error");
        assert_eq!(short_type_name("std::io::error::Error"), "Error");
        assert_eq!(short_type_name("ValueError"), "ValueError");
    }
}
