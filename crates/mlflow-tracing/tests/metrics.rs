//! Span metrics (`mlflow.trace.span.duration`) against in-process receivers: the wire
//! format compared with what MLflow's Python SDK sends, temporality, headers, gzip, JSON,
//! TLS, every routing mode (recorded once), the attributes kept, configuration errors
//! (traces go on), `doctor`, and the one meter provider per process.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use mlflow_tracing::{
    Destination, SpanType, Temporality, TraceUpdate, Tracing, TracingBuilder, start_span,
    update_current_trace,
};
use mlflow_tracing_test_support::{Receiver, Tls, certs};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, HistogramDataPoint, metric::Data,
};
use serde_json::{Value, json};

use crate::support::Captured;
use crate::support::child::{is_child, run_child};

const WAIT: Duration = Duration::from_secs(15);

use crate::demo_traces;

/// A builder configured only by `vars`, as if they were the environment.
fn builder(vars: &[(&str, &str)]) -> TracingBuilder {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Tracing::builder().with_env(move |k| map.get(k).cloned())
}

fn pipeline(vars: &[(&str, &str)]) -> Tracing {
    builder(vars).build().expect("pipeline")
}

/// `sqlite:///<dir>/mlflow.db`.
fn store_uri(dir: &tempfile::TempDir) -> String {
    format!("sqlite:///{}", dir.path().join("mlflow.db").display())
}

/// A store in a new directory (kept while the directory lives), and its URI.
fn new_store() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let uri = store_uri(&dir);
    (dir, uri)
}

/// The histogram's data points of a request, with the metric around them.
struct Points<'a> {
    scope: &'a str,
    name: &'a str,
    unit: &'a str,
    description: &'a str,
    temporality: i32,
    points: &'a [HistogramDataPoint],
}

fn histogram(request: &ExportMetricsServiceRequest) -> Points<'_> {
    let rm = &request.resource_metrics;
    assert_eq!(rm.len(), 1, "{request:?}");
    let sm = &rm[0].scope_metrics;
    assert_eq!(sm.len(), 1, "{request:?}");
    assert_eq!(sm[0].metrics.len(), 1, "{request:?}");
    let metric = &sm[0].metrics[0];
    let Some(Data::Histogram(h)) = &metric.data else {
        panic!("not a histogram: {metric:?}")
    };
    Points {
        scope: &sm[0].scope.as_ref().unwrap().name,
        name: &metric.name,
        unit: &metric.unit,
        description: &metric.description,
        temporality: h.aggregation_temporality,
        points: &h.data_points,
    }
}

