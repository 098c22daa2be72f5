//! One cycle of the embedded pipeline (`nl run-cycle`): every enabled source once, the pipeline drained,
//! the run manifest written.
//!
//! Dry-run works on a scratch copy of the DB and events.jsonl under `runs/<run_id>/scratch/` and reports
//! what *would* change; the source-of-truth files are not opened for writing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use nl_adapters::cex::config::SourcesConfig;
use nl_adapters::dex::config::{DexSourcesConfig, build_dex_sources};
use nl_bus::memory::MemoryBusConfig;
use nl_bus::{Bus, MemoryBus, Message};
use nl_collector::{Collector, PollReport, RunIdentity};
use nl_config::StorageConfig;
use nl_domain::{Envelope, EventType, Ts};
use nl_enricher::EnricherConfig;
use nl_gate::service::GateServiceConfig;
use nl_ledger::{LedgerConfig, LedgerStore};
use nl_recorder::RecorderConfig;
use nl_risk_scorer::service::RiskScorerConfig;
use serde::Serialize;

use crate::ledger_state::embedded_ctx;
use crate::manifest::{EventsRange, RunManifest, code_version, count_lines};
use crate::pipeline::Pipeline;
use crate::topology::{Extras, ServiceConfigs, Topology};

/// Everything a cycle needs from the configuration.
#[derive(Debug, Clone)]
pub struct CycleConfig {
    pub storage: StorageConfig,
    pub ledger: LedgerConfig,
    pub recorder: RecorderConfig,
    pub enricher: EnricherConfig,
    pub risk_scorer: RiskScorerConfig,
    pub gate: GateServiceConfig,
    /// `[ai]`: the AI stage joins the pipeline when it is active.
    pub ai: nl_ai_dispatch::AiConfig,
    pub sources: SourcesConfig,
    pub dex: DexSourcesConfig,
    pub memory_max_messages: usize,
    /// In-cycle retries: the longest rate-limit wait a source sits through ([`nl_collector::CyclePolicy`]).
    pub max_in_cycle_wait_secs: u64,
    pub config_hash: String,
    pub effective_config: serde_json::Value,
}

impl CycleConfig {
    /// The DEX sources, the Solana ones counting pump.fun trades for `[enricher] enrich_after_trades`.
    #[must_use]
    pub fn dex_sources(&self) -> DexSourcesConfig {
        self.dex.clone().with_activity(self.enricher.enrich_after_trades, self.enricher.enrich_after_secs)
    }
}

impl CycleConfig {
    /// The service configs of this cycle ([`crate::topology::build`]); `venue_urls` from `sources`.
    #[must_use]
    pub fn service_configs<'a>(&'a self, venue_urls: &'a std::collections::BTreeMap<String, String>) -> ServiceConfigs<'a> {
        ServiceConfigs {
            enricher: &self.enricher,
            risk_scorer: &self.risk_scorer,
            gate: &self.gate,
            ledger: &self.ledger,
            recorder: &self.recorder,
            ai: &self.ai,
            venue_urls,
        }
    }
}

/// How to run it.
#[derive(Debug, Clone, Default)]
pub struct CycleOptions {
    pub dry_run: bool,
    pub drain_timeout: Duration,
    /// Cancelled on SIGINT/SIGTERM: polling stops, what was published is drained and the run is recorded
    /// as `interrupted` (manifest, `runs` row, summary).
    pub interrupt: Option<nl_bus::CancellationToken>,
}

/// What a dry run would have changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WouldChange {
    pub new_assets: Vec<String>,
    pub promoted: Vec<String>,
    pub rejected: Vec<String>,
}

/// The result of a cycle.
#[derive(Debug, Clone)]
pub struct CycleOutcome {
    pub manifest: RunManifest,
    pub manifest_path: PathBuf,
    pub sources: Vec<PollReport>,
    pub new_assets: Vec<String>,
    pub promoted: Vec<String>,
    pub rejected: Vec<String>,
    /// Assets of the DB with no gate decision after the cycle (see `SqliteReader::undecided`).
    pub undecided: Vec<String>,
    pub dead_letters: u64,
    /// `completed`, `failed` (messages dead-lettered or a service failed) or `interrupted`.
    pub status: String,
    /// Set when no source could resolve or connect (the first such error): polling stopped early.
    pub no_network: Option<String>,
    /// Stopped by [`CycleOptions::interrupt`].
    pub interrupted: bool,
}

impl CycleOutcome {
    /// Sources that failed (fetch, parse or commit).
    #[must_use]
    pub fn failed_sources(&self) -> Vec<&PollReport> {
        self.sources.iter().filter(|r| !r.ok()).collect()
    }
}

