//! L0 as a service (`nl serve orchestrator`, distributed mode): gRPC `Orchestrator` (`TriggerCycle`,
//! `RunStatus`) and an optional schedule. A cycle polls every enabled source once and publishes to NATS
//! (the collectors' durable cursors in the JetStream KV state bucket), waits until the pipeline's durable
//! consumers have nothing pending or unacked (bounded), publishes `run.started` / `run.completed` (the
//! ledger records the run) and writes `runs/<run_id>/manifest.json`.
//!
//! It lives here, beside the embedded cycle, because a cycle is the collector's polling plus the runtime's
//! manifest: a service crate may not link the collector (services depend only on shared crates), and
//! `nl-runtime` is, with `nl`, the crate that links services.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use nl_bus::{Bus, CancellationToken};
use nl_collector::{Collector, CollectorCtx, CyclePolicy, PollReport, RunIdentity, StateStore};
use nl_domain::{EventType, Ts};
use nl_proto::pb;
use nl_proto::pb::orchestrator_server::{Orchestrator as OrchestratorApi, OrchestratorServer};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

use crate::cycle::{CycleConfig, enabled_sources, publish_run_event};
use crate::manifest::{EventsRange, RunManifest, code_version};

/// Runs remembered for `RunStatus` (older ones are answered from the ledger's `runs` table when a reader
/// is given).
const RUNS_KEPT: usize = 1000;

fn d_addr() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 50053))
}
fn d_drain_timeout_secs() -> u64 {
    300
}

/// `[orchestrator]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrchestratorConfig {
    /// gRPC `Orchestrator` listen address.
    pub grpc_addr: std::net::SocketAddr,
    /// Start a cycle every this many seconds (0 = only when triggered over gRPC).
    pub cycle_every_secs: u64,
    /// Longest wait for the pipeline to drain a cycle's messages; a cycle not drained by then is FAILED.
    pub drain_timeout_secs: u64,
    /// Durable consumers whose backlog must be empty for a cycle to be complete (empty = every pipeline
    /// service's, filled in by `nl`).
    pub drain_durables: Vec<String>,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        Self { grpc_addr: d_addr(), cycle_every_secs: 0, drain_timeout_secs: d_drain_timeout_secs(), drain_durables: Vec::new() }
    }
}

#[derive(Debug, Clone)]
struct RunRec {
    state: pb::RunState,
    dry_run: bool,
    config_hash: String,
    started_at: Ts,
    finished_at: Option<Ts>,
    counts: BTreeMap<String, u64>,
}

struct Inner {
    cycle: CycleConfig,
    cfg: OrchestratorConfig,
    bus: Arc<dyn Bus>,
    state: Arc<dyn StateStore>,
    reader: Option<Arc<dyn nl_domain::LedgerReader>>,
    runs: Mutex<BTreeMap<String, RunRec>>,
    /// One cycle at a time: a trigger during a cycle waits its turn (its status is RUNNING meanwhile).
    turn: tokio::sync::Mutex<()>,
    stop: CancellationToken,
}

/// The L0 service.
#[derive(Clone)]
pub struct Orchestrator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator").field("cfg", &self.inner.cfg).finish_non_exhaustive()
    }
}

