//! `nl rederive --from-raw [--run RUN_ID] [--out DIR]` and `nl diff-runs A B [--db-a PATH] [--db-b PATH]`:
//! re-derive assets, scores and decisions from raw_events alone, and list the decisions that differ
//! between two runs (an original and its re-derivation, or two re-derivations under different configs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use nl_config::Loaded;
use nl_runtime::diff::{ALL_RUNS, DecisionDiff, RunDecision};
use nl_runtime::{RederiveOptions, diff_decisions, run_decisions};

use crate::cmd_cycle::{EXIT_SOURCES_FAILED, cycle_config};
use crate::config::NlConfig;

/// Exit code of `diff-runs` when decisions differ (0: none differ).
pub const EXIT_DECISIONS_DIFFER: u8 = 1;
/// Exit code of `diff-runs` when a run or database cannot be read.
pub const EXIT_DIFF_TROUBLE: u8 = 2;

/// Re-derives from the configured DB's raw_events and prints the summary. Exit 0, or 3 when some raw
/// events could not be re-derived with this config (listed by source).
///
/// # Errors
/// Fatal failures (no DB or raw events, unknown run, scratch folder not fresh, pipeline did not drain).
pub async fn rederive(loaded: &Loaded<NlConfig>, run: Option<String>, out: Option<PathBuf>, drain_timeout_secs: u64) -> anyhow::Result<ExitCode> {
    let cfg = cycle_config(loaded);
    let opts = RederiveOptions { run: run.clone(), out_dir: out, drain_timeout: Duration::from_secs(drain_timeout_secs) };
    let o = nl_runtime::rederive(&cfg, &opts, |line| eprintln!("{line}")).await?;
    println!("run {} (re-derived from raw_events of {})", o.run_id, cfg.ledger.db_path.display());
    println!("config_hash {}", o.manifest.config_hash);
    println!(
        "re-derived runs: {}  raw events read: {}  in {:.2} s ({:.0} raw events/s)",
        o.segments.len(),
        o.raws_read,
        o.elapsed.as_secs_f64(),
        o.raws_per_sec()
    );
    for s in &o.segments {
        println!(
            "  {:<32} raws {:>7}  source responses {:>7}  observations {:>6}  unused answers {:>4}",
            s.run_id, s.raws, s.source_raws, s.observations, s.unused_answers
        );
    }
    for (source, n) in &o.not_rederived {
        println!("  NOT RE-DERIVED {source}: {n} raw events (source not enabled in this config, or it cannot re-derive from raw)");
    }
    for (t, n) in &o.manifest.events_per_type {
        println!("  {t:<20} {n}");
    }
    println!("db {}", o.db_path.display());
    println!("manifest {}", o.manifest_path.display());
    let original = run.unwrap_or_else(|| ALL_RUNS.to_string());
    println!("compare: nl diff-runs {original} {}", o.run_id);
    Ok(if o.not_rederived.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_SOURCES_FAILED) })
}

/// Prints the decisions that differ between runs `a` and `b`. Exit 0 when none differ, 1 when some do,
/// 2 when a run or database cannot be read.
///
/// # Errors
/// None: failures are reported with exit code 2.
pub async fn diff_runs(loaded: &Loaded<NlConfig>, a: &str, b: &str, db_a: Option<PathBuf>, db_b: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let c = &loaded.config;
    let (db_a, db_b) = (run_db(c, a, db_a), run_db(c, b, db_b));
    let sides = async { Ok::<_, anyhow::Error>((run_decisions(&db_a, a).await?, run_decisions(&db_b, b).await?)) };
    let (da, dbb) = match sides.await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(EXIT_DIFF_TROUBLE));
        }
    };
    println!("A {a} ({})  assets decided: {}", db_a.display(), da.len());
    println!("B {b} ({})  assets decided: {}", db_b.display(), dbb.len());
    let diffs = diff_decisions(&da, &dbb);
    println!("decisions that differ: {}", diffs.len());
    for d in &diffs {
        print_diff(d);
    }
    Ok(if diffs.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_DECISIONS_DIFFER) })
}

/// The DB of `run`: the given one, else its re-derivation's scratch DB when there is one, else the configured DB.
fn run_db(c: &NlConfig, run: &str, given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        let scratch = c.storage.runs_dir().join(run).join("rederive").join(nl_config::DB_FILE_NAME);
        if scratch.exists() { scratch } else { c.ledger.db_path.clone() }
    })
}

fn side(d: Option<&RunDecision>) -> String {
    d.map_or_else(|| "-".to_string(), |r| r.decision.clone())
}

fn reasons(label: &str, d: Option<&RunDecision>) -> String {
    match d {
        Some(r) => format!("      {label}: {}  (score {}, {})", r.reason_codes.join(", "), r.score.as_deref().unwrap_or("-"), r.rule_set_version),
        None => format!("      {label}: not decided in this run"),
    }
}

fn print_diff(d: &DecisionDiff) {
    println!("  {}  {} -> {}  [{}]", d.asset_id, side(d.a.as_ref()), side(d.b.as_ref()), d.kind());
    println!("{}", reasons("A", d.a.as_ref()));
    println!("{}", reasons("B", d.b.as_ref()));
}
