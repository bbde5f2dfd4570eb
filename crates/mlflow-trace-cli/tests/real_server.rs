//! Export to a real MLflow 3.17.2 tracking server over REST: the demo read back at once
//! (REST and MLflow's Python client) and compared with the same traces logged by the
//! Python SDK, `set_experiment`, basic authentication, a server restarted mid-run, dual
//! export with Arize Phoenix, a PostgreSQL backend store, and the export throughput next to
//! the Python SDK's. One SQLite-backed server is shared by the tests that need nothing
//! special of it.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use mlflow_tracing::{Tracing, start_span};
use serde_json::{Value, json};
use support::servers::{
    Postgres, RunningServer, ServerSpec, postgres_bin, server_python, shared_server,
};
use support::{
    Phoenix, any_value, attributes, backend_program, clean_command, mlflow_python, run_demo, run_ok,
};

/// The demo against `url`, in `experiment`, with `extra` variables.
fn demo(dir: &Path, url: &str, experiment: &str, extra: &[(&str, &str)]) -> (Vec<String>, String) {
    let mut env = vec![
        ("MLFLOW_TRACKING_URI", url),
        ("MLFLOW_EXPERIMENT_NAME", experiment),
    ];
    env.extend_from_slice(extra);
    run_demo(dir, &env)
}

/// `mlflow-trace ARGS` with `env`, whatever its exit status.
fn cli(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = clean_command(env!("CARGO_BIN_EXE_mlflow-trace"));
    command
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied());
    command.output().unwrap()
}

