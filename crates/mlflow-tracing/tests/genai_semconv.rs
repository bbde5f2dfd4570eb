//! `MLFLOW_ENABLE_OTEL_GENAI_SEMCONV=true`: spans sent over OTLP in OpenTelemetry's GenAI
//! semantic conventions, compared attribute by attribute with what MLflow 3.17.2's own
//! translator (`translate_span_to_genai`, run in the test venv) makes of the same spans,
//! over the wire to the in-process OTLP receiver; and the root span of a tagged trace
//! delivered with its tags (MLflow loses it).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use mlflow_tracing::{SpanType, TraceUpdate, Tracing, start_span, update_current_trace};
use mlflow_tracing_test_support::{Receiver, Tls};
use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use serde_json::{Value, json};

/// MLflow's Python, provisioned by `scripts/test.sh`; a failure under `CI=true` when
/// missing, else the test is skipped (loudly).
fn mlflow_python() -> Option<PathBuf> {
    match std::env::var_os("MLFLOW_TRACING_TEST_PYTHON").map(PathBuf::from) {
        Some(python) if python.exists() => Some(python),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "MLflow's Python venv (MLFLOW_TRACING_TEST_PYTHON) is missing: run the tests \
                 with scripts/test.sh, which provisions it"
            );
            eprintln!("SKIPPED: MLflow's Python venv (MLFLOW_TRACING_TEST_PYTHON) is missing");
            None
        }
    }
}

fn otlp_pipeline(receiver: &Receiver, genai: Option<&str>) -> Tracing {
    let endpoint = format!("{}/v1/traces", receiver.base_url());
    let genai = genai.map(str::to_owned);
    Tracing::builder()
        .with_env(move |k| match k {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" => Some(endpoint.clone()),
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" => Some("http/protobuf".to_owned()),
            "MLFLOW_ENABLE_OTEL_GENAI_SEMCONV" => genai.clone(),
            _ => None,
        })
        .build()
        .unwrap()
}

