//! The export pipeline behind a [`Tracing`] handle.
//!
//! ```text
//! span API ──SpanData──▶ AssemblyProcessor ──channel──▶ assembler thread ──▶ destination workers
//!  (caller thread)        (reserve memory)               (per-trace buffer,    (one thread each:
//!                                                          TraceInfo at root)    local store, …)
//! ```
//!
//! Everything after the processor runs on background threads, so the cost on the
//! caller's thread is building the OpenTelemetry span and one channel send.

mod barrier;
mod budget;
mod processor;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TraceId;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{StringValue, Value};
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider, SpanData, SpanLimits};

pub(crate) use barrier::Barrier;
pub(crate) use budget::{Budget, Ticket};
use processor::AssemblyProcessor;

use crate::assembly::{self, AssemblySettings};
use crate::config::otlp::{OtlpCode, OtlpSettings};
use crate::config::{self, Env, ExperimentSelector, Setting, Source, TrackingUri, env};
use crate::destination::{self, Destination, DestinationHandle};
use crate::error::{BuildError, FlushError};
use crate::trace_api::TraceUpdate;

/// Instrumentation scope of every span, as in MLflow.
pub(crate) const SCOPE_NAME: &str = "mlflow.tracing.provider";
const DEFAULT_MAX_QUEUE_BYTES: u64 = 128 * 1024 * 1024;
const DEFAULT_FLUSH_TIMEOUT_MILLIS: u64 = 10_000;
const DEFAULT_BUFFER_TTL_SECONDS: u64 = 3600;

/// What the assembler thread receives.
// Unboxed on purpose: the channel stores messages in blocks of 31, so a large variant
// costs one allocation per block instead of one per span, and no allocation crosses
// threads for the box.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Msg {
    /// A root span started: a new trace.
    TraceStarted(Arc<TraceShared>),
    /// A span ended.
    SpanEnded(SpanData, Ticket),
    /// A span ended but did not fit in the queue.
    SpanDropped { trace_id: TraceId, root: bool },
    /// `update_current_trace`.
    Update {
        trace_id: TraceId,
        update: Box<TraceUpdate>,
    },
    /// Export everything received so far.
    Flush(Arc<Barrier>),
    /// Export everything received so far, then stop.
    Shutdown(Arc<Barrier>),
}

/// State shared by every span of one trace.
#[derive(Debug)]
pub(crate) struct TraceShared {
    pub(crate) otel_trace_id: TraceId,
    /// `tr-<32 hex>`.
    pub(crate) request_id: Arc<str>,
    /// `"\"tr-<32 hex>\""`, the value of `mlflow.traceRequestId` on every span.
    pub(crate) request_id_attr: StringValue,
    /// The root span's name, the trace name.
    pub(crate) root_name: String,
    /// Recording spans started in this trace; the trace is complete when the assembler
    /// has received this many.
    pub(crate) started: AtomicU32,
}

impl TraceShared {
    pub(crate) fn new(otel_trace_id: TraceId, root_name: String) -> Self {
        let request_id: Arc<str> =
            format!("{}{otel_trace_id}", crate::keys::TRACE_ID_PREFIX).into();
        let request_id_attr = StringValue::from(Arc::<str>::from(crate::json::quote(&request_id)));
        TraceShared {
            otel_trace_id,
            request_id,
            request_id_attr,
            root_name,
            started: AtomicU32::new(1),
        }
    }

    pub(crate) fn request_id_value(&self) -> Value {
        Value::String(self.request_id_attr.clone())
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn inc(&self) {
        self.add(1);
    }
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) spans_ended: Counter,
    pub(crate) spans_dropped: Counter,
    pub(crate) traces_completed: Counter,
    pub(crate) traces_dropped: Counter,
}

/// State shared between the handle, the processor and the worker threads.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) budget: Arc<Budget>,
    pub(crate) counters: Counters,
    /// The assembler thread. It polls its queue on its own schedule, so that ending a span
    /// never costs a wake-up (a system call); it is woken only for flushes, shutdown and
    /// when queued memory grows large.
    pub(crate) assembler: OnceLock<std::thread::Thread>,
    /// When the pipeline started, and when (in seconds since, plus one) a dropped span
    /// was last reported.
    started: std::time::Instant,
    last_drop_report: AtomicU64,
}

