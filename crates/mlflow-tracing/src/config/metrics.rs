//! Span metrics settings: where the span-duration histogram goes (the OTLP metrics
//! exporter, resolved per signal like traces), its temporality, export interval and
//! timeout, and which trace tags and metadata become its attributes.

use std::fmt;
use std::time::Duration;

use super::entries::{ExporterNames, entry, exporter_entries, millis, resource_entries};
use super::otlp::{self, OtlpCode, OtlpSettings, resolve_exporter};
use super::signal::Signal;
use super::{ConfigEntry, ConfigError, Env, Setting, Settings, Source, env, parse_positive};

/// How the span-duration histogram aggregates over time
/// (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Temporality {
    /// Counts since the process started (the default): what Prometheus needs.
    Cumulative,
    /// Counts since the previous export. Prometheus accepts it only with
    /// `--enable-feature=otlp-deltatocumulative`.
    Delta,
    /// OpenTelemetry's `lowmemory`: delta for histograms (so, here, [`Temporality::Delta`]).
    LowMemory,
}

impl Temporality {
    /// The variable's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Temporality::Cumulative => "cumulative",
            Temporality::Delta => "delta",
            Temporality::LowMemory => "lowmemory",
        }
    }

    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "cumulative" => Ok(Temporality::Cumulative),
            "delta" => Ok(Temporality::Delta),
            "lowmemory" => Ok(Temporality::LowMemory),
            _ => Err("one of cumulative, delta, lowmemory".to_owned()),
        }
    }
}

impl fmt::Display for Temporality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which `tags.<key>` and `metadata.<key>` attributes the histogram keeps
/// (`MLFLOW_TRACE_METRICS_ATTRIBUTES`). `root`, `span_type`, `span_status` and
/// `experiment_id` are always kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MetricAttributes {
    /// Every tag and metadata entry, as MLflow does.
    All,
    /// Only the keys matching one of these patterns: a full attribute key
    /// (`tags.env`), or a prefix followed by `*` (`metadata.mlflow.source.*`).
    Only(Vec<String>),
}

/// What `MLFLOW_TRACE_METRICS_ATTRIBUTES` accepts.
const EXPECTED_ATTRIBUTES: &str = "all, none, or comma-separated attribute keys starting with \
     tags. or metadata. (a trailing * matches any rest), e.g. tags.env,metadata.mlflow.source.*";

impl MetricAttributes {
    /// Whether the attribute `key` (`tags.env`, `metadata.app.version`) is kept.
    #[cfg_attr(
        not(all(feature = "metrics", any(feature = "otlp-http", feature = "otlp-grpc"))),
        allow(dead_code)
    )]
    pub(crate) fn keeps(&self, key: &str) -> bool {
        match self {
            MetricAttributes::All => true,
            MetricAttributes::Only(patterns) => {
                patterns.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => key.starts_with(prefix),
                    None => key == p,
                })
            }
        }
    }

    /// Patterns given in code or in the variable: each must name a `tags.` or
    /// `metadata.` attribute.
    pub(crate) fn only(patterns: Vec<String>) -> Result<Self, String> {
        let patterns: Vec<String> = patterns
            .into_iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        if patterns.iter().all(|p| {
            let name = p.strip_suffix('*').unwrap_or(p);
            (name.starts_with("tags.") || name.starts_with("metadata.")) && !name.contains('*')
        }) {
            Ok(MetricAttributes::Only(patterns))
        } else {
            Err(EXPECTED_ATTRIBUTES.to_owned())
        }
    }

    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "all" | "*" => Ok(MetricAttributes::All),
            "none" => Ok(MetricAttributes::Only(Vec::new())),
            _ => MetricAttributes::only(raw.split(',').map(str::to_owned).collect()),
        }
    }
}

impl fmt::Display for MetricAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricAttributes::All => f.write_str("all trace tags and metadata"),
            MetricAttributes::Only(p) if p.is_empty() => f.write_str("no trace tags or metadata"),
            MetricAttributes::Only(p) => f.write_str(&p.join(",")),
        }
    }
}

/// Everything the span metrics need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetricsSettings {
    /// The OTLP metrics exporter.
    pub(crate) exporter: OtlpSettings,
    pub(crate) temporality: Setting<Temporality>,
    /// Time between two exports (`OTEL_METRIC_EXPORT_INTERVAL`).
    pub(crate) interval: Setting<Duration>,
    /// Upper bound of one export, retries included (`OTEL_METRIC_EXPORT_TIMEOUT`).
    pub(crate) export_timeout: Setting<Duration>,
    /// Which trace tags and metadata become attributes.
    pub(crate) attributes: Setting<MetricAttributes>,
}

