//! Destinations: where finished spans and traces go.
//!
//! A destination implements the small [`Destination`] trait and runs on a worker thread of
//! its own, fed by an unbounded channel (memory is bounded by the pipeline's budget, not
//! by the channel). A destination takes either whole traces (the MLflow store: a trace is
//! written with its TraceInfo) or spans as they end (OTLP: the OpenTelemetry way). The
//! worker batches what has queued up (at once, or by size and delay), calls `export`,
//! counts successes and failures, reports errors, and answers flushes in order. Adding a
//! destination means adding one file with one `impl`.

pub(crate) mod custom;
#[cfg(feature = "local-store")]
pub(crate) mod local_store;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(crate) mod otlp;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::diag;
use crate::model::{Span, Trace};
use crate::pipeline::{Barrier, Counter, DestinationStats, Ticket};

/// A finished trace on its way to the destinations. The queue memory it holds is given
/// back when the last destination is done with it.
#[derive(Debug)]
pub(crate) struct CompletedTrace {
    trace: Trace,
    _ticket: Ticket,
}

impl CompletedTrace {
    pub(crate) fn new(trace: Trace, ticket: Ticket) -> Self {
        CompletedTrace {
            trace,
            _ticket: ticket,
        }
    }
}

impl Deref for CompletedTrace {
    type Target = Trace;
    fn deref(&self) -> &Trace {
        &self.trace
    }
}

/// An ended span on its way to a span destination, with its queue memory.
#[derive(Debug)]
pub(crate) struct EndedSpan {
    span: Span,
    _ticket: Ticket,
}

impl EndedSpan {
    pub(crate) fn new(span: Span, ticket: Ticket) -> Self {
        EndedSpan {
            span,
            _ticket: ticket,
        }
    }
}

impl Deref for EndedSpan {
    type Target = Span;
    fn deref(&self) -> &Span {
        &self.span
    }
}

/// Why an export failed. The message is shown to users: it must not contain secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExportError {
    message: String,
    /// How many items of the batch failed; `None` means all of them.
    failed: Option<usize>,
}

impl ExportError {
    /// The whole batch failed.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ExportError {
            message: message.into(),
            failed: None,
        }
    }

    /// `failed` items of the batch failed; the others were exported.
    #[allow(dead_code)] // not every destination writes item by item
    pub(crate) fn partial(failed: usize, message: impl Into<String>) -> Self {
        ExportError {
            message: message.into(),
            failed: Some(failed),
        }
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a destination takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Granularity {
    /// Whole traces, once their root span has ended and every span has arrived.
    Traces,
    /// Spans as they end (a trace's tags are added to its root span).
    Spans,
}

impl Granularity {
    fn unit(self) -> &'static str {
        match self {
            Granularity::Traces => "traces",
            Granularity::Spans => "spans",
        }
    }
}

/// When a worker exports: as soon as anything is queued, or in batches of `max_items`
/// sent at the latest `max_delay` after the first item queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Batching {
    pub(crate) max_items: usize,
    pub(crate) max_delay: Duration,
    /// A bound on the number of queued items, when configured; items past it are dropped
    /// (counted as failed, and reported). The pipeline's memory bound applies regardless.
    pub(crate) max_queued: Option<usize>,
}

impl Batching {
    /// Export whatever is queued, right away.
    pub(crate) const IMMEDIATE: Batching = Batching {
        max_items: 512,
        max_delay: Duration::ZERO,
        max_queued: None,
    };
}

