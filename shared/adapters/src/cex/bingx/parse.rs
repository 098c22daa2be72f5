//! Maps BingX symbols to normalized instruments: status 1 trades, 5 (pre-open) is listed but not trading,
//! 25 is suspended, 0 is offline; 10 ("accessed") and anything else stay `Other`. `timeOnline` becomes
//! `scheduled_at`.

use serde_json::json;

use crate::cex::types::{Instrument, InstrumentStatus, Market, ParseError};
use crate::cex::wire::{decode, excerpt, ms_to_ts, require_usable, split_pair, venue_error};

use super::models::{Envelope, Symbol};

/// Venue slug.
pub const VENUE: &str = "bingx";

fn status(raw: &str) -> InstrumentStatus {
    match raw {
        "1" => InstrumentStatus::Trading,
        "5" => InstrumentStatus::PreTrading,
        "25" => InstrumentStatus::Halted,
        "0" => InstrumentStatus::Closed,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

fn instrument(s: Symbol) -> Option<Instrument> {
    let id = s.symbol?;
    let (base, quote) = split_pair(&id, '-')?;
    let raw_status = s.status.unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: id,
        base,
        quote,
        market: Market::Spot,
        status: status(&raw_status),
        raw_status,
        scheduled_at: ms_to_ts(s.time_online.as_deref()),
        source_published_at: None,
        details: json!({
            "display_name": s.display_name,
            "api_state_buy": s.api_state_buy,
            "api_state_sell": s.api_state_sell,
            "off_time": ms_to_ts(s.off_time.as_deref()),
        }),
    })
}

/// Parses `GET /openApi/spot/v1/common/symbols`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` for a non-zero `code`, `Invalid` without `data.symbols` or with no
/// usable row.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    let env: Envelope = decode(VENUE, "symbols", body)?;
    match env.code.as_deref() {
        Some("0") => {}
        Some(code) => return Err(venue_error(VENUE, code, env.msg.as_deref(), body)),
        None => return Err(ParseError::Invalid { venue: VENUE, what: "symbols", reason: "no `code`".into(), excerpt: excerpt(body) }),
    }
    let Some(symbols) = env.data.and_then(|d| d.symbols) else {
        return Err(ParseError::Invalid { venue: VENUE, what: "symbols", reason: "no `data.symbols` array".into(), excerpt: excerpt(body) });
    };
    let n = symbols.len();
    require_usable(VENUE, n, symbols.into_iter().filter_map(instrument).collect(), body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SYMBOLS: &str = include_str!("test_data/http_get_spot_common_symbols.json");

    #[test]
    fn ccxt_sample_and_documented_fields() {
        let list = parse_instruments(SYMBOLS).unwrap();
        assert_eq!(list.len(), 1);
        let gear = &list[0];
        assert_eq!((gear.instrument_id.as_str(), gear.base.as_str(), gear.quote.as_str()), ("GEAR-USDT", "GEAR", "USDT"));
        assert_eq!((gear.status.clone(), gear.raw_status.as_str()), (InstrumentStatus::Trading, "1"));
        assert!(gear.scheduled_at.is_none());
        let mut v: serde_json::Value = serde_json::from_str(SYMBOLS).unwrap();
        let row = &mut v["data"]["symbols"][0];
        (row["status"], row["timeOnline"], row["offTime"], row["apiStateBuy"], row["apiStateSell"], row["displayName"]) =
            (json!(5), json!(1_765_000_000_000_i64), json!(0), json!(false), json!(true), json!("GEAR-USDT"));
        let pre = parse_instruments(&v.to_string()).unwrap();
        assert_eq!(pre[0].status, InstrumentStatus::PreTrading);
        assert_eq!(pre[0].scheduled_at.unwrap().timestamp_millis(), 1_765_000_000_000);
        assert_eq!((pre[0].details["api_state_buy"].clone(), pre[0].details["api_state_sell"].clone()), (json!(false), json!(true)));
        assert!(pre[0].details["off_time"].is_null(), "offTime 0 = none");
    }

    #[test]
    fn statuses_and_errors() {
        let body = r#"{"code":0,"data":{"symbols":[{"symbol":"A-USDT","status":25},{"symbol":"B-USDT","status":0},{"symbol":"C-USDT","status":10}]}}"#;
        let st: Vec<_> = parse_instruments(body).unwrap().into_iter().map(|i| i.status).collect();
        assert_eq!(st, [InstrumentStatus::Halted, InstrumentStatus::Closed, InstrumentStatus::Other("10".into())]);
        assert!(matches!(parse_instruments(r#"{"code":100410,"msg":"rate limited"}"#), Err(ParseError::Venue { .. })));
        assert!(matches!(parse_instruments(r#"{"code":0,"data":{}}"#), Err(ParseError::Invalid { .. })));
        assert!(matches!(parse_instruments(&SYMBOLS[..50]), Err(ParseError::Decode { .. })));
    }
}
