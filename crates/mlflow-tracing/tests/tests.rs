//! In-process tests of the span API, trace assembly, context propagation, sampling, the
//! `#[trace]` attribute and the local store. One binary, one module per area.

#![allow(clippy::unwrap_used)]

mod support;

mod concurrency;
mod context;
mod global_lazy;
mod local_store;
mod macros;
mod memory_bound;
mod sampling;
mod span_api;
mod trace_info;
