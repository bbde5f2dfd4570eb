//! Configuration: one resolver, one precedence rule.
//!
//! Everything tracing can be configured with — where traces go, the experiment, sampling,
//! memory and time bounds, OTLP — is resolved here, once, into one `Settings` value that
//! records where each value came from. The builder, the global default, `doctor` and the
//! CLI all use it. Every setting is resolved the same way: a value set in code wins over the specific
//! environment variable, which wins over the generic one, which wins over the default.
//! The environment is read through an injectable lookup so tests never touch the process
//! environment. Invalid values are errors that name the variable, the value and what is
//! accepted.

mod destination;
mod entries;
pub mod env;
mod memory;
pub(crate) mod metadata;
pub(crate) mod metrics;
pub(crate) mod mlflow_vars;
pub(crate) mod otlp;
pub(crate) mod pricing;
pub(crate) mod redact;
pub(crate) mod server;
mod settings;
pub(crate) mod signal;
mod tracking;

#[cfg(test)]
mod parsers_proptest;

use std::fmt;
use std::sync::Arc;

pub use destination::Destination;
pub use entries::ConfigEntry;
pub use metrics::Temporality;
pub use otlp::{Compression, Protocol};
pub use server::ServerUrl;
pub(crate) use settings::{CodeSettings, Settings};
pub use tracking::{Experiment, TrackingUri};
pub(crate) use tracking::{current_dir, resolve_experiment, resolve_tracking_uri};

/// Where a resolved setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Set in code (the builder, `set_tracking_uri`, `set_experiment`).
    Code,
    /// Read from this environment variable.
    Env(&'static str),
    /// The default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Code => f.write_str("code"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A resolved value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting<T> {
    pub(crate) value: T,
    pub(crate) source: Source,
}

impl<T> Setting<T> {
    pub(crate) fn new(value: T, source: Source) -> Self {
        Setting { value, source }
    }

    /// The variable to name in an error about this value: the one it was read from, else
    /// `fallback` (for values set in code or defaulted).
    pub(crate) fn variable_or(&self, fallback: &'static str) -> &'static str {
        match self.source {
            Source::Env(var) => var,
            Source::Code | Source::Default => fallback,
        }
    }
}

/// An invalid configuration value.
///
/// The message names the variable (or builder method), the value and what is accepted.
/// Values of secret settings are never included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value} for {variable}: expected {expected}")]
pub struct ConfigError {
    variable: String,
    value: String,
    expected: String,
}

impl ConfigError {
    pub(crate) fn new(
        variable: impl Into<String>,
        value: &str,
        expected: impl Into<String>,
    ) -> Self {
        ConfigError {
            variable: variable.into(),
            value: format!("{value:?}"),
            expected: expected.into(),
        }
    }

    /// An invalid secret value: the message never shows it.
    pub(crate) fn secret(variable: impl Into<String>, expected: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.into(),
            value: "<redacted>".to_owned(),
            expected: expected.into(),
        }
    }

    /// The environment variable or builder setting that held the invalid value.
    pub fn variable(&self) -> &str {
        &self.variable
    }

    /// What values are accepted.
    pub fn expected(&self) -> &str {
        &self.expected
    }
}

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Reads environment variables, from the process or from an injected function.
#[derive(Clone)]
pub(crate) struct Env {
    lookup: Arc<Lookup>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Env")
    }
}

