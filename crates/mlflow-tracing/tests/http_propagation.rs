//! The `reqwest` and `tower`/`axum` integrations in process: a real axum server on a
//! loopback port and real `reqwest` calls, the two sides in two pipelines, assembled as
//! one trace.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use mlflow_tracing::propagation::reqwest::RequestBuilderExt as _;
use mlflow_tracing::propagation::tower::MlflowTraceLayer;
use mlflow_tracing::testing::InMemoryTraces;
use mlflow_tracing::{SpanType, StatusCode as SpanStatusCode, Trace, Tracing, start_span};
use serde_json::json;

use crate::support::pipeline;

async fn word(Path(word): Path<String>) -> Result<String, StatusCode> {
    // A span of the handler: a child of the request's server span.
    let span = start_span("lookup").span_type(SpanType::Tool).start();
    span.set_inputs(json!({ "word": word }));
    match word.as_str() {
        "boom" => Err(StatusCode::SERVICE_UNAVAILABLE),
        "missing" => Err(StatusCode::NOT_FOUND),
        _ => Ok(word.to_uppercase()),
    }
}

/// Serves the test routes on 127.0.0.1:0 in `tracing`'s pipeline; returns the base URL.
async fn serve(tracing: &Tracing) -> String {
    let app = Router::new()
        .route("/words/{word}", get(word))
        .layer(MlflowTraceLayer::with_tracing(tracing));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn only(traces: &InMemoryTraces) -> Trace {
    let mut all = traces.traces();
    assert_eq!(all.len(), 1, "one trace: {all:?}");
    all.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_and_the_request_it_makes_form_one_trace() {
    let (client, client_traces) = pipeline();
    let (server, server_traces) = pipeline();
    let base = serve(&server).await;
    let http = reqwest::Client::new();
    let url = format!("{base}/words/mlflow?token=secret");
    let body = client
        .start_span("agent")
        .span_type(SpanType::Agent)
        .instrument(async { http.get(&url).send_traced().await?.text().await })
        .await
        .unwrap();
    assert_eq!(body, "MLFLOW");
    client.flush_async().await.unwrap();
    server.flush_async().await.unwrap();

    let caller = only(&client_traces);
    let part = only(&server_traces);
    assert_eq!(
        caller.info().trace_id(),
        part.info().trace_id(),
        "one trace"
    );
    let call = caller.span("GET").expect("the client span");
    assert_eq!(
        call.parent_id(),
        Some(caller.span("agent").unwrap().span_id())
    );
    assert_eq!(call.attribute("http.request.method"), Some(json!("GET")));
    assert_eq!(
        call.attribute("http.response.status_code"),
        Some(json!(200))
    );
    assert_eq!(call.attribute("server.address"), Some(json!("127.0.0.1")));
    assert_eq!(
        call.attribute("url.full"),
        Some(json!(format!("{base}/words/mlflow?token=<redacted>"))),
        "credential-like query parameters are redacted"
    );
    assert_eq!(call.status().code(), SpanStatusCode::Ok);

    let handled = part.root_span().expect("the server span");
    assert_eq!(handled.name(), "GET /words/{word}");
    assert!(handled.parent_is_remote());
    assert_eq!(handled.parent_id(), Some(call.span_id()));
    assert_eq!(
        handled.attribute("http.route"),
        Some(json!("/words/{word}"))
    );
    assert_eq!(handled.attribute("url.path"), Some(json!("/words/mlflow")));
    assert_eq!(
        handled.attribute("http.response.status_code"),
        Some(json!(200))
    );
    assert_eq!(handled.status().code(), SpanStatusCode::Ok);
    let lookup = part.span("lookup").unwrap();
    assert_eq!(lookup.parent_id(), Some(handled.span_id()));
    assert_eq!(part.remote_parent_id(), Some(call.span_id()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_client_errors_set_the_status_each_side_should() {
    let (client, client_traces) = pipeline();
    let (server, server_traces) = pipeline();
    let base = serve(&server).await;
    let http = reqwest::Client::new();
    for word in ["boom", "missing"] {
        let url = format!("{base}/words/{word}");
        let status = client
            .start_span(word)
            .instrument(async { http.get(&url).send_traced().await.map(|r| r.status()) })
            .await
            .unwrap();
        assert!(status.is_client_error() || status.is_server_error());
    }
    client.flush_async().await.unwrap();
    server.flush_async().await.unwrap();
    for trace in client_traces.traces() {
        let call = trace.span("GET").unwrap();
        // A client span fails on 4xx and 5xx.
        assert_eq!(call.status().code(), SpanStatusCode::Error, "{call:?}");
    }
    let servers = server_traces.traces();
    assert_eq!(servers.len(), 2);
    for trace in servers {
        let handled = trace.root_span().unwrap();
        let code = handled.attribute("http.response.status_code");
        // A server span fails on 5xx only.
        if code == Some(json!(503)) {
            assert_eq!(handled.status().code(), SpanStatusCode::Error);
            assert_eq!(handled.status().description(), "HTTP 503");
            assert_eq!(
                handled.raw_attribute("error.type"),
                Some(&opentelemetry::Value::from("503"))
            );
        } else {
            assert_eq!(code, Some(json!(404)));
            assert_eq!(handled.status().code(), SpanStatusCode::Ok);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_or_with_bad_trace_context_start_their_own_trace() {
    let (server, server_traces) = pipeline();
    let base = serve(&server).await;
    let http = reqwest::Client::new();
    let url = format!("{base}/words/plain");
    // Outside any span: the headers are not sent, the request is still traced client side
    // in the default pipeline (here: none, disabled).
    http.get(&url).send().await.unwrap();
    http.get(&url)
        .header(
            "traceparent",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    // A caller that sampled its trace out: nothing is recorded here either.
    http.get(&url)
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        )
        .send()
        .await
        .unwrap();
    server.flush_async().await.unwrap();
    let traces = server_traces.traces();
    assert_eq!(traces.len(), 2, "{traces:?}");
    for trace in traces {
        let root = trace.root_span().unwrap();
        assert_eq!(root.parent_id(), None);
        assert_ne!(
            trace.info().trace_id(),
            "tr-4bf92f3577b34da6a3ce929d0e0e4736",
            "an invalid traceparent is not continued"
        );
    }
}
