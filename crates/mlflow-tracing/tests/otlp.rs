//! OTLP export against in-process receivers: the wire format (compared with what MLflow's
//! Python SDK sends), headers, compression, TLS and mutual TLS, retries, timeouts, queue
//! bounds, runtimes, configuration errors.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use mlflow_tracing::{Tracing, start_span};
use mlflow_tracing_test_support::{Receiver, Recorded, Reply, Tls, certs};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use serde_json::{Value, json};

use crate::support::Captured;

/// A pipeline configured only by `vars`, as if they were the environment.
fn pipeline(vars: &[(&str, &str)]) -> Result<Tracing, mlflow_tracing::BuildError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Tracing::builder()
        .with_env(move |k| map.get(k).cloned())
        .build()
}

use crate::demo_traces;

fn reference_traces() {
    demo_traces::simple();
    demo_traces::nested();
}

fn any_json(value: &AnyValue) -> (String, Value) {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => ("string".into(), json!(s)),
        Some(any_value::Value::IntValue(i)) => ("int".into(), json!(i)),
        Some(any_value::Value::DoubleValue(d)) => ("double".into(), json!(d)),
        Some(any_value::Value::BoolValue(b)) => ("bool".into(), json!(b)),
        other => ("other".into(), json!(format!("{other:?}"))),
    }
}

/// An attribute value for comparison: its type, and JSON text parsed (MLflow's encoding is
/// compared by meaning, not bytes); the MLflow trace id, which differs per run, masked.
fn canonical_value(kind: String, value: Value, trace_id_hex: &str) -> Value {
    let value = match &value {
        Value::String(s) => {
            let s = s.replace(trace_id_hex, "<trace id>");
            serde_json::from_str::<Value>(&s).unwrap_or(Value::String(s))
        }
        other => other.clone(),
    };
    json!({"type": kind, "value": value})
}

/// Spans by name, in a form both captures reduce to.
fn canonical_ours(
    requests: &[ExportTraceServiceRequest],
) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let mut spans = BTreeMap::new();
    let mut resource = BTreeMap::new();
    let mut names_by_id = HashMap::new();
    let all: Vec<_> = requests.iter().flat_map(|r| &r.resource_spans).collect();
    for rs in &all {
        for kv in &rs.resource.as_ref().unwrap().attributes {
            if !kv.key.starts_with("telemetry.sdk.") && kv.key != "service.instance.id" {
                resource.insert(kv.key.clone(), any_json(kv.value.as_ref().unwrap()).1);
            }
        }
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                names_by_id.insert(s.span_id.clone(), s.name.clone());
            }
        }
    }
    for rs in &all {
        for ss in &rs.scope_spans {
            let scope = ss.scope.as_ref().unwrap();
            for s in &ss.spans {
                let hex: String = s.trace_id.iter().map(|b| format!("{b:02x}")).collect();
                let attributes: BTreeMap<String, Value> = s
                    .attributes
                    .iter()
                    .map(|kv| {
                        let (kind, value) = any_json(kv.value.as_ref().unwrap());
                        (kv.key.clone(), canonical_value(kind, value, &hex))
                    })
                    .collect();
                let events: Vec<Value> = s
                    .events
                    .iter()
                    .map(|e| {
                        let attributes: BTreeMap<String, Value> = e
                            .attributes
                            .iter()
                            .filter(|kv| kv.key != "exception.stacktrace")
                            .map(|kv| {
                                let (kind, value) = any_json(kv.value.as_ref().unwrap());
                                (kv.key.clone(), json!({"type": kind, "value": value}))
                            })
                            .collect();
                        json!({"name": e.name, "attributes": attributes})
                    })
                    .collect();
                let status = s.status.as_ref().unwrap();
                let code = ["UNSET", "OK", "ERROR"][status.code as usize];
                spans.insert(
                    s.name.clone(),
                    json!({
                        "scope": {"name": scope.name, "version": scope.version},
                        "kind": s.kind, "flags": s.flags,
                        "parent": names_by_id.get(&s.parent_span_id),
                        "status": {"code": code, "message": status.message},
                        "attributes": attributes,
                        "events": events,
                    }),
                );
            }
        }
    }
    (spans, resource)
}

