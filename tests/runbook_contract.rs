//! The runbook's data contract (seed `000_6c61915a99435fb2.txt`, section 2), checked against what the
//! real pipeline writes: `nl demo` (simulated venues on loopback, the real collector → enricher →
//! risk-scorer → gate → ledger + recorder) into a temp folder, then `nl review`.
//!
//! The contract is kept here as data copied from the seed (2.1 paths and columns, 2.2 views, 2.3 event
//! types and the example event), so a rename anywhere in nl that breaks a runbook consumer fails this test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use support::{stderr, stdout};

/// 2.1 "Default path".
const DEFAULT_DB_PATH: &str = "out/research/new_listings/new_listings.sqlite";
/// 2.3 "Path".
const EVENTS_PATH: &str = "out/research/new_listings/events.jsonl";

/// 2.1 "Tables (minimum)", column for column.
const TABLES: &[(&str, &[&str])] = &[
    ("raw_events", &["source", "venue_type", "observed_at", "payload_json"]),
    ("assets", &["asset_id", "symbol", "name", "chain", "contract_address", "decimals", "first_seen_at", "sources_json", "tags_json"]),
    ("market_snapshots", &["asset_id", "ts", "price", "fdv", "liquidity_usd", "volume_24h_usd", "holders", "age_minutes"]),
    ("risk_flags", &["asset_id", "ts", "severity", "flags_json"]),
    ("listing_scores", &["asset_id", "ts", "score", "breakdown_json", "reason"]),
];

/// 2.2 "Stable DB Views".
const VIEWS: &[&str] = &["v_latest_snapshot", "v_latest_risk", "v_latest_score", "v_assets_new", "v_assets_candidates"];

/// 2.3 "Event types (minimum)".
const EVENT_TYPES: &[&str] = &["asset.discovered", "asset.updated", "risk.flagged", "candidate.promoted", "candidate.rejected"];

/// 2.3 "Event schema (recommended)", verbatim.
const EVENT_EXAMPLE: &str = r#"{
  "ts": "2026-02-08T12:34:56Z",
  "type": "asset.discovered",
  "run_id": "nl_20260208_123456Z_abcd1234",
  "asset_id": "eth:0x...",
  "symbol": "ABC",
  "chain": "ethereum",
  "source": "dex_foo",
  "meta": { "contract_address": "0x...", "venue_type": "DEX" }
}"#;

