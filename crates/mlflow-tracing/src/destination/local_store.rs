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

    /// The open store and the experiment id, opened at first use.
    fn open(&mut self) -> Result<&mut (Store, String), ExportError> {
        let open = match self.open.take() {
            Some(open) => open,
            None => self
                .open_store()
                .map_err(|e| ExportError::new(e.to_string()))?,
        };
        Ok(self.open.insert(open))
    }

    fn open_store(&self) -> Result<(Store, String), crate::local_store::StoreError> {
        let mut store = Store::open(&self.path)?;
        let experiment = match &self.experiment {
            ExperimentSelector::Default => "0".to_owned(),
            ExperimentSelector::Id(id) => store.experiment(id)?.id,
            ExperimentSelector::Name(name) => store.get_or_create_experiment(name)?,
        };
        Ok((store, experiment))
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

    fn check(&mut self) -> crate::diagnose::Check {
        if self.path.exists() {
            return crate::local_store::inspect(&self.path)
                .map(|s| vec![s])
                .map_err(|e| vec![e.to_string()]);
        }
        let Some(existing) = self.path.ancestors().skip(1).find(|dir| dir.exists()) else {
            return Err(vec![format!(
                "no existing directory above {}",
                self.path.display()
            )]);
        };
        let probe = existing.join(format!(".mlflow-tracing-doctor-{}", std::process::id()));
        match std::fs::write(&probe, b"") {
            Ok(()) => {
                let _ = std::fs::remove_file(&probe);
                Ok(vec![format!(
                    "{} does not exist yet; it will be created, with MLflow {}'s schema, at the \
                     first trace",
                    self.path.display(),
                    crate::local_store::MLFLOW_SCHEMA_VERSION
                )])
            }
            Err(err) => Err(vec![format!(
                "{} cannot be created: {} is not writable ({err}); set MLFLOW_TRACKING_URI to a \
                 writable place, e.g. sqlite:////tmp/mlflow.db",
                self.path.display(),
                existing.display()
            )]),
        }
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
