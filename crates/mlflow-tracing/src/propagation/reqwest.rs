//! `reqwest` requests in the trace (feature `reqwest`): each request sent with
//! [`RequestBuilderExt::send_traced`] gets a client span, a child of the current span,
//! and carries it on in `traceparent`/`tracestate`, so the service's spans join the trace.
//!
//! ```no_run
//! # async fn run() -> Result<(), reqwest::Error> {
//! use mlflow_tracing::propagation::reqwest::RequestBuilderExt as _;
//!
//! let client = reqwest::Client::new();
//! let answer = client
//!     .post("http://127.0.0.1:8080/answer")
//!     .body("What is MLflow?")
//!     .send_traced() // instead of .send()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! The client span is named for the method (`GET`, `POST`, …) and has OpenTelemetry's
//! HTTP client attributes: `http.request.method`, `url.full` (user information and
//! credential-like query parameters redacted), `server.address`, `server.port`,
//! `url.scheme`, `http.response.status_code`; a 4xx or 5xx answer makes it an error
//! (`error.type` the code), so does a failed request (recorded as an exception).

use std::future::Future;

use opentelemetry::KeyValue;

use super::TraceHeaders;
use super::http_semconv as semconv;
use crate::config::redact::redact_url;
use crate::span::{LiveSpan, start_span};

/// Sends a `reqwest` request in a client span; see the [module](self) documentation.
pub trait RequestBuilderExt {
    /// Sends the request like [`reqwest::RequestBuilder::send`], in a client span that
    /// is a child of the current span, with the W3C trace context headers of that span
    /// (when the current trace is sampled out, the headers say so and nothing is
    /// recorded). A request that cannot be built fails as `send` fails, without a span.
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send;
}

impl RequestBuilderExt for reqwest::RequestBuilder {
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send {
        let (client, request) = self.build_split();
        // The span is made now, so that its parent is the span current where the request
        // was sent from, whenever and wherever the future is polled.
        let prepared = request.map(|request| {
            let name = semconv::span_name(request.method().as_str(), None);
            let attributes = request_attributes(&request);
            (request, start_span(name), attributes)
        });
        async move {
            let (mut request, builder, attributes) = prepared?;
            let traced = builder.instrument_without_end(async move {
                if let Some(headers) = TraceHeaders::current() {
                    for (name, value) in headers.iter() {
                        if let Ok(value) = reqwest::header::HeaderValue::from_str(value) {
                            request.headers_mut().insert(name, value);
                        }
                    }
                }
                client.execute(request).await
            });
            let span = traced.span().clone();
            for attribute in attributes {
                span.set_otel_attribute(attribute);
            }
            let result = traced.await;
            record(&span, &result);
            span.end();
            result
        }
    }
}

fn record(span: &LiveSpan, result: &reqwest::Result<reqwest::Response>) {
    if !span.is_recording() {
        return;
    }
    match result {
        Ok(response) => {
            let code = response.status().as_u16();
            semconv::record_status(span, code, code >= 400);
        }
        Err(err) => {
            let kind = if err.is_timeout() {
                "timeout"
            } else if err.is_connect() {
                "connect"
            } else if err.is_request() {
                "request"
            } else {
                "reqwest::Error"
            };
            span.set_otel_attribute(KeyValue::new(semconv::ERROR_TYPE, kind));
            span.record_exception(err);
        }
    }
}

/// The attributes of the request, set when the span starts.
fn request_attributes(request: &reqwest::Request) -> Vec<KeyValue> {
    let url = request.url();
    let mut attributes = vec![
        KeyValue::new(
            semconv::HTTP_REQUEST_METHOD,
            semconv::method(request.method().as_str()).to_owned(),
        ),
        KeyValue::new(semconv::URL_FULL, redact_url(url.as_str())),
        KeyValue::new(semconv::URL_SCHEME, url.scheme().to_owned()),
    ];
    if let Some(host) = url.host_str() {
        attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, host.to_owned()));
    }
    if let Some(port) = url.port_or_known_default() {
        attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
    }
    attributes
}
