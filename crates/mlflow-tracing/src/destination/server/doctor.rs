//! `doctor`'s check of a tracking server, without logging or creating anything: is it
//! reachable, which MLflow it runs and so which way spans will travel, does the experiment
//! resolve, is the credential accepted — in plain words.

use super::client::Connection;
use super::experiments::{self, Found};
use super::protocol::path;
use super::sink::{SpanPath, version};
use crate::config::Experiment;
use crate::config::server::Auth;
use crate::destination::Check;

/// Checks the server at `connection` for logging traces to `experiment`.
pub(super) fn check(connection: &Connection, experiment: &Experiment) -> Check {
    let mut findings = Vec::new();
    let client = match connection.client() {
        Ok(client) => client,
        Err(err) => return Err(vec![err.to_string()]),
    };
    let shown = client.shown().to_owned();
    match version(&client) {
        Ok(Some(version)) => {
            findings.push(format!("{shown} answers: MLflow {version}"));
            findings.push(match SpanPath::for_version(&version) {
                SpanPath::Otlp => format!(
                    "each trace's spans go to {}, then its info to {} (MLflow 3.4 or newer)",
                    path::OTLP_TRACES,
                    path::TRACES
                ),
                SpanPath::Artifacts => format!(
                    "MLflow {version} cannot store spans (older than 3.4): each trace's info \
                     goes to {}, its spans to the artifact store as traces.json",
                    path::TRACES
                ),
            });
        }
        Ok(None) => findings.push(format!(
            "{shown} answers, but not with its version (GET {}): spans will go to the \
             artifact store as traces.json, as for MLflow older than 3.4",
            path::VERSION
        )),
        Err(err) => {
            findings.push(match err.status() {
                None => format!("{err}: is the server running, at this address?"),
                Some(_) => err.to_string(),
            });
            return Err(findings);
        }
    }
    // The default experiment is looked up too, which checks the credential.
    let looked_up = match experiment {
        Experiment::Name(_) | Experiment::Id(_) => experiments::look_up(&client, experiment),
        _ => experiments::by_id(&client, "0"),
    };
    let auth = connection.auth();
    let accepted = || match auth {
        Auth::None => "no credential is needed".to_owned(),
        other => format!("{} accepted", other.credential()),
    };
    match (looked_up, experiment) {
        (Ok(Found::Active(id)), _) => {
            findings.push(accepted());
            findings.push(format!("{experiment} resolves to experiment id {id}"));
            Ok(findings)
        }
        (Ok(Found::Missing), Experiment::Name(name)) => {
            findings.push(accepted());
            findings.push(format!(
                "experiment {name:?} does not exist yet: it will be created at the first trace"
            ));
            Ok(findings)
        }
        (Ok(other), _) => {
            findings.push(accepted());
            findings.push(experiments::unusable(experiment, &other, &client).to_string());
            Err(findings)
        }
        (Err(err), _) => {
            findings.push(err.to_string());
            Err(findings)
        }
    }
}
