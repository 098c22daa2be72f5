//! Re-derivation from raw_events (`nl rederive --from-raw`): normalize → enrich → risk → score → gate again
//! from the recorded raw payloads alone, into a scratch DB, with no network.
//!
//! * The original runs are replayed in order, one segment per run. Each source's recorded responses are fed
//!   to [`nl_adapters::Source::rederive`] in receive order, carrying its state across runs as its cursor
//!   was carried; with `--run R` the runs before R only rebuild that state. A source's lookup captures
//!   ([`nl_adapters::Source::lookup_path`], e.g. CEX currency responses) are not re-derived on their own:
//!   they answer the lookups that re-deriving the same run's responses makes.
//! * A replayed run gets fresh enricher, risk-scorer and gate instances (as each `nl run-cycle` had) on an
//!   embedded bus, drained by accounting like a cycle. Provider, pair and ticker lookups are answered from
//!   the same run's captures ([`crate::recorded`]); enricher re-snapshot rounds are off (their timing is wall-clock).
//! * A run is streamed, not loaded: raws are read in receive order [`READ_CHUNK`] at a time, and a source
//!   response is re-derived and its observations published once [`LOOKAHEAD`] more raws have been read, so
//!   the lookups and answers it causes (captured after it) are indexed before they are asked for. Reading
//!   waits while more than [`MAX_BACKLOG`] deliveries are outstanding, and settled messages are compacted
//!   out of the bus, so memory follows these bounds, not the run's size.
//! * The replayed run's enrichment round is bounded the same way: after each chunk the enricher closes the
//!   assets nothing was added to for [`ROUND_HORIZON`] raws ([`nl_enricher::RoundControl::close_idle`]), so
//!   their merged snapshots are risk-scored, scored, decided and stored while reading goes on, instead of
//!   all at the run's end. A run shorter than the horizon (any `nl run-cycle` so far) keeps one round, as
//!   before; in a longer one, an asset observed again more than about the horizon after its previous
//!   observation gets one more merged snapshot than the original round gave it. What is open when reading
//!   ends is closed [`SLICE_ASSETS`] assets at a time, each slice's events stored before the next is
//!   closed, once every observation is in ([`close_in_slices`]).
//! * Every clock is a recorded time (response receive times, snapshot observation times), and event ids
//!   are content-derived, so with the same config the assets, scores and decisions are the originals,
//!   event id for event id. The re-derivation is a run of its own (new run id, manifest with
//!   `rederived_from`); the original raw_events rows are copied into the scratch DB unchanged.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use futures::StreamExt;
use nl_adapters::cex::ticker::{TICKER_VENUES, ticker_descriptor};
use nl_adapters::kit::RecordedQueues;
use nl_adapters::providers::Provider;
use nl_adapters::{CarriedState, Source};
use nl_bus::memory::MemoryBusConfig;
use nl_bus::observation_messages;
use nl_bus::{Bus, MemoryBus};
use nl_collector::RunIdentity;
use nl_domain::{EventType, RawEvent};
use nl_enricher::RoundControl;
use nl_ledger::{LedgerConfig, LedgerStore, SqliteReader};
use nl_recorder::RecorderConfig;
use serde::Serialize;

use crate::cycle::{CycleConfig, enabled_sources, publish_run_event};
use crate::manifest::{EventsRange, RunManifest, code_version, count_lines};
use crate::pipeline::Pipeline;
use crate::recorded::{RecordedPairs, index_provider};
use crate::topology::{Extras, Recorded, ServiceConfigs, Topology};

