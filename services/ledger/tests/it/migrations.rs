//! Migrations are reversible: up creates every table and view, down to 0 leaves only `_sqlx_migrations`,
//! and up works again.

use nl_ledger::db::{migrate_down, migrate_up, open_read_pool, open_write_pool, schema_objects};
use nl_ledger::read::{TABLES, VIEWS};

#[tokio::test]
async fn up_down_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/nl.db");
    let pool = open_write_pool(&path).await.unwrap();

    migrate_up(&pool).await.unwrap();
    let objs = schema_objects(&pool).await.unwrap();
    for t in TABLES {
        assert!(objs.contains(&("table".into(), (*t).into())), "missing table {t}: {objs:?}");
    }
    for v in VIEWS {
        assert!(objs.contains(&("view".into(), (*v).into())), "missing view {v}: {objs:?}");
    }
    assert_eq!(objs.len(), TABLES.len() + VIEWS.len() + 1, "only the expected objects plus _sqlx_migrations: {objs:?}");
    let window: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'new_window_minutes'").fetch_one(&pool).await.unwrap();
    assert_eq!(window, "1440");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&pool).await.unwrap();
    assert_eq!(mode, "wal");
    // 2 = MEMORY: statement journals of multi-row inserts stay off the disk.
    let temp_store: i64 = sqlx::query_scalar("PRAGMA temp_store").fetch_one(&pool).await.unwrap();
    assert_eq!(temp_store, 2);
    let page_size: u32 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&pool).await.unwrap();
    assert_eq!(page_size, nl_ledger::db::PAGE_SIZE, "a new file gets the ledger's page size");

    migrate_down(&pool, 0).await.unwrap();
    assert_eq!(schema_objects(&pool).await.unwrap(), vec![("table".to_string(), "_sqlx_migrations".to_string())]);
    let indexes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type IN ('index', 'trigger') AND name NOT LIKE 'sqlite_%'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(indexes, 0, "down migrations drop every index too");

    migrate_up(&pool).await.unwrap();
    assert_eq!(schema_objects(&pool).await.unwrap().len(), TABLES.len() + VIEWS.len() + 1);
    // Idempotent: a second run applies nothing and succeeds.
    migrate_up(&pool).await.unwrap();
}

/// The "answered" check ai-dispatch makes before every job reads the index on `ai_outputs.trigger_event_id`
/// (migration 0013), not the whole table.
#[tokio::test]
async fn the_answered_check_reads_the_trigger_index() {
    let dir = tempfile::tempdir().unwrap();
    let pool = open_write_pool(&dir.path().join("nl.db")).await.unwrap();
    migrate_up(&pool).await.unwrap();
    let sql = format!("EXPLAIN QUERY PLAN {}", nl_ledger::views::AI_LAYERS_ANSWERED_SQL);
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind("t").fetch_all(&pool).await.unwrap();
    let detail: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
    assert!(detail.iter().any(|d| d.contains("USING COVERING INDEX ai_outputs_trigger")), "{detail:?}");
    assert!(!detail.iter().any(|d| d.starts_with("SCAN ai_outputs")), "no table scan: {detail:?}");
}

#[tokio::test]
async fn an_existing_file_keeps_its_page_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    // A file created by an earlier build, with SQLite's default 4 KiB pages, already in WAL mode.
    let opts =
        sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true).page_size(4096).journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let old = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    migrate_up(&old).await.unwrap();
    old.close().await;
    let pool = open_write_pool(&path).await.unwrap();
    let page_size: u32 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&pool).await.unwrap();
    assert_eq!(page_size, 4096);
    assert_ne!(page_size, nl_ledger::db::PAGE_SIZE);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 0, "and stays readable");
}

#[tokio::test]
async fn read_pool_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nl.db");
    let pool = open_write_pool(&path).await.unwrap();
    migrate_up(&pool).await.unwrap();
    let ro = open_read_pool(&path, 2).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(&ro).await.unwrap();
    assert_eq!(n, 0);
    let err = sqlx::query("INSERT INTO settings (key, value) VALUES ('x', 'y')").execute(&ro).await;
    assert!(err.is_err(), "a write through the read-only pool must fail");
}

