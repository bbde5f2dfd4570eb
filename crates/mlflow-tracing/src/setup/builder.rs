//! [`TracingBuilder`]: configures a pipeline in code, on top of the environment.

use std::fmt;
use std::time::Duration;

use super::doctor::{self, Diagnosis};
use super::global::{self, TracingGuard};
use super::reader::{self, TraceReader};
use super::tracing::Tracing;
use crate::config::{CodeSettings, Compression, Env, Experiment, Protocol, Settings, Temporality};
use crate::destination::{self, AnySink, CustomSink, TraceExporter};
use crate::error::{BuildError, ReadError};
use crate::hooks::SpanHook;
use crate::pipeline::Pipeline;

/// Configures a [`Tracing`] pipeline. Values set here win over the environment.
#[must_use = "a builder does nothing until `build` or `install` is called"]
pub struct TracingBuilder {
    env: Env,
    code: CodeSettings,
    destinations_from_config: bool,
    extra: Vec<AnySink>,
}

impl fmt::Debug for TracingBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingBuilder")
            .field("tracking_uri", &self.code.tracking_uri)
            .field("experiment", &self.code.experiment)
            .field("sampling_ratio", &self.code.sampling_ratio)
            .finish_non_exhaustive()
    }
}

impl Default for TracingBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TracingBuilder {
    pub(crate) fn new() -> Self {
        TracingBuilder {
            env: Env::process(),
            code: CodeSettings::default(),
            destinations_from_config: true,
            extra: Vec::new(),
        }
    }

    /// Starts from settings made in code elsewhere (`set_tracking_uri`, `set_experiment`).
    pub(crate) fn with_code(mut self, code: CodeSettings) -> Self {
        self.code = code;
        self
    }

