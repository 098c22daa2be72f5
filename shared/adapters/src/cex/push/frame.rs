//! Pure handling of one pushed text frame: keep it raw, parse it, diff it against the feed's state and turn
//! the differences into observations. The state types are the poll sources' own
//! ([`InstrumentListState`], [`AnnouncementState`]), so a push feed and its REST gap-fill poll share one
//! state key.

use nl_domain::{ChangeKind, ListingObservation, RawEvent, Ts};
use tracing::warn;

use crate::cex::poll::{AnnouncementState, InstrumentListState};
use crate::cex::types::WsFrame;
use crate::cex::{AnnouncementPolicy, announcement_observations, diff, diff_partial, diff_unbaselined, select_new_announcements, to_observation};

use super::kind::PushKind;

/// What a push feed remembers: `None` inside means "no baseline yet".
#[derive(Debug, Clone, PartialEq)]
pub enum FeedState {
    Instruments(Option<InstrumentListState>),
    Announcements(Option<AnnouncementState>),
}

impl FeedState {
    /// Decodes stored state for `kind`. Unreadable state is logged and treated as absent (new baseline),
    /// the same rule the poll sources follow.
    #[must_use]
    pub fn decode(kind: PushKind, source: &str, stored: Option<&serde_json::Value>) -> Self {
        fn typed<T: serde::de::DeserializeOwned>(source: &str, v: Option<&serde_json::Value>) -> Option<T> {
            let v = v?;
            serde_json::from_value(v.clone())
                .map_err(|error| warn!(source = %source, %error, "Saved push state unreadable; establishing a new baseline."))
                .ok()
        }
        if kind.is_announcements() { Self::Announcements(typed(source, stored)) } else { Self::Instruments(typed(source, stored)) }
    }

    /// The JSON to store.
    ///
    /// # Errors
    /// `serde_json::Error` if the state cannot be serialized.
    pub fn encode(&self) -> Result<Option<serde_json::Value>, serde_json::Error> {
        match self {
            Self::Instruments(Some(s)) => serde_json::to_value(s).map(Some),
            Self::Announcements(Some(s)) => serde_json::to_value(s).map(Some),
            Self::Instruments(None) | Self::Announcements(None) => Ok(None),
        }
    }
}

/// The result of one frame.
#[derive(Debug, Default)]
pub struct Processed {
    /// The frame verbatim (with its parse error, if any); `None` for keepalive replies.
    pub raw: Option<RawEvent>,
    pub observations: Vec<ListingObservation>,
    /// Delisting announcements (never listings).
    pub delistings: Vec<nl_domain::AssetDelisted>,
    /// The state after this frame, when it changed.
    pub next: Option<FeedState>,
    /// The parse error, if the frame did not parse.
    pub parse_error: Option<String>,
    /// A venue-reported error frame (logged and counted by the caller).
    pub venue_error: Option<String>,
}

/// Everything needed to turn a frame into events.
#[derive(Debug, Clone)]
pub struct FrameContext<'a> {
    pub source: &'a str,
    pub kind: PushKind,
    /// The endpoint recorded in raws (the configured WS URL; it never holds secrets).
    pub endpoint: &'a str,
    pub run_id: &'a str,
    pub policy: &'a AnnouncementPolicy,
}

