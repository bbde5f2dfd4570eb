//! Self-tests of the in-process OTLP receiver: real clients (reqwest, tonic) against each
//! transport, with scripted replies, compression and mutual TLS.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use mlflow_tracing_test_support::{Receiver, Reply, Tls, certs};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use reqwest::blocking::Client;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Certificate, Identity};

const WAIT: Duration = Duration::from_secs(5);

/// A request with two spans.
fn sample() -> ExportTraceServiceRequest {
    let span = |id: u8| Span {
        trace_id: vec![1; 16],
        span_id: vec![id; 8],
        name: format!("span-{id}"),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span(1), span(2)],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn http_protobuf_with_a_scripted_503() {
    let receiver = Receiver::http(Tls::None, None);
    receiver.script(vec![Reply::Http {
        status: 503,
        retry_after: Some("7".into()),
        body: "busy".into(),
    }]);
    let client = Client::new();
    let post = || {
        client
            .post(format!("{}/v1/traces", receiver.base_url()))
            .header("content-type", "application/x-protobuf")
            .header("X-Api-Key", "k1")
            .body(sample().encode_to_vec())
            .send()
            .unwrap()
    };
    let refused = post();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "7");
    assert_eq!(refused.text().unwrap(), "busy");
    let accepted = post();
    assert_eq!(accepted.status(), 200);
    assert_eq!(accepted.headers()["content-type"], "application/x-protobuf");

    let requests = receiver.wait_for_spans(2, WAIT);
    assert_eq!(requests.len(), 2);
    let last = &requests[1];
    assert_eq!((last.transport, last.path.as_str()), ("http", "/v1/traces"));
    assert_eq!(last.header("x-api-key"), Some("k1"));
    assert_eq!(last.request.as_ref(), Some(&sample()));
    assert_eq!(requests[0].span_count(), 2);
    assert!(!last.client_certificate);
}

#[test]
fn http_gzip_json_is_decoded() {
    let receiver = Receiver::http(Tls::None, None);
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    gzip.write_all(&serde_json::to_vec(&sample()).unwrap())
        .unwrap();
    let response = Client::new()
        .post(format!("{}/custom/path", receiver.base_url()))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip.finish().unwrap())
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().unwrap(), "{}");
    let requests = receiver.wait_for_spans(2, WAIT);
    assert_eq!(requests[0].path, "/custom/path");
    assert_eq!(requests[0].content_encoding.as_deref(), Some("gzip"));
    assert_eq!(requests[0].request.as_ref(), Some(&sample()));
}

#[test]
fn grpc_export_records_metadata() {
    let receiver = Receiver::grpc(Tls::None, None);
    receiver.script(vec![Reply::Grpc {
        code: tonic::Code::Unavailable,
        message: "later".into(),
    }]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let codes = runtime.block_on(async {
        let channel = tonic::transport::Channel::from_shared(receiver.base_url())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client =
            TraceServiceClient::new(channel).send_compressed(CompressionEncoding::Gzip);
        let mut codes = Vec::new();
        for _ in 0..2 {
            let mut request = tonic::Request::new(sample());
            request
                .metadata_mut()
                .insert("authorization", "Bearer t".parse().unwrap());
            let code = match client.export(request).await {
                Ok(_) => tonic::Code::Ok,
                Err(status) => status.code(),
            };
            codes.push(code);
        }
        codes
    });
    assert_eq!(codes, [tonic::Code::Unavailable, tonic::Code::Ok]);
    let requests = receiver.wait_for_spans(2, WAIT);
    assert_eq!(requests.len(), 2);
    for recorded in &requests {
        assert_eq!(recorded.transport, "grpc");
        assert_eq!(
            recorded.path,
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        );
        assert_eq!(recorded.header("authorization"), Some("Bearer t"));
        assert_eq!(recorded.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(recorded.request.as_ref(), Some(&sample()));
    }
}

#[test]
fn mutual_tls_records_the_client_certificate() {
    let certs = certs();

    // OTLP/HTTP: refused without a client certificate, recorded with one.
    let receiver = Receiver::http(Tls::Mutual, Some(&certs));
    let ca = reqwest::Certificate::from_pem(certs.ca_pem.as_bytes()).unwrap();
    let client = |identity: Option<reqwest::Identity>| {
        let builder = Client::builder().tls_certs_only([ca.clone()]);
        match identity {
            Some(identity) => builder.identity(identity),
            None => builder,
        }
        .build()
        .unwrap()
    };
    let url = format!("{}/v1/traces", receiver.base_url());
    let post = |client: Client| {
        client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(sample().encode_to_vec())
            .send()
    };
    assert!(post(client(None)).is_err(), "no client certificate");
    let pem = format!("{}{}", certs.client_cert_pem, certs.client_key_pem);
    let identity = reqwest::Identity::from_pem(pem.as_bytes()).unwrap();
    assert_eq!(post(client(Some(identity))).unwrap().status(), 200);
    let requests = receiver.wait_for_spans(2, WAIT);
    assert_eq!(requests.len(), 1);
    assert!(requests[0].client_certificate);

    // OTLP/gRPC.
    let receiver = Receiver::grpc(Tls::Mutual, Some(&certs));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&certs.ca_pem))
            .identity(Identity::from_pem(
                &certs.client_cert_pem,
                &certs.client_key_pem,
            ));
        let channel = tonic::transport::Channel::from_shared(receiver.base_url())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap();
        TraceServiceClient::new(channel)
            .export(sample())
            .await
            .unwrap();
    });
    let requests = receiver.wait_for_spans(2, WAIT);
    assert!(requests[0].client_certificate);
}
