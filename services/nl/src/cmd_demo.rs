//! `nl demo [--cycles N]`: the whole pipeline against simulated venues on loopback, offline.
//!
//! Starts [`nl_simulator::Simulator`], builds a cycle config from the loaded config with every simulated
//! source pointed at it (OKX, Binance and Gate instrument lists, the OKX announcement feed, GeckoTerminal
//! `new_pools` on one network, DexScreener profiles, the enricher's DexScreener pairs and OKX/Gate tickers
//! (whose base URLs follow the instrument-list sources), and the three risk providers) and every other
//! source disabled, then runs `run_cycle` N times, advancing the simulator
//! between cycles. Prints what was discovered, promoted and rejected.
//!
//! The first cycle is the CEX baseline (an instrument list's first poll reports nothing new); CEX listings
//! appear from the second cycle on, DEX pools from the first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use nl_config::Loaded;
use nl_runtime::{CycleConfig, CycleOptions};

use crate::config::NlConfig;

/// CEX sources the simulator serves.
pub const SIMULATED_CEX_SOURCES: [&str; 4] = ["okx_spot", "binance_spot", "gate_pairs", "okx_announcements"];

/// The config of a demo cycle: `base` with every simulated source pointed at `url`, the rest disabled,
/// outputs under `out_dir`.
///
/// # Errors
/// When a simulated source is missing from `base`'s `[sources]`.
pub fn demo_config(base: &NlConfig, url: &str, out_dir: &Path) -> anyhow::Result<NlConfig> {
    let mut c = base.clone();
    c.storage.out_dir = out_dir.to_path_buf();
    c.ledger.db_path = c.storage.db_path();
    c.recorder.path = c.storage.events_path();
    c.sources = base.sources.only(&SIMULATED_CEX_SOURCES);
    for name in SIMULATED_CEX_SOURCES {
        let s = c.sources.get_mut(name).with_context(|| format!("[sources.{name}] is missing from the config"))?;
        s.enabled = true;
        s.base_url = url.to_string();
    }
    c.dex.geckoterminal.enabled = true;
    c.dex.geckoterminal.base_url = url.to_string();
    c.dex.geckoterminal.networks = vec![nl_simulator::world::NETWORK.to_string()];
    c.dex.dexscreener.enabled = true;
    c.dex.dexscreener.base_url = url.to_string();
    c.dex.dexscreener.profiles = true;
    c.dex.dexscreener.boosts = false;
    c.dex.evm.clear();
    c.enricher.dexscreener.base_url = url.to_string();
    for p in [&mut c.risk_scorer.providers.goplus, &mut c.risk_scorer.providers.honeypot_is, &mut c.risk_scorer.providers.rugcheck] {
        p.base_url = url.to_string();
    }
    Ok(c)
}

/// The cycle config of a demo (or bench) config, hashed like a loaded one.
pub(crate) fn cycle_config(c: &NlConfig) -> anyhow::Result<CycleConfig> {
    let effective = nl_config::redact(&serde_json::to_value(c).context("serializing the demo config")?);
    Ok(CycleConfig {
        storage: c.storage.clone(),
        ledger: c.ledger.clone(),
        recorder: c.recorder.clone(),
        enricher: c.enricher.clone(),
        risk_scorer: c.risk_scorer.clone(),
        gate: c.gate.clone(),
        ai: c.ai.clone(),
        sources: c.sources.clone(),
        dex: c.dex.clone(),
        memory_max_messages: c.bus.memory_max_messages,
        max_in_cycle_wait_secs: c.run.max_in_cycle_wait_secs,
        config_hash: nl_config::hash_of(c),
        effective_config: effective,
    })
}

/// A fresh folder `demo/demo_<UTC time>` under the configured `[storage] out_dir` (`NL_STORAGE__OUT_DIR`):
/// a demo always starts from an empty DB, so the CEX baseline is the simulator's and a real DB is untouched.
fn default_out_dir(storage_out: &Path) -> PathBuf {
    storage_out.join("demo").join(chrono::Utc::now().format("demo_%Y%m%d_%H%M%S_%3f").to_string())
}

/// What the cycles of a demo found (assets, across cycles) and how many sources failed.
#[derive(Debug, Default)]
pub(crate) struct DemoTotals {
    pub discovered: BTreeSet<String>,
    pub promoted: BTreeSet<String>,
    pub rejected: BTreeSet<String>,
    /// Assets with no gate decision after the last cycle (should be none).
    pub undecided: Vec<String>,
    /// Each decided asset's latest decision, readable: decision, score and reasons.
    pub reasons: BTreeMap<String, String>,
    pub failed: usize,
}

