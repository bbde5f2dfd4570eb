//! MLflow spans as OTLP messages: what MLflow's Python SDK sends through the OpenTelemetry
//! exporter. Attributes stay as recorded (MLflow's are JSON text), kind INTERNAL, flags
//! 256 (the parent is known not to be remote) or 768 (it is: a trace continued from another
//! process), scope `mlflow.tracing.provider`.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use opentelemetry_proto::transform::common::tonic::Attributes;

use crate::config::otlp::ResourceSettings;
use crate::destination::SpanItem;
use crate::translate::genai_out::{self, Kind};
use crate::types::StatusCode;

/// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`, with "is remote" clear: what MLflow sends.
const SPAN_FLAGS: u32 = 0x100;
/// `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`: the parent is a span of another process.
const SPAN_FLAGS_PARENT_REMOTE: u32 = 0x200;

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// The resource attributes, in the order MLflow's Python SDK sends them.
pub(crate) fn resource(settings: &ResourceSettings, instance_id: &str) -> Resource {
    let mut attributes = vec![
        string_kv("telemetry.sdk.language", "rust"),
        string_kv("telemetry.sdk.name", "mlflow-tracing"),
        string_kv("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        string_kv("service.instance.id", instance_id),
    ];
    attributes.extend(settings.attributes.iter().map(|(k, v)| string_kv(k, v)));
    attributes.push(string_kv("service.name", &settings.service_name.value));
    Resource {
        attributes,
        ..Resource::default()
    }
}

/// One request carrying `spans`; with `genai_semconv`, translated to the GenAI semantic
/// conventions as MLflow translates them.
pub(crate) fn request(
    resource: &Resource,
    spans: &[SpanItem],
    genai_semconv: bool,
) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: crate::keys::SCOPE_NAME.to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans: spans.iter().map(|s| to_proto(s, genai_semconv)).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn to_proto(s: &crate::model::Span, genai_semconv: bool) -> Span {
    let status = s.status();
    // MLflow sends a span its translation fails on as it is.
    let genai = genai_semconv.then(|| genai_out::to_genai(s)).flatten();
    let (name, kind, attributes) = match genai {
        Some(g) => (
            g.name,
            match g.kind {
                Kind::Client => span::SpanKind::Client,
                Kind::Internal => span::SpanKind::Internal,
            },
            Attributes::from(g.attributes.into_iter()).0,
        ),
        None => (
            s.name().to_owned(),
            span::SpanKind::Internal,
            Attributes::from(s.attributes().iter().cloned()).0,
        ),
    };
    Span {
        trace_id: s.otel_trace_id().to_bytes().to_vec(),
        span_id: s.span_id().to_bytes().to_vec(),
        trace_state: String::new(),
        parent_span_id: s
            .parent_id()
            .map(|p| p.to_bytes().to_vec())
            .unwrap_or_default(),
        flags: if s.parent_is_remote() {
            SPAN_FLAGS | SPAN_FLAGS_PARENT_REMOTE
        } else {
            SPAN_FLAGS
        },
        name,
        kind: kind as i32,
        start_time_unix_nano: s.start_time_ns(),
        end_time_unix_nano: s.end_time_ns(),
        attributes,
        dropped_attributes_count: 0,
        events: s
            .events()
            .iter()
            .map(|e| span::Event {
                time_unix_nano: e.time_ns(),
                name: e.name().to_owned(),
                attributes: Attributes::from(e.attributes().iter().cloned()).0,
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: Some(Status {
            message: match status.code() {
                StatusCode::Error => status.description().to_owned(),
                _ => String::new(),
            },
            code: match status.code() {
                StatusCode::Unset => status::StatusCode::Unset,
                StatusCode::Ok => status::StatusCode::Ok,
                StatusCode::Error => status::StatusCode::Error,
            } as i32,
        }),
    }
}

/// A random UUID (version 4), the process's `service.instance.id`.
pub(crate) fn instance_id() -> &'static str {
    use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let mut b = RandomIdGenerator::default().new_trace_id().to_bytes();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = format!("{:032x}", u128::from_be_bytes(b));
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    })
}
