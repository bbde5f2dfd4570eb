//! [`TraceReader`]: traces read back from the store a tracking URI names, an MLflow SQLite
//! database or an MLflow tracking server, for one experiment or all of them.

use crate::config::{Settings, TrackingUri};
use crate::destination::{ServerReader, open_server_reader};
use crate::error::ReadError;
use crate::model::{Trace, TraceSummary};

/// Reads traces back from an MLflow store; made by
/// [`TracingBuilder::reader`](crate::TracingBuilder::reader), which resolves the tracking
/// URI and the experiment as tracing does.
///
/// ```no_run
/// // MLFLOW_TRACKING_URI (a database or a server) and MLFLOW_EXPERIMENT_NAME, as set.
/// let reader = mlflow_tracing::Tracing::builder().reader()?;
/// for summary in reader.list_traces(10)? {
///     println!("{} {:?}", summary.info().trace_id(), summary.info().name());
/// }
/// # Ok::<(), mlflow_tracing::ReadError>(())
/// ```
#[derive(Debug)]
pub struct TraceReader {
    pub(super) inner: Inner,
}

#[derive(Debug)]
pub(super) enum Inner {
    #[cfg(feature = "local-store")]
    Local {
        store: crate::local_store::LocalStore,
        location: String,
        experiment: Option<String>,
    },
    Server(ServerReader),
}

impl TraceReader {
    /// Where the traces are read from: the database's URI or the server's URL (without
    /// credentials).
    pub fn location(&self) -> String {
        match &self.inner {
            #[cfg(feature = "local-store")]
            Inner::Local { location, .. } => location.clone(),
            Inner::Server(server) => server.location(),
        }
    }

    /// The id of the experiment read, when one was configured; `None` reads them all.
    pub fn experiment_id(&self) -> Option<&str> {
        match &self.inner {
            #[cfg(feature = "local-store")]
            Inner::Local { experiment, .. } => experiment.as_deref(),
            Inner::Server(server) => server.experiment_id(),
        }
    }

    /// The `limit` most recent traces (by start time).
    pub fn list_traces(&self, limit: usize) -> Result<Vec<TraceSummary>, ReadError> {
        Ok(match &self.inner {
            #[cfg(feature = "local-store")]
            Inner::Local {
                store, experiment, ..
            } => store.list_traces(experiment.as_deref(), limit)?,
            Inner::Server(server) => server.list_traces(limit)?,
        })
    }

    /// The traces matching `search` (MLflow's filter grammar and order), newest first
    /// unless ordered otherwise: `mlflow.search_traces`. A tracking server parses the
    /// filter itself; for a local store it is parsed and applied as MLflow's SQL store does.
    ///
    /// ```no_run
    /// use mlflow_tracing::{TraceSearch, Tracing};
    ///
    /// let reader = Tracing::builder().reader()?;
    /// let failed = reader.search_traces(
    ///     &TraceSearch::new()
    ///         .filter("attributes.status = 'ERROR' AND tags.env = 'prod'")
    ///         .order_by("timestamp_ms DESC")
    ///         .max_results(50),
    /// )?;
    /// # Ok::<(), mlflow_tracing::ReadError>(())
    /// ```
    pub fn search_traces(&self, search: &TraceSearch) -> Result<Vec<TraceSummary>, ReadError> {
        let order_by = if search.order_by.is_empty() {
            vec!["timestamp_ms DESC".to_owned()]
        } else {
            search.order_by.clone()
        };
        Ok(match &self.inner {
            #[cfg(feature = "local-store")]
            Inner::Local {
                store, experiment, ..
            } => store.search_traces(
                experiment.as_slice(),
                search.filter.as_deref(),
                &order_by,
                search.max_results,
            )?,
            Inner::Server(server) => {
                server.search_traces(search.filter.as_deref(), &order_by, search.max_results)?
            }
        })
    }

    /// One trace with its spans; `None` when there is no trace with this id.
    pub fn get_trace(&self, trace_id: &str) -> Result<Option<Trace>, ReadError> {
        Ok(match &self.inner {
            #[cfg(feature = "local-store")]
            Inner::Local { store, .. } => store.get_trace(trace_id)?,
            Inner::Server(server) => server.get_trace(trace_id)?,
        })
    }
}

/// What [`TraceReader::search_traces`] looks for: MLflow's `filter_string`, `order_by`
/// and `max_results`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct TraceSearch {
    filter: Option<String>,
    order_by: Vec<String>,
    max_results: usize,
}

impl Default for TraceSearch {
    fn default() -> Self {
        TraceSearch {
            filter: None,
            order_by: Vec::new(),
            max_results: usize::MAX,
        }
    }
}

impl TraceSearch {
    /// Every trace, newest first (as `mlflow.search_traces` without `max_results`; a
    /// tracking server is read page by page).
    pub fn new() -> Self {
        Self::default()
    }

    /// MLflow's filter string: clauses joined by `AND`, such as
    /// `attributes.status = 'OK'`, `tags.env = 'prod'`, `metadata.mlflow.trace.user =
    /// 'u1'`, `span.name = 'retrieve'`, `feedback.correctness = 'yes'`,
    /// `timestamp_ms > 1700000000000`.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// Adds an order: `timestamp_ms DESC`, `execution_time_ms`, `name ASC`, ….
    pub fn order_by(mut self, order: impl Into<String>) -> Self {
        self.order_by.push(order.into());
        self
    }

    /// At most this many traces (default: all).
    pub fn max_results(mut self, max_results: usize) -> Self {
        self.max_results = max_results;
        self
    }
}

/// A reader of the store and experiment `settings` name.
pub(crate) fn open(settings: &Settings) -> Result<TraceReader, ReadError> {
    match &settings.tracking_uri.value {
        TrackingUri::Sqlite { path } => open_local(path, settings),
        TrackingUri::Server { .. } => Ok(TraceReader {
            inner: Inner::Server(open_server_reader(settings)?),
        }),
    }
}

#[cfg(feature = "local-store")]
fn open_local(path: &std::path::Path, settings: &Settings) -> Result<TraceReader, ReadError> {
    use crate::config::{Experiment, Source};
    let store = crate::local_store::LocalStore::open(path)?;
    let location = settings.tracking_uri.value.to_string();
    let experiment = match (&settings.experiment.source, &settings.experiment.value) {
        (Source::Default, _) => None,
        (_, Experiment::Name(name)) => {
            Some(store.experiment_id_by_name(name)?.ok_or_else(|| {
                ReadError::NoSuchExperiment(format!(
                    "no active experiment named {name:?} in {location}"
                ))
            })?)
        }
        (_, other) => {
            let id = other.known_id().unwrap_or("0");
            Some(store.active_experiment(id)?.ok_or_else(|| {
                ReadError::NoSuchExperiment(format!(
                    "experiment {id} does not exist or is deleted in {location}"
                ))
            })?)
        }
    };
    Ok(TraceReader {
        inner: Inner::Local {
            store,
            location,
            experiment,
        },
    })
}

#[cfg(not(feature = "local-store"))]
fn open_local(_path: &std::path::Path, _settings: &Settings) -> Result<TraceReader, ReadError> {
    Err(ReadError::FeatureDisabled {
        feature: "local-store",
        needed_for: "reading an MLflow SQLite database",
    })
}
