//! The OpenTelemetry SDK's [`PushMetricExporter`] on this crate's OTLP transports: what the
//! periodic reader collects is turned into an `ExportMetricsServiceRequest`, with the
//! same resource as the traces, and sent with the configured transport, retried within
//! `OTEL_METRIC_EXPORT_TIMEOUT`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality as SdkTemporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;

use crate::config::Temporality;
use crate::config::metrics::MetricsSettings;
use crate::config::otlp::OtlpSettings;
use crate::destination::otlp::encode;
use crate::destination::otlp::tls::TlsMaterial;
use crate::destination::otlp::transport::{self, Transport};
use crate::destination::retry::Retry;
use crate::report;

type MetricsTransport = Box<dyn Transport<ExportMetricsServiceRequest>>;

/// What the recorder and the exporter share: whether anything was recorded since the
/// last export, whether the recorder is closing, and the latest export's error.
#[derive(Debug, Default)]
pub(super) struct ExportState {
    recorded: AtomicBool,
    closing: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl ExportState {
    /// A span was recorded.
    pub(super) fn recorded(&self) {
        self.recorded.store(true, Ordering::Relaxed);
    }

    /// The recorder's last export is next: it is skipped when nothing was recorded since
    /// the export before (every pipeline flushes after its last span, so that one already
    /// carried everything).
    pub(super) fn close(&self) {
        self.closing.store(true, Ordering::Relaxed);
    }

    /// The latest export's error, if it failed.
    pub(super) fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }
}

/// Exports collected metrics over OTLP.
pub(super) struct OtlpMetricExporter {
    settings: OtlpSettings,
    tls: TlsMaterial,
    resource: Resource,
    temporality: SdkTemporality,
    export_timeout: Duration,
    /// Created at the first export, on the reader's thread (the gRPC transport owns a
    /// runtime); only that thread exports.
    transport: Mutex<Option<MetricsTransport>>,
    state: Arc<ExportState>,
}

impl OtlpMetricExporter {
    pub(super) fn new(
        metrics: &MetricsSettings,
        tls: TlsMaterial,
        state: Arc<ExportState>,
    ) -> Self {
        let settings = metrics.exporter.clone();
        let resource = encode::resource(&settings.resource, encode::instance_id());
        OtlpMetricExporter {
            settings,
            tls,
            resource,
            temporality: match metrics.temporality.value {
                Temporality::Cumulative => SdkTemporality::Cumulative,
                Temporality::Delta => SdkTemporality::Delta,
                Temporality::LowMemory => SdkTemporality::LowMemory,
            },
            export_timeout: metrics.export_timeout.value,
            transport: Mutex::new(None),
            state,
        }
    }

    /// The request for `metrics`: OpenTelemetry's own conversion, with this crate's
    /// resource (the one the traces carry), and each data point's attributes in MLflow's
    /// order (the SDK keeps them in no particular one).
    fn request(&self, metrics: &ResourceMetrics) -> ExportMetricsServiceRequest {
        let mut request = ExportMetricsServiceRequest::from(metrics);
        for resource_metrics in &mut request.resource_metrics {
            resource_metrics.resource = Some(self.resource.clone());
            resource_metrics.schema_url = String::new();
            let metrics = resource_metrics
                .scope_metrics
                .iter_mut()
                .flat_map(|scope| &mut scope.metrics);
            for metric in metrics {
                if let Some(Data::Histogram(histogram)) = &mut metric.data {
                    for point in &mut histogram.data_points {
                        point
                            .attributes
                            .sort_by(|a, b| (rank(&a.key), &a.key).cmp(&(rank(&b.key), &b.key)));
                    }
                }
            }
        }
        request
    }

    fn send(&self, request: &ExportMetricsServiceRequest) -> Result<(), String> {
        let mut slot = lock(&self.transport);
        let transport = match slot.as_mut() {
            Some(transport) => transport,
            None => slot.insert(transport::connect(&self.settings, &self.tls)?),
        };
        let retry = Retry::new(self.settings.timeout.value, self.export_timeout);
        let rejected = transport
            .export(request, &retry)
            .map_err(|err| err.into_message())?;
        if rejected.count > 0 {
            return Err(format!(
                "the receiver accepted the request but rejected {} data point(s): {}",
                rejected.count, rejected.message
            ));
        }
        Ok(())
    }
}

impl PushMetricExporter for OtlpMetricExporter {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        // The transports block (on the reader's own thread): the work is done here, and
        // the future is ready.
        let fresh = self.state.recorded.swap(false, Ordering::Relaxed);
        if self.state.closing.load(Ordering::Relaxed) && !fresh {
            return std::future::ready(Ok(()));
        }
        let result = match self.send(&self.request(metrics)) {
            Ok(()) => {
                *lock(&self.state.last_error) = None;
                Ok(())
            }
            Err(message) => {
                let endpoint = &self.settings.endpoint.value;
                report::error(&format!("metrics-export:{endpoint}"), || {
                    format!("span metrics could not be exported to {endpoint}: {message}")
                });
                *lock(&self.state.last_error) = Some(message.clone());
                Err(OTelSdkError::InternalFailure(message))
            }
        };
        std::future::ready(result)
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        lock(&self.transport).take();
        Ok(())
    }

    fn temporality(&self) -> SdkTemporality {
        self.temporality
    }
}

/// Where an attribute goes in MLflow's order: `root`, `span_type`, `span_status`,
/// `experiment_id`, then the tags, then the metadata (each by key).
fn rank(key: &str) -> u8 {
    match key {
        "root" => 0,
        "span_type" => 1,
        "span_status" => 2,
        "experiment_id" => 3,
        _ if key.starts_with("tags.") => 4,
        _ => 5,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