/// Runs one cycle.
///
/// # Errors
/// A component could not start, the pipeline did not drain in time, or outputs could not be written.
/// A source that fails is not an error: it is reported by name and the cycle completes for the others.
pub async fn run_cycle(cfg: &CycleConfig, opts: CycleOptions, mut progress: impl FnMut(&str)) -> anyhow::Result<CycleOutcome> {
    let started_at = Utc::now();
    let run_id = nl_config::new_run_id(started_at);
    let run = RunIdentity { run_id: run_id.clone(), config_hash: cfg.config_hash.clone() };
    let runs_dir = cfg.storage.runs_dir();
    let (ledger_cfg, recorder_cfg) =
        if opts.dry_run { scratch_copy(cfg, &runs_dir.join(&run_id).join("scratch")).await? } else { (cfg.ledger.clone(), cfg.recorder.clone()) };
    let events_path = recorder_cfg.path.clone();
    let assets_before = if opts.dry_run { asset_ids(&ledger_cfg.db_path).await? } else { BTreeSet::new() };

    let mem = MemoryBus::new(MemoryBusConfig { max_messages: cfg.memory_max_messages, ..MemoryBusConfig::default() });
    let bus: Arc<dyn Bus> = Arc::new(mem.clone());
    if !opts.dry_run {
        crate::recovery::refuse_fresh_db_beside_events(&ledger_cfg.db_path, &events_path).await?;
    }
    let store = LedgerStore::open(&ledger_cfg).await.with_context(|| format!("opening {}", ledger_cfg.db_path.display()))?;
    // One round per cycle: the enricher merges every source's snapshots of an asset seen in this cycle into
    // one view, evaluated once, when the drain after polling closes it.
    if !opts.dry_run {
        let (applied, appended) = crate::recovery::reconcile_after_crash(&store, &events_path).await?;
        if applied + appended > 0 {
            progress(&format!("after a crash: {applied} events only in events.jsonl applied to the DB, {appended} only in the DB appended to events.jsonl"));
        }
    }
    let mut pipeline = start_services(cfg, &bus, &store, &ledger_cfg, &recorder_cfg, &run, nl_enricher::RoundControl::explicit()).await?;
    // After the recorder opened the file: it cuts a torn tail a crash left.
    let events_start = std::fs::metadata(&events_path).map_or(0, |m| m.len());

    publish_run_event(&bus, EventType::RunStarted, &run, serde_json::json!({"dry_run": opts.dry_run, "status": "started", "started_at": started_at})).await?;
    if !opts.dry_run {
        for stale in crate::recovery::abort_stale_runs(&bus, &store, &run, &runs_dir).await? {
            progress(&format!("run {stale} was left running by a process that is gone: marked aborted"));
        }
    }

    let sources = enabled_sources(&cfg.sources, &cfg.dex_sources(), &run_id)?;
    progress(&format!("run {run_id}: polling {} sources", sources.len()));
    let ctx = embedded_ctx(&bus, &store, &run);
    let collector = Collector::new(sources, ctx);
    let interrupted = opts.interrupt.clone().unwrap_or_default();
    let policy = nl_collector::CyclePolicy::with_max_wait_secs(cfg.max_in_cycle_wait_secs);
    // One line per source as it finishes, so a slow or offline cycle is never silent.
    let polled = tokio::select! {
        polled = collector.poll_all_within(started_at, policy, |r| progress(&source_line(r))) => polled,
        () = interrupted.cancelled() => nl_collector::CycleReports::default(),
    };
    let nl_collector::CycleReports { reports, no_network } = polled;
    let mut status = if interrupted.is_cancelled() { "interrupted" } else { "completed" };
    if interrupted.is_cancelled() {
        progress("interrupted: polling stopped; draining what was published and writing the manifest");
    }
    if let Some(e) = &no_network {
        progress(&format!("no network: every source failed to resolve or connect and none answered ({}); not retrying", nl_adapters::kit::quote::quote(e)));
    }
    pipeline.drain(opts.drain_timeout, |n| progress(&format!("  draining: {n} messages in flight"))).await?;

    let nl_ledger::RunResults { discovered: new_assets, promoted, rejected, undecided } = store.reader().run_results(&run_id).await?;
    // A message dead-lettered (a disk full, a handler failing every delivery) is a failed run; the count
    // goes into run.completed, so `nl status` still shows it once this process and its bus are gone.
    let dead_so_far = bus.dead_letter_count().await.unwrap_or_default();
    if dead_so_far > 0 && status == "completed" {
        status = "failed";
    }
    let mut summary = serde_json::json!({
        "sources": reports.iter().map(|r| serde_json::json!({"source": r.source, "raws": r.raws, "new": r.new, "updated": r.updated, "retracted": r.retracted, "delisted": r.delisted, "errors": r.errors, "retried": r.retried, "not_committed": r.not_committed})).collect::<Vec<_>>(),
        "new_assets": new_assets.len(), "promoted": promoted.len(), "rejected": rejected.len(), "undecided": undecided.len(), "status": status,
        "no_network": no_network, "dead_letters": dead_so_far,
    });
    publish_run_event(&bus, EventType::RunCompleted, &run, serde_json::json!({"dry_run": opts.dry_run, "status": status, "summary": summary})).await?;
    pipeline.drain(opts.drain_timeout, |_| {}).await?;
    let dead_letters = bus.dead_letter_count().await.unwrap_or_default();
    let failed = pipeline.stop().await;
    if (dead_letters > 0 || !failed.is_empty()) && status == "completed" {
        status = "failed";
    }
    summary["status"] = serde_json::json!(status);
    summary["dead_letters"] = serde_json::json!(dead_letters);

    let events_end = std::fs::metadata(&events_path).map_or(0, |m| m.len());
    let mut errors: Vec<String> = reports.iter().filter(|r| !r.ok()).flat_map(|r| r.errors.iter().chain(&r.not_committed).cloned()).collect();
    errors.extend(failed);
    if dead_letters > 0 {
        errors.push(format!("{dead_letters} messages dead-lettered"));
    }
    if interrupted.is_cancelled() {
        errors.push("interrupted by a signal while polling: sources that had not finished report nothing".into());
    }
    let events = EventsRange {
        path: events_path.clone(),
        start: events_start,
        end: events_end,
        count: count_lines(&events_path, events_start, events_end).unwrap_or(0),
    };
    let names: Vec<String> = reports.iter().map(|r| r.source.clone()).collect();
    let record = RunRecord { run: &run, started_at, db_path: &ledger_cfg.db_path, sources: &names, events, dry_run: opts.dry_run, errors, summary };
    let manifest = assemble_manifest(cfg, &store, record).await?;
    let manifest_path = manifest.write(&runs_dir)?;
    manifest.record_in(&store).await?;
    // A clean end leaves the DB file complete on its own.
    nl_ledger::db::checkpoint_wal(&ledger_cfg.db_path).await.context("checkpointing the WAL")?;
    let new_assets = if opts.dry_run { asset_ids(&ledger_cfg.db_path).await?.difference(&assets_before).cloned().collect() } else { new_assets };
    Ok(CycleOutcome { manifest, manifest_path, sources: reports, new_assets, promoted, rejected, undecided, dead_letters, status: status.to_string(), no_network, interrupted: interrupted.is_cancelled() })
}