/// A child span with MLflow's attributes as the autologging integrations set them.
fn llm(name: &str, span_type: SpanType, format: Option<&str>, inputs: Value, outputs: Value) {
    let span = start_span(name.to_owned()).span_type(span_type).start();
    span.set_inputs(&inputs);
    span.set_outputs(&outputs);
    span.set_attribute("mlflow.llm.model", "gpt-4o-mini");
    span.set_attribute("mlflow.llm.provider", "openai");
    span.set_attribute(
        "mlflow.chat.tokenUsage",
        json!({"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}),
    );
    if let Some(format) = format {
        span.set_attribute("mlflow.message.format", format);
    }
    span.set_otel_attribute(KeyValue::new("app.env", "test"));
}

/// The workload: one tagged AGENT trace whose spans cover every converter, the tool and
/// agent names, the fallbacks and the failures of MLflow's translator.
fn workload() {
    let root = start_span("planner").span_type(SpanType::Agent).start();
    root.set_inputs(json!({"question": "Weather in Paris?"}));
    update_current_trace(TraceUpdate::new().tags([("team", "search"), ("env", "ci")])).unwrap();
    llm(
        "openai-chat",
        SpanType::ChatModel,
        Some("openai"),
        json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this? é"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                    {"type": "input_audio", "input_audio": {"format": "wav", "data": "UklG"}},
                    {"type": "file", "file": {"id": 1}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
                {"role": "assistant", "content": 42},
                {"role": "assistant", "content": "", "audio": {"transcript": "spoken"}}
            ],
            "temperature": 0.2, "max_tokens": 100, "top_p": 1, "stop": "END",
            "tools": [{"type": "function", "function": {"name": "get_weather",
                       "description": "Weather", "parameters": {"type": "object"}}}]
        }),
        json!({
            "id": "chatcmpl-1", "model": "gpt-4o-mini-2024",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "Sunny"}, "finish_reason": "stop"},
                {"index": 1, "delta": {"content": "x"}, "message": null, "finish_reason": null}
            ]
        }),
    );
    llm(
        "openai-responses",
        SpanType::Llm,
        Some("openai"),
        json!({
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "hi"},
                                             {"type": "input_image", "image_url": "https://i"}]},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"a\": 1}"},
                {"type": "function_call_output", "call_id": "c1", "output": "42"}
            ],
            "instructions": "Be brief",
            "tools": [{"type": "function", "name": "f", "parameters": {}}]
        }),
        json!({
            "id": "resp_1", "status": "completed",
            "output": [
                {"type": "message", "role": "assistant",
                 "content": [{"type": "output_text", "text": "ok"}, {"type": "refusal", "refusal": "no"}]},
                {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "not json"},
                {"type": "reasoning", "summary": []}
            ]
        }),
    );
    llm(
        "anthropic",
        SpanType::ChatModel,
        Some("anthropic"),
        json!({
            "model": "claude", "system": "You are kind.", "stop_sequences": "STOP",
            "max_tokens": 50,
            "tools": [{"name": "calc", "input_schema": {"type": "object"}}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
                    {"type": "document", "source": {"type": "url", "url": "https://d"}},
                    {"type": "image", "source": {"type": "file", "file_id": "f"}}
                ]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "calc", "input": {"x": 1}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "2"}]},
                {"role": "user", "content": "plain"}
            ]
        }),
        json!({"id": "msg_1", "model": "claude-3", "role": "assistant",
               "content": [{"type": "text", "text": "done"}, {"type": "thinking", "thinking": "…"}]}),
    );
    llm(
        "gemini",
        SpanType::ChatModel,
        Some("gemini"),
        json!({
            "model": "gemini-2.0",
            "contents": [
                {"role": "user", "parts": [{"text": "hi"}, {"inline_data": {"mime_type": "image/jpeg", "data": "BBB"}},
                                           {"file_data": {"mime_type": "", "file_uri": "gs://f"}}]},
                {"role": "model", "parts": [{"function_call": {"name": "f", "args": {"q": 1}}}]},
                {"role": "user", "parts": [{"function_response": {"name": "f", "response": {"r": 2}}}]},
                {"role": "user", "parts": ["bare", 7, {"unknown": true}]}
            ],
            "config": {"system_instruction": {"parts": [{"text": "Be nice"}]}, "temperature": 0.5,
                       "max_output_tokens": 64, "stop_sequences": ["x"], "tools": ["t"]}
        }),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}}]}),
    );
    llm(
        "gemini-flat",
        SpanType::ChatModel,
        Some("gemini"),
        json!({"contents": ["just text", {"text": "and a part"}], "config": {"system_instruction": "sys"}}),
        json!({"candidates": []}),
    );
    llm(
        "bedrock",
        SpanType::ChatModel,
        Some("bedrock"),
        json!({
            "messages": [
                {"role": "user", "content": [{"text": "hi"}, {"image": {"format": "png", "source": {"bytes": "QUJD"}}},
                                             {"image": {"format": "png", "source": {}}}]},
                {"role": "assistant", "content": [{"toolUse": {"toolUseId": "u1", "name": "f", "input": "{\"a\": 2}"}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "u1", "content": [{"json": {"v": 1}}, {"text": "t"}]}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "u2", "content": [{"text": "only"}]}}]}
            ],
            "system": [{"text": "sys"}, {"other": 1}],
            "inferenceConfig": {"temperature": 0.1, "maxTokens": 10, "stopSequences": ["s"]},
            "toolConfig": {"tools": [{"toolSpec": {"name": "f", "description": "d",
                                                   "inputSchema": {"json": {"type": "object"}}}}]}
        }),
        json!({"output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}}}),
    );
    // A tool named by its span, with non-ASCII arguments; a tool named by its attribute.
    start_span("get_weather")
        .span_type(SpanType::Tool)
        .inputs(json!({"city": "Paris é"}))
        .in_scope(|s| s.set_outputs(json!({"temp": 21.5})));
    start_span("execute_tool")
        .span_type(SpanType::Tool)
        .in_scope(|s| s.set_otel_attribute(KeyValue::new("gen_ai.tool.name", "lookup")));
    // Types without an operation of their own, an embedding, a bare span.
    start_span("chain")
        .span_type(SpanType::Chain)
        .in_scope(|_| {});
    start_span("embed")
        .span_type(SpanType::Embedding)
        .attribute("mlflow.llm.model", "text-embedding-3-small")
        .in_scope(|_| {});
    // Tools only as MLflow's attribute; a format MLflow has no converter of its own for.
    start_span("tools-attribute")
        .span_type(SpanType::ChatModel)
        .inputs(json!({"messages": [{"role": "user", "content": "hi"}]}))
        .in_scope(|s| {
            s.set_attribute("mlflow.message.format", "langchain");
            s.set_attribute(
                "mlflow.chat.tools",
                json!([{"type": "function", "function": {"name": "t"}}]),
            );
        });
    // A converter that fails (a message that is not a dict): its attributes are left out.
    start_span("bad-message")
        .span_type(SpanType::ChatModel)
        .inputs(json!({"messages": ["not a dict"]}))
        .in_scope(|s| s.set_attribute("mlflow.message.format", "openai"));
    // A translation that fails (`"input" in 5`): the span goes as it is.
    start_span("untranslatable")
        .span_type(SpanType::ChatModel)
        .inputs(5)
        .in_scope(|s| s.set_attribute("mlflow.message.format", "openai"));
    root.set_outputs("Sunny");
}