impl Shared {
    /// Whether a "queue full" report is due: at most one every 30 seconds, decided with
    /// one atomic operation so that an overloaded caller does not contend on a lock.
    pub(crate) fn drop_report_due(&self) -> bool {
        let now = self.started.elapsed().as_secs() + 1;
        let last = self.last_drop_report.load(Ordering::Relaxed);
        (last == 0 || now >= last + 30)
            && self
                .last_drop_report
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    pub(crate) fn wake_assembler(&self) {
        if let Some(thread) = self.assembler.get() {
            thread.unpark();
        }
    }
}

pub(crate) struct Pipeline {
    tracer: SdkTracer,
    provider: SdkTracerProvider,
    sender: Sender<Msg>,
    shared: Arc<Shared>,
    destinations: Vec<DestinationHandle>,
    flush_timeout: Duration,
    shut_down: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    description: Vec<String>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("destinations", &self.description)
            .field("shut_down", &self.shut_down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    pub(crate) fn tracer(&self) -> &SdkTracer {
        &self.tracer
    }

    /// Whether spans should be recorded at all.
    pub(crate) fn is_active(&self) -> bool {
        !self.destinations.is_empty() && !self.shut_down.load(Ordering::Acquire)
    }

    pub(crate) fn send(&self, msg: Msg) {
        if self.sender.send(msg).is_err() {
            self.shared.counters.spans_dropped.inc();
        }
    }

    fn flush_barrier(&self, shutdown: bool) -> Arc<Barrier> {
        let barrier = Barrier::new(1 + self.destinations.len());
        let msg = if shutdown {
            Msg::Shutdown(barrier.clone())
        } else {
            Msg::Flush(barrier.clone())
        };
        if self.sender.send(msg).is_err() {
            // The assembler is gone, so nothing is pending.
            for _ in 0..=self.destinations.len() {
                barrier.complete_part(Vec::new());
            }
        }
        self.shared.wake_assembler();
        barrier
    }

    fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        wait(&self.flush_barrier(false), timeout)
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), FlushError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(FlushError::AlreadyShutDown);
        }
        let result = wait(&self.flush_barrier(true), timeout);
        if result.is_ok() {
            // Every worker has finished; joining returns at once.
            if let Ok(mut threads) = self.threads.lock() {
                for thread in threads.drain(..) {
                    let _ = thread.join();
                }
            }
        }
        let _ = self
            .provider
            .shutdown_with_timeout(Duration::from_millis(100));
        result
    }

    fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            spans_ended: c.spans_ended.get(),
            spans_dropped: c.spans_dropped.get(),
            traces_completed: c.traces_completed.get(),
            traces_dropped: c.traces_dropped.get(),
            queued_bytes: self.shared.budget.used(),
            max_queue_bytes: self.shared.budget.max(),
            destinations: self
                .destinations
                .iter()
                .map(DestinationHandle::stats)
                .collect(),
        }
    }
}

/// Waits for a flush or shutdown barrier: its export errors, or a timeout.
fn wait(barrier: &Barrier, timeout: Duration) -> Result<(), FlushError> {
    match barrier.wait(timeout) {
        None => Err(FlushError::Timeout(timeout)),
        Some(errors) if errors.is_empty() => Ok(()),
        Some(errors) => Err(FlushError::Export(errors)),
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // The last handle is gone: let the workers drain what they hold and stop, without
        // waiting for them.
        if !self.shut_down.swap(true, Ordering::AcqRel) {
            let _ = self.sender.send(Msg::Shutdown(Barrier::new(usize::MAX)));
            self.shared.wake_assembler();
        }
    }
}

/// A tracing pipeline: where spans go and how they get there.
///
/// Cheap to clone. Most programs never touch one: the global pipeline is configured from
/// the environment on first use. Build one with [`Tracing::builder`] to configure it in
/// code, to install it globally ([`TracingBuilder::install`]) or to scope it to a thread
/// ([`Tracing::set_default`], handy in tests).
#[derive(Clone, Debug)]
pub struct Tracing {
    pub(crate) inner: Arc<Pipeline>,
}