impl Env {
    pub(crate) fn process() -> Self {
        Env {
            lookup: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    pub(crate) fn from_fn(f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Env {
            lookup: Arc::new(f),
        }
    }

    /// The variable's value, or `None` when it is unset or blank.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Resolves a setting: `code` > the first set variable of `vars` > `default`.
    pub(crate) fn resolve<T>(
        &self,
        code: Option<T>,
        vars: &[&'static str],
        parse: impl Fn(&str) -> Result<T, String>,
        default: T,
    ) -> Result<Setting<T>, ConfigError> {
        if let Some(value) = code {
            return Ok(Setting::new(value, Source::Code));
        }
        for var in vars {
            if let Some(raw) = self.get(var) {
                let value =
                    parse(&raw).map_err(|expected| ConfigError::new(*var, &raw, expected))?;
                return Ok(Setting::new(value, Source::Env(var)));
            }
        }
        Ok(Setting::new(default, Source::Default))
    }

    /// Resolves a setting without a default from the first set variable of `vars`;
    /// `None` when none is set.
    pub(crate) fn resolve_optional<T>(
        &self,
        vars: &[&'static str],
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<Setting<T>>, ConfigError> {
        let resolved = self.resolve(None, vars, |raw| parse(raw).map(Some), None)?;
        Ok(resolved.value.map(|v| Setting::new(v, resolved.source)))
    }
}

/// Parses a sampling ratio in `0.0..=1.0`.
pub(crate) fn parse_ratio(raw: &str) -> Result<f64, String> {
    const EXPECTED: &str = "a number between 0.0 and 1.0";
    match raw.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(EXPECTED.to_owned()),
    }
}

/// Parses a non-negative integer.
pub(crate) fn parse_u64(raw: &str) -> Result<u64, String> {
    raw.parse::<u64>()
        .map_err(|_| "a non-negative integer".to_owned())
}

/// Parses a positive integer of type `T`.
pub(crate) fn parse_positive<T: std::str::FromStr + PartialEq + Default>(
    raw: &str,
) -> Result<T, String> {
    match raw.parse::<T>() {
        Ok(v) if v != T::default() => Ok(v),
        _ => Err("a positive integer".to_owned()),
    }
}

/// Parses MLflow's boolean spelling: `true`, `false`, `1`, `0` (any case).
pub(crate) fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("one of true, false, 1, 0".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

    fn env(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::from_fn(move |k| map.get(k).cloned())
    }

    #[test]
    fn precedence_code_then_specific_then_generic_then_default() {
        let e = env(&[("SPECIFIC", "0.25"), ("GENERIC", "0.5")]);
        let r = e
            .resolve(Some(0.75), &["SPECIFIC", "GENERIC"], parse_ratio, 1.0)
            .unwrap();
        assert_eq!(r, Setting::new(0.75, Source::Code));
        let r = e
            .resolve(None, &["SPECIFIC", "GENERIC"], parse_ratio, 1.0)
            .unwrap();
        assert_eq!(r, Setting::new(0.25, Source::Env("SPECIFIC")));
        let r = e
            .resolve(None, &["OTHER", "GENERIC"], parse_ratio, 1.0)
            .unwrap();
        assert_eq!(r, Setting::new(0.5, Source::Env("GENERIC")));
        let r = e.resolve(None, &["OTHER"], parse_ratio, 1.0).unwrap();
        assert_eq!(r, Setting::new(1.0, Source::Default));
    }

    #[test]
    fn blank_values_count_as_unset() {
        let e = env(&[("SPECIFIC", "  "), ("GENERIC", "0.5")]);
        let r = e
            .resolve(None, &["SPECIFIC", "GENERIC"], parse_ratio, 1.0)
            .unwrap();
        assert_eq!(r.source, Source::Env("GENERIC"));
    }

    #[test]
    fn invalid_values_name_variable_value_and_expectation() {
        let e = env(&[(env::MLFLOW_TRACE_SAMPLING_RATIO, "1.5")]);
        let err = e
            .resolve(None, &[env::MLFLOW_TRACE_SAMPLING_RATIO], parse_ratio, 1.0)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value \"1.5\" for MLFLOW_TRACE_SAMPLING_RATIO: expected a number between \
             0.0 and 1.0"
        );
        assert_eq!(err.variable(), "MLFLOW_TRACE_SAMPLING_RATIO");
        for bad in ["abc", "-0.1", "NaN"] {
            assert!(parse_ratio(bad).is_err(), "{bad}");
        }
        assert!(parse_u64("-1").is_err());
        assert!(parse_positive::<u32>("0").is_err());
        assert_eq!(parse_positive::<usize>("512"), Ok(512));
        assert_eq!(parse_bool("TRUE"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert!(parse_bool("yes").is_err());
    }

    #[test]
    fn durations_are_plain_numbers() {
        let e = env(&[(env::MLFLOW_TRACE_BUFFER_TTL_SECONDS, "12")]);
        let r = e
            .resolve(
                None,
                &[env::MLFLOW_TRACE_BUFFER_TTL_SECONDS],
                parse_u64,
                3600,
            )
            .map(|s| Duration::from_secs(s.value))
            .unwrap();
        assert_eq!(r, Duration::from_secs(12));
    }
}