/// The progress line of one finished source.
fn source_line(r: &PollReport) -> String {
    let status = if r.ok() { "ok".to_string() } else { format!("FAILED ({})", r.errors.first().or(r.not_committed.as_ref()).map_or("", String::as_str)) };
    format!("  {:<24} raws {:>3}  new {:>4}  updated {:>4}  delisted {:>3}  {status}", r.source, r.raws, r.new, r.updated, r.delisted)
}

/// The names of the sources a cycle of `cfg` polls, built as [`run_cycle`] builds them (no network):
/// what `nl preflight` checks, so a setting a cycle would refuse fails there first.
///
/// # Errors
/// A source or budget setting a cycle refuses, naming it.
pub fn build_cycle_sources(cfg: &CycleConfig) -> anyhow::Result<Vec<String>> {
    Ok(enabled_sources(&cfg.sources, &cfg.dex_sources(), "preflight")?.iter().map(|s| s.name().to_string()).collect())
}

/// Every enabled poll source: CEX lists and announcements, then DEX sources. (Push feeds run in `nl run`.)
pub(crate) fn enabled_sources(cfg: &SourcesConfig, dex: &DexSourcesConfig, run_id: &str) -> anyhow::Result<Vec<Arc<dyn nl_adapters::Source>>> {
    let budgets =
        nl_adapters::kit::BudgetRegistry::new(cfg.budget_configs()?, nl_adapters::kit::BudgetConfig::new(1.0, 1.0)).map_err(|e| anyhow::anyhow!("budgets: {e}"))?;
    let mut sources = nl_adapters::cex::config::build_sources_for_run(cfg, &budgets, &|k| std::env::var(k).ok(), run_id)?;
    sources.extend(build_dex_sources(dex, run_id)?);
    Ok(sources)
}