/// The same reduction of a Python-SDK capture (`MessageToDict` JSON).
fn canonical_python(bodies: &[Value]) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    use base64::Engine as _;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .unwrap_or_default()
    };
    let any = |v: &Value| -> (String, Value) {
        let (k, inner) = v.as_object().unwrap().iter().next().unwrap();
        match k.as_str() {
            "stringValue" => ("string".into(), inner.clone()),
            "intValue" => (
                "int".into(),
                json!(inner.as_str().unwrap().parse::<i64>().unwrap()),
            ),
            "doubleValue" => ("double".into(), inner.clone()),
            "boolValue" => ("bool".into(), inner.clone()),
            _ => ("other".into(), inner.clone()),
        }
    };
    let mut spans = BTreeMap::new();
    let mut resource = BTreeMap::new();
    let mut names_by_id = HashMap::new();
    let all: Vec<&Value> = bodies
        .iter()
        .flat_map(|b| b["resourceSpans"].as_array().unwrap())
        .collect();
    for rs in &all {
        for kv in rs["resource"]["attributes"].as_array().unwrap() {
            let key = kv["key"].as_str().unwrap();
            if !key.starts_with("telemetry.sdk.") && key != "service.instance.id" {
                resource.insert(key.to_owned(), any(&kv["value"]).1);
            }
        }
        for ss in rs["scopeSpans"].as_array().unwrap() {
            for s in ss["spans"].as_array().unwrap() {
                names_by_id.insert(b64(&s["spanId"]), s["name"].as_str().unwrap().to_owned());
            }
        }
    }
    for rs in &all {
        for ss in rs["scopeSpans"].as_array().unwrap() {
            for s in ss["spans"].as_array().unwrap() {
                let hex: String = b64(&s["traceId"])
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let attributes: BTreeMap<String, Value> = s["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|kv| {
                        let (kind, value) = any(&kv["value"]);
                        (
                            kv["key"].as_str().unwrap().to_owned(),
                            canonical_value(kind, value, &hex),
                        )
                    })
                    .collect();
                let events: Vec<Value> = s["events"]
                    .as_array()
                    .map(|events| {
                        events
                            .iter()
                            .map(|e| {
                                let attributes: BTreeMap<String, Value> = e["attributes"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .filter(|kv| kv["key"] != "exception.stacktrace")
                                    .map(|kv| {
                                        let (kind, value) = any(&kv["value"]);
                                        (
                                            kv["key"].as_str().unwrap().to_owned(),
                                            json!({"type": kind, "value": value}),
                                        )
                                    })
                                    .collect();
                                json!({"name": e["name"], "attributes": attributes})
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let code = s["status"]["code"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("STATUS_CODE_")
                    .to_owned();
                let parent = s.get("parentSpanId").map(|p| names_by_id[&b64(p)].clone());
                spans.insert(
                    s["name"].as_str().unwrap().to_owned(),
                    json!({
                        "scope": {"name": ss["scope"]["name"], "version": ss["scope"].get("version").cloned().unwrap_or(json!(""))},
                        "kind": if s["kind"] == "SPAN_KIND_INTERNAL" { 1 } else { -1 }, "flags": s["flags"],
                        "parent": parent,
                        "status": {"code": code, "message": s["status"].get("message").cloned().unwrap_or(json!(""))},
                        "attributes": attributes,
                        "events": events,
                    }),
                );
            }
        }
    }
    (spans, resource)
}

fn fixture(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/tests/fixtures/python-sdk-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn decoded(requests: &[Recorded]) -> Vec<ExportTraceServiceRequest> {
    requests.iter().filter_map(|r| r.request.clone()).collect()
}

#[test]
fn the_wire_format_matches_the_python_sdk() {
    for protocol in ["http/protobuf", "grpc"] {
        let receiver = Receiver::new(protocol == "grpc", Tls::None, None);
        let endpoint = receiver.traces_endpoint();
        let tracing = pipeline(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api_key=12345"),
            ("OTEL_SERVICE_NAME", "svc"),
        ])
        .unwrap();
        tracing.in_scope(reference_traces);
        tracing.flush().unwrap();
        let requests = receiver.wait_for_spans(4, Duration::from_secs(10));
        let (mut ours, our_resource) = canonical_ours(&decoded(&requests));
        // One difference on purpose: the LLM span (gpt-4o-mini in its inputs, token usage)
        // carries its cost, priced as MLflow's store prices it; MLflow 3.17's Python SDK
        // prices spans only for Databricks and SageMaker, and leaves it to the store.
        let cost = ours
            .get_mut("llm")
            .and_then(|s| s["attributes"].as_object_mut())
            .and_then(|a| a.remove("mlflow.llm.cost"));
        assert_eq!(
            cost,
            Some(json!({"type": "string", "value": {
                "input_cost": 1.8e-06, "output_cost": 4.2e-06, "total_cost": 5.999999999999999e-06}})),
            "{protocol}: the llm span's cost"
        );
        let mut python_bodies = fixture("a_http_simple");
        python_bodies.extend(fixture("c_nested_http_otel142"));
        let (python, python_resource) = canonical_python(&python_bodies);
        assert_eq!(our_resource, python_resource, "{protocol}: resource");
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            python.keys().collect::<Vec<_>>(),
            "{protocol}: span names"
        );
        for (name, span) in &python {
            assert_eq!(
                &ours[name], span,
                "{protocol}: span {name} differs from the Python SDK's"
            );
        }
        let first = &requests[0];
        assert_eq!(first.header("api_key"), Some("12345"), "{protocol}");
        if protocol == "grpc" {
            assert_eq!(
                first.path,
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
            );
        } else {
            assert_eq!(first.path, "/v1/traces");
            assert_eq!(
                first.content_type.as_deref(),
                Some("application/x-protobuf")
            );
        }
    }
}

#[test]
fn spans_go_as_recorded_with_their_cost() {
    // OTLP backends get a GenAI span as its instrumentation recorded it (only MLflow's
    // store translates it), plus its cost, priced for every destination.
    let receiver = Receiver::http(Tls::None, None);
    let endpoint = format!("{}/v1/traces", receiver.base_url());
    let tracing = pipeline(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ])
    .unwrap();
    tracing.in_scope(|| {
        let span = start_span("chat gpt-4o").start();
        span.set_otel_attribute(opentelemetry::KeyValue::new(
            "gen_ai.operation.name",
            "chat",
        ));
        span.set_otel_attribute(opentelemetry::KeyValue::new(
            "gen_ai.request.model",
            "gpt-4o",
        ));
        span.set_otel_attribute(opentelemetry::KeyValue::new(
            "gen_ai.usage.input_tokens",
            1000,
        ));
        span.set_otel_attribute(opentelemetry::KeyValue::new(
            "gen_ai.usage.output_tokens",
            100,
        ));
    });
    tracing.flush().unwrap();
    let request = decoded(&receiver.wait_for_spans(1, Duration::from_secs(10))).remove(0);
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    let attributes: BTreeMap<&str, (String, Value)> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.as_str(), any_json(kv.value.as_ref().unwrap())))
        .collect();
    assert_eq!(
        attributes["gen_ai.usage.input_tokens"],
        ("int".into(), json!(1000))
    );
    assert_eq!(attributes["mlflow.spanType"].1, json!("\"UNKNOWN\""));
    for translated in [
        "mlflow.llm.model",
        "mlflow.chat.tokenUsage",
        "mlflow.spanInputs",
    ] {
        assert!(
            !attributes.contains_key(translated),
            "{translated}: {attributes:?}"
        );
    }
    let cost: Value =
        serde_json::from_str(attributes["mlflow.llm.cost"].1.as_str().unwrap()).unwrap();
    assert_eq!(
        cost,
        json!({"input_cost": 0.0025, "output_cost": 0.001, "total_cost": 0.0035})
    );
}

