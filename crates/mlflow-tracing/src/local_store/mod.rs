//! The embedded default destination: an MLflow SQLite database (`./mlflow.db`).
//!
//! The database uses MLflow 3.17.2's own schema (generated from MLflow by
//! `scripts/gen-store-schema.py`), so `mlflow ui` and `mlflow server` open it as they
//! would a database the Python SDK wrote. A missing database is created; a database at a
//! schema revision this crate does not write is refused with an error saying what to do,
//! and is never written.
//!
//! Each batch of finished traces is written in one transaction, with statements prepared
//! once per connection: a batch is never half written; when one trace's data fails it,
//! the traces are written again one per transaction, so one bad trace does not cost the
//! others.
//! Several processes may write one database at once: writers wait for SQLite's lock
//! (busy timeout and retries) rather than fail.
//!
//! [`LocalStore`] reads traces back (the `mlflow-trace traces` commands use it).

mod assessments;
mod derive;
mod filter;
mod part;
mod read;
mod search;
mod writability;
pub(crate) mod write;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

pub use crate::model::TraceSummary;
use crate::pricing::Prices;
pub use read::LocalStore;

/// The schema this crate creates and writes: MLflow 3.17.2 at its alembic head.
const SCHEMA_SQL: &str = include_str!("schema/mlflow.sql");
/// Every alembic revision MLflow 3.17.2 knows, newest first.
const REVISIONS: &str = include_str!("schema/revisions.txt");
/// The MLflow version whose schema this is.
pub const MLFLOW_SCHEMA_VERSION: &str = "3.17.2";
/// How long a statement waits for another process's lock before it is retried.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);
/// How long every operation of a writer — opening, checking the schema, looking up
/// experiments, writing — keeps retrying a database another process has locked.
const LOCKED_RETRY_BUDGET: Duration = Duration::from_secs(60);
/// Per-connection settings of the writer: temporary files (statement journals) in
/// memory; up to 8 MiB of page cache (SQLite's default is 2 MiB).
const WRITER_PRAGMAS: &str = "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8192;";
/// How long a reader (`LocalStore`) waits for a writer's lock.
const READ_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The alembic revision of the schema this crate writes.
pub fn schema_revision() -> &'static str {
    known_revisions().next().unwrap_or("")
}

