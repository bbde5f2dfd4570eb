//! Names of every environment variable this crate reads.
//!
//! Precedence is the same for all of them: a value set in code (the builder or
//! [`set_tracking_uri`](crate::set_tracking_uri)) wins over the specific variable, which wins
//! over the generic one, which wins over the default. Every variable, with its default:
//!
#![doc = include_str!("../../CONFIGURATION.md")]

/// Where traces go: `sqlite:///<path>` for an MLflow SQLite database, or the
/// `http(s)://` URL of an MLflow tracking server. Unset means `sqlite:///mlflow.db` in the
/// working directory, as in MLflow.
pub const MLFLOW_TRACKING_URI: &str = "MLFLOW_TRACKING_URI";
/// The experiment traces are logged to, by id.
pub const MLFLOW_EXPERIMENT_ID: &str = "MLFLOW_EXPERIMENT_ID";
/// The experiment traces are logged to, by name (created if missing).
pub const MLFLOW_EXPERIMENT_NAME: &str = "MLFLOW_EXPERIMENT_NAME";
/// Fraction of traces to record, `0.0..=1.0` (default `1.0`). Decided at the root span;
/// children follow their parent.
pub const MLFLOW_TRACE_SAMPLING_RATIO: &str = "MLFLOW_TRACE_SAMPLING_RATIO";
/// Reported as the trace's `mlflow.user` metadata when set (else the OS user); with
/// [`MLFLOW_TRACKING_PASSWORD`], the tracking server's basic authentication.
pub const MLFLOW_TRACKING_USERNAME: &str = "MLFLOW_TRACKING_USERNAME";
/// With [`MLFLOW_TRACKING_USERNAME`], basic authentication to the tracking server (wins over
/// [`MLFLOW_TRACKING_TOKEN`]; credentials in the tracking URI win over both). Never shown.
pub const MLFLOW_TRACKING_PASSWORD: &str = "MLFLOW_TRACKING_PASSWORD";
/// A bearer token for the tracking server. Never shown.
pub const MLFLOW_TRACKING_TOKEN: &str = "MLFLOW_TRACKING_TOKEN";
/// `true` does not verify the tracking server's TLS certificate (default `false`; an
/// `https` URI is never sent in plaintext).
pub const MLFLOW_TRACKING_INSECURE_TLS: &str = "MLFLOW_TRACKING_INSECURE_TLS";
/// PEM file of the CA certificates trusted for the tracking server, instead of the
/// system's.
pub const MLFLOW_TRACKING_SERVER_CERT_PATH: &str = "MLFLOW_TRACKING_SERVER_CERT_PATH";
/// PEM file with the client certificate and its private key, for mutual TLS with the
/// tracking server.
pub const MLFLOW_TRACKING_CLIENT_CERT_PATH: &str = "MLFLOW_TRACKING_CLIENT_CERT_PATH";
/// Retries of a failed request to the tracking server (connection errors, 408, 429, 5xx),
/// 0 to 10 (default 7, as in MLflow).
pub const MLFLOW_HTTP_REQUEST_MAX_RETRIES: &str = "MLFLOW_HTTP_REQUEST_MAX_RETRIES";
/// Seconds; the waits between retries are 0, 2×, 4×, … this, at most 120 s (default 2).
pub const MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: &str = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR";
/// Up to this many seconds, at random, are added to each wait (default 1.0).
pub const MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: &str = "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER";
/// Timeout of one request to the tracking server, in seconds (default 120).
pub const MLFLOW_HTTP_REQUEST_TIMEOUT: &str = "MLFLOW_HTTP_REQUEST_TIMEOUT";
/// How long an unfinished trace may wait for its spans before it is dropped (and the drop
/// reported), in seconds (default 3600).
pub const MLFLOW_TRACE_BUFFER_TTL_SECONDS: &str = "MLFLOW_TRACE_BUFFER_TTL_SECONDS";
/// How long a trace may stay open, in seconds: when set (and not 0), a trace still open
/// after this long has its open spans ended with status ERROR (its root with an exception
/// event) and is exported, as MLflow does. Unset by default.
pub const MLFLOW_TRACE_TIMEOUT_SECONDS: &str = "MLFLOW_TRACE_TIMEOUT_SECONDS";
/// How often open traces are checked against `MLFLOW_TRACE_TIMEOUT_SECONDS`, in seconds
/// (default 1).
pub const MLFLOW_TRACE_TIMEOUT_CHECK_INTERVAL_SECONDS: &str =
    "MLFLOW_TRACE_TIMEOUT_CHECK_INTERVAL_SECONDS";
