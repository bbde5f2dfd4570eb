//! OTLP exporter settings: the standard `OTEL_EXPORTER_OTLP_*`, `OTEL_BSP_*` and resource
//! variables, resolved with the crate's one precedence rule.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::signal::Signal;
use super::{ConfigError, Env, Setting, Source, env, parse_bool, parse_positive, parse_u64};

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP/gRPC (MLflow's default).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (the OpenTelemetry specification's default).
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies.
    HttpJson,
}

impl Protocol {
    /// The value of `OTEL_EXPORTER_OTLP_PROTOCOL` that selects it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }

    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            "http/json" => Ok(Protocol::HttpJson),
            _ => Err("one of grpc, http/protobuf, http/json".to_owned()),
        }
    }

    pub(crate) fn is_http(self) -> bool {
        !matches!(self, Protocol::Grpc)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compression of OTLP request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// None (the default).
    None,
    /// gzip.
    Gzip,
}

impl Compression {
    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            _ => Err("gzip or none".to_owned()),
        }
    }

    /// The variable's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        }
    }
}

/// Request headers. Their values are secrets: `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Headers(pub(crate) Vec<(String, String)>);

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| format!("{k}=<redacted>")))
            .finish()
    }
}

impl Headers {
    /// `name=<redacted>, …` for display.
    pub(crate) fn redacted(&self) -> String {
        if self.0.is_empty() {
            return "(none)".to_owned();
        }
        self.0
            .iter()
            .map(|(k, _)| format!("{k}=<redacted>"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// TLS files and the gRPC plaintext switch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    /// Trusted CA certificates (PEM), instead of the system roots.
    pub(crate) certificate: Option<Setting<PathBuf>>,
    /// Client certificate (PEM) for mutual TLS.
    pub(crate) client_certificate: Option<Setting<PathBuf>>,
    /// Client private key (PEM) for mutual TLS.
    pub(crate) client_key: Option<Setting<PathBuf>>,
}

/// When spans are sent: the batch span processor's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchSettings {
    /// Longest time a span waits before it is sent (`OTEL_BSP_SCHEDULE_DELAY`).
    pub(crate) schedule_delay: Setting<Duration>,
    /// Most spans per request (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub(crate) max_export_batch_size: Setting<usize>,
    /// A bound on the count of queued spans, only when set (`OTEL_BSP_MAX_QUEUE_SIZE`);
    /// otherwise only the memory bound applies.
    pub(crate) max_queue_size: Option<Setting<usize>>,
    /// Upper bound of one export, retries included (`OTEL_BSP_EXPORT_TIMEOUT`).
    pub(crate) export_timeout: Setting<Duration>,
}

/// One signal's OTLP exporter: where its requests go and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OtlpSettings {
    /// Traces or metrics.
    pub(crate) signal: Signal,
    /// The full URL requests go to (HTTP), or the server's address (gRPC), as configured.
    pub(crate) endpoint: Setting<String>,
    /// The endpoint parsed, with the scheme a gRPC `host:port` implies (`https`, or
    /// `http` when insecure): where transports connect and what `doctor` probes.
    pub(crate) url: url::Url,
    pub(crate) protocol: Setting<Protocol>,
    pub(crate) headers: Setting<Headers>,
    /// Per-request timeout.
    pub(crate) timeout: Setting<Duration>,
    pub(crate) compression: Setting<Compression>,
    pub(crate) tls: TlsFiles,
    /// gRPC only: plaintext for an endpoint without a scheme.
    pub(crate) insecure: Setting<bool>,
    /// The resource every request carries.
    pub(crate) resource: ResourceSettings,
}

/// Everything the OTLP trace exporter needs: the exporter, and when spans are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OtlpTraces {
    pub(crate) exporter: OtlpSettings,
    pub(crate) batch: BatchSettings,
    /// `MLFLOW_ENABLE_OTEL_GENAI_SEMCONV`: spans translated to OpenTelemetry's GenAI
    /// semantic conventions, as MLflow translates them.
    pub(crate) genai_semconv: Setting<bool>,
}

