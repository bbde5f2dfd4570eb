//! Spans without the attribute: guards, closures, detached spans with an explicit parent,
//! work on other threads, errors.
//!
//! Run: `cargo run --example manual_spans`.

use std::thread;

use mlflow_tracing::{SpanStatus, SpanType, TraceContext, start_span};
use serde_json::json;

#[derive(Debug)]
struct RateLimited;

impl std::fmt::Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rate limited, retry later")
    }
}

impl std::error::Error for RateLimited {}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _guard = mlflow_tracing::init()?;

    let agent = start_span("agent").span_type(SpanType::Agent).start();
    agent.set_inputs(json!({"task": "summarize the docs"}));

    // A closure inside a span.
    let plan = start_span("plan")
        .span_type(SpanType::Chain)
        .in_scope(|span| {
            span.set_outputs(json!(["fetch", "summarize"]));
            vec!["fetch", "summarize"]
        });

    // Work on other threads continues the trace through a TraceContext.
    let cx = TraceContext::current();
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let cx = cx.clone();
            thread::spawn(move || {
                let _attached = cx.attach();
                let fetch = start_span(format!("fetch-{i}"))
                    .span_type(SpanType::Retriever)
                    .start();
                fetch.set_inputs(json!({"page": i}));
                fetch.set_outputs(json!({"chars": 1000 * (i + 1)}));
            })
        })
        .collect();
    for handle in handles {
        handle.join().map_err(|_| "a worker panicked")?;
    }

    // A detached span with an explicit parent: started and ended by hand.
    let call = start_span("llm-call")
        .parent(&agent)
        .span_type(SpanType::Llm)
        .start_detached();
    call.set_attribute(
        mlflow_tracing::keys::span::CHAT_USAGE,
        json!({"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}),
    );
    call.record_exception(&RateLimited);
    call.end();

    agent.set_outputs(json!({"plan": plan, "status": "partial"}));
    agent.set_status(SpanStatus::ok());
    println!("trace: {}", agent.trace_id().unwrap_or("(not recorded)"));
    Ok(())
}
