//! Export to an MLflow tracking server against an in-process stand-in of its REST API: the
//! calls and their order, the two encodings, the artifact fallback, credentials, TLS,
//! retries, experiments, dual export, `doctor`. (The real MLflow server is exercised by
//! `crates/mlflow-trace-cli/tests/real_server.rs`.)

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mlflow_tracing::{Destination, Tracing, start_span};
use mlflow_tracing_test_support::{
    MlflowStandIn, Receiver, Scripted, StandInOptions, StandInRequest, Tls, certs,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use serde_json::{Value, json};

/// The traces `mlflow-trace demo` records.
use crate::demo_traces;

/// The environment `vars`, with MLflow's retry waits shortened for tests.
fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let mut map: HashMap<String, String> = [
        ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0"),
        ("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    map.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    move |k| map.get(k).cloned()
}

fn pipeline(vars: &[(&str, &str)]) -> Result<Tracing, mlflow_tracing::BuildError> {
    Tracing::builder().with_env(env(vars)).build()
}

fn server_pipeline(server: &MlflowStandIn, vars: &[(&str, &str)]) -> Tracing {
    let uri = server.url();
    let mut all = vec![("MLFLOW_TRACKING_URI", uri.as_str())];
    all.extend_from_slice(vars);
    pipeline(&all).unwrap()
}

/// A pipeline exporting to `server` and, over OTLP/HTTP, to `receiver`, after it recorded
/// 50 one-span traces; when the recording started.
fn dual_export_fifty_traces(server: &MlflowStandIn, receiver: &Receiver) -> (Tracing, Instant) {
    let endpoint = receiver.traces_endpoint();
    let tracing = server_pipeline(
        server,
        &[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            ("MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT", "true"),
            ("OTEL_BSP_SCHEDULE_DELAY", "0"),
        ],
    );
    let start = Instant::now();
    tracing.in_scope(|| {
        for i in 0..50 {
            one_span(&format!("t{i}"));
        }
    });
    (tracing, start)
}

/// `METHOD path` of each request.
fn calls(requests: &[StandInRequest]) -> Vec<String> {
    requests.iter().map(StandInRequest::call).collect()
}

fn one_span(name: &str) {
    let span = start_span(name.to_owned()).start();
    span.set_inputs(json!({"a": 1}));
    span.set_outputs(json!({"b": 2}));
}

/// An OTLP `AnyValue` as `{"kind": value}`.
fn typed(value: &AnyValue) -> Value {
    use any_value::Value as V;
    match &value.value {
        None => json!(null),
        Some(V::StringValue(s)) => json!({"string": s}),
        Some(V::IntValue(i)) => json!({"int": i}),
        Some(V::DoubleValue(f)) => json!({"double": f}),
        Some(V::BoolValue(b)) => json!({"bool": b}),
        Some(V::ArrayValue(a)) => json!({"array": a.values.iter().map(typed).collect::<Vec<_>>()}),
        Some(V::KvlistValue(l)) => json!({"kvlist": l
            .values
            .iter()
            .map(|kv| (kv.key.clone(), typed(kv.value.as_ref().unwrap())))
            .collect::<serde_json::Map<_, _>>()}),
        Some(other) => json!({"other": format!("{other:?}")}),
    }
}

#[test]
fn one_trace_makes_the_python_sdks_calls_in_order() {
    let server = MlflowStandIn::start(StandInOptions::default());
    let tracing = server_pipeline(&server, &[("MLFLOW_EXPERIMENT_NAME", "my-experiment")]);
    assert_eq!(
        tracing.destinations(),
        [Destination::Server {
            uri: mlflow_tracing::TrackingUri::parse(&server.url()).unwrap(),
            experiment: mlflow_tracing::Experiment::Name("my-experiment".into()),
        }]
    );
    tracing.in_scope(|| one_span("foo"));
    tracing.flush().unwrap();
    let requests = server.wait_for_traces(1, Duration::from_secs(10));
    // As f_dual_simple.rest.jsonl (the experiment is created once, the version asked once).
    assert_eq!(
        calls(&requests),
        [
            "GET /api/2.0/mlflow/experiments/get-by-name",
            "POST /api/2.0/mlflow/experiments/create",
            "GET /version",
            "POST /v1/traces",
            "POST /api/3.0/mlflow/traces",
        ]
    );
    assert_eq!(
        requests[0].path,
        "/api/2.0/mlflow/experiments/get-by-name?experiment_name=my-experiment"
    );
    let spans = &requests[3];
    assert_eq!(spans.header("x-mlflow-experiment-id"), Some("1"));
    assert_eq!(spans.header("content-type"), Some("application/x-protobuf"));
    let otlp = spans.otlp().unwrap();
    let resource_spans = &otlp.resource_spans[0];
    let resource: Vec<&str> = resource_spans
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(
        resource,
        [
            "telemetry.sdk.language",
            "telemetry.sdk.name",
            "telemetry.sdk.version"
        ],
        "no service.name: the server would make it a trace tag"
    );
    assert!(resource_spans.scope_spans[0].scope.is_none());
    let span = &resource_spans.scope_spans[0].spans[0];
    assert_eq!((span.kind, span.flags), (0, 0));
    let attributes: serde_json::Map<String, Value> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.clone(), typed(kv.value.as_ref().unwrap())))
        .collect();
    // What the Python SDK sent for the same span (f_dual_simple.rest.jsonl).
    let trace_id = format!("tr-{}", hex(&span.trace_id));
    assert_eq!(
        Value::Object(attributes),
        json!({
            "mlflow.traceRequestId": {"string": trace_id},
            "mlflow.spanType": {"string": "UNKNOWN"},
            "mlflow.spanInputs": {"kvlist": {"a": {"int": 1}}},
            "mlflow.spanOutputs": {"kvlist": {"b": {"int": 2}}},
            "mlflow.spanLogLevel": {"int": 10},
        })
    );
    let start = requests[4].json().unwrap();
    let info = &start["trace"]["trace_info"];
    assert_eq!(info["trace_id"], trace_id.as_str());
    assert_eq!(
        info["trace_location"],
        json!({"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "1"}})
    );
    assert_eq!(info["state"], "OK");
    assert_eq!(info["tags"], json!({"mlflow.traceName": "foo"}));
    assert_eq!(info["request_preview"], "{\"a\": 1}");
    assert!(info["execution_duration"].as_str().unwrap().ends_with('s'));
    assert!(info["request_time"].as_str().unwrap().ends_with('Z'));
    let metadata = &info["trace_metadata"];
    let stats: Value =
        serde_json::from_str(metadata["mlflow.trace.sizeStats"].as_str().unwrap()).unwrap();
    assert_eq!(stats["num_spans"], 1);
    assert_eq!(
        metadata["mlflow.trace.sizeBytes"].as_str().unwrap(),
        stats["total_size_bytes"].to_string()
    );
    for key in [
        "mlflow.user",
        "mlflow.source.name",
        "mlflow.source.type",
        "mlflow.trace_schema.version",
        "mlflow.traceInputs",
        "mlflow.traceOutputs",
    ] {
        assert!(metadata.get(key).is_some(), "{key} in {metadata}");
    }

    // The next trace: no more lookups.
    tracing.in_scope(|| one_span("bar"));
    tracing.flush().unwrap();
    let requests = server.wait_for_traces(2, Duration::from_secs(10));
    assert_eq!(
        calls(&requests[5..]),
        ["POST /v1/traces", "POST /api/3.0/mlflow/traces"]
    );
    let stats = tracing.stats();
    assert_eq!(
        (stats.destinations[0].exported, stats.destinations[0].failed),
        (2, 0)
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_batch_sends_spans_first_then_each_trace_info() {
    let server = MlflowStandIn::start(StandInOptions::default());
    let tracing = server_pipeline(&server, &[("MLFLOW_EXPERIMENT_ID", "0")]);
    tracing.in_scope(|| {
        demo_traces::simple();
        demo_traces::nested();
    });
    tracing.flush().unwrap();
    let requests = server.wait_for_traces(2, Duration::from_secs(10));
    let calls = calls(&requests);
    // The experiment id is checked once; every trace's spans precede its info.
    assert_eq!(calls[0], "GET /api/2.0/mlflow/experiments/get");
    let infos: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i] == "POST /api/3.0/mlflow/traces")
        .collect();
    for i in infos {
        let id = requests[i].json().unwrap()["trace"]["trace_info"]["trace_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let first_spans = requests.iter().position(|r| {
            r.otlp().is_some_and(|o| {
                o.resource_spans[0].scope_spans[0]
                    .spans
                    .iter()
                    .any(|s| format!("tr-{}", hex(&s.trace_id)) == id)
            })
        });
        assert!(first_spans.is_some_and(|p| p < i), "{id}: {calls:?}");
    }
    let nested = requests
        .iter()
        .filter_map(StandInRequest::json)
        .find(|b| b["trace"]["trace_info"]["tags"]["mlflow.traceName"] == "chain")
        .unwrap();
    let info = &nested["trace"]["trace_info"];
    assert_eq!(info["tags"]["env"], "golden");
    assert_eq!(info["trace_metadata"]["mlflow.trace.session"], "session-1");
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
}

#[test]
fn servers_that_cannot_store_spans_get_traces_json() {
    // A server on a file store answers /v1/traces with 501: the trace info, then its spans
    // as traces.json through the server's artifact proxy, as the Python SDK does; and no
    // more /v1/traces after that.
    let server = MlflowStandIn::start(StandInOptions {
        stores_spans: false,
        ..StandInOptions::default()
    });
    let tracing = server_pipeline(&server, &[]);
    tracing.in_scope(demo_traces::nested);
    tracing.flush().unwrap();
    tracing.in_scope(|| one_span("second"));
    tracing.flush().unwrap();
    let requests = server.wait_for_traces(2, Duration::from_secs(10));
    let id = |i: usize| {
        requests[i].json().unwrap()["trace"]["trace_info"]["trace_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let upload = |id: String| {
        format!("PUT /api/2.0/mlflow-artifacts/artifacts/0/traces/{id}/artifacts/traces.json")
    };
    assert_eq!(
        calls(&requests),
        [
            "GET /version".to_owned(),
            "POST /v1/traces".to_owned(),
            "POST /api/3.0/mlflow/traces".to_owned(),
            upload(id(2)),
            "POST /api/3.0/mlflow/traces".to_owned(),
            upload(id(4)),
        ]
    );
    assert_eq!(requests[1].status, 501);
    let upload = &requests[3];
    assert_eq!(upload.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&upload.body).unwrap();
    let spans = body["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3);
    let chain = spans.iter().find(|s| s["name"] == "chain").unwrap();
    // MLflow's span JSON: attributes are JSON text, as Span.to_dict() writes them.
    assert_eq!(chain["attributes"]["mlflow.spanType"], "\"CHAIN\"");
    assert_eq!(chain["parent_span_id"], Value::Null);
    assert!(String::from_utf8_lossy(&upload.body).starts_with("{\"spans\": [{\"trace_id\": "));
    assert_eq!(tracing.stats().destinations[0].exported, 2);
}

#[test]
fn servers_older_than_3_4_get_traces_json_without_trying_v1_traces() {
    for version in [Some("3.3.2"), None] {
        let server = MlflowStandIn::start(StandInOptions {
            version: version.map(str::to_owned),
            ..StandInOptions::default()
        });
        let tracing = server_pipeline(&server, &[]);
        tracing.in_scope(|| one_span("old"));
        tracing.flush().unwrap();
        let requests = server.wait_for_traces(1, Duration::from_secs(10));
        assert_eq!(
            calls(&requests)[..2],
            ["GET /version", "POST /api/3.0/mlflow/traces"],
            "{version:?}"
        );
        assert_eq!(server.artifacts().len(), 1, "{version:?}");
    }
}

#[test]
fn credentials_are_sent_and_never_shown() {
    for (vars, expected) in [
        (
            vec![("MLFLOW_TRACKING_TOKEN", "t0ken-123")],
            "Bearer t0ken-123",
        ),
        (
            vec![
                ("MLFLOW_TRACKING_USERNAME", "alice"),
                ("MLFLOW_TRACKING_PASSWORD", "pa55word"),
                ("MLFLOW_TRACKING_TOKEN", "t0ken-123"),
            ],
            // Basic wins over the token.
            "Basic YWxpY2U6cGE1NXdvcmQ=",
        ),
    ] {
        let server = MlflowStandIn::start(StandInOptions {
            authorization: Some(expected.to_owned()),
            ..StandInOptions::default()
        });
        let tracing = server_pipeline(&server, &vars);
        tracing.in_scope(|| one_span("authed"));
        tracing.flush().unwrap();
        let requests = server.wait_for_traces(1, Duration::from_secs(10));
        assert!(
            requests.iter().all(|r| r.status == 200),
            "{:?}",
            calls(&requests)
        );
        let shown = format!("{:?} {:?}", tracing.destinations(), tracing.stats());
        assert!(
            !shown.contains("t0ken") && !shown.contains("pa55"),
            "{shown}"
        );
    }
    // Credentials in the URI are used, and never shown.
    let server = MlflowStandIn::start(StandInOptions {
        authorization: Some("Basic Ym9iOnMzY3IzdA==".to_owned()),
        ..StandInOptions::default()
    });
    let uri = server.url().replace("http://", "http://bob:s3cr3t@");
    let tracing = pipeline(&[("MLFLOW_TRACKING_URI", &uri)]).unwrap();
    tracing.in_scope(|| one_span("in-uri"));
    tracing.flush().unwrap();
    server.wait_for_traces(1, Duration::from_secs(10));
    let shown = format!("{:?} {}", tracing.destinations(), tracing.destinations()[0]);
    assert!(shown.contains("http://<redacted>@127.0.0.1"), "{shown}");
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("bob"),
        "{shown}"
    );
    let diagnosis = Tracing::builder()
        .with_env(env(&[("MLFLOW_TRACKING_URI", &uri)]))
        .diagnose()
        .unwrap();
    let text = diagnosis.to_string();
    assert!(diagnosis.ok(), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
}

#[test]
fn wrong_credentials_give_one_clear_error_and_no_retries() {
    let server = MlflowStandIn::start(StandInOptions {
        authorization: Some("Bearer right".to_owned()),
        ..StandInOptions::default()
    });
    let tracing = server_pipeline(&server, &[("MLFLOW_TRACKING_TOKEN", "wr0ng-t0ken")]);
    tracing.in_scope(|| {
        for i in 0..20 {
            one_span(&format!("denied-{i}"));
        }
    });
    let start = Instant::now();
    let err = tracing.flush().unwrap_err().to_string();
    assert!(start.elapsed() < Duration::from_secs(3), "no retry storm");
    assert!(
        err.contains("401 from the server") && err.contains("MLFLOW_TRACKING_TOKEN was rejected"),
        "{err}"
    );
    assert!(!err.contains("wr0ng"), "{err}");
    // Every 401 is final: nothing is retried, and the rest of a batch is not sent.
    let requests = server.requests();
    assert!(
        requests.iter().all(|r| r.status == 401),
        "{:?}",
        calls(&requests)
    );
    assert!(requests.len() <= 20, "{} requests", requests.len());
    let stats = tracing.stats();
    assert_eq!(stats.destinations[0].failed, 20);
    assert_eq!(stats.destinations[0].exported, 0);
}

/// Runs the test named `name` of this binary in a child process with only `vars` of
/// MLflow's and OpenTelemetry's variables; returns its standard error.
fn run_child(name: &str, vars: &[(&str, &str)]) -> String {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", name, "--nocapture", "--test-threads=1"]);
    for (key, _) in std::env::vars() {
        if key.starts_with("MLFLOW_") || key.starts_with("OTEL_") {
            command.env_remove(key);
        }
    }
    command.env("MLFLOW_TRACING_TEST_SERVER_CHILD", "1");
    command.envs(vars.iter().copied());
    let output = command.output().unwrap();
    assert!(output.status.success(), "child failed: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_refused_credential_is_reported_once() {
    if std::env::var_os("MLFLOW_TRACING_TEST_SERVER_CHILD").is_some() {
        // The global pipeline, from the environment; three flushes of ten traces each.
        for _ in 0..3 {
            for i in 0..10 {
                one_span(&format!("denied-{i}"));
            }
            let _ = mlflow_tracing::flush();
        }
        return;
    }
    let server = MlflowStandIn::start(StandInOptions {
        authorization: Some("Bearer right".to_owned()),
        ..StandInOptions::default()
    });
    let stderr = run_child(
        "server::a_refused_credential_is_reported_once",
        &[
            ("MLFLOW_TRACKING_URI", &server.url()),
            ("MLFLOW_TRACKING_TOKEN", "wr0ng-t0ken"),
        ],
    );
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("mlflow-tracing"))
        .collect();
    // The cause once: no line per failed batch, and no summary at exit of what the
    // flushes already returned.
    assert_eq!(reports.len(), 1, "{stderr}");
    assert!(
        reports[0].contains("ERROR")
            && reports[0].contains("401 from the server")
            && reports[0].contains("MLFLOW_TRACKING_TOKEN was rejected"),
        "{stderr}"
    );
    assert!(!stderr.contains("wr0ng"), "{stderr}");
    assert!(server.requests().len() <= 30);
}

#[test]
fn transient_failures_are_retried_honouring_retry_after() {
    let server = MlflowStandIn::start(StandInOptions::default());
    let busy = |status, retry_after: Option<&str>| Scripted {
        status,
        retry_after: retry_after.map(str::to_owned),
        body: "{\"error_code\": \"TEMPORARILY_UNAVAILABLE\", \"message\": \"busy\"}".into(),
    };
    server.script("/v1/traces", vec![busy(503, Some("1")), busy(502, None)]);
    server.script("/api/3.0/mlflow/traces", vec![busy(429, None)]);
    let tracing = server_pipeline(&server, &[]);
    tracing.in_scope(|| one_span("retried"));
    let start = Instant::now();
    tracing.flush().unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1"
    );
    let requests = server.wait_for_traces(1, Duration::from_secs(10));
    assert_eq!(
        calls(&requests),
        [
            "GET /version",
            "POST /v1/traces",
            "POST /v1/traces",
            "POST /v1/traces",
            "POST /api/3.0/mlflow/traces",
            "POST /api/3.0/mlflow/traces",
        ]
    );

    // Past MLFLOW_HTTP_REQUEST_MAX_RETRIES the trace fails, and is counted.
    let server = MlflowStandIn::start(StandInOptions::default());
    server.script("/v1/traces", (0..10).map(|_| busy(503, None)).collect());
    let tracing = server_pipeline(&server, &[("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")]);
    tracing.in_scope(|| one_span("lost"));
    let err = tracing.flush().unwrap_err().to_string();
    assert!(
        err.contains("HTTP 503") && err.contains("after 3 attempts"),
        "{err}"
    );
    assert!(err.contains("TEMPORARILY_UNAVAILABLE: busy"), "{err}");
    let requests = server.requests();
    assert_eq!(
        calls(&requests),
        [
            "GET /version",
            "POST /v1/traces",
            "POST /v1/traces",
            "POST /v1/traces"
        ],
        "no trace info without its spans"
    );
    assert_eq!(tracing.stats().destinations[0].failed, 1);
}

#[test]
fn an_unreachable_server_fails_the_batch_after_the_retries_and_the_caller_never_waits() {
    // A port that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    // Holds every connection, unanswered, until the test process ends.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let tracing = pipeline(&[
        ("MLFLOW_TRACKING_URI", &uri),
        ("MLFLOW_HTTP_REQUEST_TIMEOUT", "1"),
        ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"),
    ])
    .unwrap();
    let start = Instant::now();
    tracing.in_scope(|| {
        for i in 0..200 {
            one_span(&format!("t{i}"));
        }
    });
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "recording never waits for the server: {:?}",
        start.elapsed()
    );
    let err = tracing
        .flush_with_timeout(Duration::from_secs(20))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no answer from") && err.contains("MLFLOW_HTTP_REQUEST_TIMEOUT"),
        "{err}"
    );
    let stats = tracing.stats();
    assert_eq!(
        stats.destinations[0].failed + stats.destinations[0].exported,
        200
    );
    assert_eq!(stats.destinations[0].exported, 0);
}