/// A data point's attributes: key → (type, value).
fn attributes(point: &HistogramDataPoint) -> BTreeMap<String, (String, Value)> {
    point
        .attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => ("string".to_owned(), json!(s)),
                Some(any_value::Value::BoolValue(b)) => ("bool".to_owned(), json!(b)),
                other => ("other".to_owned(), json!(format!("{other:?}"))),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// `span_type/span_status/root` of a point, the key points are matched by.
fn point_key(attributes: &BTreeMap<String, (String, Value)>) -> String {
    let get = |k: &str| {
        attributes
            .get(k)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    format!(
        "{}/{}/root={}",
        get("span_type"),
        get("span_status"),
        get("root")
    )
}

/// Attributes whose values depend on the machine, the program or the checkout.
fn machine_dependent(key: &str) -> bool {
    key == "metadata.mlflow.user" || key.starts_with("metadata.mlflow.source.")
}

/// A request reduced to what must match the Python SDK: per point (by type, status,
/// root) the metric, scope, unit, description, temporality, bounds, count, and every
/// attribute's key and type (and value, unless machine-dependent).
fn canonical_ours(request: &ExportMetricsServiceRequest) -> (BTreeMap<String, Value>, Value) {
    let h = histogram(request);
    let temporality = AggregationTemporality::try_from(h.temporality)
        .map(|t| t.as_str_name().to_owned())
        .unwrap_or_default();
    let points = h
        .points
        .iter()
        .map(|p| {
            let attributes = attributes(p);
            let shown: BTreeMap<&String, Value> = attributes
                .iter()
                .map(|(k, (kind, v))| {
                    let v = if machine_dependent(k) {
                        json!("*")
                    } else {
                        v.clone()
                    };
                    (k, json!([kind, v]))
                })
                .collect();
            (
                point_key(&attributes),
                json!({
                    "scope": h.scope, "name": h.name, "unit": h.unit,
                    "description": h.description, "temporality": temporality,
                    "bounds": p.explicit_bounds, "buckets": p.bucket_counts.len(),
                    "count": p.count, "attributes": shown,
                }),
            )
        })
        .collect();
    let resource: BTreeMap<String, Value> = request.resource_metrics[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .filter(|kv| !kv.key.starts_with("telemetry.sdk.") && kv.key != "service.instance.id")
        .map(
            |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => (kv.key.clone(), json!(s)),
                other => (kv.key.clone(), json!(format!("{other:?}"))),
            },
        )
        .collect();
    (points, json!(resource))
}

/// The same reduction of a Python-SDK request (`MessageToDict` JSON).
fn canonical_python(body: &Value) -> (BTreeMap<String, Value>, Value) {
    let rm = &body["resourceMetrics"][0];
    let sm = &rm["scopeMetrics"][0];
    let metric = &sm["metrics"][0];
    let h = &metric["histogram"];
    let temporality = h["aggregationTemporality"].as_str().unwrap();
    let points = h["dataPoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let attributes: BTreeMap<String, (String, Value)> = p["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|kv| {
                    let (kind, v) = kv["value"].as_object().unwrap().iter().next().unwrap();
                    let kind = match kind.as_str() {
                        "stringValue" => "string",
                        "boolValue" => "bool",
                        _ => "other",
                    };
                    (
                        kv["key"].as_str().unwrap().to_owned(),
                        (kind.to_owned(), v.clone()),
                    )
                })
                .collect();
            let shown: BTreeMap<&String, Value> = attributes
                .iter()
                .map(|(k, (kind, v))| {
                    let v = if machine_dependent(k) {
                        json!("*")
                    } else {
                        v.clone()
                    };
                    (k, json!([kind, v]))
                })
                .collect();
            (
                point_key(&attributes),
                json!({
                    "scope": sm["scope"]["name"], "name": metric["name"], "unit": metric["unit"],
                    "description": metric["description"], "temporality": temporality,
                    "bounds": p["explicitBounds"],
                    "buckets": p["bucketCounts"].as_array().unwrap().len(),
                    "count": p["count"].as_str().unwrap().parse::<u64>().unwrap(),
                    "attributes": shown,
                }),
            )
        })
        .collect();
    let resource: BTreeMap<String, Value> = rm["resource"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|kv| {
            let key = kv["key"].as_str().unwrap();
            !key.starts_with("telemetry.sdk.") && key != "service.instance.id"
        })
        .map(|kv| {
            (
                kv["key"].as_str().unwrap().to_owned(),
                kv["value"]["stringValue"].clone(),
            )
        })
        .collect();
    (points, json!(resource))
}

fn python_capture() -> Vec<Value> {
    let path = format!(
        "{}/tests/fixtures/python-sdk-d_metrics_http.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_metrics_match_the_python_sdk() {
    let python = python_capture();
    for grpc in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let receiver = Receiver::new(grpc, Tls::None, None);
        // As in the capture: only the metrics endpoint is set, so traces go to the MLflow
        // store; the nested example runs twice, with a flush after the first run.
        let tracing = pipeline(&[
            ("MLFLOW_TRACKING_URI", &store_uri(&dir)),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                &receiver.metrics_endpoint(),
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", receiver.protocol()),
            ("OTEL_SERVICE_NAME", "svc"),
        ]);
        tracing.in_scope(demo_traces::nested);
        tracing.flush().unwrap();
        tracing.in_scope(demo_traces::nested);
        tracing.shutdown().unwrap();
        let requests = receiver.wait_for_metrics(2, WAIT);
        assert_eq!(
            requests.len(),
            2,
            "one request per flush, nothing more at shutdown"
        );
        for (ours, theirs) in requests.iter().zip(&python) {
            let (ours, our_resource) = canonical_ours(ours);
            let (theirs, their_resource) = canonical_python(theirs);
            assert_eq!(our_resource, their_resource, "grpc={grpc}: resource");
            assert_eq!(
                ours.keys().collect::<Vec<_>>(),
                theirs.keys().collect::<Vec<_>>(),
                "grpc={grpc}: points"
            );
            for (key, point) in &theirs {
                assert_eq!(&ours[key], point, "grpc={grpc}: point {key}");
            }
        }
        // Attributes in MLflow's order: root, span_type, span_status, experiment_id, then
        // the tags, then the metadata.
        for point in histogram(&requests[0]).points {
            let keys: Vec<&str> = point.attributes.iter().map(|kv| kv.key.as_str()).collect();
            assert_eq!(
                keys[..4],
                ["root", "span_type", "span_status", "experiment_id"]
            );
            let first_metadata = keys
                .iter()
                .position(|k| k.starts_with("metadata."))
                .unwrap();
            assert!(
                keys[4..first_metadata]
                    .iter()
                    .all(|k| k.starts_with("tags."))
            );
            assert!(
                keys[first_metadata..]
                    .iter()
                    .all(|k| k.starts_with("metadata."))
            );
        }
        let path = &receiver.requests()[0].path;
        if grpc {
            assert_eq!(
                path,
                "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
            );
        } else {
            assert_eq!(path, "/v1/metrics");
        }
    }
}

