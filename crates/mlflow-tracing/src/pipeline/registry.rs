//! Every pipeline that may still hold data, so that the exit hook can flush them all —
//! the global one, pipelines replaced by `set_tracking_uri`/`set_experiment`, pipelines
//! built in code, and pipelines whose last handle was dropped while they drain — within
//! one deadline, and count what none of them could export in time.

use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use super::engine::{Core, Phase};
use crate::config::Destination;
use crate::report;
use crate::stats::LossReport;

static REGISTRY: Mutex<Vec<Arc<Core>>> = Mutex::new(Vec::new());

/// Registers a started pipeline (one with destinations), and the exit hook with the
/// first. Finished pipelines are forgotten.
pub(crate) fn register(core: &Arc<Core>) {
    register_exit_hook();
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    registry.retain(|c| !matches!(c.phase(), Phase::Done));
    registry.push(core.clone());
}

fn register_exit_hook() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `flush_at_exit` is an `extern "C" fn()` that never unwinds.
        let rc = unsafe { libc::atexit(flush_at_exit) };
        if rc != 0 {
            report::warn("atexit", || {
                "could not register the exit hook: call mlflow_tracing::flush() before the \
                 program ends"
                    .to_owned()
            });
        }
    });
}

/// Runs at process exit (as Python's `atexit` hook does): exports what every pipeline
/// still holds within one deadline, and reports what was lost, how much and why.
extern "C" fn flush_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        for (i, outcome) in flush_all_at_exit().into_iter().enumerate() {
            if outcome.losses.is_empty() {
                continue;
            }
            let destinations: Vec<String> = outcome
                .destinations
                .iter()
                .map(ToString::to_string)
                .collect();
            let destinations = destinations.join(", ");
            let losses = &outcome.losses;
            report::error(&format!("exit-losses:{i}"), || {
                if outcome.finished {
                    format!(
                        "at exit: {destinations} did not receive everything recorded since \
                         the last flush: {losses}"
                    )
                } else {
                    format!(
                        "not everything was exported to {destinations} before exit (the flush \
                         timeout, MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS, ran out): {losses}"
                    )
                }
            });
        }
    });
}

/// What became of one pipeline at exit.
#[derive(Debug)]
pub(crate) struct ExitOutcome {
    /// Where it sends traces.
    pub(crate) destinations: Vec<Destination>,
    /// Whether everything was exported (or failed) before the deadline.
    pub(crate) finished: bool,
    /// What it lost since a flush last reported its losses, including what was abandoned
    /// now.
    pub(crate) losses: LossReport,
}

/// Flushes every running pipeline and waits for the draining ones, all at once, for at
/// most the largest flush timeout among them (`MLFLOW_TRACE_FLUSH_TIMEOUT_MILLIS`) in
/// total. What a pipeline still holds at the deadline is counted as abandoned.
pub(crate) fn flush_all_at_exit() -> Vec<ExitOutcome> {
    let cores: Vec<Arc<Core>> = REGISTRY
        .lock()
        .map(|r| r.clone())
        .unwrap_or_else(|e| e.into_inner().clone());
    let timeout = cores
        .iter()
        .map(|c| c.flush_timeout())
        .max()
        .unwrap_or(Duration::ZERO);
    let deadline = Instant::now() + timeout;
    let waiting: Vec<_> = cores
        .iter()
        .filter_map(|core| match core.phase() {
            Phase::Running => Some((core, core.flush_barrier(false), true)),
            Phase::Draining(barrier) => Some((core, barrier, true)),
            Phase::TimedOut(barrier) => Some((core, barrier, false)),
            Phase::Done => None,
        })
        .collect();
    waiting
        .into_iter()
        .map(|(core, barrier, wait)| {
            let left = if wait {
                deadline.saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            let finished = barrier.wait(left).is_some();
            if !finished {
                core.abandon();
            }
            ExitOutcome {
                destinations: core.destinations().to_vec(),
                finished,
                losses: core.unreported_losses(),
            }
        })
        .collect()
}
