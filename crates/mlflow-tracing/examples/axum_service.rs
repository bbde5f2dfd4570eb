//! Distributed tracing: an axum service whose requests continue the caller's trace, and a
//! client whose requests carry it, so that MLflow shows one trace across both.
//!
//! The service traces every request with `MlflowTraceLayer` (a server span named by its
//! route, the caller's W3C `traceparent` continued); its handler's `#[trace]` function is a
//! child of that span. The client sends with `send_traced` (a client span, and its
//! `traceparent`). Here both run in one program for the example's sake; in two programs
//! (or with a Python service using MLflow's
//! `set_tracing_context_from_http_request_headers`), writing to the same store, the trace
//! is the same.
//!
//! Run: `cargo run --example axum_service --features reqwest,axum`, then `mlflow ui` (or
//! `mlflow-trace traces list`). It reads the trace back and prints its spans.

use axum::routing::post;
use axum::{Json, Router};
use mlflow_tracing::propagation::reqwest::RequestBuilderExt as _;
use mlflow_tracing::propagation::tower::MlflowTraceLayer;
use mlflow_tracing::{SpanType, Trace, Tracing, start_span, trace};
use serde_json::{Value, json};

#[trace(span_type = "TOOL")]
fn lookup(city: &str) -> Value {
    json!({ "city": city, "forecast": "sunny", "celsius": 21 })
}

/// `POST /weather {"city": …}`.
async fn weather(Json(request): Json<Value>) -> Json<Value> {
    Json(lookup(request["city"].as_str().unwrap_or("Paris")))
}

fn print_tree(trace: &Trace, span: &mlflow_tracing::Span, depth: usize) {
    println!(
        "{:indent$}{} ({})",
        "",
        span.name(),
        span.span_type().as_str(),
        indent = depth * 2
    );
    for child in trace.children(span) {
        print_tree(trace, child, depth + 1);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = mlflow_tracing::init()?;

    // The service.
    let app = Router::new()
        .route("/weather", post(weather))
        .layer(MlflowTraceLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/weather", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The client: an agent span whose request the service continues.
    let client = reqwest::Client::new();
    let (forecast, trace_id) = start_span("plan-trip")
        .span_type(SpanType::Agent)
        .inputs(json!({ "question": "What is the weather in Paris?" }))
        .instrument(async {
            let trace_id = mlflow_tracing::get_active_trace_id().unwrap_or_default();
            let forecast: Value = client
                .post(&url)
                .json(&json!({ "city": "Paris" }))
                .send_traced()
                .await?
                .json()
                .await?;
            Ok::<_, reqwest::Error>((forecast, trace_id))
        })
        .await?;
    println!("forecast: {forecast}");
    drop(guard); // flushes

    // Read the trace back from the store: one trace, the service's spans under the call.
    let reader = Tracing::builder().reader()?;
    let trace = reader
        .get_trace(&trace_id)?
        .ok_or_else(|| format!("trace {trace_id} is not in {}", reader.location()))?;
    println!("trace {trace_id} in {}:", reader.location());
    let root = trace.root_span().ok_or("the trace has no root span")?;
    print_tree(&trace, root, 1);
    let served = trace
        .span("POST /weather")
        .ok_or("the service's span is not in the caller's trace")?;
    let call = trace.span("POST").ok_or("no client span")?;
    if served.parent_id() != Some(call.span_id()) || trace.spans().len() != 4 {
        return Err("the service's spans are not under the client's call".into());
    }
    Ok(())
}
