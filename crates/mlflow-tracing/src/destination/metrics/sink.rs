//! The span metrics sink: records each span's duration, with MLflow's attributes, into the
//! shared recorder; exports at every flush; checks the receiver for `doctor`.

use std::sync::Arc;

use opentelemetry::{Key, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

use super::recorder::{self, Recorder};
use crate::config::metrics::{MetricAttributes, MetricsSettings};
use crate::config::{Destination, Experiment, Settings};
use crate::destination::otlp::doctor;
use crate::destination::otlp::tls::TlsMaterial;
use crate::destination::otlp::transport::{self, Transport, warn_on_port_mismatch};
use crate::destination::{Check, ExportError, Sink, SpanItem, TraceSnapshot};
use crate::error::BuildError;
use crate::report;

/// Records span durations.
pub(super) struct MetricsSink {
    settings: MetricsSettings,
    tls: TlsMaterial,
    /// Created at the first span, on the worker thread (a diagnosis never starts one).
    recorder: Option<Arc<Recorder>>,
    /// For an experiment given by name: where to look its id up (the MLflow store traces
    /// go to), and the id once known.
    named_experiment: Option<(Box<Settings>, String)>,
    experiment_id: Option<Arc<str>>,
    /// The trace attributes of the last trace seen, reused while its spans keep coming.
    last_trace: Option<(Arc<TraceSnapshot>, Vec<KeyValue>)>,
}

impl MetricsSink {
    pub(super) fn new(settings: &Settings, metrics: &MetricsSettings) -> Result<Self, BuildError> {
        let tls = recorder::tls(metrics)?;
        warn_on_port_mismatch(&metrics.exporter);
        let named_experiment = match &settings.experiment.value {
            Experiment::Name(name) if settings.exports_to_store() => {
                Some((Box::new(settings.clone()), name.clone()))
            }
            _ => None,
        };
        Ok(MetricsSink {
            settings: metrics.clone(),
            tls,
            recorder: None,
            named_experiment,
            experiment_id: None,
            last_trace: None,
        })
    }

    fn recorder(&mut self) -> &Recorder {
        let (settings, tls) = (&self.settings, &self.tls);
        self.recorder
            .get_or_insert_with(|| Recorder::shared(settings, tls))
    }

    /// The `experiment_id` attribute: the trace's, else the id of the experiment given by
    /// name (looked up once, in the store traces go to, as MLflow does), else empty.
    fn experiment_id(&mut self, trace: &TraceSnapshot) -> Value {
        if let Some(id) = &trace.experiment_id {
            return Value::from(id.clone());
        }
        if self.experiment_id.is_none() {
            let id = match self.named_experiment.take() {
                Some((settings, name)) => {
                    match crate::destination::experiment_id_by_name(&settings, &name) {
                        Ok(id) => id,
                        Err(err) => {
                            report::warn("metrics-experiment", || {
                                format!(
                                    "the span metrics' experiment_id is empty: the id of \
                                 experiment {name:?} could not be found: {err}"
                                )
                            });
                            String::new()
                        }
                    }
                }
                None => String::new(),
            };
            self.experiment_id = Some(id.into());
        }
        Value::String(StringValue::from(
            self.experiment_id.clone().unwrap_or_else(|| "".into()),
        ))
    }

    /// `tags.<key>` and `metadata.<key>` of `trace`, the ones the configuration keeps.
    fn trace_attributes(&mut self, trace: &Arc<TraceSnapshot>) -> Vec<KeyValue> {
        if let Some((last, attributes)) = &self.last_trace
            && Arc::ptr_eq(last, trace)
        {
            return attributes.clone();
        }
        let keep = &self.settings.attributes.value;
        let attributes = trace_attributes(trace, keep);
        self.last_trace = Some((trace.clone(), attributes.clone()));
        attributes
    }
}

/// MLflow's attributes of the trace: every tag, then every metadata entry, values as
/// strings, filtered by `keep`. Keys and values are shared strings: the trace's spans
/// reuse them without copying.
fn trace_attributes(trace: &TraceSnapshot, keep: &MetricAttributes) -> Vec<KeyValue> {
    let tags = trace.tags.iter().map(|(k, v)| (format!("tags.{k}"), v));
    let metadata = trace
        .metadata
        .iter()
        .map(|(k, v)| (format!("metadata.{k}"), v));
    tags.chain(metadata)
        .filter(|(key, _)| keep.keeps(key))
        .map(|(key, value)| {
            let value = StringValue::from(Arc::<str>::from(value.as_str()));
            KeyValue::new(Key::from(Arc::<str>::from(key)), Value::String(value))
        })
        .collect()
}

impl Sink<SpanItem> for MetricsSink {
    fn wants_trace_snapshots(&self) -> bool {
        true
    }

    fn destination(&self) -> Destination {
        Destination::OtlpMetrics {
            protocol: self.settings.exporter.protocol.value,
            endpoint: self.settings.exporter.endpoint.value.clone(),
        }
    }

    fn export(&mut self, spans: &[SpanItem]) -> Result<(), ExportError> {
        for span in spans {
            let trace = span.trace_arc();
            let mut attributes = Vec::with_capacity(4 + trace.tags.len() + trace.metadata.len());
            attributes.push(KeyValue::new("root", span.is_root()));
            attributes.push(KeyValue::new(
                "span_type",
                span.span_type().as_str().to_owned(),
            ));
            attributes.push(KeyValue::new("span_status", span.status().code().as_str()));
            attributes.push(KeyValue::new("experiment_id", self.experiment_id(trace)));
            attributes.extend(self.trace_attributes(trace));
            let millis = span.duration_ns() as f64 / 1e6;
            self.recorder().record(millis, &attributes);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        match &self.recorder {
            Some(recorder) => recorder.flush().map_err(ExportError::new),
            None => Ok(()),
        }
    }

    fn shutdown(&mut self) {
        // The last pipeline using the recorder shuts it down (and its thread ends).
        self.recorder = None;
    }

    fn check(&mut self) -> Check {
        let exporter = &self.settings.exporter;
        let mut transport = transport::connect::<ExportMetricsServiceRequest>(exporter, &self.tls);
        let transport: Result<&mut dyn Transport<_>, String> = match &mut transport {
            Ok(transport) => Ok(transport.as_mut()),
            Err(err) => Err(err.clone()),
        };
        let mut findings = doctor::check(exporter, transport)?;
        findings.push(format!(
            "{} temporality, exported every {} s; attributes: root, span_type, span_status, \
             experiment_id, {}",
            self.settings.temporality.value,
            self.settings.interval.value.as_secs_f64(),
            self.settings.attributes.value
        ));
        Ok(findings)
    }
}