#[test]
fn the_resource_names_this_sdk_and_the_service() {
    let receiver = Receiver::http(Tls::None, None);
    let endpoint = format!("{}/v1/traces", receiver.base_url());
    let tracing = pipeline(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=dev,team=a%20b",
        ),
    ])
    .unwrap();
    tracing.in_scope(|| drop(start_span("x").start()));
    tracing.flush().unwrap();
    let request = decoded(&receiver.wait_for_spans(1, Duration::from_secs(10))).remove(0);
    let attributes: BTreeMap<String, Value> = request.resource_spans[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| (kv.key.clone(), any_json(kv.value.as_ref().unwrap()).1))
        .collect();
    assert_eq!(attributes["telemetry.sdk.language"], "rust");
    assert_eq!(attributes["telemetry.sdk.name"], "mlflow-tracing");
    assert_eq!(
        attributes["telemetry.sdk.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(attributes["deployment.environment"], "dev");
    assert_eq!(attributes["team"], "a b");
    let service = attributes["service.name"].as_str().unwrap();
    assert!(service.starts_with("unknown_service:"), "{service}");
    let instance = attributes["service.instance.id"].as_str().unwrap();
    assert_eq!(instance.len(), 36);
    assert_eq!(&instance[14..15], "4", "a UUID v4: {instance}");
}

#[test]
fn generic_endpoint_json_headers_and_gzip() {
    let receiver = Receiver::http(Tls::None, None);
    let tracing = pipeline(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.base_url()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api_key=12345,x-other=b%20c"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
    ])
    .unwrap();
    tracing.in_scope(reference_traces);
    tracing.flush().unwrap();
    let requests = receiver.wait_for_spans(4, Duration::from_secs(10));
    // The generic endpoint receives the span metrics too (at /v1/metrics).
    let request = requests.iter().find(|r| r.request.is_some()).unwrap();
    assert_eq!(request.path, "/v1/traces");
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
    assert_eq!(request.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(request.header("api_key"), Some("12345"));
    assert_eq!(request.header("x-other"), Some("b c"));
    let (ours, _) = canonical_ours(&decoded(&requests));
    assert_eq!(
        ours["chain"]["attributes"]["mlflow.traceTag.env"]["value"],
        "golden"
    );
}

#[test]
fn grpc_metadata_and_gzip() {
    let receiver = Receiver::grpc(Tls::None, None);
    let tracing = pipeline(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("{}/v1/traces", receiver.base_url()),
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "authorization=Bearer%20t0ken",
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
    ])
    .unwrap();
    tracing.in_scope(|| drop(start_span("x").start()));
    tracing.flush().unwrap();
    let request = receiver
        .wait_for_spans(1, Duration::from_secs(10))
        .remove(0);
    assert_eq!(request.header("authorization"), Some("Bearer t0ken"));
    assert_eq!(request.content_encoding.as_deref(), Some("gzip"));
    // A path in a gRPC endpoint is ignored, as in MLflow.
    assert_eq!(
        request.path,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    );
}

