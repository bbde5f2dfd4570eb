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
    /// The MLflow tracking server refused a request, or could not be reached.
    #[cfg(feature = "mlflow-server")]
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// Traces could not be read back; see [`TraceReader`](crate::TraceReader).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The tracking URI needs a cargo feature this build does not have.
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
    /// The experiment asked for does not exist, or is deleted.
    #[error("{0}")]
    NoSuchExperiment(String),
    /// The MLflow SQLite database could not be read.
    #[cfg(feature = "local-store")]
    #[error(transparent)]
    Store(#[from] crate::local_store::StoreError),
    /// The MLflow tracking server refused a request, or could not be reached.
    #[cfg(feature = "mlflow-server")]
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// A request to an MLflow tracking server failed.
///
/// The message names the server (without credentials) and says what went wrong: what the
/// server answered (HTTP status, MLflow's error code and message) or why it could not be
/// reached. It never holds a credential.
#[cfg(feature = "mlflow-server")]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServerError {
    message: String,
    status: Option<u16>,
    error_code: Option<String>,
    transient: bool,
}

#[cfg(feature = "mlflow-server")]
impl ServerError {
    /// An error; `status` and `error_code` when the server answered, `transient` when
    /// trying again later may help.
    pub(crate) fn new(
        message: impl Into<String>,
        status: Option<u16>,
        error_code: Option<String>,
        transient: bool,
    ) -> Self {
        ServerError {
            message: message.into(),
            status,
            error_code,
            transient,
        }
    }

    /// The HTTP status the server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// MLflow's error code (`RESOURCE_DOES_NOT_EXIST`, `PERMISSION_DENIED`, …), if the
    /// server sent one.
    pub fn error_code(&self) -> Option<&str> {
        self.error_code.as_deref()
    }

    /// Whether the failure may go away by itself (the server was unreachable, busy or
    /// failing), as opposed to a refusal.
    pub fn is_transient(&self) -> bool {
        self.transient
    }
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
