//! Maps OKX wire types to normalized instruments, announcements and push frames.

use serde_json::json;

use crate::cex::ticker::{Ticker, ticker_from};
use crate::cex::types::{Announcement, Instrument, InstrumentStatus, Market, ParseError, WsFrame};
use crate::cex::wire::{decode, ms_to_ts, require_usable, split_pair, venue_error};

use super::models::{AnnouncementPage, Envelope, OkxAnnouncement, OkxInstrument, OkxTicker, WsMessage};

/// Venue slug.
pub const VENUE: &str = "okx";

fn status(raw: &str) -> InstrumentStatus {
    match raw {
        "live" => InstrumentStatus::Trading,
        "preopen" => InstrumentStatus::PreTrading,
        "suspend" => InstrumentStatus::Halted,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

fn instrument(r: OkxInstrument) -> Option<Instrument> {
    let id = r.inst_id?;
    // Pre-open rows carry `""` for baseCcy/quoteCcy; the SPOT instId is always BASE-QUOTE.
    let (base, quote) = match (r.base_ccy, r.quote_ccy) {
        (Some(b), Some(q)) => (b, q),
        _ => split_pair(&id, '-')?,
    };
    let raw_status = r.state.unwrap_or_default();
    let market = match r.inst_type.as_deref() {
        Some("SPOT") | None => Market::Spot,
        Some("MARGIN") => Market::Margin,
        Some("SWAP" | "FUTURES") => Market::Futures,
        Some(_) => Market::Other,
    };
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: id,
        base,
        quote,
        market,
        status: status(&raw_status),
        raw_status,
        scheduled_at: ms_to_ts(r.list_time.as_deref()),
        source_published_at: None,
        details: json!({
            "inst_type": r.inst_type,
            "rule_type": r.rule_type,
            "open_type": r.open_type,
            "auction_end": ms_to_ts(r.cont_td_sw_time.as_deref()),
            "tick_sz": r.tick_sz,
            "lot_sz": r.lot_sz,
            "min_sz": r.min_sz,
        }),
    })
}

/// Parses `GET /api/v5/public/instruments?instType=SPOT`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `code != "0"`, `Invalid` when no row is usable.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    let env: Envelope<OkxInstrument> = decode(VENUE, "instruments", body)?;
    if env.code.as_deref() != Some("0") {
        return Err(venue_error(VENUE, env.code.unwrap_or_else(|| "missing".into()), env.msg.as_deref(), body));
    }
    let rows = env.data.len();
    require_usable(VENUE, rows, env.data.into_iter().filter_map(instrument).collect(), body)
}

fn announcement(a: OkxAnnouncement) -> Option<Announcement> {
    let url = a.url?;
    let title = a.title?;
    Some(Announcement::from_title(VENUE, url.clone(), title, Some(url), ms_to_ts(a.p_time.as_deref())))
}

/// Parses `GET /api/v5/support/announcements`. The id is the article URL (OKX has no article id).
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `code != "0"`.
pub fn parse_announcements(body: &str) -> Result<Vec<Announcement>, ParseError> {
    let env: Envelope<AnnouncementPage> = decode(VENUE, "announcements", body)?;
    if env.code.as_deref() != Some("0") {
        return Err(venue_error(VENUE, env.code.unwrap_or_else(|| "missing".into()), env.msg.as_deref(), body));
    }
    Ok(env.data.into_iter().flat_map(|p| p.details).filter_map(announcement).collect())
}

/// Parses one frame of `wss://ws.okx.com:8443/ws/v5/public`. Instrument pushes are `complete: false`: the
/// first push after a subscribe is the full list but the frame itself does not say so, the caller knows.
///
/// # Errors
/// `Decode` for malformed JSON (the literal `pong` reply is accepted).
pub fn parse_ws_frame(text: &str) -> Result<WsFrame, ParseError> {
    if text.trim() == "pong" {
        return Ok(WsFrame::Pong);
    }
    let msg: WsMessage = decode(VENUE, "ws frame", text)?;
    match msg.event.as_deref() {
        Some("subscribe") => return Ok(WsFrame::Ack { channel: msg.arg.and_then(|a| a.channel) }),
        Some("error") => return Ok(WsFrame::Error { code: msg.code, msg: msg.msg.unwrap_or_default() }),
        Some(_) => return Ok(WsFrame::Ignored),
        None => {}
    }
    let is_instruments = msg.arg.as_ref().and_then(|a| a.channel.as_deref()) == Some("instruments");
    match (is_instruments, msg.data) {
        (true, Some(rows)) => Ok(WsFrame::Instruments { instruments: rows.into_iter().filter_map(instrument).collect(), complete: false }),
        _ => Ok(WsFrame::Ignored),
    }
}

