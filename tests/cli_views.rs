//! The read-side CLI views over an `nl demo` DB: `nl list` in its three formats and with its filters,
//! `nl candidates`, and `nl show`, including the errors a mistyped argument gets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crate::support;

use serde_json::Value;

fn views(demo: &Path, args: &[&str]) -> std::process::Output {
    let mut c = support::nl(demo, &[]);
    c.args(args).arg("--out-dir").arg(demo);
    support::run(c)
}

fn json_rows(demo: &Path, args: &[&str]) -> Vec<Value> {
    let o = views(demo, &[args, &["--format", "json"]].concat());
    assert!(o.status.success(), "{args:?}: {}", support::stderr(&o));
    serde_json::from_str::<Value>(&support::stdout(&o)).unwrap().as_array().unwrap().clone()
}

fn symbols(rows: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = rows.iter().map(|r| r["symbol"].as_str().unwrap().to_string()).collect();
    s.sort();
    s
}

#[test]
fn list_candidates_and_show_read_the_demo_as_a_desk_would() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = support::demo(tmp.path(), "demo");

    // CSV: a fixed header (what a spreadsheet or script keys on) and every row as wide as it.
    let o = views(&demo, &["list", "--format", "csv"]);
    assert!(o.status.success(), "{}", support::stderr(&o));
    let text = support::stdout(&o);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert_eq!(
        header,
        "first_seen_at,asset_id,symbol,name,chain,kind,venues,sources,latency_ms,price_usd,liquidity_usd,score,decision,reason_codes,risk_pass,risk_fail,risk_unknown,reviewed_at"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() >= 10, "{text}");
    assert!(rows.iter().all(|r| r.len() == 18), "every row has the header's 18 fields: {text}");
    let simcc = rows.iter().find(|r| r[2] == "SIMCC").expect("SIMCC listed");
    assert_eq!((simcc[11], simcc[12]), ("81.32", "promoted"));

    // Filters: each row returned matches, and the filter does narrow the list.
    let all = json_rows(&demo, &["list"]);
    let promoted = json_rows(&demo, &["list", "--decision", "promoted"]);
    assert_eq!(symbols(&promoted), ["SIMCB", "SIMCC"]);
    let liquid = json_rows(&demo, &["list", "--min-liquidity", "100000"]);
    assert!(!liquid.is_empty() && liquid.len() < all.len(), "{} of {}", liquid.len(), all.len());
    assert!(liquid.iter().all(|r| r["liquidity_usd"].as_str().and_then(|l| l.parse::<f64>().ok()).is_some_and(|l| l >= 100_000.0)), "{liquid:?}");
    let eth = json_rows(&demo, &["list", "--chain", "eth"]);
    assert!(!eth.is_empty() && eth.len() < all.len() && eth.iter().all(|r| r["chain"] == "eth"), "{eth:?}");
    let cex = json_rows(&demo, &["list", "--kind", "cex", "--venue", "okx"]);
    assert!(!cex.is_empty() && cex.iter().all(|r| r["kind"] == "cex" && r["venues"].as_array().unwrap().contains(&Value::from("okx"))), "{cex:?}");
    assert_eq!(json_rows(&demo, &["list", "--limit", "3"]).len(), 3);

    // Candidates: exactly the promoted ones, and the table says why.
    assert_eq!(symbols(&json_rows(&demo, &["candidates"])), ["SIMCB", "SIMCC"]);
    let o = views(&demo, &["candidates"]);
    let table = support::stdout(&o);
    assert!(table.contains("PROMOTED") && table.contains("2 listing(s)"), "{table}");

    // Show: one asset in full; an unknown one and a bad duration fail, saying what is wrong.
    let id = promoted.iter().find(|r| r["symbol"] == "SIMCC").unwrap()["asset_id"].as_str().unwrap().to_string();
    let o = views(&demo, &["show", &id]);
    let shown = support::stdout(&o);
    assert!(o.status.success() && shown.contains("SIMCC Simulated SIMCC") && shown.contains("liquidity 250000"), "{shown}");
    let o = views(&demo, &["show", "cex:okx:NOPE"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(support::stderr(&o).contains("no asset cex:okx:NOPE in the ledger"), "{}", support::stderr(&o));
    let o = views(&demo, &["list", "--since", "5x"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(support::stderr(&o).contains("expected a duration such as 90s"), "{}", support::stderr(&o));
}
