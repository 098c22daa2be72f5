//! [`PaperOps`] for the `/v1` ops API of `nl web`, `nl run --web` and `nl serve web`: experiments and
//! backtests through the same code as the CLI (every write an event the ledger applies: written to the
//! out dir by `nl web`, published on the running pipeline's bus by `nl run --web` and `nl serve web`), and
//! paper sessions that follow the ledger's events through the paper engine (the same engine as `nl serve
//! paper` and backtests; the data source is the ledger's committed events, read in commit order). Reads
//! come from the ledger's read side: its DB file (`nl web`, `nl run --web`), or its gRPC (`nl serve web`,
//! NATS mode: no DB file on this machine).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nl_config::Loaded;
use nl_domain::paper_ops::{BacktestRequest, OpsError, PaperOps, PaperSessionRequest};
use nl_domain::paper_read::{PaperReader, ReplayReader};
use nl_domain::{EventType, ExperimentSpec, ExperimentStatus, StrategyRun};
use nl_paper::Engine;
use nl_paper::backtest::strategy_run_event;
use tokio::sync::Mutex;
use nl_bus::CancellationToken;

use crate::cmd_paper::{self, LearningArgs};
use crate::config::NlConfig;

/// The ops backend of one out dir.
pub struct OpsBackend {
    loaded: Arc<Loaded<NlConfig>>,
    /// What every operation reads.
    reader: Arc<dyn ReplayReader>,
    /// The running pipeline the writes are published on (`None`: written to the out dir).
    pipeline: Option<cmd_paper::Pipeline>,
    sessions: Mutex<HashMap<String, (CancellationToken, tokio::task::JoinHandle<()>)>>,
}

impl OpsBackend {
    #[must_use]
    pub(crate) fn new(loaded: Loaded<NlConfig>, reader: Arc<dyn ReplayReader>, pipeline: Option<cmd_paper::Pipeline>) -> Self {
        Self { loaded: Arc::new(loaded), reader, pipeline, sessions: Mutex::new(HashMap::new()) }
    }

    async fn emit(&self, envs: Vec<nl_domain::Envelope>) -> Result<(), OpsError> {
        cmd_paper::emit_on(&self.loaded, self.pipeline.as_ref(), envs).await.map_err(|e| failed(&e))
    }
}

/// The ops API's reader and backend over the configured out dir, or `out_dir`.
///
/// # Errors
/// The DB cannot be opened.
pub async fn for_out_dir(loaded: &Loaded<NlConfig>, out_dir: Option<&std::path::PathBuf>) -> anyhow::Result<(Arc<dyn PaperReader>, Arc<dyn PaperOps>)> {
    let mut loaded = loaded.clone();
    if let Some(dir) = out_dir {
        let c = &mut loaded.config;
        c.storage.out_dir.clone_from(dir);
        c.ledger.db_path = c.storage.db_path();
        c.recorder.path = c.storage.events_path();
    }
    let reader: Arc<dyn ReplayReader> = Arc::new(cmd_paper::open_db_reader(&loaded.config).await?);
    Ok((reader.clone(), Arc::new(OpsBackend::new(loaded, reader, None))))
}

/// The ops API beside a running pipeline: reads from its ledger ([`cmd_paper::open_reader`]: the DB in
/// process for `nl run --web`, the ledger's gRPC at `[serve] ledger_url` for `nl serve web`), writes
/// published on its bus, so its ledger (the only writer) and its recorder store them; `pipeline.ledger`
/// says when the ledger applied them.
///
/// # Errors
/// The DB cannot be opened, or (NATS mode) the ledger's gRPC is not answering.
pub(crate) async fn on_bus(loaded: &Loaded<NlConfig>, pipeline: cmd_paper::Pipeline) -> anyhow::Result<(Arc<dyn PaperReader>, Arc<dyn PaperOps>)> {
    let reader = cmd_paper::open_reader(&loaded.config).await?;
    Ok((reader.clone(), Arc::new(OpsBackend::new(loaded.clone(), reader, Some(pipeline)))))
}

fn failed(e: &anyhow::Error) -> OpsError {
    OpsError::Failed(format!("{e:#}"))
}

fn bad(path: &str, e: impl std::fmt::Display) -> OpsError {
    OpsError::BadRequest { path: path.into(), message: e.to_string() }
}

fn inline_spec(v: Option<&serde_json::Value>) -> Result<Option<ExperimentSpec>, OpsError> {
    v.map(|v| ExperimentSpec::from_value(v).map_err(|e| bad(&format!("experiment_spec.{}", e.path), e.message))).transpose()
}

fn learning(enabled: bool, id: Option<String>, budget: Option<rust_decimal::Decimal>, seed: Option<u64>) -> LearningArgs {
    LearningArgs { learning_book_enabled: enabled, experiment_id: id, experiment_spec_path: None, learning_daily_risk_budget_pct: budget, seed }
}

#[async_trait]
impl PaperOps for OpsBackend {
    async fn create_experiment(&self, spec: ExperimentSpec) -> Result<(), OpsError> {
        if self.reader.experiment(&spec.spec_id).await.map_err(|e| OpsError::Failed(e.to_string()))?.is_some() {
            return Err(OpsError::Conflict(format!("experiment {} exists already", spec.spec_id)));
        }
        let env = cmd_paper::created_event(spec, &cmd_paper::identity(&self.loaded));
        self.emit(vec![env]).await
    }

