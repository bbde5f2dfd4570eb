//! JSON encoding that matches Python's `json.dumps` byte for byte.
//!
//! MLflow stores every span attribute as the output of
//! `json.dumps(value, cls=TraceJSONEncoder, ensure_ascii=False)`: separators `", "` and
//! `": "`, non-ASCII characters kept, floats printed with Python's `repr`. Trace size
//! statistics are computed over `json.dumps(...)` with the default `ensure_ascii=True`.
//! Matching these exactly keeps attribute values and `mlflow.trace.sizeStats` identical
//! to what the Python SDK writes.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};
use std::io::{self, Write};

/// A `serde_json` formatter that writes what Python's `json.dumps` writes.
#[derive(Debug, Clone, Copy)]
struct PyFormatter {
    ensure_ascii: bool,
}

impl Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        write_python_float(w, value)
    }

    fn write_f32<W: ?Sized + Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        // The shortest representation of the f32 itself (what a Rust user wrote), laid out
        // the way Python lays out floats.
        write_python_float_repr(w, &format!("{value:e}"))
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, s: &str) -> io::Result<()> {
        if !self.ensure_ascii || s.bytes().all(|b| b.is_ascii() && b != 0x7f) {
            return w.write_all(s.as_bytes());
        }
        let mut buf = [0u16; 2];
        for c in s.chars() {
            if c.is_ascii() && c != '\x7f' {
                let mut tmp = [0u8; 1];
                w.write_all(c.encode_utf8(&mut tmp).as_bytes())?;
            } else {
                for unit in c.encode_utf16(&mut buf) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        // serde_json escapes exactly the characters Python escapes (quote, backslash and
        // control characters), with the same short forms; only the `\u` spelling needs care.
        match escape {
            CharEscape::Quote => w.write_all(b"\\\""),
            CharEscape::ReverseSolidus => w.write_all(b"\\\\"),
            CharEscape::Solidus => w.write_all(b"/"),
            CharEscape::Backspace => w.write_all(b"\\b"),
            CharEscape::FormFeed => w.write_all(b"\\f"),
            CharEscape::LineFeed => w.write_all(b"\\n"),
            CharEscape::CarriageReturn => w.write_all(b"\\r"),
            CharEscape::Tab => w.write_all(b"\\t"),
            CharEscape::AsciiControl(byte) => write!(w, "\\u{byte:04x}"),
        }
    }
}

/// Writes a finite float the way Python's `repr(float)` does: the shortest digits that
/// round-trip, fixed notation for `1e-4 <= |x| < 1e16` (always with a fractional part),
/// scientific notation with a signed, two-digit-minimum exponent otherwise.
fn write_python_float<W: ?Sized + Write>(w: &mut W, value: f64) -> io::Result<()> {
    // serde_json never hands NaN/inf to the formatter (it writes `null` instead).
    write_python_float_repr(w, &format!("{value:e}"))
}

/// Re-lays out Rust's `{:e}` output (`-1.2345e-7`, shortest round-trip digits).
fn write_python_float_repr<W: ?Sized + Write>(w: &mut W, sci: &str) -> io::Result<()> {
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // Position of the decimal point relative to the start of `digits`.
    let decpt = exponent + 1;
    if negative {
        w.write_all(b"-")?;
    }
    if digits == "0" {
        return w.write_all(b"0.0");
    }
    if (-3..=16).contains(&decpt) {
        if decpt <= 0 {
            w.write_all(b"0.")?;
            for _ in 0..(-decpt) {
                w.write_all(b"0")?;
            }
            w.write_all(digits.as_bytes())
        } else {
            let decpt = decpt as usize;
            if digits.len() <= decpt {
                w.write_all(digits.as_bytes())?;
                for _ in digits.len()..decpt {
                    w.write_all(b"0")?;
                }
                w.write_all(b".0")
            } else {
                w.write_all(&digits.as_bytes()[..decpt])?;
                w.write_all(b".")?;
                w.write_all(&digits.as_bytes()[decpt..])
            }
        }
    } else {
        w.write_all(&digits.as_bytes()[..1])?;
        if digits.len() > 1 {
            w.write_all(b".")?;
            w.write_all(&digits.as_bytes()[1..])?;
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        write!(w, "e{sign}{:02}", exponent.abs())
    }
}

fn to_writer<W: Write, T: Serialize + ?Sized>(
    writer: W,
    value: &T,
    ensure_ascii: bool,
) -> serde_json::Result<()> {
    let mut ser = Serializer::with_formatter(writer, PyFormatter { ensure_ascii });
    value.serialize(&mut ser)
}

/// Encodes `value` like `json.dumps(value, ensure_ascii=False)`.
///
/// Values that cannot be represented in JSON (for example a map with non-string keys)
/// are encoded as a JSON string describing the problem, the way MLflow falls back to
/// `json.dumps(repr(value))`; the span is never lost because one value is odd.
pub(crate) fn dumps<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(64);
    match to_writer(&mut out, value, false) {
        // serde_json only ever writes valid UTF-8.
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(err) => dumps(&format!("<value could not be encoded as JSON: {err}>")),
    }
}

/// Encodes `value` like `json.dumps(value)`, with its default `ensure_ascii=True`
/// (non-ASCII characters as `\uXXXX` escapes).
pub(crate) fn dumps_ascii<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(64);
    match to_writer(&mut out, value, true) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(err) => dumps(&format!("<value could not be encoded as JSON: {err}>")),
    }
}

