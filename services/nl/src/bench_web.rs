//! `nl bench web`: the dashboard on a large ledger. Fills a scratch DB through the ledger store with
//! `--events` assets (10 events each: a sighting, six snapshots, a risk evaluation, a score and a decision;
//! 100,000 assets = 1,000,000 events), serves it, and measures over HTTP on loopback:
//! * the listings page (200 rows), unfiltered and filtered, and one asset page: p50/p95/max render time,
//!   next to the `LedgerReader::listings` query alone (the baseline, same run);
//! * the SSE delay: a listing committed by the ledger to its row arriving on an open `/live` stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use nl_domain::{AssetId, Decimal, Decision, Envelope, EventType, GateDecision, LedgerReader, ListingQuery, RiskEvaluation, ScoreRecord, Snapshot, Ts};
use nl_ledger::{LedgerConfig, LedgerStore};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::bench::collector::percentile;

/// Requests timed per page kind, and SSE rounds.
const REQUESTS: usize = 50;
const SSE_ROUNDS: usize = 20;
/// Envelopes per ledger transaction while filling.
const FILL_BATCH: usize = 5_000;

const RUN: &str = "nl_20261207_000000Z_benchweb";

fn env(kind: EventType, parts: &[&str], ts: Ts, asset: &str, meta: Value) -> Envelope {
    Envelope::new(kind, parts, ts, RUN, "bench", meta).with_asset(asset).with_source("bench")
}

fn asset_id(i: usize) -> String {
    if i % 5 == 0 { format!("cex:okx:TK{i}") } else { format!("eth:0x{i:040x}") }
}

/// The ten events of asset `i`, first seen at `t`.
fn asset_events(i: usize, t: Ts) -> anyhow::Result<Vec<Envelope>> {
    let id = asset_id(i);
    let asset = AssetId::parse(&id)?;
    let mut up = nl_testkit::listing_upsert(&id, &format!("TK{i}"), t);
    up.name = Some(format!("Token {i}"));
    up.sighting.source_published_at = Some(t - chrono::Duration::seconds(3));
    let mut out = vec![nl_testkit::upsert_envelope(&up, RUN)];
    for k in 0..6_i64 {
        let at = t + chrono::Duration::minutes(k + 1);
        let s = Snapshot {
            asset_id: asset.clone(),
            observed_at: at,
            source: "bench".into(),
            price_usd: Some(Decimal::new(1000 + k, 3)),
            fdv_usd: None,
            market_cap_usd: None,
            liquidity_usd: Some(Decimal::from((i % 100) as u64 * 1000 + k as u64)),
            volume_24h_usd: None,
            holders: Some(100),
            age_minutes: Some(k),
            raw_event_id: None,
        };
        out.push(env(EventType::SnapshotRecorded, &[&id, &k.to_string()], at, &id, serde_json::to_value(s)?));
    }
    let at = t + chrono::Duration::minutes(7);
    let r = RiskEvaluation { asset_id: asset.clone(), rule_set_version: "r1".into(), evaluated_at: at, checks: vec![], severity: 0, disagreements: vec![] };
    out.push(env(EventType::RiskEvaluated, &[&id, "r"], at, &id, serde_json::to_value(r)?));
    let s = ScoreRecord { asset_id: asset.clone(), score: Decimal::from(i % 100), components: vec![], reason: "bench".into(), formula_version: "f1".into(), computed_at: at };
    out.push(env(EventType::ScoreComputed, &[&id, "s"], at, &id, serde_json::to_value(s)?));
    let promoted = i % 3 == 0;
    let d = GateDecision {
        asset_id: asset,
        decision: if promoted { Decision::Promoted } else { Decision::Rejected },
        reason_codes: vec![if promoted { "PROMOTED".into() } else { "SCORE_BELOW_THRESHOLD".into() }],
        rule_set_version: "r1".into(),
        config_hash: "bench".into(),
        inputs: vec![],
        decided_at: at,
    };
    let kind = if promoted { EventType::CandidatePromoted } else { EventType::CandidateRejected };
    out.push(env(kind, &[&id, "d"], at, &id, serde_json::to_value(d)?));
    Ok(out)
}

/// One GET over a fresh connection; the status and the body length.
async fn get(addr: &str, path: &str) -> anyhow::Result<(u16, usize)> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let status = std::str::from_utf8(buf.get(9..12).unwrap_or_default()).unwrap_or("0").parse().unwrap_or(0);
    Ok((status, buf.len()))
}