impl Tracing {
    /// A builder reading the process environment for anything not set in code.
    pub fn builder() -> TracingBuilder {
        TracingBuilder::new()
    }

    /// A pipeline configured from the process environment alone.
    pub fn from_env() -> Result<Tracing, BuildError> {
        TracingBuilder::new().build()
    }

    /// A pipeline that records nothing: every span is a no-op.
    pub fn disabled() -> Tracing {
        TracingBuilder::new()
            .destinations_from_config(false)
            .build_with(Vec::new(), Resolved::defaults())
    }

    /// Starts a span in this pipeline; see [`start_span`](crate::start_span). A current span
    /// of another pipeline is not used as the parent.
    pub fn start_span(
        &self,
        name: impl Into<std::borrow::Cow<'static, str>>,
    ) -> crate::SpanBuilder {
        crate::span::SpanBuilder::new(name.into(), Some(self.inner.clone()))
    }

    /// Waits until every trace finished so far has been exported (or failed), at most the
    /// configured flush timeout (`MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS`, default 10 s).
    ///
    /// Traces whose root span has not ended yet are not waited for.
    pub fn flush(&self) -> Result<(), FlushError> {
        self.inner.flush(self.inner.flush_timeout)
    }

    /// Like [`flush`](Tracing::flush) with an explicit upper bound.
    pub fn flush_with_timeout(&self, timeout: Duration) -> Result<(), FlushError> {
        self.inner.flush(timeout)
    }

    /// [`flush`](Tracing::flush) for async code: completes when everything finished so
    /// far has been exported, without blocking the executor. Bound it with your runtime's
    /// timeout if needed.
    pub fn flush_async(&self) -> impl std::future::Future<Output = Result<(), FlushError>> + use<> {
        let barrier = self.inner.flush_barrier(false);
        async move {
            let errors = barrier.wait_async().await;
            if errors.is_empty() {
                Ok(())
            } else {
                Err(FlushError::Export(errors))
            }
        }
    }

    /// Exports everything finished so far and stops the pipeline; later spans are no-ops.
    /// Waits at most the flush timeout.
    pub fn shutdown(&self) -> Result<(), FlushError> {
        self.inner.shutdown(self.inner.flush_timeout)
    }

    /// Like [`shutdown`](Tracing::shutdown) with an explicit upper bound.
    pub fn shutdown_with_timeout(&self, timeout: Duration) -> Result<(), FlushError> {
        self.inner.shutdown(timeout)
    }

    /// Whether spans started in this pipeline are recorded.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_active()
    }

    /// Counters: spans ended and dropped, traces completed and dropped, queue memory,
    /// and per destination the traces exported and failed.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Where this pipeline sends traces, one line per destination.
    pub fn destinations(&self) -> &[String] {
        &self.inner.description
    }

    /// Makes this pipeline the default for new traces on the current thread until the
    /// returned guard is dropped. Spans started inside a span of this pipeline stay in it
    /// on any thread. Tests use this to run in parallel without global state.
    pub fn set_default(&self) -> crate::global::DefaultGuard {
        crate::global::push_default(self.clone())
    }

    /// Runs `f` with this pipeline as the thread's default.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.set_default();
        f()
    }
}

/// Counters of a [`Tracing`] pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Spans that ended and were offered to the pipeline.
    pub spans_ended: u64,
    /// Spans that were dropped: the queue was full, tracing was shut down, or the span
    /// ended after its trace had been exported.
    pub spans_dropped: u64,
    /// Traces whose root span ended and that were handed to the destinations.
    pub traces_completed: u64,
    /// Traces that were dropped before export (their root span was dropped, or they were
    /// still unfinished at shutdown or after `MLFLOW_TRACE_BUFFER_TTL_SECONDS`).
    pub traces_dropped: u64,
    /// Memory the queues hold now, in bytes.
    pub queued_bytes: usize,
    /// The bound on that memory.
    pub max_queue_bytes: usize,
    /// Per destination.
    pub destinations: Vec<DestinationStats>,
}

