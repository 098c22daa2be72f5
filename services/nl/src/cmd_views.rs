//! The dashboard's views on the command line — `nl list`, `nl candidates`, `nl show ASSET_ID` — and
//! `nl web`, the dashboard over an existing out dir. All read through [`LedgerReader`]: the SQLite file
//! read-only (embedded mode), or the ledger's gRPC API with `--ledger-url` (distributed mode).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use nl_config::Loaded;
use nl_domain::views::{AssetDetail, Listing, ListingQuery};
use nl_domain::{AssetId, LedgerReader};
use nl_web::filters::Filters;

use crate::cli::{ListArgs, OutputFormat, ReadFrom};
use crate::config::NlConfig;

/// The reader `from` names: `--ledger-url` over gRPC (TLS and bearer token as `[serve]` configures them
/// for the services), else the DB of `--out-dir` (or the configured DB) read-only.
///
/// # Errors
/// No database there, or the ledger unreachable.
pub async fn reader(cfg: &NlConfig, from: &ReadFrom) -> anyhow::Result<Arc<dyn LedgerReader>> {
    if let Some(url) = &from.ledger_url {
        // As the services do: TLS trusting `[serve] tls_ca_path` for https://, the `[serve] grpc_token_env` token.
        let endpoint = cfg.serve.ledger_endpoint(url).context("--ledger-url / [serve] ledger_url, e.g. http://127.0.0.1:50051")?;
        let auth = cfg.serve.ledger_auth()?;
        let channel = endpoint.connect().await.with_context(|| format!("connecting to the ledger at {url}"))?;
        return Ok(Arc::new(nl_proto::GrpcLedgerReader::with_auth(channel, auth)));
    }
    let db = db_path(cfg, from.out_dir.as_ref());
    if !db.exists() {
        anyhow::bail!("no database at {} (run `nl demo`, `nl run-cycle` or `nl run` first, or pass --out-dir of one)", db.display());
    }
    let reader = nl_ledger::SqliteReader::open(&db, cfg.ledger.read_connections.max(1)).await.with_context(|| format!("opening {}", db.display()))?;
    Ok(Arc::new(reader))
}

fn db_path(cfg: &NlConfig, out_dir: Option<&PathBuf>) -> PathBuf {
    match out_dir {
        Some(dir) => nl_config::StorageConfig { out_dir: dir.clone() }.db_path(),
        None => cfg.ledger.db_path.clone(),
    }
}

fn query(args: &ListArgs, candidates: bool) -> anyhow::Result<ListingQuery> {
    let f = Filters {
        chain: args.chain.clone(),
        venue: args.venue.clone(),
        kind: args.kind.clone(),
        decision: args.decision.clone(),
        min_liq: args.min_liquidity.clone(),
        q: args.search.clone(),
        since: args.since.clone(),
        limit: Some(args.limit),
    };
    let q = f.to_query(chrono::Utc::now(), args.limit).map_err(|m| anyhow::anyhow!("{m}"))?;
    Ok(ListingQuery { candidates_only: candidates, ..q })
}

