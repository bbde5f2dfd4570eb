//! The tracking server as a trace sink: each finished trace is logged the way MLflow's
//! Python SDK logs it, on the sink's worker thread.
//!
//! Once per pipeline (at the first export, and again only while it fails): the
//! experiment's id (by name, created when missing) and `GET /version`, which decides how
//! spans travel. Then per batch of traces: their spans as typed OTLP to `/v1/traces` with
//! `x-mlflow-experiment-id`, then each trace's info to `/api/3.0/mlflow/traces`
//! (`StartTraceV3`), in that order, so a trace is complete when it becomes readable. A
//! server that cannot store spans (older than 3.4, or answering 501) gets each trace's
//! info and then its `traces.json` in the artifact store instead.

use indexmap::IndexMap;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use reqwest::Method;

use super::client::{Body, Client, Connection};
use super::protocol::{self, path};
use super::{doctor, encode, experiments};
use crate::config::{Destination, Experiment, TrackingUri};
use crate::destination::{Check, ExportError, Sink, TraceItem};
use crate::error::ServerError;
use crate::keys::{metadata, tag};
use crate::model::Trace;
use crate::model::size_stats::size_stats;
use crate::{json, report};

/// The most span bytes (protobuf) one `/v1/traces` request carries; a single larger trace
/// goes alone.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// After the server refuses the credential (401, 403), how long batches fail at once
/// without asking it again: a refused credential does not mend itself between batches, and
/// a program recording many traces must not send the server a request per batch.
const REFUSAL_HOLD: std::time::Duration = std::time::Duration::from_secs(30);

/// How spans reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SpanPath {
    /// OTLP to `/v1/traces` (MLflow ≥ 3.4).
    Otlp,
    /// `traces.json` in the artifact store, after `StartTraceV3`.
    Artifacts,
}

impl SpanPath {
    /// The path a server of version `version` (the body of `GET /version`) takes.
    pub(super) fn for_version(version: &str) -> SpanPath {
        let mut parts = version.trim().split('.').map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse::<u32>()
                .ok()
        });
        match (parts.next().flatten(), parts.next().flatten()) {
            (Some(major), Some(minor)) if (major, minor) >= (3, 4) => SpanPath::Otlp,
            _ => SpanPath::Artifacts,
        }
    }
}