/// Runs the nested example, flushes, runs it again, flushes; returns the two requests.
fn two_exports(vars: &[(&str, &str)], receiver: &Receiver) -> Vec<ExportMetricsServiceRequest> {
    let (_dir, uri) = new_store();
    let mut vars = vars.to_vec();
    vars.push(("MLFLOW_TRACKING_URI", &uri));
    let tracing = pipeline(&vars);
    tracing.in_scope(demo_traces::nested);
    tracing.flush().unwrap();
    tracing.in_scope(demo_traces::nested);
    tracing.flush().unwrap();
    receiver.wait_for_metrics(2, WAIT)
}

/// Per point key: (count, start time, time).
fn counts(request: &ExportMetricsServiceRequest) -> BTreeMap<String, (u64, u64, u64)> {
    histogram(request)
        .points
        .iter()
        .map(|p| {
            let key = point_key(&attributes(p));
            (key, (p.count, p.start_time_unix_nano, p.time_unix_nano))
        })
        .collect()
}

#[test]
fn cumulative_by_default_delta_and_lowmemory_on_request() {
    let receiver = Receiver::http(Tls::None, None);
    let endpoint = receiver.metrics_endpoint();
    let requests = two_exports(
        &[
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        ],
        &receiver,
    );
    let (first, second) = (counts(&requests[0]), counts(&requests[1]));
    assert_eq!(
        histogram(&requests[1]).temporality,
        AggregationTemporality::Cumulative as i32
    );
    assert_eq!(first.len(), 3);
    for (key, (count, start, _)) in &second {
        assert_eq!(*count, 2, "{key}: counts since the start");
        assert_eq!(*start, first[key].1, "{key}: the same start");
    }

    for temporality in ["delta", "lowmemory"] {
        let receiver = Receiver::http(Tls::None, None);
        let endpoint = receiver.metrics_endpoint();
        let requests = two_exports(
            &[
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                    temporality,
                ),
            ],
            &receiver,
        );
        let (first, second) = (counts(&requests[0]), counts(&requests[1]));
        assert_eq!(
            histogram(&requests[1]).temporality,
            AggregationTemporality::Delta as i32,
            "{temporality}"
        );
        for (key, (count, start, _)) in &second {
            assert_eq!(
                *count, 1,
                "{temporality} {key}: counts since the last export"
            );
            assert_eq!(
                *start, first[key].2,
                "{temporality} {key}: starts at the last export"
            );
        }
    }

    // The builder wins over the environment.
    let (_dir, uri) = new_store();
    let receiver = Receiver::http(Tls::None, None);
    let tracing = builder(&[(
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "cumulative",
    )])
    .metrics_endpoint(receiver.metrics_endpoint())
    .metrics_protocol(mlflow_tracing::Protocol::HttpProtobuf)
    .metrics_temporality(Temporality::Delta)
    .tracking_uri(uri)
    .build()
    .unwrap();
    tracing.in_scope(|| drop(start_span("x").start()));
    tracing.flush().unwrap();
    let requests = receiver.wait_for_metrics(1, WAIT);
    assert_eq!(
        histogram(&requests[0]).temporality,
        AggregationTemporality::Delta as i32
    );
}

