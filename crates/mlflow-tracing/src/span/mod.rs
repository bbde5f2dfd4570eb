//! The span API: [`start_span`](crate::start_span) → [`SpanBuilder`] → [`SpanGuard`] /
//! [`LiveSpan`], futures in spans ([`Instrumented`]), the current span and carrying it
//! across threads and tasks ([`TraceContext`]), and updating the current trace.
//!
//! Spans are OpenTelemetry SDK spans. MLflow's attributes are set on them with MLflow's
//! keys and JSON encoding; everything else (trace assembly, previews, export) happens on
//! the pipeline's background threads.

mod builder;
mod context;
mod guard;
mod instrument;
mod live;
mod scope;
mod timeout;
mod trace;

pub use builder::{SpanBuilder, start_span};
pub use context::{
    ContextGuard, InTrace, TraceContext, TraceFutureExt, get_active_trace_id,
    get_current_active_span,
};
#[cfg_attr(not(feature = "tracing"), allow(unused_imports))]
pub(crate) use context::{CurrentSpan, enter_bridged, exit_bridged, next_seq};
pub use guard::SpanGuard;
pub use instrument::Instrumented;
pub use live::LiveSpan;
pub(crate) use live::short_type_name;
pub use scope::TraceScope;
pub use trace::{
    get_last_active_trace_id, get_last_active_trace_id_in_thread, update_current_trace,
};
