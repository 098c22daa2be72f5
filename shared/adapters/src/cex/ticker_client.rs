//! Single-pair ticker lookups of CEX listings: a spot instrument observation names the pair ([`TickerRef`]:
//! venue, instrument id, quote); the [`TickerClient`] asks that venue's ticker endpoint ([`TickerDescriptor`]s,
//! one [`HttpSource`] and budget per venue) and keeps every response, or the failure to get one, as a raw
//! capture (source `<venue>_ticker`). In a re-derivation the same requests are answered from those captures.
//!
//! [`CexTickersConfig`] is the `[enricher.cex_tickers]` table: which venues are looked up, where, and on
//! what budget.

use std::collections::BTreeMap;
use std::sync::Arc;

use nl_domain::{ListingObservation, ObservationKind, RawEvent, Ts};
use serde::{Deserialize, Serialize};

use crate::cex::ticker::TICKER_VENUES;
use crate::cex::{Ticker, TickerDescriptor, ticker_descriptor};
use crate::dex::config::per_minute_budget;
use crate::kit::recorded::fetch_captured;
use crate::kit::{HttpConfig, HttpSource, RecordedResponses};

/// Ticker lookups of CEX listings (OKX, Gate, KuCoin, Bybit): last price and 24 h quote volume of the
/// listed pair, on each venue's public single-ticker endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CexTickersConfig {
    /// Look tickers up at all. Default true.
    pub enabled: bool,
    /// Budget per venue (a bucket of its own in the enricher). Default 60.
    pub calls_per_min: f64,
    /// Per-request timeout. Default 10 000.
    pub timeout_ms: u64,
    /// Venue → REST base URL. A venue not named here uses the `base_url` of its enabled instrument-list
    /// source in `[sources]` (so a mock or simulator set there serves the tickers too); a venue with neither
    /// is not looked up. Default empty.
    pub base_urls: BTreeMap<String, String>,
    /// Largest response body kept (one ticker is a few hundred bytes); a longer one is stored as its
    /// prefix with size and SHA-256 and the lookup fails. Default 8 MiB.
    pub max_body_bytes: u64,
}

impl Default for CexTickersConfig {
    fn default() -> Self {
        Self { enabled: true, calls_per_min: 60.0, timeout_ms: 10_000, base_urls: BTreeMap::new(), max_body_bytes: crate::kit::PAGE_MAX_BODY_BYTES }
    }
}

impl CexTickersConfig {
    /// The base URL of every ticker venue that has one: `base_urls`, else `venue_urls` (the venues'
    /// instrument-list base URLs from `[sources]`).
    #[must_use]
    pub fn resolve_base_urls(&self, venue_urls: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        TICKER_VENUES.iter().filter_map(|v| self.base_urls.get(*v).or_else(|| venue_urls.get(*v)).map(|u| ((*v).to_string(), u.clone()))).collect()
    }
}

/// A venue's ticker client could not be built (bad base URL or budget).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{venue}: {reason}")]
pub struct TickerBuildError {
    pub venue: String,
    pub reason: String,
}

/// Quotes whose price is a USD price.
pub const USD_QUOTES: [&str; 3] = ["USDT", "USDC", "USD"];

/// The listed pair whose ticker gives a CEX asset's market values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickerRef {
    pub venue: String,
    /// The venue's instrument id (`NEW-USDT`, `NEW_USDT`, `NEWUSDT`).
    pub instrument_id: String,
    pub quote: String,
}

impl TickerRef {
    /// The pair of a spot instrument observation on a venue with a ticker lookup; `None` for announcements,
    /// contracts, other venues, a missing quote or an id the venue path cannot carry.
    #[must_use]
    pub fn of(obs: &ListingObservation) -> Option<Self> {
        if obs.kind != ObservationKind::CexInstrument {
            return None;
        }
        let quote = obs.quote.as_deref().map(str::trim).filter(|q| !q.is_empty())?;
        ticker_descriptor(&obs.venue)?.path(&obs.instrument_id)?;
        Some(Self { venue: obs.venue.clone(), instrument_id: obs.instrument_id.clone(), quote: quote.to_string() })
    }

    /// Whether the quote is a USD stablecoin (or USD).
    #[must_use]
    pub fn usd_quoted(&self) -> bool {
        USD_QUOTES.iter().any(|q| q.eq_ignore_ascii_case(&self.quote))
    }
}

/// What one ticker lookup produced.
#[derive(Debug, Clone)]
pub struct TickerFetch {
    /// The capture (with `parse_error` when it gave no ticker); `None` only when a re-derivation had no
    /// recorded answer.
    pub raw: Option<RawEvent>,
    /// The parsed ticker, or why there is none.
    pub ticker: Result<Ticker, String>,
}

/// Where a looked-up venue's tickers come from.
struct Venue {
    desc: TickerDescriptor,
    http: HttpSource,
}

/// Ticker lookups on every venue with a base URL.
pub struct TickerClient {
    venues: BTreeMap<String, Venue>,
    run_id: String,
    recorded: Option<Arc<dyn RecordedResponses>>,
}

impl std::fmt::Debug for TickerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickerClient").field("venues", &self.venues.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