/// The active model's id (MLflow's `set_active_model`): every trace carries it as the
/// metadata `mlflow.modelId`.
pub const MLFLOW_ACTIVE_MODEL_ID: &str = "MLFLOW_ACTIVE_MODEL_ID";
/// The legacy form of `MLFLOW_ACTIVE_MODEL_ID`, still read by MLflow.
pub const LEGACY_ACTIVE_MODEL_ID: &str = "_MLFLOW_ACTIVE_MODEL_ID";
/// Memory the export queues may hold, in bytes. Default: a sixteenth of the memory the
/// process may use (its cgroup's limit, else the machine's), between 64 MiB and 1 GiB;
/// 512 MiB where that cannot be read. Past it, spans are dropped, counted and reported. Not an MLflow variable: MLflow bounds its queues by
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

/// `true` exports to the MLflow store and over OTLP at once (default `false`: OTLP replaces
/// the store). `MLFLOW_ENABLE_DUAL_EXPORT`, the name in Databricks' documentation, is read
/// too.
pub const MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT: &str = "MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT";
/// Databricks' name for [`MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT`].
pub const MLFLOW_ENABLE_DUAL_EXPORT: &str = "MLFLOW_ENABLE_DUAL_EXPORT";
/// `false` turns OTLP trace export off even when an endpoint is set (default `true`).
pub const MLFLOW_ENABLE_OTLP_EXPORTER: &str = "MLFLOW_ENABLE_OTLP_EXPORTER";
/// Where OTLP traces go, used as given. Setting it (or the generic endpoint) turns OTLP
/// export on, replacing the MLflow store.
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// Base URL of an OTLP receiver for every signal; for HTTP, `/v1/traces` (or `/v1/metrics`)
/// is appended.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `grpc` (default, as in MLflow), `http/protobuf` or `http/json`, for traces.
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// The protocol for every signal.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// Request headers for traces, `key=value,key2=value2`, percent-encoded. Never logged.
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// Request headers for every signal.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Per-request timeout for traces, in milliseconds (default 10000).
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// Per-request timeout for every signal, in milliseconds.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// `gzip` or `none` (default), for traces.
pub const OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
/// Compression for every signal.
pub const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// PEM file of the CA certificates trusted for the receiver's TLS certificate (instead of
/// the system roots), for traces.
pub const OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE";
/// Trusted CA certificates for every signal.
pub const OTEL_EXPORTER_OTLP_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
/// PEM file of the client certificate for mutual TLS, for traces.
pub const OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE";
/// Client certificate for every signal.
pub const OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
/// PEM file of the client private key for mutual TLS, for traces.
pub const OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY";
/// Client key for every signal.
pub const OTEL_EXPORTER_OTLP_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
/// gRPC only: `true` sends plaintext to an endpoint given without a scheme.
pub const OTEL_EXPORTER_OTLP_TRACES_INSECURE: &str = "OTEL_EXPORTER_OTLP_TRACES_INSECURE";
/// The gRPC plaintext switch for every signal.
pub const OTEL_EXPORTER_OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// Longest time an ended span waits before it is sent over OTLP, in ms (default 5000).
pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// Most spans per OTLP request (default 512).
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
/// A bound on the number of spans waiting for OTLP export. Unset by default: the memory
/// bound applies instead (OpenTelemetry's default of 2048 drops spans under a burst).
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// Upper bound of one OTLP export, retries included, in ms (default 30000).
pub const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// Where OTLP metrics go, used as given. Setting it (or the generic endpoint) turns the
/// span-duration histogram `mlflow.trace.span.duration` on, whatever the trace destination.
pub const OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// `grpc` (default, as in MLflow), `http/protobuf` or `http/json`, for metrics.
pub const OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
/// Request headers for metrics, `key=value,key2=value2`, percent-encoded. Never logged.
pub const OTEL_EXPORTER_OTLP_METRICS_HEADERS: &str = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
/// Per-request timeout for metrics, in milliseconds (default 10000).
pub const OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";
/// `gzip` or `none` (default), for metrics.
pub const OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION";
/// Trusted CA certificates (PEM file) for metrics.
pub const OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE";
/// Client certificate (PEM file) for mutual TLS, for metrics.
pub const OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE";
/// Client private key (PEM file) for mutual TLS, for metrics.
pub const OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY";
/// gRPC only: `true` sends metrics in plaintext to an endpoint given without a scheme.
pub const OTEL_EXPORTER_OTLP_METRICS_INSECURE: &str = "OTEL_EXPORTER_OTLP_METRICS_INSECURE";
/// `cumulative` (default; what Prometheus needs), `delta` or `lowmemory` (delta for the
/// histogram).
pub const OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
/// Time between two metric exports, in milliseconds (default 60000). A flush, shutdown
/// and the exit hook export at once.
pub const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// Upper bound of one metric export, retries included, in milliseconds (default 30000).
pub const OTEL_METRIC_EXPORT_TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
/// `none` turns span metrics off even when a metrics endpoint is set; `otlp` (default)
/// keeps them on.
pub const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// Which trace tags and metadata become attributes of the span-duration histogram: a
/// comma-separated list of attribute keys (`tags.env`, `metadata.app.version`), each
/// possibly ending in `*` (`tags.*`); `none` for none. Unset: all of them, as in MLflow.
/// Every distinct value makes a new time series: leave out per-request values such as
/// session, user or request ids. Not an MLflow variable.
pub const MLFLOW_TRACE_METRICS_ATTRIBUTES: &str = "MLFLOW_TRACE_METRICS_ATTRIBUTES";
/// Where MLflow fetches model prices for a provider: a `file://` URL of a directory of
/// `<provider>.json` catalogs in MLflow's format is read once, when tracing is set up, and
/// wins over the built-in catalog for spans of those providers. An `http(s)` URL is not
/// downloaded (reported once): the built-in catalog, MLflow 3.17.2's, is used.
pub const MLFLOW_MODEL_CATALOG_URI: &str = "MLFLOW_MODEL_CATALOG_URI";
/// MLflow's tracing destination: an experiment id, which wins over the experiment of
/// `MLFLOW_EXPERIMENT_NAME`/`MLFLOW_EXPERIMENT_ID` (not over one set in code). Databricks
/// Unity Catalog schemas are not supported.
pub const MLFLOW_TRACING_DESTINATION: &str = "MLFLOW_TRACING_DESTINATION";
/// MLflow's switch for asynchronous trace logging (default `true`). Export here is always
/// asynchronous, on background threads; `false` is reported once, and `flush()` waits.
pub const MLFLOW_ENABLE_ASYNC_TRACE_LOGGING: &str = "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING";
/// A bound on the number of traces waiting to be written to the MLflow store (the local
/// database or a tracking server); past it, traces are dropped, counted and reported.
/// Unset by default: the memory bound applies instead (MLflow's default of 1000 drops
/// traces under a burst).
pub const MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE: &str =
    "MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE";
