//! `nl bench rederive`: a generated run re-derived (normalize, enrich, risk, score, gate into a scratch DB),
//! `--runs` times, next to the Python reference `scripts/bench/pyref.py` run on as many listings in the
//! same bench. Figures, each min/median/max over the runs: raw events/s, *persisted* listings/s (rows of
//! `assets` in the scratch DB over the re-derivation's wall time, everything committed), the reference's
//! listings/s, the ratio, and peak RSS of the re-derivation (the process's high-water mark, reset after
//! the run is generated; Linux) and of the reference.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::SubsecRound;
use nl_adapters::providers::{Provider, request_path};
use nl_collector::RunIdentity;
use nl_config::Loaded;
use nl_domain::{AssetId, RawEvent};
use nl_ledger::LedgerStore;
use nl_runtime::{CycleConfig, RederiveOptions};
use nl_simulator::world::{NETWORK, TokenKind, World, token_address};

use crate::config::NlConfig;

/// The reference, relative to the workspace root.
const PYREF: &str = "scripts/bench/pyref.py";
/// The reference's commit batch (its default).
const PYREF_BATCH: usize = 1000;

/// One re-derivation's figures.
struct Run {
    raws: usize,
    listings: u64,
    secs: f64,
    /// Peak RSS in MB during the re-derivation (`None` off Linux).
    peak_mb: Option<f64>,
    decisions: i64,
}

/// One reference run's figures.
struct RefRun {
    per_sec: f64,
    peak_mb: Option<f64>,
}

/// Runs the bench: `runs` re-derivations of `n` raw events, each followed by the reference on as many listings.
///
/// # Errors
/// When generating or re-deriving fails, or raws are left un-derived. A missing python3 only skips the reference.
#[allow(clippy::cast_precision_loss)]
pub(crate) async fn bench(loaded: &Loaded<NlConfig>, n: usize, runs: usize) -> anyhow::Result<()> {
    let pages = n.div_ceil(RAWS_PER_PAGE).max(1);
    let runs = runs.max(1);
    let build = if cfg!(debug_assertions) { "DEBUG (use --release)" } else { "release" };
    println!(
        "nl bench rederive: {} raw events ({pages} GeckoTerminal pages of 2 new pools + 4 provider answers, {} listings), {runs} run(s), {build} build",
        pages * RAWS_PER_PAGE,
        pages * 2
    );
    let script = pyref_script();
    let (mut ours, mut refs) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let dir = tempfile::tempdir().context("temp dir")?;
        let g = rederive_generated_with(loaded, pages, dir.path(), reset_peak_rss).await?;
        let peak_mb = peak_rss_mb();
        let o = &g.outcome;
        anyhow::ensure!(o.not_rederived.is_empty(), "raw events not re-derived: {:?}", o.not_rederived);
        let per_type = &o.manifest.events_per_type;
        let count = |t: &str| per_type.get(t).copied().unwrap_or(0);
        let listings = o.manifest.row_counts.get("assets").copied().unwrap_or(0);
        let run = Run {
            raws: o.raws_read,
            listings: u64::try_from(listings).unwrap_or(0),
            secs: o.elapsed.as_secs_f64(),
            peak_mb,
            decisions: count("candidate.promoted") + count("candidate.rejected"),
        };
        println!(
            "  run {}: generated {} raws in {:.1} s; re-derived in {:.2} s: {} assets, {} snapshots, {} scores, {} decisions; peak RSS {}",
            i + 1,
            g.written,
            g.generated_in.as_secs_f64(),
            run.secs,
            run.listings,
            count("snapshot.recorded"),
            count("score.computed"),
            run.decisions,
            mb(run.peak_mb)
        );
        drop(g);
        drop(dir);
        ours.push(run);
        match &script {
            Ok(s) => match pyref(s, pages * 2).await {
                Ok(r) => refs.push(r),
                Err(e) => println!("  reference skipped: {e:#}"),
            },
            Err(e) => println!("  reference skipped: {e:#}"),
        }
    }
    let line = |label: &str, v: Vec<f64>, unit: &str| {
        let (lo, med, hi) = spread(v);
        println!("  {label:<44} min {lo:>10.0}  median {med:>10.0}  max {hi:>10.0} {unit}");
        med
    };
    println!("figures over {runs} run(s):");
    line("re-derivation raw events/s", ours.iter().map(|r| per_sec(r.raws as f64, r.secs)).collect(), "raws/s");
    let nl_med = line("re-derivation persisted listings/s", ours.iter().map(|r| per_sec(r.listings as f64, r.secs)).collect(), "listings/s");
    line("re-derivation peak RSS", ours.iter().filter_map(|r| r.peak_mb).collect(), "MB");
    if refs.is_empty() {
        return Ok(());
    }
    let ref_med = line("pyref.py (same listings, same machine)", refs.iter().map(|r| r.per_sec).collect(), "listings/s");
    line("pyref.py peak RSS", refs.iter().filter_map(|r| r.peak_mb).collect(), "MB");
    println!("  nl / reference (median over median, persisted listings/s): {:.2}x  (target >= 2x)", nl_med / ref_med.max(1e-9));
    Ok(())
}