#[test]
fn tls_with_a_custom_ca_and_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let certs = certs();
    let files = certs.write_to(dir.path());
    let (ca, client_cert, client_key, other_ca) = (
        files.ca.display().to_string(),
        files.client_cert.display().to_string(),
        files.client_key.display().to_string(),
        files.other_ca.display().to_string(),
    );
    for grpc in [false, true] {
        let kind = if grpc { "grpc" } else { "http/protobuf" };
        let receiver = Receiver::new(grpc, Tls::Server, Some(&certs));
        let endpoint = receiver.traces_endpoint();
        assert!(endpoint.starts_with("https://"));
        // Trusting the test CA: delivered.
        let tracing = pipeline(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", kind),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", &ca),
        ])
        .unwrap();
        tracing.in_scope(|| drop(start_span("trusted").start()));
        tracing.flush().unwrap();
        receiver.wait_for_spans(1, Duration::from_secs(10));
        // Trusting another CA: refused, reported, and nothing sent in plaintext.
        let tracing = pipeline(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", kind),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", &other_ca),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
        ])
        .unwrap();
        tracing.in_scope(|| drop(start_span("untrusted").start()));
        let err = tracing.flush().unwrap_err().to_string();
        assert!(
            err.to_lowercase().contains("certificate") || err.to_lowercase().contains("tls"),
            "{kind}: {err}"
        );
        assert_eq!(tracing.stats().destinations[0].failed, 1, "{kind}");
        assert_eq!(
            receiver.requests().len(),
            1,
            "{kind}: only the trusted request arrived"
        );

        // Mutual TLS: the client certificate is required.
        let mutual = Receiver::new(grpc, Tls::Mutual, Some(&certs));
        let endpoint = mutual.traces_endpoint();
        let tracing = pipeline(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", kind),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &client_cert),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &client_key),
        ])
        .unwrap();
        tracing.in_scope(|| drop(start_span("mutual").start()));
        tracing.flush().unwrap();
        let got = mutual.wait_for_spans(1, Duration::from_secs(10));
        assert!(
            got[0].client_certificate,
            "{kind}: the client certificate was presented"
        );
        let without = pipeline(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", kind),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
        ])
        .unwrap();
        without.in_scope(|| drop(start_span("anonymous").start()));
        assert!(
            without.flush().is_err(),
            "{kind}: mutual TLS without a client certificate must fail"
        );
        assert_eq!(
            mutual
                .requests()
                .iter()
                .filter(|r| r.span_count() > 0)
                .count(),
            1,
            "{kind}"
        );
    }
}