fn line(label: &str, mut xs: Vec<Duration>) {
    xs.sort();
    println!(
        "  {label:<44} p50 {:>8.1} ms  p95 {:>8.1} ms  max {:>8.1} ms",
        percentile(&xs, 0.5).as_secs_f64() * 1e3,
        percentile(&xs, 0.95).as_secs_f64() * 1e3,
        xs.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
}

async fn time_page(addr: &str, path: &str) -> anyhow::Result<Vec<Duration>> {
    let mut xs = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let t = Instant::now();
        let (status, _) = get(addr, path).await?;
        xs.push(t.elapsed());
        anyhow::ensure!(status == 200, "GET {path} answered {status}");
    }
    Ok(xs)
}

/// Runs the bench on `n` assets.
///
/// # Errors
/// When the store, the server or a request fails.
pub async fn web(n: usize) -> anyhow::Result<()> {
    println!("nl bench web: {n} assets, {} events, {} build", n * 10, if cfg!(debug_assertions) { "DEBUG (use --release)" } else { "release" });
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("new_listings.sqlite");
    let store = LedgerStore::open(&LedgerConfig::with_db_path(db.clone())).await?;
    let t0 = chrono::Utc::now() - chrono::Duration::days(30);
    let fill = Instant::now();
    let mut batch = Vec::with_capacity(FILL_BATCH);
    for i in 0..n {
        batch.extend(asset_events(i, t0 + chrono::Duration::seconds(i as i64 * 20))?);
        if batch.len() >= FILL_BATCH {
            store.apply(std::mem::take(&mut batch)).await?;
        }
    }
    store.apply(batch).await?;
    println!("  filled in {:.1} s", fill.elapsed().as_secs_f64());

    let reader = Arc::new(nl_ledger::SqliteReader::open(&db, 4).await?);
    let bus: Arc<dyn nl_bus::Bus> = Arc::new(nl_bus::MemoryBus::default());
    let ctx = nl_bus::ServiceCtx::new(bus, nl_domain::RunIdentity { run_id: RUN.into(), config_hash: "bench".into() });
    let cfg = nl_web::WebConfig { addr: "127.0.0.1:0".parse()?, ..nl_web::WebConfig::default() };
    let web = nl_web::WebService::bind(cfg, &ctx, reader.clone()).await?;
    let addr = web.local_addr()?.to_string();
    let stop = nl_bus::CancellationToken::new();
    let server = tokio::spawn(web.serve(stop.clone()));

    let mut base = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let t = Instant::now();
        let rows = reader.listings(&ListingQuery::default()).await?;
        base.push(t.elapsed());
        anyhow::ensure!(rows.len() == 200, "expected 200 rows, got {}", rows.len());
    }
    line("baseline: LedgerReader::listings (200 rows)", base);
    line("GET / (listings page, 200 rows)", time_page(&addr, "/").await?);
    line("GET /?decision=promoted&min_liq=50000", time_page(&addr, "/?decision=promoted&min_liq=50000").await?);
    line("GET /?q=TK9999 (text search)", time_page(&addr, "/?q=TK9999").await?);
    line("GET /candidates", time_page(&addr, "/candidates").await?);
    line("GET /asset/<id> (6 snapshots, charts)", time_page(&addr, &format!("/asset/{}", asset_id(n / 2 + 1))).await?);

    line("SSE delay, ledger commit -> row on /live", sse_delays(&addr, &store).await?);
    stop.cancel();
    server.await.context("joining the server")??;
    Ok(())
}

/// Commits `SSE_ROUNDS` new listings one at a time and times each from the commit's return to its row on
/// an open `/live` stream.
async fn sse_delays(addr: &str, store: &LedgerStore) -> anyhow::Result<Vec<Duration>> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(format!("GET /live HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").as_bytes()).await?;
    let mut seen = String::new();
    let mut buf = vec![0u8; 1 << 16];
    read_until(&mut s, &mut buf, "event: rows", &mut seen).await?;
    let mut xs = Vec::with_capacity(SSE_ROUNDS);
    for k in 0..SSE_ROUNDS {
        let id = format!("cex:okx:LIVE{k}");
        let up = nl_testkit::listing_upsert(&id, &format!("LIVE{k}"), chrono::Utc::now());
        store.apply(vec![nl_testkit::upsert_envelope(&up, RUN)]).await?;
        let committed = Instant::now();
        read_until(&mut s, &mut buf, &format!("data-id=\"{id}\""), &mut seen).await?;
        xs.push(committed.elapsed());
    }
    Ok(xs)
}

/// Reads the stream until `needle` has arrived (at most 10 s per read), then forgets what was read.
async fn read_until(s: &mut TcpStream, buf: &mut [u8], needle: &str, seen: &mut String) -> anyhow::Result<()> {
    while !seen.contains(needle) {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(buf)).await.context("no SSE event within 10 s")??;
        anyhow::ensure!(n > 0, "the SSE stream closed");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    seen.clear();
    Ok(())
}