    async fn set_experiment_status(&self, id: &str, to: ExperimentStatus, reason: Option<String>) -> Result<(), OpsError> {
        let e = self.reader.experiment(id).await.map_err(|e| OpsError::Failed(e.to_string()))?.ok_or_else(|| OpsError::NotFound(format!("no experiment {id}")))?;
        let env = cmd_paper::status_event(id, e.status, to, &e.spec_sha256, reason, &cmd_paper::identity(&self.loaded)).map_err(|e| OpsError::Conflict(e.to_string()))?;
        self.emit(vec![env]).await
    }

    async fn run_backtest(&self, req: BacktestRequest) -> Result<String, OpsError> {
        if req.run_id.is_none() && (req.from.is_none() || req.to.is_none()) {
            return Err(bad("run_id", "give run_id, or from and to"));
        }
        for (k, v) in [("from", &req.from), ("to", &req.to)] {
            if let Some(v) = v {
                cmd_paper::ts_arg(k, v).map_err(|e| bad(k, e))?;
            }
        }
        let spec = inline_spec(req.experiment_spec.as_ref())?;
        let l = learning(req.learning_book_enabled, req.experiment_id, req.learning_daily_risk_budget_pct, req.seed);
        let (run, _) = cmd_paper::run_backtest(&self.loaded, self.reader.as_ref(), self.pipeline.as_ref(), req.run_id.as_deref(), req.from.as_deref(), req.to.as_deref(), &l, spec).await.map_err(|e| failed(&e))?;
        Ok(run.run_id)
    }

    async fn start_session(&self, req: PaperSessionRequest) -> Result<String, OpsError> {
        let from = req.from.as_deref().map(|s| cmd_paper::ts_arg("from", s).map_err(|e| bad("from", e))).transpose()?;
        let spec = inline_spec(req.experiment_spec.as_ref())?;
        let l = learning(req.learning_book_enabled, req.experiment_id, req.learning_daily_risk_budget_pct, req.seed);
        let cfg = cmd_paper::paper_config(&self.loaded.config, &l);
        cfg.validate().map_err(|e| OpsError::Failed(e.to_string()))?;
        let reader = Arc::clone(&self.reader);
        let exps = match (cfg.learning.enabled, spec) {
            (false, _) => Vec::new(),
            (true, Some(spec)) => {
                let sha256 = spec.sha256();
                vec![nl_paper::Experiment { spec, sha256, status: ExperimentStatus::Running }]
            }
            (true, None) => cmd_paper::experiments(Some(reader.as_ref() as &dyn PaperReader), &l, true).await.map_err(|e| bad("experiment_id", e))?,
        };
        let run = cmd_paper::identity(&self.loaded);
        let mut engine = Engine::new(cfg.clone(), run.clone()).map_err(|e| OpsError::Failed(e.to_string()))?;
        let ids = exps.iter().map(|e| e.spec.spec_id.clone()).collect();
        for e in exps {
            engine.add_experiment(e);
        }
        let started = chrono::Utc::now();
        let mut body = StrategyRun { mode: "paper".into(), settings: cfg.settings_json(), experiment_ids: ids, started_at: started, ended_at: None, source_run_id: None };
        self.emit(vec![strategy_run_event(EventType::StrategyRunStarted, &run, &body, started)]).await?;
        let stop = CancellationToken::new();
        let (token, loaded, pipeline, run_id) = (stop.clone(), Arc::clone(&self.loaded), self.pipeline.clone(), run.run_id.clone());
        let from = from.or_else(|| Some(started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
        let task = tokio::spawn(async move {
            let mut after = 0i64;
            loop {
                match reader.replay_inputs_after(after, from.as_deref(), 5_000).await {
                    Ok((events, last)) => {
                        after = last;
                        let out: Vec<_> = events.iter().flat_map(|e| engine.on_event(e)).collect();
                        if !out.is_empty()
                            && let Err(e) = cmd_paper::emit_on(&loaded, pipeline.as_ref(), out).await
                        {
                            tracing::error!(error = %e, "paper session could not store its events");
                        }
                        if !events.is_empty() {
                            continue;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "paper session could not read the ledger"),
                }
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
            let ended = chrono::Utc::now();
            let mut tail = engine.finish(ended);
            body.ended_at = Some(ended);
            tail.push(strategy_run_event(EventType::StrategyRunCompleted, &run, &body, ended));
            if let Err(e) = cmd_paper::emit_on(&loaded, pipeline.as_ref(), tail).await {
                tracing::error!(error = %e, "paper session could not store its end");
            }
        });
        self.sessions.lock().await.insert(run_id.clone(), (stop, task));
        Ok(run_id)
    }

    async fn stop_session(&self, run_id: &str) -> Result<(), OpsError> {
        let Some((stop, task)) = self.sessions.lock().await.remove(run_id) else {
            return Err(OpsError::NotFound(format!("no paper session {run_id} running in this process")));
        };
        stop.cancel();
        task.await.map_err(|e| OpsError::Failed(e.to_string()))
    }

    async fn report(&self, run_id: &str, group_by: &str) -> Result<serde_json::Value, OpsError> {
        nl_paper::report::parse_group_by(group_by).map_err(|e| bad("group_by", e))?;
        let r = cmd_paper::build_report(self.reader.as_ref(), run_id, group_by).await.map_err(|e| {
            if e.to_string().contains("no paper session or backtest") { OpsError::NotFound(e.to_string()) } else { failed(&e) }
        })?;
        serde_json::to_value(&r).map_err(|e| OpsError::Failed(e.to_string()))
    }
}