/// Parses `GET /api/v5/market/ticker?instId=…`: `last` and `volCcy24h` (quote volume) of the single row; no
/// row gives an empty ticker.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `code != "0"`, `Invalid` for a value that is not a decimal.
pub fn parse_ticker(body: &str) -> Result<Ticker, ParseError> {
    let env: Envelope<OkxTicker> = decode(VENUE, "ticker", body)?;
    if env.code.as_deref() != Some("0") {
        return Err(venue_error(VENUE, env.code.unwrap_or_else(|| "missing".into()), env.msg.as_deref(), body));
    }
    let Some(t) = env.data.into_iter().next() else { return Ok(Ticker::default()) };
    ticker_from(VENUE, t.inst_id, t.last.as_deref(), t.vol_ccy_24h.as_deref(), body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cex::types::AnnouncementAction;

    const INSTRUMENTS: &str = include_str!("test_data/http_get_public_instruments_spot.json");
    const ANNOUNCEMENTS: &str = include_str!("test_data/http_get_support_announcements.json");
    const WS_INSTRUMENTS: &str = include_str!("test_data/ws_instruments.json");

    #[test]
    fn instruments_with_list_time() {
        let list = parse_instruments(INSTRUMENTS).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].instrument_id.as_str(), list[0].base.as_str(), list[0].quote.as_str()), ("BTC-USD", "BTC", "USD"));
        assert_eq!(list[0].status, InstrumentStatus::Trading);
        assert_eq!(list[0].scheduled_at.unwrap().timestamp_millis(), 1_733_454_000_000);
    }

    #[test]
    fn preopen_row_with_empty_strings() {
        // Documented pre-open shape: only instType/instId/listTime/state filled, the rest "".
        let body = r#"{"code":"0","msg":"","data":[{"instType":"SPOT","instId":"NEW-USDT","baseCcy":"","quoteCcy":"","listTime":"1790000000000","state":"preopen","tickSz":"","lotSz":"","minSz":"","futureSettlement":false,"upcChg":[]}]}"#;
        let i = &parse_instruments(body).unwrap()[0];
        assert_eq!((i.base.as_str(), i.quote.as_str()), ("NEW", "USDT"));
        assert_eq!(i.status, InstrumentStatus::PreTrading);
        assert_eq!(i.details["tick_sz"], serde_json::Value::Null);
        let odd = r#"{"code":"0","data":[{"instId":"X-Y","state":"rebase"}]}"#;
        assert_eq!(parse_instruments(odd).unwrap()[0].status, InstrumentStatus::Other("rebase".into()));
    }

    #[test]
    fn envelope_errors_and_truncation() {
        let err = parse_instruments(r#"{"code":"50011","msg":"Too Many Requests","data":[]}"#).unwrap_err();
        assert!(matches!(&err, ParseError::Venue { code, msg, .. } if code == "50011" && msg == "Too Many Requests"));
        assert!(err.is_venue_error());
        assert!(matches!(parse_instruments(&INSTRUMENTS[..120]), Err(ParseError::Decode { .. })));
        assert!(matches!(parse_announcements(r#"{"code":"51000","msg":"bad","data":[]}"#), Err(ParseError::Venue { .. })));
    }

    #[test]
    fn announcements_use_url_as_id() {
        let anns = parse_announcements(ANNOUNCEMENTS).unwrap();
        assert_eq!(anns.len(), 2);
        assert_eq!(anns[0].id, "https://www.okx.com/help/okx-to-delist-dora-icx-storj-zeus-and-elf-spot-trading-pairs");
        assert_eq!(anns[0].action, AnnouncementAction::Delisting);
        assert_eq!(anns[0].coins.len(), 5);
        assert_eq!(anns[0].published_at.unwrap().timestamp_millis(), 1_790_157_613_684);
    }

    #[test]
    fn ws_frames() {
        let WsFrame::Instruments { instruments, complete } = parse_ws_frame(WS_INSTRUMENTS).unwrap() else { panic!() };
        assert_eq!(instruments[0].instrument_id, "ETH-USD");
        assert!(!complete);
        assert_eq!(parse_ws_frame("pong").unwrap(), WsFrame::Pong);
        let ack = r#"{"event":"subscribe","arg":{"channel":"instruments","instType":"SPOT"},"connId":"a4d3ae55"}"#;
        assert_eq!(parse_ws_frame(ack).unwrap(), WsFrame::Ack { channel: Some("instruments".into()) });
        let err = r#"{"event":"error","code":"60012","msg":"Invalid request","connId":"a4d3ae55"}"#;
        assert_eq!(parse_ws_frame(err).unwrap(), WsFrame::Error { code: Some("60012".into()), msg: "Invalid request".into() });
        assert!(matches!(parse_ws_frame(r#"{"arg":{"channel":"instr"#), Err(ParseError::Decode { .. })));
    }
}