/// Handles one text frame received at `received_at` against `state`.
#[must_use]
pub fn process_text(cx: &FrameContext<'_>, text: &str, received_at: Ts, state: &FeedState) -> Processed {
    let mut raw = RawEvent::new(cx.source, cx.endpoint, None, received_at, text.to_string(), cx.run_id);
    let frame = match cx.kind.parse(text) {
        Ok(f) => f,
        Err(e) => {
            let message = e.to_string();
            raw.parse_error = Some(message.clone());
            return Processed { raw: Some(raw), parse_error: Some(message), ..Processed::default() };
        }
    };
    let raw_id = raw.raw_id.clone();
    let mut out = Processed { raw: Some(raw), ..Processed::default() };
    match (frame, state) {
        // Keepalive replies carry nothing worth keeping.
        (WsFrame::Pong, _) => out.raw = None,
        (WsFrame::Ack { .. } | WsFrame::Ignored, _) => {}
        (WsFrame::Error { code, msg }, _) => out.venue_error = Some(format!("{}: {msg}", code.unwrap_or_default())),
        (WsFrame::Instruments { instruments, complete }, FeedState::Instruments(known)) => {
            // No complete list seen yet (no state, or one built from deltas only): a complete frame is the
            // baseline; a delta reports only instruments whose own listing time is recent.
            let pushed_only = known.as_ref().is_none_or(|k| k.partial);
            let known_set = known.as_ref().map(|k| &k.known);
            let d = match (complete, pushed_only) {
                (true, false) => diff(known_set, &instruments, received_at),
                (true, true) => {
                    let mut d = diff(None, &instruments, received_at);
                    if let Some(k) = known_set {
                        d.next.absorb(k);
                    }
                    d
                }
                (false, false) => diff_partial(known_set, &instruments, received_at),
                (false, true) => diff_unbaselined(known_set, &instruments, received_at, cx.policy.baseline_lookback),
            };
            let partial = !complete && pushed_only;
            let emitted_at = chrono::Utc::now();
            let changes = d.new.iter().map(|i| (i, ChangeKind::New, received_at)).chain(d.updated.iter().map(|(i, _)| {
                let first = d.next.entries.get(&i.instrument_id).map_or(received_at, |e| e.first_seen);
                (i, ChangeKind::Updated, first)
            }));
            for (inst, change, first_seen) in changes {
                match to_observation(inst, change, cx.source, first_seen, emitted_at, Some(raw_id.clone())) {
                    Ok(o) => out.observations.push(o),
                    Err(error) => warn!(source = %cx.source, instrument = %inst.instrument_id, %error, "Instrument skipped: no valid asset id."),
                }
            }
            if known.as_ref().map(|k| (&k.known, k.partial)) != Some((&d.next, partial)) {
                out.next = Some(FeedState::Instruments(Some(InstrumentListState { known: d.next, partial })));
            }
        }
        (WsFrame::Announcement(ann), FeedState::Announcements(seen)) => {
            let sel = select_new_announcements(seen.as_ref().map(|s| &s.seen), std::slice::from_ref(&ann), received_at, cx.policy);
            let emitted_at = chrono::Utc::now();
            for a in &sel.new {
                if a.action == crate::cex::types::AnnouncementAction::Delisting {
                    out.delistings.extend(crate::cex::poll::announcement_delistings(a, cx.source, received_at, &raw_id));
                } else {
                    out.observations.extend(announcement_observations(a, cx.source, received_at, emitted_at, Some(&raw_id)));
                }
            }
            if seen.as_ref().map(|s| &s.seen) != Some(&sel.next) {
                out.next = Some(FeedState::Announcements(Some(AnnouncementState { seen: sel.next })));
            }
        }
        // A frame of the other family (cannot happen with the kind's own parser); kept raw, otherwise ignored.
        (WsFrame::Instruments { .. } | WsFrame::Announcement(_), _) => {}
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> Ts {
        chrono::Utc.timestamp_opt(1_790_000_000 + s, 0).single().unwrap()
    }

    fn cx(kind: PushKind) -> FrameContext<'static> {
        static POLICY: std::sync::LazyLock<AnnouncementPolicy> = std::sync::LazyLock::new(AnnouncementPolicy::default);
        FrameContext { source: "feed", kind, endpoint: "wss://example/ws", run_id: "run", policy: &POLICY }
    }

    const OKX_BASE: &str = r#"{"arg":{"channel":"instruments","instType":"SPOT"},"data":[{"instId":"BTC-USDT","instType":"SPOT","baseCcy":"BTC","quoteCcy":"USDT","state":"live","listTime":"1700000000000"}]}"#;
    const OKX_NEW: &str = r#"{"arg":{"channel":"instruments","instType":"SPOT"},"data":[{"instId":"NEW-USDT","instType":"SPOT","baseCcy":"","quoteCcy":"","state":"preopen","listTime":"1790003600000"}]}"#;

    #[test]
    fn okx_delta_after_baseline_reports_once() {
        let s0 = FeedState::decode(PushKind::OkxInstruments, "feed", None);
        let p = process_text(&cx(PushKind::OkxInstruments), OKX_BASE, t(0), &s0);
        assert!(p.observations.is_empty() && p.raw.is_some());
        let s1 = p.next.unwrap();
        let p = process_text(&cx(PushKind::OkxInstruments), OKX_NEW, t(1), &s1);
        assert_eq!(p.observations.len(), 1);
        let o = &p.observations[0];
        assert_eq!((o.asset_id.to_string().as_str(), o.status.as_deref()), ("cex:okx:NEW", Some("pre_trading")));
        assert_eq!(o.raw_event_id.as_deref(), Some(p.raw.as_ref().unwrap().raw_id.as_str()));
        let s2 = p.next.unwrap();
        let again = process_text(&cx(PushKind::OkxInstruments), OKX_NEW, t(2), &s2);
        assert!(again.observations.is_empty() && again.next.is_none());
        // Stored form is the poll source's own state, so a REST poll continues from it.
        let v = s2.encode().unwrap().unwrap();
        assert!(v["known"]["entries"]["NEW-USDT"].is_object());
    }

    const CONTRACT_INFO: &str = include_str!("../binance/test_data/ws_contract_info.json");

    /// The recorded `!contractInfo` frame (IOTAUSDT, onboarded 2019) with `symbol`, status `cs` and onboard
    /// time `ot` (ms) replaced.
    fn contract(symbol: &str, cs: &str, ot_ms: i64) -> String {
        let mut v: serde_json::Value = serde_json::from_str(CONTRACT_INFO).unwrap();
        (v["s"], v["ps"], v["cs"], v["ot"]) = (symbol.into(), symbol.into(), cs.into(), ot_ms.into());
        v.to_string()
    }

    #[test]
    fn a_delta_only_feed_never_discovers_an_instrument_listed_before_it_watched() {
        let k = PushKind::BinanceContractInfo;
        let s0 = FeedState::decode(k, "feed", None);
        // The recorded frame: an old contract's change is the first frame; not new, recorded as known.
        let p = process_text(&cx(k), CONTRACT_INFO, t(0), &s0);
        assert!(p.observations.is_empty(), "IOTAUSDT was onboarded in 2019");
        let s1 = p.next.unwrap();
        assert!(matches!(&s1, FeedState::Instruments(Some(st)) if st.partial), "still no complete baseline");
        // Another old contract (settlement/status change) in a later delta: still not new.
        let old = process_text(&cx(k), &contract("BTCUSDT", "SETTLING", 1_569_398_400_000), t(60), &s1);
        assert!(old.observations.is_empty(), "{:?}", old.observations);
        let s2 = old.next.unwrap();
        // A contract whose onboard time is ahead (a listing): new, once.
        let onboard = t(3_600).timestamp_millis();
        let new = process_text(&cx(k), &contract("NEWUSDT", "PENDING_TRADING", onboard), t(120), &s2);
        assert_eq!(new.observations.iter().map(|o| o.asset_id.to_string()).collect::<Vec<_>>(), ["cex:binance:NEW"]);
        let s3 = new.next.unwrap();
        let trading = process_text(&cx(k), &contract("NEWUSDT", "TRADING", onboard), t(3_600), &s3);
        assert!(trading.observations.iter().all(|o| o.change == ChangeKind::Updated), "its go-live is an update");
        // The old contract's status flapping back: nothing, it is a known instrument.
        let s4 = trading.next.unwrap();
        let back = process_text(&cx(k), &contract("BTCUSDT", "TRADING", 1_569_398_400_000), t(3_700), &s4);
        assert!(back.observations.is_empty());
    }

    #[test]
    fn a_push_without_its_gap_fill_reports_only_recently_listed_instruments() {
        // OKX pushes its whole SPOT list on subscribe (`complete: false`). With no REST baseline (gap fill
        // off or failed), BTC-USDT (listed 2023) is known; NEW-USDT (listTime ahead) is new.
        let k = PushKind::OkxInstruments;
        let both = r#"{"arg":{"channel":"instruments","instType":"SPOT"},"data":[{"instId":"BTC-USDT","instType":"SPOT","baseCcy":"BTC","quoteCcy":"USDT","state":"live","listTime":"1700000000000"},{"instId":"NEW-USDT","instType":"SPOT","baseCcy":"","quoteCcy":"","state":"preopen","listTime":"1790003600000"}]}"#;
        let p = process_text(&cx(k), both, t(0), &FeedState::decode(k, "feed", None));
        assert_eq!(p.observations.iter().map(|o| o.instrument_id.as_str()).collect::<Vec<_>>(), ["NEW-USDT"]);
        // A REST list after it is the baseline and keeps what the push knew: NEW stays a reported listing.
        let FeedState::Instruments(Some(st)) = p.next.unwrap() else { panic!() };
        let stored = serde_json::to_value(&st).unwrap();
        assert_eq!(stored["partial"], true);
        let st: crate::cex::poll::InstrumentListState = serde_json::from_value(stored).unwrap();
        assert!(!st.known.entries["NEW-USDT"].baseline && st.known.entries["BTC-USDT"].baseline);
    }

    #[test]
    fn pong_is_not_kept_and_garbage_is_kept_with_its_error() {
        let s = FeedState::Instruments(None);
        let p = process_text(&cx(PushKind::OkxInstruments), "pong", t(0), &s);
        assert!(p.raw.is_none() && p.next.is_none());
        let p = process_text(&cx(PushKind::OkxInstruments), r#"{"arg":{"chan"#, t(0), &s);
        assert!(p.parse_error.is_some() && p.raw.unwrap().parse_error.is_some());
        let p = process_text(&cx(PushKind::OkxInstruments), r#"{"event":"error","code":"60012","msg":"Invalid request"}"#, t(0), &s);
        assert!(p.venue_error.unwrap().contains("60012"));
    }

    #[test]
    fn coinbase_status_is_a_complete_snapshot() {
        let snap = |ids: &[&str]| {
            let products: Vec<String> = ids
                .iter()
                .map(|id| {
                    let (b, q) = id.split_once('-').unwrap();
                    format!(r#"{{"id":"{id}","base_currency":"{b}","quote_currency":"{q}","status":"online"}}"#)
                })
                .collect();
            format!(r#"{{"type":"status","products":[{}],"currencies":[]}}"#, products.join(","))
        };
        let k = PushKind::CoinbaseStatus;
        let s1 = process_text(&cx(k), &snap(&["BTC-USD", "ETH-USD"]), t(0), &FeedState::Instruments(None)).next.unwrap();
        let p = process_text(&cx(k), &snap(&["BTC-USD", "ETH-USD", "NEW-USD"]), t(5), &s1);
        assert_eq!(p.observations.len(), 1);
        let p2 = process_text(&cx(k), &snap(&["BTC-USD", "ETH-USD", "NEW-USD"]), t(10), p.next.as_ref().unwrap());
        assert!(p2.observations.is_empty() && p2.next.is_none(), "an unchanged periodic status frame writes no state");
    }

    #[test]
    fn binance_announcement_reported_once() {
        let frame = |title: &str, ms: i64| {
            let inner = serde_json::json!({"catalogId":48,"catalogName":"New Cryptocurrency Listing","publishDate":ms,"title":title}).to_string();
            serde_json::json!({"type":"DATA","topic":"com_announcement_en","data":inner}).to_string()
        };
        let k = PushKind::BinanceAnnouncements;
        let now = t(0);
        let text = frame("Binance Will List Amp (AMP)", now.timestamp_millis());
        let p = process_text(&cx(k), &text, now, &FeedState::decode(k, "feed", None));
        assert_eq!(p.observations.len(), 1);
        assert_eq!(p.observations[0].symbol, "AMP");
        let p2 = process_text(&cx(k), &text, now, p.next.as_ref().unwrap());
        assert!(p2.observations.is_empty());
    }
}
