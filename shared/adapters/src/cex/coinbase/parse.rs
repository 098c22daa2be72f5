//! Maps Coinbase Exchange products to normalized instruments. The normalized status is derived from the
//! flags: `trading_disabled`/`cancel_only` → Halted, `auction_mode` → PreTrading (opening auction), else the
//! `status` word (`online` → Trading, `delisted` → Closed).

use serde_json::json;

use crate::cex::types::{Instrument, InstrumentStatus, Market, ParseError, WsFrame};
use crate::cex::wire::{decode, excerpt, require_usable, split_pair, venue_error};

use super::models::{ErrorBody, Product, WsMessage};

/// Venue slug.
pub const VENUE: &str = "coinbase";

fn status(p: &Product, raw: &str) -> InstrumentStatus {
    if p.trading_disabled == Some(true) || p.cancel_only == Some(true) {
        return InstrumentStatus::Halted;
    }
    if p.auction_mode == Some(true) {
        return InstrumentStatus::PreTrading;
    }
    match raw {
        "online" => InstrumentStatus::Trading,
        "delisted" => InstrumentStatus::Closed,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

fn instrument(p: Product) -> Option<Instrument> {
    let id = p.id.clone()?;
    let (base, quote) = match (p.base_currency.clone(), p.quote_currency.clone()) {
        (Some(b), Some(q)) => (b, q),
        _ => split_pair(&id, '-')?,
    };
    let raw_status = p.status.clone().unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: id,
        base,
        quote,
        market: Market::Spot,
        status: status(&p, &raw_status),
        raw_status,
        scheduled_at: None,
        source_published_at: None,
        details: json!({
            "trading_disabled": p.trading_disabled,
            "auction_mode": p.auction_mode,
            "cancel_only": p.cancel_only,
            "limit_only": p.limit_only,
            "post_only": p.post_only,
            "status_message": p.status_message,
            "display_name": p.display_name,
        }),
    })
}

/// Parses `GET https://api.exchange.coinbase.com/products`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` for an error object (`{"message": ...}`), `Invalid` when no row is usable.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    if body.trim_start().starts_with('{') {
        let e: ErrorBody = decode(VENUE, "products", body)?;
        return Err(venue_error(VENUE, "error", e.message.as_deref(), body));
    }
    let rows: Vec<Product> = decode(VENUE, "products", body)?;
    let n = rows.len();
    require_usable(VENUE, n, rows.into_iter().filter_map(instrument).collect(), body)
}

/// Parses one frame of `wss://ws-feed.exchange.coinbase.com`. A `status` frame lists all products, so it is
/// `complete: true`.
///
/// # Errors
/// `Decode` for malformed JSON.
pub fn parse_ws_frame(text: &str) -> Result<WsFrame, ParseError> {
    let msg: WsMessage = decode(VENUE, "ws frame", text)?;
    Ok(match msg.kind.as_deref() {
        Some("status") => {
            let rows = msg.products.unwrap_or_default();
            let n = rows.len();
            let instruments: Vec<Instrument> = rows.into_iter().filter_map(instrument).collect();
            if n > 0 && instruments.is_empty() {
                return Err(ParseError::Invalid {
                    venue: VENUE,
                    what: "status frame",
                    reason: "no usable product".into(),
                    excerpt: excerpt(text),
                });
            }
            WsFrame::Instruments { instruments, complete: true }
        }
        Some("subscriptions") => WsFrame::Ack { channel: Some("status".into()) },
        Some("heartbeat") => WsFrame::Pong,
        Some("error") => WsFrame::Error { code: msg.reason, msg: msg.message.unwrap_or_default() },
        _ => WsFrame::Ignored,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PRODUCTS: &str = include_str!("test_data/http_get_products.json");
    const WS_STATUS: &str = include_str!("test_data/ws_status.json");

    #[test]
    fn products_and_flags() {
        let list = parse_instruments(PRODUCTS).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].status, InstrumentStatus::Trading);
        assert_eq!((list[1].base.as_str(), list[1].status.clone()), ("NEW", InstrumentStatus::PreTrading));
        assert_eq!(list[1].raw_status, "online");
    }

    #[test]
    fn disabled_unknown_and_missing() {
        let body = r#"[{"id":"X-USD","status":"online","trading_disabled":true},{"id":"Y-USD","base_currency":"Y","quote_currency":"USD","status":"offline","brand_new":1}]"#;
        let list = parse_instruments(body).unwrap();
        assert_eq!((list[0].base.as_str(), list[0].status.clone()), ("X", InstrumentStatus::Halted));
        assert_eq!(list[1].status, InstrumentStatus::Other("offline".into()));
        assert!(matches!(parse_instruments(r#"{"message":"rate limit exceeded"}"#), Err(ParseError::Venue { .. })));
        assert!(matches!(parse_instruments(&PRODUCTS[..100]), Err(ParseError::Decode { .. })));
    }

    #[test]
    fn status_channel() {
        let WsFrame::Instruments { instruments, complete } = parse_ws_frame(WS_STATUS).unwrap() else { panic!() };
        assert!(complete);
        assert_eq!(instruments[0].instrument_id, "ADA-USD");
        assert_eq!(
            parse_ws_frame(r#"{"type":"subscriptions","channels":[{"name":"status"}]}"#).unwrap(),
            WsFrame::Ack { channel: Some("status".into()) }
        );
        assert!(matches!(
            parse_ws_frame(r#"{"type":"error","message":"Failed to subscribe","reason":"bad channel"}"#).unwrap(),
            WsFrame::Error { .. }
        ));
        assert_eq!(parse_ws_frame(r#"{"type":"ticker","price":"1"}"#).unwrap(), WsFrame::Ignored);
    }
}
