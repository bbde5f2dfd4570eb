//! [`MlflowLayer`] as a `tracing_subscriber` [`Layer`]: a recorded span's state lives in
//! its `tracing` extensions ([`Bridged`]); while it is entered, it is MLflow's current
//! span on that thread (`span::enter_bridged`).

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::KeyValue;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::MlflowLayer;
use super::fields::{FieldValue, Fields, Role, is_schema_field};
use crate::keys::span as attr;
use crate::span::{
    CurrentSpan, LiveSpan, enter_bridged, exit_bridged, get_current_active_span, next_seq,
    start_span,
};
use crate::types::{SpanStatus, SpanType};

/// The type MLflow's exception events name for an error known only by its message.
const ERROR_TYPE: &str = "Error";

/// A recorded span, kept in its `tracing` extensions until it closes.
struct Bridged {
    span: LiveSpan,
    /// What becomes MLflow's current span while the span is entered, and when it was
    /// created.
    current: Option<(u64, CurrentSpan)>,
    /// Whether a field or event of a schema MLflow translates was recorded: the
    /// assembler translates the span then.
    foreign: bool,
    /// `otel.status_code = "ERROR"` was recorded, with `otel.status_message`.
    error_status: bool,
    status_message: Option<String>,
}

impl Bridged {
    fn new(span: LiveSpan, current: Option<CurrentSpan>) -> Self {
        let current = current.map(|c| match c.seq() {
            0 => (next_seq(), c),
            seq => (seq, c),
        });
        Bridged {
            span,
            current,
            foreign: false,
            error_status: false,
            status_message: None,
        }
    }

    /// Records the fields of the span (when it starts, and later ones).
    fn apply(&mut self, fields: Fields) {
        for (name, value) in fields.values {
            match Role::of(name, false) {
                Role::SpanType => self.span.set_span_type(SpanType::from(value.text())),
                Role::Inputs => self
                    .span
                    .set_otel_attribute(KeyValue::new(attr::INPUTS, value.to_json())),
                Role::Outputs => self.span.set_outputs_json(value.to_json().into()),
                Role::Error => record_error(&self.span, &value),
                Role::StatusCode => self.error_status = value.text().eq_ignore_ascii_case("error"),
                Role::StatusMessage => self.status_message = Some(value.text()),
                Role::Name | Role::Message | Role::Ignored => {}
                Role::Attribute => {
                    self.foreign |= !name.starts_with("mlflow.") && is_schema_field(name);
                    self.span
                        .set_otel_attribute(KeyValue::new(name, value.to_plain()));
                }
            }
        }
    }

    /// Ends the span, at the time it closed; one with fields of a schema MLflow
    /// translates is marked for the assembler to translate it (off this thread), as
    /// MLflow's store does once a span has ended.
    fn finish(self) {
        let end = SystemTime::now();
        if self.error_status {
            let message = self.status_message.unwrap_or_default();
            self.span.set_status(SpanStatus::error(message));
        }
        if self.foreign {
            self.span
                .set_otel_attribute(KeyValue::new(attr::TRANSLATE, true));
        }
        self.span.end_at(end);
    }
}

/// Records an error field as `record_exception` records an error.
fn record_error(span: &LiveSpan, value: &FieldValue) {
    span.record_exception_parts(ERROR_TYPE, &value.text(), &value.stacktrace(ERROR_TYPE));
}

/// The span an event goes to: the MLflow span, and the `tracing` span when it is a
/// recorded one.
struct EventTarget {
    span: LiveSpan,
    bridged: Option<Id>,
}

