//! Running the span hooks ([`crate::hooks`]) in the assembler: on each span as it arrives,
//! before any sink gets it; and, when the trace finishes, what their drops and panics mean
//! for it (children of a dropped span attached to its parent, a dropped root drops the
//! trace, a span lost to a panicking hook marks the trace incomplete).

use std::collections::HashMap;

use opentelemetry::trace::SpanId;

use super::Assembler;
use super::pending::Pending;
use crate::destination::Routes;
use crate::hooks::{Outcome, SpanHooks, TraceView};
use crate::keys::tag;
use crate::model::Span;
use crate::report;
use crate::stats::{Counters, Reason};

/// What the hooks did to the spans of one trace.
#[derive(Debug, Default)]
pub(super) struct Hooked {
    /// Dropped spans: id → parent id.
    dropped: HashMap<SpanId, Option<SpanId>>,
    root_dropped: bool,
    /// Spans lost to a panicking hook.
    pub(super) lost: u32,
    root_lost: bool,
}

/// Runs the hooks on `span` of `pending`; `false` when it is not to be exported (a hook
/// dropped it, or panicked), in which case it is counted and recorded in the trace.
pub(super) fn run(
    hooks: &SpanHooks,
    pending: &mut Pending,
    span: &mut Span,
    counters: &Counters,
    routes: &Routes,
) -> bool {
    let view = TraceView {
        trace_id: &pending.shared.request_id,
        tags: &pending.tags,
        metadata: &pending.metadata,
    };
    let is_root = span.is_local_root();
    match hooks.run(span, &view) {
        Outcome::Keep => true,
        Outcome::Dropped => {
            counters.spans_filtered.inc();
            pending.hooked.dropped.insert(span.span_id, span.parent_id);
            pending.hooked.root_dropped |= is_root;
            false
        }
        Outcome::Panicked { hook, message } => {
            // The root is counted with its trace when no span sink would have had it.
            if !is_root || routes.wants_spans() {
                counters.spans_lost.add(Reason::HookPanicked, 1);
            }
            pending.hooked.lost += 1;
            pending.hooked.root_lost |= is_root;
            pending.tags.insert(
                tag::INCOMPLETE.to_owned(),
                format!(
                    "{} span(s) not exported: a span hook panicked",
                    pending.hooked.lost
                ),
            );
            report::error("hook-panicked", || {
                format!(
                    "the span hook {hook} panicked on span {:?} of trace {}: {message}; the \
                     span was not exported",
                    span.name(),
                    pending.shared.request_id
                )
            });
            false
        }
    }
}

impl Assembler {
    /// Applies what the hooks did to a trace that has all its spans; `false` when the
    /// trace is not exported (its root was dropped, or lost to a panicking hook).
    pub(super) fn finish_hooked(&self, pending: &mut Pending) -> bool {
        let hooked = &pending.hooked;
        if hooked.root_lost {
            self.count_lost(pending, Reason::HookPanicked);
            return false;
        }
        if hooked.root_dropped {
            // Dropped on purpose: its other spans are filtered with it, unless span sinks
            // already had them.
            if !self.routes.wants_spans() {
                let others = pending.received.saturating_sub(hooked.dropped.len() as u32);
                self.shared.counters.spans_filtered.add(u64::from(others));
            }
            return false;
        }
        if !hooked.dropped.is_empty() {
            let dropped = &hooked.dropped;
            for span in &mut pending.spans {
                let mut parent = span.parent_id;
                // Each step goes up one dropped span; the ids form a tree.
                for _ in 0..=dropped.len() {
                    match parent.and_then(|p| dropped.get(&p)) {
                        Some(grandparent) => parent = *grandparent,
                        None => break,
                    }
                }
                span.parent_id = parent;
            }
        }
        true
    }
}
