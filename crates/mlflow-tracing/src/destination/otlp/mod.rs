//! OTLP: spans to any OpenTelemetry backend, over gRPC or HTTP (protobuf or JSON).
//!
//! The transports are this crate's own, on `opentelemetry-proto` messages: they run on the
//! destination's worker thread (gRPC on a private single-threaded Tokio runtime), so export
//! works the same from a plain `fn main`, a multi-thread and a current-thread runtime, and
//! every standard variable (certificates and mutual TLS included) is honoured the same way
//! for both protocols. Transient failures are retried with exponential backoff and jitter,
//! honouring `Retry-After`, within `OTEL_BSP_EXPORT_TIMEOUT`.

mod encode;
#[cfg(feature = "otlp-grpc")]
mod grpc;
#[cfg(feature = "otlp-http")]
mod http;
mod tls;

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::{Batching, Destination, EndedSpan, ExportError, Granularity};
use crate::config::otlp::{OtlpSettings, Protocol};
use crate::diag;
use crate::error::BuildError;
pub(crate) use tls::TlsMaterial;

/// Exports one request. Implemented by the HTTP and gRPC transports: each encodes the
/// request once, then sends it under `retry`.
trait Transport: Send {
    fn export(
        &mut self,
        request: &ExportTraceServiceRequest,
        retry: &Retry,
    ) -> Result<(), SendError>;
}

/// A failed request: what went wrong (no secrets), whether trying again may help, and how
/// long the receiver asked us to wait.
#[derive(Debug)]
pub(crate) struct SendError {
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl SendError {
    fn permanent(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    fn transient(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        SendError {
            message: message.into(),
            retryable: true,
            retry_after,
        }
    }
}

/// The OTLP destination.
pub(crate) struct OtlpDestination {
    settings: OtlpSettings,
    resource: Resource,
    tls: TlsMaterial,
    transport: Option<Box<dyn Transport>>,
}

impl OtlpDestination {
    /// Checks everything that can be checked up front: the transport is compiled in, the
    /// TLS files are readable, https is not silently turned into plaintext.
    pub(crate) fn new(settings: OtlpSettings) -> Result<Self, BuildError> {
        let protocol = settings.protocol.value;
        #[cfg(not(feature = "otlp-grpc"))]
        if protocol == Protocol::Grpc {
            return Err(BuildError::FeatureDisabled {
                feature: "otlp-grpc",
                needed_for: "OTLP over gRPC (OTEL_EXPORTER_OTLP_PROTOCOL=grpc, the default)",
            });
        }
        #[cfg(not(feature = "otlp-http"))]
        if protocol.is_http() {
            return Err(BuildError::FeatureDisabled {
                feature: "otlp-http",
                needed_for: "OTLP over HTTP (http/protobuf, http/json)",
            });
        }
        let tls = TlsMaterial::load(&settings.tls)?;
        warn_on_port_mismatch(&settings.endpoint.value, settings.url.port(), protocol);
        let resource = encode::resource(&settings.resource, encode::instance_id());
        Ok(OtlpDestination {
            settings,
            resource,
            tls,
            transport: None,
        })
    }

    /// The transport, created on the export thread at first use.
    fn transport(&mut self) -> Result<&mut dyn Transport, ExportError> {
        let transport = match self.transport.take() {
            Some(transport) => transport,
            None => self.new_transport().map_err(ExportError::new)?,
        };
        Ok(self.transport.insert(transport).as_mut())
    }

    fn new_transport(&self) -> Result<Box<dyn Transport>, String> {
        Ok(match self.settings.protocol.value {
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => Box::new(grpc::GrpcTransport::new(&self.settings, &self.tls)?),
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                Box::new(http::HttpTransport::new(&self.settings, &self.tls)?)
            }
            #[allow(unreachable_patterns)]
            other => return Err(format!("{other} support is not compiled in")),
        })
    }
}

impl Destination for OtlpDestination {
    fn describe(&self) -> String {
        let protocol = match self.settings.protocol.value {
            Protocol::Grpc => "OTLP/gRPC",
            Protocol::HttpProtobuf => "OTLP/HTTP (protobuf)",
            Protocol::HttpJson => "OTLP/HTTP (JSON)",
        };
        format!("{protocol} {}", self.settings.endpoint.value)
    }

