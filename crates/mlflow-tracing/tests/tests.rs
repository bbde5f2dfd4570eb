//! In-process tests of the span API, trace assembly, context propagation, sampling, the
//! `#[trace]` attribute, the local store and OTLP export. One binary, one module per area.

#![allow(clippy::unwrap_used)]

mod support;

mod concurrency;
mod context;
mod global_lazy;
mod local_store;
mod macros;
mod memory_bound;
mod otlp;
mod sampling;
mod server;
mod span_api;
mod tidy;
mod trace_info;
