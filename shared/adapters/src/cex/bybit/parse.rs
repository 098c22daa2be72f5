//! Maps Bybit wire types to normalized instruments and announcements.

use serde_json::json;

use crate::cex::ticker::{Ticker, ticker_from};
use crate::cex::types::{Announcement, Instrument, InstrumentStatus, Market, ParseError};
use crate::cex::wire::{decode, require_envelope, ms_to_ts, require_usable, venue_error};

use super::models::{BybitAnnouncement, Envelope, SpotInstrument, SpotTicker};

/// Venue slug.
pub const VENUE: &str = "bybit";

fn status(raw: &str) -> InstrumentStatus {
    match raw {
        "Trading" => InstrumentStatus::Trading,
        "PreLaunch" => InstrumentStatus::PreTrading,
        "Delivering" => InstrumentStatus::Halted,
        "Closed" => InstrumentStatus::Closed,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

fn check<T>(env: Envelope<T>, body: &str) -> Result<Vec<T>, ParseError> {
    match env.ret_code.as_deref() {
        Some("0") => require_envelope(VENUE, "list", "result", env.result.map(|r| r.list), body),
        code => Err(venue_error(VENUE, code.unwrap_or("missing"), env.ret_msg.as_deref(), body)),
    }
}

fn instrument(r: SpotInstrument) -> Option<Instrument> {
    let raw_status = r.status.unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: r.symbol?,
        base: r.base_coin?,
        quote: r.quote_coin?,
        market: Market::Spot,
        status: status(&raw_status),
        raw_status,
        scheduled_at: None,
        source_published_at: None,
        details: json!({
            "innovation": r.innovation,
            "margin_trading": r.margin_trading,
            "symbol_type": r.symbol_type,
            "st_tag": r.st_tag,
        }),
    })
}

/// Parses `GET /v5/market/instruments-info?category=spot`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `retCode != 0`, `Invalid` when no row is usable.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    let rows = check(decode::<Envelope<SpotInstrument>>(VENUE, "instruments-info", body)?, body)?;
    let n = rows.len();
    require_usable(VENUE, n, rows.into_iter().filter_map(instrument).collect(), body)
}

fn announcement(a: BybitAnnouncement) -> Option<Announcement> {
    let url = a.url?;
    let published = ms_to_ts(a.publish_time.as_deref()).or_else(|| ms_to_ts(a.date_timestamp.as_deref()));
    Some(Announcement::from_title(VENUE, url.clone(), a.title?, Some(url), published))
}

/// Parses `GET /v5/announcements/index`. The id is the article URL; `published_at` is `publishTime`, else
/// `dateTimestamp`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `retCode != 0`.
pub fn parse_announcements(body: &str) -> Result<Vec<Announcement>, ParseError> {
    let rows = check(decode::<Envelope<BybitAnnouncement>>(VENUE, "announcements", body)?, body)?;
    Ok(rows.into_iter().filter_map(announcement).collect())
}

/// Parses `GET /v5/market/tickers?category=spot&symbol=…`: `lastPrice` and `turnover24h` (quote volume) of
/// the single row; no row gives an empty ticker.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `retCode != 0`, `Invalid` for a value that is not a decimal.
pub fn parse_ticker(body: &str) -> Result<Ticker, ParseError> {
    let Some(t) = check(decode::<Envelope<SpotTicker>>(VENUE, "tickers", body)?, body)?.into_iter().next() else { return Ok(Ticker::default()) };
    ticker_from(VENUE, t.symbol, t.last_price.as_deref(), t.turnover_24h.as_deref(), body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cex::types::AnnouncementAction;

    const INSTRUMENTS: &str = include_str!("test_data/http_get_market_instruments_info_spot.json");
    const ANNOUNCEMENTS: &str = include_str!("test_data/http_get_announcements_index.json");

    #[test]
    fn spot_instruments() {
        let list = parse_instruments(INSTRUMENTS).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].instrument_id.as_str(), list[0].base.as_str()), ("BTCUSDT", "BTC"));
        assert_eq!(list[0].status, InstrumentStatus::Trading);
        assert_eq!(list[0].details["symbol_type"], serde_json::Value::Null, "\"\" reads as missing");
    }

    #[test]
    fn unknown_status_and_errors() {
        let body =
            r#"{"retCode":0,"retMsg":"OK","result":{"list":[{"symbol":"ABCUSDT","baseCoin":"ABC","quoteCoin":"USDT","status":"Frozen"}]}}"#;
        assert_eq!(parse_instruments(body).unwrap()[0].status, InstrumentStatus::Other("Frozen".into()));
        let err = parse_instruments(r#"{"retCode":10001,"retMsg":"params error","result":{}}"#).unwrap_err();
        assert!(matches!(err, ParseError::Venue { code, .. } if code == "10001"));
        assert!(matches!(parse_instruments(&INSTRUMENTS[..200]), Err(ParseError::Decode { .. })));
    }

    #[test]
    fn announcements_fall_back_to_date_timestamp() {
        let anns = parse_announcements(ANNOUNCEMENTS).unwrap();
        assert_eq!(anns.len(), 1);
        assert_eq!(anns[0].published_at.unwrap().timestamp_millis(), 1_679_045_608_000);
        assert_eq!(anns[0].action, AnnouncementAction::Listing);
        assert_eq!(anns[0].coins[0].symbol, "ARB");
        let with_publish =
            r#"{"retCode":0,"result":{"list":[{"title":"New Listing: Arbitrum (ARB)","url":"u","publishTime":1679045609000}]}}"#;
        assert_eq!(parse_announcements(with_publish).unwrap()[0].published_at.unwrap().timestamp_millis(), 1_679_045_609_000);
        let no_times = r#"{"retCode":0,"result":{"list":[{"title":"New Listing: Arbitrum (ARB)","url":"u"}]}}"#;
        assert!(parse_announcements(no_times).unwrap()[0].published_at.is_none());
    }
}
