//! Writing finished traces: the rows MLflow's SQL store writes for `start_trace` and
//! `log_spans` (`trace_info`, `trace_tags`, `trace_request_metadata`, `spans`).

use rusqlite::{Connection, TransactionBehavior, params};
use serde_json::Value;

use super::{Experiment, Store, StoreError, derive, part, retry_locked, sqlite_err};
use crate::keys::{metadata, span as attr, tag};
use crate::model::Trace;
use crate::model::size_stats::size_stats;
use crate::model::summary::truncate_chars;
use crate::pricing::Prices;
use crate::{json, keys};

/// Metadata MLflow keeps in `trace_info` columns rather than in `trace_request_metadata`.
const PROMOTED_METADATA: [&str; 3] = [
    metadata::TRACE_SESSION,
    metadata::TOKEN_USAGE,
    metadata::COST,
];
/// Tags only the store sets.
const STORE_TAGS: [&str; 2] = [tag::ARTIFACT_LOCATION, tag::SPANS_LOCATION];
const TOKEN_COLUMNS: [(&str, &str); 6] = [
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("total_tokens", "total_tokens"),
    ("cache_read_input_tokens", "cache_read_input_tokens"),
    ("cache_creation_input_tokens", "cache_creation_input_tokens"),
    (
        "cache_creation_input_tokens_above_1hr",
        "cache_creation_input_tokens_above_1hr",
    ),
];

/// The outcome of writing a batch.
#[derive(Debug, Default)]
pub(crate) struct WriteOutcome {
    pub(crate) written: usize,
    /// Traces that could not be written, with why.
    pub(crate) failed: Vec<(String, StoreError)>,
}

impl Store {
    /// Writes `traces` atomically: all in one transaction, or none. Traces without an
    /// experiment id go to `default_experiment`.
    ///
    /// When the batch fails because of one trace's data (a constraint, a value too big),
    /// the traces are written again one per transaction, so that one bad trace does not
    /// cost the others. When it fails because of the database (disk full, I/O error,
    /// read-only), nothing of it is written and the error is returned: the counts stay
    /// exact.
    pub(crate) fn write_traces(
        &mut self,
        traces: &[&Trace],
        default_experiment: &str,
    ) -> Result<WriteOutcome, StoreError> {
        let mut outcome = WriteOutcome::default();
        let mut ready: Vec<(&Trace, Experiment)> = Vec::with_capacity(traces.len());
        for trace in traces {
            let id = trace.info().experiment_id().unwrap_or(default_experiment);
            match self.experiment(id) {
                Ok(experiment) => ready.push((trace, experiment)),
                Err(err) => outcome
                    .failed
                    .push((trace.info().trace_id().to_owned(), err)),
            }
        }
        let path = self.path.display().to_string();
        let prices = &self.prices;
        match retry_locked(|| write_all(&mut self.conn, &ready, prices)) {
            Ok(()) => outcome.written += ready.len(),
            Err(err) if is_about_one_trace(&err) && ready.len() > 1 => {
                for one in &ready {
                    match retry_locked(|| {
                        write_all(&mut self.conn, std::slice::from_ref(one), prices)
                    }) {
                        Ok(()) => outcome.written += 1,
                        Err(err) => outcome.failed.push((
                            one.0.info().trace_id().to_owned(),
                            sqlite_err(format!("writing trace {}", one.0.info().trace_id()))(err),
                        )),
                    }
                }
            }
            Err(err) => return Err(sqlite_err(format!("writing traces to {path}"))(err)),
        }
        Ok(outcome)
    }
}

/// Writes `traces` in one transaction; on any error it is rolled back.
fn write_all(
    conn: &mut Connection,
    traces: &[(&Trace, Experiment)],
    prices: &Prices,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (trace, experiment) in traces {
        write_trace(&tx, trace, experiment, prices)?;
    }
    tx.commit()
}

