//! Recorded provider answers for re-derivation: the risk providers', DexScreener pair lookups' and CEX ticker
//! lookups' responses as kept in raw_events, handed back to the risk-scorer and the enricher in place of the
//! network.
//!
//! * [`index_provider`] ([`nl_adapters::kit::RecordedQueues`]) answers by provider name and request path, first in first out: the n-th request
//!   gets the n-th answer (the risk-scorer's report cache makes the requests per asset the same ones). The
//!   enricher's ticker lookups are answered the same way, keyed by `<venue>_ticker`;
//! * [`RecordedPairs`] answers pair lookups by token, so a lookup batched differently from the original one
//!   (batches follow bus timing) still gets each token's recorded answer; the responses go through the same
//!   parser as a live lookup.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use nl_adapters::dex::dexscreener::client::{DexScreenerClient, DexScreenerFetchError, TokenPairs};
use nl_adapters::dex::dexscreener::PairFetcher;
use nl_adapters::dex::dexscreener::parse::{parse_pairs, tokens_v1_path};
use nl_adapters::kit::{RecordedQueues, recorded};
use nl_domain::RawEvent;

/// Queues `raw` in `providers` under its provider and request path when it is a capture of one of the
/// providers named in `base_urls` (provider → configured base URL); returns whether it was. Captures are
/// indexed in receive order.
pub fn index_provider(providers: &RecordedQueues, raw: &RawEvent, base_urls: &HashMap<String, String>) -> bool {
    let Some(base) = base_urls.get(&raw.source) else { return false };
    providers.push(raw.source.clone(), recorded::request_path(&raw.endpoint, base).to_string(), raw.clone());
    true
}

/// `{chainId}/{token}` keys of a `/tokens/v1/{chainId}/{a,b,…}` request path.
fn token_keys(path: &str) -> Vec<String> {
    let Some(rest) = path.split('?').next().and_then(|p| p.strip_prefix("/tokens/v1/")) else { return Vec::new() };
    let Some((chain_id, list)) = rest.split_once('/') else { return Vec::new() };
    list.split(',').filter(|a| !a.is_empty()).map(|a| format!("{chain_id}/{}", a.to_ascii_lowercase())).collect()
}

/// Recorded DexScreener pair lookups of one run, by token.
#[derive(Debug, Default)]
pub struct RecordedPairs {
    by_token: Mutex<HashMap<String, VecDeque<Arc<RawEvent>>>>,
}

impl RecordedPairs {
    /// Indexes `raw` when it is a `dexscreener_pairs` capture (captures come in receive order); `base_url`
    /// is the configured one.
    pub fn push(&self, raw: &RawEvent, base_url: &str) {
        if raw.source != DexScreenerClient::SOURCE {
            return;
        }
        let keys = token_keys(recorded::request_path(&raw.endpoint, base_url));
        let shared = Arc::new(raw.clone());
        let mut by_token = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        for k in keys {
            by_token.entry(k).or_default().push_back(Arc::clone(&shared));
        }
    }

    /// Token answers not asked for.
    #[must_use]
    pub fn unused(&self) -> usize {
        self.by_token.lock().unwrap_or_else(PoisonError::into_inner).values().map(VecDeque::len).sum()
    }
}

#[async_trait]
impl PairFetcher for RecordedPairs {
    async fn fetch_pairs(&self, chain: &str, addrs: &[String]) -> TokenPairs {
        let mut used: Vec<Arc<RawEvent>> = Vec::new();
        {
            let mut by_token = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
            for a in addrs {
                let Some(key) = token_keys(&tokens_v1_path(chain, std::slice::from_ref(a))).pop() else { continue };
                let Some(queue) = by_token.get_mut(&key) else { continue };
                let raw = queue.pop_front();
                // A drained token's key is dropped: a streamed re-derivation keys new tokens all along.
                if queue.is_empty() {
                    by_token.remove(&key);
                }
                if let Some(raw) = raw
                    && !used.iter().any(|u| u.raw_id == raw.raw_id)
                {
                    used.push(raw);
                }
            }
        }
        let mut out = TokenPairs::default();
        for raw in used {
            match recorded::replay(&raw) {
                Ok(f) => match parse_pairs(&f.body) {
                    Ok(page) => out.pools.extend(page.pools),
                    Err(e) => out.errors.push(DexScreenerFetchError::Parse(e.to_string())),
                },
                Err(e) => out.errors.push(e.into()),
            }
            out.raws.push((*raw).clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::TimeZone;
    use nl_domain::Ts;

    fn at(s: i64) -> Ts {
        chrono::Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    fn raw(source: &str, endpoint: &str, s: i64, body: &str) -> RawEvent {
        RawEvent::new(source, endpoint, Some(200), at(s), body.into(), "r")
    }

    #[test]
    fn providers_are_keyed_by_provider_and_path_under_their_base() {
        use nl_adapters::kit::RecordedResponses;
        let path = "/api/v1/token_security/1?contract_addresses=0xab";
        let raws = vec![raw("goplus", &format!("https://gp.example/x{path}"), 10, "a"), raw("rugcheck", "https://rc.example/v1/tokens/x/report", 20, "b")];
        let bases = HashMap::from([("goplus".to_string(), "https://gp.example/x/".to_string())]);
        let rec = RecordedQueues::default();
        for r in &raws {
            index_provider(&rec, r, &bases);
        }
        assert_eq!(rec.unused(), 1, "only configured providers");
        assert_eq!(rec.take("goplus", path).unwrap().payload, "a");
    }

    #[test]
    fn token_keys_follow_the_request_path() {
        assert_eq!(token_keys("/tokens/v1/ethereum/0xAB,0xcd"), vec!["ethereum/0xab".to_string(), "ethereum/0xcd".to_string()]);
        assert!(token_keys("/token-profiles/latest/v1").is_empty());
        let p = tokens_v1_path("eth", &["0xAB".to_string()]);
        assert_eq!(token_keys(&p).len(), 1);
    }
}
