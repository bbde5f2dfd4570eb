//! The default pipeline: global (configured from the environment on first use, like the
//! Python SDK) or scoped to a thread for tests.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, Once, RwLock, Weak};
use std::time::Duration;

use crate::config::{Env, TrackingUri, env};
use crate::diag;
use crate::error::{BuildError, FlushError};
use crate::pipeline::{Pipeline, Tracing};

/// Settings made in code with [`set_tracking_uri`] and [`set_experiment`].
#[derive(Debug, Clone, Default)]
struct CodeConfig {
    tracking_uri: Option<String>,
    experiment_id: Option<String>,
}

static GLOBAL: RwLock<Option<Tracing>> = RwLock::new(None);
static CODE: Mutex<CodeConfig> = Mutex::new(CodeConfig {
    tracking_uri: None,
    experiment_id: None,
});
/// Pipelines replaced by a new configuration; flushed at exit if still alive.
static RETIRED: Mutex<Vec<Weak<Pipeline>>> = Mutex::new(Vec::new());
/// How long the exit hook waits for export.
const EXIT_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

thread_local! {
    static SCOPED: RefCell<Vec<Tracing>> = const { RefCell::new(Vec::new()) };
}

/// The pipeline new traces on this thread go to.
pub(crate) fn current_pipeline() -> Arc<Pipeline> {
    if let Some(scoped) = SCOPED
        .try_with(|s| s.borrow().last().cloned())
        .ok()
        .flatten()
    {
        return scoped.inner;
    }
    global().inner
}

/// The global pipeline, created from the environment on first use.
pub(crate) fn global() -> Tracing {
    if let Some(tracing) = GLOBAL.read().ok().and_then(|g| g.clone()) {
        return tracing;
    }
    let Ok(mut slot) = GLOBAL.write() else {
        return Tracing::disabled();
    };
    if let Some(tracing) = slot.as_ref() {
        return tracing.clone();
    }
    let tracing = build_from_env();
    *slot = Some(tracing.clone());
    register_exit_flush();
    tracing
}

fn build_from_env() -> Tracing {
    let code = CODE.lock().map(|c| c.clone()).unwrap_or_default();
    let mut builder = Tracing::builder();
    if let Some(uri) = code.tracking_uri {
        builder = builder.tracking_uri(uri);
    }
    if let Some(id) = code.experiment_id {
        builder = builder.experiment_id(id);
    }
    match builder.build() {
        Ok(tracing) => tracing,
        Err(err) => {
            diag::error("lazy-init", || format!("tracing is disabled: {err}"));
            Tracing::disabled()
        }
    }
}

/// Replaces the global pipeline. The old one keeps serving the spans that are still
/// open in it, and is flushed at exit.
fn replace_global(new: Option<Tracing>) {
    let old = match GLOBAL.write() {
        Ok(mut slot) => std::mem::replace(&mut *slot, new),
        Err(_) => return,
    };
    if let Some(old) = old
        && let Ok(mut retired) = RETIRED.lock()
    {
        retired.retain(|w| w.strong_count() > 0);
        retired.push(Arc::downgrade(&old.inner));
    }
}

pub(crate) fn install(tracing: Tracing) -> TracingGuard {
    replace_global(Some(tracing.clone()));
    register_exit_flush();
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
            Err(err) => diag::error("guard-shutdown", || {
                format!("not every trace could be exported at shutdown: {err}")
            }),
        }
    }
}

/// Keeps a pipeline as this thread's default until dropped; see
/// [`Tracing::set_default`].
#[must_use = "the default is reset as soon as the guard is dropped"]
#[derive(Debug)]
pub struct DefaultGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