fn per_sec(n: f64, secs: f64) -> f64 {
    n / secs.max(1e-9)
}

fn mb(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |m| format!("{m:.0} MB"))
}

/// min, median, max.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    match (v.first(), v.get(v.len() / 2), v.last()) {
        (Some(a), Some(m), Some(z)) => (*a, *m, *z),
        _ => (0.0, 0.0, 0.0),
    }
}

/// Resets the process's peak-RSS mark (`VmHWM`) to its current RSS (Linux `clear_refs` 5; a no-op elsewhere).
fn reset_peak_rss() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        tracing::debug!(error = %e, "Cannot reset the peak-RSS mark.");
    }
}

/// The process's peak RSS (`VmHWM`) in MB, on Linux.
#[allow(clippy::cast_precision_loss)]
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb as f64 / 1024.0)
}

/// The reference script: under the working directory (the workspace root), else beside this crate's sources.
fn pyref_script() -> anyhow::Result<PathBuf> {
    let candidates = [PathBuf::from(PYREF), Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(PYREF)];
    candidates.into_iter().find(|p| p.is_file()).with_context(|| format!("{PYREF} not found (run from the workspace root)"))
}

/// Runs the reference on `listings` (under `/usr/bin/time` for its peak RSS when that exists); returns the
/// listings/s it reports.
async fn pyref(script: &Path, listings: usize) -> anyhow::Result<RefRun> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let timed = Path::new("/usr/bin/time").is_file();
    let mut cmd = if timed {
        let mut c = tokio::process::Command::new("/usr/bin/time");
        c.args(["-f", "maxrss_kb=%M", "python3"]);
        c
    } else {
        tokio::process::Command::new("python3")
    };
    let output = cmd
        .arg(script)
        .arg(listings.to_string())
        .arg(PYREF_BATCH.to_string())
        .arg(dir.path().join("pyref"))
        .output()
        .await
        .context("running python3 (is it installed?)")?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(output.status.success(), "{} failed: {stdout}{stderr}", script.display());
    // "pyref: N listings in S s = R listings/s (batch B); ..."
    let per_sec = stdout
        .split(" = ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|r| r.parse::<f64>().ok())
        .with_context(|| format!("no listings/s in the reference's output: {stdout}"))?;
    #[allow(clippy::cast_precision_loss)]
    let peak_mb = stderr.lines().find_map(|l| l.trim().strip_prefix("maxrss_kb=")).and_then(|k| k.parse::<u64>().ok()).map(|k| k as f64 / 1024.0);
    Ok(RefRun { per_sec, peak_mb })
}

/// Raw events per generated page: the page and two answers (GoPlus, honeypot.is) for each of its two tokens.
const RAWS_PER_PAGE: usize = 5;

/// A generated run re-derived: raw events written, how long generating took, and the re-derivation.
pub(crate) struct Generated {
    pub written: usize,
    pub generated_in: Duration,
    pub outcome: nl_runtime::RederiveOutcome,
}

/// Writes a generated run of `pages` pages (2 new pools each, with their provider answers) into a DB under
/// `dir`, then re-derives it (into `dir/runs/<run id>/rederive/`).
///
/// # Errors
/// When the bench config, the DB or the re-derivation fails.
pub(crate) async fn rederive_generated(loaded: &Loaded<NlConfig>, pages: usize, dir: &std::path::Path) -> anyhow::Result<Generated> {
    rederive_generated_with(loaded, pages, dir, || {}).await
}

