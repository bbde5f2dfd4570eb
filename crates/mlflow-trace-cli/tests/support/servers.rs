//! MLflow tracking servers for the tracking-server tests: over SQLite or PostgreSQL, with
//! basic authentication, stopped and started again on the same port; one server shared
//! by the tests of a binary; and a PostgreSQL cluster of their own.
//!
//! They run from the venv `scripts/test.sh` provisions for servers
//! (`MLFLOW_TRACING_TEST_SERVER_PYTHON`: `mlflow[auth]`, `psycopg2-binary`) and Debian's
//! PostgreSQL (`MLFLOW_TRACING_TEST_PG_BIN`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::{Background, backend_program, clean_command, free_port, wait_http, wait_port};

/// The Python of the venv MLflow servers run from.
pub(crate) fn server_python() -> Option<PathBuf> {
    backend_program(
        "MLFLOW_TRACING_TEST_SERVER_PYTHON",
        "the MLflow server venv (mlflow[auth], psycopg2-binary)",
    )
}

/// How to start an MLflow server.
#[derive(Clone)]
pub(crate) struct ServerSpec {
    pub(crate) python: PathBuf,
    /// `--backend-store-uri`.
    pub(crate) backend: String,
    pub(crate) workdir: PathBuf,
    /// `--app-name basic-auth` with this admin password.
    pub(crate) admin_password: Option<String>,
}

impl ServerSpec {
    /// A server over a new SQLite database in `workdir`.
    pub(crate) fn sqlite(python: &Path, workdir: &Path) -> ServerSpec {
        ServerSpec {
            python: python.to_owned(),
            backend: format!("sqlite:///{}", workdir.join("mlflow.db").display()),
            workdir: workdir.to_owned(),
            admin_password: None,
        }
    }
}

/// A running MLflow server (stopped when dropped), which can be stopped and started again
/// on the same port.
pub(crate) struct RunningServer {
    spec: ServerSpec,
    port: u16,
    process: Option<Background>,
    pub(crate) url: String,
    /// How many times it was started (each start has its own log file).
    starts: usize,
}

impl RunningServer {
    pub(crate) fn start(spec: ServerSpec) -> RunningServer {
        let port = free_port();
        let mut server = RunningServer {
            spec,
            port,
            process: None,
            url: format!("http://127.0.0.1:{port}"),
            starts: 0,
        };
        server.start_again();
        server
    }

    /// Starts the server (again) on its port, and waits until it answers.
    pub(crate) fn start_again(&mut self) {
        let spec = &self.spec;
        let mut command = clean_command(spec.python.with_file_name("mlflow"));
        command
            .args(["server", "--host", "127.0.0.1", "--workers", "1"])
            .args(["--port", &self.port.to_string()])
            .args(["--backend-store-uri", &spec.backend])
            .arg("--artifacts-destination")
            .arg(spec.workdir.join("artifacts"))
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            // Model prices from the catalog MLflow ships, never from the network.
            .env("MLFLOW_MODEL_CATALOG_URI", "")
            .current_dir(&spec.workdir);
        if let Some(password) = &spec.admin_password {
            let config = spec.workdir.join("basic_auth.ini");
            std::fs::write(
                &config,
                format!(
                    "[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{}\n\
                     admin_username = admin\nadmin_password = {password}\n\
                     authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
                    spec.workdir.join("basic_auth.db").display()
                ),
            )
            .expect("auth config");
            command
                .args(["--app-name", "basic-auth"])
                .env("MLFLOW_AUTH_CONFIG_PATH", config)
                .env("MLFLOW_FLASK_SERVER_SECRET_KEY", "mlflow-tracing-rs-tests");
        }
        self.starts += 1;
        let log = spec
            .workdir
            .join(format!("mlflow-server-{}.log", self.starts));
        let mut process = Background::spawn(command, log);
        wait_http(
            &mut process,
            &format!("{}/health", self.url),
            Duration::from_secs(240),
        );
        self.process = Some(process);
    }

    /// Stops the server (its whole process group) and waits until it is gone.
    pub(crate) fn stop(&mut self) {
        drop(self.process.take());
    }

