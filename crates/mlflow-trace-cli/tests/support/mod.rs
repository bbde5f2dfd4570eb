//! Real backends for the integration tests, started on free loopback ports.
//!
//! What they need is provisioned by `scripts/test.sh` (a venv with MLflow, Phoenix, rotel,
//! VictoriaMetrics), which passes their locations in `MLFLOW_TRACING_TEST_*` variables. When it is missing, a test fails under
//! `CI=true` and is skipped (loudly) otherwise.

#![allow(dead_code)]

pub(crate) mod servers;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Whether we run in CI, where a missing backend is a failure.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips (outside CI) or fails (in CI) for a missing backend.
pub(crate) fn missing<T>(what: &str) -> Option<T> {
    if in_ci() {
        panic!("{what} is missing: run the tests with scripts/test.sh, which provisions it");
    }
    eprintln!("SKIPPED: {what} is not available (run scripts/test.sh to provision it)");
    None
}

/// The Python of the venv that has MLflow installed.
pub(crate) fn mlflow_python() -> Option<PathBuf> {
    match std::env::var_os("MLFLOW_TRACING_TEST_PYTHON").map(PathBuf::from) {
        Some(python) if python.exists() => Some(python),
        _ => missing("MLflow's Python venv (MLFLOW_TRACING_TEST_PYTHON)"),
    }
}

/// A command with no MLflow or OpenTelemetry configuration inherited from the caller.
pub(crate) fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("MLFLOW_") || key.starts_with("OTEL_") {
            command.env_remove(&*key);
        }
    }
    command
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true");
    command
}

