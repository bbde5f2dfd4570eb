#[mlflow_tracing::trace(skip(clinet))]
fn step(client: u32) -> u32 {
    client
}

fn main() {
    step(1);
}