/// Counters of one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationStats {
    /// The destination, as in [`Tracing::destinations`].
    pub name: String,
    /// What it counts: `"traces"` (MLflow stores) or `"spans"` (OTLP).
    pub unit: &'static str,
    /// Traces (or spans) exported.
    pub exported: u64,
    /// Traces (or spans) that could not be exported.
    pub failed: u64,
}

/// Configures a [`Tracing`] pipeline. Values set here win over the environment.
#[must_use = "a builder does nothing until `build` or `install` is called"]
pub struct TracingBuilder {
    env: Env,
    tracking_uri: Option<String>,
    experiment: Option<ExperimentSelector>,
    sampling_ratio: Option<f64>,
    max_queue_bytes: Option<u64>,
    flush_timeout: Option<Duration>,
    buffer_ttl: Option<Duration>,
    otlp: OtlpCode,
    default_destinations: bool,
    extra: Vec<Box<dyn Destination>>,
}

impl fmt::Debug for TracingBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingBuilder")
            .field("tracking_uri", &self.tracking_uri)
            .field("experiment", &self.experiment)
            .field("sampling_ratio", &self.sampling_ratio)
            .finish_non_exhaustive()
    }
}

impl Default for TracingBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TracingBuilder {
    fn new() -> Self {
        TracingBuilder {
            env: Env::process(),
            tracking_uri: None,
            experiment: None,
            sampling_ratio: None,
            max_queue_bytes: None,
            flush_timeout: None,
            buffer_ttl: None,
            otlp: OtlpCode::default(),
            default_destinations: true,
            extra: Vec::new(),
        }
    }

