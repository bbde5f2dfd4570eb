//! The `tracing` bridge and MLflow's translation: `tracing` spans with the fields of the
//! GenAI conventions (as rig-core 0.44 records them), OpenInference and Langfuse are
//! stored in the local store exactly as the same attributes set through this SDK's span
//! API are stored (the store translating them, as MLflow's store does; that path is
//! compared with MLflow 3.17.2 itself in `real_parity.rs`, and so is the bridge's); and
//! the translated attributes are there for every destination (here in memory).

use std::path::Path;

use mlflow_tracing::bridge::MlflowLayer;
use mlflow_tracing::local_store::LocalStore;
use mlflow_tracing::{SpanType, Trace, Tracing, start_span};
use opentelemetry::KeyValue;
use serde_json::{Value, json};
use tracing::field::Empty;
use tracing_subscriber::prelude::*;

fn store_pipeline(db: &Path) -> Tracing {
    let uri = format!("sqlite:///{}", db.display());
    Tracing::builder()
        .with_env(move |k| (k == "MLFLOW_TRACKING_URI").then(|| uri.clone()))
        .build()
        .unwrap()
}

/// rig-core 0.44's completion span (`telemetry/mod.rs`, `__rig_canonical_completion_span!`
/// and `new_completion_span!`): the request's fields when it starts, the rest recorded
/// when the response arrives.
fn rig_chat_span() {
    let span = tracing::info_span!(
        target: "rig::completions",
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.system_instructions = r#"[{"type":"text","content":"You are terse."}]"#,
        gen_ai.request.stream = Empty,
        gen_ai.response.id = Empty,
        gen_ai.response.model = Empty,
        rig.provider_request_id = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cache_read.input_tokens = Empty,
        gen_ai.usage.cache_creation.input_tokens = Empty,
        gen_ai.usage.tool_use_prompt_tokens = Empty,
        gen_ai.usage.reasoning_tokens = Empty,
        gen_ai.input.messages = Empty,
        gen_ai.output.messages = Empty,
    );
    let _entered = span.enter();
    span.record("gen_ai.request.stream", false);
    span.record(
        "gen_ai.input.messages",
        r#"[{"role":"user","parts":[{"type":"text","content":"What is MLflow?"}]}]"#,
    );
    span.record("gen_ai.response.id", "chatcmpl-1");
    span.record("gen_ai.response.model", "gpt-4o-mini-2024-07-18");
    span.record("gen_ai.usage.input_tokens", 182_u64);
    span.record("gen_ai.usage.output_tokens", 24_u64);
    span.record(
        "gen_ai.output.messages",
        r#"[{"role":"assistant","parts":[{"type":"text","content":"An MLOps platform."}],"finish_reason":"stop"}]"#,
    );
}

