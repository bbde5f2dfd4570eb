//! Trace assembly: the background thread that turns ended spans into finished traces.
//!
//! Spans of a trace are buffered ([`pending`]) until the root span has ended and every span
//! started in the trace has arrived; then the trace's `TraceInfo` is computed (timing,
//! state, previews, token usage, tags and metadata) and the trace is handed to every trace
//! sink. Span sinks get each span as it ends. The assembler owns its inbox ([`inbox`]): the
//! messages it receives and the state it shares with the pipeline.

mod convert;
mod hooks;
mod inbox;
mod pending;
mod timeout;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::SpanData;

use crate::destination::{EndedSpan, Routes, SpanItem, TraceItem, TraceSnapshot};
use crate::pricing::Prices;
use crate::report;
use crate::stats::Reason;
use crate::sync::Ticket;
use convert::{convert_span, price_span, with_tags};
pub(crate) use inbox::{FlushParts, Msg, OpenSpan, Shared, TraceShared};
use pending::Pending;

/// How often unfinished traces are checked for expiry.
const TICK: Duration = Duration::from_secs(1);
/// The assembler's sleep after a busy round, doubling while idle up to `IDLE_MAX`.
const IDLE_MIN: Duration = Duration::from_millis(1);
const IDLE_MAX: Duration = Duration::from_millis(200);
/// Finished traces handed to the sinks at most at once.
const OUTBOX_BATCH: usize = 512;

/// What the assembler needs to know about the pipeline's configuration.
#[derive(Debug)]
pub(crate) struct AssemblySettings {
    /// The experiment, when known without asking the store.
    pub(crate) experiment_id: Option<String>,
    /// `mlflow.user`, `mlflow.source.*`, resolved once.
    pub(crate) trace_metadata: Vec<(&'static str, String)>,
    /// How long an unfinished trace is kept.
    pub(crate) buffer_ttl: Duration,
    /// Model prices, for each span's `mlflow.llm.cost`.
    pub(crate) prices: Arc<Prices>,
    /// When an open trace is ended with status ERROR and exported
    /// (`MLFLOW_TRACE_TIMEOUT_SECONDS`), and how often that is checked.
    pub(crate) trace_timeout: Option<Duration>,
    pub(crate) timeout_check_interval: Duration,
    /// The span hooks, run on every span before any sink gets it.
    pub(crate) hooks: crate::hooks::SpanHooks,
}

/// Starts the assembler thread; `None` when it could not be started (reported: tracing is
/// then off).
pub(crate) fn spawn(
    receiver: Receiver<Msg>,
    routes: Routes,
    shared: Arc<Shared>,
    settings: AssemblySettings,
) -> Option<JoinHandle<()>> {
    let mut assembler = Assembler {
        pending: HashMap::new(),
        routes,
        shared: shared.clone(),
        settings,
        trace_outbox: Vec::new(),
        span_outbox: Vec::new(),
        empty_snapshot: Arc::default(),
    };
    let spawned = std::thread::Builder::new()
        .name("mlflow-tracing-assembler".to_owned())
        .spawn(move || assembler.run(receiver));
    match spawned {
        Ok(handle) => {
            shared.set_assembler(handle.thread().clone());
            Some(handle)
        }
        Err(err) => {
            report::error("spawn-assembler", || {
                format!("could not start the trace assembly thread, tracing is off: {err}")
            });
            None
        }
    }
}

struct Assembler {
    pending: HashMap<TraceId, Pending>,
    routes: Routes,
    /// Finished traces not yet handed to the trace sinks.
    trace_outbox: Vec<TraceItem>,
    /// Ended spans not yet handed to the span sinks.
    span_outbox: Vec<SpanItem>,
    shared: Arc<Shared>,
    settings: AssemblySettings,
    /// The snapshot every span gets when no span sink reads snapshots.
    empty_snapshot: Arc<TraceSnapshot>,
}

impl Assembler {
    /// Drains the queue, then parks. Producers never wake this thread for a span (a wake
    /// is a system call on the recording thread); it wakes itself, soon after activity and
    /// more and more rarely when idle, and is woken for flushes, shutdown and backlogs.
    fn run(&mut self, receiver: Receiver<Msg>) {
        let mut last_sweep = Instant::now();
        let mut last_timeout_check = Instant::now();
        let mut idle = IDLE_MIN;
        loop {
            let mut active = false;
            loop {
                match receiver.try_recv() {
                    Ok(msg) => {
                        active = true;
                        if !self.handle(msg) {
                            return;
                        }
                        if self.trace_outbox.len() + self.span_outbox.len() >= OUTBOX_BATCH {
                            self.send_outbox();
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.send_outbox();
                        self.drop_unfinished(Reason::Abandoned, "tracing was shut down");
                        return;
                    }
                }
            }
            self.send_outbox();
            if last_sweep.elapsed() >= TICK {
                self.evict_expired();
                last_sweep = Instant::now();
            }
            if self.settings.trace_timeout.is_some()
                && last_timeout_check.elapsed() >= self.settings.timeout_check_interval
            {
                self.end_timed_out();
                last_timeout_check = Instant::now();
            }
            idle = if active {
                IDLE_MIN
            } else {
                (idle * 2).min(IDLE_MAX)
            };
            std::thread::park_timeout(idle);
        }
    }

    /// Hands what finished since the last call to the sinks: spans to every span sink,
    /// traces to every trace sink.
    fn send_outbox(&mut self) {
        if !self.span_outbox.is_empty() {
            self.routes
                .send_spans(std::mem::take(&mut self.span_outbox));
        }
        if !self.trace_outbox.is_empty() {
            self.routes
                .send_traces(std::mem::take(&mut self.trace_outbox));
        }
    }

    /// Handles one message; `false` once the pipeline has shut down. A panic here (a bug)
    /// loses only the message: it is caught and reported, and the assembler goes on.
    fn handle(&mut self, msg: Msg) -> bool {
        match catch_unwind(AssertUnwindSafe(|| self.handle_message(msg))) {
            Ok(go_on) => go_on,
            Err(_) => {
                report::error("assembler-panic", || {
                    "the trace assembler panicked handling a message (a bug in \
                     mlflow-tracing); that message was lost"
                        .to_owned()
                });
                true
            }
        }
    }

    fn handle_message(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::TraceStarted(shared, ticket) => {
                if let Some(pending) = self.pending.get_mut(&shared.otel_trace_id) {
                    if let Some(scope) = shared.scope.clone() {
                        pending.apply((*scope).clone());
                    }
                    pending.add_part(shared, ticket);
                    return true;
                }
                let mut pending = Pending::new(shared, &self.settings.trace_metadata, ticket);
                if let Some(scope) = pending.shared.scope.clone() {
                    pending.apply((*scope).clone());
                }
                self.shared
                    .gauges
                    .pending_traces
                    .fetch_add(1, Ordering::Relaxed);
                self.pending.insert(pending.shared.otel_trace_id, pending);
            }
            Msg::SpanEnded(data, ticket) => {
                self.shared.span_received();
                self.span_ended(data, ticket);
            }
            Msg::SpanDropped { trace_id, root } => {
                self.shared.span_received();
                if let Some(p) = self.pending.get_mut(&trace_id) {
                    p.span_lost(root);
                    self.try_finish(trace_id);
                }
            }
            Msg::Update {
                trace_id,
                update,
                ticket,
            } => match self.pending.get_mut(&trace_id) {
                Some(p) => {
                    p.ticket.merge(ticket);
                    p.apply(*update);
                }
                None => report::warn("late-update", || {
                    format!(
                        "update_current_trace for trace tr-{trace_id} arrived after the trace \
                         was exported; the update was not applied"
                    )
                }),
            },
            Msg::Flush(parts) => {
                self.send_outbox();
                self.routes.flush(parts.workers);
                parts.assembler.complete(Vec::new());
            }
            Msg::Shutdown(parts) => {
                self.send_outbox();
                self.drop_unfinished(Reason::Abandoned, "tracing was shut down");
                self.routes.shutdown(parts.workers);
                parts.assembler.complete(Vec::new());
                return false;
            }
        }
        true
    }

