//! The `#[trace]` attribute of [mlflow-tracing](https://docs.rs/mlflow-tracing): records a
//! function call as an MLflow span. Use it through `mlflow_tracing::trace`.

mod attr;
mod expand;
mod item;

use proc_macro::TokenStream;

/// Records each call of the function as an MLflow span.
///
/// The span is named after the function and is a child of the current span. Its inputs
/// (`mlflow.spanInputs`) are the arguments as a JSON object by parameter name (each
/// argument must implement `serde::Serialize`; `self` is left out), and its outputs
/// (`mlflow.spanOutputs`) are the return value. For a function returning `Result`, `Ok`
/// is recorded as the outputs and `Err` as an exception event with status ERROR. A panic
/// ends the span with ERROR and an exception event, then keeps unwinding. Works on sync
/// and `async` functions and methods.
///
/// Options:
/// - `name = "…"`: the span name (default: the function's name);
/// - `span_type = "LLM"` (or any expression converting into `SpanType`): the span type;
/// - `attributes("key" = value, other = value)`: attributes, stored as JSON;
/// - `skip(arg, …)`: leave arguments out of the inputs; `skip_all`: record no inputs;
/// - `skip_output`: do not record the return value.
///
/// ```ignore
/// #[mlflow_tracing::trace(span_type = "TOOL", skip(client))]
/// async fn search(client: &Client, query: &str) -> Result<Vec<String>, SearchError> {
///     client.search(query).await
/// }
/// ```
#[proc_macro_attribute]
pub fn trace(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), item.into()).into()
}
