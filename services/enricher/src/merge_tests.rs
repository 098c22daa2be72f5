#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use chrono::TimeZone;
use nl_domain::{AssetId, Decimal, Snapshot, Ts};

use super::*;

fn at(min: i64) -> Ts {
    chrono::Utc.with_ymd_and_hms(2026, 10, 10, 0, 0, 0).single().unwrap() + chrono::Duration::minutes(min)
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn asset() -> AssetId {
    AssetId::parse("eth:0x0000000000000000000000000000515100000001").unwrap()
}

fn snap(source: &str, min: i64, price: Option<&str>, liq: Option<&str>, age: Option<i64>) -> Snapshot {
    Snapshot {
        asset_id: asset(),
        observed_at: at(min),
        source: source.into(),
        price_usd: price.map(d),
        fdv_usd: None,
        market_cap_usd: None,
        liquidity_usd: liq.map(d),
        volume_24h_usd: None,
        holders: None,
        age_minutes: age,
        raw_event_id: Some(format!("raw-{source}-{min}")),
    }
}

#[test]
fn two_sources_merge_into_one_view_whatever_the_order() {
    let gecko = snap("geckoterminal", 0, Some("0.52"), Some("250000"), Some(45));
    let dex = snap("dexscreener", 1, Some("0.0003798"), None, Some(40));
    let a = merge(&asset(), &[gecko.clone(), dex.clone()]).unwrap();
    let b = merge(&asset(), &[dex.clone(), gecko.clone()]).unwrap();
    assert_eq!(a, b, "the order of arrival does not matter");
    let s = &a.snapshot;
    assert_eq!(s.source, "dexscreener+geckoterminal");
    assert_eq!((s.observed_at, s.raw_event_id.as_deref()), (at(1), Some("raw-dexscreener-1")), "the newest member's time and raw");
    assert_eq!(s.price_usd, Some(d("0.0003798")), "the newest member's price");
    assert_eq!(s.liquidity_usd, Some(d("250000")), "a value only one source has comes from it");
    assert_eq!(s.age_minutes, Some(46), "the oldest age, carried to the view's time");
    assert_eq!(a.info.provenance.get("price_usd").map(String::as_str), Some("dexscreener"));
    assert_eq!(a.info.provenance.get("liquidity_usd").map(String::as_str), Some("geckoterminal"));
    assert!(!a.info.provenance.contains_key("holders"), "no source gave holders");
    assert_eq!(a.info.members, vec![dex, gecko], "each source's own values are kept, sorted by source");
}

#[test]
fn one_member_per_source_and_no_data_members_only_when_nothing_is_known() {
    let old = snap("geckoterminal", 0, Some("1"), Some("10000"), Some(5));
    let new = snap("geckoterminal", 3, Some("2"), Some("20000"), Some(8));
    let none = snap("enricher", 4, None, None, Some(9));
    let m = merge(&asset(), &[new.clone(), none.clone(), old.clone()]).unwrap();
    assert_eq!(m.info.members, vec![new.clone()], "the latest per source; a no-data snapshot beside data is dropped");
    assert_eq!(m.snapshot.source, "geckoterminal");
    assert_eq!(m.snapshot.price_usd, Some(d("2")));
    let blank = merge(&asset(), &[none.clone(), snap("enricher_cex", 2, None, None, None)]).unwrap();
    assert_eq!(blank.info.members, vec![none], "nothing known: the latest no-data snapshot alone");
    assert!(!has_market_data(&blank.snapshot) && blank.info.provenance.is_empty());
    assert_eq!(blank.snapshot.age_minutes, Some(9));
    let other = Snapshot { asset_id: AssetId::parse("cex:okx:OTHER").unwrap(), ..old };
    assert!(merge(&asset(), &[other]).is_none(), "another asset's snapshot is not merged");
}