impl MlflowLayer {
    /// The nearest recorded span from `span` up (itself included).
    fn nearest<S>(span: Option<SpanRef<'_, S>>) -> Option<(LiveSpan, Id)>
    where
        S: for<'a> LookupSpan<'a>,
    {
        span?.scope().find_map(|s| {
            s.extensions()
                .get::<Bridged>()
                .map(|b| (b.span.clone(), s.id()))
        })
    }

    /// MLflow's current span, when this layer records into its pipeline.
    fn current_mlflow_span(&self) -> Option<LiveSpan> {
        get_current_active_span().filter(|span| {
            self.tracing
                .as_ref()
                .is_none_or(|tracing| span.records_into(tracing))
        })
    }

    fn start<S>(&self, attrs: &Attributes<'_>, ctx: &Context<'_, S>) -> Option<Bridged>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let metadata = attrs.metadata();
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let name = fields
            .values
            .iter()
            .find(|(name, _)| Role::of(name, false) == Role::Name)
            .map_or(Cow::Borrowed(metadata.name()), |(_, v)| {
                Cow::Owned(v.text())
            });
        let builder = match &self.tracing {
            Some(tracing) => tracing.start_span(name),
            None => start_span(name),
        };
        let builder = if attrs.is_root() {
            builder.no_parent()
        } else if let Some(parent) = attrs.parent() {
            match Self::nearest(ctx.span(parent)) {
                Some((parent, _)) => builder.parent(&parent),
                None => builder.no_parent(),
            }
        } else {
            // The current MLflow span: a recorded `tracing` span is current while it is
            // entered, and so is a span started with this SDK inside it.
            builder
        };
        let (span, current) = builder.create();
        // No span and nothing current: tracing is off in this pipeline.
        current.as_ref()?;
        let mut bridged = Bridged::new(span, current);
        bridged.apply(fields);
        Some(bridged)
    }

    fn event_target<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> Option<EventTarget>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if event.is_root() {
            return None;
        }
        if let Some(parent) = event.parent() {
            let (span, id) = Self::nearest(ctx.span(parent))?;
            return Some(EventTarget {
                span,
                bridged: Some(id),
            });
        }
        let span = self.current_mlflow_span()?;
        let bridged = Self::nearest(ctx.lookup_current())
            .filter(|(b, _)| b.span_id() == span.span_id())
            .map(|(_, id)| id);
        Some(EventTarget { span, bridged })
    }
}

impl<S> Layer<S> for MlflowLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !self.filter.records_span(attrs.metadata()) {
            return;
        }
        if let Some(bridged) = self.start(attrs, &ctx)
            && let Some(span) = ctx.span(id)
        {
            span.extensions_mut().insert(bridged);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(bridged) = extensions.get_mut::<Bridged>() {
            let mut fields = Fields::default();
            values.record(&mut fields);
            bridged.apply(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        if !self.filter.records_event(metadata) {
            return;
        }
        let Some(target) = self.event_target(event, &ctx) else {
            return;
        };
        if !target.span.is_recording() {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut name = None;
        let mut outputs = None;
        let mut error = None;
        let mut attributes = Vec::with_capacity(fields.values.len() + 2);
        for (key, value) in fields.values {
            match Role::of(key, true) {
                Role::Message => name = Some(value.text()),
                Role::Outputs => outputs = Some(value),
                Role::Error if *metadata.level() == Level::ERROR => error = Some(value),
                _ => attributes.push(KeyValue::new(key, value.to_plain())),
            }
        }
        let foreign = name.as_deref().is_some_and(is_schema_field)
            || attributes.iter().any(|kv| is_schema_field(kv.key.as_str()));
        if let Some(error) = &error {
            record_error(&target.span, error);
        } else if outputs.is_none() || name.is_some() {
            attributes.push(KeyValue::new("level", metadata.level().as_str()));
            attributes.push(KeyValue::new("target", metadata.target().to_owned()));
            let name: Cow<'static, str> = match name {
                Some(name) => Cow::Owned(name),
                None => Cow::Borrowed(metadata.name()),
            };
            target
                .span
                .add_event(name, attributes.into_iter().map(|kv| (kv.key, kv.value)));
        }
        if foreign
            && let Some(id) = &target.bridged
            && let Some(span) = ctx.span(id)
            && let Some(bridged) = span.extensions_mut().get_mut::<Bridged>()
        {
            bridged.foreign = true;
        }
        if let Some(outputs) = outputs
            && !target.span.outputs_were_set()
        {
            target.span.set_outputs_json(outputs.to_json().into());
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let current = span
            .extensions()
            .get::<Bridged>()
            .and_then(|b| b.current.clone());
        if let Some((seq, current)) = current {
            enter_bridged(self.id, id.into_u64(), seq, current);
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        exit_bridged(self.id, id.into_u64());
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let bridged = ctx
            .span(&id)
            .and_then(|span| span.extensions_mut().remove::<Bridged>());
        if let Some(bridged) = bridged {
            bridged.finish();
        }
    }
}
