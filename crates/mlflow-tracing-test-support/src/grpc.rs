//! The OTLP/gRPC server: tonic's `TraceService` and `MetricsService` on a private
//! current-thread runtime, recording every call (metadata, peer certificate) before tonic
//! decodes it.

use std::convert::Infallible;
use std::net::TcpListener;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::{self, JoinHandle};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::body::Body;
use tonic::codec::CompressionEncoding;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::transport::server::{TcpConnectInfo, TcpIncoming, TlsConnectInfo};

use crate::certs::Certs;
use crate::receiver::{Recorded, Reply, Shared, find_header, log};
use crate::tls::{Tls, grpc_tls_config};

/// A running gRPC server: the thread that owns its runtime, and how to signal it.
#[derive(Debug)]
pub(crate) struct Server {
    shutdown: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Server {
    /// Listens on `127.0.0.1:<free port>` and serves into `shared`; returns the port.
    pub(crate) fn start(tls: Tls, certs: Option<&Certs>, shared: &Arc<Shared>) -> (u16, Server) {
        Server::start_limited(tls, certs, shared, None)
    }

    /// As [`Server::start`], refusing messages over `limit` bytes when given.
    pub(crate) fn start_limited(
        tls: Tls,
        certs: Option<&Certs>,
        shared: &Arc<Shared>,
        limit: Option<usize>,
    ) -> (u16, Server) {
        let mut server = tonic::transport::Server::builder();
        if let Some(config) = grpc_tls_config(tls, certs) {
            server = server.tls_config(config).expect("gRPC TLS configuration");
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the OTLP/gRPC receiver");
        let port = listener.local_addr().expect("receiver address").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let collector = || Collector {
            shared: shared.clone(),
        };
        let service = Recording {
            shared: shared.clone(),
            traces: TraceServiceServer::new(collector())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit.unwrap_or(usize::MAX)),
            metrics: MetricsServiceServer::new(collector())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit.unwrap_or(usize::MAX)),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("receiver runtime");
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name(format!("otlp-grpc-{port}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => return log(format_args!("cannot listen: {err}")),
                    };
                    let incoming = TcpIncoming::from(listener);
                    tokio::select! {
                        served = server.serve_with_incoming(service, incoming) => {
                            if let Err(err) = served {
                                log(format_args!("gRPC server failed: {err}"));
                            }
                        }
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime here ends the connection tasks.
            })
            .expect("spawn the OTLP/gRPC receiver");
        (port, Server { shutdown, thread })
    }

    /// Signals the server thread, which drops its runtime (and with it every connection).
    pub(crate) fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.thread.join();
    }
}

/// The index of a call's entry, passed from [`Recording`] to [`Collector`].
#[derive(Debug, Clone, Copy)]
struct EntryIndex(usize);

/// Records every call (method path, metadata, peer certificate) before tonic decodes it,
/// so undecodable calls and unknown methods are recorded too; then hands it to the
/// metrics service or (anything else) the trace service.
#[derive(Clone)]
struct Recording {
    shared: Arc<Shared>,
    traces: TraceServiceServer<Collector>,
    metrics: MetricsServiceServer<Collector>,
}

impl Service<http::Request<Body>> for Recording {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<http::Response<Body>, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        match Service::<http::Request<Body>>::poll_ready(&mut self.traces, cx) {
            Poll::Ready(Ok(())) => {
                Service::<http::Request<Body>>::poll_ready(&mut self.metrics, cx)
            }
            other => other,
        }
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let client_certificate = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs)
            .is_some_and(|certs| !certs.is_empty());
        let recorded = Recorded {
            transport: "grpc",
            path: request.uri().path().to_owned(),
            content_type: find_header(&headers, "content-type").map(str::to_owned),
            content_encoding: find_header(&headers, "grpc-encoding").map(str::to_owned),
            headers,
            request: None,
            metrics: None,
            client_certificate,
        };
        let index = self.shared.record(recorded, false);
        request.extensions_mut().insert(EntryIndex(index));
        let metrics = request
            .uri()
            .path()
            .starts_with("/opentelemetry.proto.collector.metrics.v1.MetricsService/");
        if metrics {
            Box::pin(self.metrics.call(request))
        } else {
            Box::pin(self.traces.call(request))
        }
    }
}

/// The `TraceService` and `MetricsService`: store the decoded request in its entry and
/// answer as scripted.
struct Collector {
    shared: Arc<Shared>,
}

impl Collector {
    /// Stores what `change` does to the call's entry, then answers as scripted.
    async fn answer(
        &self,
        index: Option<EntryIndex>,
        change: impl FnOnce(&mut crate::receiver::Entry),
    ) -> Result<Option<ExportTracePartialSuccess>, tonic::Status> {
        if let Some(EntryIndex(index)) = index {
            self.shared.update(index, change);
        }
        let mut partial = None;
        match self.shared.next_reply() {
            Reply::Ok => {}
            Reply::Delay(delay) => tokio::time::sleep(delay).await,
            Reply::Partial { rejected, message } => {
                partial = Some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: message,
                });
            }
            Reply::Grpc { code, message } => return Err(tonic::Status::new(code, message)),
            Reply::GrpcRetryInfo {
                code,
                message,
                retry_delay,
            } => {
                let details =
                    crate::rpc::status_with_retry_info(code as i32, &message, retry_delay);
                return Err(tonic::Status::with_details(code, message, details.into()));
            }
            Reply::Http { .. } => unreachable!("script() keeps HTTP replies from gRPC receivers"),
        }
        if let Some(EntryIndex(index)) = index {
            self.shared.update(index, |entry| entry.ok = true);
        }
        Ok(partial)
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let index = request.extensions().get::<EntryIndex>().copied();
        let message = request.into_inner();
        self.answer(index, |entry| entry.recorded.metrics = Some(message))
            .await?;
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let index = request.extensions().get::<EntryIndex>().copied();
        let message = request.into_inner();
        let partial = self
            .answer(index, |entry| entry.recorded.request = Some(message))
            .await?;
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: partial,
        }))
    }
}
