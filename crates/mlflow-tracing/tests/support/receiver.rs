//! An in-process OTLP receiver for integration tests.
//!
//! OTLP/HTTP is served by plain threads (HTTP/1.1 with keep-alive, optionally TLS with
//! rustls); OTLP/gRPC by a tonic server on a private runtime. Both listen on
//! `127.0.0.1:<free port>`, record every request with its decoded spans, and answer with
//! scripted replies (OK once the script runs out).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt::Display;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use flate2::read::GzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use tonic::body::Body;
use tonic::codec::CompressionEncoding;
use tonic::codegen::{Service, http};
use tonic::transport::server::{ServerTlsConfig, TcpConnectInfo, TcpIncoming, TlsConnectInfo};
use tonic::transport::{Certificate, Identity, Server};

/// The longest request line plus headers the HTTP receiver reads.
const MAX_HEAD: u64 = 64 * 1024;
/// The largest HTTP body the receiver accepts.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// `"http"` or `"grpc"`.
    pub(crate) transport: &'static str,
    /// The HTTP path, or the gRPC method path.
    pub(crate) path: String,
    /// HTTP headers or gRPC metadata in order, names lowercased (binary metadata as base64).
    pub(crate) headers: Vec<(String, String)>,
    /// `Content-Type`.
    pub(crate) content_type: Option<String>,
    /// HTTP `Content-Encoding`, or gRPC `grpc-encoding`.
    pub(crate) content_encoding: Option<String>,
    /// The decompressed, decoded request (protobuf or OTLP/JSON); `None` if undecodable.
    pub(crate) request: Option<ExportTraceServiceRequest>,
    /// Whether the TLS client presented a certificate.
    pub(crate) client_certificate: bool,
}

impl Recorded {
    /// The first value of header (or metadata) `name`, case-insensitively.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The number of spans in the decoded request (0 if undecodable).
    pub(crate) fn span_count(&self) -> usize {
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
pub(crate) enum Reply {
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
}

/// PEM certificates for tests: a CA, a server certificate for `localhost` and 127.0.0.1
/// and a client certificate both signed by it, and an unrelated second CA.
#[derive(Debug, Clone)]
pub(crate) struct Certs {
    /// The CA that signed the server and client certificates.
    pub(crate) ca_pem: String,
    /// The server certificate (`localhost`, 127.0.0.1).
    pub(crate) server_cert_pem: String,
    /// The server's PKCS#8 key.
    pub(crate) server_key_pem: String,
    /// The client certificate.
    pub(crate) client_cert_pem: String,
    /// The client's PKCS#8 key.
    pub(crate) client_key_pem: String,
    /// A CA that signed nothing here.
    pub(crate) other_ca_pem: String,
}

/// Paths of the PEM files written by [`Certs::write_to`].
#[derive(Debug, Clone)]
pub(crate) struct CertFiles {
    /// `ca.pem`.
    pub(crate) ca: PathBuf,
    /// `client.pem`.
    pub(crate) client_cert: PathBuf,
    /// `client.key`.
    pub(crate) client_key: PathBuf,
    /// `other-ca.pem`.
    pub(crate) other_ca: PathBuf,
}

/// The test certificates, generated once per test binary (every call returns the same).
pub(crate) fn certs() -> Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(generate_certs).clone()
}

impl Certs {
    /// Writes the PEMs into `dir` as `ca.pem`, `server.pem`, `server.key`, `client.pem`,
    /// `client.key` and `other-ca.pem`.
    pub(crate) fn write_to(&self, dir: &Path) -> CertFiles {
        let write = |name: &str, pem: &str| {
            let path = dir.join(name);
            std::fs::write(&path, pem)
                .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
            path
        };
        write("server.pem", &self.server_cert_pem);
        write("server.key", &self.server_key_pem);
        CertFiles {
            ca: write("ca.pem", &self.ca_pem),
            client_cert: write("client.pem", &self.client_cert_pem),
            client_key: write("client.key", &self.client_key_pem),
            other_ca: write("other-ca.pem", &self.other_ca_pem),
        }
    }
}

/// Generates a fresh set of [`Certs`].
fn generate_certs() -> Certs {
    let (ca_pem, ca) = new_ca("mlflow-tracing test CA");
    let (other_ca_pem, _) = new_ca("unrelated test CA");
    let (server_cert_pem, server_key_pem) = new_leaf(
        &ca,
        "localhost",
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert_pem, client_key_pem) =
        new_leaf(&ca, "test client", &[], ExtendedKeyUsagePurpose::ClientAuth);
    Certs {
        ca_pem,
        server_cert_pem,
        server_key_pem,
        client_cert_pem,
        client_key_pem,
        other_ca_pem,
    }
}

/// A self-signed CA: its PEM and the issuer to sign with.
fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("CA certificate");
    (cert.pem(), Issuer::new(params, key))
}