#[test]
fn headers_gzip_json_and_the_generic_endpoint() {
    let receiver = Receiver::http(Tls::None, None);
    // The generic endpoint: traces to /v1/traces, metrics to /v1/metrics; the metrics
    // variables win over the generic ones for metrics only.
    let tracing = pipeline(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.base_url()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api_key=generic"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
            "api_key=m%20etrics,x-extra=1",
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"),
    ]);
    tracing.in_scope(demo_traces::nested);
    tracing.flush().unwrap();
    receiver.wait_for_metrics(1, WAIT);
    receiver.wait_for_spans(3, WAIT);
    let requests = receiver.requests();
    let metrics = requests.iter().find(|r| r.metrics.is_some()).unwrap();
    assert_eq!(metrics.path, "/v1/metrics");
    assert_eq!(metrics.content_type.as_deref(), Some("application/json"));
    assert_eq!(metrics.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(metrics.header("api_key"), Some("m etrics"));
    assert_eq!(metrics.header("x-extra"), Some("1"));
    assert_eq!(metrics.point_count(), 3);
    let traces = requests.iter().find(|r| r.request.is_some()).unwrap();
    assert_eq!(traces.path, "/v1/traces");
    assert_eq!(traces.header("api_key"), Some("generic"));
    assert_eq!(traces.content_encoding, None);

    // gRPC: metadata and gzip.
    let (_dir, uri) = new_store();
    let receiver = Receiver::grpc(Tls::None, None);
    let tracing = pipeline(&[
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            &receiver.metrics_endpoint(),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
            "authorization=Bearer%20t0ken",
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"),
        ("MLFLOW_TRACKING_URI", &uri),
    ]);
    tracing.in_scope(|| drop(start_span("x").start()));
    tracing.flush().unwrap();
    receiver.wait_for_metrics(1, WAIT);
    let request = receiver.requests().remove(0);
    assert_eq!(request.header("authorization"), Some("Bearer t0ken"));
    assert_eq!(request.content_encoding.as_deref(), Some("gzip"));
}

#[test]
fn tls_with_a_custom_ca_and_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let certs = certs();
    let files = certs.write_to(dir.path());
    let ca = files.ca.display().to_string();
    let (cert, key) = (
        files.client_cert.display().to_string(),
        files.client_key.display().to_string(),
    );
    for grpc in [false, true] {
        // The metrics variables win over the generic ones.
        let receiver = Receiver::new(grpc, Tls::Server, Some(&certs));
        let endpoint = receiver.metrics_endpoint();
        assert!(endpoint.starts_with("https://"));
        let tracing = pipeline(&[
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", receiver.protocol()),
            ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", &ca),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/no/such/ca.pem"),
            ("MLFLOW_TRACKING_URI", &store_uri(&dir)),
        ]);
        tracing.in_scope(|| drop(start_span("over tls").start()));
        tracing.flush().unwrap();
        let requests = receiver.wait_for_metrics(1, WAIT);
        assert_eq!(histogram(&requests[0]).points.len(), 1, "grpc={grpc}");

        let mutual = Receiver::new(grpc, Tls::Mutual, Some(&certs));
        let tracing = pipeline(&[
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                &mutual.metrics_endpoint(),
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", mutual.protocol()),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca),
            ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", &cert),
            ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", &key),
            ("MLFLOW_TRACKING_URI", &store_uri(&dir)),
        ]);
        tracing.in_scope(|| drop(start_span("mutual").start()));
        tracing.flush().unwrap();
        mutual.wait_for_metrics(1, WAIT);
        assert!(mutual.requests()[0].client_certificate, "grpc={grpc}");
    }
}

#[test]
fn exported_every_interval_without_a_flush() {
    let (_dir, uri) = new_store();
    let receiver = Receiver::grpc(Tls::None, None);
    let endpoint = receiver.metrics_endpoint();
    let tracing = pipeline(&[
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
        ("MLFLOW_TRACKING_URI", &uri),
    ]);
    tracing.in_scope(|| drop(start_span("periodic").start()));
    // No flush: the periodic reader exports on its own (the span reaches the metrics
    // worker within the assembler's idle poll, well under a second).
    let requests = receiver.wait_for_metrics(2, WAIT);
    assert_eq!(recorded_spans(requests.last().unwrap()), 1);
    drop(tracing);
}

