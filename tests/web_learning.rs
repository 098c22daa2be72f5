//! The dashboard's learning-book page (page 5) in headless Chromium, on `nl web` over a DB produced by
//! `nl demo` (plus a few listings whose price moves over later snapshots, committed through the ledger:
//! the demo snapshots each asset once, so nothing it lists could fill), with paper data made the way an
//! operator makes it (the `/v1` ops API `nl web` serves):
//! * before any paper session or backtest, `/learning` says how to start one (`nl backtest ...`);
//! * after an experiment is created and set running and a backtest with the learning book ran, the page
//!   shows the experiment with its status, the profit book's and the learning book's PnL side by side
//!   (the same figures as `GET /v1/reports/{run_id}`), an SVG chart, blocks by reason and the fills;
//! * `/learning/{experiment_id}` shows the spec and its results, and an attacker-shaped question renders
//!   as text.
//!
//! Screenshots go to `<CARGO_TARGET_TMPDIR>/web_browser/learning*.png`.

use crate::support;

use std::path::{Path, PathBuf};

use nl_domain::{Decimal, Decision, Envelope, EventType, Ts};
use serde_json::{Value, json};
use support::webdriver::{Browser, http};

const EVIL: &str = "<script>alert(1)</script>";
const RUN: &str = "nl_20261207_000000Z_paperweb";

fn env(kind: EventType, ts: Ts, asset: &str, meta: Value) -> Envelope {
    Envelope::new(kind, &[asset, &ts.to_rfc3339()], ts, RUN, "webtest", meta).with_asset(asset).with_source("okx_spot")
}

/// CEX listings an hour ago, each with a gate decision and snapshots after it whose price (from 1.2) moves
/// to `to`: up 75 % (both books take profit), down 40 % (both stop out), flat (held open); one rejected
/// (only the learning book explores it).
fn moving_listings() -> Vec<Envelope> {
    let t0 = chrono::Utc::now() - chrono::Duration::hours(1);
    let mut out = Vec::new();
    for (i, (sym, decision, to)) in
        [("PUP", Decision::Promoted, 21), ("PDOWN", Decision::Promoted, 7), ("PFLAT", Decision::Promoted, 12), ("PREJ", Decision::Rejected, 21)]
            .into_iter()
            .enumerate()
    {
        let asset = format!("cex:okx:{sym}");
        let t = t0 + chrono::Duration::minutes(i64::try_from(i).expect("i") * 3);
        out.push(nl_testkit::upsert_envelope(&nl_testkit::listing_upsert(&asset, sym, t), RUN));
        let (snap, mut d) = nl_testkit::liquid_promotion(&asset, t, &["PROMOTED"], "webtest");
        d.decision = decision;
        let kind = if decision == Decision::Promoted { EventType::CandidatePromoted } else { EventType::CandidateRejected };
        out.push(env(EventType::SnapshotRecorded, t, &asset, serde_json::to_value(&snap).expect("json")));
        out.push(env(kind, t, &asset, serde_json::to_value(&d).expect("json")));
        for (secs, price) in [(5, 12), (600, to), (1200, to)] {
            let at = t + chrono::Duration::seconds(secs);
            let mut s = snap.clone();
            s.observed_at = at;
            s.price_usd = Some(Decimal::new(price, 1));
            out.push(env(EventType::SnapshotRecorded, at, &asset, serde_json::to_value(&s).expect("json")));
        }
    }
    out
}

fn shots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web_browser");
    std::fs::create_dir_all(&dir).expect("screens dir");
    dir
}

fn text(b: &Browser) -> String {
    b.js("return document.body.innerText").as_str().unwrap_or("").to_string()
}

fn ok(status: u16, body: &str, want: u16) -> Value {
    assert_eq!(status, want, "{body}");
    serde_json::from_str(body).expect("json body")
}

