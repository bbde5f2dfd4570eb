//! What MLflow's Python translation code does with attribute values: `json.loads`, truth
//! tests, `int()`, and `dict.get` over a span's attributes.
//!
//! A span's attributes are OpenTelemetry values: strings (Python `str`) and typed values
//! (Python `int`, `float`, `bool`, tuples). MLflow's code tests them for truth, decodes
//! strings as JSON when it can, and falls back to the raw value when it cannot; these
//! helpers do the same so that the translation picks the same values.

use opentelemetry::{Array, KeyValue, Value as OtelValue};
use serde_json::Value;

use crate::model::otel_to_json;

/// `json.loads(s)`; `None` where Python raises `JSONDecodeError`.
pub(super) fn loads(s: &str) -> Option<Value> {
    serde_json::from_str(s).ok()
}

/// `bool(value)` of a decoded JSON value.
pub(super) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `bool(value)` of an attribute value.
pub(super) fn truthy_otel(v: &OtelValue) -> bool {
    match v {
        OtelValue::Bool(b) => *b,
        OtelValue::I64(i) => *i != 0,
        OtelValue::F64(f) => *f != 0.0,
        OtelValue::String(s) => !s.as_str().is_empty(),
        OtelValue::Array(a) => match a {
            Array::Bool(v) => !v.is_empty(),
            Array::I64(v) => !v.is_empty(),
            Array::F64(v) => !v.is_empty(),
            Array::String(v) => !v.is_empty(),
            _ => true,
        },
        _ => true,
    }
}

/// The string of a `str` attribute value.
pub(super) fn as_str(v: &OtelValue) -> Option<&str> {
    match v {
        OtelValue::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// `attributes.get(key)`.
pub(super) fn get<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a OtelValue> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// `key in attributes`.
pub(super) fn has(attributes: &[KeyValue], key: &str) -> bool {
    get(attributes, key).is_some()
}

/// `_get_and_check_attribute_value(attributes, key)` followed by the truth test every
/// caller makes: a string that is JSON counts when the decoded value is true, a string
/// that is not JSON when it is not empty, any other value when it is true.
pub(super) fn checked<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a OtelValue> {
    let value = get(attributes, key)?;
    let keep = match as_str(value) {
        Some(s) => str_counts(s),
        None => truthy_otel(value),
    };
    keep.then_some(value)
}

/// JSON whitespace, as `json.loads` skips it.
const JSON_WS: [char; 4] = [' ', '\t', '\n', '\r'];

/// Whether a string attribute counts: its JSON value is true, or it is not JSON and not
/// empty. Long texts (messages, documents) are told without parsing them: one that opens
/// an array, an object or a string is false only when that is empty and nothing follows.
fn str_counts(s: &str) -> bool {
    let t = s.trim_start_matches(JSON_WS);
    let close = match t.chars().next() {
        Some('[') => ']',
        Some('{') => '}',
        Some('"') => '"',
        _ => return loads(s).map_or(!s.is_empty(), |v| truthy(&v)),
    };
    let rest = t[1..].trim_start_matches(if close == '"' { &[][..] } else { &JSON_WS[..] });
    // `[]`, `{}` or `""` and only whitespace after it: an empty value, false. Anything
    // else is a true value, or not JSON and not empty: true either way.
    !(rest.starts_with(close) && rest[1..].trim_matches(JSON_WS).is_empty())
}

/// `_try_decode_if_json(value)` / `try_json_loads(value)`: a string decoded when it is
/// JSON, else kept; other values as they are.
pub(super) fn decode(v: &OtelValue) -> Value {
    match as_str(v) {
        Some(s) => loads(s).unwrap_or_else(|| Value::String(s.to_owned())),
        None => otel_to_json(v),
    }
}

/// Python's `int(text)` for a `str`: surrounding whitespace, a sign, digits with single
/// underscores between them.
pub(super) fn int_of_str(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let n: i64 = digits.replace('_', "").parse().ok()?;
    Some(if negative { -n } else { n })
}

/// A token count as a translator returns it: an attribute value, or a number it computed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Count<'a> {
    Raw(&'a OtelValue),
    Int(i64),
}

/// `_parse_int_attribute(value)`: an `int`, or a string holding one (also JSON-quoted).
pub(super) fn parse_int(count: Option<Count<'_>>) -> Option<i64> {
    match count? {
        Count::Int(n) => Some(n),
        Count::Raw(OtelValue::I64(n)) => Some(*n),
        Count::Raw(OtelValue::Bool(b)) => Some(i64::from(*b)),
        Count::Raw(OtelValue::String(s)) => match loads(s.as_str()) {
            Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
            Some(Value::String(inner)) => int_of_str(&inner).or_else(|| int_of_str(s.as_str())),
            _ => int_of_str(s.as_str()),
        },
        Count::Raw(_) => None,
    }
}

/// Python's `int(value)` of a decoded value (Claude Code's `_get_int`): integers, floats
/// truncated, booleans, and strings holding an integer.
pub(super) fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.trunc() as i64)
        }),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::String(s) => int_of_str(s),
        _ => None,
    }
}

/// `str` attribute value holding `text`.
pub(super) fn string(text: String) -> OtelValue {
    OtelValue::String(text.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_tested_and_decoded_as_python_does() {
        let attrs = vec![
            KeyValue::new("json", "\"gpt-4o\""),
            KeyValue::new("raw", "gpt-4o"),
            KeyValue::new("empty_json", "\"\""),
            KeyValue::new("zero_json", "0"),
            KeyValue::new("empty", ""),
            KeyValue::new("int", 0_i64),
            KeyValue::new("list", "[]"),
        ];
        assert!(checked(&attrs, "json").is_some());
        assert!(checked(&attrs, "raw").is_some());
        for falsy in ["empty_json", "zero_json", "empty", "int", "list", "missing"] {
            assert!(checked(&attrs, falsy).is_none(), "{falsy}");
        }
        assert_eq!(decode(&attrs[0].value), Value::String("gpt-4o".into()));
        for (text, counts) in [
            ("[]", false),
            (" [ \n] ", false),
            ("{}", false),
            ("\"\"", false),
            ("\" \"", true),
            ("[1]", true),
            ("[] x", true),
            ("{\"a\": 1}", true),
            ("[unclosed", true),
            ("0", false),
            ("0.5", true),
            ("null", false),
            ("false", false),
            ("", false),
            ("text", true),
        ] {
            let expected = loads(text).map_or(!text.is_empty(), |v| truthy(&v));
            assert_eq!(str_counts(text), counts, "{text:?}");
            assert_eq!(
                counts, expected,
                "{text:?}: the fast path agrees with parsing"
            );
        }
        assert_eq!(decode(&attrs[1].value), Value::String("gpt-4o".into()));
    }

    #[test]
    fn integers_are_parsed_as_python_does() {
        let raw = |v: OtelValue| parse_int(Some(Count::Raw(Box::leak(Box::new(v)))));
        assert_eq!(raw(OtelValue::I64(26)), Some(26));
        assert_eq!(raw(string("26".into())), Some(26));
        assert_eq!(raw(string("\"26\"".into())), Some(26));
        assert_eq!(raw(string(" 1_000 ".into())), Some(1000));
        assert_eq!(raw(string("26.0".into())), None);
        assert_eq!(raw(string("abc".into())), None);
        assert_eq!(raw(OtelValue::F64(26.0)), None);
        assert_eq!(int_of_str("-7"), Some(-7));
        assert_eq!(int_of_str("1__0"), None);
        assert_eq!(int_of(&serde_json::json!(12.9)), Some(12));
    }
}
