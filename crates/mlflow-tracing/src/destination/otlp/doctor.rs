//! `doctor`'s check of an OTLP receiver: is something listening, does it speak the
//! configured protocol, and if not, what that probably means, in plain words.

use std::time::Duration;

use super::transport::{OtlpRequest, Transport};
use crate::config::otlp::{OtlpSettings, Protocol};
use crate::config::signal::Signal;
use crate::destination::Check;
use crate::destination::retry::Retry;

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
        Ok(()) => {
            findings.push(format!(
                "it speaks {protocol}: an empty export request was accepted"
            ));
            Ok(findings)
        }
        Err(err) => match explain(settings.signal, protocol, err.message()) {
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

/// What a failed empty export request says about the receiver, in plain words.
fn explain(signal: Signal, protocol: Protocol, message: &str) -> Explanation {
    let lower = message.to_ascii_lowercase();
    let status = |code: &str| lower.contains(&format!("answered http {code}"));
    let (what, path, vars) = (signal.name(), signal.http_path(), signal.vars());
    let (headers, protocol_var) = (vars.headers, vars.protocol);
    if protocol.is_http() {
        if lower.contains("x-mlflow-experiment-id") {
            return Explanation::Problem(format!(
                "this is an MLflow tracking server: it needs the header x-mlflow-experiment-id \
                 (e.g. {headers}=x-mlflow-experiment-id=0). It said: {message}"
            ));
        }
        if status("400") {
            return Explanation::Fine(format!(
                "it speaks OTLP/HTTP; it refused an empty request, as MLflow's server does \
                 ({message})"
            ));
        }
        if status("401") || status("403") {
            return Explanation::Problem(format!(
                "authentication refused: check the headers in {headers} / \
                 OTEL_EXPORTER_OTLP_HEADERS ({message})"
            ));
        }
        if status("404") || status("405") {
            return Explanation::Problem(format!(
                "no OTLP {what} endpoint at this URL: OTLP/HTTP {what} usually go to \
                 <base>{path} (set OTEL_EXPORTER_OTLP_ENDPOINT to the base URL, and {path} \
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
                 {protocol_var}={other} ({message})"
            ));
        }
        if lower.contains("version") || lower.contains("parse") || lower.contains("frame") {
            return Explanation::Problem(format!(
                "HTTP sent to a gRPC port: the receiver does not answer HTTP/1.1. Set \
                 {protocol_var}=grpc, or use its HTTP port (usually 4318) ({message})"
            ));
        }
    } else {
        if lower.contains("unimplemented") {
            return Explanation::Problem(format!(
                "the server speaks gRPC but has no OTLP {what} service: wrong port? ({message})"
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
                 {protocol_var}=http/protobuf, or use its gRPC port (usually 4317) ({message})"
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
