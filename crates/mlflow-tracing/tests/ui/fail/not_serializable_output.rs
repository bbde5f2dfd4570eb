struct Answer;

#[mlflow_tracing::trace]
fn answer() -> Answer {
    Answer
}

fn main() {
    let _ = answer();
}
