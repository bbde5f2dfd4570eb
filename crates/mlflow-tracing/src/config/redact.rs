//! Keeping secrets out of what is shown (the scrubbing is used by the network
//! destinations, so it is compiled only with one of them): URLs with their credentials replaced, and text
//! from outside (a receiver's error message, an echoed request) scrubbed of every secret
//! the configuration holds — each header value, and each token within it.

use std::fmt;

/// What replaces a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// Query parameters whose values are credentials.
const SECRET_PARAMETERS: [&str; 12] = [
    "api_key",
    "apikey",
    "api-key",
    "key",
    "token",
    "access_token",
    "auth",
    "authorization",
    "password",
    "passwd",
    "secret",
    "signature",
];

/// `raw` with its user name, password and credential-like query parameter values replaced
/// by `<redacted>`; `raw` itself when it is not a URL.
pub(crate) fn url(raw: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(raw) else {
        return raw.to_owned();
    };
    let mut changed = false;
    if !parsed.username().is_empty() {
        changed |= parsed.set_username(REDACTED).is_ok();
    }
    if parsed.password().is_some() {
        changed |= parsed.set_password(Some(REDACTED)).is_ok();
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                if is_secret_parameter(&k) {
                    changed = true;
                    (k.into_owned(), REDACTED.to_owned())
                } else {
                    (k.into_owned(), v.into_owned())
                }
            })
            .collect();
        if changed {
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    if !changed {
        return raw.to_owned();
    }
    // The serializer percent-encodes `<` and `>`; show the marker as it is.
    parsed.to_string().replace("%3Credacted%3E", REDACTED)
}

fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMETERS.contains(&name.as_str())
        || name.ends_with("_token")
        || name.ends_with("_key")
        || name.ends_with("secret")
}

/// The secrets of a configuration, to scrub from any text from outside before it is
/// shown. `Debug` never shows them.
#[cfg_attr(
    not(any(feature = "otlp-http", feature = "otlp-grpc")),
    allow(dead_code)
)]
#[derive(Clone, Default)]
pub(crate) struct Secrets {
    /// Longest first, so that a value is replaced before a token within it.
    values: Vec<String>,
}

#[cfg_attr(
    not(any(feature = "otlp-http", feature = "otlp-grpc")),
    allow(dead_code)
)]
impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} redacted)", self.values.len())
    }
}

/// Secrets shorter than this are not scrubbed (they would match ordinary text).
#[cfg_attr(
    not(any(feature = "otlp-http", feature = "otlp-grpc")),
    allow(dead_code)
)]
const MIN_SECRET_LEN: usize = 4;

#[cfg_attr(
    not(any(feature = "otlp-http", feature = "otlp-grpc")),
    allow(dead_code)
)]
impl Secrets {
    /// Adds a secret value (a header value, a password): the value, each part of it
    /// split at spaces and punctuation (`Bearer SECRET123` → `SECRET123`), and their
    /// percent-encoded forms.
    pub(crate) fn add(&mut self, value: &str) {
        let parts = value
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '='))
            .filter(|p| p.len() >= MIN_SECRET_LEN && !is_scheme_word(p));
        for secret in std::iter::once(value.trim()).chain(parts) {
            if secret.len() < MIN_SECRET_LEN {
                continue;
            }
            for form in [secret.to_owned(), percent_encode(secret)] {
                if !self.values.contains(&form) {
                    self.values.push(form);
                }
            }
        }
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Adds the credentials of a URL: its password, user name and secret parameters.
    pub(crate) fn add_url(&mut self, raw: &str) {
        let Ok(parsed) = url::Url::parse(raw) else {
            return;
        };
        if let Some(password) = parsed.password() {
            self.add(password);
            self.add(&percent_decode(password));
        }
        if !parsed.username().is_empty() {
            self.add(parsed.username());
        }
        for (k, v) in parsed.query_pairs() {
            if is_secret_parameter(&k) {
                self.add(&v);
            }
        }
    }

    /// `text` with every secret replaced by `<redacted>`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.values {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), REDACTED);
            }
        }
        text
    }
}

/// Authentication scheme names, which are not secret on their own.
#[cfg_attr(
    not(any(feature = "otlp-http", feature = "otlp-grpc")),
    allow(dead_code)
)]
fn is_scheme_word(part: &str) -> bool {
    matches!(
        part.to_ascii_lowercase().as_str(),
        "bearer" | "basic" | "token" | "digest" | "negotiate" | "apikey"
    )
}

#[cfg_attr(
    not(any(feature = "otlp-http", feature = "otlp-grpc")),
    allow(dead_code)
)]
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg_attr(
    not(any(feature = "otlp-http", feature = "otlp-grpc")),
    allow(dead_code)
)]
fn percent_decode(s: &str) -> String {
    super::otlp::percent_decode(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            url("https://user:p%40ss@collector:4318/v1/traces"),
            "https://<redacted>:<redacted>@collector:4318/v1/traces"
        );
        assert_eq!(
            url("http://h:4318/v1/traces?api_key=SECRET&tenant=a&x_token=T0K3N"),
            "http://h:4318/v1/traces?api_key=<redacted>&tenant=a&x_token=<redacted>"
        );
        assert_eq!(url("http://h:4318/v1/traces"), "http://h:4318/v1/traces");
        assert_eq!(url("collector:4317"), "collector:4317");
        assert_eq!(url("not a url"), "not a url");
    }

    #[test]
    fn every_part_of_a_secret_is_scrubbed() {
        let mut secrets = Secrets::default();
        secrets.add("Bearer SECRET123");
        secrets.add("k=v2+x/y");
        secrets.add("ab");
        assert_eq!(
            secrets.scrub("refused Bearer SECRET123; bad token SECRET123"),
            "refused <redacted>; bad token <redacted>"
        );
        assert_eq!(secrets.scrub("echo v2%2Bx%2Fy"), "echo <redacted>");
        assert_eq!(secrets.scrub("a Bearer token"), "a Bearer token");
        assert_eq!(secrets.scrub("ab stays"), "ab stays");
        assert!(!format!("{secrets:?}").contains("SECRET"));
    }

    #[test]
    fn url_credentials_are_secrets() {
        let mut secrets = Secrets::default();
        secrets.add_url("https://alice:s3cr%3At@h/x?api_key=KEY123");
        let text = secrets.scrub("auth failed for alice with s3cr:t, s3cr%3At and KEY123");
        assert_eq!(
            text,
            "auth failed for <redacted> with <redacted>, <redacted> and <redacted>"
        );
    }
}