/// A certificate signed by `issuer`: its PEM and its key's PEM.
fn new_leaf(
    issuer: &Issuer<'_, KeyPair>,
    name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let names: Vec<String> = names.iter().map(|&n| n.to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("certificate names");
    params.distinguished_name.push(DnType::CommonName, name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("certificate key");
    let cert = params.signed_by(&key, issuer).expect("certificate");
    (cert.pem(), key.serialize_pem())
}

/// TLS on the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tls {
    /// Plaintext.
    None,
    /// Server certificate only.
    Server,
    /// Server certificate, and a client certificate signed by the CA is required.
    Mutual,
}

/// An OTLP receiver on `127.0.0.1:<free port>`; dropping it stops the server.
#[derive(Debug)]
pub(crate) struct Receiver {
    port: u16,
    tls: bool,
    grpc: bool,
    shared: Arc<Shared>,
    stop: Option<Stop>,
}

/// How to stop a receiver's server.
#[derive(Debug)]
enum Stop {
    /// Close the open connections, then wake the accept loop so it sees `stopped`.
    Http {
        connections: Arc<Mutex<Connections>>,
        accept: JoinHandle<()>,
    },
    /// Signal the server thread, which drops its runtime (and with it every connection).
    Grpc {
        shutdown: tokio::sync::oneshot::Sender<()>,
        thread: JoinHandle<()>,
    },
}

impl Receiver {
    /// OTLP/HTTP: accepts `POST` on any path. TLS receivers use `certs` (default [`certs()`]).
    pub(crate) fn http(tls: Tls, certs: Option<&Certs>) -> Receiver {
        let config = http_tls_config(tls, certs);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the OTLP/HTTP receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let shared = Arc::new(Shared::default());
        let connections = Arc::new(Mutex::new(Connections::default()));
        let accept = {
            let (shared, connections) = (shared.clone(), connections.clone());
            thread::Builder::new()
                .name(format!("otlp-http-{port}"))
                .spawn(move || accept_loop(&listener, config.as_ref(), &shared, &connections))
                .expect("spawn the OTLP/HTTP receiver")
        };
        Receiver {
            port,
            tls: tls != Tls::None,
            grpc: false,
            shared,
            stop: Some(Stop::Http {
                connections,
                accept,
            }),
        }
    }

    /// OTLP/gRPC `TraceService` (gzip accepted). TLS receivers use `certs` (default
    /// [`certs()`]).
    pub(crate) fn grpc(tls: Tls, certs: Option<&Certs>) -> Receiver {
        let mut server = Server::builder();
        if let Some(config) = grpc_tls_config(tls, certs) {
            server = server.tls_config(config).expect("gRPC TLS configuration");
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the OTLP/gRPC receiver");
        let port = listener.local_addr().expect("receiver address").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let shared = Arc::new(Shared::default());
        let service = Recording {
            shared: shared.clone(),
            inner: TraceServiceServer::new(Collector {
                shared: shared.clone(),
            })
            .accept_compressed(CompressionEncoding::Gzip),
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
        Receiver {
            port,
            tls: tls != Tls::None,
            grpc: true,
            shared,
            stop: Some(Stop::Grpc { shutdown, thread }),
        }
    }

    /// The port it listens on.
    /// A gRPC receiver when `grpc`, else an HTTP one.
    pub(crate) fn new(grpc: bool, tls: Tls, certs: Option<&Certs>) -> Receiver {
        if grpc {
            Receiver::grpc(tls, certs)
        } else {
            Receiver::http(tls, certs)
        }
    }

    /// What `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set to for this receiver: the base URL
    /// for gRPC, the URL of `/v1/traces` for HTTP.
    pub(crate) fn traces_endpoint(&self) -> String {
        if self.grpc {
            self.base_url()
        } else {
            format!("{}/v1/traces", self.base_url())
        }
    }

    /// The `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` this receiver speaks.
    pub(crate) fn protocol(&self) -> &'static str {
        if self.grpc { "grpc" } else { "http/protobuf" }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`, or `https://localhost:<port>` with TLS (the certificate
    /// names `localhost`).
    pub(crate) fn base_url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.port)
        } else {
            format!("http://127.0.0.1:{}", self.port)
        }
    }

    /// Appends replies for the next requests. Panics on a reply of the other transport.
    pub(crate) fn script(&self, replies: Vec<Reply>) {
        for reply in &replies {
            match reply {
                Reply::Http { .. } if self.grpc => panic!("a gRPC receiver cannot send {reply:?}"),
                Reply::Grpc { .. } if !self.grpc => {
                    panic!("an HTTP receiver cannot send {reply:?}")
                }
                _ => {}
            }
        }
        lock(&self.shared.script).extend(replies);
    }

    /// Every request received so far, in order (including those answered with errors).
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.shared
            .entries()
            .iter()
            .map(|entry| entry.recorded.clone())
            .collect()
    }

    /// Waits until the requests answered OK carry at least `spans` spans, then returns all
    /// requests. A delayed OK counts once its delay is over. Panics on timeout.
    pub(crate) fn wait_for_spans(&self, spans: usize, timeout: Duration) -> Vec<Recorded> {
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

impl Drop for Receiver {
    fn drop(&mut self) {
        match self.stop.take() {
            Some(Stop::Http {
                connections,
                accept,
            }) => {
                {
                    let mut connections = lock(&connections);
                    connections.stopped = true;
                    for stream in connections.open.values() {
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                }
                let address = SocketAddr::from(([127, 0, 0, 1], self.port));
                if TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok() {
                    let _ = accept.join();
                }
            }
            Some(Stop::Grpc { shutdown, thread }) => {
                let _ = shutdown.send(());
                let _ = thread.join();
            }
            None => {}
        }
    }
}

/// One recorded request, and whether it was answered OK.
#[derive(Debug)]
struct Entry {
    recorded: Recorded,
    ok: bool,
}

/// State shared by a receiver and its server threads.
#[derive(Debug, Default)]
struct Shared {
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
    fn record(&self, recorded: Recorded, ok: bool) -> usize {
        let mut entries = self.entries();
        entries.push(Entry { recorded, ok });
        self.changed.notify_all();
        entries.len() - 1
    }

    /// Changes the entry at `index`.
    fn update(&self, index: usize, change: impl FnOnce(&mut Entry)) {
        if let Some(entry) = self.entries().get_mut(index) {
            change(entry);
            self.changed.notify_all();
        }
    }

    fn next_reply(&self) -> Reply {
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
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reports a server-side problem (server threads never panic on client input).
fn log(what: impl Display) {
    eprintln!("otlp receiver: {what}");
}

/// The first value of header `name`, case-insensitively.
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

// ---------------------------------------------------------------------------------------
// OTLP/HTTP

/// The HTTP receiver's open connections, closed when it stops.
#[derive(Debug, Default)]
struct Connections {
    stopped: bool,
    open: HashMap<usize, TcpStream>,
}

/// The rustls configuration for `tls`, with `given` certificates or [`certs()`].
fn http_tls_config(tls: Tls, given: Option<&Certs>) -> Option<Arc<ServerConfig>> {
    let require_client_cert = match tls {
        Tls::None => return None,
        Tls::Server => false,
        Tls::Mutual => true,
    };
    let certs = given.cloned().unwrap_or_else(certs);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS protocol versions");
    let builder = if require_client_cert {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(certs.ca_pem.as_bytes()).expect("CA PEM"))
            .expect("CA certificate");
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .expect("client certificate verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let chain = vec![
        CertificateDer::from_pem_slice(certs.server_cert_pem.as_bytes())
            .expect("server certificate PEM"),
    ];
    let key =
        PrivateKeyDer::from_pem_slice(certs.server_key_pem.as_bytes()).expect("server key PEM");
    let mut config = builder
        .with_single_cert(chain, key)
        .expect("server certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(Arc::new(config))
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

/// A request line and its headers.
struct Head {
    method: String,
    path: String,
    http11: bool,
    headers: Vec<(String, String)>,
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

/// Reads a request line and headers: `None` at the end of the stream, or when the client
/// does not speak HTTP/1 (a TLS hello, the HTTP/2 preface), which closes the connection.
fn read_head(reader: &mut BufReader<Conn>) -> io::Result<Option<Head>> {
    match reader.fill_buf()?.first() {
        Some(byte) if byte.is_ascii_uppercase() => {}
        _ => return Ok(None),
    }
    let mut limited = reader.take(MAX_HEAD);
    let line = read_line(&mut limited)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    if !version.starts_with("HTTP/1.") {
        return Ok(None);
    }
    let (method, path, http11) = (method.to_owned(), path.to_owned(), version != "HTTP/1.0");
    let mut headers = Vec::new();
    loop {
        let line = read_line(&mut limited)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Ok(None);
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Some(Head {
        method,
        path,
        http11,
        headers,
    }))
}

/// One CRLF-terminated line, without the terminator.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "truncated or oversized request head",
        ));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
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
    let request = decode_http(&body, content_type.as_deref(), content_encoding.as_deref())
        .map_err(|err| log(format_args!("cannot decode {}: {err}", head.path)))
        .ok();
    let decoded = request.is_some();
    let recorded = Recorded {
        transport: "http",
        path: head.path,
        headers: head.headers,
        content_type,
        content_encoding,
        request,
        client_certificate: reader.get_ref().client_certificate(),
    };
    let conn = reader.get_mut();
    if !decoded {
        shared.record(recorded, false);
        let body = b"cannot decode the request";
        respond(conn, 400, "text/plain", body, None, keep_alive)?;
        return Ok(keep_alive);
    }
    match shared.next_reply() {
        Reply::Ok => {
            shared.record(recorded, true);
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
        Reply::Grpc { .. } => unreachable!("script() keeps gRPC replies from HTTP receivers"),
    }
    let (content_type, body) = if json {
        ("application/json", b"{}".to_vec())
    } else {
        (
            "application/x-protobuf",
            ExportTraceServiceResponse::default().encode_to_vec(),
        )
    };
    respond(conn, 200, content_type, &body, None, keep_alive)?;
    Ok(keep_alive)
}

/// The lowercased media type of a `Content-Type` value, without parameters.
fn media_type(content_type: Option<&str>) -> String {
    let value = content_type.unwrap_or_default();
    let essence = value.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

/// Decompresses and decodes an OTLP/HTTP body.
fn decode_http(
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<ExportTraceServiceRequest, String> {
    let inflated;
    let body = match content_encoding.map(str::trim) {
        None | Some("" | "identity") => body,
        Some(encoding) if encoding.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::new();
            GzDecoder::new(body)
                .read_to_end(&mut out)
                .map_err(|err| format!("bad gzip: {err}"))?;
            inflated = out;
            &inflated
        }
        Some(other) => return Err(format!("unsupported Content-Encoding {other:?}")),
    };
    match media_type(content_type).as_str() {
        "application/x-protobuf" | "application/protobuf" => {
            ExportTraceServiceRequest::decode(body).map_err(|err| format!("bad protobuf: {err}"))
        }
        "application/json" => {
            serde_json::from_slice(body).map_err(|err| format!("bad OTLP/JSON: {err}"))
        }
        other => Err(format!("unsupported Content-Type {other:?}")),
    }
}

/// Writes a complete response.
fn respond(
    conn: &mut Conn,
    status: u16,
    content_type: &str,
    body: &[u8],
    retry_after: Option<&str>,
    keep_alive: bool,
) -> io::Result<()> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(retry_after) = retry_after {
        head.push_str(&format!("retry-after: {retry_after}\r\n"));
    }
    if !keep_alive {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut response = head.into_bytes();
    response.extend_from_slice(body);
    conn.write_all(&response)?;
    conn.flush()
}

// ---------------------------------------------------------------------------------------
// OTLP/gRPC

/// The tonic TLS configuration for `tls`, with `given` certificates or [`certs()`].
fn grpc_tls_config(tls: Tls, given: Option<&Certs>) -> Option<ServerTlsConfig> {
    if tls == Tls::None {
        return None;
    }
    let certs = given.cloned().unwrap_or_else(certs);
    let config = ServerTlsConfig::new().identity(Identity::from_pem(
        &certs.server_cert_pem,
        &certs.server_key_pem,
    ));
    Some(if tls == Tls::Mutual {
        config.client_ca_root(Certificate::from_pem(&certs.ca_pem))
    } else {
        config
    })
}

/// The index of a call's entry, passed from [`Recording`] to [`Collector`].
#[derive(Debug, Clone, Copy)]
struct EntryIndex(usize);

/// Records every call (method path, metadata, peer certificate) before tonic decodes it,
/// so undecodable calls and unknown methods are recorded too.
#[derive(Clone)]
struct Recording {
    shared: Arc<Shared>,
    inner: TraceServiceServer<Collector>,
}

impl Service<http::Request<Body>> for Recording {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = <TraceServiceServer<Collector> as Service<http::Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<http::Request<Body>>::poll_ready(&mut self.inner, cx)
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
            client_certificate,
        };
        let index = self.shared.record(recorded, false);
        request.extensions_mut().insert(EntryIndex(index));
        self.inner.call(request)
    }
}

/// The `TraceService`: stores the decoded request in its entry and answers as scripted.
struct Collector {
    shared: Arc<Shared>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let index = request.extensions().get::<EntryIndex>().copied();
        let message = request.into_inner();
        if let Some(EntryIndex(index)) = index {
            self.shared
                .update(index, |entry| entry.recorded.request = Some(message));
        }
        match self.shared.next_reply() {
            Reply::Ok => {}
            Reply::Delay(delay) => tokio::time::sleep(delay).await,
            Reply::Grpc { code, message } => return Err(tonic::Status::new(code, message)),
            Reply::Http { .. } => unreachable!("script() keeps HTTP replies from gRPC receivers"),
        }
        if let Some(EntryIndex(index)) = index {
            self.shared.update(index, |entry| entry.ok = true);
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod self_tests {
    use std::io::Write as _;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use reqwest::blocking::Client;

    use super::*;

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
}
