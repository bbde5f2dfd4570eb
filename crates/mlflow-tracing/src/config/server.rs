//! An MLflow tracking server as the tracking URI: its URL ([`ServerUrl`], credentials kept
//! but never shown) and the settings of talking to it — authentication, TLS, retries and
//! timeouts — resolved from MLflow's own variables (`MLFLOW_TRACKING_*`,
//! `MLFLOW_HTTP_REQUEST_*`) with their MLflow defaults and bounds.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::otlp::{ResourceSettings, percent_decode, resolve_resource};
use super::redact::{REDACTED, redact_url};
use super::{ConfigError, Env, Setting, Source, env, parse_bool};

/// The URL of an MLflow tracking server (`http://host:5000`, `https://host/prefix`).
///
/// Credentials given in it (`https://user:password@host`) are used for basic
/// authentication and never shown: it displays (and debugs) as
/// `https://<redacted>@host`, without a trailing slash.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ServerUrl {
    url: url::Url,
}

impl ServerUrl {
    /// Parses an `http://` or `https://` URL with a host and no query or fragment;
    /// errors name `variable` and never show credentials.
    pub(crate) fn parse(variable: &str, raw: &str) -> Result<ServerUrl, ConfigError> {
        const EXPECTED: &str = "an MLflow tracking server URL, http://host:port or \
             https://host[/path], without a query string";
        let shown = redact_url(raw);
        let url = url::Url::parse(raw).map_err(|_| ConfigError::new(variable, &shown, EXPECTED))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none_or(str::is_empty)
            || url.query().is_some()
            || url.fragment().is_some()
            || (url.username().is_empty() && url.password().is_some())
        {
            return Err(ConfigError::new(variable, &shown, EXPECTED));
        }
        Ok(ServerUrl { url })
    }

    /// The URL of `path` (`/api/2.0/…`, `/v1/traces`) on this server, without credentials.
    #[cfg_attr(not(feature = "mlflow-server"), allow(dead_code))]
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// The server's URL without credentials and without a trailing slash.
    pub(crate) fn base(&self) -> String {
        let mut url = self.url.clone();
        // Only fails for URLs that cannot have credentials, which `parse` rejects.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.as_str().trim_end_matches('/').to_owned()
    }

    /// The user name and password given in the URL, decoded.
    #[cfg_attr(not(feature = "mlflow-server"), allow(dead_code))]
    pub(crate) fn credentials(&self) -> Option<(String, String)> {
        if self.url.username().is_empty() {
            return None;
        }
        Some((
            percent_decode(self.url.username()),
            percent_decode(self.url.password().unwrap_or_default()),
        ))
    }

    /// Whether requests go over TLS.
    #[cfg_attr(not(feature = "mlflow-server"), allow(dead_code))]
    pub(crate) fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(self.url.as_str().trim_end_matches('/')))
    }
}

impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerUrl({self})")
    }
}

/// How requests to the server authenticate. `Debug` never shows a secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// No `Authorization` header.
    None,
    /// `Authorization: Basic …`.
    Basic {
        username: String,
        password: String,
        /// Whether they came from the tracking URI (else from the variables).
        in_uri: bool,
    },
    /// `Authorization: Bearer <MLFLOW_TRACKING_TOKEN>`.
    Bearer { token: String },
}

impl Auth {
    /// The `Authorization` header value, if any.
    #[cfg_attr(not(feature = "mlflow-server"), allow(dead_code))]
    pub(crate) fn header(&self) -> Option<String> {
        use base64::Engine as _;
        match self {
            Auth::None => None,
            Auth::Basic {
                username, password, ..
            } => {
                let pair = format!("{username}:{password}");
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            Auth::Bearer { token } => Some(format!("Bearer {token}")),
        }
    }

    /// The credential, named as the user set it: what a 401 rejected.
    #[cfg_attr(not(feature = "mlflow-server"), allow(dead_code))]
    pub(crate) fn credential(&self) -> &'static str {
        match self {
            Auth::None => "no credential",
            Auth::Basic { in_uri: true, .. } => "the user name and password in the tracking URI",
            Auth::Basic { in_uri: false, .. } => {
                "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD"
            }
            Auth::Bearer { .. } => "MLFLOW_TRACKING_TOKEN",
        }
    }

