//! The span side of the trace timeout: each span of a trace is registered with it (only
//! when a timeout is configured), and the assembler ends the open ones of a trace that
//! timed out.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt as _;

use super::live::SpanInner;
use crate::assembly::OpenSpan;
use crate::types::{SpanLogLevel, SpanStatus};

/// Registers a span just started with its trace, for the trace timeout.
pub(super) fn register(inner: &Arc<SpanInner>) {
    let weak: Weak<SpanInner> = Arc::downgrade(inner);
    inner.trace.register_open(weak);
}

impl OpenSpan for SpanInner {
    fn is_root(&self) -> bool {
        self.local_root
    }

    fn end_timed_out(&self, exception: Option<(&str, &str)>) {
        if self.ended.load(Ordering::Acquire) {
            return;
        }
        if let Some((type_name, message)) = exception {
            // MLflow's `SpanEvent.from_exception` of an exception never raised: its
            // traceback is the exception's own line.
            self.raise_log_level(SpanLogLevel::Error);
            self.cx.span().add_event(
                "exception",
                vec![
                    KeyValue::new("exception.message", message.to_owned()),
                    KeyValue::new("exception.type", type_name.to_owned()),
                    KeyValue::new(
                        "exception.stacktrace",
                        format!("mlflow.exceptions.{type_name}: {message}"),
                    ),
                ],
            );
        }
        self.set_status(&SpanStatus::error(""));
        self.end(None);
    }
}
