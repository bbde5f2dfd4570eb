//! Distributed tracing: one trace across processes and languages, carried in HTTP
//! headers as [W3C Trace Context](https://www.w3.org/TR/trace-context/) (`traceparent`,
//! `tracestate`), as MLflow's `get_tracing_context_headers_for_http_request` and
//! `set_tracing_context_from_http_request_headers` carry it.
//!
//! The caller sends the headers of its current span ([`TraceHeaders::current`]); the
//! service parses them ([`RemoteParent::from_headers`]) and starts its spans in the
//! remote parent's trace ([`RemoteParent::context`], [`SpanBuilder::remote_parent`]).
//! Both sides export to the same MLflow store (the same `mlflow.db`, or the same tracking
//! server) and MLflow shows one trace: the caller's spans, and under the caller's span
//! the service's. The service's first span is the root of its part of the trace (its
//! parent is remote): like MLflow, that part is stored as spans of the caller's trace
//! (`tr-<the W3C trace id>`), and the trace's info (name, previews, tags, metadata) is
//! the caller's.
//!
//! ```
//! # let _g = mlflow_tracing::Tracing::disabled().set_default();
//! use std::collections::HashMap;
//! use mlflow_tracing::propagation::{RemoteParent, TraceHeaders};
//! use mlflow_tracing::start_span;
//!
//! // Client: the headers of the current span go with the request.
//! let _span = start_span("call-service").start();
//! let headers: Vec<(&str, String)> = TraceHeaders::current()
//!     .map(|h| h.iter().map(|(k, v)| (k, v.to_owned())).collect())
//!     .unwrap_or_default();
//!
//! // Service: continue the trace from the request's headers.
//! let incoming: HashMap<String, String> = HashMap::from([(
//!     "traceparent".to_owned(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
//! )]);
//! let parent = RemoteParent::extract(&incoming)?;
//! let _server_span = start_span("handle").remote_parent(parent.span_context()).start();
//! # Ok::<(), mlflow_tracing::propagation::InvalidTraceContext>(())
//! ```
//!
//! With the feature `reqwest`, `propagation::reqwest` sends the headers and records a
//! client span for each request; with `tower` (and `axum`), `propagation::tower`
//! continues the trace and records a server span for each request a service handles.
//!
//! [`SpanBuilder::remote_parent`]: crate::SpanBuilder::remote_parent

#[cfg(any(feature = "reqwest", feature = "tower"))]
mod http_semconv;
mod parse;
#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(feature = "tower")]
pub mod tower;

use std::fmt;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

pub use parse::InvalidTraceContext;

use crate::span::{LiveSpan, TraceContext};

/// The `traceparent` header's name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header's name.
pub const TRACESTATE: &str = "tracestate";

/// The W3C trace context headers of a span, for an outgoing request.
#[derive(Clone, PartialEq, Eq)]
pub struct TraceHeaders {
    traceparent: String,
    tracestate: Option<String>,
}

impl fmt::Debug for TraceHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceHeaders")
            .field("traceparent", &self.traceparent)
            .field("tracestate", &self.tracestate)
            .finish()
    }
}

impl TraceHeaders {
    /// The headers of the span current on this thread (or task): its trace and span id,
    /// and the sampled flag (set when it is recorded, clear inside a trace that was
    /// sampled out), with the `tracestate` it inherited. `None` without a current span
    /// (MLflow's Python SDK then sends no headers either).
    pub fn current() -> Option<TraceHeaders> {
        TraceContext::current()
            .span_context()
            .and_then(|cx| TraceHeaders::from_span_context(&cx))
    }

    /// The headers of `span`; `None` for a span that is not recorded.
    pub fn of(span: &LiveSpan) -> Option<TraceHeaders> {
        TraceContext::with_span(span)
            .span_context()
            .and_then(|cx| TraceHeaders::from_span_context(&cx))
    }

    /// The headers of an OpenTelemetry span context; `None` when it is invalid.
    pub fn from_span_context(cx: &SpanContext) -> Option<TraceHeaders> {
        if !cx.is_valid() {
            return None;
        }
        let traceparent = parse::format_traceparent(cx.trace_id(), cx.span_id(), cx.is_sampled());
        let tracestate = Some(cx.trace_state().header()).filter(|s| !s.is_empty());
        Some(TraceHeaders {
            traceparent,
            tracestate,
        })
    }

