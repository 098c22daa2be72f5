//! The store: idempotence, derivations, invalid metas, outbox, cursors, group commit.

use nl_domain::{Envelope, EventType, RawEvent};
use nl_testkit::bench_envelopes;
use serde_json::json;

use crate::fixtures::*;

#[tokio::test]
async fn same_10k_events_twice_leave_10k_rows() {
    let t = open().await;
    let envs = bench_envelopes(10_000);
    let first = t.store.apply(envs.clone()).await.unwrap();
    assert_eq!(first.new.len(), 10_000);
    assert!(first.duplicates.is_empty());
    let second = t.store.apply(envs.clone()).await.unwrap();
    assert!(second.new.is_empty());
    assert_eq!(second.duplicates.len(), 10_000);
    assert_eq!(count(&t.store, "events").await, 10_000);

    // Duplicates inside one batch, and across concurrent callers sharing a group commit.
    let mut doubled = envs[..100].to_vec();
    doubled.extend_from_slice(&envs[..100]);
    let again = t.store.apply(doubled).await.unwrap();
    assert_eq!(again.duplicates.len(), 200);
    let tasks: Vec<_> = envs.chunks(500).map(|c| tokio::spawn({
        let s = t.store.clone();
        let c = c.to_vec();
        async move { s.apply(c).await.unwrap() }
    })).collect();
    for task in tasks {
        assert!(task.await.unwrap().new.is_empty());
    }
    assert_eq!(count(&t.store, "events").await, 10_000);
}

#[tokio::test]
async fn in_batch_duplicate_counts_once() {
    let t = open().await;
    let e = snapshot("cex:okx:NEW", at(1), Some("5"), "a");
    let out = t.store.apply(vec![e.clone(), e.clone()]).await.unwrap();
    assert_eq!(out.new, vec![e.event_id.clone()]);
    assert_eq!(out.duplicates, vec![e.event_id.clone()]);
    assert_eq!(count(&t.store, "market_snapshots").await, 1);
}

#[tokio::test]
async fn concurrent_callers_are_group_committed_and_each_answered() {
    let t = open_with(|c| c.batch_size = 10_000).await;
    let envs = bench_envelopes(2_000);
    let mut tasks = Vec::new();
    for chunk in envs.chunks(50) {
        let s = t.store.clone();
        let c = chunk.to_vec();
        tasks.push(tokio::spawn(async move { (c.len(), s.apply(c).await.unwrap()) }));
    }
    for task in tasks {
        let (n, out) = task.await.unwrap();
        assert_eq!(out.new.len(), n, "each caller hears about exactly its own envelopes");
    }
    assert_eq!(count(&t.store, "events").await, 2_000);
}

