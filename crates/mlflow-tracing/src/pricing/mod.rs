//! Token cost: what an LLM call cost, in USD, as MLflow prices it.
//!
//! MLflow 3.17 prices a span that has a model (`mlflow.llm.model`) and token usage
//! (`mlflow.chat.tokenUsage`) with `calculate_cost_by_model_and_token_usage`, from the
//! model catalog it ships (`mlflow/utils/model_catalog/*.json`, embedded here by
//! `scripts/gen-price-catalog.py`), and stores the result as `mlflow.llm.cost`. This module
//! is a port of that function and of `mlflow.utils.providers.cost_per_token`: the same
//! lookup (provider hint first, then every provider; `databricks-` models priced as
//! Databricks; `gateway:/` and `endpoints:/` models not priced) and the same arithmetic
//! (cached input tokens at their own rates), so that the floats are the same bit for bit.
//!
//! A program can add or replace prices ([`ModelPrice`]); they win over the catalog.

mod catalog;

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};

use catalog::Catalog;
pub(crate) use catalog::{ProviderModels, Rates, parse_provider_file};

/// Model URI prefixes MLflow does not price (internal routing names, not models).
const SKIP_PREFIXES: [&str; 2] = ["gateway:/", "endpoints:/"];

/// The price of a model's tokens, in USD per million tokens, set in code with
/// `TracingBuilder::model_price`. It wins over the prices of the catalog MLflow ships.
///
/// ```
/// use mlflow_tracing::ModelPrice;
///
/// // A fine-tuned model the catalog does not know, and a negotiated price for another.
/// let mine = ModelPrice::new("my-finetuned-llama", 0.20, 0.60);
/// let gpt = ModelPrice::new("gpt-4o", 2.0, 8.0).provider("openai").cache_read(1.0);
/// # let _ = (mine, gpt);
/// ```
#[derive(Clone, PartialEq)]
pub struct ModelPrice {
    model: String,
    provider: Option<String>,
    input: f64,
    output: f64,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    cache_write_1hr: Option<f64>,
}

impl fmt::Debug for ModelPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelPrice")
            .field("model", &self.model)
            .field("provider", &self.provider)
            .field("input_per_million", &self.input)
            .field("output_per_million", &self.output)
            .field("cache_read_per_million", &self.cache_read)
            .field("cache_write_per_million", &self.cache_write)
            .field("cache_write_1hr_per_million", &self.cache_write_1hr)
            .finish()
    }
}

impl ModelPrice {
    /// The price of `model`'s input and output tokens, in USD per million tokens.
    ///
    /// `model` is compared with the span's model as recorded and with what follows its
    /// first `/` (`openai/gpt-4o` is priced as `gpt-4o`, as MLflow does).
    pub fn new(model: impl Into<String>, input_per_million: f64, output_per_million: f64) -> Self {
        ModelPrice {
            model: model.into(),
            provider: None,
            input: input_per_million,
            output: output_per_million,
            cache_read: None,
            cache_write: None,
            cache_write_1hr: None,
        }
    }

    /// Applies only to spans whose provider (`mlflow.llm.provider`, or a provider from the
    /// GenAI conventions) is `provider`, compared without case.
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into().to_lowercase());
        self
    }

    /// The price of input tokens read from the prompt cache (default: the input price).
    pub fn cache_read(mut self, per_million: f64) -> Self {
        self.cache_read = Some(per_million);
        self
    }

    /// The price of input tokens written to the prompt cache (default: the input price).
    pub fn cache_write(mut self, per_million: f64) -> Self {
        self.cache_write = Some(per_million);
        self
    }

    /// The price of input tokens written to the prompt cache with a one-hour lifetime
    /// (default: the cache-write price).
    pub fn cache_write_1hr(mut self, per_million: f64) -> Self {
        self.cache_write_1hr = Some(per_million);
        self
    }

    /// The model this price is for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Checks the price: a model name, and every price finite and not negative. The
    /// error names the price that is not.
    pub(crate) fn check(&self) -> Result<(), (String, String)> {
        if self.model.trim().is_empty() {
            return Err(("model".to_owned(), format!("{:?}", self.model)));
        }
        let prices = [
            ("input", Some(self.input)),
            ("output", Some(self.output)),
            ("cache_read", self.cache_read),
            ("cache_write", self.cache_write),
            ("cache_write_1hr", self.cache_write_1hr),
        ];
        for (name, price) in prices {
            if let Some(p) = price.filter(|p| !p.is_finite() || *p < 0.0) {
                return Err((format!("{name} price of {:?}", self.model), p.to_string()));
            }
        }
        Ok(())
    }

    fn rates(&self) -> Rates {
        let per_token = |v: f64| v / 1_000_000.0;
        Rates {
            input: Some(per_token(self.input)),
            output: Some(per_token(self.output)),
            cache_read: self.cache_read.map(per_token),
            cache_write: self.cache_write.map(per_token),
            cache_write_1hr: self.cache_write_1hr.map(per_token),
        }
    }

    fn matches(&self, model: &str, bare_model: &str, provider: Option<&str>) -> bool {
        (self.model == model || self.model == bare_model)
            && self.provider.as_deref().is_none_or(|p| Some(p) == provider)
    }
}