/// The server's version (`GET /version`): `Ok(None)` when it answers without one.
pub(super) fn version(client: &Client) -> Result<Option<String>, ServerError> {
    match client.send(Method::GET, path::VERSION, &[], Body::None, true) {
        Ok(body) => {
            let text = String::from_utf8_lossy(&body).trim().to_owned();
            Ok((!text.is_empty() && text.len() < 64).then_some(text))
        }
        Err(err) if err.status().is_some_and(|s| s == 404 || s == 405) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The tracking-server destination.
pub(super) struct ServerSink {
    connection: Connection,
    uri: TrackingUri,
    experiment: Experiment,
    resource: Resource,
    /// Made on the worker thread at the first export.
    client: Option<Client>,
    /// The resolved id of `experiment`.
    experiment_id: Option<String>,
    span_path: Option<SpanPath>,
    /// The last refusal of the credential, and when: batches fail with it at once until
    /// `REFUSAL_HOLD` has passed.
    refused: Option<(std::time::Instant, ServerError)>,
}

/// Failed traces of a batch: how many, and the first reason.
#[derive(Default)]
struct Failures {
    count: usize,
    first: Option<String>,
}

impl Failures {
    fn add(&mut self, count: usize, err: &ServerError) {
        self.count += count;
        self.first.get_or_insert_with(|| err.to_string());
    }
}

/// Whether no other request of the batch should be tried after `err`: the credential was
/// refused, or the server stayed unreachable through every retry.
fn stops_the_batch(err: &ServerError) -> bool {
    matches!(err.status(), Some(401 | 403)) || err.is_transient()
}

impl ServerSink {
    pub(super) fn new(
        connection: Connection,
        uri: TrackingUri,
        experiment: Experiment,
        resource: Resource,
    ) -> Self {
        ServerSink {
            connection,
            uri,
            experiment,
            resource,
            client: None,
            experiment_id: None,
            span_path: None,
            refused: None,
        }
    }

    /// Remembers `err` when it is a refusal of the credential.
    fn note_refusal(&mut self, err: &ServerError) {
        if matches!(err.status(), Some(401 | 403)) {
            self.refused = Some((std::time::Instant::now(), err.clone()));
        }
    }

    /// The client, the experiment id and the span path, each found once.
    fn ready(&mut self) -> Result<(String, SpanPath), ServerError> {
        if self.client.is_none() {
            self.client = Some(self.connection.client()?);
        }
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| ServerError::new("no HTTP client", None, None, false))?;
        let experiment_id = match &self.experiment_id {
            Some(id) => id.clone(),
            None => {
                let id = experiments::resolve(client, &self.experiment)?;
                self.experiment_id.insert(id).clone()
            }
        };
        let span_path = match self.span_path {
            Some(span_path) => span_path,
            None => {
                let span_path = match version(client)? {
                    Some(version) => SpanPath::for_version(&version),
                    None => SpanPath::Artifacts,
                };
                if span_path == SpanPath::Artifacts {
                    report::warn(&format!("server-artifacts:{}", client.shown()), || {
                        format!(
                            "the MLflow server {} cannot store spans (it is older than 3.4, or \
                             did not say its version): spans go to its artifact store as \
                             traces.json",
                            client.shown()
                        )
                    });
                }
                *self.span_path.insert(span_path)
            }
        };
        Ok((experiment_id, span_path))
    }

    /// Sends the spans of `traces` (one experiment) in requests of at most
    /// `MAX_REQUEST_BYTES`; returns, for each trace, whether its spans were stored.
    fn send_spans(
        &self,
        client: &Client,
        experiment_id: &str,
        traces: &[&Trace],
    ) -> Vec<Result<(), ServerError>> {
        let mut results = Vec::with_capacity(traces.len());
        let mut chunk = Vec::new();
        let mut chunk_traces = 0;
        let mut chunk_bytes = 0;
        let send = |spans: Vec<_>, count: usize, results: &mut Vec<Result<(), ServerError>>| {
            // After a refusal, or a server unreachable through every retry, the rest of the
            // batch fails at once.
            let stopped = results
                .iter()
                .rev()
                .find_map(|r: &Result<(), ServerError>| {
                    r.as_ref().err().filter(|e| stops_the_batch(e)).cloned()
                });
            let result = match stopped {
                Some(err) => Err(err),
                None => {
                    let request = encode::request(&self.resource, spans);
                    let headers = [("x-mlflow-experiment-id", experiment_id.to_owned())];
                    let body = Body::Bytes(request.encode_to_vec(), "application/x-protobuf");
                    client
                        .send(Method::POST, path::OTLP_TRACES, &headers, body, true)
                        .map(|_| ())
                }
            };
            results.extend(std::iter::repeat_n(result, count));
        };
        for trace in traces {
            let spans = encode::spans(trace.spans());
            let bytes: usize = spans.iter().map(|s| s.encoded_len()).sum();
            if chunk_traces > 0 && chunk_bytes + bytes > MAX_REQUEST_BYTES {
                send(std::mem::take(&mut chunk), chunk_traces, &mut results);
                chunk_traces = 0;
                chunk_bytes = 0;
            }
            chunk.extend(spans);
            chunk_traces += 1;
            chunk_bytes += bytes;
        }
        if chunk_traces > 0 {
            send(chunk, chunk_traces, &mut results);
        }
        results
    }

    /// `StartTraceV3` for `trace`, then its `traces.json` when the server did not store its
    /// spans.
    fn log_trace(
        &self,
        client: &Client,
        experiment_id: &str,
        trace: &Trace,
    ) -> Result<(), ServerError> {
        // Size statistics as the Python exporter computes them: over the trace as it is
        // logged, with its experiment.
        let mut info = trace.info().clone();
        info.experiment_id = Some(experiment_id.to_owned());
        let (stats, total) = size_stats(&info, trace.spans());
        let body = protocol::start_trace(
            &info,
            experiment_id,
            &[
                (metadata::SIZE_STATS, json::dumps(&stats)),
                (metadata::SIZE_BYTES, total.to_string()),
            ],
        );
        let answer = client.post(path::TRACES, &body)?;
        let tags = &answer["trace"]["trace_info"]["tags"];
        if tags[tag::SPANS_LOCATION] == "TRACKING_STORE" {
            return Ok(());
        }
        let location = tags[tag::ARTIFACT_LOCATION].as_str().unwrap_or_default();
        upload_spans(client, trace, location)
    }
}

/// Writes `traces.json` (`{"spans": [Span.to_dict(), …]}`) at the trace's artifact
/// location, as the Python SDK does: through the server for `mlflow-artifacts:` locations,
/// straight to the file system for local paths.
fn upload_spans(client: &Client, trace: &Trace, location: &str) -> Result<(), ServerError> {
    let spans: Vec<String> = trace.spans().iter().map(|s| s.to_mlflow_json()).collect();
    let body = format!("{{\"spans\": [{}]}}", spans.join(", ")).into_bytes();
    if let Some(rest) = location.strip_prefix("mlflow-artifacts:") {
        let relative = match rest.strip_prefix("//") {
            // mlflow-artifacts://host:port/path: the path, on this server.
            Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
            None => rest.trim_start_matches('/'),
        };
        let target = format!(
            "{}/{}/traces.json",
            path::ARTIFACTS,
            relative.trim_end_matches('/')
        );
        let body = Body::Bytes(body, "application/json");
        return client
            .send(Method::PUT, &target, &[], body, true)
            .map(|_| ());
    }
    let local = location.strip_prefix("file://").unwrap_or(location);
    if local.starts_with('/') {
        let dir = std::path::Path::new(local);
        return std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(dir.join("traces.json"), &body))
            .map_err(|e| {
                ServerError::new(
                    format!(
                        "cannot write the spans of trace {} to the artifact location {local}: {e}",
                        trace.info().trace_id()
                    ),
                    None,
                    None,
                    false,
                )
            });
    }
    Err(ServerError::new(
        format!(
            "{} did not store the spans and keeps trace artifacts at {}, which this SDK cannot \
             write to: run the server with --serve-artifacts (the default) or a SQL backend \
             store (MLflow ≥ 3.4)",
            client.shown(),
            crate::config::redact::redact_url(location)
        ),
        None,
        None,
        false,
    ))
}

