//! The runtime switch (`disable`/`enable`, MLflow's `mlflow.tracing.disable()`), trace
//! scopes (`TraceScope`, MLflow's `mlflow.tracing.context(...)`) and the links to a run
//! and a model (`mlflow.sourceRun`, `mlflow.modelId`).

use mlflow_tracing::testing::InMemoryTraces;
use mlflow_tracing::{TraceContext, TraceScope, Tracing, start_span};

use crate::support::{builder, pipeline};

#[test]
fn disable_stops_new_traces_and_enable_resumes() {
    let (tracing, traces) = pipeline();
    let _default = tracing.set_default();
    let open = start_span("open-before").start_detached();
    mlflow_tracing::disable();
    assert!(!mlflow_tracing::is_tracing_enabled());
    let off = start_span("while-off").start();
    assert!(!off.is_recording());
    drop(off);
    // A trace started before is exported; as in MLflow, spans started while off are not
    // recorded, even in it.
    drop(start_span("child-of-open").parent(&open).start());
    open.end();
    mlflow_tracing::enable();
    assert!(mlflow_tracing::is_tracing_enabled());
    drop(start_span("after").start());
    tracing.flush().unwrap();
    let names: Vec<String> = traces
        .traces()
        .iter()
        .map(|t| t.info().name().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["open-before", "after"]);
    assert_eq!(traces.traces()[0].spans().len(), 1);
}

#[test]
fn a_scope_puts_its_metadata_and_tags_on_every_trace_started_in_it() {
    let (tracing, traces) = pipeline();
    tracing.in_scope(|| {
        let _outer = TraceScope::new()
            .session_id("session-1")
            .metadata("app", "outer")
            .metadata("keep", "yes")
            .tag("project", "p")
            .enter();
        {
            let _inner = TraceScope::new()
                .user("user-1")
                .metadata("app", "inner")
                .source_run("run-1")
                .model_id("m-1")
                .enter();
            drop(start_span("inner").start());
            // Carried to another thread by the context.
            let cx = TraceContext::current();
            let on_thread = tracing.clone();
            std::thread::spawn(move || {
                let _cx = cx.attach();
                on_thread.in_scope(|| drop(start_span("thread").start()));
            })
            .join()
            .unwrap();
        }
        drop(start_span("outer").start());
        TraceScope::new()
            .enabled(false)
            .in_scope(|| drop(start_span("off").start()));
    });
    drop(start_span("outside").start());
    tracing.flush().unwrap();
    let all = traces.traces();
    let meta = |name: &str, key: &str| {
        all.iter()
            .find(|t| t.info().name() == Some(name))
            .unwrap_or_else(|| panic!("no trace {name}"))
            .info()
            .metadata()
            .get(key)
            .cloned()
    };
    for name in ["inner", "thread"] {
        assert_eq!(
            meta(name, "mlflow.trace.session").as_deref(),
            Some("session-1")
        );
        assert_eq!(meta(name, "mlflow.trace.user").as_deref(), Some("user-1"));
        assert_eq!(meta(name, "app").as_deref(), Some("inner"));
        assert_eq!(meta(name, "keep").as_deref(), Some("yes"));
        assert_eq!(meta(name, "mlflow.sourceRun").as_deref(), Some("run-1"));
        assert_eq!(meta(name, "mlflow.modelId").as_deref(), Some("m-1"));
    }
    assert_eq!(meta("outer", "app").as_deref(), Some("outer"));
    assert_eq!(meta("outer", "mlflow.trace.user"), None);
    let outer = all
        .iter()
        .find(|t| t.info().name() == Some("outer"))
        .unwrap();
    assert_eq!(
        outer.info().tags().get("project").map(String::as_str),
        Some("p")
    );
    assert!(all.iter().all(|t| t.info().name() != Some("off")));
    // The scope does not reach traces started outside it (this thread has no scope:
    // "outside" went to the global pipeline, not this one).
    assert_eq!(all.len(), 3);
}

#[test]
fn traces_are_linked_to_the_run_and_the_active_model() {
    let traces = InMemoryTraces::new();
    let tracing: Tracing = Tracing::builder()
        .with_env(|k| (k == "MLFLOW_ACTIVE_MODEL_ID").then(|| "m-env".to_owned()))
        .destinations_from_config(false)
        .with_in_memory(&traces)
        .source_run("0123456789abcdef")
        .build()
        .unwrap();
    tracing.in_scope(|| drop(start_span("linked").start()));
    let coded = builder(&traces).active_model_id("m-code").build().unwrap();
    coded.in_scope(|| drop(start_span("coded").start()));
    tracing.flush().unwrap();
    coded.flush().unwrap();
    let all = traces.traces();
    let named = |name: &str| {
        all.iter()
            .find(|t| t.info().name() == Some(name))
            .unwrap()
            .info()
            .metadata()
            .clone()
    };
    let linked = named("linked");
    assert_eq!(linked["mlflow.sourceRun"], "0123456789abcdef");
    assert_eq!(linked["mlflow.modelId"], "m-env");
    let coded = named("coded");
    assert_eq!(coded["mlflow.modelId"], "m-code");
    assert!(!coded.contains_key("mlflow.sourceRun"));
}

#[test]
fn a_disabled_scope_stops_new_traces_not_the_trace_around_it() {
    let (tracing, traces) = pipeline();
    tracing.in_scope(|| {
        let _carrier = start_span("carrier").start();
        TraceScope::new().enabled(false).in_scope(|| {
            assert!(start_span("child").start().is_recording());
            assert!(!start_span("new-root").no_parent().start().is_recording());
        });
    });
    tracing.flush().unwrap();
    let all = traces.traces();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].spans().len(), 2);
}
