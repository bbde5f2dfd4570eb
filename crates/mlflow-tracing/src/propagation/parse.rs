//! W3C Trace Context values: `traceparent` parsed and formatted, `tracestate` parsed.

use std::fmt;
use std::str::FromStr;

use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

/// At most this many `tracestate` entries (W3C).
const MAX_TRACESTATE_ENTRIES: usize = 32;
/// The length of a version `00` `traceparent`.
const V00_LEN: usize = 55;
/// How much of a bad value an error shows.
const SHOWN_CHARS: usize = 80;

/// Why incoming trace context was not used. The request is then traced as a new trace
/// (or, with [`tower`](crate::propagation::tower), the reason is reported once in a while).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidTraceContext {
    /// There is no `traceparent` header.
    Missing,
    /// The `traceparent` header is not valid W3C trace context.
    Malformed {
        /// The value (its first 80 characters).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for InvalidTraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidTraceContext::Missing => f.write_str("no traceparent header"),
            InvalidTraceContext::Malformed { value, reason } => write!(
                f,
                "invalid traceparent {value:?}: {reason} (W3C Trace Context accepts \
                 <version>-<trace id: 32 lower-case hex digits>-<parent id: 16 lower-case hex \
                 digits>-<flags: 2 hex digits>, version 00 to fe, ids not all zeros)"
            ),
        }
    }
}

impl std::error::Error for InvalidTraceContext {}

fn malformed(value: &str, reason: &'static str) -> InvalidTraceContext {
    InvalidTraceContext::Malformed {
        value: value.chars().take(SHOWN_CHARS).collect(),
        reason,
    }
}

