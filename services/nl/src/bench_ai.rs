//! `nl bench ai`: what the AI layers cost the pipeline, with a loopback fake model (answers at once) so
//! the model's own time is excluded, and the real offline model's L1 latency when one is served.
//!
//! * dispatch overhead per job: an L1 job end to end (pack hash, budget, request, reply validation,
//!   artifact write, event) minus a bare POST of the same request to the same fake, and a cache hit;
//! * observation → decision p50/p99 through enricher → risk-scorer → gate, AI off vs AI on (the AI stage
//!   consuming every promotion on the same bus), with their ratio;
//! * real-model L1 latency p50/p95 over the eval packs when `NL_BENCH_AI_REAL_URL` names a served model
//!   (`scripts/real-llm.sh serve 8088` → `http://127.0.0.1:8088/v1`).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use nl_ai_dispatch::pack::{Pack, PackBuilder};
use nl_ai_dispatch::{AiConfig, Dialect, Engine, Job, Layer};
use nl_bus::SystemClock;
use nl_domain::RunIdentity;
use nl_testkit::fake_llm::FakeLlm;
use serde_json::json;

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1).min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn pack(i: usize) -> Pack {
    let t = chrono::Utc::now();
    let mut b = PackBuilder::new("l1", t, Some(format!("eth:0x{i:040x}")), 200);
    b.push("asset", Some(t), None, json!({"asset_id": format!("eth:0x{i:040x}"), "chain": "eth"}), &[("name", Some(&format!("Bench token number {i}"))), ("symbol", Some("BNCH"))]);
    b.push("snapshot", Some(t), None, json!({"price_usd": "0.0003798", "liquidity_usd": "250000.0", "holders": 412}), &[]);
    b.finish()
}

fn job(layer: Layer, pack: Pack, i: usize) -> Job {
    Job { layer, trigger_event_id: format!("bench-{i}"), trigger_type: "bench".into(), pack, extra: None, symbol: None, chain: None }
}

fn run_id() -> RunIdentity {
    RunIdentity { run_id: "nl_bench_ai".into(), config_hash: "bench".into() }
}

