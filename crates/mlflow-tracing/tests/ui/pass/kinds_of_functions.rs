use mlflow_tracing::{SpanType, trace};

#[derive(serde::Serialize, Clone)]
struct Doc {
    id: u32,
}

struct Service {
    docs: Vec<Doc>,
}

impl Service {
    #[trace(span_type = SpanType::Retriever)]
    fn find(&self, id: u32) -> Option<Doc> {
        self.docs.iter().find(|d| d.id == id).cloned()
    }

    #[trace(skip(self))]
    fn add(&mut self, doc: Doc) {
        self.docs.push(doc);
    }

    #[trace]
    fn first_name(&self) -> &str {
        "x"
    }

    #[trace]
    async fn fetch(&self, id: u32) -> Result<Doc, std::io::Error> {
        self.find(id).ok_or_else(|| std::io::Error::other("missing"))
    }
}

#[trace]
fn generic<T: serde::Serialize>(items: Vec<T>) -> usize {
    items.len()
}

#[trace]
fn iterator(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[trace(skip_output)]
fn not_serializable_output() -> std::time::Instant {
    std::time::Instant::now()
}

#[trace]
fn question_mark(s: &str) -> Result<u32, Box<dyn std::error::Error>> {
    Ok(s.parse::<u32>()?)
}

// An inner attribute of the body still applies to the whole function.
#[deny(unused_variables)]
mod inner_attribute {
    #[mlflow_tracing::trace]
    pub fn inner_attribute(n: u32) -> u32 {
        #![allow(unused_variables)]
        let unused = 0;
        n
    }
}

fn main() {
    let mut service = Service { docs: vec![] };
    service.add(Doc { id: 1 });
    let _ = service.find(1);
    let _ = service.first_name();
    let _ = service.fetch(1);
    let _ = generic(vec![1, 2]);
    let _ = iterator(3).count();
    let _ = not_serializable_output();
    let _ = question_mark("1");
    let _ = inner_attribute::inner_attribute(1);
}
