//! Destinations: where ended spans and finished traces go.
//!
//! A destination is a [`Sink`] of one of two kinds, and says which by how it is wrapped in
//! [`AnySink`]:
//! - a **span sink** receives every span as it ends ([`SpanItem`]), with its trace's tags
//!   and metadata as they stood then: OTLP, the OpenTelemetry way, and the span metrics;
//! - a **trace sink** receives every finished trace ([`TraceItem`]): the MLflow stores,
//!   which write a trace with its `TraceInfo`, and [`TraceExporter`]s given in code.
//!
//! Every sink of a kind receives every item of that kind: spans are shared between span
//! sinks and traces between trace sinks (`Arc`s, no copies). Each sink runs on a worker
//! thread of its own ([`worker`]), fed by an unbounded channel (memory is bounded by the
//! pipeline's budget, not by the channel); [`Routes`] fans items out to the workers.
//!
//! Which sinks a configuration selects is decided in [`select`], one line per
//! destination module; each module builds its sink from the [`Settings`] and checks its
//! own destination for `doctor`.
//!
//! [`Settings`]: crate::config::Settings

mod bound;
mod custom;
#[cfg(any(
    feature = "otlp-http",
    feature = "otlp-grpc",
    feature = "mlflow-server"
))]
mod failure;
mod local_store;
mod metrics;
mod otlp;
#[cfg(any(
    feature = "otlp-http",
    feature = "otlp-grpc",
    feature = "mlflow-server"
))]
mod retry;
mod routes;
mod select;
mod server;
mod worker;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use crate::config::{Destination, Settings};
use crate::error::BuildError;
use crate::model::{Span, Trace};
use crate::sync::Ticket;

pub(crate) use custom::CustomSink;
pub use custom::TraceExporter;
pub(crate) use metrics::problem as metrics_problem;
#[cfg(feature = "__bench")]
pub(crate) use otlp::BenchBatch as OtlpBenchBatch;
pub(crate) use routes::Routes;
pub(crate) use select::{experiment_id_by_name, select};
pub(crate) use server::{ServerReader, open_reader as open_server_reader};

/// The span metrics sink alone, when the settings configure it (see [`select`]).
pub(crate) fn select_metrics(settings: &Settings) -> Result<Option<AnySink>, BuildError> {
    metrics::select(settings)
}

/// A finished trace on its way to the trace sinks. The queue memory it holds is given
/// back when the last sink is done with it.
#[derive(Debug)]
pub(crate) struct CompletedTrace {
    trace: Trace,
    _ticket: Ticket,
}

impl CompletedTrace {
    pub(crate) fn new(trace: Trace, ticket: Ticket) -> Self {
        CompletedTrace {
            trace,
            _ticket: ticket,
        }
    }
}

impl Deref for CompletedTrace {
    type Target = Trace;
    fn deref(&self) -> &Trace {
        &self.trace
    }
}

/// What a span's trace looked like when the span ended: the experiment, and the trace's
/// tags and metadata with every `update_current_trace` made before the span ended (the
/// assembler receives updates and ended spans in the order they happened). Shared by the
/// spans of a trace that ended with no update in between; span metrics label spans with
/// it.
#[derive(Debug, Default)]
#[cfg_attr(
    not(all(feature = "metrics", any(feature = "otlp-http", feature = "otlp-grpc"))),
    allow(dead_code)
)]
pub(crate) struct TraceSnapshot {
    /// The experiment id, when known without asking a store (`None` for an experiment
    /// given by name).
    pub(crate) experiment_id: Option<String>,
    pub(crate) tags: IndexMap<String, String>,
    pub(crate) metadata: IndexMap<String, String>,
    /// The queue memory the copies hold.
    pub(crate) _ticket: Ticket,
}

