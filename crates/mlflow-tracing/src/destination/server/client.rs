//! Requests to the tracking server: a blocking HTTP client made on the thread that uses it
//! (never inside the application's async runtime), the credential and TLS settings, MLflow's
//! retry policy (408, 429, 5xx and connection errors; `Retry-After` honoured; other answers
//! are final), and errors that say what the server answered without ever holding a
//! credential.

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::Client as Http;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER};
use serde_json::Value;

use crate::config::redact::Secrets;
use crate::config::server::{Auth, ServerSettings};
use crate::config::{ConfigError, ServerUrl, Setting, env};
use crate::destination::failure::{self, Failure, root_cause};
use crate::destination::retry::{Retry, SendError, parse_retry_after};
use crate::error::ServerError;

/// Statuses MLflow's client retries (`_TRANSIENT_FAILURE_RESPONSE_CODES`).
const TRANSIENT_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];
/// The longest part of an error response shown in a message.
const MAX_DETAIL_CHARS: usize = 300;

/// How to reach the server: made (and its TLS files read and checked) when the pipeline is
/// built, so that a bad file is an error naming its variable; cheap to clone.
#[derive(Clone)]
pub(super) struct Connection {
    url: ServerUrl,
    auth: Auth,
    ca: Option<Vec<reqwest::Certificate>>,
    identity: Option<reqwest::Identity>,
    insecure: bool,
    timeout: Duration,
    max_retries: u32,
    backoff_factor: Duration,
    jitter: f64,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Reads the PEM file a setting names.
fn read_pem(setting: &Setting<std::path::PathBuf>, what: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(&setting.value).map_err(|e| {
        ConfigError::new(
            setting.variable_or(env::MLFLOW_TRACKING_SERVER_CERT_PATH),
            &setting.value.display().to_string(),
            format!("a readable PEM file with {what} ({e})"),
        )
    })
}

impl Connection {
    /// The connection to `url` with `settings`; reads the TLS files.
    pub(super) fn new(url: &ServerUrl, settings: &ServerSettings) -> Result<Self, ConfigError> {
        let tls = &settings.tls;
        let ca = match &tls.server_cert {
            Some(path) => {
                let what = "CA certificates";
                let pem = read_pem(path, what)?;
                match reqwest::Certificate::from_pem_bundle(&pem) {
                    Ok(certs) if !certs.is_empty() => Some(certs),
                    _ => {
                        return Err(ConfigError::new(
                            env::MLFLOW_TRACKING_SERVER_CERT_PATH,
                            &path.value.display().to_string(),
                            "a PEM file with at least one CERTIFICATE block",
                        ));
                    }
                }
            }
            None => None,
        };
        let identity = match &tls.client_cert {
            Some(path) => {
                let what = "the client certificate and its private key";
                let pem = read_pem(path, what)?;
                Some(reqwest::Identity::from_pem(&pem).map_err(|_| {
                    ConfigError::new(
                        env::MLFLOW_TRACKING_CLIENT_CERT_PATH,
                        &path.value.display().to_string(),
                        format!("a PEM file with {what}"),
                    )
                })?)
            }
            None => None,
        };
        let http = &settings.http;
        Ok(Connection {
            url: url.clone(),
            auth: settings.auth.value.clone(),
            ca,
            identity,
            insecure: tls.insecure.value,
            timeout: http.timeout.value,
            max_retries: http.max_retries.value,
            backoff_factor: Duration::from_secs(http.backoff_factor.value),
            jitter: http.backoff_jitter.value,
        })
    }

    /// The server's URL.
    pub(super) fn url(&self) -> &ServerUrl {
        &self.url
    }

    /// The credential requests carry.
    pub(super) fn auth(&self) -> &Auth {
        &self.auth
    }

