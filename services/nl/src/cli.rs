//! Command-line surface of `nl`. Every command and flag has `--help`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// nl: the new-listings radar. Read-only research tooling; it never places an order.
#[derive(Debug, Parser)]
#[command(name = "nl", version, about, propagate_version = true)]
pub struct Cli {
    /// Config file (TOML). Keys can be overridden from the environment as NL_<SECTION>__<KEY>.
    #[arg(long, global = true, default_value = nl_config::DEFAULT_CONFIG_PATH, env = "NL_CONFIG")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay stored snapshots and gate decisions through the paper engine (no look-ahead); stores the
    /// backtest's orders, fills, positions and blocks as a new run and prints its report.
    Backtest(crate::cmd_paper::BacktestArgs),
    /// Learning-book experiments: create (draft), list, show, set-status, schema.
    Experiment {
        #[command(subcommand)]
        command: crate::cmd_paper::ExperimentCommand,
    },
    /// Report of a paper session or backtest: profit and learning PnL apart, per-experiment metrics.
    Report(crate::cmd_paper::ReportArgs),
    /// Paper sessions: start (foreground, NATS mode), status, stop.
    Paper {
        #[command(subcommand)]
        command: crate::cmd_paper::PaperCommand,
    },
    /// Run one cycle: every enabled source once, drain the pipeline, write the run manifest.
    /// Exit code 0 when every source succeeded, 3 when some failed (the cycle still completes), 1 on a fatal error.
    RunCycle {
        /// Fetch and compute everything but write neither the DB nor events.jsonl; report what would change.
        #[arg(long)]
        dry_run: bool,
        /// Give up if the pipeline has not drained after this many seconds.
        #[arg(long, default_value_t = 600)]
        drain_timeout_secs: u64,
    },
    /// Run continuously: poll sources on their schedules and keep push feeds connected until SIGINT/SIGTERM,
    /// then drain, flush and write the final manifest (exit 0; 1 when a service failed or draining timed out).
    /// One process is one run: its manifest is rewritten at every checkpoint.
    Run {
        /// Rewrite the run's manifest and print a progress line this often (default: `[run] checkpoint_secs`).
        #[arg(long)]
        checkpoint_secs: Option<u64>,
        /// On shutdown, give up draining after this many seconds (default: `[run] drain_timeout_secs`).
        #[arg(long)]
        drain_timeout_secs: Option<u64>,
        /// Also serve the web dashboard on this address (e.g. 127.0.0.1:8088; `[web]` sets the rest).
        #[arg(long)]
        web: Option<std::net::SocketAddr>,
    },
    /// Re-derive assets, scores and decisions from raw_events alone (no network) into a scratch DB under
    /// runs/<new run id>/rederive/. With the same config the decisions equal the originals; compare with
    /// `nl diff-runs`. Exit code 0, 3 when some raw events could not be re-derived with this config, 1 on a fatal error.
    Rederive {
        /// Re-derive from the recorded raw payloads and provider responses (required: the only mode).
        #[arg(long, required = true)]
        from_raw: bool,
        /// Re-derive only this run (earlier runs only rebuild the sources' state); default: every run.
        #[arg(long)]
        run: Option<String>,
        /// Scratch folder instead of runs/<new run id>/rederive/ (must not hold a new_listings.sqlite yet).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Give up if a replayed run has not drained after this many seconds.
        #[arg(long, default_value_t = 600)]
        drain_timeout_secs: u64,
    },
    /// List the assets whose decisions differ between run A and run B, with both sides' reason codes.
    /// A run id `all` means every run of its DB. Exit code 0 when none differ, 1 when some do, 2 when a run or DB cannot be read.
    DiffRuns {
        /// Run id of side A (e.g. the original run).
        a: String,
        /// Run id of side B (e.g. a re-derivation under another config).
        b: String,
        /// DB of side A (default: the run's re-derivation DB runs/<A>/rederive/new_listings.sqlite if there is one, else the configured DB).
        #[arg(long)]
        db_a: Option<PathBuf>,
        /// DB of side B (default as for A).
        #[arg(long)]
        db_b: Option<PathBuf>,
    },
    /// Rebuild a lost or damaged DB from events.jsonl: every recorded event applied again in order. The DB
    /// must not exist (move a damaged one away first). Raw payloads (raw_events) and source cursors are not
    /// in the log: the next poll of an instrument list takes a new baseline.
    Rebuild {
        /// Rebuild from the events log (required: the only mode).
        #[arg(long, required = true)]
        from_events: bool,
    },
    /// Create (or migrate) the SQLite database: runbook tables and views.
    DbInit {
        /// Undo migrations down to this version instead (0 removes everything).
        #[arg(long)]
        down_to: Option<i64>,
    },
    /// Append events by hand (the runbook's "one manual event appended").
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Mark an asset reviewed: emits `asset.reviewed`; the ledger sets its reviewed_at, so it leaves
    /// v_assets_new once it is older than [ledger] new_window_minutes.
    Review {
        /// Asset id: <chain>:<address> or cex:<venue>:<BASE>.
        asset_id: String,
        /// Who reviewed it (free text).
        #[arg(long)]
        by: Option<String>,
        /// A note kept with the review.
        #[arg(long)]
        note: Option<String>,
    },
    /// Print or re-publish events from an events.jsonl file.
    ReplayEvents(ReplayArgs),
    /// Run one service against NATS (distributed mode).
    Serve {
        #[arg(value_enum)]
        service: ServiceName,
    },
    /// Row counts per table, events per type, dead letters, last run.
    Status,
    /// Offline demo: simulated venues on loopback, N cycles, prints discoveries, promotions and rejections.
    Demo {
        /// Number of cycles (the simulator lists new instruments and pools between cycles).
        #[arg(long, default_value_t = 3)]
        cycles: u32,
        /// Output folder (default: a fresh folder under <out_dir>/demo/, the configured [storage] out_dir,
        /// NL_STORAGE__OUT_DIR).
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// New listings, newest first, with their latest liquidity, score, decision and risk counts.
    List(ListArgs),
    /// Candidates (`v_assets_candidates`): latest decision promoted and liquidity at the minimum, with why.
    Candidates(ListArgs),
    /// One asset: identity, sources, snapshot, risk checks, score breakdown, decision and reasons, timeline.
    Show {
        /// Asset id: <chain>:<address> or cex:<venue>:<BASE>.
        asset_id: String,
        /// Print the detail as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        from: ReadFrom,
    },
    /// The web dashboard over an existing out dir, read-only (live: it shows new commits as they land).
    Web {
        /// Listen address (default `[web] addr`, loopback).
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
        #[command(flatten)]
        from: ReadFrom,
    },
    /// Live tail of new listings and decisions (the ledger's committed events), until Ctrl-C.
    Watch(crate::cmd_watch::WatchArgs),
    /// The AI layers L1–L4 (advisory): run one by hand, show an asset's notes, the token budget, the evals.
    Ai {
        #[command(subcommand)]
        command: crate::cmd_ai::AiCommand,
    },
    /// Go/no-go checks (config recorded, L6 blocked, no secrets, outputs writable, ids documented); exit 1 on any FAIL.
    Preflight {
        /// README that must document run_id and config_hash.
        #[arg(long, default_value = "README.md")]
        readme: PathBuf,
    },
    /// Serve static JSON files as a fake venue (`GET /a/b` -> `<dir>/a/b.json`); for the compose smoke test.
    #[command(hide = true)]
    MockVenue {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Benchmarks that print figures (build with --release for meaningful numbers).
    Bench {
        #[arg(value_enum)]
        target: BenchTarget,
        /// Number of events (of assets for `enrich` and `risk-gate`, of listings for `bytes`); default 100,000 (2,000 for `bytes`).
        #[arg(long)]
        events: Option<usize>,
        /// Repetitions of `bytes`, `rederive`, `run-memory` and `kernel` (they print min/median/max over them).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

/// Where the views read the ledger.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReadFrom {
    /// Read the DB under this out dir (e.g. a `nl demo` folder) instead of the configured one.
    #[arg(long, conflicts_with = "ledger_url")]
    pub out_dir: Option<PathBuf>,
    /// Read through the ledger's gRPC API (distributed mode), e.g. http://127.0.0.1:50051.
    #[arg(long)]
    pub ledger_url: Option<String>,
}

/// Filters and format of `nl list` / `nl candidates`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only listings first seen within this long (90s, 30m, 1h, 2d, 1w) or since an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Chain slug, e.g. solana, eth, bsc.
    #[arg(long)]
    pub chain: Option<String>,
    /// A venue that saw it, e.g. okx, binance, raydium.
    #[arg(long)]
    pub venue: Option<String>,
    /// cex or dex.
    #[arg(long)]
    pub kind: Option<String>,
    /// promoted or rejected (the latest gate decision).
    #[arg(long)]
    pub decision: Option<String>,
    /// Minimum latest liquidity in USD.
    #[arg(long)]
    pub min_liquidity: Option<String>,
    /// Case-insensitive text in the symbol, name or asset id.
    #[arg(long)]
    pub search: Option<String>,
    /// At most this many rows.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub from: ReadFrom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Append one event to events.jsonl (and the ledger DB).
    Append {
        /// Event type, e.g. asset.discovered.
        #[arg(long = "type")]
        kind: String,
        /// Asset id: <chain>:<address> or cex:<venue>:<BASE>.
        #[arg(long)]
        asset_id: String,
        /// JSON object with extra fields.
        #[arg(long, default_value = "{}")]
        meta: String,
        #[arg(long)]
        symbol: Option<String>,
        #[arg(long)]
        source: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// events.jsonl to read (default: the configured one).
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// Only events with ts >= this RFC 3339 time (e.g. 2026-11-21T00:00:00Z).
    #[arg(long)]
    pub from_ts: Option<String>,
    /// Only events of this type (repeatable).
    #[arg(long = "type")]
    pub kinds: Vec<String>,
    /// Where to send them.
    #[arg(long, value_enum, default_value_t = ReplayTarget::Stdout)]
    pub to: ReplayTarget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayTarget {
    Stdout,
    Bus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceName {
    Ledger,
    Recorder,
    Collector,
    Enricher,
    RiskScorer,
    Gate,
    /// The web dashboard, reading the ledger over gRPC (`[serve] ledger_url`).
    Web,
    /// L0: gRPC `Orchestrator` (TriggerCycle, RunStatus), scheduled cycles, run events and manifests.
    Orchestrator,
    /// The AI layers L1–L4 (needs `[ai] enabled` and an endpoint; reads the ledger over `[serve] ledger_url`).
    AiDispatch,
    /// Paper trading (profit and learning books); needs `[paper.fees]`.
    Paper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchTarget {
    /// AI layers: dispatch overhead per job against a loopback fake model, observation -> decision p99 AI
    /// on vs off, and real-model L1 latency when NL_BENCH_AI_REAL_URL names a served model.
    Ai,
    /// Events/s into SQLite through MemoryBus and through NATS, against SQLite's raw batched-insert rate.
    Ledger,
    /// Per asset enrich + risk + score + gate (providers on loopback): assets/s and p50/p99 latency.
    Enrich,
    /// Snapshot -> risk + score -> gate per asset over MemoryBus (providers on loopback): decisions/s and p99 latency.
    RiskGate,
    /// EVM factory logs: push detection latency (WS log -> listing.observed) p50/p99 over min(events, 1000)
    /// pairs, and logs/s decoded from `events` mixed V2/V3/V4 logs.
    DexEvm,
    /// Solana launches: push detection latency (logsNotification -> getTransaction -> listing.observed)
    /// p50/p99 over min(events, 1000) pump.fun creates, and creates/s kept up with at 200, 1000 and 2000/s
    /// offered, with the shedding counter, against the loopback Solana node.
    Solana,
    /// CEX listing detection latency against loopback mock venues: OKX instrument-list polling (every 200 ms)
    /// and the OKX WebSocket push, p50/p99 over min(events, 50) listings each.
    Collector,
    /// Listings/s to a gate decision and observation -> decision p50/p99 with enricher, risk-scorer, gate
    /// and ledger as separate `nl serve` processes over a private nats-server (`--events` listings per phase).
    Pipeline,
    /// Raw events/s, persisted listings/s and peak RSS of re-deriving (normalize, enrich, risk, score, gate into a scratch DB)
    /// a generated set of raw events, `--runs` times, next to the Python reference (scripts/bench/pyref.py) on as many listings.
    Rederive,
    /// The web dashboard on `--events` assets (10 ledger events each): p50/p95 render of the listings, filtered,
    /// candidates and asset pages over loopback HTTP next to the bare listings query, and the SSE delay from
    /// a ledger commit to its row on an open live stream.
    Web,
    /// Bytes written per listing (DB + events.jsonl) by `nl demo --cycles 20` and by a re-derivation of `--events`
    /// generated listings, next to the Python reference (scripts/bench/pyref.py) on as many listings, with breakdowns.
    Bytes,
    /// Backtest of a generated recorded run of `--events` snapshots (profit and learning book) through a scratch
    /// ledger, next to reading the events back alone; and the engine's decision -> order.submitted p50/p99.
    Backtest,
    /// `nl run` as its own process tracking `--events` simulated on-chain assets (default 10,000) on loopback:
    /// its peak memory (VmHWM), and the decisions emitted while every asset is re-snapshotted unchanged.
    RunMemory,
    /// Issue 14's figures in one run, each next to its baseline, min/median/max over `--runs`: the ledger from
    /// MemoryBus against raw SQLite (`--events` rows, default 50,000), the NATS pipeline fully persisted against
    /// the Python reference and its p99 at 2,000/s (`--events`/5 listings), and `nl run`'s memory at 10,000 assets.
    Kernel,
}

impl BenchTarget {
    /// `--events` when not given.
    #[must_use]
    pub fn default_events(self) -> usize {
        match self {
            Self::Bytes => 2_000,
            Self::RunMemory => 10_000,
            Self::Kernel => 50_000,
            _ => 100_000,
        }
    }
}
