//! A span hook that masks e-mail addresses before any trace leaves the process: in every
//! span's inputs, outputs and string attributes, and in its events (an exception message
//! can quote the input). MLflow's `mlflow.tracing.configure(span_processors=[...])`.
//!
//! Run: `cargo run --example mask_emails`, then `mlflow-trace traces show <id>` (or open
//! `./mlflow.db` in MLflow's UI): the addresses read `[EMAIL]`.

use mlflow_tracing::hooks::HookSpan;
use mlflow_tracing::{Tracing, trace};
use serde_json::{Value, json};

/// Replaces every e-mail address in `text` with `[EMAIL]`: a run of address characters,
/// an `@`, and a domain with at least one dot.
fn mask_emails(text: &str) -> String {
    let is_local = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let is_domain = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            let local = out.chars().rev().take_while(|c| is_local(*c)).count();
            let domain = chars[i + 1..].iter().take_while(|c| is_domain(**c)).count();
            let domain_text: String = chars[i + 1..i + 1 + domain].iter().collect();
            let domain_text = domain_text.trim_end_matches('.');
            if local > 0 && domain_text.contains('.') && !domain_text.starts_with('.') {
                let keep = out.chars().count() - local;
                out = out.chars().take(keep).collect();
                out.push_str("[EMAIL]");
                i += 1 + domain_text.chars().count();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Masks every string inside a JSON value.
fn mask_json(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(mask_emails(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(mask_json).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, mask_json(v))).collect())
        }
        other => other,
    }
}

/// The hook: every attribute (inputs and outputs included) and every event string.
fn mask_span(span: &mut HookSpan<'_>) {
    for key in span.attribute_keys() {
        if let Some(value) = span.attribute(&key) {
            let masked = mask_json(value.clone());
            if masked != value {
                span.set_attribute(&key, masked);
            }
        }
    }
    span.rewrite_event_strings(|_, _, value| mask_emails(value));
}

#[trace(span_type = "TOOL")]
fn lookup_customer(email: &str) -> Result<Value, std::io::Error> {
    Ok(json!({"name": "Ada", "email": email, "plan": "pro"}))
}

#[trace(span_type = "TOOL")]
fn send_mail(to: &str) -> Result<(), std::io::Error> {
    Err(std::io::Error::other(format!("mailbox {to} is full")))
}

#[trace(span_type = "AGENT")]
fn support_agent(message: &str) -> String {
    let customer = lookup_customer("ada@example.com").ok();
    let _ = send_mail("ada@example.com");
    format!("Replied to {message:?} for {customer:?}")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _guard = Tracing::builder().span_hook(mask_span).install()?;
    println!(
        "{}",
        support_agent("Hi, I am ada@example.com, cc bob.smith+ml@corp.example.org")
    );
    let id = mlflow_tracing::get_last_active_trace_id().unwrap_or_default();
    mlflow_tracing::flush()?;
    println!("trace: {id}");
    let trace = Tracing::builder().reader()?.get_trace(&id)?;
    if let Some(trace) = trace {
        for span in trace.spans() {
            println!(
                "{}: inputs {}",
                span.name(),
                span.inputs().unwrap_or_default()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::mask_emails;

    #[test]
    fn addresses_are_masked_and_the_rest_kept() {
        assert_eq!(
            mask_emails("write to ada@example.com. Or bob.smith+ml@corp.example.org!"),
            "write to [EMAIL]. Or [EMAIL]!"
        );
        assert_eq!(mask_emails("@home, a@b, x@y.z"), "@home, a@b, [EMAIL]");
    }
}
