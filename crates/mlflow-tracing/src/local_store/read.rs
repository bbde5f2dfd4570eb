//! Reading traces back from an MLflow SQLite database.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use serde_json::{Map, Value};

use super::{StoreError, sqlite_err};
use crate::config::TrackingUri;
use crate::keys::{metadata, tag};
use crate::model::{Span, Trace, TraceInfo, TraceSummary};
use crate::types::TraceState;

/// Read-only access to the traces of an MLflow SQLite database.
///
/// ```no_run
/// let store = mlflow_tracing::local_store::LocalStore::open("mlflow.db")?;
/// for summary in store.list_traces(None, 10)? {
///     println!("{} {:?}", summary.info().trace_id(), summary.info().name());
/// }
/// # Ok::<(), mlflow_tracing::local_store::StoreError>(())
/// ```
#[derive(Debug)]
pub struct LocalStore {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
}

impl LocalStore {
    /// Opens an existing database for reading. Nothing is written through it — except
    /// that SQLite rolls back a transaction a writer left unfinished (a writer killed
    /// mid-write leaves a "hot" journal), which it must do before anyone can read.
    pub fn open(path: impl AsRef<Path>) -> Result<LocalStore, StoreError> {
        let path = path.as_ref().to_owned();
        if !path.exists() {
            return Err(StoreError::Missing { path });
        }
        let conn = open_for_reading(&path)?;
        let is_mlflow: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN \
                 ('alembic_version', 'trace_info', 'spans')",
                [],
                |r| r.get(0),
            )
            .map_err(sqlite_err(format!("reading {}", path.display())))?;
        if is_mlflow < 3 {
            return Err(StoreError::NotMlflow { path });
        }
        Ok(LocalStore { conn, path })
    }

    /// Opens the local store a tracking URI names (read-only). A URI that names no local
    /// store (a tracking server) is an error saying so; [`TraceReader`](crate::TraceReader)
    /// reads from either.
    pub fn open_uri(uri: &TrackingUri) -> Result<LocalStore, StoreError> {
        match uri {
            TrackingUri::Sqlite { path } => LocalStore::open(path),
            other => Err(StoreError::NotLocal {
                uri: other.to_string(),
            }),
        }
    }

    /// The id of the active experiment named `name`; `None` when there is none (nothing
    /// is created).
    pub fn experiment_id_by_name(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.experiment_row("name = ?1 AND workspace = 'default'", name)
    }

    /// `id` when an active experiment has it; `None` otherwise.
    pub fn active_experiment(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.experiment_row("CAST(experiment_id AS TEXT) = ?1", id)
    }

    /// The id of the active experiment matching `condition` on `value`.
    fn experiment_row(&self, condition: &str, value: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT experiment_id FROM experiments WHERE {condition} \
                     AND lifecycle_stage = 'active'"
                ),
                [value],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|id| id.map(|id| id.to_string()))
            .map_err(sqlite_err("reading experiments"))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The most recent traces (by start time), of one experiment or of all.
    pub fn list_traces(
        &self,
        experiment_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TraceSummary>, StoreError> {
        let experiment: Option<i64> = match experiment_id {
            Some(id) => Some(
                id.parse()
                    .map_err(|_| StoreError::NoSuchExperiment { id: id.to_owned() })?,
            ),
            None => None,
        };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {INFO_COLUMNS}, (SELECT count(*) FROM spans s WHERE s.trace_id = t.request_id) \
                 FROM trace_info t WHERE (?1 IS NULL OR t.experiment_id = ?1) \
                 ORDER BY t.timestamp_ms DESC, t.request_id LIMIT ?2"
            ))
            .map_err(sqlite_err("listing traces"))?;
        let rows = stmt
            .query_map(params![experiment, limit as i64], |row| {
                Ok((
                    info_from_row(row)?,
                    row.get::<_, i64>(INFO_COLUMN_COUNT)? as usize,
                ))
            })
            .map_err(sqlite_err("listing traces"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite_err("listing traces"))?;
        rows.into_iter()
            .map(|(info, span_count)| {
                Ok(TraceSummary::new(
                    self.with_tags_and_metadata(info)?,
                    Some(span_count),
                ))
            })
            .collect()
    }

    /// One trace with its spans; `None` if there is no trace with this id.
    pub fn get_trace(&self, trace_id: &str) -> Result<Option<Trace>, StoreError> {
        let info = self
            .conn
            .query_row(
                &format!("SELECT {INFO_COLUMNS} FROM trace_info t WHERE t.request_id = ?1"),
                [trace_id],
                info_from_row,
            )
            .optional()
            .map_err(sqlite_err(format!("reading trace {trace_id}")))?;
        let Some(info) = info else { return Ok(None) };
        let info = self.with_tags_and_metadata(info)?;
        let mut stmt = self
            .conn
            .prepare("SELECT content FROM spans WHERE trace_id = ?1 ORDER BY start_time_unix_nano")
            .map_err(sqlite_err("reading spans"))?;
        let spans = stmt
            .query_map([trace_id], |r| r.get::<_, String>(0))
            .map_err(sqlite_err("reading spans"))?
            .filter_map(|content| content.ok())
            .filter_map(|content| Span::from_mlflow_json(trace_id, &content))
            .collect();
        Ok(Some(Trace::new(info, spans)))
    }

    pub(super) fn with_tags_and_metadata(
        &self,
        mut info: Row2Info,
    ) -> Result<TraceInfo, StoreError> {
        let trace_id = info.info.trace_id.clone();
        let pairs = |table: &str| -> Result<Vec<(String, String)>, StoreError> {
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT key, value FROM {table} WHERE request_id = ?1 ORDER BY key"
                ))
                .map_err(sqlite_err(format!("reading {table}")))?;
            stmt.query_map([&trace_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            })
            .map_err(sqlite_err(format!("reading {table}")))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite_err(format!("reading {table}")))
        };
        if let Some(name) = info.trace_name.take() {
            info.info.tags.insert(tag::TRACE_NAME.to_owned(), name);
        }
        info.info.tags.extend(pairs("trace_tags")?);
        info.info.metadata.extend(pairs("trace_request_metadata")?);
        // The server reports these columns as metadata too.
        if let Some(session) = info.session_id.take() {
            info.info
                .metadata
                .insert(metadata::TRACE_SESSION.to_owned(), session);
        }
        if !info.tokens.is_empty() {
            info.info.metadata.insert(
                metadata::TOKEN_USAGE.to_owned(),
                crate::json::dumps(&info.tokens),
            );
        }
        if !info.cost.is_empty() {
            info.info
                .metadata
                .insert(metadata::COST.to_owned(), crate::json::dumps(&info.cost));
        }
        Ok(info.info)
    }
}

