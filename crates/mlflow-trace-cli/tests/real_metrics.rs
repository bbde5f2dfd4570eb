//! The demo's span metrics in a real Prometheus-compatible store, VictoriaMetrics, started
//! here on a free loopback port: over OTLP/HTTP (protobuf) directly, and over gRPC through
//! the rotel collector; read back with PromQL, as a Prometheus or Grafana user would.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use support::{Rotel, VictoriaMetrics, backend_program, clean_command, run_demo};

/// What the demo records: one span of each kind (`foo`; `chain` with `llm` and the
/// failing `failing_tool`), by `span_type` and `span_status`.
fn demo_spans() -> BTreeMap<(String, String), f64> {
    [
        ("UNKNOWN", "OK"),
        ("CHAIN", "OK"),
        ("LLM", "OK"),
        ("TOOL", "ERROR"),
    ]
    .into_iter()
    .map(|(t, s)| ((t.to_owned(), s.to_owned()), 1.0))
    .collect()
}

/// The histogram's counts per span type and status for `service`, once they are all in.
fn counts(vm: &VictoriaMetrics, service: &str) -> BTreeMap<(String, String), f64> {
    let query = format!(
        "sum by (span_type, span_status) \
         (mlflow_trace_span_duration_milliseconds_count{{service_name=\"{service}\"}})"
    );
    vm.query_until(&query, |result| result.len() >= 4)
        .into_iter()
        .map(|(labels, value)| {
            let label = |k: &str| labels[k].as_str().unwrap().to_owned();
            ((label("span_type"), label("span_status")), value)
        })
        .collect()
}

fn victoria_metrics(dir: &std::path::Path) -> Option<VictoriaMetrics> {
    let program = backend_program("MLFLOW_TRACING_TEST_VICTORIA_METRICS", "VictoriaMetrics")?;
    Some(VictoriaMetrics::start(&program, dir))
}

#[test]
fn victoria_metrics_receives_the_demo_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let Some(vm) = victoria_metrics(dir.path()) else {
        return;
    };
    let endpoint = vm.otlp_endpoint();
    let (_, out) = run_demo(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
            ("OTEL_SERVICE_NAME", "demo-http"),
        ],
    );
    assert!(
        out.contains(&format!(
            "span metrics over OTLP/HTTP (protobuf) {endpoint}"
        )),
        "{out}"
    );
    // Traces still went to the MLflow store: metrics do not replace it.
    assert!(dir.path().join("mlflow.db").exists());
    assert_eq!(counts(&vm, "demo-http"), demo_spans());

    // The README's queries: latency percentiles per span type from the buckets, and the
    // error ratio per span type (here without rate(): a single export is stored).
    let p95 = vm.query(
        "histogram_quantile(0.95, sum by (le, span_type) \
         (mlflow_trace_span_duration_milliseconds_bucket{service_name=\"demo-http\"}))",
    );
    assert_eq!(p95.len(), 4, "{p95:?}");
    assert!(
        p95.iter().all(|(_, v)| v.is_finite() && *v >= 0.0),
        "{p95:?}"
    );
    let errors = vm.query(
        "sum by (span_type) (mlflow_trace_span_duration_milliseconds_count\
         {service_name=\"demo-http\", span_status=\"ERROR\"}) / sum by (span_type) \
         (mlflow_trace_span_duration_milliseconds_count{service_name=\"demo-http\"})",
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0["span_type"], "TOOL");
    assert_eq!(errors[0].1, 1.0);
    // Trace tags and metadata are labels; the root span is marked.
    let roots = vm.query(
        "sum by (span_type) (mlflow_trace_span_duration_milliseconds_count\
         {service_name=\"demo-http\", root=\"true\", tags_env=\"golden\"})",
    );
    assert_eq!(roots.len(), 1, "{roots:?}");
    assert_eq!(roots[0].0["span_type"], "CHAIN");

    // doctor shows the metrics destination and checks it.
    let output = clean_command(env!("CARGO_BIN_EXE_mlflow-trace"))
        .arg("doctor")
        .current_dir(dir.path())
        .env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint)
        .env("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "[OK] span metrics over OTLP/HTTP (protobuf) {endpoint}"
        )),
        "{text}"
    );
    assert!(
        text.contains("an empty export request was accepted"),
        "{text}"
    );
}

#[test]
fn rotel_relays_the_demo_over_grpc_to_victoria_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let Some(rotel_program) = backend_program("MLFLOW_TRACING_TEST_ROTEL", "the rotel collector")
    else {
        return;
    };
    let Some(vm) = victoria_metrics(dir.path()) else {
        return;
    };
    let rotel = Rotel::start_metrics(&rotel_program, &vm.otlp_endpoint(), dir.path());
    // gRPC is the default protocol, as in MLflow.
    let endpoint = format!("http://127.0.0.1:{}", rotel.grpc_port);
    let (_, out) = run_demo(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "demo-grpc"),
        ],
    );
    assert!(
        out.contains(&format!("span metrics over OTLP/gRPC {endpoint}")),
        "{out}"
    );
    assert_eq!(counts(&vm, "demo-grpc"), demo_spans());
}
