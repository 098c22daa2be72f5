//! Continuous operation (`nl run`): the embedded pipeline kept running over one bus, every poll source on
//! its own schedule, every push feed connected, until shutdown.
//!
//! **One process, one run.** Every component stamps the run identity it was built with on what it
//! publishes, and the push feeds, poll schedules and the enricher's re-snapshot schedule only make sense
//! kept alive; so a continuous process is one run with one `run_id`. Its manifest is written when the run
//! starts and rewritten at every checkpoint (`checkpoint_every`) with the events range, counts and cursors
//! so far (`summary.status = "running"`), so a crash loses at most one interval of bookkeeping and never
//! the events themselves. On shutdown the sources stop first, the pipeline drains (bounded), the recorder
//! flushes, and the final manifest says `"completed"` (or `"failed"` with the reason in `errors`).
//! A restart is a new run whose events range starts where the previous one ended.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use nl_bus::memory::MemoryBusConfig;
use nl_bus::{Bus, MemoryBus};
use nl_collector::push::PushOptionsMap;
use nl_collector::serve::{CollectorReplica, FeedSources, ServeConfig, build_sources, default_owner};
use nl_collector::{RunIdentity, SourceCounters};
use nl_domain::{EventType, Ts};
use nl_ledger::LedgerStore;
use tracing::warn;

use crate::cycle::{CycleConfig, RunRecord, assemble_manifest, publish_run_event, start_services};
use crate::ledger_state::embedded_ctx;
use crate::manifest::{EventsRange, RunManifest, complete_lines_from};

/// A cycle's config plus the push-feed options (`[push.<name>]`).
#[derive(Debug, Clone)]
pub struct ContinuousConfig {
    pub cycle: CycleConfig,
    pub push: PushOptionsMap,
    /// `[paper]`: the paper service joins the run when `enabled` (paper only; never an order).
    pub paper: nl_paper::PaperConfig,
}

/// How to run.
#[derive(Debug, Clone, Copy)]
pub struct ContinuousOptions {
    /// How often the manifest is rewritten and a progress line printed.
    pub checkpoint_every: Duration,
    /// On shutdown, give up draining after this long (the manifest then records the outstanding work).
    pub drain_timeout: Duration,
}

/// The result of a continuous run.
#[derive(Debug, Clone)]
pub struct ContinuousOutcome {
    pub manifest: RunManifest,
    pub manifest_path: PathBuf,
    /// Checkpoints written between the first and the final manifest.
    pub checkpoints: u64,
}

impl ContinuousOutcome {
    /// Whether the run ended cleanly (nothing in the manifest's `errors`).
    #[must_use]
    pub fn clean(&self) -> bool {
        self.manifest.errors.is_empty()
    }
}

/// The state a checkpoint reads and updates.
struct Run<'a> {
    cfg: &'a ContinuousConfig,
    opts: ContinuousOptions,
    store: LedgerStore,
    bus: Arc<dyn Bus>,
    /// The same bus, for compaction: settled messages are dropped at every checkpoint, so a long run's
    /// memory follows its in-flight work, not its age.
    mem: MemoryBus,
    run: RunIdentity,
    started_at: Ts,
    names: Vec<String>,
    counters: BTreeMap<String, Arc<SourceCounters>>,
    events: EventsRange,
    checkpoints: u64,
}

/// Runs until `shutdown` resolves (or a service fails), then stops the sources, drains, flushes and
/// writes the final manifest.
///
/// # Errors
/// The sources' config is invalid, a component could not start, or the first manifest could not be
/// written. Once running, failures end the run cleanly and are recorded in the final manifest's `errors`.
pub async fn run_continuous(
    cfg: &ContinuousConfig,
    opts: ContinuousOptions,
    shutdown: impl Future<Output = ()>,
    progress: impl FnMut(&str),
) -> anyhow::Result<ContinuousOutcome> {
    let mem = MemoryBus::new(MemoryBusConfig { max_messages: cfg.cycle.memory_max_messages, ..MemoryBusConfig::default() });
    run_continuous_on(mem, cfg, opts, shutdown, progress).await
}

