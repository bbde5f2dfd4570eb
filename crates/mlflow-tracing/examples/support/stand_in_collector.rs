//! A stand-in OTLP/HTTP collector for the examples, used when no
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`/`OTEL_EXPORTER_OTLP_ENDPOINT` names a real one
//! (an OpenTelemetry Collector, Jaeger, Tempo, Phoenix, Langfuse, …): it listens on a free
//! loopback port, accepts `POST /v1/traces` (protobuf) and keeps the spans it gets, so the
//! example can show what a collector receives.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

/// The spans the stand-in got.
pub(crate) type Received = Arc<Mutex<Vec<Span>>>;

async fn traces(State(received): State<Received>, body: Bytes) -> axum::http::StatusCode {
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            let spans = request
                .resource_spans
                .into_iter()
                .flat_map(|r| r.scope_spans)
                .flat_map(|s| s.spans);
            received.lock().expect("not poisoned").extend(spans);
            axum::http::StatusCode::OK
        }
        Err(_) => axum::http::StatusCode::BAD_REQUEST,
    }
}

/// The traces endpoint of a real collector from the environment, or a stand-in started
/// now (with what it receives).
pub(crate) async fn endpoint() -> std::io::Result<(String, Option<Received>)> {
    for var in [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ] {
        if let Ok(endpoint) = std::env::var(var) {
            println!("sending to the collector at {endpoint} ({var})");
            return Ok((endpoint, None));
        }
    }
    let received = Received::default();
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/v1/traces", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("no OTEL_EXPORTER_OTLP_ENDPOINT: sending to a stand-in collector at {endpoint}");
    Ok((endpoint, Some(received)))
}
