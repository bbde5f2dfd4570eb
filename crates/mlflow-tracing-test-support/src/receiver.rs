//! The [`Receiver`]: what it recorded (shared with its server threads), its scripted
//! replies, and the waiting for spans.

use std::collections::VecDeque;
use std::fmt::Display;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;

use crate::certs::Certs;
use crate::tls::Tls;
use crate::{grpc, http};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `"http"` or `"grpc"`.
    pub transport: &'static str,
    /// The HTTP path, or the gRPC method path.
    pub path: String,
    /// HTTP headers or gRPC metadata in order, names lowercased (binary metadata as base64).
    pub headers: Vec<(String, String)>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// HTTP `Content-Encoding`, or gRPC `grpc-encoding`.
    pub content_encoding: Option<String>,
    /// The decompressed, decoded trace request (protobuf or OTLP/JSON); `None` if
    /// undecodable or a metrics request.
    pub request: Option<ExportTraceServiceRequest>,
    /// The decompressed, decoded metrics request (HTTP paths ending in `/metrics`, the
    /// gRPC `MetricsService`); `None` if undecodable or a trace request.
    pub metrics: Option<ExportMetricsServiceRequest>,
    /// Whether the TLS client presented a certificate.
    pub client_certificate: bool,
}

impl Recorded {
    /// The first value of header (or metadata) `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The number of metric data points in the decoded metrics request (0 if none).
    pub fn point_count(&self) -> usize {
        self.metrics.as_ref().map_or(0, |request| {
            request
                .resource_metrics
                .iter()
                .flat_map(|resource| &resource.scope_metrics)
                .flat_map(|scope| &scope.metrics)
                .map(|metric| match &metric.data {
                    Some(Data::Histogram(h)) => h.data_points.len(),
                    Some(Data::Sum(s)) => s.data_points.len(),
                    Some(Data::Gauge(g)) => g.data_points.len(),
                    Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                    Some(Data::Summary(s)) => s.data_points.len(),
                    None => 0,
                })
                .sum()
        })
    }

    /// The number of spans in the decoded request (0 if undecodable).
    pub fn span_count(&self) -> usize {
        self.request.as_ref().map_or(0, |request| {
            request
                .resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .map(|scope| scope.spans.len())
                .sum()
        })
    }
}

/// How to answer the next request (scripted; after the script runs out, answer OK).
///
/// Requests that cannot be decoded take no scripted reply: they are answered HTTP 400, or
/// with tonic's decoding error.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Success with an empty `ExportTraceServiceResponse`.
    Ok,
    /// An HTTP error (HTTP receivers only).
    Http {
        /// The status code.
        status: u16,
        /// The `Retry-After` header, if any.
        retry_after: Option<String>,
        /// The response body (`text/plain`).
        body: String,
    },
    /// A gRPC error status (gRPC receivers only).
    Grpc {
        /// The status code.
        code: tonic::Code,
        /// The status message.
        message: String,
    },
    /// Wait this long, then answer OK (to test client timeouts).
    Delay(Duration),
    /// Success, with an OTLP partial success saying `rejected` spans were rejected (trace
    /// requests; a metrics request gets a plain success).
    Partial {
        /// How many spans the answer says were rejected.
        rejected: i64,
        /// Why.
        message: String,
    },
    /// A gRPC error status with a `google.rpc.RetryInfo` detail asking the client to retry
    /// after `retry_delay` (gRPC receivers only).
    GrpcRetryInfo {
        /// The status code.
        code: tonic::Code,
        /// The status message.
        message: String,
        /// The delay `RetryInfo` asks for.
        retry_delay: Duration,
    },
}

/// An OTLP receiver on `127.0.0.1:<free port>`; dropping it stops the server.
#[derive(Debug)]
pub struct Receiver {
    port: u16,
    tls: bool,
    grpc: bool,
    shared: Arc<Shared>,
    stop: Option<Stop>,
}

/// A receiver's running server, stopped when the receiver drops.
#[derive(Debug)]
enum Stop {
    Http(http::Server),
    Grpc(grpc::Server),
}

