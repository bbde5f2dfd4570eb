//! A destination that is down, comes back, dies mid-run, or answers garbage: the caller
//! never waits on the network, flushes return within their bound, what can be delivered
//! within the retry budget is, and the rest is counted.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use mlflow_tracing::{FlushError, Protocol, Tracing, start_span};
use mlflow_tracing_test_support::{Receiver, Recorded};

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_pipeline(port: u16) -> Tracing {
    Tracing::builder()
        .with_env(|_| None)
        .otlp_endpoint(format!("http://127.0.0.1:{port}/v1/traces"))
        .otlp_protocol(Protocol::HttpProtobuf)
        .flush_timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Records `n` spans; returns how long the caller spent.
fn record(tracing: &Tracing, n: usize) -> Duration {
    let started = Instant::now();
    tracing.in_scope(|| {
        for i in 0..n {
            let span = start_span("work").start();
            span.set_inputs(i);
        }
    });
    started.elapsed()
}

fn spans_received(receiver: &Receiver) -> usize {
    receiver.requests().iter().map(Recorded::span_count).sum()
}

#[test]
fn a_destination_down_at_start_gets_what_waited_once_it_is_up() {
    let port = free_port();
    let tracing = http_pipeline(port);
    // Nothing listens: the caller does not wait for the network.
    let took = record(&tracing, 500);
    assert!(took < Duration::from_secs(10), "recording took {took:?}");
    // The receiver comes up while the export is being retried (backoff within the
    // 30 s export timeout).
    std::thread::sleep(Duration::from_millis(500));
    let receiver = Receiver::http_at(port);
    tracing.flush().unwrap();
    assert_eq!(spans_received(&receiver), 500);
    let stats = &tracing.stats().destinations[0];
    assert_eq!((stats.exported, stats.failed, stats.queued), (500, 0, 0));
}

#[test]
fn a_destination_killed_mid_run_gets_what_waited_once_it_is_back() {
    let receiver = Receiver::http(mlflow_tracing_test_support::Tls::None, None);
    let port = receiver.port();
    let tracing = http_pipeline(port);
    record(&tracing, 100);
    tracing.flush().unwrap();
    assert_eq!(spans_received(&receiver), 100);
    drop(receiver); // killed
    let took = record(&tracing, 100);
    assert!(took < Duration::from_secs(10), "recording took {took:?}");
    std::thread::sleep(Duration::from_millis(300));
    let back = Receiver::http_at(port);
    tracing.flush().unwrap();
    assert_eq!(spans_received(&back), 100);
    assert_eq!(tracing.stats().destinations[0].exported, 200);
}

/// A server that answers every connection with bytes that are not HTTP (or gRPC), then
/// closes it.
fn garbage_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"\x00\xffgarbage\r\n\r\n\x16\x03 not a protocol\n");
        }
    });
    port
}

#[test]
fn a_destination_answering_garbage_fails_within_the_bound_and_is_counted() {
    let port = garbage_server();
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        let tracing = Tracing::builder()
            .with_env(|k| (k == "OTEL_BSP_EXPORT_TIMEOUT").then(|| "2000".to_owned()))
            .otlp_endpoint(format!("http://127.0.0.1:{port}/v1/traces"))
            .otlp_protocol(protocol)
            .flush_timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        record(&tracing, 10);
        let started = Instant::now();
        let report = match tracing.flush() {
            Err(FlushError::Lost(report)) => report,
            other => panic!("{protocol}: expected the failure to be reported, got {other:?}"),
        };
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{protocol}: the flush took {:?}",
            started.elapsed()
        );
        let stats = &tracing.stats().destinations[0];
        assert_eq!(stats.lost.export_failed, 10, "{protocol}: {stats:?}");
        assert_eq!(stats.exported, 0);
        assert!(!report.errors.is_empty(), "{report}");
    }
}
