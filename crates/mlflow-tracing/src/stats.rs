//! What a pipeline counts: [`Stats`], per destination [`DestinationStats`], and why
//! something was not exported ([`Lost`]).
//!
//! Every ended span and every finished trace is accounted for: a span that reaches no
//! destination at all is counted in [`Stats::spans_lost`], a trace that reaches no trace
//! destination in [`Stats::traces_lost`], and an item handed to a destination but not
//! exported by it in that destination's [`DestinationStats::lost`] — each by reason.

use std::fmt;

use crate::config::Destination;
use crate::sync::Counter;

/// Counts of items (spans or traces) that were not exported, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Lost {
    /// Did not fit in the memory the export queues may hold
    /// (`MLFLOW_TRACE_MAX_QUEUE_BYTES`).
    pub over_memory_bound: u64,
    /// Did not fit in a destination's count bound (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub over_queue_size: u64,
    /// The trace was still unfinished after `MLFLOW_TRACE_BUFFER_TTL_SECONDS`.
    pub unfinished: u64,
    /// Still unfinished or queued when the pipeline shut down or the process exited
    /// and the flush timeout ran out.
    pub abandoned: u64,
    /// The destination refused it, or could not be reached within the retry budget.
    pub export_failed: u64,
    /// The destination's exporter panicked (it is not called again).
    pub exporter_panicked: u64,
    /// The span ended after its trace had been exported, or after shutdown.
    pub ended_late: u64,
    /// A span hook panicked on the span (or, for a trace, on its root span): it is not
    /// exported, so that a redaction hook that fails never lets its span out unredacted.
    pub hook_panicked: u64,
}

impl Lost {
    /// Every item counted, whatever the reason.
    pub fn total(&self) -> u64 {
        self.reasons().iter().map(|(n, _)| n).sum()
    }

    /// The counts and what each means, in order.
    fn reasons(&self) -> [(u64, &'static str); 8] {
        [
            (
                self.over_memory_bound,
                "over the memory bound (MLFLOW_TRACE_MAX_QUEUE_BYTES)",
            ),
            (
                self.over_queue_size,
                "over the queue size (OTEL_BSP_MAX_QUEUE_SIZE)",
            ),
            (
                self.unfinished,
                "unfinished after MLFLOW_TRACE_BUFFER_TTL_SECONDS",
            ),
            (self.abandoned, "abandoned at shutdown or exit"),
            (self.export_failed, "export failed"),
            (self.exporter_panicked, "the exporter panicked"),
            (
                self.ended_late,
                "ended after their trace was exported or after shutdown",
            ),
            (self.hook_panicked, "a span hook panicked"),
        ]
    }

    /// What was counted after `earlier` (a snapshot of the same counters).
    pub(crate) fn since(&self, earlier: &Lost) -> Lost {
        Lost {
            over_memory_bound: self
                .over_memory_bound
                .saturating_sub(earlier.over_memory_bound),
            over_queue_size: self.over_queue_size.saturating_sub(earlier.over_queue_size),
            unfinished: self.unfinished.saturating_sub(earlier.unfinished),
            abandoned: self.abandoned.saturating_sub(earlier.abandoned),
            export_failed: self.export_failed.saturating_sub(earlier.export_failed),
            exporter_panicked: self
                .exporter_panicked
                .saturating_sub(earlier.exporter_panicked),
            ended_late: self.ended_late.saturating_sub(earlier.ended_late),
            hook_panicked: self.hook_panicked.saturating_sub(earlier.hook_panicked),
        }
    }
}

impl fmt::Display for Lost {
    /// `3 over the memory bound (…), 1 export failed`; `none` when nothing was lost.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .reasons()
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, why)| format!("{n} {why}"))
            .collect();
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Why an item was lost, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    OverMemoryBound,
    OverQueueSize,
    Unfinished,
    Abandoned,
    ExportFailed,
    ExporterPanicked,
    EndedLate,
    HookPanicked,
}

