//! Where traces are stored: the tracking URI and the experiment, and how each is resolved
//! (code > environment > default).

use std::fmt;
use std::path::{Path, PathBuf};

use super::server::ServerUrl;
use super::{ConfigError, Env, Setting, Source, env};

/// Where MLflow traces are stored, parsed from a tracking URI (`MLFLOW_TRACKING_URI`,
/// [`set_tracking_uri`](crate::set_tracking_uri)).
///
/// Displays in MLflow's spelling (`sqlite:////abs/path/mlflow.db`, `http://host:5000`),
/// never with credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrackingUri {
    /// An MLflow SQLite database (`sqlite:///path/to/mlflow.db`); the path is absolute.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// An MLflow tracking server (`http://host:5000`, `https://user:password@host`), reached
    /// over its REST API.
    Server {
        /// The server's URL.
        url: ServerUrl,
    },
}

/// What a tracking URI may be, for error messages.
const ACCEPTED: &str = "sqlite:///<path to an MLflow SQLite database> \
     (three slashes and a relative path, or four slashes and an absolute path), or the \
     http:// or https:// URL of an MLflow tracking server";

impl TrackingUri {
    /// The default: `mlflow.db` in `cwd`.
    pub(crate) fn default_local(cwd: &Path) -> Self {
        TrackingUri::Sqlite {
            path: cwd.join("mlflow.db"),
        }
    }

    /// Parses a tracking URI; a relative database path is resolved against the working
    /// directory.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        Self::parse_in("tracking URI", raw, &current_dir())
    }

    /// Parses what a user may name a local store by: a tracking URI, or the path of an
    /// MLflow SQLite database file (`mlflow.db`, `/data/mlflow.db`).
    pub fn parse_uri_or_path(raw: &str) -> Result<Self, ConfigError> {
        if raw.contains("://") {
            return Self::parse(raw);
        }
        let path = Path::new(raw);
        Ok(TrackingUri::Sqlite {
            path: if path.is_absolute() {
                path.to_owned()
            } else {
                current_dir().join(path)
            },
        })
    }

    /// Parses a tracking URI given in `variable`; relative paths resolve against `cwd`.
    pub(crate) fn parse_in(variable: &str, raw: &str, cwd: &Path) -> Result<Self, ConfigError> {
        if let Some(rest) = raw.strip_prefix("sqlite://") {
            // SQLAlchemy: sqlite:///relative.db, sqlite:////absolute.db; sqlite:// is in-memory.
            let Some(path) = rest.strip_prefix('/') else {
                return Err(ConfigError::new(variable, raw, ACCEPTED));
            };
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() || path == ":memory:" {
                return Err(ConfigError::new(
                    variable,
                    raw,
                    format!("{ACCEPTED}; an in-memory database would lose every trace"),
                ));
            }
            let path = Path::new(path);
            let path = if path.is_absolute() {
                path.to_owned()
            } else {
                cwd.join(path)
            };
            return Ok(TrackingUri::Sqlite { path });
        }
        if raw.starts_with("http://") || raw.starts_with("https://") {
            return Ok(TrackingUri::Server {
                url: ServerUrl::parse(variable, raw)?,
            });
        }
        let shown = super::redact::redact_url(raw);
        let expected = if raw.starts_with("databricks") {
            format!("{ACCEPTED}. Databricks workspaces are not supported")
        } else if raw.starts_with("file:") || !raw.contains(':') {
            format!(
                "{ACCEPTED}. MLflow's ./mlruns file store is in maintenance mode and is not \
                 supported"
            )
        } else {
            ACCEPTED.to_owned()
        };
        Err(ConfigError::new(variable, &shown, expected))
    }

    /// The tracking server's URL, when the URI names one.
    pub(crate) fn server(&self) -> Option<&ServerUrl> {
        match self {
            TrackingUri::Server { url } => Some(url),
            TrackingUri::Sqlite { .. } => None,
        }
    }
}

impl fmt::Display for TrackingUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Paths are absolute, so this yields SQLAlchemy's four-slash form.
            TrackingUri::Sqlite { path } => write!(f, "sqlite:///{}", path.display()),
            TrackingUri::Server { url } => write!(f, "{url}"),
        }
    }
}

/// The working directory, for resolving relative database paths (`.` when unreadable).
pub(crate) fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// The experiment traces go to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Experiment {
    /// The default experiment, id `0`.
    Default,
    /// By id (`MLFLOW_EXPERIMENT_ID`).
    Id(String),
    /// By name (`MLFLOW_EXPERIMENT_NAME`, [`set_experiment`](crate::set_experiment));
    /// created when missing.
    Name(String),
}

impl Experiment {
    /// The id, when it is known without asking a store.
    pub(crate) fn known_id(&self) -> Option<&str> {
        match self {
            Experiment::Default => Some("0"),
            Experiment::Id(id) => Some(id),
            Experiment::Name(_) => None,
        }
    }
}

impl fmt::Display for Experiment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Experiment::Default => f.write_str("experiment 0"),
            Experiment::Id(id) => write!(f, "experiment {id}"),
            Experiment::Name(name) => write!(f, "experiment {name:?}"),
        }
    }
}

