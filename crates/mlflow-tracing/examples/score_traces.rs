//! An evaluation loop in Rust: record a few answers, find them with MLflow's search filter,
//! score each with a check written in code, and log the scores as feedback (with the
//! expected answer as an expectation), as `mlflow.log_feedback` does. The scores appear in
//! MLflow's UI (the trace's Assessments) and through `mlflow.get_trace`.
//!
//! Run: `cargo run --example score_traces`, then open `./mlflow.db` in MLflow's UI.

use mlflow_tracing::{
    AssessmentSource, Expectation, Feedback, SpanType, TraceSearch, Tracing, start_span,
};
use serde_json::json;

fn answer(question: &str) -> String {
    match question {
        "What is MLflow?" => "MLflow is an open source platform for the ML lifecycle.".into(),
        _ => "I do not know.".into(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tracing = Tracing::builder().build()?;
    let cases = [
        ("What is MLflow?", "open source"),
        ("What is a trace?", "spans"),
    ];
    tracing.in_scope(|| {
        for (question, _) in cases {
            let span = start_span("qa").span_type(SpanType::Chain).start();
            span.set_inputs(json!({"question": question}));
            span.set_outputs(json!({"answer": answer(question)}));
        }
    });
    tracing.flush()?;

    let reader = Tracing::builder().reader()?;
    let recorded = reader.search_traces(
        &TraceSearch::new()
            .filter("name = 'qa' AND attributes.status = 'OK'")
            .max_results(cases.len()),
    )?;
    for summary in recorded {
        let trace_id = summary.info().trace_id().to_owned();
        let Some(trace) = reader.get_trace(&trace_id)? else {
            continue;
        };
        let Some(root) = trace.root_span() else {
            continue;
        };
        let inputs = root.inputs().unwrap_or_default();
        let outputs = root.outputs().unwrap_or_default();
        let question = inputs["question"].as_str().unwrap_or_default();
        let response = outputs["answer"].as_str().unwrap_or_default();
        let Some((_, expected)) = cases.iter().find(|(q, _)| *q == question) else {
            continue;
        };
        let correct = response.contains(expected);
        reader.log_expectation(&trace_id, Expectation::new("expected_fact", *expected))?;
        let logged = reader.log_feedback(
            &trace_id,
            Feedback::new("contains_expected_fact", correct)
                .rationale(format!(
                    "the answer {} {expected:?}",
                    if correct {
                        "mentions"
                    } else {
                        "does not mention"
                    }
                ))
                .source(AssessmentSource::code("score_traces")),
        )?;
        println!(
            "{trace_id}: {question} → {correct} ({})",
            logged.assessment_id()
        );
    }
    Ok(())
}
