#[mlflow_tracing::trace]
struct Step;

fn main() {}
