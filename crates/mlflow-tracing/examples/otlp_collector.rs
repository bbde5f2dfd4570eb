//! Traces to an OpenTelemetry collector over OTLP, in OpenTelemetry's GenAI semantic
//! conventions (`MLFLOW_ENABLE_OTEL_GENAI_SEMCONV`, here set in code) for backends that
//! read those: an agent whose LLM and tool spans arrive as `chat gpt-4o-mini` and
//! `execute_tool search` with `gen_ai.*` attributes.
//!
//! Run against a collector (protobuf over HTTP, port 4318):
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://localhost:4318/v1/traces cargo run --example otlp_collector`.
//! Without one, it starts a stand-in collector and prints what it received.

#[path = "support/stand_in_collector.rs"]
mod stand_in_collector;

use mlflow_tracing::{Protocol, SpanType, Tracing, start_span, trace};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use serde_json::json;

#[trace(span_type = "TOOL")]
fn search(query: &str) -> Vec<String> {
    vec![format!("MLflow is an open source platform ({query})")]
}

fn chat(question: &str, context: &[String]) -> String {
    let span = start_span("chat").span_type(SpanType::ChatModel).start();
    span.set_inputs(json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Answer from the context."},
            {"role": "user", "content": format!("{question}\n\n{}", context.join("\n"))}
        ],
        "temperature": 0.2
    }));
    span.set_attribute("mlflow.llm.model", "gpt-4o-mini");
    span.set_attribute("mlflow.llm.provider", "openai");
    span.set_attribute("mlflow.message.format", "openai");
    span.set_attribute(
        "mlflow.chat.tokenUsage",
        json!({"input_tokens": 31, "output_tokens": 9, "total_tokens": 40}),
    );
    let answer = "An open source platform for the ML lifecycle.".to_owned();
    span.set_outputs(json!({
        "id": "chatcmpl-1",
        "choices": [{"message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]
    }));
    answer
}

/// An OTLP attribute value as text.
fn shown(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(|v| shown(Some(v))).collect();
            format!("[{}]", items.join(", "))
        }
        other => format!("{other:?}"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (endpoint, stand_in) = stand_in_collector::endpoint();
    let tracing = Tracing::builder()
        .otlp_endpoint(endpoint)
        .otlp_protocol(Protocol::HttpProtobuf)
        .otlp_genai_semconv(true)
        .build()?;
    tracing.in_scope(|| {
        let agent = start_span("assistant").span_type(SpanType::Agent).start();
        agent.set_inputs(json!({"question": "What is MLflow?"}));
        let docs = search("MLflow");
        agent.set_outputs(chat("What is MLflow?", &docs));
    });
    tracing.flush_async().await?;

    let Some(stand_in) = stand_in else {
        return Ok(());
    };
    let spans = stand_in.spans();
    for span in &spans {
        println!("{}", span.name);
        for kv in span
            .attributes
            .iter()
            .filter(|kv| kv.key.starts_with("gen_ai."))
        {
            println!("  {} = {}", kv.key, shown(kv.value.as_ref()));
        }
    }
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "invoke_agent assistant",
        "execute_tool search",
        "chat gpt-4o-mini",
    ] {
        if !names.contains(&expected) {
            return Err(format!("the collector did not get {expected:?}: {names:?}").into());
        }
    }
    Ok(())
}