/// An ended span on its way to the span sinks, with its trace as it stood when the span
/// ended, and its queue memory.
#[derive(Debug)]
pub(crate) struct EndedSpan {
    span: Span,
    #[cfg_attr(
        not(all(feature = "metrics", any(feature = "otlp-http", feature = "otlp-grpc"))),
        allow(dead_code)
    )]
    trace: Arc<TraceSnapshot>,
    _ticket: Ticket,
}

impl EndedSpan {
    pub(crate) fn new(span: Span, trace: Arc<TraceSnapshot>, ticket: Ticket) -> Self {
        EndedSpan {
            span,
            trace,
            _ticket: ticket,
        }
    }

    /// The span's trace as it stood when the span ended.
    #[cfg_attr(
        not(all(feature = "metrics", any(feature = "otlp-http", feature = "otlp-grpc"))),
        allow(dead_code)
    )]
    pub(crate) fn trace_arc(&self) -> &Arc<TraceSnapshot> {
        &self.trace
    }

    /// Whether it is the root span of its trace (it has no parent, or its parent is
    /// remote), as the assembler decides it.
    #[cfg_attr(
        not(all(feature = "metrics", any(feature = "otlp-http", feature = "otlp-grpc"))),
        allow(dead_code)
    )]
    pub(crate) fn is_root(&self) -> bool {
        self.span.is_local_root()
    }
}

impl Deref for EndedSpan {
    type Target = Span;
    fn deref(&self) -> &Span {
        &self.span
    }
}

/// What a trace sink receives: a finished trace, shared by every trace sink.
pub(crate) type TraceItem = Arc<CompletedTrace>;
/// What a span sink receives: an ended span, shared by every span sink.
pub(crate) type SpanItem = Arc<EndedSpan>;

/// Why an export failed. The message is shown to users: it must not contain secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExportError {
    message: String,
    /// How many items of the batch failed; `None` means all of them.
    failed: Option<usize>,
}

impl ExportError {
    /// The whole batch failed.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ExportError {
            message: message.into(),
            failed: None,
        }
    }

    /// `failed` items of the batch failed; the others were exported.
    #[cfg_attr(
        not(any(feature = "local-store", feature = "otlp-http", feature = "otlp-grpc")),
        allow(dead_code)
    )]
    pub(crate) fn partial(failed: usize, message: impl Into<String>) -> Self {
        ExportError {
            message: message.into(),
            failed: Some(failed),
        }
    }

    /// How many of a batch of `count` items failed.
    pub(crate) fn failed_of(&self, count: usize) -> usize {
        self.failed.map_or(count, |n| n.min(count))
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// When a worker exports: as soon as anything is queued, or in batches of `max_items`
/// sent at the latest `max_delay` after the first item queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Batching {
    pub(crate) max_items: usize,
    pub(crate) max_delay: Duration,
    /// A bound on the number of queued items, when configured; items past it are dropped
    /// (counted as failed, and reported). The pipeline's memory bound applies regardless.
    pub(crate) max_queued: Option<usize>,
}

impl Batching {
    /// Export whatever is queued, right away.
    pub(crate) const IMMEDIATE: Batching = Batching {
        max_items: 512,
        max_delay: Duration::ZERO,
        max_queued: None,
    };
}

/// The result of a destination's own check for `doctor`: what works (`Ok`), or what is
/// wrong and what to do (`Err`), in plain words.
pub(crate) type Check = Result<Vec<String>, Vec<String>>;