/// The counters behind a [`Lost`].
#[derive(Debug, Default)]
pub(crate) struct LostCounters {
    over_memory_bound: Counter,
    over_queue_size: Counter,
    unfinished: Counter,
    abandoned: Counter,
    export_failed: Counter,
    exporter_panicked: Counter,
    ended_late: Counter,
    hook_panicked: Counter,
}

impl LostCounters {
    pub(crate) fn add(&self, reason: Reason, n: u64) {
        let counter = match reason {
            Reason::OverMemoryBound => &self.over_memory_bound,
            Reason::OverQueueSize => &self.over_queue_size,
            Reason::Unfinished => &self.unfinished,
            Reason::Abandoned => &self.abandoned,
            Reason::ExportFailed => &self.export_failed,
            Reason::ExporterPanicked => &self.exporter_panicked,
            Reason::EndedLate => &self.ended_late,
            Reason::HookPanicked => &self.hook_panicked,
        };
        counter.add(n);
    }

    pub(crate) fn snapshot(&self) -> Lost {
        Lost {
            over_memory_bound: self.over_memory_bound.get(),
            over_queue_size: self.over_queue_size.get(),
            unfinished: self.unfinished.get(),
            abandoned: self.abandoned.get(),
            export_failed: self.export_failed.get(),
            exporter_panicked: self.exporter_panicked.get(),
            ended_late: self.ended_late.get(),
            hook_panicked: self.hook_panicked.get(),
        }
    }
}

/// Counters of a [`Tracing`](crate::Tracing) pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Spans that ended and were offered to the pipeline.
    pub spans_ended: u64,
    /// Spans that reached no destination: the total of [`spans_lost`](Stats::spans_lost).
    pub spans_dropped: u64,
    /// Spans that reached no destination, by reason.
    pub spans_lost: Lost,
    /// Traces whose root span ended and that were handed to the destinations.
    pub traces_completed: u64,
    /// Traces that reached no trace destination (MLflow stores, `TraceExporter`s): the
    /// total of [`traces_lost`](Stats::traces_lost).
    pub traces_dropped: u64,
    /// Traces that reached no trace destination, by reason.
    pub traces_lost: Lost,
    /// Traces exported without some of their spans (lost for one of the reasons above);
    /// each carries the tag `mlflow_tracing.incomplete`.
    pub traces_incomplete: u64,
    /// Traces not recorded at all because the queue was full when their root span
    /// started (their spans are no-ops, not counted one by one); also counted in
    /// `traces_lost.over_memory_bound`.
    pub traces_not_started: u64,
    /// Traces still open after the trace timeout (`MLFLOW_TRACE_TIMEOUT_SECONDS`), whose
    /// open spans were ended with status ERROR; they are exported, not lost.
    pub traces_timed_out: u64,
    /// Spans a span hook dropped on purpose (not losses: not in
    /// [`spans_lost`](Stats::spans_lost)); a trace whose root was dropped is not exported.
    pub spans_filtered: u64,
    /// Memory the queues hold now, in bytes.
    pub queued_bytes: usize,
    /// The bound on that memory.
    pub max_queue_bytes: usize,
    /// Per destination.
    pub destinations: Vec<DestinationStats>,
}

/// What a destination counts: whole traces (MLflow stores) or spans (OTLP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unit {
    /// Whole traces.
    Traces,
    /// Spans.
    Spans,
}

impl Unit {
    /// `span(s)` or `trace(s)`, for messages.
    pub(crate) fn counted(self) -> &'static str {
        match self {
            Unit::Traces => "trace(s)",
            Unit::Spans => "span(s)",
        }
    }
}