impl Receiver {
    /// OTLP/HTTP: accepts `POST` on any path. TLS receivers use `certs` (default
    /// [`certs()`](crate::certs())).
    pub fn http(tls: Tls, certs: Option<&Certs>) -> Receiver {
        let shared = Arc::new(Shared::default());
        let (port, server) = http::Server::start(tls, certs, &shared);
        Receiver {
            port,
            tls: tls != Tls::None,
            grpc: false,
            shared,
            stop: Some(Stop::Http(server)),
        }
    }

    /// OTLP/HTTP on a given port of 127.0.0.1, in plaintext: to bring a receiver back on
    /// the port a pipeline already sends to.
    pub fn http_at(port: u16) -> Receiver {
        let shared = Arc::new(Shared::default());
        let (port, server) = http::Server::start_on(port, Tls::None, None, &shared);
        Receiver {
            port,
            tls: false,
            grpc: false,
            shared,
            stop: Some(Stop::Http(server)),
        }
    }

    /// OTLP/gRPC `TraceService` and `MetricsService` (gzip accepted). TLS receivers use `certs` (default
    /// [`certs()`](crate::certs())).
    pub fn grpc(tls: Tls, certs: Option<&Certs>) -> Receiver {
        let shared = Arc::new(Shared::default());
        let (port, server) = grpc::Server::start(tls, certs, &shared);
        Receiver {
            port,
            tls: tls != Tls::None,
            grpc: true,
            shared,
            stop: Some(Stop::Grpc(server)),
        }
    }

    /// OTLP/gRPC in plaintext, refusing messages over `max_message_bytes` as tonic's
    /// server does (`OUT_OF_RANGE`).
    pub fn grpc_limited(max_message_bytes: usize) -> Receiver {
        let shared = Arc::new(Shared::default());
        let (port, server) =
            grpc::Server::start_limited(Tls::None, None, &shared, Some(max_message_bytes));
        Receiver {
            port,
            tls: false,
            grpc: true,
            shared,
            stop: Some(Stop::Grpc(server)),
        }
    }

    /// A gRPC receiver when `grpc`, else an HTTP one.
    pub fn new(grpc: bool, tls: Tls, certs: Option<&Certs>) -> Receiver {
        if grpc {
            Receiver::grpc(tls, certs)
        } else {
            Receiver::http(tls, certs)
        }
    }

    /// What `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set to for this receiver: the base URL
    /// for gRPC, the URL of `/v1/traces` for HTTP.
    pub fn traces_endpoint(&self) -> String {
        if self.grpc {
            self.base_url()
        } else {
            format!("{}/v1/traces", self.base_url())
        }
    }

    /// What `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is set to for this receiver: the base
    /// URL for gRPC, the URL of `/v1/metrics` for HTTP.
    pub fn metrics_endpoint(&self) -> String {
        if self.grpc {
            self.base_url()
        } else {
            format!("{}/v1/metrics", self.base_url())
        }
    }

    /// The `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` this receiver speaks.
    pub fn protocol(&self) -> &'static str {
        if self.grpc { "grpc" } else { "http/protobuf" }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`, or `https://localhost:<port>` with TLS (the certificate
    /// names `localhost`).
    pub fn base_url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.port)
        } else {
            format!("http://127.0.0.1:{}", self.port)
        }
    }

    /// Appends replies for the next requests. Panics on a reply of the other transport.
    pub fn script(&self, replies: Vec<Reply>) {
        for reply in &replies {
            match reply {
                Reply::Http { .. } if self.grpc => panic!("a gRPC receiver cannot send {reply:?}"),
                Reply::Grpc { .. } | Reply::GrpcRetryInfo { .. } if !self.grpc => {
                    panic!("an HTTP receiver cannot send {reply:?}")
                }
                _ => {}
            }
        }
        lock(&self.shared.script).extend(replies);
    }

    /// Every request received so far, in order (including those answered with errors).
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .entries()
            .iter()
            .map(|entry| entry.recorded.clone())
            .collect()
    }

    /// Waits until the requests answered OK carry at least `spans` spans, then returns all
    /// requests. A delayed OK counts once its delay is over. Panics on timeout.
    pub fn wait_for_spans(&self, spans: usize, timeout: Duration) -> Vec<Recorded> {
        let entries = self.shared.entries();
        let (entries, wait) = self
            .shared
            .changed
            .wait_timeout_while(entries, timeout, |entries| ok_spans(entries) < spans)
            .unwrap_or_else(PoisonError::into_inner);
        if wait.timed_out() {
            let got = ok_spans(&entries);
            let seen: Vec<String> = entries
                .iter()
                .map(|entry| {
                    let recorded = &entry.recorded;
                    format!(
                        "{} {} ({} spans, {})",
                        recorded.transport,
                        recorded.path,
                        recorded.span_count(),
                        if entry.ok { "ok" } else { "not ok" }
                    )
                })
                .collect();
            drop(entries);
            panic!(
                "OTLP receiver on port {}: timed out after {timeout:?} waiting for {spans} \
                 span(s) answered OK, got {got}; requests: {seen:?}",
                self.port
            );
        }
        entries.iter().map(|entry| entry.recorded.clone()).collect()
    }
}

