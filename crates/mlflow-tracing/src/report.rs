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
/// The most kinds of report remembered; past it, the longest-quiet ones are forgotten
/// (and may be reported again), so the map cannot grow without bound.
const MAX_KINDS: usize = 256;

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
        let mut seen = registry().lock().unwrap_or_else(|e| e.into_inner());
        match due(&mut seen, key, Instant::now()) {
            Some(suppressed) => suppressed,
            None => return,
        }
    };
    let mut text = message();
    if suppressed > 0 {
        text.push_str(&format!(" ({suppressed} similar reports suppressed)"));
    }
    emit(level, &text);
}

/// Whether a report of kind `key` is due at `now`: `Some(reports suppressed since the
/// last one)`, or `None` (suppressed, and counted).
fn due(seen: &mut HashMap<String, Seen>, key: &str, now: Instant) -> Option<u64> {
    match seen.get_mut(key) {
        Some(entry) if now.duration_since(entry.last_reported) < REPEAT_INTERVAL => {
            entry.suppressed += 1;
            None
        }
        Some(entry) => {
            let suppressed = entry.suppressed;
            entry.last_reported = now;
            entry.suppressed = 0;
            Some(suppressed)
        }
        None => {
            if seen.len() >= MAX_KINDS {
                forget_oldest(seen);
            }
            seen.insert(
                key.to_owned(),
                Seen {
                    last_reported: now,
                    suppressed: 0,
                },
            );
            Some(0)
        }
    }
}

/// Forgets the kinds reported longest ago: the older half.
fn forget_oldest(seen: &mut HashMap<String, Seen>) {
    let mut times: Vec<Instant> = seen.values().map(|s| s.last_reported).collect();
    times.sort_unstable();
    if let Some(&cutoff) = times.get(times.len() / 2) {
        seen.retain(|_, s| s.last_reported > cutoff);
    }
}

/// Reports `message` now: for callers that rate-limit on their own.
pub(crate) fn warn_now(message: &str) {
    emit(Level::Warn, message);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_suppressed_then_counted() {
        let mut seen = HashMap::new();
        let t0 = Instant::now();
        assert_eq!(due(&mut seen, "k", t0), Some(0));
        assert_eq!(due(&mut seen, "k", t0 + Duration::from_secs(1)), None);
        assert_eq!(due(&mut seen, "k", t0 + Duration::from_secs(2)), None);
        assert_eq!(due(&mut seen, "k", t0 + REPEAT_INTERVAL * 2), Some(2));
    }

    #[test]
    fn the_kinds_remembered_are_bounded() {
        let mut seen = HashMap::new();
        let t0 = Instant::now();
        for i in 0..10 * MAX_KINDS {
            due(
                &mut seen,
                &format!("kind {i}"),
                t0 + Duration::from_millis(i as u64),
            );
            assert!(seen.len() <= MAX_KINDS);
        }
        // The newest kinds are still remembered.
        assert_eq!(
            due(&mut seen, &format!("kind {}", 10 * MAX_KINDS - 1), t0),
            None
        );
    }
}
