#[mlflow_tracing::trace]
fn step(n: u32) -> u32 {
    n + undefined_name
}

fn main() {
    let _ = step(1);
}