/// The points' total count: how many spans were recorded.
fn recorded_spans(request: &ExportMetricsServiceRequest) -> u64 {
    histogram(request).points.iter().map(|p| p.count).sum()
}

#[test]
fn every_routing_mode_records_each_span_once() {
    for mode in ["store", "otlp", "dual", "otlp disabled"] {
        let dir = tempfile::tempdir().unwrap();
        let (traces, metrics) = (
            Receiver::http(Tls::None, None),
            Receiver::http(Tls::None, None),
        );
        let uri = store_uri(&dir);
        let traces_endpoint = traces.traces_endpoint();
        let metrics_endpoint = metrics.metrics_endpoint();
        let mut vars = vec![
            ("MLFLOW_TRACKING_URI", uri.as_str()),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                metrics_endpoint.as_str(),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ];
        if mode != "store" {
            vars.push((
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                traces_endpoint.as_str(),
            ));
        }
        match mode {
            "dual" => vars.push(("MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT", "true")),
            "otlp disabled" => vars.push(("MLFLOW_ENABLE_OTLP_EXPORTER", "false")),
            _ => {}
        }
        let tracing = pipeline(&vars);
        let kinds: Vec<String> = tracing
            .destinations()
            .iter()
            .map(|d| match d {
                Destination::LocalStore { .. } => "store".to_owned(),
                Destination::Otlp { .. } => "otlp".to_owned(),
                Destination::OtlpMetrics { .. } => "metrics".to_owned(),
                other => other.to_string(),
            })
            .collect();
        let expected: &[&str] = match mode {
            "store" | "otlp disabled" => &["store", "metrics"],
            "otlp" => &["otlp", "metrics"],
            _ => &["otlp", "store", "metrics"],
        };
        assert_eq!(kinds, expected, "{mode}");
        tracing.in_scope(demo_traces::nested);
        tracing.flush().unwrap();
        let requests = metrics.wait_for_metrics(1, WAIT);
        assert_eq!(requests.len(), 1, "{mode}");
        assert_eq!(recorded_spans(&requests[0]), 3, "{mode}: each span once");
        if kinds.contains(&"otlp".to_owned()) {
            traces.wait_for_spans(3, WAIT);
        }
    }
}

