//! Reading traces back from a tracking server: `SearchTracesV3` for lists, `GetTrace` for
//! one trace with its spans (or, for a trace whose spans are in the artifact store, its
//! info and `traces.json`). Every request runs on a thread of its own, so reading works
//! from inside an async runtime too.

use serde_json::{Value, json};

use super::client::{Client, Connection};
use super::encode::span_from_json;
use super::experiments::{self, Found};
use super::protocol::{self, path, query_value};
use crate::config::{Settings, Source};
use crate::error::{ReadError, ServerError};
use crate::model::{Span, Trace, TraceSummary};

/// The most traces one search request asks for (the server's cap).
const PAGE: usize = 500;

/// Runs `f` with a client, on a thread of its own.
pub(super) fn with_client<T: Send>(
    connection: &Connection,
    f: impl FnOnce(&Client) -> Result<T, ServerError> + Send,
) -> Result<T, ServerError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| f(&connection.client()?))
            .join()
            .unwrap_or_else(|_| {
                Err(ServerError::new(
                    "the request thread stopped unexpectedly",
                    None,
                    None,
                    false,
                ))
            })
    })
}

/// Reads traces from a tracking server.
#[derive(Debug)]
pub(crate) struct ServerReader {
    pub(super) connection: Connection,
    /// The experiments to list; `None` for every active one.
    pub(super) experiment_ids: Option<Vec<String>>,
}

impl ServerReader {
    /// A reader of the server `settings` name, for the experiment they name (looked up,
    /// never created), or of every experiment when none is configured.
    pub(crate) fn open(settings: &Settings) -> Result<ServerReader, ReadError> {
        let connection = super::connection(settings)?;
        let experiment = &settings.experiment;
        let experiment_ids = if experiment.source == Source::Default {
            None
        } else {
            let value = &experiment.value;
            let found = with_client(&connection, |client| {
                let found = experiments::look_up(client, value)?;
                Ok(match found {
                    Found::Active(id) => Ok(id),
                    other => Err(experiments::unusable(value, &other, client).to_string()),
                })
            })?;
            Some(vec![found.map_err(ReadError::NoSuchExperiment)?])
        };
        Ok(ServerReader {
            connection,
            experiment_ids,
        })
    }

    /// The server, as shown.
    pub(crate) fn location(&self) -> String {
        self.connection.url().to_string()
    }

    /// The experiment read, when one was asked for.
    pub(crate) fn experiment_id(&self) -> Option<&str> {
        self.experiment_ids
            .as_ref()
            .and_then(|ids| ids.first())
            .map(String::as_str)
    }

    /// The `limit` most recent traces.
    pub(crate) fn list_traces(&self, limit: usize) -> Result<Vec<TraceSummary>, ServerError> {
        self.search_traces(None, &["timestamp_ms DESC".to_owned()], limit)
    }

    /// `SearchTracesV3` with MLflow's `filter` and `order_by`, page by page up to
    /// `limit` traces; the server parses the filter, exactly as MLflow's Python client's
    /// searches are parsed.
    pub(crate) fn search_traces(
        &self,
        filter: Option<&str>,
        order_by: &[String],
        limit: usize,
    ) -> Result<Vec<TraceSummary>, ServerError> {
        with_client(&self.connection, |client| {
            let ids = match &self.experiment_ids {
                Some(ids) => ids.clone(),
                None => all_experiments(client)?,
            };
            let locations: Vec<Value> = ids
                .iter()
                .map(|id| json!({"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": id}}))
                .collect();
            let mut summaries = Vec::new();
            let mut page_token: Option<String> = None;
            while summaries.len() < limit && !locations.is_empty() {
                let mut request = json!({
                    "locations": locations,
                    "max_results": (limit - summaries.len()).min(PAGE),
                    "order_by": order_by,
                });
                if let Some(filter) = filter.filter(|f| !f.trim().is_empty()) {
                    request["filter"] = filter.into();
                }
                if let Some(token) = &page_token {
                    request["page_token"] = token.clone().into();
                }
                let answer = client.post(path::SEARCH_TRACES, &request)?;
                let infos = answer["traces"].as_array().cloned().unwrap_or_default();
                summaries.extend(infos.iter().filter_map(protocol::trace_info).map(|info| {
                    let spans = protocol::announced_spans(&info);
                    TraceSummary::new(info, spans)
                }));
                page_token = answer["next_page_token"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned);
                if page_token.is_none() || infos.is_empty() {
                    break;
                }
            }
            summaries.truncate(limit);
            Ok(summaries)
        })
    }

    /// One trace with its spans; `None` when the server has no trace with this id.
    pub(crate) fn get_trace(&self, trace_id: &str) -> Result<Option<Trace>, ServerError> {
        with_client(&self.connection, |client| {
            let query = format!("{}?trace_id={}", path::GET_TRACE, query_value(trace_id));
            match client.get(&query) {
                Ok(answer) => {
                    let trace = &answer["trace"];
                    let Some(info) = protocol::trace_info(&trace["trace_info"]) else {
                        return Ok(None);
                    };
                    let spans = trace["spans"]
                        .as_array()
                        .map(|spans| {
                            spans
                                .iter()
                                .filter_map(|s| span_from_json(trace_id, s))
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok(Some(Trace::new(info, sorted(spans))))
                }
                Err(err) if err.status() == Some(404) => from_artifacts(client, trace_id),
                Err(err) => Err(err),
            }
        })
    }
}

/// Spans by start time, as MLflow lists them.
fn sorted(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(Span::start_time_ns);
    spans
}

/// A trace whose spans are not in the tracking store: its info (`GetTraceInfoV3`), and its
/// spans from `traces.json`; `None` when the server has no such trace.
fn from_artifacts(client: &Client, trace_id: &str) -> Result<Option<Trace>, ServerError> {
    let info = match client.get(&format!("{}/{}", path::TRACES, query_value(trace_id))) {
        Ok(answer) => protocol::trace_info(&answer["trace"]["trace_info"]),
        Err(err) if err.status() == Some(404) => return Ok(None),
        Err(err) => return Err(err),
    };
    let Some(info) = info else { return Ok(None) };
    let artifact = client.get(&format!(
        "/ajax-api/3.0/mlflow/get-trace-artifact?request_id={}",
        query_value(trace_id)
    ))?;
    let spans = artifact["spans"]
        .as_array()
        .map(|spans| {
            spans
                .iter()
                .filter_map(|s| Span::from_mlflow_json(trace_id, &s.to_string()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(Trace::new(info, sorted(spans))))
}

/// The ids of every active experiment.
fn all_experiments(client: &Client) -> Result<Vec<String>, ServerError> {
    let mut ids = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut request = json!({"max_results": 1000});
        if let Some(token) = &page_token {
            request["page_token"] = token.clone().into();
        }
        let answer = client.post(path::SEARCH_EXPERIMENTS, &request)?;
        ids.extend(
            answer["experiments"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["experiment_id"].as_str().map(str::to_owned)),
        );
        page_token = answer["next_page_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if page_token.is_none() {
            return Ok(ids);
        }
    }
}

/// `set_experiment` against a tracking server: the id of the experiment named `name`,
/// created when missing.
pub(crate) fn experiment_id_by_name(
    connection: &Connection,
    name: &str,
) -> Result<String, ServerError> {
    with_client(connection, |client| {
        experiments::get_or_create(client, name)
    })
}