/// OTLP settings made in code; they win over the environment.
#[derive(Debug, Clone, Default)]
pub(crate) struct OtlpCode {
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Option<Vec<(String, String)>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<Compression>,
    pub(crate) genai_semconv: Option<bool>,
}

/// Resolves the OTLP trace exporter's settings; `None` when OTLP export is off (no
/// endpoint, or `MLFLOW_ENABLE_OTLP_EXPORTER=false`).
pub(crate) fn resolve_traces(e: &Env, code: &OtlpCode) -> Result<Option<OtlpTraces>, ConfigError> {
    let enabled = e.resolve(None, &[env::MLFLOW_ENABLE_OTLP_EXPORTER], parse_bool, true)?;
    if code.endpoint.is_none() && !enabled.value {
        return Ok(None);
    }
    let Some(exporter) = resolve_exporter(e, Signal::Traces, code)? else {
        return Ok(None);
    };
    let batch = BatchSettings {
        schedule_delay: e
            .resolve(None, &[env::OTEL_BSP_SCHEDULE_DELAY], parse_u64, 5_000)
            .map(millis)?,
        max_export_batch_size: e.resolve(
            None,
            &[env::OTEL_BSP_MAX_EXPORT_BATCH_SIZE],
            parse_positive,
            512,
        )?,
        max_queue_size: e.resolve_optional(&[env::OTEL_BSP_MAX_QUEUE_SIZE], parse_positive)?,
        export_timeout: e
            .resolve(
                None,
                &[env::OTEL_BSP_EXPORT_TIMEOUT],
                parse_positive,
                30_000,
            )
            .map(millis)?,
    };
    let genai_semconv = e.resolve(
        code.genai_semconv,
        &[env::MLFLOW_ENABLE_OTEL_GENAI_SEMCONV],
        parse_bool,
        false,
    )?;
    Ok(Some(OtlpTraces {
        exporter,
        batch,
        genai_semconv,
    }))
}

