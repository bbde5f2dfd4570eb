//! `#[trace]` on sync and async functions and methods.

use mlflow_tracing::{SpanStatus, StatusCode, get_current_active_span, trace};
use serde::Serialize;
use serde_json::json;

use crate::support::{keys, raw, record, record_one};

#[trace]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[trace(name = "custom_name", span_type = "TOOL", attributes("model" = "gpt-4o", temperature = 0.5))]
fn configured(query: &str) -> Vec<String> {
    vec![query.to_uppercase()]
}

#[derive(Debug, Serialize)]
struct Doc {
    id: u32,
}

#[derive(Debug)]
struct NotSerializable;

#[derive(Debug)]
struct ValueError(String);

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

#[trace(skip(client))]
fn fetch(client: &NotSerializable, id: u32) -> Result<Doc, ValueError> {
    let _ = client;
    if id == 0 {
        Err(ValueError("no such doc".into()))
    } else {
        Ok(Doc { id })
    }
}

#[trace(skip_all, skip_output)]
fn secret(password: &str) -> String {
    password.chars().rev().collect()
}

#[trace]
fn no_args_no_return() {}

#[trace]
fn uses_question_mark(input: &str) -> Result<i32, std::num::ParseIntError> {
    let n: i32 = input.parse()?;
    Ok(n * 2)
}

#[trace]
fn string_error(fail: bool) -> Result<&'static str, String> {
    if fail {
        Err("plain failure".to_owned())
    } else {
        Ok("fine")
    }
}

#[trace]
fn generic<T: Serialize + Clone>(value: T) -> T {
    value
}

#[trace]
fn destructured((x, y): (i32, i32), Doc { id }: Doc) -> i32 {
    x + y + id as i32
}

#[trace]
fn sets_its_own_outputs() -> i32 {
    get_current_active_span().unwrap().set_outputs("explicit");
    1
}

#[trace]
fn nested_outer(n: u32) -> u32 {
    nested_inner(n) + 1
}

#[trace]
fn nested_inner(n: u32) -> u32 {
    n * 10
}

#[trace]
fn panics(flag: bool) -> u32 {
    if flag {
        panic!("kaboom");
    }
    1
}

#[trace]
fn early_return(x: i32) -> &'static str {
    if x < 0 {
        return "negative";
    }
    "non-negative"
}

struct Agent {
    name: String,
}

impl Agent {
    #[trace(span_type = "AGENT")]
    fn run(&self, task: &str) -> String {
        format!("{} did {task}", self.name)
    }

    #[trace]
    async fn run_async(&self, steps: u32) -> Result<u32, ValueError> {
        tokio::task::yield_now().await;
        let inner = helper(steps).await;
        if steps > 100 {
            Err(ValueError("too many".into()))
        } else {
            Ok(inner)
        }
    }
}

#[trace(span_type = "LLM")]
async fn helper(x: u32) -> u32 {
    tokio::task::yield_now().await;
    x + 1
}

#[trace]
async fn async_panics() -> u32 {
    tokio::task::yield_now().await;
    panic!("async kaboom")
}

#[test]
fn sync_function_records_inputs_outputs_and_function_name() {
    let trace = record_one(|| assert_eq!(add(1, 3), 4));
    let span = &trace.spans()[0];
    assert_eq!(span.name(), "add");
    assert_eq!(
        keys(span),
        [
            "mlflow.traceRequestId",
            "mlflow.spanType",
            "mlflow.spanFunctionName",
            "mlflow.spanInputs",
            "mlflow.spanOutputs",
            "mlflow.spanLogLevel"
        ]
    );
    assert_eq!(raw(span, "mlflow.spanFunctionName"), "\"add\"");
    assert_eq!(raw(span, "mlflow.spanInputs"), "{\"a\": 1, \"b\": 3}");
    assert_eq!(raw(span, "mlflow.spanOutputs"), "4");
    assert_eq!(raw(span, "mlflow.spanType"), "\"UNKNOWN\"");
}

#[test]
fn options_set_name_type_and_attributes() {
    let trace = record_one(|| drop(configured("hi")));
    let span = &trace.spans()[0];
    assert_eq!(span.name(), "custom_name");
    assert_eq!(raw(span, "mlflow.spanType"), "\"TOOL\"");
    assert_eq!(raw(span, "model"), "\"gpt-4o\"");
    assert_eq!(raw(span, "temperature"), "0.5");
    assert_eq!(raw(span, "mlflow.spanFunctionName"), "\"configured\"");
    assert_eq!(span.outputs(), Some(json!(["HI"])));
    assert_eq!(raw(span, "mlflow.spanLogLevel"), "20");
}

#[test]
fn results_record_ok_as_outputs_and_err_as_exception() {
    let traces = record(|| {
        fetch(&NotSerializable, 7).unwrap();
        fetch(&NotSerializable, 0).unwrap_err();
    });
    let ok = &traces[0].spans()[0];
    assert_eq!(raw(ok, "mlflow.spanInputs"), "{\"id\": 7}");
    assert_eq!(ok.outputs(), Some(json!({"id": 7})));
    assert_eq!(ok.status(), &SpanStatus::ok());
    let err = &traces[1].spans()[0];
    assert_eq!(err.status(), &SpanStatus::error("ValueError: no such doc"));
    assert!(err.outputs().is_none());
    assert_eq!(
        err.events()[0].attribute("exception.type").unwrap(),
        json!("ValueError")
    );
    assert_eq!(traces[1].info().state(), mlflow_tracing::TraceState::Error);
}

