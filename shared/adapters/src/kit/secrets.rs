//! Secret request parameters whose values come from environment variables, and URL redaction.
//!
//! Config names the *variable* (`value_env`), never the value, matching nl-config's secret
//! hygiene. Resolved values live only inside [`ResolvedSecret`], whose `Debug` is redacted, and
//! every URL leaving the client (raw events, errors, logs) goes through [`redact_url`].

use serde::{Deserialize, Serialize};

/// Placeholder written where a secret was.
pub use nl_domain::redact::REDACTED;

/// Where a secret goes on the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretLocation {
    /// A request header, e.g. `X-MBX-APIKEY` or `x-cg-pro-api-key`.
    Header,
    /// A query parameter, e.g. `apikey`.
    Query,
    /// A `{name}` placeholder in `base_url`, e.g. RPC URLs like `https://host/v2/{key}`.
    Path,
}

/// A secret parameter: `name` at `location`, value read from env var `value_env`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretParam {
    /// Header name, query parameter name, or placeholder name (without braces).
    pub name: String,
    /// Where it goes.
    pub location: SecretLocation,
    /// Environment variable holding the value.
    pub value_env: String,
}

/// A secret with its value; `Debug` never prints the value.
#[derive(Clone)]
pub struct ResolvedSecret {
    pub(crate) name: String,
    pub(crate) location: SecretLocation,
    pub(crate) value: String,
}

impl std::fmt::Debug for ResolvedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedSecret").field("name", &self.name).field("location", &self.location).field("value", &REDACTED).finish()
    }
}

impl ResolvedSecret {
    /// Resolves `param` through `lookup` (normally `std::env::var`); `None` if unset or empty.
    pub(crate) fn resolve(param: &SecretParam, lookup: &dyn Fn(&str) -> Option<String>) -> Option<Self> {
        let value = lookup(&param.value_env).filter(|v| !v.is_empty())?;
        Some(Self { name: param.name.clone(), location: param.location, value })
    }
}

/// Whether a query parameter name looks like a credential even if it is not configured as one.
pub use nl_domain::redact::is_sensitive_param;

/// `url` with credentials removed: user info dropped, secret and credential-looking query values
/// replaced by [`REDACTED`], and every configured secret value replaced wherever it appears.
#[must_use]
pub fn redact_url(url: &reqwest::Url, secrets: &[ResolvedSecret]) -> String {
    let mut u = url.clone();
    // Setting empty user info only fails for URLs that cannot carry it, which then have none.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let secret = secrets.iter().any(|s| s.location == SecretLocation::Query && s.name == k);
                let v = if secret || is_sensitive_param(&k) { REDACTED.to_owned() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let mut out = u.to_string();
    for s in secrets {
        // Also catch values embedded in paths (or percent-encoded forms of simple values).
        if s.value.len() >= 4 {
            out = out.replace(&s.value, REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, location: SecretLocation, value: &str) -> ResolvedSecret {
        ResolvedSecret { name: name.into(), location, value: value.into() }
    }

    #[test]
    fn redacts_configured_and_credential_looking_values() {
        let url = reqwest::Url::parse("https://u:p@host/v2/abcd1234efgh/x?instType=SPOT&apikey=s3cr3tvalue&token=t&page=1").expect("url");
        let secrets = [secret("apikey", SecretLocation::Query, "s3cr3tvalue"), secret("key", SecretLocation::Path, "abcd1234efgh")];
        let out = redact_url(&url, &secrets);
        assert_eq!(out, "https://host/v2/REDACTED/x?instType=SPOT&apikey=REDACTED&token=REDACTED&page=1");
    }

    #[test]
    fn plain_urls_are_unchanged() {
        let url = reqwest::Url::parse("https://api.binance.com/api/v3/exchangeInfo?symbolStatus=TRADING").expect("url");
        assert_eq!(redact_url(&url, &[]), url.as_str());
    }

    #[test]
    fn debug_hides_value() {
        let s = secret("X-MBX-APIKEY", SecretLocation::Header, "supersecret");
        assert!(!format!("{s:?}").contains("supersecret"));
    }

    #[test]
    fn resolve_skips_unset_and_empty() {
        let p = SecretParam { name: "apikey".into(), location: SecretLocation::Query, value_env: "NL_TEST_KEY".into() };
        assert!(ResolvedSecret::resolve(&p, &|_| None).is_none());
        assert!(ResolvedSecret::resolve(&p, &|_| Some(String::new())).is_none());
        assert!(ResolvedSecret::resolve(&p, &|k| (k == "NL_TEST_KEY").then(|| "v".to_owned())).is_some());
    }
}
