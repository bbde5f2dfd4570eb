//! The OTLP sink: encodes ended spans into export requests and sends them with the
//! configured transport.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;

use super::tls::TlsMaterial;
use super::transport::{self, Transport, warn_on_port_mismatch};
use super::{doctor, encode};
use crate::config::otlp::{BatchSettings, OtlpSettings, OtlpTraces};
use crate::config::{Destination, redact};
use crate::destination::failure::Failure;
use crate::destination::retry::Retry;
use crate::destination::{Batching, Check, ExportError, Sink, SpanItem};
use crate::error::BuildError;

/// The OTLP destination.
pub(super) struct OtlpSink {
    settings: OtlpSettings,
    batch: BatchSettings,
    /// Spans in the GenAI conventions (`MLFLOW_ENABLE_OTEL_GENAI_SEMCONV`).
    genai_semconv: bool,
    resource: Resource,
    tls: TlsMaterial,
    transport: Option<Box<dyn Transport<ExportTraceServiceRequest>>>,
}

impl OtlpSink {
    /// Checks everything that can be checked up front: the TLS files are readable, https
    /// is not silently turned into plaintext.
    pub(super) fn new(traces: OtlpTraces) -> Result<Self, BuildError> {
        let OtlpTraces {
            exporter: settings,
            batch,
            genai_semconv,
        } = traces;
        let tls = TlsMaterial::load(&settings.tls)?;
        warn_on_port_mismatch(&settings);
        let resource = encode::resource(&settings.resource, encode::instance_id());
        Ok(OtlpSink {
            settings,
            batch,
            genai_semconv: genai_semconv.value,
            resource,
            tls,
            transport: None,
        })
    }

    /// The transport, created on the export thread at first use.
    fn transport(&mut self) -> Result<&mut dyn Transport<ExportTraceServiceRequest>, ExportError> {
        let transport = match self.transport.take() {
            Some(transport) => transport,
            None => transport::connect(&self.settings, &self.tls).map_err(ExportError::new)?,
        };
        Ok(self.transport.insert(transport).as_mut())
    }
}

impl Sink<SpanItem> for OtlpSink {
    fn destination(&self) -> Destination {
        Destination::Otlp {
            protocol: self.settings.protocol.value,
            endpoint: redact::redact_url(&self.settings.endpoint.value),
        }
    }

    fn batching(&self) -> Batching {
        Batching {
            max_items: self.batch.max_export_batch_size.value,
            max_delay: self.batch.schedule_delay.value,
            max_queued: self.batch.max_queue_size.as_ref().map(|s| s.value),
        }
    }

    fn check(&mut self) -> Check {
        let settings = self.settings.clone();
        let transport = self.transport().map_err(|e| e.to_string());
        doctor::check::<ExportTraceServiceRequest>(&settings, transport)
    }

    fn export(&mut self, spans: &[SpanItem]) -> Result<(), ExportError> {
        let retry = Retry::new(self.settings.timeout.value, self.batch.export_timeout.value);
        match self.send(spans, &retry) {
            None => Ok(()),
            Some(lost) if lost.count >= spans.len() => Err(ExportError::new(lost.message)),
            Some(lost) => Err(ExportError::partial(lost.count, lost.message)),
        }
    }
}

/// Spans of a batch that did not get through, and why (the first reason).
struct Lost {
    count: usize,
    message: String,
}

impl OtlpSink {
    /// Sends `spans` in one request; a request the receiver refuses as too large is split
    /// in halves, down to single spans, within the same retry deadline. Returns what was
    /// lost: spans the receiver rejected, a span too large even alone, or a failed request.
    fn send(&mut self, spans: &[SpanItem], retry: &Retry) -> Option<Lost> {
        let request = encode::request(&self.resource, spans, self.genai_semconv);
        let transport = match self.transport() {
            Ok(transport) => transport,
            Err(err) => {
                return Some(Lost {
                    count: spans.len(),
                    message: err.to_string(),
                });
            }
        };
        match transport.export(&request, retry) {
            Ok(rejected) if rejected.count == 0 => None,
            Ok(rejected) => Some(Lost {
                count: usize::try_from(rejected.count)
                    .unwrap_or(usize::MAX)
                    .min(spans.len()),
                message: format!(
                    "the receiver accepted the request but rejected {} of its {} span(s): {}",
                    rejected.count,
                    spans.len(),
                    rejected.message
                ),
            }),
            Err(err) if err.failure() == Failure::TooLarge && spans.len() > 1 => {
                let (first, second) = spans.split_at(spans.len() / 2);
                match (self.send(first, retry), self.send(second, retry)) {
                    (None, None) => None,
                    (Some(lost), None) | (None, Some(lost)) => Some(lost),
                    (Some(a), Some(b)) => Some(Lost {
                        count: a.count + b.count,
                        message: a.message,
                    }),
                }
            }
            Err(err) if err.failure() == Failure::TooLarge => Some(Lost {
                count: 1,
                message: format!(
                    "a span of {} bytes is larger than the receiver accepts: {}",
                    request.encoded_len(),
                    err.into_message()
                ),
            }),
            Err(err) => Some(Lost {
                count: spans.len(),
                message: err.into_message(),
            }),
        }
    }
}
