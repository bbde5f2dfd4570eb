//! MLflow's own tracing variables that have no setting of their own here. Each is either
//! mapped onto what it means here (`MLFLOW_TRACING_DESTINATION`,
//! `MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE`, `MLFLOW_ENABLE_ASYNC_TRACE_LOGGING`), or
//! accepted and, when set, reported once with the reason it changes nothing: none is
//! ignored silently.

use super::entries::ConfigEntry;
use super::{ConfigError, Env, Experiment, Setting, Source, env, parse_bool, parse_positive};
use crate::report;

/// MLflow variables that change nothing here, and why.
pub(crate) const WITHOUT_EFFECT: &[(&str, &str)] = &[
    (
        env::MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS,
        "each destination has one export thread of its own, which exports in order",
    ),
    (
        env::MLFLOW_ASYNC_TRACE_LOGGING_MAX_SPAN_BATCH_SIZE,
        "MLflow batches spans only for Databricks Unity Catalog tables; here each destination \
         exports what is queued at once (OTLP batches by OTEL_BSP_*)",
    ),
    (
        env::MLFLOW_ASYNC_TRACE_LOGGING_MAX_INTERVAL_MILLIS,
        "MLflow batches spans only for Databricks Unity Catalog tables; here each destination \
         exports what is queued at once (OTLP batches by OTEL_BSP_*)",
    ),
    (
        env::MLFLOW_ASYNC_TRACE_LOGGING_RETRY_TIMEOUT,
        "requests to a tracking server are retried as MLFLOW_HTTP_REQUEST_MAX_RETRIES, \
         MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR and MLFLOW_HTTP_REQUEST_TIMEOUT say; the local \
         store waits up to 60 s for a database another process has locked",
    ),
    (
        env::MLFLOW_TRACE_BUFFER_MAX_SIZE,
        "unfinished traces are bounded by memory (MLFLOW_TRACE_MAX_QUEUE_BYTES) and time \
         (MLFLOW_TRACE_BUFFER_TTL_SECONDS); none is evicted to make room",
    ),
    (
        env::MLFLOW_USE_BATCH_SPAN_PROCESSOR,
        "spans are always exported on background threads, never on the recording thread",
    ),
    (
        env::MLFLOW_USE_DEFAULT_TRACER_PROVIDER,
        "mlflow-tracing always records with a tracer provider of its own; OpenTelemetry's \
         global provider is never read or replaced",
    ),
    (
        env::MLFLOW_TRACE_PROPAGATE_TO_OTEL_CONTEXT,
        "the current MLflow span is kept under mlflow-tracing's own context key, so other \
         OpenTelemetry instrumentation does not nest under it",
    ),
    (
        env::MLFLOW_TRACE_USE_ISOLATED_RANDOM_ID_GENERATOR,
        "ids come from OpenTelemetry's generator, which the program's random seeding does \
         not affect",
    ),
    (
        env::MLFLOW_TRACE_EXTRACT_ATTACHMENTS,
        "mlflow-tracing records no attachments",
    ),
    (
        env::MLFLOW_TRACE_MAX_ATTACHMENT_SIZE,
        "mlflow-tracing records no attachments",
    ),
    (
        env::MLFLOW_TRACKING_AUTH,
        "a tracking server is authenticated with the credentials of the tracking URI or of \
         MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD/MLFLOW_TRACKING_TOKEN only; MLflow's \
         request-auth plugins are Python code",
    ),
    (
        env::MLFLOW_TRACKING_AWS_SIGV4,
        "requests to a tracking server are not signed with AWS SigV4; a server behind SigV4 \
         answers them 403",
    ),
    (
        env::MLFLOW_MODEL_CATALOG_CACHE_TTL,
        "a file:// MLFLOW_MODEL_CATALOG_URI is read once, when tracing is set up; nothing is \
         downloaded",
    ),
];

/// What MLflow's variables set here.
#[derive(Debug, Clone, Default)]
pub(crate) struct MlflowVars {
    /// `MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE`: a bound on the traces waiting for the
    /// MLflow store (local database or tracking server).
    pub(crate) trace_queue: Option<Setting<usize>>,
    /// Variables set that change nothing, with their value and why.
    pub(crate) without_effect: Vec<(&'static str, String, &'static str)>,
}