#[tokio::test]
async fn asset_merge_derives_discovered_then_updated() {
    let t = open().await;
    let a = "cex:okx:NEW";
    let first = upsert(a, "okx_instruments", "NEW-USDT", Some("preopen"), at(1));
    let out = t.store.apply(vec![first.clone()]).await.unwrap();
    assert_eq!(out.derived.len(), 1);
    let discovered = &out.derived[0];
    assert_eq!(discovered.kind, EventType::AssetDiscovered);
    assert_eq!(discovered.asset_id.as_deref(), Some(a));
    assert_eq!(discovered.ts, first.ts);
    assert_eq!(discovered.run_id, RUN);

    // Redelivery: a duplicate derives nothing.
    assert!(t.store.apply(vec![first.clone()]).await.unwrap().derived.is_empty());
    // Same sighting, same status, later: quiet.
    let quiet = upsert(a, "okx_instruments", "NEW-USDT", Some("preopen"), at(2));
    assert!(t.store.apply(vec![quiet]).await.unwrap().derived.is_empty());

    // A new sighting and a status change, in one batch: two updates, in order.
    let sighting = upsert(a, "okx_announcements", "ann-42", None, at(3));
    let live = upsert(a, "okx_instruments", "NEW-USDT", Some("live"), at(4));
    let out = t.store.apply(vec![sighting, live]).await.unwrap();
    let kinds: Vec<_> = out.derived.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EventType::AssetUpdated, EventType::AssetUpdated]);
    assert_eq!(out.derived[0].meta["changes"], json!(["new_sighting"]));
    assert_eq!(out.derived[1].meta["changes"], json!(["status"]));
    assert_eq!(out.derived[1].meta["previous_status"], json!("preopen"));

    let row = t.store.reader().get_asset(a).await.unwrap().unwrap();
    assert_eq!(row.status, "live");
    assert_eq!(row.kind, "cex");
    assert_eq!(row.first_seen_at, "2026-01-01T00:01:00.000Z");
    assert_eq!(row.first_source, "okx_instruments");
    assert_eq!(row.last_seen_at, "2026-01-01T00:04:00.000Z");
    let sightings: Vec<serde_json::Value> = serde_json::from_str(&row.sources_json).unwrap();
    assert_eq!(sightings.len(), 2, "one entry per (source, instrument_id): {sightings:?}");
    assert_eq!(sightings[1]["status"], json!("live"));
    assert_eq!(sightings[1]["first_observed_at"], json!("2026-01-01T00:01:00Z"), "earliest observation kept");

    // Outbox: three pending until published, in commit order.
    let pending = t.store.pending_outbox(100).await.unwrap();
    assert_eq!(pending.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventType::AssetDiscovered, EventType::AssetUpdated, EventType::AssetUpdated]);
    assert_eq!(pending[0], *discovered);
    assert_eq!(t.store.mark_published(pending.iter().map(|e| e.event_id.clone()).collect()).await.unwrap(), 3);
    assert!(t.store.pending_outbox(100).await.unwrap().is_empty());
    assert_eq!(count(&t.store, "outbox").await, 0, "published rows are pruned, not kept as a second copy");
    assert_eq!(t.store.mark_published(vec![pending[0].event_id.clone()]).await.unwrap(), 0);
}

#[tokio::test]
async fn published_rows_are_pruned_by_the_next_transaction_or_when_idle() {
    let t = open().await;
    let first = t.store.apply(vec![upsert("cex:okx:A", "okx_instruments", "A-USDT", None, at(1))]).await.unwrap();
    assert_eq!(first.derived.len(), 1);
    // Not waited for: the rows stay pending until a later transaction of the writer prunes them.
    t.store.published(first.derived.iter().map(|e| e.event_id.clone()).collect()).await.unwrap();
    let second = t.store.apply(vec![upsert("cex:okx:B", "okx_instruments", "B-USDT", None, at(2))]).await.unwrap();
    let pending: Vec<_> = t.store.pending_outbox(10).await.unwrap().into_iter().map(|e| e.event_id).collect();
    assert_eq!(pending, vec![second.derived[0].event_id.clone()], "the first apply's row was pruned by the time the next apply committed");
    // With nothing else to write, the writer prunes on its own.
    t.store.published(second.derived.iter().map(|e| e.event_id.clone()).collect()).await.unwrap();
    let pruned = nl_testkit::wait_until(std::time::Duration::from_secs(10), || async { t.store.pending_outbox(10).await.unwrap().is_empty() }).await;
    assert!(pruned, "an idle writer prunes published rows");
    assert_eq!(count(&t.store, "outbox").await, 0);
}

