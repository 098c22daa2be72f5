//! Maps MEXC symbols to normalized instruments.

use serde_json::json;

use crate::cex::types::{Instrument, InstrumentStatus, Market, ParseError};
use crate::cex::wire::{decode, excerpt, require_usable, venue_error};

use super::models::{ExchangeInfo, Symbol};

/// Venue slug.
pub const VENUE: &str = "mexc";

fn status(raw: &str) -> InstrumentStatus {
    match raw {
        "1" => InstrumentStatus::Trading,
        "2" => InstrumentStatus::Halted,
        "3" => InstrumentStatus::Closed,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

fn instrument(s: Symbol) -> Option<Instrument> {
    let raw_status = s.status.unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: s.symbol?,
        base: s.base_asset?,
        quote: s.quote_asset?,
        market: Market::Spot,
        status: status(&raw_status),
        raw_status,
        scheduled_at: None,
        source_published_at: None,
        details: json!({
            "full_name": s.full_name,
            "trade_side_type": s.trade_side_type,
            "contract_address": s.contract_address,
            "is_spot_trading_allowed": s.is_spot_trading_allowed,
            "st": s.st,
        }),
    })
}

/// Parses `GET /api/v3/exchangeInfo`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` for a `{"code","msg"}` reply, `Invalid` when no row is usable.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    let info: ExchangeInfo = decode(VENUE, "exchangeInfo", body)?;
    let Some(symbols) = info.symbols else {
        return Err(match info.code {
            Some(code) => venue_error(VENUE, code, info.msg.as_deref(), body),
            None => ParseError::Invalid { venue: VENUE, what: "exchangeInfo", reason: "no `symbols` array".into(), excerpt: excerpt(body) },
        });
    };
    let n = symbols.len();
    require_usable(VENUE, n, symbols.into_iter().filter_map(instrument).collect(), body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const INFO: &str = include_str!("test_data/http_get_exchange_info.json");

    #[test]
    fn trade_side_type_number_or_string() {
        let list = parse_instruments(INFO).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].details["trade_side_type"], "1");
        assert_eq!(list[1].details["trade_side_type"], "1");
        assert_eq!(list[1].status, InstrumentStatus::Trading);
    }

    #[test]
    fn numeric_status_unknown_status_and_errors() {
        let body = r#"{"symbols":[{"symbol":"AUSDT","status":2,"baseAsset":"A","quoteAsset":"USDT"},{"symbol":"BUSDT","status":"9","baseAsset":"B","quoteAsset":"USDT"}]}"#;
        let list = parse_instruments(body).unwrap();
        assert_eq!(list[0].status, InstrumentStatus::Halted);
        assert_eq!(list[1].status, InstrumentStatus::Other("9".into()));
        assert!(matches!(
            parse_instruments(r#"{"code":700003,"msg":"Timestamp for this request is outside of the recvWindow."}"#),
            Err(ParseError::Venue { .. })
        ));
        assert!(matches!(parse_instruments(&INFO[..100]), Err(ParseError::Decode { .. })));
    }
}