fn example() -> Value {
    serde_json::from_str(EVENT_EXAMPLE).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn missing(want: &BTreeSet<String>, have: &BTreeSet<String>) -> Vec<String> {
    want.difference(have).cloned().collect()
}

#[test]
fn default_paths_are_the_runbooks() {
    let storage = nl_config::StorageConfig::default();
    assert_eq!(storage.db_path(), Path::new(DEFAULT_DB_PATH));
    assert_eq!(storage.events_path(), Path::new(EVENTS_PATH));
    assert_eq!(nl_ledger::config::DEFAULT_DB_PATH, DEFAULT_DB_PATH);
    assert_eq!(nl_recorder::DEFAULT_EVENTS_PATH, EVENTS_PATH);
    let toml: toml::Table = std::fs::read_to_string(support::default_config()).unwrap().parse().unwrap();
    let out_dir = toml["storage"]["out_dir"].as_str().unwrap();
    assert_eq!(Path::new(out_dir).join(nl_config::DB_FILE_NAME), Path::new(DEFAULT_DB_PATH), "config/default.toml");
    for t in EVENT_TYPES {
        t.parse::<nl_domain::EventType>().unwrap_or_else(|e| panic!("{t}: {e}"));
    }
}

async fn columns(pool: &sqlx::SqlitePool, relation: &str) -> BTreeSet<String> {
    let sql = format!("SELECT name FROM pragma_table_info('{relation}')");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await.unwrap().into_iter().collect()
}

async fn scalar<T>(pool: &sqlx::SqlitePool, sql: &str) -> T
where
    T: Send + Unpin + for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The demo's DB: every runbook table has its columns and rows, filled in as the contract says.
async fn check_db(db: &Path) {
    let pool = sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(db).read_only(true)).await.unwrap();
    for (table, cols) in TABLES {
        let have = columns(&pool, table).await;
        let want: BTreeSet<String> = cols.iter().map(|c| (*c).to_string()).collect();
        assert!(missing(&want, &have).is_empty(), "{table} lacks {:?} (has {have:?})", missing(&want, &have));
        assert!(scalar::<i64>(&pool, &format!("SELECT COUNT(*) FROM {table}")).await > 0, "{table} is empty after a demo");
    }
    for view in VIEWS {
        assert_eq!(scalar::<i64>(&pool, &format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'view' AND name = '{view}'")).await, 1, "view {view}");
        // Every view runs over the renamed columns.
        scalar::<i64>(&pool, &format!("SELECT COUNT(*) FROM {view}")).await;
    }
    // The latest views are one row per asset of their table, with the table's columns.
    for (view, table) in [("v_latest_snapshot", "market_snapshots"), ("v_latest_risk", "risk_flags"), ("v_latest_score", "listing_scores")] {
        assert_eq!(columns(&pool, view).await, columns(&pool, table).await, "{view}");
        let (rows, assets): (i64, i64) = (
            scalar(&pool, &format!("SELECT COUNT(*) FROM {view}")).await,
            scalar(&pool, &format!("SELECT COUNT(DISTINCT asset_id) FROM {table}")).await,
        );
        assert_eq!(rows, assets, "{view}: one row per asset");
    }
    assert!(scalar::<i64>(&pool, "SELECT COUNT(*) FROM v_assets_candidates").await > 0, "the demo promotes a candidate");

    // Filled in properly.
    let venue_types: Vec<String> = sqlx::query_scalar("SELECT DISTINCT venue_type FROM raw_events WHERE venue_type IS NOT NULL ORDER BY 1").fetch_all(&pool).await.unwrap();
    assert_eq!(venue_types, ["CEX", "DEX"], "venue captures of both kinds");
    let unlabelled: Vec<String> = sqlx::query_scalar("SELECT DISTINCT source FROM raw_events WHERE venue_type IS NULL ORDER BY 1").fetch_all(&pool).await.unwrap();
    assert!(unlabelled.iter().all(|s| ["goplus", "honeypot_is", "rugcheck"].contains(&s.as_str())), "only risk providers are no venue: {unlabelled:?}");
    assert!(scalar::<i64>(&pool, "SELECT COUNT(*) FROM assets WHERE decimals IS NOT NULL").await > 0, "GeckoTerminal token decimals");
    let tags: Vec<String> = sqlx::query_scalar("SELECT tags_json FROM assets").fetch_all(&pool).await.unwrap();
    for t in &tags {
        let list: Vec<String> = serde_json::from_str(t).unwrap_or_else(|e| panic!("tags_json {t}: {e}"));
        assert!(list.iter().any(|t| t == "cex" || t == "dex"), "{t}");
    }
    assert_eq!(scalar::<String>(&pool, "SELECT DISTINCT typeof(score) FROM listing_scores").await, "real", "scores are numbers");
    let flags: String = scalar(&pool, "SELECT flags_json FROM risk_flags LIMIT 1").await;
    assert!(serde_json::from_str::<Vec<Value>>(&flags).is_ok(), "{flags}");
    // The events table keeps the runbook's top-level fields as columns.
    let have = columns(&pool, "events").await;
    let want: BTreeSet<String> = keys(&example()).into_iter().filter(|k| k != "meta").chain(["meta".to_string()]).collect();
    assert!(missing(&want, &have).is_empty(), "events lacks {:?}", missing(&want, &have));
    pool.close().await;
}

/// events.jsonl: every line has the example's top-level fields; `asset.discovered` has its meta fields.
fn check_events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ex = example();
    let top = keys(&ex);
    let meta = keys(&ex["meta"]);
    let run_id = regex_like_run_id(ex["run_id"].as_str().unwrap());
    assert!(run_id, "the example's run id has the documented shape");
    let mut discovered = 0;
    for line in &lines {
        assert!(missing(&top, &keys(line)).is_empty(), "line lacks {:?}: {line}", missing(&top, &keys(line)));
        for k in ["ts", "type", "run_id"] {
            assert!(line[k].is_string(), "{k} of {line}");
        }
        chrono::DateTime::parse_from_rfc3339(line["ts"].as_str().unwrap()).unwrap();
        assert!(regex_like_run_id(line["run_id"].as_str().unwrap()), "{line}");
        if line["type"] == "asset.discovered" {
            discovered += 1;
            assert!(missing(&meta, &keys(&line["meta"])).is_empty(), "meta lacks {:?}: {line}", missing(&meta, &keys(&line["meta"])));
            for k in ["asset_id", "source"] {
                assert!(line[k].as_str().is_some_and(|s| !s.is_empty()), "{k} of {line}");
            }
            // Present as a string; that it is never "" (a token lookup first) is issue 15's part 1.
            assert!(line["symbol"].is_string(), "symbol of {line}");
            let venue = line["meta"]["venue_type"].as_str().unwrap();
            assert!(venue == "CEX" || venue == "DEX", "{line}");
            if venue == "DEX" {
                assert!(line["chain"].is_string() && line["meta"]["contract_address"].is_string(), "{line}");
            }
        }
    }
    assert!(discovered > 0, "no asset.discovered in {}", path.display());
    lines
}

/// `nl_YYYYMMDD_HHMMSSZ_<8 hex>`.
fn regex_like_run_id(s: &str) -> bool {
    let p: Vec<&str> = s.split('_').collect();
    p.len() == 4
        && p[0] == "nl"
        && p[1].len() == 8
        && p[1].chars().all(|c| c.is_ascii_digit())
        && p[2].len() == 7
        && p[2].ends_with('Z')
        && p[2][..6].chars().all(|c| c.is_ascii_digit())
        && p[3].len() == 8
        && p[3].chars().all(|c| c.is_ascii_hexdigit())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_demo_db_and_event_feed_meet_the_runbook_contract_and_review_works() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut c = support::nl(tmp.path(), &[]);
    c.args(["demo", "--cycles", "3", "--out-dir"]).arg(&out);
    let o = tokio::task::spawn_blocking(move || support::run(c)).await.unwrap();
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let db = out.join(nl_config::DB_FILE_NAME);
    assert!(db.exists() && !out.join("nl.db").exists(), "the DB has the runbook's file name");
    check_db(&db).await;
    let lines = check_events(&out.join("events.jsonl"));
    let seen: BTreeSet<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
    for t in ["asset.discovered", "candidate.promoted", "candidate.rejected"] {
        assert!(seen.contains(t), "the demo emits {t}: {seen:?}");
    }

    // `nl review`: the ledger applies `asset.reviewed`; with a zero window the asset leaves v_assets_new.
    let pool = sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&db).read_only(true)).await.unwrap();
    let asset: String = scalar(&pool, "SELECT asset_id FROM v_assets_new ORDER BY asset_id LIMIT 1").await;
    let zero = [("NL_LEDGER__NEW_WINDOW_MINUTES", "0".to_string())];
    let mut c = support::nl(&out, &zero);
    c.args(["review", &asset, "--by", "desk", "--note", "seen"]);
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let reviewed: Option<String> =
        sqlx::query_scalar("SELECT reviewed_at FROM assets WHERE asset_id = ?").bind(&asset).fetch_one(&pool).await.unwrap();
    assert!(reviewed.is_some(), "reviewed_at set");
    let still: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM v_assets_new WHERE asset_id = ?").bind(&asset).fetch_one(&pool).await.unwrap();
    assert_eq!(still, 0, "a reviewed asset older than the window is not new");
    let review_line = check_events(&out.join("events.jsonl")).into_iter().find(|l| l["type"] == "asset.reviewed").unwrap();
    assert_eq!((review_line["asset_id"].as_str(), review_line["meta"]["reviewed_by"].as_str()), (Some(asset.as_str()), Some("desk")));

    let mut c = support::nl(&out, &[]);
    c.args(["review", "cex:okx:NOSUCHCOIN"]);
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cex:okx:NOSUCHCOIN") && stderr(&o).contains("not in"), "{}", stderr(&o));
}

#[test]
fn an_old_nl_db_in_the_out_dir_is_renamed_on_first_open_with_one_notice() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let legacy = out.join("nl.db");
    // A DB written under the old name, with an event in it.
    let old = [("NL_LEDGER__DB_PATH", legacy.display().to_string())];
    let mut c = support::nl(out, &old);
    c.args(["events", "append", "--type", "manual.note", "--asset-id", "cex:okx:OLD"]);
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(legacy.exists());

    let status = || {
        let mut c = support::nl(out, &[]);
        c.arg("status");
        support::run(c)
    };
    let o = status();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let notes: Vec<String> = stderr(&o).lines().filter(|l| l.contains("renamed")).map(String::from).collect();
    assert_eq!(notes.len(), 1, "{}", stderr(&o));
    assert!(notes[0].contains("nl.db") && notes[0].contains(nl_config::DB_FILE_NAME), "{}", notes[0]);
    assert!(!legacy.exists() && out.join(nl_config::DB_FILE_NAME).exists());
    assert!(stdout(&o).contains("manual.note"), "the old DB's events are there: {}", stdout(&o));

    let o = status();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("renamed"), "only the first open renames: {}", stderr(&o));
}
