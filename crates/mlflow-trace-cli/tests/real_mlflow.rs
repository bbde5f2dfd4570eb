//! The demo against real MLflow 3.17.2: its database is served by `mlflow server` and
//! read back through the REST API and the Python client, and it holds the same rows the
//! Python SDK writes for the same two traces.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use support::{MlflowServer, attributes, clean_command, mlflow_python, rows, run_demo, run_ok};

fn by_name<'a>(traces: &'a [Value], name: &str) -> &'a Value {
    traces
        .iter()
        .find(|t| t["tags"]["mlflow.traceName"] == name)
        .unwrap_or_else(|| panic!("no trace named {name} in {traces:#?}"))
}

fn metadata_json(info: &Value, key: &str) -> Value {
    serde_json::from_str(info["trace_metadata"][key].as_str().unwrap_or("null"))
        .unwrap_or(Value::Null)
}

#[test]
fn demo_traces_read_back_through_the_server_and_the_python_client() {
    let Some(python) = mlflow_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ids, stdout) = run_demo(dir.path(), &[]);
    let db = dir.path().join("mlflow.db");
    assert!(
        stdout.contains(&format!("MLflow SQLite store sqlite:///{}", db.display())),
        "{stdout}"
    );
    let server = MlflowServer::start(&python, &db, dir.path());

    // SearchTracesV3, as the UI's trace list calls it.
    let found = server.post(
        "/api/3.0/mlflow/traces/search",
        &json!({"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "0"}}],
                "max_results": 25, "order_by": ["timestamp_ms DESC"]}),
    );
    let traces = found["traces"].as_array().expect("traces").clone();
    assert_eq!(traces.len(), 2, "{found:#}");
    let mut found_ids: Vec<&str> = traces
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect();
    found_ids.sort();
    let mut expected_ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected_ids.sort();
    assert_eq!(found_ids, expected_ids);

    let foo = by_name(&traces, "foo");
    assert_eq!(foo["state"], "OK");
    assert_eq!(foo["request_preview"], "{\"a\": 1}");
    assert_eq!(foo["response_preview"], "{\"b\": 2}");
    assert_eq!(foo["trace_metadata"]["mlflow.traceInputs"], "{\"a\": 1}");
    assert_eq!(foo["trace_metadata"]["mlflow.source.type"], "LOCAL");
    assert_eq!(foo["trace_metadata"]["mlflow.trace_schema.version"], "3");
    assert_eq!(metadata_json(foo, "mlflow.trace.sizeStats")["num_spans"], 1);
    assert_eq!(foo["tags"]["mlflow.trace.spansLocation"], "TRACKING_STORE");

    let chain = by_name(&traces, "chain");
    assert_eq!(
        chain["state"], "OK",
        "a failed child does not fail the trace"
    );
    assert_eq!(
        chain["request_preview"],
        "{\"question\": \"What is MLflow?\"}"
    );
    assert_eq!(
        chain["response_preview"],
        "{\"answer\": \"MLflow is an open source MLOps platform.\"}"
    );
    assert_eq!(chain["tags"]["env"], "golden");
    assert_eq!(chain["tags"]["team"], "anchors");
    assert_eq!(chain["trace_metadata"]["app.version"], "1.2.3");
    assert_eq!(chain["trace_metadata"]["mlflow.trace.session"], "session-1");
    assert_eq!(chain["trace_metadata"]["mlflow.trace.user"], "user-1");
    assert_eq!(
        metadata_json(chain, "mlflow.trace.tokenUsage"),
        json!({"input_tokens": 12, "output_tokens": 7, "total_tokens": 19})
    );
    assert_eq!(
        metadata_json(chain, "mlflow.trace.sizeStats")["num_spans"],
        3
    );

    // GetTrace: the spans, with typed attributes.
    let chain_id = chain["trace_id"].as_str().unwrap();
    let got = server.get(&format!("/api/3.0/mlflow/traces/get?trace_id={chain_id}"));
    let spans = got["trace"]["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 3);
    let span = |name: &str| {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let (root, llm, tool) = (span("chain"), span("llm"), span("failing_tool"));
    assert!(root.get("parent_span_id").is_none_or(Value::is_null));
    assert_eq!(llm["parent_span_id"], root["span_id"]);
    assert_eq!(tool["parent_span_id"], root["span_id"]);
    let root_attrs = attributes(root);
    assert_eq!(root_attrs["mlflow.spanType"], "CHAIN");
    assert_eq!(
        root_attrs["mlflow.spanInputs"],
        json!({"question": "What is MLflow?"})
    );
    assert_eq!(root_attrs["custom.int"], 7);
    assert_eq!(root_attrs["custom.float"], 0.5);
    assert_eq!(root_attrs["custom.bool"], true);
    assert_eq!(root_attrs["custom.list"], json!([1, 2, 3]));
    assert_eq!(root_attrs["custom.dict"], json!({"k": "v"}));
    let llm_attrs = attributes(llm);
    assert_eq!(llm_attrs["mlflow.spanType"], "LLM");
    assert_eq!(llm_attrs["mlflow.chat.tokenUsage"]["total_tokens"], 19);
    assert_eq!(
        llm_attrs["mlflow.spanInputs"]["messages"][1]["content"],
        "What is MLflow?"
    );
    let tool_attrs = attributes(tool);
    assert_eq!(tool_attrs["mlflow.spanType"], "TOOL");
    assert!(!tool_attrs.contains_key("mlflow.spanOutputs"));
    assert_eq!(tool["status"]["code"], "STATUS_CODE_ERROR");
    assert_eq!(tool["status"]["message"], "ValueError: tool failed");
    let event = &tool["events"][0];
    assert_eq!(event["name"], "exception");
    let event_attrs = attributes(event);
    assert_eq!(event_attrs["exception.message"], "tool failed");
    assert_eq!(event_attrs["exception.type"], "ValueError");

    // The UI's trace drawer reads the spans as MLflow span JSON.
    let artifact = server.get(&format!(
        "/ajax-api/3.0/mlflow/get-trace-artifact?request_id={chain_id}"
    ));
    assert_eq!(artifact["spans"].as_array().map(Vec::len), Some(3));

    // And MLflow's own Python client.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/readback.py");
    let output = run_ok(
        clean_command(&python)
            .arg(script)
            .arg("0")
            .env("MLFLOW_TRACKING_URI", &server.url),
    );
    let read: Value = serde_json::from_slice(&output.stdout).expect("readback JSON");
    let searched = read["search"].as_array().unwrap();
    assert_eq!(searched.len(), 2);
    let py_chain = searched
        .iter()
        .find(|t| t["tags"]["mlflow.traceName"] == "chain")
        .unwrap();
    assert_eq!(py_chain["state"], "OK");
    assert_eq!(py_chain["metadata"]["mlflow.trace.session"], "session-1");
    let py_spans = py_chain["spans"].as_array().unwrap();
    let py_span = |name: &str| py_spans.iter().find(|s| s["name"] == name).unwrap();
    assert_eq!(py_span("chain")["span_type"], "CHAIN");
    assert_eq!(
        py_span("chain")["inputs"],
        json!({"question": "What is MLflow?"})
    );
    assert_eq!(
        py_span("chain")["attributes"]["custom.dict"],
        json!({"k": "v"})
    );
    assert_eq!(py_span("llm")["span_type"], "LLM");
    assert_eq!(
        py_span("llm")["outputs"]["choices"][0]["message"]["role"],
        "assistant"
    );
    assert_eq!(py_span("failing_tool")["status"], "ERROR");
    assert_eq!(
        py_span("failing_tool")["status_description"],
        "ValueError: tool failed"
    );
    assert_eq!(
        py_span("failing_tool")["events"][0]["attributes"]["exception.type"],
        "ValueError"
    );
    assert_eq!(py_span("llm")["parent_id"], py_span("chain")["span_id"]);
    let py_get = &read["get"][chain_id];
    assert_eq!(py_get["spans"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        py_get["response_preview"],
        "{\"answer\": \"MLflow is an open source MLOps platform.\"}"
    );
}

/// What a trace's rows say, without what differs by nature between two runs (ids,
/// times, the program name, the Python traceback text).
fn normalized(db: &Path, trace_id: &str) -> Value {
    let info = rows(
        db,
        "SELECT status, client_request_id, request_preview, response_preview, trace_name, \
         session_id, input_tokens, output_tokens, total_tokens, experiment_id, input_cost, \
         output_cost, total_cost FROM trace_info WHERE request_id = ?1",
        trace_id,
    );
    let tags: BTreeMap<String, Value> = rows(
        db,
        "SELECT key, value FROM trace_tags WHERE request_id = ?1",
        trace_id,
    )
    .into_iter()
    .map(|r| {
        let key = r["key"].as_str().unwrap().to_owned();
        let value = if key == "mlflow.artifactLocation" {
            let v = r["value"].as_str().unwrap();
            json!(v.ends_with(&format!("/mlruns/0/traces/{trace_id}/artifacts")))
        } else {
            r["value"].clone()
        };
        (key, value)
    })
    .collect();
    let metadata: BTreeMap<String, Value> = rows(
        db,
        "SELECT key, value FROM trace_request_metadata WHERE request_id = ?1",
        trace_id,
    )
    .into_iter()
    .map(|r| {
        let key = r["key"].as_str().unwrap().to_owned();
        let value = match key.as_str() {
            "mlflow.source.name" | "mlflow.trace.sizeBytes" => json!("<varies>"),
            "mlflow.trace.sizeStats" => {
                let stats: Value = serde_json::from_str(r["value"].as_str().unwrap()).unwrap();
                json!({"num_spans": stats["num_spans"]})
            }
            _ => r["value"].clone(),
        };
        (key, value)
    })
    .collect();
    let spans: BTreeMap<String, Value> = rows(
        db,
        "SELECT s.name, s.type, s.status, s.model_name, s.model_provider, s.input_cost, \
         s.output_cost, s.total_cost, s.content, \
         (SELECT p.name FROM spans p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id) AS parent \
         FROM spans s WHERE s.trace_id = ?1",
        trace_id,
    )
    .into_iter()
    .map(|mut r| {
        let mut content: Value = serde_json::from_str(r["content"].as_str().unwrap()).unwrap();
        let attributes = content["attributes"].as_object_mut().unwrap();
        attributes.remove("mlflow.traceRequestId");
        let attribute_order: Vec<String> = attributes.keys().cloned().collect();
        for event in content["events"].as_array_mut().unwrap() {
            event.as_object_mut().unwrap().remove("time_unix_nano");
            event["attributes"].as_object_mut().unwrap().remove("exception.stacktrace");
        }
        r.insert(
            "content".into(),
            json!({
                "attributes": content["attributes"],
                "attribute_order": attribute_order,
                "events": content["events"],
                "status": content["status"],
                "links": content["links"],
                "keys": content.as_object().unwrap().keys().collect::<Vec<_>>(),
            }),
        );
        (r["name"].as_str().unwrap().to_owned(), json!(r))
    })
    .collect();
    json!({"info": info, "tags": tags, "metadata": metadata, "spans": spans})
}

#[test]
fn the_local_store_holds_what_the_python_sdk_writes() {
    let Some(python) = mlflow_python() else {
        return;
    };
    let py_dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/reference_demo.py");
    let output = run_ok(
        clean_command(&python)
            .arg(script)
            .current_dir(py_dir.path()),
    );
    let py_ids: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let rs_dir = tempfile::tempdir().unwrap();
    let (rs_ids, _) = run_demo(rs_dir.path(), &[]);
    assert_eq!(py_ids.len(), 2);
    for (py_id, rs_id) in py_ids.iter().zip(&rs_ids) {
        let python = normalized(&py_dir.path().join("mlflow.db"), py_id);
        let rust = normalized(&rs_dir.path().join("mlflow.db"), rs_id);
        assert_eq!(
            rust, python,
            "trace {rs_id} differs from the Python SDK's {py_id}"
        );
    }
    // The experiment rows too.
    let experiment = |dir: &Path| {
        rows(
            &dir.join("mlflow.db"),
            "SELECT experiment_id, name, lifecycle_stage, workspace, artifact_location = ?1 AS loc FROM experiments",
            &dir.join("mlruns/0").display().to_string(),
        )
    };
    assert_eq!(experiment(rs_dir.path()), experiment(py_dir.path()));
}

#[test]
fn the_committed_schema_is_what_mlflow_generates() {
    let Some(python) = mlflow_python() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = tempfile::tempdir().unwrap();
    run_ok(
        clean_command(&python)
            .arg(root.join("scripts/gen-store-schema.py"))
            .arg(out.path()),
    );
    let committed = root.join("crates/mlflow-tracing/src/local_store/schema");
    for file in ["mlflow.sql", "revisions.txt"] {
        let generated = std::fs::read_to_string(out.path().join(file)).unwrap();
        let expected = std::fs::read_to_string(committed.join(file)).unwrap();
        assert!(
            generated == expected,
            "{file} differs from what MLflow generates: run scripts/gen-store-schema.py"
        );
    }
}
