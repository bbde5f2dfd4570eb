//! Destinations: where finished traces go.
//!
//! A destination implements the small [`Destination`] trait and runs on a worker thread of
//! its own, fed by an unbounded channel (memory is bounded by the pipeline's budget, not
//! by the channel). The worker batches what has queued up, calls
//! [`Destination::export`], counts successes and failures, reports errors, and answers
//! flushes in order. Adding a destination means adding one file with one `impl`.

pub(crate) mod custom;
#[cfg(feature = "local-store")]
pub(crate) mod local_store;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use crate::diag;
use crate::model::Trace;
use crate::pipeline::{Barrier, Counter, DestinationStats, Ticket};

/// How many traces a worker hands to [`Destination::export`] at most at once.
const MAX_BATCH: usize = 512;

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

/// Why an export failed. The message is shown to users: it must not contain secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExportError {
    message: String,
    /// How many traces of the batch failed; `None` means all of them.
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

    /// `failed` traces of the batch failed; the others were exported.
    #[allow(dead_code)] // not every destination writes trace by trace
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

/// A place traces are exported to.
///
/// Called only from the destination's own worker thread, never concurrently, never on
/// a thread that records spans. The destination owns its retries and timeouts.
pub(crate) trait Destination: Send + 'static {
    /// A one-line description for messages and diagnostics, e.g.
    /// `MLflow SQLite store sqlite:////work/mlflow.db (experiment 0)`. No secrets.
    fn describe(&self) -> String;

    /// Writes a batch of finished traces. On error, the whole batch counts as failed.
    fn export(&mut self, traces: &[Arc<CompletedTrace>]) -> Result<(), ExportError>;

    /// Releases resources; called once, after the last export.
    fn shutdown(&mut self) {}
}

enum DestMsg {
    Traces(Vec<Arc<CompletedTrace>>),
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

    pub(crate) fn export(&self, traces: Vec<Arc<CompletedTrace>>) {
        let count = traces.len() as u64;
        if self.sender.send(DestMsg::Traces(traces)).is_err() {
            self.counters.failed.add(count);
        }
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
            traces_exported: self.counters.exported.get(),
            traces_failed: self.counters.failed.get(),
        }
    }
}

/// Starts the worker thread of `destination`.
pub(crate) fn spawn(
    destination: Box<dyn Destination>,
) -> (DestinationHandle, Option<JoinHandle<()>>) {
    let name: Arc<str> = destination.describe().into();
    let (sender, receiver) = mpsc::channel();
    let counters = Arc::new(DestCounters::default());
    let handle = DestinationHandle {
        name: name.clone(),
        sender,
        counters: counters.clone(),
    };
    let worker = Worker {
        destination,
        name,
        counters,
        errors: Vec::new(),
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
    counters: Arc<DestCounters>,
    /// Errors since the last flush, reported to the next flush.
    errors: Vec<String>,
}

impl Worker {
    fn run(mut self, receiver: Receiver<DestMsg>) {
        let mut batch = Vec::new();
        while let Ok(first) = receiver.recv() {
            let mut control = None;
            match first {
                DestMsg::Traces(traces) => batch.extend(traces),
                other => control = Some(other),
            }
            while control.is_none() && batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(DestMsg::Traces(traces)) => batch.extend(traces),
                    Ok(other) => control = Some(other),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.export(&batch);
                batch.clear();
            }
            match control {
                Some(DestMsg::Flush(barrier)) => {
                    barrier.complete_part(std::mem::take(&mut self.errors));
                }
                Some(DestMsg::Shutdown(barrier)) => {
                    self.destination.shutdown();
                    barrier.complete_part(std::mem::take(&mut self.errors));
                    return;
                }
                Some(DestMsg::Traces(_)) | None => {}
            }
        }
        self.destination.shutdown();
    }

    fn export(&mut self, batch: &[Arc<CompletedTrace>]) {
        let count = batch.len() as u64;
        match self.destination.export(batch) {
            Ok(()) => self.counters.exported.add(count),
            Err(err) => {
                let failed = err.failed.map_or(count, |n| (n as u64).min(count));
                self.counters.exported.add(count - failed);
                self.counters.failed.add(failed);
                let count = failed;
                let name = &self.name;
                diag::error(&format!("export:{name}:{err}"), || {
                    format!("{count} trace(s) could not be written to {name}: {err}")
                });
                let message = format!("{name}: {err}");
                if !self.errors.contains(&message) {
                    self.errors.push(message);
                }
            }
        }
    }
}
