//! Python's dict, list and `str` operations on decoded JSON, as MLflow's GenAI converters
//! use them: where Python raises (`.get` on a non-dict, a missing `[key]`, iterating a
//! number), these return [`Raise`], and the converter's whole output is dropped, as
//! MLflow's `except Exception` drops it.

use serde_json::{Map, Value};

use crate::json;
use crate::translate::py::truthy;

/// Python raised: the conversion is abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Raise;

pub(super) type Py<T> = Result<T, Raise>;

/// The dict behind `v.get(…)` (`AttributeError` for anything else).
pub(super) fn dict(v: &Value) -> Py<&Map<String, Value>> {
    v.as_object().ok_or(Raise)
}

/// `v.get(key)`: `None` for a missing key or a `null` value.
pub(super) fn get<'a>(v: &'a Value, key: &str) -> Py<Option<&'a Value>> {
    Ok(dict(v)?.get(key).filter(|x| !x.is_null()))
}

/// `v.get(key, default)`: the value when the key is there (also `null`), else `default`.
pub(super) fn get_or(v: &Value, key: &str, default: Value) -> Py<Value> {
    Ok(dict(v)?.get(key).cloned().unwrap_or(default))
}

/// `v[key]` of a dict (`KeyError`, `TypeError` otherwise).
pub(super) fn index<'a>(v: &'a Value, key: &str) -> Py<&'a Value> {
    dict(v)?.get(key).ok_or(Raise)
}

/// `x := v.get(key)` tested for truth: the value when it is truthy.
pub(super) fn get_truthy<'a>(v: &'a Value, key: &str) -> Py<Option<&'a Value>> {
    Ok(get(v, key)?.filter(|x| truthy(x)))
}

/// `for x in v`: a list's items, a dict's keys, a string's characters; `TypeError` for
/// anything else.
pub(super) fn iter(v: &Value) -> Py<Vec<Value>> {
    match v {
        Value::Array(items) => Ok(items.clone()),
        Value::Object(map) => Ok(map.keys().map(|k| Value::String(k.clone())).collect()),
        Value::String(s) => Ok(s.chars().map(|c| Value::String(c.to_string())).collect()),
        _ => Err(Raise),
    }
}

/// `needle in v` for a string needle: dict keys, list items, substrings; `TypeError`
/// for numbers, booleans and `None`.
pub(super) fn contains(v: &Value, needle: &str) -> Py<bool> {
    match v {
        Value::Object(map) => Ok(map.contains_key(needle)),
        Value::Array(items) => Ok(items.iter().any(|x| x.as_str() == Some(needle))),
        Value::String(s) => Ok(s.contains(needle)),
        _ => Err(Raise),
    }
}

/// `json.dumps(v)` (ASCII, Python's separators).
pub(super) fn dumps(v: &Value) -> String {
    json::dumps_ascii(v)
}

/// `str(v)`.
pub(super) fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

/// `repr(v)` of a decoded JSON value.
fn repr(v: &Value) -> String {
    match v {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        // Python's float repr is what `json.dumps` writes for a float.
        Value::Number(_) => json::dumps(v),
        Value::String(s) => repr_str(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", repr_str(k), repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// `repr(s)`: single quotes unless the string holds one and no double quote.
fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A JSON object from (key, value) pairs, in order.
pub(super) fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `{"type": "text", "content": content}`.
pub(super) fn text(content: Value) -> Value {
    obj([("type", Value::from("text")), ("content", content)])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn python_str_of_values() {
        assert_eq!(str_of(&json!("x")), "x");
        assert_eq!(str_of(&json!(1)), "1");
        assert_eq!(str_of(&json!(1.5)), "1.5");
        assert_eq!(str_of(&json!(true)), "True");
        assert_eq!(str_of(&json!(null)), "None");
        assert_eq!(
            str_of(&json!({"a": [1, "b", null], "it's": "\"q\""})),
            r#"{'a': [1, 'b', None], "it's": '"q"'}"#
        );
    }

    #[test]
    fn python_membership_and_iteration() {
        assert_eq!(contains(&json!({"input": 1}), "input"), Ok(true));
        assert_eq!(contains(&json!(["input"]), "input"), Ok(true));
        assert_eq!(contains(&json!("my input"), "input"), Ok(true));
        assert_eq!(contains(&json!(3), "input"), Err(Raise));
        assert_eq!(iter(&json!("ab")).map(|v| v.len()), Ok(2));
        assert_eq!(iter(&json!(null)), Err(Raise));
        assert_eq!(get(&json!({"a": null}), "a"), Ok(None));
        assert_eq!(get_or(&json!({"a": null}), "a", json!({})), Ok(json!(null)));
        assert_eq!(get(&json!([1]), "a"), Err(Raise));
    }
}
