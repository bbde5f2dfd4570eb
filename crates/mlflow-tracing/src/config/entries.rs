//! The resolved configuration as a list of entries, fit to print: what `doctor` shows.

use std::time::Duration;

use super::otlp::{OtlpSettings, Protocol};
use super::{Experiment, Setting, Settings, Source, TrackingUri, env, redact};

/// One resolved setting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// What it is, e.g. `OTLP endpoint`.
    pub name: &'static str,
    /// Its value, fit to print: header values and other secrets are redacted.
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

impl Settings {
    /// Every setting for display, secrets redacted.
    pub(crate) fn entries(&self) -> Vec<ConfigEntry> {
        let mut entries = vec![
            entry("tracking URI", &self.tracking_uri, TrackingUri::to_string),
            entry("experiment", &self.experiment, |e| match e {
                Experiment::Default => "0 (Default)".to_owned(),
                Experiment::Id(id) => format!("id {id}"),
                Experiment::Name(name) => format!("name {name:?}"),
            }),
            entry("sampling ratio", &self.sampling_ratio, f64::to_string),
            entry("queue memory bound", &self.max_queue_bytes, |b| {
                format!("{b} bytes")
            }),
            entry("flush timeout", &self.flush_timeout, millis),
            entry("unfinished trace TTL", &self.buffer_ttl, |d| {
                format!("{} s", d.as_secs())
            }),
            entry("trace timeout", &self.trace_timeout, |d| match d {
                Some(d) => format!("{} s", d.as_secs()),
                None => "none".to_owned(),
            }),
        ];
        if let Some(server) = &self.server {
            entries.push(entry("server authentication", &server.auth, |a| {
                a.describe()
            }));
            let tls = &server.tls;
            entries.push(match (&tls.server_cert, tls.insecure.value) {
                (Some(ca), _) => entry("server CA bundle", ca, |p| p.display().to_string()),
                (None, true) => entry("server TLS", &tls.insecure, |_| {
                    "certificate NOT verified".to_owned()
                }),
                (None, false) => entry("server TLS", &tls.insecure, |_| {
                    "verified against the system's CA certificates".to_owned()
                }),
            });
            if let Some(cert) = &tls.client_cert {
                entries.push(entry("server client certificate", cert, |p| {
                    p.display().to_string()
                }));
            }
            let http = &server.http;
            entries.push(entry("HTTP retries", &http.max_retries, |n| {
                format!(
                    "{n} (waits 0, {f}×2, {f}×4, … s, at most 120 s, plus up to {j} s)",
                    f = http.backoff_factor.value,
                    j = http.backoff_jitter.value
                )
            }));
            entries.push(entry("HTTP request timeout", &http.timeout, |d| {
                format!("{} s", d.as_secs())
            }));
        }
        match &self.otlp {
            None => entries.push(ConfigEntry {
                name: "OTLP export",
                value: "off (no OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT)"
                    .to_owned(),
                source: Source::Default,
            }),
            Some(otlp) => {
                entries.extend(exporter_entries(&TRACES, &otlp.exporter));
                let b = &otlp.batch;
                entries.push(entry("OTLP batch delay", &b.schedule_delay, millis));
                entries.push(entry(
                    "OTLP batch size",
                    &b.max_export_batch_size,
                    usize::to_string,
                ));
                entries.push(match &b.max_queue_size {
                    Some(s) => entry("OTLP queue size", s, usize::to_string),
                    None => ConfigEntry {
                        name: "OTLP queue size",
                        value: "bounded by memory only".to_owned(),
                        source: Source::Default,
                    },
                });
                entries.push(entry("OTLP export timeout", &b.export_timeout, millis));
                entries.push(entry(
                    "OTLP spans in the GenAI conventions",
                    &otlp.genai_semconv,
                    bool::to_string,
                ));
                entries.push(entry(
                    "dual export (store + OTLP)",
                    &self.dual_export,
                    bool::to_string,
                ));
                entries.extend(resource_entries(&otlp.exporter));
            }
        }
        entries.extend(self.metrics_entries());
        entries.push(entry(
            "model prices",
            &self.pricing.catalog,
            |c| match self.pricing.in_code {
                0 => c.clone(),
                n => format!("{n} set in code, then {c}"),
            },
        ));
        entries.extend(self.mlflow_vars.entries());
        entries
    }
}

/// The names an exporter's entries are shown under.
pub(super) struct ExporterNames {
    pub(super) endpoint: &'static str,
    pub(super) protocol: &'static str,
    pub(super) headers: &'static str,
    pub(super) timeout: &'static str,
    pub(super) compression: &'static str,
    pub(super) certificate: &'static str,
    pub(super) client_certificate: &'static str,
    pub(super) client_key: &'static str,
    pub(super) insecure: &'static str,
}

const TRACES: ExporterNames = ExporterNames {
    endpoint: "OTLP endpoint",
    protocol: "OTLP protocol",
    headers: "OTLP headers",
    timeout: "OTLP timeout",
    compression: "OTLP compression",
    certificate: "OTLP CA certificate",
    client_certificate: "OTLP client certificate",
    client_key: "OTLP client key",
    insecure: "OTLP insecure (gRPC)",
};

pub(super) fn millis(d: &Duration) -> String {
    format!("{} ms", d.as_millis())
}

pub(super) fn entry<T>(
    name: &'static str,
    s: &Setting<T>,
    show: impl Fn(&T) -> String,
) -> ConfigEntry {
    ConfigEntry {
        name,
        value: show(&s.value),
        source: s.source.clone(),
    }
}

/// One signal's exporter: endpoint, protocol, headers (redacted), timeout, compression,
/// TLS files, and for gRPC the plaintext switch.
pub(super) fn exporter_entries(names: &ExporterNames, otlp: &OtlpSettings) -> Vec<ConfigEntry> {
    let mut entries = vec![
        entry(names.endpoint, &otlp.endpoint, |e| redact::redact_url(e)),
        entry(names.protocol, &otlp.protocol, |p| p.as_str().to_owned()),
        entry(names.headers, &otlp.headers, |h| h.redacted()),
        entry(names.timeout, &otlp.timeout, millis),
        entry(names.compression, &otlp.compression, |c| {
            c.as_str().to_owned()
        }),
    ];
    for (name, file) in [
        (names.certificate, &otlp.tls.certificate),
        (names.client_certificate, &otlp.tls.client_certificate),
        (names.client_key, &otlp.tls.client_key),
    ] {
        entries.push(match file {
            Some(path) => entry(name, path, |p| p.display().to_string()),
            None => ConfigEntry {
                name,
                value: "(none)".to_owned(),
                source: Source::Default,
            },
        });
    }
    if otlp.protocol.value == Protocol::Grpc {
        entries.push(entry(names.insecure, &otlp.insecure, bool::to_string));
    }
    entries
}

/// The resource every OTLP request carries.
pub(super) fn resource_entries(otlp: &OtlpSettings) -> Vec<ConfigEntry> {
    let resource = &otlp.resource;
    let mut entries = vec![entry("service.name", &resource.service_name, String::clone)];
    if !resource.attributes.is_empty() {
        entries.push(ConfigEntry {
            name: "resource attributes",
            value: resource
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            source: Source::Env(env::OTEL_RESOURCE_ATTRIBUTES),
        });
    }
    entries
}
