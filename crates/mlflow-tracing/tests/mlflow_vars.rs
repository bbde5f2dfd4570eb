//! MLflow's own tracing variables: mapped onto what they mean here, or reported as
//! changing nothing — never ignored silently.

use std::collections::HashMap;
use std::path::Path;

use mlflow_tracing::{Tracing, start_span};

fn pipeline(vars: &[(&str, String)]) -> Tracing {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    Tracing::builder()
        .with_env(move |k| map.get(k).cloned())
        .build()
        .unwrap()
}

fn sqlite(db: &Path) -> String {
    format!("sqlite:///{}", db.display())
}

#[test]
fn the_async_logging_queue_size_bounds_the_traces_waiting_for_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    // Create the database, then hold its write lock: the store's worker waits on it
    // while traces pile up behind it.
    let first = pipeline(&[("MLFLOW_TRACKING_URI", sqlite(&db))]);
    first.in_scope(|| drop(start_span("first").start()));
    first.flush().unwrap();
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let tracing = pipeline(&[
        ("MLFLOW_TRACKING_URI", sqlite(&db)),
        ("MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE", "5".to_owned()),
    ]);
    tracing.in_scope(|| {
        for i in 0..50 {
            drop(start_span(format!("trace {i}")).start());
        }
    });
    // Every trace handed to the store's worker (queued behind the lock, or dropped)
    // before the lock is released.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let s = &tracing.stats().destinations[0];
        if s.exported + s.failed + s.queued >= 50 || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    lock.execute_batch("COMMIT").unwrap();
    let report = match tracing.flush() {
        Err(mlflow_tracing::FlushError::Lost(report)) => report,
        other => panic!("expected the dropped traces to be reported, got {other:?}"),
    };
    let stats = &tracing.stats().destinations[0];
    assert_eq!(stats.exported + stats.failed, 50, "{stats:?}");
    assert_eq!(stats.lost.over_queue_size, stats.failed, "{stats:?}");
    assert!(stats.failed >= 50 - 5 - 5, "{stats:?}");
    assert_eq!(report.destinations[0].lost, stats.lost);
    let stored: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM trace_info", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored as u64, 1 + stats.exported);
}

#[test]
fn the_tracing_destination_names_the_experiment_and_unused_variables_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let vars = [
        ("MLFLOW_TRACKING_URI", sqlite(&db)),
        (
            "MLFLOW_EXPERIMENT_NAME",
            "ignored-by-destination".to_owned(),
        ),
        ("MLFLOW_TRACING_DESTINATION", "0".to_owned()),
        ("MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS", "4".to_owned()),
        ("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false".to_owned()),
    ];
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let diagnosis = Tracing::builder()
        .with_env(move |k| map.get(k).cloned())
        .diagnose()
        .unwrap();
    let text = diagnosis.to_string();
    assert!(text.contains("id 0"), "{text}");
    assert!(text.contains("MLFLOW_TRACING_DESTINATION"), "{text}");
    assert!(
        text.contains("MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS") && text.contains("no effect"),
        "{text}"
    );
    assert!(text.contains("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"), "{text}");
    // The trace goes to experiment 0, not to the experiment named in the environment.
    let tracing = pipeline(&vars);
    tracing.in_scope(|| drop(start_span("t").start()));
    tracing.flush().unwrap();
    let experiments: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM experiments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(experiments, 1, "no experiment was created for the name");
    let err = Tracing::builder()
        .with_env(|k| (k == "MLFLOW_TRACING_DESTINATION").then(|| "main.schema".to_owned()))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("MLFLOW_TRACING_DESTINATION"),
        "{err}"
    );
}