    fn granularity(&self) -> Granularity {
        Granularity::Spans
    }

    fn batching(&self) -> Batching {
        Batching {
            max_items: self.settings.batch.max_export_batch_size.value,
            max_delay: self.settings.batch.schedule_delay.value,
            max_queued: self.settings.batch.max_queue_size.as_ref().map(|s| s.value),
        }
    }

    fn check(&mut self) -> crate::diagnose::Check {
        let protocol = self.settings.protocol.value;
        let mut findings = Vec::new();
        match tcp_reachable(&self.settings.url, protocol) {
            Ok(address) => findings.push(format!("{address} accepts TCP connections")),
            Err(problem) => return Err(vec![problem]),
        }
        let transport = match self.transport() {
            Ok(transport) => transport,
            Err(err) => return Err(vec![err.to_string()]),
        };
        let empty = ExportTraceServiceRequest::default();
        match transport.export(&empty, &Retry::once(Duration::from_secs(5))) {
            Ok(()) => {
                findings.push(format!(
                    "it speaks {protocol}: an empty export request was accepted"
                ));
                Ok(findings)
            }
            Err(err) => match explain(protocol, &err.message) {
                Explanation::Fine(text) => {
                    findings.push(text);
                    Ok(findings)
                }
                Explanation::Problem(text) => {
                    findings.push(text);
                    Err(findings)
                }
            },
        }
    }

    fn export_spans(&mut self, spans: &[EndedSpan]) -> Result<(), ExportError> {
        let request = encode::request(&self.resource, spans);
        let retry = Retry {
            timeout: self.settings.timeout.value,
            deadline: Instant::now() + self.settings.batch.export_timeout.value,
            max_attempts: MAX_ATTEMPTS,
        };
        self.transport()?
            .export(&request, &retry)
            .map_err(|err| ExportError::new(err.message))
    }
}

/// First backoff; doubled after each retry up to `MAX_BACKOFF`, with ±25 % jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const MAX_ATTEMPTS: u32 = 6;

/// How a request is retried: each attempt bounded by `timeout`, all of them by
/// `deadline`.
pub(crate) struct Retry {
    timeout: Duration,
    deadline: Instant,
    max_attempts: u32,
}

impl Retry {
    /// One attempt, no retry.
    fn once(timeout: Duration) -> Self {
        Retry {
            timeout,
            deadline: Instant::now() + timeout,
            max_attempts: 1,
        }
    }