fn known_revisions() -> impl Iterator<Item = &'static str> {
    REVISIONS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Why the local store could not be used.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreError {
    /// The database is at an older MLflow schema revision.
    OlderSchema {
        /// The database.
        path: PathBuf,
        /// Its revision.
        revision: String,
    },
    /// The database is at a revision this crate does not know (a newer MLflow).
    UnknownSchema {
        /// The database.
        path: PathBuf,
        /// Its revision.
        revision: String,
    },
    /// The file is a SQLite database but not an MLflow one.
    NotMlflow {
        /// The database.
        path: PathBuf,
    },
    /// The database does not exist (reading only).
    Missing {
        /// The database.
        path: PathBuf,
    },
    /// No experiment with this id, or it is deleted.
    NoSuchExperiment {
        /// The experiment id.
        id: String,
    },
    /// The database cannot be written: the file, its directory or its disk.
    NotWritable {
        /// The database.
        path: PathBuf,
        /// What stops it, in plain words.
        problem: String,
    },
    /// An experiment name that MLflow does not accept (empty).
    InvalidExperimentName {
        /// The name.
        name: String,
    },
    /// No trace with this id (annotating).
    NoSuchTrace {
        /// The trace id.
        trace_id: String,
    },
    /// A search filter or order that MLflow does not accept, or that this reader does not
    /// support; the message says which part and what is accepted.
    InvalidSearch {
        /// What is wrong.
        message: String,
    },
    /// The tracking URI names a tracking server, not a local database.
    NotLocal {
        /// The URI (without credentials).
        uri: String,
    },
    /// SQLite or file-system failure.
    Sqlite {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = schema_revision();
        match self {
            StoreError::OlderSchema { path, revision } => write!(
                f,
                "{} is at MLflow schema revision {revision}, older than the revision \
                 mlflow-tracing writes ({head}, MLflow {MLFLOW_SCHEMA_VERSION}); upgrade it with \
                 `mlflow db upgrade sqlite:///{}` (MLflow {MLFLOW_SCHEMA_VERSION}) or point \
                 MLFLOW_TRACKING_URI at another database. It was not written.",
                path.display(),
                path.display()
            ),
            StoreError::UnknownSchema { path, revision } => write!(
                f,
                "{} is at MLflow schema revision {revision}, which mlflow-tracing does not know \
                 (it writes revision {head}, MLflow {MLFLOW_SCHEMA_VERSION}); it was probably \
                 created by a newer MLflow. Use a newer mlflow-tracing, or point \
                 MLFLOW_TRACKING_URI at another database. It was not written.",
                path.display()
            ),
            StoreError::NotMlflow { path } => write!(
                f,
                "{} is a SQLite database but not an MLflow one (it has tables but no \
                 alembic_version); point MLFLOW_TRACKING_URI at an MLflow database or a new \
                 file. It was not written.",
                path.display()
            ),
            StoreError::Missing { path } => write!(f, "{} does not exist", path.display()),
            StoreError::NoSuchTrace { trace_id } => {
                write!(f, "Trace with ID '{trace_id}' not found.")
            }
            StoreError::InvalidSearch { message } => f.write_str(message),
            StoreError::NoSuchExperiment { id } => {
                write!(f, "experiment {id} does not exist or is deleted")
            }
            StoreError::NotWritable { problem, .. } => write!(
                f,
                "{problem}; set MLFLOW_TRACKING_URI to a writable place, e.g. \
                 sqlite:////tmp/mlflow.db"
            ),
            StoreError::InvalidExperimentName { name } => {
                write!(f, "invalid experiment name {name:?}: it must not be empty")
            }
            StoreError::NotLocal { uri } => write!(
                f,
                "{uri} is an MLflow tracking server, not a local MLflow database"
            ),
            StoreError::Sqlite { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Sqlite { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

fn sqlite_err<E: std::error::Error + Send + Sync + 'static>(
    context: impl Into<String>,
) -> impl FnOnce(E) -> StoreError {
    let context = context.into();
    move |e| StoreError::Sqlite {
        context,
        source: Arc::new(e),
    }
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Runs `f`, retrying while another process holds the database lock.
fn retry_locked<T>(
    mut f: impl FnMut() -> Result<T, rusqlite::Error>,
) -> Result<T, rusqlite::Error> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        match f() {
            Err(err) if is_busy(&err) && start.elapsed() < LOCKED_RETRY_BUDGET => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

/// An experiment row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Experiment {
    pub(crate) id: String,
    pub(crate) artifact_location: String,
}

/// A read-write connection to an MLflow SQLite database.
pub(crate) struct Store {
    conn: Connection,
    path: PathBuf,
    /// Root under which new experiments' artifact locations are made (`<cwd>/mlruns`).
    artifact_root: PathBuf,
    /// Active experiments already looked up, by id.
    experiments: HashMap<String, Experiment>,
    /// The prices spans are priced with when MLflow's store would price them.
    prices: Arc<Prices>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `path`, creating it (and its directory) with MLflow's schema
    /// and the `Default` experiment when it does not exist.
    pub(crate) fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(sqlite_err(format!("creating directory {}", dir.display())))?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| writability::explain(path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite_err("setting the busy timeout"))?;
        // This connection's own settings (the file's journal mode is left as it is, so
        // `mlflow ui` and Python writers see the database as they made it): statement
        // journals in memory, and a page cache for the pages a batch touches.
        conn.execute_batch(WRITER_PRAGMAS)
            .map_err(sqlite_err("setting up the connection"))?;
        // A database in WAL mode (which the user chose: `PRAGMA journal_mode = WAL`, as
        // MLflow's own bulk import sets it) is written with `synchronous = NORMAL`: commits
        // do not wait for the disk, a crash never corrupts the file, a power loss may undo
        // the last commits. A rollback-journal database keeps SQLite's FULL.
        let journal: String =
            retry_locked(|| conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)))
                .map_err(sqlite_err("reading the journal mode"))?;
        if journal.eq_ignore_ascii_case("wal") {
            conn.execute_batch("PRAGMA synchronous = NORMAL")
                .map_err(sqlite_err("setting up the connection"))?;
        }
        let artifact_root = std::env::current_dir().unwrap_or_default().join("mlruns");
        let mut store = Store {
            conn,
            path: path.to_owned(),
            artifact_root,
            experiments: HashMap::new(),
            prices: Arc::default(),
        };
        store.ensure_schema()?;
        Ok(store)
    }

    /// Prices spans with `prices` (those of the pipeline) instead of MLflow's catalog alone.
    pub(crate) fn with_prices(mut self, prices: Arc<Prices>) -> Store {
        self.prices = prices;
        self
    }

    /// Creates the schema in a new database; checks the revision of an existing one.
    fn ensure_schema(&mut self) -> Result<(), StoreError> {
        if let Some(revision) = self.revision()? {
            return self.check_revision(revision);
        }
        let path = self.path.clone();
        let artifact_root = self.artifact_root.clone();
        retry_locked(|| {
            // EXCLUSIVE: another process creating the same database waits, then sees it.
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
            let has_version: bool = tx.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'",
                [],
                |r| r.get::<_, i64>(0).map(|n| n > 0),
            )?;
            let tables: i64 =
                tx.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))?;
            if !has_version && tables == 0 {
                tx.execute_batch(SCHEMA_SQL)?;
                let now = now_ms();
                tx.execute(
                    "INSERT INTO experiments (experiment_id, name, artifact_location, \
                     lifecycle_stage, creation_time, last_update_time, workspace) \
                     VALUES (0, 'Default', ?1, 'active', ?2, ?2, 'default')",
                    rusqlite::params![artifact_root.join("0").display().to_string(), now],
                )?;
            }
            tx.commit()
        })
        .map_err(sqlite_err(format!("creating MLflow tables in {}", path.display())))?;
        match self.revision()? {
            Some(revision) => self.check_revision(revision),
            None => Err(StoreError::NotMlflow { path }),
        }
    }

    /// The schema revision: `None` for an empty database.
    fn revision(&self) -> Result<Option<String>, StoreError> {
        let path = self.path.display().to_string();
        match retry_locked(|| read_revision(&self.conn))
            .map_err(sqlite_err(format!("reading the schema revision of {path}")))?
        {
            Revision::Empty => Ok(None),
            Revision::NotMlflow => Err(StoreError::NotMlflow {
                path: self.path.clone(),
            }),
            Revision::At(revision) => Ok(Some(revision)),
        }
    }

    fn check_revision(&self, revision: String) -> Result<(), StoreError> {
        let path = self.path.clone();
        match known_revisions().position(|r| r == revision) {
            Some(0) => Ok(()),
            Some(_) => Err(StoreError::OlderSchema { path, revision }),
            None => Err(StoreError::UnknownSchema { path, revision }),
        }
    }

    /// The active experiment with this id (looked up once, then remembered).
    pub(crate) fn experiment(&mut self, id: &str) -> Result<Experiment, StoreError> {
        if let Some(experiment) = self.experiments.get(id) {
            return Ok(experiment.clone());
        }
        let numeric: i64 = id
            .parse()
            .map_err(|_| StoreError::NoSuchExperiment { id: id.to_owned() })?;
        let found = retry_locked(|| {
            self.conn
                .query_row(
                    "SELECT experiment_id, artifact_location FROM experiments \
                     WHERE experiment_id = ?1 AND lifecycle_stage = 'active'",
                    [numeric],
                    |r| {
                        Ok(Experiment {
                            id: r.get::<_, i64>(0)?.to_string(),
                            artifact_location: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        })
                    },
                )
                .optional()
        })
        .map_err(sqlite_err("reading experiments"))?
        .ok_or_else(|| StoreError::NoSuchExperiment { id: id.to_owned() })?;
        self.experiments.insert(id.to_owned(), found.clone());
        Ok(found)
    }

    /// The id of the experiment named `name`, creating it when missing, as
    /// `mlflow.set_experiment` does.
    pub(crate) fn get_or_create_experiment(&mut self, name: &str) -> Result<String, StoreError> {
        if name.trim().is_empty() {
            return Err(StoreError::InvalidExperimentName {
                name: name.to_owned(),
            });
        }
        let artifact_root = self.artifact_root.clone();
        retry_locked(|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing: Option<(i64, String)> = tx
                .query_row(
                    "SELECT experiment_id, lifecycle_stage FROM experiments \
                     WHERE name = ?1 AND workspace = 'default'",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((id, stage)) = existing {
                tx.commit()?;
                return Ok(Err((id, stage)));
            }
            let now = now_ms();
            tx.execute(
                "INSERT INTO experiments (name, lifecycle_stage, creation_time, last_update_time, \
                 workspace) VALUES (?1, 'active', ?2, ?2, 'default')",
                rusqlite::params![name, now],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "UPDATE experiments SET artifact_location = ?1 WHERE experiment_id = ?2",
                rusqlite::params![artifact_root.join(id.to_string()).display().to_string(), id],
            )?;
            tx.commit()?;
            Ok(Ok(id))
        })
        .map_err(sqlite_err(format!("creating experiment {name:?}")))
        .and_then(|created| match created {
            Ok(id) => Ok(id.to_string()),
            Err((id, stage)) if stage == "active" => Ok(id.to_string()),
            Err((id, _)) => Err(StoreError::NoSuchExperiment {
                id: format!("{id} ({name:?} is deleted; restore it or pick another name)"),
            }),
        })
    }
}

