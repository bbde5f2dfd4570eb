//! Experiments on the tracking server, found the way MLflow's Python client finds them:
//! by name (`get-by-name`, created when missing, a concurrent create by another process
//! tolerated), by id (`experiments/get`), or the default experiment `0` (no request).

use serde_json::{Value, json};

use super::client::Client;
use super::protocol::{path, query_value};
use crate::config::Experiment;
use crate::error::ServerError;

/// What the server knows of an experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Found {
    /// It exists and is active: its id.
    Active(String),
    /// It exists but was deleted: its id.
    Deleted(String),
    /// The server has none.
    Missing,
}

/// Whether `err` is the server saying that what was asked for does not exist.
fn is_missing(err: &ServerError) -> bool {
    err.status() == Some(404) || err.error_code() == Some("RESOURCE_DOES_NOT_EXIST")
}

/// An experiment answer (`{"experiment": {…}}`) as [`Found`].
fn found(answer: &Value, client: &Client) -> Result<Found, ServerError> {
    let experiment = &answer["experiment"];
    let Some(id) = experiment["experiment_id"].as_str() else {
        return Err(ServerError::new(
            format!(
                "{} answered an experiment lookup without an experiment id",
                client.shown()
            ),
            None,
            None,
            false,
        ));
    };
    Ok(match experiment["lifecycle_stage"].as_str() {
        Some("deleted") => Found::Deleted(id.to_owned()),
        _ => Found::Active(id.to_owned()),
    })
}

/// The experiment named `name` (nothing is created).
pub(super) fn by_name(client: &Client, name: &str) -> Result<Found, ServerError> {
    let query = format!(
        "{}?experiment_name={}",
        path::EXPERIMENT_BY_NAME,
        query_value(name)
    );
    match client.get(&query) {
        Ok(answer) => found(&answer, client),
        Err(err) if is_missing(&err) => Ok(Found::Missing),
        Err(err) => Err(err),
    }
}

/// The experiment with id `id`.
pub(super) fn by_id(client: &Client, id: &str) -> Result<Found, ServerError> {
    let query = format!("{}?experiment_id={}", path::EXPERIMENT, query_value(id));
    match client.get(&query) {
        Ok(answer) => found(&answer, client),
        Err(err) if is_missing(&err) => Ok(Found::Missing),
        Err(err) => Err(err),
    }
}

/// The error for an experiment that is not there to log to.
pub(super) fn unusable(experiment: &Experiment, found: &Found, client: &Client) -> ServerError {
    let message = match (experiment, found) {
        (Experiment::Name(name), Found::Deleted(id)) => format!(
            "experiment {name:?} was deleted (id {id}) on {}: restore it, or use another name",
            client.shown()
        ),
        (Experiment::Name(name), _) => {
            format!("no experiment named {name:?} on {}", client.shown())
        }
        (_, Found::Deleted(id)) => format!(
            "experiment {id} was deleted on {}: restore it, or use another experiment",
            client.shown()
        ),
        (other, _) => format!(
            "{other} does not exist on {}: check MLFLOW_EXPERIMENT_ID, or name the experiment \
             with MLFLOW_EXPERIMENT_NAME (it is created when missing)",
            client.shown()
        ),
    };
    ServerError::new(
        message,
        Some(404),
        Some("RESOURCE_DOES_NOT_EXIST".into()),
        false,
    )
}

/// The id of the experiment named `name`, created when missing, as `mlflow.set_experiment`
/// does.
pub(super) fn get_or_create(client: &Client, name: &str) -> Result<String, ServerError> {
    let experiment = Experiment::Name(name.to_owned());
    match by_name(client, name)? {
        Found::Active(id) => return Ok(id),
        deleted @ Found::Deleted(_) => return Err(unusable(&experiment, &deleted, client)),
        Found::Missing => {}
    }
    match client.post(path::CREATE_EXPERIMENT, &json!({ "name": name })) {
        Ok(answer) => match answer["experiment_id"].as_str() {
            Some(id) => Ok(id.to_owned()),
            None => Err(ServerError::new(
                format!(
                    "{} created experiment {name:?} but did not say its id",
                    client.shown()
                ),
                None,
                None,
                false,
            )),
        },
        // Another process created it in between.
        Err(err) if err.error_code() == Some("RESOURCE_ALREADY_EXISTS") => {
            match by_name(client, name)? {
                Found::Active(id) => Ok(id),
                other => Err(unusable(&experiment, &other, client)),
            }
        }
        Err(err) => Err(err),
    }
}

/// The id traces of `experiment` are logged with: by name (created when missing), by id
/// (checked), or `0`.
pub(super) fn resolve(client: &Client, experiment: &Experiment) -> Result<String, ServerError> {
    match experiment {
        Experiment::Name(name) => get_or_create(client, name),
        Experiment::Id(id) => match by_id(client, id)? {
            Found::Active(id) => Ok(id),
            other => Err(unusable(experiment, &other, client)),
        },
        _ => Ok("0".to_owned()),
    }
}

/// Looks `experiment` up without creating anything (`doctor`, reading).
pub(super) fn look_up(client: &Client, experiment: &Experiment) -> Result<Found, ServerError> {
    match experiment {
        Experiment::Name(name) => by_name(client, name),
        Experiment::Id(id) => by_id(client, id),
        _ => Ok(Found::Active("0".to_owned())),
    }
}
