//! Destinations supplied by the program: anything implementing [`TraceExporter`], run as a
//! trace sink.

use super::{ExportError, Sink, TraceItem};
use crate::config::Destination;
use crate::model::Trace;

/// Receives finished traces, in batches, on a background thread of its own.
///
/// Add one with [`TracingBuilder::with_exporter`](crate::TracingBuilder::with_exporter) to
/// send traces somewhere this crate does not (a file, a queue, a test). `export` is never
/// called concurrently and never on a thread that records spans; it may block.
pub trait TraceExporter: Send + 'static {
    /// A one-line description, shown in diagnostics. It must not contain secrets.
    fn name(&self) -> String;

    /// Exports a batch of finished traces. An error counts every trace of the batch as
    /// failed and is reported (its message must not contain secrets).
    fn export(&mut self, traces: &[&Trace]) -> Result<(), String>;

    /// Called once after the last batch, when the pipeline shuts down.
    fn shutdown(&mut self) {}
}

/// A [`TraceExporter`] as a trace sink.
pub(crate) struct CustomSink<E>(pub(crate) E);

impl<E: TraceExporter> Sink<TraceItem> for CustomSink<E> {
    fn destination(&self) -> Destination {
        Destination::Exporter {
            name: self.0.name(),
        }
    }

    fn export(&mut self, traces: &[TraceItem]) -> Result<(), ExportError> {
        let traces: Vec<&Trace> = traces.iter().map(|t| &***t).collect();
        self.0.export(&traces).map_err(ExportError::new)
    }

    fn shutdown(&mut self) {
        self.0.shutdown();
    }
}