/// The keys of every point of the request, in one set.
fn attribute_keys(request: &ExportMetricsServiceRequest) -> Vec<String> {
    let mut keys: Vec<String> = histogram(request)
        .points
        .iter()
        .flat_map(|p| attributes(p).into_keys())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn the_attributes_kept_are_configurable() {
    let (_dir, uri) = new_store();
    let receiver = Receiver::http(Tls::None, None);
    let endpoint = receiver.metrics_endpoint();
    let tracing = pipeline(&[
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        (
            "MLFLOW_TRACE_METRICS_ATTRIBUTES",
            "tags.env,metadata.mlflow.source.*",
        ),
        ("MLFLOW_TRACKING_URI", &uri),
    ]);
    tracing.in_scope(demo_traces::nested);
    tracing.flush().unwrap();
    let keys = attribute_keys(&receiver.wait_for_metrics(1, WAIT)[0]);
    assert_eq!(
        keys,
        [
            "experiment_id",
            "metadata.mlflow.source.git.branch",
            "metadata.mlflow.source.git.commit",
            "metadata.mlflow.source.git.repoURL",
            "metadata.mlflow.source.name",
            "metadata.mlflow.source.type",
            "root",
            "span_status",
            "span_type",
            "tags.env",
        ]
    );

    // None at all, in code (wins over the environment).
    let receiver = Receiver::http(Tls::None, None);
    let tracing = builder(&[("MLFLOW_TRACE_METRICS_ATTRIBUTES", "all")])
        .tracking_uri(uri)
        .metrics_endpoint(receiver.metrics_endpoint())
        .metrics_protocol(mlflow_tracing::Protocol::HttpProtobuf)
        .metrics_attributes(Vec::<String>::new())
        .build()
        .unwrap();
    tracing.in_scope(demo_traces::nested);
    tracing.flush().unwrap();
    let request = &receiver.wait_for_metrics(1, WAIT)[0];
    assert_eq!(
        attribute_keys(request),
        ["experiment_id", "root", "span_status", "span_type"]
    );
    // Without tags, the two runs' points fall into the same series per span type.
    assert_eq!(histogram(request).points.len(), 3);
}

#[test]
fn spans_carry_the_trace_as_it_stood_when_they_ended() {
    let (_dir, uri) = new_store();
    let receiver = Receiver::http(Tls::None, None);
    let endpoint = receiver.metrics_endpoint();
    let tracing = pipeline(&[
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        ("MLFLOW_TRACKING_URI", &uri),
        ("MLFLOW_EXPERIMENT_ID", "0"),
    ]);
    tracing.in_scope(|| {
        let _root = start_span("root").span_type(SpanType::Agent).start();
        drop(start_span("before").span_type(SpanType::Tool).start());
        update_current_trace(
            TraceUpdate::new()
                .tags([("phase", "late")])
                .session_id("s-1"),
        )
        .unwrap();
        drop(start_span("after").span_type(SpanType::Llm).start());
    });
    tracing.flush().unwrap();
    let request = &receiver.wait_for_metrics(1, WAIT)[0];
    let by_type: BTreeMap<String, BTreeMap<String, (String, Value)>> = histogram(request)
        .points
        .iter()
        .map(|p| {
            let a = attributes(p);
            (a["span_type"].1.as_str().unwrap().to_owned(), a)
        })
        .collect();
    assert!(!by_type["TOOL"].contains_key("tags.phase"));
    assert!(!by_type["TOOL"].contains_key("metadata.mlflow.trace.session"));
    for late in ["LLM", "AGENT"] {
        assert_eq!(by_type[late]["tags.phase"].1, "late", "{late}");
        assert_eq!(by_type[late]["metadata.mlflow.trace.session"].1, "s-1");
    }
    assert_eq!(by_type["AGENT"]["root"], ("bool".to_owned(), json!(true)));
    assert_eq!(by_type["LLM"]["root"], ("bool".to_owned(), json!(false)));
    assert_eq!(by_type["LLM"]["experiment_id"].1, "0");
    assert_eq!(by_type["LLM"]["tags.mlflow.traceName"].1, "root");
}

#[test]
fn the_experiment_id_is_the_configured_one() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::http(Tls::None, None);
    let endpoint = receiver.metrics_endpoint();
    // By name, with the store: looked up (created) there, as MLflow does.
    let tracing = pipeline(&[
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        ("MLFLOW_TRACKING_URI", &store_uri(&dir)),
        ("MLFLOW_EXPERIMENT_NAME", "metrics-test"),
    ]);
    tracing.in_scope(|| drop(start_span("named").start()));
    tracing.flush().unwrap();
    let request = &receiver.wait_for_metrics(1, WAIT)[0];
    let id = attributes(&histogram(request).points[0])["experiment_id"]
        .1
        .clone();
    let store =
        mlflow_tracing::local_store::LocalStore::open(dir.path().join("mlflow.db")).unwrap();
    let traces = store.list_traces(None, 10).unwrap();
    assert_eq!(json!(traces[0].info().experiment_id()), id);
    assert_ne!(id, "0");
}

#[test]
fn bad_configuration_is_reported_and_traces_go_on() {
    for (variable, value, expected) in [
        (
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
            "thrift",
            "one of grpc, http/protobuf, http/json",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "localhost 4318",
            "http:// or https://",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let traces = Receiver::http(Tls::None, None);
        let mut vars = vec![
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                traces.traces_endpoint(),
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "http/protobuf".to_owned(),
            ),
            ("MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT", "true".to_owned()),
            ("MLFLOW_TRACKING_URI", store_uri(&dir)),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://127.0.0.1:9/v1/metrics".to_owned(),
            ),
        ];
        vars.retain(|(k, _)| *k != variable);
        vars.push((variable, value.to_owned()));
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let captured = Captured::default();
        let tracing = tracing::subscriber::with_default(captured.subscriber(), || pipeline(&vars));
        let report = captured.text();
        assert!(
            report.contains("span metrics are off (traces are not affected)")
                && report.contains(variable)
                && report.contains(expected),
            "{report}"
        );
        assert!(
            !tracing
                .destinations()
                .iter()
                .any(|d| matches!(d, Destination::OtlpMetrics { .. })),
            "{variable}"
        );
        // Traces are exported as configured, to both destinations.
        tracing.in_scope(demo_traces::nested);
        tracing.flush().unwrap();
        traces.wait_for_spans(3, WAIT);
        let store =
            mlflow_tracing::local_store::LocalStore::open(dir.path().join("mlflow.db")).unwrap();
        assert_eq!(store.list_traces(None, 10).unwrap().len(), 1, "{variable}");
        // doctor says what is wrong.
        let diagnosis = builder(&vars).diagnose().unwrap();
        assert!(!diagnosis.ok());
        assert!(diagnosis.problems[0].contains(variable), "{diagnosis}");
        assert!(
            diagnosis
                .to_string()
                .contains("[PROBLEM] span metrics are off"),
            "{diagnosis}"
        );
    }
}

