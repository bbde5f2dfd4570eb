//! The [`Recorder`]: a private OpenTelemetry meter provider with its periodic reader and
//! the histogram, shared by every pipeline with the same metrics configuration.
//!
//! One recorder per process: the registry keeps the latest one alive, and a pipeline built
//! with the same configuration (say, after `set_tracking_uri` or `set_experiment`, which
//! rebuild the global pipeline) gets that same recorder, so cumulative counts go on and no
//! second reader thread starts. When the configuration changes, the registry keeps the
//! new recorder instead; the old one lives as long as a pipeline still uses it, then its
//! provider is shut down (a last export of anything not yet exported) and its reader
//! thread ends. The program's global meter provider is never read or set.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use opentelemetry::metrics::{Histogram, MeterProvider as _};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};

use super::exporter::{ExportState, OtlpMetricExporter};
use crate::config::Temporality;
use crate::config::metrics::MetricsSettings;
use crate::config::otlp::OtlpSettings;
use crate::destination::otlp::tls::TlsMaterial;
use crate::error::BuildError;

/// The meter MLflow records span durations with.
pub(super) const METER: &str = "mlflow.tracing";
/// The histogram, as MLflow names and describes it.
pub(super) const HISTOGRAM: &str = "mlflow.trace.span.duration";
const UNIT: &str = "ms";
const DESCRIPTION: &str = "Duration of spans in milliseconds";
/// OpenTelemetry's default explicit bucket boundaries, as MLflow's histogram has them.
const BOUNDARIES: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// What makes two recorders the same: where and how they export (not which attributes
/// a pipeline keeps, which each sink decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RecorderKey {
    exporter: OtlpSettings,
    temporality: Temporality,
    interval: Duration,
    export_timeout: Duration,
}

impl RecorderKey {
    pub(super) fn of(metrics: &MetricsSettings) -> Self {
        RecorderKey {
            exporter: metrics.exporter.clone(),
            temporality: metrics.temporality.value,
            interval: metrics.interval.value,
            export_timeout: metrics.export_timeout.value,
        }
    }
}

/// A private meter provider, its periodic reader (one thread) and the histogram.
pub(super) struct Recorder {
    provider: SdkMeterProvider,
    histogram: Histogram<f64>,
    state: Arc<ExportState>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

/// The recorders: the latest one, kept alive, and every other live one, by configuration.
#[derive(Default)]
struct Registry {
    latest: Option<Arc<Recorder>>,
    live: Vec<(RecorderKey, Weak<Recorder>)>,
}

static RECORDERS: Mutex<Registry> = Mutex::new(Registry {
    latest: None,
    live: Vec::new(),
});

impl Recorder {
    /// The recorder of `metrics`' configuration: the live one, or a new one, which
    /// becomes the one the registry keeps alive.
    pub(super) fn shared(metrics: &MetricsSettings, tls: &TlsMaterial) -> Arc<Recorder> {
        let key = RecorderKey::of(metrics);
        let mut registry = RECORDERS.lock().unwrap_or_else(PoisonError::into_inner);
        registry
            .live
            .retain(|(_, recorder)| recorder.strong_count() > 0);
        let found = registry
            .live
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, recorder)| recorder.upgrade());
        let recorder = match found {
            Some(recorder) => recorder,
            None => {
                let recorder = Arc::new(Recorder::new(metrics, tls.clone()));
                registry.live.push((key, Arc::downgrade(&recorder)));
                recorder
            }
        };
        let previous = registry.latest.replace(recorder.clone());
        drop(registry);
        // Shutting the previous one down (if this was its last use) may wait for its last
        // export: neither while holding the registry nor on this worker (if the thread
        // cannot be started, the closure, and with it the recorder, is dropped here).
        if let Some(previous) = previous.filter(|p| !Arc::ptr_eq(p, &recorder)) {
            let _ = std::thread::Builder::new()
                .name("mlflow-tracing-metrics-close".to_owned())
                .spawn(move || drop(previous));
        }
        recorder
    }

    fn new(metrics: &MetricsSettings, tls: TlsMaterial) -> Recorder {
        let state = Arc::new(ExportState::default());
        let exporter = OtlpMetricExporter::new(metrics, tls, state.clone());
        let reader = PeriodicReader::builder(exporter)
            .with_interval(metrics.interval.value)
            .build();
        // The resource is the exporter's (the traces'); the SDK's own would read the
        // process environment behind the configuration's back.
        let provider = SdkMeterProvider::builder()
            .with_resource(Resource::builder_empty().build())
            .with_reader(reader)
            .build();
        let histogram = provider
            .meter_with_scope(InstrumentationScope::builder(METER).build())
            .f64_histogram(HISTOGRAM)
            .with_unit(UNIT)
            .with_description(DESCRIPTION)
            .with_boundaries(BOUNDARIES.to_vec())
            .build();
        Recorder {
            provider,
            histogram,
            state,
        }
    }

    /// Records one span's duration.
    pub(super) fn record(&self, millis: f64, attributes: &[KeyValue]) {
        self.histogram.record(millis, attributes);
        self.state.recorded();
    }

    /// Collects and exports now (on the reader's thread); waits for the export.
    pub(super) fn flush(&self) -> Result<(), String> {
        self.provider.force_flush().map_err(|err| {
            self.state
                .last_error()
                .unwrap_or_else(|| format!("the metrics export failed: {err}"))
        })
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // A last export (of what was recorded since the last flush, if anything), then
        // the reader's thread ends.
        self.state.close();
        let _ = self.provider.shutdown();
    }
}

/// The recorder's TLS material, read when the pipeline is built so that a bad file is
/// reported at once.
pub(super) fn tls(metrics: &MetricsSettings) -> Result<TlsMaterial, BuildError> {
    Ok(TlsMaterial::load(&metrics.exporter.tls)?)
}