#[cfg(any(feature = "local-store", feature = "mlflow-server"))]
/// Encodes `value` like `json.dumps(value)` (ASCII-only output) and returns only the
/// number of bytes, which is what MLflow's size statistics are made of.
pub(crate) fn ascii_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match to_writer(&mut counter, value, true) {
        Ok(()) => counter.0,
        Err(_) => 0,
    }
}

/// Encodes a string as a JSON string literal, Python style (`ensure_ascii=False`).
#[cfg(feature = "local-store")]
/// The length `json.dumps(value)` (ASCII-only) has, from what [`dumps`] wrote for the same
/// value: every character [`dumps`] leaves as it is but `ensure_ascii` escapes (DEL and
/// everything past ASCII) becomes `\uXXXX`, one per UTF-16 unit.
pub(crate) fn ascii_len_of_dumped(text: &str) -> usize {
    if text.bytes().all(|b| b.is_ascii() && b != 0x7f) {
        return text.len();
    }
    text.chars()
        .map(|c| {
            if c.is_ascii() && c != '\x7f' {
                1
            } else {
                6 * c.len_utf16()
            }
        })
        .sum()
}

pub(crate) fn quote(s: &str) -> String {
    dumps(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[cfg(feature = "local-store")]
    #[test]
    fn ascii_length_from_the_dumped_text_is_the_ascii_encodings_length() {
        for value in [
            json!({"plain": "ascii", "n": 1.5}),
            json!({"é": "naïve – “quoted” \u{7f} tab\t", "emoji": "🦀🦀", "ctl": "\u{1}"}),
            json!(["\u{ffff}", "\u{10000}", "", "\\\""]),
        ] {
            assert_eq!(
                ascii_len_of_dumped(&dumps(&value)),
                ascii_len(&value),
                "{value}"
            );
        }
    }

    #[test]
    fn python_separators_and_order() {
        let v = json!({"model": "gpt", "messages": [{"role": "user"}], "t": 0.0});
        assert_eq!(
            dumps(&v),
            r#"{"model": "gpt", "messages": [{"role": "user"}], "t": 0.0}"#
        );
        assert_eq!(dumps(&[1, 2, 3]), "[1, 2, 3]");
        assert_eq!(dumps(&json!({})), "{}");
        assert_eq!(dumps(&json!([])), "[]");
    }

    #[test]
    fn scalars_match_python() {
        assert_eq!(dumps("LLM"), "\"LLM\"");
        assert_eq!(dumps(&7), "7");
        assert_eq!(dumps(&true), "true");
        assert_eq!(dumps(&()), "null");
        assert_eq!(dumps(&Option::<i32>::None), "null");
        assert_eq!(dumps(&-12_i64), "-12");
        assert_eq!(dumps(&u64::MAX), "18446744073709551615");
    }

    #[test]
    fn floats_use_python_repr() {
        let cases: &[(f64, &str)] = &[
            (0.5, "0.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (12.0, "12.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (100.25, "100.25"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e16, "1.5e+16"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (5.999999999999999e-06, "5.999999999999999e-06"),
            (1e300, "1e+300"),
            (-2.5e-10, "-2.5e-10"),
            (0.001234, "0.001234"),
            (1234.5678, "1234.5678"),
        ];
        for (value, expected) in cases {
            assert_eq!(dumps(value), *expected, "for {value:e}");
        }
        assert_eq!(dumps(&0.5_f32), "0.5");
        assert_eq!(dumps(&0.1_f32), "0.1");
    }

    #[test]
    fn non_finite_floats_become_null() {
        // Python writes the non-JSON token `NaN`, which JavaScript (the MLflow UI) cannot
        // parse; `null` keeps the attribute readable everywhere.
        assert_eq!(dumps(&f64::NAN), "null");
        assert_eq!(dumps(&f64::INFINITY), "null");
    }

    #[test]
    fn strings_escape_like_python() {
        assert_eq!(dumps("a\"b\\c\n\t\r\u{8}\u{c}"), r#""a\"b\\c\n\t\r\b\f""#);
        assert_eq!(dumps("\u{1}\u{1f}"), r#""\u0001\u001f""#);
        assert_eq!(dumps("/"), "\"/\"");
        // ensure_ascii=False keeps non-ASCII and DEL as they are.
        assert_eq!(dumps("héllo 😀 \u{7f}"), "\"héllo 😀 \u{7f}\"");
    }

    #[test]
    fn ascii_length_counts_escapes() {
        // json.dumps("héllo 😀") == '"h\\u00e9llo \\ud83d\\ude00"'
        assert_eq!(ascii_len("héllo 😀"), r#""h\u00e9llo \ud83d\ude00""#.len());
        assert_eq!(ascii_len("\u{7f}"), r#""\u007f""#.len());
        assert_eq!(ascii_len(&json!({"a": [1, 2]})), r#"{"a": [1, 2]}"#.len());
    }

    #[test]
    fn unserializable_values_fall_back_to_a_string() {
        use std::collections::BTreeMap;
        let mut map = BTreeMap::new();
        map.insert((1, 2), "x");
        let encoded = dumps(&map);
        assert!(
            encoded.starts_with("\"<value could not be encoded as JSON"),
            "{encoded}"
        );
        let decoded: serde_json::Value = serde_json::from_str(&encoded).expect("valid JSON");
        assert!(decoded.is_string());
    }
}