/// Reads MLflow's variables; `MLFLOW_TRACING_DESTINATION` (an experiment id) replaces an
/// experiment from the environment, as it does in MLflow, but not one set in code.
pub(crate) fn resolve(
    e: &Env,
    experiment: &mut Setting<Experiment>,
) -> Result<MlflowVars, ConfigError> {
    if let Some(destination) = e.get(env::MLFLOW_TRACING_DESTINATION) {
        let id = parse_destination(&destination).map_err(|expected| {
            ConfigError::new(env::MLFLOW_TRACING_DESTINATION, &destination, expected)
        })?;
        if experiment.source != Source::Code {
            *experiment = Setting::new(
                Experiment::Id(id),
                Source::Env(env::MLFLOW_TRACING_DESTINATION),
            );
        }
    }
    let trace_queue = e.resolve_optional(
        &[env::MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE],
        parse_positive,
    )?;
    let async_logging =
        e.resolve_optional(&[env::MLFLOW_ENABLE_ASYNC_TRACE_LOGGING], parse_bool)?;
    let mut without_effect = Vec::new();
    if async_logging.as_ref().is_some_and(|s| !s.value) {
        without_effect.push((
            env::MLFLOW_ENABLE_ASYNC_TRACE_LOGGING,
            "false".to_owned(),
            "export never runs on the recording thread; flush() waits for it",
        ));
    }
    for (name, why) in WITHOUT_EFFECT {
        // A switch turned off asks for nothing.
        if let Some(value) = e.get(name).filter(|v| parse_bool(v) != Ok(false)) {
            without_effect.push((name, value, why));
        }
    }
    for (name, value, why) in &without_effect {
        report::warn(&format!("mlflow-variable:{name}"), || {
            format!("{name}={value} changes nothing in mlflow-tracing: {why}")
        });
    }
    Ok(MlflowVars {
        trace_queue,
        without_effect,
    })
}

/// `MLFLOW_TRACING_DESTINATION`: an experiment id (Unity Catalog schemas are Databricks'
/// and not supported).
fn parse_destination(raw: &str) -> Result<String, String> {
    const EXPECTED: &str = "an MLflow experiment id (Databricks Unity Catalog destinations, \
                            <catalog>.<schema>, are not supported)";
    if raw.contains('.') || raw.is_empty() {
        return Err(EXPECTED.to_owned());
    }
    Ok(raw.to_owned())
}

impl MlflowVars {
    /// The entries `doctor` lists.
    pub(crate) fn entries(&self) -> Vec<ConfigEntry> {
        let mut entries = Vec::new();
        if let Some(queue) = &self.trace_queue {
            entries.push(ConfigEntry {
                name: "MLflow store queue size",
                value: format!("{} traces", queue.value),
                source: queue.source.clone(),
            });
        }
        for (name, value, why) in &self.without_effect {
            entries.push(ConfigEntry {
                name,
                value: format!("{value}: no effect ({why})"),
                source: Source::Env(name),
            });
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&'static str, &'static str)]) -> Env {
        let vars = vars.to_vec();
        Env::from_fn(move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    fn default_experiment() -> Setting<Experiment> {
        Setting::new(Experiment::Default, Source::Default)
    }

    #[test]
    fn the_tracing_destination_is_the_experiment() {
        let mut experiment = default_experiment();
        resolve(
            &env_of(&[(env::MLFLOW_TRACING_DESTINATION, "42")]),
            &mut experiment,
        )
        .unwrap();
        assert_eq!(experiment.value, Experiment::Id("42".into()));
        assert_eq!(
            experiment.source,
            Source::Env(env::MLFLOW_TRACING_DESTINATION)
        );
        // Set in code, the experiment stays.
        let mut code = Setting::new(Experiment::Name("mine".into()), Source::Code);
        resolve(
            &env_of(&[(env::MLFLOW_TRACING_DESTINATION, "42")]),
            &mut code,
        )
        .unwrap();
        assert_eq!(code.value, Experiment::Name("mine".into()));
        let err = resolve(
            &env_of(&[(env::MLFLOW_TRACING_DESTINATION, "main.traces")]),
            &mut default_experiment(),
        )
        .unwrap_err();
        assert_eq!(err.variable(), env::MLFLOW_TRACING_DESTINATION);
    }

    #[test]
    fn queue_size_and_variables_without_effect() {
        let vars = resolve(
            &env_of(&[
                (env::MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE, "100"),
                (env::MLFLOW_ENABLE_ASYNC_TRACE_LOGGING, "false"),
                (env::MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS, "4"),
                // A switch turned off asks for nothing: not reported.
                (env::MLFLOW_TRACKING_AWS_SIGV4, "false"),
            ]),
            &mut default_experiment(),
        )
        .unwrap();
        assert_eq!(vars.trace_queue.map(|s| s.value), Some(100));
        let names: Vec<&str> = vars.without_effect.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(
            names,
            [
                env::MLFLOW_ENABLE_ASYNC_TRACE_LOGGING,
                env::MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS
            ]
        );
        for (var, bad) in [
            (env::MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE, "0"),
            (env::MLFLOW_ENABLE_ASYNC_TRACE_LOGGING, "maybe"),
        ] {
            let err = resolve(&env_of(&[(var, bad)]), &mut default_experiment()).unwrap_err();
            assert_eq!(err.variable(), var);
        }
    }
}
