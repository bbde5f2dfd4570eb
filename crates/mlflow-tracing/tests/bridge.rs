//! The `tracing` bridge: `MlflowLayer` in a real `tracing_subscriber` stack, asserting the
//! MLflow traces it produces (in memory and in the local store).

use std::sync::{Arc, Mutex};

use mlflow_tracing::bridge::MlflowLayer;
use mlflow_tracing::testing::InMemoryTraces;
use mlflow_tracing::{
    SpanType, StatusCode, Trace, TraceFutureExt as _, Tracing, get_current_active_span, start_span,
    trace,
};
use serde_json::json;
use tracing::{Dispatch, Level};
use tracing_subscriber::prelude::*;

use crate::support::{self, Captured, raw};

/// A pipeline exporting to memory, and a layer recording the spans of this test crate
/// into it.
fn setup() -> (Tracing, InMemoryTraces, MlflowLayer) {
    let (tracing, traces) = support::pipeline();
    let layer = MlflowLayer::builder()
        .tracing(&tracing)
        .target("tests")
        .build()
        .unwrap();
    (tracing, traces, layer)
}

/// Runs `f` with `layer` in a `Registry` as this thread's subscriber, with `tracing` as
/// the thread's default pipeline; flushes and returns the traces.
fn record(f: impl FnOnce()) -> Vec<Trace> {
    let (tracing, traces, layer) = setup();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || tracing.in_scope(f));
    tracing.flush().unwrap();
    traces.traces()
}

fn record_one(f: impl FnOnce()) -> Trace {
    let mut traces = record(f);
    assert_eq!(traces.len(), 1, "{traces:#?}");
    traces.remove(0)
}

fn parent_name<'a>(trace: &'a Trace, name: &str) -> Option<&'a str> {
    let span = trace.span(name).unwrap();
    let parent = span.parent_id()?;
    trace
        .spans()
        .iter()
        .find(|s| s.span_id() == parent)
        .map(|s| s.name())
}