/// The Python SDK's demo (`tests/py/reference_demo.py`) logged to `url` in `experiment`;
/// its two trace ids.
fn python_demo(python: &Path, dir: &Path, url: &str, experiment: &str) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/reference_demo.py");
    let output = run_ok(
        clean_command(python)
            .arg(script)
            .current_dir(dir)
            .env("MLFLOW_TRACKING_URI", url)
            .env("MLFLOW_EXPERIMENT_NAME", experiment),
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The id of the experiment named `name`.
fn experiment_id(server: &dyn Fn(&str) -> Value, name: &str) -> String {
    let found = server(&format!(
        "/api/2.0/mlflow/experiments/get-by-name?experiment_name={name}"
    ));
    found["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A GET on the server at `url` (no credentials).
fn get(url: &str) -> impl Fn(&str) -> Value + '_ {
    move |path| {
        let response = reqwest::blocking::get(format!("{url}{path}")).unwrap();
        let status = response.status();
        let text = response.text().unwrap();
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// SearchTracesV3 of one experiment: the trace infos.
fn search(url: &str, experiment_id: &str) -> Vec<Value> {
    let response = reqwest::blocking::Client::new()
        .post(format!("{url}/api/3.0/mlflow/traces/search"))
        .json(&json!({"locations": [{"type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": experiment_id}}], "max_results": 500}))
        .send()
        .unwrap();
    assert!(response.status().is_success());
    let found: Value = response.json().unwrap();
    found["traces"].as_array().cloned().unwrap_or_default()
}

/// What a trace read back with GetTrace says, without what differs by nature between two
/// runs (ids, times, the program's name, the traceback text and so the sizes; the order of
/// map entries).
fn normalized(trace: &Value) -> Value {
    let info = &trace["trace_info"];
    let metadata: BTreeMap<String, Value> = info["trace_metadata"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                "mlflow.source.name" | "mlflow.trace.sizeBytes" => json!("<varies>"),
                "mlflow.trace.sizeStats" => {
                    let stats: Value = serde_json::from_str(v.as_str().unwrap()).unwrap();
                    json!({"num_spans": stats["num_spans"]})
                }
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    let tags: BTreeMap<String, Value> = info["tags"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = if k == "mlflow.artifactLocation" {
                json!(v.as_str().unwrap().ends_with("/artifacts"))
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    let spans = trace["spans"].as_array().unwrap();
    let name_of = |id: &Value| {
        spans
            .iter()
            .find(|s| s["span_id"] == *id)
            .map(|s| s["name"].clone())
            .unwrap_or(Value::Null)
    };
    let spans: BTreeMap<String, Value> = spans
        .iter()
        .map(|s| {
            let mut attrs = attributes(s);
            attrs.remove("mlflow.traceRequestId");
            let events: Vec<Value> = s["events"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    let mut attrs = attributes(e);
                    attrs.remove("exception.stacktrace");
                    json!({"name": e["name"], "attributes": attrs})
                })
                .collect();
            let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
            (
                s["name"].as_str().unwrap().to_owned(),
                json!({
                    "attributes": attrs,
                    "attribute_types": s["attributes"].as_array().unwrap().iter()
                        .map(|kv| (kv["key"].as_str().unwrap().to_owned(),
                                   kv["value"].as_object().and_then(|o| o.keys().next().cloned())))
                        .collect::<BTreeMap<_, _>>(),
                    "events": events,
                    "status": s["status"],
                    "parent": s.get("parent_span_id").map(name_of),
                    "keys": keys,
                }),
            )
        })
        .collect();
    json!({
        "state": info["state"],
        "request_preview": info["request_preview"],
        "response_preview": info["response_preview"],
        "info_keys": info.as_object().unwrap().keys().collect::<Vec<_>>(),
        "metadata": metadata,
        "tags": tags,
        "spans": spans,
    })
}

/// GetTrace, at once (no waiting: a trace is complete when it is readable).
fn get_trace(url: &str, trace_id: &str) -> Value {
    get(url)(&format!("/api/3.0/mlflow/traces/get?trace_id={trace_id}"))["trace"].clone()
}

/// The Python client's view (`tests/py/readback.py`) of an experiment's traces, by name,
/// without ids and times.
fn python_readback(python: &Path, url: &str, experiment_id: &str) -> BTreeMap<String, Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/readback.py");
    let output = run_ok(
        clean_command(python)
            .arg(script)
            .arg(experiment_id)
            .env("MLFLOW_TRACKING_URI", url),
    );
    let read: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut by_name = BTreeMap::new();
    for trace in read["search"].as_array().unwrap() {
        let id = trace["trace_id"].as_str().unwrap();
        let got = &read["get"][id];
        let strip = |t: &Value| {
            let mut t = t.clone();
            let spans = t["spans"].as_array().unwrap().clone();
            let name_of = |id: &Value| {
                spans
                    .iter()
                    .find(|s| s["span_id"] == *id)
                    .map(|s| s["name"].clone())
                    .unwrap_or(Value::Null)
            };
            let spans: BTreeMap<String, Value> = spans
                .iter()
                .map(|s| {
                    let mut s = s.clone();
                    s["parent_id"] = name_of(&s["parent_id"]);
                    s.as_object_mut().unwrap().remove("span_id");
                    for e in s["events"].as_array_mut().unwrap() {
                        e["attributes"]
                            .as_object_mut()
                            .unwrap()
                            .remove("exception.stacktrace");
                    }
                    (s["name"].as_str().unwrap().to_owned(), s)
                })
                .collect();
            t["spans"] = json!(spans);
            for key in ["trace_id", "request_time", "execution_duration"] {
                t.as_object_mut().unwrap().remove(key);
            }
            let metadata = t["metadata"].as_object_mut().unwrap();
            for key in [
                "mlflow.source.name",
                "mlflow.trace.sizeBytes",
                "mlflow.trace.sizeStats",
            ] {
                metadata.remove(key);
            }
            t["tags"]
                .as_object_mut()
                .unwrap()
                .remove("mlflow.artifactLocation");
            t
        };
        assert_eq!(strip(trace), strip(got), "search and get agree");
        by_name.insert(
            trace["tags"]["mlflow.traceName"]
                .as_str()
                .unwrap()
                .to_owned(),
            strip(got),
        );
    }
    by_name
}

/// Checks the demo's traces on the server at `url` against the Python SDK's, logged there
/// too, through REST and MLflow's Python client.
fn check_like_python(url: &str, rust: (&str, &[String]), python_ids: (&str, &[String])) {
    let (rust_experiment, rust_ids) = rust;
    let (python_experiment, python_ids) = python_ids;
    // Readable at once, complete: GetTrace does not report them "not fully exported".
    for (rust_id, python_id) in rust_ids.iter().zip(python_ids) {
        let ours = get_trace(url, rust_id);
        let theirs = get_trace(url, python_id);
        assert_eq!(
            normalized(&ours),
            normalized(&theirs),
            "trace {rust_id} differs from the Python SDK's {python_id}"
        );
    }
    let mut found: Vec<String> = search(url, rust_experiment)
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap().to_owned())
        .collect();
    found.sort();
    let mut expected = rust_ids.to_vec();
    expected.sort();
    assert_eq!(found, expected);
    let chain = get_trace(url, &rust_ids[1]);
    let spans = chain["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3);
    let tool = spans.iter().find(|s| s["name"] == "failing_tool").unwrap();
    assert_eq!(tool["status"]["message"], "ValueError: tool failed");
    let root = spans.iter().find(|s| s["name"] == "chain").unwrap();
    let value = |key: &str| {
        root["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|kv| kv["key"] == key)
            .map(|kv| any_value(&kv["value"]))
    };
    assert_eq!(value("custom.int"), Some(json!(7)));
    assert_eq!(value("mlflow.spanType"), Some(json!("CHAIN")));
    let info = &chain["trace_info"];
    assert_eq!(
        info["trace_metadata"]["mlflow.trace.tokenUsage"],
        "{\"input_tokens\": 12, \"output_tokens\": 7, \"total_tokens\": 19}"
    );
    let stats: Value = serde_json::from_str(
        info["trace_metadata"]["mlflow.trace.sizeStats"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stats["num_spans"], 3);

    // MLflow's Python client sees the same.
    let Some(python) = mlflow_python() else {
        return;
    };
    let ours = python_readback(&python, url, rust_experiment);
    let theirs = python_readback(&python, url, python_experiment);
    assert_eq!(ours.keys().collect::<Vec<_>>(), ["chain", "foo"]);
    assert_eq!(ours, theirs);
    assert_eq!(ours["chain"]["spans"]["llm"]["span_type"], "LLM");
    assert_eq!(ours["chain"]["spans"]["failing_tool"]["status"], "ERROR");
}

#[test]
fn the_demo_reads_back_at_once_as_the_python_sdks_traces_do() {
    let (Some(url), Some(python)) = (shared_server(), mlflow_python()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ids, stdout) = demo(dir.path(), url, "rust-demo", &[]);
    assert!(
        stdout.contains(&format!(
            "MLflow tracking server {url} (experiment \"rust-demo\")"
        )),
        "{stdout}"
    );
    let py_ids = python_demo(&python, dir.path(), url, "python-demo");
    let server = get(url);
    let (rust_experiment, python_experiment) = (
        experiment_id(&server, "rust-demo"),
        experiment_id(&server, "python-demo"),
    );
    check_like_python(url, (&rust_experiment, &ids), (&python_experiment, &py_ids));

    // The CLI reads them back from the server.
    let env = [("MLFLOW_TRACKING_URI", url)];
    let listed = cli(
        dir.path(),
        &["traces", "list", "--experiment", "rust-demo"],
        &env,
    );
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        ids.iter().all(|id| listed.contains(id.as_str())),
        "{listed}"
    );
    assert!(
        !py_ids.iter().any(|id| listed.contains(id.as_str())),
        "{listed}"
    );
    let shown = cli(dir.path(), &["traces", "show", &ids[1]], &env);
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(
        shown.contains("failing_tool [TOOL] ERROR (ValueError: tool failed)"),
        "{shown}"
    );
    let missing = cli(
        dir.path(),
        &["traces", "list", "--experiment", "no-such"],
        &env,
    );
    let stderr = String::from_utf8(missing.stderr).unwrap();
    assert!(!missing.status.success());
    assert!(
        stderr.contains("no experiment named \"no-such\""),
        "{stderr}"
    );
    let doctor = cli(
        dir.path(),
        &["doctor"],
        &[
            ("MLFLOW_TRACKING_URI", url),
            ("MLFLOW_EXPERIMENT_NAME", "rust-demo"),
        ],
    );
    let text = String::from_utf8(doctor.stdout).unwrap();
    assert!(doctor.status.success(), "{text}");
    assert!(text.contains("answers: MLflow 3.17.2"), "{text}");
    assert!(
        text.contains(&format!(
            "experiment \"rust-demo\" resolves to experiment id {rust_experiment}"
        )),
        "{text}"
    );
}

#[test]
fn set_experiment_and_set_tracking_uri_send_traces_to_the_server() {
    let Some(url) = shared_server() else {
        return;
    };
    mlflow_tracing::set_tracking_uri(url).unwrap();
    assert_eq!(mlflow_tracing::get_tracking_uri(), url);
    let id = mlflow_tracing::set_experiment("set-in-code").unwrap();
    assert_eq!(mlflow_tracing::set_experiment("set-in-code").unwrap(), id);
    {
        let span = start_span("in-code").start();
        span.set_inputs(json!({"x": 1}));
    }
    mlflow_tracing::flush().unwrap();
    let traces = search(url, &id);
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0]["tags"]["mlflow.traceName"], "in-code");
    // A deleted experiment is a clear error naming it.
    let created = reqwest::blocking::Client::new()
        .post(format!("{url}/api/2.0/mlflow/experiments/create"))
        .json(&json!({"name": "deleted-one"}))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    reqwest::blocking::Client::new()
        .post(format!("{url}/api/2.0/mlflow/experiments/delete"))
        .json(&json!({"experiment_id": created["experiment_id"]}))
        .send()
        .unwrap();
    let err = mlflow_tracing::set_experiment("deleted-one")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("experiment \"deleted-one\" was deleted"),
        "{err}"
    );
}

#[test]
fn a_basic_auth_server_refuses_wrong_credentials_once_and_accepts_right_ones() {
    let Some(python) = server_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let password = "s3cret-Passw0rd!";
    let server = RunningServer::start(ServerSpec {
        admin_password: Some(password.to_owned()),
        ..ServerSpec::sqlite(&python, dir.path())
    });
    let url = server.url.as_str();
    let refusals = || server.log_text().matches("\" 401 Unauthorized").count();
    let before = refusals();
    let start = Instant::now();
    let wrong = cli(
        dir.path(),
        &["demo"],
        &[
            ("MLFLOW_TRACKING_URI", url),
            ("MLFLOW_EXPERIMENT_NAME", "auth-demo"),
            ("MLFLOW_TRACKING_USERNAME", "admin"),
            ("MLFLOW_TRACKING_PASSWORD", "wr0ng-passw0rd"),
        ],
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert!(!wrong.status.success());
    let stderr = String::from_utf8(wrong.stderr).unwrap();
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("mlflow-tracing"))
        .collect();
    assert_eq!(reports.len(), 1, "one report: {stderr}");
    assert!(
        reports[0].contains("401 from the server")
            && reports[0]
                .contains("MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD was rejected"),
        "{stderr}"
    );
    assert!(!stderr.contains("wr0ng"), "{stderr}");
    // No retry storm: one refused request for the whole run.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(refusals() - before, 1, "{}", server.log_text());

    // The right credentials work, from the variables or in the URI (never shown).
    let (ids, _) = demo(
        dir.path(),
        url,
        "auth-demo",
        &[
            ("MLFLOW_TRACKING_USERNAME", "admin"),
            ("MLFLOW_TRACKING_PASSWORD", password),
        ],
    );
    let in_uri = url.replace("http://", "http://admin:s3cret-Passw0rd%21@");
    let (more_ids, stdout) = demo(dir.path(), &in_uri, "auth-demo", &[]);
    assert!(stdout.contains("http://<redacted>@127.0.0.1"), "{stdout}");
    assert!(!stdout.contains("s3cret"), "{stdout}");
    let experiment =
        server.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=auth-demo");
    let experiment = experiment["experiment"]["experiment_id"].as_str().unwrap();
    let found = server.post(
        "/api/3.0/mlflow/traces/search",
        &json!({"locations": [{"type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": experiment}}], "max_results": 10}),
    );
    assert_eq!(found["traces"].as_array().unwrap().len(), 4);
    for id in ids.iter().chain(&more_ids) {
        let trace = server.get(&format!("/api/3.0/mlflow/traces/get?trace_id={id}"));
        assert!(!trace["trace"]["spans"].as_array().unwrap().is_empty());
    }
    let doctor = cli(
        dir.path(),
        &["doctor"],
        &[
            ("MLFLOW_TRACKING_URI", url),
            ("MLFLOW_TRACKING_TOKEN", "not-a-t0ken"),
        ],
    );
    let text = String::from_utf8(doctor.stdout).unwrap();
    assert!(!doctor.status.success());
    assert!(
        text.contains("401 from the server") && text.contains("MLFLOW_TRACKING_TOKEN was rejected"),
        "{text}"
    );
    assert!(!text.contains("not-a-t0ken"), "{text}");
}

/// A pipeline to `url` in `experiment`, configured by `vars` only.
fn pipeline(url: &str, experiment: &str, vars: &[(&str, &str)]) -> Tracing {
    let mut map: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    map.insert("MLFLOW_TRACKING_URI".into(), url.to_owned());
    map.insert("MLFLOW_EXPERIMENT_NAME".into(), experiment.to_owned());
    Tracing::builder()
        .with_env(move |k| map.get(k).cloned())
        .build()
        .unwrap()
}

fn record(tracing: &Tracing, count: usize) {
    tracing.in_scope(|| {
        for i in 0..count {
            let root = start_span("request").start();
            root.set_inputs(json!({"i": i}));
            let child = start_span("step").start();
            child.set_outputs(json!([1, 2, 3]));
        }
    });
}

#[test]
fn a_server_restarted_mid_run_gets_the_traces_queued_meanwhile() {
    let Some(python) = server_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = RunningServer::start(ServerSpec::sqlite(&python, dir.path()));
    let url = server.url.clone();
    // Waits of 0, 1, 2, 4, … 64 s between 8 attempts: about two minutes.
    let patient = pipeline(
        &url,
        "restarted",
        &[
            ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1"),
            ("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0.2"),
        ],
    );
    record(&patient, 5);
    patient.flush().unwrap();
    server.stop();
    record(&patient, 10);
    std::thread::sleep(Duration::from_secs(1));
    server.start_again();
    patient
        .flush_with_timeout(Duration::from_secs(180))
        .unwrap();
    let stats = patient.stats();
    assert_eq!(
        (stats.destinations[0].exported, stats.destinations[0].failed),
        (15, 0),
        "{stats:?}"
    );
    let server_get = get(&url);
    let experiment = experiment_id(&server_get, "restarted");
    assert_eq!(search(&url, &experiment).len(), 15);

    // Without retries, what could not be sent while the server was down is counted.
    let impatient = pipeline(
        &url,
        "restarted",
        &[("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")],
    );
    record(&impatient, 1);
    impatient.flush().unwrap();
    server.stop();
    record(&impatient, 4);
    let err = impatient.flush().unwrap_err().to_string();
    assert!(err.contains("cannot connect to"), "{err}");
    server.start_again();
    record(&impatient, 3);
    impatient.flush().unwrap();
    let stats = impatient.stats();
    assert_eq!(
        (stats.destinations[0].exported, stats.destinations[0].failed),
        (4, 4),
        "{stats:?}"
    );
    assert_eq!(stats.traces_completed, 8);
    assert_eq!(search(&url, &experiment).len(), 19);
}

#[test]
fn dual_export_to_the_server_and_phoenix() {
    let Some(url) = shared_server() else {
        return;
    };
    let Some(phoenix_program) = backend_program("MLFLOW_TRACING_TEST_PHOENIX", "Arize Phoenix")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut phoenix = Phoenix::start(&phoenix_program, dir.path());
    let endpoint = format!("http://127.0.0.1:{}", phoenix.grpc_port);
    let (ids, stdout) = demo(
        dir.path(),
        url,
        "dual",
        &[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT", "true"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "openinference.project.name=rust-dual",
            ),
        ],
    );
    assert!(
        stdout.contains(&format!("OTLP/gRPC {endpoint}")),
        "{stdout}"
    );
    assert!(stdout.contains("MLflow tracking server"), "{stdout}");
    // Phoenix has every span, with MLflow's attributes as JSON text.
    let spans = phoenix.spans("rust-dual", 4);
    assert_eq!(spans.len(), 4);
    let trace_ids: Vec<String> = spans
        .iter()
        .map(|s| format!("tr-{}", s["context"]["trace_id"].as_str().unwrap()))
        .collect();
    assert!(
        ids.iter().all(|id| trace_ids.contains(id)),
        "{trace_ids:?} {ids:?}"
    );
    // The server has every trace, complete.
    let experiment = experiment_id(&get(url), "dual");
    assert_eq!(search(url, &experiment).len(), 2);
    let chain = get_trace(url, &ids[1]);
    assert_eq!(chain["spans"].as_array().unwrap().len(), 3);
    assert_eq!(chain["trace_info"]["tags"]["env"], "golden");
    // The resource attribute the user set travels to the server too, as with Python.
    assert_eq!(
        chain["trace_info"]["tags"]["openinference.project.name"],
        "rust-dual"
    );
}

