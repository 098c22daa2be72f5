//! A venue's public 24 h ticker of one listed pair, for the enricher's CEX market snapshots.
//!
//! Each venue with a single-ticker endpoint gets a [`TickerDescriptor`] in its `client.rs`: the path before
//! the instrument id, the request weight and the parser. The parsers keep exactly what the venue says: the
//! last price and the 24 h volume in the *quote* currency, as exact decimals; `""`, `null` or an absent
//! field is `None`, never 0. Converting to USD (only for USD-stablecoin quotes) is the enricher's call.
//! The pure part lives here and in the venue folders; the enricher does the fetching.

use nl_domain::{Decimal, parse_opt_decimal};

use super::types::ParseError;
use super::wire::excerpt;
use super::{bybit, gate, kucoin, okx};

/// What a venue's ticker says about one pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ticker {
    /// The venue's instrument id as echoed in the reply, when it echoes one.
    pub instrument_id: Option<String>,
    /// Last traded price, in the quote currency.
    pub last: Option<Decimal>,
    /// Traded value over the last 24 h, in the quote currency.
    pub quote_volume_24h: Option<Decimal>,
}

/// Parser of a ticker response body.
pub type TickerParser = fn(&str) -> Result<Ticker, ParseError>;

/// What a venue's ticker lookup needs: the path to which the instrument id is appended, its weight and the parser.
#[derive(Debug, Clone, Copy)]
pub struct TickerDescriptor {
    pub venue: &'static str,
    /// Path and query up to the instrument id (e.g. `/api/v5/market/ticker?instId=`).
    pub path_prefix: &'static str,
    /// Weight charged to the budget per request.
    pub weight: u32,
    pub parse: TickerParser,
}

impl TickerDescriptor {
    /// The request path for `instrument_id`; `None` when the id is empty or has a character that would need
    /// escaping (venue ids are `[A-Za-z0-9_.-]`), so nothing unexpected is ever sent.
    #[must_use]
    pub fn path(&self, instrument_id: &str) -> Option<String> {
        let ok = !instrument_id.is_empty() && instrument_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        ok.then(|| format!("{}{instrument_id}", self.path_prefix))
    }

    /// The name raw captures of this venue's ticker lookups carry (`<venue>_ticker`).
    #[must_use]
    pub fn source_name(&self) -> String {
        format!("{}_ticker", self.venue)
    }
}

/// The ticker descriptor of `venue`, for the venues whose single-ticker endpoint is confirmed.
#[must_use]
pub fn ticker_descriptor(venue: &str) -> Option<TickerDescriptor> {
    match venue {
        okx::VENUE => Some(okx::client::TICKER),
        gate::VENUE => Some(gate::client::TICKER),
        kucoin::VENUE => Some(kucoin::client::TICKER),
        bybit::VENUE => Some(bybit::client::TICKER),
        _ => None,
    }
}

/// Venues with a ticker descriptor.
pub const TICKER_VENUES: [&str; 4] = [okx::VENUE, gate::VENUE, kucoin::VENUE, bybit::VENUE];

