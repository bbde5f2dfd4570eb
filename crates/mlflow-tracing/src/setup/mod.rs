//! Setting tracing up: the [`Tracing`] handle and its [`TracingBuilder`], the global and
//! thread-scoped defaults with the exit hook, `doctor`, and the [`TraceReader`] that reads
//! traces back from the configured store.

mod annotate;
mod builder;
pub mod doctor;
mod global;
mod reader;
mod switch;
mod tracing;

pub use builder::TracingBuilder;
pub(crate) use global::current_pipeline;
pub use global::{
    DefaultGuard, TracingGuard, flush, get_tracking_uri, init, set_experiment, set_tracking_uri,
    shutdown, tracking_uri,
};
pub use reader::{TraceReader, TraceSearch};
pub use switch::{disable, enable, is_tracing_enabled};
pub use tracing::Tracing;
