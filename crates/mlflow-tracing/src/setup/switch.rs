//! Turning tracing off and on at run time: MLflow's `mlflow.tracing.disable()`,
//! `enable()` and `is_tracing_enabled()`. Off, no new span is recorded (a no-op, as
//! MLflow's no-op tracer); traces already started are exported with the spans they had.

use std::sync::atomic::{AtomicBool, Ordering};

use super::global;
use super::tracing::Tracing;

/// Whether the global pipeline is turned off; kept across its replacement
/// (`set_tracking_uri`, `set_experiment`, `init`), as MLflow's switch is.
static GLOBAL_OFF: AtomicBool = AtomicBool::new(false);

/// Applies the global switch to a pipeline becoming the global one.
pub(super) fn apply_to_global(tracing: &Tracing) {
    if GLOBAL_OFF.load(Ordering::Relaxed) {
        tracing.pipeline().set_paused(true);
    }
}

fn set(off: bool) {
    match global::scoped() {
        // A thread-scoped default (tests) is switched alone.
        Some(scoped) => scoped.pipeline().set_paused(off),
        None => {
            GLOBAL_OFF.store(off, Ordering::Relaxed);
            global::global().pipeline().set_paused(off);
        }
    }
}

/// Stops recording new traces in the default pipeline (the thread's scoped one, else the
/// global one, and the global ones that replace it) until [`enable`]: MLflow's
/// `mlflow.tracing.disable()`. Traces already started are exported when their root ends,
/// without the spans started in them while tracing was off.
pub fn disable() {
    set(true);
}

/// Records traces again after [`disable`]: MLflow's `mlflow.tracing.enable()`.
pub fn enable() {
    set(false);
}

/// Whether new traces in the default pipeline are recorded: MLflow's
/// `mlflow.tracing.is_tracing_enabled()` (also `false` when no destination is configured
/// or the pipeline was shut down).
pub fn is_tracing_enabled() -> bool {
    match global::scoped() {
        Some(scoped) => scoped.is_enabled(),
        None => global::global().is_enabled(),
    }
}

impl Tracing {
    /// Stops recording new traces in this pipeline until [`enable`](Tracing::enable).
    pub fn disable(&self) {
        self.pipeline().set_paused(true);
    }

    /// Records new traces again after [`disable`](Tracing::disable).
    pub fn enable(&self) {
        self.pipeline().set_paused(false);
    }
}
