//! End-to-end: `nl rederive --from-raw` and `nl diff-runs` with the real `nl` binary, after three `nl run-cycle`s
//! against loopback venues and providers served by `nl_simulator` (the same setup as `cycle_e2e`).
//!
//! * re-deriving every run with the same config gives the original assets, snapshots, risk evaluations,
//!   scores and decisions, compared row by row (event ids included), and `diff-runs all <rederive>` exits 0;
//!   this includes the Gate listing of the third run, linked to its BSC contract through Gate's currency
//!   endpoint (a lookup answered from its recorded response);
//! * `--run <second run>` re-derives that run alone (the first only rebuilds source state) with the same
//!   decisions, while the simulator is gone: no network is used;
//! * with a raised gate `score_threshold`, `diff-runs` lists exactly the assets whose score falls between
//!   the old and the new threshold, and exits 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nl_simulator::Simulator;
use nl_simulator::world::gate_token_address;
use support::nl_output as nl;
use support::{KEEP, field, sim_env, stderr, stdout};

/// Rows of `sql` as JSON arrays, sorted (the SQL returns one TEXT column per row: `json_array(...)`).
async fn rows(db: &Path, sql: &str) -> Vec<String> {
    let reader = nl_ledger::SqliteReader::open(db, 1).await.unwrap();
    let mut out: Vec<String> =
        sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(reader.pool()).await.unwrap().into_iter().map(|r| r.0).collect();
    reader.pool().close().await;
    out.sort();
    out
}

/// What must be identical between an original and its re-derivation, table by table (run ids and insert
/// times aside). `run` restricts decisions, scores, evaluations and snapshots to one original run.
fn comparable(run: Option<&str>) -> Vec<(&'static str, String)> {
    let w = |alias: &str| run.map_or_else(String::new, |r| format!(" WHERE {alias}run_id = '{r}'"));
    vec![
        (
            "gate_decisions",
            format!(
                "SELECT json_array(event_id, asset_id, decision, reason_codes_json, rule_set_version, config_hash, inputs_json, decided_at) FROM gate_decisions{}",
                w("")
            ),
        ),
        (
            "listing_scores",
            format!("SELECT json_array(event_id, asset_id, ts, score, breakdown_json, reason, formula_version) FROM listing_scores{}", w("")),
        ),
        (
            "risk_flags",
            format!(
                "SELECT json_array(event_id, asset_id, ts, rule_set_version, severity, flags_json, disagreements_json) FROM risk_flags{}",
                w("")
            ),
        ),
        (
            "market_snapshots",
            format!(
                "SELECT json_array(event_id, asset_id, ts, source, price, liquidity_usd, volume_24h_usd, holders, age_minutes, raw_event_id) FROM market_snapshots{}",
                w("")
            ),
        ),
    ]
}

async fn assert_same(orig: &Path, orig_run: Option<&str>, rederived: &Path) {
    for ((table, a), (_, b)) in comparable(orig_run).into_iter().zip(comparable(None)) {
        let (ra, rb) = (rows(orig, &a).await, rows(rederived, &b).await);
        assert!(!ra.is_empty(), "{table}: the original has rows");
        assert_eq!(ra, rb, "{table}: re-derived rows equal the original rows");
    }
}