fn typed(value: &AnyValue) -> Value {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => json!({"s": s}),
        Some(any_value::Value::IntValue(i)) => json!({"i": i}),
        Some(any_value::Value::DoubleValue(d)) => json!({"d": d}),
        Some(any_value::Value::BoolValue(b)) => json!({"b": b}),
        Some(any_value::Value::ArrayValue(a)) => {
            json!({"a": a.values.iter().map(typed).collect::<Vec<_>>()})
        }
        other => json!({"other": format!("{other:?}")}),
    }
}

/// The attributes, typed; the trace id (which differs between two recordings) replaced.
fn attributes(span: &ProtoSpan) -> Vec<Value> {
    span.attributes
        .iter()
        .map(|kv| match kv.key.as_str() {
            "mlflow.traceRequestId" => json!([kv.key, {"s": "<trace id>"}]),
            _ => json!([kv.key, typed(kv.value.as_ref().unwrap())]),
        })
        .collect()
}

/// Records the workload in a pipeline exporting to a fresh receiver; the spans it got,
/// by start time.
fn record(genai: Option<&str>) -> Vec<ProtoSpan> {
    let receiver = Receiver::http(Tls::None, None);
    let tracing = otlp_pipeline(&receiver, genai);
    tracing.in_scope(workload);
    tracing.flush().unwrap();
    let mut spans: Vec<ProtoSpan> = receiver
        .wait_for_spans(14, Duration::from_secs(10))
        .into_iter()
        .filter_map(|r| r.request)
        .flat_map(|r| r.resource_spans)
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect();
    spans.sort_by_key(|s| s.start_time_unix_nano);
    spans
}

fn python_translation(python: &Path, spans: &[ProtoSpan]) -> Vec<Value> {
    let input: Vec<Value> = spans
        .iter()
        .map(|s| json!({"name": s.name, "attributes": attributes(s)}))
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/genai_semconv.py");
    let mut child = Command::new(python)
        .arg(script)
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "INTERNAL",
        3 => "CLIENT",
        _ => "OTHER",
    }
}

#[test]
fn spans_go_in_the_genai_conventions_exactly_as_mlflow_translates_them() {
    let Some(python) = mlflow_python() else {
        return;
    };
    let original = record(None);
    let translated = record(Some("true"));
    assert_eq!(original.len(), 14);
    assert_eq!(translated.len(), original.len());
    let expected = python_translation(&python, &original);
    for ((ours, theirs), source) in translated.iter().zip(&expected).zip(&original) {
        let context = format!("span {:?}", source.name);
        assert_eq!(json!(ours.name), theirs["name"], "{context}: name");
        assert_eq!(kind_name(ours.kind), theirs["kind"], "{context}: kind");
        let ours = attributes(ours);
        let theirs = theirs["attributes"].as_array().unwrap();
        // Attribute by attribute, then the order too.
        for attribute in theirs {
            assert!(
                ours.contains(attribute),
                "{context}: MLflow has {attribute}, we have {ours:#?}"
            );
        }
        for attribute in &ours {
            assert!(
                theirs.contains(attribute),
                "{context}: we have {attribute}, MLflow does not: {theirs:#?}"
            );
        }
        assert_eq!(&ours, theirs, "{context}: order");
    }

    // What the translation gives, spelled out for the main cases.
    let by_name = |name: &str| {
        translated
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name:?}"))
    };
    let chat = attributes(by_name("chat gpt-4o-mini"));
    for expected in [
        json!(["gen_ai.operation.name", {"s": "chat"}]),
        json!(["gen_ai.request.model", {"s": "gpt-4o-mini"}]),
        json!(["gen_ai.provider.name", {"s": "openai"}]),
        json!(["gen_ai.usage.input_tokens", {"i": 12}]),
        json!(["gen_ai.response.finish_reasons", {"a": [{"s": "stop"}]}]),
        json!(["app.env", {"s": "test"}]),
    ] {
        assert!(chat.contains(&expected), "{expected} in {chat:#?}");
    }
    assert!(
        chat.iter()
            .all(|a| !a[0].as_str().unwrap().starts_with("mlflow.")),
        "MLflow's own attributes are dropped: {chat:#?}"
    );
    let tool = attributes(by_name("execute_tool get_weather"));
    assert!(
        tool.contains(
            &json!(["gen_ai.tool.call.arguments", {"s": "{\"city\": \"Paris \\u00e9\"}"}])
        )
    );
    // The root of the tagged trace is delivered, with its tags (MLflow 3.17 loses it).
    let root = attributes(by_name("invoke_agent planner"));
    assert!(
        root.contains(&json!(["mlflow.traceTag.team", {"s": "search"}])),
        "{root:#?}"
    );
    assert!(root.contains(&json!(["gen_ai.agent.name", {"s": "planner"}])));
    // A span MLflow's translation fails on goes unchanged.
    let untranslatable = by_name("untranslatable");
    assert!(attributes(untranslatable)[0][0] == "mlflow.traceRequestId");
}
