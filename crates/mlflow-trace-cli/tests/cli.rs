//! The `mlflow-trace` binary without external backends: demo output, reading the store,
//! several processes writing one database.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::{clean_command, run_demo, run_ok};

fn mlflow_trace() -> Command {
    clean_command(env!("CARGO_BIN_EXE_mlflow-trace"))
}

#[test]
fn demo_prints_ids_destination_and_trees() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, stdout) = run_demo(dir.path(), &[]);
    let db = dir.path().join("mlflow.db");
    assert!(
        stdout.contains(&format!(
            "MLflow SQLite store sqlite:///{} (experiment 0)",
            db.display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("└─ foo [UNKNOWN] OK"), "{stdout}");
    assert!(
        stdout.contains("failing_tool [TOOL] ERROR (ValueError: tool failed)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("event exception: ValueError: tool failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tags: env=golden, team=anchors"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!(
        "mlflow server --backend-store-uri sqlite:///{}",
        db.display()
    )));
    for id in &ids {
        assert!(stdout.contains(&format!("{id} \"")), "tree header for {id}");
    }
}

#[test]
fn traces_list_and_show_read_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, _) = run_demo(dir.path(), &[]);
    let list = run_ok(
        mlflow_trace()
            .args(["traces", "list"])
            .current_dir(dir.path()),
    );
    let list = String::from_utf8(list.stdout).unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("TRACE ID"), "{list}");
    assert_eq!(lines.len(), 3, "{list}");
    for id in &ids {
        assert!(list.contains(id.as_str()), "{list}");
    }
    assert!(
        list.contains("{\"question\": \"What is MLflow?\"}"),
        "{list}"
    );
    let chain = lines.iter().find(|l| l.contains("chain")).unwrap();
    assert!(
        chain.contains(" OK ") && chain.split_whitespace().any(|w| w == "3"),
        "{chain}"
    );

    let chain_id = chain.split_whitespace().next().unwrap();
    // MLflow's search filter.
    let filtered = run_ok(
        mlflow_trace()
            .args([
                "traces",
                "list",
                "--filter",
                "name = 'chain' AND tags.env = 'golden'",
            ])
            .current_dir(dir.path()),
    );
    let filtered = String::from_utf8(filtered.stdout).unwrap();
    assert_eq!(filtered.lines().count(), 2, "{filtered}");
    assert!(filtered.contains(chain_id), "{filtered}");
    let refused = mlflow_trace()
        .args([
            "traces",
            "list",
            "--filter",
            "name = 'chain' OR name = 'foo'",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("OR is not supported"));
    let db = dir.path().join("mlflow.db");
    let show = run_ok(mlflow_trace().args([
        "traces",
        "show",
        chain_id,
        "--db",
        &db.display().to_string(),
    ]));
    let show = String::from_utf8(show.stdout).unwrap();
    assert!(show.contains("└─ chain [CHAIN] OK"), "{show}");
    assert!(show.contains("├─ llm [LLM] OK"), "{show}");
    assert!(
        show.contains("attribute custom.dict: {\"k\":\"v\"}"),
        "{show}"
    );
    assert!(show.contains("\"temperature\":0.0"), "full inputs: {show}");

    let missing = mlflow_trace()
        .args(["traces", "show", "tr-0"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no trace tr-0"));
}

#[test]
fn reading_a_missing_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = mlflow_trace()
        .args(["traces", "list"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mlflow.db does not exist"), "{stderr}");
}

#[test]
fn several_processes_create_and_write_one_database() {
    // Started together on a directory without a database: they race to create it, then
    // to write.
    let dir = tempfile::tempdir().unwrap();
    let processes: Vec<std::process::Child> = (0..8)
        .map(|_| {
            mlflow_trace()
                .arg("demo")
                .current_dir(dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut p in processes {
        assert!(p.wait().unwrap().success());
    }
    let list = run_ok(
        mlflow_trace()
            .args(["traces", "list", "--limit", "100"])
            .current_dir(dir.path()),
    );
    let list = String::from_utf8(list.stdout).unwrap();
    assert_eq!(list.lines().count() - 1, 16, "{list}");
    assert_eq!(list.matches(" chain ").count(), 8, "{list}");
}

#[test]
fn an_invalid_tracking_uri_is_reported_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = mlflow_trace()
        .arg("demo")
        .env("MLFLOW_TRACKING_URI", "sqlite://")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid value \"sqlite://\" for MLFLOW_TRACKING_URI"),
        "{stderr}"
    );
}

#[test]
fn traces_from_the_store_never_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let tracing = mlflow_tracing::Tracing::builder()
        .with_env(|_| None)
        .tracking_uri(format!("sqlite:///{}", db.display()))
        .build()
        .unwrap();
    let evil = "x\u{1b}[2J\u{1b}]0;pwned\u{7}\r\nFAKE LINE\u{202e}txt.exe\u{0}";
    let trace_id = tracing.in_scope(|| {
        let root = mlflow_tracing::start_span(evil).start();
        root.set_inputs(evil);
        root.set_attribute(evil, evil);
        root.add_event(evil, [("k", evil)]);
        mlflow_tracing::update_current_trace(
            mlflow_tracing::TraceUpdate::new()
                .tag(evil, evil)
                .metadata(evil, evil),
        )
        .unwrap();
        root.trace_id().unwrap().to_owned()
    });
    tracing.shutdown().unwrap();
    for args in [
        vec!["traces", "list"],
        vec!["traces", "show", trace_id.as_str()],
    ] {
        let output = run_ok(mlflow_trace().args(&args).arg("--db").arg(&db));
        let stdout = String::from_utf8(output.stdout).unwrap();
        for forbidden in ['\u{1b}', '\r', '\u{7}', '\u{0}', '\u{202e}'] {
            assert!(
                !stdout.contains(forbidden),
                "{args:?} printed {forbidden:?} raw:\n{stdout}"
            );
        }
        assert!(!stdout.contains("\nFAKE LINE"), "{stdout}");
        assert!(stdout.contains("\\u{001b}"), "{stdout}");
    }
}

#[test]
fn traces_are_read_by_experiment_name_or_id_never_creating_one() {
    let dir = tempfile::tempdir().unwrap();
    let (named, _) = run_demo(dir.path(), &[("MLFLOW_EXPERIMENT_NAME", "named")]);
    let (default, _) = run_demo(dir.path(), &[]);
    let list = |args: &[&str], env: &[(&str, &str)]| {
        let out = mlflow_trace()
            .args(["traces", "list"])
            .args(args)
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let contains_all = |text: &str, ids: &[String]| ids.iter().all(|id| text.contains(id.as_str()));
    let (ok, by_name, _) = list(&["--experiment", "named"], &[]);
    assert!(ok && contains_all(&by_name, &named) && !contains_all(&by_name, &default));
    let (ok, from_env, _) = list(&[], &[("MLFLOW_EXPERIMENT_NAME", "named")]);
    assert!(ok && contains_all(&from_env, &named) && !contains_all(&from_env, &default));
    let (ok, by_id, _) = list(&["--experiment-id", "0"], &[]);
    assert!(ok && contains_all(&by_id, &default) && !contains_all(&by_id, &named));
    let (ok, all, _) = list(&[], &[]);
    assert!(ok && contains_all(&all, &named) && contains_all(&all, &default));
    let (ok, _, stderr) = list(&["--experiment", "missing"], &[]);
    assert!(!ok);
    assert!(
        stderr.contains("no active experiment named \"missing\""),
        "{stderr}"
    );
    let (ok, _, stderr) = list(&["--experiment-id", "9"], &[]);
    assert!(!ok);
    assert!(stderr.contains("experiment 9 does not exist"), "{stderr}");
    let (ok, still_all, _) = list(&["--limit", "100"], &[]);
    assert!(
        ok && still_all.lines().count() == 5,
        "nothing was created: {still_all}"
    );
}

/// Runs `mlflow-trace load --json` in `dir` with `args` and `env`; returns its report.
fn load(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut command = mlflow_trace();
    command
        .arg("load")
        .arg("--json")
        .args(args)
        .current_dir(dir);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = run_ok(&mut command);
    let stdout = String::from_utf8(output.stdout).unwrap();
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn count_rows(db: &std::path::Path, table: &str) -> u64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    let n: i64 = conn
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap();
    n as u64
}

#[test]
fn load_records_nested_traces_over_threads_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let report = load(
        dir.path(),
        &[
            "--traces",
            "40",
            "--depth",
            "3",
            "--threads",
            "2",
            "--warmup",
            "4",
            "--input-bytes",
            "200",
        ],
        &[],
    );
    for key in [
        "spans",
        "wall_s",
        "us_per_span",
        "wall_us_per_span",
        "cpu_us_per_span",
        "peak_rss_mb",
        "exported",
        "dropped",
        "queued",
        "destination",
        "flush",
    ] {
        assert!(report.get(key).is_some(), "{key} missing in {report}");
    }
    assert_eq!(report["spans"], 120, "{report}");
    assert_eq!(report["exported"], 120, "{report}");
    assert_eq!(report["dropped"], 0, "{report}");
    assert_eq!(report["flush"], "ok", "{report}");
    assert!(report["us_per_span"].as_f64().unwrap() > 0.0, "{report}");
    assert!(report["peak_rss_mb"].as_f64().unwrap() > 1.0, "{report}");
    let destination = report["destination"].as_str().unwrap();
    assert!(destination.starts_with("MLflow SQLite store"), "{report}");
    // The warm-up's traces and the measured ones are all in the store, nested, with the
    // workload's inputs (padded) and outputs.
    let db = dir.path().join("mlflow.db");
    assert_eq!(count_rows(&db, "trace_info"), 44);
    assert_eq!(count_rows(&db, "spans"), 132);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (content, parent): (String, Option<String>) = conn
        .query_row(
            "SELECT content, parent_span_id FROM spans WHERE name = 'grandchild' LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(parent.is_some());
    let span: serde_json::Value = serde_json::from_str(&content).unwrap();
    let inputs: serde_json::Value =
        serde_json::from_str(span["attributes"]["mlflow.spanInputs"].as_str().unwrap()).unwrap();
    assert_eq!(inputs["level"], 2, "{inputs}");
    let padded = serde_json::to_string(&inputs).unwrap().len();
    assert!((190..=230).contains(&padded), "{padded} bytes: {inputs}");
    let outputs: serde_json::Value =
        serde_json::from_str(span["attributes"]["mlflow.spanOutputs"].as_str().unwrap()).unwrap();
    assert_eq!(outputs["y"], inputs["x"].as_u64().unwrap() + 1, "{outputs}");
}

#[test]
fn load_counts_what_the_memory_bound_drops_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let report = load(
        dir.path(),
        &["--traces", "200", "--warmup", "0", "--input-bytes", "8000"],
        &[("MLFLOW_TRACE_MAX_QUEUE_BYTES", "100000")],
    );
    let (exported, dropped) = (
        report["exported"].as_u64().unwrap(),
        report["dropped"].as_u64().unwrap(),
    );
    assert_eq!(
        exported + dropped,
        600,
        "every span accounted for: {report}"
    );
    assert!(dropped > 0, "a 100 kB bound drops part of 4.8 MB: {report}");
    assert!(
        report["flush"]
            .as_str()
            .unwrap()
            .contains("MLFLOW_TRACE_MAX_QUEUE_BYTES"),
        "{report}"
    );
    // What it says was exported is what the store holds.
    assert_eq!(count_rows(&dir.path().join("mlflow.db"), "spans"), exported);
}

#[test]
fn load_at_a_rate_offers_rate_times_duration_spans() {
    let dir = tempfile::tempdir().unwrap();
    let report = load(
        dir.path(),
        &[
            "--rate",
            "3000",
            "--duration",
            "0.1",
            "--depth",
            "2",
            "--warmup",
            "0",
        ],
        &[],
    );
    assert_eq!(report["spans"], 300, "{report}");
    assert_eq!(report["exported"], 300, "{report}");
    assert!(
        report["wall_s"].as_f64().unwrap() >= 0.09,
        "paced: {report}"
    );
    // Text output, for people.
    let output = run_ok(
        mlflow_trace()
            .args(["load", "--traces", "5", "--warmup", "0"])
            .current_dir(dir.path()),
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("exported 15 of 15 spans (100.0 %)"), "{text}");
}
