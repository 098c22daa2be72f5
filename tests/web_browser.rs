//! The dashboard in headless Chromium (Debian `chromium` + `chromium-driver`, installed when missing),
//! against a DB produced by `nl demo`:
//! * every page renders with the demo's symbols and decisions (checked in the DOM), and is screenshotted
//!   to `<CARGO_TARGET_TMPDIR>/web_browser/*.png`;
//! * a listing the ledger commits while the page is open appears over SSE within 1 s;
//! * filters in the URL narrow the list;
//! * a token named `<script>alert(1)</script>` renders as text (no script runs, no alert) on the listings,
//!   candidates and asset pages, in the CSV export and in `nl list`;
//! * "mark reviewed" clicked on `nl web`'s asset page ends with `reviewed_at` set in the DB through the
//!   ledger (an `asset.reviewed` event, also in events.jsonl); a cross-site POST is refused.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nl_domain::{Envelope, EventType, Ts};
use serde_json::Value;
use support::webdriver::{Browser, http};

const EVIL: &str = "<script>alert(1)</script>";
const EVIL_ID: &str = "cex:okx:EVIL";
const RUN: &str = "nl_20261207_000000Z_webtest0";

fn shots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web_browser");
    std::fs::create_dir_all(&dir).expect("screens dir");
    dir
}

fn env(kind: EventType, parts: &[&str], ts: Ts, asset: &str, meta: Value) -> Envelope {
    Envelope::new(kind, parts, ts, RUN, "webtest", meta).with_asset(asset).with_source("okx_spot")
}

/// A CEX listing as the enricher announces it: `asset.upserted` with one OKX sighting, published 2 s before.
fn listing(asset: &str, symbol: &str, name: &str, ts: Ts) -> Envelope {
    let mut up = nl_testkit::listing_upsert(asset, symbol, ts);
    up.name = Some(name.into());
    up.sighting.status = Some("live".into());
    up.sighting.source_published_at = Some(ts - chrono::Duration::seconds(2));
    nl_testkit::upsert_envelope(&up, RUN)
}

/// A liquid snapshot and a promoted decision whose reason code is attacker-shaped too.
fn promoted(asset: &str, ts: Ts) -> Vec<Envelope> {
    let (s, d) = nl_testkit::liquid_promotion(asset, ts, &["PROMOTED", "<b>bold</b>"], "webtest");
    vec![
        env(EventType::SnapshotRecorded, &[asset, &ts.to_rfc3339()], ts, asset, serde_json::to_value(s).expect("json")),
        env(EventType::CandidatePromoted, &[asset, &ts.to_rfc3339()], ts, asset, serde_json::to_value(d).expect("json")),
    ]
}

fn now_ms() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis()).expect("ms")
}

fn rows_js() -> &'static str {
    "return Array.from(document.querySelectorAll('#rows tr[data-id], table.listings tbody tr[data-id]'))\
       .map(tr => ({id: tr.getAttribute('data-id'), sym: tr.querySelector('.sym').innerText,\
                    decision: (tr.querySelector('.badge') || {innerText: ''}).innerText}));"
}

fn rows(b: &Browser) -> Vec<(String, String, String)> {
    let v = b.js(rows_js());
    v.as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["id"].as_str().unwrap_or("").into(), r["sym"].as_str().unwrap_or("").into(), r["decision"].as_str().unwrap_or("").into()))
        .collect()
}

/// No script of the page's own besides app.js, no alert open, and the evil name shown as text.
fn assert_inert(b: &Browser, page: &str) {
    assert_eq!(b.js("return document.querySelectorAll('script').length"), Value::from(1), "{page}: an injected script element exists");
    assert_eq!(b.js("return document.querySelectorAll('img, b').length"), Value::from(0), "{page}: injected markup became elements");
    assert!(b.alert_text().is_none(), "{page}: an alert is open");
    let text = b.js("return document.body.innerText");
    assert!(text.as_str().unwrap_or("").contains(EVIL), "{page}: the token name is not shown as text");
}

