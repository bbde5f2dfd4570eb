//! An LLM agent traced only through `tracing`, with the fields LLM crates put on their
//! spans, lands in MLflow as AGENT, CHAT_MODEL and TOOL spans with token usage and cost,
//! through the `tracing` bridge and MLflow's translation of the GenAI conventions.
//!
//! The model is a stand-in: an OpenAI-compatible chat completions server started in this
//! process on 127.0.0.1 (no network; `mlflow_tracing_test_support::StandInModel`, which
//! `examples/rig-agent` runs against too). Each completion span is the one rig-core 0.44
//! records (`rig_core::telemetry`, `__rig_canonical_completion_span!` and
//! `new_completion_span!` in `src/telemetry/mod.rs`: target `rig::completions`, name
//! `chat`, the request's fields when it starts, the response's recorded when it arrives).
//! The agent and tool spans use the GenAI conventions' names (`invoke_agent`,
//! `execute_tool`) as agent frameworks record them.
//!
//! This emulates rig so that it builds with the SDK's minimum Rust (1.89); rig-core 0.44
//! needs 1.95. The real rig agent (rig-core and rig-agent 0.44, whose own `invoke_agent`,
//! `chat` and `execute_tool` spans land in MLflow) is the workspace member
//! `examples/rig-agent`: `cargo run -p rig-agent-example`.
//!
//! Run: `cargo run --example tracing_agent`, then `mlflow ui` (or `scripts/mlflow-ui.sh`)
//! on `./mlflow.db`.

use std::error::Error;
use std::io::{Read, Write};
use std::net::TcpStream;

use mlflow_tracing::bridge::MlflowLayer;
use mlflow_tracing_test_support::StandInModel;
use serde_json::{Value, json};
use tracing::field::Empty;
use tracing_subscriber::prelude::*;

const MODEL: &str = "gpt-4o-mini";

fn main() -> Result<(), Box<dyn Error>> {
    let _guard = mlflow_tracing::init()?; // flushes on drop
    // The default filter records spans with GenAI fields, whatever their target.
    tracing_subscriber::registry()
        .with(MlflowLayer::new())
        .init();

    let server = StandInModel::start()?;
    let answer = run_agent(&server, "What's the weather in Zürich?")?;
    println!("{answer}");
    println!(
        "trace: {}",
        mlflow_tracing::get_last_active_trace_id().unwrap_or_default()
    );
    Ok(())
}

/// The agent loop: ask the model, run the tools it calls, ask again with their results.
fn run_agent(model: &StandInModel, question: &str) -> Result<String, Box<dyn Error>> {
    let span = tracing::info_span!(
        "invoke_agent weather-bot",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = "weather-bot",
        gen_ai.input.messages = %json!([{"role": "user", "parts": [{"type": "text", "content": question}]}]),
        gen_ai.output.messages = Empty,
    );
    let _entered = span.enter();
    let mut messages = vec![
        json!({"role": "system", "content": "You answer questions about the weather."}),
        json!({"role": "user", "content": question}),
    ];
    loop {
        let reply = chat(model, &messages)?;
        let message = reply["choices"][0]["message"].clone();
        messages.push(message.clone());
        let Some(calls) = message["tool_calls"].as_array().filter(|c| !c.is_empty()) else {
            let answer = message["content"].as_str().unwrap_or_default().to_owned();
            span.record(
                "gen_ai.output.messages",
                tracing::field::display(
                    json!([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]),
                ),
            );
            return Ok(answer);
        };
        for call in calls {
            let result = execute_tool(call)?;
            messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": result}));
        }
    }
}

/// A tool call, as a span of the GenAI conventions.
fn execute_tool(call: &Value) -> Result<String, Box<dyn Error>> {
    let name = call["function"]["name"].as_str().unwrap_or_default();
    let arguments = call["function"]["arguments"].as_str().unwrap_or("{}");
    let span = tracing::info_span!(
        "execute_tool",
        otel.name = %format!("execute_tool {name}"),
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = name,
        gen_ai.tool.call.id = call["id"].as_str().unwrap_or_default(),
        gen_ai.tool.call.arguments = arguments,
        gen_ai.tool.call.result = Empty,
    );
    let _entered = span.enter();
    let city: Value = serde_json::from_str(arguments)?;
    let result = json!({"city": city["city"], "temperature_c": 21, "sky": "clear"}).to_string();
    span.record("gen_ai.tool.call.result", result.as_str());
    Ok(result)
}

/// One completion, traced as rig-core 0.44 traces it.
fn chat(model: &StandInModel, messages: &[Value]) -> Result<Value, Box<dyn Error>> {
    let span = tracing::info_span!(
        target: "rig::completions",
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = MODEL,
        gen_ai.system_instructions = Empty,
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
        tracing::field::display(semconv_messages(messages)),
    );
    let reply = complete(
        model,
        &json!({"model": MODEL, "messages": messages, "tools": tools()}),
    )?;
    span.record(
        "gen_ai.response.id",
        reply["id"].as_str().unwrap_or_default(),
    );
    span.record(
        "gen_ai.response.model",
        reply["model"].as_str().unwrap_or_default(),
    );
    span.record(
        "gen_ai.usage.input_tokens",
        reply["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
    );
    span.record(
        "gen_ai.usage.output_tokens",
        reply["usage"]["completion_tokens"].as_u64().unwrap_or(0),
    );
    let message = &reply["choices"][0]["message"];
    span.record(
        "gen_ai.output.messages",
        tracing::field::display(semconv_messages(std::slice::from_ref(message))),
    );
    Ok(reply)
}

/// Chat messages in the GenAI conventions' shape (`role` and `parts`), as rig records them.
fn semconv_messages(messages: &[Value]) -> Value {
    let parts = |m: &Value| -> Vec<Value> {
        let mut parts = Vec::new();
        if let Some(text) = m["content"].as_str() {
            let kind = if m["role"] == "tool" {
                "tool_call_response"
            } else {
                "text"
            };
            parts.push(json!({"type": kind, "content": text}));
        }
        for call in m["tool_calls"].as_array().into_iter().flatten() {
            let arguments: Value =
                serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or("{}"))
                    .unwrap_or(Value::Null);
            parts.push(json!({"type": "tool_call", "id": call["id"],
                "name": call["function"]["name"], "arguments": arguments}));
        }
        parts
    };
    messages
        .iter()
        .map(|m| json!({"role": m["role"], "parts": parts(m)}))
        .collect()
}

fn tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
}

/// `POST /v1/chat/completions` to the stand-in model.
fn complete(model: &StandInModel, request: &Value) -> Result<Value, Box<dyn Error>> {
    let body = request.to_string();
    let mut stream = TcpStream::connect(model.address())?;
    write!(
        stream,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        model.address(),
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("a response without a body")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("the model answered {head}").into());
    }
    Ok(serde_json::from_str(body)?)
}
