//! Errors of setting tracing up and of flushing it.

use std::time::Duration;

use crate::config::ConfigError;
use crate::stats::LossReport;

/// Tracing could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration needs a cargo feature this build does not have.
    #[error("{needed_for} needs the `{feature}` feature of mlflow-tracing")]
    FeatureDisabled {
        /// The missing feature.
        feature: &'static str,
        /// What it is needed for.
        needed_for: &'static str,
    },
    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The MLflow store refused an operation.
    #[cfg(feature = "local-store")]
    #[error(transparent)]
    Store(#[from] crate::local_store::StoreError),
}

/// A flush or shutdown did not complete cleanly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// Export did not finish in time; it goes on in the background.
    #[error("export did not finish within {0:?}")]
    Timeout(Duration),
    /// Since the previous flush, something was not exported: spans or traces were lost
    /// (over a bound, unfinished, abandoned, failed to export) — what and why.
    #[error("not everything was exported: {0}")]
    Lost(Box<LossReport>),
    /// The pipeline was already shut down.
    #[error("tracing was already shut down")]
    AlreadyShutDown,
}
