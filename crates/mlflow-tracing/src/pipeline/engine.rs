//! [`Core`], the engine of a pipeline: what it needs after its tracer: the assembler's inbox, the sinks'
//! workers, the counters. It outlives the [`Pipeline`](super::Pipeline) handle while the
//! pipeline drains, so the exit hook can wait for it and count what it abandons.

use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::assembly::{FlushParts, Msg, Shared};
use crate::config::Destination;
use crate::destination::Routes;
use crate::error::FlushError;
use crate::report;
use crate::stats::{LossReport, Reason, Stats};
use crate::sync::{Barrier, Ticket};

/// Where a pipeline is in its life.
#[derive(Debug, Clone)]
pub(crate) enum Phase {
    /// Recording and exporting.
    Running,
    /// Shut down (or its last handle dropped): exporting what it holds, then stopping.
    Draining(Arc<Barrier>),
    /// Shut down, and the shutdown's wait ran out: still exporting in the background, but
    /// the exit hook does not wait for it again.
    TimedOut(Arc<Barrier>),
    /// Everything it held is exported or counted.
    Done,
}

/// The shared part of a pipeline.
#[derive(Debug)]
pub(crate) struct Core {
    sender: Sender<Msg>,
    shared: Arc<Shared>,
    routes: Routes,
    flush_timeout: Duration,
    phase: Mutex<Phase>,
    /// The stats at the end of the previous flush: a flush reports what was lost since.
    last_flush: Mutex<Option<Stats>>,
}

impl Core {
    pub(crate) fn new(
        sender: Sender<Msg>,
        shared: Arc<Shared>,
        routes: Routes,
        flush_timeout: Duration,
    ) -> Core {
        Core {
            sender,
            shared,
            routes,
            flush_timeout,
            phase: Mutex::new(Phase::Running),
            last_flush: Mutex::new(None),
        }
    }

    fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn routes(&self) -> &Routes {
        &self.routes
    }

    pub(crate) fn flush_timeout(&self) -> Duration {
        self.flush_timeout
    }

    pub(crate) fn phase(&self) -> Phase {
        Self::lock(&self.phase).clone()
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        *Self::lock(&self.phase) = phase;
    }

    /// Reserves the memory of a new trace; when the queue is full, counts the trace as
    /// lost and reports it (at most every 30 s).
    pub(crate) fn reserve_trace(&self, name: &str) -> Option<Ticket> {
        let ticket = self.shared.reserve_trace(name);
        if ticket.is_none() {
            let counters = &self.shared.counters;
            counters.traces_lost.add(Reason::OverMemoryBound, 1);
            counters.traces_not_started.inc();
            self.report_full(&format!("the trace {name:?} was not recorded"));
        }
        ticket
    }

    /// Reserves `bytes` for a trace update; `None` (reported) when the queue is full.
    pub(crate) fn reserve_update(&self, bytes: usize) -> Option<Ticket> {
        let ticket = self.shared.budget.try_acquire(bytes);
        if ticket.is_none() {
            self.report_full("a trace update was not applied");
        }
        ticket
    }

    fn report_full(&self, what: &str) {
        if self.shared.drop_report_due() {
            let budget = &self.shared.budget;
            report::warn_now(&format!(
                "the export queue is full ({} of {} bytes in use): {what}. Raise \
                 MLFLOW_TRACE_MAX_QUEUE_BYTES or check that the destinations keep up",
                budget.used(),
                budget.max()
            ));
        }
    }

    /// Sends a message to the assembler; `false` when it is gone.
    pub(crate) fn send(&self, msg: Msg) -> bool {
        self.sender.send(msg).is_ok()
    }

