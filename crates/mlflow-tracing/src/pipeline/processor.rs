//! The OpenTelemetry span processor: the only part of the pipeline that runs on the
//! thread that ends a span.
//!
//! It reserves queue memory for the finished span and hands it to the assembler thread
//! over a lock-free channel. No I/O, no locks, no JSON work.

use std::sync::Arc;
use std::sync::mpsc::Sender;

use opentelemetry::Context;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use crate::assembly::{Msg, Shared};
use crate::keys;
use crate::report;
use crate::stats::Reason;
use crate::sync::ENTRY_OVERHEAD;

#[derive(Debug)]
pub(crate) struct AssemblyProcessor {
    sender: Sender<Msg>,
    shared: Arc<Shared>,
}

impl AssemblyProcessor {
    pub(crate) fn new(sender: Sender<Msg>, shared: Arc<Shared>) -> Self {
        AssemblyProcessor { sender, shared }
    }
}

impl SpanProcessor for AssemblyProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        let shared = &self.shared;
        shared.counters.spans_ended.inc();
        let trace_id = span.span_context.trace_id();
        let root = span.parent_span_id == opentelemetry::trace::SpanId::INVALID;
        let (message, fits) = match shared.budget.try_acquire(estimate_size(&span)) {
            Some(ticket) => (Msg::SpanEnded(span, ticket), true),
            None => {
                shared.counters.spans_lost.add(Reason::OverMemoryBound, 1);
                if shared.drop_report_due() {
                    let budget = &shared.budget;
                    let dropped = shared.counters.spans_lost.snapshot().over_memory_bound;
                    // Rate-limited per pipeline by `drop_report_due`.
                    report::warn_now(&format!(
                        "the export queue is full ({} of {} bytes in use): {dropped} span(s) \
                         dropped so far, the latest {:?}. Raise MLFLOW_TRACE_MAX_QUEUE_BYTES \
                         or check that the destinations keep up",
                        budget.used(),
                        budget.max(),
                        span.name
                    ));
                }
                // The assembler still needs to know, to finish the trace (marked
                // incomplete).
                (Msg::SpanDropped { trace_id, root }, false)
            }
        };
        shared.span_sent();
        let sent = self.sender.send(message);
        if shared.budget.used() > shared.budget.max() / 8 {
            // A backlog is building up: have the assembler drain it now.
            shared.wake_assembler();
        }
        if sent.is_err() {
            shared.span_received();
            if fits {
                shared.counters.spans_lost.add(Reason::EndedLate, 1);
            }
            report::warn("ended-after-shutdown", || {
                "a span ended after tracing was shut down and was dropped".to_owned()
            });
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Fixed overhead of a span, and of each attribute or event, beyond their strings.
const SPAN_OVERHEAD: usize = 320;

/// What a span costs in memory while queued: its strings plus a fixed overhead for the
/// structures around them. An estimate that errs on the high side.
pub(crate) fn estimate_size(span: &SpanData) -> usize {
    let events: usize = span
        .events
        .iter()
        .map(|e| e.name.len() + ENTRY_OVERHEAD + attributes_size(&e.attributes))
        .sum();
    let attributes = attributes_size(&span.attributes);
    // A span the assembler translates gains at most a copy of what it has (inputs and
    // outputs from messages, tools), and a few small values.
    let translated = if span
        .attributes
        .iter()
        .any(|kv| kv.key.as_str() == keys::span::TRANSLATE)
    {
        attributes + SPAN_OVERHEAD
    } else {
        0
    };
    SPAN_OVERHEAD + span.name.len() + attributes + translated + events
}

fn attributes_size(attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|kv| kv.key.as_str().len() + value_size(&kv.value))
        .sum()
}

fn value_size(value: &Value) -> usize {
    ENTRY_OVERHEAD
        + match value {
            Value::String(s) => s.as_str().len(),
            Value::Array(opentelemetry::Array::String(items)) => {
                items.iter().map(|s| s.as_str().len() + 24).sum()
            }
            Value::Array(_) => 64,
            _ => 0,
        }
}
