//! CEX listings' market values from the listing venue's public single-pair ticker.
//!
//! A spot instrument observation names the pair ([`TickerRef`]: venue, instrument id, quote); the
//! [`TickerClient`] asks that venue's ticker endpoint (collector descriptors, one [`HttpSource`] and budget
//! per venue) and keeps every response, or the failure to get one, as a raw capture (source
//! `<venue>_ticker`). In a re-derivation the same requests are answered from those captures.
//!
//! Only a USD-stablecoin quote (USDT, USDC, USD) gives a USD price and volume; any other quote leaves both
//! NULL (no conversion). FDV, liquidity and holders are never known for a CEX pair.

use std::collections::BTreeMap;
use std::sync::Arc;

use nl_adapters::cex::{Ticker, TickerDescriptor, ticker_descriptor};
use nl_adapters::dex::config::per_minute_budget;
use nl_adapters::kit::recorded::fetch_captured;
use nl_adapters::kit::{HttpConfig, HttpSource, RecordedResponses};
use nl_domain::{ListingObservation, ObservationKind, RawEvent, Snapshot, Ts};
use serde::{Deserialize, Serialize};

use crate::config::CexTickersConfig;
use crate::error::EnricherError;

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

/// Sets `s`'s price and 24 h volume from `ticker` when the pair is USD-quoted (else they stay NULL), and
/// points the snapshot at the ticker's capture.
pub fn apply_ticker(s: &mut Snapshot, pair: &TickerRef, ticker: &Ticker, raw_event_id: Option<String>) {
    if pair.usd_quoted() {
        s.price_usd = ticker.last;
        s.volume_24h_usd = ticker.quote_volume_24h;
    }
    if raw_event_id.is_some() {
        s.raw_event_id = raw_event_id;
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
    /// [`EnricherError::Config`] for a bad base URL or budget, naming the venue.
    pub fn new(cfg: &CexTickersConfig, base_urls: &BTreeMap<String, String>, run_id: &str) -> Result<Self, EnricherError> {
        let mut venues = BTreeMap::new();
        for (venue, url) in base_urls {
            let Some(desc) = ticker_descriptor(venue) else { continue };
            let bad = |e: String| EnricherError::Config(format!("enricher.cex_tickers ({venue}): {e}"));
            let budget = per_minute_budget(cfg.calls_per_min).map_err(|e| bad(e.to_string()))?;
            let mut http_cfg = HttpConfig::new(url.clone());
            http_cfg.timeout_ms = cfg.timeout_ms;
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
    use std::str::FromStr;

    use chrono::TimeZone;
    use nl_domain::{AssetId, ChangeKind, Decimal};

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
    fn only_usd_quotes_give_usd_values() {
        let t = Ticker { instrument_id: None, last: Decimal::from_str("0.4187").ok(), quote_volume_24h: Decimal::from_str("5841232.918347").ok() };
        let o = obs(ObservationKind::CexInstrument, "okx", "NEWT-USDT", Some("USDT"));
        let blank = || Snapshot {
            asset_id: o.asset_id.clone(),
            observed_at: o.emitted_at,
            source: "enricher_cex".into(),
            price_usd: None,
            fdv_usd: None,
            market_cap_usd: None,
            liquidity_usd: None,
            volume_24h_usd: None,
            holders: None,
            age_minutes: None,
            raw_event_id: Some("obs-raw".into()),
        };
        let mut usd = blank();
        apply_ticker(&mut usd, &TickerRef::of(&o).expect("pair"), &t, Some("ticker-raw".into()));
        assert_eq!((usd.price_usd, usd.volume_24h_usd), (t.last, t.quote_volume_24h));
        assert_eq!(usd.raw_event_id.as_deref(), Some("ticker-raw"));
        let btc = TickerRef { quote: "BTC".into(), ..TickerRef::of(&o).expect("pair") };
        let mut not_usd = blank();
        apply_ticker(&mut not_usd, &btc, &t, None);
        assert_eq!((not_usd.price_usd, not_usd.volume_24h_usd), (None, None), "a BTC price is not converted");
        assert_eq!(not_usd.raw_event_id.as_deref(), Some("obs-raw"));
    }
}
