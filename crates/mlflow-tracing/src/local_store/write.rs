//! Writing finished traces: the rows MLflow's SQL store writes for `start_trace` and
//! `log_spans` (`trace_info`, `trace_tags`, `trace_request_metadata`, `spans`).

use rusqlite::{Connection, TransactionBehavior, params};
use serde_json::Value;

use super::{Experiment, Store, StoreError, derive, part, retry_locked, sqlite_err};
use crate::keys::{metadata, span as attr, tag};
use crate::model::size_stats::size_stats_of;
use crate::model::summary::truncate_chars;
use crate::model::{Span, Trace, TraceInfo};
use crate::pricing::Prices;
use crate::{json, keys};

/// Metadata MLflow keeps in `trace_info` columns rather than in `trace_request_metadata`.
const PROMOTED_METADATA: [&str; 3] = [
    metadata::TRACE_SESSION,
    metadata::TOKEN_USAGE,
    metadata::COST,
];
/// Metadata the store computes when it writes a trace.
const COMPUTED_METADATA: [&str; 3] = [
    metadata::SIZE_STATS,
    metadata::SIZE_BYTES,
    metadata::INFO_FINALIZED,
];
/// Tags only the store sets.
const STORE_TAGS: [&str; 2] = [tag::ARTIFACT_LOCATION, tag::SPANS_LOCATION];
/// The keys of `mlflow.trace.cost` (and a span's `mlflow.llm.cost`), in column order.
const COST_KEYS: [&str; 3] = ["input_cost", "output_cost", "total_cost"];
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
        // Encoded once, before the transaction: a retry (another process holds the lock)
        // writes the same rows again.
        let prices = &self.prices;
        let rows: Vec<TraceRows<'_>> = ready.iter().map(|(t, e)| encode(t, e, prices)).collect();
        let path = self.path.display().to_string();
        match retry_locked(|| write_all(&mut self.conn, &rows)) {
            Ok(()) => outcome.written += rows.len(),
            Err(err) if is_about_one_trace(&err) && rows.len() > 1 => {
                for one in &rows {
                    match retry_locked(|| write_all(&mut self.conn, std::slice::from_ref(one))) {
                        Ok(()) => outcome.written += 1,
                        Err(err) => outcome.failed.push((
                            one.trace_id.to_owned(),
                            sqlite_err(format!("writing trace {}", one.trace_id))(err),
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
fn write_all(conn: &mut Connection, traces: &[TraceRows<'_>]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for rows in traces {
        insert(&tx, rows)?;
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

/// A trace as the rows MLflow's store writes for it, every value computed.
pub(crate) struct TraceRows<'a> {
    pub(super) trace_id: &'a str,
    pub(super) experiment_id: i64,
    /// This process's part of a distributed trace (its root's parent is remote): only
    /// its spans are logged, as MLflow logs them ([`part`]).
    pub(super) part: bool,
    /// The trace's info with what the store derives from its spans (its tags and
    /// metadata moved to `tags` and `metadata`).
    info: TraceInfo,
    trace_name: Option<String>,
    session_id: Option<String>,
    tokens: [Option<i64>; 6],
    costs: [Option<f64>; 3],
    pub(super) tags: Vec<(String, String)>,
    metadata: Vec<(String, String)>,
    pub(super) spans: Vec<SpanRow>,
}

/// One `spans` row.
pub(super) struct SpanRow {
    span_id: String,
    parent_id: Option<String>,
    name: std::borrow::Cow<'static, str>,
    /// The span's type as recorded, as in MLflow's store (the stored span carries the
    /// translated one).
    span_type: Option<String>,
    status: &'static str,
    pub(super) start_time_ns: i64,
    pub(super) end_time_ns: i64,
    content: String,
    costs: [Option<f64>; 3],
    model_name: Option<String>,
    model_provider: Option<String>,
}

impl TraceRows<'_> {
    /// The bytes of text the rows carry (for benchmarks and tests).
    #[cfg_attr(not(feature = "__bench"), allow(dead_code))]
    pub(crate) fn text_bytes(&self) -> usize {
        let tags: usize = self.tags.iter().map(|(k, v)| k.len() + v.len()).sum();
        let metadata: usize = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        let spans: usize = self.spans.iter().map(|s| s.content.len()).sum();
        tags + metadata + spans
    }
}

/// Computes the rows of `trace` in `experiment`, as MLflow's store makes them: the spans
/// translated and the trace-level values derived from them ([`derive`]), each span's JSON
/// (encoded once: it is stored, and when the store changed nothing its length is the
/// span's size), the size statistics of the trace as recorded, the tags and metadata.
pub(crate) fn encode<'a>(
    trace: &'a Trace,
    experiment: &Experiment,
    prices: &Prices,
) -> TraceRows<'a> {
    let trace_id = trace.info().trace_id();
    let derive::Stored {
        info: mut derived,
        spans: stored,
    } = derive::stored(trace, prices);
    let spans: Vec<StoredSpan<'_>> = trace
        .spans()
        .iter()
        .zip(stored)
        .map(|(recorded, stored)| StoredSpan::new(recorded, stored))
        .collect();

    // Size statistics are computed as the Python exporter does: over the trace as it is
    // recorded and about to be logged, with its experiment.
    let mut sized = trace.info().clone();
    sized.experiment_id = Some(experiment.id.clone());
    let (stats, total) = size_stats_of(&sized, spans.iter().map(|s| s.size).collect());

    let info_metadata = std::mem::take(&mut derived.metadata);
    let info_tags = std::mem::take(&mut derived.tags);
    let json_of = |key: &str| {
        info_metadata
            .get(key)
            .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
    };
    let token_usage = json_of(metadata::TOKEN_USAGE);
    let tokens = TOKEN_COLUMNS.map(|(key, _)| {
        token_usage
            .as_ref()
            .and_then(|u| u.get(key))
            .and_then(Value::as_i64)
    });
    let cost = json_of(metadata::COST);
    let costs = COST_KEYS.map(|key| {
        cost.as_ref()
            .and_then(|c| c.get(key))
            .and_then(Value::as_f64)
    });
    let session_id = info_metadata
        .get(metadata::TRACE_SESSION)
        .map(|s| truncate_chars(s, keys::MAX_CHARS_IN_METADATA).to_owned());
    let trace_name = info_tags
        .get(tag::TRACE_NAME)
        .map(|n| truncate_chars(n, keys::MAX_CHARS_IN_TAG_VALUE).to_owned());

    // What the store computes replaces what the trace carries under the same keys, as
    // Python's dict assignment does.
    let mut metadata: Vec<(String, String)> = info_metadata
        .into_iter()
        .filter(|(k, _)| !PROMOTED_METADATA.contains(&k.as_str()))
        .filter(|(k, _)| !COMPUTED_METADATA.contains(&k.as_str()))
        .collect();
    metadata.push((metadata::SIZE_STATS.to_owned(), json::dumps(&stats)));
    metadata.push((metadata::SIZE_BYTES.to_owned(), total.to_string()));
    metadata.push((metadata::INFO_FINALIZED.to_owned(), "true".to_owned()));
    metadata.sort_unstable();

    let mut tags: Vec<(String, String)> = info_tags
        .into_iter()
        .filter(|(key, _)| key != tag::TRACE_NAME && !STORE_TAGS.contains(&key.as_str()))
        .collect();
    let artifacts = format!(
        "{}/traces/{trace_id}/artifacts",
        experiment.artifact_location.trim_end_matches('/')
    );
    tags.push((tag::ARTIFACT_LOCATION.to_owned(), artifacts));
    tags.push((tag::SPANS_LOCATION.to_owned(), "TRACKING_STORE".to_owned()));

    TraceRows {
        trace_id,
        experiment_id: experiment.id.parse().unwrap_or(0),
        part: trace.remote_parent_id().is_some(),
        info: derived,
        trace_name,
        session_id,
        tokens,
        costs,
        tags,
        metadata,
        spans: spans.into_iter().map(SpanRow::new).collect(),
    }
}

impl SpanRow {
    fn new(span: StoredSpan<'_>) -> Self {
        let StoredSpan {
            recorded,
            stored,
            content,
            ..
        } = span;
        let cost = stored
            .attribute(attr::LLM_COST)
            .filter(Value::is_object)
            .unwrap_or(Value::Null);
        let span_type = match recorded.attribute(attr::SPAN_TYPE) {
            Some(Value::String(t)) => Some(t),
            _ => None,
        };
        let string_attr = |key| match stored.attribute(key) {
            Some(Value::String(s)) => Some(truncate_chars(&s, 500).to_owned()),
            _ => None,
        };
        SpanRow {
            span_id: stored.span_id().to_string(),
            parent_id: stored.parent_id().map(|p| p.to_string()),
            model_name: string_attr(attr::MODEL),
            model_provider: string_attr(attr::MODEL_PROVIDER),
            span_type,
            status: stored.status().code().as_str(),
            start_time_ns: stored.start_time_ns() as i64,
            end_time_ns: stored.end_time_ns() as i64,
            costs: COST_KEYS.map(|key| cost.get(key).and_then(Value::as_f64)),
            content,
            name: stored.name,
        }
    }
}

/// Inserts the rows of one trace, with statements prepared once per connection.
fn insert(tx: &Connection, rows: &TraceRows<'_>) -> rusqlite::Result<()> {
    if rows.part {
        return part::write_part(tx, rows);
    }
    let info = &rows.info;
    let trace_id = rows.trace_id;
    let [
        input_tokens,
        output_tokens,
        total_tokens,
        cache_read,
        cache_creation,
        above_1hr,
    ] = rows.tokens;
    let [input_cost, output_cost, total_cost] = rows.costs;
    let generation = tx
        .prepare_cached(
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
         total_cost = coalesce(excluded.total_cost, total_cost) \
         RETURNING db_payload_generation",
        )?
        .query_row(
            params![
                trace_id,
                rows.experiment_id,
                info.request_time_ms(),
                info.execution_duration_ms(),
                info.state().as_str(),
                info.client_request_id(),
                info.request_preview(),
                info.response_preview(),
                rows.trace_name,
                rows.session_id,
                input_tokens,
                output_tokens,
                total_tokens,
                cache_read,
                cache_creation,
                above_1hr,
                input_cost,
                output_cost,
                total_cost,
            ],
            |row| row.get::<_, i64>(0),
        )?;

    // The trace may be there already: created by the spans another process logged for its
    // part of this trace (distributed tracing). MLflow's `start_trace` then merges: its own
    // values win; previews, name, session, token usage and cost only where it has them;
    // tags and metadata are set over the placeholder's, and the spans already logged move
    // to its experiment. Otherwise plain inserts: a trace's keys are unique, and a trace
    // already stored fails at its spans. (`OR REPLACE` would make SQLite journal every
    // statement.)
    let merged = generation > 1;
    let or_replace = if merged { "OR REPLACE " } else { "" };
    let mut insert_tag = tx.prepare_cached(&format!(
        "INSERT {or_replace}INTO trace_tags (key, value, request_id) VALUES (?1, ?2, ?3)"
    ))?;
    for (key, value) in &rows.tags {
        insert_tag.execute(params![key, value, trace_id])?;
    }
    let mut insert_metadata = tx.prepare_cached(&format!(
        "INSERT {or_replace}INTO trace_request_metadata (key, value, request_id) \
         VALUES (?1, ?2, ?3)"
    ))?;
    for (key, value) in &rows.metadata {
        insert_metadata.execute(params![key, value, trace_id])?;
    }
    if merged {
        tx.prepare_cached("UPDATE spans SET experiment_id = ?1 WHERE trace_id = ?2")?
            .execute(params![rows.experiment_id, trace_id])?;
    }
    insert_spans(tx, rows, "INSERT")
}

/// Inserts the trace's spans (`verb`: `INSERT`, or `INSERT OR REPLACE` to log them again).
pub(super) fn insert_spans(
    tx: &Connection,
    rows: &TraceRows<'_>,
    verb: &str,
) -> rusqlite::Result<()> {
    let trace_id = rows.trace_id;
    let mut insert_span = tx.prepare_cached(&format!(
        "{verb} INTO spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status, \
         start_time_unix_nano, end_time_unix_nano, content, input_cost, output_cost, total_cost, \
         model_name, model_provider) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
         ?13, ?14, ?15)"
    ))?;
    for span in &rows.spans {
        let [input_cost, output_cost, total_cost] = span.costs;
        insert_span.execute(params![
            trace_id,
            rows.experiment_id,
            span.span_id,
            span.parent_id,
            span.name,
            span.span_type,
            span.status,
            span.start_time_ns,
            span.end_time_ns,
            span.content,
            input_cost,
            output_cost,
            total_cost,
            span.model_name,
            span.model_provider,
        ])?;
    }
    Ok(())
}

/// A span as the store writes it, encoded once.
struct StoredSpan<'a> {
    recorded: &'a Span,
    /// The span translated as MLflow's store translates it.
    stored: Span,
    /// MLflow's JSON of `stored` (the `content` column).
    content: String,
    /// MLflow's size of the span as the trace carries it (before the store adds to it).
    size: usize,
}

impl<'a> StoredSpan<'a> {
    fn new(recorded: &'a Span, stored: Span) -> Self {
        let content = stored.to_mlflow_json();
        let size = if stored.attributes() == recorded.attributes() {
            json::ascii_len_of_dumped(&content)
        } else {
            recorded.mlflow_json_ascii_len()
        };
        StoredSpan {
            recorded,
            stored,
            content,
            size,
        }
    }
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
