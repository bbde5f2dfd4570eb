//! `mlflow-trace traces list|show`: reading the local MLflow store.

use clap::{Args, Subcommand};
use mlflow_tracing::TrackingUri;
use mlflow_tracing::local_store::LocalStore;

use crate::render::{self, Detail};

#[derive(Subcommand)]
pub(crate) enum TracesCommand {
    /// A table of the most recent traces.
    List {
        /// Only this experiment's traces.
        #[arg(long)]
        experiment_id: Option<String>,
        /// How many traces to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One trace as a tree, with every span's inputs, outputs, attributes and events.
    Show {
        /// The trace id (`tr-…`).
        trace_id: String,
    },
}

#[derive(Args)]
pub(crate) struct StoreArgs {
    /// The database: a path or a sqlite:/// URI. Default: MLFLOW_TRACKING_URI, else
    /// ./mlflow.db.
    #[arg(long, global = true)]
    db: Option<String>,
}

impl StoreArgs {
    /// The store to read: `--db`, else the tracking URI tracing would write to.
    fn uri(&self) -> Result<TrackingUri, mlflow_tracing::ConfigError> {
        match &self.db {
            Some(db) => TrackingUri::parse_uri_or_path(db),
            None => mlflow_tracing::tracking_uri(),
        }
    }
}

pub(crate) fn run(
    command: TracesCommand,
    store: &StoreArgs,
) -> Result<(), Box<dyn std::error::Error>> {
    let store = LocalStore::open_uri(&store.uri()?)?;
    match command {
        TracesCommand::List {
            experiment_id,
            limit,
        } => {
            let traces = store.list_traces(experiment_id.as_deref(), limit)?;
            if traces.is_empty() {
                println!("No traces in {}.", store.path().display());
                return Ok(());
            }
            println!(
                "{:<35}  {:<20}  {:<6}  {:>10}  {:>5}  REQUEST",
                "TRACE ID", "NAME", "STATE", "DURATION", "SPANS"
            );
            for summary in traces {
                let info = summary.info();
                let duration = info
                    .execution_duration_ms()
                    .map_or("-".to_owned(), |ms| format!("{ms} ms"));
                println!(
                    "{:<35}  {:<20}  {:<6}  {:>10}  {:>5}  {}",
                    render::safe(info.trace_id()),
                    render::cut(info.name().unwrap_or("-"), 20),
                    info.state().to_string(),
                    duration,
                    summary.span_count(),
                    render::cut(info.request_preview().unwrap_or("-"), 60),
                );
            }
        }
        TracesCommand::Show { trace_id } => match store.get_trace(&trace_id)? {
            Some(trace) => print!("{}", render::trace_tree(&trace, Detail::Full)),
            None => return Err(format!("no trace {trace_id} in {}", store.path().display()).into()),
        },
    }
    Ok(())
}