/// The attributes `rig_chat_span` records, in its order, as plain values.
fn rig_chat_attributes() -> Vec<KeyValue> {
    vec![
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", "openai"),
        KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
        KeyValue::new(
            "gen_ai.system_instructions",
            r#"[{"type":"text","content":"You are terse."}]"#,
        ),
        KeyValue::new("gen_ai.request.stream", false),
        KeyValue::new(
            "gen_ai.input.messages",
            r#"[{"role":"user","parts":[{"type":"text","content":"What is MLflow?"}]}]"#,
        ),
        KeyValue::new("gen_ai.response.id", "chatcmpl-1"),
        KeyValue::new("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
        KeyValue::new("gen_ai.usage.input_tokens", 182_i64),
        KeyValue::new("gen_ai.usage.output_tokens", 24_i64),
        KeyValue::new(
            "gen_ai.output.messages",
            r#"[{"role":"assistant","parts":[{"type":"text","content":"An MLOps platform."}],"finish_reason":"stop"}]"#,
        ),
    ]
}

fn openinference_span() {
    let _span = tracing::info_span!(
        "llm",
        openinference.span.kind = "LLM",
        llm.model_name = "gpt-4o",
        llm.provider = "openai",
        llm.token_count.prompt = 10_i64,
        llm.token_count.completion = 5_i64,
        input.value = r#"{"question": "hi"}"#,
        output.value = "hello",
    )
    .entered();
}

fn openinference_attributes() -> Vec<KeyValue> {
    vec![
        KeyValue::new("openinference.span.kind", "LLM"),
        KeyValue::new("llm.model_name", "gpt-4o"),
        KeyValue::new("llm.provider", "openai"),
        KeyValue::new("llm.token_count.prompt", 10_i64),
        KeyValue::new("llm.token_count.completion", 5_i64),
        KeyValue::new("input.value", r#"{"question": "hi"}"#),
        KeyValue::new("output.value", "hello"),
    ]
}

fn langfuse_span() {
    let _span = tracing::info_span!(
        "generation",
        langfuse.observation.type = "generation",
        langfuse.observation.input = r#"[{"role":"user","content":"hi"}]"#,
        langfuse.observation.output = "hello",
    )
    .entered();
}

fn langfuse_attributes() -> Vec<KeyValue> {
    vec![
        KeyValue::new("langfuse.observation.type", "generation"),
        KeyValue::new(
            "langfuse.observation.input",
            r#"[{"role":"user","content":"hi"}]"#,
        ),
        KeyValue::new("langfuse.observation.output", "hello"),
    ]
}

/// The stored span `name` of the one trace in `db`, without what differs by nature
/// (ids, times): name, type, status, attributes in order, events.
fn stored_span(db: &Path) -> Value {
    let store = LocalStore::open(db).unwrap();
    let listed = store.list_traces(None, 10).unwrap();
    assert_eq!(listed.len(), 1);
    let trace = store
        .get_trace(listed[0].info().trace_id())
        .unwrap()
        .unwrap();
    let span = &trace.spans()[0];
    let mut content: Value = serde_json::from_str(&span.to_mlflow_json()).unwrap();
    let attributes = content["attributes"].as_object_mut().unwrap();
    attributes.shift_remove("mlflow.traceRequestId");
    let order: Vec<String> = attributes.keys().cloned().collect();
    json!({
        "name": content["name"],
        "attributes": content["attributes"],
        "order": order,
        "status": content["status"],
        "events": content["events"],
        "token_usage": trace.info().metadata().get("mlflow.trace.tokenUsage"),
        "request_preview": trace.info().request_preview(),
        "response_preview": trace.info().response_preview(),
    })
}

/// The span `bridged` records through the bridge, and the same attributes set through
/// the span API, as the local store stores each.
fn stored_both(name: &str, bridged: fn(), attributes: Vec<KeyValue>) -> (Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let (via_bridge, via_api) = (dir.path().join("bridge.db"), dir.path().join("api.db"));

    let tracing = store_pipeline(&via_bridge);
    let layer = MlflowLayer::builder().tracing(&tracing).build().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), bridged);
    tracing.flush().unwrap();

    let tracing = store_pipeline(&via_api);
    tracing.in_scope(|| {
        let span = start_span(name.to_owned()).start();
        for kv in attributes {
            span.set_otel_attribute(kv);
        }
    });
    tracing.flush().unwrap();
    (stored_span(&via_bridge), stored_span(&via_api))
}

#[test]
fn bridge_rig_genai_span_is_stored_as_the_same_attributes_set_through_the_api() {
    let (bridged, api) = stored_both("chat", rig_chat_span, rig_chat_attributes());
    assert_eq!(bridged, api);
    let attributes = &bridged["attributes"];
    assert_eq!(attributes["mlflow.spanType"], "\"CHAT_MODEL\"");
    assert_eq!(
        attributes["mlflow.chat.tokenUsage"],
        r#"{"input_tokens": 182, "output_tokens": 24, "total_tokens": 206}"#
    );
    assert_eq!(attributes["mlflow.llm.model"], "\"gpt-4o-mini-2024-07-18\"");
    assert_eq!(attributes["mlflow.llm.provider"], "\"openai\"");
    assert!(attributes["mlflow.llm.cost"].is_string(), "{attributes}");
    // Plain values, as OTLP delivers them.
    assert_eq!(attributes["gen_ai.usage.input_tokens"], 182);
    assert_eq!(
        bridged["token_usage"],
        r#"{"input_tokens": 182, "output_tokens": 24, "total_tokens": 206}"#
    );
}