    /// Every log line of every start so far.
    pub(crate) fn log_text(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                let path = self.spec.workdir.join(format!("mlflow-server-{n}.log"));
                std::fs::read_to_string(path).unwrap_or_default()
            })
            .collect()
    }

    /// A GET of `path`, as JSON.
    pub(crate) fn get(&self, path: &str) -> serde_json::Value {
        self.request(reqwest::Method::GET, path, None)
    }

    /// A POST of `body` to `path`, as JSON.
    pub(crate) fn post(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        self.request(reqwest::Method::POST, path, Some(body))
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> serde_json::Value {
        let mut request =
            reqwest::blocking::Client::new().request(method.clone(), format!("{}{path}", self.url));
        if let Some(password) = &self.spec.admin_password {
            request = request.basic_auth("admin", Some(password));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().expect("request");
        let status = response.status();
        let text = response.text().unwrap_or_default();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).expect("JSON")
    }
}

/// The MLflow server shared by the tests of a binary: started at first use, stopped when
/// the binary exits.
pub(crate) fn shared_server() -> Option<&'static str> {
    type Shared = Option<(RunningServer, tempfile::TempDir)>;
    static SHARED: OnceLock<Mutex<Shared>> = OnceLock::new();
    static URL: OnceLock<String> = OnceLock::new();
    if let Some(url) = URL.get() {
        return Some(url);
    }
    let python = server_python()?;
    let slot = SHARED.get_or_init(|| Mutex::new(None));
    let mut slot = slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if slot.is_none() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let server = RunningServer::start(ServerSpec::sqlite(&python, dir.path()));
        *slot = Some((server, dir));
        extern "C" fn stop_shared() {
            if let Some(slot) = SHARED.get()
                && let Ok(mut slot) = slot.lock()
            {
                drop(slot.take());
            }
        }
        // SAFETY: `stop_shared` is an `extern "C" fn()` that does not unwind (a poisoned
        // lock is skipped).
        unsafe { libc::atexit(stop_shared) };
    }
    let url = slot.as_ref().map(|(s, _)| s.url.clone())?;
    Some(URL.get_or_init(|| url))
}

/// A PostgreSQL cluster of its own on a free loopback port, stopped when dropped. As root
/// (PostgreSQL refuses to run as root) it runs as the `postgres` user.
pub(crate) struct Postgres {
    _process: Background,
    /// The database as a SQLAlchemy URL for MLflow's `--backend-store-uri`, through
    /// psycopg2: `postgresql+psycopg2://postgres@127.0.0.1:<port>/postgres`.
    pub(crate) url: String,
}

impl Postgres {
    pub(crate) fn start(bin: &Path, workdir: &Path) -> Postgres {
        use std::os::unix::fs::PermissionsExt;
        let as_root = unsafe { libc::geteuid() } == 0;
        let data = workdir.join("pgdata");
        if as_root {
            // initdb (as postgres) creates the data directory in `workdir`.
            std::fs::set_permissions(workdir, std::fs::Permissions::from_mode(0o777))
                .expect("permissions");
        }
        let command = |program: &str| {
            let program = bin.join(program);
            if as_root {
                let mut command = Command::new("runuser");
                command.args(["-u", "postgres", "--"]).arg(program);
                command
            } else {
                Command::new(program)
            }
        };
        super::run_ok(
            command("initdb")
                .args([
                    "--auth=trust",
                    "--username=postgres",
                    "--encoding=UTF8",
                    "-D",
                ])
                .arg(&data),
        );
        let port = free_port();
        let mut postgres = command("postgres");
        postgres
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(&data);
        let mut process = Background::spawn(postgres, workdir.join("postgres.log"));
        wait_port(&mut process, port, Duration::from_secs(60));
        Postgres {
            _process: process,
            url: format!("postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"),
        }
    }
}

/// The directory of PostgreSQL's programs.
pub(crate) fn postgres_bin() -> Option<PathBuf> {
    backend_program(
        "MLFLOW_TRACING_TEST_PG_BIN",
        "PostgreSQL (initdb, postgres)",
    )
}
