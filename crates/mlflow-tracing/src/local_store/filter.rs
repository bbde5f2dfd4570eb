//! MLflow's trace search filter (`SearchTraceUtils.parse_search_filter_for_search_traces`)
//! and order-by strings, parsed into clauses: `attributes.status = 'OK' AND
//! tags.env = "prod" AND metadata.`mlflow.sourceRun` = 'abc' AND feedback.correct = 'yes'`.
//!
//! Clauses are joined by `AND` (MLflow has no `OR`). An identifier is `<type>.<key>`, the
//! key possibly in backticks or double quotes; without a type it is an attribute. Types:
//! `attributes`/`attribute`/`trace`, `tags`/`tag`, `metadata`/`request_metadata`, `span`,
//! `feedback`, `expectation`. MLflow's aliases apply: `name` is the tag
//! `mlflow.traceName`, `run_id` the metadata `mlflow.sourceRun`, `text` the spans'
//! content, `timestamp`/`execution_time`/`end_time` their `_ms` forms. Not supported here
//! (refused with a message): `RLIKE`, `prompt`, `issue.*`, ordering by tags or metadata.

use super::StoreError;

/// One comparison.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Clause {
    pub(super) kind: Kind,
    pub(super) key: String,
    pub(super) comparator: String,
    pub(super) value: FilterValue,
}

/// What a clause compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Attribute,
    Tag,
    Metadata,
    Span,
    Feedback,
    Expectation,
}

/// The right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum FilterValue {
    Text(String),
    Number(f64),
    List(Vec<String>),
    /// `IS NULL` / `IS NOT NULL`.
    None,
}

const STRING_ATTRIBUTES: &[&str] = &["request_id", "status", "client_request_id"];
const NUMERIC_ATTRIBUTES: &[&str] = &["timestamp_ms", "execution_time_ms", "end_time_ms"];
const ORDER_ATTRIBUTES: &[&str] = &[
    "experiment_id",
    "timestamp_ms",
    "execution_time_ms",
    "end_time_ms",
    "status",
    "request_id",
];

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::InvalidSearch {
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Op(String),
    Open,
    Close,
    Comma,
}

fn tokenize(input: &str) -> Result<Vec<Token>, StoreError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let quoted = |i: &mut usize, quote: char| -> Result<String, StoreError> {
        let mut s = String::new();
        *i += 1;
        while *i < chars.len() {
            let c = chars[*i];
            if c == quote {
                // A doubled quote is an escaped one, as in SQL.
                if chars.get(*i + 1) == Some(&quote) {
                    s.push(quote);
                    *i += 2;
                    continue;
                }
                *i += 1;
                return Ok(s);
            }
            s.push(c);
            *i += 1;
        }
        Err(invalid(format!(
            "invalid filter {input:?}: unterminated {quote}-quoted text"
        )))
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '\'' => tokens.push(Token::Str(quoted(&mut i, '\'')?)),
            '"' => tokens.push(Token::Str(quoted(&mut i, '"')?)),
            '=' | '!' | '<' | '>' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = if ["!=", "<=", ">=", "<>"].contains(&two.as_str()) {
                    two
                } else if c == '!' {
                    return Err(invalid(format!("invalid filter {input:?}: stray '!'")));
                } else {
                    c.to_string()
                };
                i += op.len();
                tokens.push(Token::Op(if op == "<>" { "!=".into() } else { op }));
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = text
                    .parse()
                    .map_err(|_| invalid(format!("invalid number {text:?} in filter")))?;
                tokens.push(Token::Num(n));
            }
            c if c.is_alphanumeric() || c == '_' || c == '`' => {
                // An identifier: words and dots, with backtick- or double-quoted parts
                // after a dot (`tags."my.key"`, metadata.`mlflow.sourceRun`).
                let mut ident = String::new();
                loop {
                    match chars.get(i) {
                        Some('`') => ident.push_str(&format!("`{}`", quoted(&mut i, '`')?)),
                        Some('"') if ident.ends_with('.') => {
                            ident.push_str(&format!("`{}`", quoted(&mut i, '"')?));
                        }
                        Some(&c) if c.is_alphanumeric() || c == '_' || c == '.' || c == '-' => {
                            ident.push(c);
                            i += 1;
                        }
                        _ => break,
                    }
                }
                tokens.push(Token::Ident(ident));
            }
            other => {
                return Err(invalid(format!(
                    "invalid filter {input:?}: unexpected character {other:?}"
                )));
            }
        }
    }
    Ok(tokens)
}