#[test]
fn bridge_records_span_type_inputs_outputs_and_attributes_from_fields() {
    let trace = record_one(|| {
        let span = tracing::info_span!(
            "retrieve",
            span_type = "RETRIEVER",
            inputs = %json!({"query": "what is mlflow", "k": 2}),
            outputs = tracing::field::Empty,
            user_id = 7_u64,
            cached = false,
            note = "plain text",
            payload = r#"{"a":[1,2]}"#,
            debug = ?vec!["x", "y"],
        );
        let _entered = span.enter();
        span.record("outputs", r#"["doc-1","doc-2"]"#);
    });
    let span = trace.span("retrieve").unwrap();
    assert_eq!(span.span_type(), SpanType::Retriever);
    assert_eq!(
        span.inputs(),
        Some(json!({"query": "what is mlflow", "k": 2}))
    );
    assert_eq!(span.outputs(), Some(json!(["doc-1", "doc-2"])));
    // Other fields: plain values, as tracing-opentelemetry records them.
    let plain = |key| span.raw_attribute(key).unwrap().clone();
    assert_eq!(plain("user_id"), 7_i64.into());
    assert_eq!(plain("cached"), false.into());
    assert_eq!(plain("note"), "plain text".into());
    assert_eq!(plain("payload"), r#"{"a":[1,2]}"#.into());
    assert_eq!(plain("debug"), r#"["x", "y"]"#.into());
    assert_eq!(span.status().code(), StatusCode::Ok);
    assert_eq!(
        trace.info().request_preview(),
        Some(r#"{"query": "what is mlflow", "k": 2}"#)
    );
}

#[test]
fn bridge_nests_tracing_spans_under_sdk_spans_and_sdk_spans_under_tracing_spans() {
    #[trace(span_type = "TOOL")]
    fn sdk_tool(x: u32) -> u32 {
        let _inner = tracing::info_span!("tracing_in_tool").entered();
        x + 1
    }

    let trace = record_one(|| {
        let _root = start_span("sdk_root").span_type(SpanType::Agent).start();
        let outer = tracing::info_span!("tracing_outer");
        outer.in_scope(|| {
            // While entered, the `tracing` span is MLflow's current span.
            assert!(get_current_active_span().is_some());
            let _sdk_child = start_span("sdk_child").start();
            let _tracing_grandchild = tracing::info_span!("tracing_grandchild").entered();
            sdk_tool(1);
        });
    });
    assert_eq!(parent_name(&trace, "sdk_root"), None);
    assert_eq!(parent_name(&trace, "tracing_outer"), Some("sdk_root"));
    assert_eq!(parent_name(&trace, "sdk_child"), Some("tracing_outer"));
    assert_eq!(parent_name(&trace, "tracing_grandchild"), Some("sdk_child"));
    assert_eq!(parent_name(&trace, "sdk_tool"), Some("tracing_grandchild"));
    assert_eq!(parent_name(&trace, "tracing_in_tool"), Some("sdk_tool"));
    assert_eq!(trace.spans().len(), 6);
}

#[test]
fn bridge_a_tracing_root_starts_a_trace_and_an_explicit_parent_wins() {
    let traces = record(|| {
        let a = tracing::info_span!("a");
        let b = tracing::info_span!("b");
        let _in_b = b.enter();
        // Explicit parent: a child of `a`, although `b` is current.
        drop(tracing::info_span!(parent: &a, "child_of_a"));
        // No parent at all: its own trace.
        drop(tracing::info_span!(parent: None, "lone"));
    });
    let names = |t: &Trace| {
        t.spans()
            .iter()
            .map(|s| s.name().to_owned())
            .collect::<Vec<_>>()
    };
    let mut all: Vec<Vec<String>> = traces.iter().map(names).collect();
    all.sort();
    assert_eq!(all, [vec!["a", "child_of_a"], vec!["b"], vec!["lone"]]);
    let a = traces.iter().find(|t| t.span("a").is_some()).unwrap();
    assert_eq!(parent_name(a, "child_of_a"), Some("a"));
}

#[test]
fn bridge_instrumented_futures_nest_on_a_multi_thread_runtime() {
    use tracing::Instrument as _;

    let (tracing, traces, layer) = setup();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    let on_workers = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&on_workers));
        })
        .enable_all()
        .build()
        .unwrap();

    async fn step(i: u32) -> u32 {
        tokio::task::yield_now().await;
        // An SDK span inside the instrumented future: a child of the `tracing` span.
        let _sdk = start_span(format!("sdk_{i}")).start();
        i * 2
    }

    tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(
            async {
                let tasks: Vec<_> = (0..4)
                    .map(|i| {
                        tokio::spawn(
                            step(i)
                                .instrument(tracing::info_span!("step", i))
                                .in_current_trace(),
                        )
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            }
            .instrument(tracing::info_span!("request")),
        );
    });
    drop(runtime);
    tracing.flush().unwrap();
    let traces = traces.traces();
    assert_eq!(traces.len(), 1, "{traces:#?}");
    let trace = &traces[0];
    assert_eq!(trace.spans().len(), 9);
    let request = trace.span("request").unwrap();
    for step in trace.spans().iter().filter(|s| s.name() == "step") {
        assert_eq!(step.parent_id(), request.span_id().into());
        let i = step.attribute("i").unwrap();
        let sdk = trace.span(&format!("sdk_{i}")).unwrap();
        assert_eq!(sdk.parent_id(), Some(step.span_id()));
    }
}

#[test]
fn bridge_spans_entered_on_other_threads_nest_there() {
    let (tracing, traces, layer) = setup();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        let root = tracing::info_span!("fan_out");
        let _entered = root.enter();
        std::thread::scope(|scope| {
            for i in 0..3 {
                let dispatch = dispatch.clone();
                let root = root.clone();
                scope.spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        root.in_scope(|| {
                            let _w = tracing::info_span!("worker", i).entered();
                            drop(start_span("sdk_work").start());
                        });
                    });
                });
            }
        });
    });
    tracing.flush().unwrap();
    let traces = traces.traces();
    assert_eq!(traces.len(), 1);
    let trace = &traces[0];
    assert_eq!(trace.spans().len(), 7);
    let root = trace.span("fan_out").unwrap();
    for span in trace.spans() {
        match span.name() {
            "worker" => assert_eq!(span.parent_id(), Some(root.span_id())),
            "sdk_work" => {
                let parent = trace
                    .spans()
                    .iter()
                    .find(|s| Some(s.span_id()) == span.parent_id())
                    .unwrap();
                assert_eq!(parent.name(), "worker");
            }
            _ => {}
        }
    }
}

