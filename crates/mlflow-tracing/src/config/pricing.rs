//! Model prices: those set in code (`TracingBuilder::model_price`), then provider catalogs
//! from `MLFLOW_MODEL_CATALOG_URI` when it names a local directory, then the catalog MLflow
//! ships.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::{ConfigError, Env, Setting, Source, env};
use crate::pricing::{ModelPrice, Prices, ProviderModels, parse_provider_file};
use crate::report;

/// The resolved prices and what they come from.
#[derive(Debug, Clone)]
pub(crate) struct PriceSettings {
    pub(crate) prices: Arc<Prices>,
    /// Where the catalog comes from, for `doctor`.
    pub(crate) catalog: Setting<String>,
    /// How many prices were set in code.
    pub(crate) in_code: usize,
}

impl Default for PriceSettings {
    fn default() -> Self {
        PriceSettings {
            prices: Arc::default(),
            catalog: Setting::new(BUNDLED.to_owned(), Source::Default),
            in_code: 0,
        }
    }
}

const BUNDLED: &str = "MLflow 3.17.2's model catalog, built in";

/// Resolves the prices: each price set in code is checked (finite, not negative).
pub(crate) fn resolve(e: &Env, code: &[ModelPrice]) -> Result<PriceSettings, ConfigError> {
    for price in code {
        price.check().map_err(|(what, value)| {
            ConfigError::new(
                format!("model_price ({what})"),
                &value,
                "a model name, and prices that are finite and not negative (USD per million tokens)",
            )
        })?;
    }
    let (providers, catalog) = match e.get(env::MLFLOW_MODEL_CATALOG_URI) {
        None => (
            HashMap::new(),
            Setting::new(BUNDLED.to_owned(), Source::Default),
        ),
        Some(uri) => {
            let source = Source::Env(env::MLFLOW_MODEL_CATALOG_URI);
            let providers = catalog_uri(&uri)?;
            let described = if providers.is_empty() {
                format!("{BUNDLED} ({uri} is not downloaded)")
            } else {
                format!(
                    "{} provider catalogs from {uri}, then {BUNDLED}",
                    providers.len()
                )
            };
            (providers, Setting::new(described, source))
        }
    };
    Ok(PriceSettings {
        prices: Arc::new(Prices::new(code.to_vec(), providers)),
        catalog,
        in_code: code.len(),
    })
}

/// The provider catalogs `MLFLOW_MODEL_CATALOG_URI` names: `file://<dir>` is read (one
/// `<provider>.json` per provider, as MLflow reads it); an `http(s)` URL is not
/// downloaded (reported once: the built-in catalog is used).
fn catalog_uri(uri: &str) -> Result<HashMap<String, ProviderModels>, ConfigError> {
    const EXPECTED: &str = "a file:// URL of a directory of <provider>.json catalogs in MLflow's \
                            format, or an http(s) URL (not downloaded: the built-in catalog is used)";
    let err = |why: String| {
        ConfigError::new(
            env::MLFLOW_MODEL_CATALOG_URI,
            uri,
            format!("{EXPECTED}; {why}"),
        )
    };
    let url = url::Url::parse(uri).map_err(|e| err(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => {
            report::warn("model-catalog-uri", || {
                format!(
                    "{} is {uri}: mlflow-tracing does not download model prices; it prices \
                     tokens with {BUNDLED} (set prices in code with TracingBuilder::model_price, \
                     or point {} at a file:// directory)",
                    env::MLFLOW_MODEL_CATALOG_URI,
                    env::MLFLOW_MODEL_CATALOG_URI
                )
            });
            Ok(HashMap::new())
        }
        "file" => {
            let dir = url
                .to_file_path()
                .map_err(|()| err("not a local path".to_owned()))?;
            read_catalogs(&dir).map_err(err)
        }
        other => Err(err(format!("the scheme {other:?} is not supported"))),
    }
}

fn read_catalogs(dir: &Path) -> Result<HashMap<String, ProviderModels>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut providers = HashMap::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Some(provider) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let models = parse_provider_file(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        providers.insert(provider.to_owned(), models);
    }
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(uri: &str) -> Env {
        let uri = uri.to_owned();
        Env::from_fn(move |k| (k == env::MLFLOW_MODEL_CATALOG_URI).then(|| uri.clone()))
    }

    #[test]
    fn a_local_catalog_directory_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("acme.json"),
            r#"{"schema_version": "1.0", "models": {"rocket": {"pricing": {"input_per_million_tokens": 1, "output_per_million_tokens": 2}}}}"#,
        )
        .unwrap();
        let uri = url::Url::from_directory_path(dir.path())
            .unwrap()
            .to_string();
        let resolved = resolve(&env_with(&uri), &[]).unwrap();
        assert!(
            resolved.catalog.value.starts_with("1 provider catalogs"),
            "{:?}",
            resolved.catalog
        );
        let cost = resolved
            .prices
            .cost(
                &serde_json::json!("rocket"),
                &serde_json::json!({"input_tokens": 1_000_000, "output_tokens": 0}),
                Some(&serde_json::json!("acme")),
            )
            .unwrap();
        assert_eq!(cost.total, 1.0);
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        let err = resolve(&env_with("ftp://x/y"), &[]).unwrap_err();
        assert_eq!(err.variable(), env::MLFLOW_MODEL_CATALOG_URI);
        let err = resolve(&env_with("file:///no/such/dir"), &[]).unwrap_err();
        assert!(err.to_string().contains("/no/such/dir"), "{err}");
        let err = resolve(&Env::from_fn(|_| None), &[ModelPrice::new("m", -1.0, 1.0)]).unwrap_err();
        assert!(err.to_string().contains("input price of \"m\""), "{err}");
        // An http(s) catalog is not downloaded: the built-in one is used.
        let ok = resolve(&env_with("https://example.com/catalog"), &[]).unwrap();
        assert!(ok.catalog.value.contains("not downloaded"));
    }
}