/// Resolves one signal's exporter: code > the signal's variable > the generic one >
/// default, for every setting. `None` when no endpoint is configured.
pub(crate) fn resolve_exporter(
    e: &Env,
    signal: Signal,
    code: &OtlpCode,
) -> Result<Option<OtlpSettings>, ConfigError> {
    let vars = signal.vars();
    let specific = e.get(vars.endpoint);
    let generic = e.get(env::OTEL_EXPORTER_OTLP_ENDPOINT);
    let (variable, raw, source) = match (&code.endpoint, specific, generic) {
        (Some(raw), _, _) => (endpoint_method(signal), raw.clone(), Source::Code),
        (None, Some(raw), _) => (vars.endpoint, raw, Source::Env(vars.endpoint)),
        (None, None, Some(raw)) => (
            env::OTEL_EXPORTER_OTLP_ENDPOINT,
            raw,
            Source::Env(env::OTEL_EXPORTER_OTLP_ENDPOINT),
        ),
        (None, None, None) => return Ok(None),
    };
    let protocol = e.resolve(
        code.protocol,
        &[vars.protocol, env::OTEL_EXPORTER_OTLP_PROTOCOL],
        Protocol::parse,
        Protocol::Grpc,
    )?;
    let insecure = e.resolve(
        None,
        &[vars.insecure, env::OTEL_EXPORTER_OTLP_INSECURE],
        parse_bool,
        false,
    )?;
    let url = endpoint_url(variable, &raw, signal, protocol.value, insecure.value)?;
    // The generic endpoint is a base URL: HTTP requests go to its /v1/<signal>.
    let endpoint = if variable == env::OTEL_EXPORTER_OTLP_ENDPOINT && protocol.value.is_http() {
        format!("{}{}", raw.trim_end_matches('/'), signal.http_path())
    } else {
        raw
    };
    let endpoint = Setting::new(endpoint, source);
    let headers = match &code.headers {
        Some(headers) => {
            check_code_headers(headers_method(signal), headers)?;
            Setting::new(Headers(headers.clone()), Source::Code)
        }
        None => {
            let candidates = [vars.headers, env::OTEL_EXPORTER_OTLP_HEADERS];
            match candidates
                .iter()
                .find_map(|v| e.get(v).map(|raw| (*v, raw)))
            {
                Some((var, raw)) => Setting::new(parse_headers(var, &raw)?, Source::Env(var)),
                None => Setting::new(Headers::default(), Source::Default),
            }
        }
    };
    if protocol.value == Protocol::Grpc {
        check_grpc_names(headers.variable_or(headers_method(signal)), &headers.value)?;
    }
    // Only the traces' timeout can be set in code (`otlp_timeout`).
    if code.timeout.is_some_and(|t| t.as_millis() == 0) {
        return Err(ConfigError::new(
            "otlp_timeout",
            "0",
            "a timeout of at least 1 ms",
        ));
    }
    let timeout = e
        .resolve(
            code.timeout.map(|d| d.as_millis() as u64),
            &[vars.timeout, env::OTEL_EXPORTER_OTLP_TIMEOUT],
            parse_positive,
            10_000,
        )
        .map(millis)?;
    let compression = e.resolve(
        code.compression,
        &[vars.compression, env::OTEL_EXPORTER_OTLP_COMPRESSION],
        Compression::parse,
        Compression::None,
    )?;
    let path =
        |signal, generic| e.resolve_optional(&[signal, generic], |raw| Ok(PathBuf::from(raw)));
    let tls = TlsFiles {
        certificate: path(vars.certificate, env::OTEL_EXPORTER_OTLP_CERTIFICATE)?,
        client_certificate: path(
            vars.client_certificate,
            env::OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
        )?,
        client_key: path(vars.client_key, env::OTEL_EXPORTER_OTLP_CLIENT_KEY)?,
    };
    match (&tls.client_certificate, &tls.client_key) {
        (Some(cert), None) => {
            return Err(ConfigError::new(
                cert.variable_or(env::OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE),
                &cert.value.display().to_string(),
                format!(
                    "a client key as well ({} or {}) for mutual TLS",
                    vars.client_key,
                    env::OTEL_EXPORTER_OTLP_CLIENT_KEY
                ),
            ));
        }
        (None, Some(key)) => {
            return Err(ConfigError::new(
                key.variable_or(env::OTEL_EXPORTER_OTLP_CLIENT_KEY),
                &key.value.display().to_string(),
                format!(
                    "a client certificate as well ({} or {}) for mutual TLS",
                    vars.client_certificate,
                    env::OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE
                ),
            ));
        }
        _ => {}
    }
    Ok(Some(OtlpSettings {
        signal,
        endpoint,
        url,
        protocol,
        headers,
        timeout,
        compression,
        tls,
        insecure,
        resource: resolve_resource(e)?,
    }))
}

/// The builder method that sets the endpoint of `signal`, named in errors about its value.
fn endpoint_method(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "otlp_endpoint",
        Signal::Metrics => "metrics_endpoint",
    }
}

/// The builder method that sets the headers of `signal`.
fn headers_method(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "otlp_headers",
        Signal::Metrics => "metrics_headers",
    }
}

pub(super) fn millis(s: Setting<u64>) -> Setting<Duration> {
    Setting::new(Duration::from_millis(s.value), s.source)
}

/// Parses an endpoint: `http://` or `https://` with a host; for gRPC also `host:port`
/// without a scheme, which means TLS unless `insecure`.
fn endpoint_url(
    variable: &str,
    raw: &str,
    signal: Signal,
    protocol: Protocol,
    insecure: bool,
) -> Result<url::Url, ConfigError> {
    let expected = if protocol.is_http() {
        format!(
            "an http:// or https:// URL, e.g. http://localhost:4318{}",
            signal.http_path()
        )
    } else {
        "an http:// or https:// URL or host:port, e.g. http://localhost:4317".to_owned()
    };
    let with_scheme = if raw.contains("://") || protocol.is_http() {
        raw.to_owned()
    } else if insecure {
        format!("http://{raw}")
    } else {
        format!("https://{raw}")
    };
    match url::Url::parse(&with_scheme) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(url)
        }
        _ => Err(ConfigError::new(variable, raw, expected)),
    }
}

