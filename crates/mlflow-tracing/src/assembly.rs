//! Trace assembly: the background thread that turns ended spans into finished traces.
//!
//! Spans of a trace are buffered until the root span has ended and every span started in
//! the trace has arrived; then the trace's [`TraceInfo`] is computed (timing, state,
//! previews, token usage, tags and metadata) and the trace is handed to every destination.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::SpanData;

use crate::destination::{CompletedTrace, DestinationHandle, EndedSpan, Granularity};
use crate::keys::{self, metadata, tag};
use crate::model::{Span, SpanEvent, Trace, TraceInfo, otel_to_json};
use crate::pipeline::{Budget, Msg, Shared, Ticket, TraceShared};
use crate::trace_api::TraceUpdate;
use crate::trace_info::{aggregate_token_usage, preview, truncate_metadata_value};
use crate::types::{SpanStatus, StatusCode, TraceState};
use crate::{diag, json};

/// How often unfinished traces are checked for expiry.
const TICK: Duration = Duration::from_secs(1);
/// The assembler's sleep after a busy round, doubling while idle up to `IDLE_MAX`.
const IDLE_MIN: Duration = Duration::from_millis(1);
const IDLE_MAX: Duration = Duration::from_millis(200);
/// Finished traces handed to the destinations at most at once.
const OUTBOX_BATCH: usize = 512;

/// What the assembler needs to know about the pipeline's configuration.
#[derive(Debug)]
pub(crate) struct AssemblySettings {
    /// The experiment, when known without asking the store.
    pub(crate) experiment_id: Option<String>,
    /// `mlflow.user`, `mlflow.source.*`, resolved once.
    pub(crate) env_metadata: Vec<(&'static str, String)>,
    /// How long an unfinished trace is kept.
    pub(crate) buffer_ttl: Duration,
}

pub(crate) fn spawn(
    receiver: Receiver<Msg>,
    destinations: Vec<DestinationHandle>,
    shared: Arc<Shared>,
    settings: AssemblySettings,
) -> Option<JoinHandle<()>> {
    let routes = Routes {
        spans: destinations
            .iter()
            .any(|d| d.granularity() == Granularity::Spans),
        traces: destinations
            .iter()
            .any(|d| d.granularity() == Granularity::Traces),
    };
    let mut assembler = Assembler {
        pending: HashMap::new(),
        destinations,
        shared,
        settings,
        outbox: Vec::new(),
        span_outbox: Vec::new(),
        routes,
    };
    let spawned = std::thread::Builder::new()
        .name("mlflow-tracing-assembler".to_owned())
        .spawn(move || assembler.run(receiver));
    match spawned {
        Ok(handle) => Some(handle),
        Err(err) => {
            diag::error("spawn-assembler", || {
                format!("could not start the trace assembly thread, tracing is off: {err}")
            });
            None
        }
    }
}

/// A trace whose spans are still arriving.
struct Pending {
    shared: Arc<TraceShared>,
    spans: Vec<Span>,
    received: u32,
    dropped: u32,
    root_ended: bool,
    root_dropped: bool,
    tags: IndexMap<String, String>,
    metadata: IndexMap<String, String>,
    client_request_id: Option<String>,
    request_preview: Option<String>,
    response_preview: Option<String>,
    state: Option<TraceState>,
    ticket: Ticket,
    created: Instant,
}

impl Pending {
    fn is_complete(&self) -> bool {
        (self.root_ended || self.root_dropped)
            && self.received + self.dropped >= self.shared.started.load(Ordering::Acquire)
    }