    /// Runs `attempt` (given its timeout) until it succeeds, fails for good, or the
    /// attempts or the time run out; transient failures wait with exponential backoff and
    /// jitter, or as long as the receiver's `Retry-After` asks.
    fn run(
        &self,
        mut attempt: impl FnMut(Duration) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 1;
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            let err = match attempt(self.timeout.min(left.max(Duration::from_millis(1)))) {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            let wait = err.retry_after.unwrap_or_else(|| jitter(backoff));
            let left = self.deadline.saturating_duration_since(Instant::now());
            if !err.retryable || attempts >= self.max_attempts || wait >= left {
                if attempts == 1 {
                    return Err(err);
                }
                return Err(SendError {
                    message: format!("{} (after {attempts} attempts)", err.message),
                    ..err
                });
            }
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(MAX_BACKOFF);
            attempts += 1;
        }
    }
}

fn jitter(d: Duration) -> Duration {
    // A cheap random factor in [0.75, 1.25) from the clock's nanoseconds.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d.mul_f64(0.75 + f64::from(nanos % 1000) / 2000.0)
}

/// One warning when the port looks like the other protocol's: HTTP sent to the gRPC port
/// 4317 fails with a protocol error, gRPC sent to the HTTP port 4318 likewise.
fn warn_on_port_mismatch(endpoint: &str, port: Option<u16>, protocol: Protocol) {
    let advice = match (protocol, port) {
        (Protocol::HttpProtobuf | Protocol::HttpJson, Some(4317)) => format!(
            "OTLP is set to {protocol} but the endpoint {endpoint} uses port 4317, the standard \
             OTLP/gRPC port: HTTP sent to a gRPC port fails. Set \
             OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc, or use the receiver's HTTP port (4318)"
        ),
        (Protocol::Grpc, Some(4318)) => format!(
            "OTLP is set to gRPC (MLflow's default protocol) but the endpoint {endpoint} uses \
             port 4318, the standard OTLP/HTTP port: gRPC sent to an HTTP port fails. Set \
             OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf, or use the receiver's gRPC port \
             (4317)"
        ),
        _ => return,
    };
    diag::warn(&format!("port-mismatch:{endpoint}"), || advice);
}

/// Warns when the receiver accepted a request but rejected some of its spans.
fn warn_on_partial_success(partial: Option<ExportTracePartialSuccess>) {
    let Some(partial) = partial.filter(|p| p.rejected_spans > 0) else {
        return;
    };
    let message: String = partial.error_message.chars().take(200).collect();
    diag::warn("otlp-partial", || {
        format!(
            "the OTLP receiver rejected {} span(s): {message}",
            partial.rejected_spans
        )
    });
}

/// Host and port a transport would connect to, checked with a plain TCP connection.
fn tcp_reachable(url: &url::Url, protocol: Protocol) -> Result<String, String> {
    use std::net::{TcpStream, ToSocketAddrs};
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let port = url
        .port_or_known_default()
        .unwrap_or(if protocol.is_http() { 4318 } else { 4317 });
    let addresses: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = String::new();
    for address in &addresses {
        match TcpStream::connect_timeout(address, Duration::from_secs(3)) {
            Ok(_) => return Ok(format!("{host}:{port}")),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = format!(
                    "nothing listens on {host}:{port} (connection refused): is the receiver running, on this port?"
                );
            }
            Err(e) => {
                last = format!(
                    "no connection to {host}:{port} within 3 s ({e}): wrong host, or a firewall?"
                )
            }
        }
    }
    Err(last)
}

enum Explanation {
    /// Not a success, but the receiver is there and speaks the protocol.
    Fine(String),
    Problem(String),
}

/// What a failed empty export request says about the receiver, in plain words.
fn explain(protocol: Protocol, message: &str) -> Explanation {
    let lower = message.to_ascii_lowercase();
    let status = |code: &str| lower.contains(&format!("answered http {code}"));
    if protocol.is_http() {
        if lower.contains("x-mlflow-experiment-id") {
            return Explanation::Problem(format!(
                "this is an MLflow tracking server: it needs the header x-mlflow-experiment-id \
                 (e.g. OTEL_EXPORTER_OTLP_TRACES_HEADERS=x-mlflow-experiment-id=0). It said: {message}"
            ));
        }
        if status("400") {
            return Explanation::Fine(format!(
                "it speaks OTLP/HTTP; it refused a request without spans, as MLflow's server does \
                 ({message})"
            ));
        }
        if status("401") || status("403") {
            return Explanation::Problem(format!(
                "authentication refused: check the headers in OTEL_EXPORTER_OTLP_TRACES_HEADERS / \
                 OTEL_EXPORTER_OTLP_HEADERS ({message})"
            ));
        }
        if status("404") || status("405") {
            return Explanation::Problem(format!(
                "no OTLP traces endpoint at this URL: OTLP/HTTP traces usually go to \
                 <base>/v1/traces (set OTEL_EXPORTER_OTLP_ENDPOINT to the base URL, and /v1/traces \
                 is added) ({message})"
            ));
        }
        if status("415") {
            let other = if protocol == Protocol::HttpJson {
                "http/protobuf"
            } else {
                "http/json"
            };
            return Explanation::Problem(format!(
                "the receiver does not accept {protocol} bodies; try \
                 OTEL_EXPORTER_OTLP_TRACES_PROTOCOL={other} ({message})"
            ));
        }
        if lower.contains("version") || lower.contains("parse") || lower.contains("frame") {
            return Explanation::Problem(format!(
                "HTTP sent to a gRPC port: the receiver does not answer HTTP/1.1. Set \
                 OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc, or use its HTTP port (usually 4318) \
                 ({message})"
            ));
        }
    } else {
        if lower.contains("unimplemented") {
            return Explanation::Problem(format!(
                "the server speaks gRPC but has no OTLP trace service: wrong port? ({message})"
            ));
        }
        if lower.contains("h2 protocol error")
            || lower.contains("http2 error")
            || lower.contains("frame")
            || lower.contains("invalid")
            || lower.contains("connection reset")
            || lower.contains("broken pipe")
        {
            return Explanation::Problem(format!(
                "gRPC sent to a port that does not speak HTTP/2, probably an OTLP/HTTP port. Set \
                 OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf, or use its gRPC port (usually \
                 4317) ({message})"
            ));
        }
    }
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("tls") {
        return Explanation::Problem(format!(
            "TLS failed: if the receiver's certificate is signed by a private CA, set \
             OTEL_EXPORTER_OTLP_CERTIFICATE to that CA's PEM file; for mutual TLS set \
             OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY; an http:// \
             endpoint means no TLS ({message})"
        ));
    }
    if lower.contains("no response") || lower.contains("timed out") || lower.contains("deadline") {
        return Explanation::Problem(format!(
            "the receiver accepted the connection but did not answer: {message}"
        ));
    }
    Explanation::Problem(message.to_owned())
}