#[test]
fn doctor_shows_and_checks_the_metrics_destination() {
    let receiver = Receiver::http(Tls::None, None);
    let endpoint = receiver.metrics_endpoint();
    let vars = [
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "api_key=s3cr3t"),
        ("MLFLOW_TRACKING_URI", "sqlite:///does/not/matter.db"),
    ];
    let diagnosis = builder(&vars).diagnose().unwrap();
    let text = diagnosis.to_string();
    assert!(!text.contains("s3cr3t"), "{text}");
    for line in [
        &format!("metrics endpoint  {endpoint}  (env OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)"),
        "metrics headers  api_key=<redacted>",
        "metrics temporality  cumulative  (default)",
        "metrics export interval  60000 ms  (default)",
    ] {
        let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(squeezed.contains(&line), "{line:?} in\n{text}");
    }
    let check = diagnosis
        .destinations
        .iter()
        .find(|d| matches!(d.destination, Destination::OtlpMetrics { .. }))
        .unwrap();
    assert!(check.ok, "{text}");
    assert!(
        check
            .findings
            .iter()
            .any(|f| f.contains("an empty export request was accepted")),
        "{text}"
    );
    assert!(
        text.contains("span metrics over OTLP/HTTP (protobuf)"),
        "{text}"
    );
    // The check sent one empty metrics request, and recorded nothing.
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].point_count(), 0);

    // Nothing listening: a problem, in plain words.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let vars = [
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            &format!("http://127.0.0.1:{port}") as &str,
        ),
        ("MLFLOW_TRACKING_URI", "sqlite:///does/not/matter.db"),
    ];
    let diagnosis = builder(&vars).diagnose().unwrap();
    assert!(!diagnosis.ok());
    assert!(
        diagnosis.to_string().contains("connection refused"),
        "{diagnosis}"
    );
}

/// Threads of this process whose name starts with `prefix` (Linux).
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with(prefix))
                .count()
        })
        .unwrap_or(0)
}

/// The periodic reader's thread (`OpenTelemetry.Metrics.PeriodicReader`, cut to 15 bytes).
const READER_THREAD: &str = "OpenTelemetry.M";

#[test]
fn one_meter_provider_per_process_across_reconfigurations() {
    if is_child() {
        // The global pipeline, from the environment, rebuilt by set_tracking_uri and
        // set_experiment: one reader thread throughout, and cumulative counts go on.
        let dir = std::env::var("TEST_DIR").unwrap();
        for round in 0..4 {
            mlflow_tracing::set_tracking_uri(format!("sqlite:///{dir}/round{round}.db")).unwrap();
            if round == 3 {
                mlflow_tracing::set_experiment("other").unwrap();
            }
            drop(start_span("job").start());
            mlflow_tracing::flush().unwrap();
            assert_eq!(threads_named(READER_THREAD), 1, "round {round}");
        }
        // No flush: the exit hook exports the last span's metrics.
        drop(start_span("job").start());
        return;
    }
    assert_eq!(
        std::env::var("OTEL_METRICS_EXPORTER").ok(),
        None,
        "the parent must not have span metrics configured"
    );
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::http(Tls::None, None);
    run_child(
        "metrics::one_meter_provider_per_process_across_reconfigurations",
        &[
            ("TEST_DIR", dir.path().display().to_string()),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                receiver.metrics_endpoint(),
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
                "http/protobuf".to_owned(),
            ),
        ],
    );
    let requests = receiver.wait_for_metrics(5, WAIT);
    let last = requests.last().unwrap();
    // Every span of the five pipelines is in the last (cumulative) export: three in
    // experiment 0, then two in `other`.
    assert_eq!(recorded_spans(last), 5);
    let by_experiment: BTreeMap<String, u64> = histogram(last)
        .points
        .iter()
        .map(|p| {
            (
                attributes(p)["experiment_id"]
                    .1
                    .as_str()
                    .unwrap()
                    .to_owned(),
                p.count,
            )
        })
        .collect();
    assert_eq!(by_experiment["0"], 3, "{by_experiment:?}");
    assert_eq!(by_experiment.len(), 2, "{by_experiment:?}");
}