/// The cost of one LLM call, in USD (`mlflow.llm.cost`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cost {
    pub(crate) input: f64,
    pub(crate) output: f64,
    pub(crate) total: f64,
}

impl Cost {
    /// `{"input_cost": …, "output_cost": …, "total_cost": …}`, as MLflow writes it.
    pub(crate) fn to_json(self) -> Value {
        let number = |v: f64| serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number);
        let mut map = Map::new();
        map.insert("input_cost".to_owned(), number(self.input));
        map.insert("output_cost".to_owned(), number(self.output));
        map.insert("total_cost".to_owned(), number(self.total));
        Value::Object(map)
    }
}

/// Every price a pipeline knows: those set in code, provider catalogs read from
/// `MLFLOW_MODEL_CATALOG_URI`, then the catalog MLflow ships.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prices {
    /// Set in code; the last one that matches wins.
    overrides: Vec<ModelPrice>,
    /// Provider catalogs that replace the bundled ones (`MLFLOW_MODEL_CATALOG_URI`).
    providers: HashMap<String, ProviderModels>,
}

impl Prices {
    pub(crate) fn new(
        overrides: Vec<ModelPrice>,
        providers: HashMap<String, ProviderModels>,
    ) -> Self {
        Prices {
            overrides,
            providers,
        }
    }

    /// The prices of `model` (MLflow's `_lookup_model_info`), with a provider hint
    /// (lowercased) or without.
    fn lookup(&self, model: &str, provider: Option<&str>) -> Option<Rates> {
        let bare = model.split_once('/').map_or(model, |(_, rest)| rest);
        if let Some(price) = self
            .overrides
            .iter()
            .rev()
            .find(|p| p.matches(model, bare, provider))
        {
            return Some(price.rates());
        }
        match provider {
            Some(provider) => match self.providers.get(provider).filter(|m| !m.is_empty()) {
                Some(models) => models.get(bare).copied(),
                None => Catalog::bundled().provider_model(provider, bare),
            },
            None => Catalog::bundled().any_provider(bare),
        }
    }

    /// MLflow's `calculate_cost_by_model_and_token_usage`: the cost of `usage` (the
    /// decoded `mlflow.chat.tokenUsage`) with `model` and `provider` (the decoded
    /// `mlflow.llm.model` and `mlflow.llm.provider`). `None` when MLflow would not price
    /// the span.
    pub(crate) fn cost(
        &self,
        model: &Value,
        usage: &Value,
        provider: Option<&Value>,
    ) -> Option<Cost> {
        let model = match model {
            Value::String(m) if !m.is_empty() => m.as_str(),
            _ => return None,
        };
        let usage = usage.as_object().filter(|u| !u.is_empty())?;
        if SKIP_PREFIXES.iter().any(|p| model.starts_with(p)) {
            return None;
        }
        let mut provider = provider.filter(|p| is_truthy(p));
        let databricks = Value::String("databricks".to_owned());
        if provider.is_none()
            && (model.starts_with("databricks-") || model.starts_with("databricks/"))
        {
            provider = Some(&databricks);
        }
        let count = |key: &str| usage.get(key).map(number);
        let prompt = count("input_tokens").unwrap_or(Some(0.0))?;
        let completion = count("output_tokens").unwrap_or(Some(0.0))?;
        if prompt == 0.0 && completion == 0.0 {
            return None;
        }
        let tokens = Tokens {
            prompt,
            completion,
            cache_read: optional_count(usage, "cache_read_input_tokens")?,
            cache_write: optional_count(usage, "cache_creation_input_tokens")?,
            cache_write_1hr: optional_count(usage, "cache_creation_input_tokens_above_1hr")?,
        };
        // A provider that is not a string fails MLflow's provider lookup (`.lower()`), which
        // then looks the model up without it.
        let hinted = provider
            .and_then(Value::as_str)
            .and_then(|p| self.lookup(model, Some(&p.to_lowercase())));
        let rates = hinted.or_else(|| self.lookup(model, None))?;
        let (input, output) = cost_per_token(&rates, &tokens);
        Some(Cost {
            input,
            output,
            total: input + output,
        })
    }
}

/// Token counts as `cost_per_token` takes them.
struct Tokens {
    prompt: f64,
    completion: f64,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    cache_write_1hr: Option<f64>,
}

/// A token count: a JSON number (a bool counts as 0 or 1, as in Python); `None` for
/// anything else, on which MLflow's arithmetic fails.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// An optional count: `Some(None)` when absent or null, `None` when not a number.
fn optional_count(usage: &Map<String, Value>, key: &str) -> Option<Option<f64>> {
    match usage.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(v) => number(v).map(Some),
    }
}

fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `mlflow.utils.providers.cost_per_token`, operation for operation: `prompt` includes the
/// cached tokens, which are priced at their own rates.
fn cost_per_token(rates: &Rates, t: &Tokens) -> (f64, f64) {
    let input_rate = rates.input.unwrap_or(0.0);
    let output_rate = rates.output.unwrap_or(0.0);
    let cache_read = t.cache_read.unwrap_or(0.0);
    let cache_write = t.cache_write.unwrap_or(0.0);
    let regular = (t.prompt - cache_read - cache_write).max(0.0);
    let write_1hr = t.cache_write_1hr.unwrap_or(0.0).min(cache_write);
    let write_5m = cache_write - write_1hr;
    let write_rate = rates.cache_write.unwrap_or(input_rate);
    let mut input = regular * input_rate;
    if cache_read > 0.0 {
        input += cache_read * rates.cache_read.unwrap_or(input_rate);
    }
    if write_5m > 0.0 {
        input += write_5m * write_rate;
    }
    if write_1hr > 0.0 {
        input += write_1hr * rates.cache_write_1hr.unwrap_or(write_rate);
    }
    (input, t.completion * output_rate)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cost(prices: &Prices, model: &str, usage: Value, provider: Option<&str>) -> Option<Value> {
        let provider = provider.map(|p| json!(p));
        prices
            .cost(&json!(model), &usage, provider.as_ref())
            .map(Cost::to_json)
    }

    #[test]
    fn prices_tokens_from_the_catalog() {
        let prices = Prices::default();
        let usage = json!({"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500});
        assert_eq!(
            crate::json::dumps(&cost(&prices, "gpt-4o", usage.clone(), None)),
            r#"{"input_cost": 0.0025, "output_cost": 0.005, "total_cost": 0.0075}"#
        );
        // The provider's own name of the model, and a provider prefix in the name.
        assert_eq!(
            cost(&prices, "openai/gpt-4o", usage.clone(), Some("OpenAI")),
            cost(&prices, "gpt-4o", usage.clone(), None)
        );
        assert_eq!(cost(&prices, "no-such-model", usage.clone(), None), None);
        assert_eq!(cost(&prices, "gateway:/gpt-4o", usage.clone(), None), None);
        assert_eq!(cost(&prices, "", usage.clone(), None), None);
        assert_eq!(cost(&prices, "gpt-4o", json!({}), None), None);
        assert_eq!(
            cost(
                &prices,
                "gpt-4o",
                json!({"input_tokens": 0, "output_tokens": 0}),
                None
            ),
            None
        );
        assert_eq!(
            cost(&prices, "gpt-4o", json!({"input_tokens": "12"}), None),
            None,
            "a count that is not a number is not priced"
        );
    }

    #[test]
    fn cached_tokens_are_priced_at_their_rates() {
        let rates = Rates {
            input: Some(3e-6),
            output: Some(15e-6),
            cache_read: Some(0.3e-6),
            cache_write: Some(3.75e-6),
            cache_write_1hr: Some(6e-6),
        };
        let tokens = Tokens {
            prompt: 1000.0,
            completion: 10.0,
            cache_read: Some(600.0),
            cache_write: Some(300.0),
            cache_write_1hr: Some(100.0),
        };
        let (input, output) = cost_per_token(&rates, &tokens);
        let expected = 100.0 * 3e-6 + 600.0 * 0.3e-6 + 200.0 * 3.75e-6 + 100.0 * 6e-6;
        assert_eq!(input, expected);
        assert_eq!(output, 10.0 * 15e-6);
    }

    #[test]
    fn prices_set_in_code_win() {
        let prices = Prices::new(
            vec![
                ModelPrice::new("gpt-4o", 1.0, 2.0),
                ModelPrice::new("gpt-4o", 10.0, 20.0).provider("Azure"),
                ModelPrice::new("mine", 1.0, 1.0).cache_read(0.5),
            ],
            HashMap::new(),
        );
        let usage = json!({"input_tokens": 1_000_000, "output_tokens": 1_000_000});
        assert_eq!(
            cost(&prices, "gpt-4o", usage.clone(), None).unwrap()["total_cost"],
            3.0
        );
        assert_eq!(
            cost(&prices, "gpt-4o", usage.clone(), Some("azure")).unwrap()["total_cost"],
            30.0
        );
        assert_eq!(
            cost(&prices, "openai/mine", usage.clone(), None).unwrap()["total_cost"],
            2.0
        );
        assert!(ModelPrice::new("m", -1.0, 0.0).check().is_err());
        assert!(ModelPrice::new("m", 1.0, f64::NAN).check().is_err());
        assert!(ModelPrice::new(" ", 1.0, 1.0).check().is_err());
        assert!(
            ModelPrice::new("m", 1.0, 1.0)
                .cache_write(2.0)
                .check()
                .is_ok()
        );
    }
}
