#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use nl_domain::{AssetId, Decimal, Snapshot, Ts};

use super::*;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn at(min: i64) -> Ts {
    "2026-10-08T12:00:00Z".parse::<Ts>().unwrap() + chrono::Duration::minutes(min)
}

fn asset() -> AssetId {
    AssetId::parse("eth:0x6982508145454ce325ddbe47a25d4ec3d2311933").unwrap()
}

fn member(source: &str, observed: i64, price: Option<&str>, liq: Option<&str>, age: Option<i64>) -> Member {
    Member {
        snapshot: Snapshot {
            asset_id: asset(),
            observed_at: at(observed),
            source: source.into(),
            price_usd: price.map(d),
            fdv_usd: None,
            market_cap_usd: None,
            liquidity_usd: liq.map(d),
            volume_24h_usd: None,
            holders: None,
            age_minutes: age,
            raw_event_id: Some(format!("raw-{source}")),
        },
        event_id: format!("ev-{source}-{observed}"),
        source_count: None,
    }
}

const TTL: u64 = 600;

fn spread() -> Decimal {
    d("0.5")
}

#[test]
fn one_source_is_the_view_as_is() {
    let m = member("geckoterminal", 0, Some("0.52"), Some("250000"), Some(45));
    let v = merge(std::slice::from_ref(&m), TTL, spread()).unwrap();
    assert_eq!(v.snapshot, m.snapshot);
    assert!(v.merged_from.is_empty() && v.provenance.is_empty() && v.disagreements.is_empty());
    assert_eq!(v.source_count, 1);
    assert!(disagreement_check(&v, 50, at(0), TTL).is_none(), "one price: no disagreement check");
    assert!(merge(&[], TTL, spread()).is_none());
}

#[test]
fn merge_takes_each_value_from_the_newest_source_that_has_it_in_any_order() {
    let gt = member("geckoterminal", 0, Some("0.52"), Some("250000"), Some(45));
    let ds = member("dexscreener", 2, Some("0.50"), None, Some(10));
    let a = merge(&[gt.clone(), ds.clone()], TTL, spread()).unwrap();
    let b = merge(&[ds, gt], TTL, spread()).unwrap();
    assert_eq!(a, b, "independent of order");
    assert_eq!(a.snapshot.source, "dexscreener+geckoterminal");
    assert_eq!(a.snapshot.observed_at, at(2));
    assert_eq!(a.snapshot.price_usd, Some(d("0.50")), "the newer source's price");
    assert_eq!(a.snapshot.liquidity_usd, Some(d("250000")), "only GeckoTerminal has liquidity");
    assert_eq!(a.snapshot.age_minutes, Some(47), "the oldest age, carried to the view's time");
    assert_eq!(a.snapshot.raw_event_id, None);
    assert_eq!(a.provenance.get("price_usd").map(String::as_str), Some("dexscreener"));
    assert_eq!(a.provenance.get("liquidity_usd").map(String::as_str), Some("geckoterminal"));
    assert_eq!(a.merged_from, vec!["ev-dexscreener-2".to_string(), "ev-geckoterminal-0".to_string()]);
    assert_eq!(a.source_count, 2);
    assert!(a.disagreements.is_empty(), "0.50 vs 0.52 is within 50 %");
    let check = disagreement_check(&a, 50, at(2), TTL).unwrap();
    assert_eq!((check.code, check.verdict, check.severity), (CheckCode::SourceDisagreement, Verdict::Pass, 0));
}

#[test]
fn prices_far_apart_are_a_recorded_disagreement() {
    let gt = member("geckoterminal", 0, Some("0.52"), Some("250000"), Some(45));
    let ds = member("dexscreener", 0, Some("0.0003798"), Some("52239"), Some(45));
    let v = merge(&[gt, ds], TTL, spread()).unwrap();
    assert_eq!(v.disagreements.len(), 1);
    assert_eq!(v.disagreements[0].field, "price_usd");
    assert_eq!(v.disagreements[0].values.get("geckoterminal"), Some(&d("0.52")));
    assert_eq!(v.disagreements[0].values.get("dexscreener"), Some(&d("0.0003798")));
    assert_eq!(v.provenance.get("price_usd").map(String::as_str), Some("dexscreener"), "same time: by source name");
    let check = disagreement_check(&v, 50, at(0), TTL).unwrap();
    assert_eq!((check.verdict, check.severity), (Verdict::Fail, 50));
    assert_eq!(check.detail.as_deref(), Some("price_usd disagrees: dexscreener=0.0003798, geckoterminal=0.52"));
    assert_eq!(check.expires_at, at(10));
    // Exactly at the tolerance is agreement; just beyond is not.
    let edge = |p: &str| merge(&[member("a", 0, Some("1"), None, None), member("b", 0, Some(p), None, None)], TTL, spread()).unwrap();
    assert!(edge("1.5").disagreements.is_empty());
    assert_eq!(edge("1.5001").disagreements.len(), 1);
}

#[test]
fn stale_members_drop_out_and_no_data_snapshots_are_not_sources() {
    let old = member("geckoterminal", 0, Some("0.52"), Some("250000"), Some(45));
    let new = member("dexscreener", 11, Some("0.0003798"), None, Some(56));
    let v = merge(&[old, new.clone()], TTL, spread()).unwrap();
    assert_eq!(v.snapshot, new.snapshot, "the 11-minute-old GeckoTerminal snapshot is past the 600 s TTL");
    let none = member(NO_MARKET_SOURCE, 11, None, None, None);
    let v = merge(&[none, new], TTL, spread()).unwrap();
    assert_eq!(v.source_count, 1, "a snapshot of no source does not count as one");
    let mut stamped = member("geckoterminal", 0, None, None, None);
    stamped.source_count = Some(3);
    assert_eq!(merge(&[stamped], TTL, spread()).unwrap().source_count, 3, "the enricher's count wins when larger");
}

#[test]
fn the_latest_snapshot_per_source_is_kept_whatever_the_arrival_order() {
    let mut a = SourceSnapshots::new(2);
    let early = member("dexscreener", 0, Some("1"), None, None);
    let late = member("dexscreener", 5, Some("2"), None, None);
    a.add(late.clone());
    let kept = a.add(early.clone());
    assert_eq!(kept, vec![late.clone()], "an older snapshot of the same source does not replace a newer one");
    let mut b = SourceSnapshots::new(2);
    b.add(early);
    assert_eq!(b.add(late.clone()), vec![late]);
    // Bounded: a third asset forgets the least recently added one.
    let other = |addr: &str| {
        let mut m = member("geckoterminal", 0, None, None, None);
        m.snapshot.asset_id = AssetId::parse(addr).unwrap();
        m
    };
    b.add(other("eth:0x0000000000000000000000000000000000000001"));
    b.add(other("eth:0x0000000000000000000000000000000000000002"));
    assert_eq!(b.add(member("geckoterminal", 1, None, None, None)).len(), 1, "the first asset was forgotten");
}
