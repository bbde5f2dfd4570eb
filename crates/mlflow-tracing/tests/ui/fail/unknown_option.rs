#[mlflow_tracing::trace(level = "info")]
fn step() {}

fn main() {
    step();
}
