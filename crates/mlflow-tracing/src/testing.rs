//! Helpers for testing code that records traces (feature `testing`).
//!
//! ```
//! use mlflow_tracing::{start_span, testing::InMemoryTraces, Tracing};
//!
//! let traces = InMemoryTraces::new();
//! let tracing = Tracing::builder()
//!     .destinations_from_config(false)
//!     .with_in_memory(&traces)
//!     .build()
//!     .unwrap();
//! tracing.in_scope(|| {
//!     let span = start_span("step").start();
//!     span.set_inputs(serde_json::json!({"x": 1}));
//! });
//! tracing.flush().unwrap();
//! assert_eq!(traces.traces()[0].spans()[0].name(), "step");
//! ```

use std::sync::{Arc, Mutex};

use crate::destination::TraceExporter;
use crate::model::Trace;
use crate::setup::TracingBuilder;

/// Traces kept in memory by a pipeline built with
/// [`TracingBuilder::with_in_memory`](crate::TracingBuilder::with_in_memory).
#[derive(Debug, Clone, Default)]
pub struct InMemoryTraces {
    traces: Arc<Mutex<Vec<Trace>>>,
}

impl InMemoryTraces {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every trace exported so far, in export order.
    pub fn traces(&self) -> Vec<Trace> {
        self.traces.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// The trace with this id (`tr-…`).
    pub fn trace(&self, trace_id: &str) -> Option<Trace> {
        self.traces()
            .into_iter()
            .find(|t| t.info().trace_id() == trace_id)
    }

    /// Forgets every trace.
    pub fn clear(&self) {
        if let Ok(mut traces) = self.traces.lock() {
            traces.clear();
        }
    }
}

impl TracingBuilder {
    /// Also exports to an in-memory store, for tests.
    pub fn with_in_memory(self, store: &InMemoryTraces) -> Self {
        self.with_exporter(store.clone())
    }
}

impl TraceExporter for InMemoryTraces {
    fn name(&self) -> String {
        "in-memory traces".to_owned()
    }

    fn export(&mut self, traces: &[&Trace]) -> Result<(), String> {
        let mut stored = self
            .traces
            .lock()
            .map_err(|_| "the trace list is poisoned".to_owned())?;
        stored.extend(traces.iter().map(|t| (*t).clone()));
        Ok(())
    }
}