/// MLflow's number of export threads. No effect (reported when set): one export thread
/// per destination.
pub const MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS: &str = "MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS";
/// MLflow's span batch size for Unity Catalog tables. No effect (reported when set).
pub const MLFLOW_ASYNC_TRACE_LOGGING_MAX_SPAN_BATCH_SIZE: &str =
    "MLFLOW_ASYNC_TRACE_LOGGING_MAX_SPAN_BATCH_SIZE";
/// MLflow's span batch interval for Unity Catalog tables. No effect (reported when set).
pub const MLFLOW_ASYNC_TRACE_LOGGING_MAX_INTERVAL_MILLIS: &str =
    "MLFLOW_ASYNC_TRACE_LOGGING_MAX_INTERVAL_MILLIS";
/// MLflow's retry timeout for trace logging. No effect (reported when set): a tracking
/// server's requests are retried as the `MLFLOW_HTTP_REQUEST_*` variables say.
pub const MLFLOW_ASYNC_TRACE_LOGGING_RETRY_TIMEOUT: &str =
    "MLFLOW_ASYNC_TRACE_LOGGING_RETRY_TIMEOUT";
/// MLflow's count bound on unfinished traces. No effect (reported when set): they are
/// bounded by memory and by [`MLFLOW_TRACE_BUFFER_TTL_SECONDS`].
pub const MLFLOW_TRACE_BUFFER_MAX_SIZE: &str = "MLFLOW_TRACE_BUFFER_MAX_SIZE";
/// MLflow's choice of span processor. No effect (reported when set): export is always on
/// background threads.
pub const MLFLOW_USE_BATCH_SPAN_PROCESSOR: &str = "MLFLOW_USE_BATCH_SPAN_PROCESSOR";
/// MLflow's choice of tracer provider. No effect (reported when set): the provider is
/// always this crate's own.
pub const MLFLOW_USE_DEFAULT_TRACER_PROVIDER: &str = "MLFLOW_USE_DEFAULT_TRACER_PROVIDER";
/// MLflow's propagation of its span to OpenTelemetry's context. No effect (reported when
/// set).
pub const MLFLOW_TRACE_PROPAGATE_TO_OTEL_CONTEXT: &str = "MLFLOW_TRACE_PROPAGATE_TO_OTEL_CONTEXT";
/// MLflow's private id generator. No effect (reported when set).
pub const MLFLOW_TRACE_USE_ISOLATED_RANDOM_ID_GENERATOR: &str =
    "MLFLOW_TRACE_USE_ISOLATED_RANDOM_ID_GENERATOR";
