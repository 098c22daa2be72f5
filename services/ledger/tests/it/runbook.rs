//! The runbook's columns filled in: `raw_events.venue_type`, `assets.decimals` and `tags_json`, the
//! `asset.discovered` meta (`contract_address`, `venue_type`), and the rename of a legacy `nl.db`.

use nl_domain::{AssetId, AssetUpsert, Envelope, EventType, ObservationKind, RawEvent, Sighting};
use nl_ledger::db::adopt_legacy_db;
use serde_json::json;

use crate::fixtures::*;

const POOL_ASSET: &str = "eth:0x00000000000000000000000000000000000000aa";

fn pool_upsert(source: &str, kind: ObservationKind, pair: serde_json::Value, minute: u32) -> Envelope {
    let ts = at(minute);
    let up = AssetUpsert {
        asset_id: AssetId::parse(POOL_ASSET).unwrap(),
        symbol: "POOL".into(),
        name: Some("Pool Token".into()),
        chain: None,
        address: None,
        sighting: Sighting {
            source: source.into(),
            venue: "uniswap_v3".into(),
            kind,
            instrument_id: format!("{source}-pool"),
            status: None,
            source_published_at: None,
            scheduled_at: None,
            first_observed_at: ts,
            pair,
            url: None,
        },
    };
    env(EventType::AssetUpserted, &[POOL_ASSET, source, &minute.to_string()], ts, POOL_ASSET, serde_json::to_value(up).unwrap())
}