/// Removes the backticks around a key.
fn trim_quotes(key: &str) -> String {
    key.strip_prefix('`')
        .and_then(|k| k.strip_suffix('`'))
        .unwrap_or(key)
        .to_owned()
}

/// `type.key` → the kind and key, with MLflow's aliases applied.
fn identifier(ident: &str, for_order: bool) -> Result<(Kind, String), StoreError> {
    let (kind, key) = match ident.split_once('.') {
        None => (Kind::Attribute, trim_quotes(ident)),
        Some((entity, key)) => {
            let kind = match trim_quotes(entity).as_str() {
                "attribute" | "attributes" | "trace" => Kind::Attribute,
                "tag" | "tags" => Kind::Tag,
                "metadata" | "request_metadata" => Kind::Metadata,
                "span" => Kind::Span,
                "feedback" => Kind::Feedback,
                "expectation" => Kind::Expectation,
                "issue" => {
                    return Err(invalid(
                        "filtering by issue is not supported when searching the local store",
                    ));
                }
                other => {
                    return Err(invalid(format!(
                        "Invalid entity type '{other}'. Valid values are attributes, tags, \
                         metadata, span, feedback, expectation"
                    )));
                }
            };
            (kind, trim_quotes(key))
        }
    };
    if kind == Kind::Span {
        return Ok((kind, key));
    }
    Ok(match key.to_lowercase().as_str() {
        "name" if kind == Kind::Attribute || kind == Kind::Tag => {
            (Kind::Tag, "mlflow.traceName".to_owned())
        }
        "run_id" => (Kind::Metadata, "mlflow.sourceRun".to_owned()),
        "prompt" => {
            return Err(invalid(
                "filtering by prompt is not supported when searching the local store (MLflow \
                 reads it from its entity associations)",
            ));
        }
        "text" if kind == Kind::Attribute => (Kind::Span, "content".to_owned()),
        "timestamp" | "execution_time" | "end_time" if kind == Kind::Attribute => {
            (kind, format!("{}_ms", key.to_lowercase()))
        }
        _ if kind == Kind::Attribute => {
            let valid: &[&str] = if for_order {
                ORDER_ATTRIBUTES
            } else {
                &[STRING_ATTRIBUTES, NUMERIC_ATTRIBUTES].concat()
            };
            if !valid.contains(&key.as_str()) {
                return Err(invalid(format!(
                    "Invalid attribute key '{key}' specified. Valid keys are {valid:?}, name, \
                     run_id"
                )));
            }
            (kind, key)
        }
        _ => (kind, key),
    })
}

fn comparators_for(kind: Kind, key: &str) -> &'static [&'static str] {
    match kind {
        Kind::Attribute if NUMERIC_ATTRIBUTES.contains(&key) => &["=", "!=", ">", ">=", "<", "<="],
        Kind::Attribute => &["!=", "=", "IN", "NOT IN", "LIKE", "ILIKE"],
        Kind::Tag | Kind::Metadata => &["!=", "=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"],
        Kind::Span if key == "content" => &["LIKE", "ILIKE"],
        Kind::Span => &["!=", "=", "IN", "NOT IN", "LIKE", "ILIKE"],
        Kind::Feedback | Kind::Expectation => &[
            "!=",
            "=",
            ">",
            ">=",
            "<",
            "<=",
            "LIKE",
            "ILIKE",
            "IS NULL",
            "IS NOT NULL",
        ],
    }
}

