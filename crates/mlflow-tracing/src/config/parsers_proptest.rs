//! Property tests: the parsers of values from outside (header lists, resource attributes,
//! endpoints, tracking URIs, URL redaction) never panic, whatever the input, and what they
//! accept has the shape promised.

use proptest::prelude::*;

use super::otlp::{OtlpCode, parse_headers, percent_decode, resolve_resource, resolve_traces};
use super::{Env, TrackingUri, redact};

/// Any text, weighted towards the characters these formats care about.
fn text() -> impl Strategy<Value = String> {
    let interesting = prop_oneof![
        Just(','),
        Just('='),
        Just('%'),
        Just(':'),
        Just('/'),
        Just('@'),
        Just('?'),
        Just('&'),
        Just(' '),
        Just('\n'),
        Just('\u{0}'),
        any::<char>(),
        proptest::char::range('a', 'z'),
        proptest::char::range('0', '9'),
    ];
    proptest::collection::vec(interesting, 0..64).prop_map(|c| c.into_iter().collect())
}

fn env_with(name: &'static str, value: String) -> Env {
    Env::from_fn(move |k| (k == name).then(|| value.clone()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn header_lists_never_panic_and_never_show_values(raw in text()) {
        match parse_headers("OTEL_EXPORTER_OTLP_HEADERS", &raw) {
            Ok(headers) => {
                for (name, _) in &headers.0 {
                    prop_assert!(!name.is_empty());
                    prop_assert!(name.bytes().all(|b| b.is_ascii_graphic() && b != b':'));
                }
            }
            Err(err) => prop_assert!(err.to_string().contains("<redacted>")),
        }
    }

    #[test]
    fn percent_decoding_never_panics(raw in text()) {
        let _ = percent_decode(&raw);
    }

    #[test]
    fn resource_attributes_never_panic(raw in text(), service in text()) {
        let e = Env::from_fn(move |k| match k {
            "OTEL_RESOURCE_ATTRIBUTES" => Some(raw.clone()),
            "OTEL_SERVICE_NAME" => Some(service.clone()),
            _ => None,
        });
        if let Ok(resource) = resolve_resource(&e) {
            prop_assert!(resource.attributes.iter().all(|(k, _)| k != "service.name"));
        }
    }

    #[test]
    fn endpoints_never_panic(raw in text(), protocol in prop_oneof![
        Just("grpc"), Just("http/protobuf"), Just("http/json")
    ]) {
        let e = Env::from_fn(move |k| match k {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(raw.clone()),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some(protocol.to_owned()),
            _ => None,
        });
        if let Ok(Some(settings)) = resolve_traces(&e, &OtlpCode::default()) {
            prop_assert!(matches!(settings.exporter.url.scheme(), "http" | "https"));
        }
    }

    #[test]
    fn tracking_uris_never_panic(raw in text()) {
        let e = env_with("MLFLOW_TRACKING_URI", raw.clone());
        let cwd = std::path::Path::new("/work");
        if let Ok(TrackingUri::Sqlite { path }) =
            super::resolve_tracking_uri(&e, None, cwd).map(|s| s.value)
        {
            prop_assert!(path.is_absolute());
        }
        let _ = TrackingUri::parse_uri_or_path(&raw);
    }

    #[test]
    fn redacted_urls_never_show_a_password(
        user in "[a-z]{1,8}",
        password in "[A-Za-z0-9]{6,12}",
        rest in text(),
    ) {
        let raw = format!("https://{user}:{password}@host:4318/{rest}");
        let shown = redact::redact_url(&raw);
        if url::Url::parse(&raw).is_ok() {
            prop_assert!(!shown.contains(&password), "{shown}");
        }
        let _ = redact::redact_url(&rest);
    }
}