#[tokio::test]
async fn two_new_assets_in_one_batch_are_each_discovered() {
    let t = open().await;
    let out = t
        .store
        .apply(vec![
            upsert("cex:okx:AAA", "okx_instruments", "AAA-USDT", None, at(1)),
            upsert("eth:0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "geckoterminal", "pool1", None, at(1)),
        ])
        .await
        .unwrap();
    assert_eq!(out.derived.iter().filter(|e| e.kind == EventType::AssetDiscovered).count(), 2);
    let dex = t.store.reader().get_asset("eth:0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2").await.unwrap().unwrap();
    assert_eq!(dex.kind, "dex");
    assert_eq!(dex.chain.as_deref(), Some("eth"));
    assert_eq!(dex.status, nl_ledger::DEFAULT_STATUS);
}

#[tokio::test]
async fn risk_flagged_only_when_severity_rises() {
    let t = open().await;
    let a = "cex:okx:RSK";
    let flagged = |out: &nl_ledger::ApplyOutcome| out.derived.iter().filter(|e| e.kind == EventType::RiskFlagged).count();

    assert_eq!(flagged(&t.store.apply(vec![risk(a, at(1), 0, "a")]).await.unwrap()), 0, "clean first evaluation");
    let out = t.store.apply(vec![risk(a, at(2), 50, "b")]).await.unwrap();
    assert_eq!(flagged(&out), 1);
    assert_eq!(out.derived[0].meta["previous_severity"], json!(0));
    assert_eq!(out.derived[0].meta["failed_checks"], json!(["honeypot"]));
    assert_eq!(flagged(&t.store.apply(vec![risk(a, at(3), 30, "c")]).await.unwrap()), 0, "fell");
    assert_eq!(flagged(&t.store.apply(vec![risk(a, at(0), 90, "old")]).await.unwrap()), 0, "older than the latest");
    // Within one batch: 30 → 60 flags, 60 → 60 does not, 60 → 80 flags.
    let out = t.store.apply(vec![risk(a, at(4), 60, "d"), risk(a, at(5), 60, "e"), risk(a, at(6), 80, "f")]).await.unwrap();
    assert_eq!(flagged(&out), 2);
    assert_eq!(out.derived[1].meta["previous_severity"], json!(60));
    // First evaluation of another asset that already fails flags (rise from nothing).
    assert_eq!(flagged(&t.store.apply(vec![risk("cex:okx:OTH", at(1), 70, "g")]).await.unwrap()), 1);
    assert_eq!(count(&t.store, "risk_flags").await, 8);
    let latest = t.store.reader().latest(a).await.unwrap();
    assert_eq!(latest.risk.unwrap().severity, 80);
}

#[tokio::test]
async fn invalid_meta_is_kept_in_events_and_reported() {
    let t = open().await;
    let bad = env(EventType::SnapshotRecorded, &["bad"], at(1), "cex:okx:BAD", json!({"asset_id": "cex:okx:BAD", "price_usd": "x"}));
    let wrong_decision = {
        let mut e = decision("cex:okx:BAD", at(2), false);
        e.kind = EventType::CandidatePromoted;
        e
    };
    let good = snapshot("cex:okx:BAD", at(3), Some("10"), "ok");
    let out = t.store.apply(vec![bad.clone(), wrong_decision.clone(), good]).await.unwrap();
    assert_eq!(out.new.len(), 3);
    let ids: Vec<_> = out.invalid.iter().map(|i| i.event_id.clone()).collect();
    assert_eq!(ids, vec![bad.event_id.clone(), wrong_decision.event_id.clone()]);
    assert!(out.invalid[0].error.contains("Snapshot"), "{}", out.invalid[0].error);
    assert_eq!(count(&t.store, "events").await, 3);
    assert_eq!(count(&t.store, "market_snapshots").await, 1);
    assert_eq!(count(&t.store, "gate_decisions").await, 0);
    // Redelivered poison is still reported, so the service can dead-letter it.
    let again = t.store.apply(vec![bad.clone()]).await.unwrap();
    assert_eq!(again.duplicates, vec![bad.event_id.clone()]);
    assert_eq!(again.invalid.len(), 1);
}

#[tokio::test]
async fn raw_runs_scores_decisions_ai_and_cursors() {
    let t = open().await;
    let mut raw = RawEvent::new("okx_instruments", "https://www.okx.com/api/v5/public/instruments", Some(200), at(1), "{\"data\":[]}".into(), RUN);
    raw.parse_error = Some("unexpected shape".into());
    let raw_env = Envelope::new(EventType::RawCaptured, &[&raw.raw_id], at(1), RUN, CFG, serde_json::to_value(&raw).unwrap());
    let started = Envelope::new(EventType::RunStarted, &[RUN, "start"], at(0), RUN, CFG, json!({"dry_run": true, "sources": ["okx"]}));
    let completed = Envelope::new(EventType::RunCompleted, &[RUN, "done"], at(9), RUN, CFG, json!({"counts": {"observed": 3}}));
    let ai = env(EventType::AiL2Completed, &["ai"], at(5), "cex:okx:NEW", json!({"model": "m1", "artifact_path": "out/ai/x.json", "summary": "s"}));
    let envs = vec![completed, raw_env, score("cex:okx:NEW", at(2), "0.75", "s"), decision("cex:okx:NEW", at(3), true), ai, started];
    let out = t.store.apply(envs).await.unwrap();
    assert!(out.invalid.is_empty(), "{:?}", out.invalid);

    let (status, err): (String, Option<String>) = sqlx::query_as("SELECT content_hash, parse_error FROM raw_events").fetch_one(t.store.reader().pool()).await.unwrap();
    assert_eq!(status, raw.content_hash);
    assert_eq!(err.as_deref(), Some("unexpected shape"));
    let run: (String, Option<String>, Option<String>, bool) =
        sqlx::query_as("SELECT status, started_at, finished_at, dry_run FROM runs").fetch_one(t.store.reader().pool()).await.unwrap();
    assert_eq!(run, ("completed".into(), Some("2026-01-01T00:00:00.000Z".into()), Some("2026-01-01T00:09:00.000Z".into()), true), "completed-before-started still ends completed");
    let ai: (String, Option<String>) = sqlx::query_as("SELECT layer, model FROM ai_outputs").fetch_one(t.store.reader().pool()).await.unwrap();
    assert_eq!(ai, ("l2".into(), Some("m1".into())));
    let latest = t.store.reader().latest("cex:okx:NEW").await.unwrap();
    assert_eq!(latest.score.unwrap().score, 0.75);
    let d = latest.decision.unwrap();
    assert_eq!((d.decision.as_str(), d.reason_codes_json.as_str()), ("promoted", "[\"ok\"]"));
    let stats = t.store.reader().stats().await.unwrap();
    assert_eq!(stats.last_run_id.as_deref(), Some(RUN));
    assert!(stats.events_by_type.contains(&("run.started".into(), 1)));

    assert_eq!(t.store.reader().get_cursor("evm_eth").await.unwrap(), None);
    t.store.put_cursor("evm_eth", &json!({"block": 100}), Some(7)).await.unwrap();
    t.store.put_cursor("evm_eth", &json!({"block": 120}), Some(8)).await.unwrap();
    assert_eq!(t.store.reader().get_cursor("evm_eth").await.unwrap(), Some(json!({"block": 120})));
}

#[tokio::test]
async fn derived_events_are_in_events_with_their_outbox_rows_before_any_publish() {
    let t = open().await;
    let a = "cex:okx:NEW";
    let out = t.store.apply(vec![upsert(a, "okx_instruments", "NEW-USDT", Some("preopen"), at(1))]).await.unwrap();
    let discovered = out.derived[0].clone();
    // A crash now (published or not) must not lose it: it is already stored, exactly as published.
    let stored: Vec<String> = sqlx::query_scalar("SELECT event_id FROM events WHERE type = 'asset.discovered'").fetch_all(t.store.reader().pool()).await.unwrap();
    assert_eq!(stored, vec![discovered.event_id.to_string()]);
    assert_eq!(t.store.reader().envelopes(&[discovered.event_id.clone()]).await.unwrap(), vec![discovered.clone()], "rebuilds to the published envelope");
    assert_eq!(count(&t.store, "outbox").await, 1);
    // Consumed back from the bus, it is a duplicate.
    let back = t.store.apply(vec![discovered.clone()]).await.unwrap();
    assert_eq!((back.new.len(), back.duplicates.len()), (0, 1));
    assert_eq!(count(&t.store, "events").await, 2);
}

#[tokio::test]
async fn a_db_with_random_bytes_inside_is_refused_at_open() {
    let t = open().await;
    t.store.apply(bench_envelopes(3_000)).await.unwrap();
    let path = t.db();
    let TestStore { store, dir: _dir } = t;
    drop(store);
    nl_ledger::db::checkpoint_wal(&path).await.unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 80 * 1024, "{} bytes", bytes.len());
    // 64 KiB of pseudo-random bytes past the header page.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in &mut bytes[8 * 1024..72 * 1024] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x.to_le_bytes()[0];
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = nl_ledger::LedgerStore::open(&nl_ledger::LedgerConfig::with_db_path(&path)).await.expect_err("a damaged DB is refused");
    let msg = err.to_string();
    assert!(msg.contains("quick_check") || msg.contains("malformed"), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing was written to it");
}

/// "No asset without a name" (#15): an asset discovered with `metadata_missing` (its source gave only an
/// address and the token lookup failed) takes the symbol a later snapshot carries (the enricher's
/// re-snapshots look the token up again on the re-snapshot schedule); a known symbol is never replaced.
#[tokio::test]
async fn an_unnamed_asset_takes_the_symbol_of_a_later_snapshot_and_a_known_symbol_stays() {
    let t = open().await;
    let a = "solana:3Y1SCEJABneLzJ1KL7f6jp5NyP7wxjtqmAy5qKAVpump";
    let mut up = upsert(a, "dexscreener_profiles", "profile", None, at(1));
    (up.meta["symbol"], up.meta["name"]) = (json!(""), json!(null));
    let out = t.store.apply(vec![up]).await.unwrap();
    assert_eq!(out.derived[0].meta["metadata_missing"], json!(true));
    let symbol = || async { t.store.reader().get_asset(a).await.unwrap().unwrap().symbol };
    t.store.apply(vec![snapshot(a, at(2), Some("1000"), "unnamed")]).await.unwrap();
    assert_eq!(symbol().await, "", "a snapshot without a symbol names nothing");
    let mut named = snapshot(a, at(3), Some("1000"), "named").with_symbol("STONK");
    (named.meta["name"], named.meta["decimals"]) = (json!("Stonk Token"), json!(6));
    let out = t.store.apply(vec![named]).await.unwrap();
    assert_eq!(symbol().await, "STONK", "the re-snapshot's lookup named it");
    let row = t.store.reader().get_asset(a).await.unwrap().unwrap();
    assert_eq!((row.name.as_deref(), row.decimals), (Some("Stonk Token"), Some(6)), "name and decimals filled too");
    assert_eq!(out.derived.len(), 1, "{:?}", out.derived);
    let updated = &out.derived[0];
    assert_eq!((updated.kind, updated.symbol.as_deref()), (EventType::AssetUpdated, Some("STONK")));
    assert_eq!(updated.meta["changes"], json!(["symbol", "name", "decimals"]), "asset.updated says what changed");
    assert_eq!(updated.meta["asset"]["name"], json!("Stonk Token"));
    assert!(updated.meta.get("metadata_missing").is_none(), "named now");
    let mut other = snapshot(a, at(4), Some("1000"), "other").with_symbol("OTHER");
    other.meta["name"] = json!("Other");
    let out = t.store.apply(vec![other]).await.unwrap();
    assert_eq!(symbol().await, "STONK", "a known symbol is never replaced");
    assert!(out.derived.is_empty(), "nothing changed: no asset.updated");
    assert_eq!(t.store.reader().get_asset(a).await.unwrap().unwrap().name.as_deref(), Some("Stonk Token"));
}