impl TickerClient {
    /// One HTTP client and budget per venue of `base_urls` (venue → base URL, see
    /// [`CexTickersConfig::resolve_base_urls`]).
    ///
    /// # Errors
    /// [`TickerBuildError`] for a bad base URL or budget, naming the venue.
    pub fn new(cfg: &CexTickersConfig, base_urls: &BTreeMap<String, String>, run_id: &str) -> Result<Self, TickerBuildError> {
        let mut venues = BTreeMap::new();
        for (venue, url) in base_urls {
            let Some(desc) = ticker_descriptor(venue) else { continue };
            let bad = |reason: String| TickerBuildError { venue: venue.clone(), reason };
            let budget = per_minute_budget(cfg.calls_per_min).map_err(|e| bad(e.to_string()))?;
            let mut http_cfg = HttpConfig::new(url.clone());
            http_cfg.timeout_ms = cfg.timeout_ms;
            http_cfg.max_body_bytes = crate::kit::check_max_body_bytes(cfg.max_body_bytes).map_err(bad)?;
            let http = HttpSource::new(desc.source_name(), http_cfg, budget).map_err(|e| bad(format!("base URL {url:?}: {e}")))?;
            venues.insert(venue.clone(), Venue { desc, http });
        }
        Ok(Self { venues, run_id: run_id.to_string(), recorded: None })
    }

    /// Answers every lookup from `recorded` (keyed by `<venue>_ticker` and request path) instead of the
    /// network: re-derivation from raw_events.
    #[must_use]
    pub fn with_recorded(mut self, recorded: Arc<dyn RecordedResponses>) -> Self {
        self.recorded = Some(recorded);
        self
    }

    /// Whether `venue` is looked up.
    #[must_use]
    pub fn covers(&self, venue: &str) -> bool {
        self.venues.contains_key(venue)
    }

    /// Looks up `pair`'s ticker; the response is stamped `received_at`. `None` when the venue is not looked up.
    pub async fn fetch(&self, pair: &TickerRef, received_at: Ts) -> Option<TickerFetch> {
        let v = self.venues.get(&pair.venue)?;
        let path = v.desc.path(&pair.instrument_id)?;
        let got = fetch_captured(&v.http, self.recorded.as_deref(), &v.desc.source_name(), &path, v.desc.weight, received_at, &self.run_id).await;
        let mut raw = got.raw;
        let ticker = got.response.and_then(|f| (v.desc.parse)(&f.body).map_err(|e| e.to_string()));
        if let (Err(why), Some(r)) = (&ticker, raw.as_mut()) {
            r.parse_error = Some(why.clone());
        }
        Some(TickerFetch { raw, ticker })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use nl_domain::{AssetId, ChangeKind};

    use super::*;

    fn obs(kind: ObservationKind, venue: &str, id: &str, quote: Option<&str>) -> ListingObservation {
        let t = chrono::Utc.with_ymd_and_hms(2026, 10, 10, 0, 0, 0).single().expect("ts");
        ListingObservation {
            source: format!("{venue}_spot"),
            venue: venue.into(),
            kind,
            change: ChangeKind::New,
            asset_id: AssetId::cex(venue, "NEWT").expect("id"),
            symbol: "NEWT".into(),
            name: None,
            base: Some("NEWT".into()),
            quote: quote.map(str::to_string),
            instrument_id: id.into(),
            status: None,
            source_published_at: None,
            scheduled_at: None,
            first_observed_at: t,
            emitted_at: t,
            raw_event_id: Some("obs-raw".into()),
            details: serde_json::Value::Null,
        }
    }

    #[test]
    fn only_spot_instruments_of_ticker_venues_have_a_pair() {
        let p = TickerRef::of(&obs(ObservationKind::CexInstrument, "okx", "NEWT-USDT", Some("USDT"))).expect("pair");
        assert_eq!((p.venue.as_str(), p.instrument_id.as_str(), p.usd_quoted()), ("okx", "NEWT-USDT", true));
        assert!(TickerRef::of(&obs(ObservationKind::CexAnnouncement, "okx", "ann:NEWT", Some("USDT"))).is_none());
        assert!(TickerRef::of(&obs(ObservationKind::CexInstrument, "kraken", "NEWTUSD", Some("USD"))).is_none());
        assert!(TickerRef::of(&obs(ObservationKind::CexInstrument, "gate", "NEWT_USDT", None)).is_none());
        assert!(TickerRef::of(&obs(ObservationKind::CexInstrument, "gate", "NEWT USDT", Some("USDT"))).is_none());
    }

    #[test]
    fn ticker_base_urls_prefer_the_override_then_the_sources() {
        let mut t = CexTickersConfig::default();
        t.base_urls.insert("gate".into(), "http://override".into());
        let from_sources = BTreeMap::from([
            ("gate".to_string(), "http://src-gate".to_string()),
            ("okx".to_string(), "http://src-okx".to_string()),
            ("binance".to_string(), "http://b".to_string()),
        ]);
        let got = t.resolve_base_urls(&from_sources);
        assert_eq!(got.get("gate").map(String::as_str), Some("http://override"));
        assert_eq!(got.get("okx").map(String::as_str), Some("http://src-okx"));
        assert!(!got.contains_key("binance") && !got.contains_key("kucoin"), "no ticker lookup, or no URL: not looked up");
    }
}
