//! An MLflow tracking server as a destination (feature `mlflow-server`): a trace sink that
//! logs each finished trace over the server's REST API exactly as MLflow's Python SDK
//! does, and the reading of traces back.
//!
//! `client` sends requests (credentials, TLS, MLflow's retry policy); `protocol` is the
//! JSON of the trace API; `encode` the typed OTLP the server takes at `/v1/traces`;
//! `experiments` finds or creates the experiment; `sink` logs traces; `doctor` checks the
//! server; `read` lists and gets traces.

use super::AnySink;
use crate::config::{Settings, TrackingUri};
use crate::error::{BuildError, ReadError};

#[cfg(feature = "mlflow-server")]
mod annotate;
#[cfg(feature = "mlflow-server")]
mod client;
#[cfg(feature = "mlflow-server")]
mod doctor;
#[cfg(feature = "mlflow-server")]
mod encode;
#[cfg(feature = "mlflow-server")]
mod experiments;
#[cfg(feature = "mlflow-server")]
mod protocol;
#[cfg(feature = "mlflow-server")]
mod read;
#[cfg(feature = "mlflow-server")]
mod sink;

pub(crate) use imp::ServerReader;

/// The server's sink, when the settings export to an MLflow tracking server.
pub(super) fn select(settings: &Settings) -> Result<Option<AnySink>, BuildError> {
    if !settings.exports_to_store() {
        return Ok(None);
    }
    match &settings.tracking_uri.value {
        TrackingUri::Server { .. } => imp::sink(settings).map(Some),
        _ => Ok(None),
    }
}

/// `set_experiment` against a tracking server: the experiment's id, created when missing.
pub(super) fn experiment_id_by_name(settings: &Settings, name: &str) -> Result<String, BuildError> {
    imp::experiment_id_by_name(settings, name)
}

/// A reader of the traces on the server `settings` name.
pub(crate) fn open_reader(settings: &Settings) -> Result<ServerReader, ReadError> {
    imp::open_reader(settings)
}

#[cfg(not(feature = "mlflow-server"))]
mod imp {
    use super::*;
    use crate::model::{Trace, TraceSummary};

    const FEATURE: &str = "mlflow-server";
    const NEEDED_FOR: &str = "an MLflow tracking server (MLFLOW_TRACKING_URI=http(s)://…)";

    /// Never made without the feature.
    #[derive(Debug)]
    pub(crate) enum ServerReader {}

    impl ServerReader {
        pub(crate) fn location(&self) -> String {
            match *self {}
        }
        pub(crate) fn experiment_id(&self) -> Option<&str> {
            match *self {}
        }
        pub(crate) fn list_traces(&self, _limit: usize) -> Result<Vec<TraceSummary>, ReadError> {
            match *self {}
        }
        pub(crate) fn get_trace(&self, _id: &str) -> Result<Option<Trace>, ReadError> {
            match *self {}
        }
        pub(crate) fn search_traces(
            &self,
            _filter: Option<&str>,
            _order_by: &[String],
            _limit: usize,
        ) -> Result<Vec<TraceSummary>, ReadError> {
            match *self {}
        }
        pub(crate) fn log_assessment(
            &self,
            _trace_id: &str,
            _new: &crate::model::assessment::NewAssessment,
        ) -> Result<crate::model::Assessment, ReadError> {
            match *self {}
        }
        pub(crate) fn assessments(
            &self,
            _trace_id: &str,
        ) -> Result<Vec<crate::model::Assessment>, ReadError> {
            match *self {}
        }
    }

    pub(super) fn sink(_settings: &Settings) -> Result<AnySink, BuildError> {
        Err(BuildError::FeatureDisabled {
            feature: FEATURE,
            needed_for: NEEDED_FOR,
        })
    }

    pub(super) fn experiment_id_by_name(
        _settings: &Settings,
        _name: &str,
    ) -> Result<String, BuildError> {
        sink(_settings).map(|_| String::new())
    }

    pub(super) fn open_reader(_settings: &Settings) -> Result<ServerReader, ReadError> {
        Err(ReadError::FeatureDisabled {
            feature: FEATURE,
            needed_for: NEEDED_FOR,
        })
    }
}

#[cfg(feature = "mlflow-server")]
mod imp {
    use super::client::Connection;
    use super::sink::ServerSink;
    use super::*;
    use crate::config::ConfigError;

    pub(crate) use super::read::ServerReader;

    pub(super) fn sink(settings: &Settings) -> Result<AnySink, BuildError> {
        let connection = connection(settings)?;
        let resource = super::encode::resource(
            settings
                .server
                .as_ref()
                .and_then(|server| server.resource.as_ref()),
        );
        Ok(AnySink::Traces(Box::new(ServerSink::new(
            connection,
            settings.tracking_uri.value.clone(),
            settings.experiment.value.clone(),
            resource,
        ))))
    }

    pub(super) fn experiment_id_by_name(
        settings: &Settings,
        name: &str,
    ) -> Result<String, BuildError> {
        Ok(super::read::experiment_id_by_name(
            &connection(settings)?,
            name,
        )?)
    }

    pub(super) fn open_reader(settings: &Settings) -> Result<ServerReader, ReadError> {
        ServerReader::open(settings)
    }

    /// How to reach the server the settings name.
    pub(super) fn connection(settings: &Settings) -> Result<Connection, ConfigError> {
        match (settings.tracking_uri.value.server(), &settings.server) {
            (Some(url), Some(server)) => Connection::new(url, server),
            _ => Err(ConfigError::new(
                crate::config::env::MLFLOW_TRACKING_URI,
                &settings.tracking_uri.value.to_string(),
                "the URL of an MLflow tracking server",
            )),
        }
    }
}

#[cfg(feature = "mlflow-server")]
use imp::connection;
