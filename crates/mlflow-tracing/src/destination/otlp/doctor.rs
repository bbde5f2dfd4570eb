//! `doctor`'s check of an OTLP receiver: is something listening, does it speak the
//! configured protocol, and if not, what that probably means, in plain words.

use std::time::Duration;

use super::transport::{OtlpRequest, Transport};
use crate::config::otlp::{OtlpSettings, Protocol};
use crate::config::signal::Signal;
use crate::destination::Check;
use crate::destination::failure::{Failure, GrpcCode};
use crate::destination::retry::{Retry, SendError};

/// Connects, then sends an empty export request of the signal, and explains what came
/// back.
pub(crate) fn check<R: OtlpRequest>(
    settings: &OtlpSettings,
    transport: Result<&mut dyn Transport<R>, String>,
) -> Check {
    let (url, protocol) = (&settings.url, settings.protocol.value);
    let mut findings = Vec::new();
    match tcp_reachable(url, protocol) {
        Ok(address) => findings.push(format!("{address} accepts TCP connections")),
        Err(problem) => return Err(vec![problem]),
    }
    let transport = match transport {
        Ok(transport) => transport,
        Err(err) => return Err(vec![err]),
    };
    let empty = R::default();
    match transport.export(&empty, &Retry::once(Duration::from_secs(5))) {
        Ok(_) => {
            findings.push(format!(
                "it speaks {protocol}: an empty export request was accepted"
            ));
            Ok(findings)
        }
        Err(err) => match explain(settings.signal, protocol, &err) {
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

/// What a failed empty export request says about the receiver, in plain words: read from
/// the kind of failure (status code, error type), never from the message.
fn explain(signal: Signal, protocol: Protocol, err: &SendError) -> Explanation {
    let message = err.message();
    let (what, path, vars) = (signal.name(), signal.http_path(), signal.vars());
    let (headers, protocol_var) = (vars.headers, vars.protocol);
    let problem = |text: String| Explanation::Problem(format!("{text} ({message})"));
    match err.failure() {
        // MLflow's server names the header it misses; only a hint, the status decides.
        Failure::Http(400 | 422) if message.contains("x-mlflow-experiment-id") => problem(format!(
            "this is an MLflow tracking server: it needs the header x-mlflow-experiment-id \
             (e.g. {headers}=x-mlflow-experiment-id=0)"
        )),
        Failure::Http(400 | 422) => Explanation::Fine(format!(
            "it speaks OTLP/HTTP; it refused an empty request, as MLflow's server does \
             ({message})"
        )),
        Failure::Grpc(GrpcCode::InvalidArgument) => Explanation::Fine(format!(
            "it speaks OTLP/gRPC; it refused an empty request as invalid ({message})"
        )),
        Failure::Http(401 | 403)
        | Failure::Grpc(GrpcCode::Unauthenticated | GrpcCode::PermissionDenied) => {
            problem(format!(
                "authentication refused: check the headers in {headers} / \
                 OTEL_EXPORTER_OTLP_HEADERS"
            ))
        }
        Failure::Http(404 | 405) => problem(format!(
            "no OTLP {what} endpoint at this URL: OTLP/HTTP {what} usually go to \
             <base>{path} (set OTEL_EXPORTER_OTLP_ENDPOINT to the base URL, and {path} is \
             added)"
        )),
        Failure::Http(415) => {
            let other = if protocol == Protocol::HttpJson {
                "http/protobuf"
            } else {
                "http/json"
            };
            problem(format!(
                "the receiver does not accept {protocol} bodies; try {protocol_var}={other}"
            ))
        }
        Failure::Grpc(GrpcCode::Unimplemented) => problem(format!(
            "the server speaks gRPC but has no OTLP {what} service: wrong port?"
        )),
        Failure::WrongProtocol | Failure::Closed if protocol.is_http() => problem(format!(
            "HTTP sent to a gRPC port: the receiver does not answer HTTP/1.1. Set \
             {protocol_var}=grpc, or use its HTTP port (usually 4318)"
        )),
        Failure::WrongProtocol | Failure::Closed => problem(format!(
            "gRPC sent to a port that does not speak HTTP/2, probably an OTLP/HTTP port. Set \
             {protocol_var}=http/protobuf, or use its gRPC port (usually 4317)"
        )),
        Failure::Tls => problem(
            "TLS failed: if the receiver's certificate is signed by a private CA, set \
             OTEL_EXPORTER_OTLP_CERTIFICATE to that CA's PEM file; for mutual TLS set \
             OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY; an \
             http:// endpoint means no TLS"
                .to_owned(),
        ),
        Failure::Timeout => Explanation::Problem(format!(
            "the receiver accepted the connection but did not answer: {message}"
        )),
        Failure::Connect
        | Failure::Http(_)
        | Failure::Grpc(_)
        | Failure::TooLarge
        | Failure::Other => Explanation::Problem(message.to_owned()),
    }
}
