//! Maps KuCoin wire types. KuCoin has no status word: `enableTrading: false` → Halted, an enabled call auction
//! → PreTrading, else Trading; `raw_status` records those inputs (`enabled`, `disabled`, `call_auction`).

use serde_json::json;

use crate::cex::currency::{CurrencyChain, CurrencyInfo};
use crate::cex::ticker::{Ticker, ticker_from};
use crate::cex::types::{Announcement, Instrument, InstrumentStatus, Market, ParseError};
use crate::cex::wire::{decode, require_envelope, excerpt, ms_to_ts, require_usable, split_pair, venue_error};

use super::models::{AnnouncementPage, Currency, Envelope, KucoinAnnouncement, MarketStats, Symbol};

/// Venue slug.
pub const VENUE: &str = "kucoin";

fn check<T>(env: Envelope<T>, body: &str) -> Result<Option<T>, ParseError> {
    match env.code.as_deref() {
        Some("200000") => Ok(env.data),
        code => Err(venue_error(VENUE, code.unwrap_or("missing"), env.msg.as_deref(), body)),
    }
}

fn instrument(s: Symbol) -> Option<Instrument> {
    let id = s.symbol?;
    let (base, quote) = match (s.base_currency, s.quote_currency) {
        (Some(b), Some(q)) => (b, q),
        _ => split_pair(&id, '-')?,
    };
    let (status, raw_status) = match (s.enable_trading, s.callauction_is_enabled) {
        (Some(false), _) => (InstrumentStatus::Halted, "disabled"),
        (_, Some(true)) => (InstrumentStatus::PreTrading, "call_auction"),
        (Some(true), _) => (InstrumentStatus::Trading, "enabled"),
        (None, _) => (InstrumentStatus::Other("unknown".into()), "unknown"),
    };
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: id,
        base,
        quote,
        market: Market::Spot,
        status,
        raw_status: raw_status.into(),
        scheduled_at: ms_to_ts(s.trading_start_time.as_deref()),
        source_published_at: None,
        details: json!({
            "market": s.market,
            "st": s.st,
            "is_margin_enabled": s.is_margin_enabled,
            "callauction_stage_starts": [
                ms_to_ts(s.callauction_first_stage_start_time.as_deref()),
                ms_to_ts(s.callauction_second_stage_start_time.as_deref()),
                ms_to_ts(s.callauction_third_stage_start_time.as_deref()),
            ],
        }),
    })
}

/// Parses `GET /api/v2/symbols`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `code != "200000"`, `Invalid` when no row is usable.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    let rows = require_envelope(VENUE, "symbols", "data", check(decode::<Envelope<Vec<Symbol>>>(VENUE, "symbols", body)?, body)?, body)?;
    let n = rows.len();
    require_usable(VENUE, n, rows.into_iter().filter_map(instrument).collect(), body)
}

fn announcement(a: KucoinAnnouncement) -> Option<Announcement> {
    let id = a.ann_id.or_else(|| a.ann_url.clone())?;
    Some(Announcement::from_title(VENUE, id, a.ann_title?, a.ann_url, ms_to_ts(a.c_time.as_deref())))
}

/// Parses `GET /api/v3/announcements`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `code != "200000"`.
pub fn parse_announcements(body: &str) -> Result<Vec<Announcement>, ParseError> {
    let page = check(decode::<Envelope<AnnouncementPage>>(VENUE, "announcements", body)?, body)?.unwrap_or_default();
    Ok(page.items.into_iter().filter_map(announcement).collect())
}

/// Parses `GET /api/v3/currencies/{currency}`. A chain is named by its `chainId` (`eth`, `bsc`, `sol`),
/// falling back to `chainName`; chains with neither are skipped.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `code != "200000"` (an unknown currency answers 200 with an
/// error code), `Invalid` when `data` or its `chains` array is missing.
pub fn parse_currency(body: &str) -> Result<CurrencyInfo, ParseError> {
    let invalid = |reason: &str| ParseError::Invalid { venue: VENUE, what: "currency", reason: reason.into(), excerpt: excerpt(body) };
    let data: Currency = check(decode::<Envelope<Currency>>(VENUE, "currency", body)?, body)?.ok_or_else(|| invalid("no `data`"))?;
    let chains = data.chains.ok_or_else(|| invalid("no `chains` array"))?;
    Ok(CurrencyInfo {
        currency: data.currency.unwrap_or_default(),
        main_chain: None,
        chains: chains.into_iter().filter_map(|c| Some(CurrencyChain { venue_chain: c.chain_id.or(c.chain_name)?, contract: c.contract_address })).collect(),
    })
}

