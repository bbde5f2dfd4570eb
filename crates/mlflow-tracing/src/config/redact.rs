//! URLs fit to show: the secrets a URL may carry are replaced by `<redacted>`.
//!
//! Every URL that reaches a message, an error, a log line or a `Debug` output goes through
//! [`redact_url`] first: the user information (`https://user:password@host`) and the values
//! of query parameters whose names look like credentials (`?api_key=…`, `&token=…`,
//! `&X-Amz-Signature=…`) are hidden; the rest is kept, so the message still says where.

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
}