    /// Reads configuration from `lookup` instead of the process environment.
    pub fn with_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Env::from_fn(lookup);
        self
    }

    /// Where traces go (`MLFLOW_TRACKING_URI`), e.g. `sqlite:///mlflow.db`.
    pub fn tracking_uri(mut self, uri: impl Into<String>) -> Self {
        self.tracking_uri = Some(uri.into());
        self
    }

    /// The experiment to log to, by id (`MLFLOW_EXPERIMENT_ID`).
    pub fn experiment_id(mut self, id: impl Into<String>) -> Self {
        self.experiment = Some(ExperimentSelector::Id(id.into()));
        self
    }

    /// The experiment to log to, by name (`MLFLOW_EXPERIMENT_NAME`); created if missing.
    pub fn experiment_name(mut self, name: impl Into<String>) -> Self {
        self.experiment = Some(ExperimentSelector::Name(name.into()));
        self
    }

    /// Fraction of traces to record (`MLFLOW_TRACE_SAMPLING_RATIO`), `0.0..=1.0`.
    pub fn sampling_ratio(mut self, ratio: f64) -> Self {
        self.sampling_ratio = Some(ratio);
        self
    }

    /// Memory the export queues may hold (`MLFLOW_TRACE_MAX_QUEUE_BYTES`).
    pub fn max_queue_bytes(mut self, bytes: u64) -> Self {
        self.max_queue_bytes = Some(bytes);
        self
    }

    /// Upper bound of `flush`/`shutdown` (`MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS`).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = Some(timeout);
        self
    }

    /// How long an unfinished trace is kept (`MLFLOW_TRACE_BUFFER_TTL_SECONDS`).
    pub fn buffer_ttl(mut self, ttl: Duration) -> Self {
        self.buffer_ttl = Some(ttl);
        self
    }

    /// Exports over OTLP to `endpoint` (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), instead of
    /// the MLflow store: the URL as requests go to it for HTTP
    /// (`http://collector:4318/v1/traces`), or the server's address for gRPC.
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.otlp.endpoint = Some(endpoint.into());
        self
    }

    /// The OTLP protocol (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`; default gRPC, as in MLflow).
    pub fn otlp_protocol(mut self, protocol: crate::Protocol) -> Self {
        self.otlp.protocol = Some(protocol);
        self
    }

    /// OTLP request headers (`OTEL_EXPORTER_OTLP_TRACES_HEADERS`), replacing those of the
    /// environment.
    pub fn otlp_headers<K: Into<String>, V: Into<String>>(
        mut self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.otlp.headers = Some(
            headers
                .into_iter()
                .map(|(k, v)| (k.into().to_ascii_lowercase(), v.into()))
                .collect(),
        );
        self
    }

    /// The per-request OTLP timeout (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`).
    pub fn otlp_timeout(mut self, timeout: Duration) -> Self {
        self.otlp.timeout = Some(timeout);
        self
    }

    /// OTLP request compression (`OTEL_EXPORTER_OTLP_TRACES_COMPRESSION`).
    pub fn otlp_compression(mut self, compression: crate::Compression) -> Self {
        self.otlp.compression = Some(compression);
        self
    }

    /// Whether to export to the destinations the configuration selects (the MLflow store,
    /// or OTLP).
    /// Turn it off to export only to destinations added in code, e.g. in tests.
    pub fn destinations_from_config(mut self, enabled: bool) -> Self {
        self.default_destinations = enabled;
        self
    }

    /// Also exports to `exporter`, on a worker thread of its own.
    pub fn with_exporter(mut self, exporter: impl crate::TraceExporter) -> Self {
        self.extra
            .push(Box::new(crate::destination::custom::CustomDestination(
                exporter,
            )));
        self
    }

    /// Also exports to an in-memory store, for tests.
    #[cfg(feature = "testing")]
    pub fn with_in_memory(self, store: &crate::testing::InMemoryTraces) -> Self {
        self.with_exporter(store.clone())
    }

    /// Builds the pipeline and starts its background threads.
    pub fn build(mut self) -> Result<Tracing, BuildError> {
        let (resolved, destinations) = self.resolve()?;
        Ok(self.build_with(destinations, resolved))
    }

    /// The settings, and the destinations: those added in code, then those the
    /// configuration selects (unless turned off).
    fn resolve(&mut self) -> Result<(Resolved, Vec<Box<dyn Destination>>), BuildError> {
        let resolved = Resolved::from_builder(self)?;
        let mut destinations = std::mem::take(&mut self.extra);
        if self.default_destinations {
            destinations.extend(resolved.config_destinations()?);
        }
        Ok((resolved, destinations))
    }

    /// Resolves the configuration and checks each destination it selects, without
    /// recording anything and without starting a pipeline: what `mlflow-trace doctor`
    /// prints. Secrets (header values) are never part of it.
    pub fn diagnose(mut self) -> Result<crate::Diagnosis, BuildError> {
        let (resolved, destinations) = self.resolve()?;
        let destinations = destinations
            .into_iter()
            .map(|mut destination| {
                let (ok, findings) = match destination.check() {
                    Ok(findings) => (true, findings),
                    Err(findings) => (false, findings),
                };
                crate::diagnose::DestinationCheck {
                    destination: destination.describe(),
                    ok,
                    findings,
                }
            })
            .collect();
        Ok(crate::Diagnosis {
            settings: resolved.entries(),
            destinations,
        })
    }

    /// Builds the pipeline, makes it the global default, and returns a guard that flushes
    /// and shuts it down when dropped. Keep the guard alive until the program ends.
    pub fn install(self) -> Result<crate::TracingGuard, BuildError> {
        let tracing = self.build()?;
        Ok(crate::global::install(tracing))
    }

    fn build_with(self, destinations: Vec<Box<dyn Destination>>, resolved: Resolved) -> Tracing {
        let shared = Arc::new(Shared {
            budget: Budget::new(resolved.max_queue_bytes.value as usize),
            counters: Counters::default(),
            assembler: OnceLock::new(),
            started: std::time::Instant::now(),
            last_drop_report: AtomicU64::new(0),
        });
        let (sender, receiver) = mpsc::channel();
        let mut threads = Vec::new();
        let mut handles = Vec::new();
        for dest in destinations {
            let (handle, thread) = destination::spawn(dest);
            handles.push(handle);
            threads.extend(thread);
        }
        let description = handles.iter().map(|h| h.name().to_owned()).collect();
        let settings = AssemblySettings {
            experiment_id: resolved.experiment_id(),
            env_metadata: crate::env_metadata::resolve(&self.env),
            buffer_ttl: resolved.buffer_ttl.value,
        };
        if handles.is_empty() {
            // Nothing to export to: no thread, and flushes complete at once.
            drop(receiver);
        } else {
            if let Some(thread) =
                assembly::spawn(receiver, handles.clone(), shared.clone(), settings)
            {
                let _ = shared.assembler.set(thread.thread().clone());
                threads.push(thread);
            }
        }
        let ratio = resolved.sampling_ratio.value;
        let sampler = if ratio >= 1.0 {
            Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
        } else {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
        };
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_span_limits(resolved.span_limits)
            .with_span_processor(AssemblyProcessor::new(sender.clone(), shared.clone()))
            .build();
        let tracer = provider.tracer_with_scope(InstrumentationScope::builder(SCOPE_NAME).build());
        Tracing {
            inner: Arc::new(Pipeline {
                tracer,
                provider,
                sender,
                shared,
                destinations: handles,
                flush_timeout: resolved.flush_timeout.value,
                shut_down: AtomicBool::new(false),
                threads: Mutex::new(threads),
                description,
            }),
        }
    }
}

