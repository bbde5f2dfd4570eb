//! The worker thread behind every sink: it queues what the pipeline hands it, exports in
//! batches (at once, or by size and delay), counts what it exported and what it lost (by
//! reason), reports errors, and answers flushes in order.
//!
//! The sink runs under `catch_unwind`: an exporter that panics loses the batch it held
//! (counted), is never called again (everything later handed to it is counted as lost
//! too), and the worker goes on answering flushes.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Instant;

use super::{Batching, ExportError, Sink};
use crate::config::Destination;
use crate::report;
use crate::stats::{DestinationStats, LostCounters, Reason, Unit};
use crate::sync::{BarrierPart, Counter};

enum WorkerMsg<T> {
    Items(Vec<T>),
    Flush(BarrierPart),
    Shutdown(BarrierPart),
}

/// A destination's counters: shared by its handle and its worker.
#[derive(Debug, Default)]
struct Counters {
    exported: Counter,
    lost: LostCounters,
    /// Items handed over and not yet exported or lost (in the channel or the queue).
    queued: AtomicU64,
}

impl Counters {
    fn done(&self, n: u64) {
        self.queued.fetch_sub(n, Ordering::Relaxed);
    }

    fn exported(&self, n: u64) {
        self.exported.add(n);
        self.done(n);
    }

    fn lost(&self, reason: Reason, n: u64) {
        self.lost.add(reason, n);
        self.done(n);
    }
}

/// The pipeline's side of a worker: where to send its items.
pub(crate) struct WorkerHandle<T> {
    destination: Arc<Destination>,
    unit: Unit,
    sender: Sender<WorkerMsg<T>>,
    counters: Arc<Counters>,
    /// A bound on the items queued for this destination (`OTEL_BSP_MAX_QUEUE_SIZE`).
    max_queued: Option<u64>,
}

