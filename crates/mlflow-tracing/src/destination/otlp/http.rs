//! OTLP/HTTP: `POST` protobuf or JSON to the endpoint, with a blocking client created on
//! the export thread (never inside the application's async runtime).

use std::io::Write as _;
use std::time::Duration;

use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;
use prost::Message as _;
use reqwest::blocking::Client;
use reqwest::header::{
    CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER,
};

use super::tls::TlsMaterial;
use super::transport::{OtlpRequest, Rejected, Transport, scrub};
use crate::config::otlp::{Compression, OtlpSettings, Protocol};
use crate::config::redact;
use crate::destination::failure::{self, Failure, root_cause};
use crate::destination::retry::{Retry, SendError, parse_retry_after};

pub(super) struct HttpTransport {
    client: Client,
    url: String,
    /// The URL as it may be shown: credentials redacted.
    shown_url: String,
    json: bool,
    gzip: bool,
    headers: HeaderMap,
    secrets: Vec<(String, String)>,
}

impl HttpTransport {
    pub(super) fn new(settings: &OtlpSettings, tls: &TlsMaterial) -> Result<Self, String> {
        let url = settings.endpoint.value.clone();
        let https = url.starts_with("https://");
        let builder = Client::builder()
            .user_agent(concat!(
                "OTel-OTLP-Exporter-Rust mlflow-tracing/",
                env!("CARGO_PKG_VERSION")
            ))
            .timeout(None)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        let builder = if https {
            // Building the TLS configuration must succeed: https never falls back to
            // plaintext.
            builder
                .tls_backend_preconfigured(tls.rustls_config()?)
                .https_only(true)
        } else {
            builder
        };
        let client = builder
            .build()
            .map_err(|e| format!("cannot create the HTTP client: {e}"))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.headers.value.0 {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid OTLP header name {name:?}"))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of OTLP header {name:?} is not valid in HTTP"))?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        Ok(HttpTransport {
            client,
            shown_url: redact::redact_url(&url),
            url,
            json: settings.protocol.value == Protocol::HttpJson,
            gzip: settings.compression.value == Compression::Gzip,
            headers,
            secrets: settings.headers.value.0.clone(),
        })
    }

    /// The request body: protobuf or JSON, gzipped when configured.
    fn body(&self, request: &impl OtlpRequest) -> Result<Vec<u8>, SendError> {
        let raw = if self.json {
            serde_json::to_vec(request).map_err(|e| {
                SendError::permanent(Failure::Other, format!("cannot encode JSON: {e}"))
            })?
        } else {
            request.encode_to_vec()
        };
        if !self.gzip {
            return Ok(raw);
        }
        let mut encoder = GzEncoder::new(Vec::with_capacity(raw.len() / 4), GzLevel::default());
        encoder
            .write_all(&raw)
            .and_then(|()| encoder.finish())
            .map_err(|e| {
                SendError::permanent(Failure::Other, format!("cannot gzip the request: {e}"))
            })
    }
}

impl<R: OtlpRequest> Transport<R> for HttpTransport {
    fn export(&mut self, request: &R, retry: &Retry) -> Result<Rejected, SendError> {
        // Encoded (and compressed) once; every attempt sends the same bytes.
        let body = bytes::Bytes::from(self.body(request)?);
        retry.run(|timeout| self.post::<R>(body.clone(), timeout))
    }
}

impl HttpTransport {
    /// One `POST` of `body`, a request of type `R`.
    fn post<R: OtlpRequest>(
        &self,
        body: bytes::Bytes,
        timeout: Duration,
    ) -> Result<Rejected, SendError> {
        let content_type = if self.json {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        let mut builder = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, content_type)
            .timeout(timeout)
            .body(body);
        if self.gzip {
            builder = builder.header(CONTENT_ENCODING, "gzip");
        }
        let response = match builder.send() {
            Ok(response) => response,
            Err(err) => {
                let failure = failure::of_reqwest(&err);
                let what = match failure {
                    Failure::Timeout => {
                        format!("no response from {} within {timeout:?}", self.shown_url)
                    }
                    Failure::Connect => {
                        format!("cannot connect to {}: {}", self.shown_url, root_cause(&err))
                    }
                    _ => format!("request to {} failed: {}", self.shown_url, root_cause(&err)),
                };
                let what = scrub(what, &self.secrets, &self.url);
                // A TLS or protocol mismatch does not mend by itself.
                return Err(match failure {
                    Failure::Tls | Failure::WrongProtocol => SendError::permanent(failure, what),
                    _ => SendError::transient(failure, what, None),
                });
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(parse_response::<R>(response, self.json));
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let detail = response_detail(response);
        let message = scrub(
            format!("{} answered HTTP {status}{detail}", self.shown_url),
            &self.secrets,
            &self.url,
        );
        // The statuses OTLP/HTTP says to retry.
        match status.as_u16() {
            code @ (429 | 502 | 503 | 504) => Err(SendError::transient(
                Failure::Http(code),
                message,
                retry_after,
            )),
            413 => Err(SendError::permanent(Failure::TooLarge, message)),
            code => Err(SendError::permanent(Failure::Http(code), message)),
        }
    }
}

/// At most this much of an error response's body is read.
const MAX_ERROR_BODY: u64 = 4096;
/// At most this much of a successful response's body is read (for partial success).
const MAX_OK_BODY: u64 = 64 * 1024;

/// The first `limit` bytes of a response's body.
fn read_body(response: reqwest::blocking::Response, limit: u64) -> Vec<u8> {
    use std::io::Read as _;
    let mut body = Vec::new();
    let _ = response.take(limit).read_to_end(&mut body);
    body
}

/// A short, printable hint from an error response (secrets are scrubbed by the caller).
/// Only the start of the body is read.
fn response_detail(response: reqwest::blocking::Response) -> String {
    let text = String::from_utf8_lossy(&read_body(response, MAX_ERROR_BODY)).into_owned();
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if text.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", text.trim())
    }
}

/// The body of a successful response, if it parses.
fn parse_response<R: OtlpRequest>(response: reqwest::blocking::Response, json: bool) -> Rejected {
    let bytes = read_body(response, MAX_OK_BODY);
    if json {
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .map(|value| rejected_in_json(&value))
            .unwrap_or_default()
    } else {
        R::Response::decode(bytes.as_ref())
            .map(R::rejected)
            .unwrap_or_default()
    }
}

/// The partial success of an OTLP/JSON answer: `rejectedSpans` (or `rejectedDataPoints`)
/// as a string, as the proto3 JSON mapping writes 64-bit integers, or as a number.
fn rejected_in_json(value: &serde_json::Value) -> Rejected {
    let Some(partial) = value.get("partialSuccess") else {
        return Rejected::default();
    };
    let count = ["rejectedSpans", "rejectedDataPoints"]
        .iter()
        .find_map(|key| partial.get(*key))
        .and_then(|n| n.as_i64().or_else(|| n.as_str()?.parse().ok()))
        .unwrap_or(0);
    let message = partial
        .get("errorMessage")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    Rejected::new(count, message.to_owned())
}
