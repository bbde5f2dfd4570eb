//! The OTLP/HTTP server: HTTP/1.1 with keep-alive on plain threads (a thread per
//! connection), optionally TLS with rustls, answering as scripted. The wire format
//! (request heads, body decoding, responses) is in `wire`.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message as _;
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::certs::Certs;
use crate::receiver::{Recorded, Reply, Shared, find_header, lock, log};
use crate::tls::{Tls, http_tls_config};

mod wire;

use wire::{Head, decode_http, media_type, read_head, respond};

/// The largest HTTP body the receiver accepts.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A running HTTP server: its accept thread and its open connections.
#[derive(Debug)]
pub(crate) struct Server {
    connections: Arc<Mutex<Connections>>,
    accept: JoinHandle<()>,
}

impl Server {
    /// Listens on `127.0.0.1:<free port>` and serves into `shared`; returns the port.
    pub(crate) fn start(tls: Tls, certs: Option<&Certs>, shared: &Arc<Shared>) -> (u16, Server) {
        Self::start_on(0, tls, certs, shared)
    }

    /// Listens on `127.0.0.1:port` (a free port when 0) and serves into `shared`.
    pub(crate) fn start_on(
        port: u16,
        tls: Tls,
        certs: Option<&Certs>,
        shared: &Arc<Shared>,
    ) -> (u16, Server) {
        let config = http_tls_config(tls, certs);
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the OTLP/HTTP receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let connections = Arc::new(Mutex::new(Connections::default()));
        let accept = {
            let (shared, connections) = (shared.clone(), connections.clone());
            thread::Builder::new()
                .name(format!("otlp-http-{port}"))
                .spawn(move || accept_loop(&listener, config.as_ref(), &shared, &connections))
                .expect("spawn the OTLP/HTTP receiver")
        };
        (
            port,
            Server {
                connections,
                accept,
            },
        )
    }

    /// Closes the open connections, then wakes the accept loop (listening on `port`) so it
    /// sees `stopped`.
    pub(crate) fn stop(self, port: u16) {
        {
            let mut connections = lock(&self.connections);
            connections.stopped = true;
            for stream in connections.open.values() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        if TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok() {
            let _ = self.accept.join();
        }
    }
}

/// The HTTP receiver's open connections, closed when it stops.
#[derive(Debug, Default)]
struct Connections {
    stopped: bool,
    open: HashMap<usize, TcpStream>,
}

/// Accepts connections, a thread each, until the receiver stops.
fn accept_loop(
    listener: &TcpListener,
    tls: Option<&Arc<ServerConfig>>,
    shared: &Arc<Shared>,
    connections: &Arc<Mutex<Connections>>,
) {
    for (id, stream) in listener.incoming().enumerate() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                log(format_args!("accept failed: {err}"));
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        {
            let mut connections = lock(connections);
            if connections.stopped {
                return;
            }
            match stream.try_clone() {
                Ok(clone) => connections.open.insert(id, clone),
                Err(err) => {
                    log(format_args!("cannot track a connection: {err}"));
                    continue;
                }
            };
        }
        let (tls, shared, connections) = (tls.cloned(), shared.clone(), connections.clone());
        let spawned = thread::Builder::new()
            .name(format!("otlp-http-conn-{id}"))
            .spawn(move || {
                match serve_connection(stream, tls, &shared) {
                    Err(err) if !is_hang_up(&err) => log(format_args!("connection closed: {err}")),
                    _ => {}
                }
                lock(&connections).open.remove(&id);
            });
        if let Err(err) = spawned {
            log(format_args!("cannot spawn a connection thread: {err}"));
        }
    }
}

fn log_undecodable(path: &str, err: &str) {
    log(format_args!("cannot decode {path}: {err}"));
}

/// Whether `err` is just the client going away (not worth a log line).
fn is_hang_up(err: &io::Error) -> bool {
    use io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    matches!(
        err.kind(),
        BrokenPipe | ConnectionAborted | ConnectionReset | UnexpectedEof
    )
}

/// A plaintext or TLS connection.
enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Conn {
    fn client_certificate(&self) -> bool {
        match self {
            Conn::Plain(_) => false,
            Conn::Tls(stream) => stream
                .conn
                .peer_certificates()
                .is_some_and(|certs| !certs.is_empty()),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(stream) => stream.read(buf),
            Conn::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(stream) => stream.write(buf),
            Conn::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(stream) => stream.flush(),
            Conn::Tls(stream) => stream.flush(),
        }
    }
}