/// Lower-case hex digits only, as W3C requires.
fn lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses `traceparent` as the W3C rules say (leading and trailing spaces, which HTTP
/// strips, are ignored).
pub(super) fn parse_traceparent(
    value: &str,
) -> Result<(TraceId, SpanId, TraceFlags), InvalidTraceContext> {
    let raw = value;
    let value = value.trim_matches([' ', '\t']);
    if !value.is_ascii() {
        return Err(malformed(raw, "it is not ASCII"));
    }
    let bytes = value.as_bytes();
    if bytes.len() < 2 || !lower_hex(&value[..2]) {
        return Err(malformed(
            raw,
            "the version is not two lower-case hex digits",
        ));
    }
    let version = &value[..2];
    if version == "ff" {
        return Err(malformed(raw, "version ff is invalid"));
    }
    if version == "00" {
        if bytes.len() != V00_LEN {
            return Err(malformed(raw, "a version 00 value is 55 characters long"));
        }
    } else if bytes.len() < V00_LEN {
        return Err(malformed(raw, "it is shorter than 55 characters"));
    } else if bytes.len() > V00_LEN && bytes[V00_LEN] != b'-' {
        // A later version may append fields, each after a dash.
        return Err(malformed(raw, "fields after the flags must follow a '-'"));
    }
    let fields = &value[..V00_LEN];
    let dashes = [2, 35, 52];
    if dashes.iter().any(|&i| bytes[i] != b'-') {
        return Err(malformed(
            raw,
            "the fields are not separated by '-' where expected",
        ));
    }
    let (trace_id, span_id, flags) = (&fields[3..35], &fields[36..52], &fields[53..55]);
    if !lower_hex(trace_id) {
        return Err(malformed(
            raw,
            "the trace id is not 32 lower-case hex digits",
        ));
    }
    if !lower_hex(span_id) {
        return Err(malformed(
            raw,
            "the parent id is not 16 lower-case hex digits",
        ));
    }
    if !lower_hex(flags) {
        return Err(malformed(
            raw,
            "the flags are not two lower-case hex digits",
        ));
    }
    let trace_id = TraceId::from_hex(trace_id).unwrap_or(TraceId::INVALID);
    if trace_id == TraceId::INVALID {
        return Err(malformed(raw, "the trace id is all zeros"));
    }
    let span_id = SpanId::from_hex(span_id).unwrap_or(SpanId::INVALID);
    if span_id == SpanId::INVALID {
        return Err(malformed(raw, "the parent id is all zeros"));
    }
    let flags = u8::from_str_radix(flags, 16).unwrap_or(0);
    // Only the sampled flag is defined; other bits are not carried on (W3C: a vendor
    // must not pass on flags it does not understand).
    Ok((
        trace_id,
        span_id,
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
    ))
}

/// `00-<trace id>-<span id>-<flags>`.
pub(super) fn format_traceparent(trace_id: TraceId, span_id: SpanId, sampled: bool) -> String {
    format!(
        "00-{trace_id}-{span_id}-{}",
        if sampled { "01" } else { "00" }
    )
}

/// Parses `tracestate`; `None` when it is invalid (then dropped, as W3C says).
pub(super) fn parse_tracestate(value: &str) -> Option<TraceState> {
    let members: Vec<&str> = value
        .split(',')
        .map(|m| m.trim_matches([' ', '\t']))
        .filter(|m| !m.is_empty())
        .collect();
    if members.len() > MAX_TRACESTATE_ENTRIES {
        return None;
    }
    let mut keys = std::collections::HashSet::new();
    for member in &members {
        let key = member.split_once('=').map(|(k, _)| k)?;
        if !keys.insert(key) {
            // A key listed twice makes the whole header invalid.
            return None;
        }
    }
    TraceState::from_str(&members.join(",")).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Text weighted towards what `traceparent` and `tracestate` are made of.
    fn header_text() -> impl Strategy<Value = String> {
        let c = prop_oneof![
            Just('-'),
            Just('0'),
            Just('f'),
            Just(','),
            Just('='),
            Just(' '),
            proptest::char::range('a', 'f'),
            proptest::char::range('0', '9'),
            any::<char>(),
        ];
        proptest::collection::vec(c, 0..80).prop_map(|c| c.into_iter().collect())
    }

    proptest! {
        /// Incoming headers are untrusted: whatever they hold, they are parsed or refused
        /// with a reason, never a panic; what is accepted formats back as version 00.
        #[test]
        fn any_header_is_parsed_or_refused(value in header_text(), state in header_text()) {
            if let Ok((trace, span, flags)) = parse_traceparent(&value) {
                prop_assert!(trace != TraceId::INVALID && span != SpanId::INVALID);
                let formatted = format_traceparent(trace, span, flags.is_sampled());
                prop_assert_eq!(parse_traceparent(&formatted).ok(), Some((trace, span, flags)));
            }
            let _ = parse_tracestate(&state);
        }

        #[test]
        fn every_valid_context_round_trips(trace in 1u128.., span in 1u64.., sampled: bool) {
            let (trace, span) = (TraceId::from(trace), SpanId::from(span));
            let value = format_traceparent(trace, span, sampled);
            let (t, s, flags) = parse_traceparent(&value).expect("valid");
            prop_assert_eq!((t, s, flags.is_sampled()), (trace, span, sampled));
        }
    }

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn reason(value: &str) -> &'static str {
        match parse_traceparent(value) {
            Err(InvalidTraceContext::Malformed { reason, .. }) => reason,
            other => panic!("{value:?} parsed: {other:?}"),
        }
    }

    #[test]
    fn parses_a_version_00_value() {
        let (trace, span, flags) = parse_traceparent(VALID).expect("valid");
        assert_eq!(trace.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span.to_string(), "00f067aa0ba902b7");
        assert!(flags.is_sampled());
        let (.., flags) =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
                .expect("valid");
        assert!(!flags.is_sampled());
        // Undefined flag bits are dropped; the sampled bit is kept.
        let (.., flags) =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff")
                .expect("valid");
        assert_eq!(flags, TraceFlags::SAMPLED);
        // Spaces around the value (HTTP's optional whitespace) do not matter.
        assert!(parse_traceparent(&format!(" {VALID}\t")).is_ok());
    }

    #[test]
    fn formats_what_it_parses() {
        let (trace, span, flags) = parse_traceparent(VALID).expect("valid");
        assert_eq!(format_traceparent(trace, span, flags.is_sampled()), VALID);
        assert_eq!(
            format_traceparent(trace, span, false),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        );
    }

    #[test]
    fn future_versions_are_read_leniently() {
        let (trace, span, flags) = parse_traceparent(
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds",
        )
        .expect("a later version with more fields");
        assert_eq!(trace.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span.to_string(), "00f067aa0ba902b7");
        assert!(flags.is_sampled());
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_ok()
        );
        assert_eq!(
            reason("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.more"),
            "fields after the flags must follow a '-'"
        );
        // Version 00 admits nothing after the flags.
        assert_eq!(
            reason("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"),
            "a version 00 value is 55 characters long"
        );
    }

    #[test]
    fn invalid_values_are_refused_with_the_reason() {
        let cases = [
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "version ff is invalid",
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "the trace id is all zeros",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                "the parent id is all zeros",
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                "the trace id is not 32 lower-case hex digits",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
                "the parent id is not 16 lower-case hex digits",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
                "the flags are not two lower-case hex digits",
            ),
            (
                "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
                "the fields are not separated by '-' where expected",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
                "a version 00 value is 55 characters long",
            ),
            (
                "0g-whatever",
                "the version is not two lower-case hex digits",
            ),
            ("", "the version is not two lower-case hex digits"),
            ("é", "it is not ASCII"),
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0é",
                "it is not ASCII",
            ),
            ("01-4bf92f35", "it is shorter than 55 characters"),
        ];
        for (value, expected) in cases {
            assert_eq!(reason(value), expected, "{value:?}");
        }
        let err = parse_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .expect_err("invalid");
        let text = err.to_string();
        assert!(text.contains("version ff is invalid"), "{text}");
        assert!(text.contains("ff-4bf92f35"), "{text}");
        // A long value is shown cut.
        let long = format!("zz{}", "a".repeat(10_000));
        let InvalidTraceContext::Malformed { value, .. } =
            parse_traceparent(&long).expect_err("invalid")
        else {
            panic!("malformed")
        };
        assert_eq!(value.chars().count(), SHOWN_CHARS);
    }

    #[test]
    fn tracestate_is_parsed_or_dropped_whole() {
        let state = parse_tracestate("congo=t61rcWkgMzE, rojo=00f067aa0ba902b7,,").expect("valid");
        assert_eq!(state.header(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
        assert_eq!(state.get("rojo"), Some("00f067aa0ba902b7"));
        assert!(parse_tracestate("no-equals-sign").is_none());
        assert!(parse_tracestate("a=1,a=2").is_none(), "a key twice");
        assert!(parse_tracestate("UPPER=1").is_none(), "keys are lower case");
        let many = (0..33)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_tracestate(&many).is_none(), "more than 32 entries");
        let max = (0..32)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_tracestate(&max).is_some());
    }
}
