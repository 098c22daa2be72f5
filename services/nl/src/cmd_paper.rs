//! The learning book's commands: `nl backtest`, `nl experiment create|list|show|set-status`, `nl report`
//! and `nl paper start|status|stop`, plus `nl serve paper`. Every write is an event the ledger applies
//! (embedded: appended to events.jsonl and applied to the DB; `[bus] mode = "nats"`: published). Nothing
//! here or anywhere in nl places an order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::Utc;
use nl_config::Loaded;
use nl_domain::paper::paper_envelope;
use nl_domain::paper_read::{PaperReader, ReplayReader};
use nl_domain::{
    BookTags, Envelope, EventType, ExperimentCreated, ExperimentSpec, ExperimentStatus, ExperimentStatusChanged, LedgerReader, ReadError, RunIdentity,
};
use nl_ledger::SqliteReader;
use nl_paper::backtest::{self, BacktestInput};
use nl_paper::{Experiment, PaperConfig, report};

use crate::cli::OutputFormat;
use crate::config::NlConfig;

/// Flags shared by `nl backtest` and `nl paper start` (the seed's learning-book switches).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LearningArgs {
    /// Trade the learning book too (running experiments, or the ones named).
    #[arg(long)]
    pub learning_book_enabled: bool,
    /// Only this experiment (its stored spec).
    #[arg(long)]
    pub experiment_id: Option<String>,
    /// An ExperimentSpec file to run, JSON or YAML (`.yaml`/`.yml`) (validated; not stored).
    #[arg(long)]
    pub experiment_spec_path: Option<PathBuf>,
    /// Share of `[paper.learning] equity_usd` the learning book may commit per UTC day, percent.
    #[arg(long)]
    pub learning_daily_risk_budget_pct: Option<rust_decimal::Decimal>,
    /// Seed of the sampler and the report's bootstrap (default `[paper] seed`).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// `nl backtest`.
#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// Replay this recorded run's events.
    #[arg(long, conflicts_with_all = ["from", "to"], required_unless_present = "from")]
    pub run: Option<String>,
    /// Replay events from this RFC 3339 time (with --to).
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// ... up to this RFC 3339 time (exclusive).
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    #[command(flatten)]
    pub learning: LearningArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// `nl report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The paper session or backtest run id.
    #[arg(long)]
    pub run: String,
    /// Grouping: any of book, experiment_id, reason_code.
    #[arg(long, default_value = "book,experiment_id")]
    pub by: String,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, clap::Subcommand)]