/// Serves requests on one connection until the client closes it or stops speaking HTTP/1.
fn serve_connection(
    stream: TcpStream,
    tls: Option<Arc<ServerConfig>>,
    shared: &Shared,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let conn = match tls {
        None => Conn::Plain(stream),
        Some(config) => {
            let connection = ServerConnection::new(config).map_err(io::Error::other)?;
            Conn::Tls(Box::new(StreamOwned::new(connection, stream)))
        }
    };
    let mut reader = BufReader::new(conn);
    while let Some(head) = read_head(&mut reader)? {
        if !answer(&mut reader, head, shared)? {
            break;
        }
    }
    Ok(())
}

/// Reads the body of the request `head`, records it and answers; returns whether to keep
/// the connection open.
fn answer(reader: &mut BufReader<Conn>, head: Head, shared: &Shared) -> io::Result<bool> {
    let header = |name: &str| find_header(&head.headers, name).map(str::to_owned);
    let keep_alive = head.http11
        && !header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close"));
    if header("transfer-encoding").is_some() {
        respond(reader.get_mut(), 411, "text/plain", b"", None, false)?;
        return Ok(false);
    }
    let length = match header("content-length").map(|value| value.parse::<usize>()) {
        None => 0,
        Some(Ok(length)) if length <= MAX_BODY => length,
        Some(_) => {
            respond(reader.get_mut(), 413, "text/plain", b"", None, false)?;
            return Ok(false);
        }
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    if head.method != "POST" {
        respond(reader.get_mut(), 405, "text/plain", b"", None, keep_alive)?;
        return Ok(keep_alive);
    }
    let content_type = header("content-type");
    let content_encoding = header("content-encoding");
    let json = media_type(content_type.as_deref()) == "application/json";
    // Metrics go to `/v1/metrics` (or, for Prometheus, `/api/v1/otlp/v1/metrics`).
    let is_metrics = head.path.ends_with("/metrics");
    let (encoding, kind) = (content_encoding.as_deref(), content_type.as_deref());
    let (request, metrics) = if is_metrics {
        let decoded = decode_http(&body, kind, encoding);
        (
            None,
            decoded
                .map_err(|err| log_undecodable(&head.path, &err))
                .ok(),
        )
    } else {
        let decoded = decode_http(&body, kind, encoding);
        (
            decoded
                .map_err(|err| log_undecodable(&head.path, &err))
                .ok(),
            None,
        )
    };
    let decoded = request.is_some() || metrics.is_some();
    let recorded = Recorded {
        transport: "http",
        path: head.path,
        headers: head.headers,
        content_type,
        content_encoding,
        request,
        metrics,
        client_certificate: reader.get_ref().client_certificate(),
    };
    let conn = reader.get_mut();
    if !decoded {
        shared.record(recorded, false);
        let body = b"cannot decode the request";
        respond(conn, 400, "text/plain", body, None, keep_alive)?;
        return Ok(keep_alive);
    }
    let mut partial = None;
    match shared.next_reply() {
        Reply::Ok => {
            shared.record(recorded, true);
        }
        Reply::Partial { rejected, message } => {
            shared.record(recorded, true);
            partial = Some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: message,
            });
        }
        Reply::Delay(delay) => {
            let index = shared.record(recorded, false);
            thread::sleep(delay);
            shared.update(index, |entry| entry.ok = true);
        }
        Reply::Http {
            status,
            retry_after,
            body,
        } => {
            shared.record(recorded, false);
            let content_type = "text/plain; charset=utf-8";
            let retry_after = retry_after.as_deref();
            respond(
                conn,
                status,
                content_type,
                body.as_bytes(),
                retry_after,
                keep_alive,
            )?;
            return Ok(keep_alive);
        }
        Reply::Grpc { .. } | Reply::GrpcRetryInfo { .. } => {
            unreachable!("script() keeps gRPC replies from HTTP receivers")
        }
    }
    let json_body = match &partial {
        // OTLP/JSON leaves unset fields out.
        None => b"{}".to_vec(),
        Some(partial) => serde_json::to_vec(&serde_json::json!({
            "partialSuccess": {
                "rejectedSpans": partial.rejected_spans.to_string(),
                "errorMessage": partial.error_message,
            }
        }))
        .unwrap_or_else(|_| b"{}".to_vec()),
    };
    let response = ExportTraceServiceResponse {
        partial_success: partial,
    };
    let (content_type, body) = if json {
        ("application/json", json_body)
    } else {
        ("application/x-protobuf", response.encode_to_vec())
    };
    respond(conn, 200, content_type, &body, None, keep_alive)?;
    Ok(keep_alive)
}