    fn span_ended(&mut self, data: SpanData, ticket: Ticket) {
        let trace_id = data.span_context.trace_id();
        let Some(pending) = self.pending.get_mut(&trace_id) else {
            drop(ticket);
            self.shared.counters.spans_lost.add(Reason::EndedLate, 1);
            report::warn("late-span", || {
                format!(
                    "span {:?} of trace tr-{trace_id} ended after its trace was exported (or \
                     dropped) and was not exported; end child spans before their root span",
                    data.name
                )
            });
            return;
        };
        let mut span = convert_span(data, &pending.shared.request_id);
        let is_root = span.is_local_root();
        pending.roots_ended += u32::from(is_root);
        pending.received += 1;
        if !self.settings.hooks.is_empty()
            && !hooks::run(
                &self.settings.hooks,
                pending,
                &mut span,
                &self.shared.counters,
                &self.routes,
            )
        {
            drop(ticket);
            self.try_finish(trace_id);
            return;
        }
        // Priced after the hooks, so a hook that rewrites the model or token usage is
        // priced as it leaves it.
        price_span(&mut span, &self.settings.prices);
        // Span sinks get the span as it ends, all of them the same one, with the trace's
        // tags and metadata as they stand now; the root carries the trace's tags (unlike
        // MLflow, which loses them over OTLP). Trace sinks get it with its trace. With both
        // kinds, the span sinks' copy reserves its own memory.
        let experiment_id = self.settings.experiment_id.as_deref();
        let snapshots = self.routes.wants_trace_snapshots();
        let budget = &self.shared.budget;
        let empty = &self.empty_snapshot;
        let snapshot = |pending: &mut Pending| {
            if snapshots {
                pending.snapshot(experiment_id, budget)
            } else {
                empty.clone()
            }
        };
        if self.routes.wants_traces() {
            if self.routes.wants_spans() {
                let copy = span.clone();
                match self.shared.budget.try_acquire(ticket.bytes()) {
                    Some(copy_ticket) => {
                        let snapshot = snapshot(pending);
                        self.span_outbox.push(Arc::new(EndedSpan::new(
                            with_tags(copy, is_root, &pending.tags),
                            snapshot,
                            copy_ticket,
                        )));
                    }
                    None => copy_dropped(&self.routes, &self.shared),
                }
            }
            pending.spans.push(span);
            pending.ticket.merge(ticket);
            self.shared
                .gauges
                .pending_spans
                .fetch_add(1, Ordering::Relaxed);
        } else {
            let snapshot = snapshot(pending);
            self.span_outbox.push(Arc::new(EndedSpan::new(
                with_tags(span, is_root, &pending.tags),
                snapshot,
                ticket,
            )));
        }
        self.try_finish(trace_id);
    }

