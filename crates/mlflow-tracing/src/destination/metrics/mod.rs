//! Span metrics: every span's duration in the histogram `mlflow.trace.span.duration`
//! (unit `ms`, meter `mlflow.tracing`), exported over OTLP; a span sink.
//!
//! On when a metrics endpoint is configured (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` plus `/v1/metrics`), whatever the trace destinations: the
//! sink is selected on its own, so a span is recorded exactly once in every routing mode.
//! Spans are recorded on the sink's worker thread, never on the caller's, with the
//! attributes MLflow gives them: `root`, `span_type`, `span_status`, `experiment_id`, then
//! `tags.<key>` and `metadata.<key>` of the span's trace as it stood when the span ended
//! (filtered by `MLFLOW_TRACE_METRICS_ATTRIBUTES`).
//!
//! Aggregation is OpenTelemetry's own (`opentelemetry_sdk`'s meter provider with a
//! periodic reader), exported through this crate's OTLP transports ([`exporter`]). The
//! provider is private: the program's global meter provider is never touched. One
//! provider serves every pipeline with the same metrics configuration, and it lives as
//! long as a pipeline uses it ([`recorder`]): rebuilding a pipeline (`set_tracking_uri`,
//! `set_experiment`) neither leaks a provider nor a thread, and cumulative counts go on.
//!
//! A metrics configuration error (say, an unknown protocol) never stops traces: the error
//! is reported, the metrics are off, and `doctor` shows the problem.

#[cfg(all(feature = "metrics", any(feature = "otlp-http", feature = "otlp-grpc")))]
mod exporter;
#[cfg(all(feature = "metrics", any(feature = "otlp-http", feature = "otlp-grpc")))]
mod recorder;
#[cfg(all(feature = "metrics", any(feature = "otlp-http", feature = "otlp-grpc")))]
mod sink;

use super::AnySink;
use crate::config::Settings;
use crate::error::BuildError;
use crate::report;

/// The span metrics sink, when the settings configure a metrics endpoint. Never an
/// error: what keeps metrics from working is reported, and traces go on without them.
pub(super) fn select(settings: &Settings) -> Result<Option<AnySink>, BuildError> {
    match sink(settings) {
        Ok(sink) => Ok(sink),
        Err(problem) => {
            report::error(&format!("metrics-config:{problem}"), || problem);
            Ok(None)
        }
    }
}

/// Why the configured span metrics are off, if they are: for `doctor`.
pub(crate) fn problem(settings: &Settings) -> Option<String> {
    sink(settings).err()
}

fn sink(settings: &Settings) -> Result<Option<AnySink>, String> {
    let off = |err: &dyn std::fmt::Display| {
        format!("span metrics are off (traces are not affected): {err}")
    };
    match &settings.metrics {
        Ok(Some(metrics)) => build(settings, metrics).map(Some).map_err(|e| off(&e)),
        Ok(None) => Ok(None),
        Err(err) => Err(off(err)),
    }
}

#[cfg(all(feature = "metrics", any(feature = "otlp-http", feature = "otlp-grpc")))]
fn build(
    settings: &Settings,
    metrics: &crate::config::metrics::MetricsSettings,
) -> Result<AnySink, BuildError> {
    super::otlp::compiled_in(metrics.exporter.protocol.value)?;
    Ok(AnySink::Spans(Box::new(sink::MetricsSink::new(
        settings, metrics,
    )?)))
}

#[cfg(not(all(feature = "metrics", any(feature = "otlp-http", feature = "otlp-grpc"))))]
fn build(
    _settings: &Settings,
    _metrics: &crate::config::metrics::MetricsSettings,
) -> Result<AnySink, BuildError> {
    Err(BuildError::FeatureDisabled {
        feature: if cfg!(feature = "metrics") {
            "otlp-http or otlp-grpc"
        } else {
            "metrics"
        },
        needed_for: "span metrics (a metrics endpoint is set)",
    })
}
