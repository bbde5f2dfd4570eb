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
