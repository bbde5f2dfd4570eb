//! The embedded default destination: an MLflow SQLite database.

use std::path::Path;

use mlflow_tracing::local_store::LocalStore;
use mlflow_tracing::{
    Destination, Experiment, SpanType, TraceState, TraceUpdate, Tracing, TrackingUri, Unit,
    start_span, update_current_trace,
};
use serde_json::json;

fn store_pipeline(db: &Path, experiment: Option<&str>) -> Tracing {
    let uri = format!("sqlite:///{}", db.display());
    let experiment = experiment.map(str::to_owned);
    Tracing::builder()
        .with_env(move |k| match k {
            "MLFLOW_TRACKING_URI" => Some(uri.clone()),
            "MLFLOW_EXPERIMENT_NAME" => experiment.clone(),
            _ => None,
        })
        .build()
        .unwrap()
}

fn chain_trace() {
    let root = start_span("chain").span_type(SpanType::Chain).start();
    root.set_inputs(json!({"question": "What is MLflow?"}));
    update_current_trace(
        TraceUpdate::new()
            .tags([("env", "golden"), ("team", "anchors")])
            .metadata("app.version", "1.2.3")
            .session_id("session-1")
            .user("user-1"),
    )
    .unwrap();
    {
        let llm = start_span("llm").span_type(SpanType::Llm).start();
        llm.set_inputs(json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is MLflow?"}]}));
        llm.set_attribute(
            "mlflow.chat.tokenUsage",
            json!({"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}),
        );
    }
    root.set_outputs(json!({"answer": "An MLOps platform."}));
}

#[test]
fn traces_are_written_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let tracing = store_pipeline(&db, None);
    tracing.in_scope(chain_trace);
    tracing.flush().unwrap();
    assert_eq!(
        tracing.destinations(),
        [Destination::LocalStore {
            uri: TrackingUri::Sqlite { path: db.clone() },
            experiment: Experiment::Default,
        }]
    );
    assert_eq!(
        tracing.destinations()[0].to_string(),
        format!(
            "MLflow SQLite store sqlite:///{} (experiment 0)",
            db.display()
        )
    );

    let store = LocalStore::open(&db).unwrap();
    let listed = store.list_traces(None, 10).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].span_count(), Some(2));
    let id = listed[0].info().trace_id().to_owned();
    let trace = store.get_trace(&id).unwrap().unwrap();
    let info = trace.info();
    assert_eq!(info.experiment_id(), Some("0"));
    assert_eq!(info.state(), TraceState::Ok);
    assert_eq!(info.name(), Some("chain"));
    assert_eq!(
        info.request_preview(),
        Some("{\"question\": \"What is MLflow?\"}")
    );
    assert_eq!(info.tags()["env"], "golden");
    assert_eq!(info.tags()["mlflow.trace.spansLocation"], "TRACKING_STORE");
    assert!(
        info.tags()["mlflow.artifactLocation"]
            .ends_with(&format!("mlruns/0/traces/{id}/artifacts"))
    );
    let m = info.metadata();
    assert_eq!(m["app.version"], "1.2.3");
    assert_eq!(m["mlflow.trace.session"], "session-1");
    assert_eq!(m["mlflow.trace.user"], "user-1");
    assert_eq!(m["mlflow.trace.infoFinalized"], "true");
    assert_eq!(
        m["mlflow.trace.tokenUsage"],
        "{\"input_tokens\": 12, \"output_tokens\": 7, \"total_tokens\": 19}"
    );
    let stats: serde_json::Value = serde_json::from_str(&m["mlflow.trace.sizeStats"]).unwrap();
    assert_eq!(stats["num_spans"], 2);
    assert_eq!(
        stats["total_size_bytes"].to_string(),
        m["mlflow.trace.sizeBytes"]
    );
    let llm = trace.span("llm").unwrap();
    assert_eq!(llm.span_type(), SpanType::Llm);
    // The store adds the model name, as MLflow's store does.
    assert_eq!(
        llm.attribute("mlflow.llm.model"),
        Some(json!("gpt-4o-mini"))
    );
    assert_eq!(
        trace.root_span().unwrap().outputs(),
        Some(json!({"answer": "An MLOps platform."}))
    );

    // Columns MLflow reads directly.
    let conn = query(
        &db,
        "SELECT trace_name || '|' || session_id || '|' || total_tokens FROM trace_info",
    );
    assert_eq!(conn, ["chain|session-1|19"]);
    let spans = query(
        &db,
        "SELECT name || '|' || type || '|' || status || '|' || ifnull(model_name, '-') FROM spans ORDER BY start_time_unix_nano",
    );
    assert_eq!(spans, ["chain|CHAIN|OK|-", "llm|LLM|OK|gpt-4o-mini"]);
}

/// The rows of a one-text-column query.
fn query(db: &Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn an_experiment_name_creates_the_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let tracing = store_pipeline(&db, Some("my-experiment"));
    tracing.in_scope(|| drop(start_span("x").start()));
    tracing.flush().unwrap();
    let store = LocalStore::open(&db).unwrap();
    assert!(store.list_traces(Some("0"), 10).unwrap().is_empty());
    let listed = store.list_traces(Some("1"), 10).unwrap();
    assert_eq!(listed[0].info().experiment_id(), Some("1"));
    assert_eq!(
        query(&db, "SELECT name FROM experiments ORDER BY experiment_id"),
        ["Default", "my-experiment"]
    );
}

