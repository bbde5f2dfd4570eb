//! A real rig agent (rig-core and rig-agent 0.44) whose own `tracing` spans land in MLflow
//! through the `tracing` bridge: rig's `invoke_agent` span as an AGENT span, each model
//! turn (`chat`, target `rig::agent_chat`, which rig-core's completion instrumentation
//! fills in) as a CHAT_MODEL span with its messages, token usage and cost, each tool call
//! (`execute_tool`) as a TOOL span with its arguments and result. The spans carry the
//! GenAI conventions' `gen_ai.*` fields, which MLflow translates.
//!
//! The model is a stand-in: an OpenAI-compatible chat completions server started in this
//! process on 127.0.0.1 (no network, no real API key), which first asks for the
//! `get_weather` tool and then answers. rig talks to it through its own OpenAI provider
//! (Chat Completions) and HTTP client.
//!
//! rig adopts the `tracing` span current when a run starts as its agent span, and starts
//! `invoke_agent` as the root of a trace of its own (`parent: None`) when there is none. So
//! a run inside a span of this SDK alone (`start_span`, `#[trace]`) would be a separate
//! trace: with `--in-span`, the run is part of the application's `#[trace]` function
//! `answer`, inside a `tracing` span shaped as rig's own `invoke_agent`, which rig adopts.
//!
//! Run: `cargo run -p rig-agent-example [-- --in-span]`, then `mlflow ui` (or
//! `scripts/mlflow-ui.sh`) on `./mlflow.db`. rig-core 0.44 needs Rust 1.95, newer than the
//! SDK's minimum (1.89), which is why this example is a workspace member of its own.

use std::error::Error;

use mlflow_tracing::bridge::MlflowLayer;
use mlflow_tracing::trace;
use rig_agent::completion::PromptError;
use rig_agent::{Agent, AgentBuilder};
use rig_core::providers::openai::OpenAIConfig;
use rig_core::tool::{Tool, ToolContext};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_subscriber::prelude::*;

use mlflow_tracing_test_support::StandInModel;

/// The model the agent asks for; the stand-in answers as its dated snapshot.
const MODEL: &str = "gpt-4o-mini";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let _guard = mlflow_tracing::init()?; // flushes on drop
    // The default filter records spans with GenAI fields, whatever their target: rig's.
    tracing_subscriber::registry()
        .with(MlflowLayer::new())
        .init();

    let model = StandInModel::start()?;
    let openai = OpenAIConfig::new("stand-in-key")
        .with_base_url(model.base_url())
        .client();
    let agent = AgentBuilder::new(openai.chat(MODEL))
        .name("weather-bot")
        .preamble("You answer questions about the weather.")
        .tool(GetWeather)
        // rig records messages, tool arguments and results on its spans only when asked.
        .record_content_telemetry(true)
        .build();

    let question = "What's the weather in Zürich?";
    let answer = if std::env::args().any(|arg| arg == "--in-span") {
        self::answer(&agent, question).await?
    } else {
        agent
            .prompt(question)
            .max_turns(3)
            .await?
            .output()
            .to_owned()
    };
    println!("{answer}");
    println!(
        "trace: {}",
        mlflow_tracing::get_last_active_trace_id().unwrap_or_default()
    );
    Ok(())
}

/// The application's own function, traced with this SDK, running the agent inside a
/// `tracing` span that rig adopts as its agent span (rig records the prompt on it, and
/// leaves the answer and the run's usage to the caller's span) and the bridge records as
/// the function's child.
#[trace(span_type = "CHAIN", skip(agent))]
async fn answer(agent: &Agent, question: &str) -> Result<String, PromptError> {
    let span = tracing::info_span!(
        "invoke_agent",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = "weather-bot",
        gen_ai.prompt = Empty,
    );
    let response = async { agent.prompt(question).max_turns(3).await }
        .instrument(span)
        .await?;
    Ok(response.output().to_owned())
}

/// The `get_weather` tool, as rig's [`Tool`].
struct GetWeather;

/// The arguments the model sends to `get_weather`.
#[derive(Debug, Deserialize)]
struct WeatherArgs {
    city: String,
}

/// What `get_weather` answers.
#[derive(Debug, Serialize)]
struct Weather {
    city: String,
    temperature_c: i32,
    sky: &'static str,
}

/// `get_weather` cannot fail; rig asks for an error type all the same.
#[derive(Debug)]
enum WeatherError {}

impl std::fmt::Display for WeatherError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl Error for WeatherError {}

impl Tool for GetWeather {
    const NAME: &'static str = "get_weather";
    type Args = WeatherArgs;
    type Output = Weather;
    type Error = WeatherError;

    fn description(&self) -> String {
        "The current weather in a city.".to_owned()
    }

    fn parameters(&self) -> serde_json::Value {
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    }

    async fn call(&self, _: &mut ToolContext, args: WeatherArgs) -> Result<Weather, WeatherError> {
        Ok(forecast(&args.city))
    }
}

/// The weather service the tool asks, traced with this SDK: its span is a child of rig's
/// `execute_tool` span, since a recorded `tracing` span is MLflow's current span while it
/// is entered.
#[trace(span_type = "RETRIEVER")]
fn forecast(city: &str) -> Weather {
    Weather {
        city: city.to_owned(),
        temperature_c: 21,
        sky: "clear",
    }
}