/// Describes an existing database without writing to it: its schema revision and how
/// many traces and experiments it holds, or why it cannot be used.
pub(crate) fn inspect(path: &Path) -> Result<String, StoreError> {
    let store = Store {
        conn: read::open_for_reading(path)?,
        path: path.to_owned(),
        artifact_root: PathBuf::new(),
        experiments: HashMap::new(),
        prices: Arc::default(),
    };
    let Some(revision) = store.revision()? else {
        return Ok(format!(
            "{} is empty; the MLflow tables will be created at the first trace",
            path.display()
        ));
    };
    store.check_revision(revision.clone())?;
    let count = |sql: &str| -> Result<i64, StoreError> {
        store
            .conn
            .query_row(sql, [], |r| r.get(0))
            .map_err(sqlite_err(format!("reading {}", path.display())))
    };
    let traces = count("SELECT count(*) FROM trace_info")?;
    let experiments = count("SELECT count(*) FROM experiments WHERE lifecycle_stage = 'active'")?;
    Ok(format!(
        "MLflow database at schema revision {revision} (MLflow {MLFLOW_SCHEMA_VERSION}): {traces} \
         trace(s) in {experiments} active experiment(s)"
    ))
}

/// Whether the store at `path` can be written (for `doctor`): `Err` names what stops it.
pub(crate) fn check_writable(path: &Path) -> Result<(), StoreError> {
    match writability::problem(path) {
        None => Ok(()),
        Some(problem) => Err(StoreError::NotWritable {
            path: path.to_owned(),
            problem,
        }),
    }
}

