//! What `mlflow-trace doctor` shows: the resolved configuration with the source of each
//! value (secrets redacted), and a check of each destination that records nothing.

use std::fmt;

use crate::config::Source;

/// One resolved setting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// What it is, e.g. `OTLP endpoint`.
    pub name: &'static str,
    /// Its value, fit to print: header values and other secrets are redacted.
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

/// The check of one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationCheck {
    /// The destination, as in [`Tracing::destinations`](crate::Tracing::destinations).
    pub destination: String,
    /// Whether it looks usable.
    pub ok: bool,
    /// What was found, in plain words: what works, or what is wrong and what to do.
    pub findings: Vec<String>,
}

/// The configuration and the checks; see
/// [`TracingBuilder::diagnose`](crate::TracingBuilder::diagnose).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnosis {
    /// Every setting, resolved.
    pub settings: Vec<ConfigEntry>,
    /// One check per destination.
    pub destinations: Vec<DestinationCheck>,
}

impl Diagnosis {
    /// Whether every destination looks usable.
    pub fn ok(&self) -> bool {
        self.destinations.iter().all(|d| d.ok)
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Configuration:")?;
        let width = self
            .settings
            .iter()
            .map(|e| e.name.len())
            .max()
            .unwrap_or(0);
        for entry in &self.settings {
            writeln!(
                f,
                "  {:<width$}  {}  ({})",
                entry.name, entry.value, entry.source
            )?;
        }
        writeln!(f)?;
        writeln!(f, "Destinations:")?;
        if self.destinations.is_empty() {
            writeln!(f, "  none: tracing records nothing")?;
        }
        for check in &self.destinations {
            let mark = if check.ok { "OK" } else { "PROBLEM" };
            writeln!(f, "  [{mark}] {}", check.destination)?;
            for finding in &check.findings {
                writeln!(f, "      {finding}")?;
            }
        }
        Ok(())
    }
}

/// The result of a destination's own check.
pub(crate) type Check = Result<Vec<String>, Vec<String>>;