/// Whether an error is about the data of one trace (so the others can still be
/// written), rather than about the database.
fn is_about_one_trace(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(
            rusqlite::ErrorCode::ConstraintViolation
                | rusqlite::ErrorCode::TooBig
                | rusqlite::ErrorCode::TypeMismatch
        )
    )
}

fn write_trace(
    tx: &Connection,
    trace: &Trace,
    experiment: &Experiment,
    prices: &Prices,
) -> rusqlite::Result<()> {
    // The spans translated and the trace-level values derived from them, as MLflow's
    // store does; the size statistics stay those of the trace as recorded.
    let stored = derive::stored(trace, prices);
    if trace.remote_parent_id().is_some() {
        return part::write_part(tx, trace, &stored, experiment);
    }
    let info = &stored.info;
    let trace_id = info.trace_id();
    let experiment_id: i64 = experiment.id.parse().unwrap_or(0);

    // Size statistics are computed as the Python exporter does: over the trace as it is
    // about to be logged, with its experiment.
    let mut sized = trace.info().clone();
    sized.experiment_id = Some(experiment.id.clone());
    let (stats, total) = size_stats(&sized, trace.spans());

    let mut metadata: Vec<(String, String)> = info
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    metadata.push((metadata::SIZE_STATS.to_owned(), json::dumps(&stats)));
    metadata.push((metadata::SIZE_BYTES.to_owned(), total.to_string()));

    let token_usage = info
        .metadata()
        .get(metadata::TOKEN_USAGE)
        .and_then(|raw| serde_json::from_str::<Value>(raw).ok());
    let tokens = |key: &str| {
        token_usage
            .as_ref()
            .and_then(|u| u.get(key))
            .and_then(Value::as_i64)
    };
    let cost = info
        .metadata()
        .get(metadata::COST)
        .and_then(|raw| serde_json::from_str::<Value>(raw).ok());
    let cost_of = |key: &str| {
        cost.as_ref()
            .and_then(|c| c.get(key))
            .and_then(Value::as_f64)
    };
    let session_id = info
        .metadata()
        .get(metadata::TRACE_SESSION)
        .map(|s| truncate_chars(s, keys::MAX_CHARS_IN_METADATA).to_owned());
    let trace_name = info
        .tags()
        .get(tag::TRACE_NAME)
        .map(|n| truncate_chars(n, keys::MAX_CHARS_IN_TAG_VALUE).to_owned());

    // The trace may be there already: created by the spans another process logged for its
    // part of this trace (distributed tracing). MLflow's `start_trace` then merges: its own
    // values win, previews, name, session, token usage and cost only where it has them.
    tx.execute(
        "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, \
         status, client_request_id, request_preview, response_preview, db_payload_generation, \
         trace_name, session_id, input_tokens, output_tokens, total_tokens, \
         cache_read_input_tokens, cache_creation_input_tokens, \
         cache_creation_input_tokens_above_1hr, input_cost, output_cost, total_cost) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19) \
         ON CONFLICT (request_id) DO UPDATE SET experiment_id = excluded.experiment_id, \
         timestamp_ms = excluded.timestamp_ms, execution_time_ms = excluded.execution_time_ms, \
         status = excluded.status, client_request_id = excluded.client_request_id, \
         request_preview = coalesce(excluded.request_preview, request_preview), \
         response_preview = coalesce(excluded.response_preview, response_preview), \
         db_payload_generation = db_payload_generation + 1, \
         trace_name = coalesce(excluded.trace_name, trace_name), \
         session_id = coalesce(excluded.session_id, session_id), \
         input_tokens = coalesce(excluded.input_tokens, input_tokens), \
         output_tokens = coalesce(excluded.output_tokens, output_tokens), \
         total_tokens = coalesce(excluded.total_tokens, total_tokens), \
         cache_read_input_tokens = coalesce(excluded.cache_read_input_tokens, \
         cache_read_input_tokens), cache_creation_input_tokens = \
         coalesce(excluded.cache_creation_input_tokens, cache_creation_input_tokens), \
         cache_creation_input_tokens_above_1hr = \
         coalesce(excluded.cache_creation_input_tokens_above_1hr, \
         cache_creation_input_tokens_above_1hr), \
         input_cost = coalesce(excluded.input_cost, input_cost), \
         output_cost = coalesce(excluded.output_cost, output_cost), \
         total_cost = coalesce(excluded.total_cost, total_cost)",
        params![
            trace_id,
            experiment_id,
            info.request_time_ms(),
            info.execution_duration_ms(),
            info.state().as_str(),
            info.client_request_id(),
            info.request_preview(),
            info.response_preview(),
            trace_name,
            session_id,
            tokens(TOKEN_COLUMNS[0].0),
            tokens(TOKEN_COLUMNS[1].0),
            tokens(TOKEN_COLUMNS[2].0),
            tokens(TOKEN_COLUMNS[3].0),
            tokens(TOKEN_COLUMNS[4].0),
            tokens(TOKEN_COLUMNS[5].0),
            cost_of("input_cost"),
            cost_of("output_cost"),
            cost_of("total_cost"),
        ],
    )?;

    let mut insert_tag = tx.prepare_cached(
        "INSERT OR REPLACE INTO trace_tags (key, value, request_id) VALUES (?1, ?2, ?3)",
    )?;
    for (key, value) in info.tags() {
        if key != tag::TRACE_NAME && !STORE_TAGS.contains(&key.as_str()) {
            insert_tag.execute(params![key, value, trace_id])?;
        }
    }
    let artifacts = format!(
        "{}/traces/{trace_id}/artifacts",
        experiment.artifact_location.trim_end_matches('/')
    );
    insert_tag.execute(params![tag::ARTIFACT_LOCATION, artifacts, trace_id])?;
    insert_tag.execute(params![tag::SPANS_LOCATION, "TRACKING_STORE", trace_id])?;

    let mut insert_metadata = tx.prepare_cached(
        "INSERT OR REPLACE INTO trace_request_metadata (key, value, request_id) VALUES (?1, ?2, ?3)",
    )?;
    metadata.retain(|(k, _)| !PROMOTED_METADATA.contains(&k.as_str()));
    metadata.push((metadata::INFO_FINALIZED.to_owned(), "true".to_owned()));
    metadata.sort();
    for (key, value) in &metadata {
        insert_metadata.execute(params![key, value, trace_id])?;
    }

    // Spans another process logged before this trace was written move with it.
    tx.prepare_cached("UPDATE spans SET experiment_id = ?1 WHERE trace_id = ?2")?
        .execute(params![experiment_id, trace_id])?;
    insert_spans(tx, trace, &stored.spans, trace_id, experiment_id, "INSERT")
}