    /// Sends a flush (or shutdown) barrier behind everything queued: the assembler and
    /// every worker complete a part of it once they have exported what came before it. A
    /// part whose thread is gone completes itself with an error.
    pub(crate) fn flush_barrier(&self, shutdown: bool) -> Arc<Barrier> {
        let barrier = Barrier::new();
        let parts = FlushParts {
            assembler: barrier.part("the trace assembly thread"),
            workers: self.routes.parts(&barrier),
        };
        let msg = if shutdown {
            Msg::Shutdown(parts)
        } else {
            Msg::Flush(parts)
        };
        if let Err(std::sync::mpsc::SendError(Msg::Flush(parts) | Msg::Shutdown(parts))) =
            self.sender.send(msg)
        {
            // The assembler is gone, so nothing is pending there; the workers still get
            // their parts.
            parts.assembler.complete(Vec::new());
            if shutdown {
                self.routes.shutdown(parts.workers);
            } else {
                self.routes.flush(parts.workers);
            }
        }
        self.shared.wake_assembler();
        barrier
    }

    /// Waits for `barrier` at most `timeout`; then reports what was lost since the previous
    /// flush (`FlushError::Lost`), or that time ran out.
    pub(crate) fn finish_flush(
        &self,
        barrier: &Barrier,
        timeout: Duration,
    ) -> Result<(), FlushError> {
        let errors = barrier.wait(timeout).ok_or(FlushError::Timeout(timeout))?;
        self.report_since_last_flush(errors)
    }

    /// What was lost since the previous flush, with `errors`; the snapshot moves on.
    pub(crate) fn report_since_last_flush(&self, errors: Vec<String>) -> Result<(), FlushError> {
        let now = self.stats();
        let mut last = Self::lock(&self.last_flush);
        let before = last.take().unwrap_or_else(|| self.zero_stats());
        let report = LossReport::between(&before, &now, errors);
        *last = Some(now);
        if report.is_empty() {
            Ok(())
        } else {
            Err(FlushError::Lost(Box::new(report)))
        }
    }

    /// What was lost since the last flush reported losses (for the report at exit): each
    /// loss is reported once, by a flush or at exit.
    pub(crate) fn unreported_losses(&self) -> LossReport {
        let now = self.stats();
        let mut last = Self::lock(&self.last_flush);
        let before = last.take().unwrap_or_else(|| self.zero_stats());
        let report = LossReport::between(&before, &now, Vec::new());
        *last = Some(now);
        report
    }

    fn zero_stats(&self) -> Stats {
        let mut zero = self.stats();
        zero.spans_lost = Default::default();
        zero.traces_lost = Default::default();
        zero.traces_incomplete = 0;
        for d in &mut zero.destinations {
            d.lost = Default::default();
        }
        zero
    }

    /// The process is exiting and the flush timeout ran out: whatever the pipeline still
    /// holds will not be exported. Counts it, by where it was, as abandoned.
    pub(crate) fn abandon(&self) {
        let counters = &self.shared.counters;
        let gauges = &self.shared.gauges;
        let inbox = gauges.inbox_spans.swap(0, Ordering::Relaxed);
        let pending_traces = gauges.pending_traces.swap(0, Ordering::Relaxed);
        let pending_spans = gauges.pending_spans.swap(0, Ordering::Relaxed);
        counters.spans_lost.add(Reason::Abandoned, inbox);
        if self.routes.wants_traces() {
            counters.traces_lost.add(Reason::Abandoned, pending_traces);
            if !self.routes.wants_spans() {
                counters.spans_lost.add(Reason::Abandoned, pending_spans);
            }
        }
        self.routes.abandon_queued();
    }

    pub(crate) fn destinations(&self) -> &[Destination] {
        self.routes.destinations()
    }

    pub(crate) fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let spans_lost = c.spans_lost.snapshot();
        let traces_lost = c.traces_lost.snapshot();
        Stats {
            spans_ended: c.spans_ended.get(),
            spans_dropped: spans_lost.total(),
            spans_lost,
            traces_completed: c.traces_completed.get(),
            traces_dropped: traces_lost.total(),
            traces_lost,
            traces_incomplete: c.traces_incomplete.get(),
            traces_not_started: c.traces_not_started.get(),
            traces_timed_out: c.traces_timed_out.get(),
            spans_filtered: c.spans_filtered.get(),
            queued_bytes: self.shared.budget.used(),
            max_queue_bytes: self.shared.budget.max(),
            destinations: self.routes.stats(),
        }
    }
}
