//! Signed connection URLs for the Binance announcement WebSocket.
//!
//! Each connect gets a fresh query `random=…&topic=…&recvWindow=…&timestamp=…` (params joined in that literal
//! order, which is what matched Binance's worked example) plus `signature` = hex HMAC-SHA256 of that query
//! under the API secret. The secret is read from its env variable at every connect and never stored, logged
//! or put in an error message. HMAC is built on the workspace `sha2` (RFC 2104), so no extra crate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::kit::{EnvLookup, UrlFn};

const BLOCK: usize = 64;

/// HMAC-SHA256 of `msg` under `key` (RFC 2104).
#[must_use]
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The query to sign, in the literal order `random,topic,recvWindow,timestamp`.
#[must_use]
pub fn announcement_query(random: &str, topic: &str, recv_window_ms: u64, timestamp_ms: i64) -> String {
    format!("random={random}&topic={topic}&recvWindow={recv_window_ms}&timestamp={timestamp_ms}")
}

/// `base?query&signature=<hex hmac>`.
#[must_use]
pub fn signed_url(base: &str, secret: &str, query: &str) -> String {
    let sig = hex::encode(hmac_sha256(secret.as_bytes(), query.as_bytes()));
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{query}&signature={sig}")
}

/// 32 hex characters, unique per call within the process and unpredictable enough for a request nonce.
fn nonce() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut h = Sha256::new();
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(N.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hex::encode(&h.finalize()[..16])
}

/// A [`UrlFn`] that signs each connection to `topic`, reading the secret from `secret_env` through `env`.
#[must_use]
pub fn announcement_url_fn(topic: String, recv_window_ms: u64, secret_env: String, env: EnvLookup) -> UrlFn {
    Arc::new(move |base: &str| {
        let secret = env(&secret_env).filter(|s| !s.is_empty()).ok_or_else(|| format!("env var `{secret_env}` (API secret) is unset or empty"))?;
        let query = announcement_query(&nonce(), &topic, recv_window_ms, chrono::Utc::now().timestamp_millis());
        Ok(signed_url(base, &secret, &query))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rfc4231_vectors() {
        // Test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex::encode(hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn query_order_and_signature() {
        let q = announcement_query("56724ac693184379ae23ffe5e910063c", "com_announcement_en", 30000, 1_753_244_327_210);
        assert_eq!(q, "random=56724ac693184379ae23ffe5e910063c&topic=com_announcement_en&recvWindow=30000&timestamp=1753244327210");
        let url = signed_url("wss://api.binance.com/sapi/wss", "secret", &q);
        let sig = hex::encode(hmac_sha256(b"secret", q.as_bytes()));
        assert_eq!(url, format!("wss://api.binance.com/sapi/wss?{q}&signature={sig}"));
    }

    #[test]
    fn url_fn_needs_the_secret_and_never_echoes_it() {
        let f = announcement_url_fn("com_announcement_en".into(), 30000, "NL_TEST_SECRET".into(), Arc::new(|_| None));
        let err = f("wss://x/sapi/wss").unwrap_err();
        assert!(err.contains("NL_TEST_SECRET"));
        let f = announcement_url_fn("t".into(), 5000, "S".into(), Arc::new(|k| (k == "S").then(|| "topsecret".to_string())));
        let a = f("wss://x/sapi/wss").unwrap_or_default();
        let b = f("wss://x/sapi/wss").unwrap_or_default();
        assert!(a.starts_with("wss://x/sapi/wss?random=") && a.contains("&topic=t&recvWindow=5000&timestamp=") && a.contains("&signature="));
        assert!(!a.contains("topsecret"));
        assert_ne!(a, b, "fresh nonce per connect");
    }
}
