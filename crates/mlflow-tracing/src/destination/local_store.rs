//! The local MLflow SQLite store as a destination.

use std::path::PathBuf;
use std::sync::Arc;

use super::{CompletedTrace, Destination, ExportError};
use crate::config::{ExperimentSelector, TrackingUri};
use crate::local_store::Store;
use crate::model::Trace;

/// Writes traces into an MLflow SQLite database. The database is opened (and created
/// when missing) on the export thread, at the first export.
pub(crate) struct LocalStoreDestination {
    path: PathBuf,
    experiment: ExperimentSelector,
    /// The open store and the experiment traces without one go to.
    open: Option<(Store, String)>,
}

impl LocalStoreDestination {
    pub(crate) fn new(path: PathBuf, experiment: ExperimentSelector) -> Self {
        LocalStoreDestination {
            path,
            experiment,
            open: None,
        }
    }

    fn open(&mut self) -> Result<&mut (Store, String), ExportError> {
        if self.open.is_none() {
            let mut store = Store::open(&self.path).map_err(|e| ExportError::new(e.to_string()))?;
            let experiment = match &self.experiment {
                ExperimentSelector::Default => "0".to_owned(),
                ExperimentSelector::Id(id) => {
                    store
                        .experiment(id)
                        .map_err(|e| ExportError::new(e.to_string()))?
                        .id
                }
                ExperimentSelector::Name(name) => store
                    .get_or_create_experiment(name)
                    .map_err(|e| ExportError::new(e.to_string()))?,
            };
            self.open = Some((store, experiment));
        }
        self.open
            .as_mut()
            .ok_or_else(|| ExportError::new("the store is not open"))
    }
}

impl Destination for LocalStoreDestination {
    fn describe(&self) -> String {
        let experiment = match &self.experiment {
            ExperimentSelector::Default => "experiment 0".to_owned(),
            ExperimentSelector::Id(id) => format!("experiment {id}"),
            ExperimentSelector::Name(name) => format!("experiment {name:?}"),
        };
        format!(
            "MLflow SQLite store {} ({experiment})",
            TrackingUri::Sqlite {
                path: self.path.clone()
            }
            .to_uri()
        )
    }

    fn export(&mut self, traces: &[Arc<CompletedTrace>]) -> Result<(), ExportError> {
        let (store, experiment) = self.open()?;
        let traces: Vec<&Trace> = traces.iter().map(|t| &***t).collect();
        let outcome = store
            .write_traces(&traces, experiment)
            .map_err(|e| ExportError::new(e.to_string()))?;
        match outcome.failed.first() {
            None => Ok(()),
            Some((trace_id, err)) => Err(ExportError::partial(
                outcome.failed.len(),
                format!("trace {trace_id}: {err}"),
            )),
        }
    }
}