fn ts_str(t: Ts) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Orchestrator {
    /// An orchestrator publishing on `bus`, keeping source cursors in `state`; `reader` answers `RunStatus`
    /// for runs this process did not start.
    #[must_use]
    pub fn new(cycle: CycleConfig, cfg: OrchestratorConfig, bus: Arc<dyn Bus>, state: Arc<dyn StateStore>, reader: Option<Arc<dyn nl_domain::LedgerReader>>, stop: CancellationToken) -> Self {
        Self { inner: Arc::new(Inner { cycle, cfg, bus, state, reader, runs: Mutex::new(BTreeMap::new()), turn: tokio::sync::Mutex::new(()), stop }) }
    }

    fn set(&self, run_id: &str, f: impl FnOnce(&mut RunRec)) {
        if let Some(r) = self.inner.runs.lock().unwrap_or_else(PoisonError::into_inner).get_mut(run_id) {
            f(r);
        }
    }

    /// Starts a cycle in the background; returns its run identity at once.
    #[must_use]
    pub fn trigger(&self) -> RunIdentity {
        let now = Utc::now();
        let run = RunIdentity { run_id: nl_config::new_run_id(now), config_hash: self.inner.cycle.config_hash.clone() };
        {
            let mut runs = self.inner.runs.lock().unwrap_or_else(PoisonError::into_inner);
            while runs.len() >= RUNS_KEPT {
                let Some(first) = runs.keys().next().cloned() else { break };
                runs.remove(&first);
            }
            let rec = RunRec { state: pb::RunState::Running, dry_run: false, config_hash: run.config_hash.clone(), started_at: now, finished_at: None, counts: BTreeMap::new() };
            runs.insert(run.run_id.clone(), rec);
        }
        let me = self.clone();
        let r = run.clone();
        tokio::spawn(async move {
            let _turn = me.inner.turn.lock().await;
            let (state, counts) = match me.cycle(&r).await {
                Ok(counts) => (pb::RunState::Completed, counts),
                Err(e) => {
                    tracing::error!(run_id = %r.run_id, error = %format!("{e:#}"), "Cycle failed.");
                    (pb::RunState::Failed, BTreeMap::from([("errors".to_string(), 1)]))
                }
            };
            me.set(&r.run_id, |rec| {
                rec.state = state;
                rec.finished_at = Some(Utc::now());
                rec.counts = counts;
            });
        });
        run
    }

    /// One cycle: poll, drain, record.
    async fn cycle(&self, run: &RunIdentity) -> anyhow::Result<BTreeMap<String, u64>> {
        let i = &self.inner;
        let started_at = Utc::now();
        self.set(&run.run_id, |r| r.started_at = started_at);
        publish_run_event(&i.bus, EventType::RunStarted, run, serde_json::json!({"dry_run": false, "mode": "distributed", "status": "started", "started_at": started_at})).await?;
        let sources = enabled_sources(&i.cycle.sources, &i.cycle.dex, &run.run_id)?;
        let names: Vec<String> = sources.iter().map(|s| s.name().to_string()).collect();
        let ctx = CollectorCtx { bus: Arc::clone(&i.bus), state: Arc::clone(&i.state), leases: None, lease_renew_every: Duration::from_secs(5), run: run.clone() };
        let polled = Collector::new(sources, ctx).poll_all_within(started_at, CyclePolicy::with_max_wait_secs(i.cycle.max_in_cycle_wait_secs), |_| {}).await;
        let (reports, no_network) = (polled.reports, polled.no_network);
        let mut counts = report_counts(&reports);
        let mut errors: Vec<String> = reports.iter().filter(|r| !r.ok()).flat_map(|r| r.errors.iter().chain(&r.not_committed).cloned()).collect();
        errors.extend(no_network.iter().map(|e| format!("no network: {e}")));
        let drained = drain(i.bus.as_ref(), &i.cfg.drain_durables, Duration::from_secs(i.cfg.drain_timeout_secs), &i.stop).await;
        if let Err(e) = &drained {
            errors.push(e.clone());
        }
        let status = if drained.is_ok() { "completed" } else { "failed" };
        let summary = serde_json::json!({
            "mode": "distributed",
            "sources": reports.iter().map(|r| serde_json::json!({"source": r.source, "raws": r.raws, "new": r.new, "updated": r.updated, "delisted": r.delisted, "errors": r.errors})).collect::<Vec<_>>(),
            "counts": counts, "status": status, "no_network": no_network.is_some(),
        });
        publish_run_event(&i.bus, EventType::RunCompleted, run, serde_json::json!({"dry_run": false, "status": status, "summary": summary})).await?;
        let mut source_versions = BTreeMap::new();
        for n in &names {
            if let Ok(Some(v)) = i.state.load(n).await {
                source_versions.insert(n.clone(), v);
            }
        }
        let manifest = RunManifest {
            run_id: run.run_id.clone(),
            config_hash: run.config_hash.clone(),
            effective_config: i.cycle.effective_config.clone(),
            started_at,
            finished_at: Utc::now(),
            code_version: code_version(),
            source_versions,
            // The ledger is another process: its DB path, events.jsonl range and row counts are not this one's.
            db_path: PathBuf::new(),
            events: EventsRange { path: PathBuf::new(), start: 0, end: 0, count: 0 },
            row_counts: BTreeMap::new(),
            events_per_type: BTreeMap::new(),
            dry_run: false,
            errors: errors.clone(),
            summary,
        };
        manifest.write(&i.cycle.storage.runs_dir())?;
        counts.insert("errors".into(), errors.len() as u64);
        drained.map_err(|e| anyhow::anyhow!(e))?;
        Ok(counts)
    }

    /// A run's status: this process's runs, then the ledger's `runs` table.
    async fn status(&self, run_id: &str) -> Result<pb::RunStatusResponse, Status> {
        let known = self.inner.runs.lock().unwrap_or_else(PoisonError::into_inner).get(run_id).cloned();
        if let Some(r) = known {
            return Ok(pb::RunStatusResponse {
                run_id: run_id.to_string(),
                state: r.state as i32,
                config_hash: r.config_hash,
                dry_run: r.dry_run,
                started_at: ts_str(r.started_at),
                finished_at: r.finished_at.map(ts_str),
                counts: r.counts.into_iter().collect(),
            });
        }
        if let Some(reader) = &self.inner.reader {
            let runs = reader.runs(RUNS_KEPT as u32).await.map_err(|e| Status::unavailable(e.to_string()))?;
            if let Some(r) = runs.into_iter().find(|r| r.run_id == run_id) {
                let state = match r.status.as_str() {
                    "completed" => pb::RunState::Completed,
                    "running" => pb::RunState::Running,
                    _ => pb::RunState::Failed,
                };
                return Ok(pb::RunStatusResponse {
                    run_id: r.run_id,
                    state: state as i32,
                    config_hash: r.config_hash,
                    dry_run: r.dry_run,
                    started_at: r.started_at.map(ts_str).unwrap_or_default(),
                    finished_at: r.finished_at.map(ts_str),
                    counts: Default::default(),
                });
            }
        }
        Err(Status::not_found(format!("no run {run_id}")))
    }

    /// Triggers a cycle every `[orchestrator] cycle_every_secs` until `stop` (nothing when 0).
    pub async fn schedule(self) {
        let every = self.inner.cfg.cycle_every_secs;
        if every == 0 {
            return;
        }
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = self.inner.stop.cancelled() => return,
                _ = tick.tick() => {
                    // A tick while the previous cycle still runs is skipped, not queued.
                    if self.inner.turn.try_lock().is_ok() {
                        let run = self.trigger();
                        tracing::info!(run_id = %run.run_id, "Scheduled cycle.");
                    }
                }
            }
        }
    }

    /// The gRPC service, behind `auth`.
    #[must_use]
    pub fn grpc(self, auth: nl_proto::auth::RequireBearer) -> tonic::service::interceptor::InterceptedService<OrchestratorServer<Self>, nl_proto::auth::RequireBearer> {
        tonic::service::interceptor::InterceptedService::new(OrchestratorServer::new(self), auth)
    }
}