/// `true`: spans sent over OTLP are translated to OpenTelemetry's GenAI semantic
/// conventions (`gen_ai.*`), as MLflow translates them, for backends that read those
/// (Langfuse, Datadog, Grafana). Default `false`: MLflow's own attributes. Other
/// destinations are not affected.
pub const MLFLOW_ENABLE_OTEL_GENAI_SEMCONV: &str = "MLFLOW_ENABLE_OTEL_GENAI_SEMCONV";
/// MLflow's attachment extraction. No effect (reported when set).
pub const MLFLOW_TRACE_EXTRACT_ATTACHMENTS: &str = "MLFLOW_TRACE_EXTRACT_ATTACHMENTS";
/// MLflow's attachment size bound. No effect (reported when set).
pub const MLFLOW_TRACE_MAX_ATTACHMENT_SIZE: &str = "MLFLOW_TRACE_MAX_ATTACHMENT_SIZE";
/// MLflow's request-auth plugin. No effect (reported when set): a tracking server gets
/// the credentials of the URI or of [`MLFLOW_TRACKING_USERNAME`],
/// [`MLFLOW_TRACKING_PASSWORD`] and [`MLFLOW_TRACKING_TOKEN`] only.
pub const MLFLOW_TRACKING_AUTH: &str = "MLFLOW_TRACKING_AUTH";
/// MLflow's AWS SigV4 request signing. Not supported (reported when set to true).
pub const MLFLOW_TRACKING_AWS_SIGV4: &str = "MLFLOW_TRACKING_AWS_SIGV4";
/// MLflow's cache lifetime of downloaded model prices. No effect (reported when set):
/// nothing is downloaded.
pub const MLFLOW_MODEL_CATALOG_CACHE_TTL: &str = "MLFLOW_MODEL_CATALOG_CACHE_TTL";
/// The `service.name` resource attribute.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// More resource attributes, `key=value,…`, percent-encoded.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// Every variable above, for documentation and diagnostics.
pub const ALL: &[&str] = &[
    MLFLOW_TRACKING_URI,
    MLFLOW_EXPERIMENT_ID,
    MLFLOW_EXPERIMENT_NAME,
    MLFLOW_TRACE_SAMPLING_RATIO,
    MLFLOW_TRACKING_USERNAME,
    MLFLOW_TRACKING_PASSWORD,
    MLFLOW_TRACKING_TOKEN,
    MLFLOW_TRACKING_INSECURE_TLS,
    MLFLOW_TRACKING_SERVER_CERT_PATH,
    MLFLOW_TRACKING_CLIENT_CERT_PATH,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES,
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER,
    MLFLOW_HTTP_REQUEST_TIMEOUT,
    MLFLOW_TRACE_BUFFER_TTL_SECONDS,
    MLFLOW_TRACE_TIMEOUT_SECONDS,
    MLFLOW_TRACE_TIMEOUT_CHECK_INTERVAL_SECONDS,
    MLFLOW_ACTIVE_MODEL_ID,
    LEGACY_ACTIVE_MODEL_ID,
    MLFLOW_TRACE_MAX_QUEUE_BYTES,
    MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS,
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_EVENT_COUNT_LIMIT,
    OTEL_SPAN_LINK_COUNT_LIMIT,
    MLFLOW_ENABLE_OTLP_EXPORTER,
    MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT,
    MLFLOW_ENABLE_DUAL_EXPORT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    OTEL_EXPORTER_OTLP_COMPRESSION,
    OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_TRACES_INSECURE,
    OTEL_EXPORTER_OTLP_INSECURE,
    OTEL_BSP_SCHEDULE_DELAY,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_EXPORT_TIMEOUT,
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    OTEL_EXPORTER_OTLP_METRICS_HEADERS,
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
    OTEL_EXPORTER_OTLP_METRICS_COMPRESSION,
    OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE,
    OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_METRICS_INSECURE,
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
    OTEL_METRIC_EXPORT_INTERVAL,
    OTEL_METRIC_EXPORT_TIMEOUT,
    OTEL_METRICS_EXPORTER,
    MLFLOW_TRACE_METRICS_ATTRIBUTES,
    MLFLOW_MODEL_CATALOG_URI,
    MLFLOW_TRACING_DESTINATION,
    MLFLOW_ENABLE_ASYNC_TRACE_LOGGING,
    MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE,
    MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS,
    MLFLOW_ASYNC_TRACE_LOGGING_MAX_SPAN_BATCH_SIZE,
    MLFLOW_ASYNC_TRACE_LOGGING_MAX_INTERVAL_MILLIS,
    MLFLOW_ASYNC_TRACE_LOGGING_RETRY_TIMEOUT,
    MLFLOW_TRACE_BUFFER_MAX_SIZE,
    MLFLOW_USE_BATCH_SPAN_PROCESSOR,
    MLFLOW_USE_DEFAULT_TRACER_PROVIDER,
    MLFLOW_TRACE_PROPAGATE_TO_OTEL_CONTEXT,
    MLFLOW_TRACE_USE_ISOLATED_RANDOM_ID_GENERATOR,
    MLFLOW_ENABLE_OTEL_GENAI_SEMCONV,
    MLFLOW_TRACE_EXTRACT_ATTACHMENTS,
    MLFLOW_TRACE_MAX_ATTACHMENT_SIZE,
    MLFLOW_TRACKING_AUTH,
    MLFLOW_TRACKING_AWS_SIGV4,
    MLFLOW_MODEL_CATALOG_CACHE_TTL,
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
];