    /// What a 401 means, in plain words, for this credential.
    #[cfg_attr(not(feature = "mlflow-server"), allow(dead_code))]
    pub(crate) fn rejected(&self) -> String {
        match self {
            Auth::None => "the server requires authentication and no credential was sent: set \
                 MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"
                .to_owned(),
            other => format!("{} was rejected", other.credential()),
        }
    }

    /// A description without secrets, for `doctor`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Auth::None => "none".to_owned(),
            Auth::Basic {
                username, in_uri, ..
            } => {
                let from = if *in_uri {
                    "from the tracking URI"
                } else {
                    "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD"
                };
                format!("basic, user {username:?}, password {REDACTED} ({from})")
            }
            Auth::Bearer { .. } => format!("bearer token {REDACTED} (MLFLOW_TRACKING_TOKEN)"),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// TLS towards the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerTls {
    /// `MLFLOW_TRACKING_INSECURE_TLS`: do not verify the server's certificate.
    pub(crate) insecure: Setting<bool>,
    /// `MLFLOW_TRACKING_SERVER_CERT_PATH`: the CA bundle trusted instead of the system's.
    pub(crate) server_cert: Option<Setting<PathBuf>>,
    /// `MLFLOW_TRACKING_CLIENT_CERT_PATH`: a PEM file with the client certificate and key.
    pub(crate) client_cert: Option<Setting<PathBuf>>,
}

/// Retries and timeouts of every request, as MLflow defines them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpSettings {
    /// Retries after the first attempt (`MLFLOW_HTTP_REQUEST_MAX_RETRIES`, 0..=10).
    pub(crate) max_retries: Setting<u32>,
    /// Seconds; waits are 0, 2×, 4×, … this (`MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR`, 0..=120).
    pub(crate) backoff_factor: Setting<u64>,
    /// Up to this many seconds are added to each wait (`MLFLOW_HTTP_REQUEST_BACKOFF_JITTER`).
    pub(crate) backoff_jitter: Setting<f64>,
    /// Per request (`MLFLOW_HTTP_REQUEST_TIMEOUT`).
    pub(crate) timeout: Setting<Duration>,
}

/// Everything needed to talk to a tracking server.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServerSettings {
    pub(crate) auth: Setting<Auth>,
    pub(crate) tls: ServerTls,
    pub(crate) http: HttpSettings,
    /// Resource attributes for the spans sent to `/v1/traces`, only when the user set some
    /// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`): the server turns them into trace
    /// tags.
    pub(crate) resource: Option<ResourceSettings>,
}

/// MLflow's bounds (`_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT`,
/// `_MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT`).
const MAX_RETRIES_LIMIT: u32 = 10;
const MAX_BACKOFF_FACTOR: u64 = 120;

