//! Which destinations a configuration selects.
//!
//! Each destination module has a `select` function that builds its sink when the settings
//! call for it (and fails with the missing cargo feature when they call for it but it is
//! not compiled in). Adding a destination is one module and one line in [`SELECTORS`].

use super::{AnySink, bound, local_store, metrics, otlp, server};
use crate::config::{Settings, TrackingUri};
use crate::error::BuildError;

/// A destination module's `select`.
type Selector = fn(&Settings) -> Result<Option<AnySink>, BuildError>;

/// Every destination the configuration can select, in the order they are listed.
const SELECTORS: &[Selector] = &[
    // OTLP, when an endpoint is configured.
    otlp::select,
    // The MLflow SQLite store the tracking URI names, unless OTLP replaces it.
    |s| bound::mlflow_store(local_store::select(s), s),
    // The MLflow tracking server the tracking URI names, unless OTLP replaces it.
    |s| bound::mlflow_store(server::select(s), s),
    // The span-duration histogram, when a metrics endpoint is configured (whatever the
    // trace destinations).
    metrics::select,
];

/// The sinks `settings` select.
pub(crate) fn select(settings: &Settings) -> Result<Vec<AnySink>, BuildError> {
    let mut sinks = Vec::new();
    for selector in SELECTORS {
        sinks.extend(selector(settings)?);
    }
    Ok(sinks)
}

/// The id of the experiment named `name` in the store the tracking URI of `settings` names,
/// created when missing (`set_experiment`).
pub(crate) fn experiment_id_by_name(settings: &Settings, name: &str) -> Result<String, BuildError> {
    match &settings.tracking_uri.value {
        TrackingUri::Sqlite { path } => local_store::experiment_id_by_name(path, name),
        TrackingUri::Server { .. } => server::experiment_id_by_name(settings, name),
    }
}
