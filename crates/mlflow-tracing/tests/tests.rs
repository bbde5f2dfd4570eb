//! In-process tests of the span API, trace assembly, context propagation, sampling, the
//! `#[trace]` attribute, the local store, OTLP export and span metrics. One binary, one module per area.

#![allow(clippy::unwrap_used)]

mod support;

/// The traces `mlflow-trace demo` records: MLflow's documentation examples, as the Python
/// captures recorded them (the OTLP and span metrics tests compare with those captures).
#[path = "../../mlflow-trace-cli/src/demo_traces.rs"]
mod demo_traces;

#[cfg(feature = "tracing")]
mod bridge;
#[cfg(feature = "tracing")]
mod bridge_genai;
mod concurrency;
mod context;
#[cfg(all(feature = "tracing", feature = "local-store"))]
mod examples;
mod exit_paths;
mod genai_semconv;
mod global_lazy;
mod hooks;
#[cfg(all(feature = "axum", feature = "reqwest"))]
mod http_propagation;
mod local_store;
mod losses;
mod macros;
mod memory_bound;
mod metrics;
mod mlflow_vars;
mod otlp;
mod outages;
mod propagation;
mod rejections;
mod sampling;
mod server;
mod span_api;
mod switch;
mod tidy;
mod timeout;
mod trace_info;