/// Resolves how to talk to the server at `url` (whose own credentials win, as they do in
/// MLflow's HTTP client).
pub(crate) fn resolve(
    e: &Env,
    url: &ServerUrl,
    url_source: &Source,
) -> Result<ServerSettings, ConfigError> {
    let auth = match (
        url.credentials(),
        e.get(env::MLFLOW_TRACKING_USERNAME),
        e.get(env::MLFLOW_TRACKING_PASSWORD),
        e.get(env::MLFLOW_TRACKING_TOKEN),
    ) {
        (Some((username, password)), ..) => Setting::new(
            Auth::Basic {
                username,
                password,
                in_uri: true,
            },
            url_source.clone(),
        ),
        (None, Some(username), Some(password), _) => Setting::new(
            Auth::Basic {
                username,
                password,
                in_uri: false,
            },
            Source::Env(env::MLFLOW_TRACKING_PASSWORD),
        ),
        (None, _, _, Some(token)) => Setting::new(
            Auth::Bearer { token },
            Source::Env(env::MLFLOW_TRACKING_TOKEN),
        ),
        _ => Setting::new(Auth::None, Source::Default),
    };
    let path = |var| e.resolve_optional(&[var], |raw| Ok(PathBuf::from(raw)));
    let tls = ServerTls {
        insecure: e.resolve(
            None,
            &[env::MLFLOW_TRACKING_INSECURE_TLS],
            parse_bool,
            false,
        )?,
        server_cert: path(env::MLFLOW_TRACKING_SERVER_CERT_PATH)?,
        client_cert: path(env::MLFLOW_TRACKING_CLIENT_CERT_PATH)?,
    };
    if let (true, Some(cert)) = (tls.insecure.value, &tls.server_cert) {
        return Err(ConfigError::new(
            env::MLFLOW_TRACKING_SERVER_CERT_PATH,
            &cert.value.display().to_string(),
            "no CA bundle when MLFLOW_TRACKING_INSECURE_TLS=true (certificates are not \
             verified then); unset one of them",
        ));
    }
    let http = HttpSettings {
        max_retries: e.resolve(
            None,
            &[env::MLFLOW_HTTP_REQUEST_MAX_RETRIES],
            |raw| bounded(raw, u64::from(MAX_RETRIES_LIMIT)).map(|n| n as u32),
            7,
        )?,
        backoff_factor: e.resolve(
            None,
            &[env::MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR],
            |raw| bounded(raw, MAX_BACKOFF_FACTOR),
            2,
        )?,
        backoff_jitter: e.resolve(
            None,
            &[env::MLFLOW_HTTP_REQUEST_BACKOFF_JITTER],
            parse_seconds,
            1.0,
        )?,
        timeout: e
            .resolve(
                None,
                &[env::MLFLOW_HTTP_REQUEST_TIMEOUT],
                |raw| match raw.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err("a positive whole number of seconds".to_owned()),
                },
                120,
            )
            .map(|s| Setting::new(Duration::from_secs(s.value), s.source))?,
    };
    let resource = resolve_resource(e)?;
    let resource = (resource.service_name.source != Source::Default
        || !resource.attributes.is_empty())
    .then_some(resource);
    Ok(ServerSettings {
        auth,
        tls,
        http,
        resource,
    })
}

/// A whole number in `0..=max`.
fn bounded(raw: &str, max: u64) -> Result<u64, String> {
    match raw.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!("a whole number from 0 to {max}")),
    }
}