/// The tracking URI: set in code, else `MLFLOW_TRACKING_URI`, else `mlflow.db` in `cwd`.
pub(crate) fn resolve_tracking_uri(
    e: &Env,
    code: Option<&str>,
    cwd: &Path,
) -> Result<Setting<TrackingUri>, ConfigError> {
    Ok(match (code, e.get(env::MLFLOW_TRACKING_URI)) {
        (Some(uri), _) => Setting::new(
            TrackingUri::parse_in("set_tracking_uri", uri, cwd)?,
            Source::Code,
        ),
        (None, Some(uri)) => Setting::new(
            TrackingUri::parse_in(env::MLFLOW_TRACKING_URI, &uri, cwd)?,
            Source::Env(env::MLFLOW_TRACKING_URI),
        ),
        (None, None) => Setting::new(TrackingUri::default_local(cwd), Source::Default),
    })
}

/// The experiment: set in code, else `MLFLOW_EXPERIMENT_NAME` (which wins over the id, as
/// in MLflow), else `MLFLOW_EXPERIMENT_ID`, else the default experiment.
pub(crate) fn resolve_experiment(e: &Env, code: Option<&Experiment>) -> Setting<Experiment> {
    match (
        code,
        e.get(env::MLFLOW_EXPERIMENT_NAME),
        e.get(env::MLFLOW_EXPERIMENT_ID),
    ) {
        (Some(experiment), _, _) => Setting::new(experiment.clone(), Source::Code),
        (None, Some(name), _) => Setting::new(
            Experiment::Name(name),
            Source::Env(env::MLFLOW_EXPERIMENT_NAME),
        ),
        (None, None, Some(id)) => {
            Setting::new(Experiment::Id(id), Source::Env(env::MLFLOW_EXPERIMENT_ID))
        }
        (None, None, None) => Setting::new(Experiment::Default, Source::Default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_uris() {
        let cwd = Path::new("/work/app");
        assert_eq!(
            TrackingUri::parse_in("V", "sqlite:///mlflow.db", cwd).unwrap(),
            TrackingUri::Sqlite {
                path: PathBuf::from("/work/app/mlflow.db")
            }
        );
        assert_eq!(
            TrackingUri::parse_in("V", "sqlite:////tmp/x/mlflow.db", cwd).unwrap(),
            TrackingUri::Sqlite {
                path: PathBuf::from("/tmp/x/mlflow.db")
            }
        );
        assert_eq!(
            TrackingUri::Sqlite {
                path: PathBuf::from("/tmp/x/mlflow.db")
            }
            .to_string(),
            "sqlite:////tmp/x/mlflow.db"
        );
        for bad in ["sqlite://", "sqlite:///:memory:", "sqlite:mlflow.db"] {
            let err = TrackingUri::parse_in("MLFLOW_TRACKING_URI", bad, cwd).unwrap_err();
            assert_eq!(err.variable(), "MLFLOW_TRACKING_URI");
        }
        let server =
            TrackingUri::parse_in("MLFLOW_TRACKING_URI", "http://localhost:5000/", cwd).unwrap();
        assert_eq!(server.to_string(), "http://localhost:5000");
        assert!(server.server().is_some());
        let secret = TrackingUri::parse_in("V", "https://u:s3cr3t@h", cwd).unwrap();
        assert_eq!(secret.to_string(), "https://<redacted>@h");
        assert!(!format!("{secret:?}").contains("s3cr3t"));
        let err = TrackingUri::parse_in("V", "databricks://u:s3cr3t@x", cwd).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(err.to_string().contains("Databricks"), "{err}");
        let err = TrackingUri::parse_in("MLFLOW_TRACKING_URI", "./mlruns", cwd).unwrap_err();
        assert!(err.to_string().contains("maintenance mode"), "{err}");
    }

    #[test]
    fn uris_or_paths() {
        let abs = TrackingUri::parse_uri_or_path("/data/mlflow.db").unwrap();
        assert_eq!(
            abs,
            TrackingUri::Sqlite {
                path: PathBuf::from("/data/mlflow.db")
            }
        );
        let rel = TrackingUri::parse_uri_or_path("x/mlflow.db").unwrap();
        assert_eq!(
            rel,
            TrackingUri::Sqlite {
                path: current_dir().join("x/mlflow.db")
            }
        );
        assert!(TrackingUri::parse_uri_or_path("ftp://host/x").is_err());
    }

    #[test]
    fn code_wins_then_the_name_then_the_id() {
        let e = Env::from_fn(|k| match k {
            "MLFLOW_EXPERIMENT_NAME" => Some("by-name".into()),
            "MLFLOW_EXPERIMENT_ID" => Some("7".into()),
            "MLFLOW_TRACKING_URI" => Some("sqlite:///env.db".into()),
            _ => None,
        });
        let cwd = Path::new("/w");
        assert_eq!(
            resolve_experiment(&e, None),
            Setting::new(
                Experiment::Name("by-name".into()),
                Source::Env("MLFLOW_EXPERIMENT_NAME")
            )
        );
        let code = Experiment::Id("3".into());
        assert_eq!(resolve_experiment(&e, Some(&code)).source, Source::Code);
        let only_id = Env::from_fn(|k| (k == "MLFLOW_EXPERIMENT_ID").then(|| "7".to_owned()));
        assert_eq!(
            resolve_experiment(&only_id, None).value,
            Experiment::Id("7".into())
        );
        assert_eq!(
            resolve_tracking_uri(&e, None, cwd)
                .unwrap()
                .value
                .to_string(),
            "sqlite:////w/env.db"
        );
        assert_eq!(
            resolve_tracking_uri(&e, Some("sqlite:///code.db"), cwd)
                .unwrap()
                .source,
            Source::Code
        );
        let none = Env::from_fn(|_| None);
        assert_eq!(
            resolve_tracking_uri(&none, None, cwd).unwrap(),
            Setting::new(TrackingUri::default_local(cwd), Source::Default)
        );
    }
}