/// Inserts the spans (`verb`: `INSERT`, or `INSERT OR REPLACE` to log them again).
pub(super) fn insert_spans(
    tx: &Connection,
    trace: &Trace,
    stored_spans: &[crate::model::Span],
    trace_id: &str,
    experiment_id: i64,
    verb: &str,
) -> rusqlite::Result<()> {
    let mut insert_span = tx.prepare_cached(&format!(
        "{verb} INTO spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status, \
         start_time_unix_nano, end_time_unix_nano, content, input_cost, output_cost, total_cost, \
         model_name, model_provider) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
         ?13, ?14, ?15)"
    ))?;
    for (recorded, stored) in trace.spans().iter().zip(stored_spans) {
        let cost = stored
            .attribute(attr::LLM_COST)
            .filter(Value::is_object)
            .unwrap_or(Value::Null);
        // The type column is the span's type as recorded, as in MLflow's store; the
        // stored span carries the translated one.
        let span_type = match recorded.attribute(attr::SPAN_TYPE) {
            Some(Value::String(t)) => Some(t),
            _ => None,
        };
        let string_attr = |key| match stored.attribute(key) {
            Some(Value::String(s)) => Some(truncate_chars(&s, 500).to_owned()),
            _ => None,
        };
        insert_span.execute(params![
            trace_id,
            experiment_id,
            stored.span_id().to_string(),
            stored.parent_id().map(|p| p.to_string()),
            stored.name(),
            span_type,
            stored.status().code().as_str(),
            stored.start_time_ns() as i64,
            stored.end_time_ns() as i64,
            stored.to_mlflow_json(),
            cost.get("input_cost").and_then(Value::as_f64),
            cost.get("output_cost").and_then(Value::as_f64),
            cost.get("total_cost").and_then(Value::as_f64),
            string_attr(attr::MODEL),
            string_attr(attr::MODEL_PROVIDER),
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use indexmap::IndexMap;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{SpanId, TraceId};

    use super::*;
    use crate::model::{TraceInfo, sample_span};
    use crate::types::TraceState;

    /// A trace of one span with `bytes` of inputs, its ids made from `n`.
    fn trace(n: u64, bytes: usize) -> Trace {
        let trace_id = format!("tr-{n:032x}");
        let mut span = sample_span();
        span.trace_id = Arc::from(trace_id.as_str());
        span.otel_trace_id = TraceId::from(u128::from(n));
        span.span_id = SpanId::from(n + 1);
        span.set_attribute(KeyValue::new(attr::INPUTS, json::quote(&"x".repeat(bytes))));
        let info = TraceInfo {
            trace_id,
            experiment_id: None,
            request_time_ms: 1,
            execution_duration_ms: Some(1),
            state: TraceState::Ok,
            request_preview: None,
            response_preview: None,
            client_request_id: None,
            metadata: IndexMap::new(),
            tags: IndexMap::new(),
        };
        Trace::new(info, vec![span])
    }

    fn count(store: &Store) -> i64 {
        store
            .conn
            .query_row("SELECT count(*) FROM trace_info", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_full_disk_fails_the_whole_batch_and_writes_none_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("mlflow.db")).unwrap();
        let first: Vec<Trace> = (0..3).map(|n| trace(n, 100)).collect();
        let refs: Vec<&Trace> = first.iter().collect();
        assert_eq!(store.write_traces(&refs, "0").unwrap().written, 3);
        // Let the file grow by a few pages only: the disk is "full" halfway through.
        let pages: i64 = store
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        store
            .conn
            .pragma_update(None, "max_page_count", pages + 8)
            .unwrap();
        let batch: Vec<Trace> = (10..60).map(|n| trace(n, 4_000)).collect();
        let refs: Vec<&Trace> = batch.iter().collect();
        let err = store.write_traces(&refs, "0").unwrap_err();
        assert!(err.to_string().contains("full"), "{err}");
        assert_eq!(count(&store), 3, "nothing of the failed batch was written");
        // With room again, the same batch is written whole.
        store
            .conn
            .pragma_update(None, "max_page_count", 1_000_000)
            .unwrap();
        assert_eq!(store.write_traces(&refs, "0").unwrap().written, 50);
        assert_eq!(count(&store), 53);
    }

    #[test]
    fn one_bad_trace_does_not_cost_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("mlflow.db")).unwrap();
        let existing = trace(7, 10);
        assert_eq!(store.write_traces(&[&existing], "0").unwrap().written, 1);
        // The same trace id again violates the primary key; the others are written.
        let batch = [trace(1, 10), trace(7, 10), trace(2, 10)];
        let refs: Vec<&Trace> = batch.iter().collect();
        let outcome = store.write_traces(&refs, "0").unwrap();
        assert_eq!(outcome.written, 2);
        assert_eq!(outcome.failed.len(), 1);
        assert_eq!(outcome.failed[0].0, format!("tr-{:032x}", 7));
        assert_eq!(count(&store), 3);
    }
}
