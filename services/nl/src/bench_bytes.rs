//! `nl bench bytes`: bytes written per listing, the storage figure of issue 14, next to its baseline.
//!
//! Three workloads, each run `--runs` times (min/median/max):
//! * `nl demo --cycles 20` (simulated venues on loopback, every service embedded);
//! * a re-derivation (`nl rederive --from-raw`) of a generated run of `--events` listings, the workload of
//!   `nl bench rederive` (GeckoTerminal pages of two new pools, a GoPlus and a honeypot.is answer per token);
//! * the Python reference `scripts/bench/pyref.py` on as many listings (the same per-listing pipeline in
//!   one process), run by this bench.
//!
//! Bytes = the SQLite file after a full WAL checkpoint + events.jsonl. A listing = one row of `assets`: the
//! reference stores one asset per listing, and an asset is what a listing becomes however often it is
//! re-snapshotted or seen on other venues, so the denominator does not reward re-emitting events. The
//! breakdown shows each table's pages (with its indexes) and each event type's events.jsonl lines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use nl_config::Loaded;
use nl_ledger::Footprint;

use crate::config::NlConfig;

/// Cycles of the demo workload.
const DEMO_CYCLES: u32 = 20;
/// New pools per generated page.
const POOLS_PER_PAGE: usize = 2;
/// The reference's commit batch (its default).
const PYREF_BATCH: usize = 1000;
/// The reference, relative to the workspace root.
const PYREF: &str = "scripts/bench/pyref.py";

/// What one workload wrote.
struct Measured {
    listings: u64,
    db: Footprint,
    jsonl: JsonlBytes,
}

impl Measured {
    fn total(&self) -> u64 {
        self.db.file_bytes + self.jsonl.bytes
    }

    #[allow(clippy::cast_precision_loss)]
    fn per_listing(&self, bytes: u64) -> f64 {
        bytes as f64 / self.listings.max(1) as f64
    }
}

/// events.jsonl: its size and, per event type, lines and bytes.
#[derive(Default)]
struct JsonlBytes {
    bytes: u64,
    per_type: BTreeMap<String, (u64, u64)>,
}

#[derive(serde::Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
}

fn jsonl_bytes(path: &Path) -> anyhow::Result<JsonlBytes> {
    let mut out = JsonlBytes::default();
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    out.bytes = text.len() as u64;
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let kind = serde_json::from_slice::<TypeOnly<'_>>(line).map_or_else(|_| "(unparseable)".to_string(), |t| t.kind.into_owned());
        let e = out.per_type.entry(kind).or_default();
        e.0 += 1;
        e.1 += line.len() as u64 + 1;
    }
    Ok(out)
}

async fn measure(db: &Path, jsonl: &Path) -> anyhow::Result<Measured> {
    let db = nl_ledger::footprint(db).await.with_context(|| format!("measuring {}", db.display()))?;
    let listings = db.tables.iter().find(|t| t.table == "assets").map_or(0, |t| t.rows);
    Ok(Measured { listings, db, jsonl: jsonl_bytes(jsonl)? })
}

async fn demo(loaded: &Loaded<NlConfig>) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir().context("temp dir")?;
    crate::cmd_demo::run_demo(loaded, DEMO_CYCLES, dir.path(), drop).await?;
    measure(&dir.path().join(nl_config::DB_FILE_NAME), &dir.path().join("events.jsonl")).await
}

async fn rederive(loaded: &Loaded<NlConfig>, listings: usize) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let g = crate::bench::rederive_generated(loaded, listings.div_ceil(POOLS_PER_PAGE).max(1), dir.path()).await?;
    anyhow::ensure!(g.outcome.not_rederived.is_empty(), "raw events not re-derived: {:?}", g.outcome.not_rederived);
    measure(&g.outcome.db_path, &g.outcome.manifest.events.path).await
}

/// The reference script: under the working directory (the workspace root), else beside this crate's sources.
fn pyref_script() -> anyhow::Result<PathBuf> {
    let candidates = [PathBuf::from(PYREF), Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(PYREF)];
    candidates.into_iter().find(|p| p.is_file()).with_context(|| format!("{PYREF} not found (run from the workspace root)"))
}

/// Runs the reference on `listings`; returns what it wrote and its own summary line.
async fn pyref(script: &Path, listings: usize) -> anyhow::Result<(Measured, String)> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let out = dir.path().join("pyref");
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .arg(listings.to_string())
        .arg(PYREF_BATCH.to_string())
        .arg(&out)
        .output()
        .await
        .context("running python3 (is it installed?)")?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    anyhow::ensure!(output.status.success(), "{} failed: {}{}", script.display(), stdout, String::from_utf8_lossy(&output.stderr));
    Ok((measure(&out.join(nl_config::DB_FILE_NAME), &out.join("events.jsonl")).await?, stdout))
}

/// The reference's own throughput on `listings` (listings/s, every row committed), from its summary line.
///
/// # Errors
/// No python3 or script, a failed run, or a summary line without a rate.
pub(crate) async fn pyref_rate(listings: usize) -> anyhow::Result<f64> {
    let (_, line) = pyref(&pyref_script()?, listings).await?;
    // "pyref: N listings in S s = R listings/s (batch B); ..."
    line.split_once(" = ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .with_context(|| format!("no rate in the reference's summary: {line}"))
}

fn kb(bytes: f64) -> String {
    format!("{:.1} KB", bytes / 1000.0)
}

/// min, median, max.
pub(crate) fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    match (v.first(), v.get(v.len() / 2), v.last()) {
        (Some(a), Some(m), Some(z)) => (*a, *m, *z),
        _ => (0.0, 0.0, 0.0),
    }
}

