//! A trace whose spans are still arriving ([`Pending`]), and the finished trace built from
//! it once they all have: MLflow's `_update_trace_info` (timing, state, previews, token
//! usage, tags and metadata).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use indexmap::IndexMap;

use super::convert::raw_attribute;
use super::inbox::TraceShared;
use crate::destination::{CompletedTrace, TraceSnapshot};
use crate::json;
use crate::keys::{self, metadata, tag};
use crate::model::summary::{
    aggregate_cost, aggregate_token_usage, preview, truncate_metadata_value,
};
use crate::model::{Span, Trace, TraceInfo, TraceUpdate};
use crate::sync::{Budget, ENTRY_OVERHEAD, Ticket};
use crate::types::{StatusCode, TraceState};

/// A trace whose spans are still arriving.
pub(super) struct Pending {
    pub(super) shared: Arc<TraceShared>,
    pub(super) spans: Vec<Span>,
    /// Other parts of the same trace started in this pipeline while it was pending: spans
    /// continuing it from W3C trace context that came back to this process (a service
    /// calling itself, or a caller and its service in one program).
    pub(super) parts: Vec<Arc<TraceShared>>,
    pub(super) received: u32,
    /// Spans of this trace lost before they reached the assembler (over the memory bound).
    pub(super) lost_spans: u32,
    /// Roots (of the trace, and of each of its other parts) that have ended.
    pub(super) roots_ended: u32,
    pub(super) root_dropped: bool,
    pub(super) tags: IndexMap<String, String>,
    pub(super) metadata: IndexMap<String, String>,
    /// The tags and metadata as the span sinks see them, shared until the next update.
    snapshot: Option<Arc<TraceSnapshot>>,
    client_request_id: Option<String>,
    request_preview: Option<String>,
    response_preview: Option<String>,
    state: Option<TraceState>,
    pub(super) ticket: Ticket,
    pub(super) created: Instant,
    /// Its open spans were ended by the trace timeout.
    pub(super) timed_out: bool,
    /// What the span hooks did to its spans.
    pub(super) hooked: super::hooks::Hooked,
}

impl Pending {
    pub(super) fn is_complete(&self) -> bool {
        let started = self
            .parts
            .iter()
            .chain(std::iter::once(&self.shared))
            .map(|part| part.started.load(Ordering::Acquire))
            .sum::<u32>();
        (self.root_ended() || self.root_dropped) && self.received + self.lost_spans >= started
    }

    /// Whether the root of every part has ended.
    pub(super) fn root_ended(&self) -> bool {
        self.roots_ended as usize > self.parts.len()
    }

    /// Another part of this trace started (see [`Pending::parts`]).
    pub(super) fn add_part(&mut self, part: Arc<TraceShared>, ticket: Ticket) {
        self.ticket.merge(ticket);
        self.parts.push(part);
    }

    /// A span of this trace was lost before it reached the assembler: the trace will be
    /// exported incomplete, and marked so (tag [`tag::INCOMPLETE`]); without its root, it
    /// will not be exported at all.
    pub(super) fn span_lost(&mut self, root: bool) {
        self.lost_spans += 1;
        self.root_dropped |= root;
        self.tags.insert(
            tag::INCOMPLETE.to_owned(),
            format!(
                "{} span(s) not exported: over the memory bound (MLFLOW_TRACE_MAX_QUEUE_BYTES)",
                self.lost_spans
            ),
        );
    }

    pub(super) fn apply(&mut self, update: TraceUpdate) {
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
        self.snapshot = None;
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

    /// A new trace, with the metadata every trace carries and its name.
    pub(super) fn new(
        shared: Arc<TraceShared>,
        trace_metadata: &[(&'static str, String)],
        ticket: Ticket,
    ) -> Pending {
        let mut metadata: IndexMap<String, String> = trace_metadata
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
            parts: Vec::new(),
            received: 0,
            lost_spans: 0,
            roots_ended: 0,
            root_dropped: false,
            tags,
            metadata,
            snapshot: None,
            client_request_id: None,
            request_preview: None,
            response_preview: None,
            state: None,
            ticket,
            created: Instant::now(),
            timed_out: false,
            hooked: super::hooks::Hooked::default(),
        }
    }

    /// The trace's tags and metadata as they stand now (with the experiment id), for the
    /// span sinks: built once, then shared by every span that ends before the next update.
    pub(super) fn snapshot(
        &mut self,
        experiment_id: Option<&str>,
        budget: &Arc<Budget>,
    ) -> Arc<TraceSnapshot> {
        let (tags, metadata) = (&self.tags, &self.metadata);
        self.snapshot
            .get_or_insert_with(|| {
                // A copy of what the trace already holds (reserved): counted, bounded.
                let bytes = 256
                    + tags
                        .iter()
                        .chain(metadata.iter())
                        .map(|(k, v)| k.len() + v.len() + 2 * ENTRY_OVERHEAD)
                        .sum::<usize>();
                Arc::new(TraceSnapshot {
                    experiment_id: experiment_id.map(str::to_owned),
                    tags: tags.clone(),
                    metadata: metadata.clone(),
                    _ticket: budget.force_acquire(bytes),
                })
            })
            .clone()
    }

    /// Builds the finished trace: MLflow's `_update_trace_info` and previews.
    pub(super) fn finish(
        self,
        experiment_id: Option<String>,
        budget: &Arc<Budget>,
    ) -> CompletedTrace {
        let mut pending = self;
        pending.spans.sort_by_key(|s| s.start_time_ns);
        if !pending.parts.is_empty() {
            // A part whose remote parent is a span of this very trace is not remote after
            // all: the trace holds both.
            let ids: std::collections::HashSet<_> =
                pending.spans.iter().map(|s| s.span_id).collect();
            for span in &mut pending.spans {
                if span.parent_is_remote && span.parent_id.is_some_and(|p| ids.contains(&p)) {
                    span.parent_is_remote = false;
                }
            }
        }
        // The root: the span without a parent, else (this process's part of a trace) the
        // first whose parent is remote.
        let root = pending
            .spans
            .iter()
            .find(|s| s.parent_id.is_none())
            .or_else(|| pending.spans.iter().find(|s| s.parent_is_remote));
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
        if let Some(cost) = aggregate_cost(&pending.spans) {
            metadata.insert(metadata::COST.to_owned(), json::dumps(&cost));
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
        // What the finished info derives from the spans (previews, the inputs/outputs
        // metadata, token usage) is counted too: bounded, and already reserved once as
        // span attributes.
        let derived = [
            info.request_preview.as_ref(),
            info.response_preview.as_ref(),
            info.metadata.get(metadata::INPUTS),
            info.metadata.get(metadata::OUTPUTS),
            info.metadata.get(metadata::TOKEN_USAGE),
            info.metadata.get(metadata::COST),
        ]
        .into_iter()
        .flatten()
        .map(|s| s.len() + ENTRY_OVERHEAD)
        .sum();
        let mut ticket = pending.ticket;
        ticket.merge(budget.force_acquire(derived));
        CompletedTrace::new(Trace::new(info, pending.spans), ticket)
    }
}
