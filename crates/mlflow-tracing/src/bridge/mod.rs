//! From `tracing` (feature `tracing`): [`MlflowLayer`], a `tracing_subscriber` layer that
//! records `tracing` spans as MLflow spans.
//!
//! ```
//! use mlflow_tracing::bridge::MlflowLayer;
//! use tracing_subscriber::prelude::*;
//!
//! # fn main() -> Result<(), mlflow_tracing::BuildError> {
//! # let _g = mlflow_tracing::Tracing::disabled().set_default();
//! tracing_subscriber::registry()
//!     .with(MlflowLayer::builder().target("my_app").build()?)
//!     .init();
//! # Ok(())
//! # }
//! ```
//!
//! # Which spans
//!
//! A span is recorded when its level is at most [`max_level`](MlflowLayerBuilder::max_level)
//! (`INFO` by default: `INFO`, `WARN` and `ERROR` spans) and either its target is one
//! the builder names ([`target`](MlflowLayerBuilder::target): a module path and
//! everything under it; [`all_targets`](MlflowLayerBuilder::all_targets)), or it has a
//! field that describes it in MLflow's terms or in a schema MLflow translates (a field
//! named `mlflow.*`, `span_type`, `inputs`, `outputs`, `gen_ai.*`, `llm.*`,
//! `openinference.*`, `traceloop.*`, `langfuse.*`, `input.value`, `output.value`). So
//! [`MlflowLayer::new`] records the spans LLM crates make (rig and genai put `gen_ai.*`
//! fields on theirs, swiftide `langfuse.*`) and no ordinary log span; name your own
//! crate's target to record its `#[tracing::instrument]` functions too. The filter is the
//! layer's own: it never disables a span or event for the other layers of the subscriber.
//!
//! # Fields
//!
//! | field | becomes |
//! | --- | --- |
//! | `mlflow.spanType`, `span_type` | the span type (`"LLM"`, `"TOOL"`, `"AGENT"`, … or your own) |
//! | `mlflow.spanInputs`, `inputs` | the inputs |
//! | `mlflow.spanOutputs`, `outputs` | the outputs |
//! | `error`, `exception` | an `exception` event and the status ERROR, as [`LiveSpan::record_exception`](crate::LiveSpan::record_exception) records them |
//! | `otel.name` (when the span starts) | the span's name |
//! | `otel.status_code` (`OK`/`ERROR`), `otel.status_message` | the status |
//! | anything else | an attribute |
//!
//! Attributes are recorded as `tracing-opentelemetry` records fields, as plain
//! OpenTelemetry values (text, integers, floats, booleans; `?x` and `%x` as text), so a
//! span of an LLM crate is stored exactly as MLflow stores it when it arrives over OTLP,
//! and OTLP destinations get the GenAI conventions' types. Inputs and outputs are stored
//! as MLflow stores them, as JSON: numbers and booleans as themselves, text that is a JSON
//! object or array (`inputs = %serde_json::json!({...})`) as that JSON, other text as a
//! JSON string. Fields recorded later (`Span::record`) are recorded too. Once a span with
//! fields of another schema (`gen_ai.*`, OpenInference, Langfuse, …) has ended, the
//! pipeline (on its own thread, not the one that recorded the span) applies MLflow's
//! translation, as MLflow's store does: the span type (when it has none), inputs,
//! outputs, token usage, model, provider and cost, for every destination; span
//! [`hooks`](crate::hooks) see the translated span, so they can redact what it derived.
//!
//! # Events
//!
//! An event inside a recorded span, at most at
//! [`event_level`](MlflowLayerBuilder::event_level) (`INFO` by default), becomes a span
//! event named by its message, with its other fields, `level` and `target` as
//! attributes. An event inside an MLflow span started through this SDK (`start_span`,
//! `#[trace]`) goes to that span. An `ERROR` event with an `error` or `exception` field
//! (what `#[tracing::instrument(err)]` emits) is recorded as an exception instead: the
//! `exception` event and the status ERROR. An event with a `return` field (what
//! `#[tracing::instrument(ret)]` emits) sets the span's outputs, unless they are set.
//! Events of this SDK's own warnings are never recorded.
//!
//! # Nesting
//!
//! A recorded `tracing` span is the child of the nearest recorded `tracing` span or MLflow
//! span it is inside (the current span on this thread, or the explicit `parent:`'s nearest
//! recorded ancestor); without one it starts a trace. While it is entered it is MLflow's
//! current span, so spans started with this SDK inside it (`start_span`, `#[trace]`) are
//! its children, in the same trace. `Instrument`ed futures and spans entered on other
//! threads nest the same way, since `tracing` enters the span wherever it runs.
//!
//! # With other layers
//!
//! The layer composes with `fmt`, `EnvFilter` and `tracing-opentelemetry` (0.34, for
//! OpenTelemetry 0.33) in one subscriber. Its spans go through this SDK's pipeline, not
//! the program's OpenTelemetry tracer, so each layer exports its own copy.
//!
//! Recording never blocks or panics the host: a span costs what a span started with
//! [`start_span`](crate::start_span) costs plus reading its fields (a few microseconds
//! on a small machine, `benches/span.rs`); translation runs on the pipeline's thread;
//! what the pipeline cannot take is dropped and counted as for any span
//! ([`Tracing::stats`](crate::Tracing::stats)).

