//! Maps Bitget wire types. `online` → Trading, `halt` → Halted, `offline` → Closed; `gray` and anything else
//! stay `Other`. `openTime` becomes `scheduled_at` when present.

use serde_json::json;

use crate::cex::types::{Announcement, Instrument, InstrumentStatus, Market, ParseError};
use crate::cex::wire::{decode, require_envelope, ms_to_ts, require_usable, venue_error};

use super::models::{BitgetAnnouncement, Envelope, Symbol};

/// Venue slug.
pub const VENUE: &str = "bitget";

fn check<T>(env: Envelope<T>, body: &str) -> Result<Option<T>, ParseError> {
    match env.code.as_deref() {
        Some("00000") => Ok(env.data),
        code => Err(venue_error(VENUE, code.unwrap_or("missing"), env.msg.as_deref(), body)),
    }
}

fn status(raw: &str) -> InstrumentStatus {
    match raw {
        "online" => InstrumentStatus::Trading,
        "halt" => InstrumentStatus::Halted,
        "offline" => InstrumentStatus::Closed,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

fn instrument(s: Symbol) -> Option<Instrument> {
    let raw_status = s.status.unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: s.symbol?,
        base: s.base_coin?,
        quote: s.quote_coin?,
        market: Market::Spot,
        status: status(&raw_status),
        raw_status,
        scheduled_at: ms_to_ts(s.open_time.as_deref()),
        source_published_at: None,
        details: json!({ "off_time": ms_to_ts(s.off_time.as_deref()), "area_symbol": s.area_symbol }),
    })
}

/// Parses `GET /api/v2/spot/public/symbols`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `code != "00000"`, `Invalid` when no row is usable.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    let rows = require_envelope(VENUE, "symbols", "data", check(decode::<Envelope<Vec<Symbol>>>(VENUE, "symbols", body)?, body)?, body)?;
    let n = rows.len();
    require_usable(VENUE, n, rows.into_iter().filter_map(instrument).collect(), body)
}

fn announcement(a: BitgetAnnouncement) -> Option<Announcement> {
    let id = a.ann_id.or_else(|| a.ann_url.clone())?;
    Some(Announcement::from_title(VENUE, id, a.ann_title?, a.ann_url, ms_to_ts(a.c_time.as_deref())))
}

/// Parses `GET /api/v2/public/annoucements`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `code != "00000"`.
pub fn parse_announcements(body: &str) -> Result<Vec<Announcement>, ParseError> {
    let rows = check(decode::<Envelope<Vec<BitgetAnnouncement>>>(VENUE, "announcements", body)?, body)?.unwrap_or_default();
    Ok(rows.into_iter().filter_map(announcement).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SYMBOLS: &str = include_str!("test_data/http_get_spot_public_symbols.json");
    const ANNOUNCEMENTS: &str = include_str!("test_data/http_get_public_annoucements.json");

    #[test]
    fn symbols_with_and_without_open_time() {
        let list = parse_instruments(SYMBOLS).unwrap();
        assert_eq!(list[0].scheduled_at.unwrap().timestamp_millis(), 1_532_454_360_000);
        assert!(list[1].scheduled_at.is_none());
        assert_eq!(list[1].details["off_time"], serde_json::Value::Null);
        assert_eq!((list[1].base.as_str(), list[1].quote.as_str()), ("OP", "TRY"));
    }

    #[test]
    fn unknown_status_and_errors() {
        let body = r#"{"code":"00000","data":[{"symbol":"XUSDT","baseCoin":"X","quoteCoin":"USDT","status":"gray"}]}"#;
        assert_eq!(parse_instruments(body).unwrap()[0].status, InstrumentStatus::Other("gray".into()));
        let err = parse_instruments(r#"{"code":"40034","msg":"Parameter does not exist","requestTime":1}"#).unwrap_err();
        assert!(matches!(err, ParseError::Venue { code, .. } if code == "40034"));
        assert!(matches!(parse_instruments(&SYMBOLS[..100]), Err(ParseError::Decode { .. })));
    }

    #[test]
    fn ann_id_string_or_number() {
        let anns = parse_announcements(ANNOUNCEMENTS).unwrap();
        assert_eq!(anns[0].id, "17740");
        assert_eq!(anns[0].coins[0].symbol, "BANANAS31");
        assert_eq!(anns[0].published_at.unwrap().timestamp_millis(), 1_790_150_000_000);
        let numeric = r#"{"code":"00000","data":[{"annId":17741,"annTitle":"Bitget Will List Banana For Scale (BANANAS31) in the Innovation and Meme Zone!","cTime":"1790150000000"}]}"#;
        assert_eq!(parse_announcements(numeric).unwrap()[0].id, "17741");
    }
}
