//! Maps Kraken pairs to normalized instruments. Status mapping is deliberately narrow: `online` → Trading,
//! `cancel_only`/`reduce_only`/`maintenance` → Halted, `delisted` → Closed; `post_only`/`limit_only` and
//! anything else stay `Other` because their role in a new listing is not confirmed.

use serde_json::json;

use crate::cex::types::{Instrument, InstrumentStatus, Market, ParseError, WsFrame};
use crate::cex::wire::{decode, excerpt, require_envelope, require_usable, split_pair, venue_error};

use super::models::{AssetPair, AssetPairsEnvelope, InstrumentData, WsMessage, WsPair};

/// Venue slug.
pub const VENUE: &str = "kraken";

fn status(raw: &str) -> InstrumentStatus {
    match raw {
        "online" => InstrumentStatus::Trading,
        "cancel_only" | "reduce_only" | "maintenance" => InstrumentStatus::Halted,
        "delisted" => InstrumentStatus::Closed,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

fn rest_instrument(key: String, p: AssetPair) -> Option<Instrument> {
    // Legacy codes (XXBT/ZUSD) are unreadable; `wsname` is BASE/QUOTE as the market knows it.
    let (base, quote) = match p.wsname.as_deref().and_then(|w| split_pair(w, '/')) {
        Some(bq) => bq,
        None => (p.base?, p.quote?),
    };
    let raw_status = p.status.unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: key,
        base,
        quote,
        market: Market::Spot,
        status: status(&raw_status),
        raw_status,
        scheduled_at: None,
        source_published_at: None,
        details: json!({ "altname": p.altname, "wsname": p.wsname, "aclass_base": p.aclass_base, "ordermin": p.ordermin, "tick_size": p.tick_size }),
    })
}

/// Parses `GET /0/public/AssetPairs`. `instrument_id` is the pair key (`XXBTZUSD`, `NEWUSD`).
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `error` is non-empty, `Invalid` when no row is usable.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    let env: AssetPairsEnvelope = decode(VENUE, "AssetPairs", body)?;
    if let Some(first) = env.error.first() {
        return Err(venue_error(VENUE, first.split(':').next().unwrap_or(first).to_string(), Some(&env.error.join("; ")), body));
    }
    let pairs = require_envelope(VENUE, "AssetPairs", "result", env.result, body)?;
    let n = pairs.len();
    require_usable(VENUE, n, pairs.into_iter().filter_map(|(k, p)| rest_instrument(k, p)).collect(), body)
}

fn ws_instrument(raw: serde_json::Value) -> Option<Instrument> {
    let p: WsPair = serde_json::from_value(raw.clone()).ok()?;
    let symbol = p.symbol?;
    let (base, quote) = match (p.base, p.quote) {
        (Some(b), Some(q)) => (b, q),
        _ => split_pair(&symbol, '/')?,
    };
    let raw_status = p.status.unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: symbol,
        base,
        quote,
        market: Market::Spot,
        status: status(&raw_status),
        raw_status,
        scheduled_at: None,
        source_published_at: None,
        details: raw,
    })
}

