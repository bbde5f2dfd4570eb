//! `mlflow-trace demo`: records the two example traces ([`crate::demo_traces`]) to whatever
//! destination the environment selects, and prints them.

use mlflow_tracing::testing::InMemoryTraces;
use mlflow_tracing::{Destination, Tracing};

use crate::demo_traces::{nested, simple};
use crate::render;

pub(crate) fn run() -> Result<(), Box<dyn std::error::Error>> {
    // A copy of each exported trace, to print.
    let printed = InMemoryTraces::new();
    let tracing = Tracing::builder().with_in_memory(&printed).build()?;
    let ids = tracing.in_scope(|| [simple(), nested()]);
    let flushed = tracing.flush();
    // Every destination but the in-memory copy added above.
    let destinations: Vec<&Destination> = tracing
        .destinations()
        .iter()
        .filter(|d| !matches!(d, Destination::Exporter { .. }))
        .collect();

    println!("Recorded {} traces:", ids.iter().flatten().count());
    for id in ids.iter().flatten() {
        println!("  {id}");
    }
    println!("Sent to:");
    for destination in &destinations {
        println!("  {destination}");
    }
    flushed?;
    let traces = printed.traces();
    for id in ids.iter().flatten() {
        if let Some(trace) = traces.iter().find(|t| t.info().trace_id() == id) {
            println!();
            print!("{}", render::trace_tree(trace, render::Detail::Summary));
        }
    }
    let store = destinations.iter().find_map(|d| match d {
        Destination::LocalStore { uri, .. } => Some(uri),
        _ => None,
    });
    let server = destinations.iter().find_map(|d| match d {
        Destination::Server { uri, .. } => Some(uri),
        _ => None,
    });
    if let Some(uri) = server {
        println!();
        println!("Open them in the MLflow UI at {uri}, or list them here:");
        println!("  mlflow-trace traces list");
    }
    if let Some(uri) = store {
        println!();
        println!("Open them in the MLflow UI:");
        println!("  mlflow server --backend-store-uri {uri}");
        println!("  (or `mlflow ui` in the database's directory), or list them here:");
        println!("  mlflow-trace traces list");
    }
    tracing.shutdown()?;
    Ok(())
}
