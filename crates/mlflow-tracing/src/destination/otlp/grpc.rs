//! OTLP/gRPC: the signal service's `Export` call, on a private single-threaded Tokio runtime
//! owned by the export thread. The application's runtime (if any) is never used, so there
//! is no "no reactor running" panic and no deadlock on a current-thread runtime.

use std::str::FromStr;
use std::time::{Duration, Instant};

use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::tls::TlsMaterial;
use super::transport::{OtlpRequest, Transport, scrub, warn_on_partial_success};
use crate::config::otlp::{Compression, OtlpSettings};
use crate::destination::retry::{Retry, SendError};

pub(super) struct GrpcTransport {
    runtime: tokio::runtime::Runtime,
    channel: Channel,
    gzip: bool,
    metadata: MetadataMap,
    target: String,
    secrets: Vec<(String, String)>,
}

impl GrpcTransport {
    pub(super) fn new(settings: &OtlpSettings, tls: &TlsMaterial) -> Result<Self, String> {
        let url = &settings.url;
        let host = url.host_str().unwrap_or_default().to_owned();
        // gRPC uses only scheme, host and port; a path (such as /v1/traces) is ignored.
        let origin = match url.port() {
            Some(port) => format!("{}://{}:{port}", url.scheme(), url_host(url)),
            None => format!("{}://{}", url.scheme(), url_host(url)),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("mlflow-tracing-grpc")
            .build()
            .map_err(|e| format!("cannot start the gRPC runtime: {e}"))?;
        let mut endpoint = Endpoint::from_shared(origin.clone())
            .map_err(|e| format!("invalid endpoint {origin}: {e}"))?
            .user_agent(concat!(
                "OTel-OTLP-Exporter-Rust mlflow-tracing/",
                env!("CARGO_PKG_VERSION")
            ))
            .map_err(|e| e.to_string())?
            .connect_timeout(settings.timeout.value);
        if url.scheme() == "https" {
            let mut config = ClientTlsConfig::new().domain_name(host);
            config = match &tls.ca_pem {
                Some(pem) => config.ca_certificate(Certificate::from_pem(pem)),
                None => config.with_native_roots(),
            };
            if let Some((cert, key)) = &tls.identity {
                config = config.identity(Identity::from_pem(cert, key));
            }
            endpoint = endpoint
                .tls_config(config)
                .map_err(|e| format!("invalid TLS configuration: {e}"))?;
        }
        let channel = {
            let _entered = runtime.enter();
            endpoint.connect_lazy()
        };
        let mut metadata = MetadataMap::new();
        for (name, value) in &settings.headers.value.0 {
            let key = MetadataKey::from_str(name)
                .map_err(|_| format!("invalid OTLP header name {name:?}"))?;
            let value = MetadataValue::try_from(value.as_str()).map_err(|_| {
                format!("the value of OTLP header {name:?} is not valid gRPC metadata")
            })?;
            metadata.append(key, value);
        }
        Ok(GrpcTransport {
            runtime,
            channel,
            gzip: settings.compression.value == Compression::Gzip,
            metadata,
            target: origin,
            secrets: settings.headers.value.0.clone(),
        })
    }
}

fn url_host(url: &url::Url) -> String {
    match url.host() {
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Some(host) => host.to_string(),
        None => String::new(),
    }
}

impl<R: OtlpRequest> Transport<R> for GrpcTransport {
    fn export(&mut self, request: &R, retry: &Retry) -> Result<(), SendError> {
        retry.run(|timeout| self.call(request.clone(), timeout))
    }
}

impl GrpcTransport {
    /// One `Export` call, with `timeout` as its deadline (sent as `grpc-timeout`, and
    /// enforced here too).
    fn call<R: OtlpRequest>(&mut self, request: R, timeout: Duration) -> Result<(), SendError> {
        use tonic::Code;
        let mut call = tonic::Request::new(request);
        *call.metadata_mut() = self.metadata.clone();
        call.set_timeout(timeout);
        let export = R::grpc_export(self.channel.clone(), self.gzip, call);
        let started = Instant::now();
        let result = self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, export).await })
            .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("")));
        let status = match result {
            Ok(response) => {
                warn_on_partial_success::<R>(response);
                return Ok(());
            }
            Err(status) => status,
        };
        // The deadline passed: tonic reports it as Cancelled, a server as DeadlineExceeded.
        if matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded)
            && started.elapsed() >= timeout
        {
            return Err(SendError::transient(
                format!("no response from {} within {timeout:?}", self.target),
                None,
            ));
        }
        let message = scrub(
            format!(
                "{} answered gRPC {:?}: {}",
                self.target,
                status.code(),
                describe(&status)
            ),
            &self.secrets,
            &self.target,
        );
        match status.code() {
            Code::Unavailable
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::OutOfRange
            | Code::DataLoss
            | Code::ResourceExhausted => Err(SendError::transient(message, None)),
            _ => Err(SendError::permanent(message)),
        }
    }
}

/// The status message, or the transport error under it (e.g. "connection refused",
/// "invalid HTTP version" when the port speaks HTTP/1).
fn describe(status: &tonic::Status) -> String {
    let mut text = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    let text: String = text.chars().take(300).collect();
    if text.is_empty() {
        "(no message)".to_owned()
    } else {
        text
    }
}