#[tokio::test]
async fn discovered_meta_decimals_and_rule_tags() {
    let t = open().await;
    let first = pool_upsert("geckoterminal", ObservationKind::DexPool, json!({"pool": "0xp", "dex": "uniswap_v3", "base_decimals": 9}), 1);
    let out = t.store.apply(vec![first]).await.unwrap();
    let discovered = &out.derived[0];
    assert_eq!(discovered.kind, EventType::AssetDiscovered);
    assert_eq!(discovered.meta["contract_address"], json!("0x00000000000000000000000000000000000000aa"));
    assert_eq!(discovered.meta["venue_type"], json!("DEX"));
    assert_eq!((discovered.symbol.as_deref(), discovered.chain.as_deref(), discovered.source.as_deref()), (Some("POOL"), Some("eth"), Some("geckoterminal")));

    let row = t.store.reader().get_asset(POOL_ASSET).await.unwrap().unwrap();
    assert_eq!((row.contract_address.as_deref(), row.decimals, row.venue_type()), (Some("0x00000000000000000000000000000000000000aa"), Some(9), "DEX"));
    assert_eq!(row.tags_json, r#"["dex","dex_pool"]"#);

    // A second source without decimals keeps them; a CEX sighting adds its tags.
    let cex = upsert(POOL_ASSET, "okx_spot", "POOL-USDT", Some("live"), at(2));
    t.store.apply(vec![pool_upsert("dexscreener_profiles", ObservationKind::TokenProfile, serde_json::Value::Null, 2), cex]).await.unwrap();
    let row = t.store.reader().get_asset(POOL_ASSET).await.unwrap().unwrap();
    assert_eq!(row.decimals, Some(9));
    let tags: Vec<String> = serde_json::from_str(&row.tags_json).unwrap();
    assert_eq!(tags, ["cex_and_dex", "cex_instrument", "dex", "dex_pool", "multi_source", "token_profile"]);

    // The latest risk evaluation's failed checks are tags; a newer passing one clears them, sighting tags stay.
    t.store.apply(vec![risk(POOL_ASSET, at(3), 80, "r1")]).await.unwrap();
    let tags: Vec<String> = serde_json::from_str(&t.store.reader().get_asset(POOL_ASSET).await.unwrap().unwrap().tags_json).unwrap();
    assert!(tags.contains(&"risk:honeypot".to_string()) && tags.contains(&"dex_pool".to_string()), "{tags:?}");
    t.store.apply(vec![risk(POOL_ASSET, at(2), 90, "older")]).await.unwrap();
    t.store.apply(vec![upsert(POOL_ASSET, "okx_spot", "POOL-USDT", Some("halt"), at(4))]).await.unwrap();
    let tags: Vec<String> = serde_json::from_str(&t.store.reader().get_asset(POOL_ASSET).await.unwrap().unwrap().tags_json).unwrap();
    assert!(tags.contains(&"risk:honeypot".to_string()), "a merge keeps risk tags: {tags:?}");
    t.store.apply(vec![risk(POOL_ASSET, at(5), 0, "r2")]).await.unwrap();
    let tags: Vec<String> = serde_json::from_str(&t.store.reader().get_asset(POOL_ASSET).await.unwrap().unwrap().tags_json).unwrap();
    assert!(!tags.iter().any(|t| t.starts_with("risk:")) && tags.contains(&"dex_pool".to_string()), "{tags:?}");

    // A CEX-only asset: venue type CEX, no contract (null, not absent).
    let out = t.store.apply(vec![upsert("cex:okx:NEW", "okx_spot", "NEW-USDT", Some("live"), at(1))]).await.unwrap();
    let meta = &out.derived[0].meta;
    assert_eq!((meta["venue_type"].clone(), meta.get("contract_address")), (json!("CEX"), Some(&serde_json::Value::Null)));
}

fn raw_env(source: &str, minute: u32) -> Envelope {
    let raw = RawEvent::new(source, "https://venue.example/x", Some(200), at(minute), "{}".into(), RUN);
    Envelope::new(EventType::RawCaptured, &[&raw.raw_id], at(minute), RUN, CFG, serde_json::to_value(&raw).unwrap()).with_source(source)
}

#[tokio::test]
async fn raw_venue_type_comes_from_the_source_kind_and_is_backfilled() {
    let venues = [("okx_spot", "CEX"), ("geckoterminal", "DEX")].map(|(s, v)| (s.to_string(), v.to_string())).into_iter().collect();
    let t = open_with(|c| c.venue_types = venues).await;
    t.store.apply(vec![raw_env("okx_spot", 1), raw_env("geckoterminal", 2), raw_env("goplus", 3), raw_env("later_dex", 4)]).await.unwrap();
    let rows = || async {
        let q = "SELECT source, venue_type FROM raw_events ORDER BY source";
        sqlx::query_as::<_, (String, Option<String>)>(q).fetch_all(t.store.reader().pool()).await.unwrap()
    };
    let got = rows().await;
    let want = |later: Option<&str>| {
        vec![("geckoterminal".into(), Some("DEX".into())), ("goplus".into(), None), ("later_dex".into(), later.map(String::from)), ("okx_spot".into(), Some("CEX".into()))]
    };
    assert_eq!(got, want(None), "a risk provider and an unconfigured source: NULL");
    let payload: String = sqlx::query_scalar("SELECT payload_json FROM raw_events WHERE source = 'goplus'").fetch_one(t.store.reader().pool()).await.unwrap();
    assert_eq!(payload, "{}");

    // Reopened with the source configured: rows stored before are filled in.
    let path = t.db();
    let mut cfg = nl_ledger::LedgerConfig::with_db_path(&path);
    cfg.venue_types = [("later_dex".to_string(), "DEX".to_string())].into_iter().collect();
    let again = nl_ledger::LedgerStore::open(&cfg).await.unwrap();
    let got: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT source, venue_type FROM raw_events ORDER BY source").fetch_all(again.reader().pool()).await.unwrap();
    assert_eq!(got, want(Some("DEX")));

    let bad = nl_ledger::LedgerConfig { venue_types: [("x".to_string(), "dex".to_string())].into_iter().collect(), ..nl_ledger::LedgerConfig::default() };
    assert!(bad.validate().unwrap_err().to_string().contains("CEX or DEX"));
}

#[tokio::test]
async fn a_legacy_nl_db_is_renamed_with_its_wal_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("nl.db");
    let target = dir.path().join(nl_ledger::config::DB_FILE_NAME);
    let pool = nl_ledger::db::open_write_pool(&legacy).await.unwrap();
    nl_ledger::db::migrate_up(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO assets (asset_id, symbol, kind, first_seen_at, first_source, last_seen_at, status, updated_at, run_id) \
         VALUES ('cex:okx:OLD', 'OLD', 'cex', 't', 's', 't', 'observed', 't', 'r')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    // Rows not yet checkpointed live in the WAL: it moves with the file (an empty WAL is a valid one).
    std::fs::write(dir.path().join("nl.db-wal"), b"").unwrap();
    std::fs::write(dir.path().join("nl.db-shm"), b"").unwrap();

    assert_eq!(adopt_legacy_db(&target).unwrap(), Some(legacy.clone()));
    assert!(!legacy.exists() && target.exists());
    assert!(!dir.path().join("nl.db-wal").exists() && !dir.path().join("nl.db-shm").exists());
    for suffix in ["-wal", "-shm"] {
        assert!(dir.path().join(format!("{}{suffix}", nl_ledger::config::DB_FILE_NAME)).exists(), "{suffix} moved");
    }
    let store = nl_ledger::LedgerStore::open(&nl_ledger::LedgerConfig::with_db_path(&target)).await.unwrap();
    assert!(store.reader().get_asset("cex:okx:OLD").await.unwrap().is_some(), "no data lost");

    // Idempotent; never overwrites an existing DB; a DB configured as nl.db is left alone.
    assert_eq!(adopt_legacy_db(&target).unwrap(), None);
    std::fs::write(&legacy, b"stale").unwrap();
    assert_eq!(adopt_legacy_db(&target).unwrap(), None);
    assert_eq!(std::fs::read(&legacy).unwrap(), b"stale");
    assert_eq!(adopt_legacy_db(&legacy).unwrap(), None);
}
