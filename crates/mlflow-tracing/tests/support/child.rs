//! Re-running this test binary as a child process, for what is per process: the global
//! pipeline, the exit hook, process exit and panics.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

const CHILD: &str = "MLFLOW_TRACING_TEST_CHILD";

/// Whether this process is a child started by [`run_child`].
pub(crate) fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// The command running the test named `name` of this binary alone, with no MLflow or
/// OpenTelemetry configuration inherited, and `env`.
fn command(name: &str, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command.args(["--exact", name, "--nocapture", "--test-threads=1"]);
    for (key, _) in std::env::vars() {
        if key.starts_with("MLFLOW_") || key.starts_with("OTEL_") {
            command.env_remove(key);
        }
    }
    command.env(CHILD, "1");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// Runs the test named `name` in a child process with `env`; fails unless it succeeds.
/// Returns its standard error.
pub(crate) fn run_child(name: &str, env: &[(&str, String)]) -> String {
    let output = run_child_output(name, env, Duration::from_secs(120));
    assert!(
        output.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs the test named `name` in a child process with `env`, killing it after `limit`
/// (then the test fails: the child hung). Returns its output whatever its exit status.
pub(crate) fn run_child_output(name: &str, env: &[(&str, String)], limit: Duration) -> Output {
    let mut child = command(name, env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("child starts");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("child status").is_some() {
            return child.wait_with_output().expect("child output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().expect("child output");
            panic!(
                "child {name} did not finish within {limit:?} (hung?):\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
