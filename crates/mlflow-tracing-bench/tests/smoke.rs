//! `scripts/bench-compare.sh` end to end on a tiny burst: every configuration runs (this
//! SDK, raw OpenTelemetry and MLflow's Python SDK, to the local store and to the loopback
//! receiver), what each delivered is counted where it landed, and the table is printed.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory of this crate's binaries, where `cargo test --workspace` also builds
/// `mlflow-trace` (a test cannot run cargo itself: the outer cargo holds the build lock).
fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_otel-load"))
        .parent()
        .unwrap()
        .to_owned();
    let cli = dir.join("mlflow-trace");
    let built = std::fs::metadata(&cli)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: run cargo test --workspace", cli.display()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for crate_dir in ["mlflow-trace-cli/src", "mlflow-tracing/src"] {
        assert!(
            newest(&root.join(crate_dir)) <= built,
            "{} is older than the sources: run cargo test --workspace",
            cli.display()
        );
    }
    dir
}

/// The newest modification time under `dir`.
fn newest(dir: &Path) -> std::time::SystemTime {
    let mut latest = std::time::SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest(&path)
        } else {
            entry.metadata().unwrap().modified().unwrap()
        };
        latest = latest.max(time);
    }
    latest
}

#[test]
fn bench_compare_runs_every_configuration_and_counts_deliveries() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(root.join("scripts/bench-compare.sh"))
        .args(["--traces", "20", "--runs", "1", "--warmup", "2", "--out"])
        .arg(out.path())
        .env("BENCH_BIN_DIR", bin_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let results = std::fs::read_to_string(out.path().join("results.jsonl")).unwrap();
    let runs: Vec<serde_json::Value> = results
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let configs: Vec<&str> = runs.iter().map(|r| r["config"].as_str().unwrap()).collect();
    assert_eq!(
        configs,
        [
            "rust_discard",
            "otel_discard",
            "otel_http",
            "otel_http_lossless",
            "rust_http",
            "rust_grpc",
            "rust_store",
            "py_http",
            "py_store"
        ]
    );
    for run in &runs {
        assert_eq!(run["spans"], 60, "{run}");
        for key in [
            "us_per_span",
            "wall_us_per_span",
            "cpu_us_per_span",
            "peak_rss_mb",
        ] {
            assert!(run[key].as_f64().unwrap() >= 0.0, "{key}: {run}");
        }
        // 60 spans fit every queue: each configuration delivers all of them, counted at
        // the receiver or in the database.
        assert_eq!(run["delivered"], 60, "{run}");
    }
    assert!(
        stdout.contains("| this SDK → `./mlflow.db` (default) |"),
        "{stdout}"
    );
    assert!(stdout.contains("MLflow Python / this SDK"), "{stdout}");
}