/// Parses one frame of `wss://ws.kraken.com/v2` for the `instrument` channel. `type: snapshot` is the whole
/// universe (`complete: true`), `update` is a delta. `instrument_id` here is the v2 symbol (`BTC/USD`), which
/// differs from the REST pair key, so keep REST and WS known-sets separate.
///
/// # Errors
/// `Decode` for malformed JSON.
pub fn parse_ws_frame(text: &str) -> Result<WsFrame, ParseError> {
    let msg: WsMessage = decode(VENUE, "ws frame", text)?;
    if let Some(method) = msg.method.as_deref() {
        return Ok(match (method, msg.success) {
            ("pong", _) => WsFrame::Pong,
            (_, Some(false)) => WsFrame::Error { code: None, msg: msg.error.unwrap_or_default() },
            ("subscribe", _) => {
                WsFrame::Ack { channel: msg.result.as_ref().and_then(|r| r.get("channel")).and_then(|c| c.as_str()).map(str::to_string) }
            }
            _ => WsFrame::Ignored,
        });
    }
    match msg.channel.as_deref() {
        Some("heartbeat") => Ok(WsFrame::Pong),
        Some("instrument") => {
            let data: InstrumentData = match msg.data {
                Some(d) => serde_json::from_value(d).map_err(|e| ParseError::Decode {
                    venue: VENUE,
                    what: "instrument data",
                    reason: crate::kit::quote::quote(&e.to_string()),
                    excerpt: excerpt(text),
                })?,
                None => InstrumentData::default(),
            };
            let n = data.pairs.len();
            let instruments: Vec<Instrument> = data.pairs.into_iter().filter_map(ws_instrument).collect();
            if n > 0 && instruments.is_empty() {
                return Err(ParseError::Invalid {
                    venue: VENUE,
                    what: "instrument frame",
                    reason: "no usable pair".into(),
                    excerpt: excerpt(text),
                });
            }
            Ok(WsFrame::Instruments { instruments, complete: msg.kind.as_deref() == Some("snapshot") })
        }
        _ => Ok(WsFrame::Ignored),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ASSET_PAIRS: &str = include_str!("test_data/http_get_asset_pairs.json");
    const WS_INSTRUMENT: &str = include_str!("test_data/ws_instrument.json");

    #[test]
    fn legacy_codes_resolved_through_wsname() {
        let list = parse_instruments(ASSET_PAIRS).unwrap();
        assert_eq!(list.len(), 2);
        let new = list.iter().find(|i| i.instrument_id == "NEWUSD").unwrap();
        assert_eq!((new.base.as_str(), new.quote.as_str()), ("NEW", "USD"));
        assert_eq!(new.status, InstrumentStatus::Other("limit_only".into()));
        let btc = list.iter().find(|i| i.instrument_id == "XXBTZUSD").unwrap();
        assert_eq!((btc.base.as_str(), btc.quote.as_str(), btc.status.clone()), ("XBT", "USD", InstrumentStatus::Trading));
    }

    #[test]
    fn errors() {
        let err = parse_instruments(r#"{"error":["EGeneral:Too many requests"]}"#).unwrap_err();
        assert!(matches!(err, ParseError::Venue { code, .. } if code == "EGeneral"));
        assert!(matches!(parse_instruments(&ASSET_PAIRS[..150]), Err(ParseError::Decode { .. })));
    }

    #[test]
    fn ws_snapshot_update_and_control_frames() {
        let WsFrame::Instruments { instruments, complete } = parse_ws_frame(WS_INSTRUMENT).unwrap() else { panic!() };
        assert!(complete);
        assert_eq!((instruments[0].instrument_id.as_str(), instruments[0].base.as_str()), ("BTC/USD", "BTC"));
        let update = r#"{"channel":"instrument","type":"update","data":{"pairs":[{"symbol":"NEW/USD","quote":"USD","status":"online"}]}}"#;
        let WsFrame::Instruments { instruments, complete } = parse_ws_frame(update).unwrap() else { panic!() };
        assert!(!complete);
        assert_eq!(instruments[0].base, "NEW");
        assert_eq!(parse_ws_frame(r#"{"channel":"heartbeat"}"#).unwrap(), WsFrame::Pong);
        let ack = r#"{"method":"subscribe","result":{"channel":"instrument","snapshot":true},"success":true,"time_in":"2023-09-25T09:04:31.742599Z"}"#;
        assert_eq!(parse_ws_frame(ack).unwrap(), WsFrame::Ack { channel: Some("instrument".into()) });
        let nack = r#"{"method":"subscribe","success":false,"error":"Channel not found"}"#;
        assert!(matches!(parse_ws_frame(nack).unwrap(), WsFrame::Error { .. }));
        assert!(matches!(parse_ws_frame(&WS_INSTRUMENT[..60]), Err(ParseError::Decode { .. })));
    }
}
