//! An in-process OTLP receiver and an MLflow REST stand-in for the integration tests of
//! `mlflow-tracing` (not published; like the fake servers opentelemetry-rust keeps in a
//! crate of their own).
//!
//! OTLP/HTTP is served by plain threads (HTTP/1.1 with keep-alive, optionally TLS with
//! rustls); OTLP/gRPC by a tonic server on a private runtime. Both listen on
//! `127.0.0.1:<free port>`, record every request with its decoded spans (or metrics: HTTP
//! paths ending in `/metrics`, the gRPC `MetricsService`), and answer with scripted replies
//! (OK once the script runs out).
//!
//! The modules follow the roles: `certs` generates the test certificates, `tls` turns them
//! into server TLS configurations, `http` is the HTTP/1.1 server, `grpc` the tonic trace
//! and metrics services, and `receiver` holds the [`Receiver`] with what it recorded and its script.
//! `mlflow` is the [`MlflowStandIn`]: the tracking server's REST calls for logging traces.
//! `model` is the [`StandInModel`], an OpenAI-compatible chat model for the agent examples.
//!
//! ```
//! use mlflow_tracing_test_support::{Receiver, Reply, Tls};
//!
//! let receiver = Receiver::http(Tls::None, None);
//! receiver.script(vec![Reply::Http {
//!     status: 503,
//!     retry_after: Some("1".into()),
//!     body: "busy".into(),
//! }]);
//! assert!(receiver.traces_endpoint().ends_with("/v1/traces"));
//! // Export to `receiver.traces_endpoint()`, then `receiver.wait_for_spans(n, timeout)`.
//! assert!(receiver.requests().is_empty());
//! ```

mod certs;
mod grpc;
mod http;
mod mlflow;
mod model;
mod receiver;
mod rpc;
mod tls;

pub use certs::{CertFiles, Certs, certs};
pub use mlflow::{MlflowStandIn, Scripted, StandInOptions, StandInRequest};
pub use model::StandInModel;
pub use receiver::{Receiver, Recorded, Reply};
pub use tls::Tls;
