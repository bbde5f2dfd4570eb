//! OpenTelemetry's HTTP semantic conventions (stable), for the client and server spans of
//! the `reqwest` and `tower` integrations: the keys, defined here (the
//! `opentelemetry-semantic-conventions` crate is not a dependency), and the span status
//! rules.

use opentelemetry::KeyValue;

use crate::span::LiveSpan;
use crate::types::SpanStatus;

pub(super) const HTTP_REQUEST_METHOD: &str = "http.request.method";
pub(super) const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(super) const HTTP_ROUTE: &str = "http.route";
#[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
pub(super) const URL_FULL: &str = "url.full";
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(super) const URL_PATH: &str = "url.path";
pub(super) const URL_SCHEME: &str = "url.scheme";
#[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
pub(super) const SERVER_ADDRESS: &str = "server.address";
#[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
pub(super) const SERVER_PORT: &str = "server.port";
pub(super) const ERROR_TYPE: &str = "error.type";

/// The methods the conventions know; others are recorded as `_OTHER`.
const KNOWN_METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

/// The method as the conventions record it, and for span names: `_OTHER` for a method
/// they do not know (bounded cardinality), `HTTP` in span names then.
pub(super) fn method(method: &str) -> &str {
    if KNOWN_METHODS.contains(&method) {
        method
    } else {
        "_OTHER"
    }
}

/// The span name: `{method} {route}`, or `{method}` without a route (`HTTP` for a method
/// the conventions do not know).
pub(super) fn span_name(method_name: &str, route: Option<&str>) -> String {
    let method = match self::method(method_name) {
        "_OTHER" => "HTTP",
        known => known,
    };
    match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    }
}

/// Records the response status: the status code, and the ERROR status (with `error.type`,
/// the code) when `is_error` says the code is one (client: 4xx and 5xx; server: 5xx).
pub(super) fn record_status(span: &LiveSpan, code: u16, is_error: bool) {
    span.set_otel_attribute(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(code)));
    if is_error {
        span.set_otel_attribute(KeyValue::new(ERROR_TYPE, code.to_string()));
        span.set_status(SpanStatus::error(format!("HTTP {code}")));
    }
}
