//! The baseline, flap, vanish and new-quote rules on the instrument lists of Upbit, HTX and BingX: each
//! venue's snapshots are built from its vendor-doc payload in `test_data/` (only ids, currencies and status
//! changed), parsed by the venue parser and diffed as the poll source does.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::diff::{DiffPolicy, KnownSet, diff_with};
use super::types::Instrument;
use super::{bingx, htx, upbit};

/// One venue: how a `(base, quote, trading?)` row is written, and its parser.
struct Venue {
    name: &'static str,
    body: fn(&[(&str, &str, bool)]) -> String,
    parse: fn(&str) -> Result<Vec<Instrument>, super::types::ParseError>,
}

fn upbit_body(rows: &[(&str, &str, bool)]) -> String {
    let v: Value = serde_json::from_str(include_str!("upbit/test_data/http_get_market_all.json")).unwrap();
    let out: Vec<Value> = rows
        .iter()
        .map(|(b, q, trading)| {
            let mut r = v[0].clone();
            (r["market"], r["english_name"]) = (json!(format!("{q}-{b}")), json!(b));
            // Upbit lists only tradable markets: a warning is its one state change.
            r["market_event"]["warning"] = json!(!trading);
            r
        })
        .collect();
    Value::Array(out).to_string()
}

fn htx_body(rows: &[(&str, &str, bool)]) -> String {
    let mut v: Value = serde_json::from_str(include_str!("htx/test_data/http_get_v2_settings_common_symbols.json")).unwrap();
    let t = v["data"][0].clone();
    let out: Vec<Value> = rows
        .iter()
        .map(|(b, q, trading)| {
            let mut r = t.clone();
            let (bl, ql) = (b.to_lowercase(), q.to_lowercase());
            (r["sc"], r["bc"], r["qc"], r["bcdn"], r["qcdn"]) = (json!(format!("{bl}{ql}")), json!(bl), json!(ql), json!(b), json!(q));
            (r["dn"], r["state"]) = (json!(format!("{b}/{q}")), json!(if *trading { "online" } else { "suspend" }));
            r
        })
        .collect();
    v["data"] = Value::Array(out);
    v.to_string()
}

fn bingx_body(rows: &[(&str, &str, bool)]) -> String {
    let mut v: Value = serde_json::from_str(include_str!("bingx/test_data/http_get_spot_common_symbols.json")).unwrap();
    let t = v["data"]["symbols"][0].clone();
    let out: Vec<Value> = rows
        .iter()
        .map(|(b, q, trading)| {
            let mut r = t.clone();
            (r["symbol"], r["status"]) = (json!(format!("{b}-{q}")), json!(if *trading { 1 } else { 25 }));
            r
        })
        .collect();
    v["data"]["symbols"] = Value::Array(out);
    v.to_string()
}

const VENUES: [Venue; 3] = [
    Venue { name: "upbit", body: upbit_body, parse: upbit::parse_instruments },
    Venue { name: "htx", body: htx_body, parse: htx::parse_instruments },
    Venue { name: "bingx", body: bingx_body, parse: bingx::parse_instruments },
];

fn t(s: i64) -> nl_domain::Ts {
    chrono::DateTime::from_timestamp(1_765_000_000 + s, 0).unwrap()
}

/// Polls `rows` at `at`: (new bases, updated bases, vanished ids, next state).
fn poll(v: &Venue, known: Option<&KnownSet>, rows: &[(&str, &str, bool)], at: i64) -> (Vec<String>, Vec<String>, usize, KnownSet) {
    let list = (v.parse)(&(v.body)(rows)).unwrap_or_else(|e| panic!("{}: {e}", v.name));
    assert_eq!(list.len(), rows.len(), "{}: every row parsed", v.name);
    let out = diff_with(known, &list, t(at), DiffPolicy { delist_after: 3 });
    assert_eq!(out.baseline, known.is_none());
    let new = out.new.iter().map(|i| format!("{}/{}", i.base, i.quote)).collect();
    let updated = out.updated.iter().map(|(i, _)| format!("{}/{}", i.base, i.quote)).collect();
    (new, updated, out.vanished.len(), out.next)
}

#[test]
fn baseline_flap_vanish_new_quote_and_new_listing_on_every_new_venue() {
    for v in &VENUES {
        let q = if v.name == "upbit" { "KRW" } else { "USDT" };
        let base_rows = [("ETH", q, true), ("FLAP", q, true), ("GONE", q, true)];
        // Baseline: nothing is new.
        let (new, upd, _, k) = poll(v, None, &base_rows, 0);
        assert!(new.is_empty() && upd.is_empty(), "{}", v.name);
        // A baseline flap (halted/warned), GONE vanishes, ETH gets a new quote pair, NEW is listed.
        let rows = [("ETH", q, true), ("ETH", "BTC", true), ("FLAP", q, false), ("NEW", q, false)];
        let (new, upd, vanished, k) = poll(v, Some(&k), &rows, 60);
        assert_eq!(new, [format!("NEW/{q}")], "{}: only NEW is a listing; ETH/BTC is a known asset's new quote", v.name);
        assert!(upd.is_empty() && vanished == 0, "{}: a baseline flap is not reported", v.name);
        // FLAP trades again, NEW starts trading (an update of a new listing), GONE is back (a flap).
        let rows = [("ETH", q, true), ("ETH", "BTC", true), ("FLAP", q, true), ("NEW", q, true), ("GONE", q, true)];
        let (new, upd, vanished, k) = poll(v, Some(&k), &rows, 120);
        assert!(new.is_empty() && vanished == 0, "{}: {new:?}", v.name);
        assert_eq!(upd, [format!("NEW/{q}")], "{}", v.name);
        // GONE then stays away for three polls: vanished exactly once; NEW is never new again.
        let rows = [("ETH", q, true), ("ETH", "BTC", true), ("FLAP", q, true), ("NEW", q, true)];
        let mut state = k;
        let mut vanished_total = 0;
        for at in [180, 240, 300, 360] {
            let (new, upd, vanished, next) = poll(v, Some(&state), &rows, at);
            assert!(new.is_empty() && upd.is_empty(), "{}", v.name);
            vanished_total += vanished;
            if at == 240 {
                assert_eq!(vanished_total, 0, "{}: two polls away is a flap", v.name);
            }
            state = next;
        }
        assert_eq!(vanished_total, 1, "{}: vanished once after three polls", v.name);
    }
}

#[test]
fn announcement_page_paths() {
    use super::poll::page_path;
    let binance = super::binance::client::ANNOUNCEMENTS.endpoint.path;
    assert_eq!(page_path(binance, "pageNo", 3).unwrap(), "/bapi/composite/v1/public/cms/article/list/query?type=1&catalogId=48&pageNo=3&pageSize=20");
    assert_eq!(page_path("/a?page=1", "page", 2).unwrap(), "/a?page=2");
    assert_eq!(page_path("/a?x=1&page=10", "page", 2), None, "page=10 is not page 1");
    assert_eq!(page_path("/a?subpage=1", "page", 2), None);
    for d in [super::binance::client::ANNOUNCEMENTS, super::okx::client::ANNOUNCEMENTS, super::bybit::client::ANNOUNCEMENTS, super::kucoin::client::ANNOUNCEMENTS] {
        let param = d.page_param.unwrap();
        assert!(page_path(d.endpoint.path, param, 2).is_some(), "{}: {param}=1 in {}", d.venue, d.endpoint.path);
    }
    assert!(super::bitget::client::ANNOUNCEMENTS.page_param.is_none());
}
