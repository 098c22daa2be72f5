//! Plumbing shared by the DEX source clients: raw capture of responses (errors included), fetch errors
//! as poll errors, a bounded insertion-ordered "seen" set for durable state, and the rule that picks the
//! non-quote side of an aggregator pool.

use std::collections::{HashSet, VecDeque};

use nl_domain::RawEvent;
use crate::kit::{FailedAttempt, FetchError, Fetched};
use serde::{Deserialize, Serialize};

use super::evm::QuoteSet;
use super::pool::DexPool;
use crate::source::PollError;

/// Solana quote mints: wrapped SOL, and the USDC / USDT mints of the reference's `USDT / USDC` pool (§3.1).
pub const SOLANA_QUOTES: &[&str] =
    &["So11111111111111111111111111111111111111112", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"];

/// The raw capture of one response. `endpoint_suffix` (e.g. `#eth_getLogs(0x1..0x7d0)`) is appended to the
/// redacted URL so JSON-RPC methods sharing one URL stay distinguishable in `raw_events`.
#[must_use]
pub fn raw_from(f: &Fetched, source: &str, run_id: &str, endpoint_suffix: &str) -> RawEvent {
    let endpoint = format!("{}{endpoint_suffix}", f.url);
    RawEvent::new(source, &endpoint, Some(f.status), f.observed_at, f.body.clone(), run_id)
}

/// Default `lookback_minutes` of a feed of new things (GeckoTerminal `new_pools`, DexScreener lists).
pub const DEFAULT_LOOKBACK_MINUTES: u64 = 10;

/// The lookback window of `minutes` (saturating for absurd values).
#[must_use]
pub fn lookback(minutes: u64) -> chrono::Duration {
    chrono::Duration::try_minutes(i64::try_from(minutes).unwrap_or(i64::MAX)).unwrap_or(chrono::Duration::MAX)
}

/// Whether an item first met on a feed's very first poll is new: its own creation or publication time is
/// within `lookback` of `now`. Older or undated items are recorded as known and never reported; after the
/// first poll every unknown item is new, whatever its age (downtime backfill).
#[must_use]
pub fn new_on_first_poll(published: Option<nl_domain::Ts>, now: nl_domain::Ts, lookback: chrono::Duration) -> bool {
    published.is_some_and(|p| now.signed_duration_since(p) <= lookback)
}

/// A fetch failure as a poll error (429/418 become `RateLimited` so the runtime delays the next poll).
#[must_use]
pub fn poll_error(source: &str, e: &FetchError) -> PollError {
    match e {
        FetchError::RateLimited { retry_after, .. } => PollError::RateLimited { source_name: source.to_string(), retry_after: *retry_after },
        other => PollError::Fetch { source_name: source.to_string(), message: other.to_string(), transient: other.is_retryable() },
    }
}

/// Keeps the failed attempts the HTTP client retried before a response or failure (5xx responses,
/// timeouts, connect errors) as raw events, each carrying its error.
pub fn keep_retried(raws: &mut Vec<RawEvent>, retried: &[FailedAttempt], source: &str, run_id: &str, endpoint_suffix: &str) {
    raws.extend(retried.iter().map(|a| a.to_raw_event_at(source, &format!("{}{endpoint_suffix}", a.url), run_id)));
}

/// Keeps the attempts retried before a failed fetch and the response behind it (if any) as raw events
/// carrying their errors.
pub fn keep_error_response(raws: &mut Vec<RawEvent>, e: &FetchError, source: &str, run_id: &str, endpoint_suffix: &str) {
    keep_retried(raws, e.retried(), source, run_id, endpoint_suffix);
    keep_final_response(raws, e, source, run_id, endpoint_suffix);
}

/// Keeps only the last response behind a failed fetch (if any), not the retried attempts: for lookups a
/// re-derivation answers from captures in request order (one capture per request).
pub fn keep_final_response(raws: &mut Vec<RawEvent>, e: &FetchError, source: &str, run_id: &str, endpoint_suffix: &str) {
    if let Some(resp) = e.response() {
        let mut raw = raw_from(resp, source, run_id, endpoint_suffix);
        raw.parse_error = Some(e.to_string());
        raws.push(raw);
    }
}

/// An insertion-ordered set that forgets its oldest entries beyond `cap`. Serialized as a plain list
/// (oldest first) so it can live in a source's durable state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct BoundedSeen {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl From<Vec<String>> for BoundedSeen {
    fn from(v: Vec<String>) -> Self {
        let mut s = Self::default();
        for k in v {
            s.insert(k, usize::MAX);
        }
        s
    }
}

impl From<BoundedSeen> for Vec<String> {
    fn from(s: BoundedSeen) -> Self {
        s.order.into_iter().collect()
    }
}

impl BoundedSeen {
    /// True when `key` is remembered.
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.set.contains(key)
    }

    /// Remembers `key`; returns false when it was already known. Evicts the oldest beyond `cap`.
    pub fn insert(&mut self, key: String, cap: usize) -> bool {
        if self.set.contains(&key) {
            return false;
        }
        self.set.insert(key.clone());
        self.order.push_back(key);
        while self.order.len() > cap.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    /// Number of remembered keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// True when `address` is a quote token on `chain`: the EVM [`QuoteSet`] (case-insensitive) or, on
/// Solana, one of [`SOLANA_QUOTES`] (case-sensitive base58).
#[must_use]
pub fn is_quote(quotes: &QuoteSet, chain: &str, address: &str) -> bool {
    if chain == "solana" {
        return SOLANA_QUOTES.contains(&address);
    }
    address.starts_with("0x") && quotes.is_quote(chain, address)
}

/// The pool as seen from its non-quote side, or `None` when both sides are quotes (a stable/WETH pool
/// tells nothing about new listings). When only the aggregator's *base* is a quote the sides are swapped;
/// base-token market values (price, FDV, market cap) then no longer apply and are cleared, pool-level
/// values (liquidity, volume, tx counts) are kept.
#[must_use]
pub fn non_quote_view(pool: &DexPool, quotes: &QuoteSet) -> Option<DexPool> {
    let base_q = is_quote(quotes, &pool.chain, &pool.base_token.address);
    let quote_q = is_quote(quotes, &pool.chain, &pool.quote_token.address);
    match (base_q, quote_q) {
        (true, true) => None,
        (true, false) => {
            let mut p = pool.clone();
            std::mem::swap(&mut p.base_token, &mut p.quote_token);
            p.price_usd = None;
            p.price_native = None;
            p.fdv_usd = None;
            p.market_cap_usd = None;
            p.price_change_24h_pct = None;
            Some(p)
        }
        _ => Some(pool.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_seen_evicts_oldest_and_round_trips() {
        let mut s = BoundedSeen::default();
        assert!(s.insert("a".into(), 2));
        assert!(!s.insert("a".into(), 2));
        assert!(s.insert("b".into(), 2));
        assert!(s.insert("c".into(), 2));
        assert!(!s.contains("a"));
        assert_eq!(s.len(), 2);
        let json = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(json, serde_json::json!(["b", "c"]));
        let back: BoundedSeen = serde_json::from_value(json).unwrap_or_default();
        assert!(back.contains("b") && back.contains("c"));
    }

    #[test]
    fn solana_quotes_are_case_sensitive_and_evm_is_not() {
        let q = QuoteSet::defaults();
        assert!(is_quote(&q, "solana", "So11111111111111111111111111111111111111112"));
        assert!(!is_quote(&q, "solana", "so11111111111111111111111111111111111111112"));
        assert!(is_quote(&q, "eth", "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"));
    }
}
