//! `nl bench run-memory`: `nl run` (the embedded continuous mode, its own process) tracking N on-chain
//! assets from the loopback simulator, for issue 14's figures: its peak resident memory (`VmHWM`) and the
//! decisions it emits when the assets are re-snapshotted unchanged.
//!
//! The simulator serves GeckoTerminal `new_pools` as the venue does: 20 pools a page, newest first, pages 1
//! to 10 (later ones are paid). So the N pools (half clean tokens, half honeypots) arrive over many polls:
//! `nl run` starts with one page of pools listed (a first poll reads one page), and each time every listed
//! pool has been served on some page, [`feed`] lists [`BATCH_POOLS`] more (ten pages), until N are listed.
//! The child's config is the demo's (every simulated source on the simulator) with the CEX sources off
//! (their ticker budgets are a venue's, minutes for 10,000 assets), budgets opened and a short poll interval
//! ([`POLL_MS`]) for the loopback venues, every page read, and a short re-snapshot tier
//! ([`RESNAPSHOT_SECS`]) so a quiet window sees every asset looked up again. The simulator's market facts
//! never move, so once every asset had its first re-snapshot (DexScreener's facts joining GeckoTerminal's,
//! a change) every re-snapshot is unchanged: the decisions count must not grow in the window that follows,
//! while the simulator's request count shows the lookups happened.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use nl_config::Loaded;
use nl_simulator::Simulator;
use nl_simulator::world::{MAX_PAGES, PAGE_POOLS};
use tokio::process::{Child, Command};

use crate::bench_kernel::{Series, count};
use crate::config::NlConfig;

/// Re-snapshot interval of the bench's only schedule tier.
const RESNAPSHOT_SECS: u64 = 15;
/// The quiet window after every asset is decided: two re-snapshot rounds and a margin.
const QUIET: Duration = Duration::from_secs(2 * RESNAPSHOT_SECS + 5);
/// Give up when the decided count does not move for this long.
const STALL: Duration = Duration::from_secs(120);
/// How often the bench samples the DB and the child's memory.
const SAMPLE: Duration = Duration::from_millis(500);
/// GeckoTerminal poll interval of the child (the venue's keyless cache is 60 s; loopback needs none).
const POLL_MS: u64 = 250;
/// Pools listed at once: every page a poll may read ([`MAX_PAGES`] of [`PAGE_POOLS`]).
const BATCH_POOLS: u64 = MAX_PAGES as u64 * PAGE_POOLS;

/// One `nl run` measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunMemoryFigures {
    /// Assets in the DB with a gate decision.
    pub decided: u64,
    /// Seconds from spawning `nl run` to every asset decided.
    pub settle_secs: f64,
    /// Peak resident set of the `nl run` process (`VmHWM`), MB.
    pub peak_rss_mb: f64,
    /// Gate decisions and market snapshots stored during the quiet window (both should be 0).
    pub quiet_decisions: u64,
    pub quiet_snapshots: u64,
    /// Requests the simulator served during the quiet window (the re-snapshot lookups).
    pub quiet_lookups: u64,
}

/// Runs the measurement `runs` times, printing each run and then min/median/max.
///
/// # Errors
/// As [`measure`].
pub async fn run_memory(loaded: &Loaded<NlConfig>, assets: usize, runs: usize) -> anyhow::Result<()> {
    let runs = runs.max(1);
    println!("nl bench run-memory: nl run tracking {assets} simulated on-chain assets (loopback), {runs} run(s), {}", crate::bench::build_kind());
    let (mut settle, mut rss, mut decisions, mut snapshots) = (Series::default(), Series::default(), Series::default(), Series::default());
    for run in 1..=runs {
        let f = measure(loaded, assets).await?;
        println!(
            "  run {run}: {} assets decided in {:.1} s; peak memory {:.1} MB; quiet window: {} decisions, {} snapshots stored, {} simulator requests",
            f.decided, f.settle_secs, f.peak_rss_mb, f.quiet_decisions, f.quiet_snapshots, f.quiet_lookups
        );
        settle.push(f.settle_secs);
        rss.push(f.peak_rss_mb);
        decisions.push(count(f.quiet_decisions));
        snapshots.push(count(f.quiet_snapshots));
    }
    println!("  every asset decided after        {}", settle.show("s", 1));
    println!("  peak memory of nl run (VmHWM)    {}   (target < 150 MB at 10,000 assets)", rss.show("MB", 1));
    println!(
        "  quiet window ({} s, re-snapshots every {RESNAPSHOT_SECS} s, nothing moved): decisions {}, snapshots stored {} (target 0 decisions)",
        QUIET.as_secs(),
        decisions.show("", 0),
        snapshots.show("", 0)
    );
    Ok(())
}