/// [`run_continuous`] over `mem`, a bus the caller keeps a handle of: what `nl run --web` gives the
/// dashboard, so that "mark reviewed" reaches the run's ledger and recorder like any event.
///
/// # Errors
/// As [`run_continuous`].
pub async fn run_continuous_on(
    mem: MemoryBus,
    cfg: &ContinuousConfig,
    opts: ContinuousOptions,
    shutdown: impl Future<Output = ()>,
    progress: impl FnMut(&str),
) -> anyhow::Result<ContinuousOutcome> {
    let started_at = Utc::now();
    let run_id = nl_config::new_run_id(started_at);
    let c = &cfg.cycle;
    let serve_cfg = ServeConfig { sources: c.sources.clone(), push: cfg.push.clone(), dex: c.dex_sources(), ..ServeConfig::default() };
    let sources = build_sources(&serve_cfg, &run_id).context("building the sources")?;
    run_continuous_sources(mem, cfg, sources, run_id, opts, shutdown, progress).await
}

/// The poll, push and DEX sources a run of `cfg` starts, built as [`run_continuous_on`] builds them (no
/// network, nothing started): what `nl preflight` checks. Returns how many.
///
/// # Errors
/// A source or push setting a run refuses, naming it.
pub fn build_run_sources(cfg: &ContinuousConfig) -> anyhow::Result<usize> {
    let c = &cfg.cycle;
    let serve_cfg = ServeConfig { sources: c.sources.clone(), push: cfg.push.clone(), dex: c.dex_sources(), ..ServeConfig::default() };
    let s = build_sources(&serve_cfg, "preflight")?;
    Ok(s.polls.len() + s.pushes.len() + s.evm_pushes.len() + s.solana_pushes.len())
}

