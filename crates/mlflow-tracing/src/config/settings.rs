//! [`Settings`]: everything tracing is configured with, resolved once from the values set
//! in code ([`CodeSettings`]) and the environment.

use std::path::Path;
use std::time::Duration;

use opentelemetry_sdk::trace::SpanLimits;

use crate::hooks::SpanHooks;

use super::memory;
use super::metrics::{self, MetricsCode, MetricsSettings};
use super::mlflow_vars::{self, MlflowVars};
use super::otlp::{self, OtlpCode, OtlpTraces};
use super::pricing::{self, PriceSettings};
use super::server::{self, ServerSettings};
use super::{
    ConfigError, Env, Experiment, Setting, Source, TrackingUri, env, metadata, parse_bool,
    parse_positive, parse_ratio, resolve_experiment, resolve_tracking_uri,
};

const DEFAULT_FLUSH_TIMEOUT_MILLIS: u64 = 10_000;
const DEFAULT_BUFFER_TTL_SECONDS: u64 = 3600;
const DEFAULT_TIMEOUT_CHECK_INTERVAL_SECONDS: u64 = 1;
const DEFAULT_SPAN_LIMIT: u32 = 128;

/// Settings made in code (the builder, `set_tracking_uri`, `set_experiment`); each wins
/// over the environment.
#[derive(Debug, Clone, Default)]
pub(crate) struct CodeSettings {
    pub(crate) tracking_uri: Option<String>,
    pub(crate) experiment: Option<Experiment>,
    pub(crate) sampling_ratio: Option<f64>,
    pub(crate) max_queue_bytes: Option<u64>,
    pub(crate) flush_timeout: Option<Duration>,
    pub(crate) buffer_ttl: Option<Duration>,
    pub(crate) trace_timeout: Option<Duration>,
    pub(crate) timeout_check_interval: Option<Duration>,
    pub(crate) hooks: SpanHooks,
    pub(crate) source_run: Option<String>,
    pub(crate) active_model_id: Option<String>,
    pub(crate) otlp: OtlpCode,
    pub(crate) dual_export: Option<bool>,
    pub(crate) metrics: MetricsCode,
    /// `TracingBuilder::model_price`, in order.
    pub(crate) model_prices: Vec<crate::pricing::ModelPrice>,
}

/// The resolved configuration of one pipeline, each value with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) tracking_uri: Setting<TrackingUri>,
    pub(crate) experiment: Setting<Experiment>,
    pub(crate) sampling_ratio: Setting<f64>,
    pub(crate) max_queue_bytes: Setting<u64>,
    pub(crate) flush_timeout: Setting<Duration>,
    pub(crate) buffer_ttl: Setting<Duration>,
    /// `MLFLOW_TRACE_TIMEOUT_SECONDS`: a trace still open after this long is ended with
    /// status ERROR and exported; `None` (unset or 0, as in MLflow) never times out.
    pub(crate) trace_timeout: Setting<Option<Duration>>,
    /// How often traces are checked against the timeout.
    pub(crate) timeout_check_interval: Setting<Duration>,
    /// Functions run on every finished span before any destination (code only).
    pub(crate) hooks: SpanHooks,
    pub(crate) span_limits: SpanLimits,
    /// OTLP trace export; `None` when off.
    pub(crate) otlp: Option<OtlpTraces>,
    /// The span-duration histogram over OTLP; `None` when off. An invalid metrics
    /// setting is kept here rather than failing the whole configuration: it turns the
    /// metrics off (reported) and leaves traces alone.
    pub(crate) metrics: Result<Option<MetricsSettings>, ConfigError>,
    pub(crate) dual_export: Setting<bool>,
    /// How to talk to the tracking server, when the tracking URI names one.
    pub(crate) server: Option<ServerSettings>,
    /// `mlflow.user`, `mlflow.source.*`: metadata every trace carries.
    pub(crate) trace_metadata: Vec<(&'static str, String)>,
    /// Model prices, for `mlflow.llm.cost`.
    pub(crate) pricing: PriceSettings,
    /// MLflow's own variables without a setting of their own here.
    pub(crate) mlflow_vars: MlflowVars,
}

