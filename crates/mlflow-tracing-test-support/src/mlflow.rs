//! [`MlflowStandIn`]: an in-process stand-in for the REST API of an MLflow tracking server,
//! for the cases a real server cannot be made to show on demand: a server that cannot store
//! spans (`/v1/traces` answers 501, or an old version), one that refuses credentials,
//! scripted failures and `Retry-After`, TLS. It records every request (method, path,
//! headers, body) and answers the calls MLflow's Python SDK makes to log a trace.
//!
//! HTTP/1.1 with keep-alive, a thread per connection, optionally TLS (the test
//! certificates).

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use rustls::{ServerConnection, StreamOwned};
use serde_json::{Value, json};

use crate::certs::Certs;
use crate::receiver::lock;
use crate::tls::{Tls, http_tls_config};

/// How the stand-in behaves.
#[derive(Debug, Clone)]
pub struct StandInOptions {
    /// The body of `GET /version`; `None` answers 404.
    pub version: Option<String>,
    /// Whether `POST /v1/traces` stores spans (MLflow ≥ 3.4 on a SQL store), or answers 501
    /// as a server on a file store does.
    pub stores_spans: bool,
    /// The `Authorization` header every request must carry, if any (else 401).
    pub authorization: Option<String>,
    /// TLS.
    pub tls: Tls,
}

impl Default for StandInOptions {
    fn default() -> Self {
        StandInOptions {
            version: Some("3.17.2".to_owned()),
            stores_spans: true,
            authorization: None,
            tls: Tls::None,
        }
    }
}

/// One request the stand-in received, and how it answered.
#[derive(Debug, Clone)]
pub struct StandInRequest {
    /// `GET`, `POST`, `PUT`, …
    pub method: String,
    /// The path with its query string.
    pub path: String,
    /// Headers in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The status answered.
    pub status: u16,
}

impl StandInRequest {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as an OTLP export request, for `POST /v1/traces`.
    pub fn otlp(&self) -> Option<ExportTraceServiceRequest> {
        if self.call() != "POST /v1/traces" {
            return None;
        }
        ExportTraceServiceRequest::decode(self.body.as_slice()).ok()
    }

    /// `METHOD path` without the query string, e.g. `POST /v1/traces`.
    pub fn call(&self) -> String {
        let path = self.path.split('?').next().unwrap_or_default();
        format!("{} {path}", self.method)
    }
}

/// A scripted answer: status, `Retry-After`, body (JSON when it parses, else text).
#[derive(Debug, Clone)]
pub struct Scripted {
    /// The status.
    pub status: u16,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The body.
    pub body: String,
}

#[derive(Debug, Default)]
struct State {
    requests: Vec<StandInRequest>,
    /// Experiments: name → (id, lifecycle stage).
    experiments: Vec<(String, String, String)>,
    /// Scripted answers for paths starting with the key.
    script: Vec<(String, VecDeque<Scripted>)>,
    /// Trace ids whose spans were stored.
    spans_for: Vec<String>,
    /// Artifacts uploaded: path → body.
    artifacts: HashMap<String, Vec<u8>>,
}

#[derive(Debug)]
struct Shared {
    options: StandInOptions,
    state: Mutex<State>,
    changed: Condvar,
}

/// An MLflow REST stand-in on `127.0.0.1:<free port>`; dropping it stops it.
#[derive(Debug)]
pub struct MlflowStandIn {
    port: u16,
    shared: Arc<Shared>,
    open: Arc<Mutex<(bool, Vec<TcpStream>)>>,
}

impl MlflowStandIn {
    /// Starts a stand-in with experiment `0` (`Default`).
    pub fn start(options: StandInOptions) -> MlflowStandIn {
        Self::start_with(options, None)
    }