    /// The `traceparent` value: `00-<trace id>-<span id>-<flags>`.
    pub fn traceparent(&self) -> &str {
        &self.traceparent
    }

    /// The `tracestate` value, when the trace has one.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// The headers as (name, value) pairs: `traceparent`, then `tracestate` if any.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        std::iter::once((TRACEPARENT, self.traceparent.as_str()))
            .chain(self.tracestate.as_deref().map(|s| (TRACESTATE, s)))
    }

    /// Sets the headers on `carrier` (any OpenTelemetry [`Injector`], such as a
    /// `HashMap<String, String>`).
    pub fn inject(&self, carrier: &mut dyn Injector) {
        for (name, value) in self.iter() {
            carrier.set(name, value.to_owned());
        }
    }
}

/// A span of another process, parsed from W3C trace context headers: the parent of the
/// spans that continue its trace here.
#[derive(Clone, PartialEq)]
pub struct RemoteParent {
    cx: SpanContext,
}

impl fmt::Debug for RemoteParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteParent")
            .field("trace_id", &self.cx.trace_id())
            .field("span_id", &self.cx.span_id())
            .field("sampled", &self.cx.is_sampled())
            .finish()
    }
}

impl RemoteParent {
    /// Parses a `traceparent` value, and the `tracestate` that came with it.
    ///
    /// Follows the W3C rules: version `ff`, a trace id or parent id of all zeros,
    /// upper-case or non-hex digits and wrong lengths are invalid; a version above `00`
    /// is read leniently (its first four fields as version `00` defines them, anything
    /// after a `-` ignored). An invalid `tracestate` is dropped, keeping the parent (the
    /// W3C rule); so is one with more than 32 entries.
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Result<Self, InvalidTraceContext> {
        let (trace_id, span_id, flags) = parse::parse_traceparent(traceparent)?;
        let state = tracestate
            .and_then(parse::parse_tracestate)
            .unwrap_or_default();
        Ok(RemoteParent {
            cx: SpanContext::new(trace_id, span_id, flags, true, state),
        })
    }

    /// Parses the headers of a request, looked up by `get` (called with the lower-case
    /// header names `traceparent` and `tracestate`; header names are case-insensitive, so
    /// look them up that way). Several `tracestate` headers may be passed joined with
    /// commas.
    pub fn from_headers<'a>(
        mut get: impl FnMut(&str) -> Option<&'a str>,
    ) -> Result<Self, InvalidTraceContext> {
        let traceparent = get(TRACEPARENT).ok_or(InvalidTraceContext::Missing)?;
        RemoteParent::parse(traceparent, get(TRACESTATE))
    }

    /// Parses the headers held by `carrier` (any OpenTelemetry [`Extractor`], such as a
    /// `HashMap<String, String>` with lower-case keys).
    pub fn extract(carrier: &dyn Extractor) -> Result<Self, InvalidTraceContext> {
        RemoteParent::from_headers(|name| carrier.get(name))
    }

    /// The remote span as an OpenTelemetry span context (remote, with its trace flags
    /// and state).
    pub fn span_context(&self) -> &SpanContext {
        &self.cx
    }

    /// The trace id; the MLflow trace id is `tr-` followed by it.
    pub fn trace_id(&self) -> TraceId {
        self.cx.trace_id()
    }

    /// The MLflow trace id the spans continuing it get: `tr-<32 hex>`.
    pub fn mlflow_trace_id(&self) -> String {
        format!("{}{}", crate::keys::TRACE_ID_PREFIX, self.cx.trace_id())
    }

    /// The remote span's id: the parent id of the first span started here.
    pub fn span_id(&self) -> SpanId {
        self.cx.span_id()
    }

    /// Whether the caller recorded its span (the sampled flag). When it did not, the spans
    /// continuing it here are not recorded either.
    pub fn is_sampled(&self) -> bool {
        self.cx.trace_flags() & TraceFlags::SAMPLED == TraceFlags::SAMPLED
    }

    /// The vendor-specific `tracestate`, carried on to the requests made here.
    pub fn trace_state(&self) -> &TraceState {
        self.cx.trace_state()
    }

    /// A context in which the next span started continues this trace (see
    /// [`TraceContext::remote`]); attach it, or wrap a future in it.
    pub fn context(&self) -> TraceContext {
        TraceContext::remote(&self.cx)
    }
}
