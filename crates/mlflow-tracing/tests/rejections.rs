//! What OTLP receivers refuse, and what becomes of it: requests over the receiver's size
//! limit are split, a span too large alone is counted; permanent statuses are not retried,
//! `RetryInfo` is honoured; spans a partial success rejects are counted; `doctor` reads
//! the kind of failure, never its text.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mlflow_tracing::{Destination, FlushError, Tracing, TracingBuilder, start_span};
use mlflow_tracing_test_support::{Receiver, Reply, Tls};

fn builder(vars: &[(&str, &str)]) -> TracingBuilder {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Tracing::builder().with_env(move |k| map.get(k).cloned())
}

/// A pipeline that sends to `receiver` only.
fn pipeline_to(receiver: &Receiver, extra: &[(&str, &str)]) -> Tracing {
    let endpoint = receiver.traces_endpoint();
    let mut vars = vec![
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", receiver.protocol()),
    ];
    vars.extend_from_slice(extra);
    builder(&vars).build().unwrap()
}

/// `count` one-span traces, each with an input of `input_bytes`.
fn spans(tracing: &Tracing, count: usize, input_bytes: usize) {
    tracing.in_scope(|| {
        for i in 0..count {
            let span = start_span(format!("span-{i}"))
                .inputs("x".repeat(input_bytes))
                .start();
            drop(span);
        }
    });
}

fn otlp_stats(tracing: &Tracing) -> (u64, u64) {
    let stats = tracing.stats();
    let otlp = stats
        .destinations
        .iter()
        .find(|d| matches!(d.destination, Destination::Otlp { .. }))
        .unwrap();
    (otlp.exported, otlp.failed)
}

#[test]
fn requests_over_the_receiver_s_limit_are_split_and_a_span_too_large_alone_is_counted() {
    // tonic's server refuses a message over its limit with OUT_OF_RANGE, grpc-go's with
    // RESOURCE_EXHAUSTED: either way the batch is split, never retried as it is.
    let receiver = Receiver::grpc_limited(64 * 1024);
    let tracing = pipeline_to(&receiver, &[("OTEL_BSP_SCHEDULE_DELAY", "60000")]);
    spans(&tracing, 40, 8 * 1024);
    spans(&tracing, 1, 200 * 1024);
    let err = tracing.flush().unwrap_err();
    let FlushError::Lost(report) = &err else {
        panic!("{err}")
    };
    assert!(
        err.to_string().contains("larger than the receiver accepts"),
        "{err}"
    );
    assert_eq!(report.destinations[0].lost.export_failed, 1, "{err}");
    assert_eq!(otlp_stats(&tracing), (40, 1));
    let delivered: usize = receiver.requests().iter().map(|r| r.span_count()).sum();
    assert_eq!(delivered, 40);
    // Halving 41 spans down to pieces under 64 KiB: a few dozen requests, no retries of a
    // refused one (each refused request is followed by its halves).
    let requests = receiver.requests().len();
    assert!(requests < 41 * 2, "{requests} requests");

    // HTTP 413 likewise: the halves go through.
    let receiver = Receiver::http(Tls::None, None);
    receiver.script(vec![Reply::Http {
        status: 413,
        retry_after: None,
        body: "request entity too large".into(),
    }]);
    let tracing = pipeline_to(&receiver, &[("OTEL_BSP_SCHEDULE_DELAY", "60000")]);
    spans(&tracing, 10, 100);
    tracing.flush().unwrap();
    assert_eq!(otlp_stats(&tracing), (10, 0));
    let counts: Vec<usize> = receiver.requests().iter().map(|r| r.span_count()).collect();
    assert_eq!(counts, [10, 5, 5], "the refused request, then its halves");
}