/// Runs the AI bench with `n` jobs (at most 1,000; pipeline assets at most 2,000).
///
/// # Errors
/// The fake or the pipeline cannot start.
pub async fn ai(n: usize) -> anyhow::Result<()> {
    let jobs = n.clamp(1, 1_000);
    let fake = FakeLlm::start("fake-model", "json_schema").await;
    let dir = tempfile::tempdir().context("scratch dir")?;
    let cfg = AiConfig { enabled: true, base_url: fake.base_url(), model: "fake-model".into(), response_format_dialect: Dialect::JsonSchema, ..AiConfig::default() };
    let mut big = cfg.clone();
    big.budget.daily_cap = u64::MAX / 4;
    big.budget.run_cap = u64::MAX / 4;
    let engine = Engine::new(big.clone(), dir.path(), Arc::new(SystemClock), run_id(), None, false)?;
    let http = reqwest::Client::new();
    let url = format!("{}/chat/completions", fake.base_url());
    let (mut bare, mut full, mut hit) = (Vec::with_capacity(jobs), Vec::with_capacity(jobs), Vec::with_capacity(jobs));
    for i in 0..jobs {
        let j = job(Layer::L1, pack(i), i);
        let marker = nl_ai_dispatch::sanitize::marker().map_err(|e| anyhow::anyhow!("{e}"))?;
        let body = engine.request_for(&j, &marker);
        let t = Instant::now();
        http.post(&url).json(&body).send().await?.bytes().await?;
        bare.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let env = engine.run(&j, false).await;
        full.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(env.meta["status"] == "completed", "bench job did not complete: {}", env.meta);
        let t = Instant::now();
        engine.run(&j, false).await;
        hit.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let overhead: Vec<f64> = full.iter().zip(&bare).map(|(f, b)| (f - b).max(0.0)).collect();
    let (bare, full, hit, overhead) = (sorted(bare), sorted(full), sorted(hit), sorted(overhead));
    println!("AI dispatch, {jobs} L1 jobs against a loopback fake model (answers at once):");
    println!("  bare POST of the request      p50 {:>7.3} ms  p99 {:>7.3} ms", pct(&bare, 0.5), pct(&bare, 0.99));
    println!("  whole job (cache miss)        p50 {:>7.3} ms  p99 {:>7.3} ms", pct(&full, 0.5), pct(&full, 0.99));
    println!("  dispatch overhead (job - POST) p50 {:>7.3} ms  p99 {:>7.3} ms  (target < 5 ms)", pct(&overhead, 0.5), pct(&overhead, 0.99));
    println!("  cache hit (no call)           p50 {:>7.3} ms  p99 {:>7.3} ms", pct(&hit, 0.5), pct(&hit, 0.99));

    let assets = n.clamp(100, 2_000);
    // Score threshold 0 in both runs: every asset is promoted, so AI-on runs L1 on each.
    let off = crate::bench_enrich::bench_enrich_risk_gate_with(assets, None, Some(nl_domain::Decimal::ZERO)).await?;
    let ai_dir = tempfile::tempdir().context("scratch dir")?;
    let before = fake.calls();
    let on = crate::bench_enrich::bench_enrich_risk_gate_with(assets, Some((big, ai_dir.path().to_path_buf())), Some(nl_domain::Decimal::ZERO)).await?;
    println!("observation -> decision, {assets} assets (enricher -> risk-scorer -> gate, providers on loopback, score threshold 0):");
    println!("  AI off   p50 {:>8.1} ms  p99 {:>8.1} ms  ({} promoted)", off.p50_micros / 1e3, off.p99_micros / 1e3, off.promoted);
    println!("  AI on    p50 {:>8.1} ms  p99 {:>8.1} ms  ({} model calls during the run)", on.p50_micros / 1e3, on.p99_micros / 1e3, fake.calls() - before);
    println!("  p99 on/off = {:.3} (target within 5 %: <= 1.05)", on.p99_micros / off.p99_micros.max(1e-9));

    match std::env::var("NL_BENCH_AI_REAL_URL") {
        Ok(url) if !url.is_empty() => real(&url, &cfg).await?,
        _ => println!("real model: not measured (serve one with `scripts/real-llm.sh serve 8088` and set NL_BENCH_AI_REAL_URL=http://127.0.0.1:8088/v1)"),
    }
    Ok(())
}

/// L1 latency of a served model over the eval packs (`evals/l1`), 2 rounds with `--fresh` calls.
async fn real(url: &str, base: &AiConfig) -> anyhow::Result<()> {
    let cfg = AiConfig {
        base_url: url.to_owned(),
        model: std::env::var("NL_BENCH_AI_REAL_MODEL").unwrap_or_else(|_| "smollm2".into()),
        response_format_dialect: Dialect::JsonObjectSchema,
        timeout_ms: 300_000,
        max_completion: 256,
        ..base.clone()
    };
    let dir = tempfile::tempdir()?;
    let engine = Engine::new(cfg.clone(), dir.path(), Arc::new(SystemClock), run_id(), None, false)?;
    let mut packs = Vec::new();
    for e in std::fs::read_dir("evals/l1").context("reading evals/l1 (run from the repository root)")? {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(e?.path())?)?;
        packs.push(serde_json::from_value::<Pack>(v["pack"].clone())?);
    }
    let (mut ms, mut statuses) = (Vec::new(), std::collections::BTreeMap::<String, u32>::new());
    for round in 0..2 {
        for (i, p) in packs.iter().enumerate() {
            let env = engine.run(&job(Layer::L1, p.clone(), i + round * 100), true).await;
            if let Some(l) = env.meta.get("latency_ms").and_then(serde_json::Value::as_u64) {
                #[allow(clippy::cast_precision_loss)]
                ms.push(l as f64);
            }
            let s = env.meta.get("status").and_then(|s| s.as_str()).map_or_else(|| format!("failed:{}", env.meta["reason"]), str::to_owned);
            *statuses.entry(s).or_default() += 1;
        }
    }
    let ms = sorted(ms);
    println!("real model {} at {url}: L1 latency p50 {:.0} ms  p95 {:.0} ms over {} calls; outcomes {statuses:?}", cfg.model, pct(&ms, 0.5), pct(&ms, 0.95), ms.len());
    Ok(())
}