/// Parses a filter string; an empty one has no clauses.
pub(super) fn parse_filter(filter: &str) -> Result<Vec<Clause>, StoreError> {
    let tokens = tokenize(filter)?;
    let mut clauses = Vec::new();
    let mut rest = tokens.as_slice();
    while !rest.is_empty() {
        let Some((Token::Ident(ident), after)) = rest.split_first() else {
            return Err(invalid(format!(
                "invalid filter {filter:?}: expected an identifier such as attributes.status"
            )));
        };
        let (kind, key) = identifier(ident, false)?;
        if kind == Kind::Span
            && !["name", "type", "status", "content"].contains(&key.as_str())
            && !key.starts_with("attributes.")
        {
            return Err(invalid(format!(
                "Invalid span attribute '{key}'. Supported attributes: name, status, type, \
                 attributes.<attribute_name>."
            )));
        }
        let word = |t: Option<&Token>| match t {
            Some(Token::Ident(w)) => Some(w.to_uppercase()),
            _ => None,
        };
        let (comparator, mut after) = match after.first() {
            Some(Token::Op(op)) => (op.clone(), &after[1..]),
            Some(Token::Ident(_)) => match (word(after.first()).as_deref(), word(after.get(1))) {
                (Some("NOT"), Some(w)) if w == "IN" => ("NOT IN".to_owned(), &after[2..]),
                (Some("IS"), Some(w)) if w == "NULL" => ("IS NULL".to_owned(), &after[2..]),
                (Some("IS"), Some(w))
                    if w == "NOT" && word(after.get(2)).as_deref() == Some("NULL") =>
                {
                    ("IS NOT NULL".to_owned(), &after[3..])
                }
                (Some(w @ ("LIKE" | "ILIKE" | "RLIKE" | "IN")), _) => (w.to_owned(), &after[1..]),
                _ => {
                    return Err(invalid(format!(
                        "invalid filter {filter:?}: expected a comparator after {ident}"
                    )));
                }
            },
            _ => {
                return Err(invalid(format!(
                    "invalid filter {filter:?}: expected a comparator after {ident}"
                )));
            }
        };
        if comparator == "RLIKE" {
            return Err(invalid(
                "RLIKE (regular expressions) is not supported when searching the local store; \
                 use LIKE or ILIKE",
            ));
        }
        let allowed = comparators_for(kind, &key);
        if !allowed.contains(&comparator.as_str()) {
            return Err(invalid(format!(
                "Invalid comparator '{comparator}' for {ident}, not one of {allowed:?}"
            )));
        }
        let value = match comparator.as_str() {
            "IS NULL" | "IS NOT NULL" => FilterValue::None,
            "IN" | "NOT IN" => {
                let mut items = Vec::new();
                if after.first() != Some(&Token::Open) {
                    return Err(invalid(format!(
                        "{ident} {comparator} needs a list: ('a', 'b')"
                    )));
                }
                after = &after[1..];
                loop {
                    match after.first() {
                        Some(Token::Str(s)) => items.push(s.clone()),
                        _ => {
                            return Err(invalid(format!(
                                "{ident} {comparator}: the list holds quoted strings"
                            )));
                        }
                    }
                    match after.get(1) {
                        Some(Token::Comma) => after = &after[2..],
                        Some(Token::Close) => {
                            after = &after[2..];
                            break;
                        }
                        _ => {
                            return Err(invalid(format!(
                                "{ident} {comparator}: unterminated list"
                            )));
                        }
                    }
                }
                FilterValue::List(items)
            }
            _ => {
                let v = match after.first() {
                    Some(Token::Str(s)) => FilterValue::Text(s.clone()),
                    Some(Token::Num(n)) => FilterValue::Number(*n),
                    _ => {
                        return Err(invalid(format!(
                            "invalid filter {filter:?}: expected a value after {ident} {comparator}"
                        )));
                    }
                };
                after = &after[1..];
                let numeric = kind == Kind::Attribute && NUMERIC_ATTRIBUTES.contains(&key.as_str());
                match (&v, numeric) {
                    (FilterValue::Text(_), true) => {
                        return Err(invalid(format!(
                            "{ident} is numeric: compare it with a number, not a string"
                        )));
                    }
                    (FilterValue::Number(_), false)
                        if matches!(
                            kind,
                            Kind::Attribute | Kind::Tag | Kind::Metadata | Kind::Span
                        ) =>
                    {
                        return Err(invalid(format!(
                            "{ident}: the value must be a quoted string"
                        )));
                    }
                    _ => {}
                }
                v
            }
        };
        clauses.push(Clause {
            kind,
            key,
            comparator,
            value,
        });
        match after.first() {
            None => rest = after,
            Some(Token::Ident(w)) if w.eq_ignore_ascii_case("AND") => rest = &after[1..],
            Some(Token::Ident(w)) if w.eq_ignore_ascii_case("OR") => {
                return Err(invalid(
                    "Invalid clause(s) in filter string: OR is not supported; MLflow's filters join clauses with AND",
                ));
            }
            _ => {
                return Err(invalid(format!(
                    "invalid filter {filter:?}: expected AND between clauses"
                )));
            }
        }
        if rest.is_empty() && after.len() == 1 {
            return Err(invalid(format!(
                "invalid filter {filter:?}: nothing after AND"
            )));
        }
    }
    Ok(clauses)
}

