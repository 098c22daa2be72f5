//! `nl events append` and `nl replay-events`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::Utc;
use nl_bus::{Bus, Message, NatsBus};
use nl_config::Loaded;
use nl_domain::{AssetId, AssetReviewed, Envelope, EventType};
use nl_ledger::LedgerStore;
use nl_recorder::{EventLog, ReplayFilter};

use crate::cli::{EventsCommand, ReplayArgs, ReplayTarget};
use crate::config::{BusMode, NlConfig};

/// Runs `nl events ...`.
///
/// # Errors
/// Bad type, asset id or meta (one line saying which), or a write failure.
pub async fn events(loaded: &Loaded<NlConfig>, cmd: EventsCommand) -> anyhow::Result<ExitCode> {
    let EventsCommand::Append { kind, asset_id, meta, symbol, source } = cmd;
    let env = manual_event(&kind, &asset_id, &meta, symbol, source, &loaded.config_hash)?;
    println!("{}", emit(&loaded.config, env, false).await?);
    Ok(ExitCode::SUCCESS)
}

/// Runs `nl review ASSET_ID`: emits `asset.reviewed` through the normal path (the ledger applies it).
/// In embedded mode an asset the ledger does not know is refused before anything is written.
///
/// # Errors
/// A bad or unknown asset id, or a write failure.
pub async fn review(loaded: &Loaded<NlConfig>, asset_id: &str, by: Option<String>, note: Option<String>) -> anyhow::Result<ExitCode> {
    let asset = AssetId::parse(asset_id).context("ASSET_ID")?;
    let now = Utc::now();
    let env = AssetReviewed { reviewed_by: by, note }.envelope(&asset, now, &nl_config::new_run_id(now), &loaded.config_hash, "review");
    println!("{}", emit(&loaded.config, env, true).await?);
    Ok(ExitCode::SUCCESS)
}

/// Publishes `env` (NATS mode) or appends it to events.jsonl and applies it to the DB (embedded mode);
/// returns a line saying where it went. `known_asset`: refuse (embedded mode) when the ledger does not
/// hold the event's asset.
///
/// # Errors
/// NATS unreachable, the DB or events.jsonl cannot be opened (e.g. a running `nl run` holds its lock), or
/// the asset is unknown.
pub async fn emit(cfg: &NlConfig, env: Envelope, known_asset: bool) -> anyhow::Result<String> {
    match cfg.bus.mode {
        BusMode::Nats => {
            // Distributed mode: the recorder and the ledger (sole DB writer) consume it from the bus.
            let bus = NatsBus::connect(&cfg.nats).await.context("connecting to NATS")?;
            let ack = bus.publish(Message::new(env.subject(), env.event_id.0.clone(), env.to_json()?)).await?;
            Ok(format!("{} published to {} (seq {}{})", env.event_id, env.subject(), ack.sequence, if ack.duplicate { ", duplicate" } else { "" }))
        }
        BusMode::Memory => emit_embedded(cfg, env, known_asset).await,
    }
}

/// Embedded mode: appends `env` to events.jsonl and applies it to the DB (what the recorder and the ledger
/// would do), refusing an unknown asset when `known_asset`.
///
/// # Errors
/// The DB or events.jsonl cannot be opened (e.g. a running `nl run` holds its lock), or the asset is unknown.
pub async fn emit_embedded(cfg: &NlConfig, env: Envelope, known_asset: bool) -> anyhow::Result<String> {
    let store = LedgerStore::open(&cfg.ledger).await.with_context(|| format!("opening {}", cfg.ledger.db_path.display()))?;
    if let Some(asset) = env.asset_id.as_deref().filter(|_| known_asset)
        && store.reader().get_asset(asset).await?.is_none()
    {
        bail!("asset {asset} is not in {} (ids are listed by v_assets_new)", cfg.ledger.db_path.display());
    }
    let path = cfg.recorder.path.clone();
    let policy = cfg.recorder.fsync.policy();
    let env2 = env.clone();
    let out = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut log = EventLog::open(&path, policy).with_context(|| format!("opening {}", path.display()))?;
        Ok(log.append_batch(&[env2])?)
    })
    .await??;
    store.apply(vec![env.clone()]).await?;
    let path = cfg.recorder.path.display();
    if out.written == 1 {
        Ok(format!("{} appended to {path} at bytes [{}, {})", env.event_id, out.byte_range.0, out.byte_range.1))
    } else {
        Ok(format!("{} already in {path} (not appended twice)", env.event_id))
    }
}

/// The dashboard's writer in embedded mode, where `nl review` writes: events.jsonl and the DB of `cfg`. A
/// running `nl run` on that out dir holds the events.jsonl lock, and the button then says so (`nl run
/// --web` publishes to the run's own bus instead).
pub struct ReviewPath(pub NlConfig);