#[test]
fn the_demo_on_a_server_backed_by_postgresql() {
    let (Some(server_python), Some(bin), Some(python)) =
        (server_python(), postgres_bin(), mlflow_python())
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let postgres = Postgres::start(&bin, dir.path());
    let server = RunningServer::start(ServerSpec {
        backend: postgres.url.clone(),
        ..ServerSpec::sqlite(&server_python, dir.path())
    });
    let url = server.url.as_str();
    let (ids, _) = demo(dir.path(), url, "pg-demo", &[]);
    let py_ids = python_demo(&python, dir.path(), url, "pg-python");
    let server_get = get(url);
    let (rust_experiment, python_experiment) = (
        experiment_id(&server_get, "pg-demo"),
        experiment_id(&server_get, "pg-python"),
    );
    check_like_python(url, (&rust_experiment, &ids), (&python_experiment, &py_ids));
    // (The server, declared after PostgreSQL, stops first.)
}

#[test]
fn export_throughput_next_to_the_python_sdk() {
    let (Some(url), Some(python)) = (shared_server(), mlflow_python()) else {
        return;
    };
    const TRACES: usize = 300;
    // Rust: the experiment is resolved and the version asked by a first trace.
    let tracing = pipeline(url, "throughput-rust", &[]);
    record(&tracing, 1);
    tracing.flush().unwrap();
    let start = Instant::now();
    record(&tracing, TRACES);
    tracing
        .flush_with_timeout(Duration::from_secs(300))
        .unwrap();
    let rust_seconds = start.elapsed().as_secs_f64();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/throughput.py");
    let output = run_ok(
        clean_command(&python)
            .arg(script)
            .arg(TRACES.to_string())
            .env("MLFLOW_TRACKING_URI", url)
            .env("MLFLOW_EXPERIMENT_NAME", "throughput-python"),
    );
    let measured: Value = serde_json::from_slice(&output.stdout).unwrap();
    let python_seconds = measured["seconds"].as_f64().unwrap();
    let server = get(url);
    for (name, expected) in [
        ("throughput-rust", TRACES + 1),
        ("throughput-python", TRACES + 1),
    ] {
        let experiment = experiment_id(&server, name);
        assert_eq!(search(url, &experiment).len(), expected, "{name}");
    }
    let (rust_rate, python_rate) = (TRACES as f64 / rust_seconds, TRACES as f64 / python_seconds);
    eprintln!(
        "THROUGHPUT to a local MLflow 3.17.2 server, {TRACES} traces of 2 spans: Rust \
         {rust_rate:.0} traces/s ({rust_seconds:.2} s), Python SDK {python_rate:.0} traces/s \
         ({python_seconds:.2} s), ratio {:.2}",
        rust_rate / python_rate
    );
}
