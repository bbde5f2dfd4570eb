//! The OTLP sink: encodes ended spans into export requests and sends them with the
//! configured transport.

use opentelemetry_proto::tonic::resource::v1::Resource;

use super::tls::TlsMaterial;
use super::transport::Transport;
use super::{doctor, encode};
use crate::config::Destination;
use crate::config::otlp::{OtlpSettings, Protocol};
use crate::destination::retry::Retry;
use crate::destination::{Batching, Check, ExportError, Sink, SpanItem};
use crate::error::BuildError;
use crate::report;

/// The OTLP destination.
pub(super) struct OtlpSink {
    settings: OtlpSettings,
    resource: Resource,
    tls: TlsMaterial,
    transport: Option<Box<dyn Transport>>,
}

impl OtlpSink {
    /// Checks everything that can be checked up front: the TLS files are readable, https
    /// is not silently turned into plaintext.
    pub(super) fn new(settings: OtlpSettings) -> Result<Self, BuildError> {
        let protocol = settings.protocol.value;
        let tls = TlsMaterial::load(&settings.tls)?;
        warn_on_port_mismatch(&settings.endpoint.value, settings.url.port(), protocol);
        let resource = encode::resource(&settings.resource, encode::instance_id());
        Ok(OtlpSink {
            settings,
            resource,
            tls,
            transport: None,
        })
    }

    /// The transport, created on the export thread at first use.
    fn transport(&mut self) -> Result<&mut dyn Transport, ExportError> {
        let transport = match self.transport.take() {
            Some(transport) => transport,
            None => self.new_transport().map_err(ExportError::new)?,
        };
        Ok(self.transport.insert(transport).as_mut())
    }

    fn new_transport(&self) -> Result<Box<dyn Transport>, String> {
        Ok(match self.settings.protocol.value {
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => Box::new(super::grpc::GrpcTransport::new(&self.settings, &self.tls)?),
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                Box::new(super::http::HttpTransport::new(&self.settings, &self.tls)?)
            }
            #[allow(unreachable_patterns)]
            other => return Err(format!("{other} support is not compiled in")),
        })
    }
}

impl Sink<SpanItem> for OtlpSink {
    fn destination(&self) -> Destination {
        Destination::Otlp {
            protocol: self.settings.protocol.value,
            endpoint: self.settings.endpoint.value.clone(),
        }
    }

    fn batching(&self) -> Batching {
        Batching {
            max_items: self.settings.batch.max_export_batch_size.value,
            max_delay: self.settings.batch.schedule_delay.value,
            max_queued: self.settings.batch.max_queue_size.as_ref().map(|s| s.value),
        }
    }

    fn check(&mut self) -> Check {
        let url = self.settings.url.clone();
        let protocol = self.settings.protocol.value;
        let transport = self.transport().map_err(|e| e.to_string());
        doctor::check(&url, protocol, transport)
    }

    fn export(&mut self, spans: &[SpanItem]) -> Result<(), ExportError> {
        let request = encode::request(&self.resource, spans);
        let retry = Retry::new(
            self.settings.timeout.value,
            self.settings.batch.export_timeout.value,
        );
        self.transport()?
            .export(&request, &retry)
            .map_err(|err| ExportError::new(err.into_message()))
    }
}

/// One warning when the port looks like the other protocol's: HTTP sent to the gRPC port
/// 4317 fails with a protocol error, gRPC sent to the HTTP port 4318 likewise.
fn warn_on_port_mismatch(endpoint: &str, port: Option<u16>, protocol: Protocol) {
    let advice = match (protocol, port) {
        (Protocol::HttpProtobuf | Protocol::HttpJson, Some(4317)) => format!(
            "OTLP is set to {protocol} but the endpoint {endpoint} uses port 4317, the standard \
             OTLP/gRPC port: HTTP sent to a gRPC port fails. Set \
             OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc, or use the receiver's HTTP port (4318)"
        ),
        (Protocol::Grpc, Some(4318)) => format!(
            "OTLP is set to gRPC (MLflow's default protocol) but the endpoint {endpoint} uses \
             port 4318, the standard OTLP/HTTP port: gRPC sent to an HTTP port fails. Set \
             OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf, or use the receiver's gRPC port \
             (4317)"
        ),
        _ => return,
    };
    report::warn(&format!("port-mismatch:{endpoint}"), || advice);
}