#[tokio::test]
async fn paper_only_and_book_tags_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let pool = open_write_pool(&dir.path().join("nl.db")).await.unwrap();
    migrate_up(&pool).await.unwrap();
    let order = |id: &str, paper: i64, learning: i64, exp: Option<&str>| {
        sqlx::query(
            "INSERT INTO orders (order_id, event_id, run_id, asset_id, side, notional_usd, intent, signal_event_id, decided_at, learning_book, experiment_id, paper_only) \
             VALUES (?1, ?1, 'r', 'a', 'buy', '10', 'entry', 's', 't', ?2, ?3, ?4)",
        )
        .bind(id.to_string())
        .bind(learning)
        .bind(exp.map(String::from))
        .bind(paper)
    };
    order("p", 1, 0, None).execute(&pool).await.unwrap();
    order("l", 1, 1, Some("exp1")).execute(&pool).await.unwrap();
    assert!(order("x1", 0, 0, None).execute(&pool).await.is_err(), "a non-paper order cannot be stored");
    assert!(order("x2", 1, 1, None).execute(&pool).await.is_err(), "a learning order without its experiment");
    assert!(order("x3", 1, 0, Some("exp1")).execute(&pool).await.is_err(), "a profit order with an experiment");
    // The same CHECK on every trade table.
    for (table, cols, vals) in [
        ("block_events", "event_id, run_id, asset_id, side, signal_event_id, reason_codes_json, ts", "'b', 'r', 'a', 'buy', 's', '[]', 't'"),
        ("risk_allocations", "event_id, order_id, run_id, budget_day, allocated_usd, budget_used_usd, budget_limit_usd", "'b', 'o', 'r', 'd', '1', '1', '2'"),
        (
            "position_snapshots",
            "event_id, run_id, position_id, asset_id, status, quantity, entry_notional_usd, avg_entry_price, mark_price, unrealized_pnl_usd, realized_pnl_usd, fees_usd, ts",
            "'b', 'r', 'p', 'a', 'open', '1', '1', '1', '1', '0', '0', '0', 't'",
        ),
        (
            "fills",
            "fill_id, event_id, order_id, run_id, asset_id, side, mark_price, price, quantity, notional_usd, fee_usd, tax_usd, gas_usd, slippage_bps, snapshot_event_id, filled_at, fill_model, rng_seed, assumptions_json",
            "'b', 'b', 'o', 'r', 'a', 'buy', '1', '1', '1', '1', '0', '0', '0', '0', 's', 't', 'snapshot_v1', '7', '[]'",
        ),
    ] {
        let sql = |lb: i64, exp: &str| format!("INSERT INTO {table} ({cols}, learning_book, experiment_id) VALUES ({vals}, {lb}, {exp})");
        assert!(sqlx::query(sqlx::AssertSqlSafe(sql(1, "NULL"))).execute(&pool).await.is_err(), "{table}: learning row without experiment");
        assert!(sqlx::query(sqlx::AssertSqlSafe(sql(0, "'e'"))).execute(&pool).await.is_err(), "{table}: profit row with experiment");
        sqlx::query(sqlx::AssertSqlSafe(sql(1, "'e'"))).execute(&pool).await.unwrap();
    }
    let bad_status = sqlx::query(
        "INSERT INTO experiment_specs (experiment_id, version, spec_json, status, created_at, updated_at, spec_sha256, event_id) VALUES ('e', 1, '{}', 'live', 't', 't', 'h', 'x')",
    );
    assert!(bad_status.execute(&pool).await.is_err(), "only the status machine's states");
}

/// Every table, view and index with its SQL, sorted.
async fn schema_sql(pool: &sqlx::SqlitePool) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").fetch_all(pool).await.unwrap()
}

#[tokio::test]
async fn down_and_up_again_leave_the_same_schema_and_keep_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nl.db");
    let store = nl_ledger::LedgerStore::open(&nl_ledger::LedgerConfig::with_db_path(&path)).await.unwrap();
    let snap = crate::fixtures::snapshot("cex:okx:NEW", crate::fixtures::at(1), Some("5"), "s");
    let note = nl_testkit::bench_envelopes(1);
    store.apply(vec![snap.clone(), note[0].clone()]).await.unwrap();
    store.apply(vec![crate::fixtures::score("cex:okx:NEW", crate::fixtures::at(2), "59.93", "s")]).await.unwrap();
    let ups = [("okx_spot", 1), ("okx_announcements", 2)].map(|(s, m)| crate::fixtures::upsert("cex:okx:NEW", s, "NEW-USDT", None, crate::fixtures::at(m)));
    store.apply(ups.to_vec()).await.unwrap();
    let tags = store.reader().get_asset("cex:okx:NEW").await.unwrap().unwrap().tags_json;
    assert_eq!(tags, r#"["cex","cex_instrument","multi_source"]"#);
    drop(store);
    let pool = open_write_pool(&path).await.unwrap();
    let full = schema_sql(&pool).await;
    let before_scores: Vec<(String, f64)> = sqlx::query_as("SELECT event_id, score FROM listing_scores").fetch_all(&pool).await.unwrap();
    for target in [7, 6, 4, 0] {
        migrate_down(&pool, target).await.unwrap();
        if target == 6 {
            // The pre-runbook names, with the data: scores back to TEXT.
            let (price, at): (Option<String>, String) = sqlx::query_as("SELECT price_usd, observed_at FROM market_snapshots").fetch_one(&pool).await.unwrap();
            assert_eq!(price.as_deref(), Some("0.000123456789012345678901"));
            assert_eq!(at, "2026-01-01T00:01:00.000Z");
            let scores: Vec<(String, String)> = sqlx::query_as("SELECT event_id, score FROM listing_scores").fetch_all(&pool).await.unwrap();
            assert_eq!(scores, before_scores.iter().map(|(e, s)| (e.clone(), format!("{s:?}"))).collect::<Vec<_>>());
            sqlx::query("SELECT payload, address, evaluated_at, checks_json, computed_at FROM raw_events, assets, risk_flags, listing_scores")
                .fetch_all(&pool)
                .await
                .unwrap();
        }
        if target == 4 {
            // Back to whole bodies: each still an envelope.
            let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM events ORDER BY seq").fetch_all(&pool).await.unwrap();
            assert_eq!(bodies.len(), 7, "five applied events plus the derived asset.discovered and asset.updated, stored in the same transaction");
            assert_eq!(nl_domain::Envelope::from_json(bodies[0].as_bytes()).unwrap().event_id, snap.event_id);
            assert_eq!(nl_domain::Envelope::from_json(bodies[1].as_bytes()).unwrap(), note[0]);
        }
        migrate_up(&pool).await.unwrap();
        assert_eq!(schema_sql(&pool).await, full, "down to {target} and up again");
        if target == 6 {
            let again: String = sqlx::query_scalar("SELECT tags_json FROM assets").fetch_one(&pool).await.unwrap();
            assert_eq!(again, tags, "the migration derives the ledger's sighting tags for rows stored before it");
        }
    }
}