#[test]
fn permanent_grpc_statuses_are_not_retried_and_retry_info_is_honoured() {
    for code in [
        tonic::Code::InvalidArgument,
        tonic::Code::Unauthenticated,
        tonic::Code::Unknown,
        tonic::Code::ResourceExhausted,
    ] {
        let receiver = Receiver::grpc(Tls::None, None);
        receiver.script(vec![Reply::Grpc {
            code,
            message: "no".into(),
        }]);
        let tracing = pipeline_to(&receiver, &[]);
        spans(&tracing, 1, 10);
        let started = Instant::now();
        assert!(tracing.flush().is_err(), "{code:?}");
        assert_eq!(receiver.requests().len(), 1, "{code:?} is not retried");
        assert_eq!(otlp_stats(&tracing), (0, 1), "{code:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{code:?}");
    }

    // A throttling receiver that says when to come back is retried after that delay.
    let receiver = Receiver::grpc(Tls::None, None);
    receiver.script(vec![Reply::GrpcRetryInfo {
        code: tonic::Code::ResourceExhausted,
        message: "slow down".into(),
        retry_delay: Duration::from_millis(700),
    }]);
    let tracing = pipeline_to(&receiver, &[]);
    spans(&tracing, 3, 10);
    let started = Instant::now();
    tracing.flush().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(700));
    let counts: Vec<usize> = receiver.requests().iter().map(|r| r.span_count()).collect();
    assert_eq!(counts, [3, 3], "retried whole, after the delay");
    assert_eq!(otlp_stats(&tracing), (3, 0));
}

#[test]
fn spans_a_partial_success_rejects_are_counted_as_failed() {
    for (grpc, protocol) in [
        (false, "http/protobuf"),
        (false, "http/json"),
        (true, "grpc"),
    ] {
        let receiver = Receiver::new(grpc, Tls::None, None);
        receiver.script(vec![Reply::Partial {
            rejected: 2,
            message: "2 spans had invalid ids".into(),
        }]);
        let tracing = pipeline_to(
            &receiver,
            &[
                ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", protocol),
            ],
        );
        spans(&tracing, 5, 10);
        let err = tracing.flush().unwrap_err();
        let FlushError::Lost(report) = &err else {
            panic!("{err}")
        };
        assert_eq!(report.destinations[0].lost.export_failed, 2, "{err}");
        assert!(
            err.to_string().contains("rejected 2 of its 5 span(s)")
                && err.to_string().contains("invalid ids"),
            "{err}"
        );
        assert_eq!(otlp_stats(&tracing), (3, 2), "{protocol}");
        assert_eq!(receiver.requests().len(), 1, "not retried");
    }
}

/// The check of the OTLP destination in `doctor`'s diagnosis of `vars`.
fn check(vars: &[(&str, &str)]) -> (bool, String) {
    let mut vars = vars.to_vec();
    vars.push(("MLFLOW_TRACKING_URI", "sqlite:///does/not/matter.db"));
    let diagnosis = builder(&vars).diagnose().unwrap();
    let check = diagnosis
        .destinations
        .iter()
        .find(|d| matches!(d.destination, Destination::Otlp { .. }))
        .unwrap();
    (check.ok, check.findings.join("\n"))
}

#[test]
fn doctor_reads_the_kind_of_failure_not_its_text() {
    // gRPC sent to an OTLP/HTTP port.
    let http = Receiver::http(Tls::None, None);
    let (ok, text) = check(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &http.base_url()),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
    ]);
    assert!(!ok && text.contains("does not speak HTTP/2"), "{text}");

    // HTTP sent to an OTLP/gRPC port.
    let grpc = Receiver::grpc(Tls::None, None);
    let (ok, text) = check(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("{}/v1/traces", grpc.base_url()),
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ]);
    assert!(!ok && text.contains("HTTP sent to a gRPC port"), "{text}");

    // A receiver that refuses the empty request as invalid speaks OTLP/gRPC, whatever words
    // its message uses.
    let grpc = Receiver::grpc(Tls::None, None);
    grpc.script(vec![Reply::Grpc {
        code: tonic::Code::InvalidArgument,
        message: "invalid frame: h2 protocol error, connection reset".into(),
    }]);
    let (ok, text) = check(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &grpc.base_url())]);
    assert!(ok, "{text}");
    assert!(
        text.contains("refused an empty request as invalid") && !text.contains("HTTP/2"),
        "{text}"
    );

    // Refused credentials, over gRPC.
    let grpc = Receiver::grpc(Tls::None, None);
    grpc.script(vec![Reply::Grpc {
        code: tonic::Code::Unauthenticated,
        message: "who are you".into(),
    }]);
    let (ok, text) = check(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &grpc.base_url())]);
    assert!(!ok && text.contains("authentication refused"), "{text}");
}