/// Parses `k=v,k2=v2` with percent-encoded keys and values. Errors never quote values.
pub(crate) fn parse_headers(variable: &'static str, raw: &str) -> Result<Headers, ConfigError> {
    let mut headers = Vec::new();
    for (i, entry) in raw.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((key, value)) = entry.split_once('=') else {
            return Err(ConfigError::secret(
                variable,
                format!(
                    "comma-separated key=value pairs; entry {} has no '='",
                    i + 1
                ),
            ));
        };
        let (key, value) = (percent_decode(key.trim()), percent_decode(value.trim()));
        check_header(variable, i + 1, &key, &value)?;
        headers.push((key.to_ascii_lowercase(), value));
    }
    Ok(Headers(headers))
}

/// Checks that a header can be sent as it is, over HTTP and as gRPC metadata: the name an
/// HTTP token, the value printable ASCII (no control character, no line break: `%0A`
/// would otherwise fail every export). Errors name the entry, never the value.
fn check_header(variable: &str, entry: usize, key: &str, value: &str) -> Result<(), ConfigError> {
    const TOKEN_PUNCTUATION: &[u8] = b"!#$%&'*+-.^_`|~";
    let problem = if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || TOKEN_PUNCTUATION.contains(&b))
    {
        "has an invalid header name (letters, digits and !#$%&'*+-.^_`|~ are accepted)"
    } else if !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        "has a value with a control or non-ASCII character (header values must be printable \
         ASCII)"
    } else {
        return Ok(());
    };
    Err(ConfigError::secret(
        variable,
        format!("comma-separated key=value pairs; entry {entry} {problem}"),
    ))
}

/// Checks headers given in code (`otlp_headers`, `metrics_headers`) as those of a variable
/// are checked.
fn check_code_headers(method: &str, headers: &[(String, String)]) -> Result<(), ConfigError> {
    for (i, (key, value)) in headers.iter().enumerate() {
        check_header(method, i + 1, key, value)?;
    }
    Ok(())
}