impl<T> Clone for WorkerHandle<T> {
    fn clone(&self) -> Self {
        WorkerHandle {
            destination: self.destination.clone(),
            unit: self.unit,
            sender: self.sender.clone(),
            counters: self.counters.clone(),
            max_queued: self.max_queued,
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
    /// be started (reported; what is sent to it is then counted as lost).
    pub(crate) fn spawn(
        sink: Box<dyn Sink<T>>,
        unit: Unit,
    ) -> (WorkerHandle<T>, Option<JoinHandle<()>>) {
        let destination = Arc::new(sink.destination());
        let batching = sink.batching();
        let (sender, receiver) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let handle = WorkerHandle {
            destination: destination.clone(),
            unit,
            sender,
            counters: counters.clone(),
            max_queued: batching.max_queued.map(|n| n as u64),
        };
        let worker = Worker {
            sink: Some(sink),
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

    /// Hands `items` to the worker. Past the queue bound (`OTEL_BSP_MAX_QUEUE_SIZE`,
    /// `MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE`), when one is set, the rest
    /// are counted as lost; so is everything when the worker is gone.
    pub(crate) fn send(&self, mut items: Vec<T>) {
        let offered = items.len() as u64;
        self.counters.queued.fetch_add(offered, Ordering::Relaxed);
        if let Some(max) = self.max_queued {
            let queued = self.counters.queued.load(Ordering::Relaxed);
            if queued > max {
                let over = (queued - max).min(offered);
                items.truncate(items.len() - over as usize);
                self.counters.lost(Reason::OverQueueSize, over);
                let (destination, what) = (&self.destination, self.unit.counted());
                report::warn(&format!("queue-size:{destination}"), || {
                    format!(
                        "{over} {what} for {destination} were dropped: more than \
                         {variable}={max} were waiting to be sent (unset it to bound the queue \
                         by memory only)",
                        variable = match self.unit {
                            Unit::Traces =>
                                crate::config::env::MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE,
                            Unit::Spans => crate::config::env::OTEL_BSP_MAX_QUEUE_SIZE,
                        }
                    )
                });
                if items.is_empty() {
                    return;
                }
            }
        }
        let count = items.len() as u64;
        if self.sender.send(WorkerMsg::Items(items)).is_err() {
            self.counters.lost(Reason::ExporterPanicked, count);
        }
    }

    /// Counts `count` items that could not be handed to the worker.
    pub(crate) fn count_lost(&self, reason: Reason, count: u64) {
        self.counters.lost.add(reason, count);
    }

    /// Asks the worker to export what it holds, then complete `part`. A worker that is
    /// gone drops the part, which completes it with an error.
    pub(crate) fn flush(&self, part: BarrierPart) {
        let _ = self.sender.send(WorkerMsg::Flush(part));
    }

    /// Asks the worker to export what it holds and stop.
    pub(crate) fn shutdown(&self, part: BarrierPart) {
        if let Err(mpsc::SendError(WorkerMsg::Shutdown(part))) =
            self.sender.send(WorkerMsg::Shutdown(part))
        {
            part.complete(Vec::new());
        }
    }

    /// Counts what is still queued as abandoned: the process is exiting and it will not
    /// be exported. Returns how many that was.
    pub(crate) fn abandon_queued(&self) -> u64 {
        let queued = self.counters.queued.swap(0, Ordering::Relaxed);
        self.counters.lost.add(Reason::Abandoned, queued);
        queued
    }

    pub(crate) fn stats(&self) -> DestinationStats {
        let lost = self.counters.lost.snapshot();
        DestinationStats {
            destination: (*self.destination).clone(),
            unit: self.unit,
            exported: self.counters.exported.get(),
            failed: lost.total(),
            lost,
            queued: self.counters.queued.load(Ordering::Relaxed),
        }
    }
}

struct Worker<T> {
    /// The sink; `None` once it has panicked.
    sink: Option<Box<dyn Sink<T>>>,
    destination: Arc<Destination>,
    unit: Unit,
    batching: Batching,
    counters: Arc<Counters>,
    /// Errors since the last flush, reported to the next flush.
    errors: Vec<String>,
    queue: Vec<T>,
    /// When the oldest queued item arrived.
    oldest: Option<Instant>,
}

impl<T: Send + 'static> Worker<T> {
    fn run(mut self, receiver: Receiver<WorkerMsg<T>>) {
        // A message taken from the channel while gathering a batch, handled next.
        let mut next: Option<WorkerMsg<T>> = None;
        loop {
            let msg = match (next.take(), self.oldest) {
                (Some(msg), _) => Ok(msg),
                (None, None) => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
                (None, Some(oldest)) => {
                    let due = oldest + self.batching.max_delay;
                    match due.checked_duration_since(Instant::now()) {
                        Some(wait) if !wait.is_zero() => receiver.recv_timeout(wait),
                        _ => Err(RecvTimeoutError::Timeout),
                    }
                }
            };
            match msg {
                Ok(WorkerMsg::Items(items)) => {
                    if self.batching.max_delay.is_zero() {
                        next = self.gather(items, &receiver);
                    } else {
                        self.queue(items);
                    }
                }
                Ok(WorkerMsg::Flush(part)) => {
                    self.export_all();
                    self.flush_sink();
                    part.complete(std::mem::take(&mut self.errors));
                }
                Ok(WorkerMsg::Shutdown(part)) => {
                    self.export_all();
                    self.flush_sink();
                    self.shutdown_sink();
                    part.complete(std::mem::take(&mut self.errors));
                    return;
                }
                Err(RecvTimeoutError::Timeout) => self.export_all(),
                Err(RecvTimeoutError::Disconnected) => {
                    self.export_all();
                    self.flush_sink();
                    self.shutdown_sink();
                    return;
                }
            }
        }
    }

    /// An immediate sink's batch: `items` and whatever else is already waiting in the
    /// channel, up to `max_items`, exported at once. Under load the sink gets fewer,
    /// larger batches (for the local store: fewer commits, each waiting for the disk);
    /// idle, it exports what arrived right away. Returns the message that ended the
    /// gathering (a flush, say), to be handled next, after this batch.
    fn gather(&mut self, items: Vec<T>, receiver: &Receiver<WorkerMsg<T>>) -> Option<WorkerMsg<T>> {
        self.queue.extend(items);
        let mut next = None;
        while self.queue.len() < self.batching.max_items {
            match receiver.try_recv() {
                Ok(WorkerMsg::Items(more)) => self.queue.extend(more),
                Ok(other) => {
                    next = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let queued = std::mem::take(&mut self.queue);
        self.queue(queued);
        next
    }

    fn queue(&mut self, items: Vec<T>) {
        if self.sink.is_none() {
            self.counters
                .lost(Reason::ExporterPanicked, items.len() as u64);
            return;
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
            let Some(sink) = self.sink.as_mut() else {
                self.counters
                    .lost(Reason::ExporterPanicked, batch.len() as u64);
                continue;
            };
            match catch_unwind(AssertUnwindSafe(|| sink.export(&batch))) {
                Ok(result) => self.account(batch.len(), result),
                Err(payload) => self.sink_panicked(batch.len(), &*payload),
            }
        }
    }

    fn shutdown_sink(&mut self) {
        if let Some(mut sink) = self.sink.take()
            && let Err(payload) = catch_unwind(AssertUnwindSafe(|| sink.shutdown()))
        {
            self.sink_panicked(0, &*payload);
        }
    }

    /// The sink panicked with the batch of `count` items: the batch is lost, and so is
    /// everything later handed to this destination.
    fn sink_panicked(&mut self, count: usize, payload: &(dyn std::any::Any + Send)) {
        self.sink = None;
        self.counters.lost(Reason::ExporterPanicked, count as u64);
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let message: String = message.chars().take(200).collect();
        let destination = &self.destination;
        let error = format!(
            "{destination}: the exporter panicked ({message}); it is not called again and \
             what is handed to it is counted as lost"
        );
        report::error(&format!("panic:{destination}"), || error.clone());
        if !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    /// The sink's own flush; a failure is reported and returned by the flush.
    fn flush_sink(&mut self) {
        let Some(sink) = self.sink.as_mut() else {
            return;
        };
        match catch_unwind(AssertUnwindSafe(|| sink.flush())) {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                let destination = &self.destination;
                report::error(&format!("flush:{destination}"), || {
                    format!("{destination}: {err}")
                });
                let message = format!("{destination}: {err}");
                if !self.errors.contains(&message) {
                    self.errors.push(message);
                }
            }
            Err(payload) => self.sink_panicked(0, &*payload),
        }
    }

    fn account(&mut self, count: usize, result: Result<(), ExportError>) {
        match result {
            Ok(()) => self.counters.exported(count as u64),
            Err(err) => {
                let failed = err.failed_of(count);
                self.counters.exported((count - failed) as u64);
                self.counters.lost(Reason::ExportFailed, failed as u64);
                let (destination, what) = (&self.destination, self.unit.counted());
                report::error(&format!("export:{destination}"), || {
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::sync::Barrier;

    /// Records the size of every batch it gets.
    struct Batches(Arc<Mutex<Vec<usize>>>);

    impl Sink<u32> for Batches {
        fn destination(&self) -> Destination {
            Destination::Exporter {
                name: "batches".to_owned(),
            }
        }

        fn batching(&self) -> Batching {
            Batching {
                max_items: 5,
                ..Batching::IMMEDIATE
            }
        }

        fn export(&mut self, batch: &[u32]) -> Result<(), ExportError> {
            self.0.lock().unwrap().push(batch.len());
            Ok(())
        }
    }

    #[test]
    fn an_immediate_sink_gets_what_is_waiting_in_one_batch_and_flushes_after_it() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let sink = Batches(batches.clone());
        let (sender, receiver) = mpsc::channel();
        // Everything is waiting before the worker looks: 2 + 2 + 3 items, a flush, 1 item.
        for items in [vec![1, 2], vec![3, 4], vec![5, 6, 7]] {
            sender.send(WorkerMsg::Items(items)).unwrap();
        }
        let flushed = Barrier::new();
        sender
            .send(WorkerMsg::Flush(flushed.part("worker")))
            .unwrap();
        sender.send(WorkerMsg::Items(vec![8])).unwrap();
        drop(sender);
        let worker = Worker {
            destination: Arc::new(sink.destination()),
            batching: sink.batching(),
            sink: Some(Box::new(sink) as Box<dyn Sink<u32>>),
            unit: Unit::Spans,
            counters: Arc::new(Counters::default()),
            errors: Vec::new(),
            queue: Vec::new(),
            oldest: None,
        };
        let counters = worker.counters.clone();
        worker.run(receiver);
        // Gathered up to 5 (2 + 2 + 3 = 7: one batch of 5, one of 2), all before the flush
        // completed; then the item sent after the flush, alone.
        assert_eq!(flushed.wait(Duration::from_secs(1)), Some(Vec::new()));
        assert_eq!(*batches.lock().unwrap(), [5, 2, 1]);
        assert_eq!(counters.exported.get(), 8);
    }
}
