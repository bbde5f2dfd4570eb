#![deny(unused_must_use)]

use mlflow_tracing::{TraceContext, TraceFutureExt, start_span};

fn main() {
    start_span("dropped").instrument(async {});
    async {}.in_current_trace();
    TraceContext::current().wrap(async {});
}