#[test]
fn dashboard_in_headless_chromium() {
    let tmp = tempfile::tempdir().expect("tmp");
    let demo = support::demo(tmp.path(), "demo");

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let db = demo.join("new_listings.sqlite");
    // The ledger is the writer of the new listings this test publishes (the demo has exited).
    let store = rt.block_on(nl_ledger::LedgerStore::open(&nl_ledger::LedgerConfig::with_db_path(db.clone()))).expect("ledger");
    let reader = rt.block_on(nl_ledger::SqliteReader::open(&db, 2)).expect("reader");
    let bus: Arc<dyn nl_bus::Bus> = Arc::new(nl_bus::MemoryBus::default());
    let ctx = nl_bus::ServiceCtx::new(bus, nl_domain::RunIdentity { run_id: RUN.into(), config_hash: "webtest".into() });
    let cfg = nl_web::WebConfig { addr: "127.0.0.1:0".parse().expect("addr"), ..nl_web::WebConfig::default() };
    let web = rt.block_on(nl_web::WebService::bind(cfg, &ctx, Arc::new(reader))).expect("bind");
    let addr = web.local_addr().expect("addr").to_string();
    let stop = nl_bus::CancellationToken::new();
    let server = rt.spawn(web.serve(stop.clone()));
    let base = format!("http://{addr}");
    let shots = shots_dir();
    let b = Browser::start(1400, 1100);

    // New listings: the demo's DEX and CEX listings with their decisions (tick-0 pools are older than the
    // first-poll lookback, so the demo discovers pools from tick 1 on: SIMCB clean, SIMHB honeypot).
    b.goto(&format!("{base}/"));
    let all = rows(&b);
    let syms: Vec<&str> = all.iter().map(|r| r.1.as_str()).collect();
    for s in ["SIMCB", "SIMHB", "SIMCC", "SOKXB", "SANNB"] {
        assert!(syms.contains(&s), "{s} missing from {syms:?}");
    }
    let decision = |sym: &str| all.iter().find(|r| r.1 == sym).map(|r| r.2.clone()).unwrap_or_default();
    assert_eq!(decision("SIMCB"), "promoted");
    assert_eq!(decision("SIMHB"), "rejected");

    // Live: a listing committed now shows up on the open page over SSE within 1 s.
    b.wait_for("return document.getElementById('live').className === 'live on'", Duration::from_secs(10));
    b.js("window.__seen = null; const id = 'cex:okx:LIVE1';\
          new MutationObserver(() => { if (!window.__seen && document.querySelector(`tr[data-id=\"${id}\"]`)) window.__seen = Date.now(); })\
            .observe(document.getElementById('rows'), {childList: true, subtree: true}); return true;");
    let t = chrono::Utc::now();
    rt.block_on(store.apply(vec![listing("cex:okx:LIVE1", "LIVE1", "Live One", t)])).expect("commit");
    let committed = now_ms();
    let seen = b.wait_for("return window.__seen", Duration::from_secs(5)).as_i64().expect("ms");
    let delay = seen - committed;
    println!("SSE delay from ledger commit to the row in the DOM: {delay} ms");
    assert!(delay < 1000, "the new listing took {delay} ms to appear");
    assert_eq!(rows(&b).first().map(|r| r.1.clone()), Some("LIVE1".into()), "newest first");
    assert_eq!(b.js("return document.querySelector('tr[data-id=\"cex:okx:LIVE1\"]').className"), Value::from("new"), "a new row is highlighted");
    // The next change re-renders the rows: a row a few seconds old keeps its highlight through it.
    rt.block_on(store.apply(vec![listing("cex:okx:LIVE2", "LIVE2", "Live Two", chrono::Utc::now())])).expect("commit");
    b.wait_for("return document.querySelector('tr[data-id=\"cex:okx:LIVE2\"]') !== null", Duration::from_secs(5));
    let classes = b.js("return ['LIVE1', 'LIVE2'].map(s => document.querySelector(`tr[data-id=\"cex:okx:${s}\"]`).className)");
    assert_eq!(classes, serde_json::json!(["new", "new"]), "both new rows stay highlighted after a re-render");
    b.screenshot(&shots.join("listings.png"));

    // Filters in the URL narrow the list.
    b.goto(&format!("{base}/?decision=promoted"));
    let promoted_rows = rows(&b);
    assert!(!promoted_rows.is_empty() && promoted_rows.len() < all.len(), "{promoted_rows:?}");
    assert!(promoted_rows.iter().all(|r| r.2 == "promoted"), "{promoted_rows:?}");
    b.goto(&format!("{base}/?q=simh"));
    let found = rows(&b);
    assert!(!found.is_empty() && found.iter().all(|r| r.1.starts_with("SIMH")), "{found:?}");
    b.goto(&format!("{base}/?kind=cex&venue=okx"));
    let okx = rows(&b);
    assert!(!okx.is_empty() && okx.iter().all(|r| r.0.starts_with("cex:okx:")), "{okx:?}");
    b.goto(&format!("{base}/?min_liq=1000000000"));
    assert!(rows(&b).is_empty());
    assert_eq!(b.js("return document.querySelector('input[name=min_liq]').value"), Value::from("1000000000"), "the form shows the URL's filter");

    // Candidates: the promoted DEX pools, with why they passed.
    b.goto(&format!("{base}/candidates"));
    let cands = rows(&b);
    let cand_syms: Vec<&str> = cands.iter().map(|r| r.1.as_str()).collect();
    assert!(cand_syms.contains(&"SIMCB") && !cand_syms.contains(&"SIMHB"), "{cand_syms:?}");
    assert!(b.js("return document.body.innerText").as_str().unwrap_or("").contains("PASS:honeypot"), "reasons shown");
    b.screenshot(&shots.join("candidates.png"));

    // Asset detail: decision with reason codes, config_hash and rule set; risk verdicts; SVG charts.
    let simhb = all.iter().find(|r| r.1 == "SIMHB").map(|r| r.0.clone()).expect("SIMHB");
    b.goto(&format!("{base}/asset/{simhb}"));
    assert_eq!(b.js("return document.getElementById('decision').innerText"), Value::from("rejected"));
    let text = b.js("return document.body.innerText").as_str().unwrap_or("").to_string();
    for want in ["HARD_FAIL:honeypot", "config_hash", "risk-rules-v1", "honeypot", "goplus", "Timeline", "candidate.rejected", "score breakdown"] {
        assert!(text.contains(want), "asset page lacks {want:?}");
    }
    assert!(b.js("return document.querySelectorAll('.badge.fail').length").as_u64().unwrap_or(0) >= 1, "a failed check");
    assert!(b.js("return document.querySelectorAll('.chart svg').length").as_u64().unwrap_or(0) >= 3, "price, liquidity and score charts");
    b.screenshot(&shots.join("asset.png"));
    // It fits the 1400 px window: nothing (the risk-check table's last column) runs off to the right.
    let fit = b.js("const m = document.querySelector('main'), d = document.documentElement;\
                    return [m.scrollWidth, m.clientWidth, d.scrollWidth, d.clientWidth];");
    let w: Vec<u64> = fit.as_array().expect("widths").iter().map(|v| v.as_u64().unwrap_or(0)).collect();
    assert!(w[0] <= w[1] && w[2] <= w[3], "the asset page overflows horizontally (main {}/{}, page {}/{})", w[0], w[1], w[2], w[3]);
    // Reason codes wrap between codes, never inside one; check values read as values, not JSON.
    assert_eq!(b.js("return Array.from(document.querySelectorAll('code.reason')).filter(c => c.getClientRects().length !== 1).length"), Value::from(0), "a reason code split over lines");
    let value = b.js("const r = Array.from(document.querySelectorAll('table.checks tr')).find(tr => tr.innerText.startsWith('low_liquidity'));\
                      return r ? r.querySelector('td.value').innerText : null;");
    assert_eq!(value, Value::from("250,000"), "the low_liquidity value");

    // The announcement link is the announcement's own URL (the simulator's OKX feed), not the sighting's
    // instrument id `<announcement id>:<SYMBOL>`.
    let sannb = all.iter().find(|r| r.1 == "SANNB").map(|r| r.0.clone()).expect("SANNB");
    b.goto(&format!("{base}/asset/{sannb}"));
    let hrefs = b.js("return Array.from(document.querySelectorAll('main a[href]')).map(a => a.getAttribute('href'))");
    let hrefs: Vec<&str> = hrefs.as_array().expect("hrefs").iter().filter_map(Value::as_str).collect();
    assert!(hrefs.contains(&"https://www.okx.com/help/okx-to-list-simulated-sannb"), "no link to the announcement: {hrefs:?}");
    assert!(!hrefs.iter().any(|h| h.ends_with(":SANNB")), "a link built from the instrument id: {hrefs:?}");

    // Sources and runs.
    b.goto(&format!("{base}/sources"));
    let text = b.js("return document.body.innerText").as_str().unwrap_or("").to_string();
    for want in ["okx_spot", "geckoterminal", "Runs", "completed"] {
        assert!(text.contains(want), "sources page lacks {want:?}");
    }
    // Each demo run's slice of events.jsonl, as its runs/<run_id>/manifest.json records it (the page
    // reads it from the ledger, not the file).
    let manifests: Vec<Value> = std::fs::read_dir(demo.join("runs"))
        .expect("runs dir")
        .filter_map(|d| std::fs::read(d.expect("entry").path().join("manifest.json")).ok())
        .map(|b| serde_json::from_slice(&b).expect("manifest json"))
        .collect();
    assert_eq!(manifests.len(), 3, "one manifest per cycle");
    for m in &manifests {
        let e = &m["events"];
        assert!(e["count"].as_u64().unwrap_or(0) > 0 && e["end"].as_u64() > e["start"].as_u64(), "{m}");
        let want = format!("events.jsonl bytes {}..{} ({} events)", e["start"], e["end"], e["count"]);
        assert!(text.contains(&want), "sources page lacks {want:?} of run {}", m["run_id"]);
    }
    b.screenshot(&shots.join("sources.png"));
    // Only the live listings page carries the live badge; a page without live updates shows none.
    assert_eq!(b.js("return document.getElementById('live') === null"), Value::Bool(true), "a live badge on /sources");
    b.goto(&format!("{base}/candidates"));
    assert_eq!(b.js("return document.getElementById('live') === null"), Value::Bool(true), "a live badge on /candidates");

    // An attacker-named token renders as text everywhere.
    let t = chrono::Utc::now();
    let mut evil = vec![listing(EVIL_ID, EVIL, "<img src=x onerror=alert(2)>", t)];
    evil.extend(promoted(EVIL_ID, t));
    rt.block_on(store.apply(evil)).expect("commit");
    b.goto(&format!("{base}/"));
    assert_inert(&b, "listings");
    b.goto(&format!("{base}/candidates"));
    assert_inert(&b, "candidates");
    b.goto(&format!("{base}/asset/{EVIL_ID}"));
    assert_inert(&b, "asset");
    b.screenshot(&shots.join("escaped.png"));
    let (status, csv) = http(&addr, "GET", "/export.csv?q=EVIL", &[], None);
    assert_eq!(status, 200);
    assert!(csv.lines().nth(1).unwrap_or("").contains(",<script>alert(1)</script>,"), "{csv}");
    let mut c = support::nl(tmp.path(), &[]);
    c.args(["list", "--search", "EVIL", "--out-dir"]).arg(&demo);
    let o = support::run(c);
    assert!(o.status.success() && support::stdout(&o).contains(EVIL), "{}", support::stdout(&o));

    // "Mark reviewed" on `nl web` (the embedded path `nl review` takes: events.jsonl, then the ledger). A
    // cross-site POST is refused first, and nothing is written.
    let mut c = support::nl(tmp.path(), &[]);
    c.args(["web", "--addr", "127.0.0.1:0", "--out-dir"]).arg(&demo);
    let mut nl_web = support::spawn_piped(c);
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(nl_web.stdout.take().expect("stdout")), &mut first).expect("nl web's address line");
    let addr2 = first.split("http://").nth(1).and_then(|r| r.split('/').next()).unwrap_or_else(|| panic!("no address in {first:?}")).to_string();
    let reviewed_at = || -> Option<String> {
        rt.block_on(sqlx::query_scalar("SELECT reviewed_at FROM assets WHERE asset_id = ?").bind(EVIL_ID).fetch_one(store.reader().pool())).expect("query")
    };
    let path = format!("/asset/{EVIL_ID}/review");
    let (status, body) = http(&addr2, "POST", &path, &[("Origin", "http://evil.example")], None);
    assert_eq!(status, 403, "{body}");
    let (status, _) = http(&addr2, "POST", &path, &[("Sec-Fetch-Site", "cross-site")], None);
    assert_eq!(status, 403);
    let (status, _) = http(&addr2, "GET", &path, &[], None);
    assert_eq!(status, 405, "POST only");
    assert_eq!(reviewed_at(), None);
    b.goto(&format!("http://{addr2}/asset/{EVIL_ID}"));
    assert_eq!(b.js("return document.getElementById('reviewed').innerText"), Value::from("not yet"));
    b.js("document.querySelector('form.review button').click(); return true;");
    b.wait_for("const r = document.getElementById('reviewed'); return r && r.innerText !== 'not yet'", Duration::from_secs(10));
    assert_eq!(b.js("return document.querySelector('form.review button').disabled"), Value::Bool(true), "reviewed: the button is disabled");
    assert!(reviewed_at().is_some(), "reviewed_at is set in the DB");
    let log = std::fs::read_to_string(demo.join("events.jsonl")).expect("events.jsonl");
    let line = log.lines().rev().find(|l| l.contains("\"asset.reviewed\"")).expect("asset.reviewed in events.jsonl");
    assert!(line.contains(EVIL_ID) && line.contains("\"source\":\"web\""), "{line}");
    b.screenshot(&shots.join("reviewed.png"));
    drop(nl_web);

    drop(b);
    stop.cancel();
    let counts = rt.block_on(server).expect("join").expect("serve");
    assert!(counts.live_pushes >= 2 && counts.pages >= 10, "{counts:?}");
    println!("screenshots in {}", shots.display());
}