#[test]
fn bridge_filter_keeps_ordinary_logs_out_without_hiding_them_from_other_layers() {
    let (tracing, traces) = support::pipeline();
    // The default: only spans with MLflow or GenAI fields, at INFO or above.
    let layer = MlflowLayer::builder().tracing(&tracing).build().unwrap();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry().with(layer).with(
        tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false),
    );
    tracing::subscriber::with_default(subscriber, || {
        let _plain = tracing::info_span!("plain_request", path = "/").entered();
        let _llm = tracing::info_span!("chat", gen_ai.operation.name = "chat").entered();
        tracing::debug!("a debug log inside the LLM span");
        tracing::info!(attempt = 1, "calling the model");
        let _noisy = tracing::debug_span!("noisy", gen_ai.operation.name = "chat").entered();
        tracing::info!("a log in an unrecorded span goes to the nearest recorded one");
    });
    tracing.flush().unwrap();
    let traces = traces.traces();
    assert_eq!(traces.len(), 1, "{traces:#?}");
    let trace = &traces[0];
    let names: Vec<_> = trace.spans().iter().map(|s| s.name()).collect();
    assert_eq!(names, ["chat"]);
    let events: Vec<_> = trace.spans()[0].events().iter().map(|e| e.name()).collect();
    assert_eq!(
        events,
        [
            "calling the model",
            "a log in an unrecorded span goes to the nearest recorded one"
        ]
    );
    let attempt = &trace.spans()[0].events()[0];
    assert!(
        attempt
            .attributes()
            .iter()
            .any(|kv| kv.key.as_str() == "attempt" && kv.value == 1_i64.into())
    );
    // The fmt layer still saw everything.
    let text = captured.text();
    assert!(text.contains("calling the model"), "{text}");
    assert!(text.contains("plain_request"), "{text}");
    // Including the DEBUG event the bridge left out: its filter is its own.
    assert!(text.contains("a debug log"), "{text}");
}

#[test]
fn bridge_error_fields_and_events_are_recorded_as_exceptions() {
    #[derive(Debug)]
    struct Timeout;
    impl std::fmt::Display for Timeout {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("the model did not answer")
        }
    }
    impl std::error::Error for Timeout {}

    /// An error with a source.
    #[derive(Debug)]
    struct CallFailed(Timeout);
    impl std::fmt::Display for CallFailed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("the call failed")
        }
    }
    impl std::error::Error for CallFailed {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[tracing::instrument(err, ret)]
    fn call_model(prompt: &str) -> Result<String, Timeout> {
        if prompt.is_empty() {
            Err(Timeout)
        } else {
            Ok(format!("echo: {prompt}"))
        }
    }

    let traces = record(|| {
        let _ = call_model("hello");
        let _ = call_model("");
        let span = tracing::info_span!("io", error = tracing::field::Empty);
        let _in = span.enter();
        let failed = CallFailed(Timeout);
        span.record("error", &failed as &(dyn std::error::Error + 'static));
    });
    assert_eq!(traces.len(), 3);
    let find = |name: &str, ok: bool| {
        traces
            .iter()
            .find(|t| {
                let s = t.root_span().unwrap();
                s.name() == name && (s.status().code() == StatusCode::Ok) == ok
            })
            .unwrap()
            .root_span()
            .unwrap()
            .clone()
    };
    let ok = find("call_model", true);
    // `ret` logs the `Ok` value with `Debug`: a Rust string is JSON.
    assert_eq!(ok.outputs(), Some(json!("echo: hello")));
    assert_eq!(raw(&ok, "prompt"), "hello");
    let failed = find("call_model", false);
    assert_eq!(
        failed.status().description(),
        "Error: the model did not answer"
    );
    let event = &failed.events()[0];
    assert_eq!(event.name(), "exception");
    assert_eq!(
        event.attribute("exception.message"),
        Some(json!("the model did not answer"))
    );
    assert_eq!(event.attribute("exception.type"), Some(json!("Error")));
    assert_eq!(failed.outputs(), None);
    let io = find("io", false);
    assert_eq!(
        io.events()[0].attribute("exception.stacktrace"),
        Some(json!(
            "Error: the call failed\n\nCaused by:\n    0: the model did not answer"
        ))
    );
}

#[test]
fn bridge_events_inside_sdk_spans_land_on_them() {
    let trace = record_one(|| {
        let _sdk = start_span("sdk").start();
        tracing::info!(step = "retrieval", "retrieved");
        tracing::error!(error = "boom", "it failed");
    });
    let span = trace.span("sdk").unwrap();
    let names: Vec<_> = span.events().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["retrieved", "exception"]);
    assert_eq!(span.status().code(), StatusCode::Error);
}

#[test]
fn bridge_a_disabled_pipeline_records_nothing_and_breaks_no_nesting() {
    let (tracing, traces) = support::pipeline();
    let layer = MlflowLayer::builder()
        .tracing(&Tracing::disabled())
        .all_targets()
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing.in_scope(|| {
            let _root = start_span("sdk_root").start();
            let _t = tracing::info_span!("ignored").entered();
            drop(start_span("sdk_child").start());
        })
    });
    tracing.flush().unwrap();
    let traces = traces.traces();
    assert_eq!(traces.len(), 1);
    assert_eq!(parent_name(&traces[0], "sdk_child"), Some("sdk_root"));
}