#[test]
fn an_unwritable_location_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    // A directory cannot be created below a regular file.
    let db = blocker.join("sub/mlflow.db");
    let tracing = store_pipeline(&db, None);
    tracing.in_scope(|| drop(start_span("lost").start()));
    let err = tracing.flush().unwrap_err().to_string();
    assert!(
        err.contains("creating directory") && err.contains("sub"),
        "{err}"
    );
    let stats = tracing.stats();
    assert_eq!(stats.destinations[0].failed, 1);
    assert_eq!(stats.destinations[0].exported, 0);
    assert_eq!(stats.destinations[0].unit, Unit::Traces);
}

#[test]
fn several_writers_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    const WRITERS: usize = 4;
    const TRACES: usize = 150;
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let db = db.clone();
            scope.spawn(move || {
                // Separate pipelines: separate connections, like separate processes.
                let tracing = store_pipeline(&db, None);
                tracing.in_scope(|| {
                    for i in 0..TRACES {
                        let root = start_span(format!("w{w}-{i}")).start();
                        let _child = start_span("child").start();
                        root.set_inputs(i);
                    }
                });
                tracing.shutdown().unwrap();
            });
        }
    });
    let store = LocalStore::open(&db).unwrap();
    let listed = store.list_traces(None, 10_000).unwrap();
    assert_eq!(listed.len(), WRITERS * TRACES);
    assert!(listed.iter().all(|t| t.span_count() == Some(2)));
}

#[test]
fn a_database_locked_longer_than_sqlites_busy_wait_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let tracing = Tracing::builder()
        .with_env({
            let uri = format!("sqlite:///{}", db.display());
            move |k| (k == "MLFLOW_TRACKING_URI").then(|| uri.clone())
        })
        .flush_timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    tracing.in_scope(|| drop(start_span("before").start()));
    tracing.flush().unwrap();
    // Another connection (as another process would) holds an exclusive lock for 6 s:
    // longer than SQLite's busy wait, shorter than the store's retry budget (60 s).
    let locker = rusqlite::Connection::open(&db).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(6));
        locker.execute_batch("COMMIT").unwrap();
    });
    tracing.in_scope(|| {
        drop(start_span("during the lock").start());
        drop(start_span("also during the lock").start());
    });
    tracing.flush().unwrap();
    release.join().unwrap();
    let names: Vec<String> = LocalStore::open(&db)
        .unwrap()
        .list_traces(None, 10)
        .unwrap()
        .iter()
        .filter_map(|t| t.info().name().map(str::to_owned))
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn a_database_a_killed_writer_left_can_still_be_read() {
    if crate::support::child::is_child() {
        // A writer killed in the middle of a transaction that already wrote pages: a hot
        // journal is left behind.
        let db = std::env::var("TEST_DB").unwrap();
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA cache_size = 1; BEGIN IMMEDIATE;")
            .unwrap();
        for i in 0..2_000 {
            conn.execute(
                "INSERT INTO experiments (name, lifecycle_stage, creation_time, \
                 last_update_time, workspace) VALUES (?1, 'active', 0, 0, 'default')",
                [format!("half-written-{i}-{}", "x".repeat(200))],
            )
            .unwrap();
        }
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let tracing = store_pipeline(&db, None);
    tracing.in_scope(chain_trace);
    tracing.shutdown().unwrap();
    let _ = crate::support::child::run_child_output(
        "local_store::a_database_a_killed_writer_left_can_still_be_read",
        &[("TEST_DB", db.display().to_string())],
        std::time::Duration::from_secs(60),
    );
    let journal = dir.path().join("mlflow.db-journal");
    assert!(journal.exists(), "the killed writer left a journal");
    let store = LocalStore::open(&db).unwrap();
    assert_eq!(store.list_traces(None, 10).unwrap().len(), 1);
    // The half-written transaction was rolled back, not read.
    assert_eq!(
        query(
            &db,
            "SELECT CAST(count(*) AS TEXT) FROM experiments WHERE name LIKE 'half-written%'"
        ),
        ["0"]
    );
    let diagnosis = Tracing::builder()
        .with_env({
            let uri = format!("sqlite:///{}", db.display());
            move |k| (k == "MLFLOW_TRACKING_URI").then(|| uri.clone())
        })
        .diagnose()
        .unwrap();
    assert!(diagnosis.ok(), "{diagnosis}");
}

#[test]
fn doctor_names_a_store_that_cannot_be_written() {
    let diagnosis = Tracing::builder()
        .with_env(|k| {
            (k == "MLFLOW_TRACKING_URI").then(|| "sqlite:////proc/mlflow-tracing/mlflow.db".into())
        })
        .diagnose()
        .unwrap();
    assert!(!diagnosis.ok(), "{diagnosis}");
    let text = diagnosis.to_string();
    assert!(text.contains("[PROBLEM] MLflow SQLite store"), "{text}");
    assert!(
        text.contains("cannot create files in the directory /proc"),
        "{text}"
    );
}
