//! The running pipeline behind a [`Tracing`](crate::Tracing) handle.
//!
//! ```text
//! span API ──SpanData──▶ AssemblyProcessor ──channel──▶ assembler thread ──▶ sink workers
//!  (caller thread)        (reserve memory)               (per-trace buffer,    (one thread each:
//!                                                          TraceInfo at root)    local store, …)
//! ```
//!
//! Everything after the processor runs on background threads, so the cost on the
//! caller's thread is building the OpenTelemetry span and one channel send.

mod engine;
mod ids;
mod processor;
pub(crate) mod registry;

pub(crate) use ids::Primed as PrimedTraceId;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};

use crate::assembly::{self, AssemblySettings, Msg, Shared};
use crate::config::{Destination, Settings};
use crate::destination::{AnySink, Routes};
use crate::error::FlushError;
use crate::keys::SCOPE_NAME;
use crate::stats::Stats;
use crate::sync::{Barrier, Ticket};
use engine::{Core, Phase};
use processor::AssemblyProcessor;

/// A started pipeline: the OpenTelemetry tracer whose spans it receives, and its
/// [`Core`] (the assembler's inbox, the sinks' workers, the counters).
pub(crate) struct Pipeline {
    tracer: SdkTracer,
    provider: SdkTracerProvider,
    core: Arc<Core>,
    shut_down: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// A trace timeout is configured: traces keep their open spans.
    tracks_open_spans: bool,
    /// Turned off at run time (`disable()`): new traces are not recorded.
    paused: AtomicBool,
    /// The share of new traces sampled (`TraceIdRatioBased`; 1 samples all).
    sampling_ratio: f64,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("destinations", &self.core.destinations())
            .field("shut_down", &self.shut_down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Starts the sinks' workers, the assembler and the tracer for `settings`.
    pub(crate) fn start(settings: &Settings, sinks: Vec<AnySink>) -> Pipeline {
        let shared = Shared::new(
            usize::try_from(settings.max_queue_bytes.value).unwrap_or(usize::MAX),
            &settings.trace_metadata,
        );
        let (sender, receiver) = mpsc::channel();
        let (routes, mut threads) = Routes::start(sinks);
        if routes.is_empty() {
            // Nothing to export to: no assembler, and flushes complete at once.
            drop(receiver);
        } else {
            let assembly = AssemblySettings {
                experiment_id: settings.experiment.value.known_id().map(str::to_owned),
                trace_metadata: settings.trace_metadata.clone(),
                buffer_ttl: settings.buffer_ttl.value,
                prices: settings.pricing.prices.clone(),
                trace_timeout: settings.trace_timeout.value,
                timeout_check_interval: settings.timeout_check_interval.value,
                hooks: settings.hooks.clone(),
            };
            threads.extend(assembly::spawn(
                receiver,
                routes.clone(),
                shared.clone(),
                assembly,
            ));
        }
        let ratio = settings.sampling_ratio.value;
        let sampler = if ratio >= 1.0 {
            Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
        } else {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
        };
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_id_generator(ids::TimeOrderedIds::default())
            .with_span_limits(settings.span_limits)
            .with_span_processor(AssemblyProcessor::new(sender.clone(), shared.clone()))
            .build();
        let tracer = provider.tracer_with_scope(InstrumentationScope::builder(SCOPE_NAME).build());
        let has_destinations = !routes.is_empty();
        let core = Arc::new(Core::new(
            sender,
            shared,
            routes,
            settings.flush_timeout.value,
        ));
        if has_destinations {
            registry::register(&core);
        }
        Pipeline {
            tracer,
            provider,
            core,
            shut_down: AtomicBool::new(false),
            threads: Mutex::new(threads),
            tracks_open_spans: settings.trace_timeout.value.is_some(),
            paused: AtomicBool::new(false),
            sampling_ratio: ratio,
        }
    }

    pub(crate) fn tracer(&self) -> &SdkTracer {
        &self.tracer
    }

    /// Whether traces keep their open spans, for the trace timeout.
    pub(crate) fn tracks_open_spans(&self) -> bool {
        self.tracks_open_spans
    }

    /// Whether spans should be recorded at all.
    pub(crate) fn is_active(&self) -> bool {
        !self.core.routes().is_empty()
            && !self.shut_down.load(Ordering::Acquire)
            && !self.paused.load(Ordering::Relaxed)
    }

    /// Turns recording of new traces off (`true`) or back on, at run time.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    /// The id of a new trace, or `None` when the sampler drops it: decided before its
    /// root span is built, on the id alone, as the sampler decides, so that a trace
    /// sampled out costs no span. Build the root with the id [`ids::Primed`].
    pub(crate) fn sample_new_trace(&self) -> Option<opentelemetry::trace::TraceId> {
        let id = ids::new_root_id();
        ids::ratio_samples(self.sampling_ratio, id).then_some(id)
    }

    /// Reserves the memory a new trace named `name` takes. When the queue is full, the
    /// trace is counted as lost (and reported): `None`.
    pub(crate) fn reserve_trace(&self, name: &str) -> Option<Ticket> {
        self.core.reserve_trace(name)
    }

    /// Reserves `bytes` for a trace update; `None` (reported) when the queue is full.
    pub(crate) fn reserve_update(&self, bytes: usize) -> Option<Ticket> {
        self.core.reserve_update(bytes)
    }

    /// Sends a message to the assembler; `false` when it is gone (shut down).
    pub(crate) fn send(&self, msg: Msg) -> bool {
        self.core.send(msg)
    }

    /// The configured upper bound of a flush.
    pub(crate) fn flush_timeout(&self) -> Duration {
        self.core.flush_timeout()
    }

    /// Where the sinks send to, in order.
    pub(crate) fn destinations(&self) -> &[Destination] {
        self.core.destinations()
    }

    /// Sends a flush barrier behind everything queued; see [`Core::flush_barrier`].
    pub(crate) fn flush_barrier(&self) -> Arc<Barrier> {
        self.core.flush_barrier(false)
    }

    /// What was lost since the previous flush, with `errors` from a completed barrier.
    pub(crate) fn report_since_last_flush(&self, errors: Vec<String>) -> Result<(), FlushError> {
        self.core.report_since_last_flush(errors)
    }

    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        self.core.finish_flush(&self.flush_barrier(), timeout)
    }

    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), FlushError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(FlushError::AlreadyShutDown);
        }
        let barrier = self.core.flush_barrier(true);
        self.core.set_phase(Phase::Draining(barrier.clone()));
        let result = self.core.finish_flush(&barrier, timeout);
        if matches!(result, Err(FlushError::Timeout(_))) {
            self.core.set_phase(Phase::TimedOut(barrier));
        } else {
            // Every worker has finished; joining returns at once.
            self.core.set_phase(Phase::Done);
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

    pub(crate) fn stats(&self) -> Stats {
        self.core.stats()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // The last handle is gone: let the workers drain what they hold and stop, without
        // waiting for them. The registry keeps the core, so the exit hook waits for the
        // drain (within its deadline) and counts what does not make it.
        if !self.shut_down.swap(true, Ordering::AcqRel) {
            let barrier = self.core.flush_barrier(true);
            self.core.set_phase(Phase::Draining(barrier));
        }
    }
}