/// Scrubs every configured header value from a message that may echo a request back.
pub(crate) fn scrub(mut message: String, headers: &[(String, String)]) -> String {
    for (_, value) in headers {
        if value.len() >= 3 {
            message = message.replace(value.as_str(), "<redacted>");
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays `results` (then succeeds), counting attempts.
    struct Scripted {
        results: Vec<Result<(), SendError>>,
        calls: u32,
    }

    impl Scripted {
        fn attempt(&mut self) -> Result<(), SendError> {
            self.calls += 1;
            if self.results.is_empty() {
                Ok(())
            } else {
                self.results.remove(0)
            }
        }
    }

    fn retry(deadline_ms: u64) -> Retry {
        Retry {
            timeout: Duration::from_secs(1),
            deadline: Instant::now() + Duration::from_millis(deadline_ms),
            max_attempts: MAX_ATTEMPTS,
        }
    }

    #[test]
    fn transient_failures_are_retried_until_success() {
        let mut t = Scripted {
            results: vec![
                Err(SendError::transient("503", Some(Duration::from_millis(5)))),
                Err(SendError::transient(
                    "unavailable",
                    Some(Duration::from_millis(5)),
                )),
            ],
            calls: 0,
        };
        assert!(retry(5_000).run(|_| t.attempt()).is_ok());
        assert_eq!(t.calls, 3);
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        let mut t = Scripted {
            results: vec![Err(SendError::permanent("HTTP 400"))],
            calls: 0,
        };
        let err = retry(5_000).run(|_| t.attempt()).unwrap_err();
        assert_eq!(err.message, "HTTP 400");
        assert_eq!(t.calls, 1);
    }

    #[test]
    fn retries_stop_at_the_deadline() {
        let mut t = Scripted {
            results: (0..100)
                .map(|_| Err(SendError::transient("503", Some(Duration::from_millis(40)))))
                .collect(),
            calls: 0,
        };
        let start = Instant::now();
        let err = retry(100).run(|_| t.attempt()).unwrap_err();
        assert!(start.elapsed() < Duration::from_millis(500));
        assert!(err.message.contains("attempts"), "{}", err.message);
        assert!(t.calls >= 2 && t.calls <= 4, "{}", t.calls);
    }

    #[test]
    fn secrets_are_scrubbed() {
        let headers = vec![("authorization".to_owned(), "Bearer s3cr3t".to_owned())];
        assert_eq!(
            scrub("echo: Bearer s3cr3t!".to_owned(), &headers),
            "echo: <redacted>!"
        );
    }
}