    fn try_finish(&mut self, trace_id: TraceId) {
        if !self
            .pending
            .get(&trace_id)
            .is_some_and(Pending::is_complete)
        {
            return;
        }
        let Some(mut pending) = self.remove(&trace_id) else {
            return;
        };
        if !self.finish_hooked(&mut pending) {
            return;
        }
        if !pending.root_ended() {
            self.count_lost(&pending, Reason::OverMemoryBound);
            report::warn("root-dropped", || {
                format!(
                    "trace tr-{trace_id} ({:?}) was dropped: its root span did not fit in the \
                     export queue",
                    pending.shared.root_name
                )
            });
            return;
        }
        self.shared.counters.traces_completed.inc();
        if pending.lost_spans > 0 || pending.hooked.lost > 0 {
            self.shared.counters.traces_incomplete.inc();
        }
        if self.routes.wants_traces() {
            let trace = pending.finish(self.settings.experiment_id.clone(), &self.shared.budget);
            self.trace_outbox.push(Arc::new(trace));
        }
    }

    /// Takes a trace out of the buffer.
    fn remove(&mut self, trace_id: &TraceId) -> Option<Pending> {
        let pending = self.pending.remove(trace_id)?;
        let gauges = &self.shared.gauges;
        gauges.pending_traces.fetch_sub(1, Ordering::Relaxed);
        if self.routes.wants_traces() {
            gauges
                .pending_spans
                .fetch_sub(u64::from(pending.received), Ordering::Relaxed);
        }
        Some(pending)
    }

    /// Counts a trace that is not exported, for `reason`: lost for the trace sinks, and
    /// its spans lost too unless span sinks already got them as they ended.
    fn count_lost(&self, pending: &Pending, reason: Reason) {
        let counters = &self.shared.counters;
        if self.routes.wants_traces() {
            counters.traces_lost.add(reason, 1);
        }
        if !self.routes.wants_spans() {
            counters.spans_lost.add(reason, u64::from(pending.received));
        }
    }

    fn drop_unfinished(&mut self, reason: Reason, why: &str) {
        if self.pending.is_empty() {
            return;
        }
        let names: Vec<String> = self
            .pending
            .values()
            .take(5)
            .map(|p| format!("{} ({:?})", p.shared.request_id, p.shared.root_name))
            .collect();
        let count = self.pending.len();
        let ids: Vec<TraceId> = self.pending.keys().copied().collect();
        for trace_id in ids {
            if let Some(pending) = self.remove(&trace_id) {
                self.count_lost(&pending, reason);
            }
        }
        report::warn("unfinished-at-shutdown", || {
            format!(
                "{why} while {count} trace(s) were unfinished (root span not ended); they were \
                 not exported: {}{}",
                names.join(", "),
                if count > names.len() { ", …" } else { "" }
            )
        });
    }

    fn evict_expired(&mut self) {
        let ttl = self.settings.buffer_ttl;
        let expired: Vec<TraceId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.created.elapsed() > ttl)
            .map(|(id, _)| *id)
            .collect();
        for trace_id in expired {
            if let Some(pending) = self.remove(&trace_id) {
                self.count_lost(&pending, Reason::Unfinished);
                report::warn("trace-expired", || {
                    format!(
                        "trace {} ({:?}) was dropped: not finished after {} s \
                         (MLFLOW_TRACE_BUFFER_TTL_SECONDS)",
                        pending.shared.request_id,
                        pending.shared.root_name,
                        ttl.as_secs()
                    )
                });
            }
        }
    }
}

/// The span sinks' copy of a span (with trace sinks too) did not fit in the queue: it
/// is counted as lost for each span sink, and reported.
fn copy_dropped(routes: &Routes, shared: &Shared) {
    routes.count_span_lost(Reason::OverMemoryBound);
    let budget = &shared.budget;
    let names: Vec<String> = routes
        .span_destinations()
        .map(ToString::to_string)
        .collect();
    report::warn("queue-full-copy", || {
        format!(
            "the export queue is full ({} of {} bytes in use): a span was not sent to {} (it \
             still goes to the MLflow store). Raise MLFLOW_TRACE_MAX_QUEUE_BYTES or check \
             that the destinations keep up",
            budget.used(),
            budget.max(),
            names.join(", ")
        )
    });
}
