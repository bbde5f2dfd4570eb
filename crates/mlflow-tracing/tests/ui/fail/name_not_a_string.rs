#[mlflow_tracing::trace(name = step_name)]
fn step() {}

fn main() {
    step();
}
