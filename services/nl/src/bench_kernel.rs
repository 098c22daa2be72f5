//! `nl bench kernel`: issue 14's figures in one run, each next to its baseline measured in the same run,
//! as min/median/max over `--runs` repetitions. It repeats the other benches' own measurements:
//!
//! * the ledger from MemoryBus against SQLite's raw batched insert of the same rows
//!   ([`crate::bench::ledger_vs_raw`], as `nl bench ledger`); target at least 75 %;
//! * the NATS pipeline's listings/s fully persisted against the Python reference `scripts/bench/pyref.py`
//!   on as many listings ([`crate::bench_pipeline::measure`], [`crate::bench_bytes::pyref_rate`]); target
//!   at least 1x; and its observation -> decision p99 at a steady 2,000/s, target under 100 ms;
//! * `nl run`'s peak memory tracking 10,000 assets and the decisions it emits on unchanged re-snapshots
//!   ([`crate::bench_run::measure`]); targets under 150 MB and 0.

use anyhow::Context;
use nl_config::Loaded;

use crate::bench_bytes::spread;
use crate::config::NlConfig;

/// Assets `nl run` tracks in the memory figure.
const RUN_ASSETS: usize = 10_000;

/// One figure's values over the runs.
#[derive(Default)]
pub(crate) struct Series(Vec<f64>);

impl Series {
    pub(crate) fn push(&mut self, v: f64) {
        self.0.push(v);
    }

    pub(crate) fn show(&self, unit: &str, digits: usize) -> String {
        if self.0.is_empty() {
            return "-".into();
        }
        let (lo, med, hi) = spread(self.0.clone());
        format!("min {lo:.digits$} / median {med:.digits$} / max {hi:.digits$} {unit}")
    }

    fn median(&self) -> Option<f64> {
        (!self.0.is_empty()).then(|| spread(self.0.clone()).1)
    }
}

#[allow(clippy::cast_precision_loss)]
pub(crate) fn count(n: u64) -> f64 {
    n as f64
}

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "MEETS",
        Some(false) => "BELOW",
        None => "-",
    }
}

/// Runs every figure `runs` times (interleaved, so a slow moment of the machine hits all alike) and prints them.
///
/// # Errors
/// When a measurement fails (a missing python3 only leaves the reference out).
pub async fn kernel(loaded: &Loaded<NlConfig>, n: usize, runs: usize) -> anyhow::Result<()> {
    let runs = runs.max(1);
    let listings = (n / 5).max(1);
    println!(
        "nl bench kernel: issue 14's figures, {runs} run(s), {}; ledger {n} events, pipeline and reference {listings} listings, nl run {RUN_ASSETS} assets",
        crate::bench::build_kind()
    );
    let (mut raw, mut mem, mut mem_pct) = (Series::default(), Series::default(), Series::default());
    let (mut persisted, mut pyref, mut persisted_x, mut p99, mut steady) = (Series::default(), Series::default(), Series::default(), Series::default(), Series::default());
    let (mut decided, mut p50) = (Series::default(), Series::default());
    let (mut rss, mut quiet_decisions, mut quiet_lookups) = (Series::default(), Series::default(), Series::default());
    for run in 1..=runs {
        eprintln!("run {run}/{runs}: ledger");
        let (r, m) = crate::bench::ledger_vs_raw(n).await.context("ledger figure")?;
        raw.push(r);
        mem.push(m);
        mem_pct.push(100.0 * m / r.max(1e-9));

        eprintln!("run {run}/{runs}: NATS pipeline");
        let p = crate::bench_pipeline::measure(loaded, listings, false).await.context("pipeline figure")?;
        decided.push(p.decided_per_sec);
        p50.push(p.steady_p50_ms);
        p99.push(p.steady_p99_ms);
        steady.push(p.steady_rate);
        eprintln!("run {run}/{runs}: Python reference");
        let reference = match crate::bench_bytes::pyref_rate(listings).await {
            Ok(r) => Some(r),
            Err(e) => {
                println!("  reference skipped: {e:#}");
                None
            }
        };
        if let Some(r) = reference {
            pyref.push(r);
        }
        if let Some(pr) = p.persisted_per_sec {
            persisted.push(pr);
            if let Some(r) = reference {
                persisted_x.push(pr / r.max(1e-9));
            }
        }

        eprintln!("run {run}/{runs}: nl run memory");
        let f = crate::bench_run::measure(loaded, RUN_ASSETS).await.context("nl run memory figure")?;
        rss.push(f.peak_rss_mb);
        quiet_decisions.push(count(f.quiet_decisions));
        quiet_lookups.push(count(f.quiet_lookups));
    }
    println!("ledger from MemoryBus ({n} events):");
    println!("  MemoryBus -> ledger -> SQLite   {}", mem.show("events/s", 0));
    println!("  baseline: raw SQLite            {}", raw.show("rows/s", 0));
    println!("  ratio                           {}   target >= 75 %: {}", mem_pct.show("%", 0), verdict(mem_pct.median().map(|m| m >= 75.0)));
    println!("NATS pipeline ({listings} listings, nl serve enricher, risk-scorer, gate, ledger):");
    println!("  to a gate decision              {}", decided.show("listings/s", 0));
    println!("  fully persisted                 {}", persisted.show("listings/s", 0));
    println!("  baseline: pyref.py              {}", pyref.show("listings/s", 0));
    println!("  ratio                           {}   target >= 1x: {}", persisted_x.show("x", 2), verdict(persisted_x.median().map(|x| x >= 1.0)));
    println!(
        "  observation -> decision p50     {}\n  observation -> decision p99     {}   at {} listings/s; target < 100 ms at 2000/s: {}",
        p50.show("ms", 1),
        p99.show("ms", 1),
        steady.show("", 0),
        verdict(p99.median().zip(steady.median()).map(|(p, s)| p < 100.0 && s >= 2_000.0))
    );
    println!("nl run ({RUN_ASSETS} simulated assets):");
    println!("  peak memory (VmHWM)             {}   target < 150 MB: {}", rss.show("MB", 1), verdict(rss.median().map(|m| m < 150.0)));
    println!(
        "  decisions on unchanged re-snapshots {}   (simulator requests in the window: {}); target 0: {}",
        quiet_decisions.show("", 0),
        quiet_lookups.show("", 0),
        verdict(quiet_decisions.0.iter().copied().reduce(f64::max).map(|m| m == 0.0))
    );
    Ok(())
}
