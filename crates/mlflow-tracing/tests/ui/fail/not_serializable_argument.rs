struct Client;

#[mlflow_tracing::trace]
fn search(client: &Client, query: &str) -> usize {
    let _ = client;
    query.len()
}

fn main() {
    search(&Client, "q");
}