pub(super) const INFO_COLUMNS: &str = "t.request_id, t.experiment_id, t.timestamp_ms, t.execution_time_ms, \
     t.status, t.client_request_id, t.request_preview, t.response_preview, t.trace_name, \
     t.session_id, t.input_tokens, t.output_tokens, t.total_tokens, t.cache_read_input_tokens, \
     t.cache_creation_input_tokens, t.cache_creation_input_tokens_above_1hr, t.input_cost, \
     t.output_cost, t.total_cost";
pub(super) const INFO_COLUMN_COUNT: usize = 19;

/// A `trace_info` row before its tags and metadata are added.
pub(super) struct Row2Info {
    info: TraceInfo,
    trace_name: Option<String>,
    session_id: Option<String>,
    tokens: Map<String, Value>,
    cost: Map<String, Value>,
}

pub(super) fn info_from_row(row: &Row<'_>) -> rusqlite::Result<Row2Info> {
    let mut tokens = Map::new();
    for (i, key) in [
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "cache_creation_input_tokens_above_1hr",
    ]
    .iter()
    .enumerate()
    {
        if let Some(n) = row.get::<_, Option<i64>>(10 + i)? {
            tokens.insert((*key).to_owned(), n.into());
        }
    }
    let mut cost = Map::new();
    for (i, key) in ["input_cost", "output_cost", "total_cost"]
        .iter()
        .enumerate()
    {
        if let Some(c) = row.get::<_, Option<f64>>(16 + i)? {
            cost.insert((*key).to_owned(), c.into());
        }
    }
    let status: String = row.get(4)?;
    Ok(Row2Info {
        info: TraceInfo {
            trace_id: row.get(0)?,
            experiment_id: Some(row.get::<_, i64>(1)?.to_string()),
            request_time_ms: row.get(2)?,
            execution_duration_ms: row.get(3)?,
            state: TraceState::parse(&status).unwrap_or(TraceState::Unspecified),
            client_request_id: row.get(5)?,
            request_preview: row.get(6)?,
            response_preview: row.get(7)?,
            metadata: IndexMap::new(),
            tags: IndexMap::new(),
        },
        trace_name: row.get(8)?,
        session_id: row.get(9)?,
        tokens,
        cost,
    })
}

/// A connection for reading `path`: read-write where the file allows it (so that SQLite
/// can roll back a hot journal a killed writer left), with writes refused
/// (`query_only`); read-only otherwise.
pub(super) fn open_for_reading(path: &Path) -> Result<Connection, StoreError> {
    let open = |flags| Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX);
    let conn = open(OpenFlags::SQLITE_OPEN_READ_WRITE)
        .and_then(|conn| conn.pragma_update(None, "query_only", true).map(|()| conn))
        .or_else(|_| open(OpenFlags::SQLITE_OPEN_READ_ONLY))
        .map_err(sqlite_err(format!("opening {}", path.display())))?;
    conn.busy_timeout(super::READ_BUSY_TIMEOUT)
        .map_err(sqlite_err("setting the busy timeout"))?;
    Ok(conn)
}
