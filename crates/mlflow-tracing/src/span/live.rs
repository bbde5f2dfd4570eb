//! [`LiveSpan`]: the handle of a span being recorded, and the state behind it.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, Status, TraceContextExt as _, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use serde::Serialize;

use super::trace::set_last_active_trace_id;
use crate::assembly::{Msg, TraceShared};
use crate::json;
use crate::keys::span as attr;
use crate::model::{TraceUpdate, UpdateTraceError};
use crate::pipeline::Pipeline;
use crate::types::{SpanLogLevel, SpanStatus, SpanType, StatusCode};

const STATUS_UNSET: u8 = 0;
const STATUS_ERROR: u8 = 1;
const STATUS_OK: u8 = 2;

/// The live state of a recording span.
pub(crate) struct SpanInner {
    /// Holds the OpenTelemetry span; also the parent context of child spans.
    pub(super) cx: Context,
    pub(super) pipeline: Arc<Pipeline>,
    pub(super) trace: Arc<TraceShared>,
    pub(super) span_id: SpanId,
    pub(super) parent_id: Option<SpanId>,
    /// The root of its trace, or of this process's part of it (its parent is remote).
    pub(super) local_root: bool,
    /// When the span was created, in the process's order of span creation: of two spans
    /// that claim to be current, the later one is (see `context::current_span`).
    pub(super) seq: u64,
    /// 0 = not set; else the explicit (or raised) level.
    log_level: AtomicU8,
    default_log_level: AtomicU8,
    status: AtomicU8,
    outputs_set: AtomicBool,
    pub(super) ended: AtomicBool,
}

impl SpanInner {
    /// The state of a span just started in `pipeline`, holding it in `cx`.
    pub(super) fn new(
        cx: Context,
        pipeline: Arc<Pipeline>,
        trace: Arc<TraceShared>,
        span_id: SpanId,
        parent_id: Option<SpanId>,
        local_root: bool,
        span_type: &SpanType,
    ) -> SpanInner {
        SpanInner {
            seq: super::context::next_seq(),
            cx,
            pipeline,
            trace,
            span_id,
            parent_id,
            local_root,
            log_level: AtomicU8::new(0),
            default_log_level: AtomicU8::new(span_type.default_log_level().value()),
            status: AtomicU8::new(STATUS_UNSET),
            outputs_set: AtomicBool::new(false),
            ended: AtomicBool::new(false),
        }
    }

    fn set(&self, key: &'static str, value: String) {
        self.cx.span().set_attribute(KeyValue::new(key, value));
    }

    pub(super) fn set_status(&self, status: &SpanStatus) {
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

    pub(super) fn raise_log_level(&self, level: SpanLogLevel) {
        let level = level.value();
        let _ = self
            .log_level
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                (old < level).then_some(level)
            });
    }

    pub(super) fn end(&self, end_time: Option<SystemTime>) {
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
            set_last_active_trace_id(&self.trace.request_id);
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
    pub fn update_trace(&self, update: TraceUpdate) -> Result<(), UpdateTraceError> {
        let Some(inner) = self.inner.as_deref() else {
            return Err(UpdateTraceError::NoActiveSpan);
        };
        update.validate()?;
        let Some(ticket) = inner.pipeline.reserve_update(update.estimated_bytes()) else {
            return Err(UpdateTraceError::QueueFull);
        };
        let sent = inner.pipeline.send(Msg::Update {
            trace_id: inner.trace.otel_trace_id,
            update: Box::new(update),
            ticket,
        });
        if sent {
            Ok(())
        } else {
            Err(UpdateTraceError::ShutDown)
        }
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

    /// Whether this span records into `tracing`'s pipeline.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn records_into(&self, tracing: &crate::setup::Tracing) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| Arc::ptr_eq(&i.pipeline, tracing.pipeline()))
    }

    /// Sets the outputs from their JSON text (the `tracing` bridge encodes them itself).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn set_outputs_json(&self, json: Value) {
        if let Some(inner) = self.live() {
            inner.outputs_set.store(true, Ordering::Release);
            inner
                .cx
                .span()
                .set_attribute(KeyValue::new(attr::OUTPUTS, json));
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