pub(crate) fn push_default(tracing: Tracing) -> DefaultGuard {
    let _ = SCOPED.try_with(|s| s.borrow_mut().push(tracing));
    DefaultGuard {
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for DefaultGuard {
    fn drop(&mut self) {
        let _ = SCOPED.try_with(|s| s.borrow_mut().pop());
    }
}

/// Sets where traces go, like `mlflow.set_tracking_uri`: wins over `MLFLOW_TRACKING_URI`.
/// Traces started afterwards use it; traces already running finish where they started.
pub fn set_tracking_uri(uri: impl Into<String>) -> Result<(), BuildError> {
    let uri = uri.into();
    let cwd = std::env::current_dir().unwrap_or_default();
    TrackingUri::parse("set_tracking_uri", &uri, &cwd)?;
    if let Ok(mut code) = CODE.lock() {
        code.tracking_uri = Some(uri);
    }
    replace_global(None);
    Ok(())
}

/// The tracking URI traces go to, in MLflow's spelling.
pub fn get_tracking_uri() -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let code = CODE.lock().ok().and_then(|c| c.tracking_uri.clone());
    let raw = code.or_else(|| Env::process().get(env::MLFLOW_TRACKING_URI));
    match raw {
        Some(raw) => TrackingUri::parse("", &raw, &cwd)
            .map(|u| u.to_uri())
            .unwrap_or(raw),
        None => TrackingUri::default_local(&cwd).to_uri(),
    }
}

/// Makes the experiment named `name` the one traces go to, creating it if it does not
/// exist, like `mlflow.set_experiment`. Returns its id.
pub fn set_experiment(name: &str) -> Result<String, BuildError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let code = CODE.lock().ok().and_then(|c| c.tracking_uri.clone());
    let uri = match code.or_else(|| Env::process().get(env::MLFLOW_TRACKING_URI)) {
        Some(raw) => TrackingUri::parse(env::MLFLOW_TRACKING_URI, &raw, &cwd)?,
        None => TrackingUri::default_local(&cwd),
    };
    let id = experiment_id_for(&uri, name)?;
    if let Ok(mut code) = CODE.lock() {
        code.experiment_id = Some(id.clone());
    }
    replace_global(None);
    Ok(id)
}

#[cfg(feature = "local-store")]
fn experiment_id_for(uri: &TrackingUri, name: &str) -> Result<String, BuildError> {
    let TrackingUri::Sqlite { path } = uri;
    let mut store =
        crate::local_store::Store::open(path).map_err(|e| BuildError::Store(e.to_string()))?;
    store
        .get_or_create_experiment(name)
        .map_err(|e| BuildError::Store(e.to_string()))
}

#[cfg(not(feature = "local-store"))]
fn experiment_id_for(_uri: &TrackingUri, _name: &str) -> Result<String, BuildError> {
    Err(BuildError::FeatureDisabled {
        feature: "local-store",
        needed_for: "set_experiment",
    })
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

fn register_exit_flush() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `flush_at_exit` is an `extern "C" fn()` that never unwinds.
        let rc = unsafe { libc::atexit(flush_at_exit) };
        if rc != 0 {
            diag::warn("atexit", || {
                "could not register the exit hook: call mlflow_tracing::flush() before the \
                 program ends"
                    .to_owned()
            });
        }
    });
}

/// Runs at process exit: exports what the global pipelines still hold, so a program that
/// never called `flush` loses nothing (as Python's atexit hook does).
extern "C" fn flush_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let mut pipelines: Vec<Tracing> = GLOBAL
            .read()
            .ok()
            .and_then(|g| g.clone())
            .into_iter()
            .collect();
        if let Ok(retired) = RETIRED.lock() {
            pipelines.extend(
                retired
                    .iter()
                    .filter_map(Weak::upgrade)
                    .map(|inner| Tracing { inner }),
            );
        }
        for tracing in pipelines {
            match tracing.flush_with_timeout(EXIT_FLUSH_TIMEOUT) {
                Ok(()) => {}
                Err(FlushError::AlreadyShutDown) => {}
                Err(err) => diag::error("exit-flush", || {
                    format!("not every trace could be exported before exit: {err}")
                }),
            }
        }
    });
}
