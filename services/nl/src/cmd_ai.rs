//! `nl ai …`: run one AI layer by hand (`run`, with `--dry-run` to see the pack and request without a
//! call), show an asset's AI notes (`show`), today's token use against the caps (`budget`), and the eval
//! suite (`eval`: `evals/<layer>/*.json`, each an evidence pack with required properties; prints the pass
//! rate). AI output is advisory: nothing here changes a decision.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::Subcommand;
use nl_ai_dispatch::pack::Pack;
use nl_ai_dispatch::{Engine, Job, Layer};
use nl_bus::SystemClock;
use nl_config::Loaded;
use nl_domain::{AssetId, LedgerReader, RunIdentity};
use serde_json::{Value, json};

use crate::cli::ReadFrom;
use crate::config::NlConfig;

/// `nl ai` subcommands.
#[derive(Debug, Subcommand)]
pub enum AiCommand {
    /// Run one layer now: L1 on --asset-id, L2–L4 over the listings so far. Emits its event like a
    /// triggered job (a stored artifact for the same input answers without a call).
    Run {
        /// L1, L2, L3 or L4.
        #[arg(long)]
        layer: String,
        /// The asset (L1).
        #[arg(long)]
        asset_id: Option<String>,
        /// Print the evidence pack and the request; no call, nothing written.
        #[arg(long)]
        dry_run: bool,
        /// Call the model even when an artifact for this input is stored (the new artifact is stored too).
        #[arg(long)]
        fresh: bool,
    },
    /// The AI notes (every layer's output) on one asset, oldest first.
    Show {
        #[arg(long)]
        asset_id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        from: ReadFrom,
    },
    /// Token use today against `[ai.budget]`, and outputs by status: from the ledger's `ai_outputs`, the
    /// same figure the daily cap counts when an AI process starts.
    Budget {
        #[command(flatten)]
        from: ReadFrom,
    },
    /// Runs the eval cases of a layer (`evals/<layer>/*.json`) and prints the pass rate.
    Eval {
        #[arg(long)]
        layer: String,
        /// Folder holding `<layer>/*.json` cases.
        #[arg(long, default_value = "evals")]
        dir: PathBuf,
    },
}

/// Runs `nl ai …`.
///
/// # Errors
/// Bad arguments, AI off where a call is needed, an unreadable DB or eval case.
pub async fn ai(loaded: &Loaded<NlConfig>, cmd: AiCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AiCommand::Run { layer, asset_id, dry_run, fresh } => run(loaded, &layer, asset_id.as_deref(), dry_run, fresh).await,
        AiCommand::Show { asset_id, json, from } => show(&loaded.config, &asset_id, json, &from).await,
        AiCommand::Budget { from } => budget(&loaded.config, &from).await,
        AiCommand::Eval { layer, dir } => eval(loaded, &layer, &dir).await,
    }
}

fn parse_layer(s: &str) -> anyhow::Result<Layer> {
    Layer::parse(s).with_context(|| format!("--layer {s:?}: use L1, L2, L3 or L4"))
}

fn engine(loaded: &Loaded<NlConfig>, out_dir: &Path, need_endpoint: bool) -> anyhow::Result<Engine> {
    let cfg = &loaded.config.ai;
    if need_endpoint && !cfg.active() {
        bail!("AI is {} (set [ai] enabled = true, base_url and model; see README \"AI layers\")", cfg.status_line());
    }
    let key = match cfg.api_key_env.as_str() {
        "" => None,
        k => Some(std::env::var(k).with_context(|| format!("[ai] api_key_env names {k}, which is not set"))?),
    };
    let run = RunIdentity { run_id: nl_config::new_run_id(Utc::now()), config_hash: loaded.config_hash.clone() };
    let mut c = cfg.clone();
    if !need_endpoint {
        c.enabled = false;
    }
    Ok(Engine::new(c, out_dir, Arc::new(SystemClock), run, key, false)?)
}

