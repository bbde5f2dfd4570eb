//! Parity with MLflow 3.17.2's Python SDK for the trace timeout, span hooks, trace scopes,
//! links to runs and models, searching and annotating: the same input through the Python
//! SDK (into its own SQLite store) and through this SDK, compared row by row and through
//! MLflow's Python client (`mlflow.get_trace`, `mlflow.search_traces`).

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mlflow_tracing::hooks::HookSpan;
use mlflow_tracing::{
    AssessmentError, AssessmentSource, Expectation, Feedback, SpanType, TraceReader, TraceScope,
    TraceSearch, Tracing, start_span,
};
use serde_json::{Value, json};
use support::servers::shared_server;
use support::{MlflowServer, clean_command, mlflow_python, rows, run_ok};

/// Runs `parity.py COMMAND ARGS` with `MLFLOW_TRACKING_URI=uri` (and `env`) in `dir`;
/// its standard output.
fn python(python: &Path, dir: &Path, uri: &str, env: &[(&str, &str)], args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/parity.py");
    let mut command = clean_command(python);
    command
        .arg(script)
        .args(args)
        .current_dir(dir)
        .env("MLFLOW_TRACKING_URI", uri);
    for (k, v) in env {
        command.env(k, v);
    }
    String::from_utf8(run_ok(&mut command).stdout).unwrap()
}

fn sqlite_uri(dir: &Path) -> String {
    format!("sqlite:///{}", dir.join("mlflow.db").display())
}

/// A pipeline writing to `uri`, reading nothing from the environment but `env`.
fn pipeline(
    uri: &str,
    env: &'static [(&'static str, &'static str)],
) -> mlflow_tracing::TracingBuilder {
    Tracing::builder()
        .with_env(move |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .tracking_uri(uri)
}

fn reader(uri: &str) -> TraceReader {
    pipeline(uri, &[]).reader().unwrap()
}

/// Traces with different names, states, tags, metadata, span types and durations; their
/// ids in the order recorded.
fn record_search_corpus(tracing: &Tracing) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, (name, env, user, fail)) in [
        ("chat", "prod", "alice", false),
        ("chat", "dev", "bob", true),
        ("retrieve", "prod", "bob", false),
        ("summarize", "staging", "carol", false),
        ("chat", "prod", "carol", false),
    ]
    .into_iter()
    .enumerate()
    {
        tracing.in_scope(|| {
            let _scope = TraceScope::new()
                .user(user)
                .session_id(format!("session-{}", i % 2))
                .tag("env", env)
                .metadata("app.version", format!("1.{i}"))
                .enter();
            let root = start_span(name).span_type(SpanType::Chain).start();
            root.set_inputs(json!({"question": format!("question {i}")}));
            {
                let llm = start_span("llm").span_type(SpanType::Llm).start();
                llm.set_attribute("model", if i % 2 == 0 { "gpt-4o" } else { "claude" });
                llm.set_outputs(format!("answer {i}"));
            }
            if fail {
                root.record_exception(&std::io::Error::other("failed"));
            }
            std::thread::sleep(Duration::from_millis(5 * (i as u64 + 1)));
            ids.push(root.trace_id().unwrap().to_owned());
        });
        // Distinct timestamps.
        std::thread::sleep(Duration::from_millis(3));
    }
    tracing.flush().unwrap();
    ids
}

