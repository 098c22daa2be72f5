//! Maps Binance wire types to normalized instruments, announcements and push frames.

use serde_json::json;

use crate::cex::types::{Announcement, Instrument, InstrumentStatus, Market, ParseError, WsFrame};
use crate::cex::wire::{decode, excerpt, ms_to_ts, non_empty, require_usable, venue_error};

use super::models::{AnnouncementWsData, AnnouncementWsFrame, CmsEnvelope, ExchangeInfo, FuturesFrame, SpotSymbol};

/// Venue slug.
pub const VENUE: &str = "binance";

/// Public article URL prefix; the article `code` completes it.
const ARTICLE_URL: &str = "https://www.binance.com/en/support/announcement/";

/// Margin assets that end futures pair names (`IOTAUSDT`), longest first. `!contractInfo` carries no base
/// asset, so the base is the pair minus this suffix.
const FUTURES_QUOTES: &[&str] = &["FDUSD", "USDT", "USDC", "BUSD", "USD", "BTC"];

fn spot_status(raw: &str) -> InstrumentStatus {
    match raw {
        "TRADING" => InstrumentStatus::Trading,
        "PRE_TRADING" => InstrumentStatus::PreTrading,
        "BREAK" | "HALT" | "AUCTION_MATCH" => InstrumentStatus::Halted,
        "END_OF_DAY" | "POST_TRADING" => InstrumentStatus::Closed,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

fn contract_status(raw: &str) -> InstrumentStatus {
    match raw {
        "TRADING" => InstrumentStatus::Trading,
        "PENDING_TRADING" => InstrumentStatus::PreTrading,
        "PRE_SETTLE" | "SETTLING" | "PRE_DELIVERING" | "DELIVERING" => InstrumentStatus::Halted,
        "CLOSE" | "DELIVERED" => InstrumentStatus::Closed,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

fn spot_instrument(s: SpotSymbol) -> Option<Instrument> {
    let raw_status = s.status.unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: s.symbol?,
        base: s.base_asset?,
        quote: s.quote_asset?,
        market: Market::Spot,
        status: spot_status(&raw_status),
        raw_status,
        scheduled_at: None,
        source_published_at: None,
        details: json!({
            "is_spot_trading_allowed": s.is_spot_trading_allowed,
            "is_margin_trading_allowed": s.is_margin_trading_allowed,
            "permission_sets": s.permission_sets,
        }),
    })
}

/// Parses `GET /api/v3/exchangeInfo`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` for a `{"code","msg"}` error reply, `Invalid` when no row is usable.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    let info: ExchangeInfo = decode(VENUE, "exchangeInfo", body)?;
    let Some(symbols) = info.symbols else {
        return Err(match info.code {
            Some(code) => venue_error(VENUE, code, info.msg.as_deref(), body),
            None => ParseError::Invalid { venue: VENUE, what: "exchangeInfo", reason: "no `symbols` array".into(), excerpt: excerpt(body) },
        });
    };
    let rows = symbols.len();
    let out = symbols.into_iter().filter_map(spot_instrument).collect();
    require_usable(VENUE, rows, out, body)
}

/// Parses the CMS `article/list/query` response (all catalogs in it).
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` when `code != "000000"`.
pub fn parse_announcements(body: &str) -> Result<Vec<Announcement>, ParseError> {
    let env: CmsEnvelope = decode(VENUE, "CMS article list", body)?;
    match env.code.as_deref() {
        Some("000000") => {}
        code => return Err(venue_error(VENUE, code.unwrap_or("missing"), env.message.as_deref(), body)),
    }
    let mut out = Vec::new();
    for article in env.data.into_iter().flat_map(|d| d.catalogs).flat_map(|c| c.articles) {
        let (Some(code), Some(title)) = (article.code, article.title) else { continue };
        let url = Some(format!("{ARTICLE_URL}{code}"));
        out.push(Announcement::from_title(VENUE, code, title, url, ms_to_ts(article.release_date.as_deref())));
    }
    Ok(out)
}

fn futures_base(pair: &str) -> (String, String) {
    FUTURES_QUOTES
        .iter()
        .find(|q| pair.len() > q.len() && pair.ends_with(*q))
        .map_or_else(|| (pair.to_string(), String::new()), |q| (pair[..pair.len() - q.len()].to_string(), (*q).to_string()))
}

fn contract_instrument(f: FuturesFrame) -> Option<Instrument> {
    let symbol = f.s?;
    let pair = f.ps.unwrap_or_else(|| symbol.split('_').next().unwrap_or(&symbol).to_string());
    let (base, quote) = futures_base(&pair);
    let raw_status = f.cs.unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: symbol,
        base,
        quote,
        market: Market::Futures,
        status: contract_status(&raw_status),
        raw_status,
        scheduled_at: ms_to_ts(f.ot.as_deref()),
        source_published_at: ms_to_ts(f.event_time.as_deref()),
        details: json!({ "pair": pair, "contract_type": f.ct, "delivery_time": f.dt }),
    })
}

/// Parses one frame of `wss://fstream.binance.com/ws/!contractInfo` (raw or combined stream). A contract event
/// yields `Instruments { complete: false }` with one futures instrument (`scheduled_at` = onboard time `ot`).
///
/// # Errors
/// `Decode` for malformed JSON.
pub fn parse_contract_info_frame(text: &str) -> Result<WsFrame, ParseError> {
    let mut frame: FuturesFrame = decode(VENUE, "contractInfo frame", text)?;
    if frame.e.is_none()
        && frame.stream.is_some()
        && let Some(inner) = frame.data.take()
    {
        frame = serde_json::from_value(inner).map_err(|e| ParseError::Decode {
            venue: VENUE,
            what: "contractInfo frame",
            reason: crate::kit::quote::quote(&e.to_string()),
            excerpt: excerpt(text),
        })?;
    }
    if frame.e.as_deref() == Some("contractInfo") {
        return Ok(match contract_instrument(frame) {
            Some(i) => WsFrame::Instruments { instruments: vec![i], complete: false },
            None => WsFrame::Ignored,
        });
    }
    if let Some(msg) = frame.msg {
        return Ok(WsFrame::Error { code: frame.code, msg });
    }
    if frame.id.is_some() {
        return Ok(WsFrame::Ack { channel: None });
    }
    Ok(WsFrame::Ignored)
}

/// Parses one frame of the announcement WebSocket (`topic=com_announcement_en`). `DATA` frames carry the
/// article as a JSON string; the article has no code, so the id is `<catalogId>-<publishDate>` and `url` is
/// `None`. `COMMAND` frames are acknowledgements (their fields are not documented, so only `type` is read).
///
/// # Errors
/// `Decode` for malformed JSON, including a `data` string that is not a JSON document.
pub fn parse_announcement_frame(text: &str) -> Result<WsFrame, ParseError> {
    let frame: AnnouncementWsFrame = decode(VENUE, "announcement frame", text)?;
    match frame.kind.as_deref() {
        Some("DATA") => {
            let Some(serde_json::Value::String(inner)) = frame.data else {
                return Err(ParseError::Invalid {
                    venue: VENUE,
                    what: "announcement frame",
                    reason: "`data` is not a string".into(),
                    excerpt: excerpt(text),
                });
            };
            let doc: AnnouncementWsData = decode(VENUE, "announcement frame data", &inner)?;
            let Some(title) = non_empty(doc.title.as_deref()) else { return Ok(WsFrame::Ignored) };
            let id = format!("{}-{}", doc.catalog_id.as_deref().unwrap_or("0"), doc.publish_date.as_deref().unwrap_or("0"));
            Ok(WsFrame::Announcement(Announcement::from_title(VENUE, id, title, None, ms_to_ts(doc.publish_date.as_deref()))))
        }
        Some("COMMAND") => Ok(WsFrame::Ack { channel: frame.topic }),
        _ => Ok(WsFrame::Ignored),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cex::types::AnnouncementAction;

    const EXCHANGE_INFO: &str = include_str!("test_data/http_get_exchange_info.json");
    const CMS_LIST: &str = include_str!("test_data/http_get_cms_article_list.json");
    const CONTRACT_INFO: &str = include_str!("test_data/ws_contract_info.json");
    const ANNOUNCEMENT_WS: &str = include_str!("test_data/ws_com_announcement_en.json");

    #[test]
    fn exchange_info_maps_status_and_assets() {
        let list = parse_instruments(EXCHANGE_INFO).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].instrument_id.as_str(), list[0].base.as_str(), list[0].quote.as_str()), ("ETHBTC", "ETH", "BTC"));
        assert_eq!(list[0].status, InstrumentStatus::Trading);
        assert_eq!(list[1].status, InstrumentStatus::Halted);
        assert_eq!(list[1].raw_status, "BREAK");
    }

    #[test]
    fn unknown_status_and_extra_fields_are_kept() {
        let body = r#"{"symbols":[{"symbol":"ABCUSDT","status":"NEW_STATE","baseAsset":"ABC","quoteAsset":"USDT","brandNew":{"x":1}}]}"#;
        assert_eq!(parse_instruments(body).unwrap()[0].status, InstrumentStatus::Other("NEW_STATE".into()));
    }

    #[test]
    fn error_reply_and_truncation() {
        let err = parse_instruments(r#"{"code":-1121,"msg":"Invalid symbol."}"#).unwrap_err();
        assert!(matches!(&err, ParseError::Venue { code, msg, .. } if code == "-1121" && msg == "Invalid symbol."));
        let err = parse_instruments(&EXCHANGE_INFO[..300]).unwrap_err();
        assert!(matches!(err, ParseError::Decode { .. }));
        assert!(err.excerpt().len() <= 256 && err.excerpt().starts_with("{\"timezone\""));
        let rows_without_base = r#"{"symbols":[{"symbol":"ABC","status":"TRADING","baseAsset":""}]}"#;
        assert!(matches!(parse_instruments(rows_without_base), Err(ParseError::Invalid { .. })));
    }

    #[test]
    fn cms_list_reads_all_coins_and_builds_urls() {
        let anns = parse_announcements(CMS_LIST).unwrap();
        assert_eq!(anns.len(), 2);
        let first = &anns[0];
        assert_eq!(first.id, "917a66f6d8654c2695d858db6b7f1bff");
        assert_eq!(first.url.as_deref(), Some("https://www.binance.com/en/support/announcement/917a66f6d8654c2695d858db6b7f1bff"));
        assert_eq!(first.published_at.unwrap().timestamp_millis(), 1_742_369_411_614);
        let coins: Vec<&str> = first.coins.iter().map(|c| c.symbol.as_str()).collect();
        assert_eq!(coins, ["XUSD", "FORM"]);
        assert_eq!(first.action, AnnouncementAction::Listing);
    }

    #[test]
    fn cms_error_code() {
        let err = parse_announcements(r#"{"code":"100002","message":"busy","data":null,"success":false}"#).unwrap_err();
        assert!(matches!(err, ParseError::Venue { code, .. } if code == "100002"));
    }

    #[test]
    fn contract_info_is_a_futures_instrument_with_onboard_time() {
        let WsFrame::Instruments { instruments, complete } = parse_contract_info_frame(CONTRACT_INFO).unwrap() else { panic!() };
        assert!(!complete);
        let i = &instruments[0];
        assert_eq!((i.base.as_str(), i.quote.as_str(), i.market), ("IOTA", "USDT", Market::Futures));
        assert_eq!(i.scheduled_at.unwrap().timestamp_millis(), 1_569_398_400_000);
        assert_eq!(i.status, InstrumentStatus::Trading);
        let combined = format!(r#"{{"stream":"!contractInfo","data":{}}}"#, CONTRACT_INFO.trim());
        assert!(matches!(parse_contract_info_frame(&combined).unwrap(), WsFrame::Instruments { .. }));
        assert_eq!(parse_contract_info_frame(r#"{"result":null,"id":1}"#).unwrap(), WsFrame::Ack { channel: None });
        assert!(matches!(parse_contract_info_frame(r#"{"code":2,"msg":"Invalid request","id":1}"#).unwrap(), WsFrame::Error { .. }));
    }

    #[test]
    fn announcement_ws_data_is_a_json_string() {
        let WsFrame::Announcement(a) = parse_announcement_frame(ANNOUNCEMENT_WS).unwrap() else { panic!() };
        assert_eq!(a.id, "161-1753257631403");
        assert_eq!(a.title, "Notice of...");
        assert_eq!(a.published_at.unwrap().timestamp_millis(), 1_753_257_631_403);
        let bad = r#"{"type":"DATA","topic":"com_announcement_en","data":"{\"title\":"}"#;
        assert!(matches!(parse_announcement_frame(bad), Err(ParseError::Decode { .. })));
        assert!(matches!(
            parse_announcement_frame(r#"{"type":"COMMAND","subType":"SUBSCRIBE","code":"00000000"}"#).unwrap(),
            WsFrame::Ack { .. }
        ));
    }
}
