//! The SDK's own warnings: dropped spans, export failures, bad configuration.
//!
//! They go to the `tracing` crate (target `mlflow_tracing`) when the program has
//! installed a subscriber, and to standard error otherwise, the way Python's logging
//! falls back to stderr for warnings: a problem with telemetry is never silent. Each kind
//! of problem is reported at once and then at most every 30 seconds, with the count of
//! repeats in between, so a failing destination cannot flood the program's output.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const REPEAT_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Warn,
    Error,
}

struct Seen {
    last_reported: Instant,
    suppressed: u64,
}

fn registry() -> &'static Mutex<HashMap<String, Seen>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Seen>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Reports `message` unless a report with the same `key` was made in the last 30 seconds.
pub(crate) fn report(level: Level, key: &str, message: impl FnOnce() -> String) {
    let suppressed = {
        let Ok(mut seen) = registry().lock() else {
            return;
        };
        let now = Instant::now();
        match seen.get_mut(key) {
            Some(entry) if now.duration_since(entry.last_reported) < REPEAT_INTERVAL => {
                entry.suppressed += 1;
                return;
            }
            Some(entry) => {
                let suppressed = entry.suppressed;
                entry.last_reported = now;
                entry.suppressed = 0;
                suppressed
            }
            None => {
                seen.insert(
                    key.to_owned(),
                    Seen {
                        last_reported: now,
                        suppressed: 0,
                    },
                );
                0
            }
        }
    };
    let mut text = message();
    if suppressed > 0 {
        text.push_str(&format!(" ({suppressed} similar reports suppressed)"));
    }
    emit(level, &text);
}

pub(crate) fn warn(key: &str, message: impl FnOnce() -> String) {
    report(Level::Warn, key, message);
}

pub(crate) fn error(key: &str, message: impl FnOnce() -> String) {
    report(Level::Error, key, message);
}

fn emit(level: Level, text: &str) {
    let has_subscriber = tracing::dispatcher::get_default(|dispatch| {
        !dispatch.is::<tracing::subscriber::NoSubscriber>()
    });
    if has_subscriber {
        match level {
            Level::Warn => tracing::warn!(target: "mlflow_tracing", "{text}"),
            Level::Error => tracing::error!(target: "mlflow_tracing", "{text}"),
        }
    } else {
        let label = match level {
            Level::Warn => "WARNING",
            Level::Error => "ERROR",
        };
        eprintln!("mlflow-tracing {label}: {text}");
    }
}