/// Filters of every kind MLflow's grammar has, with orders.
fn search_queries() -> Vec<Value> {
    let f = |filter: &str| json!({"filter": filter});
    vec![
        json!({}),
        f("attributes.status = 'OK'"),
        f("trace.status = 'ERROR'"),
        f("status IN ('OK', 'ERROR')"),
        f("name = 'chat'"),
        f("attributes.name LIKE 'ch%'"),
        f("tags.env = 'prod'"),
        f("tags.env != 'prod'"),
        f("tags.env ILIKE 'PROD'"),
        f("tags.missing IS NULL"),
        f("tags.`env` IS NOT NULL AND name = 'chat'"),
        f("metadata.`mlflow.trace.user` = 'bob'"),
        f("metadata.mlflow.trace.session = 'session-1'"),
        f("metadata.\"app.version\" LIKE '1.%' AND metadata.`app.version` != '1.0'"),
        f("span.type = 'LLM'"),
        f("span.name = 'llm' AND span.type = 'LLM'"),
        f("span.attributes.model LIKE '%gpt%'"),
        f("execution_time_ms > 0"),
        f("timestamp_ms > 0 AND status = 'OK'"),
        f("feedback.correct = 'yes'"),
        f("feedback.correct IS NOT NULL"),
        f("feedback.score >= 0.5"),
        f("feedback.score < 0.5"),
        f("feedback.flag = 'true'"),
        f("expectation.expected IS NULL"),
        json!({"order_by": ["timestamp_ms ASC"]}),
        json!({"order_by": ["name ASC", "timestamp_ms ASC"]}),
        json!({"order_by": ["execution_time_ms DESC"], "max_results": 2}),
        json!({"filter": "tags.env = 'prod'", "order_by": ["timestamp_ms ASC"], "max_results": 2}),
    ]
}

fn rust_search(reader: &TraceReader, query: &Value) -> Vec<String> {
    let mut search = TraceSearch::new();
    if let Some(max) = query["max_results"].as_u64() {
        search = search.max_results(max as usize);
    }
    if let Some(filter) = query["filter"].as_str() {
        search = search.filter(filter);
    }
    for order in query["order_by"].as_array().into_iter().flatten() {
        search = search.order_by(order.as_str().unwrap());
    }
    reader
        .search_traces(&search)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .iter()
        .map(|s| s.info().trace_id().to_owned())
        .collect()
}

/// Logs feedback and expectations on the corpus, through `reader`.
fn annotate_corpus(reader: &TraceReader, ids: &[String]) {
    reader
        .log_feedback(&ids[0], Feedback::new("correct", "yes"))
        .unwrap();
    reader
        .log_feedback(&ids[1], Feedback::new("correct", "no"))
        .unwrap();
    reader
        .log_feedback(&ids[2], Feedback::new("score", 0.75))
        .unwrap();
    reader
        .log_feedback(&ids[3], Feedback::new("score", 0.25))
        .unwrap();
    reader
        .log_feedback(&ids[4], Feedback::new("flag", true))
        .unwrap();
    reader
        .log_expectation(
            &ids[0],
            Expectation::new("expected", json!({"answer": "x"})),
        )
        .unwrap();
}

/// Searching a store the Rust SDK wrote finds what MLflow's Python client finds there,
/// in the same order, for every kind of filter; and the assessments logged from Rust read
/// back through `mlflow.get_trace` as Rust reads them.
#[test]
fn search_and_annotations_in_the_local_store_match_the_python_client() {
    let Some(py) = mlflow_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let uri = sqlite_uri(dir.path());
    let tracing = pipeline(&uri, &[]).build().unwrap();
    let ids = record_search_corpus(&tracing);
    let reader = reader(&uri);
    annotate_corpus(&reader, &ids);
    let queries = search_queries();
    let found: Vec<Value> = serde_json::from_str(&python(
        &py,
        dir.path(),
        &uri,
        &[],
        &["search", &Value::Array(queries.clone()).to_string()],
    ))
    .unwrap();
    for (query, python_ids) in queries.iter().zip(&found) {
        let rust_ids = rust_search(&reader, query);
        assert_eq!(json!(rust_ids), *python_ids, "search {query}");
    }
    // Non-trivial: the filters select different traces, in different orders.
    let distinct: std::collections::BTreeSet<String> = found.iter().map(Value::to_string).collect();
    assert!(distinct.len() >= 12, "{found:?}");
    assert_eq!(
        rust_search(&reader, &json!({"filter": "feedback.correct = 'yes'"})),
        [ids[0].clone()]
    );
    for id in &ids {
        let through_python: Value =
            serde_json::from_str(&python(&py, dir.path(), &uri, &[], &["assessments", id]))
                .unwrap();
        let rust: Vec<Value> = reader
            .get_assessments(id)
            .unwrap()
            .iter()
            .map(|a| {
                json!({
                    "assessment_id": a.assessment_id(), "name": a.name(),
                    "kind": a.kind().as_str(), "value": a.value(),
                    "error": a.error().map(|e| json!({"error_code": e.error_code(), "error_message": e.error_message()})),
                    "source_type": a.source().source_type(), "source_id": a.source().source_id(),
                    "rationale": a.rationale(),
                    "metadata": if a.metadata().is_empty() { Value::Null } else { json!(a.metadata()) },
                    "span_id": a.span_id(), "valid": a.valid(),
                })
            })
            .collect();
        assert_eq!(json!(rust), through_python, "assessments of {id}");
    }
}