/// `nl list` / `nl candidates`.
///
/// # Errors
/// A bad filter, or the ledger unreadable.
pub async fn list(loaded: &Loaded<NlConfig>, args: &ListArgs, candidates: bool) -> anyhow::Result<ExitCode> {
    let q = query(args, candidates)?;
    let reader = reader(&loaded.config, &args.from).await?;
    let rows = reader.listings(&q).await.context("reading listings")?;
    emit(&match args.format {
        OutputFormat::Json => serde_json::to_string_pretty(&rows)? + "\n",
        OutputFormat::Csv => nl_web::csv::listings_csv(&rows),
        OutputFormat::Table => table(&rows, candidates),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to stdout; a reader that went away (`nl list | head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(e).context("writing to stdout")),
        _ => Ok(()),
    }
}

fn dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// Control characters of token data removed, so a name cannot move the terminal's cursor or colour it.
pub(crate) fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
}

fn cut(s: &str, n: usize) -> String {
    let s = clean(s);
    if s.chars().count() <= n { s } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

/// The listings as an aligned text table.
#[must_use]
pub fn table(rows: &[Listing], candidates: bool) -> String {
    // The symbol column is as wide as the widest symbol (up to 40), so a symbol is shown whole.
    let sw = rows.iter().map(|l| clean(&l.symbol).chars().count()).max().unwrap_or(6).clamp(6, 40);
    let mut out = format!(
        "{:<19}  {:<sw$} {:<20} {:<10} {:<16} {:>10} {:>12} {:>7}  {:<9} {:<8} {}\n",
        "first seen (UTC)", "symbol", "name", "chain", "venue", "latency", "liquidity", "score", "decision", "risk P/F/U", if candidates { "why" } else { "asset id" }
    );
    for l in rows {
        let risk = l.risk.map_or_else(|| "-".into(), |r| format!("{}/{}/{}", r.pass, r.fail, r.unknown));
        let last = if candidates { l.reason_codes.join(",") } else { l.asset_id.to_string() };
        out.push_str(&format!(
            "{:<19}  {:<sw$} {:<20} {:<10} {:<16} {:>10} {:>12} {:>7}  {:<9} {:<10} {}\n",
            l.first_seen_at.format("%Y-%m-%d %H:%M:%S"),
            cut(&l.symbol, 40),
            cut(l.name.as_deref().unwrap_or(""), 20),
            cut(l.chain.as_deref().unwrap_or(l.kind.as_str()), 10),
            cut(&l.venues.join(","), 16),
            nl_web::pages::latency(l.latency_ms()),
            nl_web::pages::usd(l.liquidity_usd),
            dash(l.score.map(|s| s.round_dp(2))),
            l.decision.map_or("pending", |d| d.as_str()),
            risk,
            clean(&last),
        ));
    }
    out.push_str(&format!("{} listing(s)\n", rows.len()));
    out
}

/// `nl show ASSET_ID`.
///
/// # Errors
/// A bad asset id, an unknown asset, or the ledger unreadable.
pub async fn show(loaded: &Loaded<NlConfig>, asset_id: &str, json: bool, from: &ReadFrom) -> anyhow::Result<ExitCode> {
    let asset = AssetId::parse(asset_id).with_context(|| format!("asset id {asset_id:?} (expected <chain>:<address> or cex:<venue>:<BASE>)"))?;
    let reader = reader(&loaded.config, from).await?;
    let Some(d) = reader.asset_detail(&asset).await.context("reading the asset")? else {
        eprintln!("error: no asset {asset} in the ledger");
        return Ok(ExitCode::from(1));
    };
    emit(&if json { serde_json::to_string_pretty(&d)? + "\n" } else { detail_text(&d) })?;
    Ok(ExitCode::SUCCESS)
}

/// One asset as text: identity, sources, snapshot, risk checks, score breakdown, decision, timeline.
#[must_use]
pub fn detail_text(d: &AssetDetail) -> String {
    let l = &d.listing;
    let t = |t: &nl_domain::Ts| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string();
    let mut o = String::new();
    let mut line = |s: String| {
        o.push_str(&s);
        o.push('\n');
    };
    line(format!("{} {}  [{}]", clean(&l.symbol), clean(l.name.as_deref().unwrap_or("")), l.asset_id));
    line(format!("  market {} · chain {} · contract {}", l.kind.as_str(), dash(l.chain.as_deref()), dash(l.address.as_deref())));
    line(format!("  status {} · first seen {} by {} · latency {}", clean(&l.status), t(&l.first_seen_at), l.first_source, nl_web::pages::latency(l.latency_ms())));
    line(format!("  reviewed {}", l.reviewed_at.as_ref().map_or_else(|| "no".into(), t)));
    line("sources:".into());
    for s in &d.sightings {
        line(format!("  {:<20} {:<12} {:<24} published {} observed {}", s.source, s.venue, cut(&s.instrument_id, 24), s.source_published_at.as_ref().map_or_else(|| "-".into(), t), t(&s.first_observed_at)));
    }
    match d.snapshots.last() {
        Some(s) => line(format!(
            "snapshot {} ({}): price {} liquidity {} fdv {} mcap {} vol24h {} holders {}",
            t(&s.observed_at), s.source, dash(s.price_usd), dash(s.liquidity_usd), dash(s.fdv_usd), dash(s.market_cap_usd), dash(s.volume_24h_usd), dash(s.holders)
        )),
        None => line("snapshot: none".into()),
    }
    match &d.risk {
        Some(r) => {
            line(format!("risk checks (rule set {}, severity {}, {}):", r.rule_set_version, r.severity, t(&r.evaluated_at)));
            for c in &r.checks {
                let verdict = serde_json::to_value(c.verdict).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                line(format!("  {:<28} {:<8} {:<14} severity {:>3} {}", c.code.as_str(), verdict, c.provider, c.severity, clean(c.detail.as_deref().unwrap_or(""))));
            }
        }
        None => line("risk checks: none".into()),
    }
    match &d.score {
        Some(s) => {
            line(format!("score {} (formula {}): {}", s.score.round_dp(4), s.formula_version, clean(&s.reason)));
            for c in &s.components {
                line(format!("  {:<24} input {:>14} weight {:>8} contribution {:>10}", c.name, dash(c.input), c.weight, c.contribution));
            }
        }
        None => line("score: none".into()),
    }
    match &d.decision {
        Some(g) => line(format!(
            "decision {} at {} · reasons {} · rule set {} · config_hash {}",
            g.decision.as_str(), t(&g.decided_at), g.reason_codes.join(","), g.rule_set_version, g.config_hash
        )),
        None => line("decision: none".into()),
    }
    line("timeline:".into());
    for e in &d.timeline {
        line(format!("  {} {:<20} {}", t(&e.ts), e.event_type, clean(&e.summary)));
    }
    o
}

/// `nl web`: the dashboard over an existing out dir (read-only) until SIGINT/SIGTERM.
///
/// # Errors
/// Bad `[web]` config, no database, or the address taken.
pub async fn web(loaded: &Loaded<NlConfig>, addr: Option<std::net::SocketAddr>, from: &ReadFrom) -> anyhow::Result<ExitCode> {
    let mut cfg = loaded.config.web.clone();
    if let Some(addr) = addr {
        cfg.addr = addr;
    }
    if from.ledger_url.is_some() && loaded.config.bus.mode != crate::config::BusMode::Nats {
        anyhow::bail!(
            "nl web --ledger-url reads a remote ledger, whose only writer consumes NATS, so \"mark reviewed\" could not reach it: \
             set [bus] mode = \"nats\" and [nats] url (NL_BUS__MODE=nats, NL_NATS__URL=...) to the ledger's NATS, or give --out-dir of an embedded out dir instead"
        );
    }
    let reader = reader(&loaded.config, from).await?;
    // `nl web` only reads: its bus is a private in-memory one nothing else is on.
    let bus: Arc<dyn nl_bus::Bus> = Arc::new(nl_bus::MemoryBus::new(nl_bus::MemoryBusConfig::default()));
    let run = nl_domain::RunIdentity { run_id: nl_config::new_run_id(chrono::Utc::now()), config_hash: loaded.config_hash.clone() };
    let svc = nl_web::WebService::bind(cfg, &nl_bus::ServiceCtx::new(bus, run), reader).await?;
    // "Mark reviewed" publishes to NATS (the remote ledger consumes it), or takes `nl review`'s path on the DB shown.
    let mut svc = match loaded.config.bus.mode {
        crate::config::BusMode::Nats => {
            let bus: Arc<dyn nl_bus::Bus> = Arc::new(nl_bus::NatsBus::connect(&loaded.config.nats).await.context("connecting to NATS")?);
            let svc = svc.with_writer(Arc::new(nl_web::BusWriter(Arc::clone(&bus))));
            match &from.ledger_url {
                // The `/v1` ops API as `nl serve web` mounts it: reads over this ledger's gRPC, writes on NATS.
                Some(url) => {
                    let mut remote = loaded.clone();
                    remote.config.serve.ledger_url.clone_from(url);
                    let pipeline = crate::cmd_paper::Pipeline { bus, ledger: Arc::new(remote.config.serve.ledger_reader()?) };
                    let (paper, ops) = crate::ops_backend::on_bus(&remote, pipeline).await?;
                    svc.with_ops(paper, ops)
                }
                None => svc,
            }
        }
        crate::config::BusMode::Memory => {
            let mut c = loaded.config.clone();
            if let Some(dir) = &from.out_dir {
                let storage = nl_config::StorageConfig { out_dir: dir.clone() };
                c.ledger.db_path = storage.db_path();
                c.recorder.path = storage.events_path();
                c.storage = storage;
            }
            svc.with_writer(Arc::new(crate::cmd_events::ReviewPath(c)))
        }
    };
    if from.ledger_url.is_none() {
        // The `/v1` ops API over this out dir's DB (writes are events the ledger applies).
        let (paper, ops) = crate::ops_backend::for_out_dir(loaded, from.out_dir.as_ref()).await?;
        svc = svc.with_ops(paper, ops);
    }
    println!("dashboard on http://{}/ (Ctrl-C to stop)", svc.local_addr()?);
    let stop = nl_bus::CancellationToken::new();
    let cancel = stop.clone();
    tokio::spawn(async move {
        nl_telemetry::shutdown_signal().await;
        cancel.cancel();
    });
    let counts = svc.serve(stop).await?;
    eprintln!("served {} pages, {} exports, {} live streams", counts.pages, counts.exports, counts.live_streams);
    Ok(ExitCode::SUCCESS)
}