#[test]
fn https_never_falls_back_to_plaintext() {
    for grpc in [false, true] {
        let receiver = Receiver::new(grpc, Tls::None, None);
        let plain = receiver.base_url();
        let endpoint = plain.replace("http://", "https://");
        let tracing = pipeline(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", receiver.protocol()),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
        ])
        .unwrap();
        tracing.in_scope(|| drop(start_span("secret").start()));
        assert!(tracing.flush().is_err());
        assert!(
            receiver.requests().iter().all(|r| r.span_count() == 0),
            "plaintext was sent to {plain}"
        );
    }
}

#[test]
fn transient_failures_are_retried_honouring_retry_after() {
    let receiver = Receiver::http(Tls::None, None);
    receiver.script(vec![
        Reply::Http {
            status: 503,
            retry_after: Some("1".into()),
            body: String::new(),
        },
        Reply::Http {
            status: 429,
            retry_after: None,
            body: String::new(),
        },
    ]);
    let tracing = pipeline(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("{}/v1/traces", receiver.base_url()),
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ])
    .unwrap();
    tracing.in_scope(|| drop(start_span("retried").start()));
    let start = Instant::now();
    tracing.flush().unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(receiver.requests().len(), 3);
    assert_eq!(tracing.stats().destinations[0].exported, 1);

    // A permanent failure is not retried, and is reported without the server's secrets.
    let receiver = Receiver::http(Tls::None, None);
    receiver.script(vec![Reply::Http {
        status: 400,
        retry_after: None,
        body: "bad request for key s3cr3t".into(),
    }]);
    let tracing = pipeline(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("{}/v1/traces", receiver.base_url()),
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=s3cr3t"),
    ])
    .unwrap();
    tracing.in_scope(|| drop(start_span("rejected").start()));
    let err = tracing.flush().unwrap_err().to_string();
    assert!(err.contains("400"), "{err}");
    assert!(!err.contains("s3cr3t"), "{err}");
    assert_eq!(receiver.requests().len(), 1);

    // gRPC UNAVAILABLE is retried.
    let receiver = Receiver::grpc(Tls::None, None);
    receiver.script(vec![
        Reply::Grpc {
            code: tonic::Code::Unavailable,
            message: "busy".into(),
        },
        Reply::Grpc {
            code: tonic::Code::Unavailable,
            message: "busy".into(),
        },
    ]);
    let tracing =
        pipeline(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &receiver.base_url())]).unwrap();
    tracing.in_scope(|| drop(start_span("retried").start()));
    tracing.flush().unwrap();
    assert_eq!(receiver.requests().len(), 3);
}

#[test]
fn slow_receivers_time_out_and_the_export_is_bounded() {
    for grpc in [false, true] {
        let receiver = Receiver::new(grpc, Tls::None, None);
        receiver.script(vec![Reply::Delay(Duration::from_secs(3))]);
        let endpoint = receiver.traces_endpoint();
        let tracing = pipeline(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", receiver.protocol()),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "300"),
        ])
        .unwrap();
        tracing.in_scope(|| drop(start_span("slow").start()));
        // The first attempt times out after 300 ms and is retried; the second succeeds.
        tracing.flush().unwrap();
        assert!(receiver.requests().len() >= 2);

        let receiver = Receiver::new(grpc, Tls::None, None);
        receiver.script(
            (0..20)
                .map(|_| Reply::Delay(Duration::from_secs(3)))
                .collect(),
        );
        let endpoint = receiver.traces_endpoint();
        let tracing = pipeline(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", receiver.protocol()),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "200"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "800"),
        ])
        .unwrap();
        tracing.in_scope(|| drop(start_span("never").start()));
        let err = tracing
            .flush_with_timeout(Duration::from_secs(10))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no response"), "{err}");
        assert_eq!(tracing.stats().destinations[0].failed, 1);
    }
}