impl Sink<TraceItem> for ServerSink {
    fn destination(&self) -> Destination {
        Destination::Server {
            uri: self.uri.clone(),
            experiment: self.experiment.clone(),
        }
    }

    fn check(&mut self) -> Check {
        doctor::check(&self.connection, &self.experiment)
    }

    fn export(&mut self, batch: &[TraceItem]) -> Result<(), ExportError> {
        if let Some((at, err)) = &self.refused {
            if at.elapsed() < REFUSAL_HOLD {
                return Err(ExportError::new(err.to_string()));
            }
            self.refused = None;
        }
        let (default_id, mut span_path) = match self.ready() {
            Ok(ready) => ready,
            Err(err) => {
                self.note_refusal(&err);
                return Err(ExportError::new(err.to_string()));
            }
        };
        let Some(client) = &self.client else {
            return Err(ExportError::new("no HTTP client"));
        };
        let mut groups: IndexMap<String, Vec<&Trace>> = IndexMap::new();
        for trace in batch {
            let id = trace.info().experiment_id().unwrap_or(&default_id);
            groups.entry(id.to_owned()).or_default().push(&***trace);
        }
        let mut failures = Failures::default();
        let mut stopped: Option<ServerError> = None;
        for (experiment_id, traces) in &groups {
            if let Some(err) = &stopped {
                failures.add(traces.len(), err);
                continue;
            }
            let mut spans_stored = vec![Ok(()); traces.len()];
            if span_path == SpanPath::Otlp {
                spans_stored = self.send_spans(client, experiment_id, traces);
                let unsupported = spans_stored.iter().any(|r| {
                    r.as_ref().is_err_and(|e| {
                        matches!(e.status(), Some(404 | 501))
                            || e.to_string()
                                .contains("REST OTLP span logging is not supported")
                    })
                });
                if unsupported {
                    report::warn(&format!("server-501:{}", client.shown()), || {
                        format!(
                            "the MLflow server {} cannot store spans at /v1/traces (its backend \
                             store does not support it): spans go to its artifact store as \
                             traces.json from now on",
                            client.shown()
                        )
                    });
                    span_path = SpanPath::Artifacts;
                    spans_stored = vec![Ok(()); traces.len()];
                }
            }
            for (trace, spans) in traces.iter().zip(spans_stored) {
                if let Some(err) = &stopped {
                    failures.add(1, err);
                    continue;
                }
                // Without its spans, the trace's info is not logged: the server would
                // report the trace as not fully exported. This process's part of a
                // distributed trace is its spans only: the trace's info is the caller's
                // (as the Python SDK logs it); a server that cannot store spans loses it.
                let result = spans.and_then(|()| match trace.remote_parent_id() {
                    None => self.log_trace(client, experiment_id, trace),
                    Some(_) if span_path == SpanPath::Otlp => Ok(()),
                    Some(_) => Err(ServerError::new(
                        format!(
                            "the MLflow server {} cannot store spans (its backend store does \
                             not support it), so the part of distributed trace {} recorded \
                             here was not exported: use a SQL backend store",
                            client.shown(),
                            trace.info().trace_id()
                        ),
                        None,
                        None,
                        false,
                    )),
                });
                if let Err(err) = result {
                    failures.add(1, &err);
                    if stops_the_batch(&err) {
                        stopped = Some(err);
                    }
                }
            }
        }
        self.span_path = Some(span_path);
        if let Some(err) = &stopped {
            self.note_refusal(err);
        }
        match failures.first {
            None => Ok(()),
            Some(first) => Err(ExportError::partial(failures.count, first)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_decide_the_span_path() {
        for (version, expected) in [
            ("3.17.2", SpanPath::Otlp),
            ("3.4.0", SpanPath::Otlp),
            ("4.0.0rc1", SpanPath::Otlp),
            ("3.5.0.dev0\n", SpanPath::Otlp),
            ("3.3.2", SpanPath::Artifacts),
            ("2.22.1", SpanPath::Artifacts),
            ("<html>", SpanPath::Artifacts),
        ] {
            assert_eq!(SpanPath::for_version(version), expected, "{version}");
        }
    }
}
