//! This process's part of a distributed trace (its root's parent is a span of another
//! process): written as MLflow's store writes spans logged for a trace another process
//! owns (`log_spans` without `start_trace`, what the Python SDK does for a trace continued
//! from `traceparent`). The trace's info is the caller's: this part only creates a
//! placeholder when the caller's trace is not there yet (timed by these spans, state
//! `IN_PROGRESS`, no previews, tags or metadata) or widens an unfinished one's time range,
//! and logs its spans.

use rusqlite::{Connection, OptionalExtension as _, params};

use serde_json::{Map, Value};

use super::write::{TraceRows, insert_spans};
use crate::keys::{metadata, tag};
use crate::model::Span;
use crate::model::summary::{aggregate_cost, aggregate_token_usage};
use crate::types::TraceState;

const TOKEN_COLUMNS: [&str; 6] = [
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_input_tokens_above_1hr",
];
const COST_COLUMNS: [&str; 3] = ["input_cost", "output_cost", "total_cost"];

pub(super) fn write_part(tx: &Connection, rows: &TraceRows<'_>) -> rusqlite::Result<()> {
    let trace_id = rows.trace_id;
    let spans = &rows.spans;
    let start_ms = spans.iter().map(|s| s.start_time_ns).min().unwrap_or(0) / 1_000_000;
    let end_ms = spans.iter().map(|s| s.end_time_ns).max().unwrap_or(0) / 1_000_000;

    let existing: Option<i64> = tx
        .query_row(
            "SELECT experiment_id FROM trace_info WHERE request_id = ?1",
            params![trace_id],
            |row| row.get(0),
        )
        .optional()?;
    let mut finalized = false;
    let experiment_id = match existing {
        Some(id) => {
            finalized = tx
                .query_row(
                    "SELECT 1 FROM trace_request_metadata WHERE request_id = ?1 AND key = ?2",
                    params![trace_id, metadata::INFO_FINALIZED],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !finalized {
                // The earliest start and the latest end over every part logged so far.
                tx.execute(
                    "UPDATE trace_info SET \
                     execution_time_ms = max(coalesce(timestamp_ms + execution_time_ms, ?3), ?3) \
                     - min(timestamp_ms, ?2), timestamp_ms = min(timestamp_ms, ?2), \
                     db_payload_generation = db_payload_generation + 1 WHERE request_id = ?1",
                    params![trace_id, start_ms, end_ms],
                )?;
            } else {
                tx.execute(
                    "UPDATE trace_info SET db_payload_generation = db_payload_generation + 1 \
                     WHERE request_id = ?1",
                    params![trace_id],
                )?;
            }
            id
        }
        None => {
            let experiment_id = rows.experiment_id;
            tx.execute(
                "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, \
                 execution_time_ms, status, db_payload_generation) VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                params![
                    trace_id,
                    experiment_id,
                    start_ms,
                    end_ms - start_ms,
                    TraceState::InProgress.as_str()
                ],
            )?;
            if let Some((_, artifacts)) =
                rows.tags.iter().find(|(k, _)| k == tag::ARTIFACT_LOCATION)
            {
                tx.execute(
                    "INSERT OR REPLACE INTO trace_tags (key, value, request_id) VALUES (?1, ?2, ?3)",
                    params![tag::ARTIFACT_LOCATION, artifacts, trace_id],
                )?;
            }
            experiment_id
        }
    };
    tx.execute(
        "INSERT OR REPLACE INTO trace_tags (key, value, request_id) VALUES (?1, ?2, ?3)",
        params![tag::SPANS_LOCATION, "TRACKING_STORE", trace_id],
    )?;
    insert_spans(tx, rows, "INSERT OR REPLACE")?;
    if experiment_id != rows.experiment_id {
        // The caller's trace is in another experiment: these spans go with it.
        tx.execute(
            "UPDATE spans SET experiment_id = ?1 WHERE trace_id = ?2",
            params![experiment_id, trace_id],
        )?;
    }
    aggregate_over_stored_spans(tx, trace_id, finalized)
}

/// MLflow's `log_spans`: the trace's token usage and cost summed over every span stored
/// for it (every part logged so far), unless the trace's own `start_trace` wrote them
/// (then they are the caller's, and stay).
fn aggregate_over_stored_spans(
    tx: &Connection,
    trace_id: &str,
    finalized: bool,
) -> rusqlite::Result<()> {
    let mut rows = tx.prepare_cached("SELECT content FROM spans WHERE trace_id = ?1")?;
    let spans: Vec<Span> = rows
        .query_map(params![trace_id], |row| row.get::<_, String>(0))?
        .filter_map(Result::ok)
        .filter_map(|content| Span::from_mlflow_json(trace_id, &content))
        .collect();
    let has = |columns: &[&str]| -> rusqlite::Result<bool> {
        let any = columns
            .iter()
            .map(|c| format!("{c} IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" OR ");
        tx.query_row(
            &format!("SELECT {any} FROM trace_info WHERE request_id = ?1"),
            params![trace_id],
            |row| row.get(0),
        )
    };
    let update = |columns: &[&str], values: Option<Map<String, Value>>| {
        let Some(values) = values else {
            return Ok(());
        };
        if finalized && has(columns)? {
            return Ok(());
        }
        for column in columns {
            let value = values.get(*column).and_then(|v| match v {
                Value::Number(n) => n
                    .as_i64()
                    .map(rusqlite::types::Value::Integer)
                    .or_else(|| n.as_f64().map(rusqlite::types::Value::Real)),
                _ => None,
            });
            if let Some(value) = value {
                tx.execute(
                    &format!("UPDATE trace_info SET {column} = ?1 WHERE request_id = ?2"),
                    params![value, trace_id],
                )?;
            }
        }
        Ok::<(), rusqlite::Error>(())
    };
    update(&TOKEN_COLUMNS, aggregate_token_usage(&spans))?;
    update(&COST_COLUMNS, aggregate_cost(&spans))
}
