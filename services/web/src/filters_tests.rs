#![allow(clippy::unwrap_used)]

use chrono::TimeZone;

use super::*;

fn now() -> Ts {
    chrono::Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
}

#[test]
fn durations_and_times_parse() {
    assert_eq!(parse_since("1h", now()).unwrap(), chrono::Utc.with_ymd_and_hms(2026, 12, 7, 11, 0, 0).unwrap());
    assert_eq!(parse_since("2d", now()).unwrap(), chrono::Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap());
    assert_eq!(parse_since("90s", now()).unwrap(), chrono::Utc.with_ymd_and_hms(2026, 12, 7, 11, 58, 30).unwrap());
    assert_eq!(parse_since("2026-12-01T00:00:00Z", now()).unwrap(), chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
    for bad in ["", "h", "1y", "-1h", "99999999999999999999d", "soon"] {
        assert!(parse_since(bad, now()).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn empty_filters_are_no_filters_and_bad_ones_say_what_to_fix() {
    let f = Filters { chain: Some(" ".into()), q: Some(String::new()), decision: Some("promoted".into()), ..Filters::default() };
    let q = f.to_query(now(), 50).unwrap();
    assert_eq!(q.chain, None);
    assert_eq!(q.text, None);
    assert_eq!(q.decision, Some(Decision::Promoted));
    assert_eq!(q.limit, 50);
    assert!(f.any());
    assert!(!Filters::default().any());

    let err = Filters { decision: Some("maybe".into()), ..Filters::default() }.to_query(now(), 50).unwrap_err();
    assert!(err.contains("promoted or rejected"), "{err}");
    let err = Filters { min_liq: Some("lots".into()), ..Filters::default() }.to_query(now(), 50).unwrap_err();
    assert!(err.contains("min liquidity"), "{err}");
    let err = Filters { kind: Some("amm".into()), ..Filters::default() }.to_query(now(), 50).unwrap_err();
    assert!(err.contains("cex or dex"), "{err}");
}
