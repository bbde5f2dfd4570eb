//! [`Destination`]: where a pipeline sends traces, as configured.

use std::fmt;

use super::{Experiment, Protocol, TrackingUri};

/// A place a pipeline sends traces (or span metrics) to; see
/// [`Tracing::destinations`](crate::Tracing::destinations).
///
/// Displays as one line, e.g. `MLflow SQLite store sqlite:////app/mlflow.db (experiment 0)`,
/// `MLflow tracking server http://mlflow:5000 (experiment "agents")`,
/// `OTLP/gRPC http://localhost:4317` or `span metrics over OTLP/HTTP (protobuf)
/// http://localhost:9090/api/v1/otlp/v1/metrics`. It never shows a secret (header values
/// are not part of it; credentials in a URL are shown as `<redacted>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Destination {
    /// An MLflow SQLite database: whole traces, as MLflow's own store writes them.
    LocalStore {
        /// The database.
        uri: TrackingUri,
        /// The experiment traces are logged to.
        experiment: Experiment,
    },
    /// An MLflow tracking server: whole traces, over its REST API, as MLflow's Python SDK
    /// logs them.
    Server {
        /// The server (displays without credentials).
        uri: TrackingUri,
        /// The experiment traces are logged to.
        experiment: Experiment,
    },
    /// An OpenTelemetry receiver: spans as they end, over OTLP.
    Otlp {
        /// The transport.
        protocol: Protocol,
        /// Where requests go, as configured.
        endpoint: String,
    },
    /// An OpenTelemetry receiver of the span-duration histogram
    /// `mlflow.trace.span.duration`, over OTLP.
    OtlpMetrics {
        /// The transport.
        protocol: Protocol,
        /// Where requests go, as configured.
        endpoint: String,
    },
    /// A [`TraceExporter`](crate::TraceExporter) added in code.
    Exporter {
        /// Its [`name`](crate::TraceExporter::name).
        name: String,
    },
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::LocalStore { uri, experiment } => {
                write!(f, "MLflow SQLite store {uri} ({experiment})")
            }
            Destination::Server { uri, experiment } => {
                write!(f, "MLflow tracking server {uri} ({experiment})")
            }
            Destination::Otlp { protocol, endpoint } => {
                write!(f, "{} {endpoint}", transport(*protocol))
            }
            Destination::OtlpMetrics { protocol, endpoint } => {
                write!(f, "span metrics over {} {endpoint}", transport(*protocol))
            }
            Destination::Exporter { name } => f.write_str(name),
        }
    }
}

fn transport(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Grpc => "OTLP/gRPC",
        Protocol::HttpProtobuf => "OTLP/HTTP (protobuf)",
        Protocol::HttpJson => "OTLP/HTTP (JSON)",
    }
}