/// A place items of type `T` ([`SpanItem`] or [`TraceItem`]) are exported to.
///
/// Called only from the sink's own worker thread, never concurrently, never on a thread
/// that records spans. The sink owns its retries and timeouts.
pub(crate) trait Sink<T>: Send + 'static {
    /// What the destination is, for `Tracing::destinations`, stats and messages.
    fn destination(&self) -> Destination;

    /// When to export.
    fn batching(&self) -> Batching {
        Batching::IMMEDIATE
    }

    /// Whether it reads each span's trace snapshot (its tags and metadata). Snapshots
    /// are built only when some span sink does.
    fn wants_trace_snapshots(&self) -> bool {
        false
    }

    /// Exports a batch.
    fn export(&mut self, batch: &[T]) -> Result<(), ExportError>;

    /// Sends on whatever the sink still holds after `export` (a sink that aggregates, such
    /// as the span metrics); called at every flush and before `shutdown`.
    fn flush(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Releases resources; called once, after the last export.
    fn shutdown(&mut self) {}

    /// Checks, without exporting anything, whether the destination looks usable.
    fn check(&mut self) -> Check {
        Ok(vec!["no check available".to_owned()])
    }
}

/// A sink, with the kind of items it takes.
pub(crate) enum AnySink {
    /// Takes every span as it ends.
    #[cfg_attr(
        not(any(feature = "otlp-http", feature = "otlp-grpc", test)),
        allow(dead_code)
    )]
    Spans(Box<dyn Sink<SpanItem>>),
    /// Takes every finished trace.
    Traces(Box<dyn Sink<TraceItem>>),
}

impl AnySink {
    /// Whether it reads each span's trace snapshot.
    pub(crate) fn wants_trace_snapshots(&self) -> bool {
        match self {
            AnySink::Spans(sink) => sink.wants_trace_snapshots(),
            AnySink::Traces(_) => false,
        }
    }

    /// What the destination is.
    pub(crate) fn destination(&self) -> Destination {
        match self {
            AnySink::Spans(sink) => sink.destination(),
            AnySink::Traces(sink) => sink.destination(),
        }
    }

    /// The destination's own check, for `doctor`.
    pub(crate) fn check(&mut self) -> Check {
        match self {
            AnySink::Spans(sink) => sink.check(),
            AnySink::Traces(sink) => sink.check(),
        }
    }
}

impl fmt::Debug for AnySink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AnySink").field(&self.destination()).finish()
    }
}

/// A sink that keeps what it receives, for tests of the fan-out.
#[cfg(test)]
pub(crate) mod collect {
    use std::sync::{Arc, Mutex};

    use super::{AnySink, ExportError, Sink, SpanItem, TraceItem};
    use crate::config::Destination;

    /// The span names (span sink) or root span names (trace sink) a sink received.
    #[derive(Clone, Default)]
    pub(crate) struct Collected(Arc<Mutex<Vec<String>>>);

    impl Collected {
        pub(crate) fn names(&self) -> Vec<String> {
            self.0.lock().map(|v| v.clone()).unwrap_or_default()
        }

        pub(crate) fn span_sink(&self, name: &str) -> AnySink {
            AnySink::Spans(Box::new(Collect(name.to_owned(), self.clone())))
        }

        pub(crate) fn trace_sink(&self, name: &str) -> AnySink {
            AnySink::Traces(Box::new(Collect(name.to_owned(), self.clone())))
        }
    }

    struct Collect(String, Collected);

    impl Sink<SpanItem> for Collect {
        fn destination(&self) -> Destination {
            Destination::Exporter {
                name: self.0.clone(),
            }
        }

        fn export(&mut self, batch: &[SpanItem]) -> Result<(), ExportError> {
            let mut names = (self.1)
                .0
                .lock()
                .map_err(|_| ExportError::new("poisoned"))?;
            names.extend(batch.iter().map(|s| s.name().to_owned()));
            Ok(())
        }
    }

    impl Sink<TraceItem> for Collect {
        fn destination(&self) -> Destination {
            Destination::Exporter {
                name: self.0.clone(),
            }
        }

        fn export(&mut self, batch: &[TraceItem]) -> Result<(), ExportError> {
            let mut names = (self.1)
                .0
                .lock()
                .map_err(|_| ExportError::new("poisoned"))?;
            names.extend(
                batch
                    .iter()
                    .filter_map(|t| t.root_span().map(|s| s.name().to_owned())),
            );
            Ok(())
        }
    }
}