    fn apply(&mut self, update: TraceUpdate) {
        let TraceUpdate {
            tags,
            metadata: meta,
            client_request_id,
            request_preview,
            response_preview,
            state,
            session_id,
            user,
            model_id,
        } = update;
        self.tags.extend(tags);
        self.metadata.extend(meta);
        if let Some(session) = session_id {
            self.metadata
                .insert(metadata::TRACE_SESSION.to_owned(), session);
        }
        if let Some(user) = user {
            self.metadata.insert(metadata::TRACE_USER.to_owned(), user);
        }
        if let Some(model_id) = model_id {
            self.metadata
                .insert(metadata::MODEL_ID.to_owned(), model_id);
        }
        if client_request_id.is_some() {
            self.client_request_id = client_request_id;
        }
        if let Some(p) = request_preview.filter(|p| !p.is_empty()) {
            self.request_preview = Some(p);
        }
        if let Some(p) = response_preview.filter(|p| !p.is_empty()) {
            self.response_preview = Some(p);
        }
        if state.is_some() {
            self.state = state;
        }
    }
}

/// Which kinds of destinations the pipeline has.
#[derive(Debug, Clone, Copy)]
struct Routes {
    spans: bool,
    traces: bool,
}

struct Assembler {
    pending: HashMap<TraceId, Pending>,
    routes: Routes,
    /// Finished traces not yet handed to the destinations.
    outbox: Vec<Arc<CompletedTrace>>,
    /// Ended spans not yet handed to the span destination.
    span_outbox: Vec<EndedSpan>,
    destinations: Vec<DestinationHandle>,
    shared: Arc<Shared>,
    settings: AssemblySettings,
}

impl Assembler {
    /// Drains the queue, then parks. Producers never wake this thread for a span (a wake
    /// is a system call on the recording thread); it wakes itself, soon after activity and
    /// more and more rarely when idle, and is woken for flushes, shutdown and backlogs.
    fn run(&mut self, receiver: Receiver<Msg>) {
        let mut last_sweep = Instant::now();
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
                        if self.outbox.len() + self.span_outbox.len() >= OUTBOX_BATCH {
                            self.send_outbox();
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.send_outbox();
                        self.drop_unfinished("tracing was shut down");
                        return;
                    }
                }
            }
            self.send_outbox();
            if last_sweep.elapsed() >= TICK {
                self.evict_expired();
                last_sweep = Instant::now();
            }
            idle = if active {
                IDLE_MIN
            } else {
                (idle * 2).min(IDLE_MAX)
            };
            std::thread::park_timeout(idle);
        }
    }

    /// Hands the traces finished since the last call to every destination, as one batch.
    fn send_outbox(&mut self) {
        if !self.span_outbox.is_empty() {
            let spans = std::mem::take(&mut self.span_outbox);
            // MLflow has one span destination at most (OTLP); with several, later ones
            // would need copies.
            if let Some(dest) = self
                .destinations
                .iter()
                .find(|d| d.granularity() == Granularity::Spans)
            {
                dest.export_spans(spans);
            }
        }
        if self.outbox.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.outbox);
        let mut trace_destinations = self
            .destinations
            .iter()
            .filter(|d| d.granularity() == Granularity::Traces)
            .peekable();
        while let Some(dest) = trace_destinations.next() {
            if trace_destinations.peek().is_some() {
                dest.export(batch.clone());
            } else {
                dest.export(batch);
                break;
            }
        }
    }

    /// Handles one message; `false` once the pipeline has shut down.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::TraceStarted(shared) => {
                let pending = self.new_pending(shared);
                self.pending.insert(pending.shared.otel_trace_id, pending);
            }
            Msg::SpanEnded(data, ticket) => self.span_ended(data, ticket),
            Msg::SpanDropped { trace_id, root } => {
                if let Some(p) = self.pending.get_mut(&trace_id) {
                    p.dropped += 1;
                    p.root_dropped |= root;
                    self.try_finish(trace_id);
                }
            }
            Msg::Update { trace_id, update } => match self.pending.get_mut(&trace_id) {
                Some(p) => p.apply(*update),
                None => diag::warn("late-update", || {
                    format!(
                        "update_current_trace for trace tr-{trace_id} arrived after the trace \
                         was exported; the update was not applied"
                    )
                }),
            },
            Msg::Flush(barrier) => {
                self.send_outbox();
                for dest in &self.destinations {
                    dest.flush(barrier.clone());
                }
                barrier.complete_part(Vec::new());
            }
            Msg::Shutdown(barrier) => {
                self.send_outbox();
                self.drop_unfinished("tracing was shut down");
                for dest in &self.destinations {
                    dest.shutdown(barrier.clone());
                }
                barrier.complete_part(Vec::new());
                return false;
            }
        }
        true
    }

    fn new_pending(&self, shared: Arc<TraceShared>) -> Pending {
        let mut metadata: IndexMap<String, String> = self
            .settings
            .env_metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        metadata.insert(
            metadata::SCHEMA_VERSION.to_owned(),
            keys::TRACE_SCHEMA_VERSION.to_owned(),
        );
        let mut tags = IndexMap::new();
        tags.insert(tag::TRACE_NAME.to_owned(), shared.root_name.clone());
        Pending {
            shared,
            spans: Vec::new(),
            received: 0,
            dropped: 0,
            root_ended: false,
            root_dropped: false,
            tags,
            metadata,
            client_request_id: None,
            request_preview: None,
            response_preview: None,
            state: None,
            ticket: Ticket::default(),
            created: Instant::now(),
        }
    }

    fn span_ended(&mut self, data: SpanData, ticket: Ticket) {
        let trace_id = data.span_context.trace_id();
        let Some(pending) = self.pending.get_mut(&trace_id) else {
            self.shared.counters.spans_dropped.inc();
            diag::warn("late-span", || {
                format!(
                    "span {:?} of trace tr-{trace_id} ended after its trace was exported (or \
                     dropped) and was not exported; end child spans before their root span",
                    data.name
                )
            });
            return;
        };
        let span = convert_span(data, &pending.shared.request_id);
        let is_root = span.parent_id.is_none();
        pending.root_ended |= is_root;
        pending.received += 1;
        // A span destination gets the span as it ends; the root carries the trace's tags
        // (unlike MLflow, which loses them over OTLP). A trace destination gets it with
        // its trace. With both, the span destination's copy reserves its own memory.
        if self.routes.traces {
            if self.routes.spans {
                let copy = span.clone();
                match self.shared.budget.try_acquire(ticket.bytes()) {
                    Some(copy_ticket) => self.span_outbox.push(EndedSpan::new(
                        with_tags(copy, is_root, &pending.tags),
                        copy_ticket,
                    )),
                    None => copy_dropped(&self.destinations, &self.shared.budget),
                }
            }
            pending.spans.push(span);
            pending.ticket.merge(ticket);
        } else {
            self.span_outbox.push(EndedSpan::new(
                with_tags(span, is_root, &pending.tags),
                ticket,
            ));
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
        let Some(pending) = self.pending.remove(&trace_id) else {
            return;
        };
        if !pending.root_ended {
            self.count_dropped(&pending);
            diag::warn("root-dropped", || {
                format!(
                    "trace tr-{trace_id} ({:?}) was dropped: its root span did not fit in the \
                     export queue",
                    pending.shared.root_name
                )
            });
            return;
        }
        self.shared.counters.traces_completed.inc();
        if self.routes.traces {
            let trace = finish(pending, self.settings.experiment_id.clone());
            self.outbox.push(Arc::new(trace));
        }
    }

    fn count_dropped(&self, pending: &Pending) {
        self.shared.counters.traces_dropped.inc();
        self.shared
            .counters
            .spans_dropped
            .add(u64::from(pending.received));
    }

    fn drop_unfinished(&mut self, why: &str) {
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
        for pending in self.pending.values() {
            self.count_dropped(pending);
        }
        self.pending.clear();
        diag::warn("unfinished-at-shutdown", || {
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
            if let Some(pending) = self.pending.remove(&trace_id) {
                self.count_dropped(&pending);
                diag::warn("trace-expired", || {
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

/// Builds the finished trace: MLflow's `_update_trace_info` and previews.
fn finish(mut pending: Pending, experiment_id: Option<String>) -> CompletedTrace {
    pending.spans.sort_by_key(|s| s.start_time_ns);
    let root = pending.spans.iter().find(|s| s.parent_id.is_none());
    let (start, end, root_error, inputs, outputs) = match root {
        Some(root) => (
            root.start_time_ns,
            root.end_time_ns,
            root.status.code() == StatusCode::Error,
            raw_attribute(root, keys::span::INPUTS),
            raw_attribute(root, keys::span::OUTPUTS),
        ),
        None => (0, 0, false, None, None),
    };
    let mut metadata = pending.metadata;
    metadata.insert(
        metadata::INPUTS.to_owned(),
        truncate_metadata_value(inputs.as_deref()),
    );
    metadata.insert(
        metadata::OUTPUTS.to_owned(),
        truncate_metadata_value(outputs.as_deref()),
    );
    if let Some(usage) = aggregate_token_usage(&pending.spans) {
        metadata.insert(metadata::TOKEN_USAGE.to_owned(), json::dumps(&usage));
    }
    let request_preview = pending
        .request_preview
        .or_else(|| inputs.map(|raw| preview(&raw, "user", keys::MAX_CHARS_IN_PREVIEW)));
    let response_preview = pending
        .response_preview
        .or_else(|| outputs.map(|raw| preview(&raw, "assistant", keys::MAX_CHARS_IN_PREVIEW)));
    let state = pending.state.unwrap_or(if root_error {
        TraceState::Error
    } else {
        TraceState::Ok
    });
    let info = TraceInfo {
        trace_id: pending.shared.request_id.to_string(),
        experiment_id,
        request_time_ms: (start / 1_000_000) as i64,
        execution_duration_ms: Some((end.saturating_sub(start) / 1_000_000) as i64),
        state,
        request_preview,
        response_preview,
        client_request_id: pending.client_request_id,
        metadata,
        tags: pending.tags,
    };
    CompletedTrace::new(Trace::new(info, pending.spans), pending.ticket)
}

/// The span destination's copy of a span (dual export) did not fit in the queue: it is
/// counted as failed for that destination, and reported.
fn copy_dropped(destinations: &[DestinationHandle], budget: &Budget) {
    let Some(dest) = destinations
        .iter()
        .find(|d| d.granularity() == Granularity::Spans)
    else {
        return;
    };
    dest.count_dropped(1);
    diag::warn("queue-full-copy", || {
        format!(
            "the export queue is full ({} of {} bytes in use): a span was not sent to {} (it \
             still goes to the MLflow store). Raise MLFLOW_TRACE_MAX_QUEUE_BYTES or check that \
             the destinations keep up",
            budget.used(),
            budget.max(),
            dest.name()
        )
    });
}

/// `span`, with the trace's tags when it is the root.
fn with_tags(mut span: Span, is_root: bool, tags: &IndexMap<String, String>) -> Span {
    if is_root {
        add_trace_tags(&mut span, tags);
    }
    span
}

/// Puts the trace's user tags on its root span as `mlflow.traceTag.<key>` (plain strings),
/// so that they survive OTLP: MLflow's server restores them as trace tags. Tags starting
/// with `mlflow.` are MLflow's own and are not sent, as in MLflow.
fn add_trace_tags(root: &mut Span, tags: &IndexMap<String, String>) {
    for (key, value) in tags.iter().filter(|(k, _)| !k.starts_with("mlflow.")) {
        root.set_attribute(opentelemetry::KeyValue::new(
            format!("{}{key}", keys::span::TRACE_TAG_PREFIX),
            value.clone(),
        ));
    }
}

/// The stored (JSON-encoded) value of an attribute, as a string.
fn raw_attribute(span: &Span, key: &str) -> Option<String> {
    span.raw_attribute(key).map(|v| match v {
        opentelemetry::Value::String(s) => s.as_str().to_owned(),
        other => json::dumps(&otel_to_json(other)),
    })
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Converts an OpenTelemetry span into MLflow's span model, moving its data. Attributes
/// set twice keep their first position and last value, like the Python dict behind
/// MLflow's spans.
pub(crate) fn convert_span(data: SpanData, request_id: &Arc<str>) -> Span {
    let mut span = Span {
        trace_id: request_id.clone(),
        otel_trace_id: data.span_context.trace_id(),
        span_id: data.span_context.span_id(),
        parent_id: (data.parent_span_id != SpanId::INVALID).then_some(data.parent_span_id),
        name: data.name,
        start_time_ns: unix_nanos(data.start_time),
        end_time_ns: unix_nanos(data.end_time),
        status: SpanStatus::from_otel(&data.status),
        attributes: Vec::with_capacity(data.attributes.len()),
        events: data
            .events
            .events
            .into_iter()
            .map(|e| SpanEvent {
                name: e.name,
                time_ns: unix_nanos(e.timestamp),
                attributes: e.attributes,
            })
            .collect(),
    };
    for kv in data.attributes {
        span.set_attribute(kv);
    }
    span
}