/// The `assessments` rows without what differs by nature (ids, times) and the stack
/// trace of an error (a Python traceback there).
fn assessment_rows(db: &Path, trace_id: &str) -> Vec<BTreeMap<String, Value>> {
    let mut all = rows(
        db,
        "SELECT name, assessment_type, value, error, source_type, source_id, run_id, \
         span_id IS NOT NULL AS on_span, rationale, overrides, valid, assessment_metadata, \
         experiment_id, trace_timestamp_ms = (SELECT timestamp_ms FROM trace_info WHERE \
         request_id = ?1) AS trace_time, aggregate_value, is_numeric_value, \
         created_timestamp = last_updated_timestamp AS same_times FROM assessments \
         WHERE trace_id = ?1 ORDER BY name",
        trace_id,
    );
    for row in &mut all {
        if let Some(Value::String(error)) = row.get("error").cloned() {
            let mut error: Value = serde_json::from_str(&error).unwrap();
            error.as_object_mut().unwrap().remove("stack_trace");
            row.insert("error".into(), error);
        }
    }
    all
}

/// `log_feedback`/`log_expectation` write the rows `mlflow.log_feedback` and
/// `mlflow.log_expectation` write for the same assessments.
#[test]
fn assessments_are_stored_as_the_python_sdk_stores_them() {
    let Some(py) = mlflow_python() else {
        return;
    };
    let py_dir = tempfile::tempdir().unwrap();
    let py_uri = sqlite_uri(py_dir.path());
    let py_id = python(&py, py_dir.path(), &py_uri, &[], &["write_assessments"])
        .trim()
        .to_owned();

    let rs_dir = tempfile::tempdir().unwrap();
    let rs_uri = sqlite_uri(rs_dir.path());
    let tracing = pipeline(&rs_uri, &[]).build().unwrap();
    let (rs_id, child) = tracing.in_scope(|| {
        let root = start_span("root").start();
        root.set_inputs(json!({"q": "hi"}));
        let child = start_span("child").start();
        (
            root.trace_id().unwrap().to_owned(),
            child.span_id().unwrap(),
        )
    });
    tracing.flush().unwrap();
    let reader = reader(&rs_uri);
    reader
        .log_feedback(&rs_id, Feedback::new("correct", true).rationale("because"))
        .unwrap();
    reader
        .log_feedback(
            &rs_id,
            Feedback::new("score", 0.5)
                .source(AssessmentSource::llm_judge("gpt"))
                .metadata("k", "v")
                .span_id(child),
        )
        .unwrap();
    reader
        .log_expectation(&rs_id, Expectation::new("expected", json!({"answer": "x"})))
        .unwrap();
    reader
        .log_feedback(
            &rs_id,
            Feedback::error("err", AssessmentError::new("ValueError", "boom")),
        )
        .unwrap();
    let python_rows = assessment_rows(&py_dir.path().join("mlflow.db"), &py_id);
    assert_eq!(python_rows.len(), 4);
    assert_eq!(
        assessment_rows(&rs_dir.path().join("mlflow.db"), &rs_id),
        python_rows
    );
    // And the Python client reads the Rust-written ones back.
    let back: Value = serde_json::from_str(&python(
        &py,
        rs_dir.path(),
        &rs_uri,
        &[],
        &["assessments", &rs_id],
    ))
    .unwrap();
    assert_eq!(back.as_array().unwrap().len(), 4);
    assert_eq!(back[1]["span_id"], json!(child.to_string()));
    // What MLflow's UI reads: `mlflow server` (as `mlflow ui` runs it) over the database
    // returns them with the trace.
    let server = MlflowServer::start(&py, &rs_dir.path().join("mlflow.db"), rs_dir.path());
    let got = server.get(&format!("/api/3.0/mlflow/traces/get?trace_id={rs_id}"));
    let names: Vec<&str> = got["trace"]["trace_info"]["assessments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["assessment_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["correct", "score", "expected", "err"], "{got}");
    drop(server);
    // A trace that does not exist is an error naming it, as in MLflow.
    let err = reader
        .log_feedback("tr-00000000000000000000000000000000", Feedback::new("x", 1))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("tr-00000000000000000000000000000000"),
        "{err}"
    );
}