#[test]
fn errors_that_only_display_are_recorded_too() {
    let traces = record(|| {
        string_error(true).unwrap_err();
        uses_question_mark("x").unwrap_err();
        assert_eq!(uses_question_mark("21").unwrap(), 42);
    });
    assert_eq!(
        traces[0].spans()[0].status(),
        &SpanStatus::error("String: plain failure")
    );
    assert_eq!(
        traces[1].spans()[0].status(),
        &SpanStatus::error("ParseIntError: invalid digit found in string")
    );
    assert_eq!(traces[2].spans()[0].outputs(), Some(json!(42)));
}

#[test]
fn skip_and_skip_output() {
    let trace = record_one(|| assert_eq!(secret("abc"), "cba"));
    let span = &trace.spans()[0];
    assert!(span.inputs().is_none());
    assert!(span.outputs().is_none());
}

#[test]
fn functions_without_arguments_or_return_value() {
    let trace = record_one(no_args_no_return);
    let span = &trace.spans()[0];
    assert_eq!(raw(span, "mlflow.spanInputs"), "{}");
    assert_eq!(raw(span, "mlflow.spanOutputs"), "null");
}

#[test]
fn generics_patterns_and_early_returns() {
    let traces = record(|| {
        assert_eq!(generic(vec![1, 2]), vec![1, 2]);
        assert_eq!(destructured((1, 2), Doc { id: 3 }), 6);
        assert_eq!(early_return(-1), "negative");
    });
    assert_eq!(
        raw(&traces[0].spans()[0], "mlflow.spanInputs"),
        "{\"value\": [1, 2]}"
    );
    assert_eq!(
        raw(&traces[1].spans()[0], "mlflow.spanInputs"),
        "{\"x\": 1, \"y\": 2, \"id\": 3}"
    );
    assert_eq!(
        raw(&traces[2].spans()[0], "mlflow.spanOutputs"),
        "\"negative\""
    );
}

#[test]
fn explicit_outputs_win_over_the_return_value() {
    let trace = record_one(|| {
        let _ = sets_its_own_outputs();
    });
    assert_eq!(trace.spans()[0].outputs(), Some(json!("explicit")));
}

#[test]
fn traced_functions_nest() {
    let trace = record_one(|| assert_eq!(nested_outer(2), 21));
    let outer = trace.root_span().unwrap();
    assert_eq!(outer.name(), "nested_outer");
    assert_eq!(trace.children(outer)[0].name(), "nested_inner");
}

#[test]
fn a_panic_is_recorded_and_keeps_unwinding() {
    let traces = record(|| {
        let result = std::panic::catch_unwind(|| panics(true));
        assert!(result.is_err());
        assert_eq!(panics(false), 1);
    });
    let span = &traces[0].spans()[0];
    assert_eq!(span.status(), &SpanStatus::error("panic: kaboom"));
    assert_eq!(
        span.events()[0].attribute("exception.message").unwrap(),
        json!("kaboom")
    );
    assert_eq!(traces[1].spans()[0].status().code(), StatusCode::Ok);
}

#[test]
fn methods_leave_self_out() {
    let trace = record_one(|| {
        let agent = Agent {
            name: "bond".into(),
        };
        assert_eq!(agent.run("work"), "bond did work");
    });
    let span = &trace.spans()[0];
    assert_eq!(raw(span, "mlflow.spanInputs"), "{\"task\": \"work\"}");
    assert_eq!(raw(span, "mlflow.spanType"), "\"AGENT\"");
}

#[test]
fn async_functions_on_both_runtimes() {
    for multi_thread in [true, false] {
        let traces = record(|| {
            let rt = if multi_thread {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .build()
                    .unwrap()
            } else {
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap()
            };
            let agent = Agent { name: "a".into() };
            assert_eq!(rt.block_on(agent.run_async(3)).unwrap(), 4);
            assert!(rt.block_on(agent.run_async(1000)).is_err());
        });
        let ok = &traces[0];
        let root = ok.root_span().unwrap();
        assert_eq!(root.name(), "run_async");
        assert_eq!(raw(root, "mlflow.spanInputs"), "{\"steps\": 3}");
        assert_eq!(root.outputs(), Some(json!(4)));
        let child = ok.children(root)[0];
        assert_eq!(
            (child.name(), raw(child, "mlflow.spanType").as_str()),
            ("helper", "\"LLM\"")
        );
        assert_eq!(child.outputs(), Some(json!(4)));
        let err = traces[1].root_span().unwrap();
        assert_eq!(err.status(), &SpanStatus::error("ValueError: too many"));
    }
}

#[test]
fn async_panics_are_recorded() {
    let trace = record_one(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(async_panics())));
        assert!(result.is_err());
    });
    assert_eq!(
        trace.spans()[0].status(),
        &SpanStatus::error("panic: async kaboom")
    );
}
