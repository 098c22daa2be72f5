//! Credentials in free text: URL user info (`nats://user:pass@host`) and credential-looking query
//! parameters (`?apikey=…`, `&token=…`) are replaced by [`REDACTED`] wherever a URL is quoted (config
//! values in a manifest, connection errors, log lines).

/// Placeholder written where a credential was.
pub const REDACTED: &str = "REDACTED";

/// Whether a query parameter name looks like a credential.
#[must_use]
pub fn is_sensitive_param(name: &str) -> bool {
    const WORDS: &[&str] = &["key", "token", "secret", "signature", "password", "passwd", "auth", "credential"];
    let n = name.to_ascii_lowercase();
    n == "sig" || WORDS.iter().any(|w| n.contains(w))
}

/// Ends a URL's authority, a query value or a parameter name inside running text.
fn ends_token(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | ',' | ';' | ')' | ']' | '}' | '|')
}

/// User info of the URL starting at `rest` (just after `://`): its byte length, when there is one.
fn userinfo_len(rest: &str) -> Option<usize> {
    let authority_end = rest.find(|c: char| matches!(c, '/' | '?' | '#') || ends_token(c)).unwrap_or(rest.len());
    rest[..authority_end].rfind('@')
}

/// `text` with URL user info and credential-looking query values replaced by [`REDACTED`].
#[must_use]
pub fn redact_urls(text: &str) -> String {
    if !text.contains("://") && !text.contains('=') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if let Some(after) = rest.strip_prefix("://") {
            out.push_str("://");
            i += 3;
            if let Some(len) = userinfo_len(after).filter(|l| *l > 0) {
                out.push_str(REDACTED);
                i += len;
            }
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        i += c.len_utf8();
        if c == '?' || c == '&' {
            let name_len = text[i..].find(|c: char| c == '=' || c == '&' || c == '#' || ends_token(c)).unwrap_or(text.len() - i);
            let name = &text[i..i + name_len];
            if text[i + name_len..].starts_with('=') && is_sensitive_param(name) {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
                i += name_len + 1;
                i += text[i..].find(|c: char| c == '&' || c == '#' || ends_token(c)).unwrap_or(text.len() - i);
            }
        }
    }
    out
}

/// Splits the user info off a URL: the URL without it, and the decoded-as-written `(user, password)`
/// (`nats://tok@host` gives `("tok", None)`). A URL without user info comes back unchanged with `None`.
#[must_use]
pub fn split_userinfo(url: &str) -> (String, Option<(String, Option<String>)>) {
    let Some(scheme_end) = url.find("://") else { return (url.to_owned(), None) };
    let rest = &url[scheme_end + 3..];
    match userinfo_len(rest) {
        Some(len) => {
            let info = &rest[..len];
            let creds = match info.split_once(':') {
                Some((u, p)) => (u.to_owned(), Some(p.to_owned())),
                None => (info.to_owned(), None),
            };
            (format!("{}{}", &url[..scheme_end + 3], &rest[len + 1..]), Some(creds))
        }
        None => (url.to_owned(), None),
    }
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
