//! Names of every environment variable this crate reads.
//!
//! Precedence is the same for all of them: a value set in code (the builder or
//! [`set_tracking_uri`](crate::set_tracking_uri)) wins over the specific variable, which wins
//! over the generic one, which wins over the default.

/// Where traces go: `sqlite:///<path>` for an MLflow SQLite database. Unset means
/// `sqlite:///mlflow.db` in the working directory, as in MLflow.
pub const MLFLOW_TRACKING_URI: &str = "MLFLOW_TRACKING_URI";
/// The experiment traces are logged to, by id.
pub const MLFLOW_EXPERIMENT_ID: &str = "MLFLOW_EXPERIMENT_ID";
/// The experiment traces are logged to, by name (created if missing).
pub const MLFLOW_EXPERIMENT_NAME: &str = "MLFLOW_EXPERIMENT_NAME";
/// Fraction of traces to record, `0.0..=1.0` (default `1.0`). Decided at the root span;
/// children follow their parent.
pub const MLFLOW_TRACE_SAMPLING_RATIO: &str = "MLFLOW_TRACE_SAMPLING_RATIO";
/// Reported as the trace's `mlflow.user` metadata when set (else the OS user).
pub const MLFLOW_TRACKING_USERNAME: &str = "MLFLOW_TRACKING_USERNAME";
/// How long an unfinished trace may wait for its spans before it is dropped (and the drop
/// reported), in seconds (default 3600).
pub const MLFLOW_TRACE_BUFFER_TTL_SECONDS: &str = "MLFLOW_TRACE_BUFFER_TTL_SECONDS";
/// Memory the export queues may hold, in bytes (default 128 MiB). Past it, spans are
/// dropped, counted and reported. Not an MLflow variable: MLflow bounds its queues by
/// count (and silently discards the overflow).
pub const MLFLOW_TRACE_MAX_QUEUE_BYTES: &str = "MLFLOW_TRACE_MAX_QUEUE_BYTES";
/// Upper bound, in milliseconds, on how long `flush`, `shutdown` and dropping the
/// [`TracingGuard`](crate::TracingGuard) wait for export (default 10000). Not an MLflow
/// variable.
pub const MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS: &str = "MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS";
/// Maximum number of attributes per span (OpenTelemetry, default 128).
pub const OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
/// Maximum number of events per span (OpenTelemetry, default 128).
pub const OTEL_SPAN_EVENT_COUNT_LIMIT: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
/// Maximum number of links per span (OpenTelemetry, default 128).
pub const OTEL_SPAN_LINK_COUNT_LIMIT: &str = "OTEL_SPAN_LINK_COUNT_LIMIT";

/// Every variable above, for documentation and diagnostics.
pub const ALL: &[&str] = &[
    MLFLOW_TRACKING_URI,
    MLFLOW_EXPERIMENT_ID,
    MLFLOW_EXPERIMENT_NAME,
    MLFLOW_TRACE_SAMPLING_RATIO,
    MLFLOW_TRACKING_USERNAME,
    MLFLOW_TRACE_BUFFER_TTL_SECONDS,
    MLFLOW_TRACE_MAX_QUEUE_BYTES,
    MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS,
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_EVENT_COUNT_LIMIT,
    OTEL_SPAN_LINK_COUNT_LIMIT,
];
