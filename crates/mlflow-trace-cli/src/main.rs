//! `mlflow-trace`: the demo, diagnostics, and a reader of MLflow stores (a local database
//! or a tracking server).

mod demo;
mod demo_traces;
mod load;
mod render;
mod traces;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mlflow-trace",
    version,
    about = "MLflow Tracing for Rust: demo and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Record two example traces to the destination the environment selects (by default
    /// ./mlflow.db), then print their ids, where they went, and each trace as a tree.
    Demo,
    /// Show the configuration tracing resolves from the environment (where each value
    /// comes from; secrets redacted) and check each destination without recording
    /// anything. Exits with 1 when a destination has a problem.
    Doctor,
    /// Generate load: N traces of D nested spans over T threads to the destination the
    /// environment selects, then flush; report the cost per span (caller, wall, CPU),
    /// peak memory, and what was exported and dropped.
    Load(load::LoadArgs),
    /// Read traces back from an MLflow store: a local SQLite database or a tracking server.
    Traces {
        #[command(subcommand)]
        command: traces::TracesCommand,
        #[command(flatten)]
        store: traces::StoreArgs,
    },
}

fn doctor() -> Result<(), Box<dyn std::error::Error>> {
    let diagnosis = mlflow_tracing::Tracing::builder().diagnose()?;
    print!("{diagnosis}");
    if diagnosis.ok() {
        Ok(())
    } else {
        Err("a destination has a problem (see above)".into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run(),
        Command::Doctor => doctor(),
        Command::Load(args) => load::run(&args),
        Command::Traces { command, store } => traces::run(command, &store),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mlflow-trace: {err}");
            ExitCode::FAILURE
        }
    }
}