/// The builder's settings after applying the environment and the defaults.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub(crate) tracking_uri: Setting<TrackingUri>,
    pub(crate) experiment: Setting<ExperimentSelector>,
    pub(crate) sampling_ratio: Setting<f64>,
    pub(crate) max_queue_bytes: Setting<u64>,
    pub(crate) flush_timeout: Setting<Duration>,
    pub(crate) buffer_ttl: Setting<Duration>,
    pub(crate) span_limits: SpanLimits,
    pub(crate) otlp: Option<OtlpSettings>,
    pub(crate) dual_export: Setting<bool>,
}

impl Resolved {
    fn from_builder(b: &mut TracingBuilder) -> Result<Self, BuildError> {
        let cwd = std::env::current_dir().map_err(|e| BuildError::Io {
            context: "reading the working directory".to_owned(),
            message: e.to_string(),
        })?;
        let e = &b.env;
        let tracking_uri = match (b.tracking_uri.as_deref(), e.get(env::MLFLOW_TRACKING_URI)) {
            (Some(uri), _) => {
                Setting::new(TrackingUri::parse("tracking_uri", uri, &cwd)?, Source::Code)
            }
            (None, Some(uri)) => Setting::new(
                TrackingUri::parse(env::MLFLOW_TRACKING_URI, &uri, &cwd)?,
                Source::Env(env::MLFLOW_TRACKING_URI),
            ),
            (None, None) => Setting::new(TrackingUri::default_local(&cwd), Source::Default),
        };
        let experiment = match (
            &b.experiment,
            e.get(env::MLFLOW_EXPERIMENT_NAME),
            e.get(env::MLFLOW_EXPERIMENT_ID),
        ) {
            (Some(selector), _, _) => Setting::new(selector.clone(), Source::Code),
            (None, Some(name), _) => Setting::new(
                ExperimentSelector::Name(name),
                Source::Env(env::MLFLOW_EXPERIMENT_NAME),
            ),
            (None, None, Some(id)) => Setting::new(
                ExperimentSelector::Id(id),
                Source::Env(env::MLFLOW_EXPERIMENT_ID),
            ),
            (None, None, None) => Setting::new(ExperimentSelector::Default, Source::Default),
        };
        if let Some(ratio) = b.sampling_ratio {
            config::parse_ratio(&ratio.to_string()).map_err(|expected| {
                config::ConfigError::new("sampling_ratio", &ratio.to_string(), expected)
            })?;
        }
        let sampling_ratio = e.resolve(
            b.sampling_ratio,
            &[env::MLFLOW_TRACE_SAMPLING_RATIO],
            config::parse_ratio,
            1.0,
        )?;
        let max_queue_bytes = e.resolve(
            b.max_queue_bytes,
            &[env::MLFLOW_TRACE_MAX_QUEUE_BYTES],
            config::parse_u64,
            DEFAULT_MAX_QUEUE_BYTES,
        )?;
        let flush_timeout = e
            .resolve(
                b.flush_timeout.map(|d| d.as_millis() as u64),
                &[env::MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS],
                config::parse_u64,
                DEFAULT_FLUSH_TIMEOUT_MILLIS,
            )
            .map(|s| Setting::new(Duration::from_millis(s.value), s.source))?;
        let buffer_ttl = e
            .resolve(
                b.buffer_ttl.map(|d| d.as_secs()),
                &[env::MLFLOW_TRACE_BUFFER_TTL_SECONDS],
                config::parse_u64,
                DEFAULT_BUFFER_TTL_SECONDS,
            )
            .map(|s| Setting::new(Duration::from_secs(s.value), s.source))?;
        let limit = |var| {
            e.resolve(None, &[var], config::parse_positive, 128)
                .map(|s| s.value)
        };
        let span_limits = SpanLimits {
            max_attributes_per_span: limit(env::OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT)?,
            max_events_per_span: limit(env::OTEL_SPAN_EVENT_COUNT_LIMIT)?,
            max_links_per_span: limit(env::OTEL_SPAN_LINK_COUNT_LIMIT)?,
            ..SpanLimits::default()
        };
        let otlp = config::otlp::resolve_traces(e, &b.otlp)?;
        let dual_export = e.resolve(
            None,
            &[
                env::MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT,
                env::MLFLOW_ENABLE_DUAL_EXPORT,
            ],
            config::parse_bool,
            false,
        )?;
        Ok(Resolved {
            tracking_uri,
            experiment,
            sampling_ratio,
            max_queue_bytes,
            flush_timeout,
            buffer_ttl,
            span_limits,
            otlp,
            dual_export,
        })
    }

