//! Text rendering of traces: a table of traces and one trace as a tree.

use std::fmt::Write as _;

use mlflow_tracing::{Span, StatusCode, Trace};
use serde_json::Value;

/// How much of each span to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Inputs and outputs cut to one line.
    Summary,
    /// Everything, in full.
    Full,
}

const LINE: usize = 100;

pub(crate) fn millis(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

/// `s` made safe for a terminal: control characters (C0, DEL, C1, so no escape sequence,
/// carriage return or line feed from a trace reaches the terminal) and the characters
/// that reorder text (bidirectional controls) are shown as `\u{…}` escapes (`\n`, `\r`,
/// `\t` for the common ones).
pub(crate) fn safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_bidi_control(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters that change the direction of the text around them.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Cuts `s` (made [`safe`]) to `max` characters, with `…` when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    let one_line = safe(s);
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut out: String = one_line.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn json_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The trace as an indented tree: type, duration, status, inputs/outputs, events.
pub(crate) fn trace_tree(trace: &Trace, detail: Detail) -> String {
    let info = trace.info();
    let mut out = String::new();
    let duration = info
        .execution_duration_ms()
        .map_or("?".to_owned(), |ms| format!("{ms} ms"));
    let _ = writeln!(
        out,
        "{} \"{}\" {} {duration} ({} spans)",
        safe(info.trace_id()),
        safe(info.name().unwrap_or("")),
        info.state(),
        trace.spans().len()
    );
    let tags: Vec<String> = info
        .tags()
        .iter()
        .filter(|(k, _)| !k.starts_with("mlflow."))
        .map(|(k, v)| format!("{}={}", safe(k), safe(v)))
        .collect();
    if !tags.is_empty() {
        let _ = writeln!(out, "  tags: {}", tags.join(", "));
    }
    let metadata: Vec<String> = info
        .metadata()
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("mlflow.")
                || matches!(k.as_str(), "mlflow.trace.session" | "mlflow.trace.user")
        })
        .map(|(k, v)| format!("{}={}", safe(k), safe(v)))
        .collect();
    if !metadata.is_empty() {
        let _ = writeln!(out, "  metadata: {}", metadata.join(", "));
    }
    if let Some(usage) = info.metadata().get("mlflow.trace.tokenUsage") {
        let _ = writeln!(out, "  token usage: {}", safe(usage));
    }
    let mut roots: Vec<&Span> = trace
        .spans()
        .iter()
        .filter(|s| {
            s.parent_id()
                .is_none_or(|p| !trace.spans().iter().any(|o| o.span_id() == p))
        })
        .collect();
    roots.sort_by_key(|s| s.start_time_ns());
    let count = roots.len();
    for (i, root) in roots.into_iter().enumerate() {
        span_node(trace, root, "", i + 1 == count, detail, &mut out);
    }
    out
}

fn span_node(
    trace: &Trace,
    span: &Span,
    prefix: &str,
    last: bool,
    detail: Detail,
    out: &mut String,
) {
    let branch = if last { "└─ " } else { "├─ " };
    let status = match span.status().code() {
        StatusCode::Error if !span.status().description().is_empty() => {
            format!("ERROR ({})", safe(span.status().description()))
        }
        code => code.to_string(),
    };
    let _ = writeln!(
        out,
        "{prefix}{branch}{} [{}] {status} {}",
        safe(span.name()),
        safe(&span.span_type().to_string()),
        millis(span.duration_ns())
    );
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    let field = |label: &str, value: Option<Value>, out: &mut String| {
        if let Some(value) = value {
            let text = json_text(&value);
            let text = match detail {
                Detail::Summary => cut(&text, LINE),
                Detail::Full => safe(&text),
            };
            let _ = writeln!(out, "{child_prefix}  {label}: {text}");
        }
    };
    field("inputs", span.inputs(), out);
    field("outputs", span.outputs(), out);
    if let Some(usage) = span.attribute("mlflow.chat.tokenUsage") {
        let _ = writeln!(
            out,
            "{child_prefix}  token usage: {}",
            safe(&json_text(&usage))
        );
    }
    if detail == Detail::Full {
        for kv in span.attributes() {
            let key = kv.key.as_str();
            if !key.starts_with("mlflow.") {
                let shown = span.attribute(key).unwrap_or(Value::Null);
                let _ = writeln!(
                    out,
                    "{child_prefix}  attribute {}: {}",
                    safe(key),
                    safe(&json_text(&shown))
                );
            }
        }
    }
    for event in span.events() {
        let text = match (
            event.attribute("exception.type"),
            event.attribute("exception.message"),
        ) {
            (Some(Value::String(t)), Some(Value::String(m))) => format!("{t}: {m}"),
            _ => json_text(&Value::Object(
                event
                    .attributes()
                    .iter()
                    .map(|kv| {
                        (
                            kv.key.to_string(),
                            event.attribute(kv.key.as_str()).unwrap_or(Value::Null),
                        )
                    })
                    .collect(),
            )),
        };
        let text = if detail == Detail::Summary {
            cut(&text, LINE)
        } else {
            safe(&text)
        };
        let _ = writeln!(out, "{child_prefix}  event {}: {text}", safe(event.name()));
        if detail == Detail::Full
            && let Some(Value::String(stack)) = event.attribute("exception.stacktrace")
        {
            for line in stack.lines() {
                let _ = writeln!(out, "{child_prefix}    {}", safe(line));
            }
        }
    }
    let children = trace.children(span);
    let count = children.len();
    for (i, child) in children.into_iter().enumerate() {
        span_node(trace, child, &child_prefix, i + 1 == count, detail, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_from_a_trace_reaches_the_terminal_raw() {
        assert_eq!(safe("plain café"), "plain café");
        assert_eq!(
            safe("a\u{1b}[31mred\r\nline\u{0}\u{7f}\u{9b}"),
            "a\\u{001b}[31mred\\r\\nline\\u{0000}\\u{007f}\\u{009b}"
        );
        assert_eq!(safe("abc\u{202e}cba"), "abc\\u{202e}cba");
        assert_eq!(cut("\u{1b}]0;title\u{7}", 40), "\\u{001b}]0;title\\u{0007}");
    }
}
