//! What the assembler thread receives ([`Msg`]), the state every span of one trace shares
//! ([`TraceShared`]), and the state shared between the pipeline's handle, its span
//! processor and the assembler ([`Shared`]).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use opentelemetry::trace::TraceId;
use opentelemetry::{StringValue, Value};
use opentelemetry_sdk::trace::SpanData;

use crate::model::TraceUpdate;
use crate::stats::Counters;
use crate::sync::{BarrierPart, Budget, ENTRY_OVERHEAD, Ticket};

/// A trace's own state beyond its metadata: the buffer, the maps, the finished
/// `TraceInfo`'s fixed part.
const TRACE_OVERHEAD: usize = 1024;

/// What the assembler thread receives.
// Unboxed on purpose: the channel stores messages in blocks of 31, so a large variant
// costs one allocation per block instead of one per span, and no allocation crosses
// threads for the box.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Msg {
    /// A root span started: a new trace, with the memory its state takes reserved.
    TraceStarted(Arc<TraceShared>, Ticket),
    /// A span ended.
    SpanEnded(SpanData, Ticket),
    /// A span ended but did not fit in the queue.
    SpanDropped { trace_id: TraceId, root: bool },
    /// `update_current_trace`.
    Update {
        trace_id: TraceId,
        update: Box<TraceUpdate>,
        ticket: Ticket,
    },
    /// Export everything received so far.
    Flush(FlushParts),
    /// Export everything received so far, then stop.
    Shutdown(FlushParts),
}

/// The parts of a flush (or shutdown) barrier: the assembler's, and one per sink worker,
/// which the assembler passes on behind what it has already handed to them.
#[derive(Debug)]
pub(crate) struct FlushParts {
    pub(crate) assembler: BarrierPart,
    pub(crate) workers: Vec<BarrierPart>,
}

/// What the assembler holds right now, for counting what is abandoned at exit.
#[derive(Debug, Default)]
pub(crate) struct Gauges {
    /// Spans handed to the assembler and not yet taken from its inbox.
    pub(crate) inbox_spans: AtomicU64,
    /// Traces whose spans are still arriving.
    pub(crate) pending_traces: AtomicU64,
    /// Spans held in those traces' buffers (only when trace sinks need them).
    pub(crate) pending_spans: AtomicU64,
}

/// State shared by every span of one trace.
#[derive(Debug)]
pub(crate) struct TraceShared {
    pub(crate) otel_trace_id: TraceId,
    /// `tr-<32 hex>`.
    pub(crate) request_id: Arc<str>,
    /// `"\"tr-<32 hex>\""`, the value of `mlflow.traceRequestId` on every span.
    request_id_attr: StringValue,
    /// The root span's name, the trace name.
    pub(crate) root_name: String,
    /// Recording spans started in this trace; the trace is complete when the assembler
    /// has received this many.
    pub(crate) started: AtomicU32,
    /// The trace's spans, so that a trace that times out can have its open ones ended;
    /// `None` (nothing kept, nothing locked) when no trace timeout is configured.
    open_spans: Option<Mutex<Vec<Weak<dyn OpenSpan>>>>,
    /// The tags and metadata of the `TraceScope` the trace started in (shared by every
    /// trace of the scope; applied by the assembler when the trace starts).
    pub(crate) scope: Option<Arc<TraceUpdate>>,
}

/// A span of a trace, as the trace timeout sees it: ended from the assembler when the
/// trace is still open after `MLFLOW_TRACE_TIMEOUT_SECONDS`.
pub(crate) trait OpenSpan: Send + Sync {
    /// Whether this is the trace's root span.
    fn is_root(&self) -> bool;
    /// Ends the span, if still open, with status ERROR; with `exception`, also records an
    /// `exception` event of that type and message (MLflow does so on the root).
    fn end_timed_out(&self, exception: Option<(&str, &str)>);
}