/// What a database holds, schema-wise.
enum Revision {
    /// No tables at all: a new database.
    Empty,
    /// Tables, but no `alembic_version`: not MLflow's.
    NotMlflow,
    /// MLflow's schema at this alembic revision (empty when the table has no row).
    At(String),
}

fn read_revision(conn: &Connection) -> rusqlite::Result<Revision> {
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    if tables == 0 {
        return Ok(Revision::Empty);
    }
    let has_version: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'",
        [],
        |r| r.get(0),
    )?;
    if has_version == 0 {
        return Ok(Revision::NotMlflow);
    }
    let revision = conn
        .query_row("SELECT version_num FROM alembic_version", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?;
    Ok(Revision::At(revision.unwrap_or_default()))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_revision_is_the_newest_known() {
        assert_eq!(schema_revision(), "dc11669786a5");
        assert!(known_revisions().count() > 10);
    }

    #[test]
    fn creates_a_new_database_with_the_default_experiment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/mlflow.db");
        let mut store = Store::open(&path).unwrap();
        let exp = store.experiment("0").unwrap();
        assert!(exp.artifact_location.ends_with("mlruns/0"), "{exp:?}");
        let tables: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 65);
        // Opening again keeps what is there.
        drop(store);
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.get_or_create_experiment("exp-a").unwrap(), "1");
        assert_eq!(store.get_or_create_experiment("exp-a").unwrap(), "1");
        assert_eq!(store.get_or_create_experiment("exp-b").unwrap(), "2");
        assert!(
            store
                .experiment("1")
                .unwrap()
                .artifact_location
                .ends_with("mlruns/1")
        );
        assert!(matches!(
            store.experiment("9"),
            Err(StoreError::NoSuchExperiment { .. })
        ));
    }

    #[test]
    fn a_database_in_wal_mode_is_written_without_waiting_for_the_disk_at_each_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlflow.db");
        let synchronous = |store: &Store| -> i64 {
            store
                .conn
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap()
        };
        // A new database keeps SQLite's rollback journal, written with FULL (2).
        let store = Store::open(&path).unwrap();
        assert_eq!(synchronous(&store), 2);
        drop(store);
        // The user switches it to WAL, as MLflow's bulk import does: NORMAL (1).
        Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            .unwrap();
        let mut store = Store::open(&path).unwrap();
        assert_eq!(synchronous(&store), 1);
        assert_eq!(store.experiment("0").unwrap().id, "0");
    }

    #[test]
    fn errors_keep_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "not a directory").unwrap();
        let err = Store::open(&file.join("mlflow.db")).unwrap_err();
        assert!(err.to_string().starts_with("creating directory"), "{err}");
        let source = std::error::Error::source(&err).expect("the I/O error");
        assert!(
            source.downcast_ref::<std::io::Error>().is_some(),
            "{source:?}"
        );
    }

    #[test]
    fn refuses_older_unknown_and_foreign_databases_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let older = known_revisions().nth(3).unwrap();
        for (name, setup, expect) in [
            ("older.db", format!("CREATE TABLE alembic_version (version_num VARCHAR(32)); INSERT INTO alembic_version VALUES ('{older}');"), "older"),
            ("newer.db", "CREATE TABLE alembic_version (version_num VARCHAR(32)); INSERT INTO alembic_version VALUES ('ffffffffffff');".to_owned(), "unknown"),
            ("other.db", "CREATE TABLE notes (x TEXT);".to_owned(), "foreign"),
        ] {
            let path = dir.path().join(name);
            Connection::open(&path).unwrap().execute_batch(&setup).unwrap();
            let before = std::fs::read(&path).unwrap();
            let err = Store::open(&path).unwrap_err();
            let message = err.to_string();
            match expect {
                "older" => {
                    assert!(matches!(err, StoreError::OlderSchema { .. }));
                    assert!(message.contains(older) && message.contains("mlflow db upgrade"), "{message}");
                }
                "unknown" => {
                    assert!(matches!(err, StoreError::UnknownSchema { .. }));
                    assert!(message.contains("ffffffffffff") && message.contains("newer MLflow"), "{message}");
                }
                _ => assert!(matches!(err, StoreError::NotMlflow { .. }), "{message}"),
            }
            assert_eq!(std::fs::read(&path).unwrap(), before, "{name} was modified");
        }
    }
}