/// Observations published per bus batch.
const PUBLISH_CHUNK: usize = 1_000;
/// Raw events read per step.
const READ_CHUNK: usize = 2_000;
/// Raw events read past a source response before it is re-derived. A lookup or answer captured further
/// than this after the response that caused it is found only if the pipeline asks late enough.
const LOOKAHEAD: usize = 10_000;
/// Deliveries outstanding in the pipeline above which reading (and closing the round's last slices) waits.
const MAX_BACKLOG: u64 = 4_000;
/// Deliveries outstanding below which the next slice of the round's end is closed. A closed slice fans out
/// (each snapshot becomes a risk evaluation, a score and a decision, each delivered to the ledger and the
/// recorder: about ten deliveries per asset), so waiting for [`MAX_BACKLOG`] let several slices' events
/// pile up in front of the ledger (15,000 messages retained, measured); this keeps about one.
const SLICE_BACKLOG: u64 = 1_000;
/// Assets closed per slice at the end of a replayed run's round (about ten deliveries each).
const SLICE_ASSETS: usize = 400;
/// Raw events read past an asset's last observation before its part of the enrichment round is closed.
/// Above [`LOOKAHEAD`] plus [`MAX_BACKLOG`], so an observation still on its way cannot split an asset. The
/// open round and the answers not asked for yet (a provider answer is asked for when its asset's round
/// closes) hold about this many raws' worth of data, so it bounds the re-derivation's memory.
const ROUND_HORIZON: usize = 20_000;
/// [`ROUND_HORIZON`] in [`RoundControl::close_idle`] epochs (one per chunk read).
const ROUND_KEEP_EPOCHS: u64 = (ROUND_HORIZON / READ_CHUNK) as u64;
/// How long the re-derivation's bus remembers a message id. A duplicate there comes only from a
/// service re-publishing a retried delivery's outputs moments later (the ledger and the recorder dedup
/// by event id on their own); the default two minutes would keep every id of a run that takes less.
const DEDUP_WINDOW: Duration = Duration::from_secs(10);

/// What to re-derive and where.
#[derive(Debug, Clone)]
pub struct RederiveOptions {
    /// Re-derive only this run (earlier runs rebuild source state); `None` re-derives every run.
    pub run: Option<String>,
    /// Scratch folder (default `runs/<new run id>/rederive/`); must not hold a DB yet.
    pub out_dir: Option<PathBuf>,
    pub drain_timeout: Duration,
}

/// Counts of one replayed run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SegmentReport {
    pub run_id: String,
    /// Raw events of the run.
    pub raws: usize,
    /// Source responses re-derived into observations.
    pub source_raws: usize,
    pub observations: usize,
    /// Source lookup, provider, pair and ticker captures the replay never asked for (e.g. from enricher
    /// re-snapshot rounds).
    pub unused_answers: usize,
}

/// The result of a re-derivation.
#[derive(Debug, Clone)]
pub struct RederiveOutcome {
    pub run_id: String,
    pub db_path: PathBuf,
    pub manifest: RunManifest,
    pub manifest_path: PathBuf,
    pub segments: Vec<SegmentReport>,
    /// Raw events per source this config cannot re-derive (source not configured, or an RPC source).
    pub not_rederived: BTreeMap<String, usize>,
    /// Raw events read, in total.
    pub raws_read: usize,
    pub elapsed: Duration,
}

