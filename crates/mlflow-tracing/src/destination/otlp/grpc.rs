//! OTLP/gRPC: the signal service's `Export` call, on a private single-threaded Tokio runtime
//! owned by the export thread. The application's runtime (if any) is never used, so there
//! is no "no reactor running" panic and no deadlock on a current-thread runtime.

use std::str::FromStr;
use std::time::{Duration, Instant};

use bytes::{BufMut as _, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::tls::TlsMaterial;
use super::transport::{OtlpRequest, Rejected, Transport, scrub};
use crate::config::otlp::{Compression, OtlpSettings};
use crate::destination::failure::{self, Failure, GrpcCode};
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

/// tonic's codec for a request already encoded as protobuf, and a `D` answer.
struct Encoded<D>(std::marker::PhantomData<fn() -> D>);

impl<D> Default for Encoded<D> {
    fn default() -> Self {
        Encoded(std::marker::PhantomData)
    }
}

impl<D: prost::Message + Default + Send + 'static> Codec for Encoded<D> {
    type Encode = Bytes;
    type Decode = D;
    type Encoder = Encoded<Bytes>;
    type Decoder = Encoded<D>;

    fn encoder(&mut self) -> Self::Encoder {
        Encoded::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        Encoded::default()
    }
}

impl Encoder for Encoded<Bytes> {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put(item);
        Ok(())
    }
}

impl<D: prost::Message + Default> Decoder for Encoded<D> {
    type Item = D;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Self::Error> {
        D::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("undecodable answer: {e}")))
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
    fn export(&mut self, request: &R, retry: &Retry) -> Result<Rejected, SendError> {
        // Encoded once: every attempt sends the same bytes (no copy of the request).
        let encoded = Bytes::from(request.encode_to_vec());
        retry.run(|timeout| self.call::<R>(encoded.clone(), timeout))
    }
}

impl GrpcTransport {
    /// One `Export` call of an encoded request of type `R`, with `timeout` as its
    /// deadline (sent as `grpc-timeout`, and enforced here too).
    fn call<R: OtlpRequest>(
        &mut self,
        encoded: Bytes,
        timeout: Duration,
    ) -> Result<Rejected, SendError> {
        let mut call = tonic::Request::new(encoded);
        *call.metadata_mut() = self.metadata.clone();
        call.set_timeout(timeout);
        let mut client = tonic::client::Grpc::new(self.channel.clone());
        if self.gzip {
            client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        let export = async move {
            // As tonic's generated clients do.
            client
                .ready()
                .await
                .map_err(|e| tonic::Status::unknown(format!("Service was not ready: {e}")))?;
            let path = PathAndQuery::from_static(R::GRPC_EXPORT);
            client
                .unary(call, path, Encoded::<R::Response>::default())
                .await
                .map(tonic::Response::into_inner)
        };
        let started = Instant::now();
        let result = self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, export).await })
            .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("")));
        let status = match result {
            Ok(response) => return Ok(R::rejected(response)),
            Err(status) => status,
        };
        let code = GrpcCode::from_i32(status.code() as i32);
        // The deadline passed: tonic reports it as Cancelled, a server as DeadlineExceeded.
        if matches!(code, GrpcCode::Cancelled | GrpcCode::DeadlineExceeded)
            && started.elapsed() >= timeout
        {
            return Err(SendError::transient(
                Failure::Timeout,
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
        Err(classify(code, &status, message))
    }
}

/// Whether a failed call is retried, and after how long, as the OTLP specification says:
/// the retryable codes are; `RESOURCE_EXHAUSTED` only when the receiver sends `RetryInfo`
/// (else the message was over its size limit, as is `OUT_OF_RANGE` from tonic's server);
/// the transport's own failures by their kind.
fn classify(code: GrpcCode, status: &tonic::Status, message: String) -> SendError {
    let transport = failure::of_chain(status);
    match (code, transport) {
        (_, Some(failure @ (Failure::Tls | Failure::WrongProtocol))) => {
            SendError::permanent(failure, message)
        }
        (
            GrpcCode::Unavailable | GrpcCode::Unknown | GrpcCode::Internal | GrpcCode::Cancelled,
            Some(failure),
        ) => SendError::transient(failure, message, None),
        (GrpcCode::ResourceExhausted, _) => match retry_delay(status.details()) {
            Some(delay) => SendError::transient(Failure::Grpc(code), message, Some(delay)),
            None => SendError::permanent(Failure::TooLarge, message),
        },
        (GrpcCode::OutOfRange, _) => SendError::permanent(Failure::TooLarge, message),
        _ => match retry_delay(status.details()) {
            Some(delay) => SendError::transient(Failure::Grpc(code), message, Some(delay)),
            None if code.is_retryable() => SendError::transient(Failure::Grpc(code), message, None),
            None => SendError::permanent(Failure::Grpc(code), message),
        },
    }
}

/// `google.rpc.Status`, as sent in `grpc-status-details-bin`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// The delay a status' `RetryInfo` detail asks for, if it has one (at most a minute).
fn retry_delay(details: &[u8]) -> Option<Duration> {
    use prost::Message as _;
    let status = RpcStatus::decode(details).ok()?;
    let info = status
        .details
        .iter()
        .find(|any| any.type_url.ends_with("/google.rpc.RetryInfo"))?;
    let delay = RetryInfo::decode(info.value.as_slice()).ok()?.retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    let nanos = u32::try_from(delay.nanos).ok()?;
    Some(Duration::new(seconds, nanos.min(999_999_999)).min(Duration::from_secs(60)))
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