#[test]
fn a_burst_is_delivered_whole_in_batches() {
    let receiver = Receiver::grpc(Tls::None, None);
    let tracing =
        pipeline(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &receiver.base_url())]).unwrap();
    tracing.in_scope(|| {
        for i in 0..10_000 {
            let root = start_span("root").start();
            root.set_inputs(i);
            let _child = start_span("child").start();
        }
    });
    tracing.flush().unwrap();
    let requests = receiver.wait_for_spans(20_000, Duration::from_secs(30));
    assert!(
        requests.iter().all(|r| r.span_count() <= 512),
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
    );
    assert_eq!(tracing.stats().spans_dropped, 0);
    assert_eq!(tracing.stats().destinations[0].exported, 20_000);
}

#[test]
fn a_configured_queue_size_drops_and_counts() {
    let receiver = Receiver::http(Tls::None, None);
    let tracing = pipeline(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("{}/v1/traces", receiver.base_url()),
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
    ])
    .unwrap();
    tracing.in_scope(|| {
        for _ in 0..100 {
            drop(start_span("s").start());
        }
    });
    let report = match tracing.flush() {
        Err(mlflow_tracing::FlushError::Lost(report)) => report,
        other => panic!("expected the losses to be reported, got {other:?}"),
    };
    let stats = &tracing.stats().destinations[0];
    assert_eq!(stats.exported + stats.failed, 100);
    assert_eq!(stats.lost.over_queue_size, stats.failed);
    assert!(stats.failed >= 90 - 10, "{stats:?}");
    assert_eq!(report.destinations[0].lost, stats.lost);
    assert_eq!(
        receiver
            .requests()
            .iter()
            .map(Recorded::span_count)
            .sum::<usize>() as u64,
        stats.exported
    );
}

#[test]
fn export_works_from_every_kind_of_runtime() {
    for grpc in [false, true] {
        let receiver = Receiver::new(grpc, Tls::None, None);
        let vars = [
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                receiver.traces_endpoint(),
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                receiver.protocol().to_owned(),
            ),
        ];
        let build = move || {
            let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            pipeline(&vars).unwrap()
        };
        // A plain thread (fn main).
        let plain = build.clone();
        std::thread::spawn(move || {
            let tracing = plain();
            tracing.in_scope(|| drop(start_span("plain").start()));
            tracing.shutdown().unwrap();
        })
        .join()
        .unwrap();
        // Built, used and shut down inside a multi-thread runtime.
        let multi = build.clone();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let tracing = multi();
                let span = tracing.start_span("multi").instrument(async {
                    tokio::task::yield_now().await;
                });
                tokio::spawn(span).await.unwrap();
                tracing.flush_async().await.unwrap();
                tracing.shutdown().unwrap();
            });
        // Built, used and shut down on a current-thread runtime, blocking calls included.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let tracing = build();
                tracing
                    .start_span("current")
                    .instrument(async { tokio::task::yield_now().await })
                    .await;
                tracing.flush().unwrap();
                drop(tracing);
            });
        let requests = receiver.wait_for_spans(3, Duration::from_secs(10));
        let mut names: Vec<String> = decoded(&requests)
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.name.clone())
            .collect();
        names.sort();
        assert_eq!(names, ["current", "multi", "plain"], "grpc={grpc}");
    }
}

#[test]
fn dual_export_writes_the_store_and_sends_otlp() {
    let receiver = Receiver::http(Tls::None, None);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let uri = format!("sqlite:///{}", db.display());
    let tracing = pipeline(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("{}/v1/traces", receiver.base_url()),
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ("MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT", "true"),
        ("MLFLOW_TRACKING_URI", &uri),
    ])
    .unwrap();
    assert_eq!(tracing.destinations().len(), 2);
    tracing.in_scope(reference_traces);
    tracing.flush().unwrap();
    let (ours, _) = canonical_ours(&decoded(
        &receiver.wait_for_spans(4, Duration::from_secs(10)),
    ));
    assert_eq!(
        ours["chain"]["attributes"]["mlflow.traceTag.team"]["value"],
        "anchors"
    );
    let store = mlflow_tracing::local_store::LocalStore::open(&db).unwrap();
    let listed = store.list_traces(None, 10).unwrap();
    assert_eq!(listed.len(), 2);
    let chain = listed
        .iter()
        .find(|t| t.info().name() == Some("chain"))
        .unwrap();
    assert_eq!(chain.info().tags()["env"], "golden");
    // The store's copy has no mlflow.traceTag.* attributes: there they are tags.
    let trace = store.get_trace(chain.info().trace_id()).unwrap().unwrap();
    assert!(
        trace
            .root_span()
            .unwrap()
            .raw_attribute("mlflow.traceTag.env")
            .is_none()
    );
}

