//! `mlflow-trace traces list|show`: reading traces back from the MLflow store the tracking
//! URI names, a local database or a tracking server.

use clap::{Args, Subcommand};
use mlflow_tracing::{TraceReader, Tracing, TrackingUri};

use crate::render::{self, Detail};

#[derive(Subcommand)]
pub(crate) enum TracesCommand {
    /// A table of the most recent traces.
    List {
        /// How many traces to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only the traces matching MLflow's search filter, e.g.
        /// "attributes.status = 'ERROR' AND tags.env = 'prod'".
        #[arg(long)]
        filter: Option<String>,
    },
    /// One trace as a tree, with every span's inputs, outputs, attributes and events.
    Show {
        /// The trace id (`tr-…`).
        trace_id: String,
    },
}

#[derive(Args)]
pub(crate) struct StoreArgs {
    /// Where to read: a database path, a sqlite:/// URI or a tracking server's http(s):// URL.
    /// Default: MLFLOW_TRACKING_URI, else ./mlflow.db.
    #[arg(long, global = true, visible_alias = "tracking-uri")]
    db: Option<String>,
    /// Only the experiment with this name. Default: MLFLOW_EXPERIMENT_NAME, else
    /// MLFLOW_EXPERIMENT_ID, else every experiment.
    #[arg(long, global = true, conflicts_with = "experiment_id")]
    experiment: Option<String>,
    /// Only the experiment with this id.
    #[arg(long, global = true)]
    experiment_id: Option<String>,
}

impl StoreArgs {
    /// The reader of the store and experiment asked for, resolved as tracing resolves them.
    fn reader(&self) -> Result<TraceReader, Box<dyn std::error::Error>> {
        let mut builder = Tracing::builder();
        if let Some(db) = &self.db {
            // A plain path names a database; anything else is a URI, passed as given (a
            // server URL keeps its credentials).
            builder = match TrackingUri::parse_uri_or_path(db)? {
                uri @ TrackingUri::Sqlite { .. } => builder.tracking_uri(uri.to_string()),
                _ => builder.tracking_uri(db.clone()),
            };
        }
        if let Some(name) = &self.experiment {
            builder = builder.experiment_name(name.clone());
        }
        if let Some(id) = &self.experiment_id {
            builder = builder.experiment_id(id.clone());
        }
        Ok(builder.reader()?)
    }
}

pub(crate) fn run(
    command: TracesCommand,
    store: &StoreArgs,
) -> Result<(), Box<dyn std::error::Error>> {
    let reader = store.reader()?;
    match command {
        TracesCommand::List { limit, filter } => {
            let traces = match &filter {
                Some(filter) => reader.search_traces(
                    &mlflow_tracing::TraceSearch::new()
                        .filter(filter.clone())
                        .max_results(limit),
                )?,
                None => reader.list_traces(limit)?,
            };
            if traces.is_empty() {
                match reader.experiment_id() {
                    Some(id) => println!("No traces in experiment {id} of {}.", reader.location()),
                    None => println!("No traces in {}.", reader.location()),
                }
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
                let spans = summary
                    .span_count()
                    .map_or("-".to_owned(), |n| n.to_string());
                println!(
                    "{:<35}  {:<20}  {:<6}  {:>10}  {:>5}  {}",
                    render::safe(info.trace_id()),
                    render::cut(info.name().unwrap_or("-"), 20),
                    info.state().to_string(),
                    duration,
                    spans,
                    render::cut(info.request_preview().unwrap_or("-"), 60),
                );
            }
        }
        TracesCommand::Show { trace_id } => match reader.get_trace(&trace_id)? {
            Some(trace) => print!("{}", render::trace_tree(&trace, Detail::Full)),
            None => return Err(format!("no trace {trace_id} in {}", reader.location()).into()),
        },
    }
    Ok(())
}