    /// Reads configuration from `lookup` instead of the process environment.
    pub fn with_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Env::from_fn(lookup);
        self
    }

    /// Where traces go (`MLFLOW_TRACKING_URI`), e.g. `sqlite:///mlflow.db` or
    /// `http://mlflow:5000`.
    pub fn tracking_uri(mut self, uri: impl Into<String>) -> Self {
        self.code.tracking_uri = Some(uri.into());
        self
    }

    /// The experiment to log to, by id (`MLFLOW_EXPERIMENT_ID`).
    pub fn experiment_id(mut self, id: impl Into<String>) -> Self {
        self.code.experiment = Some(Experiment::Id(id.into()));
        self
    }

    /// The experiment to log to, by name (`MLFLOW_EXPERIMENT_NAME`); created if missing.
    pub fn experiment_name(mut self, name: impl Into<String>) -> Self {
        self.code.experiment = Some(Experiment::Name(name.into()));
        self
    }

    /// Fraction of traces to record (`MLFLOW_TRACE_SAMPLING_RATIO`), `0.0..=1.0`.
    pub fn sampling_ratio(mut self, ratio: f64) -> Self {
        self.code.sampling_ratio = Some(ratio);
        self
    }

    /// Memory the export queues may hold (`MLFLOW_TRACE_MAX_QUEUE_BYTES`).
    pub fn max_queue_bytes(mut self, bytes: u64) -> Self {
        self.code.max_queue_bytes = Some(bytes);
        self
    }

    /// Upper bound of `flush`/`shutdown` (`MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS`).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.code.flush_timeout = Some(timeout);
        self
    }

    /// How long an unfinished trace is kept (`MLFLOW_TRACE_BUFFER_TTL_SECONDS`).
    pub fn buffer_ttl(mut self, ttl: Duration) -> Self {
        self.code.buffer_ttl = Some(ttl);
        self
    }

    /// Prices `price.model()`'s tokens at `price` (USD per million tokens) for
    /// `mlflow.llm.cost`, instead of the price in the model catalog MLflow ships, or for a
    /// model the catalog does not know. May be called once per model (and provider); a
    /// later price for the same model wins. A negative or non-finite price is an error
    /// from `build`.
    pub fn model_price(mut self, price: crate::pricing::ModelPrice) -> Self {
        self.code.model_prices.push(price);
        self
    }

    /// Ends a trace still open after `timeout` (`MLFLOW_TRACE_TIMEOUT_SECONDS`), as MLflow
    /// does: its open spans end with status ERROR, the root with an exception event saying
    /// so, and the trace is exported. `Duration::ZERO` turns the timeout off (the default).
    pub fn trace_timeout(mut self, timeout: Duration) -> Self {
        self.code.trace_timeout = Some(timeout);
        self
    }

    /// How often open traces are checked against the
    /// [`trace_timeout`](TracingBuilder::trace_timeout)
    /// (`MLFLOW_TRACE_TIMEOUT_CHECK_INTERVAL_SECONDS`, default 1 s); positive.
    pub fn trace_timeout_check_interval(mut self, interval: Duration) -> Self {
        self.code.timeout_check_interval = Some(interval);
        self
    }

    /// Adds a span hook: a function that sees every finished span (and its trace's tags
    /// and metadata) before any destination, and may rewrite or drop it — MLflow's
    /// `mlflow.tracing.configure(span_processors=[...])`. Hooks run in the order added, on
    /// the pipeline's own thread; see [`hooks`](crate::hooks).
    pub fn span_hook(mut self, hook: impl SpanHook) -> Self {
        self.code.hooks.push(std::sync::Arc::new(hook));
        self
    }

    /// Links every trace to an MLflow run: the metadata `mlflow.sourceRun`, which MLflow
    /// writes for traces recorded inside `mlflow.start_run()`.
    pub fn source_run(mut self, run_id: impl Into<String>) -> Self {
        self.code.source_run = Some(run_id.into());
        self
    }

    /// Links every trace to a model: the metadata `mlflow.modelId`, as MLflow's
    /// `set_active_model(model_id=...)` does (`MLFLOW_ACTIVE_MODEL_ID`).
    pub fn active_model_id(mut self, model_id: impl Into<String>) -> Self {
        self.code.active_model_id = Some(model_id.into());
        self
    }

    /// Exports over OTLP to `endpoint` (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), instead of
    /// the MLflow store: the URL as requests go to it for HTTP
    /// (`http://collector:4318/v1/traces`), or the server's address for gRPC.
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.code.otlp.endpoint = Some(endpoint.into());
        self
    }

    /// The OTLP protocol (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`; default gRPC, as in MLflow).
    pub fn otlp_protocol(mut self, protocol: Protocol) -> Self {
        self.code.otlp.protocol = Some(protocol);
        self
    }

    /// OTLP request headers (`OTEL_EXPORTER_OTLP_TRACES_HEADERS`), replacing those of the
    /// environment.
    pub fn otlp_headers<K: Into<String>, V: Into<String>>(
        mut self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.code.otlp.headers = Some(
            headers
                .into_iter()
                .map(|(k, v)| (k.into().to_ascii_lowercase(), v.into()))
                .collect(),
        );
        self
    }

    /// The per-request OTLP timeout (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`).
    pub fn otlp_timeout(mut self, timeout: Duration) -> Self {
        self.code.otlp.timeout = Some(timeout);
        self
    }

    /// OTLP request compression (`OTEL_EXPORTER_OTLP_TRACES_COMPRESSION`).
    pub fn otlp_compression(mut self, compression: Compression) -> Self {
        self.code.otlp.compression = Some(compression);
        self
    }

    /// With OTLP export configured, sends traces to the MLflow store the tracking URI
    /// names too (`MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT`), rather than to OTLP only.
    pub fn dual_export(mut self, enabled: bool) -> Self {
        self.code.dual_export = Some(enabled);
        self
    }

    /// Sends spans over OTLP in OpenTelemetry's GenAI semantic conventions (`gen_ai.*`),
    /// translated as MLflow translates them (`MLFLOW_ENABLE_OTEL_GENAI_SEMCONV`), or in
    /// MLflow's own attributes (`false`, the default). Other destinations are not affected.
    pub fn otlp_genai_semconv(mut self, enabled: bool) -> Self {
        self.code.otlp.genai_semconv = Some(enabled);
        self
    }

    /// Records span durations in the histogram `mlflow.trace.span.duration`, exported over
    /// OTLP to `endpoint` (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`), used as given: the URL
    /// requests go to for HTTP (`http://prometheus:9090/api/v1/otlp/v1/metrics`), or the
    /// server's address for gRPC. Independent of where traces go.
    pub fn metrics_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.code.metrics.otlp.endpoint = Some(endpoint.into());
        self
    }

    /// The span metrics' OTLP protocol (`OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`; default
    /// gRPC, as in MLflow; Prometheus takes `http/protobuf`).
    pub fn metrics_protocol(mut self, protocol: Protocol) -> Self {
        self.code.metrics.otlp.protocol = Some(protocol);
        self
    }

    /// The span metrics' OTLP request headers (`OTEL_EXPORTER_OTLP_METRICS_HEADERS`),
    /// replacing those of the environment.
    pub fn metrics_headers<K: Into<String>, V: Into<String>>(
        mut self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.code.metrics.otlp.headers = Some(
            headers
                .into_iter()
                .map(|(k, v)| (k.into().to_ascii_lowercase(), v.into()))
                .collect(),
        );
        self
    }

    /// Cumulative (the default, what Prometheus needs) or delta
    /// (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
    pub fn metrics_temporality(mut self, temporality: Temporality) -> Self {
        self.code.metrics.temporality = Some(temporality);
        self
    }

    /// Time between two metric exports (`OTEL_METRIC_EXPORT_INTERVAL`, default 60 s).
    /// Flushes and shutdown export at once.
    pub fn metrics_export_interval(mut self, interval: Duration) -> Self {
        self.code.metrics.interval = Some(interval);
        self
    }

    /// Which trace tags and metadata become histogram attributes
    /// (`MLFLOW_TRACE_METRICS_ATTRIBUTES`): attribute keys such as `tags.env` or
    /// `metadata.app.version`, each possibly ending in `*` (`metadata.mlflow.source.*`);
    /// none at all for an empty list. By default all of them, as in MLflow. Every distinct
    /// value makes a time series of its own in the metrics backend: leave out per-request
    /// values such as `metadata.mlflow.trace.session`, `metadata.mlflow.trace.user` or
    /// request ids.
    pub fn metrics_attributes<S: Into<String>>(
        mut self,
        keys: impl IntoIterator<Item = S>,
    ) -> Self {
        self.code.metrics.attributes = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Turns span metrics on or off whatever the environment says
    /// (`OTEL_METRICS_EXPORTER=none` turns them off); on, they still need an endpoint.
    /// Turned on here, they are exported even with
    /// [`destinations_from_config(false)`](TracingBuilder::destinations_from_config).
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.code.metrics.enabled = Some(enabled);
        self
    }

    /// Whether to export to the destinations the configuration selects (the MLflow store,
    /// OTLP, span metrics).
    /// Turn it off to export only to destinations added in code, e.g. in tests.
    pub fn destinations_from_config(mut self, enabled: bool) -> Self {
        self.destinations_from_config = enabled;
        self
    }

    /// Also exports to `exporter`, on a worker thread of its own.
    pub fn with_exporter(mut self, exporter: impl TraceExporter) -> Self {
        self.extra
            .push(AnySink::Traces(Box::new(CustomSink(exporter))));
        self
    }

    /// Builds the pipeline and starts its background threads.
    pub fn build(self) -> Result<Tracing, BuildError> {
        let (settings, sinks) = self.resolve()?;
        Ok(Tracing::from_pipeline(Pipeline::start(&settings, sinks)))
    }

    /// Builds the pipeline, makes it the global default, and returns a guard that flushes
    /// and shuts it down when dropped. Keep the guard alive until the program ends.
    pub fn install(self) -> Result<TracingGuard, BuildError> {
        let tracing = self.build()?;
        Ok(global::install(tracing))
    }

    /// Resolves the configuration and checks each destination it selects, without
    /// recording anything and without starting a pipeline: what `mlflow-trace doctor`
    /// prints. Secrets (header values) are never part of it.
    pub fn diagnose(self) -> Result<Diagnosis, BuildError> {
        let (settings, sinks) = self.resolve()?;
        Ok(doctor::diagnose(&settings, sinks))
    }

    /// A reader of the traces in the store the tracking URI names (an MLflow SQLite
    /// database or an MLflow tracking server), for the configured experiment (looked up,
    /// never created), or for every experiment when none is configured. Records nothing.
    pub fn reader(self) -> Result<TraceReader, ReadError> {
        let cwd = std::env::current_dir().map_err(|source| ReadError::Io {
            context: "reading the working directory".to_owned(),
            source,
        })?;
        reader::open(&Settings::resolve(&self.env, &self.code, &cwd)?)
    }

    /// The settings, and the sinks: those added in code, then those the configuration
    /// selects (unless turned off).
    fn resolve(self) -> Result<(Settings, Vec<AnySink>), BuildError> {
        let cwd = std::env::current_dir().map_err(|source| BuildError::Io {
            context: "reading the working directory".to_owned(),
            source,
        })?;
        let settings = Settings::resolve(&self.env, &self.code, &cwd)?;
        let mut sinks = self.extra;
        if self.destinations_from_config {
            sinks.extend(destination::select(&settings)?);
        } else if self.code.metrics.enabled == Some(true) {
            // Span metrics turned on in code count as added in code.
            sinks.extend(destination::select_metrics(&settings)?);
        }
        Ok((settings, sinks))
    }
}