#[test]
fn a_bad_metrics_configuration_keeps_the_lazy_global_pipeline_tracing() {
    if is_child() {
        drop(start_span("still traced").start());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let stderr = run_child(
        "metrics::a_bad_metrics_configuration_keeps_the_lazy_global_pipeline_tracing",
        &[
            ("MLFLOW_TRACKING_URI", format!("sqlite:///{}", db.display())),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://127.0.0.1:9".to_owned(),
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "thrift".to_owned()),
        ],
    );
    assert!(
        stderr.contains("span metrics are off (traces are not affected)")
            && stderr.contains("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"),
        "{stderr}"
    );
    let store = mlflow_tracing::local_store::LocalStore::open(&db).unwrap();
    assert_eq!(store.list_traces(None, 10).unwrap().len(), 1);
}

#[test]
fn metrics_turned_on_in_code_work_with_destinations_added_in_code() {
    let receiver = Receiver::http(Tls::None, None);
    let traces = mlflow_tracing::testing::InMemoryTraces::new();
    // No destination from the configuration: only the in-memory one, and span metrics
    // because they are turned on in code.
    let tracing = crate::support::builder(&traces)
        .metrics(true)
        .metrics_endpoint(receiver.metrics_endpoint())
        .metrics_protocol(mlflow_tracing::Protocol::HttpProtobuf)
        .build()
        .unwrap();
    tracing.in_scope(demo_traces::nested);
    tracing.flush().unwrap();
    assert_eq!(traces.traces().len(), 1);
    assert_eq!(recorded_spans(&receiver.wait_for_metrics(1, WAIT)[0]), 3);
    let stats = tracing.stats();
    let metrics = stats
        .destinations
        .iter()
        .find(|d| matches!(d.destination, Destination::OtlpMetrics { .. }))
        .unwrap();
    assert_eq!((metrics.exported, metrics.failed), (3, 0));
    // Without `metrics(true)`, a metrics endpoint in code is configuration like the rest.
    let quiet = Receiver::http(Tls::None, None);
    let tracing = crate::support::builder(&traces)
        .metrics_endpoint(quiet.metrics_endpoint())
        .build()
        .unwrap();
    assert_eq!(tracing.destinations().len(), 1);
}

#[test]
fn failed_exports_are_retried_then_returned_by_flush() {
    let (_dir, uri) = new_store();
    let receiver = Receiver::http(Tls::None, None);
    // A transient failure is retried; a permanent one is returned by the flush, with the
    // header values scrubbed from what the receiver echoed.
    receiver.script(vec![
        mlflow_tracing_test_support::Reply::Http {
            status: 503,
            retry_after: Some("0".into()),
            body: "busy".into(),
        },
        mlflow_tracing_test_support::Reply::Ok,
        mlflow_tracing_test_support::Reply::Http {
            status: 400,
            retry_after: None,
            body: "bad token s3cr3t-t0ken".into(),
        },
    ]);
    let endpoint = receiver.metrics_endpoint();
    let tracing = pipeline(&[
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
            "authorization=s3cr3t-t0ken",
        ),
        ("MLFLOW_TRACKING_URI", &uri),
    ]);
    tracing.in_scope(|| drop(start_span("one").start()));
    tracing.flush().unwrap();
    assert_eq!(receiver.requests().len(), 2, "retried once");
    tracing.in_scope(|| drop(start_span("two").start()));
    let err = tracing.flush().unwrap_err().to_string();
    assert!(
        err.contains("span metrics over OTLP/HTTP (protobuf)") && err.contains("HTTP 400"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "{err}");
    // The traces themselves are fine.
    assert_eq!(tracing.stats().destinations[0].failed, 0);
}