/// Runs `cycles` demo cycles against a fresh simulator with outputs in `out_dir`, handing one progress
/// line per cycle (and per failed source) to `line`.
///
/// # Errors
/// The simulator could not start, or a cycle failed fatally.
pub(crate) async fn run_demo(loaded: &Loaded<NlConfig>, cycles: u32, out_dir: &Path, mut line: impl FnMut(String)) -> anyhow::Result<DemoTotals> {
    anyhow::ensure!(cycles >= 1, "--cycles must be at least 1");
    let sim = nl_simulator::Simulator::start().await.context("starting the simulator")?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let cfg = cycle_config(&demo_config(&loaded.config, &sim.base_url(), out_dir)?)?;
    line(format!("demo: simulated venues at {}, outputs in {}", sim.base_url(), out_dir.display()));
    let mut totals = DemoTotals::default();
    for i in 1..=cycles {
        if i > 1 {
            sim.advance();
        }
        let opts = CycleOptions { dry_run: false, drain_timeout: Duration::from_secs(60), interrupt: None };
        let out = nl_runtime::run_cycle(&cfg, opts, |line| tracing::debug!("{line}")).await?;
        totals.failed += out.failed_sources().len();
        for r in out.failed_sources() {
            line(format!("  FAILED {}", r.errors.first().or(r.not_committed.as_ref()).map_or(r.source.as_str(), String::as_str)));
        }
        // An asset can be decided more than once per cycle (once per snapshot); count assets.
        let (new, prom, rej): (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) =
            (out.new_assets.into_iter().collect(), out.promoted.into_iter().collect(), out.rejected.into_iter().collect());
        line(format!(
            "cycle {i}/{cycles} (tick {}): run {}  discovered {}  promoted {}  rejected {}  events {}",
            sim.tick(),
            out.manifest.run_id,
            new.len(),
            prom.len(),
            rej.len(),
            out.manifest.events.count
        ));
        totals.discovered.extend(new);
        totals.promoted.extend(prom);
        totals.rejected.extend(rej);
        totals.undecided = out.undecided;
    }
    let reader = nl_ledger::SqliteReader::open(&cfg.ledger.db_path, 1).await.with_context(|| format!("opening {}", cfg.ledger.db_path.display()))?;
    for a in totals.promoted.iter().chain(&totals.rejected) {
        let latest = reader.latest(a).await.with_context(|| format!("reading the decision of {a}"))?;
        totals.reasons.insert(a.clone(), readable(&latest));
    }
    Ok(totals)
}

/// An asset's latest decision in one line: `promoted, score 81.3: PROMOTED; liquidity $250,000 (+35.0), ...`.
fn readable(latest: &nl_ledger::Latest) -> String {
    let Some(d) = &latest.decision else { return "no decision".into() };
    let codes: Vec<String> = serde_json::from_str(&d.reason_codes_json).unwrap_or_default();
    let codes: Vec<&str> = codes.iter().map(String::as_str).filter(|c| !c.starts_with("PASS:")).collect();
    let score = latest.score.as_ref().map_or_else(String::new, |s| format!(", score {}: {}", s.score, s.reason));
    format!("{}: {}{score}", d.decision, codes.join(", "))
}

/// Runs the demo and prints its summary.
///
/// # Errors
/// The simulator could not start, or a cycle failed fatally.
pub async fn demo(loaded: &Loaded<NlConfig>, cycles: u32, out_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let out_dir = out_dir.unwrap_or_else(|| default_out_dir(&loaded.config.storage.out_dir));
    let t = run_demo(loaded, cycles, &out_dir, |l| println!("{l}")).await?;
    println!("summary: discoveries {}  promotions {}  rejections {}", t.discovered.len(), t.promoted.len(), t.rejected.len());
    for a in &t.discovered {
        println!("  discovered {a}");
    }
    for a in &t.promoted {
        println!("  promoted   {a} ({})", t.reasons.get(a).map_or("", String::as_str));
    }
    for a in &t.rejected {
        println!("  rejected   {a} ({})", t.reasons.get(a).map_or("", String::as_str));
    }
    println!("undecided assets: {}", t.undecided.len());
    for a in &t.undecided {
        println!("  undecided  {a}");
    }
    println!("outputs: {}", out_dir.display());
    let storage = nl_config::StorageConfig { out_dir: out_dir.clone() };
    let example = t.promoted.iter().chain(&t.rejected).chain(&t.discovered).next().map(String::as_str);
    print_how_to_look(&storage.db_path(), &storage.events_path(), &out_dir, example);
    Ok(if t.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(crate::cmd_cycle::EXIT_SOURCES_FAILED) })
}

/// Where a demo's results are and the commands a user types to look at them: the dashboard and the
/// terminal views first (`example` is an asset to `nl show`), the raw files last.
fn print_how_to_look(db: &Path, events: &Path, out_dir: &Path, example: Option<&str>) {
    let dir = out_dir.display();
    println!("look at the results:");
    println!("  nl web --out-dir {dir}          # dashboard on http://127.0.0.1:8088/ (live listings, assets, sources)");
    println!("  nl list --out-dir {dir}");
    println!("  nl candidates --out-dir {dir}");
    println!("  nl show --out-dir {dir} {}", example.unwrap_or("ASSET_ID   # an id from nl list"));
    println!("  NL_STORAGE__OUT_DIR={dir} nl status");
    println!("  nl replay-events --path {} --type candidate.promoted", events.display());
    println!("  sqlite3 {} 'SELECT asset_id, symbol, first_seen_at FROM v_assets_new'", db.display());
}
