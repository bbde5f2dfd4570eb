//! The local MLflow SQLite store as a destination (feature `local-store`): a trace sink.

use std::path::Path;

use super::AnySink;
use crate::config::{Settings, TrackingUri};
use crate::error::BuildError;

/// The store's sink, when the settings export to an MLflow SQLite database.
pub(super) fn select(settings: &Settings) -> Result<Option<AnySink>, BuildError> {
    if !settings.exports_to_store() {
        return Ok(None);
    }
    match &settings.tracking_uri.value {
        TrackingUri::Sqlite { path } => imp::sink(path, settings).map(Some),
        TrackingUri::Server { .. } => Ok(None),
    }
}

/// `set_experiment` against a SQLite store: the experiment's id, created when missing.
pub(super) fn experiment_id_by_name(path: &Path, name: &str) -> Result<String, BuildError> {
    imp::experiment_id_by_name(path, name)
}

#[cfg(not(feature = "local-store"))]
mod imp {
    use super::*;

    const FEATURE: &str = "local-store";

    pub(super) fn sink(_path: &Path, _settings: &Settings) -> Result<AnySink, BuildError> {
        Err(BuildError::FeatureDisabled {
            feature: FEATURE,
            needed_for: "writing traces to an MLflow SQLite database",
        })
    }

    pub(super) fn experiment_id_by_name(_path: &Path, _name: &str) -> Result<String, BuildError> {
        Err(BuildError::FeatureDisabled {
            feature: FEATURE,
            needed_for: "set_experiment with an MLflow SQLite database",
        })
    }
}

#[cfg(feature = "local-store")]
mod imp {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::config::{Destination, Experiment};
    use crate::destination::{Batching, Check, ExportError, Sink, TraceItem};
    use crate::local_store::{MLFLOW_SCHEMA_VERSION, Store, StoreError, check_writable, inspect};
    use crate::model::Trace;
    use crate::pricing::Prices;

    /// The most traces written in one transaction. Their rows (the spans' JSON) are
    /// built before the transaction: a few MiB for small traces.
    const BATCH: usize = 2048;

    pub(super) fn sink(path: &Path, settings: &Settings) -> Result<AnySink, BuildError> {
        Ok(AnySink::Traces(Box::new(LocalStoreSink {
            path: path.to_owned(),
            experiment: settings.experiment.value.clone(),
            prices: settings.pricing.prices.clone(),
            open: None,
        })))
    }

    pub(super) fn experiment_id_by_name(path: &Path, name: &str) -> Result<String, BuildError> {
        Ok(Store::open(path)?.get_or_create_experiment(name)?)
    }

    /// Writes traces into an MLflow SQLite database. The database is opened (and created
    /// when missing) on the export thread, at the first export.
    struct LocalStoreSink {
        path: PathBuf,
        experiment: Experiment,
        /// The pipeline's model prices.
        prices: Arc<Prices>,
        /// The open store and the experiment traces without one go to.
        open: Option<(Store, String)>,
    }

    impl LocalStoreSink {
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

        fn open_store(&self) -> Result<(Store, String), StoreError> {
            let mut store = Store::open(&self.path)?.with_prices(self.prices.clone());
            let experiment = match &self.experiment {
                Experiment::Id(id) => store.experiment(id)?.id,
                Experiment::Name(name) => store.get_or_create_experiment(name)?,
                _ => "0".to_owned(),
            };
            Ok((store, experiment))
        }
    }

    impl Sink<TraceItem> for LocalStoreSink {
        fn destination(&self) -> Destination {
            Destination::LocalStore {
                uri: TrackingUri::Sqlite {
                    path: self.path.clone(),
                },
                experiment: self.experiment.clone(),
            }
        }

        /// Whatever is waiting, at once, in transactions of up to `BATCH` traces: a
        /// backlog is written in few commits (each waits for the disk).
        fn batching(&self) -> Batching {
            Batching {
                max_items: BATCH,
                ..Batching::IMMEDIATE
            }
        }

        fn check(&mut self) -> Check {
            let mut findings = Vec::new();
            if self.path.exists() {
                findings.push(inspect(&self.path).map_err(|e| vec![e.to_string()])?);
            } else {
                findings.push(format!(
                    "{} does not exist yet; it will be created, with MLflow \
                     {MLFLOW_SCHEMA_VERSION}'s schema, at the first trace",
                    self.path.display(),
                ));
            }
            match check_writable(&self.path) {
                Ok(()) => {
                    findings.push("it can be written, and its disk has room".to_owned());
                    Ok(findings)
                }
                Err(problem) => {
                    findings.push(problem.to_string());
                    Err(findings)
                }
            }
        }

        fn export(&mut self, traces: &[TraceItem]) -> Result<(), ExportError> {
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
}