/// A stuck trace is ended with status ERROR and MLflow's exception event, and exported;
/// MLflow 3.17.2 itself loses it (its exporter no longer finds the trace it was ending:
/// "Trace for root span … not found"), which the README lists.
#[test]
fn a_timed_out_trace_is_exported_as_mlflow_documents_it() {
    let Some(py) = mlflow_python() else {
        return;
    };
    let py_dir = tempfile::tempdir().unwrap();
    let py_uri = sqlite_uri(py_dir.path());
    let py_id = python(
        &py,
        py_dir.path(),
        &py_uri,
        &[("MLFLOW_TRACE_TIMEOUT_SECONDS", "1")],
        &["timeout"],
    )
    .trim()
    .to_owned();
    let stored = rows(
        &py_dir.path().join("mlflow.db"),
        "SELECT request_id FROM trace_info WHERE request_id = ?1",
        &py_id,
    );
    assert!(
        stored.is_empty(),
        "MLflow 3.17.2 now exports timed-out traces: update the README"
    );

    let dir = tempfile::tempdir().unwrap();
    let uri = sqlite_uri(dir.path());
    let tracing = pipeline(&uri, &[("MLFLOW_TRACE_TIMEOUT_SECONDS", "1")])
        .build()
        .unwrap();
    let (root, _tool, id) = tracing.in_scope(|| {
        let root = start_span("agent").inputs(json!({"q": 1})).start_detached();
        let tool = start_span("tool").parent(&root).start_detached();
        start_span("done").parent(&root).start_detached().end();
        let id = root.trace_id().unwrap().to_owned();
        (root, tool, id)
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while tracing.stats().destinations[0].exported == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(root);
    tracing.flush().unwrap();
    let trace: Value =
        serde_json::from_str(&python(&py, dir.path(), &uri, &[], &["get", &id])).unwrap();
    assert_eq!(trace["state"], "ERROR");
    let spans = trace["spans"].as_array().unwrap();
    let span = |name: &str| spans.iter().find(|s| s["name"] == name).unwrap();
    assert_eq!(span("agent")["status"], "ERROR");
    assert_eq!(
        span("agent")["events"],
        json!([{"name": "exception", "attributes": {
            "exception.message": format!("Trace {id} is timed out after 1 seconds. The operation may be stuck or taking too long to complete. To increase the timeout, set the environment variable MLFLOW_TRACE_TIMEOUT_SECONDS to a larger value."),
            "exception.type": "MlflowTracingException",
        }}])
    );
    assert_eq!(span("tool")["status"], "ERROR");
    assert_eq!(span("done")["status"], "OK");
}

/// Metadata and tags of a trace, without what differs by nature between two programs.
fn trace_labels(db: &Path, trace_id: &str) -> Value {
    let pairs = |table: &str| -> BTreeMap<String, Value> {
        rows(
            db,
            &format!("SELECT key, value FROM {table} WHERE request_id = ?1"),
            trace_id,
        )
        .into_iter()
        .map(|r| (r["key"].as_str().unwrap().to_owned(), r["value"].clone()))
        .filter(|(k, _)| {
            !k.starts_with("mlflow.source.")
                && ![
                    "mlflow.trace.sizeBytes",
                    "mlflow.trace.sizeStats",
                    "mlflow.artifactLocation",
                    "mlflow.user",
                ]
                .contains(&k.as_str())
        })
        .collect()
    };
    let info = rows(
        db,
        "SELECT trace_name, session_id, status FROM trace_info WHERE request_id = ?1",
        trace_id,
    );
    json!({"info": info, "tags": pairs("trace_tags"), "metadata": pairs("trace_request_metadata")})
}

fn trace_named(db: &Path, name: &str) -> Option<String> {
    rows(
        db,
        "SELECT request_id FROM trace_info WHERE trace_name = ?1",
        name,
    )
    .first()
    .map(|r| r["request_id"].as_str().unwrap().to_owned())
}

/// `TraceScope` (nested), `disable`/`enable`, a run and the active model give a trace
/// the metadata and tags `mlflow.tracing.context`, `mlflow.start_run` and
/// `MLFLOW_ACTIVE_MODEL_ID` give it.
#[test]
fn scopes_switches_and_links_match_the_python_sdk() {
    let Some(py) = mlflow_python() else {
        return;
    };
    let model = [("MLFLOW_ACTIVE_MODEL_ID", "m-0123")];
    let py_dir = tempfile::tempdir().unwrap();
    let py_uri = sqlite_uri(py_dir.path());
    let run_id = python(&py, py_dir.path(), &py_uri, &model, &["context"])
        .trim()
        .to_owned();
    let py_db = py_dir.path().join("mlflow.db");

    let dir = tempfile::tempdir().unwrap();
    let uri = sqlite_uri(dir.path());
    let tracing = pipeline(&uri, &[("MLFLOW_ACTIVE_MODEL_ID", "m-0123")])
        .build()
        .unwrap();
    tracing.in_scope(|| {
        let _outer = TraceScope::new()
            .session_id("session-1")
            .user("user-1")
            .metadata("app", "outer")
            .metadata("keep", "yes")
            .tag("project", "p")
            .enter();
        let _inner = TraceScope::new().metadata("app", "inner").enter();
        drop(start_span("scoped").start());
    });
    let in_run = pipeline(&uri, &[("MLFLOW_ACTIVE_MODEL_ID", "m-0123")])
        .source_run(run_id.clone())
        .build()
        .unwrap();
    in_run.in_scope(|| drop(start_span("in_run").start()));
    tracing.in_scope(|| {
        TraceScope::new()
            .enabled(false)
            .in_scope(|| drop(start_span("off").start()));
        mlflow_tracing::disable();
        drop(start_span("disabled").start());
        mlflow_tracing::enable();
    });
    tracing.flush().unwrap();
    in_run.flush().unwrap();
    let db = dir.path().join("mlflow.db");
    for name in ["scoped", "in_run"] {
        let python_id = trace_named(&py_db, name).unwrap();
        let rust_id = trace_named(&db, name).unwrap();
        assert_eq!(
            trace_labels(&db, &rust_id),
            trace_labels(&py_db, &python_id),
            "trace {name}"
        );
    }
    for name in ["off", "disabled"] {
        assert_eq!(trace_named(&py_db, name), None);
        assert_eq!(trace_named(&db, name), None);
    }
    let labels = trace_labels(&db, &trace_named(&db, "in_run").unwrap());
    assert_eq!(labels["metadata"]["mlflow.sourceRun"], json!(run_id));
    assert_eq!(labels["metadata"]["mlflow.modelId"], "m-0123");
}

/// The masking hook of `examples/mask_emails.rs`'s kind, and MLflow's span processor doing
/// the same, leave the same rows: spans, previews and the trace's inputs metadata.
#[test]
fn a_masking_hook_stores_what_a_python_span_processor_stores() {
    let Some(py) = mlflow_python() else {
        return;
    };
    let py_dir = tempfile::tempdir().unwrap();
    let py_uri = sqlite_uri(py_dir.path());
    let py_id = python(&py, py_dir.path(), &py_uri, &[], &["hooks"])
        .trim()
        .to_owned();

    let dir = tempfile::tempdir().unwrap();
    let uri = sqlite_uri(dir.path());
    let mask = |text: String| text.replace("ada@example.com", "[EMAIL]");
    let tracing = pipeline(&uri, &[])
        .span_hook(move |span: &mut HookSpan<'_>| {
            if let Some(inputs) = span.inputs() {
                span.set_inputs(serde_json::from_str::<Value>(&mask(inputs.to_string())).unwrap());
            }
            if let Some(outputs) = span.outputs() {
                span.set_outputs(
                    serde_json::from_str::<Value>(&mask(outputs.to_string())).unwrap(),
                );
            }
            if span.attribute("api_key").is_some() {
                span.set_attribute("api_key", "[REDACTED]");
            }
        })
        .build()
        .unwrap();
    let rs_id = tracing.in_scope(|| {
        let root = start_span("agent").start();
        root.set_inputs(json!({"from": "ada@example.com", "text": "hello"}));
        {
            let llm = start_span("llm").span_type(SpanType::Llm).start();
            llm.set_attribute("api_key", "sk-secret");
            llm.set_inputs(json!({"to": "ada@example.com"}));
            llm.set_outputs("sent to ada@example.com");
        }
        root.set_outputs(json!({"ok": true}));
        root.trace_id().unwrap().to_owned()
    });
    tracing.flush().unwrap();
    let stored = |db: &Path, id: &str| {
        let info = rows(
            db,
            "SELECT request_preview, response_preview FROM trace_info WHERE request_id = ?1",
            id,
        );
        let inputs = rows(
            db,
            "SELECT value FROM trace_request_metadata WHERE request_id = ?1 AND key IN ('mlflow.traceInputs', 'mlflow.traceOutputs') ORDER BY key",
            id,
        );
        let spans: Vec<Value> = rows(
            db,
            "SELECT name, content FROM spans WHERE trace_id = ?1 ORDER BY name",
            id,
        )
        .into_iter()
        .map(|r| {
            let content: Value = serde_json::from_str(r["content"].as_str().unwrap()).unwrap();
            let mut attributes = content["attributes"].as_object().unwrap().clone();
            attributes.remove("mlflow.traceRequestId");
            json!({"name": r["name"], "attributes": attributes})
        })
        .collect();
        json!({"info": info, "inputs": inputs, "spans": spans})
    };
    let python = stored(&py_dir.path().join("mlflow.db"), &py_id);
    assert!(!python.to_string().contains("ada@example.com"));
    assert_eq!(stored(&dir.path().join("mlflow.db"), &rs_id), python);
}

/// Against a real MLflow server: the same searches find the same traces as MLflow's Python
/// client, and feedback logged from Rust reads back through `mlflow.get_trace`.
#[test]
fn search_and_annotations_on_a_tracking_server_match_the_python_client() {
    let (Some(py), Some(url)) = (mlflow_python(), shared_server()) else {
        return;
    };
    let experiment = format!("parity-{}", std::process::id());
    let tracing = Tracing::builder()
        .with_env(|_| None)
        .tracking_uri(url)
        .experiment_name(&experiment)
        .build()
        .unwrap();
    let ids = record_search_corpus(&tracing);
    let reader = Tracing::builder()
        .with_env(|_| None)
        .tracking_uri(url)
        .experiment_name(&experiment)
        .reader()
        .unwrap();
    annotate_corpus(&reader, &ids);
    let experiment_id = reader.experiment_id().unwrap().to_owned();
    let queries: Vec<Value> = search_queries()
        .into_iter()
        .map(|mut q| {
            q["experiment_ids"] = json!([experiment_id]);
            q
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let found: Vec<Value> = serde_json::from_str(&python(
        &py,
        dir.path(),
        url,
        &[],
        &["search", &Value::Array(queries.clone()).to_string()],
    ))
    .unwrap();
    for (query, python_ids) in queries.iter().zip(&found) {
        assert_eq!(
            json!(rust_search(&reader, query)),
            *python_ids,
            "search {query}"
        );
    }
    let through_python: Value = serde_json::from_str(&python(
        &py,
        dir.path(),
        url,
        &[],
        &["assessments", &ids[0]],
    ))
    .unwrap();
    let names: Vec<&str> = through_python
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["correct", "expected"]);
    assert_eq!(through_python[0]["value"], "yes");
    assert_eq!(through_python[1]["value"], json!({"answer": "x"}));
    let rust: Vec<String> = reader
        .get_assessments(&ids[0])
        .unwrap()
        .iter()
        .map(|a| a.name().to_owned())
        .collect();
    assert_eq!(rust, ["correct", "expected"]);
}