async fn job(engine: &Engine, reader: &Arc<dyn LedgerReader>, layer: Layer, asset_id: Option<&str>) -> anyhow::Result<Job> {
    let max = nl_ai_dispatch::evidence::Limits::of(engine.config());
    let now = Utc::now();
    Ok(match layer {
        Layer::L1 => {
            let asset = asset_id.context("--asset-id is needed for L1")?;
            let id = AssetId::parse(asset).context("--asset-id")?;
            let detail = reader.asset_detail(&id).await?.with_context(|| format!("asset {asset} is not in the DB"))?;
            // As of the asset's newest market fact, so the same state gives the same pack (and the stored
            // artifact). AI notes and reviews are not facts the pack reads: counting them would make the
            // previous call's own note change the next call's input.
            let as_of = detail
                .timeline
                .iter()
                .filter(|t| !t.event_type.starts_with("ai.") && t.event_type != "asset.reviewed")
                .map(|t| t.ts)
                .max()
                .unwrap_or(detail.listing.first_seen_at);
            let pack = nl_ai_dispatch::evidence::l1_of_detail(&id.to_string(), &detail, as_of, max);
            let trigger = detail.timeline.iter().find(|t| t.event_type == "asset.discovered").map_or_else(|| format!("manual:{asset}"), |t| t.event_id.clone());
            Job { layer, trigger_event_id: trigger, trigger_type: "manual".into(), pack, extra: None, symbol: Some(detail.listing.symbol.clone()), chain: detail.listing.chain.clone() }
        }
        Layer::L4 => {
            let (pack, checks) = nl_ai_dispatch::evidence::l4(now, reader, max).await?;
            Job { layer, trigger_event_id: format!("manual:{}", now.format("%Y-%m-%dT%H:%MZ")), trigger_type: "manual".into(), pack, extra: serde_json::to_value(checks).ok(), symbol: None, chain: None }
        }
        _ => {
            let pack = nl_ai_dispatch::evidence::run_level(layer.id(), now, reader, max).await?;
            Job { layer, trigger_event_id: format!("manual:{}", now.format("%Y-%m-%dT%H:%MZ")), trigger_type: "manual".into(), pack, extra: None, symbol: None, chain: None }
        }
    })
}

async fn run(loaded: &Loaded<NlConfig>, layer: &str, asset_id: Option<&str>, dry_run: bool, fresh: bool) -> anyhow::Result<ExitCode> {
    let layer = parse_layer(layer)?;
    let cfg = &loaded.config;
    let reader = crate::cmd_views::reader(cfg, &ReadFrom { out_dir: None, ledger_url: None }).await?;
    let engine = engine(loaded, &cfg.storage.out_dir, !dry_run)?;
    let job = job(&engine, &reader, layer, asset_id).await?;
    if dry_run {
        let marker = nl_ai_dispatch::sanitize::marker().map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
        let out = json!({"input_sha256": job.pack.sha256(), "pack": job.pack.to_value(), "request": engine.request_for(&job, &marker)});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    // The daily cap counts what today's stored outputs already spent.
    engine.load_spend(reader.as_ref()).await.context("reading today's AI spend from the ledger")?;
    let env = engine.run(&job, fresh).await;
    let meta = env.meta.clone();
    println!("{}", crate::cmd_events::emit(&loaded.config, env, false).await?);
    println!("{}", serde_json::to_string_pretty(&meta)?);
    let ok = meta.get("status").and_then(Value::as_str) == Some("completed");
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(3) })
}

