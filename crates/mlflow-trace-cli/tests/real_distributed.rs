//! One trace across processes and languages, with MLflow 3.17.2's Python SDK on the other
//! side: a Rust client (`send_traced`) calls a Python service that continues the trace
//! with MLflow's `set_tracing_context_from_http_request_headers` and calls a Rust axum
//! service (`MlflowTraceLayer`) with MLflow's `get_tracing_context_headers_for_http_request`;
//! and a Python client calls a Rust axum service. Both sides export to the same store (one
//! `mlflow.db`; one MLflow tracking server), and MLflow's Python client (`mlflow.get_trace`,
//! `mlflow.search_traces`) reads one trace with the spans of both, parented right.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use mlflow_tracing::propagation::reqwest::RequestBuilderExt as _;
use mlflow_tracing::propagation::tower::MlflowTraceLayer;
use mlflow_tracing::{SpanType, Tracing, start_span};
use serde_json::{Value, json};
use support::servers::shared_server;
use support::{Background, clean_command, free_port, mlflow_python, run_ok, wait_http};

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py")
}

/// The Rust service: `POST /rust/double {"x": n}` → `{"doubled": 2n}`, with a TOOL span
/// of its own inside the request's server span.
async fn double(Json(body): Json<Value>) -> Json<Value> {
    let span = start_span("rust-compute").span_type(SpanType::Tool).start();
    span.set_inputs(&body);
    let doubled = body["x"].as_i64().unwrap_or(0) * 2;
    span.set_outputs(doubled);
    Json(json!({ "doubled": doubled }))
}

/// Serves the Rust service on a free loopback port in `tracing`'s pipeline.
fn serve(runtime: &tokio::runtime::Runtime, tracing: &Tracing) -> String {
    let app = Router::new()
        .route("/rust/double", post(double))
        .layer(MlflowTraceLayer::with_tracing(tracing));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/rust/double")
}

fn pipeline(env: Vec<(&'static str, String)>) -> Tracing {
    Tracing::builder()
        .with_env(move |k| {
            env.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.clone())
        })
        .build()
        .unwrap()
}

/// Reads `trace_id` back with MLflow's Python client from `env`'s store.
fn read_back(python: &Path, env: &[(&str, String)], trace_id: &str) -> Value {
    let mut command = clean_command(python);
    command
        .arg(scripts().join("distributed_readback.py"))
        .arg(trace_id);
    for (k, v) in env {
        command.env(k, v);
    }
    serde_json::from_slice(&run_ok(&mut command).stdout).unwrap()
}

fn span<'a>(trace: &'a Value, name: &str) -> &'a Value {
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {trace:#}"))
}

#[test]
fn a_rust_call_through_a_python_service_and_back_is_one_trace_in_one_mlflow_db() {
    let Some(python) = mlflow_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let store = vec![("MLFLOW_TRACKING_URI", format!("sqlite:///{}", db.display()))];

    // The Rust side first: it creates the database (MLflow's Python SDK opens it as it is).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let tracing = pipeline(store.clone());
    let rust_service = serve(&runtime, &tracing);

    let port = free_port();
    let mut service = clean_command(&python);
    service
        .arg(scripts().join("distributed_service.py"))
        .arg(port.to_string())
        .env("MLFLOW_TRACKING_URI", &store[0].1)
        // Spans are logged as they end, before the answer: the trace is in the store when
        // the Rust side writes its part.
        .env("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false");
    let mut service = Background::spawn(service, dir.path().join("service.log"));
    let base = format!("http://127.0.0.1:{port}");
    wait_http(
        &mut service,
        &format!("{base}/health"),
        Duration::from_secs(60),
    );

    let client = reqwest::Client::new();
    let (answer, trace_id) = runtime.block_on(
        tracing
            .start_span("rust-agent")
            .span_type(SpanType::Agent)
            .inputs(json!({"question": "double 21, twice"}))
            .instrument(async {
                let id = mlflow_tracing::get_current_active_span()
                    .and_then(|s| s.trace_id().map(str::to_owned))
                    .unwrap();
                let answer: Value = client
                    .post(format!("{base}/double"))
                    .json(&json!({"x": 21, "call": rust_service}))
                    .send_traced()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                (answer, id)
            }),
    );
    assert_eq!(answer, json!({"doubled": 42, "onward": {"doubled": 84}}));
    tracing.flush().unwrap();
    drop(service);

    let trace = read_back(&python, &store, &trace_id);
    assert_eq!(trace["listed"], json!([trace_id]), "one trace: {trace:#}");
    assert_eq!(trace["state"], "OK");
    assert_eq!(
        trace["request_preview"],
        r#"{"question": "double 21, twice"}"#
    );
    let names: Vec<&str> = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    let agent = span(&trace, "rust-agent");
    let call = span(&trace, "POST");
    let handler = span(&trace, "py-handler");
    let compute = span(&trace, "py-compute");
    let served = span(&trace, "POST /rust/double");
    let rust_compute = span(&trace, "rust-compute");
    assert_eq!(agent["parent_id"], Value::Null);
    assert_eq!(call["parent_id"], agent["span_id"]);
    // Python's span continues the Rust client span...
    assert_eq!(handler["parent_id"], call["span_id"]);
    assert_eq!(handler["span_type"], "TOOL");
    assert_eq!(compute["parent_id"], handler["span_id"]);
    // ...and the Rust service continues Python's.
    assert_eq!(served["parent_id"], handler["span_id"]);
    assert_eq!(served["attributes"]["http.route"], "/rust/double");
    assert_eq!(rust_compute["parent_id"], served["span_id"]);
    for s in trace["spans"].as_array().unwrap() {
        assert_eq!(s["trace_id"], json!(trace_id), "{s:#}");
    }
}

#[test]
fn a_python_client_calling_a_rust_service_is_one_trace_on_one_tracking_server() {
    let (Some(url), Some(python)) = (shared_server(), mlflow_python()) else {
        return;
    };
    let experiment = format!("distributed-{}", free_port());
    let store = vec![
        ("MLFLOW_TRACKING_URI", url.to_owned()),
        ("MLFLOW_EXPERIMENT_NAME", experiment),
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let tracing = pipeline(store.clone());
    let rust_service = serve(&runtime, &tracing);

    let mut client = clean_command(&python);
    client
        .arg(scripts().join("distributed_client.py"))
        .arg(&rust_service);
    for (k, v) in &store {
        client.env(k, v);
    }
    let out: Value = serde_json::from_slice(&run_ok(&mut client).stdout).unwrap();
    assert_eq!(out["answer"], json!({"doubled": 42}));
    // The Rust service's part is exported after the caller's trace: its spans join it.
    tracing.flush().unwrap();
    let trace_id = out["trace_id"].as_str().unwrap();

    let trace = read_back(&python, &store, trace_id);
    assert_eq!(trace["listed"], json!([trace_id]), "one trace: {trace:#}");
    assert_eq!(trace["state"], "OK");
    assert_eq!(trace["tags"]["caller"], "python");
    assert_eq!(trace["spans"].as_array().unwrap().len(), 4, "{trace:#}");
    let agent = span(&trace, "py-agent");
    let call = span(&trace, "py-call");
    let served = span(&trace, "POST /rust/double");
    let compute = span(&trace, "rust-compute");
    assert_eq!(agent["parent_id"], Value::Null);
    assert_eq!(call["span_id"], out["call_span_id"]);
    assert_eq!(served["parent_id"], call["span_id"]);
    assert_eq!(served["attributes"]["http.response.status_code"], 200);
    assert_eq!(compute["parent_id"], served["span_id"]);
    assert_eq!(compute["span_type"], "TOOL");
}