/// A value set in code, refused when zero (naming the builder method).
fn positive_code(method: &str, value: Option<u64>) -> Result<Option<u64>, ConfigError> {
    match value {
        Some(0) => Err(ConfigError::new(method, "0", "a positive value")),
        other => Ok(other),
    }
}

/// Every trace's metadata, with the run (`mlflow.sourceRun`) and the active model
/// (`mlflow.modelId`: code, else `MLFLOW_ACTIVE_MODEL_ID`, else its legacy form) it is
/// linked to, in MLflow's order.
fn linked_metadata(
    mut metadata: Vec<(&'static str, String)>,
    e: &Env,
    code: &CodeSettings,
) -> Vec<(&'static str, String)> {
    use crate::keys::metadata as keys;
    if let Some(run) = &code.source_run {
        metadata.push((keys::SOURCE_RUN, run.clone()));
    }
    let model = code.active_model_id.clone().or_else(|| {
        [env::MLFLOW_ACTIVE_MODEL_ID, env::LEGACY_ACTIVE_MODEL_ID]
            .iter()
            .find_map(|var| e.get(var).filter(|v| !v.is_empty()))
    });
    if let Some(model) = model {
        metadata.push((keys::MODEL_ID, model));
    }
    metadata
}

impl Settings {
    /// Resolves every setting: code > specific variable > generic variable > default.
    /// Relative paths resolve against `cwd`.
    pub(crate) fn resolve(
        e: &Env,
        code: &CodeSettings,
        cwd: &Path,
    ) -> Result<Settings, ConfigError> {
        let tracking_uri = resolve_tracking_uri(e, code.tracking_uri.as_deref(), cwd)?;
        let mut experiment = resolve_experiment(e, code.experiment.as_ref());
        let mlflow_vars = mlflow_vars::resolve(e, &mut experiment)?;
        if let Some(ratio) = code.sampling_ratio {
            parse_ratio(&ratio.to_string()).map_err(|expected| {
                ConfigError::new("sampling_ratio", &ratio.to_string(), expected)
            })?;
        }
        let sampling_ratio = e.resolve(
            code.sampling_ratio,
            &[env::MLFLOW_TRACE_SAMPLING_RATIO],
            parse_ratio,
            1.0,
        )?;
        // Zero is refused for each bound: a zero queue would drop every span, a zero TTL
        // every trace, a zero flush timeout every wait.
        let max_queue_bytes = e.resolve(
            positive_code("max_queue_bytes", code.max_queue_bytes)?,
            &[env::MLFLOW_TRACE_MAX_QUEUE_BYTES],
            parse_positive,
            memory::default_queue_bytes(),
        )?;
        let flush_timeout = e
            .resolve(
                positive_code(
                    "flush_timeout",
                    code.flush_timeout.map(|d| d.as_millis() as u64),
                )?,
                &[env::MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS],
                parse_positive,
                DEFAULT_FLUSH_TIMEOUT_MILLIS,
            )
            .map(|s| Setting::new(Duration::from_millis(s.value), s.source))?;
        let buffer_ttl = e
            .resolve(
                positive_code("buffer_ttl", code.buffer_ttl.map(|d| d.as_secs()))?,
                &[env::MLFLOW_TRACE_BUFFER_TTL_SECONDS],
                parse_positive,
                DEFAULT_BUFFER_TTL_SECONDS,
            )
            .map(|s| Setting::new(Duration::from_secs(s.value), s.source))?;
        // MLflow reads the timeout as an int and treats 0 as unset. In code, any duration.
        let trace_timeout = match code.trace_timeout {
            Some(d) => Setting::new((!d.is_zero()).then_some(d), Source::Code),
            None => e
                .resolve(
                    None,
                    &[env::MLFLOW_TRACE_TIMEOUT_SECONDS],
                    super::parse_u64,
                    0,
                )
                .map(|s| {
                    Setting::new(
                        (s.value > 0).then(|| Duration::from_secs(s.value)),
                        s.source,
                    )
                })?,
        };
        let timeout_check_interval = match code.timeout_check_interval {
            Some(d) if d.is_zero() => {
                return Err(ConfigError::new(
                    "trace_timeout_check_interval",
                    "0",
                    "a positive duration",
                ));
            }
            Some(d) => Setting::new(d, Source::Code),
            None => e
                .resolve(
                    None,
                    &[env::MLFLOW_TRACE_TIMEOUT_CHECK_INTERVAL_SECONDS],
                    parse_positive,
                    DEFAULT_TIMEOUT_CHECK_INTERVAL_SECONDS,
                )
                .map(|s| Setting::new(Duration::from_secs(s.value), s.source))?,
        };
        let limit = |var| {
            e.resolve(None, &[var], parse_positive, DEFAULT_SPAN_LIMIT)
                .map(|s| s.value)
        };
        let span_limits = SpanLimits {
            max_attributes_per_span: limit(env::OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT)?,
            max_events_per_span: limit(env::OTEL_SPAN_EVENT_COUNT_LIMIT)?,
            max_links_per_span: limit(env::OTEL_SPAN_LINK_COUNT_LIMIT)?,
            ..SpanLimits::default()
        };
        let otlp = otlp::resolve_traces(e, &code.otlp)?;
        let metrics = metrics::resolve_metrics(e, &code.metrics);
        let dual_export = e.resolve(
            code.dual_export,
            &[
                env::MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT,
                env::MLFLOW_ENABLE_DUAL_EXPORT,
            ],
            parse_bool,
            false,
        )?;
        let server = match tracking_uri.value.server() {
            Some(url) => Some(server::resolve(e, url, &tracking_uri.source)?),
            None => None,
        };
        let pricing = pricing::resolve(e, &code.model_prices)?;
        Ok(Settings {
            mlflow_vars,
            pricing,
            server,
            tracking_uri,
            experiment,
            sampling_ratio,
            max_queue_bytes,
            flush_timeout,
            buffer_ttl,
            trace_timeout,
            timeout_check_interval,
            hooks: code.hooks.clone(),
            span_limits,
            otlp,
            metrics,
            dual_export,
            trace_metadata: linked_metadata(metadata::resolve(e, cwd), e, code),
        })
    }

    /// The defaults, reading nothing (for a pipeline that records nothing).
    pub(crate) fn defaults() -> Settings {
        Settings {
            tracking_uri: Setting::new(TrackingUri::default_local(Path::new(".")), Source::Default),
            experiment: Setting::new(Experiment::Default, Source::Default),
            sampling_ratio: Setting::new(1.0, Source::Default),
            max_queue_bytes: Setting::new(memory::default_queue_bytes(), Source::Default),
            flush_timeout: Setting::new(
                Duration::from_millis(DEFAULT_FLUSH_TIMEOUT_MILLIS),
                Source::Default,
            ),
            buffer_ttl: Setting::new(
                Duration::from_secs(DEFAULT_BUFFER_TTL_SECONDS),
                Source::Default,
            ),
            trace_timeout: Setting::new(None, Source::Default),
            timeout_check_interval: Setting::new(
                Duration::from_secs(DEFAULT_TIMEOUT_CHECK_INTERVAL_SECONDS),
                Source::Default,
            ),
            hooks: SpanHooks::default(),
            span_limits: SpanLimits::default(),
            otlp: None,
            metrics: Ok(None),
            dual_export: Setting::new(false, Source::Default),
            server: None,
            trace_metadata: Vec::new(),
            pricing: PriceSettings::default(),
            mlflow_vars: MlflowVars::default(),
        }
    }

    /// Whether traces go to the MLflow store named by the tracking URI: always, unless
    /// OTLP export replaces it (OTLP on, dual export off).
    pub(crate) fn exports_to_store(&self) -> bool {
        self.otlp.is_none() || self.dual_export.value
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

    fn resolve(vars: &[(&str, &str)], code: &CodeSettings) -> Result<Settings, ConfigError> {
        Settings::resolve(&env_of(vars), code, Path::new("/w"))
    }

    #[test]
    fn defaults_without_configuration() {
        let s = resolve(&[], &CodeSettings::default()).unwrap();
        assert_eq!(s.tracking_uri.value.to_string(), "sqlite:////w/mlflow.db");
        assert_eq!(s.experiment.value, Experiment::Default);
        assert_eq!(s.sampling_ratio, Setting::new(1.0, Source::Default));
        assert_eq!(s.max_queue_bytes.value, memory::default_queue_bytes());
        assert_eq!(s.flush_timeout.value, Duration::from_secs(10));
        assert_eq!(s.buffer_ttl.value, Duration::from_secs(3600));
        assert_eq!(s.span_limits.max_attributes_per_span, 128);
        assert!(s.otlp.is_none());
        assert!(s.exports_to_store());
    }

    #[test]
    fn code_wins_over_the_environment() {
        let code = CodeSettings {
            tracking_uri: Some("sqlite:///code.db".into()),
            sampling_ratio: Some(0.5),
            flush_timeout: Some(Duration::from_millis(250)),
            ..CodeSettings::default()
        };
        let s = resolve(
            &[
                ("MLFLOW_TRACKING_URI", "sqlite:///env.db"),
                ("MLFLOW_TRACE_SAMPLING_RATIO", "0.25"),
                ("MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS", "5"),
                ("OTEL_SPAN_EVENT_COUNT_LIMIT", "7"),
            ],
            &code,
        )
        .unwrap();
        assert_eq!(s.tracking_uri.value.to_string(), "sqlite:////w/code.db");
        assert_eq!(s.sampling_ratio, Setting::new(0.5, Source::Code));
        assert_eq!(s.flush_timeout.value, Duration::from_millis(250));
        assert_eq!(s.span_limits.max_events_per_span, 7);
        let bad = CodeSettings {
            sampling_ratio: Some(2.0),
            ..CodeSettings::default()
        };
        assert_eq!(resolve(&[], &bad).unwrap_err().variable(), "sampling_ratio");
    }

    #[test]
    fn zero_bounds_are_refused() {
        for var in [
            "MLFLOW_TRACE_MAX_QUEUE_BYTES",
            "MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS",
            "MLFLOW_TRACE_BUFFER_TTL_SECONDS",
        ] {
            let err = resolve(&[(var, "0")], &CodeSettings::default()).unwrap_err();
            assert_eq!(err.variable(), var);
            assert_eq!(err.expected(), "a positive integer");
        }
        let code = CodeSettings {
            buffer_ttl: Some(Duration::from_millis(10)),
            ..CodeSettings::default()
        };
        let err = resolve(&[], &code).unwrap_err();
        assert_eq!(err.variable(), "buffer_ttl");
    }

    #[test]
    fn a_server_uri_resolves_how_to_talk_to_it() {
        let s = resolve(
            &[("MLFLOW_TRACKING_URI", "http://h:5000")],
            &CodeSettings::default(),
        )
        .unwrap();
        assert_eq!(s.tracking_uri.value.to_string(), "http://h:5000");
        assert_eq!(s.server.unwrap().http.max_retries.value, 7);
        let local = resolve(
            &[("MLFLOW_HTTP_REQUEST_TIMEOUT", "x")],
            &CodeSettings::default(),
        )
        .unwrap();
        assert!(
            local.server.is_none(),
            "server settings only matter for a server"
        );
        let err = resolve(
            &[
                ("MLFLOW_TRACKING_URI", "http://h:5000"),
                ("MLFLOW_HTTP_REQUEST_TIMEOUT", "x"),
            ],
            &CodeSettings::default(),
        )
        .unwrap_err();
        assert_eq!(err.variable(), "MLFLOW_HTTP_REQUEST_TIMEOUT");
    }

    #[test]
    fn otlp_replaces_the_store_unless_dual() {
        let otlp = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317");
        let s = resolve(&[otlp], &CodeSettings::default()).unwrap();
        assert!(s.otlp.is_some() && !s.exports_to_store());
        let s = resolve(
            &[otlp, ("MLFLOW_ENABLE_DUAL_EXPORT", "true")],
            &CodeSettings::default(),
        )
        .unwrap();
        assert!(s.otlp.is_some() && s.exports_to_store());
        assert_eq!(
            s.dual_export.source,
            Source::Env("MLFLOW_ENABLE_DUAL_EXPORT")
        );
    }
}