/// A ticker from the venue's decimal strings (already `None` when `""`/absent).
///
/// # Errors
/// [`ParseError::Invalid`] when a present value is not a decimal.
pub(crate) fn ticker_from(
    venue: &'static str,
    instrument_id: Option<String>,
    last: Option<&str>,
    quote_volume: Option<&str>,
    body: &str,
) -> Result<Ticker, ParseError> {
    let dec = |field: &str, v: Option<&str>| {
        parse_opt_decimal(v).map_err(|e| ParseError::Invalid { venue, what: "ticker", reason: format!("{field}: {e}"), excerpt: excerpt(body) })
    };
    Ok(Ticker { instrument_id, last: dec("last price", last)?, quote_volume_24h: dec("quote volume", quote_volume)? })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::str::FromStr;

    use super::*;

    const OKX: &str = include_str!("okx/test_data/http_get_market_ticker.json");
    const GATE: &str = include_str!("gate/test_data/http_get_spot_tickers_pair.json");
    const KUCOIN: &str = include_str!("kucoin/test_data/http_get_market_stats.json");
    const BYBIT: &str = include_str!("bybit/test_data/http_get_market_tickers_spot_symbol.json");

    fn d(s: &str) -> Option<Decimal> {
        Some(Decimal::from_str(s).unwrap())
    }

    fn parse(venue: &str, body: &str) -> Result<Ticker, ParseError> {
        (ticker_descriptor(venue).unwrap().parse)(body)
    }

    #[test]
    fn okx_ticker_is_last_and_quote_volume() {
        let t = parse("okx", OKX).unwrap();
        assert_eq!(t.instrument_id.as_deref(), Some("NEWT-USDT"));
        assert_eq!((t.last, t.quote_volume_24h), (d("0.4187"), d("5841232.918347")), "volCcy24h is the SPOT quote volume, not vol24h");
        let preopen = r#"{"code":"0","msg":"","data":[{"instType":"SPOT","instId":"NEWT-USDT","last":"","vol24h":"","volCcy24h":"","ts":"1791632043000"}]}"#;
        assert_eq!(parse("okx", preopen).unwrap().last, None, "empty string is missing, not 0");
        assert_eq!(parse("okx", r#"{"code":"0","msg":"","data":[]}"#).unwrap(), Ticker::default());
        let err = parse("okx", r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#).unwrap_err();
        assert!(err.is_venue_error(), "{err}");
    }

    #[test]
    fn gate_ticker_is_last_and_quote_volume() {
        let t = parse("gate", GATE).unwrap();
        assert_eq!(t.instrument_id.as_deref(), Some("NEWT_USDT"));
        assert_eq!((t.last, t.quote_volume_24h), (d("0.41902"), d("2711843.0715211")));
        let missing = r#"[{"currency_pair":"NEWT_USDT","last":"","base_volume":"0"}]"#;
        assert_eq!(parse("gate", missing).unwrap().quote_volume_24h, None);
        let err = parse("gate", r#"{"label":"INVALID_CURRENCY_PAIR","message":"Invalid currency pair NEWT_XYZ"}"#).unwrap_err();
        assert!(err.is_venue_error(), "{err}");
    }

    #[test]
    fn kucoin_stats_are_last_and_vol_value() {
        let t = parse("kucoin", KUCOIN).unwrap();
        assert_eq!(t.instrument_id.as_deref(), Some("NEWT-USDT"));
        assert_eq!((t.last, t.quote_volume_24h), (d("0.41871"), d("1023981.99341298")), "volValue is in the quote currency, vol in the base");
        let unknown = r#"{"code":"200000","data":{"time":1791632043000,"symbol":"NEWT-USDT","buy":null,"sell":null,"last":null,"vol":null,"volValue":null}}"#;
        assert_eq!(parse("kucoin", unknown).unwrap().last, None);
        assert!(parse("kucoin", r#"{"code":"400100","msg":"symbol invalid"}"#).unwrap_err().is_venue_error());
    }

    #[test]
    fn bybit_ticker_is_last_price_and_turnover() {
        let t = parse("bybit", BYBIT).unwrap();
        assert_eq!(t.instrument_id.as_deref(), Some("NEWTUSDT"));
        assert_eq!((t.last, t.quote_volume_24h), (d("0.4192"), d("3318450.8461273")), "turnover24h is the quote volume, volume24h the base");
        let empty = r#"{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[]},"retExtInfo":{},"time":1791632043000}"#;
        assert_eq!(parse("bybit", empty).unwrap(), Ticker::default());
        assert!(parse("bybit", r#"{"retCode":10001,"retMsg":"Not supported symbols","result":{},"retExtInfo":{},"time":1}"#).unwrap_err().is_venue_error());
    }

    #[test]
    fn bad_numbers_and_bodies_are_errors_not_zero() {
        assert!(matches!(parse("gate", r#"[{"currency_pair":"A_USDT","last":"abc"}]"#), Err(ParseError::Invalid { .. })));
        assert!(matches!(parse("okx", "<html>502</html>"), Err(ParseError::Decode { .. })));
    }

    #[test]
    fn paths_only_for_plain_ids() {
        let okx = ticker_descriptor("okx").unwrap();
        assert_eq!(okx.path("NEWT-USDT").as_deref(), Some("/api/v5/market/ticker?instId=NEWT-USDT"));
        assert_eq!(okx.path("A&b=1"), None);
        assert_eq!(okx.path(""), None);
        assert_eq!(okx.source_name(), "okx_ticker");
        assert!(ticker_descriptor("kraken").is_none());
        assert!(TICKER_VENUES.iter().all(|v| ticker_descriptor(v).is_some_and(|d| d.venue == *v)));
    }
}