/// Span metrics settings made in code; they win over the environment.
#[derive(Debug, Clone, Default)]
pub(crate) struct MetricsCode {
    pub(crate) otlp: OtlpCode,
    pub(crate) enabled: Option<bool>,
    pub(crate) temporality: Option<Temporality>,
    pub(crate) interval: Option<Duration>,
    pub(crate) attributes: Option<Vec<String>>,
}

/// Resolves the span metrics; `None` when they are off: no metrics endpoint (neither
/// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` nor `OTEL_EXPORTER_OTLP_ENDPOINT`), or
/// `OTEL_METRICS_EXPORTER=none`. Independent of `MLFLOW_ENABLE_OTLP_EXPORTER` and of where
/// traces go, as in MLflow.
pub(crate) fn resolve_metrics(
    e: &Env,
    code: &MetricsCode,
) -> Result<Option<MetricsSettings>, ConfigError> {
    let enabled = e.resolve(
        code.enabled,
        &[env::OTEL_METRICS_EXPORTER],
        |raw| match raw.trim().to_ascii_lowercase().as_str() {
            "otlp" => Ok(true),
            "none" => Ok(false),
            _ => Err("otlp or none".to_owned()),
        },
        true,
    )?;
    if !enabled.value {
        return Ok(None);
    }
    let Some(exporter) = resolve_exporter(e, Signal::Metrics, &code.otlp)? else {
        return Ok(None);
    };
    let temporality = e.resolve(
        code.temporality,
        &[env::OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE],
        Temporality::parse,
        Temporality::Cumulative,
    )?;
    if let Some(interval) = code.interval
        && interval.is_zero()
    {
        return Err(ConfigError::new(
            "metrics_export_interval",
            &format!("{interval:?}"),
            "a positive duration",
        ));
    }
    let interval = e
        .resolve(
            code.interval.map(|d| d.as_millis() as u64),
            &[env::OTEL_METRIC_EXPORT_INTERVAL],
            parse_positive,
            60_000,
        )
        .map(otlp::millis)?;
    let export_timeout = e
        .resolve(
            None,
            &[env::OTEL_METRIC_EXPORT_TIMEOUT],
            parse_positive,
            30_000,
        )
        .map(otlp::millis)?;
    let attributes = match &code.attributes {
        Some(patterns) => Setting::new(
            MetricAttributes::only(patterns.clone()).map_err(|expected| {
                ConfigError::new("metrics_attributes", &patterns.join(","), expected)
            })?,
            Source::Code,
        ),
        None => e.resolve(
            None,
            &[env::MLFLOW_TRACE_METRICS_ATTRIBUTES],
            MetricAttributes::parse,
            MetricAttributes::All,
        )?,
    };
    Ok(Some(MetricsSettings {
        exporter,
        temporality,
        interval,
        export_timeout,
        attributes,
    }))
}

/// The names the metrics exporter's entries are shown under.
const NAMES: ExporterNames = ExporterNames {
    endpoint: "metrics endpoint",
    protocol: "metrics protocol",
    headers: "metrics headers",
    timeout: "metrics timeout",
    compression: "metrics compression",
    certificate: "metrics CA certificate",
    client_certificate: "metrics client certificate",
    client_key: "metrics client key",
    insecure: "metrics insecure (gRPC)",
};

