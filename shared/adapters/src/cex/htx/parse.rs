//! Maps HTX symbols to normalized instruments: `online` trades, `pre-online` and `not-online` are listed but
//! not yet trading, `suspend` and `fuse` are halted, `offline` is closed; anything else (`unknown`,
//! `transfer-board`) stays `Other`. `toa` (trade open at) becomes `scheduled_at`. Base and quote are the
//! upper-cased currency codes (`bc`, `qc`).

use serde_json::json;

use crate::cex::types::{Instrument, InstrumentStatus, Market, ParseError};
use crate::cex::wire::{decode, excerpt, ms_to_ts, require_usable, venue_error};

use super::models::{Symbol, Symbols};

/// Venue slug.
pub const VENUE: &str = "htx";

fn status(raw: &str) -> InstrumentStatus {
    match raw {
        "online" => InstrumentStatus::Trading,
        "pre-online" | "not-online" => InstrumentStatus::PreTrading,
        "suspend" | "fuse" => InstrumentStatus::Halted,
        "offline" => InstrumentStatus::Closed,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

fn instrument(s: Symbol) -> Option<Instrument> {
    let raw_status = s.state.unwrap_or_default();
    Some(Instrument {
        venue: VENUE.into(),
        instrument_id: s.sc?,
        base: s.bc?.to_ascii_uppercase(),
        quote: s.qc?.to_ascii_uppercase(),
        market: Market::Spot,
        status: status(&raw_status),
        raw_status,
        scheduled_at: ms_to_ts(s.toa.as_deref()),
        source_published_at: None,
        details: json!({
            "display_name": s.dn,
            "base_display": s.bcdn,
            "quote_display": s.qcdn,
            "trade_enabled": s.te,
            "partition": s.sp,
            "tags": s.tags,
            "call_auction": s.castate,
        }),
    })
}

/// Parses `GET /v2/settings/common/symbols`.
///
/// # Errors
/// `Decode` for malformed JSON, `Venue` for `status: "error"`, `Invalid` for a reply without `data` or with
/// no usable row.
pub fn parse_instruments(body: &str) -> Result<Vec<Instrument>, ParseError> {
    let env: Symbols = decode(VENUE, "symbols", body)?;
    if env.status.as_deref() != Some("ok") {
        let code = env.err_code.unwrap_or_else(|| env.status.unwrap_or_else(|| "no status".into()));
        return Err(venue_error(VENUE, code, env.err_msg.as_deref(), body));
    }
    let Some(data) = env.data else {
        return Err(ParseError::Invalid { venue: VENUE, what: "symbols", reason: "no `data` array".into(), excerpt: excerpt(body) });
    };
    let n = data.len();
    require_usable(VENUE, n, data.into_iter().filter_map(instrument).collect(), body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SYMBOLS: &str = include_str!("test_data/http_get_v2_settings_common_symbols.json");

    #[test]
    fn doc_sample() {
        let list = parse_instruments(SYMBOLS).unwrap();
        assert_eq!(list.len(), 1);
        let eth = &list[0];
        assert_eq!((eth.instrument_id.as_str(), eth.base.as_str(), eth.quote.as_str()), ("ethusdt", "ETH", "USDT"));
        assert_eq!(eth.status, InstrumentStatus::Trading);
        assert_eq!(eth.scheduled_at.unwrap().timestamp_millis(), 1_514_779_200_000);
        assert_eq!(eth.details["partition"], "main");
        assert_eq!(eth.details["display_name"], "ETH/USDT");
    }

    #[test]
    fn states_and_errors() {
        let mut v: serde_json::Value = serde_json::from_str(SYMBOLS).unwrap();
        let row = v["data"][0].clone();
        let rows: Vec<_> = ["pre-online", "suspend", "offline", "transfer-board"]
            .iter()
            .map(|s| {
                let mut r = row.clone();
                r["state"] = json!(s);
                r
            })
            .collect();
        v["data"] = json!(rows);
        let st: Vec<_> = parse_instruments(&v.to_string()).unwrap().into_iter().map(|i| i.status).collect();
        assert_eq!(st, [InstrumentStatus::PreTrading, InstrumentStatus::Halted, InstrumentStatus::Closed, InstrumentStatus::Other("transfer-board".into())]);
        let err = r#"{"status":"error","err-code":"too-many-requests","err-msg":"slow down","data":null}"#;
        assert!(matches!(parse_instruments(err), Err(ParseError::Venue { code, .. }) if code.contains("too-many-requests")));
        assert!(matches!(parse_instruments(r#"{"status":"ok"}"#), Err(ParseError::Invalid { .. })));
        assert!(matches!(parse_instruments(&SYMBOLS[..60]), Err(ParseError::Decode { .. })));
    }
}