    /// Starts a stand-in whose TLS uses `certs` (default [`certs()`](crate::certs())).
    pub fn start_with(options: StandInOptions, certs: Option<&Certs>) -> MlflowStandIn {
        let tls = http_tls_config(options.tls, certs);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the MLflow stand-in");
        let port = listener.local_addr().expect("stand-in address").port();
        let shared = Arc::new(Shared {
            options,
            state: Mutex::new(State {
                experiments: vec![("Default".into(), "0".into(), "active".into())],
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        let open = Arc::new(Mutex::new((false, Vec::new())));
        let (accept_shared, accept_open) = (shared.clone(), open.clone());
        thread::Builder::new()
            .name(format!("mlflow-stand-in-{port}"))
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    {
                        let mut open = lock(&accept_open);
                        if open.0 {
                            return;
                        }
                        if let Ok(clone) = stream.try_clone() {
                            open.1.push(clone);
                        }
                    }
                    let (shared, tls) = (accept_shared.clone(), tls.clone());
                    let _ = thread::Builder::new()
                        .name("mlflow-stand-in-conn".into())
                        .spawn(move || {
                            let _ = serve(stream, tls, &shared);
                        });
                }
            })
            .expect("spawn the MLflow stand-in");
        MlflowStandIn { port, shared, open }
    }

    /// The tracking URI: `http://127.0.0.1:<port>`, or `https://localhost:<port>` with TLS.
    pub fn url(&self) -> String {
        match self.shared.options.tls {
            Tls::None => format!("http://127.0.0.1:{}", self.port),
            _ => format!("https://localhost:{}", self.port),
        }
    }

    /// Adds an experiment.
    pub fn add_experiment(&self, name: &str, id: &str, deleted: bool) {
        let stage = if deleted { "deleted" } else { "active" };
        lock(&self.shared.state)
            .experiments
            .push((name.into(), id.into(), stage.into()));
    }

    /// Answers the next requests whose path starts with `path` with `replies`, in order.
    pub fn script(&self, path: &str, replies: Vec<Scripted>) {
        lock(&self.shared.state)
            .script
            .push((path.to_owned(), replies.into()));
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<StandInRequest> {
        lock(&self.shared.state).requests.clone()
    }

    /// The artifacts uploaded, by path under `/api/2.0/mlflow-artifacts/artifacts/`.
    pub fn artifacts(&self) -> HashMap<String, Vec<u8>> {
        lock(&self.shared.state).artifacts.clone()
    }

    /// Waits until `count` trace infos were logged (`StartTraceV3` answered 200), and
    /// returns the requests so far. Panics on timeout.
    pub fn wait_for_traces(&self, count: usize, timeout: Duration) -> Vec<StandInRequest> {
        let logged = |s: &State| {
            s.requests
                .iter()
                .filter(|r| r.call() == "POST /api/3.0/mlflow/traces" && r.status == 200)
                .count()
        };
        let state = lock(&self.shared.state);
        let (state, wait) = self
            .shared
            .changed
            .wait_timeout_while(state, timeout, |s| logged(s) < count)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        assert!(
            !wait.timed_out(),
            "MLflow stand-in: {} of {count} traces logged after {timeout:?}; requests: {:?}",
            logged(&state),
            state
                .requests
                .iter()
                .map(|r| format!("{} {}", r.call(), r.status))
                .collect::<Vec<_>>()
        );
        state.requests.clone()
    }
}

impl Drop for MlflowStandIn {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        open.0 = true;
        for stream in &open.1 {
            let _ = stream.shutdown(Shutdown::Both);
        }
        drop(open);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let _ = TcpStream::connect_timeout(&address, Duration::from_secs(1));
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn serve(
    stream: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    shared: &Shared,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let conn = match tls {
        None => Conn::Plain(stream),
        Some(config) => {
            let connection = ServerConnection::new(config).map_err(io::Error::other)?;
            Conn::Tls(Box::new(StreamOwned::new(connection, stream)))
        }
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            return Ok(());
        };
        let (method, path) = (method.to_owned(), path.to_owned());
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let mut request = StandInRequest {
            method,
            path,
            headers,
            body,
            status: 0,
        };
        let reply = answer(shared, &request);
        request.status = reply.status;
        {
            let mut state = lock(&shared.state);
            state.requests.push(request);
            shared.changed.notify_all();
        }
        let reason = match reply.status {
            200 => "OK",
            401 => "Unauthorized",
            404 => "Not Found",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            _ => "Status",
        };
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\n",
            reply.status,
            reply.content_type,
            reply.body.len()
        );
        if let Some(retry_after) = &reply.retry_after {
            head.push_str(&format!("retry-after: {retry_after}\r\n"));
        }
        head.push_str("\r\n");
        let conn = reader.get_mut();
        conn.write_all(head.as_bytes())?;
        conn.write_all(&reply.body)?;
        conn.flush()?;
    }
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    retry_after: Option<String>,
}

fn json_reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        body: body.to_string().into_bytes(),
        retry_after: None,
    }
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    json_reply(status, json!({"error_code": code, "message": message}))
}