/// Starts every consuming service of [`Topology::pipeline`] over `bus`, the ledger on the shared `store`.
pub(crate) async fn start_services(
    cfg: &CycleConfig,
    bus: &Arc<dyn Bus>,
    store: &LedgerStore,
    ledger_cfg: &LedgerConfig,
    recorder_cfg: &RecorderConfig,
    run: &RunIdentity,
    rounds: nl_enricher::RoundControl,
) -> anyhow::Result<Pipeline> {
    let venue_urls = cfg.sources.venue_base_urls();
    let cfgs = ServiceConfigs { ledger: ledger_cfg, recorder: recorder_cfg, ..cfg.service_configs(&venue_urls) };
    let extras = Extras { store: Some(store.clone()), rounds: Some(rounds), ai_out_dir: Some(cfg.storage.out_dir.clone()), ..Extras::default() };
    Topology::pipeline_with(&cfg.ai).start(cfgs, bus, run, &extras).await
}

/// What a run's manifest says beyond the config and what the ledger tells.
pub(crate) struct RunRecord<'a> {
    pub run: &'a RunIdentity,
    pub started_at: Ts,
    pub db_path: &'a Path,
    /// Sources whose cursors the manifest records.
    pub sources: &'a [String],
    pub events: EventsRange,
    pub dry_run: bool,
    pub errors: Vec<String>,
    pub summary: serde_json::Value,
}

/// The manifest of a run as of now: `record` plus code version, source cursors, row counts and the run's
/// events per type from the ledger.
pub(crate) async fn assemble_manifest(cfg: &CycleConfig, store: &LedgerStore, record: RunRecord<'_>) -> anyhow::Result<RunManifest> {
    let stats = store.reader().stats().await?;
    Ok(RunManifest {
        run_id: record.run.run_id.clone(),
        config_hash: record.run.config_hash.clone(),
        effective_config: cfg.effective_config.clone(),
        started_at: record.started_at,
        finished_at: Utc::now(),
        code_version: code_version(),
        source_versions: source_versions(store, record.sources).await,
        db_path: record.db_path.to_path_buf(),
        events: record.events,
        row_counts: stats.tables.iter().cloned().collect(),
        events_per_type: store.reader().events_per_type(&record.run.run_id).await?,
        dry_run: record.dry_run,
        errors: record.errors,
        summary: record.summary,
    })
}

pub(crate) async fn publish_run_event(bus: &Arc<dyn Bus>, kind: EventType, run: &RunIdentity, meta: serde_json::Value) -> anyhow::Result<()> {
    let env = Envelope::new(kind, &[&run.run_id], Utc::now(), &run.run_id, &run.config_hash, meta).with_source("orchestrator");
    bus.publish(Message::typed(env)).await?;
    Ok(())
}

/// Copies the DB (consistently, `VACUUM INTO`) and events.jsonl into `dir`; returns configs pointing there.
async fn scratch_copy(cfg: &CycleConfig, dir: &Path) -> anyhow::Result<(LedgerConfig, RecorderConfig)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut ledger = cfg.ledger.clone();
    let mut recorder = cfg.recorder.clone();
    ledger.db_path = dir.join(nl_config::DB_FILE_NAME);
    recorder.path = dir.join("events.jsonl");
    if cfg.ledger.db_path.exists() {
        let reader = nl_ledger::SqliteReader::open(&cfg.ledger.db_path, 1).await?;
        reader.copy_to(&ledger.db_path).await.context("copying the DB for the dry run")?;
        reader.pool().close().await;
    }
    if cfg.recorder.path.exists() {
        std::fs::copy(&cfg.recorder.path, &recorder.path).context("copying events.jsonl for the dry run")?;
    }
    Ok((ledger, recorder))
}

async fn asset_ids(db: &Path) -> anyhow::Result<BTreeSet<String>> {
    if !db.exists() {
        return Ok(BTreeSet::new());
    }
    let reader = nl_ledger::SqliteReader::open(db, 1).await?;
    let ids = reader.asset_ids().await?;
    reader.pool().close().await;
    Ok(ids)
}

/// Each source's cursor: kept whole when small, else its SHA-256 and size.
async fn source_versions(store: &LedgerStore, sources: &[String]) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for source in sources {
        let v = match store.reader().get_cursor(source).await {
            Ok(Some(c)) => {
                let text = c.to_string();
                if text.len() <= 2048 {
                    c
                } else {
                    use sha2::Digest;
                    serde_json::json!({"cursor_sha256": hex::encode(sha2::Sha256::digest(text.as_bytes())), "cursor_bytes": text.len()})
                }
            }
            Ok(None) => serde_json::Value::Null,
            Err(e) => serde_json::json!({"error": e.to_string()}),
        };
        out.insert(source.clone(), v);
    }
    out
}