pub enum ExperimentCommand {
    /// Store an ExperimentSpec (a JSON file, or YAML for `.yaml`/`.yml`) as a draft; a bad spec is refused with the field path.
    Create {
        #[arg(long)]
        spec: PathBuf,
    },
    /// Every experiment with its status.
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// One experiment as JSON.
    Show { id: String },
    /// One step of draft → approved → running ⇄ paused → completed | aborted.
    SetStatus {
        id: String,
        status: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print the ExperimentSpec JSON Schema.
    Schema,
}

#[derive(Debug, clap::Subcommand)]
pub enum PaperCommand {
    /// Run a paper session in the foreground (`[bus] mode = "nats"`), until SIGINT/SIGTERM or `nl paper stop`.
    Start {
        #[command(flatten)]
        learning: LearningArgs,
    },
    /// Paper sessions with their status.
    Status,
    /// Stop the session `nl paper start` runs (SIGTERM to the pid in `<out_dir>/paper.pid`).
    Stop,
}

/// What the paper commands read (experiments, strategy runs, trades, replay inputs): the ledger's gRPC in
/// NATS mode (`[serve] ledger_url`, with its TLS CA and token; no DB file needed on this machine), else the
/// DB at `[ledger] db_path` ([`open_db_reader`]).
///
/// # Errors
/// NATS mode: `[serve] ledger_url` empty or not answering; embedded: no DB there.
pub(crate) async fn open_reader(cfg: &NlConfig) -> anyhow::Result<Arc<dyn ReplayReader>> {
    if cfg.bus.mode == crate::config::BusMode::Nats {
        let ledger = cfg.serve.ledger_reader_connected().await.context("NATS mode reads experiments, runs and trades over the ledger's gRPC")?;
        return Ok(Arc::new(ledger));
    }
    Ok(Arc::new(open_db_reader(cfg).await?))
}

/// The DB at `[ledger] db_path`, read-only.
///
/// # Errors
/// No DB there, or it cannot be opened.
pub(crate) async fn open_db_reader(cfg: &NlConfig) -> anyhow::Result<SqliteReader> {
    SqliteReader::open(&cfg.ledger.db_path, 2).await.with_context(|| format!("opening {} (run `nl db-init` first)", cfg.ledger.db_path.display()))
}

/// A running pipeline the ops API writes to: its bus, and a reader of its ledger that says which events it
/// applied (the DB in process for `nl run --web`; the ledger's gRPC for `nl serve web`).
#[derive(Clone)]
pub(crate) struct Pipeline {
    pub bus: std::sync::Arc<dyn nl_bus::Bus>,
    pub ledger: std::sync::Arc<dyn LedgerReader>,
}

/// Publishes `envs` on the `pipeline`'s bus when given (its ledger and recorder store them: `nl run --web`,
/// `nl serve web`) and waits until its ledger applied them (so what is read next sees them), else
/// [`emit`]s them.
///
/// # Errors
/// The publish or the write failed, or the ledger did not apply them within [`APPLY_WAIT`].
pub(crate) async fn emit_on(loaded: &Loaded<NlConfig>, pipeline: Option<&Pipeline>, envs: Vec<Envelope>) -> anyhow::Result<()> {
    let Some(p) = pipeline else { return emit(loaded, envs).await };
    p.bus.publish_batch(messages(&envs)?).await?;
    wait_applied(p.ledger.as_ref(), envs).await
}

fn messages(envs: &[Envelope]) -> anyhow::Result<Vec<nl_bus::Message>> {
    envs.iter().map(|e| Ok(nl_bus::Message::new(e.subject(), e.event_id.0.clone(), e.to_json()?))).collect()
}

/// Waits until `ledger` holds every one of `envs` (the ledger applied what was published), at most
/// [`APPLY_WAIT`]. An unreachable ledger is asked again until then (it may be starting).
async fn wait_applied(ledger: &dyn LedgerReader, envs: Vec<Envelope>) -> anyhow::Result<()> {
    let mut waiting: Vec<String> = envs.into_iter().map(|e| e.event_id.0).collect();
    let end = tokio::time::Instant::now() + APPLY_WAIT;
    loop {
        let unavailable = match ledger.stored_event_ids(&waiting).await {
            Ok(stored) => {
                waiting.retain(|id| !stored.contains(id));
                None
            }
            Err(ReadError::Unavailable(e)) => Some(e),
            Err(e) => return Err(e).context("asking the ledger which events it applied"),
        };
        if waiting.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= end {
            if let Some(e) = unavailable {
                bail!("published {} event(s), but could not ask the ledger whether it applied them within {} s: {e}", waiting.len(), APPLY_WAIT.as_secs());
            }
            bail!(
                "published {} event(s) the ledger has not applied within {} s (e.g. {}); is `nl serve ledger` running on this NATS stream?",
                waiting.len(),
                APPLY_WAIT.as_secs(),
                waiting[0]
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// How long [`emit_on`] waits for the ledger to apply what it published.
const APPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Appends `envs` to events.jsonl and applies them to the DB (embedded), or publishes them (NATS) and
/// waits until the ledger applied them (asked over `[serve] ledger_url`), so a backtest's report or a
/// listing read next sees them.
pub(crate) async fn emit(loaded: &Loaded<NlConfig>, envs: Vec<Envelope>) -> anyhow::Result<()> {
    let cfg = &loaded.config;
    if cfg.bus.mode == crate::config::BusMode::Nats {
        // The NATS client's connect future is not `Send`: publish from a blocking thread, so this future
        // stays `Send` (the ops API's handlers need that).
        let (nats, handle, msgs) = (cfg.nats.clone(), tokio::runtime::Handle::current(), messages(&envs)?);
        tokio::task::spawn_blocking(move || {
            handle.block_on(async move {
                use nl_bus::Bus;
                let bus = nl_bus::NatsBus::connect(&nats).await.context("connecting to NATS")?;
                bus.publish_batch(msgs).await?;
                anyhow::Ok(())
            })
        })
        .await??;
        // The ledger is another process, maybe on another machine: ask it over its gRPC.
        let ledger = cfg.serve.ledger_reader().context("the ledger's gRPC ([serve] ledger_url), to wait until it applied what was published")?;
        return wait_applied(&ledger, envs).await;
    }
    let store = nl_ledger::LedgerStore::open(&cfg.ledger).await.with_context(|| format!("opening {}", cfg.ledger.db_path.display()))?;
    let (path, policy) = (cfg.recorder.path.clone(), cfg.recorder.fsync.policy());
    let batch = envs.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut log = nl_recorder::EventLog::open(&path, policy).with_context(|| format!("opening {}", path.display()))?;
        for chunk in batch.chunks(10_000) {
            log.append_batch(chunk)?;
        }
        Ok(())
    })
    .await??;
    for chunk in envs.chunks(10_000) {
        let out = store.apply(chunk.to_vec()).await?;
        if let Some(bad) = out.invalid.first() {
            bail!("the ledger refused {} {}: {}", bad.kind, bad.event_id, bad.error);
        }
    }
    Ok(())
}

pub(crate) fn identity(loaded: &Loaded<NlConfig>) -> RunIdentity {
    RunIdentity { run_id: nl_config::new_run_id(Utc::now()), config_hash: loaded.config_hash.clone() }
}

pub(crate) fn paper_config(cfg: &NlConfig, l: &LearningArgs) -> PaperConfig {
    let mut p = cfg.paper.clone();
    p.learning.enabled |= l.learning_book_enabled;
    if let Some(b) = l.learning_daily_risk_budget_pct {
        p.learning.daily_risk_budget_pct = b;
    }
    if let Some(s) = l.seed {
        p.rng = s;
    }
    if let Some(id) = &l.experiment_id {
        p.learning.experiment_ids = vec![id.clone()];
    }
    p
}

/// The experiments a session or backtest runs: a spec file, a stored experiment, or every running one.
pub(crate) async fn experiments(reader: Option<&dyn PaperReader>, l: &LearningArgs, only_running: bool) -> anyhow::Result<Vec<Experiment>> {
    if let Some(path) = &l.experiment_spec_path {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let spec = ExperimentSpec::parse_file(path, &text).with_context(|| format!("--experiment-spec-path {}", path.display()))?;
        let sha256 = spec.sha256();
        return Ok(vec![Experiment { spec, sha256, status: ExperimentStatus::Running }]);
    }
    let reader = reader.context(
        "no ledger to read experiments from (embedded: run `nl db-init`; NATS: set [serve] ledger_url to a running `nl serve ledger`), or give --experiment-spec-path",
    )?;
    let all = reader.experiments().await?;
    if let Some(id) = &l.experiment_id {
        let Some(e) = all.into_iter().find(|e| &e.experiment_id == id) else { bail!("--experiment-id {id}: no such experiment (see `nl experiment list`)") };
        return Ok(vec![Experiment { spec: e.spec, sha256: e.spec_sha256, status: e.status }]);
    }
    Ok(all.into_iter().filter(|e| !only_running || e.status == ExperimentStatus::Running).map(|e| Experiment { spec: e.spec, sha256: e.spec_sha256, status: e.status }).collect())
}

pub(crate) fn ts_arg(flag: &str, s: &str) -> anyhow::Result<String> {
    let t = chrono::DateTime::parse_from_rfc3339(s).with_context(|| format!("{flag} {s:?} is not RFC 3339 (e.g. 2026-12-01T00:00:00Z)"))?;
    Ok(t.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Runs `nl backtest`: replays the stored inputs through the paper engine and stores what it emits.
///
/// # Errors
/// A bad flag, a missing fee model, an unreadable DB or a write failure.
pub async fn backtest(loaded: &Loaded<NlConfig>, args: BacktestArgs) -> anyhow::Result<ExitCode> {
    let reader = open_reader(&loaded.config).await?;
    let (run, r) = run_backtest(loaded, reader.as_ref(), None, args.run.as_deref(), args.from.as_deref(), args.to.as_deref(), &args.learning, None).await?;
    eprintln!("backtest {}", run.run_id);
    print_report(&r, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// A backtest of `run` (or `[from, to)`) read from `reader`: replays, stores its events (published on
/// `pipeline` when given, see [`emit_on`]), and reports it. `inline` is a spec given in a request body (the
/// ops API).
///
/// # Errors
/// A bad flag, a missing fee model, nothing to replay, an unreadable DB or a write failure.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_backtest(
    loaded: &Loaded<NlConfig>,
    reader: &dyn ReplayReader,
    pipeline: Option<&Pipeline>,
    source: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    l: &LearningArgs,
    inline: Option<ExperimentSpec>,
) -> anyhow::Result<(RunIdentity, report::Report)> {
    let cfg = paper_config(&loaded.config, l);
    cfg.validate().context("nl backtest")?;
    let from = from.map(|s| ts_arg("--from", s)).transpose()?;
    let to = to.map(|s| ts_arg("--to", s)).transpose()?;
    let events = reader.replay_inputs(source, from.as_deref(), to.as_deref()).await?;
    if events.is_empty() {
        bail!("nothing to replay: no decisions or snapshots stored for {}", source.map_or_else(|| "that time range".to_string(), |r| format!("run {r}")));
    }
    let exps = match (cfg.learning.enabled, inline) {
        (false, _) => Vec::new(),
        (true, Some(spec)) => {
            let sha256 = spec.sha256();
            vec![Experiment { spec, sha256, status: ExperimentStatus::Running }]
        }
        (true, None) => experiments(Some(reader as &dyn PaperReader), l, false).await?,
    };
    if cfg.learning.enabled && exps.is_empty() {
        bail!("--learning-book-enabled: no experiment to run (give --experiment-spec-path or --experiment-id, or create one with `nl experiment create`)");
    }
    let run = identity(loaded);
    let out = backtest::run(&cfg, &run, BacktestInput { events, experiments: exps.clone(), source_run_id: source.map(String::from) })?;
    emit_on(loaded, pipeline, out).await?;
    let specs: BTreeMap<String, ExperimentSpec> = exps.into_iter().map(|e| (e.spec.spec_id.clone(), e.spec)).collect();
    let trades = reader.run_trades(&run.run_id).await?;
    let by = vec!["book".to_string(), "experiment_id".to_string(), "reason_code".to_string()];
    let r = report::compute(&run.run_id, &trades, &specs, &by, cfg.rng);
    Ok((run, r))
}

fn print_report(r: &report::Report, format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => print!("{}", r.to_table()),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(r)?),
        OutputFormat::Csv => print!("{}", r.to_csv()),
    }
    Ok(())
}

/// Runs `nl report`.
///
/// # Errors
/// A bad `--by`, an unknown run or an unreadable DB.
pub async fn report_cmd(loaded: &Loaded<NlConfig>, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let reader = open_reader(&loaded.config).await?;
    let r = build_report(reader.as_ref(), &args.run, &args.by).await?;
    print_report(&r, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// The report of `run_id` grouped by `by`, read from `reader`.
///
/// # Errors
/// A bad `by`, an unknown run or an unreadable ledger.
pub(crate) async fn build_report(reader: &dyn ReplayReader, run_id: &str, by: &str) -> anyhow::Result<report::Report> {
    let by = report::parse_group_by(by).map_err(|e| anyhow::anyhow!("--by: {e}"))?;
    let Some(sr) = reader.strategy_run(run_id).await? else { bail!("--run {run_id}: no paper session or backtest with that id (see `nl paper status`)") };
    let seed = sr.settings.get("rng_seed").and_then(serde_json::Value::as_u64).unwrap_or(0);
    let specs: BTreeMap<String, ExperimentSpec> = reader.experiments().await?.into_iter().map(|e| (e.experiment_id, e.spec)).collect();
    let trades = reader.run_trades(run_id).await?;
    Ok(report::compute(run_id, &trades, &specs, &by, seed))
}

/// The `experiment.created` event of `spec`.
#[must_use]
pub fn created_event(spec: ExperimentSpec, run: &RunIdentity) -> Envelope {
    let now = Utc::now();
    let sha = spec.sha256();
    let id = spec.spec_id.clone();
    let body = ExperimentCreated { tags: BookTags::learning(id.clone()), spec, spec_sha256: sha.clone(), created_at: now };
    paper_envelope(EventType::ExperimentCreated, &[&id, &sha], now, run, None, &body)
}

/// The `experiment.status_changed` event of one step, checked against the status machine.
///
/// # Errors
/// An illegal step, saying which steps are legal.
pub fn status_event(id: &str, from: ExperimentStatus, to: ExperimentStatus, sha: &str, reason: Option<String>, run: &RunIdentity) -> anyhow::Result<Envelope> {
    if !from.can_become(to) {
        let legal: Vec<&str> = ExperimentStatus::ALL.iter().filter(|s| from.can_become(**s)).map(|s| s.as_str()).collect();
        bail!("experiment {id} is {from}: it cannot become {to} (legal: {})", if legal.is_empty() { "none, it is final".to_string() } else { legal.join(", ") });
    }
    let now = Utc::now();
    let body = ExperimentStatusChanged { tags: BookTags::learning(id), from, to, spec_sha256: sha.to_string(), reason, changed_at: now };
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    Ok(paper_envelope(EventType::ExperimentStatusChanged, &[id, from.as_str(), to.as_str(), &stamp], now, run, None, &body))
}

/// Runs `nl experiment ...`.
///
/// # Errors
/// A bad spec (with its field path), an unknown experiment, an illegal status step or a write failure.
pub async fn experiment(loaded: &Loaded<NlConfig>, cmd: ExperimentCommand) -> anyhow::Result<ExitCode> {
    let run = identity(loaded);
    match cmd {
        ExperimentCommand::Schema => println!("{}", serde_json::to_string_pretty(&ExperimentSpec::json_schema())?),
        ExperimentCommand::Create { spec } => {
            let text = std::fs::read_to_string(&spec).with_context(|| format!("reading {}", spec.display()))?;
            let parsed = ExperimentSpec::parse_file(&spec, &text).with_context(|| format!("--spec {}", spec.display()))?;
            let reader = open_reader(&loaded.config).await?;
            if reader.experiment(&parsed.spec_id).await?.is_some() {
                bail!("experiment {} exists already (a changed spec is a new spec_id or version)", parsed.spec_id);
            }
            let id = parsed.spec_id.clone();
            emit(loaded, vec![created_event(parsed, &run)]).await?;
            println!("experiment {id} created (draft)");
        }
        ExperimentCommand::List { format } => {
            let all = open_reader(&loaded.config).await?.experiments().await?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&all)?),
                _ => {
                    let sep = if format == OutputFormat::Csv { "," } else { "  " };
                    println!("{}", ["experiment_id", "status", "version", "spec_sha256", "updated_at"].join(sep));
                    for e in all {
                        println!("{}", [e.experiment_id, e.status.to_string(), e.spec.version.to_string(), e.spec_sha256, e.updated_at].join(sep));
                    }
                }
            }
        }
        ExperimentCommand::Show { id } => {
            let Some(e) = open_reader(&loaded.config).await?.experiment(&id).await? else { bail!("no experiment {id}") };
            println!("{}", serde_json::to_string_pretty(&e)?);
        }
        ExperimentCommand::SetStatus { id, status, reason } => {
            let to: ExperimentStatus = status.parse().context("STATUS")?;
            let Some(e) = open_reader(&loaded.config).await?.experiment(&id).await? else { bail!("no experiment {id}") };
            if e.spec.sha256() != e.spec_sha256 {
                bail!("experiment {id}: the stored spec no longer hashes to its frozen sha256; refusing to change it");
            }
            emit(loaded, vec![status_event(&id, e.status, to, &e.spec_sha256, reason, &run)?]).await?;
            println!("experiment {id}: {} -> {to}", e.status);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `nl paper ...`.
///
/// # Errors
/// Embedded mode for `start`, a bad flag, or an unreadable DB.
pub async fn paper(loaded: &Loaded<NlConfig>, cmd: PaperCommand) -> anyhow::Result<ExitCode> {
    let cfg = &loaded.config;
    let pid_path = cfg.storage.out_dir.join("paper.pid");
    match cmd {
        PaperCommand::Start { learning } => {
            if cfg.bus.mode != crate::config::BusMode::Nats {
                bail!("embedded mode: a paper session runs inside `nl run` with [paper] enabled = true (or set [bus] mode = \"nats\" for `nl paper start`)");
            }
            std::fs::write(&pid_path, std::process::id().to_string()).with_context(|| format!("writing {}", pid_path.display()))?;
            let result = serve(loaded, Some(learning)).await;
            let _ = std::fs::remove_file(&pid_path);
            result?;
        }
        PaperCommand::Status => {
            let runs = open_reader(cfg).await?.strategy_runs(Some("paper")).await?;
            println!("run_id  status  started_at  ended_at");
            for r in runs {
                println!("{}  {}  {}  {}", r.run_id, r.status, r.started_at, r.ended_at.unwrap_or_else(|| "-".into()));
            }
        }
        PaperCommand::Stop => {
            let pid = std::fs::read_to_string(&pid_path).with_context(|| format!("no running session ({} missing)", pid_path.display()))?;
            let pid = pid.trim();
            let status = std::process::Command::new("kill").args(["-TERM", pid]).status().context("running kill")?;
            if !status.success() {
                bail!("kill -TERM {pid} failed");
            }
            println!("sent SIGTERM to paper session pid {pid}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the paper service of `nl serve paper` / `nl paper start` on `bus` (experiments from the ledger DB
/// or `--experiment-spec-path`).
///
/// # Errors
/// A missing fee model, no experiment to read, or a bus failure.
pub async fn build_service(loaded: &Loaded<NlConfig>, learning: Option<LearningArgs>, run: RunIdentity, bus: std::sync::Arc<dyn nl_bus::Bus>) -> anyhow::Result<nl_paper::service::PaperService> {
    let cfg = &loaded.config;
    let l = learning.unwrap_or_default();
    let pcfg = paper_config(cfg, &l);
    pcfg.validate().context("nl serve paper")?;
    let exps = if !pcfg.learning.enabled {
        Vec::new()
    } else if l.experiment_spec_path.is_some() {
        experiments(None, &l, true).await?
    } else {
        let reader = open_reader(cfg).await?;
        experiments(Some(reader.as_ref() as &dyn PaperReader), &l, true).await?
    };
    Ok(nl_paper::service::build(pcfg, nl_bus::ServiceCtx::new(bus, run), exps).await?)
}

/// `nl paper start`: the paper service over NATS until SIGINT/SIGTERM.
async fn serve(loaded: &Loaded<NlConfig>, learning: Option<LearningArgs>) -> anyhow::Result<()> {
    let bus: std::sync::Arc<dyn nl_bus::Bus> = std::sync::Arc::new(nl_bus::NatsBus::connect(&loaded.config.nats).await.context("connecting to NATS")?);
    let run = identity(loaded);
    eprintln!("paper session {}", run.run_id);
    let svc = build_service(loaded, learning, run, bus).await?;
    let token = nl_bus::CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        stop.cancel();
    });
    let counts = svc.run(token).await?;
    eprintln!("paper session stopped: {counts:?}");
    Ok(())
}