impl TraceShared {
    /// A trace's shared state; `track_open_spans` when a trace timeout is configured,
    /// `scope` the values of the scope it starts in.
    pub(crate) fn new(
        otel_trace_id: TraceId,
        root_name: String,
        track_open_spans: bool,
        scope: Option<Arc<TraceUpdate>>,
    ) -> Self {
        let request_id: Arc<str> =
            format!("{}{otel_trace_id}", crate::keys::TRACE_ID_PREFIX).into();
        let request_id_attr = StringValue::from(Arc::<str>::from(crate::json::quote(&request_id)));
        TraceShared {
            otel_trace_id,
            request_id,
            request_id_attr,
            root_name,
            started: AtomicU32::new(1),
            open_spans: track_open_spans.then(|| Mutex::new(Vec::new())),
            scope,
        }
    }

    /// Keeps `span` for the trace timeout (nothing when no timeout is configured). Spans
    /// already gone are pruned as the list grows, so it holds about the spans still open.
    pub(crate) fn register_open(&self, span: Weak<dyn OpenSpan>) {
        let Some(open) = &self.open_spans else {
            return;
        };
        let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() == open.capacity() && open.len() >= 16 {
            open.retain(|s| s.strong_count() > 0);
        }
        open.push(span);
    }

    /// The trace's spans still alive, taken out of the list: children first in reverse
    /// order of start, the root last.
    pub(crate) fn take_open(&self) -> Vec<Arc<dyn OpenSpan>> {
        let Some(open) = &self.open_spans else {
            return Vec::new();
        };
        let taken = std::mem::take(&mut *open.lock().unwrap_or_else(|e| e.into_inner()));
        let mut spans: Vec<Arc<dyn OpenSpan>> =
            taken.iter().rev().filter_map(Weak::upgrade).collect();
        spans.sort_by_key(|s| s.is_root());
        spans
    }

    /// The value of `mlflow.traceRequestId`.
    pub(crate) fn request_id_value(&self) -> Value {
        Value::String(self.request_id_attr.clone())
    }
}

/// State shared between the pipeline's handle, its span processor and the assembler.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) budget: Arc<Budget>,
    /// What a trace's own state costs (buffer, tags, metadata with the environment's,
    /// its `TraceInfo`), beyond its spans and updates.
    trace_bytes: usize,
    pub(crate) counters: Counters,
    pub(crate) gauges: Gauges,
    /// The assembler thread. It polls its queue on its own schedule, so that ending a span
    /// never costs a wake-up (a system call); it is woken only for flushes, shutdown and
    /// when queued memory grows large.
    assembler: OnceLock<std::thread::Thread>,
    /// When the pipeline started, and when (in seconds since, plus one) a dropped span
    /// was last reported.
    started: Instant,
    last_drop_report: AtomicU64,
}

impl Shared {
    /// Shared state with a memory bound of `max_queue_bytes`, for traces that each carry
    /// `trace_metadata`.
    pub(crate) fn new(max_queue_bytes: usize, trace_metadata: &[(&str, String)]) -> Arc<Shared> {
        let metadata: usize = trace_metadata
            .iter()
            .map(|(k, v)| 2 * (k.len() + v.len() + ENTRY_OVERHEAD))
            .sum();
        Arc::new(Shared {
            budget: Budget::new(max_queue_bytes),
            trace_bytes: TRACE_OVERHEAD + metadata,
            counters: Counters::default(),
            gauges: Gauges::default(),
            assembler: OnceLock::new(),
            started: Instant::now(),
            last_drop_report: AtomicU64::new(0),
        })
    }

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

    /// Reserves the memory a new trace named `name` takes; `None` when the queue is full.
    pub(crate) fn reserve_trace(&self, name: &str) -> Option<Ticket> {
        self.budget.try_acquire(self.trace_bytes + 2 * name.len())
    }

    /// A span message was taken from the inbox.
    pub(crate) fn span_received(&self) {
        self.gauges.inbox_spans.fetch_sub(1, Ordering::Relaxed);
    }

    /// A span message was put in the inbox.
    pub(crate) fn span_sent(&self) {
        self.gauges.inbox_spans.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the assembler thread, to be woken.
    pub(crate) fn set_assembler(&self, thread: std::thread::Thread) {
        let _ = self.assembler.set(thread);
    }

    /// Wakes the assembler to drain its queue now.
    pub(crate) fn wake_assembler(&self) {
        if let Some(thread) = self.assembler.get() {
            thread.unpark();
        }
    }
}