/// A place traces or spans are exported to.
///
/// Called only from the destination's own worker thread, never concurrently, never on a
/// thread that records spans. The destination owns its retries and timeouts.
pub(crate) trait Destination: Send + 'static {
    /// A one-line description for messages and diagnostics, e.g.
    /// `MLflow SQLite store sqlite:////work/mlflow.db (experiment 0)`. No secrets.
    fn describe(&self) -> String;

    /// Whether it takes whole traces or spans.
    fn granularity(&self) -> Granularity {
        Granularity::Traces
    }

    /// When to export.
    fn batching(&self) -> Batching {
        Batching::IMMEDIATE
    }

    /// Writes a batch of finished traces (trace destinations).
    fn export(&mut self, traces: &[Arc<CompletedTrace>]) -> Result<(), ExportError> {
        let _ = traces;
        Ok(())
    }

    /// Writes a batch of ended spans (span destinations).
    fn export_spans(&mut self, spans: &[EndedSpan]) -> Result<(), ExportError> {
        let _ = spans;
        Ok(())
    }

    /// Releases resources; called once, after the last export.
    fn shutdown(&mut self) {}

    /// Checks, without exporting anything, whether the destination looks usable: what
    /// works, or what is wrong and what to do (for `mlflow-trace doctor`).
    fn check(&mut self) -> crate::diagnose::Check {
        Ok(vec!["no check available".to_owned()])
    }
}

enum DestMsg {
    Traces(Vec<Arc<CompletedTrace>>),
    Spans(Vec<EndedSpan>),
    Flush(Arc<Barrier>),
    Shutdown(Arc<Barrier>),
}

#[derive(Debug, Default)]
struct DestCounters {
    exported: Counter,
    failed: Counter,
}

/// The pipeline's side of a destination worker.
#[derive(Clone)]
pub(crate) struct DestinationHandle {
    name: Arc<str>,
    granularity: Granularity,
    sender: Sender<DestMsg>,
    counters: Arc<DestCounters>,
}

impl fmt::Debug for DestinationHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestinationHandle")
            .field("name", &self.name)
            .finish()
    }
}

impl DestinationHandle {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn granularity(&self) -> Granularity {
        self.granularity
    }

    pub(crate) fn export(&self, traces: Vec<Arc<CompletedTrace>>) {
        let count = traces.len() as u64;
        if self.sender.send(DestMsg::Traces(traces)).is_err() {
            self.counters.failed.add(count);
        }
    }

    pub(crate) fn export_spans(&self, spans: Vec<EndedSpan>) {
        let count = spans.len() as u64;
        if self.sender.send(DestMsg::Spans(spans)).is_err() {
            self.counters.failed.add(count);
        }
    }

    /// Counts `count` items that never reached the worker as failed.
    pub(crate) fn count_dropped(&self, count: u64) {
        self.counters.failed.add(count);
    }

    pub(crate) fn flush(&self, barrier: Arc<Barrier>) {
        if let Err(mpsc::SendError(DestMsg::Flush(barrier))) =
            self.sender.send(DestMsg::Flush(barrier))
        {
            barrier.complete_part(vec![format!(
                "{}: the export thread has stopped",
                self.name
            )]);
        }
    }

    pub(crate) fn shutdown(&self, barrier: Arc<Barrier>) {
        if let Err(mpsc::SendError(DestMsg::Shutdown(barrier))) =
            self.sender.send(DestMsg::Shutdown(barrier))
        {
            barrier.complete_part(Vec::new());
        }
    }

    pub(crate) fn stats(&self) -> DestinationStats {
        DestinationStats {
            name: self.name.to_string(),
            unit: self.granularity.unit(),
            exported: self.counters.exported.get(),
            failed: self.counters.failed.get(),
        }
    }
}

/// Starts the worker thread of `destination`.
pub(crate) fn spawn(
    destination: Box<dyn Destination>,
) -> (DestinationHandle, Option<JoinHandle<()>>) {
    let name: Arc<str> = destination.describe().into();
    let granularity = destination.granularity();
    let batching = destination.batching();
    let (sender, receiver) = mpsc::channel();
    let counters = Arc::new(DestCounters::default());
    let handle = DestinationHandle {
        name: name.clone(),
        granularity,
        sender,
        counters: counters.clone(),
    };
    let worker = Worker {
        destination,
        name,
        batching,
        counters,
        errors: Vec::new(),
        traces: Vec::new(),
        spans: Vec::new(),
        oldest: None,
    };
    let thread = std::thread::Builder::new()
        .name("mlflow-tracing-export".to_owned())
        .spawn(move || worker.run(receiver));
    match thread {
        Ok(thread) => (handle, Some(thread)),
        Err(err) => {
            diag::error("spawn-destination", || {
                format!(
                    "could not start the export thread for {}: {err}",
                    handle.name
                )
            });
            (handle, None)
        }
    }
}