/// As [`rederive_generated`], calling `before` between generating and re-deriving (the bench resets the
/// peak-RSS mark there, so the figure is the re-derivation's).
async fn rederive_generated_with(loaded: &Loaded<NlConfig>, pages: usize, dir: &std::path::Path, before: impl FnOnce()) -> anyhow::Result<Generated> {
    // Never contacted: re-derivation answers from the recorded raws; the URL only shapes their endpoints.
    let c = crate::cmd_demo::demo_config(&loaded.config, "http://127.0.0.1:9", dir)?;
    let cfg = crate::cmd_demo::cycle_config(&c)?;
    let t0 = Instant::now();
    let written = write_raws(&cfg, pages).await?;
    let generated_in = t0.elapsed();
    before();
    let opts = RederiveOptions { run: None, out_dir: None, drain_timeout: Duration::from_secs(3600) };
    let outcome = nl_runtime::rederive(&cfg, &opts, |_| {}).await?;
    Ok(Generated { written, generated_in, outcome })
}

/// Writes `pages` pages with their provider answers as one run's raw events into `cfg`'s DB (through the
/// ledger, as the pipeline stores them); returns how many.
async fn write_raws(cfg: &CycleConfig, pages: usize) -> anyhow::Result<usize> {
    let world = World::new()?;
    let template = world.new_pools(NETWORK, 1);
    let pools: Vec<String> = template["data"].as_array().into_iter().flatten().filter_map(|p| p["attributes"]["address"].as_str().map(String::from)).collect();
    anyhow::ensure!(pools.len() == 2, "the simulator's tick-0 page has {} pools, expected 2", pools.len());
    let template = template.to_string();
    let kinds = [TokenKind::Clean, TokenKind::Honeypot];
    let answers: Vec<(String, String)> = kinds
        .iter()
        .map(|k| {
            let a = token_address(0, *k);
            Ok((world.goplus(&a).context("goplus answer")?, world.honeypot_is(&a).context("honeypot.is answer")?))
        })
        .collect::<anyhow::Result<_>>()?;
    // Observed 10 minutes ago, 35 minutes after the simulated pools were created (old enough for the gate).
    let start = chrono::Utc::now().trunc_subsecs(3) - chrono::Duration::minutes(10);
    let run_id = nl_config::new_run_id(start);
    let run = RunIdentity { run_id: run_id.clone(), config_hash: cfg.config_hash.clone() };
    let gecko = format!("{}/networks/{NETWORK}/new_pools?page=1&include=base_token,quote_token,dex", cfg.dex.geckoterminal.base_url.trim_end_matches('/'));
    let store = LedgerStore::open(&cfg.ledger).await.context("opening the bench DB")?;
    let mut raws = Vec::with_capacity(4096);
    let mut written = 0;
    for i in 0..pages {
        let tick = u32::try_from(i).context("too many pages")?;
        let at = start + chrono::Duration::milliseconds(i64::try_from(i).unwrap_or(i64::MAX) * 5);
        let mut page = template.clone();
        for (k, kind) in kinds.iter().enumerate() {
            page = page
                .replace(&token_address(0, *kind), &token_address(tick, *kind))
                .replace(&pools[k], &format!("0x{:040x}", 0x7070_0000_0000_u64 + u64::from(tick) * 16 + k as u64));
        }
        raws.push(RawEvent::new(&cfg.dex.geckoterminal.name, &gecko, Some(200), at, page, &run_id));
        for (k, kind) in kinds.iter().enumerate() {
            let addr = token_address(tick, *kind);
            let asset = AssetId::parse(&format!("{NETWORK}:{addr}"))?;
            for (j, (p, body)) in [(Provider::Goplus, &answers[k].0), (Provider::HoneypotIs, &answers[k].1)].into_iter().enumerate() {
                let path = request_path(p, &asset).context("provider path")?;
                let endpoint = format!("{}{path}", cfg.risk_scorer.providers.of(p).base_url.trim_end_matches('/'));
                let at = at + chrono::Duration::milliseconds(1 + (k * 2 + j) as i64);
                raws.push(RawEvent::new(p.as_str(), &endpoint, Some(200), at, body.replace(&token_address(0, *kind), &addr), &run_id));
            }
        }
        if raws.len() >= 4000 || i + 1 == pages {
            let envs: Vec<_> = raws.iter().map(|r| r.to_envelope(&run)).collect();
            written += envs.len();
            store.apply(envs).await.context("storing raw events")?;
            raws.clear();
        }
    }
    Ok(written)
}