#[tokio::test]
async fn facts_once_keeps_config_hashes_per_run_and_check_times_once_and_down_gives_them_back() {
    use crate::fixtures::{at, risk, snapshot};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nl.db");
    let store = nl_ledger::LedgerStore::open(&nl_ledger::LedgerConfig::with_db_path(&path)).await.unwrap();
    let mut eval = risk("cex:okx:NEW", at(1), 100, "r");
    let mut meta: nl_domain::RiskEvaluation = serde_json::from_value(eval.meta.clone()).unwrap();
    let mut second = meta.checks[0].clone();
    second.code = nl_domain::CheckCode::SellTaxHigh;
    second.observed_at = at(2);
    second.value = Some(serde_json::json!("0.5"));
    meta.checks.push(second);
    eval.meta = serde_json::to_value(&meta).unwrap();
    // A second config within the same run: that row keeps its own hash.
    let mut other = snapshot("cex:okx:NEW", at(3), Some("5"), "s");
    other.config_hash = "other-config".into();
    store.apply(vec![eval.clone(), other.clone()]).await.unwrap();
    let ids = [eval.event_id.clone(), other.event_id.clone()];
    let rebuilt = store.reader().envelopes(&ids).await.unwrap();
    assert_eq!(rebuilt, vec![eval.clone(), other.clone()], "the ledger gives back what was published");
    let latest = store.reader().latest("cex:okx:NEW").await.unwrap().risk.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&latest.flags_json).unwrap(), serde_json::to_value(&meta.checks).unwrap(), "readers get whole checks");
    drop(store);

    let pool = open_write_pool(&path).await.unwrap();
    let (flags, times): (String, Option<String>) = sqlx::query_as("SELECT flags_json, check_times_json FROM risk_flags").fetch_one(&pool).await.unwrap();
    assert!(!flags.contains("observed_at") && times.is_some(), "stored compact: {flags} {times:?}");
    // The evaluation, the snapshot of the other config and the risk.flagged derived from the evaluation.
    let kept_hashes = |pool: sqlx::SqlitePool| async move {
        sqlx::query_as::<_, (String, Option<String>)>("SELECT event_id, config_hash FROM events ORDER BY seq").fetch_all(&pool).await.unwrap()
    };
    let kept = kept_hashes(pool.clone()).await;
    assert_eq!(kept.len(), 3);
    for (id, hash) in &kept {
        let want = (*id == other.event_id.0).then(|| "other-config".to_string());
        assert_eq!(*hash, want, "{id}: the run's hash is kept once, in run_configs");
    }

    migrate_down(&pool, 14).await.unwrap();
    let flags: String = sqlx::query_scalar("SELECT flags_json FROM risk_flags").fetch_one(&pool).await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&flags).unwrap(), serde_json::to_value(&meta.checks).unwrap(), "whole checks again");
    let hashes: Vec<(String, String)> = sqlx::query_as("SELECT event_id, config_hash FROM events ORDER BY seq").fetch_all(&pool).await.unwrap();
    for (id, hash) in &hashes {
        let want = if *id == other.event_id.0 { "other-config" } else { eval.config_hash.as_str() };
        assert_eq!(hash, want, "{id}: every row has its hash back");
    }
    migrate_up(&pool).await.unwrap();
    assert_eq!(kept_hashes(pool.clone()).await, kept, "up again keeps each run's hash once");
}