/// A non-negative number of seconds.
fn parse_seconds(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("a non-negative number of seconds".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::from_fn(move |k| map.get(k).cloned())
    }

    fn url(raw: &str) -> ServerUrl {
        ServerUrl::parse("V", raw).unwrap()
    }

    #[test]
    fn urls_keep_credentials_and_never_show_them() {
        let u = url("https://alice:p%40ss@mlflow.example.com/prefix/");
        assert_eq!(
            u.to_string(),
            "https://<redacted>@mlflow.example.com/prefix"
        );
        assert_eq!(
            format!("{u:?}"),
            "ServerUrl(https://<redacted>@mlflow.example.com/prefix)"
        );
        assert_eq!(
            u.endpoint("/version"),
            "https://mlflow.example.com/prefix/version"
        );
        assert_eq!(u.credentials(), Some(("alice".into(), "p@ss".into())));
        assert!(u.is_https());
        let plain = url("http://127.0.0.1:5000");
        assert_eq!(plain.to_string(), "http://127.0.0.1:5000");
        assert_eq!(plain.credentials(), None);
        for bad in [
            "http://",
            "https://h/?token=s3cr3t",
            "https://h/#x",
            "ftp://h",
            "http://:pw@h",
        ] {
            let err = ServerUrl::parse("MLFLOW_TRACKING_URI", bad).unwrap_err();
            assert_eq!(err.variable(), "MLFLOW_TRACKING_URI");
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
        let err = ServerUrl::parse("V", "https://u:s3cr3t@h/?x=1").unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }

    #[test]
    fn credentials_in_the_uri_then_basic_then_bearer() {
        let plain = url("http://h:5000");
        let both = [
            ("MLFLOW_TRACKING_USERNAME", "bob"),
            ("MLFLOW_TRACKING_PASSWORD", "pw"),
            ("MLFLOW_TRACKING_TOKEN", "tok"),
        ];
        let s = resolve(&env_of(&both), &plain, &Source::Default).unwrap();
        assert_eq!(s.auth.value.header().unwrap(), "Basic Ym9iOnB3");
        assert_eq!(
            s.auth.value.credential(),
            "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD"
        );
        let s = resolve(&env_of(&both[2..]), &plain, &Source::Default).unwrap();
        assert_eq!(s.auth.value.header().unwrap(), "Bearer tok");
        assert_eq!(
            s.auth.value.rejected(),
            "MLFLOW_TRACKING_TOKEN was rejected"
        );
        // A user name alone is the trace's `mlflow.user`, not a credential.
        let s = resolve(&env_of(&both[..1]), &plain, &Source::Default).unwrap();
        assert_eq!(s.auth.value, Auth::None);
        let in_uri = url("http://carol:pw2@h:5000");
        let source = Source::Env("MLFLOW_TRACKING_URI");
        let s = resolve(&env_of(&both), &in_uri, &source).unwrap();
        assert_eq!(s.auth.source, source);
        assert!(
            matches!(s.auth.value, Auth::Basic { ref username, in_uri: true, .. } if username == "carol")
        );
        let shown = format!("{:?} {}", s.auth.value, s.auth.value.describe());
        assert!(!shown.contains("pw2"), "{shown}");
    }

    #[test]
    fn http_settings_follow_mlflow_defaults_and_bounds() {
        let plain = url("http://h");
        let s = resolve(&env_of(&[]), &plain, &Source::Default).unwrap();
        assert_eq!(s.http.max_retries.value, 7);
        assert_eq!(s.http.backoff_factor.value, 2);
        assert_eq!(s.http.backoff_jitter.value, 1.0);
        assert_eq!(s.http.timeout.value, Duration::from_secs(120));
        assert!(!s.tls.insecure.value);
        assert_eq!(s.resource, None);
        for (var, value, expected) in [
            (
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
                "11",
                "a whole number from 0 to 10",
            ),
            (
                "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
                "-1",
                "a whole number from 0 to 120",
            ),
            (
                "MLFLOW_HTTP_REQUEST_TIMEOUT",
                "0",
                "a positive whole number of seconds",
            ),
            (
                "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
                "x",
                "a non-negative number of seconds",
            ),
            (
                "MLFLOW_TRACKING_INSECURE_TLS",
                "yes",
                "one of true, false, 1, 0",
            ),
        ] {
            let err = resolve(&env_of(&[(var, value)]), &plain, &Source::Default).unwrap_err();
            assert_eq!((err.variable(), err.expected()), (var, expected));
        }
        let err = resolve(
            &env_of(&[
                ("MLFLOW_TRACKING_INSECURE_TLS", "true"),
                ("MLFLOW_TRACKING_SERVER_CERT_PATH", "/ca.pem"),
            ]),
            &plain,
            &Source::Default,
        )
        .unwrap_err();
        assert_eq!(err.variable(), "MLFLOW_TRACKING_SERVER_CERT_PATH");
        let s = resolve(
            &env_of(&[("OTEL_SERVICE_NAME", "svc")]),
            &plain,
            &Source::Default,
        )
        .unwrap();
        assert_eq!(s.resource.unwrap().service_name.value, "svc");
    }
}
