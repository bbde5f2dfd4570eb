//! Keeping secrets out of what is shown.
//!
//! Every URL that reaches a message, an error, a log line or a `Debug` output goes through
//! [`redact_url`] first: the user information (`https://user:password@host`) and the values
//! of query parameters whose names look like credentials (`?api_key=…`, `&token=…`,
//! `&X-Amz-Signature=…`) are hidden; the rest is kept, so the message still says where.
//! Text from outside (a receiver's error message, an echoed request) is scrubbed of every
//! secret the configuration holds — each header value, and each token within it — by
//! [`Secrets`] (used by the network destinations, so compiled only with one of them).

/// What replaces a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// Query parameter names (lowercased) that carry credentials when they contain one of
/// these.
const CREDENTIAL_PARAMETERS: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "pwd",
    "auth",
    "sig",
    "credential",
    "session",
];

/// `raw` with its user information and credential-like query parameter values replaced by
/// `<redacted>`. Works on anything, parseable or not: a string that is not a URL comes back
/// unchanged unless it has `user@` before its first `/`.
pub(crate) fn redact_url(raw: &str) -> String {
    let (before_fragment, fragment) = match raw.find('#') {
        Some(i) => raw.split_at(i),
        None => (raw, ""),
    };
    let (before_query, query) = match before_fragment.find('?') {
        Some(i) => (&before_fragment[..i], Some(&before_fragment[i + 1..])),
        None => (before_fragment, None),
    };
    let authority_start = before_query.find("://").map_or(0, |i| i + 3);
    let authority_end = before_query[authority_start..]
        .find('/')
        .map_or(before_query.len(), |i| authority_start + i);
    let mut out = String::with_capacity(raw.len());
    match before_query[authority_start..authority_end].rfind('@') {
        Some(at) => {
            out.push_str(&before_query[..authority_start]);
            out.push_str(REDACTED);
            out.push_str(&before_query[authority_start + at..]);
        }
        None => out.push_str(before_query),
    }
    if let Some(query) = query {
        out.push('?');
        let parameters: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_credential(name) => format!("{name}={REDACTED}"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&parameters.join("&"));
    }
    out.push_str(fragment);
    out
}

/// Whether a query parameter of this name carries a credential.
fn is_credential(name: &str) -> bool {
    let name = super::otlp::percent_decode(name).to_ascii_lowercase();
    CREDENTIAL_PARAMETERS.iter().any(|word| name.contains(word))
}

#[cfg(any(
    feature = "otlp-http",
    feature = "otlp-grpc",
    feature = "mlflow-server"
))]
pub(crate) use secrets::Secrets;

/// [`Secrets`] and its helpers: used by the network destinations only.
#[cfg(any(
    feature = "otlp-http",
    feature = "otlp-grpc",
    feature = "mlflow-server"
))]
mod secrets {
    use std::fmt;

    use super::{REDACTED, is_credential};

    /// The secrets of a configuration, to scrub from any text from outside before it is
    /// shown. `Debug` never shows them.
    #[derive(Clone, Default)]
    pub(crate) struct Secrets {
        /// Longest first, so that a value is replaced before a token within it.
        values: Vec<String>,
    }

    impl fmt::Debug for Secrets {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "Secrets({} redacted)", self.values.len())
        }
    }

    /// Secrets shorter than this are not scrubbed (they would match ordinary text).
    const MIN_SECRET_LEN: usize = 4;

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
        #[cfg_attr(
            not(any(feature = "otlp-http", feature = "otlp-grpc")),
            allow(dead_code)
        )]
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
                if is_credential(&k) {
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
    fn is_scheme_word(part: &str) -> bool {
        matches!(
            part.to_ascii_lowercase().as_str(),
            "bearer" | "basic" | "token" | "digest" | "negotiate" | "apikey"
        )
    }

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
        crate::config::otlp::percent_decode(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_is_hidden() {
        assert_eq!(
            redact_url("https://alice:s3cr3t@mlflow.example.com:5000/prefix"),
            "https://<redacted>@mlflow.example.com:5000/prefix"
        );
        assert_eq!(
            redact_url("http://token@host/a@b"),
            "http://<redacted>@host/a@b"
        );
        assert_eq!(redact_url("user:pw@host:5000"), "<redacted>@host:5000");
    }

    #[test]
    fn credential_like_parameters_are_hidden() {
        assert_eq!(
            redact_url("https://h/v1/traces?api_key=abc&region=eu&X-Amz-Signature=f00#frag"),
            "https://h/v1/traces?api_key=<redacted>&region=eu&X-Amz-Signature=<redacted>#frag"
        );
        assert_eq!(
            redact_url("https://h/?Access%5FToken=x&flag"),
            "https://h/?Access%5FToken=<redacted>&flag"
        );
    }

    #[test]
    fn other_text_is_kept() {
        for text in [
            "http://127.0.0.1:5000",
            "sqlite:////tmp/mlflow.db",
            "not a url",
            "",
            "https://h/path?page=2",
        ] {
            assert_eq!(redact_url(text), text);
        }
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
