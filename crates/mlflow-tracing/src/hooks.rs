//! Span hooks: functions that see every finished span before any destination does, and may
//! rewrite it (mask personal data in its inputs, outputs, attributes or events) or drop
//! it — the equivalent of MLflow's `mlflow.tracing.configure(span_processors=[...])`.
//!
//! Hooks run on the pipeline's assembler thread, never on the thread that records the
//! span, in the order they were added. A hook that panics is caught: the span it held is
//! not exported (a redaction hook that fails must not let its span out unredacted),
//! counted as lost with the reason `hook_panicked` (in [`Stats`](crate::Stats) and the
//! next flush's report), and reported; a trace that lost a span so is exported marked
//! incomplete, and one whose root span was lost so is not exported. A span a hook drops is counted in
//! [`Stats::spans_filtered`](crate::Stats::spans_filtered); the children of a dropped span
//! are attached to its parent in the exported trace, and dropping the root drops the trace.
//!
//! ```
//! use mlflow_tracing::{Tracing, hooks::HookSpan};
//!
//! let tracing = Tracing::builder()
//!     .span_hook(|span: &mut HookSpan<'_>| {
//!         if span.name() == "health_check" {
//!             span.drop_span();
//!         } else if span.attribute("api_key").is_some() {
//!             span.set_attribute("api_key", "[REDACTED]");
//!         }
//!     })
//!     .build()?;
//! # Ok::<(), mlflow_tracing::BuildError>(())
//! ```

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanId;
use serde::Serialize;
use serde_json::Value;

use crate::json;
use crate::keys;
use crate::model::{Span, SpanEvent};
use crate::types::{SpanStatus, SpanType};

/// A function that sees each finished span before it is exported; see the
/// [module documentation](self). Closures `Fn(&mut HookSpan<'_>)` are hooks.
pub trait SpanHook: Send + Sync + 'static {
    /// Inspects, rewrites or drops `span`.
    fn on_span_end(&self, span: &mut HookSpan<'_>);

    /// The hook's name in reports (by default its type's name).
    fn name(&self) -> String {
        std::any::type_name::<Self>().to_owned()
    }
}

impl<F> SpanHook for F
where
    F: Fn(&mut HookSpan<'_>) + Send + Sync + 'static,
{
    fn on_span_end(&self, span: &mut HookSpan<'_>) {
        self(span)
    }
}

/// The hooks of a pipeline, in order.
#[derive(Clone, Default)]
pub(crate) struct SpanHooks(Vec<Arc<dyn SpanHook>>);

impl fmt::Debug for SpanHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|h| h.name()))
            .finish()
    }
}

/// What became of a span after the hooks ran.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Export it (possibly rewritten).
    Keep,
    /// A hook dropped it on purpose.
    Dropped,
    /// The named hook panicked with this message: the span is not exported.
    Panicked { hook: String, message: String },
}

impl SpanHooks {
    pub(crate) fn push(&mut self, hook: Arc<dyn SpanHook>) {
        self.0.push(hook);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs every hook on `span` (of the trace `trace`), each under `catch_unwind`;
    /// stops at the first that drops the span or panics.
    pub(crate) fn run(&self, span: &mut Span, trace: &TraceView<'_>) -> Outcome {
        for hook in &self.0 {
            let mut view = HookSpan {
                span,
                trace,
                dropped: false,
            };
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                hook.on_span_end(&mut view)
            }));
            match ran {
                Ok(()) if view.dropped => return Outcome::Dropped,
                Ok(()) => {}
                Err(payload) => {
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic without a message".to_owned());
                    return Outcome::Panicked {
                        hook: hook.name(),
                        message,
                    };
                }
            }
        }
        Outcome::Keep
    }
}

/// The trace a span belongs to, as it stands when the span ends.
#[derive(Debug)]
pub(crate) struct TraceView<'a> {
    pub(crate) trace_id: &'a str,
    pub(crate) tags: &'a IndexMap<String, String>,
    pub(crate) metadata: &'a IndexMap<String, String>,
}

/// A finished span as a [`SpanHook`] sees it: read it, rewrite it, or drop it.
///
/// Values set here are stored as MLflow stores them (JSON), as with
/// [`LiveSpan`](crate::LiveSpan). The trace's tags and metadata are those set before the
/// span ended.
pub struct HookSpan<'a> {
    span: &'a mut Span,
    trace: &'a TraceView<'a>,
    dropped: bool,
}

