//! # mlflow-tracing
//!
//! [MLflow Tracing](https://mlflow.org/docs/latest/genai/tracing/) for Rust: record traces
//! of LLM applications and agents — nested spans with span types (LLM, CHAIN, AGENT, TOOL,
//! …), JSON inputs and outputs, status, exception events, trace tags and metadata — on
//! OpenTelemetry, and find them in MLflow exactly as if the Python SDK had written them.
//!
//! With nothing configured, traces go to `./mlflow.db`, an MLflow SQLite database that
//! `mlflow ui` (or `mlflow server --backend-store-uri sqlite:///mlflow.db`) opens as it is.
//! With `MLFLOW_TRACKING_URI=http(s)://…`, they go to that MLflow tracking server over its
//! REST API, as the Python SDK sends them. [`TraceReader`] reads them back from either.
//! With `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (or `OTEL_EXPORTER_OTLP_ENDPOINT`) set, spans go
//! to any OpenTelemetry backend over OTLP instead (gRPC by default, as in MLflow, or
//! `http/protobuf` / `http/json`), configured by the standard `OTEL_EXPORTER_OTLP_*`
//! variables; `MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT=true` sends to both, and
//! `MLFLOW_ENABLE_OTEL_GENAI_SEMCONV=true` sends the spans in OpenTelemetry's GenAI
//! semantic conventions ([`keys::gen_ai`]), translated as MLflow translates them. With
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (or the generic endpoint) set, every span's
//! duration also goes to the histogram `mlflow.trace.span.duration` over OTLP, as MLflow
//! records it, for Prometheus and Grafana (see [Span metrics](#span-metrics)). Every
//! variable is listed in [`config::env`]; [`TracingBuilder::diagnose`] shows what is resolved and checks
//! the destinations ([`doctor`]).
//!
//! ```no_run
//! use mlflow_tracing::{start_span, trace, SpanType};
//! use serde_json::json;
//!
//! #[trace(span_type = "TOOL")]
//! fn search(query: &str) -> Vec<String> {
//!     vec![format!("result for {query}")]
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let _guard = mlflow_tracing::init()?; // flushes when dropped
//!     let span = start_span("answer").span_type(SpanType::Chain).start();
//!     span.set_inputs(json!({"question": "What is MLflow?"}));
//!     let hits = search("MLflow");
//!     span.set_outputs(json!({"answer": hits[0]}));
//!     Ok(())
//! }
//! ```
//!
//! ## Spans
//!
//! [`start_span`] returns a [`SpanBuilder`]. [`SpanBuilder::start`] makes the span current
//! on this thread and returns a [`SpanGuard`] that ends it when dropped;
//! [`SpanBuilder::in_scope`] runs a closure inside the span; [`SpanBuilder::instrument`]
//! runs a future inside it (the span is current whenever the future is polled, on any
//! thread); [`SpanBuilder::start_detached`] starts a span that is not current, with an
//! explicit parent if you like. The `#[trace]` attribute does all of this for a function,
//! sync or async, capturing its arguments and return value.
//!
//! A span's [`LiveSpan`] handle sets inputs, outputs, attributes (all stored as JSON, as
//! MLflow stores them), type, status and events, and records errors as MLflow records
//! Python exceptions. [`update_current_trace`] sets trace tags, metadata, session and user.
//!
//! Spans follow the current span of their thread. To continue a trace on another thread
//! or in a spawned task, capture a [`TraceContext`] (or use [`TraceFutureExt`]).
//!
//! [`TraceScope`] attaches session, user, tags and metadata to every trace started in a
//! scope (MLflow's `mlflow.tracing.context`); [`disable`] and [`enable`] switch tracing at
//! run time. Span [`hooks`] rewrite or drop each finished span before any destination
//! (MLflow's `span_processors`), for redaction and filtering.
//!
//! ## Reading, searching and annotating
//!
//! [`TracingBuilder::reader`] opens a [`TraceReader`] on the configured store: it lists,
//! gets and searches traces ([`TraceSearch`], MLflow's filter grammar) and logs
//! [`Feedback`] and [`Expectation`]s on them, as `mlflow.log_feedback` does, so an
//! evaluation loop can score traces from Rust.
//!
//! ## From `tracing`
//!
//! Programs instrumented with `tracing` (and LLM crates that put `gen_ai.*` fields on
//! their `tracing` spans) get MLflow traces with one layer (feature `tracing`):
//!
//! ```no_run
//! use tracing_subscriber::prelude::*;
//!
//! # fn main() -> Result<(), mlflow_tracing::BuildError> {
//! let layer = mlflow_tracing::bridge::MlflowLayer::builder().target("my_app").build()?;
//! tracing_subscriber::registry().with(layer).init();
//! # Ok(())
//! # }
//! ```
//!
//! Spans of the targets you name and spans with MLflow or GenAI fields become MLflow
//! spans, nested with those of this SDK in both directions; fields named `span_type`,
//! `inputs`, `outputs` and `error` mean what they say; see [`bridge`].
//!
//! ## Set-up and shutdown
//!
//! Tracing needs no set-up: the first span configures the global pipeline from the
//! environment (see [`config::env`]). Export runs on background threads; a program must
//! not exit before they are done. An exit hook flushes the global pipeline when the
//! process exits normally, and [`init`] returns a guard that flushes and shuts it down
//! when dropped, reporting configuration errors up front. Call [`flush`] to wait for
//! export explicitly. Nothing ever blocks or panics the caller's thread while recording.
//!
//! ## Memory and data loss
//!
//! The export queues are bounded by memory (`MLFLOW_TRACE_MAX_QUEUE_BYTES`; by default a
//! sixteenth of the memory the process may use, between 64 MiB and 1 GiB), not by a span
//! count, and nothing is preallocated: a burst of hundreds of thousands of small spans, or
//! tens of thousands carrying 10 kB each, is exported whole with the defaults. Past the
//! bound, spans are dropped, counted ([`Tracing::stats`]) and reported. Problems (dropped spans, export
//! failures) are reported through the `tracing` crate when a subscriber is installed,
//! else on standard error.
//!
//! ## Span metrics
//!
//! When a metrics endpoint is configured ([`config::env::OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`],
//! [`TracingBuilder::metrics_endpoint`]), each span's duration is recorded, off the
//! caller's thread, in the histogram `mlflow.trace.span.duration` (unit `ms`, meter
//! `mlflow.tracing`, OpenTelemetry's default buckets) with the attributes `root`,
//! `span_type`, `span_status`, `experiment_id`, and the trace's `tags.<key>` and
//! `metadata.<key>` as they stood when the span ended. It is exported over OTLP (gRPC or
//! HTTP, cumulative by default, every `OTEL_METRIC_EXPORT_INTERVAL` and at every flush),
//! whatever the trace destinations, by a meter provider of this crate's own: the program's
//! global one is never touched. Prometheus takes it over HTTP at
//! `http://<prometheus>:9090/api/v1/otlp/v1/metrics` (with `--web.enable-otlp-receiver`).
//! Every tag and metadata value becomes a label, as in MLflow; keep per-request values
//! (session, user, request ids) out with [`TracingBuilder::metrics_attributes`]
//! (`MLFLOW_TRACE_METRICS_ATTRIBUTES`). A bad metrics setting turns the metrics off,
//! reported, and never stops traces.
//!
//! ## Distributed traces
//!
//! One trace can span services, in Rust and in Python: [`propagation`] carries the current
//! span to a service in W3C `traceparent`/`tracestate` headers and continues a trace from
//! them, as MLflow's `get_tracing_context_headers_for_http_request` and
//! `set_tracing_context_from_http_request_headers` do. The service's spans are stored as
//! MLflow stores them: as spans of the caller's trace, so the store holds one trace.
//!
//! ## Feature flags
//!
//! - `macros` (default): the `#[trace]` attribute.
//! - `local-store` (default): the MLflow SQLite store (bundled SQLite).
//! - `mlflow-server` (default): an MLflow tracking server, over REST (reqwest, rustls).
//! - `otlp-http` (default): OTLP over HTTP, protobuf or JSON (reqwest, rustls).
//! - `otlp-grpc` (default): OTLP over gRPC (tonic, on a private runtime; rustls).
//! - `metrics` (default): span metrics (OpenTelemetry's metrics SDK); they are sent with
//!   the OTLP transports, so they need `otlp-http` or `otlp-grpc`.
//! - `tracing` (default): [`bridge::MlflowLayer`], a `tracing_subscriber` layer that
//!   records `tracing` spans as MLflow spans (see [From `tracing`](#from-tracing)).
//! - `testing`: `testing::InMemoryTraces`, an in-memory destination for tests.
//! - `reqwest`: `propagation::reqwest`, a client span and W3C trace context headers for
//!   each request sent with `send_traced()` (see [Distributed traces](#distributed-traces)).
//! - `tower`: `propagation::tower::MlflowTraceLayer`, a server span for each request a
//!   `tower` service handles, continuing the caller's trace.
//! - `axum`: `tower`, with axum's route in span names and `http.route`.
//!
//! Export never uses the application's async runtime: it runs on the pipeline's own
//! threads, so tracing behaves the same from `fn main`, a multi-thread and a current-thread
//! Tokio runtime. In async code prefer [`Tracing::flush_async`] to a blocking flush.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The modules, top layer first: each imports only from the layers below it (see
// docs/design.md; `tests/tidy.rs` checks it).
#[cfg(feature = "__bench")]
#[doc(hidden)]
pub mod __bench;
#[doc(hidden)]
pub mod __private;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod bridge;
pub mod propagation;
#[cfg(feature = "testing")]
pub mod testing;

