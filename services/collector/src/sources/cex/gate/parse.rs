//! Maps Gate currency pairs. `tradable` → Trading, `untradable` → Halted (new pairs sit here until
//! `buy_start`, which becomes `scheduled_at`); `buyable`/`sellable` stay `Other`.

use serde_json::json;

use crate::sources::cex::types::{Instrument, InstrumentStatus, Market, ParseError};
use crate::sources::cex::wire::{decode, require_usable, secs_to_ts, split_pair, venue_error};

use super::models::{CurrencyPair, ErrorBody};

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PAIRS: &str = include_str!("test_data/http_get_spot_currency_pairs.json");

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
}
