//! Services in the trace (feature `tower`; `axum` adds the route): [`MlflowTraceLayer`]
//! records a server span for each request a `tower` service handles, continuing the
//! caller's trace from its `traceparent`/`tracestate` headers (MLflow's
//! `set_tracing_context_from_http_request_headers`), so the caller's spans and the
//! service's form one trace in MLflow.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use axum::{routing::post, Router};
//! use mlflow_tracing::propagation::tower::MlflowTraceLayer;
//!
//! async fn answer(question: String) -> String {
//!     format!("You asked: {question}")
//! }
//!
//! let app = Router::new()
//!     .route("/answer", post(answer))
//!     .layer(MlflowTraceLayer::new());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! The span is current while the service handles the request: spans started by the
//! handler (`#[trace]` functions, [`start_span`]) are its children, and
//! requests the handler sends with [`reqwest`](crate::propagation::reqwest) carry the
//! trace on. It is named `{method} {route}` (`POST /answer`; with the feature `axum`, the
//! route is the router's pattern, such as `/users/{id}`; without it, the name is the
//! method alone), with OpenTelemetry's HTTP server attributes (`http.request.method`,
//! `url.path`, `url.scheme`, `http.route`, `http.response.status_code`); a 5xx answer or
//! a failed service makes it an error. A request without `traceparent` starts a new
//! trace; one with an invalid `traceparent` too, and the reason is reported (at most
//! once every 30 seconds).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use opentelemetry::KeyValue;

use super::http_semconv as semconv;
use super::{InvalidTraceContext, RemoteParent};
use crate::report;
use crate::setup::Tracing;
use crate::span::{InTrace, LiveSpan, TraceContext, start_span};
use crate::types::SpanStatus;

/// A `tower` layer that traces each request; see the [module](self) documentation.
#[derive(Clone, Default)]
pub struct MlflowTraceLayer {
    tracing: Option<Tracing>,
}

impl fmt::Debug for MlflowTraceLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MlflowTraceLayer")
            .field(
                "pipeline",
                &if self.tracing.is_some() {
                    "given"
                } else {
                    "default"
                },
            )
            .finish()
    }
}

impl MlflowTraceLayer {
    /// Records the spans in the default pipeline (the global one, configured from the
    /// environment, unless a scoped default is set where requests are handled).
    pub fn new() -> Self {
        MlflowTraceLayer { tracing: None }
    }

    /// Records the spans in `tracing`'s pipeline.
    pub fn with_tracing(tracing: &Tracing) -> Self {
        MlflowTraceLayer {
            tracing: Some(tracing.clone()),
        }
    }
}

impl<S> tower_layer::Layer<S> for MlflowTraceLayer {
    type Service = MlflowTraceService<S>;

    fn layer(&self, inner: S) -> MlflowTraceService<S> {
        MlflowTraceService {
            inner,
            tracing: self.tracing.clone(),
        }
    }
}

/// The service [`MlflowTraceLayer`] wraps around another.
#[derive(Clone)]
pub struct MlflowTraceService<S> {
    inner: S,
    tracing: Option<Tracing>,
}

impl<S> fmt::Debug for MlflowTraceService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MlflowTraceService").finish_non_exhaustive()
    }
}

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for MlflowTraceService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let parent = RemoteParent::from_headers(|name| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
        });
        let route = route(&request);
        let method = request.method().as_str();
        let name = semconv::span_name(method, route.as_deref());
        let builder = match &self.tracing {
            Some(tracing) => tracing.start_span(name),
            None => start_span(name),
        };
        let builder = match &parent {
            Ok(parent) => builder.remote_parent(parent.span_context()),
            Err(InvalidTraceContext::Missing) => builder.no_parent(),
            Err(err) => {
                report::warn("traceparent-invalid", || {
                    format!(
                        "request {method} {}: {err}; it is traced as a new trace",
                        request.uri().path()
                    )
                });
                builder.no_parent()
            }
        };
        let span = builder.start_detached();
        let cx = match &parent {
            // A caller whose trace is sampled out: nothing is recorded, and requests made
            // while handling this one say so.
            Ok(parent) if !span.is_recording() => parent.context(),
            _ => TraceContext::with_span(&span),
        };
        if span.is_recording() {
            let mut attributes = vec![
                KeyValue::new(
                    semconv::HTTP_REQUEST_METHOD,
                    semconv::method(method).to_owned(),
                ),
                KeyValue::new(semconv::URL_PATH, request.uri().path().to_owned()),
                KeyValue::new(
                    semconv::URL_SCHEME,
                    request.uri().scheme_str().unwrap_or("http").to_owned(),
                ),
            ];
            if let Some(route) = route {
                attributes.push(KeyValue::new(semconv::HTTP_ROUTE, route));
            }
            for attribute in attributes {
                span.set_otel_attribute(attribute);
            }
        }
        let future = cx.in_scope(|| self.inner.call(request));
        ResponseFuture {
            inner: cx.wrap(future),
            span,
        }
    }
}

/// The route pattern axum's router matched.
#[cfg(feature = "axum")]
fn route<B>(request: &http::Request<B>) -> Option<String> {
    request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str().to_owned())
}

#[cfg(not(feature = "axum"))]
fn route<B>(_request: &http::Request<B>) -> Option<String> {
    None
}

pin_project_lite::pin_project! {
    /// The response future of [`MlflowTraceService`]: the service's, in the request's
    /// span, which ends with it.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: InTrace<F>,
        span: LiveSpan,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = match this.inner.poll(cx) {
            Poll::Ready(output) => output,
            Poll::Pending => return Poll::Pending,
        };
        match &output {
            Ok(response) => {
                let code = response.status().as_u16();
                semconv::record_status(this.span, code, code >= 500);
            }
            Err(_) => {
                this.span
                    .set_otel_attribute(KeyValue::new(semconv::ERROR_TYPE, "_OTHER"));
                this.span
                    .set_status(SpanStatus::error("the service failed to answer"));
            }
        }
        this.span.end();
        Poll::Ready(output)
    }
}
