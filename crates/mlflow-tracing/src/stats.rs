//! What a pipeline counts: [`Stats`], and per destination [`DestinationStats`].

use crate::config::Destination;
use crate::sync::Counter;

/// Counters of a [`Tracing`](crate::Tracing) pipeline.
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

/// Counters of one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationStats {
    /// The destination, as in [`Tracing::destinations`](crate::Tracing::destinations).
    pub destination: Destination,
    /// What it counts.
    pub unit: Unit,
    /// Traces (or spans) exported.
    pub exported: u64,
    /// Traces (or spans) that could not be exported.
    pub failed: u64,
}

/// The pipeline-wide counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) spans_ended: Counter,
    pub(crate) spans_dropped: Counter,
    pub(crate) traces_completed: Counter,
    pub(crate) traces_dropped: Counter,
}

/// The counters of one destination behind [`DestinationStats`].
#[derive(Debug, Default)]
pub(crate) struct DestinationCounters {
    pub(crate) exported: Counter,
    pub(crate) failed: Counter,
}