/// Parses `GET /api/v1/market/stats?symbol=…`: `last` and `volValue` (quote volume).
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `code != "200000"`, `Invalid` for a value that is not a decimal.
pub fn parse_ticker(body: &str) -> Result<Ticker, ParseError> {
    let Some(s) = check(decode::<Envelope<MarketStats>>(VENUE, "market stats", body)?, body)? else { return Ok(Ticker::default()) };
    ticker_from(VENUE, s.symbol, s.last.as_deref(), s.vol_value.as_deref(), body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cex::types::AnnouncementAction;

    const SYMBOLS: &str = include_str!("test_data/http_get_v2_symbols.json");
    const ANNOUNCEMENTS: &str = include_str!("test_data/http_get_v3_announcements.json");
    const CURRENCY: &str = include_str!("test_data/http_get_v3_currencies_currency.json");

    #[test]
    fn symbols_with_trading_start_time() {
        let list = parse_instruments(SYMBOLS).unwrap();
        assert_eq!(list[0].status, InstrumentStatus::Trading);
        assert!(list[0].scheduled_at.is_none(), "tradingStartTime null");
        assert_eq!(list[1].status, InstrumentStatus::PreTrading);
        assert_eq!(list[1].scheduled_at.unwrap().timestamp_millis(), 1_740_474_000_000);
    }

    #[test]
    fn errors_and_missing_fields() {
        let err = parse_instruments(r#"{"code":"400100","msg":"Unsupported trading pair."}"#).unwrap_err();
        assert!(matches!(err, ParseError::Venue { code, .. } if code == "400100"));
        assert!(matches!(parse_instruments(&SYMBOLS[..90]), Err(ParseError::Decode { .. })));
        let minimal = r#"{"code":"200000","data":[{"symbol":"ABC-USDT","baseCurrency":"","enableTrading":false}]}"#;
        let i = &parse_instruments(minimal).unwrap()[0];
        assert_eq!((i.base.as_str(), i.status.clone()), ("ABC", InstrumentStatus::Halted));
    }

    #[test]
    fn announcements_numeric_id() {
        let anns = parse_announcements(ANNOUNCEMENTS).unwrap();
        assert_eq!(anns[0].id, "129045");
        assert_eq!(anns[0].action, AnnouncementAction::Listing);
        assert_eq!(anns[0].coins[0].symbol, "NEW");
        assert_eq!(anns[0].published_at.unwrap().timestamp_millis(), 1_790_150_000_000);
        assert!(matches!(parse_announcements(r#"{"code":"429000","msg":"Too Many Requests"}"#), Err(ParseError::Venue { .. })));
    }

    #[test]
    fn currency_chains_link_to_the_erc20_contract() {
        use crate::cex::currency::contract_links;
        let info = parse_currency(CURRENCY).unwrap();
        assert_eq!(info.currency, "NEW");
        let ids: Vec<&str> = info.chains.iter().map(|c| c.venue_chain.as_str()).collect();
        assert_eq!(ids, ["trx", "eth", "sol"]);
        assert_eq!(info.chains[2].contract, None, "\"\" is no contract");
        let links = contract_links(&info, &super::super::client::CURRENCY);
        assert_eq!(links.len(), 1, "tron is not a chain we track; the sol entry has no contract");
        assert_eq!((links[0].chain.as_str(), links[0].address.as_str()), ("eth", "0xa6446d655a0c34bc4f05042ee88170d056cbaf45"));
    }

    #[test]
    fn currency_errors() {
        let unknown = r#"{"code":"400100","msg":"Unsupported currency."}"#;
        assert!(matches!(parse_currency(unknown), Err(ParseError::Venue { code, .. }) if code == "400100"));
        assert!(matches!(parse_currency(r#"{"code":"200000","data":{"currency":"X"}}"#), Err(ParseError::Invalid { .. })));
        assert!(matches!(parse_currency(&CURRENCY[..60]), Err(ParseError::Decode { .. })));
    }
}