/// Starts the simulator at `assets` pools and `nl run` against it, waits until every asset is decided,
/// then watches a quiet window; returns the figures. `nl run` is stopped (SIGTERM) at the end.
///
/// # Errors
/// The simulator or `nl run` failing to start, `nl run` exiting early, or decisions stalling.
pub(crate) async fn measure(loaded: &Loaded<NlConfig>, assets: usize) -> anyhow::Result<RunMemoryFigures> {
    anyhow::ensure!(assets >= 2, "--events must be at least 2");
    let sim = std::sync::Arc::new(Simulator::start().await.context("starting the simulator")?);
    // Tick t lists 2 (t + 1) pools: one page of them before the first poll.
    let last_tick = u32::try_from(assets.div_ceil(2) - 1).context("--events too large")?;
    sim.advance_by(last_tick.min(u32::try_from(PAGE_POOLS / 2 - 1).unwrap_or(0)));
    let feeder = tokio::spawn(feed(std::sync::Arc::clone(&sim), last_tick));
    let dir = tempfile::tempdir().context("temp dir")?;
    let cfg = bench_config(&loaded.config, &sim.base_url(), dir.path(), assets)?;
    let config_path = dir.path().join("bench-run.toml");
    std::fs::write(&config_path, toml::to_string(&cfg).context("writing the bench config as TOML")?).context("writing the bench config")?;
    let started = Instant::now();
    let log = dir.path().join("nl-run.stderr");
    let mut child = spawn(&config_path, &log)?;
    let result = watch(&mut child, &cfg.ledger.db_path, &sim, assets as u64, started).await;
    feeder.abort();
    stop(&mut child).await;
    result.map_err(|e| {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        e.context(format!("nl run's last lines on stderr: {}", tail.into_iter().rev().collect::<Vec<_>>().join(" | ")))
    })
}