struct Worker {
    destination: Box<dyn Destination>,
    name: Arc<str>,
    batching: Batching,
    counters: Arc<DestCounters>,
    /// Errors since the last flush, reported to the next flush.
    errors: Vec<String>,
    traces: Vec<Arc<CompletedTrace>>,
    spans: Vec<EndedSpan>,
    /// When the oldest queued item arrived.
    oldest: Option<Instant>,
}

impl Worker {
    fn run(mut self, receiver: Receiver<DestMsg>) {
        loop {
            let msg = match self.oldest {
                None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(oldest) => {
                    let due = oldest + self.batching.max_delay;
                    match due.checked_duration_since(Instant::now()) {
                        Some(wait) if !wait.is_zero() => receiver.recv_timeout(wait),
                        _ => Err(RecvTimeoutError::Timeout),
                    }
                }
            };
            match msg {
                Ok(DestMsg::Traces(traces)) => self.queue(|w| w.traces.extend(traces)),
                Ok(DestMsg::Spans(spans)) => self.queue_spans(spans),
                Ok(DestMsg::Flush(barrier)) => {
                    self.export_all();
                    barrier.complete_part(std::mem::take(&mut self.errors));
                }
                Ok(DestMsg::Shutdown(barrier)) => {
                    self.export_all();
                    self.destination.shutdown();
                    barrier.complete_part(std::mem::take(&mut self.errors));
                    return;
                }
                Err(RecvTimeoutError::Timeout) => self.export_all(),
                Err(RecvTimeoutError::Disconnected) => {
                    self.export_all();
                    self.destination.shutdown();
                    return;
                }
            }
        }
    }

    fn queue(&mut self, add: impl FnOnce(&mut Self)) {
        add(self);
        self.oldest.get_or_insert_with(Instant::now);
        let queued = self.traces.len() + self.spans.len();
        if queued >= self.batching.max_items || self.batching.max_delay.is_zero() {
            self.export_all();
        }
    }

    fn queue_spans(&mut self, mut spans: Vec<EndedSpan>) {
        if let Some(max) = self.batching.max_queued {
            let room = max.saturating_sub(self.spans.len());
            if spans.len() > room {
                let dropped = spans.len() - room;
                spans.truncate(room);
                self.counters.failed.add(dropped as u64);
                let name = &self.name;
                diag::warn(&format!("queue-size:{name}"), || {
                    format!(
                        "{dropped} span(s) for {name} were dropped: more than \
                         OTEL_BSP_MAX_QUEUE_SIZE={max} were waiting to be sent (unset it to \
                         bound the queue by memory only)"
                    )
                });
            }
        }
        self.queue(|w| w.spans.extend(spans));
    }

    fn export_all(&mut self) {
        self.oldest = None;
        while !self.traces.is_empty() {
            let n = self.traces.len().min(self.batching.max_items.max(1));
            let batch: Vec<_> = self.traces.drain(..n).collect();
            let result = self.destination.export(&batch);
            self.account(batch.len(), result);
        }
        while !self.spans.is_empty() {
            let n = self.spans.len().min(self.batching.max_items.max(1));
            let batch: Vec<_> = self.spans.drain(..n).collect();
            let result = self.destination.export_spans(&batch);
            self.account(batch.len(), result);
        }
    }

    fn account(&mut self, count: usize, result: Result<(), ExportError>) {
        let count = count as u64;
        match result {
            Ok(()) => self.counters.exported.add(count),
            Err(err) => {
                let failed = err.failed.map_or(count, |n| (n as u64).min(count));
                self.counters.exported.add(count - failed);
                self.counters.failed.add(failed);
                let name = &self.name;
                diag::error(&format!("export:{name}:{err}"), || {
                    format!("{failed} item(s) could not be exported to {name}: {err}")
                });
                let message = format!("{name}: {err}");
                if !self.errors.contains(&message) {
                    self.errors.push(message);
                }
            }
        }
    }
}