impl RederiveOutcome {
    /// Raw events re-derived per second of wall time.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn raws_per_sec(&self) -> f64 {
        self.raws_read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One original run: its id and whether its outputs are re-derived (else it only rebuilds source state).
struct Segment {
    run_id: String,
    publish: bool,
}

/// Re-derives from the raw_events of `cfg.ledger.db_path` into a scratch DB.
///
/// # Errors
/// The source DB is missing or has no raw events (of `--run`), the scratch folder already has a DB, a
/// component could not start, or the pipeline did not drain in time.
pub async fn rederive(cfg: &CycleConfig, opts: &RederiveOptions, mut progress: impl FnMut(&str)) -> anyhow::Result<RederiveOutcome> {
    let t0 = Instant::now();
    let started_at = Utc::now();
    let run_id = nl_config::new_run_id(started_at);
    let run = RunIdentity { run_id: run_id.clone(), config_hash: cfg.config_hash.clone() };
    let source_db = cfg.ledger.db_path.clone();
    anyhow::ensure!(source_db.exists(), "no database at {}: nothing to re-derive (run `nl run-cycle` first, or set [ledger] db_path)", source_db.display());
    let runs_dir = cfg.storage.runs_dir();
    let out_dir = opts.out_dir.clone().unwrap_or_else(|| runs_dir.join(&run_id).join("rederive"));
    let db_path = out_dir.join(nl_config::DB_FILE_NAME);
    anyhow::ensure!(!db_path.exists(), "{} already exists: re-derive into a fresh folder", db_path.display());
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let reader = SqliteReader::open(&source_db, 2).await.with_context(|| format!("opening {}", source_db.display()))?;
    let segments = segments(&reader, opts.run.as_deref()).await?;
    let rederived_from: Vec<String> = segments.iter().filter(|s| s.publish).map(|s| s.run_id.clone()).collect();
    progress(&format!("run {run_id}: re-deriving {} run(s) from raw_events of {}", rederived_from.len(), source_db.display()));
    let runs: Vec<&str> = segments.iter().map(|s| s.run_id.as_str()).collect();
    nl_ledger::copy_raws(&source_db, &db_path, &runs).await.with_context(|| format!("copying raw events into {}", db_path.display()))?;

    let ledger_cfg = LedgerConfig { db_path: db_path.clone(), ..cfg.ledger.clone() };
    let recorder_cfg = RecorderConfig { path: out_dir.join("events.jsonl"), ..cfg.recorder.clone() };
    let store = LedgerStore::open(&ledger_cfg).await.with_context(|| format!("opening {}", db_path.display()))?;
    let sources: HashMap<String, Arc<dyn Source>> = enabled_sources(&cfg.sources, &cfg.dex, &run_id)?.into_iter().map(|s| (s.name().to_string(), s)).collect();
    let bases = AnswerBases::new(cfg);
    let out = (&ledger_cfg, &recorder_cfg, &store);
    let mut states: HashMap<String, CarriedState> = HashMap::new();
    let mut not_rederived: BTreeMap<String, usize> = BTreeMap::new();
    let mut reports = Vec::new();
    let mut raws_read = 0usize;
    let mut first = true;
    for seg in &segments {
        let mut report = SegmentReport { run_id: seg.run_id.clone(), ..SegmentReport::default() };
        let answers = seg.publish.then(Answers::default);
        let mut feed = match &answers {
            Some(a) => Some(start_pipeline(cfg, &run, out, a.clone()).await?),
            None => None,
        };
        if let Some((_, bus, _, _)) = &feed
            && first
        {
            let meta = serde_json::json!({"status": "started", "started_at": started_at, "rederived_from": rederived_from});
            publish_run_event(bus, EventType::RunStarted, &run, meta).await?;
            first = false;
        }
        let lookups = RecordedQueues::default();
        let mut pending: VecDeque<(usize, RawEvent)> = VecDeque::new();
        let mut raws = std::pin::pin!(reader.stream_raws_of_run(&seg.run_id));
        let mut end = false;
        while !end {
            for _ in 0..READ_CHUNK {
                let Some(raw) = raws.next().await else {
                    end = true;
                    break;
                };
                let raw = raw.with_context(|| format!("reading raw events of {}", seg.run_id))?;
                report.raws += 1;
                if let Some(a) = &answers {
                    a.index(&raw, &bases);
                }
                let Some(src) = sources.get(&raw.source) else {
                    if !is_answer(&raw.source) {
                        *not_rederived.entry(raw.source.clone()).or_default() += 1;
                    }
                    continue;
                };
                match src.lookup_path(&raw) {
                    Some(path) => lookups.push(raw.source.clone(), path, raw),
                    None => pending.push_back((report.raws, raw)),
                }
            }
            let mut observations = Vec::new();
            let mut delistings = Vec::new();
            while let Some((pos, _)) = pending.front()
                && (end || pos + LOOKAHEAD <= report.raws)
            {
                let Some((_, raw)) = pending.pop_front() else { break };
                let Some(src) = sources.get(&raw.source) else { continue };
                let state = states.entry(raw.source.clone()).or_default();
                match src.rederive_carried(state, &raw, &lookups) {
                    Some(derived) => {
                        report.source_raws += 1;
                        observations.extend(derived.observations);
                        delistings.extend(derived.delistings);
                    }
                    None => *not_rederived.entry(raw.source.clone()).or_default() += 1,
                }
            }
            report.observations += observations.len();
            if let Some((pipeline, bus, mem, rounds)) = &mut feed {
                let mut messages = observation_messages(&observations, &run);
                messages.extend(nl_collector::delisting_messages(&delistings, &run));
                let mut messages = messages.into_iter().peekable();
                while messages.peek().is_some() {
                    let chunk: Vec<_> = messages.by_ref().take(PUBLISH_CHUNK).collect();
                    bus.publish_batch(chunk).await.context("publishing re-derived observations")?;
                    pipeline.wait_backlog(MAX_BACKLOG, opts.drain_timeout).await?;
                    let _retained = mem.compact();
                }
                rounds.close_idle(ROUND_KEEP_EPOCHS).await.context("closing idle assets of the enrichment round")?;
            }
        }
        raws_read += report.raws;
        report.unused_answers = lookups.unused();
        if let (Some((mut pipeline, _, _, rounds)), Some(answers)) = (feed, answers) {
            close_in_slices(&mut pipeline, &rounds, opts.drain_timeout).await?;
            pipeline.drain(opts.drain_timeout, |_| {}).await?;
            let failed = pipeline.stop().await;
            anyhow::ensure!(failed.is_empty(), "services failed during the re-derivation: {}", failed.join("; "));
            report.unused_answers += answers.unused();
            progress(&format!(
                "  {:<32} raws {:>7}  observations {:>6}  unused answers {}",
                seg.run_id, report.raws, report.observations, report.unused_answers
            ));
            reports.push(report);
        }
    }
    reader.pool().close().await;
    let summary = serde_json::json!({"rederived_from": rederived_from, "source_db": source_db, "segments": reports, "not_rederived": not_rederived, "raws_read": raws_read});
    finish_run(cfg, &run, out, &summary, opts.drain_timeout).await?;
    let stats = store.reader().stats().await?;
    let events_path = recorder_cfg.path.clone();
    let events_end = std::fs::metadata(&events_path).map_or(0, |m| m.len());
    let manifest = RunManifest {
        run_id: run_id.clone(),
        config_hash: cfg.config_hash.clone(),
        effective_config: cfg.effective_config.clone(),
        started_at,
        finished_at: Utc::now(),
        code_version: code_version(),
        source_versions: states.into_iter().map(|(k, v)| (k, if v.is_set() { serde_json::json!("rederived") } else { serde_json::Value::Null })).collect(),
        db_path: db_path.clone(),
        events: EventsRange { path: events_path.clone(), start: 0, end: events_end, count: count_lines(&events_path, 0, events_end).unwrap_or(0) },
        row_counts: stats.tables.iter().cloned().collect(),
        events_per_type: store.reader().events_per_type(&run_id).await?,
        dry_run: false,
        errors: Vec::new(),
        summary,
    };
    let manifest_path = manifest.write(&runs_dir)?;
    Ok(RederiveOutcome { run_id, db_path, manifest, manifest_path, segments: reports, not_rederived, raws_read, elapsed: t0.elapsed() })
}

/// Closes what the read left of a replayed run's enrichment round [`SLICE_ASSETS`] assets at a time
/// ([`RoundControl::close_some`]), waiting for the pipeline's backlog to fall to [`SLICE_BACKLOG`] between
/// slices, instead of all at once in the final drain: a round's merged snapshots, scores and decisions in
/// flight together took about 50 KB per asset (1.5 GB at 20,000 assets). The pipeline is settled first, so
/// every observation is in the round before any of it closes (the same merged snapshots as one close).
/// Slices are counted in assets, not read epochs: the observations of the last [`LOOKAHEAD`] raws are
/// published when reading ends, so the last epoch alone held about half a 20,000-raw run's assets.
async fn close_in_slices(pipeline: &mut Pipeline, rounds: &RoundControl, timeout: Duration) -> anyhow::Result<()> {
    pipeline.settle(timeout).await?;
    while rounds.close_some(SLICE_ASSETS).await.context("closing the enrichment round")? > 0 {
        pipeline.wait_backlog(SLICE_BACKLOG, timeout).await?;
    }
    Ok(())
}

/// Whether `source` names captures answered by the recorded layers (risk providers, pair and ticker lookups).
fn is_answer(source: &str) -> bool {
    source == nl_adapters::dex::dexscreener::client::DexScreenerClient::SOURCE
        || Provider::ALL.iter().any(|p| p.as_str() == source)
        || TICKER_VENUES.iter().any(|v| ticker_descriptor(v).is_some_and(|d| d.source_name() == source))
}

/// The recorded answers a replayed run's pipeline is given, indexed as the run's raws are read.
#[derive(Clone, Default)]
struct Answers {
    pairs: Arc<RecordedPairs>,
    providers: Arc<RecordedQueues>,
    /// Ticker captures, keyed like the providers' (by `<venue>_ticker` and request path).
    tickers: Arc<RecordedQueues>,
}

impl Answers {
    /// Indexes `raw` where it answers a lookup.
    fn index(&self, raw: &RawEvent, bases: &AnswerBases) {
        index_provider(&self.providers, raw, &bases.providers);
        index_provider(&self.tickers, raw, &bases.tickers);
        self.pairs.push(raw, &bases.pairs);
    }

