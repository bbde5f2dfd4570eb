//! Support code for the `#[trace]` macro. Not public API: it may change in any release.
#![allow(missing_docs, unreachable_pub, missing_debug_implementations)]

use std::fmt::Display;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Serialize;

pub use crate::span::start_span;
pub use crate::span::{LiveSpan, SpanBuilder, SpanGuard};
pub use crate::types::SpanType;

/// A value `#[trace]` can record as (part of) a span's inputs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as a span input because it does not implement `serde::Serialize`",
    label = "this argument is recorded in `mlflow.spanInputs`",
    note = "implement or derive `serde::Serialize`, or leave the argument out with `#[trace(skip(<name>))]`"
)]
pub trait CaptureInput {
    fn write_json(&self, out: &mut String);
}

impl<T: Serialize + ?Sized> CaptureInput for T {
    fn write_json(&self, out: &mut String) {
        out.push_str(&crate::json::dumps(self));
    }
}

/// A return value `#[trace]` can record as a span's outputs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as a span output because it does not implement `serde::Serialize`",
    label = "the return value is recorded in `mlflow.spanOutputs`",
    note = "implement or derive `serde::Serialize`, or turn output capture off with `#[trace(skip_output)]`"
)]
pub trait CaptureOutput {
    fn record_output(&self, span: &LiveSpan);
}

impl<T: Serialize + ?Sized> CaptureOutput for T {
    fn record_output(&self, span: &LiveSpan) {
        if !span.outputs_were_set() {
            span.set_outputs(self);
        }
    }
}

/// Builds the `{"arg": value, …}` object of a function's inputs.
pub struct Inputs {
    json: String,
}

impl Inputs {
    pub fn new() -> Self {
        Inputs {
            json: String::from("{"),
        }
    }

    pub fn arg<T: CaptureInput + ?Sized>(mut self, name: &str, value: &T) -> Self {
        if self.json.len() > 1 {
            self.json.push_str(", ");
        }
        self.json.push_str(&crate::json::quote(name));
        self.json.push_str(": ");
        value.write_json(&mut self.json);
        self
    }

    pub fn finish(mut self) -> String {
        self.json.push('}');
        self.json
    }
}

impl Default for Inputs {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanBuilder {
    /// Inputs already encoded as JSON.
    #[doc(hidden)]
    pub fn __inputs_json(self, build: impl FnOnce() -> String) -> Self {
        self.with_encoded_inputs(build)
    }
}

/// Wraps an error so the macro can pick the richest way to record it.
pub struct ErrorWrap<'a, E: ?Sized>(pub &'a E);

/// Errors implementing `std::error::Error`: message, type and source chain.
pub trait ViaError {
    fn record_on(&self, span: &LiveSpan);
}

impl<E: std::error::Error + ?Sized> ViaError for &ErrorWrap<'_, E> {
    fn record_on(&self, span: &LiveSpan) {
        span.record_exception(self.0);
    }
}

/// Anything else that can be displayed (`anyhow::Error`, `String`, …).
pub trait ViaDisplay {
    fn record_on(&self, span: &LiveSpan);
}

impl<E: Display + ?Sized> ViaDisplay for ErrorWrap<'_, E> {
    fn record_on(&self, span: &LiveSpan) {
        let type_name = crate::span::short_type_name(std::any::type_name::<E>());
        let message = self.0.to_string();
        let chain = format!("{:#}", self.0);
        span.record_exception_parts(type_name, &message, &format!("{type_name}: {chain}"));
    }
}

/// Runs a sync function body in `span`, recording a panic before letting it continue.
pub fn run_sync<R>(span: &LiveSpan, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            span.record_panic(&*payload);
            span.end();
            resume_unwind(payload)
        }
    }
}

pin_project_lite::pin_project! {
    /// An async function body running in a span; on completion `on_output` records the
    /// result before the span ends.
    #[must_use = "futures do nothing unless `.await`ed or polled"]
    pub struct Traced<F, H> {
        #[pin]
        inner: crate::span::Instrumented<F>,
        on_output: Option<H>,
    }
}

impl<F: Future, H: FnOnce(&LiveSpan, &F::Output)> Traced<F, H> {
    pub fn new(span: SpanBuilder, future: F, on_output: H) -> Self {
        Traced {
            inner: span.instrument_without_end(future),
            on_output: Some(on_output),
        }
    }
}

impl<F: Future, H: FnOnce(&LiveSpan, &F::Output)> Future for Traced<F, H> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let span = this.inner.span().clone();
        match this.inner.poll(cx) {
            Poll::Ready(output) => {
                if let Some(on_output) = this.on_output.take() {
                    on_output(&span, &output);
                }
                span.end();
                Poll::Ready(output)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