impl Receiver {
    /// Waits until at least `requests` metrics requests were answered OK, then returns the
    /// decoded metrics requests answered OK, in order. Panics on timeout.
    pub fn wait_for_metrics(
        &self,
        requests: usize,
        timeout: Duration,
    ) -> Vec<ExportMetricsServiceRequest> {
        let ok_metrics = |entries: &[Entry]| -> Vec<ExportMetricsServiceRequest> {
            entries
                .iter()
                .filter(|entry| entry.ok)
                .filter_map(|entry| entry.recorded.metrics.clone())
                .collect()
        };
        let entries = self.shared.entries();
        let (entries, wait) = self
            .shared
            .changed
            .wait_timeout_while(entries, timeout, |entries| {
                ok_metrics(entries).len() < requests
            })
            .unwrap_or_else(PoisonError::into_inner);
        if wait.timed_out() {
            let seen: Vec<String> = entries
                .iter()
                .map(|entry| {
                    let recorded = &entry.recorded;
                    format!(
                        "{} {} ({} points, {})",
                        recorded.transport,
                        recorded.path,
                        recorded.point_count(),
                        if entry.ok { "ok" } else { "not ok" }
                    )
                })
                .collect();
            drop(entries);
            panic!(
                "OTLP receiver on port {}: timed out after {timeout:?} waiting for {requests} \
                 metrics request(s) answered OK; requests: {seen:?}",
                self.port
            );
        }
        ok_metrics(&entries)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        match self.stop.take() {
            Some(Stop::Http(server)) => server.stop(self.port),
            Some(Stop::Grpc(server)) => server.stop(),
            None => {}
        }
    }
}

/// One recorded request, and whether it was answered OK.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) recorded: Recorded,
    pub(crate) ok: bool,
}

/// State shared by a receiver and its server threads.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    entries: Mutex<Vec<Entry>>,
    /// Notified whenever `entries` changes.
    changed: Condvar,
    script: Mutex<VecDeque<Reply>>,
}

impl Shared {
    fn entries(&self) -> MutexGuard<'_, Vec<Entry>> {
        lock(&self.entries)
    }

    /// Records a request; returns its index.
    pub(crate) fn record(&self, recorded: Recorded, ok: bool) -> usize {
        let mut entries = self.entries();
        entries.push(Entry { recorded, ok });
        self.changed.notify_all();
        entries.len() - 1
    }

    /// Changes the entry at `index`.
    pub(crate) fn update(&self, index: usize, change: impl FnOnce(&mut Entry)) {
        if let Some(entry) = self.entries().get_mut(index) {
            change(entry);
            self.changed.notify_all();
        }
    }

    pub(crate) fn next_reply(&self) -> Reply {
        lock(&self.script).pop_front().unwrap_or(Reply::Ok)
    }
}

/// Spans in the requests answered OK.
fn ok_spans(entries: &[Entry]) -> usize {
    entries
        .iter()
        .filter(|entry| entry.ok)
        .map(|entry| entry.recorded.span_count())
        .sum()
}

/// Locks, ignoring poisoning (the data stays consistent).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reports a server-side problem (server threads never panic on client input).
pub(crate) fn log(what: impl Display) {
    eprintln!("otlp receiver: {what}");
}

/// The first value of header `name`, case-insensitively.
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}
