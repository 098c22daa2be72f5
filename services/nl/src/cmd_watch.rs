//! `nl watch`: a live tail of new listings and decisions. It follows the ledger's committed events through
//! [`LedgerReader::events_after`] (the embedded DB read-only, or `--ledger-url` over gRPC) and prints one
//! line per event as it lands, from the ledger's current end (or `--after-seq N`).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use nl_config::Loaded;
use nl_domain::{AssetId, EventFeedQuery, FeedEvent, LedgerReader};

use crate::cli::ReadFrom;
use crate::cmd_views::clean;
use crate::config::NlConfig;

/// The event types `nl watch` follows by default.
pub const DEFAULT_TYPES: &[&str] = &["asset.discovered", "candidate.promoted", "candidate.rejected", "asset.delisted"];

/// How `nl watch` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WatchFormat {
    /// One aligned line per event.
    Table,
    /// One JSON object per line (the event as the ledger keeps it, plus the decision's reasons).
    Json,
}

/// `nl watch` arguments.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Event types to follow (repeatable); default asset.discovered, candidate.promoted, candidate.rejected,
    /// asset.delisted.
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// Start after this ledger sequence number instead of the ledger's current end (0 = from the first event).
    #[arg(long)]
    pub after_seq: Option<i64>,
    /// Exit after printing this many events.
    #[arg(long)]
    pub count: Option<u64>,
    /// How often the ledger is read for new events (ms).
    #[arg(long, default_value_t = 500)]
    pub poll_ms: u64,
    #[arg(long, value_enum, default_value_t = WatchFormat::Table)]
    pub format: WatchFormat,
    #[command(flatten)]
    pub from: ReadFrom,
}

/// Runs `nl watch` until Ctrl-C (or `--count` events).
///
/// # Errors
/// A bad type or poll interval, or a ledger that cannot be opened at start (later read failures are
/// reported on stderr and retried).
pub async fn watch(loaded: &Loaded<NlConfig>, args: WatchArgs) -> anyhow::Result<ExitCode> {
    let types: Vec<String> = if args.types.is_empty() { DEFAULT_TYPES.iter().map(|t| (*t).to_string()).collect() } else { args.types.clone() };
    for t in &types {
        t.parse::<nl_domain::EventType>().map_err(|e| anyhow::anyhow!("--type {t:?}: {e}"))?;
    }
    anyhow::ensure!((20..=60_000).contains(&args.poll_ms), "--poll-ms must be within 20..=60000");
    let reader = crate::cmd_views::reader(&loaded.config, &args.from).await?;
    let mut after = match args.after_seq {
        Some(n) => n,
        None => reader.change_mark().await.map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    eprintln!("watching {} after ledger seq {after} (Ctrl-C to stop)", types.join(", "));
    let stop = nl_telemetry::shutdown_signal();
    tokio::pin!(stop);
    let mut printed = 0u64;
    let mut out = std::io::stdout();
    loop {
        let page = match reader.events_after(&EventFeedQuery { after_seq: after, types: types.clone(), limit: 500 }).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("watch: {e} (retrying)");
                Vec::new()
            }
        };
        for ev in &page {
            after = ev.seq;
            let reasons = reasons(reader.as_ref(), ev).await;
            let line = match args.format {
                WatchFormat::Table => table_line(ev, &reasons),
                WatchFormat::Json => json_line(ev, &reasons),
            };
            writeln!(out, "{line}")?;
            out.flush()?;
            printed += 1;
            if args.count.is_some_and(|n| printed >= n) {
                return Ok(ExitCode::SUCCESS);
            }
        }
        if page.is_empty() {
            tokio::select! {
                () = &mut stop => return Ok(ExitCode::SUCCESS),
                () = tokio::time::sleep(Duration::from_millis(args.poll_ms)) => {}
            }
        }
    }
}

/// A decision's reason codes (the ledger keeps them with the decision, not in the event row).
async fn reasons(reader: &dyn LedgerReader, ev: &FeedEvent) -> Vec<String> {
    if !ev.event_type.starts_with("candidate.") {
        return Vec::new();
    }
    let Some(asset) = ev.asset_id.as_deref().and_then(|a| AssetId::parse(a).ok()) else { return Vec::new() };
    reader.latest_decision(&asset).await.ok().flatten().map(|d| d.reason_codes).unwrap_or_default()
}

fn table_line(ev: &FeedEvent, reasons: &[String]) -> String {
    let kind = ev.event_type.rsplit('.').next().unwrap_or(&ev.event_type);
    let mut line = format!(
        "{}  {:<10}  {:<12}  {}  {}",
        ev.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        kind,
        clean(ev.symbol.as_deref().unwrap_or("-")),
        clean(ev.asset_id.as_deref().unwrap_or("-")),
        clean(ev.source.as_deref().unwrap_or("-")),
    );
    if !reasons.is_empty() {
        line.push_str(&format!("  {}", clean(&reasons.join(","))));
    }
    if ev.event_type == "asset.delisted" {
        for k in ["venue", "reason", "scheduled_at"] {
            if let Some(v) = ev.meta.get(k).and_then(serde_json::Value::as_str) {
                line.push_str(&format!("  {k}={}", clean(v)));
            }
        }
    }
    line
}

fn json_line(ev: &FeedEvent, reasons: &[String]) -> String {
    let mut v = serde_json::json!({
        "seq": ev.seq,
        "event_id": ev.event_id,
        "ts": ev.ts,
        "type": ev.event_type,
        "asset_id": ev.asset_id,
        "symbol": ev.symbol,
        "chain": ev.chain,
        "source": ev.source,
    });
    if !reasons.is_empty() {
        v["reason_codes"] = serde_json::json!(reasons);
    }
    if ev.event_type == "asset.delisted" {
        v["meta"] = ev.meta.clone();
    }
    v.to_string()
}