/// Lists [`BATCH_POOLS`] more pools each time the simulator served every listed pool on some page, until
/// tick `last` (a batch listed while a poll was paging would push unread pools past page 10, but a poll
/// with nothing new reads one page).
async fn feed(sim: std::sync::Arc<Simulator>, last: u32) {
    let batch = u32::try_from(BATCH_POOLS / 2).unwrap_or(1);
    while sim.tick() < last {
        if sim.pools_unserved() == 0 {
            sim.advance_by(batch.min(last - sim.tick()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The demo's config with the CEX sources off, loopback budgets, every `new_pools` page read at a short
/// interval, and a short re-snapshot tier.
fn bench_config(base: &NlConfig, url: &str, out: &Path, assets: usize) -> anyhow::Result<NlConfig> {
    let mut c = crate::cmd_demo::demo_config(base, url, out)?;
    for s in crate::cmd_demo::SIMULATED_CEX_SOURCES {
        if let Some(s) = c.sources.get_mut(s) {
            s.enabled = false;
        }
    }
    c.dex.dexscreener.enabled = false;
    // Push feeds' options name sources the demo config leaves out.
    c.push.clear();
    let g = &mut c.dex.geckoterminal;
    (g.calls_per_min, g.interval_ms, g.max_pages, g.lookback_minutes) = (1e6, POLL_MS, MAX_PAGES, 24 * 60);
    c.enricher.dexscreener.calls_per_min = 1e9;
    c.enricher.max_tracked = c.enricher.max_tracked.max(assets);
    c.enricher.schedule.tiers = vec![nl_enricher::Tier { max_age_minutes: 24 * 60, every_secs: RESNAPSHOT_SECS }];
    c.risk_scorer.providers = nl_adapters::providers::ProvidersConfig::all_at(url);
    Ok(c)
}

/// `nl run` on `config`, its stderr (a progress line per checkpoint) into `log`.
fn spawn(config: &Path, log: &Path) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("locating the nl executable")?;
    let stderr = std::fs::File::create(log).context("creating the nl run log")?;
    let mut cmd = Command::new(exe);
    cmd.arg("--config")
        .arg(config)
        .args(["run", "--checkpoint-secs", "5"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "warn");
    }
    cmd.spawn().context("spawning nl run")
}

async fn watch(child: &mut Child, db: &Path, sim: &Simulator, assets: u64, started: Instant) -> anyhow::Result<RunMemoryFigures> {
    let pid = child.id().context("nl run has no pid")?;
    let alive = |child: &mut Child| -> anyhow::Result<()> {
        match child.try_wait().context("polling nl run")? {
            Some(status) => anyhow::bail!("nl run exited early ({status})"),
            None => Ok(()),
        }
    };
    // The run's ledger creates the DB; read it once it exists.
    let reader = loop {
        alive(child)?;
        anyhow::ensure!(started.elapsed() < STALL, "nl run created no DB within {} s", STALL.as_secs());
        if db.exists()
            && let Ok(r) = nl_ledger::SqliteReader::open(db, 1).await
            && counts(&r).await.is_ok()
        {
            break r;
        }
        tokio::time::sleep(SAMPLE).await;
    };
    let (mut last, mut progress) = (Counts::default(), Instant::now());
    loop {
        alive(child)?;
        let c = counts(&reader).await?;
        if c.assets >= assets && c.decided >= c.assets {
            break;
        }
        if c != last {
            (last, progress) = (c, Instant::now());
        }
        anyhow::ensure!(
            progress.elapsed() < STALL,
            "nl run stalled at {} of {} assets decided ({} of {assets} pools listed, {} not served on any page yet)",
            c.decided,
            c.assets,
            2 * (u64::from(sim.tick()) + 1),
            sim.pools_unserved()
        );
        tokio::time::sleep(SAMPLE).await;
    }
    let settle_secs = started.elapsed().as_secs_f64();
    // An asset's first re-snapshot is DexScreener's pair, whose facts differ from GeckoTerminal's pool it was
    // first snapshotted from (a market cap appears; a honeypot's price disagrees): a change, stored. The
    // window starts once every asset had it (or two tiers passed), so all it sees is unchanged re-snapshots.
    let first_resnapshots = Instant::now();
    while counts(&reader).await?.snapshots < 2 * assets && first_resnapshots.elapsed() < Duration::from_secs(2 * RESNAPSHOT_SECS) {
        alive(child)?;
        tokio::time::sleep(SAMPLE).await;
    }
    let before = counts(&reader).await?;
    let hits = sim.hits();
    tokio::time::sleep(QUIET).await;
    alive(child)?;
    let after = counts(&reader).await?;
    let peak_rss_mb = vm_hwm_kb(pid)? as f64 / 1024.0;
    Ok(RunMemoryFigures {
        decided: after.decided,
        settle_secs,
        peak_rss_mb,
        quiet_decisions: after.decisions - before.decisions,
        quiet_snapshots: after.snapshots - before.snapshots,
        quiet_lookups: sim.hits() - hits,
    })
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    assets: u64,
    decided: u64,
    decisions: u64,
    snapshots: u64,
}

async fn counts(r: &nl_ledger::SqliteReader) -> anyhow::Result<Counts> {
    let (assets, decided, decisions, snapshots): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM assets), (SELECT count(DISTINCT asset_id) FROM gate_decisions), \
         (SELECT count(*) FROM gate_decisions), (SELECT count(*) FROM market_snapshots)",
    )
    .fetch_one(r.pool())
    .await
    .context("counting the run's rows")?;
    let u = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Counts { assets: u(assets), decided: u(decided), decisions: u(decisions), snapshots: u(snapshots) })
}

/// `VmHWM` of `pid` (peak resident set), KiB.
fn vm_hwm_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc/<pid>/status (Linux only)")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmHWM in /proc/<pid>/status")
}

/// SIGTERM, then up to 60 s to drain and exit; killed if it does not.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
    }
    if tokio::time::timeout(Duration::from_secs(60), child.wait()).await.is_err() {
        println!("  note: nl run did not stop within 60 s; killed");
        let _ = child.kill().await;
    }
}