    /// Answers never asked for.
    fn unused(&self) -> usize {
        self.providers.unused() + self.pairs.unused() + self.tickers.unused()
    }
}

/// The configured base URLs recorded answers were asked from, to key captures by request path.
struct AnswerBases {
    /// Provider name → base URL.
    providers: HashMap<String, String>,
    /// `<venue>_ticker` → the base URL the enricher looks that venue's tickers up at.
    tickers: HashMap<String, String>,
    /// DexScreener's base URL.
    pairs: String,
}

impl AnswerBases {
    fn new(cfg: &CycleConfig) -> Self {
        let providers = Provider::ALL.iter().map(|p| (p.as_str().to_string(), cfg.risk_scorer.providers.of(*p).base_url.clone())).collect();
        let urls = cfg.enricher.cex_tickers.resolve_base_urls(&cfg.sources.venue_base_urls());
        let tickers = urls.into_iter().filter_map(|(v, u)| ticker_descriptor(&v).map(|d| (d.source_name(), u))).collect();
        Self { providers, tickers, pairs: cfg.enricher.dexscreener.base_url.clone() }
    }
}

/// The original runs in the order of their first raw event; with `only`, the runs up to it, only it published.
async fn segments(reader: &SqliteReader, only: Option<&str>) -> anyhow::Result<Vec<Segment>> {
    let runs = reader.raw_runs().await.context("listing runs")?;
    if runs.is_empty() {
        bail!("raw_events is empty: nothing to re-derive");
    }
    Ok(match only {
        None => runs.into_iter().map(|run_id| Segment { run_id, publish: true }).collect(),
        Some(r) => {
            let Some(pos) = runs.iter().position(|x| x == r) else {
                bail!("run {r} has no raw events in this database (runs with raw events: {})", runs.join(", "))
            };
            runs.into_iter().take(pos + 1).map(|run_id| Segment { publish: run_id == r, run_id }).collect()
        }
    })
}

/// The embedded pipeline of a re-derivation over a fresh bus: every stage of [`Topology::pipeline`], the
/// enricher and risk-scorer answered from `recorded` (empty answers when only run events are published).
async fn start_pipeline(
    cfg: &CycleConfig,
    run: &RunIdentity,
    (ledger_cfg, recorder_cfg, store): (&LedgerConfig, &RecorderConfig, &LedgerStore),
    answers: Answers,
) -> anyhow::Result<(Pipeline, Arc<dyn Bus>, MemoryBus, RoundControl)> {
    let mem = MemoryBus::new(MemoryBusConfig { max_messages: cfg.memory_max_messages, duplicate_window: DEDUP_WINDOW, ..MemoryBusConfig::default() });
    let bus: Arc<dyn Bus> = Arc::new(mem.clone());
    let venue_urls = cfg.sources.venue_base_urls();
    let cfgs = ServiceConfigs { ledger: ledger_cfg, recorder: recorder_cfg, ..cfg.service_configs(&venue_urls) };
    let recorded = Recorded { pairs: answers.pairs, providers: answers.providers, tickers: answers.tickers };
    // One round per replayed run, as `nl run-cycle` had: closed by the drain at the run's end (and, for a
    // run longer than the horizon, its idle assets as reading goes on).
    let rounds = RoundControl::explicit();
    let extras = Extras {
        store: Some(store.clone()),
        recorded: Some(recorded),
        rounds: Some(rounds.clone()),
        ai_out_dir: Some(cfg.storage.out_dir.clone()),
        ledger_reader: None,
    };
    let pipeline = Topology::pipeline_with(&cfg.ai).start(cfgs, &bus, run, &extras).await?.with_compaction(mem.clone());
    Ok((pipeline, bus, mem, rounds))
}

/// Publishes `run.completed` (the runs table row) through a last short-lived pipeline.
async fn finish_run(
    cfg: &CycleConfig,
    run: &RunIdentity,
    out: (&LedgerConfig, &RecorderConfig, &LedgerStore),
    summary: &serde_json::Value,
    drain_timeout: Duration,
) -> anyhow::Result<()> {
    let (mut pipeline, bus, _, _) = start_pipeline(cfg, run, out, Answers::default()).await?;
    publish_run_event(&bus, EventType::RunCompleted, run, serde_json::json!({"status": "completed", "summary": summary})).await?;
    pipeline.drain(drain_timeout, |_| {}).await?;
    let failed = pipeline.stop().await;
    anyhow::ensure!(failed.is_empty(), "services failed finishing the re-derivation: {}", failed.join("; "));
    Ok(())
}