#[test]
fn dual_export_copies_are_held_within_the_memory_bound() {
    // The OTLP receiver stalls; the store finishes at once. The spans waiting for OTLP
    // still hold queue memory; past the bound spans (or OTLP's copies) are dropped, and
    // every one is counted.
    let receiver = Receiver::http(Tls::None, None);
    receiver.script(vec![Reply::Delay(Duration::from_secs(2))]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let uri = format!("sqlite:///{}", db.display());
    let tracing = Tracing::builder()
        .with_env({
            let endpoint = receiver.traces_endpoint();
            move |k| match k {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" => Some(endpoint.clone()),
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" => Some("http/protobuf".into()),
                "OTEL_BSP_SCHEDULE_DELAY" => Some("0".into()),
                "MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT" => Some("true".into()),
                "MLFLOW_TRACKING_URI" => Some(uri.clone()),
                _ => None,
            }
        })
        .max_queue_bytes(20_000)
        .build()
        .unwrap();
    let store = || mlflow_tracing::local_store::LocalStore::open(&db);
    tracing.in_scope(|| drop(start_span("first").start()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while store().map_or(0, |s| s.list_traces(None, 10).unwrap().len()) < 1 {
        assert!(Instant::now() < deadline, "the store did not get the trace");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the store's worker drop its batch (the receiver stalls for 2 s).
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        tracing.stats().queued_bytes > 0,
        "the span waiting for OTLP holds memory: {:?}",
        tracing.stats()
    );
    tracing.in_scope(|| {
        for i in 0..40 {
            let span = start_span("more").start();
            span.set_inputs("x".repeat(400 + i));
        }
    });
    let _ = tracing.flush_with_timeout(Duration::from_secs(20));
    let stats = tracing.stats();
    let otlp = stats
        .destinations
        .iter()
        .find(|d| d.unit == mlflow_tracing::Unit::Spans)
        .unwrap();
    // Every span is accounted for: sent over OTLP, its copy dropped (failed), dropped
    // when it ended because the queue was full, or never recorded because the queue was
    // full when its trace started.
    let refused = stats.spans_dropped + stats.traces_not_started;
    assert_eq!(otlp.exported + otlp.failed + refused, 41, "{stats:?}");
    let stored = store().unwrap().list_traces(None, 100).unwrap().len() as u64;
    assert_eq!(stored + refused, 41, "{stats:?}");
    assert_eq!(stats.queued_bytes, 0);
}

#[test]
fn configuration_errors_name_the_variable() {
    let err = pipeline(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://localhost:4317",
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            "/nonexistent/ca.pem",
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE")
            && err.contains("/nonexistent/ca.pem"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let err = pipeline(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://localhost:4317"),
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            &not_pem.display().to_string(),
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("OTEL_EXPORTER_OTLP_CERTIFICATE") && err.contains("CERTIFICATE block"),
        "{err}"
    );
    let err = pipeline(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api_key"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{err}");
    let err = pipeline(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{err}");
}

#[test]
fn a_port_of_the_other_protocol_gets_one_warning() {
    let log = Captured::default();
    tracing::subscriber::with_default(log.subscriber(), || {
        for _ in 0..2 {
            drop(pipeline(&[
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://127.0.0.1:4317/v1/traces",
                ),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            ]));
        }
        drop(pipeline(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://127.0.0.1:4318",
        )]));
    });
    let log = log.text();
    assert_eq!(
        log.matches("HTTP sent to a gRPC port fails").count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("gRPC sent to an HTTP port fails").count(),
        1,
        "{log}"
    );
}
