//! How a process ends, and what is exported or counted each way: the guard dropped at the
//! end of `main`, `std::process::exit`, a panic in `main`; pipelines replaced or dropped
//! while they still hold data; a destination that never answers (what cannot be exported
//! in time is counted as abandoned and reported, within one bound for all pipelines).

use std::time::{Duration, Instant};

use mlflow_tracing::local_store::LocalStore;
use mlflow_tracing::{Tracing, start_span};
use mlflow_tracing_test_support::{Receiver, Reply, Tls};

use crate::support::child::{is_child, run_child, run_child_output};

fn record_traces(n: usize) {
    for i in 0..n {
        let root = start_span("job").start();
        root.set_inputs(i);
        let _child = start_span("step").start();
    }
}

fn stored(db: &std::path::Path) -> usize {
    LocalStore::open(db)
        .unwrap()
        .list_traces(None, 100_000)
        .unwrap()
        .len()
}

fn db_env(db: &std::path::Path) -> (&'static str, String) {
    ("MLFLOW_TRACKING_URI", format!("sqlite:///{}", db.display()))
}

#[test]
fn process_exit_flushes_every_pipeline() {
    if is_child() {
        // The global pipeline, built lazily, then replaced by another URI while it still
        // holds thousands of traces; a pipeline built in code and dropped at once. Then
        // `std::process::exit`, which runs no destructors: the exit hook exports them all.
        record_traces(3_000);
        let second = std::env::var("SECOND_DB").unwrap();
        mlflow_tracing::set_tracking_uri(format!("sqlite:///{second}")).unwrap();
        record_traces(2);
        let third = std::env::var("THIRD_DB").unwrap();
        let dropped = Tracing::builder()
            .tracking_uri(format!("sqlite:///{third}"))
            .build()
            .unwrap();
        dropped.in_scope(|| record_traces(1_000));
        drop(dropped);
        std::process::exit(0);
    }
    let dir = tempfile::tempdir().unwrap();
    let (first, second, third) = (
        dir.path().join("first.db"),
        dir.path().join("second.db"),
        dir.path().join("third.db"),
    );
    let stderr = run_child(
        "exit_paths::process_exit_flushes_every_pipeline",
        &[
            db_env(&first),
            ("SECOND_DB", second.display().to_string()),
            ("THIRD_DB", third.display().to_string()),
        ],
    );
    assert_eq!(stored(&first), 3_000, "{stderr}");
    assert_eq!(stored(&second), 2, "{stderr}");
    assert_eq!(stored(&third), 1_000, "{stderr}");
    assert!(!stderr.contains("not everything was exported"), "{stderr}");
}

#[test]
fn a_panic_in_main_still_exports_through_the_guard_and_the_exit_hook() {
    if is_child() {
        let _guard = mlflow_tracing::init().unwrap();
        record_traces(200);
        panic!("the program failed");
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let output = run_child_output(
        "exit_paths::a_panic_in_main_still_exports_through_the_guard_and_the_exit_hook",
        &[db_env(&db)],
        Duration::from_secs(60),
    );
    assert!(!output.status.success(), "the child panicked");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the program failed"), "{stderr}");
    assert_eq!(stored(&db), 200);
}

#[test]
fn what_cannot_be_exported_before_exit_is_counted_and_reported_within_one_bound() {
    if is_child() {
        // Three pipelines whose receiver never answers, each with a 500 ms flush timeout:
        // the exit hook waits once for all of them, then counts what they still hold.
        let endpoint = std::env::var("ENDPOINT").unwrap();
        let pipelines: Vec<Tracing> = (0..3)
            .map(|_| {
                Tracing::builder()
                    .with_env(|_| None)
                    .otlp_endpoint(endpoint.clone())
                    .otlp_protocol(mlflow_tracing::Protocol::HttpProtobuf)
                    .flush_timeout(Duration::from_millis(500))
                    .build()
                    .unwrap()
            })
            .collect();
        for tracing in &pipelines {
            tracing.in_scope(|| record_traces(100));
        }
        eprintln!("CHILD-EXITING");
        std::process::exit(0);
    }
    let receiver = Receiver::http(Tls::None, None);
    receiver.script(vec![Reply::Delay(Duration::from_secs(600)); 64]);
    let started = Instant::now();
    let output = run_child_output(
        "exit_paths::what_cannot_be_exported_before_exit_is_counted_and_reported_within_one_bound",
        &[("ENDPOINT", receiver.traces_endpoint())],
        Duration::from_secs(60),
    );
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // One bound for all three pipelines (not 3 × 500 ms, nor the old 10 s each); generous
    // slack for a loaded machine.
    assert!(took < Duration::from_secs(20), "exit took {took:?}");
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("not everything was exported"))
        .collect();
    assert_eq!(reports.len(), 3, "one report per pipeline:\n{stderr}");
    for report in reports {
        assert!(report.contains("flush timeout"), "{report}");
        // Every one of the pipeline's 200 spans is accounted for: the first request is
        // still in flight (counted as abandoned with the rest), none was exported.
        assert!(
            report.contains("200 span(s) not exported (200 abandoned at shutdown or exit)"),
            "{report}"
        );
    }
}
