//! `MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE`: a bound on the number of traces waiting to
//! be written to the MLflow store (the local database or a tracking server), as MLflow
//! bounds its export queue. Past it traces are dropped, counted and reported; unset, only
//! the memory bound applies.

use super::{AnySink, Batching, Check, ExportError, Sink, TraceItem};
use crate::config::{Destination, Settings};
use crate::error::BuildError;

/// `sink`, bounded as the settings say.
pub(super) fn mlflow_store(
    sink: Result<Option<AnySink>, BuildError>,
    settings: &Settings,
) -> Result<Option<AnySink>, BuildError> {
    let max = settings.mlflow_vars.trace_queue.as_ref().map(|s| s.value);
    Ok(match (sink?, max) {
        (Some(AnySink::Traces(inner)), Some(max)) => {
            Some(AnySink::Traces(Box::new(Bounded { inner, max })))
        }
        (other, _) => other,
    })
}

/// A trace sink with a bound on its queue.
struct Bounded {
    inner: Box<dyn Sink<TraceItem>>,
    max: usize,
}

impl Sink<TraceItem> for Bounded {
    fn destination(&self) -> Destination {
        self.inner.destination()
    }

    fn batching(&self) -> Batching {
        Batching {
            max_queued: Some(self.max),
            ..self.inner.batching()
        }
    }

    fn export(&mut self, batch: &[TraceItem]) -> Result<(), ExportError> {
        self.inner.export(batch)
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        self.inner.flush()
    }

    fn shutdown(&mut self) {
        self.inner.shutdown();
    }

    fn check(&mut self) -> Check {
        self.inner.check()
    }
}
