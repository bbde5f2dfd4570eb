//! This process's part of a distributed trace (its root's parent is a span of another
//! process): written as MLflow's store writes spans logged for a trace another process
//! owns (`log_spans` without `start_trace`, what the Python SDK does for a trace continued
//! from `traceparent`). The trace's info is the caller's: this part only creates a
//! placeholder when the caller's trace is not there yet (timed by these spans, state
//! `IN_PROGRESS`, no previews, tags or metadata) or widens an unfinished one's time range,
//! and logs its spans.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::Experiment;
use super::derive::Stored;
use super::write::insert_spans;
use crate::keys::{metadata, tag};
use crate::model::Trace;
use crate::types::TraceState;

pub(super) fn write_part(
    tx: &Connection,
    trace: &Trace,
    stored: &Stored,
    experiment: &Experiment,
) -> rusqlite::Result<()> {
    let trace_id = trace.info().trace_id();
    let spans = trace.spans();
    let start_ms = spans.iter().map(|s| s.start_time_ns()).min().unwrap_or(0) / 1_000_000;
    let end_ms = spans.iter().map(|s| s.end_time_ns()).max().unwrap_or(0) / 1_000_000;
    let start_ms = start_ms as i64;
    let end_ms = end_ms as i64;

    let existing: Option<i64> = tx
        .query_row(
            "SELECT experiment_id FROM trace_info WHERE request_id = ?1",
            params![trace_id],
            |row| row.get(0),
        )
        .optional()?;
    let experiment_id = match existing {
        Some(id) => {
            let finalized: bool = tx
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
            let experiment_id: i64 = experiment.id.parse().unwrap_or(0);
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
            let artifacts = format!(
                "{}/traces/{trace_id}/artifacts",
                experiment.artifact_location.trim_end_matches('/')
            );
            tx.execute(
                "INSERT OR REPLACE INTO trace_tags (key, value, request_id) VALUES (?1, ?2, ?3)",
                params![tag::ARTIFACT_LOCATION, artifacts, trace_id],
            )?;
            experiment_id
        }
    };
    tx.execute(
        "INSERT OR REPLACE INTO trace_tags (key, value, request_id) VALUES (?1, ?2, ?3)",
        params![tag::SPANS_LOCATION, "TRACKING_STORE", trace_id],
    )?;
    insert_spans(
        tx,
        trace,
        &stored.spans,
        trace_id,
        experiment_id,
        "INSERT OR REPLACE",
    )
}