/// Parses an order-by entry: `timestamp_ms DESC`, `attributes.status`, `name ASC`. The
/// column (a SQL expression over `trace_info t`) and whether ascending.
pub(super) fn parse_order_by(entry: &str) -> Result<(&'static str, bool), StoreError> {
    let mut words = entry.split_whitespace();
    let ident = words
        .next()
        .ok_or_else(|| invalid("an empty order_by entry"))?;
    let ascending = match words.next().map(str::to_uppercase).as_deref() {
        None | Some("ASC") => true,
        Some("DESC") => false,
        Some(other) => {
            return Err(invalid(format!(
                "Invalid order_by clause {entry:?}: {other} is not ASC or DESC"
            )));
        }
    };
    if words.next().is_some() {
        return Err(invalid(format!("Invalid order_by clause {entry:?}")));
    }
    let column = match identifier(ident, true)? {
        (Kind::Tag, key) if key == "mlflow.traceName" => "t.trace_name",
        (Kind::Attribute, key) => match key.as_str() {
            "experiment_id" => "t.experiment_id",
            "timestamp_ms" => "t.timestamp_ms",
            "execution_time_ms" => "t.execution_time_ms",
            "end_time_ms" => "(t.timestamp_ms + coalesce(t.execution_time_ms, 0))",
            "status" => "t.status",
            _ => "t.request_id",
        },
        (_, key) => {
            return Err(invalid(format!(
                "ordering by {key} is not supported when searching the local store; order by \
                 an attribute (timestamp_ms, execution_time_ms, end_time_ms, status, \
                 request_id, experiment_id) or name"
            )));
        }
    };
    Ok((column, ascending))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(filter: &str) -> Clause {
        let mut clauses = parse_filter(filter).unwrap();
        assert_eq!(clauses.len(), 1, "{filter}");
        clauses.remove(0)
    }

    #[test]
    fn parses_mlflows_forms() {
        assert_eq!(
            one("attributes.status = 'OK'"),
            Clause {
                kind: Kind::Attribute,
                key: "status".into(),
                comparator: "=".into(),
                value: FilterValue::Text("OK".into())
            }
        );
        assert_eq!(one("trace.timestamp > 10").key, "timestamp_ms");
        assert_eq!(one("name = 'x'").key, "mlflow.traceName");
        assert_eq!(one("run_id = 'r'").kind, Kind::Metadata);
        assert_eq!(
            one("metadata.`mlflow.sourceRun` = 'r'").key,
            "mlflow.sourceRun"
        );
        assert_eq!(one("tags.\"my.key\" LIKE '%a%'").key, "my.key");
        assert_eq!(one("metadata.mlflow.user = 'u'").key, "mlflow.user");
        assert_eq!(one("tags.env IS NOT NULL").comparator, "IS NOT NULL");
        assert_eq!(
            one("request_id NOT IN ('a', 'b')").value,
            FilterValue::List(vec!["a".into(), "b".into()])
        );
        assert_eq!(one("feedback.score >= 0.5").value, FilterValue::Number(0.5));
        assert_eq!(one("span.attributes.model LIKE '%gpt%'").kind, Kind::Span);
        let clauses =
            parse_filter("status = 'OK' and tags.env = \"prod\" AND expectation.answer IS NULL")
                .unwrap();
        assert_eq!(clauses.len(), 3);
        assert!(parse_filter("").unwrap().is_empty());
    }

    #[test]
    fn refuses_what_mlflow_refuses_with_the_reason() {
        for (filter, says) in [
            ("status = 'OK' OR status = 'ERROR'", "OR is not supported"),
            ("foo.bar = 'x'", "Invalid entity type 'foo'"),
            ("attributes.nope = 'x'", "Invalid attribute key 'nope'"),
            ("timestamp_ms = 'x'", "is numeric"),
            ("tags.env > 'a'", "Invalid comparator '>'"),
            ("tags.env = 3", "quoted string"),
            ("span.kind = 'x'", "Invalid span attribute 'kind'"),
            ("status = 'OK' AND", "nothing after AND"),
            ("status RLIKE 'O.*'", "RLIKE"),
            ("status = 'OK", "unterminated"),
        ] {
            let err = parse_filter(filter).unwrap_err().to_string();
            assert!(err.contains(says), "{filter}: {err}");
        }
    }

    #[test]
    fn order_by() {
        assert_eq!(
            parse_order_by("timestamp DESC").unwrap(),
            ("t.timestamp_ms", false)
        );
        assert_eq!(parse_order_by("name").unwrap(), ("t.trace_name", true));
        assert!(parse_order_by("tags.env").is_err());
        assert!(parse_order_by("status UP").is_err());
    }
}