async fn show(cfg: &NlConfig, asset_id: &str, as_json: bool, from: &ReadFrom) -> anyhow::Result<ExitCode> {
    let reader = crate::cmd_views::reader(cfg, from).await?;
    let id = AssetId::parse(asset_id).context("--asset-id")?;
    let detail = reader.asset_detail(&id).await?.with_context(|| format!("asset {asset_id} is not in the DB"))?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&detail.ai_notes)?);
        return Ok(ExitCode::SUCCESS);
    }
    if detail.ai_notes.is_empty() {
        println!("no AI notes on {asset_id} (AI is {})", cfg.ai.status_line());
    }
    for n in &detail.ai_notes {
        let b = &n.body;
        let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
        println!("{} {} [{}] model={} artifact={} (advisory)", n.created_at.to_rfc3339(), n.layer, s("status"), n.model.as_deref().unwrap_or("-"), s("artifact_path"));
        if let Some(o) = b.get("output").filter(|o| !o.is_null()) {
            println!("  {}", nl_telemetry::stderr::escape_controls(&o.to_string()));
        } else if let Some(r) = b.get("reason").and_then(Value::as_str) {
            println!("  abstained: {r}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn budget(cfg: &NlConfig, from: &ReadFrom) -> anyhow::Result<ExitCode> {
    let today = Utc::now().date_naive();
    let reader = crate::cmd_views::reader(cfg, from).await?;
    let usage = reader.ai_usage_since(today.and_time(chrono::NaiveTime::MIN).and_utc()).await.context("reading today's AI outputs from the ledger")?;
    let used = usage.tokens;
    let b = &cfg.ai.budget;
    println!("AI: {}", cfg.ai.status_line());
    println!("today ({today}): {used} of {} tokens ({} left); per run cap {}; {} call(s) per layer at once; breaker after {} failures for {} ms",
        b.daily_cap, b.daily_cap.saturating_sub(used), b.run_cap, b.concurrency_per_layer, b.breaker_failures, b.breaker_cooldown_ms);
    for (k, n) in &usage.by_status {
        println!("  {k}: {n}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One eval case: a pack and the properties its output must have.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    pack: Pack,
    /// `status` (default `completed`), `min_tags`, `min_red_flags`, `cites` (an evidence id some red flag
    /// must cite), `not_contains` (text no output string may contain, case-insensitive).
    #[serde(default)]
    required: serde_json::Map<String, Value>,
}

fn judge_case(case: &Case, meta: &Value) -> Vec<String> {
    let mut fails = Vec::new();
    let out = meta.get("output").cloned().unwrap_or(Value::Null);
    let want_status = case.required.get("status").and_then(Value::as_str).unwrap_or("completed");
    if meta.get("status").and_then(Value::as_str) != Some(want_status) {
        fails.push(format!("status {} (reason {}), wanted {want_status}", meta.get("status").unwrap_or(&Value::Null), meta.get("reason").unwrap_or(&Value::Null)));
    }
    let len = |k: &str| out.get(k).and_then(Value::as_array).map_or(0, Vec::len) as u64;
    for (k, field) in [("min_tags", "tags"), ("min_red_flags", "red_flags")] {
        if let Some(min) = case.required.get(k).and_then(Value::as_u64).filter(|m| len(field) < *m) {
            fails.push(format!("{field}: {} < {min}", len(field)));
        }
    }
    if let Some(id) = case.required.get("cites").and_then(Value::as_str) {
        let cited = out.get("red_flags").and_then(Value::as_array).into_iter().flatten().any(|f| f.get("evidence_ids").and_then(Value::as_array).is_some_and(|ids| ids.iter().any(|i| i == id)));
        if !cited {
            fails.push(format!("no red flag cites {id}"));
        }
    }
    if let Some(t) = case.required.get("not_contains").and_then(Value::as_str) {
        if out.to_string().to_lowercase().contains(&t.to_lowercase()) {
            fails.push(format!("output contains {t:?}"));
        }
    }
    fails
}

async fn eval(loaded: &Loaded<NlConfig>, layer: &str, dir: &Path) -> anyhow::Result<ExitCode> {
    let layer = parse_layer(layer)?;
    let folder = dir.join(layer.id());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    files.sort();
    if files.is_empty() {
        bail!("no eval cases (*.json) in {}", folder.display());
    }
    let engine = engine(loaded, &loaded.config.storage.out_dir.join("ai-eval"), true)?;
    let mut passed = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let case: Case = serde_json::from_str(&text).with_context(|| format!("{} is not an eval case", f.display()))?;
        let job = Job { layer, trigger_event_id: format!("eval:{}", case.name), trigger_type: "eval".into(), pack: case.pack.clone(), extra: None, symbol: None, chain: None };
        let env = engine.run(&job, false).await;
        let fails = judge_case(&case, &env.meta);
        if fails.is_empty() {
            passed += 1;
            println!("PASS {}", case.name);
        } else {
            println!("FAIL {}: {}", case.name, fails.join("; "));
        }
    }
    println!("{layer:?} eval: {passed}/{} passed ({:.0} %), model {}", files.len(), 100.0 * passed as f64 / files.len() as f64, loaded.config.ai.model);
    Ok(if passed == files.len() { ExitCode::SUCCESS } else { ExitCode::from(3) })
}
