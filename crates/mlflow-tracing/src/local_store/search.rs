//! `search_traces` on the local store: MLflow's filter ([`super::filter`]) as MLflow's SQL
//! store applies it (`_get_filter_clauses_for_search_traces`), for SQLite: attributes
//! compare `trace_info` columns; tags and metadata need a matching row; span clauses must
//! all hold for one span; feedback and expectation clauses need a valid assessment of that
//! name whose JSON value matches (numbers compare the numeric aggregate).

use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;

use super::filter::{Clause, FilterValue, Kind, parse_filter, parse_order_by};
use super::read::{INFO_COLUMN_COUNT, INFO_COLUMNS, info_from_row};
use super::{LocalStore, StoreError, sqlite_err};
use crate::json;
use crate::model::TraceSummary;

/// A comparison of `column` with the clause's value, adding its parameters.
fn compare(column: &str, clause: &Clause, params: &mut Vec<SqlValue>) -> String {
    let mut push = |v: &FilterValue| match v {
        FilterValue::Text(s) => params.push(SqlValue::Text(s.clone())),
        FilterValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
            params.push(SqlValue::Integer(*n as i64))
        }
        FilterValue::Number(n) => params.push(SqlValue::Real(*n)),
        FilterValue::List(_) | FilterValue::None => {}
    };
    match (clause.comparator.as_str(), &clause.value) {
        ("IN" | "NOT IN", FilterValue::List(items)) => {
            let marks = vec!["?"; items.len()].join(", ");
            params.extend(items.iter().cloned().map(SqlValue::Text));
            format!("{column} {} ({marks})", clause.comparator)
        }
        ("ILIKE", value) => {
            push(value);
            format!("lower({column}) LIKE lower(?)")
        }
        (op, value) => {
            push(value);
            format!("{column} {op} ?")
        }
    }
}

/// The SQL condition of one non-span clause over `trace_info t`.
fn condition(clause: &Clause, params: &mut Vec<SqlValue>) -> String {
    let exists = |table: &str, params: &mut Vec<SqlValue>| {
        params.push(SqlValue::Text(clause.key.clone()));
        let value = match clause.value {
            FilterValue::None => String::new(),
            _ => format!(" AND {}", compare("x.value", clause, params)),
        };
        let not = if clause.comparator == "IS NULL" {
            "NOT "
        } else {
            ""
        };
        format!(
            "{not}EXISTS (SELECT 1 FROM {table} x WHERE x.request_id = t.request_id AND x.key = ?{value})"
        )
    };
    match clause.kind {
        Kind::Attribute => {
            let column = match clause.key.as_str() {
                "end_time_ms" => "(t.timestamp_ms + coalesce(t.execution_time_ms, 0))",
                "timestamp_ms" => "t.timestamp_ms",
                "execution_time_ms" => "t.execution_time_ms",
                "status" => "t.status",
                "client_request_id" => "t.client_request_id",
                _ => "t.request_id",
            };
            compare(column, clause, params)
        }
        // Denormalized into trace_info, as MLflow's store reads them.
        Kind::Tag if clause.key == "mlflow.traceName" => null_or(clause, "t.trace_name", params),
        Kind::Metadata if clause.key == "mlflow.trace.session" => {
            null_or(clause, "t.session_id", params)
        }
        Kind::Tag => exists("trace_tags", params),
        Kind::Metadata => exists("trace_request_metadata", params),
        Kind::Feedback | Kind::Expectation => assessment(clause, params),
        Kind::Span => String::new(),
    }
}

fn null_or(clause: &Clause, column: &str, params: &mut Vec<SqlValue>) -> String {
    match clause.comparator.as_str() {
        "IS NULL" => format!("{column} IS NULL"),
        "IS NOT NULL" => format!("{column} IS NOT NULL"),
        _ => compare(column, clause, params),
    }
}

/// A feedback or expectation clause: a valid assessment of that type and name whose value
/// matches (`=`/`!=`: the raw JSON or the JSON of the text; `<`…: the numeric aggregate).
fn assessment(clause: &Clause, params: &mut Vec<SqlValue>) -> String {
    let kind = if clause.kind == Kind::Feedback {
        "feedback"
    } else {
        "expectation"
    };
    params.push(SqlValue::Text(kind.to_owned()));
    params.push(SqlValue::Text(clause.key.clone()));
    let base = "SELECT 1 FROM assessments a WHERE a.trace_id = t.request_id \
                AND a.assessment_type = ? AND a.name = ? AND a.valid = 1";
    let text = |v: &FilterValue| match v {
        FilterValue::Text(s) => s.clone(),
        FilterValue::Number(n) => json::dumps(n),
        _ => String::new(),
    };
    match (clause.comparator.as_str(), &clause.value) {
        ("IS NULL", _) => format!("NOT EXISTS ({base})"),
        ("IS NOT NULL", _) => format!("EXISTS ({base})"),
        (op @ ("=" | "!="), value) => {
            let raw = text(value);
            params.push(SqlValue::Text(raw.clone()));
            params.push(SqlValue::Text(json::quote(&raw)));
            let not = if op == "!=" { "NOT " } else { "" };
            format!("EXISTS ({base} AND {not}(a.value = ? OR a.value = ?))")
        }
        (op @ (">" | ">=" | "<" | "<="), value) => {
            let number = match value {
                FilterValue::Number(n) => *n,
                other => text(other).parse().unwrap_or(f64::NAN),
            };
            params.push(SqlValue::Real(number));
            format!("EXISTS ({base} AND a.is_numeric_value = 1 AND a.aggregate_value {op} ?)")
        }
        _ => {
            let c = compare("a.value", clause, params);
            format!("EXISTS ({base} AND {c})")
        }
    }
}