mod span;

mod setup;

mod pipeline;

mod assembly;

mod destination;

mod error;

#[cfg(feature = "local-store")]
pub mod local_store;

pub mod config;

pub mod hooks;

mod stats;

mod translate;

mod sync;

mod model;

mod types;

mod pricing;

pub mod keys;

mod json;

mod report;

pub use config::{Compression, Protocol, Temporality};
pub use config::{ConfigError, Destination, Experiment, ServerUrl, TrackingUri};
pub use destination::TraceExporter;
#[cfg(feature = "mlflow-server")]
pub use error::ServerError;
pub use error::{BuildError, FlushError, ReadError};
pub use model::{
    Assessment, AssessmentError, AssessmentKind, AssessmentSource, Expectation, Feedback, Span,
    SpanEvent, Trace, TraceInfo, TraceSummary, TraceUpdate, UpdateTraceError,
};
pub use pricing::ModelPrice;
pub use setup::doctor;
pub use setup::doctor::Diagnosis;
pub use setup::{
    DefaultGuard, TraceReader, TraceSearch, Tracing, TracingBuilder, TracingGuard, disable, enable,
    flush, get_tracking_uri, init, is_tracing_enabled, set_experiment, set_tracking_uri, shutdown,
    tracking_uri,
};
pub use span::{
    ContextGuard, InTrace, Instrumented, LiveSpan, SpanBuilder, SpanGuard, TraceContext,
    TraceFutureExt, TraceScope, get_active_trace_id, get_current_active_span,
    get_last_active_trace_id, get_last_active_trace_id_in_thread, start_span, update_current_trace,
};
pub use stats::{DestinationStats, Stats, Unit};
pub use types::{SpanLogLevel, SpanStatus, SpanType, StatusCode, TraceState};

#[cfg(feature = "macros")]
pub use mlflow_tracing_macros::trace;