mod fields;
mod layer;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::{Level, Metadata};

use crate::config::ConfigError;
use crate::error::BuildError;
use crate::setup::Tracing;

/// A `tracing_subscriber` layer that records `tracing` spans as MLflow spans; see the
/// [module documentation](self) for which spans, what their fields become, and how they
/// nest.
pub struct MlflowLayer {
    tracing: Option<Tracing>,
    filter: Filter,
    /// Tells this layer's entered spans from another layer's on the thread's stack.
    id: u64,
}

impl fmt::Debug for MlflowLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MlflowLayer")
            .field("tracing", &self.tracing)
            .field("filter", &self.filter)
            .finish()
    }
}

impl Default for MlflowLayer {
    fn default() -> Self {
        MlflowLayer::new()
    }
}

impl MlflowLayer {
    /// A layer recording spans with MLflow or GenAI fields at `INFO` or above, into the
    /// default pipeline (the thread's scoped one, else the global one).
    pub fn new() -> Self {
        MlflowLayer::with_filter(None, Filter::default())
    }

    /// Configures a layer.
    pub fn builder() -> MlflowLayerBuilder {
        MlflowLayerBuilder::default()
    }

    fn with_filter(tracing: Option<Tracing>, filter: Filter) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        MlflowLayer {
            tracing,
            filter,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// Configures an [`MlflowLayer`]; [`build`](MlflowLayerBuilder::build) checks it.
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until built"]
pub struct MlflowLayerBuilder {
    tracing: Option<Tracing>,
    targets: Vec<String>,
    all_targets: bool,
    max_level: Option<Level>,
    event_level: Option<Level>,
}

impl MlflowLayerBuilder {
    /// Records into this pipeline; by default, into the default pipeline where the span
    /// starts (the thread's scoped one, else the global one).
    pub fn tracing(mut self, tracing: &Tracing) -> Self {
        self.tracing = Some(tracing.clone());
        self
    }

    /// Also records the spans of `target` (a module path, such as `my_app` or
    /// `my_app::agent`) and of the modules under it, whatever their fields.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.targets.push(target.into());
        self
    }

    /// Records the spans of every target (still at most at the maximum level).
    pub fn all_targets(mut self) -> Self {
        self.all_targets = true;
        self
    }

    /// The most verbose level of the spans recorded (default `INFO`: `TRACE` and `DEBUG`
    /// spans are not).
    pub fn max_level(mut self, level: Level) -> Self {
        self.max_level = Some(level);
        self
    }

    /// The most verbose level of the events recorded as span events (default `INFO`).
    pub fn event_level(mut self, level: Level) -> Self {
        self.event_level = Some(level);
        self
    }

    /// The layer; an error names a target that is not a module path.
    pub fn build(self) -> Result<MlflowLayer, BuildError> {
        for target in &self.targets {
            check_target(target)?;
        }
        let filter = Filter {
            targets: self.targets,
            all_targets: self.all_targets,
            max_level: self.max_level.unwrap_or(Level::INFO),
            event_level: self.event_level.unwrap_or(Level::INFO),
        };
        Ok(MlflowLayer::with_filter(self.tracing, filter))
    }
}

/// A target is a module path: identifiers separated by `::`.
fn check_target(target: &str) -> Result<(), ConfigError> {
    let ok = !target.is_empty()
        && target.split("::").all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "MlflowLayerBuilder::target",
            target,
            "a module path such as `my_app` or `my_app::agent`",
        ))
    }
}

/// Which spans and events the layer records.
#[derive(Debug, Clone)]
struct Filter {
    targets: Vec<String>,
    all_targets: bool,
    max_level: Level,
    event_level: Level,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            targets: Vec::new(),
            all_targets: false,
            max_level: Level::INFO,
            event_level: Level::INFO,
        }
    }
}

impl Filter {
    /// Whether a span of this callsite is recorded.
    fn records_span(&self, metadata: &Metadata<'_>) -> bool {
        if *metadata.level() > self.max_level {
            return false;
        }
        if self.all_targets || self.names_target(metadata.target()) {
            return true;
        }
        metadata
            .fields()
            .iter()
            .any(|f| fields::is_schema_field(f.name()))
    }

    /// Whether an event of this callsite may become a span event.
    fn records_event(&self, metadata: &Metadata<'_>) -> bool {
        let target = metadata.target();
        let own = target == "mlflow_tracing" || target.starts_with("mlflow_tracing::");
        *metadata.level() <= self.event_level && !own
    }

    fn names_target(&self, target: &str) -> bool {
        self.targets.iter().any(|t| {
            target
                .strip_prefix(t.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_module_paths() {
        assert!(check_target("my_app").is_ok());
        assert!(check_target("my_app::agent").is_ok());
        assert!(check_target("rig-core").is_ok());
        for bad in ["", "my_app::", "::x", "my app", "a:b"] {
            let err = check_target(bad).expect_err(bad).to_string();
            assert!(err.contains("MlflowLayerBuilder::target"), "{err}");
        }
    }

    #[test]
    fn a_target_names_itself_and_the_modules_under_it() {
        let filter = Filter {
            targets: vec!["my_app".into()],
            ..Filter::default()
        };
        assert!(filter.names_target("my_app"));
        assert!(filter.names_target("my_app::agent"));
        assert!(!filter.names_target("my_app_extra"));
        assert!(!filter.names_target("other"));
    }
}