/// Counters of a cycle's poll reports.
fn report_counts(reports: &[PollReport]) -> BTreeMap<String, u64> {
    let sum = |f: &dyn Fn(&PollReport) -> u64| reports.iter().map(f).sum::<u64>();
    BTreeMap::from([
        ("sources".to_string(), reports.len() as u64),
        ("sources_failed".to_string(), reports.iter().filter(|r| !r.ok()).count() as u64),
        ("raws".to_string(), sum(&|r| r.raws as u64)),
        ("observed".to_string(), sum(&|r| (r.new + r.updated) as u64)),
        ("new".to_string(), sum(&|r| r.new as u64)),
        ("delisted".to_string(), sum(&|r| r.delisted as u64)),
    ])
}

/// Waits until every durable in `durables` has nothing pending and nothing unacked, twice in a row (a
/// stage publishes its outputs before it acks, so an empty chain is empty), at most `timeout`.
async fn drain(bus: &dyn Bus, durables: &[String], timeout: Duration, stop: &CancellationToken) -> Result<(), String> {
    let until = tokio::time::Instant::now() + timeout;
    let mut quiet = 0;
    let mut last = String::new();
    loop {
        let mut busy = Vec::new();
        for d in durables {
            match bus.consumer_state(d).await {
                Ok(s) if s.num_pending == 0 && s.num_ack_pending == 0 => {}
                Ok(s) => busy.push(format!("{d}: {} pending, {} unacked", s.num_pending, s.num_ack_pending)),
                Err(e) => busy.push(format!("{d}: {e}")),
            }
        }
        if busy.is_empty() {
            quiet += 1;
            if quiet >= 2 {
                return Ok(());
            }
        } else {
            quiet = 0;
            last = busy.join("; ");
        }
        if tokio::time::Instant::now() >= until {
            return Err(format!("the pipeline did not drain within {timeout:?} ({last})"));
        }
        tokio::select! {
            () = stop.cancelled() => return Err("stopped before the pipeline drained".into()),
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

#[tonic::async_trait]
impl OrchestratorApi for Orchestrator {
    async fn trigger_cycle(&self, req: Request<pb::TriggerCycleRequest>) -> Result<Response<pb::TriggerCycleResponse>, Status> {
        if req.into_inner().dry_run {
            return Err(Status::failed_precondition("dry runs work on a scratch copy of the DB, which only the embedded mode has: run `nl run-cycle --dry-run`"));
        }
        let run = self.trigger();
        Ok(Response::new(pb::TriggerCycleResponse { run_id: run.run_id, config_hash: run.config_hash }))
    }

    async fn run_status(&self, req: Request<pb::RunStatusRequest>) -> Result<Response<pb::RunStatusResponse>, Status> {
        let id = req.into_inner().run_id;
        if id.trim().is_empty() {
            return Err(Status::invalid_argument("run_id is empty"));
        }
        self.status(&id).await.map(Response::new)
    }
}