#[test]
fn bridge_openinference_span_is_stored_as_the_same_attributes_set_through_the_api() {
    let (bridged, api) = stored_both("llm", openinference_span, openinference_attributes());
    assert_eq!(bridged, api);
    assert_eq!(bridged["attributes"]["mlflow.spanType"], "\"LLM\"");
    assert_eq!(bridged["attributes"]["mlflow.spanOutputs"], "hello");
}

#[test]
fn bridge_langfuse_span_is_stored_as_the_same_attributes_set_through_the_api() {
    let (bridged, api) = stored_both("generation", langfuse_span, langfuse_attributes());
    assert_eq!(bridged, api);
    assert_eq!(bridged["attributes"]["mlflow.spanType"], "\"LLM\"");
}

/// What the bridge adds as the span ends reaches every destination, not only the store.
#[test]
fn bridge_translation_reaches_in_memory_destinations_too() {
    let (tracing, traces) = crate::support::pipeline();
    let layer = MlflowLayer::builder().tracing(&tracing).build().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _agent = tracing::info_span!(
            "invoke_agent",
            gen_ai.operation.name = "invoke_agent",
            gen_ai.agent.name = "helper",
        )
        .entered();
        rig_chat_span();
        let _tool = tracing::info_span!(
            "execute_tool",
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.name = "search",
            gen_ai.tool.call.arguments = r#"{"q": "mlflow"}"#,
            gen_ai.tool.call.result = r#"{"hits": 3}"#,
        )
        .entered();
    });
    tracing.flush().unwrap();
    let traces: Vec<Trace> = traces.traces();
    assert_eq!(traces.len(), 1);
    let trace = &traces[0];
    let kind = |name| trace.span(name).unwrap().span_type();
    assert_eq!(kind("invoke_agent"), SpanType::Agent);
    assert_eq!(kind("chat"), SpanType::ChatModel);
    assert_eq!(kind("execute_tool"), SpanType::Tool);
    let chat = trace.span("chat").unwrap();
    assert_eq!(
        chat.attribute("mlflow.chat.tokenUsage"),
        Some(json!({"input_tokens": 182, "output_tokens": 24, "total_tokens": 206}))
    );
    assert!(chat.attribute("mlflow.llm.cost").is_some());
    let tool = trace.span("execute_tool").unwrap();
    assert_eq!(tool.inputs(), Some(json!({"q": "mlflow"})));
    assert_eq!(tool.outputs(), Some(json!({"hits": 3})));
    // The trace's token usage, from its spans.
    assert_eq!(
        trace
            .info()
            .metadata()
            .get("mlflow.trace.tokenUsage")
            .map(String::as_str),
        Some(r#"{"input_tokens": 182, "output_tokens": 24, "total_tokens": 206}"#)
    );
}

/// Span hooks (redaction) run after the bridge's spans are translated: what translation
/// derives from a field (the inputs from `gen_ai.input.messages`) is there to redact.
#[test]
fn bridge_span_hooks_see_the_translated_span() {
    let traces = mlflow_tracing::testing::InMemoryTraces::new();
    let tracing = crate::support::builder(&traces)
        .span_hook(|span: &mut mlflow_tracing::hooks::HookSpan<'_>| {
            if span.span_type() == SpanType::ChatModel {
                span.set_inputs("[redacted]");
                span.remove_attribute("gen_ai.input.messages");
            }
        })
        .build()
        .unwrap();
    let layer = MlflowLayer::builder().tracing(&tracing).build().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), rig_chat_span);
    tracing.flush().unwrap();
    let traces = traces.traces();
    let chat = traces[0].span("chat").unwrap();
    assert_eq!(chat.inputs(), Some(json!("[redacted]")));
    assert_eq!(chat.attribute("gen_ai.input.messages"), None);
    assert_eq!(
        chat.outputs().unwrap()[0]["parts"][0]["content"],
        "An MLOps platform."
    );
}