#[test]
fn bridge_builder_names_a_bad_target() {
    let err = MlflowLayer::builder()
        .target("my app")
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("MlflowLayerBuilder::target"), "{err}");
    assert!(err.contains("my app"), "{err}");
}

#[test]
fn bridge_levels_are_configurable() {
    let (tracing, traces) = support::pipeline();
    let layer = MlflowLayer::builder()
        .tracing(&tracing)
        .target("tests")
        .max_level(Level::DEBUG)
        .event_level(Level::WARN)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let _d = tracing::debug_span!("debug_span").entered();
        tracing::info!("not recorded");
        tracing::warn!("recorded");
        drop(tracing::trace_span!("trace_span").entered());
    });
    tracing.flush().unwrap();
    let traces = traces.traces();
    assert_eq!(traces.len(), 1);
    let span = traces[0].span("debug_span").unwrap();
    assert_eq!(traces[0].spans().len(), 1);
    let names: Vec<_> = span.events().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["recorded"]);
}

/// Spans finished by OpenTelemetry's SDK.
#[derive(Debug, Clone, Default)]
struct OtelSpans(Arc<Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

impl opentelemetry_sdk::trace::SpanExporter for OtelSpans {
    fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> impl Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send {
        self.0.lock().unwrap().extend(batch);
        std::future::ready(Ok(()))
    }
}

#[test]
fn bridge_composes_with_tracing_opentelemetry_and_fmt_in_one_registry() {
    use opentelemetry::trace::TracerProvider as _;

    let (tracing, traces, layer) = setup();
    let otel_spans = OtelSpans::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(otel_spans.clone())
        .build();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bridge-test")))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false),
        );
    tracing::subscriber::with_default(subscriber, || {
        tracing.in_scope(|| {
            let _outer = tracing::info_span!("outer", span_type = "AGENT").entered();
            {
                let _inner = tracing::info_span!("inner").entered();
                drop(start_span("sdk_leaf").start());
                tracing::info!("inside inner");
            }
        })
    });
    tracing.flush().unwrap();
    provider.force_flush().unwrap();

    let trace = {
        let traces = traces.traces();
        assert_eq!(traces.len(), 1);
        traces[0].clone()
    };
    assert_eq!(parent_name(&trace, "inner"), Some("outer"));
    assert_eq!(parent_name(&trace, "sdk_leaf"), Some("inner"));
    assert_eq!(trace.span("outer").unwrap().span_type(), SpanType::Agent);

    // tracing-opentelemetry's own tracer got the two `tracing` spans, nested, and no
    // MLflow span (the SDK's spans stay in its pipeline).
    let otel = otel_spans.0.lock().unwrap();
    let mut names: Vec<_> = otel.iter().map(|s| s.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["inner", "outer"]);
    let outer = otel.iter().find(|s| s.name == "outer").unwrap();
    let inner = otel.iter().find(|s| s.name == "inner").unwrap();
    assert_eq!(inner.parent_span_id, outer.span_context.span_id());
    assert!(captured.text().contains("inside inner"));
}

#[test]
fn bridge_spans_past_the_memory_bound_are_dropped_counted_and_reported_without_recursion() {
    let traces = InMemoryTraces::new();
    // Room for a handful of spans only.
    let tracing = support::builder(&traces)
        .max_queue_bytes(4_000)
        .build()
        .unwrap();
    let layer = MlflowLayer::builder()
        .tracing(&tracing)
        .all_targets()
        .build()
        .unwrap();
    let captured = Captured::default();
    let writer = captured.clone();
    // Recording happens inside the subscriber's callbacks: what the SDK reports from
    // there must neither recurse nor deadlock.
    let subscriber = tracing_subscriber::registry().with(layer).with(
        tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false),
    );
    let started = 500;
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..started {
            let _span = tracing::info_span!("s", i, inputs = %"x".repeat(200)).entered();
            tracing::info!("inside");
        }
    });
    assert!(tracing.flush().is_err(), "the flush reports the losses");
    let stats = tracing.stats();
    assert!(stats.traces_dropped > 0, "{stats:?}");
    assert_eq!(traces.traces().len() as u64 + stats.traces_dropped, started);
    assert_eq!(stats.queued_bytes, 0);
    // The span that found the queue full was started inside the subscriber's callback,
    // where `tracing` sends nothing to a subscriber: the SDK's warning went to stderr.
    assert!(!captured.text().contains("the export queue is full"));
    assert!(
        traces
            .traces()
            .iter()
            .all(|t| t.spans()[0].events().iter().all(|e| e.name() == "inside")),
        "no SDK warning became a span event"
    );
}