#[test]
fn learning_book_page_in_headless_chromium() {
    let tmp = tempfile::tempdir().expect("tmp");
    let demo = support::demo(tmp.path(), "demo");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let store = nl_ledger::LedgerStore::open(&nl_ledger::LedgerConfig::with_db_path(demo.join("new_listings.sqlite"))).await.expect("ledger");
        store.apply(moving_listings()).await.expect("commit");
    });

    let mut c = support::nl(tmp.path(), &[]);
    c.args(["web", "--addr", "127.0.0.1:0", "--out-dir"]).arg(&demo);
    let mut web = support::spawn_piped(c);
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(web.stdout.take().expect("stdout")), &mut first).expect("nl web's address line");
    let addr = first.split("http://").nth(1).and_then(|r| r.split('/').next()).unwrap_or_else(|| panic!("no address in {first:?}")).to_string();
    let base = format!("http://{addr}");
    let shots = shots_dir();
    let b = Browser::start(1400, 1100);

    // Empty state: how to start a backtest or a paper session; the nav shows the page.
    b.goto(&format!("{base}/learning"));
    assert_eq!(b.js("return document.querySelector('nav a.active').innerText"), Value::from("Learning book"));
    assert_eq!(b.js("return document.querySelectorAll('#howto').length"), Value::from(1), "the empty state");
    let t = text(&b);
    assert!(t.contains("nl backtest --from") && t.contains("nl paper start") && t.contains("nl experiment create"), "{t}");
    b.screenshot(&shots.join("learning_empty.png"));

    // An experiment (its question attacker-shaped), approved and running; then a backtest of the demo's
    // recorded events with the learning book on.
    let mut spec: Value = serde_json::from_str(&support::experiment_spec("explore", json!([]))).expect("spec");
    spec["question"] = Value::from(format!("Do rejected listings run up? {EVIL}"));
    let (status, body) = http(&addr, "POST", "/v1/experiments", &[], Some(&spec.to_string()));
    ok(status, &body, 201);
    for step in ["approved", "running"] {
        let (status, body) = http(&addr, "PATCH", "/v1/experiments/explore/status", &[], Some(&format!(r#"{{"status":"{step}"}}"#)));
        ok(status, &body, 200);
    }
    let req = r#"{"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z", "learning_book_enabled": true, "experiment_id": "explore"}"#;
    let (status, body) = http(&addr, "POST", "/v1/backtests", &[], Some(req));
    let run_id = ok(status, &body, 201)["run_id"].as_str().expect("run_id").to_string();
    let (status, body) = http(&addr, "GET", &format!("/v1/reports/{run_id}?group_by=book"), &[], None);
    let report = ok(status, &body, 200);
    let pnl = |book: &str| {
        report["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["book"] == book)
            .map(|g| g["pnl_usd"].clone())
            .unwrap_or_else(|| panic!("no {book} group in {report}"))
    };

    // The overview: the experiment and its status, this run selected, both books' PnL as the report has
    // them, the chart, the per-experiment row, and fills.
    b.goto(&format!("{base}/learning"));
    assert_eq!(b.js("return document.querySelector('tr[data-experiment=\"explore\"] .badge').innerText"), Value::from("running"));
    assert_eq!(b.js("return document.getElementById('run').getAttribute('data-run')"), Value::from(run_id.as_str()), "the newest run is shown");
    for book in ["profit", "learning"] {
        let shown = b.js(&format!("return document.querySelector('.book.{book} .pnl').getAttribute('data-pnl')"));
        assert_eq!(shown.as_str(), pnl(book).as_str(), "{book} book PnL on the page vs the /v1 report {report}");
    }
    let t = text(&b);
    for want in ["Profit book", "Learning book", "Blocks by reason", "Learning book by experiment", "Recent fills", "explore", "mean_return_pct"] {
        assert!(t.contains(want), "the learning page lacks {want:?}");
    }
    assert!(b.js("return document.querySelectorAll('.chart svg').length").as_u64().unwrap_or(0) >= 1, "a cumulative PnL chart");
    assert!(b.js("return document.querySelectorAll('table.fills tr[data-fill]').length").as_u64().unwrap_or(0) >= 1, "fills listed");
    assert!(b.js("return document.querySelectorAll('table.per-experiment tbody tr').length").as_u64().unwrap_or(0) >= 1, "a learning row per experiment");
    assert_eq!(b.js("return document.querySelectorAll('script').length"), Value::from(1), "no injected script element");
    assert!(b.alert_text().is_none(), "an alert is open");
    b.screenshot(&shots.join("learning.png"));
    b.js("document.querySelector('table.per-experiment').scrollIntoView(); return true;");
    b.screenshot(&shots.join("learning_fills.png"));

    // One experiment: the spec, its question as text, its results in this run, a chart.
    b.goto(&format!("{base}/learning/explore"));
    let t = text(&b);
    assert!(t.contains(EVIL), "the question is shown as text");
    assert!(t.contains("Results by run") && t.contains(&run_id), "{t}");
    assert_eq!(b.js("return document.querySelectorAll('script').length"), Value::from(1), "no injected script element");
    assert!(b.js("return document.querySelectorAll('.chart svg').length").as_u64().unwrap_or(0) >= 1, "a chart on the experiment page");
    b.screenshot(&shots.join("learning_experiment.png"));
    // CSV exports of the run: the report (as `nl report --format csv`) and its fills.
    let (status, csv) = http(&addr, "GET", &format!("/learning/report.csv?run={run_id}"), &[], None);
    assert_eq!(status, 200, "{csv}");
    assert!(csv.starts_with("book,experiment_id,") && csv.lines().any(|l| l.starts_with("learning,explore,")), "{csv}");
    let (status, csv) = http(&addr, "GET", &format!("/learning/fills.csv?run={run_id}"), &[], None);
    assert_eq!(status, 200, "{csv}");
    assert!(csv.starts_with("filled_at,fill_id,") && csv.lines().count() >= 2 && csv.contains(",learning,explore,"), "{csv}");
    let (status, _) = http(&addr, "GET", "/learning/fills.csv", &[], None);
    assert_eq!(status, 400, "a run is required");
    let (status, _) = http(&addr, "GET", "/learning/nope", &[], None);
    assert_eq!(status, 404);
    let (status, _) = http(&addr, "GET", "/learning?run=nope", &[], None);
    assert_eq!(status, 404);
    drop(web);
    println!("screenshots in {}", shots.display());
}