/// The value of query parameter `name` in `path`, decoded.
fn query(path: &str, name: &str) -> Option<String> {
    let query = path.split_once('?')?.1;
    url_decode_pairs(query)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn url_decode_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && let Some(hex) = s.get(i + 1..i + 3)
                && let Ok(b) = u8::from_str_radix(hex, 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn experiment_json(name: &str, id: &str, stage: &str) -> Value {
    json!({"experiment": {"experiment_id": id, "name": name, "lifecycle_stage": stage,
        "artifact_location": format!("mlflow-artifacts:/{id}")}})
}

/// What the stand-in answers to `request`.
fn answer(shared: &Shared, request: &StandInRequest) -> Reply {
    let mut state = lock(&shared.state);
    if let Some((_, replies)) = state
        .script
        .iter_mut()
        .find(|(prefix, replies)| request.path.starts_with(prefix.as_str()) && !replies.is_empty())
        && let Some(scripted) = replies.pop_front()
    {
        let is_json = serde_json::from_str::<Value>(&scripted.body).is_ok();
        return Reply {
            status: scripted.status,
            content_type: if is_json {
                "application/json"
            } else {
                "text/plain"
            },
            body: scripted.body.into_bytes(),
            retry_after: scripted.retry_after,
        };
    }
    if let Some(expected) = &shared.options.authorization
        && request.header("authorization") != Some(expected.as_str())
    {
        return Reply {
            status: 401,
            content_type: "text/plain",
            body: b"You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.".to_vec(),
            retry_after: None,
        };
    }
    let path = request.path.split('?').next().unwrap_or_default();
    match (request.method.as_str(), path) {
        ("GET", "/version") => match &shared.options.version {
            Some(version) => Reply {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: version.clone().into_bytes(),
                retry_after: None,
            },
            None => error(404, "ENDPOINT_NOT_FOUND", "no /version"),
        },
        ("GET", "/api/2.0/mlflow/experiments/get-by-name") => {
            let name = query(&request.path, "experiment_name").unwrap_or_default();
            match state.experiments.iter().find(|(n, _, _)| *n == name) {
                Some((n, id, stage)) => json_reply(200, experiment_json(n, id, stage)),
                None => error(
                    404,
                    "RESOURCE_DOES_NOT_EXIST",
                    &format!("Could not find experiment with name '{name}'"),
                ),
            }
        }
        ("GET", "/api/2.0/mlflow/experiments/get") => {
            let id = query(&request.path, "experiment_id").unwrap_or_default();
            match state.experiments.iter().find(|(_, i, _)| *i == id) {
                Some((n, id, stage)) => json_reply(200, experiment_json(n, id, stage)),
                None => error(
                    404,
                    "RESOURCE_DOES_NOT_EXIST",
                    &format!("No Experiment with id={id} exists"),
                ),
            }
        }
        ("POST", "/api/2.0/mlflow/experiments/create") => {
            let name = request
                .json()
                .and_then(|b| b["name"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if state.experiments.iter().any(|(n, _, _)| *n == name) {
                return error(
                    400,
                    "RESOURCE_ALREADY_EXISTS",
                    &format!("Experiment '{name}' already exists."),
                );
            }
            let id = (state.experiments.len() as u64).to_string();
            state
                .experiments
                .push((name, id.clone(), "active".to_owned()));
            json_reply(200, json!({"experiment_id": id}))
        }
        ("POST", "/v1/traces") => {
            if !shared.options.stores_spans {
                return json_reply(
                    501,
                    json!({"detail": "REST OTLP span logging is not supported by FileStore"}),
                );
            }
            if request.header("x-mlflow-experiment-id").is_none() {
                return json_reply(422, json!({"detail": [{"type": "missing"}]}));
            }
            let Some(otlp) = request.otlp() else {
                return json_reply(
                    400,
                    json!({"detail": "Invalid OpenTelemetry protobuf format"}),
                );
            };
            for span in otlp
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
            {
                let hex: String = span.trace_id.iter().map(|b| format!("{b:02x}")).collect();
                let id = format!("tr-{hex}");
                if !state.spans_for.contains(&id) {
                    state.spans_for.push(id);
                }
            }
            Reply {
                status: 200,
                content_type: "application/x-protobuf",
                body: ExportTraceServiceResponse::default().encode_to_vec(),
                retry_after: None,
            }
        }
        ("POST", "/api/3.0/mlflow/traces") => {
            let Some(mut body) = request.json() else {
                return error(400, "INVALID_PARAMETER_VALUE", "not JSON");
            };
            let info = &mut body["trace"]["trace_info"];
            let trace_id = info["trace_id"].as_str().unwrap_or_default().to_owned();
            let experiment = info["trace_location"]["mlflow_experiment"]["experiment_id"]
                .as_str()
                .unwrap_or("0")
                .to_owned();
            let mut tags = info["tags"].as_object().cloned().unwrap_or_default();
            tags.insert(
                "mlflow.artifactLocation".into(),
                format!("mlflow-artifacts:/{experiment}/traces/{trace_id}/artifacts").into(),
            );
            if state.spans_for.contains(&trace_id) {
                tags.insert("mlflow.trace.spansLocation".into(), "TRACKING_STORE".into());
            }
            info["tags"] = tags.into();
            info["trace_metadata"]["mlflow.trace.infoFinalized"] = "true".into();
            json_reply(200, body)
        }
        ("PUT", p) if p.starts_with("/api/2.0/mlflow-artifacts/artifacts/") => {
            let key = p.trim_start_matches("/api/2.0/mlflow-artifacts/artifacts/");
            state.artifacts.insert(key.to_owned(), request.body.clone());
            json_reply(200, json!({}))
        }
        _ => error(
            404,
            "ENDPOINT_NOT_FOUND",
            &format!("no {} {path}", request.method),
        ),
    }
}
