// A typo inside the body is reported where it is, not as "#[trace] can only be applied
// to functions and methods" at the attribute.
#[mlflow_tracing::trace]
fn step(n: u32) -> u32 {
    let x = ;
    n + x
}

#[mlflow_tracing::trace]
async fn fetch(n: u32) -> u32 {
    n +
}

fn main() {
    let _ = step(1);
    let _ = fetch(1);
}
