//! The worker thread behind every sink: it queues what the pipeline hands it, exports in
//! batches (at once, or by size and delay), counts successes and failures, reports errors,
//! and answers flushes in order.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Instant;

use super::{Batching, ExportError, Sink};
use crate::config::Destination;
use crate::report;
use crate::stats::{DestinationCounters, DestinationStats, Unit};
use crate::sync::Barrier;

enum WorkerMsg<T> {
    Items(Vec<T>),
    Flush(Arc<Barrier>),
    Shutdown(Arc<Barrier>),
}

/// The pipeline's side of a worker: where to send its items.
pub(crate) struct WorkerHandle<T> {
    destination: Arc<Destination>,
    unit: Unit,
    sender: Sender<WorkerMsg<T>>,
    counters: Arc<DestinationCounters>,
}

impl<T> Clone for WorkerHandle<T> {
    fn clone(&self) -> Self {
        WorkerHandle {
            destination: self.destination.clone(),
            unit: self.unit,
            sender: self.sender.clone(),
            counters: self.counters.clone(),
        }
    }
}

impl<T> fmt::Debug for WorkerHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("destination", &self.destination)
            .finish()
    }
}

impl<T: Send + 'static> WorkerHandle<T> {
    /// Starts the worker thread of `sink`; the thread's handle is `None` when it could not
    /// be started (reported; what is sent to it is then counted as failed).
    pub(crate) fn spawn(
        sink: Box<dyn Sink<T>>,
        unit: Unit,
    ) -> (WorkerHandle<T>, Option<JoinHandle<()>>) {
        let destination = Arc::new(sink.destination());
        let batching = sink.batching();
        let (sender, receiver) = mpsc::channel();
        let counters = Arc::new(DestinationCounters::default());
        let handle = WorkerHandle {
            destination: destination.clone(),
            unit,
            sender,
            counters: counters.clone(),
        };
        let worker = Worker {
            sink,
            destination,
            unit,
            batching,
            counters,
            errors: Vec::new(),
            queue: Vec::new(),
            oldest: None,
        };
        let thread = std::thread::Builder::new()
            .name("mlflow-tracing-export".to_owned())
            .spawn(move || worker.run(receiver));
        match thread {
            Ok(thread) => (handle, Some(thread)),
            Err(err) => {
                report::error("spawn-destination", || {
                    format!(
                        "could not start the export thread for {}: {err}",
                        handle.destination
                    )
                });
                (handle, None)
            }
        }
    }

    pub(crate) fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Hands `items` to the worker (counted as failed when it is gone).
    pub(crate) fn send(&self, items: Vec<T>) {
        let count = items.len() as u64;
        if self.sender.send(WorkerMsg::Items(items)).is_err() {
            self.counters.failed.add(count);
        }
    }

    /// Counts `count` items that never reached the worker as failed.
    pub(crate) fn count_dropped(&self, count: u64) {
        self.counters.failed.add(count);
    }

    /// Asks the worker to export what it holds, then complete its part of `barrier`.
    pub(crate) fn flush(&self, barrier: Arc<Barrier>) {
        if let Err(mpsc::SendError(WorkerMsg::Flush(barrier))) =
            self.sender.send(WorkerMsg::Flush(barrier))
        {
            barrier.complete_part(vec![format!(
                "{}: the export thread has stopped",
                self.destination
            )]);
        }
    }

    /// Asks the worker to export what it holds and stop.
    pub(crate) fn shutdown(&self, barrier: Arc<Barrier>) {
        if let Err(mpsc::SendError(WorkerMsg::Shutdown(barrier))) =
            self.sender.send(WorkerMsg::Shutdown(barrier))
        {
            barrier.complete_part(Vec::new());
        }
    }

    pub(crate) fn stats(&self) -> DestinationStats {
        DestinationStats {
            destination: (*self.destination).clone(),
            unit: self.unit,
            exported: self.counters.exported.get(),
            failed: self.counters.failed.get(),
        }
    }
}

struct Worker<T> {
    sink: Box<dyn Sink<T>>,
    destination: Arc<Destination>,
    unit: Unit,
    batching: Batching,
    counters: Arc<DestinationCounters>,
    /// Errors since the last flush, reported to the next flush.
    errors: Vec<String>,
    queue: Vec<T>,
    /// When the oldest queued item arrived.
    oldest: Option<Instant>,
}

impl<T: Send + 'static> Worker<T> {
    fn run(mut self, receiver: Receiver<WorkerMsg<T>>) {
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
                Ok(WorkerMsg::Items(items)) => self.queue(items),
                Ok(WorkerMsg::Flush(barrier)) => {
                    self.export_all();
                    self.flush_sink();
                    barrier.complete_part(std::mem::take(&mut self.errors));
                }
                Ok(WorkerMsg::Shutdown(barrier)) => {
                    self.export_all();
                    self.flush_sink();
                    self.sink.shutdown();
                    barrier.complete_part(std::mem::take(&mut self.errors));
                    return;
                }
                Err(RecvTimeoutError::Timeout) => self.export_all(),
                Err(RecvTimeoutError::Disconnected) => {
                    self.export_all();
                    self.flush_sink();
                    self.sink.shutdown();
                    return;
                }
            }
        }
    }

    fn queue(&mut self, mut items: Vec<T>) {
        if let Some(max) = self.batching.max_queued {
            let room = max.saturating_sub(self.queue.len());
            if items.len() > room {
                let dropped = items.len() - room;
                items.truncate(room);
                self.counters.failed.add(dropped as u64);
                let (destination, what) = (&self.destination, self.unit.counted());
                report::warn(&format!("queue-size:{destination}"), || {
                    format!(
                        "{dropped} {what} for {destination} were dropped: more than \
                         OTEL_BSP_MAX_QUEUE_SIZE={max} were waiting to be sent (unset it to \
                         bound the queue by memory only)"
                    )
                });
            }
        }
        self.queue.extend(items);
        self.oldest.get_or_insert_with(Instant::now);
        if self.queue.len() >= self.batching.max_items || self.batching.max_delay.is_zero() {
            self.export_all();
        }
    }

    fn export_all(&mut self) {
        self.oldest = None;
        while !self.queue.is_empty() {
            let n = self.queue.len().min(self.batching.max_items.max(1));
            let batch: Vec<T> = self.queue.drain(..n).collect();
            let result = self.sink.export(&batch);
            self.account(batch.len(), result);
        }
    }

    /// The sink's own flush; a failure is reported and returned by the flush.
    fn flush_sink(&mut self) {
        if let Err(err) = self.sink.flush() {
            let destination = &self.destination;
            report::error(&format!("flush:{destination}:{err}"), || {
                format!("{destination}: {err}")
            });
            let message = format!("{destination}: {err}");
            if !self.errors.contains(&message) {
                self.errors.push(message);
            }
        }
    }

    fn account(&mut self, count: usize, result: Result<(), ExportError>) {
        match result {
            Ok(()) => self.counters.exported.add(count as u64),
            Err(err) => {
                let failed = err.failed_of(count);
                self.counters.exported.add((count - failed) as u64);
                self.counters.failed.add(failed as u64);
                let (destination, what) = (&self.destination, self.unit.counted());
                report::error(&format!("export:{destination}:{err}"), || {
                    format!("{failed} {what} could not be exported to {destination}: {err}")
                });
                let message = format!("{destination}: {err}");
                if !self.errors.contains(&message) {
                    self.errors.push(message);
                }
            }
        }
    }
}