    /// The defaults, reading nothing (for a pipeline that records nothing).
    fn defaults() -> Self {
        Resolved {
            tracking_uri: Setting::new(
                TrackingUri::default_local(std::path::Path::new(".")),
                Source::Default,
            ),
            experiment: Setting::new(ExperimentSelector::Default, Source::Default),
            sampling_ratio: Setting::new(1.0, Source::Default),
            max_queue_bytes: Setting::new(DEFAULT_MAX_QUEUE_BYTES, Source::Default),
            flush_timeout: Setting::new(
                Duration::from_millis(DEFAULT_FLUSH_TIMEOUT_MILLIS),
                Source::Default,
            ),
            buffer_ttl: Setting::new(
                Duration::from_secs(DEFAULT_BUFFER_TTL_SECONDS),
                Source::Default,
            ),
            span_limits: SpanLimits::default(),
            otlp: None,
            dual_export: Setting::new(false, Source::Default),
        }
    }

    /// Every setting for display, secrets redacted.
    fn entries(&self) -> Vec<crate::diagnose::ConfigEntry> {
        use crate::diagnose::ConfigEntry;
        fn millis(d: &Duration) -> String {
            format!("{} ms", d.as_millis())
        }
        fn entry<T>(
            name: &'static str,
            s: &Setting<T>,
            show: impl Fn(&T) -> String,
        ) -> ConfigEntry {
            ConfigEntry {
                name,
                value: show(&s.value),
                source: s.source.clone(),
            }
        }
        let mut entries = vec![
            entry("tracking URI", &self.tracking_uri, TrackingUri::to_uri),
            entry("experiment", &self.experiment, |e| match e {
                ExperimentSelector::Default => "0 (Default)".to_owned(),
                ExperimentSelector::Id(id) => format!("id {id}"),
                ExperimentSelector::Name(name) => format!("name {name:?}"),
            }),
            entry("sampling ratio", &self.sampling_ratio, f64::to_string),
            entry("queue memory bound", &self.max_queue_bytes, |b| {
                format!("{b} bytes")
            }),
            entry("flush timeout", &self.flush_timeout, millis),
            entry("unfinished trace TTL", &self.buffer_ttl, |d| {
                format!("{} s", d.as_secs())
            }),
        ];
        match &self.otlp {
            None => entries.push(ConfigEntry {
                name: "OTLP export",
                value: "off (no OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT)"
                    .to_owned(),
                source: Source::Default,
            }),
            Some(otlp) => {
                entries.push(entry("OTLP endpoint", &otlp.endpoint, String::clone));
                entries.push(entry("OTLP protocol", &otlp.protocol, |p| {
                    p.as_str().to_owned()
                }));
                entries.push(entry("OTLP headers", &otlp.headers, |h| h.redacted()));
                entries.push(entry("OTLP timeout", &otlp.timeout, millis));
                entries.push(entry("OTLP compression", &otlp.compression, |c| {
                    c.as_str().to_owned()
                }));
                for (name, file) in [
                    ("OTLP CA certificate", &otlp.tls.certificate),
                    ("OTLP client certificate", &otlp.tls.client_certificate),
                    ("OTLP client key", &otlp.tls.client_key),
                ] {
                    entries.push(match file {
                        Some(path) => entry(name, path, |p| p.display().to_string()),
                        None => ConfigEntry {
                            name,
                            value: "(none)".to_owned(),
                            source: Source::Default,
                        },
                    });
                }
                if otlp.protocol.value == crate::Protocol::Grpc {
                    entries.push(entry(
                        "OTLP insecure (gRPC)",
                        &otlp.insecure,
                        bool::to_string,
                    ));
                }
                let b = &otlp.batch;
                entries.push(entry("OTLP batch delay", &b.schedule_delay, millis));
                entries.push(entry(
                    "OTLP batch size",
                    &b.max_export_batch_size,
                    usize::to_string,
                ));
                entries.push(match &b.max_queue_size {
                    Some(s) => entry("OTLP queue size", s, usize::to_string),
                    None => ConfigEntry {
                        name: "OTLP queue size",
                        value: "bounded by memory only".to_owned(),
                        source: Source::Default,
                    },
                });
                entries.push(entry("OTLP export timeout", &b.export_timeout, millis));
                entries.push(entry(
                    "dual export (store + OTLP)",
                    &self.dual_export,
                    bool::to_string,
                ));
                let resource = &otlp.resource;
                entries.push(entry("service.name", &resource.service_name, String::clone));
                if !resource.attributes.is_empty() {
                    entries.push(ConfigEntry {
                        name: "resource attributes",
                        value: resource
                            .attributes
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        source: Source::Env(env::OTEL_RESOURCE_ATTRIBUTES),
                    });
                }
            }
        }
        entries
    }