    /// A client. Call it on the thread that sends the requests, outside any async runtime.
    pub(super) fn client(&self) -> Result<Client, ServerError> {
        let mut builder = Http::builder()
            .user_agent(concat!("mlflow-tracing-rs/", env!("CARGO_PKG_VERSION")))
            .timeout(None)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if self.url.is_https() {
            // An https URL is never sent in plaintext.
            builder = builder.https_only(true);
        }
        if let Some(ca) = &self.ca {
            builder = builder.tls_certs_only(ca.iter().cloned());
        }
        if let Some(identity) = &self.identity {
            builder = builder.identity(identity.clone());
        }
        if self.insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| {
            ServerError::new(
                format!("cannot create an HTTP client for {}: {e}", self.url),
                None,
                None,
                false,
            )
        })?;
        let authorization = match self.auth.header() {
            Some(value) => {
                let mut value = HeaderValue::from_str(&value).map_err(|_| {
                    ServerError::new(
                        format!(
                            "{} holds characters that cannot be sent in an HTTP header",
                            self.auth.credential()
                        ),
                        None,
                        None,
                        false,
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let mut secrets = Secrets::default();
        match &self.auth {
            Auth::Basic { password, .. } => secrets.add(password),
            Auth::Bearer { token } => secrets.add(token),
            Auth::None => {}
        }
        if let Some(header) = self.auth.header() {
            secrets.add(&header);
        }
        Ok(Client {
            http,
            authorization,
            shown: self.url.to_string(),
            connection: self.clone(),
            secrets,
        })
    }
}

/// A request body.
pub(super) enum Body<'a> {
    None,
    Json(&'a Value),
    Bytes(Vec<u8>, &'static str),
}

/// Sends requests to the server.
pub(super) struct Client {
    http: Http,
    authorization: Option<HeaderValue>,
    connection: Connection,
    /// The server's URL as shown in messages.
    shown: String,
    /// Values scrubbed from anything the server echoes back.
    secrets: Secrets,
}

impl Client {
    /// The server's URL, as shown.
    pub(super) fn shown(&self) -> &str {
        &self.shown
    }

    /// `GET path` (with its query), answered with JSON.
    pub(super) fn get(&self, path: &str) -> Result<Value, ServerError> {
        let body = self.send(Method::GET, path, &[], Body::None, true)?;
        self.json(path, &body)
    }

    /// `POST path` with a JSON body, answered with JSON.
    pub(super) fn post(&self, path: &str, body: &Value) -> Result<Value, ServerError> {
        let answer = self.send(Method::POST, path, &[], Body::Json(body), true)?;
        self.json(path, &answer)
    }

    /// Sends a request and returns the body of a 2xx answer; `retry` applies MLflow's
    /// retry policy, else one attempt.
    pub(super) fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&'static str, String)],
        body: Body<'_>,
        retry: bool,
    ) -> Result<Vec<u8>, ServerError> {
        let url = self.connection.url.endpoint(path);
        let (bytes, content_type) = match body {
            Body::None => (None, None),
            Body::Json(value) => (
                Some(bytes::Bytes::from(
                    serde_json::to_vec(value).unwrap_or_default(),
                )),
                Some("application/json"),
            ),
            Body::Bytes(bytes, content_type) => {
                (Some(bytes::Bytes::from(bytes)), Some(content_type))
            }
        };
        let policy = if retry {
            let c = &self.connection;
            Retry::mlflow(c.timeout, c.max_retries, c.backoff_factor, c.jitter)
        } else {
            Retry::once(self.connection.timeout)
        };
        let mut last: Option<(Option<u16>, Option<String>, bool)> = None;
        let result = policy.run(|timeout| {
            let mut request = self.http.request(method.clone(), &url).timeout(timeout);
            if let Some(value) = &self.authorization {
                request = request.header(AUTHORIZATION, value.clone());
            }
            for (name, value) in headers {
                request = request.header(*name, value.as_str());
            }
            if let (Some(bytes), Some(content_type)) = (&bytes, content_type) {
                request = request
                    .header(CONTENT_TYPE, content_type)
                    .body(bytes.clone());
            }
            match request.send() {
                Ok(response) => self.answer(&method, path, response, &mut last),
                Err(err) => {
                    last = Some((None, None, true));
                    Err(SendError::transient(
                        failure::of_reqwest(&err),
                        self.unreachable(&err, timeout),
                        None,
                    ))
                }
            }
        });
        result.map_err(|err| {
            let (status, code, transient) = last.take().unwrap_or((None, None, true));
            ServerError::new(err.into_message(), status, code, transient)
        })
    }

    /// The body of a 2xx answer, or the error an answer means.
    fn answer(
        &self,
        method: &Method,
        path: &str,
        response: reqwest::blocking::Response,
        last: &mut Option<(Option<u16>, Option<String>, bool)>,
    ) -> Result<Vec<u8>, SendError> {
        let status = response.status().as_u16();
        if response.status().is_success() {
            return response.bytes().map(|b| b.to_vec()).map_err(|e| {
                SendError::transient(
                    failure::of_reqwest(&e),
                    self.unreachable(&e, Duration::ZERO),
                    None,
                )
            });
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(crate::config::redact::redact_url);
        let text = response.text().unwrap_or_default();
        let (code, detail) = error_detail(&text);
        let detail = self.scrub(detail);
        let transient = TRANSIENT_STATUSES.contains(&status);
        *last = Some((Some(status), code.clone(), transient));
        let detail = match (&code, detail.is_empty()) {
            (Some(code), false) => format!("{code}: {detail}"),
            (Some(code), true) => code.clone(),
            (None, false) => detail,
            (None, true) => "no details".to_owned(),
        };
        let auth = &self.connection.auth;
        let message = match status {
            401 => format!(
                "401 from the server {}: {} ({detail})",
                self.shown,
                auth.rejected()
            ),
            403 => format!(
                "403 from the server {}: {} is not allowed to {method} {path} ({detail})",
                self.shown,
                auth.credential()
            ),
            300..=399 => format!(
                "{} answered HTTP {status} to {method} {path}, redirecting to {}: set \
                 MLFLOW_TRACKING_URI to the server's own URL",
                self.shown,
                location.as_deref().unwrap_or("another URL")
            ),
            _ => format!(
                "{} answered HTTP {status} to {method} {path}: {detail}",
                self.shown
            ),
        };
        if transient {
            Err(SendError::transient(
                Failure::Http(status),
                message,
                retry_after,
            ))
        } else {
            Err(SendError::permanent(Failure::Http(status), message))
        }
    }

    /// Why the server could not be reached, in plain words.
    fn unreachable(&self, err: &reqwest::Error, timeout: Duration) -> String {
        let message = if err.is_timeout() {
            format!(
                "no answer from {} within {} s (MLFLOW_HTTP_REQUEST_TIMEOUT)",
                self.shown,
                timeout.as_secs_f64()
            )
        } else if err.is_connect() {
            format!("cannot connect to {}: {}", self.shown, root_cause(err))
        } else {
            format!("request to {} failed: {}", self.shown, root_cause(err))
        };
        self.scrub(crate::config::redact::redact_url(&message))
    }

    /// The JSON of an answer (an empty body is `{}`, as MLflow's client reads it).
    fn json(&self, path: &str, body: &[u8]) -> Result<Value, ServerError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(body).map_err(|e| {
            ServerError::new(
                format!(
                    "{} answered {path} with something that is not JSON ({e}): is this an MLflow \
                     tracking server?",
                    self.shown
                ),
                None,
                None,
                false,
            )
        })
    }

    /// `message` without any credential.
    fn scrub(&self, message: String) -> String {
        self.secrets.scrub(&message)
    }
}

/// MLflow's error code and message from an error answer (`{"error_code", "message"}`), or
/// a printable part of whatever else it is.
fn error_detail(text: &str) -> (Option<String>, String) {
    if let Ok(Value::Object(body)) = serde_json::from_str::<Value>(text) {
        let code = body
            .get("error_code")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let message = match body.get("message").or_else(|| body.get("detail")) {
            Some(Value::String(m)) => m.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        if code.is_some() || !message.is_empty() {
            return (code, printable(&message));
        }
    }
    (None, printable(text))
}

/// One line of at most `MAX_DETAIL_CHARS` printable characters.
fn printable(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.split_whitespace().collect::<Vec<_>>().join(" ");
    if trimmed.chars().count() > MAX_DETAIL_CHARS {
        let cut: String = trimmed.chars().take(MAX_DETAIL_CHARS).collect();
        format!("{cut}…")
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_are_read_and_shortened() {
        let (code, message) = error_detail(
            r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Could not find experiment with name 'x'"}"#,
        );
        assert_eq!(code.as_deref(), Some("RESOURCE_DOES_NOT_EXIST"));
        assert_eq!(message, "Could not find experiment with name 'x'");
        let (code, message) = error_detail("<html>\n<b>Unauthorized</b>\n</html>");
        assert_eq!(code, None);
        assert_eq!(message, "<html> <b>Unauthorized</b> </html>");
        let (_, long) = error_detail(&"x".repeat(1000));
        assert_eq!(long.chars().count(), MAX_DETAIL_CHARS + 1);
        let (_, detail) = error_detail(r#"{"detail":[{"msg":"field required"}]}"#);
        assert!(detail.contains("field required"), "{detail}");
    }
}
