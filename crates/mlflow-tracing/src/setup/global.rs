//! The default pipeline: global (configured from the environment on first use, like the
//! Python SDK) or scoped to a thread for tests.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use super::tracing::Tracing;
use crate::config::{
    self, CodeSettings, ConfigError, Env, Experiment, Settings, TrackingUri, resolve_tracking_uri,
};
use crate::destination;
use crate::error::{BuildError, FlushError};
use crate::pipeline::Pipeline;
use crate::report;

/// Settings made in code with [`set_tracking_uri`] and [`set_experiment`].
#[derive(Debug, Clone, Default)]
struct CodeConfig {
    tracking_uri: Option<String>,
    experiment: Option<Experiment>,
}

impl CodeConfig {
    fn current() -> CodeConfig {
        CODE.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

static GLOBAL: RwLock<Option<Tracing>> = RwLock::new(None);
static CODE: Mutex<CodeConfig> = Mutex::new(CodeConfig {
    tracking_uri: None,
    experiment: None,
});

thread_local! {
    /// The thread's scoped default, set by [`Tracing::set_default`].
    static SCOPED: RefCell<Option<Tracing>> = const { RefCell::new(None) };
    /// This thread is building the global pipeline (a span started meanwhile, e.g. by a
    /// `tracing` subscriber the build reports to, must not build another).
    static BUILDING: Cell<bool> = const { Cell::new(false) };
}

/// The thread's scoped default, if one is set.
pub(super) fn scoped() -> Option<Tracing> {
    SCOPED.try_with(|s| s.borrow().clone()).ok().flatten()
}

/// The pipeline new traces on this thread go to.
pub(crate) fn current_pipeline() -> Arc<Pipeline> {
    if let Some(scoped) = SCOPED.try_with(|s| s.borrow().clone()).ok().flatten() {
        return scoped.pipeline().clone();
    }
    global().pipeline().clone()
}

/// The global pipeline, created from the environment on first use.
///
/// No lock is held while it is built (reading the environment and git metadata,
/// starting threads, reporting problems): a span started meanwhile on another thread
/// builds its own and the first one stored wins; one started on this thread, from inside
/// the build, is not recorded.
pub(crate) fn global() -> Tracing {
    if let Some(tracing) = read_global() {
        return tracing;
    }
    if BUILDING.try_with(Cell::get).unwrap_or(true) {
        return disabled();
    }
    let _ = BUILDING.try_with(|b| b.set(true));
    let built = build_from_env();
    let _ = BUILDING.try_with(|b| b.set(false));
    super::switch::apply_to_global(&built);
    let stored = match GLOBAL.write() {
        Ok(mut slot) => slot.get_or_insert_with(|| built.clone()).clone(),
        Err(_) => return disabled(),
    };
    // Another thread may have stored its pipeline first: ours (never used) is dropped.
    stored
}

fn read_global() -> Option<Tracing> {
    GLOBAL.read().ok().and_then(|g| g.clone())
}

/// A pipeline that records nothing, shared.
fn disabled() -> Tracing {
    static DISABLED: OnceLock<Tracing> = OnceLock::new();
    DISABLED.get_or_init(Tracing::disabled).clone()
}

fn build_from_env() -> Tracing {
    let code = CodeConfig::current();
    let builder = Tracing::builder().with_code(CodeSettings {
        tracking_uri: code.tracking_uri,
        experiment: code.experiment,
        ..CodeSettings::default()
    });
    match builder.build() {
        Ok(tracing) => tracing,
        Err(err) => {
            report::error("lazy-init", || format!("tracing is disabled: {err}"));
            Tracing::disabled()
        }
    }
}

/// Replaces the global pipeline. The old one keeps serving the spans that are still
/// open in it; it is flushed at exit like every pipeline that may hold data.
fn replace_global(new: Option<Tracing>) {
    if let Some(new) = &new {
        super::switch::apply_to_global(new);
    }
    let old = match GLOBAL.write() {
        Ok(mut slot) => std::mem::replace(&mut *slot, new),
        Err(_) => return,
    };
    drop(old);
}

pub(crate) fn install(tracing: Tracing) -> TracingGuard {
    replace_global(Some(tracing.clone()));
    TracingGuard { tracing }
}

/// Sets up tracing from the environment, installs it as the global pipeline and returns a
/// guard that flushes and shuts it down when dropped.
///
/// Unlike relying on the lazy set-up, this reports configuration errors. Keep the guard
/// until the program ends: `let _guard = mlflow_tracing::init()?;` (not `let _ = …`,
/// which drops it at once).
pub fn init() -> Result<TracingGuard, BuildError> {
    Tracing::builder().install()
}

/// Flushes and shuts down the global pipeline it was returned for, when dropped.
#[must_use = "dropping the guard shuts tracing down"]
#[derive(Debug)]
pub struct TracingGuard {
    tracing: Tracing,
}

impl TracingGuard {
    /// The pipeline.
    pub fn tracing(&self) -> &Tracing {
        &self.tracing
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        match self.tracing.shutdown() {
            Ok(()) | Err(FlushError::AlreadyShutDown) => {}
            Err(err) => report::error("guard-shutdown", || {
                format!("not every trace could be exported at shutdown: {err}")
            }),
        }
    }
}

/// Keeps a pipeline as this thread's default until dropped, then restores the default
/// that was current when it was created; see [`Tracing::set_default`].
#[must_use = "the default is reset as soon as the guard is dropped"]
#[derive(Debug)]
pub struct DefaultGuard {
    previous: Option<Tracing>,
    _not_send: std::marker::PhantomData<*const ()>,
}

pub(crate) fn set_default(tracing: Tracing) -> DefaultGuard {
    let previous = SCOPED
        .try_with(|s| s.borrow_mut().replace(tracing))
        .ok()
        .flatten();
    DefaultGuard {
        previous,
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for DefaultGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = SCOPED.try_with(|s| *s.borrow_mut() = previous);
    }
}

/// Sets where traces go, like `mlflow.set_tracking_uri`: wins over `MLFLOW_TRACKING_URI`.
/// Traces started afterwards use it; traces already running finish where they started.
pub fn set_tracking_uri(uri: impl Into<String>) -> Result<(), BuildError> {
    let uri = uri.into();
    resolve_tracking_uri(&Env::from_fn(|_| None), Some(&uri), &config::current_dir())?;
    if let Ok(mut code) = CODE.lock() {
        code.tracking_uri = Some(uri);
    }
    replace_global(None);
    Ok(())
}

/// Where traces go: the URI set with [`set_tracking_uri`], else `MLFLOW_TRACKING_URI`,
/// else `mlflow.db` in the working directory.
pub fn tracking_uri() -> Result<TrackingUri, ConfigError> {
    let code = CodeConfig::current();
    resolve_tracking_uri(
        &Env::process(),
        code.tracking_uri.as_deref(),
        &config::current_dir(),
    )
    .map(|setting| setting.value)
}

/// The tracking URI traces go to, in MLflow's spelling (the value as given when it is
/// invalid; [`tracking_uri`] says why).
pub fn get_tracking_uri() -> String {
    match tracking_uri() {
        Ok(uri) => uri.to_string(),
        Err(_) => CodeConfig::current()
            .tracking_uri
            .or_else(|| Env::process().get(config::env::MLFLOW_TRACKING_URI))
            .unwrap_or_default(),
    }
}

/// Makes the experiment named `name` the one traces go to, creating it if it does not
/// exist, like `mlflow.set_experiment`. Returns its id.
pub fn set_experiment(name: &str) -> Result<String, BuildError> {
    let code = CodeSettings {
        tracking_uri: CodeConfig::current().tracking_uri,
        ..CodeSettings::default()
    };
    let settings = Settings::resolve(&Env::process(), &code, &config::current_dir())?;
    let id = destination::experiment_id_by_name(&settings, name)?;
    if let Ok(mut code) = CODE.lock() {
        code.experiment = Some(Experiment::Id(id.clone()));
    }
    replace_global(None);
    Ok(id)
}

/// Flushes the global pipeline: waits until every finished trace has been exported.
pub fn flush() -> Result<(), FlushError> {
    match GLOBAL.read().ok().and_then(|g| g.clone()) {
        Some(tracing) => tracing.flush(),
        None => Ok(()),
    }
}

/// Flushes and shuts down the global pipeline; later spans are no-ops.
pub fn shutdown() -> Result<(), FlushError> {
    match GLOBAL.read().ok().and_then(|g| g.clone()) {
        Some(tracing) => tracing.shutdown(),
        None => Ok(()),
    }
}
