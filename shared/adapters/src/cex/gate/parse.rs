//! Maps Gate currency pairs. `tradable` → Trading, `untradable` → Halted (new pairs sit here until
//! `buy_start`, which becomes `scheduled_at`); `buyable`/`sellable` stay `Other`.

use serde_json::json;

use crate::cex::currency::{CurrencyChain, CurrencyInfo};
use crate::cex::ticker::{Ticker, ticker_from};
use crate::cex::types::{Instrument, InstrumentStatus, Market, ParseError};
use crate::cex::wire::{decode, excerpt, require_usable, secs_to_ts, split_pair, venue_error};

use super::models::{Currency, CurrencyPair, ErrorBody, GateTicker};

/// Venue slug.
pub const VENUE: &str = "gate";

fn status(raw: &str) -> InstrumentStatus {
    match raw {
        "tradable" => InstrumentStatus::Trading,
        "untradable" => InstrumentStatus::Halted,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

fn instrument(p: CurrencyPair) -> Option<Instrument> {
    let id = p.id?;
    let (base, quote) = match (p.base, p.quote) {
        (Some(b), Some(q)) => (b, q),
        _ => split_pair(&id, '_')?,
    };
    let raw_status = p.trade_status.unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: id,
        base,
        quote,
        market: Market::Spot,
        status: status(&raw_status),
        raw_status,
        scheduled_at: secs_to_ts(p.buy_start.as_deref()),
        source_published_at: None,
        details: json!({
            "base_name": p.base_name,
            "sell_start": secs_to_ts(p.sell_start.as_deref()),
            "delisting_time": secs_to_ts(p.delisting_time.as_deref()),
            "type": p.kind,
            "st_tag": p.st_tag,
        }),
    })
}

/// Parses `GET /api/v4/spot/currency_pairs`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` for an error object (`label`/`message`), `Invalid` when no row is usable.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    if body.trim_start().starts_with('{') {
        let e: ErrorBody = decode(VENUE, "currency_pairs", body)?;
        return Err(venue_error(VENUE, e.label.unwrap_or_else(|| "error".into()), e.message.as_deref(), body));
    }
    let rows: Vec<CurrencyPair> = decode(VENUE, "currency_pairs", body)?;
    let n = rows.len();
    require_usable(VENUE, n, rows.into_iter().filter_map(instrument).collect(), body)
}

/// Parses `GET /api/v4/spot/currencies/{currency}`; `chain` becomes the main chain.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` for an error object (`label`/`message`), `Invalid` when the object
/// has no `chains` array.
pub fn parse_currency(body: &str) -> Result<CurrencyInfo, ParseError> {
    let c: Currency = decode(VENUE, "currency", body)?;
    if let Some(label) = c.label {
        return Err(venue_error(VENUE, label, c.message.as_deref(), body));
    }
    let chains = c.chains.ok_or_else(|| ParseError::Invalid { venue: VENUE, what: "currency", reason: "no `chains` array".into(), excerpt: excerpt(body) })?;
    Ok(CurrencyInfo {
        currency: c.currency.unwrap_or_default(),
        main_chain: c.chain,
        chains: chains.into_iter().filter_map(|ch| Some(CurrencyChain { venue_chain: ch.name?, contract: ch.addr })).collect(),
    })
}

/// Parses `GET /api/v4/spot/tickers?currency_pair=…`: `last` and `quote_volume` of the single row; no row
/// gives an empty ticker.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` for an error object (`label`/`message`), `Invalid` for a value that
/// is not a decimal.
pub fn parse_ticker(body: &str) -> Result<Ticker, ParseError> {
    if body.trim_start().starts_with('{') {
        let e: ErrorBody = decode(VENUE, "tickers", body)?;
        return Err(venue_error(VENUE, e.label.unwrap_or_else(|| "error".into()), e.message.as_deref(), body));
    }
    let rows: Vec<GateTicker> = decode(VENUE, "tickers", body)?;
    let Some(t) = rows.into_iter().next() else { return Ok(Ticker::default()) };
    ticker_from(VENUE, t.currency_pair, t.last.as_deref(), t.quote_volume.as_deref(), body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PAIRS: &str = include_str!("test_data/http_get_spot_currency_pairs.json");
    const CURRENCY: &str = include_str!("test_data/http_get_spot_currencies_currency.json");

    #[test]
    fn buy_start_is_the_schedule() {
        let list = parse_instruments(PAIRS).unwrap();
        assert_eq!(list[0].status, InstrumentStatus::Trading);
        assert_eq!(list[1].status, InstrumentStatus::Halted);
        assert_eq!(list[1].scheduled_at.unwrap().timestamp(), 1_790_000_000);
        assert_eq!(list[1].details["delisting_time"], serde_json::Value::Null, "0 means unset");
    }

    #[test]
    fn unknown_status_missing_fields_and_errors() {
        let body = r#"[{"id":"ABC_USDT","trade_status":"sellable","buy_start":"","brand_new":[1]}]"#;
        let i = &parse_instruments(body).unwrap()[0];
        assert_eq!((i.base.as_str(), i.status.clone(), i.scheduled_at), ("ABC", InstrumentStatus::Other("sellable".into()), None));
        let err = parse_instruments(r#"{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded"}"#).unwrap_err();
        assert!(matches!(err, ParseError::Venue { code, .. } if code == "TOO_MANY_REQUESTS"));
        assert!(matches!(parse_instruments(&PAIRS[..80]), Err(ParseError::Decode { .. })));
    }

    #[test]
    fn currency_main_chain_links_first() {
        use crate::cex::currency::contract_links;
        let info = parse_currency(CURRENCY).unwrap();
        assert_eq!((info.currency.as_str(), info.main_chain.as_deref()), ("NEW", Some("BSC")));
        assert_eq!(info.chains.len(), 3);
        assert_eq!(info.chains[2].contract, None, "\"\" is no contract");
        let links = contract_links(&info, &super::super::client::CURRENCY);
        let got: Vec<(&str, &str)> = links.iter().map(|l| (l.chain.as_str(), l.venue_chain.as_str())).collect();
        assert_eq!(got, [("bsc", "BSC"), ("eth", "ETH")], "main chain first; GTEVM is not ours");
        assert_eq!(links[1].address, "0xe66747a101bff2dba3697199dcce5b743b454759");
    }

    #[test]
    fn currency_errors() {
        let err = parse_currency(r#"{"label":"INVALID_CURRENCY","message":"Invalid currency NOPE"}"#).unwrap_err();
        assert!(matches!(err, ParseError::Venue { code, .. } if code == "INVALID_CURRENCY"));
        assert!(matches!(parse_currency(r#"{"currency":"NEW"}"#), Err(ParseError::Invalid { .. })));
        assert!(matches!(parse_currency(&CURRENCY[..70]), Err(ParseError::Decode { .. })));
    }
}