/// The runs of one workload, and the median run's figures.
fn summary(label: &str, runs: &[Measured]) -> Option<f64> {
    let (lo, med, hi) = spread(runs.iter().map(|m| m.per_listing(m.total())).collect());
    let mid = runs.iter().min_by(|a, b| (a.per_listing(a.total()) - med).abs().total_cmp(&(b.per_listing(b.total()) - med).abs()))?;
    println!(
        "  {label:<24} {:>6} listings  bytes/listing min {:>9}  median {:>9}  max {:>9}   (median run: DB {} + events.jsonl {})",
        mid.listings,
        kb(lo),
        kb(med),
        kb(hi),
        kb(mid.per_listing(mid.db.file_bytes)),
        kb(mid.per_listing(mid.jsonl.bytes))
    );
    Some(med)
}

fn breakdown(label: &str, m: &Measured) {
    println!("  {label}: {} listings, {} per listing", m.listings, kb(m.per_listing(m.total())));
    println!("    {:<22} {:>10} {:>12} {:>9}", "DB table (+ indexes)", "rows", "per listing", "indexes");
    for t in m.db.tables.iter().filter(|t| t.bytes > 0) {
        println!("    {:<22} {:>10} {:>12} {:>9}", t.table, t.rows, kb(m.per_listing(t.bytes)), kb(m.per_listing(t.index_bytes)));
    }
    if m.db.free_bytes > 0 {
        println!("    {:<22} {:>10} {:>12}", "(free pages)", "", kb(m.per_listing(m.db.free_bytes)));
    }
    println!("    {:<22} {:>10} {:>12} {:>9}", "events.jsonl type", "lines", "per listing", "per line");
    let mut types: Vec<_> = m.jsonl.per_type.iter().collect();
    types.sort_by_key(|(_, (_, bytes))| std::cmp::Reverse(*bytes));
    for (t, (n, b)) in types {
        println!("    {:<22} {:>10} {:>12} {:>9}", t, n, kb(m.per_listing(*b)), b / (*n).max(1));
    }
}

/// Runs the three workloads `runs` times and prints bytes per listing, the ratios to the reference, and the
/// breakdown of each workload's last run.
///
/// # Errors
/// When a workload fails. A missing python3 or reference script only skips the reference.
pub async fn bytes(loaded: &Loaded<NlConfig>, listings: usize, runs: usize) -> anyhow::Result<()> {
    let runs = runs.max(1);
    println!(
        "nl bench bytes: {runs} run(s); bytes = SQLite file after a WAL checkpoint + events.jsonl, per listing = per row of `assets` (KB = 1000 B)"
    );
    let script = pyref_script();
    let (mut demos, mut rederives, mut refs) = (Vec::new(), Vec::new(), Vec::new());
    let mut ref_line = None;
    for _ in 0..runs {
        demos.push(demo(loaded).await.context("demo workload")?);
        rederives.push(rederive(loaded, listings).await.context("re-derivation workload")?);
        match &script {
            Ok(s) => match pyref(s, listings).await {
                Ok((m, line)) => {
                    refs.push(m);
                    ref_line = Some(line);
                }
                Err(e) => println!("  reference skipped: {e:#}"),
            },
            Err(e) => println!("  reference skipped: {e:#}"),
        }
    }
    let demo_med = summary(&format!("demo --cycles {DEMO_CYCLES}"), &demos);
    let rederive_med = summary(&format!("re-derivation ({listings})"), &rederives);
    let ref_med = summary(&format!("pyref.py ({listings})"), &refs);
    if let Some(r) = ref_med.filter(|r| *r > 0.0) {
        let ratio = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{:.2}x", x / r));
        println!("  nl / reference (median over median): demo {}  re-derivation {}", ratio(demo_med), ratio(rederive_med));
    }
    if let Some(line) = ref_line {
        println!("  reference said: {line}");
    }
    println!("breakdown of the last run:");
    for (label, v) in [("demo", &demos), ("re-derivation", &rederives), ("pyref.py", &refs)] {
        if let Some(m) = v.last() {
            breakdown(label, m);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn jsonl_bytes_count_lines_per_type() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("events.jsonl");
        std::fs::write(&p, "{\"type\":\"a\",\"x\":1}\n{\"type\":\"b\"}\n{\"type\":\"a\"}\n").unwrap();
        let j = jsonl_bytes(&p).unwrap();
        assert_eq!(j.bytes, 45);
        assert_eq!(j.per_type["a"], (2, 32));
        assert_eq!(j.per_type["b"], (1, 13));
        assert_eq!(jsonl_bytes(&dir.path().join("missing")).unwrap().bytes, 0);
    }

    #[test]
    fn spread_is_min_median_max() {
        assert_eq!(spread(vec![3.0, 1.0, 2.0]), (1.0, 2.0, 3.0));
        assert_eq!(spread(vec![]), (0.0, 0.0, 0.0));
    }
}