/// [`run_continuous_on`] over sources already built for run `run_id` (from `cfg`, or any other
/// [`FeedSources`]): a source task that panics is restarted, counted in `summary.sources[].panics` and
/// named in the manifest's `errors`, so the run ends `failed`.
///
/// # Errors
/// As [`run_continuous`].
pub async fn run_continuous_sources(
    mem: MemoryBus,
    cfg: &ContinuousConfig,
    sources: FeedSources,
    run_id: String,
    opts: ContinuousOptions,
    shutdown: impl Future<Output = ()>,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<ContinuousOutcome> {
    anyhow::ensure!(!opts.checkpoint_every.is_zero(), "the checkpoint interval must be at least one second");
    let c = &cfg.cycle;
    let started_at = Utc::now();
    let run = RunIdentity { run_id, config_hash: c.config_hash.clone() };
    let (polls, pushes) = (sources.polls.len(), sources.pushes.len());

    let bus: Arc<dyn Bus> = Arc::new(mem.clone());
    crate::recovery::refuse_fresh_db_beside_events(&c.ledger.db_path, &c.recorder.path).await?;
    let store = LedgerStore::open(&c.ledger).await.with_context(|| format!("opening {}", c.ledger.db_path.display()))?;
    let (applied, appended) = crate::recovery::reconcile_after_crash(&store, &c.recorder.path).await?;
    if applied + appended > 0 {
        progress(&format!("after a crash: {applied} events only in events.jsonl applied to the DB, {appended} only in the DB appended to events.jsonl"));
    }
    let mut pipeline = start_services(c, &bus, &store, &c.ledger, &c.recorder, &run, nl_enricher::RoundControl::timed()).await?;
    if cfg.paper.enabled {
        pipeline.spawn_service(Box::new(start_paper(&cfg.paper, &bus, &store, &run).await?));
    }
    // After the recorder opened the file: it cuts a torn tail a crash left.
    let start = std::fs::metadata(&c.recorder.path).map_or(0, |m| m.len());
    let ctx = embedded_ctx(&bus, &store, &run);
    let replica = CollectorReplica::new(sources, ctx, default_owner());
    let mut state = Run {
        cfg,
        opts,
        store,
        bus: Arc::clone(&bus),
        mem,
        names: replica.source_names(),
        counters: replica.counters(),
        run: run.clone(),
        started_at,
        events: EventsRange { path: c.recorder.path.clone(), start, end: start, count: 0 },
        checkpoints: 0,
    };
    let first = state.manifest("running", Vec::new()).await?;
    let manifest_path = first.write(&c.storage.runs_dir())?;
    publish_run_event(
        &bus,
        EventType::RunStarted,
        &run,
        serde_json::json!({"dry_run": false, "mode": "continuous", "status": "started", "started_at": started_at}),
    )
    .await?;
    progress(&format!(
        "run {}: {polls} poll sources, {pushes} push feeds; checkpoint every {}s; SIGINT/SIGTERM stops",
        run.run_id,
        opts.checkpoint_every.as_secs()
    ));
    progress(&format!("manifest {}", manifest_path.display()));
    for stale in crate::recovery::abort_stale_runs(&bus, &state.store, &run, &c.storage.runs_dir()).await? {
        progress(&format!("run {stale} was left running by a process that is gone: marked aborted"));
    }

    let schedule_stop = nl_bus::CancellationToken::new();
    let schedule = crate::ai_schedule::spawn(&c.ai, &bus, &run, &schedule_stop);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let collector = tokio::spawn(replica.run(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + opts.checkpoint_every, opts.checkpoint_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    let mut errors = Vec::new();
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            failure = pipeline.exited() => {
                progress(&format!("{failure}; stopping"));
                errors.push(failure);
                break;
            }
            _ = tick.tick() => {
                if let Err(e) = state.checkpoint(&mut progress).await {
                    warn!(error = %format!("{e:#}"), "Checkpoint failed; the next one retries.");
                    progress(&format!("checkpoint failed: {e:#}"));
                }
            }
        }
    }

    progress("stopping: sources first, then draining the pipeline");
    let stopping = tokio::time::Instant::now();
    let _ = stop_tx.send(true);
    schedule_stop.cancel();
    if let Some(s) = schedule
        && let Err(e) = s.await
    {
        errors.push(format!("AI schedule task: {e}"));
    }
    if let Err(e) = collector.await {
        errors.push(format!("collector task: {e}"));
    }
    let sources_stopped = stopping.elapsed();
    if errors.is_empty() {
        errors.extend(drain_and_complete(&mut state, &mut pipeline, &mut progress).await);
    }
    let drained = stopping.elapsed();
    errors.extend(pipeline.stop().await);
    progress(&format!(
        "stopped in {:.1}s: sources {:.1}s, drain {:.1}s, services {:.1}s",
        stopping.elapsed().as_secs_f64(),
        sources_stopped.as_secs_f64(),
        (drained - sources_stopped).as_secs_f64(),
        (stopping.elapsed() - drained).as_secs_f64()
    ));
    let dead_letters = bus.dead_letter_count().await.unwrap_or_default();
    if dead_letters > 0 {
        errors.push(format!("{dead_letters} messages dead-lettered"));
    }
    for (name, c) in &state.counters {
        let panics = c.panics.load(Ordering::Relaxed);
        if panics > 0 {
            errors.push(format!("source {name}: its task panicked {panics} time(s) and was restarted"));
        }
    }
    state.advance_events()?;
    // What is left after the drain shows in `summary.bus_retained` (0 when everything settled).
    let _ = state.mem.compact();
    let status = if errors.is_empty() { "completed" } else { "failed" };
    let manifest = state.manifest(status, errors).await?;
    let manifest_path = manifest.rewrite(&c.storage.runs_dir())?;
    manifest.record_in(&state.store).await?;
    nl_ledger::db::checkpoint_wal(&c.ledger.db_path).await.context("checkpointing the WAL")?;
    Ok(ContinuousOutcome { manifest, manifest_path, checkpoints: state.checkpoints })
}

/// Drains what the sources sent, publishes `run.completed` and drains that too; returns what went wrong.
async fn drain_and_complete(state: &mut Run<'_>, pipeline: &mut crate::Pipeline, progress: &mut impl FnMut(&str)) -> Vec<String> {
    let timeout = state.opts.drain_timeout;
    if let Err(e) = pipeline.drain(timeout, |n| progress(&format!("  draining: {n} messages in flight"))).await {
        return vec![format!("{e:#}")];
    }
    // Dead letters make the run failed, and their count in run.completed outlives the in-memory bus.
    let dead_letters = state.bus.dead_letter_count().await.unwrap_or_default();
    let status = if dead_letters > 0 { "failed" } else { "completed" };
    let mut summary = match state.summary(status).await {
        Ok(s) => s,
        Err(e) => return vec![format!("{e:#}")],
    };
    summary["dead_letters"] = serde_json::json!(dead_letters);
    if let Err(e) =
        publish_run_event(&state.bus, EventType::RunCompleted, &state.run, serde_json::json!({"dry_run": false, "status": status, "summary": summary}))
            .await
    {
        return vec![format!("publishing run.completed: {e:#}")];
    }
    match pipeline.drain(timeout, |_| {}).await {
        Ok(_) => Vec::new(),
        Err(e) => vec![format!("{e:#}")],
    }
}

impl Run<'_> {
    /// Extends the run's events range to the last complete line written so far.
    fn advance_events(&mut self) -> anyhow::Result<(u64, u64)> {
        let before = (self.events.end, self.events.count);
        let (end, added) = complete_lines_from(&self.events.path, self.events.end)?;
        self.events.end = end;
        self.events.count += added;
        Ok((end - before.0, self.events.count - before.1))
    }

    /// Rewrites the manifest with everything so far and prints one progress line.
    async fn checkpoint(&mut self, progress: &mut impl FnMut(&str)) -> anyhow::Result<()> {
        let (bytes, added) = self.advance_events()?;
        let retained = self.mem.compact();
        self.checkpoints += 1;
        let m = self.manifest("running", Vec::new()).await?;
        m.rewrite(&self.cfg.cycle.storage.runs_dir())?;
        m.record_in(&self.store).await?;
        let s = &m.summary;
        let flow = self.mem.flow_stats();
        progress(&format!(
            "checkpoint {}: events +{added} ({bytes} bytes; {} in run)  assets new {} promoted {} rejected {}  polls {} errors {}  bus retained {} lag {}  producer pauses {} ({:.1}s, {} timed out)",
            self.checkpoints,
            self.events.count,
            s["new_assets"],
            s["promoted"],
            s["rejected"],
            s["polls"],
            s["poll_errors"],
            retained,
            self.mem.lag(),
            flow.paused,
            flow.paused_for.as_secs_f64(),
            flow.timed_out
        ));
        Ok(())
    }

    /// The run's manifest as of now.
    async fn manifest(&self, status: &str, errors: Vec<String>) -> anyhow::Result<RunManifest> {
        let mut summary = self.summary(status).await?;
        summary["dead_letters"] = serde_json::json!(self.bus.dead_letter_count().await.unwrap_or_default());
        let c = &self.cfg.cycle;
        let record = RunRecord {
            run: &self.run,
            started_at: self.started_at,
            db_path: &c.ledger.db_path,
            sources: &self.names,
            events: self.events.clone(),
            dry_run: false,
            errors,
            summary,
        };
        assemble_manifest(c, &self.store, record).await
    }

    /// `summary`: status, checkpoint count, per-source counters and the run's results so far.
    async fn summary(&self, status: &str) -> anyhow::Result<serde_json::Value> {
        let nl_ledger::RunResults { discovered: new_assets, promoted, rejected, undecided } = self.store.reader().run_results(&self.run.run_id).await?;
        let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let sources: Vec<serde_json::Value> = self
            .counters
            .iter()
            .map(|(name, c)| {
                serde_json::json!({
                    "source": name, "polls": get(&c.polls), "raws": get(&c.raws), "observations": get(&c.observations),
                    "errors": get(&c.errors), "rate_limited": get(&c.rate_limited), "publish_failures": get(&c.publish_failures),
                    "last_success_ms": get(&c.last_success_ms), "panics": get(&c.panics),
                })
            })
            .collect();
        Ok(serde_json::json!({
            "mode": "continuous",
            "status": status,
            "checkpoint_secs": self.opts.checkpoint_every.as_secs(),
            "checkpoints": self.checkpoints,
            "bus_retained": self.mem.retained(),
            "polls": self.counters.values().map(|c| get(&c.polls)).sum::<u64>(),
            "poll_errors": self.counters.values().map(|c| get(&c.errors)).sum::<u64>(),
            "sources": sources,
            "new_assets": new_assets.len(), "promoted": promoted.len(), "rejected": rejected.len(), "undecided": undecided.len(),
        }))
    }
}

/// The paper service of a run with `[paper] enabled = true`, trading the experiments the ledger holds as
/// running (learning book) beside the profit book.
async fn start_paper(cfg: &nl_paper::PaperConfig, bus: &Arc<dyn Bus>, store: &LedgerStore, run: &RunIdentity) -> anyhow::Result<nl_paper::service::PaperService> {
    use nl_domain::paper_read::PaperReader;
    let experiments = store
        .reader()
        .experiments()
        .await?
        .into_iter()
        .map(|e| nl_paper::Experiment { spec: e.spec, sha256: e.spec_sha256, status: e.status })
        .collect();
    let ctx = nl_bus::ServiceCtx::new(Arc::clone(bus), run.clone());
    nl_paper::service::build(cfg.clone(), ctx, experiments).await.context("starting the paper service ([paper] enabled = true)")
}