fn scratch_db(out: &Path, run_id: &str) -> PathBuf {
    out.join("runs").join(run_id).join("rederive").join("new_listings.sqlite")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rederive_reproduces_decisions_and_diff_runs_shows_a_threshold_change() {
    let sim = Simulator::start().await.unwrap();
    let env = sim_env(&sim.base_url(), &KEEP);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let db = out.join("new_listings.sqlite");

    let o = nl(out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    sim.advance();
    let o = nl(out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let run2 = field(&stdout(&o), "run ").to_string();
    // Tick 2: Gate's currency info names a BSC contract for the new pair's base (on a chain of its own, so
    // its pair lookup is not batched with the simulated Ethereum pools').
    assert_eq!(sim.advance(), 2);
    let o = nl(out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let hits = sim.hits();
    let linked = format!("bsc:{}", gate_token_address(2).unwrap());
    let first_source = format!("SELECT json_array(first_source) FROM assets WHERE asset_id = '{linked}'");
    assert_eq!(rows(&db, &first_source).await, [r#"["gate_pairs"]"#], "the Gate listing was linked to its contract");

    // Every run, same config: identical rows, and diff-runs reports nothing.
    let o = nl(out, &env, &["rederive", "--from-raw"]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let all = field(&stdout(&o), "run ").to_string();
    assert!(all.starts_with("nl_") && all != run2, "{}", stdout(&o));
    assert_same(&db, None, &scratch_db(out, &all)).await;
    let assets = "SELECT json_array(asset_id, symbol, name, chain, contract_address, kind, first_seen_at, first_source, last_seen_at, sources_json, status, decimals, tags_json) FROM assets";
    assert_eq!(rows(&db, assets).await, rows(&scratch_db(out, &all), assets).await, "assets re-derived identically");
    assert_eq!(rows(&scratch_db(out, &all), &first_source).await, [r#"["gate_pairs"]"#], "the link is re-applied from the recorded currency response");
    let o = nl(out, &env, &["diff-runs", "all", &all]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("decisions that differ: 0"), "{}", stdout(&o));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("runs").join(&all).join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["summary"]["rederived_from"].as_array().map(Vec::len), Some(3), "{}", m["summary"]);
    assert!(m["summary"]["not_rederived"].get("gate_pairs").is_none(), "{}", m["summary"]);
    let priced = "SELECT json_array(asset_id, price, raw_event_id) FROM market_snapshots WHERE source = 'enricher_cex' AND price IS NOT NULL";
    assert!(!rows(&db, priced).await.is_empty(), "CEX listings got their ticker's price");
    assert_eq!(rows(&db, priced).await, rows(&scratch_db(out, &all), priced).await, "ticker snapshots re-derived from the recorded tickers");
    let skipped = m["summary"]["not_rederived"].as_object().map(|o| o.keys().filter(|k| k.ends_with("_ticker")).count());
    assert_eq!(skipped, Some(0), "ticker captures are answers, not unknown sources: {}", m["summary"]);

    // From here on the venues are gone: re-derivation uses recorded responses only.
    drop(sim);

    // The second run alone (the first only rebuilds the CEX baselines).
    let o = nl(out, &env, &["rederive", "--from-raw", "--run", &run2]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let one = field(&stdout(&o), "run ").to_string();
    assert_same(&db, Some(&run2), &scratch_db(out, &one)).await;
    let o = nl(out, &env, &["diff-runs", &run2, &one]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));

    // Raise the score threshold just above the lowest passing score: exactly those assets change.
    let latest = format!(
        "SELECT json_array(g.asset_id, s.score) FROM gate_decisions g JOIN listing_scores s ON s.event_id IN (SELECT value FROM json_each(g.inputs_json)) \
         WHERE g.run_id = '{run2}' AND g.id = (SELECT MAX(h.id) FROM gate_decisions h WHERE h.asset_id = g.asset_id AND h.run_id = '{run2}')"
    );
    let scored: Vec<(String, f64)> = rows(&db, &latest)
        .await
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r).unwrap();
            (v[0].as_str().unwrap().to_string(), v[1].as_f64().unwrap())
        })
        .collect();
    let lowest_passing = scored.iter().map(|(_, s)| *s).filter(|s| *s >= 50.0).fold(f64::INFINITY, f64::min);
    assert!(lowest_passing.is_finite(), "some asset scores at least the default threshold: {scored:?}");
    let threshold = lowest_passing + 0.001;
    let expected: BTreeSet<String> = scored.iter().filter(|(_, s)| (50.0..threshold).contains(s)).map(|(a, _)| a.clone()).collect();
    assert!(!expected.is_empty() && expected.len() < scored.len(), "{scored:?}");
    let mut env2 = env.clone();
    env2.push(("NL_GATE__GATE__SCORE_THRESHOLD".into(), format!("{threshold:.3}")));
    let o = nl(out, &env2, &["rederive", "--from-raw", "--run", &run2]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let what_if = field(&stdout(&o), "run ").to_string();
    let o = nl(out, &env, &["diff-runs", &run2, &what_if]).await;
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    let listed: BTreeSet<String> =
        text.lines().filter(|l| l.starts_with("  ") && !l.starts_with("      ")).filter_map(|l| l.split_whitespace().next()).map(String::from).collect();
    assert_eq!(listed, expected, "{text}");
    assert!(text.contains("SCORE_BELOW_THRESHOLD"), "{text}");
    assert!(text.contains(&format!("decisions that differ: {}", expected.len())), "{text}");

    // A run that does not exist is trouble (exit 2), not "no differences".
    let o = nl(out, &env, &["diff-runs", &run2, "nl_19700101_000000Z_00000000"]).await;
    assert_eq!(o.status.code(), Some(2), "{}\n{}", stdout(&o), stderr(&o));
    assert!(hits > 0);
}