impl fmt::Debug for HookSpan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookSpan")
            .field("name", &self.span.name())
            .field("trace_id", &self.trace.trace_id)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl HookSpan<'_> {
    /// The span as it stands (name, ids, times, status, attributes, events).
    pub fn span(&self) -> &Span {
        self.span
    }

    /// The span name.
    pub fn name(&self) -> &str {
        self.span.name()
    }

    /// The span type.
    pub fn span_type(&self) -> SpanType {
        self.span.span_type()
    }

    /// The span id.
    pub fn span_id(&self) -> SpanId {
        self.span.span_id()
    }

    /// Whether this is the trace's root span (in a trace continued from another process:
    /// the root of this process's part, whose parent is remote).
    pub fn is_root(&self) -> bool {
        self.span.is_local_root()
    }

    /// The MLflow trace id, `tr-<32 hex>`.
    pub fn trace_id(&self) -> &str {
        self.trace.trace_id
    }

    /// The trace's tags, as set before the span ended.
    pub fn trace_tags(&self) -> &IndexMap<String, String> {
        self.trace.tags
    }

    /// The trace's metadata, as set before the span ended.
    pub fn trace_metadata(&self) -> &IndexMap<String, String> {
        self.trace.metadata
    }

    /// The inputs, decoded.
    pub fn inputs(&self) -> Option<Value> {
        self.span.inputs()
    }

    /// The outputs, decoded.
    pub fn outputs(&self) -> Option<Value> {
        self.span.outputs()
    }

    /// An attribute, decoded (MLflow's JSON is parsed).
    pub fn attribute(&self, key: &str) -> Option<Value> {
        self.span.attribute(key)
    }

    /// The attribute keys, in order.
    pub fn attribute_keys(&self) -> Vec<String> {
        self.span
            .attributes()
            .iter()
            .map(|kv| kv.key.as_str().to_owned())
            .collect()
    }

    /// Replaces the inputs.
    pub fn set_inputs<T: Serialize>(&mut self, inputs: T) {
        self.set_attribute(keys::span::INPUTS, inputs);
    }

    /// Replaces the outputs.
    pub fn set_outputs<T: Serialize>(&mut self, outputs: T) {
        self.set_attribute(keys::span::OUTPUTS, outputs);
    }

    /// Sets an attribute (stored as JSON), keeping its position if it exists.
    pub fn set_attribute<T: Serialize>(&mut self, key: &str, value: T) {
        self.span
            .set_attribute(KeyValue::new(key.to_owned(), json::dumps(&value)));
    }

    /// Removes an attribute.
    pub fn remove_attribute(&mut self, key: &str) {
        self.span.attributes.retain(|kv| kv.key.as_str() != key);
    }

    /// The span's events.
    pub fn events(&self) -> &[SpanEvent] {
        self.span.events()
    }

    /// Rewrites the string attributes of every event (an `exception` event's message may
    /// hold what the inputs did): `rewrite(event name, key, value)` returns the new value.
    pub fn rewrite_event_strings(&mut self, mut rewrite: impl FnMut(&str, &str, &str) -> String) {
        for event in &mut self.span.events {
            for kv in &mut event.attributes {
                if let opentelemetry::Value::String(s) = &kv.value {
                    let new = rewrite(&event.name, kv.key.as_str(), s.as_str());
                    kv.value = opentelemetry::Value::from(new);
                }
            }
        }
    }

    /// Sets the status.
    pub fn set_status(&mut self, status: impl Into<SpanStatus>) {
        self.span.status = status.into();
    }

    /// Drops the span: no destination gets it. Later hooks do not run.
    pub fn drop_span(&mut self) {
        self.dropped = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_hook_is_caught_and_named() {
        let mut hooks = SpanHooks::default();
        hooks.push(Arc::new(|_: &mut HookSpan<'_>| panic!("boom")));
        let mut span = crate::model::sample_span();
        let (tags, metadata) = (IndexMap::new(), IndexMap::new());
        let view = TraceView {
            trace_id: "tr-1",
            tags: &tags,
            metadata: &metadata,
        };
        match hooks.run(&mut span, &view) {
            Outcome::Panicked { message, .. } => assert_eq!(message, "boom"),
            other => panic!("{other:?}"),
        }
    }
}
