//! Spans that describe themselves with OpenTelemetry's GenAI semantic conventions
//! (`gen_ai.*` attributes), as rig, genai and other Rust LLM crates record them, and no
//! MLflow attribute at all. MLflow's store turns them into typed spans with inputs,
//! outputs, token usage, the model and its cost; so does the local store here, and each
//! span is priced for every destination. One model gets a price set in code.
//!
//! Run: `cargo run --example genai_spans`, then `mlflow ui` (or `scripts/mlflow-ui.sh`).

use mlflow_tracing::{ModelPrice, Tracing, start_span};
use opentelemetry::KeyValue;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tracing = Tracing::builder()
        // A fine-tuned model the catalog MLflow ships does not know.
        .model_price(ModelPrice::new("acme-support-7b", 0.20, 0.60))
        .build()?;
    let _default = tracing.set_default();

    let question = "Quel temps fait-il à Zürich ?";
    let agent = start_span("invoke_agent weather-bot").start();
    agent.set_otel_attribute(KeyValue::new("gen_ai.operation.name", "invoke_agent"));
    agent.set_otel_attribute(KeyValue::new("gen_ai.agent.name", "weather-bot"));
    agent.set_otel_attribute(KeyValue::new("gen_ai.conversation.id", "conversation-42"));
    agent.set_otel_attribute(KeyValue::new(
        "gen_ai.input.messages",
        serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": question}]}])
            .to_string(),
    ));
    {
        let chat = start_span("chat gpt-4o-mini").start();
        for kv in [
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "openai"),
            KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
            KeyValue::new("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
            KeyValue::new("gen_ai.usage.input_tokens", 182),
            KeyValue::new("gen_ai.usage.output_tokens", 24),
        ] {
            chat.set_otel_attribute(kv);
        }
        chat.set_otel_attribute(KeyValue::new(
            "gen_ai.input.messages",
            serde_json::json!([
                {"role": "system", "parts": [{"type": "text", "content": "You answer questions about the weather."}]},
                {"role": "user", "parts": [{"type": "text", "content": question}]},
            ])
            .to_string(),
        ));
        chat.set_otel_attribute(KeyValue::new(
            "gen_ai.output.messages",
            serde_json::json!([{"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1",
                "name": "get_weather", "arguments": {"city": "Zürich"}}], "finish_reason": "tool_call"}])
            .to_string(),
        ));
    }
    {
        let tool = start_span("execute_tool get_weather").start();
        tool.set_otel_attribute(KeyValue::new("gen_ai.operation.name", "execute_tool"));
        tool.set_otel_attribute(KeyValue::new("gen_ai.tool.name", "get_weather"));
        tool.set_otel_attribute(KeyValue::new(
            "gen_ai.tool.call.arguments",
            r#"{"city": "Zürich"}"#,
        ));
        tool.set_otel_attribute(KeyValue::new(
            "gen_ai.tool.call.result",
            r#"{"temperature_c": 21, "sky": "clear"}"#,
        ));
    }
    let answer = "Il fait 21 °C et le ciel est dégagé à Zürich.";
    {
        let chat = start_span("chat acme-support-7b").start();
        for kv in [
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "acme"),
            KeyValue::new("gen_ai.request.model", "acme-support-7b"),
            KeyValue::new("gen_ai.usage.input_tokens", 240),
            KeyValue::new("gen_ai.usage.output_tokens", 31),
        ] {
            chat.set_otel_attribute(kv);
        }
        chat.set_otel_attribute(KeyValue::new(
            "gen_ai.output.messages",
            serde_json::json!([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}])
                .to_string(),
        ));
    }
    agent.set_otel_attribute(KeyValue::new(
        "gen_ai.output.messages",
        serde_json::json!([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}])
            .to_string(),
    ));
    let trace_id = agent.trace_id().unwrap_or_default().to_owned();
    drop(agent);

    tracing.flush()?;
    println!("{trace_id}");
    Ok(())
}