#[test]
fn experiments_resolve_once_and_clear_errors_name_them() {
    // Deleted, by name.
    let server = MlflowStandIn::start(StandInOptions::default());
    server.add_experiment("gone", "7", true);
    let tracing = server_pipeline(&server, &[("MLFLOW_EXPERIMENT_NAME", "gone")]);
    tracing.in_scope(|| one_span("x"));
    let err = tracing.flush().unwrap_err().to_string();
    assert!(err.contains("experiment \"gone\" was deleted"), "{err}");
    // Unknown, by id.
    let tracing = server_pipeline(&server, &[("MLFLOW_EXPERIMENT_ID", "42")]);
    tracing.in_scope(|| one_span("x"));
    let err = tracing.flush().unwrap_err().to_string();
    assert!(err.contains("experiment 42 does not exist on"), "{err}");
    assert!(err.contains("MLFLOW_EXPERIMENT_ID"), "{err}");
    // Another process creates the experiment between our lookup and our create.
    let server = MlflowStandIn::start(StandInOptions::default());
    server.add_experiment("raced", "5", false);
    server.script(
        "/api/2.0/mlflow/experiments/get-by-name",
        vec![Scripted {
            status: 404,
            retry_after: None,
            body: json!({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"}).to_string(),
        }],
    );
    let tracing = server_pipeline(&server, &[("MLFLOW_EXPERIMENT_NAME", "raced")]);
    tracing.in_scope(|| one_span("x"));
    tracing.flush().unwrap();
    let requests = server.wait_for_traces(1, Duration::from_secs(10));
    assert_eq!(
        calls(&requests)[..3],
        [
            "GET /api/2.0/mlflow/experiments/get-by-name",
            "POST /api/2.0/mlflow/experiments/create",
            "GET /api/2.0/mlflow/experiments/get-by-name",
        ]
    );
    assert_eq!(requests[2].status, 200);
    assert_eq!(requests[4].header("x-mlflow-experiment-id"), Some("5"));
}

#[test]
fn tls_with_a_custom_ca_mutual_tls_and_explicit_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let files = certs().write_to(dir.path());
    let ca = files.ca.display().to_string();
    // Client certificate and key in one PEM file, as MLflow's client takes them.
    let both = dir.path().join("client.pem");
    std::fs::write(
        &both,
        format!("{}{}", certs().client_cert_pem, certs().client_key_pem),
    )
    .unwrap();
    let both = both.display().to_string();
    for (tls, vars, works) in [
        (
            Tls::Server,
            vec![("MLFLOW_TRACKING_SERVER_CERT_PATH", ca.as_str())],
            true,
        ),
        (Tls::Server, vec![], false),
        (
            Tls::Server,
            vec![("MLFLOW_TRACKING_INSECURE_TLS", "true")],
            true,
        ),
        (
            Tls::Mutual,
            vec![
                ("MLFLOW_TRACKING_SERVER_CERT_PATH", ca.as_str()),
                ("MLFLOW_TRACKING_CLIENT_CERT_PATH", both.as_str()),
            ],
            true,
        ),
        (
            Tls::Mutual,
            vec![("MLFLOW_TRACKING_SERVER_CERT_PATH", ca.as_str())],
            false,
        ),
    ] {
        let server = MlflowStandIn::start(StandInOptions {
            tls,
            ..StandInOptions::default()
        });
        let mut vars = vars.clone();
        vars.push(("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"));
        let tracing = server_pipeline(&server, &vars);
        tracing.in_scope(|| one_span("tls"));
        let result = tracing.flush();
        assert_eq!(result.is_ok(), works, "{tls:?} {vars:?}: {result:?}");
        if works {
            server.wait_for_traces(1, Duration::from_secs(10));
        }
    }
    // An https URL is never sent in plaintext, and bad files are named.
    let err = pipeline(&[
        ("MLFLOW_TRACKING_URI", "https://localhost:1"),
        ("MLFLOW_TRACKING_CLIENT_CERT_PATH", &ca),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("MLFLOW_TRACKING_CLIENT_CERT_PATH"), "{err}");
    let err = pipeline(&[
        ("MLFLOW_TRACKING_URI", "https://localhost:1"),
        ("MLFLOW_TRACKING_SERVER_CERT_PATH", "/nonexistent/ca.pem"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("MLFLOW_TRACKING_SERVER_CERT_PATH") && err.contains("/nonexistent/ca.pem"),
        "{err}"
    );
}

#[test]
fn dual_export_reaches_both_and_no_credential_crosses() {
    let receiver = Receiver::http(Tls::None, None);
    let server = MlflowStandIn::start(StandInOptions {
        authorization: Some("Bearer mlflow-s3cret".to_owned()),
        ..StandInOptions::default()
    });
    let endpoint = receiver.traces_endpoint();
    let tracing = server_pipeline(
        &server,
        &[
            ("MLFLOW_TRACKING_TOKEN", "mlflow-s3cret"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "authorization=Bearer otlp-s3cret,x-team=a",
            ),
            ("MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT", "true"),
            ("OTEL_BSP_SCHEDULE_DELAY", "10"),
        ],
    );
    assert_eq!(tracing.destinations().len(), 2);
    tracing.in_scope(|| {
        demo_traces::simple();
        demo_traces::nested();
    });
    tracing.flush().unwrap();
    let otlp = receiver.wait_for_spans(4, Duration::from_secs(10));
    let mlflow = server.wait_for_traces(2, Duration::from_secs(10));
    for request in &otlp {
        let headers = format!("{:?}", request.headers);
        assert!(!headers.contains("mlflow-s3cret"), "{headers}");
        assert_eq!(request.header("authorization"), Some("Bearer otlp-s3cret"));
    }
    for request in &mlflow {
        let headers = format!("{:?}", request.headers);
        assert!(
            !headers.contains("otlp-s3cret") && !headers.contains("x-team"),
            "{headers}"
        );
        assert_eq!(
            request.header("authorization"),
            Some("Bearer mlflow-s3cret")
        );
    }
    // Each destination in its own encoding: JSON text to the collector, typed to MLflow.
    let span_type =
        |request: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest| {
            let span = &request.resource_spans[0].scope_spans[0].spans[0];
            let kv = span
                .attributes
                .iter()
                .find(|kv| kv.key == "mlflow.spanType")
                .unwrap();
            typed(kv.value.as_ref().unwrap())["string"]
                .as_str()
                .unwrap()
                .to_owned()
        };
    let to_collector = otlp[0].request.as_ref().unwrap();
    assert!(span_type(to_collector).starts_with('"'));
    let to_mlflow = mlflow.iter().find_map(StandInRequest::otlp).unwrap();
    assert!(!span_type(&to_mlflow).starts_with('"'));
}

#[test]
fn one_destination_down_neither_slows_nor_loses_the_other() {
    // The collector stalls and fails; the MLflow server still gets every trace at once.
    let receiver = Receiver::http(Tls::None, None);
    receiver.script(vec![mlflow_tracing_test_support::Reply::Delay(
        Duration::from_secs(3),
    )]);
    let server = MlflowStandIn::start(StandInOptions::default());
    let (tracing, start) = dual_export_fifty_traces(&server, &receiver);
    server.wait_for_traces(50, Duration::from_secs(2));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    tracing.flush_with_timeout(Duration::from_secs(20)).unwrap();
    receiver.wait_for_spans(50, Duration::from_secs(10));

    // The MLflow server fails (retrying); the collector still gets every span at once.
    let receiver = Receiver::http(Tls::None, None);
    let server = MlflowStandIn::start(StandInOptions::default());
    let busy = Scripted {
        status: 503,
        retry_after: Some("1".into()),
        body: String::new(),
    };
    server.script("/v1/traces", vec![busy; 3]);
    let (tracing, start) = dual_export_fifty_traces(&server, &receiver);
    receiver.wait_for_spans(50, Duration::from_secs(2));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    tracing.flush_with_timeout(Duration::from_secs(20)).unwrap();
    server.wait_for_traces(50, Duration::from_secs(10));
    let stats = tracing.stats();
    assert!(
        stats.destinations.iter().all(|d| d.failed == 0),
        "{stats:?}"
    );
}

#[test]
fn doctor_checks_the_server_in_plain_words() {
    let server = MlflowStandIn::start(StandInOptions {
        authorization: Some("Bearer right".to_owned()),
        ..StandInOptions::default()
    });
    server.add_experiment("gone", "3", true);
    let diagnose = |vars: &[(&str, &str)]| {
        let uri = server.url();
        let mut all = vec![("MLFLOW_TRACKING_URI", uri.as_str())];
        all.extend_from_slice(vars);
        Tracing::builder().with_env(env(&all)).diagnose().unwrap()
    };
    let good = diagnose(&[
        ("MLFLOW_TRACKING_TOKEN", "right"),
        ("MLFLOW_EXPERIMENT_NAME", "new-one"),
    ]);
    let text = good.to_string();
    assert!(good.ok(), "{text}");
    assert!(text.contains("answers: MLflow 3.17.2"), "{text}");
    assert!(text.contains("spans go to /v1/traces"), "{text}");
    assert!(text.contains("MLFLOW_TRACKING_TOKEN accepted"), "{text}");
    assert!(text.contains("\"new-one\" does not exist yet"), "{text}");
    assert!(text.contains("bearer token <redacted>"), "{text}");
    assert!(!text.contains("right"), "{text}");
    let denied = diagnose(&[("MLFLOW_TRACKING_TOKEN", "wrong")]);
    let text = denied.to_string();
    assert!(!denied.ok());
    assert!(
        text.contains("401 from the server") && text.contains("MLFLOW_TRACKING_TOKEN was rejected"),
        "{text}"
    );
    let deleted = diagnose(&[
        ("MLFLOW_TRACKING_TOKEN", "right"),
        ("MLFLOW_EXPERIMENT_NAME", "gone"),
    ]);
    assert!(!deleted.ok());
    assert!(
        deleted
            .to_string()
            .contains("experiment \"gone\" was deleted"),
        "{deleted}"
    );
    // Nothing was logged or created.
    assert!(
        server.requests().iter().all(|r| r.method == "GET"),
        "{:?}",
        calls(&server.requests())
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let down = Tracing::builder()
        .with_env(env(&[
            ("MLFLOW_TRACKING_URI", &format!("http://127.0.0.1:{port}")),
            ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"),
        ]))
        .diagnose()
        .unwrap();
    assert!(!down.ok());
    assert!(down.to_string().contains("cannot connect to"), "{down}");
}

#[test]
fn configuration_errors_name_the_variable_and_hide_secrets() {
    for (var, value) in [
        ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "11"),
        ("MLFLOW_HTTP_REQUEST_TIMEOUT", "soon"),
        ("MLFLOW_TRACKING_INSECURE_TLS", "maybe"),
    ] {
        let err = pipeline(&[
            ("MLFLOW_TRACKING_URI", "http://localhost:5000"),
            (var, value),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains(var) && err.contains(value), "{err}");
    }
    let err = pipeline(&[("MLFLOW_TRACKING_URI", "https://u:s3cr3t@host/?x=1")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("MLFLOW_TRACKING_URI") && !err.contains("s3cr3t"),
        "{err}"
    );
}

#[test]
fn big_batches_are_split_into_requests_of_at_most_4_mib() {
    let server = MlflowStandIn::start(StandInOptions::default());
    let tracing = server_pipeline(&server, &[]);
    let big = "x".repeat(1536 * 1024);
    tracing.in_scope(|| {
        for i in 0..5 {
            let span = start_span(format!("big-{i}")).start();
            span.set_inputs(json!({"text": big}));
        }
    });
    tracing.flush().unwrap();
    let requests = server.wait_for_traces(5, Duration::from_secs(20));
    let spans: Vec<&StandInRequest> = requests
        .iter()
        .filter(|r| r.call() == "POST /v1/traces")
        .collect();
    assert!(spans.len() >= 2, "{:?}", calls(&requests));
    let total: usize = spans
        .iter()
        .map(|r| {
            r.otlp().unwrap().resource_spans[0].scope_spans[0]
                .spans
                .len()
        })
        .sum();
    assert_eq!(total, 5);
    assert!(
        spans.iter().all(|r| r.body.len() <= 4 * 1024 * 1024),
        "each request at most 4 MiB"
    );
}
