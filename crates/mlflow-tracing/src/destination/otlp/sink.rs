//! The OTLP sink: encodes ended spans into export requests and sends them with the
//! configured transport.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::tls::TlsMaterial;
use super::transport::{self, Transport, warn_on_port_mismatch};
use super::{doctor, encode};
use crate::config::otlp::{BatchSettings, OtlpSettings, OtlpTraces};
use crate::config::{Destination, redact};
use crate::destination::retry::Retry;
use crate::destination::{Batching, Check, ExportError, Sink, SpanItem};
use crate::error::BuildError;

/// The OTLP destination.
pub(super) struct OtlpSink {
    settings: OtlpSettings,
    batch: BatchSettings,
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
        } = traces;
        let tls = TlsMaterial::load(&settings.tls)?;
        warn_on_port_mismatch(&settings);
        let resource = encode::resource(&settings.resource, encode::instance_id());
        Ok(OtlpSink {
            settings,
            batch,
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
        let request = encode::request(&self.resource, spans);
        let retry = Retry::new(self.settings.timeout.value, self.batch.export_timeout.value);
        self.transport()?
            .export(&request, &retry)
            .map_err(|err| ExportError::new(err.into_message()))
    }
}