/// Runs a command and returns its output, failing the test with its stderr when it fails.
pub(crate) fn run_ok(command: &mut Command) -> Output {
    let output = command.output().expect("command starts");
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `mlflow-trace demo` in `dir` and returns the two trace ids it printed.
pub(crate) fn run_demo(dir: &Path, extra_env: &[(&str, &str)]) -> (Vec<String>, String) {
    let mut command = clean_command(env!("CARGO_BIN_EXE_mlflow-trace"));
    command.arg("demo").current_dir(dir);
    for (k, v) in extra_env {
        command.env(k, v);
    }
    let output = run_ok(&mut command);
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let ids: Vec<String> = stdout
        .lines()
        .take_while(|l| !l.starts_with("Sent to"))
        .filter_map(|l| l.trim().strip_prefix("tr-").map(|id| format!("tr-{id}")))
        .collect();
    assert_eq!(ids.len(), 2, "demo output:\n{stdout}");
    (ids, stdout)
}

/// A free TCP port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A process group killed when dropped.
pub(crate) struct Background {
    child: Child,
    pub(crate) log: PathBuf,
}

impl Background {
    pub(crate) fn spawn(mut command: Command, log: PathBuf) -> Background {
        use std::os::unix::process::CommandExt;
        let file = std::fs::File::create(&log).expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
        Background { child, log }
    }

    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && self.is_running() {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// Polls `ready` until it holds, failing with the process's log if the process exits or
/// `timeout` passes first.
fn wait_until(
    process: &mut Background,
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut ready: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(
            process.is_running(),
            "the backend exited before {what}:\n{}",
            process.log_text()
        );
        assert!(
            Instant::now() < deadline,
            "not {what} after {timeout:?}:\n{}",
            process.log_text()
        );
        std::thread::sleep(interval);
    }
}

/// Polls `url` until it answers 2xx.
pub(crate) fn wait_http(process: &mut Background, url: &str, timeout: Duration) {
    let client = reqwest::blocking::Client::new();
    let what = format!("{url} answered");
    wait_until(process, &what, timeout, Duration::from_millis(250), || {
        client
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .is_ok_and(|r| r.status().is_success())
    });
}

/// An MLflow tracking server over a SQLite database, on a free loopback port.
pub(crate) struct MlflowServer {
    process: Background,
    pub(crate) url: String,
}

impl MlflowServer {
    pub(crate) fn start(python: &Path, db: &Path, workdir: &Path) -> MlflowServer {
        let port = free_port();
        let mut command = clean_command(python.with_file_name("mlflow"));
        command
            .args([
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--workers",
                "1",
            ])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", db.display()))
            .arg("--artifacts-destination")
            .arg(workdir.join("artifacts"))
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            // Model prices from the catalog MLflow ships, never from the network.
            .env("MLFLOW_MODEL_CATALOG_URI", "")
            .current_dir(workdir);
        let mut process = Background::spawn(command, workdir.join("mlflow-server.log"));
        let url = format!("http://127.0.0.1:{port}");
        wait_http(
            &mut process,
            &format!("{url}/health"),
            Duration::from_secs(120),
        );
        MlflowServer { process, url }
    }

    pub(crate) fn get(&self, path: &str) -> Value {
        let response = reqwest::blocking::get(format!("{}{path}", self.url)).expect("GET");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().expect("JSON")
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> Value {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .expect("POST");
        assert!(
            response.status().is_success(),
            "POST {path}: {}",
            response.status()
        );
        response.json().expect("JSON")
    }
}

/// An OTLP/JSON `AnyValue` as plain JSON.
pub(crate) fn any_value(v: &Value) -> Value {
    let Some((kind, inner)) = v.as_object().and_then(|o| o.iter().next()) else {
        return Value::Null;
    };
    match kind.as_str() {
        "string_value" | "stringValue" | "bool_value" | "boolValue" | "double_value"
        | "doubleValue" => inner.clone(),
        "int_value" | "intValue" => match inner {
            Value::String(s) => s.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
            other => other.clone(),
        },
        "array_value" | "arrayValue" => Value::Array(
            inner["values"]
                .as_array()
                .map(|a| a.iter().map(any_value).collect())
                .unwrap_or_default(),
        ),
        "kvlist_value" | "kvlistValue" => Value::Object(key_values(&inner["values"])),
        _ => Value::Null,
    }
}

/// The attributes of an OTLP/JSON span (or event) as a JSON object.
pub(crate) fn attributes(span: &Value) -> serde_json::Map<String, Value> {
    key_values(&span["attributes"])
}

/// An OTLP/JSON list of `KeyValue`s as a JSON object.
fn key_values(list: &Value) -> serde_json::Map<String, Value> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|kv| {
                    (
                        kv["key"].as_str().unwrap_or("").to_owned(),
                        any_value(&kv["value"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A backend program named by an environment variable that `scripts/test.sh` sets.
pub(crate) fn backend_program(variable: &str, what: &str) -> Option<PathBuf> {
    match std::env::var_os(variable).map(PathBuf::from) {
        Some(path) if path.exists() => Some(path),
        _ => missing(&format!("{what} ({variable})")),
    }
}

/// Polls until something listens on 127.0.0.1:`port`.
pub(crate) fn wait_port(process: &mut Background, port: u16, timeout: Duration) {
    let what = format!("port {port} opened");
    wait_until(process, &what, timeout, Duration::from_millis(100), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// Arize Phoenix: an OTLP trace backend (gRPC and HTTP/protobuf) with a REST API.
pub(crate) struct Phoenix {
    process: Background,
    pub(crate) url: String,
    pub(crate) grpc_port: u16,
}

impl Phoenix {
    pub(crate) fn start(program: &Path, workdir: &Path) -> Phoenix {
        let (port, grpc_port) = (free_port(), free_port());
        let mut command = clean_command(program);
        command
            .arg("serve")
            .env("PHOENIX_WORKING_DIR", workdir.join("phoenix"))
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", port.to_string())
            .env("PHOENIX_GRPC_PORT", grpc_port.to_string())
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .env("PHOENIX_ALLOW_EXTERNAL_RESOURCES", "false")
            .env("PHOENIX_DISABLE_AGENT_ASSISTANT", "true")
            .current_dir(workdir);
        let mut process = Background::spawn(command, workdir.join("phoenix.log"));
        let url = format!("http://127.0.0.1:{port}");
        wait_http(
            &mut process,
            &format!("{url}/healthz"),
            Duration::from_secs(180),
        );
        wait_port(&mut process, grpc_port, Duration::from_secs(60));
        Phoenix {
            process,
            url,
            grpc_port,
        }
    }

    /// The spans Phoenix stored in `project`, waiting until there are at least `count`.
    pub(crate) fn spans(&mut self, project: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let response = reqwest::blocking::get(format!(
                "{}/v1/projects/{project}/spans?limit=100",
                self.url
            ));
            let spans = response
                .ok()
                .filter(|r| r.status().is_success())
                .and_then(|r| r.json::<Value>().ok())
                .and_then(|v| v["data"].as_array().cloned())
                .unwrap_or_default();
            if spans.len() >= count {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "Phoenix has {} of {count} spans in project {project}:\n{}",
                spans.len(),
                self.process.log_text()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// The rotel collector: OTLP in over gRPC and HTTP, OTLP/HTTP out to `traces_url`.
pub(crate) struct Rotel {
    _process: Background,
    pub(crate) grpc_port: u16,
}

impl Rotel {
    pub(crate) fn start(program: &Path, traces_url: &str, headers: &str, workdir: &Path) -> Rotel {
        Rotel::start_relay(program, traces_url, headers, None, workdir)
    }

    /// Relays metrics to `metrics_url` (over OTLP/HTTP); traces go nowhere.
    pub(crate) fn start_metrics(program: &Path, metrics_url: &str, workdir: &Path) -> Rotel {
        let nowhere = "http://127.0.0.1:9/v1/traces";
        Rotel::start_relay(program, nowhere, "x=y", Some(metrics_url), workdir)
    }

    fn start_relay(
        program: &Path,
        traces_url: &str,
        headers: &str,
        metrics_url: Option<&str>,
        workdir: &Path,
    ) -> Rotel {
        let (grpc_port, http_port) = (free_port(), free_port());
        let mut command = clean_command(program);
        command
            .arg("start")
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc_port}")])
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http_port}")])
            .arg("--otlp-receiver-logs-disabled")
            .args(["--exporter", "otlp", "--otlp-exporter-protocol", "http"])
            // rotel wants an endpoint for every signal; only traces are used here.
            .args(["--otlp-exporter-endpoint", "http://127.0.0.1:9"])
            .args(["--otlp-exporter-traces-endpoint", traces_url])
            .args(["--otlp-exporter-traces-custom-headers", headers])
            .args(["--batch-timeout", "200ms"]);
        if let Some(url) = metrics_url {
            command.args(["--otlp-exporter-metrics-endpoint", url]);
        }
        let mut process = Background::spawn(command, workdir.join("rotel.log"));
        wait_port(&mut process, grpc_port, Duration::from_secs(30));
        wait_port(&mut process, http_port, Duration::from_secs(30));
        Rotel {
            _process: process,
            grpc_port,
        }
    }
}

/// VictoriaMetrics: a Prometheus-compatible store with an OTLP/HTTP metrics receiver,
/// queried back with PromQL. Names are Prometheus-normalised, as Prometheus's own OTLP
/// receiver does (`mlflow.trace.span.duration`, unit `ms` →
/// `mlflow_trace_span_duration_milliseconds_{bucket,count,sum}`; `service.name` →
/// `service_name`).
pub(crate) struct VictoriaMetrics {
    process: Background,
    pub(crate) url: String,
}

impl VictoriaMetrics {
    pub(crate) fn start(program: &Path, workdir: &Path) -> VictoriaMetrics {
        let port = free_port();
        let mut command = clean_command(program);
        command
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!(
                "-storageDataPath={}",
                workdir.join("victoria-metrics").display()
            ))
            .arg("-retentionPeriod=1d")
            // Samples are visible to instant queries at once (by default not for 30 s).
            .arg("-search.latencyOffset=0s")
            .arg("-opentelemetry.usePrometheusNaming");
        let mut process = Background::spawn(command, workdir.join("victoria-metrics.log"));
        let url = format!("http://127.0.0.1:{port}");
        wait_http(
            &mut process,
            &format!("{url}/health"),
            Duration::from_secs(30),
        );
        VictoriaMetrics { process, url }
    }

    /// Where OTLP/HTTP metrics go.
    pub(crate) fn otlp_endpoint(&self) -> String {
        format!("{}/opentelemetry/v1/metrics", self.url)
    }

    /// The result of the instant PromQL `query`: each series' labels and value.
    pub(crate) fn query(&self, query: &str) -> Vec<(serde_json::Map<String, Value>, f64)> {
        let client = reqwest::blocking::Client::new();
        // Ingested samples become searchable after a flush (else after about 10 s).
        let _ = client
            .get(format!("{}/internal/force_flush", self.url))
            .send();
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let response: Value = client
            .get(format!("{}/api/v1/query?query={encoded}", self.url))
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("query {query}: {e}\n{}", self.process.log_text()));
        response["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|series| {
                let labels = series["metric"].as_object().cloned().unwrap_or_default();
                let value = series["value"][1].as_str().and_then(|v| v.parse().ok());
                (labels, value.unwrap_or(f64::NAN))
            })
            .collect()
    }

    /// Polls `query` until `done` accepts its result (at most 30 s); returns the result.
    pub(crate) fn query_until(
        &self,
        query: &str,
        done: impl Fn(&[(serde_json::Map<String, Value>, f64)]) -> bool,
    ) -> Vec<(serde_json::Map<String, Value>, f64)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let result = self.query(query);
            if done(&result) || Instant::now() > deadline {
                return result;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// Every row of `sql` in the SQLite database `db`, its one parameter `?1` bound to
/// `param`, as JSON objects keyed by column name (blobs as `"<blob>"`).
pub(crate) fn rows(
    db: &Path,
    sql: &str,
    param: &str,
) -> Vec<std::collections::BTreeMap<String, Value>> {
    use rusqlite::types::ValueRef;
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    stmt.query_map([param], |r| {
        let mut row = std::collections::BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            let value = match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::from(n),
                ValueRef::Real(f) => Value::from(f),
                ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => Value::from("<blob>"),
            };
            row.insert(name.clone(), value);
        }
        Ok(row)
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}