/// Every span clause, for one span: `EXISTS (SELECT 1 FROM spans s WHERE …)`.
fn span_condition(clauses: &[&Clause], params: &mut Vec<SqlValue>) -> String {
    let mut parts = Vec::new();
    for clause in clauses {
        let part = match clause.key.strip_prefix("attributes.") {
            // MLflow matches the attribute inside the span's JSON: `"key": <value>`.
            Some(attr) => {
                let mut shaped = (*clause).clone();
                shaped.value = match &clause.value {
                    FilterValue::Text(v) => FilterValue::Text(format!("%\"{attr}\"{v}%")),
                    other => other.clone(),
                };
                compare("s.content", &shaped, params)
            }
            None => {
                let column = match clause.key.as_str() {
                    "name" => "s.name",
                    "type" => "s.type",
                    "status" => "s.status",
                    _ => "s.content",
                };
                compare(column, clause, params)
            }
        };
        parts.push(part);
    }
    format!(
        "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.request_id AND {})",
        parts.join(" AND ")
    )
}

impl LocalStore {
    /// The traces of `experiment_ids` (all when empty) matching MLflow's `filter`, in
    /// `order_by` order (then newest first, then by id), at most `max_results`.
    pub fn search_traces(
        &self,
        experiment_ids: &[String],
        filter: Option<&str>,
        order_by: &[String],
        max_results: usize,
    ) -> Result<Vec<TraceSummary>, StoreError> {
        let clauses = parse_filter(filter.unwrap_or_default())?;
        let mut params: Vec<SqlValue> = Vec::new();
        let mut conditions = Vec::new();
        if !experiment_ids.is_empty() {
            let mut ids = Vec::new();
            for id in experiment_ids {
                let id: i64 = id
                    .parse()
                    .map_err(|_| StoreError::NoSuchExperiment { id: id.clone() })?;
                ids.push(id);
            }
            conditions.push(format!(
                "t.experiment_id IN ({})",
                vec!["?"; ids.len()].join(", ")
            ));
            params.extend(ids.into_iter().map(SqlValue::Integer));
        }
        let spans: Vec<&Clause> = clauses.iter().filter(|c| c.kind == Kind::Span).collect();
        for clause in clauses.iter().filter(|c| c.kind != Kind::Span) {
            conditions.push(condition(clause, &mut params));
        }
        if !spans.is_empty() {
            conditions.push(span_condition(&spans, &mut params));
        }
        let mut order = Vec::new();
        for entry in order_by {
            let (column, ascending) = parse_order_by(entry)?;
            order.push(format!(
                "{column} {}",
                if ascending { "ASC" } else { "DESC" }
            ));
        }
        if !order.iter().any(|o| o.starts_with("t.timestamp_ms ")) {
            order.push("t.timestamp_ms DESC".to_owned());
        }
        if !order.iter().any(|o| o.starts_with("t.request_id ")) {
            order.push("t.request_id ASC".to_owned());
        }
        let where_ = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        params.push(SqlValue::Integer(
            i64::try_from(max_results).unwrap_or(i64::MAX),
        ));
        let sql = format!(
            "SELECT {INFO_COLUMNS}, (SELECT count(*) FROM spans c WHERE c.trace_id = t.request_id) \
             FROM trace_info t {where_} ORDER BY {} LIMIT ?",
            order.join(", ")
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(sqlite_err("searching traces"))?;
        let rows = stmt
            .query_map(params_from_iter(params), |row| {
                Ok((
                    info_from_row(row)?,
                    row.get::<_, i64>(INFO_COLUMN_COUNT)? as usize,
                ))
            })
            .map_err(sqlite_err("searching traces"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite_err("searching traces"))?;
        rows.into_iter()
            .map(|(info, count)| {
                Ok(TraceSummary::new(
                    self.with_tags_and_metadata(info)?,
                    Some(count),
                ))
            })
            .collect()
    }
}
