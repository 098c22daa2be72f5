//! Maps Upbit markets to normalized instruments. The id is the venue's `QUOTE-BASE`; only KRW, BTC and
//! USDT markets are kept (the three Upbit trades). A listed market trades: the status is always `Trading`,
//! and the raw status is `warning` while Upbit flags the market with an investment warning, else `normal`.
//! Caution flags change often and stay in `details`.

use serde_json::json;

use crate::cex::types::{Instrument, InstrumentStatus, Market, ParseError};
use crate::cex::wire::{decode, excerpt, require_usable, split_pair};

use super::models::Market as UpbitMarket;

/// Venue slug.
pub const VENUE: &str = "upbit";

/// The quote markets Upbit runs.
pub const QUOTES: [&str; 3] = ["KRW", "BTC", "USDT"];

fn instrument(m: UpbitMarket) -> Option<Instrument> {
    let id = m.market?;
    let (quote, base) = split_pair(&id, '-')?;
    if !QUOTES.contains(&quote.as_str()) {
        return None;
    }
    let warning = m.market_event.as_ref().and_then(|e| e.warning).unwrap_or(false);
    let caution: Vec<&String> = m.market_event.as_ref().map(|e| e.caution.iter().filter(|(_, v)| v.as_bool() == Some(true)).map(|(k, _)| k).collect()).unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: id.clone(),
        base,
        quote,
        market: Market::Spot,
        status: InstrumentStatus::Trading,
        raw_status: if warning { "warning" } else { "normal" }.into(),
        scheduled_at: None,
        source_published_at: None,
        details: json!({"english_name": m.english_name, "korean_name": m.korean_name, "warning": warning, "caution": caution}),
    })
}

/// Parses `GET /v1/market/all`.
///
/// # Errors
/// `Decode` for malformed JSON or a body that is not the bare market array (Upbit's error object),
/// `Invalid` when no row is usable.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    let trimmed = body.trim_start();
    if !trimmed.starts_with('[') {
        return Err(ParseError::Invalid { venue: VENUE, what: "market/all", reason: "not the bare market array".into(), excerpt: excerpt(body) });
    }
    let markets: Vec<UpbitMarket> = decode(VENUE, "market/all", body)?;
    let n = markets.len();
    require_usable(VENUE, n, markets.into_iter().filter_map(instrument).collect(), body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ALL: &str = include_str!("test_data/http_get_market_all.json");

    #[test]
    fn quote_first_market_and_warning() {
        let list = parse_instruments(ALL).unwrap();
        assert_eq!(list.len(), 1);
        let btc = &list[0];
        assert_eq!((btc.instrument_id.as_str(), btc.base.as_str(), btc.quote.as_str()), ("KRW-BTC", "BTC", "KRW"));
        assert_eq!((btc.status.clone(), btc.raw_status.as_str()), (InstrumentStatus::Trading, "normal"));
        assert_eq!(btc.details["english_name"], "Bitcoin");
        let mut v: serde_json::Value = serde_json::from_str(ALL).unwrap();
        v[0]["market_event"]["warning"] = json!(true);
        v[0]["market_event"]["caution"]["PRICE_FLUCTUATIONS"] = json!(true);
        let warned = parse_instruments(&v.to_string()).unwrap();
        assert_eq!(warned[0].raw_status, "warning");
        assert_eq!(warned[0].details["caution"], json!(["PRICE_FLUCTUATIONS"]));
    }

    #[test]
    fn other_quotes_skipped_and_errors() {
        let body = r#"[{"market":"EUR-BTC","english_name":"x"},{"market":"USDT-NEW","english_name":"New"},{"market":"BTC-OLD"}]"#;
        let list = parse_instruments(body).unwrap();
        assert_eq!(list.iter().map(|i| i.instrument_id.as_str()).collect::<Vec<_>>(), ["USDT-NEW", "BTC-OLD"]);
        assert!(matches!(parse_instruments(r#"{"error":{}}"#), Err(ParseError::Invalid { .. })));
        assert!(matches!(parse_instruments(&ALL[..40]), Err(ParseError::Decode { .. })));
        assert!(matches!(parse_instruments(r#"[{"english_name":"no market"}]"#), Err(ParseError::Invalid { .. })));
    }
}
