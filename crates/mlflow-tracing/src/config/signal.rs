//! [`Signal`]: the OpenTelemetry signals this crate exports (traces and metrics), and the
//! variables that configure each: a signal-specific variable wins over the generic one.

use super::env;

/// An OpenTelemetry signal with an OTLP exporter of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Signal {
    /// Spans.
    Traces,
    /// The span-duration histogram.
    Metrics,
}

/// The signal-specific variables of one signal; each has a generic counterpart
/// (`OTEL_EXPORTER_OTLP_<NAME>`) it wins over.
#[derive(Debug)]
pub(crate) struct SignalVars {
    pub(crate) endpoint: &'static str,
    pub(crate) protocol: &'static str,
    pub(crate) headers: &'static str,
    pub(crate) timeout: &'static str,
    pub(crate) compression: &'static str,
    pub(crate) certificate: &'static str,
    pub(crate) client_certificate: &'static str,
    pub(crate) client_key: &'static str,
    pub(crate) insecure: &'static str,
}

const TRACES: SignalVars = SignalVars {
    endpoint: env::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    protocol: env::OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    headers: env::OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    timeout: env::OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    compression: env::OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    certificate: env::OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    client_certificate: env::OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    client_key: env::OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    insecure: env::OTEL_EXPORTER_OTLP_TRACES_INSECURE,
};

const METRICS: SignalVars = SignalVars {
    endpoint: env::OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    protocol: env::OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    headers: env::OTEL_EXPORTER_OTLP_METRICS_HEADERS,
    timeout: env::OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
    compression: env::OTEL_EXPORTER_OTLP_METRICS_COMPRESSION,
    certificate: env::OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE,
    client_certificate: env::OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE,
    client_key: env::OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY,
    insecure: env::OTEL_EXPORTER_OTLP_METRICS_INSECURE,
};

impl Signal {
    /// Its signal-specific variables.
    pub(crate) fn vars(self) -> &'static SignalVars {
        match self {
            Signal::Traces => &TRACES,
            Signal::Metrics => &METRICS,
        }
    }

    /// The path OTLP/HTTP requests of this signal go to under a base URL.
    pub(crate) fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        }
    }

    /// `traces` or `metrics`, for messages.
    #[cfg_attr(
        not(any(feature = "otlp-http", feature = "otlp-grpc")),
        allow(dead_code)
    )]
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }
}
