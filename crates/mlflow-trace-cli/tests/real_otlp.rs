//! The demo exported over OTLP to real backends, started here on free loopback ports:
//! Arize Phoenix (gRPC and HTTP/protobuf), MLflow's own OTLP endpoint, and the rotel
//! collector relaying gRPC to MLflow.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::{
    MlflowServer, Phoenix, Rotel, attributes, backend_program, clean_command, mlflow_python,
    run_demo,
};

fn by_name<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

/// Checks the demo's four spans as Phoenix stored them.
fn check_phoenix_spans(spans: &[Value], ids: &[String]) {
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let trace_ids: Vec<String> = ids
        .iter()
        .map(|id| id.trim_start_matches("tr-").to_owned())
        .collect();
    for span in spans {
        let trace_id = span["context"]["trace_id"].as_str().unwrap();
        assert!(
            trace_ids.iter().any(|t| t == trace_id),
            "unexpected trace {trace_id}"
        );
    }
    let (first, chain, llm, tool) = (
        by_name(spans, "foo"),
        by_name(spans, "chain"),
        by_name(spans, "llm"),
        by_name(spans, "failing_tool"),
    );
    assert!(first["parent_id"].is_null() && chain["parent_id"].is_null());
    assert_eq!(llm["parent_id"], chain["context"]["span_id"]);
    assert_eq!(tool["parent_id"], chain["context"]["span_id"]);
    assert_eq!(tool["status_code"], "ERROR");
    assert_eq!(chain["status_code"], "OK");
    let attr = |span: &Value, key: &str| -> Value {
        // Phoenix returns attributes flat; look the dotted key up either way.
        let attrs = &span["attributes"];
        attrs.get(key).cloned().unwrap_or_else(|| {
            key.split('.')
                .try_fold(attrs, |v, k| v.get(k))
                .cloned()
                .unwrap_or(Value::Null)
        })
    };
    assert_eq!(attr(chain, "mlflow.spanType"), json!("\"CHAIN\""));
    assert_eq!(attr(llm, "mlflow.spanType"), json!("\"LLM\""));
    assert_eq!(attr(first, "mlflow.spanInputs"), json!("{\"a\": 1}"));
    assert_eq!(attr(chain, "custom.int"), json!("7"));
    assert_eq!(attr(chain, "mlflow.traceTag.env"), json!("golden"));
    assert_eq!(attr(chain, "mlflow.traceTag.team"), json!("anchors"));
    let event = &tool["events"][0];
    assert_eq!(event["name"], "exception");
    let event_attrs = &event["attributes"];
    let message = event_attrs
        .get("exception.message")
        .or_else(|| event_attrs.get("exception").and_then(|e| e.get("message")));
    assert_eq!(message, Some(&json!("tool failed")), "{event:#}");
}

#[test]
fn phoenix_receives_the_demo_over_grpc_and_http() {
    let Some(phoenix_program) = backend_program("MLFLOW_TRACING_TEST_PHOENIX", "Arize Phoenix")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut phoenix = Phoenix::start(&phoenix_program, dir.path());

    // gRPC, MLflow's default protocol; the project is named by a resource attribute.
    let grpc_endpoint = format!("http://127.0.0.1:{}", phoenix.grpc_port);
    let (grpc_ids, out) = run_demo(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &grpc_endpoint),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "openinference.project.name=rust-grpc",
            ),
            ("OTEL_SERVICE_NAME", "demo"),
        ],
    );
    assert!(out.contains(&format!("OTLP/gRPC {grpc_endpoint}")), "{out}");
    check_phoenix_spans(&phoenix.spans("rust-grpc", 4), &grpc_ids);

    // HTTP/protobuf, with a header choosing the project.
    let http_endpoint = format!("{}/v1/traces", phoenix.url);
    let (http_ids, out) = run_demo(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &http_endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "x-project-name=rust-http",
            ),
        ],
    );
    assert!(
        out.contains(&format!("OTLP/HTTP (protobuf) {http_endpoint}")),
        "{out}"
    );
    check_phoenix_spans(&phoenix.spans("rust-http", 4), &http_ids);
}

/// Checks the demo's traces as MLflow's server built them from OTLP spans alone.
fn check_mlflow_otlp_traces(server: &MlflowServer, ids: &[String]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let traces = loop {
        let found = server.post(
            "/api/3.0/mlflow/traces/search",
            &json!({"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "0"}}], "max_results": 50}),
        );
        let traces = found["traces"].as_array().cloned().unwrap_or_default();
        if traces.len() >= 2 || std::time::Instant::now() > deadline {
            break traces;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    let mut found: Vec<&str> = traces
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect();
    found.sort();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(found, expected, "{traces:#?}");
    let chain_id = &ids[1];
    let chain = traces
        .iter()
        .find(|t| t["trace_id"] == chain_id.as_str())
        .unwrap();
    // The tags travelled on the root span as mlflow.traceTag.* and were restored.
    assert_eq!(chain["tags"]["env"], "golden", "{chain:#}");
    assert_eq!(chain["tags"]["team"], "anchors");
    assert_eq!(chain["state"], "OK");
    assert_eq!(
        chain["request_preview"],
        "{\"question\": \"What is MLflow?\"}"
    );
    let got = server.get(&format!("/api/3.0/mlflow/traces/get?trace_id={chain_id}"));
    let spans = got["trace"]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3);
    let tool = spans.iter().find(|s| s["name"] == "failing_tool").unwrap();
    assert_eq!(tool["status"]["code"], "STATUS_CODE_ERROR");
    assert_eq!(tool["status"]["message"], "ValueError: tool failed");
    assert_eq!(
        attributes(&tool["events"][0])["exception.type"],
        "ValueError"
    );
    let llm = spans.iter().find(|s| s["name"] == "llm").unwrap();
    assert_eq!(attributes(llm)["mlflow.spanType"], "LLM");
}

#[test]
fn mlflow_server_otlp_endpoint_restores_the_trace_tags() {
    let Some(python) = mlflow_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = MlflowServer::start(&python, &dir.path().join("server.db"), dir.path());
    let endpoint = format!("{}/v1/traces", server.url);
    let (ids, _) = run_demo(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "x-mlflow-experiment-id=0",
            ),
            ("OTEL_SERVICE_NAME", "rust-demo"),
        ],
    );
    check_mlflow_otlp_traces(&server, &ids);
    // No local database was written: OTLP replaced the MLflow store.
    assert!(!dir.path().join("mlflow.db").exists());

    // Without the experiment header MLflow refuses; doctor says what to do.
    let out = clean_command(env!("CARGO_BIN_EXE_mlflow-trace"))
        .arg("doctor")
        .env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint)
        .env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("needs the header x-mlflow-experiment-id"),
        "{text}"
    );
}

#[test]
fn rotel_relays_grpc_to_mlflow() {
    let Some(python) = mlflow_python() else {
        return;
    };
    let Some(rotel_program) = backend_program("MLFLOW_TRACING_TEST_ROTEL", "the rotel collector")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = MlflowServer::start(&python, &dir.path().join("server.db"), dir.path());
    let rotel = Rotel::start(
        &rotel_program,
        &format!("{}/v1/traces", server.url),
        "x-mlflow-experiment-id=0",
        dir.path(),
    );
    let (ids, out) = run_demo(
        dir.path(),
        &[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("http://127.0.0.1:{}", rotel.grpc_port),
        )],
    );
    assert!(out.contains("OTLP/gRPC"), "{out}");
    check_mlflow_otlp_traces(&server, &ids);
}
