//! What `mlflow-trace doctor` shows: the resolved configuration with the source of each
//! value (secrets redacted), and each destination's own check, which records nothing.

use std::fmt;

pub use crate::config::ConfigEntry;
use crate::config::{Destination, Settings};
use crate::destination::{self, AnySink};

/// The check of one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationCheck {
    /// The destination, as in [`Tracing::destinations`](crate::Tracing::destinations).
    pub destination: Destination,
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
    /// What is configured but off because of a problem, in plain words (say, span metrics
    /// with an unknown protocol; traces are exported without them).
    pub problems: Vec<String>,
}

impl Diagnosis {
    /// Whether every destination looks usable and nothing configured is off.
    pub fn ok(&self) -> bool {
        self.destinations.iter().all(|d| d.ok) && self.problems.is_empty()
    }
}

/// Lists `settings` and runs each sink's own check.
pub(crate) fn diagnose(settings: &Settings, sinks: Vec<AnySink>) -> Diagnosis {
    let destinations = sinks
        .into_iter()
        .map(|mut sink| {
            let (ok, findings) = match sink.check() {
                Ok(findings) => (true, findings),
                Err(findings) => (false, findings),
            };
            DestinationCheck {
                destination: sink.destination(),
                ok,
                findings,
            }
        })
        .collect();
    Diagnosis {
        settings: settings.entries(),
        destinations,
        problems: destination::metrics_problem(settings).into_iter().collect(),
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
        for problem in &self.problems {
            writeln!(f, "  [PROBLEM] {problem}")?;
        }
        Ok(())
    }
}
