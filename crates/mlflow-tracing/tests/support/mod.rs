//! Shared helpers: a pipeline that exports to memory, with an empty environment.

#![allow(dead_code)]

use mlflow_tracing::testing::InMemoryTraces;
use mlflow_tracing::{Span, Trace, Tracing, TracingBuilder};

/// A builder reading no environment variables, exporting only to `traces`.
pub(crate) fn builder(traces: &InMemoryTraces) -> TracingBuilder {
    Tracing::builder()
        .with_env(|_| None)
        .destinations_from_config(false)
        .with_in_memory(traces)
}

/// A pipeline exporting to memory.
pub(crate) fn pipeline() -> (Tracing, InMemoryTraces) {
    let traces = InMemoryTraces::new();
    let tracing = builder(&traces).build().expect("pipeline");
    (tracing, traces)
}

/// Runs `f` with a fresh in-memory pipeline as the thread's default, flushes, and
/// returns the exported traces.
pub(crate) fn record(f: impl FnOnce()) -> Vec<Trace> {
    let (tracing, traces) = pipeline();
    tracing.in_scope(f);
    tracing.flush().expect("flush");
    traces.traces()
}

/// The one trace `f` records.
pub(crate) fn record_one(f: impl FnOnce()) -> Trace {
    let mut traces = record(f);
    assert_eq!(traces.len(), 1, "expected exactly one trace");
    traces.remove(0)
}

/// An attribute exactly as stored (MLflow's JSON string).
pub(crate) fn raw(span: &Span, key: &str) -> String {
    match span.raw_attribute(key) {
        Some(opentelemetry::Value::String(s)) => s.as_str().to_owned(),
        other => panic!("attribute {key} of {} is {other:?}", span.name()),
    }
}

/// Attribute keys in order.
pub(crate) fn keys(span: &Span) -> Vec<&str> {
    span.attributes().iter().map(|kv| kv.key.as_str()).collect()
}

/// An error of a type named `ValueError`, like the Python exception of MLflow's examples.
#[derive(Debug)]
pub(crate) struct ValueError(pub(crate) &'static str);

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ValueError {}

/// Collects what is logged through `tracing` (a `tracing_subscriber` writer).
#[derive(Clone, Default)]
pub(crate) struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// A `tracing` subscriber writing into this buffer.
    pub(crate) fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .finish()
    }

    /// Everything written so far, as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Set in a child process started by [`run_child`].
const CHILD: &str = "MLFLOW_TRACING_TEST_CHILD";

/// Runs the test named `name` of this binary in a child process with `env` (and no
/// `MLFLOW_*`/`OTEL_*` variable of ours: global state and process exit are per process);
/// returns its standard error, failing when the child fails.
pub(crate) fn run_child(name: &str, env: &[(&str, String)]) -> String {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1");
    for (key, _) in std::env::vars() {
        if key.starts_with("MLFLOW_") || key.starts_with("OTEL_") {
            command.env_remove(key);
        }
    }
    command.env(CHILD, "1");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Whether this is a child process started by [`run_child`].
pub(crate) fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}
