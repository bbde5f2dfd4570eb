//! `mlflow-trace`: the demo, diagnostics, and a reader for the local MLflow store.

mod demo;
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
    /// Read traces from a local MLflow SQLite store.
    Traces {
        #[command(subcommand)]
        command: traces::TracesCommand,
        #[command(flatten)]
        store: traces::StoreArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run(),
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
