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

mod processor;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
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
use crate::sync::Barrier;
use processor::AssemblyProcessor;

/// A started pipeline: the OpenTelemetry tracer whose spans it receives, the assembler's
/// inbox, and the sinks' workers.
pub(crate) struct Pipeline {
    tracer: SdkTracer,
    provider: SdkTracerProvider,
    sender: Sender<Msg>,
    shared: Arc<Shared>,
    routes: Routes,
    flush_timeout: Duration,
    shut_down: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("destinations", &self.routes.destinations())
            .field("shut_down", &self.shut_down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Starts the sinks' workers, the assembler and the tracer for `settings`.
    pub(crate) fn start(settings: &Settings, sinks: Vec<AnySink>) -> Pipeline {
        let shared =
            Shared::new(usize::try_from(settings.max_queue_bytes.value).unwrap_or(usize::MAX));
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
            .with_span_limits(settings.span_limits)
            .with_span_processor(AssemblyProcessor::new(sender.clone(), shared.clone()))
            .build();
        let tracer = provider.tracer_with_scope(InstrumentationScope::builder(SCOPE_NAME).build());
        Pipeline {
            tracer,
            provider,
            sender,
            shared,
            routes,
            flush_timeout: settings.flush_timeout.value,
            shut_down: AtomicBool::new(false),
            threads: Mutex::new(threads),
        }
    }

    pub(crate) fn tracer(&self) -> &SdkTracer {
        &self.tracer
    }

    /// Whether spans should be recorded at all.
    pub(crate) fn is_active(&self) -> bool {
        !self.routes.is_empty() && !self.shut_down.load(Ordering::Acquire)
    }

    /// Sends a message to the assembler (a dropped span when it is gone).
    pub(crate) fn send(&self, msg: Msg) {
        if self.sender.send(msg).is_err() {
            self.shared.counters.spans_dropped.inc();
        }
    }

    /// The configured upper bound of a flush.
    pub(crate) fn flush_timeout(&self) -> Duration {
        self.flush_timeout
    }

    /// Where the sinks send to, in order.
    pub(crate) fn destinations(&self) -> &[Destination] {
        self.routes.destinations()
    }

    /// Sends a flush (or shutdown) barrier behind everything queued: the assembler and
    /// every worker complete a part of it once they have exported what came before it.
    pub(crate) fn flush_barrier(&self, shutdown: bool) -> Arc<Barrier> {
        let parts = 1 + self.routes.workers();
        let barrier = Barrier::new(parts);
        let msg = if shutdown {
            Msg::Shutdown(barrier.clone())
        } else {
            Msg::Flush(barrier.clone())
        };
        if self.sender.send(msg).is_err() {
            // The assembler is gone, so nothing is pending.
            for _ in 0..parts {
                barrier.complete_part(Vec::new());
            }
        }
        self.shared.wake_assembler();
        barrier
    }

    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        wait(&self.flush_barrier(false), timeout)
    }

    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), FlushError> {
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

    pub(crate) fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            spans_ended: c.spans_ended.get(),
            spans_dropped: c.spans_dropped.get(),
            traces_completed: c.traces_completed.get(),
            traces_dropped: c.traces_dropped.get(),
            queued_bytes: self.shared.budget.used(),
            max_queue_bytes: self.shared.budget.max(),
            destinations: self.routes.stats(),
        }
    }
}

/// Waits for a flush or shutdown barrier: its export errors, or a timeout.
pub(crate) fn wait(barrier: &Barrier, timeout: Duration) -> Result<(), FlushError> {
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