impl Settings {
    /// The span metrics settings for display, secrets redacted.
    pub(super) fn metrics_entries(&self) -> Vec<ConfigEntry> {
        let off = |value: String| {
            vec![ConfigEntry {
                name: "span metrics",
                value,
                source: Source::Default,
            }]
        };
        let m = match &self.metrics {
            Err(err) => return off(format!("off, the configuration is invalid: {err}")),
            Ok(None) => {
                return off(
                    "off (no OTEL_EXPORTER_OTLP_METRICS_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT, \
                     or OTEL_METRICS_EXPORTER=none)"
                        .to_owned(),
                );
            }
            Ok(Some(m)) => m,
        };
        let mut entries = exporter_entries(&NAMES, &m.exporter);
        entries.push(entry("metrics temporality", &m.temporality, |t| {
            t.as_str().to_owned()
        }));
        entries.push(entry("metrics export interval", &m.interval, millis));
        entries.push(entry("metrics export timeout", &m.export_timeout, millis));
        entries.push(entry(
            "metrics trace attributes",
            &m.attributes,
            MetricAttributes::to_string,
        ));
        if self.otlp.is_none() {
            entries.extend(resource_entries(&m.exporter));
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(
        vars: &[(&str, &str)],
        code: &MetricsCode,
    ) -> Result<Option<MetricsSettings>, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        resolve_metrics(&Env::from_fn(move |k| map.get(k).cloned()), code)
    }

    const ENDPOINT: (&str, &str) = ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://h:4317");

    #[test]
    fn defaults_follow_opentelemetry_and_mlflow() {
        assert_eq!(resolve(&[], &MetricsCode::default()).unwrap(), None);
        let m = resolve(&[ENDPOINT], &MetricsCode::default())
            .unwrap()
            .unwrap();
        assert_eq!(m.temporality.value, Temporality::Cumulative);
        assert_eq!(m.interval.value, Duration::from_secs(60));
        assert_eq!(m.export_timeout.value, Duration::from_secs(30));
        assert_eq!(m.attributes.value, MetricAttributes::All);
        // MLFLOW_ENABLE_OTLP_EXPORTER is about traces only, as in MLflow.
        let m = resolve(
            &[ENDPOINT, ("MLFLOW_ENABLE_OTLP_EXPORTER", "false")],
            &MetricsCode::default(),
        )
        .unwrap();
        assert!(m.is_some());
        // OTEL_METRICS_EXPORTER=none turns them off; code wins.
        let off = [ENDPOINT, ("OTEL_METRICS_EXPORTER", "none")];
        assert_eq!(resolve(&off, &MetricsCode::default()).unwrap(), None);
        let on = MetricsCode {
            enabled: Some(true),
            ..MetricsCode::default()
        };
        assert!(resolve(&off, &on).unwrap().is_some());
    }

    #[test]
    fn temporality_interval_and_attributes() {
        let m = resolve(
            &[
                ENDPOINT,
                (
                    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                    "LowMemory",
                ),
                ("OTEL_METRIC_EXPORT_INTERVAL", "1500"),
                ("OTEL_METRIC_EXPORT_TIMEOUT", "700"),
                (
                    "MLFLOW_TRACE_METRICS_ATTRIBUTES",
                    "tags.env, metadata.mlflow.source.*",
                ),
            ],
            &MetricsCode::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.temporality.value, Temporality::LowMemory);
        assert_eq!(m.interval.value, Duration::from_millis(1500));
        assert_eq!(m.export_timeout.value, Duration::from_millis(700));
        let a = &m.attributes.value;
        assert!(a.keeps("tags.env") && a.keeps("metadata.mlflow.source.name"));
        assert!(!a.keeps("tags.envx") && !a.keeps("metadata.mlflow.trace.session"));
        let code = MetricsCode {
            temporality: Some(Temporality::Delta),
            attributes: Some(vec![]),
            ..MetricsCode::default()
        };
        let m = resolve(
            &[ENDPOINT, ("MLFLOW_TRACE_METRICS_ATTRIBUTES", "all")],
            &code,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            m.temporality,
            Setting::new(Temporality::Delta, Source::Code)
        );
        assert!(!m.attributes.value.keeps("tags.env"));
        let none = [ENDPOINT, ("MLFLOW_TRACE_METRICS_ATTRIBUTES", "none")];
        let m = resolve(&none, &MetricsCode::default()).unwrap().unwrap();
        assert!(!m.attributes.value.keeps("tags.mlflow.traceName"));
    }

    #[test]
    fn invalid_values_are_named() {
        for (var, value) in [
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "sometimes",
            ),
            ("OTEL_METRIC_EXPORT_INTERVAL", "0"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "1m"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "0"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("MLFLOW_TRACE_METRICS_ATTRIBUTES", "env,tags.team"),
        ] {
            let err = resolve(&[ENDPOINT, (var, value)], &MetricsCode::default()).unwrap_err();
            assert_eq!(err.variable(), var, "{err}");
        }
        let code = MetricsCode {
            attributes: Some(vec!["session".into()]),
            ..MetricsCode::default()
        };
        let err = resolve(&[ENDPOINT], &code).unwrap_err();
        assert_eq!(err.variable(), "metrics_attributes");
    }
}