/// gRPC metadata names are narrower than HTTP header names: lowercase letters, digits,
/// `-`, `_` and `.`; names ending in `-bin` carry binary values, which a variable cannot.
fn check_grpc_names(variable: &str, headers: &Headers) -> Result<(), ConfigError> {
    for (i, (key, _)) in headers.0.iter().enumerate() {
        let valid = key.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        }) && !key.ends_with("-bin");
        if !valid {
            return Err(ConfigError::secret(
                variable,
                format!(
                    "gRPC metadata names (letters, digits, '-', '_', '.'; not ending in -bin): \
                     entry {} is {key:?}",
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}

/// Decodes `%XX` sequences; anything else is kept as it is.
pub(crate) fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Resource attributes from `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceSettings {
    /// `service.name`.
    pub(crate) service_name: Setting<String>,
    /// The other attributes, in order.
    pub(crate) attributes: Vec<(String, String)>,
}

/// Resolves the resource: `service.name` from `OTEL_SERVICE_NAME`, else from
/// `OTEL_RESOURCE_ATTRIBUTES`, else `unknown_service:<program>`.
pub(crate) fn resolve_resource(e: &Env) -> Result<ResourceSettings, ConfigError> {
    let mut attributes = Vec::new();
    if let Some(raw) = e.get(env::OTEL_RESOURCE_ATTRIBUTES) {
        for entry in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((key, value)) = entry.split_once('=') else {
                return Err(ConfigError::new(
                    env::OTEL_RESOURCE_ATTRIBUTES,
                    &raw,
                    "comma-separated key=value pairs",
                ));
            };
            attributes.push((percent_decode(key.trim()), percent_decode(value.trim())));
        }
    }
    let from_attributes = attributes
        .iter()
        .position(|(k, _)| k == "service.name")
        .map(|i| attributes.remove(i).1);
    let service_name = match (e.get(env::OTEL_SERVICE_NAME), from_attributes) {
        (Some(name), _) => Setting::new(name, Source::Env(env::OTEL_SERVICE_NAME)),
        (None, Some(name)) => Setting::new(name, Source::Env(env::OTEL_RESOURCE_ATTRIBUTES)),
        (None, None) => Setting::new(
            format!("unknown_service:{}", program_name()),
            Source::Default,
        ),
    };
    Ok(ResourceSettings {
        service_name,
        attributes,
    })
}

/// The executable's file name.
fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rust".to_owned())
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

    fn resolve(vars: &[(&str, &str)]) -> Result<Option<OtlpSettings>, ConfigError> {
        resolve_traces(&env_of(vars), &OtlpCode::default()).map(|t| t.map(|t| t.exporter))
    }

    fn resolve_metrics(vars: &[(&str, &str)]) -> Result<Option<OtlpSettings>, ConfigError> {
        resolve_exporter(&env_of(vars), Signal::Metrics, &OtlpCode::default())
    }

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        assert_eq!(resolve(&[]).unwrap(), None);
        assert_eq!(
            resolve(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317"),
                ("MLFLOW_ENABLE_OTLP_EXPORTER", "false")
            ])
            .unwrap(),
            None
        );
        let err = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h"),
            ("MLFLOW_ENABLE_OTLP_EXPORTER", "no"),
        ])
        .unwrap_err();
        assert_eq!(err.variable(), "MLFLOW_ENABLE_OTLP_EXPORTER");
    }

    #[test]
    fn endpoints_and_protocols() {
        let s = resolve(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://h:4318/custom")])
            .unwrap()
            .unwrap();
        assert_eq!(s.protocol, Setting::new(Protocol::Grpc, Source::Default));
        assert_eq!(s.endpoint.value, "http://h:4318/custom");
        let s = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/Protobuf"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.endpoint.value, "http://h:4318/v1/traces");
        assert_eq!(s.protocol.value, Protocol::HttpProtobuf);
        // gRPC uses the generic endpoint as it is.
        let s = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317")])
            .unwrap()
            .unwrap();
        assert_eq!(s.endpoint.value, "http://h:4317");
        // The signal-specific variable wins.
        let s = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://specific:4318/v1/traces",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.endpoint.value, "http://specific:4318/v1/traces");
        assert_eq!(
            s.protocol,
            Setting::new(
                Protocol::HttpJson,
                Source::Env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            )
        );
        // Code wins over everything.
        let code = OtlpCode {
            endpoint: Some("https://code:443".into()),
            protocol: Some(Protocol::HttpProtobuf),
            ..OtlpCode::default()
        };
        let s = resolve_traces(
            &env_of(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env:1")]),
            &code,
        )
        .unwrap()
        .unwrap()
        .exporter;
        assert_eq!(
            s.endpoint,
            Setting::new("https://code:443".to_owned(), Source::Code)
        );
        assert_eq!(s.protocol.source, Source::Code);
        // gRPC accepts host:port: TLS, unless insecure.
        let s = resolve(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4317")])
            .unwrap()
            .unwrap();
        assert_eq!(s.endpoint.value, "collector:4317");
        assert_eq!(s.url.as_str(), "https://collector:4317/");
        let s = resolve(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.url.as_str(), "http://collector:4317/");
    }

    #[test]
    fn invalid_values_are_named() {
        for (var, value, expected) in [
            (
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "thrift",
                "one of grpc, http/protobuf, http/json",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s", "a positive integer"),
            // A zero timeout would fail every export.
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "0", "a positive integer"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                "0",
                "a positive integer",
            ),
            ("OTEL_BSP_EXPORT_TIMEOUT", "0", "a positive integer"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", "gzip or none"),
            (
                "OTEL_EXPORTER_OTLP_INSECURE",
                "yes",
                "one of true, false, 1, 0",
            ),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0", "a positive integer"),
        ] {
            let err = resolve(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317"),
                (var, value),
            ])
            .unwrap_err();
            assert_eq!(err.variable(), var);
            assert_eq!(err.expected(), expected);
            assert!(err.to_string().contains(value), "{err}");
        }
        let err = resolve(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://h"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ])
        .unwrap_err();
        assert_eq!(err.variable(), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let err = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://")]).unwrap_err();
        assert_eq!(err.variable(), "OTEL_EXPORTER_OTLP_ENDPOINT");
    }

    #[test]
    fn headers_are_decoded_and_never_shown() {
        let h = parse_headers(
            "V",
            "api_key=12345, x-other=b%20c,Authorization=Bearer%20s3cr3t",
        )
        .unwrap();
        assert_eq!(
            h.0,
            [
                ("api_key".to_owned(), "12345".to_owned()),
                ("x-other".to_owned(), "b c".to_owned()),
                ("authorization".to_owned(), "Bearer s3cr3t".to_owned())
            ]
        );
        let shown = format!("{h:?} {}", h.redacted());
        assert!(
            !shown.contains("12345") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        let err =
            parse_headers("OTEL_EXPORTER_OTLP_HEADERS", "good=1,bad-token-s3cr3t").unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(err.to_string().contains("entry 2 has no '='"), "{err}");
        assert_eq!(err.variable(), "OTEL_EXPORTER_OTLP_HEADERS");
        // The signal-specific variable replaces the generic one.
        let s = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.headers.value.0, [("b".to_owned(), "2".to_owned())]);
    }

    #[test]
    fn headers_that_cannot_be_sent_are_refused_at_build() {
        // A line break, a NUL, a non-ASCII character: every export would fail.
        for raw in [
            "a=s3c%0Ar3t",
            "ok=1,b=s3c%00r3t",
            "c=s3c%C3%A9r3t",
            "d=s3c%09r3t",
        ] {
            let err = parse_headers("OTEL_EXPORTER_OTLP_HEADERS", raw).unwrap_err();
            assert_eq!(err.variable(), "OTEL_EXPORTER_OTLP_HEADERS");
            assert!(err.to_string().contains("printable"), "{err}");
            assert!(
                !err.to_string().contains("s3c"),
                "the value is never shown: {err}"
            );
        }
        let err = parse_headers("V", "good=1,bad(name)=2").unwrap_err();
        assert!(
            err.to_string()
                .contains("entry 2 has an invalid header name"),
            "{err}"
        );
        // Names valid in HTTP but not as gRPC metadata are refused for gRPC only.
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=1,x!y=2"),
        ];
        let err = resolve(&vars).unwrap_err();
        assert_eq!(err.variable(), "OTEL_EXPORTER_OTLP_TRACES_HEADERS");
        assert!(err.to_string().contains("entry 2 is \"x!y\""), "{err}");
        let http = [
            vars[0],
            vars[1],
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ];
        assert!(resolve(&http).unwrap().is_some());
        let err = resolve(&[vars[0], ("OTEL_EXPORTER_OTLP_HEADERS", "key-bin=AAAA")]).unwrap_err();
        assert!(err.to_string().contains("-bin"), "{err}");
        // Headers and timeouts given in code are checked too.
        let code = OtlpCode {
            endpoint: Some("http://h:4317".into()),
            headers: Some(vec![("authorization".into(), "Bearer a\nb".into())]),
            ..OtlpCode::default()
        };
        let err = resolve_traces(&Env::from_fn(|_| None), &code).unwrap_err();
        assert_eq!(err.variable(), "otlp_headers");
        assert!(!err.to_string().contains("Bearer"), "{err}");
        let code = OtlpCode {
            endpoint: Some("http://h:4317".into()),
            timeout: Some(Duration::ZERO),
            ..OtlpCode::default()
        };
        let err = resolve_traces(&Env::from_fn(|_| None), &code).unwrap_err();
        assert_eq!(err.variable(), "otlp_timeout");
    }

    #[test]
    fn tls_files_need_both_halves_for_mutual_tls() {
        let err = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://h:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "/c.pem"),
        ])
        .unwrap_err();
        assert_eq!(
            err.variable(),
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE"
        );
        let s = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://h:4317"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/c.pem"),
            ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/k.pem"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.tls.certificate.unwrap().value, PathBuf::from("/ca.pem"));
        assert_eq!(
            s.tls.client_key.unwrap().source,
            Source::Env("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY")
        );
    }

    #[test]
    fn batch_defaults_follow_opentelemetry() {
        let t = resolve_traces(
            &env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317")]),
            &OtlpCode::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(t.batch.schedule_delay.value, Duration::from_millis(5000));
        assert_eq!(t.batch.max_export_batch_size.value, 512);
        assert_eq!(t.batch.max_queue_size, None);
        assert_eq!(t.exporter.timeout.value, Duration::from_secs(10));
        assert_eq!(t.exporter.compression.value, Compression::None);
    }

    #[test]
    fn metrics_resolve_per_signal_like_traces() {
        // Nothing configured: no metrics.
        assert_eq!(resolve_metrics(&[]).unwrap(), None);
        // The generic endpoint gets /v1/metrics for HTTP; the metrics variables win over
        // the generic ones, and the trace variables do not apply.
        let s = resolve_metrics(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1"),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "m=2"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "t=3"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", "/m-ca.pem"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.signal, Signal::Metrics);
        assert_eq!(s.endpoint.value, "http://h:4318/v1/metrics");
        assert_eq!(
            s.protocol,
            Setting::new(
                Protocol::HttpProtobuf,
                Source::Env("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
            )
        );
        assert_eq!(s.headers.value.0, [("m".to_owned(), "2".to_owned())]);
        assert_eq!(s.timeout.value, Duration::from_secs(2));
        assert_eq!(s.compression.value, Compression::Gzip);
        assert_eq!(s.tls.certificate.unwrap().value, PathBuf::from("/m-ca.pem"));
        // The metrics endpoint is used as given; grpc is the default protocol.
        let s = resolve_metrics(&[
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://p:9090/api/v1/otlp/v1/metrics",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://other:4317"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.endpoint.value, "http://p:9090/api/v1/otlp/v1/metrics");
        assert_eq!(s.protocol, Setting::new(Protocol::Grpc, Source::Default));
        // A trace endpoint alone does not turn metrics on.
        assert_eq!(
            resolve_metrics(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://h:4317")]).unwrap(),
            None
        );
        // Errors name the metrics variable.
        let err = resolve_metrics(&[
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://h:4318/v1/metrics",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "thrift"),
        ])
        .unwrap_err();
        assert_eq!(err.variable(), "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL");
        let err = resolve_metrics(&[
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "not a url"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        ])
        .unwrap_err();
        assert_eq!(err.variable(), "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
        assert!(err.expected().contains("/v1/metrics"), "{err}");
        let err = resolve_metrics(&[
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "https://h:4317"),
            ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "/k.pem"),
        ])
        .unwrap_err();
        assert_eq!(err.variable(), "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY");
        assert!(
            err.expected()
                .contains("OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE"),
            "{err}"
        );
    }

    #[test]
    fn resource_from_the_environment() {
        let r = resolve_resource(&env_of(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=dev,team=a%20b,service.name=from-attrs",
        )]))
        .unwrap();
        assert_eq!(
            r.service_name,
            Setting::new(
                "from-attrs".to_owned(),
                Source::Env("OTEL_RESOURCE_ATTRIBUTES")
            )
        );
        assert_eq!(
            r.attributes,
            [
                ("deployment.environment".to_owned(), "dev".to_owned()),
                ("team".to_owned(), "a b".to_owned())
            ]
        );
        let r = resolve_resource(&env_of(&[
            ("OTEL_SERVICE_NAME", "svc"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=x"),
        ]))
        .unwrap();
        assert_eq!(r.service_name.value, "svc");
        let r = resolve_resource(&env_of(&[])).unwrap();
        assert!(
            r.service_name.value.starts_with("unknown_service:"),
            "{:?}",
            r.service_name
        );
        let err =
            resolve_resource(&env_of(&[("OTEL_RESOURCE_ATTRIBUTES", "novalue")])).unwrap_err();
        assert_eq!(err.variable(), "OTEL_RESOURCE_ATTRIBUTES");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Cc"), "a b,c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%e2%82%ac"), "€");
    }
}
