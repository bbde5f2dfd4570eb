//! The global pipeline: configured from the environment on first use, flushed at exit.
//!
//! These tests re-run this test binary as a child process (global state and process exit
//! are per process, see `support::child`), then check what the child left in its database.

use std::path::Path;

use mlflow_tracing::local_store::LocalStore;

use crate::support::child::{is_child, run_child};

fn record_traces(n: usize) {
    for i in 0..n {
        let root = mlflow_tracing::start_span("job").start();
        root.set_inputs(i);
        let _child = mlflow_tracing::start_span("step").start();
    }
}

#[test]
fn without_any_set_up_or_flush_nothing_is_lost_at_exit() {
    if is_child() {
        // Configured from MLFLOW_TRACKING_URI on first use; no guard, no flush.
        record_traces(300);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    run_child(
        "global_lazy::without_any_set_up_or_flush_nothing_is_lost_at_exit",
        &[("MLFLOW_TRACKING_URI", format!("sqlite:///{}", db.display()))],
    );
    let traces = LocalStore::open(&db)
        .unwrap()
        .list_traces(None, 1000)
        .unwrap();
    assert_eq!(traces.len(), 300);
    assert!(traces.iter().all(|t| t.span_count() == Some(2)));
}

#[test]
fn set_tracking_uri_and_set_experiment_route_new_traces() {
    if is_child() {
        let db = std::env::var("TEST_DB").unwrap();
        mlflow_tracing::set_tracking_uri(format!("sqlite:///{db}")).unwrap();
        assert_eq!(
            mlflow_tracing::get_tracking_uri(),
            format!("sqlite:///{db}")
        );
        let id = mlflow_tracing::set_experiment("my-experiment").unwrap();
        assert_eq!(id, "1");
        record_traces(5);
        mlflow_tracing::flush().unwrap();
        let err = mlflow_tracing::set_tracking_uri("ftp://localhost:5000").unwrap_err();
        assert!(err.to_string().contains("set_tracking_uri"), "{err}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/dir/mlflow.db");
    run_child(
        "global_lazy::set_tracking_uri_and_set_experiment_route_new_traces",
        &[("TEST_DB", db.display().to_string())],
    );
    let store = LocalStore::open(&db).unwrap();
    assert_eq!(store.list_traces(Some("1"), 100).unwrap().len(), 5);
    assert!(store.list_traces(Some("0"), 100).unwrap().is_empty());
}

#[test]
fn init_reports_configuration_errors_and_the_guard_flushes() {
    if is_child() {
        match std::env::var("CASE").as_deref() {
            Ok("bad") => {
                let err = mlflow_tracing::init().unwrap_err().to_string();
                assert_eq!(
                    err,
                    "invalid value \"abc\" for MLFLOW_TRACE_SAMPLING_RATIO: expected a number \
                     between 0.0 and 1.0"
                );
            }
            _ => {
                let guard = mlflow_tracing::init().unwrap();
                record_traces(50);
                drop(guard);
                // After shutdown, spans are no-ops.
                assert!(!mlflow_tracing::start_span("after").start().is_recording());
            }
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let uri = format!("sqlite:///{}", db.display());
    let name = "global_lazy::init_reports_configuration_errors_and_the_guard_flushes";
    run_child(
        name,
        &[
            ("CASE", "bad".into()),
            ("MLFLOW_TRACE_SAMPLING_RATIO", "abc".into()),
            ("MLFLOW_TRACKING_URI", uri.clone()),
        ],
    );
    assert!(
        !Path::new(&db).exists(),
        "a failed init must not create the database"
    );
    run_child(
        name,
        &[("CASE", "good".into()), ("MLFLOW_TRACKING_URI", uri)],
    );
    assert_eq!(
        LocalStore::open(&db)
            .unwrap()
            .list_traces(None, 100)
            .unwrap()
            .len(),
        50
    );
}

#[test]
fn an_invalid_setting_on_the_lazy_path_is_reported_once_and_never_panics() {
    if is_child() {
        // No init(): the first span configures tracing from the environment.
        record_traces(3);
        assert!(!mlflow_tracing::start_span("x").start().is_recording());
        mlflow_tracing::flush().unwrap();
        return;
    }
    let stderr = run_child(
        "global_lazy::an_invalid_setting_on_the_lazy_path_is_reported_once_and_never_panics",
        &[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:1/v1/traces".into(),
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/xml".into()),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "authorization=Bearer%20s3cr3t".into(),
            ),
        ],
    );
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
        .collect();
    assert_eq!(reports.len(), 1, "{stderr}");
    assert!(reports[0].contains("http/xml"), "{stderr}");
    assert!(
        reports[0].contains("http/protobuf"),
        "names what is accepted: {stderr}"
    );
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
}