#[async_trait::async_trait]
impl nl_web::EventWriter for ReviewPath {
    async fn emit(&self, env: Envelope) -> Result<String, String> {
        emit_embedded(&self.0, env, true).await.map_err(|e| format!("{e:#}"))
    }
}

/// Builds the manual event after validating each argument.
///
/// # Errors
/// One line naming the bad argument.
pub fn manual_event(kind: &str, asset_id: &str, meta: &str, symbol: Option<String>, source: Option<String>, config_hash: &str) -> anyhow::Result<Envelope> {
    let kind: EventType = kind.parse().context("--type")?;
    let asset = AssetId::parse(asset_id).context("--asset-id")?;
    let meta: serde_json::Value = serde_json::from_str(meta).context("--meta is not valid JSON")?;
    if !meta.is_object() {
        bail!("--meta must be a JSON object, e.g. '{{\"note\":\"...\"}}'");
    }
    let now = Utc::now();
    let run_id = nl_config::new_run_id(now);
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let asset_s = asset.to_string();
    let mut env = Envelope::new(kind, &[&asset_s, &stamp, &meta.to_string()], now, &run_id, config_hash, meta)
        .with_asset(asset_s)
        .with_source(source.unwrap_or_else(|| "manual".into()));
    if let Some(s) = symbol {
        env = env.with_symbol(s);
    }
    if let Some(chain) = asset.chain_slug() {
        env = env.with_chain(chain);
    }
    Ok(env)
}

/// Runs `nl replay-events`.
///
/// # Errors
/// Unreadable file, bad filter, or a bus failure. Bad lines are reported and skipped; the exit code is 1
/// when any were.
pub async fn replay(loaded: &Loaded<NlConfig>, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let path = args.path.clone().unwrap_or_else(|| loaded.config.recorder.path.clone());
    let from_ts = match &args.from_ts {
        Some(s) => Some(chrono::DateTime::parse_from_rfc3339(s).with_context(|| format!("--from-ts {s:?} is not RFC 3339 (e.g. 2026-11-21T00:00:00Z)"))?.with_timezone(&Utc)),
        None => None,
    };
    let types = args.kinds.iter().map(|t| t.parse::<EventType>().context("--type")).collect::<anyhow::Result<Vec<_>>>()?;
    let reader = nl_recorder::read_published(&path, ReplayFilter { from_ts, types, byte_range: None }).with_context(|| format!("reading {}", path.display()))?;
    let bus: Option<Arc<dyn Bus>> = match args.to {
        ReplayTarget::Stdout => None,
        ReplayTarget::Bus => {
            if loaded.config.bus.mode != BusMode::Nats {
                bail!("--to bus needs a NATS bus: set [bus] mode = \"nats\" (or NL_BUS__MODE=nats) and [nats] url");
            }
            Some(Arc::new(NatsBus::connect(&loaded.config.nats).await.context("connecting to NATS")?))
        }
    };
    let (mut n, mut bad, mut dup) = (0usize, 0usize, 0usize);
    let mut batch = Vec::with_capacity(REPLAY_BATCH);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for item in reader {
        match item {
            Ok(env) => {
                n += 1;
                match &bus {
                    None => {
                        let line = env.to_json()?;
                        match out.write_all(&line).and_then(|()| out.write_all(b"\n")) {
                            Ok(()) => {}
                            // The reader went away (`nl replay-events | head`): stop quietly, as `cat` does.
                            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
                            Err(e) => return Err(e).context("writing to stdout"),
                        }
                    }
                    Some(bus) => {
                        batch.push(Message::typed(env));
                        if batch.len() == REPLAY_BATCH {
                            dup += publish_replayed(bus.as_ref(), std::mem::take(&mut batch)).await?;
                        }
                    }
                }
            }
            Err(e) => {
                bad += 1;
                nl_telemetry::stderr::line(tracing::Level::WARN, &format!("skipping: {e}"));
            }
        }
    }
    if let Err(e) = out.flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e).context("writing to stdout");
    }
    drop(out);
    if let Some(bus) = bus {
        dup += publish_replayed(bus.as_ref(), batch).await?;
        nl_telemetry::stderr::line(tracing::Level::INFO, &format!("replayed {n} events to the bus ({dup} deduplicated by event_id)"));
    }
    Ok(if bad > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Events published to the bus per batch by `replay-events --to bus` (bounded memory on a large file).
const REPLAY_BATCH: usize = 1000;

/// Publishes one replay batch; the number the bus deduplicated by event id.
async fn publish_replayed(bus: &dyn Bus, batch: Vec<Message>) -> anyhow::Result<usize> {
    let acks = bus.publish_batch(batch).await.context("publishing to the bus")?;
    Ok(acks.iter().filter(|a| a.duplicate).count())
}