/// Counters of one destination. Every item handed to it is exported, lost (by reason)
/// or still queued: `handed = exported + lost.total() + queued`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationStats {
    /// The destination, as in [`Tracing::destinations`](crate::Tracing::destinations).
    pub destination: Destination,
    /// What it counts.
    pub unit: Unit,
    /// Traces (or spans) exported.
    pub exported: u64,
    /// Traces (or spans) that could not be exported: the total of
    /// [`lost`](DestinationStats::lost).
    pub failed: u64,
    /// Traces (or spans) not exported, by reason.
    pub lost: Lost,
    /// Traces (or spans) handed to it and not yet exported or lost.
    pub queued: u64,
}

/// The pipeline-wide counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) spans_ended: Counter,
    pub(crate) spans_lost: LostCounters,
    pub(crate) traces_completed: Counter,
    pub(crate) traces_lost: LostCounters,
    pub(crate) traces_incomplete: Counter,
    pub(crate) traces_not_started: Counter,
    pub(crate) traces_timed_out: Counter,
    pub(crate) spans_filtered: Counter,
}

/// What was not exported over a period — since the previous flush, or over the
/// pipeline's life at exit: the losses counted in that period, by reason, and the
/// distinct export errors seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LossReport {
    /// Spans that reached no destination.
    pub spans_lost: Lost,
    /// Traces that reached no trace destination.
    pub traces_lost: Lost,
    /// Traces exported without some of their spans.
    pub traces_incomplete: u64,
    /// Items handed to a destination and not exported by it.
    pub destinations: Vec<DestinationLoss>,
    /// The distinct export errors, one message each (no secrets).
    pub errors: Vec<String>,
}

/// What one destination did not export, in a [`LossReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationLoss {
    /// The destination.
    pub destination: Destination,
    /// What its counts count.
    pub unit: Unit,
    /// What it did not export, by reason.
    pub lost: Lost,
}

impl LossReport {
    /// The losses counted between two snapshots of the same pipeline's stats.
    pub(crate) fn between(before: &Stats, after: &Stats, errors: Vec<String>) -> LossReport {
        let destinations = after
            .destinations
            .iter()
            .enumerate()
            .map(|(i, now)| {
                let earlier = before
                    .destinations
                    .get(i)
                    .map(|d| d.lost)
                    .unwrap_or_default();
                DestinationLoss {
                    destination: now.destination.clone(),
                    unit: now.unit,
                    lost: now.lost.since(&earlier),
                }
            })
            .filter(|d| d.lost.total() > 0)
            .collect();
        LossReport {
            spans_lost: after.spans_lost.since(&before.spans_lost),
            traces_lost: after.traces_lost.since(&before.traces_lost),
            traces_incomplete: after
                .traces_incomplete
                .saturating_sub(before.traces_incomplete),
            destinations,
            errors,
        }
    }

    /// Whether nothing was lost and no export failed.
    pub fn is_empty(&self) -> bool {
        self.spans_lost.total() == 0
            && self.traces_lost.total() == 0
            && self.traces_incomplete == 0
            && self.destinations.is_empty()
            && self.errors.is_empty()
    }
}

impl fmt::Display for LossReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.spans_lost.total() > 0 {
            parts.push(format!(
                "{} span(s) reached no destination ({})",
                self.spans_lost.total(),
                self.spans_lost
            ));
        }
        if self.traces_lost.total() > 0 {
            parts.push(format!(
                "{} trace(s) were not exported ({})",
                self.traces_lost.total(),
                self.traces_lost
            ));
        }
        if self.traces_incomplete > 0 {
            parts.push(format!(
                "{} trace(s) were exported without some of their spans",
                self.traces_incomplete
            ));
        }
        for d in &self.destinations {
            parts.push(format!(
                "{}: {} {} not exported ({})",
                d.destination,
                d.lost.total(),
                d.unit.counted(),
                d.lost
            ));
        }
        if !self.errors.is_empty() {
            parts.push(format!("errors: {}", self.errors.join("; ")));
        }
        if parts.is_empty() {
            f.write_str("nothing lost")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}