    /// The experiment id when it is known without asking a store.
    fn experiment_id(&self) -> Option<String> {
        match &self.experiment.value {
            ExperimentSelector::Default => Some("0".to_owned()),
            ExperimentSelector::Id(id) => Some(id.clone()),
            ExperimentSelector::Name(_) => None,
        }
    }

    /// The destinations the configuration selects: OTLP replaces the MLflow store, unless
    /// dual export is on.
    fn config_destinations(&self) -> Result<Vec<Box<dyn Destination>>, BuildError> {
        let Some(otlp) = &self.otlp else {
            return self.store_destinations();
        };
        let mut destinations = self.otlp_destination(otlp)?;
        if self.dual_export.value {
            destinations.extend(self.store_destinations()?);
        }
        Ok(destinations)
    }

    #[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
    fn otlp_destination(
        &self,
        otlp: &OtlpSettings,
    ) -> Result<Vec<Box<dyn Destination>>, BuildError> {
        Ok(vec![Box::new(
            crate::destination::otlp::OtlpDestination::new(otlp.clone())?,
        )])
    }

    #[cfg(not(any(feature = "otlp-http", feature = "otlp-grpc")))]
    fn otlp_destination(
        &self,
        _otlp: &OtlpSettings,
    ) -> Result<Vec<Box<dyn Destination>>, BuildError> {
        Err(BuildError::FeatureDisabled {
            feature: "otlp-http or otlp-grpc",
            needed_for: "OTLP export (OTEL_EXPORTER_OTLP_ENDPOINT is set)",
        })
    }

    fn store_destinations(&self) -> Result<Vec<Box<dyn Destination>>, BuildError> {
        match &self.tracking_uri.value {
            #[cfg(feature = "local-store")]
            TrackingUri::Sqlite { path } => Ok(vec![Box::new(
                crate::destination::local_store::LocalStoreDestination::new(
                    path.clone(),
                    self.experiment.value.clone(),
                ),
            )]),
            #[cfg(not(feature = "local-store"))]
            TrackingUri::Sqlite { .. } => Err(BuildError::FeatureDisabled {
                feature: "local-store",
                needed_for: "writing traces to an MLflow SQLite database",
            }),
        }
    }
}
