//! One AI job, end to end: cache lookup, budget reservation, the call, validation, the content-addressed
//! artifact and the event (`ai.l<N>.completed` with `status` completed or abstained, or `ai.failed` with a
//! reason). A bad reply never crashes anything: it is an abstention, stored like any other artifact.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use nl_bus::Clock;
use nl_domain::{Envelope, EventType, RunIdentity, Ts};
use serde_json::{Value, json};

use crate::artifact::{Artifacts, Stored};
use crate::budget::Budget;
use crate::client::ChatClient;
use crate::config::AiConfig;
use crate::error::{AiError, CallError};
use crate::layers::{Layer, Prompt};
use crate::pack::{Pack, invented};
use crate::{canonical, sanitize, schema};

/// `source` on every AI event.
pub const SOURCE: &str = "ai-dispatch";

/// One unit of AI work.
#[derive(Debug, Clone)]
pub struct Job {
    pub layer: Layer,
    pub trigger_event_id: String,
    pub trigger_type: String,
    pub pack: Pack,
    /// Layer-specific deterministic results the artifact carries beside the model's output (L4's checks).
    pub extra: Option<Value>,
    pub symbol: Option<String>,
    pub chain: Option<String>,
}

/// Counters of the engine.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub calls: AtomicU64,
    pub cache_hits: AtomicU64,
    pub completed: AtomicU64,
    pub abstained: AtomicU64,
    pub failed: AtomicU64,
}

/// What a call's reply became.
enum Verdict {
    Completed(Value),
    Abstained(String),
}

/// The engine: prompts, client, budget and artifact store of one process.
pub struct Engine {
    cfg: AiConfig,
    prompts: HashMap<Layer, Prompt>,
    client: ChatClient,
    pub budget: Budget,
    artifacts: Artifacts,
    clock: Arc<dyn Clock>,
    run: RunIdentity,
    /// Only stored artifacts are used; a miss is `ai.failed{reason: not_cached}` (re-derivation).
    cache_only: bool,
    pub stats: EngineStats,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("model", &self.cfg.model).field("cache_only", &self.cache_only).finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine for `cfg`, storing artifacts under `out_dir/ai`.
    ///
    /// # Errors
    /// [`AiError`] on a bad config, prompt or HTTP client.
    pub fn new(cfg: AiConfig, out_dir: &Path, clock: Arc<dyn Clock>, run: RunIdentity, api_key: Option<String>, cache_only: bool) -> Result<Self, AiError> {
        cfg.validate()?;
        let prompts = crate::layers::load_all()?.into_iter().map(|p| (p.layer, p)).collect();
        let client = ChatClient::new(&cfg, api_key).map_err(|e| AiError::Config(e.to_string()))?;
        let budget = Budget::new(cfg.budget.clone(), clock.now().date_naive());
        Ok(Self { prompts, client, budget, artifacts: Artifacts::new(out_dir), clock, run, cache_only, stats: EngineStats::default(), cfg })
    }

    #[must_use]
    pub fn config(&self) -> &AiConfig {
        &self.cfg
    }

    /// Counts what the ledger's stored AI outputs spent today (UTC, by this engine's clock) against the
    /// daily cap, so a restart does not get a fresh day's budget. Returns the tokens loaded.
    ///
    /// # Errors
    /// The ledger could not tell ([`nl_domain::ReadError`]); the caller must not make calls then.
    pub async fn load_spend(&self, reader: &dyn nl_domain::LedgerReader) -> Result<u64, nl_domain::ReadError> {
        let day = self.clock.now().date_naive();
        let spent = reader.ai_tokens_since(day.and_time(chrono::NaiveTime::MIN).and_utc()).await?;
        self.budget.preload(day, spent);
        Ok(spent)
    }

    /// The loaded prompt of `layer`.
    #[must_use]
    pub fn prompt(&self, layer: Layer) -> Option<&Prompt> {
        self.prompts.get(&layer)
    }

    /// The request a job would send (with a fresh marker); what `nl ai run --dry-run` prints.
    #[must_use]
    pub fn request_for(&self, job: &Job, marker: &str) -> Value {
        let Some(p) = self.prompts.get(&job.layer) else { return Value::Null };
        self.client.request_body(&p.system_for(marker), &job.pack.render(marker), &p.schema_version.replace('.', "_"), &p.schema)
    }

    /// Runs `job` (`fresh`: skip the cache lookup) and returns the event to publish.
    pub async fn run(&self, job: &Job, fresh: bool) -> Envelope {
        let Some(prompt) = self.prompts.get(&job.layer) else { return self.failed(job, "no_prompt", "layer has no prompt") };
        let input_sha256 = job.pack.sha256();
        let key = Artifacts::key(&input_sha256, &prompt.sha256, &self.cfg.model);
        if !fresh
            && let Some(stored) = self.artifacts.lookup(job.layer.id(), &key) {
                self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                return self.completed(job, prompt, &stored, 0, true);
            }
        if self.cache_only {
            return self.failed(job, "not_cached", "re-derivation uses stored artifacts only");
        }
        let marker = match self.cfg.marker {
            crate::config::MarkerMode::PerInput => canonical::sha256_hex(format!("marker\u{1f}{key}").as_bytes())[..16].to_owned(),
            crate::config::MarkerMode::PerCall => match sanitize::marker() {
                Ok(m) => m,
                Err(e) => return self.failed(job, "no_randomness", &e.to_string()),
            },
        };
        let body = self.request_for(job, &marker);
        let estimate = u64::try_from(canonical::to_string(&body).len() / 3).unwrap_or(u64::MAX) + u64::from(self.cfg.max_completion);
        let reservation = match self.budget.reserve(job.layer, estimate, self.clock.now().date_naive()).await {
            Ok(r) => r,
            Err(refusal) => return self.failed(job, refusal.reason(), &format!("{estimate} tokens reserved per call")),
        };
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let (verdict, tokens_in, tokens_out, latency_ms, reply_text) = match self.client.complete(&body).await {
            Ok(reply) => {
                self.budget.settle(reservation, Some(reply.tokens_in + reply.tokens_out));
                let v = self.judge(job, prompt, &reply.content, &marker);
                (v, reply.tokens_in, reply.tokens_out, reply.latency_ms, reply.content)
            }
            Err(e @ (CallError::TooLong(_) | CallError::Shape(_))) => {
                self.budget.settle(reservation, Some(estimate));
                (Verdict::Abstained(e.reason().into()), 0, 0, 0, String::new())
            }
            Err(e) => {
                self.budget.settle(reservation, None);
                return self.failed(job, e.reason(), &e.to_string());
            }
        };
        let (status, reason, output) = match verdict {
            Verdict::Completed(out) => ("completed", Value::Null, out),
            Verdict::Abstained(r) => ("abstained", Value::String(r), Value::Null),
        };
        let reply_kept: String = if status == "abstained" { reply_text.chars().take(2_000).collect() } else { String::new() };
        let artifact = json!({
            "layer": job.layer.id(), "prompt_id": prompt.prompt_id, "prompt_sha256": prompt.sha256,
            "schema_version": prompt.schema_version, "model": self.cfg.model, "input_sha256": input_sha256,
            "pack": job.pack.to_value(), "status": status, "reason": reason, "output": output,
            "deterministic": job.extra.clone().unwrap_or(Value::Null), "reply": reply_kept,
            "tokens_in": tokens_in, "tokens_out": tokens_out,
        });
        match self.artifacts.store(job.layer.id(), &key, &artifact) {
            Ok(stored) => self.completed(job, prompt, &stored, latency_ms, false),
            Err(e) => self.failed(job, "artifact_write", &e.to_string()),
        }
    }

    /// Validates a reply: JSON, size, schema, cited ids, invented facts, instruction-like text.
    fn judge(&self, job: &Job, prompt: &Prompt, content: &str, marker: &str) -> Verdict {
        if content.len() > self.cfg.max_reply_bytes {
            return Verdict::Abstained("reply_too_long".into());
        }
        let Ok(out) = serde_json::from_str::<Value>(content) else { return Verdict::Abstained("malformed_json".into()) };
        if let Err(errors) = schema::validate(&prompt.schema, &out) {
            return Verdict::Abstained(format!("schema: {}", errors.join("; ").chars().take(300).collect::<String>()));
        }
        let mut cited = Vec::new();
        let mut texts = Vec::new();
        collect(&out, &mut cited, &mut texts, false);
        if let Some(bad) = cited.iter().find(|id| !job.pack.has_id(id)) {
            return Verdict::Abstained(format!("unknown_evidence_id: {bad}"));
        }
        let haystack = job.pack.haystack();
        for t in &texts {
            if let Some(bad) = invented(t, &haystack).first() {
                return Verdict::Abstained(format!("invented_fact: {bad}"));
            }
            if t.contains(marker) || nl_domain::injection::scan(t).is_some() {
                return Verdict::Abstained("instruction_in_output".into());
            }
        }
        Verdict::Completed(crate::shape::finish(job, out, &self.cfg, &job.pack))
    }

    fn completed(&self, job: &Job, prompt: &Prompt, stored: &Stored, latency_ms: u64, cached: bool) -> Envelope {
        let a = &stored.body;
        let status = a.get("status").and_then(Value::as_str).unwrap_or("abstained");
        let counter = if status == "completed" { &self.stats.completed } else { &self.stats.abstained };
        counter.fetch_add(1, Ordering::Relaxed);
        let meta = json!({
            "layer": job.layer.id(), "status": status, "reason": a.get("reason"), "model": self.cfg.model,
            "prompt_id": prompt.prompt_id, "prompt_sha256": prompt.sha256, "schema_version": prompt.schema_version,
            "input_sha256": a.get("input_sha256"), "artifact_sha256": stored.sha256,
            "artifact_path": format!("ai/{}/{}.json", job.layer.id(), stored.sha256),
            "tokens_in": a.get("tokens_in"), "tokens_out": a.get("tokens_out"), "latency_ms": latency_ms,
            "trigger_event_id": job.trigger_event_id, "trigger_type": job.trigger_type, "cached": cached,
            "advisory": true, "output": a.get("output"),
        });
        let kind = job.layer.completed();
        // One event per artifact (as `ai_outputs.artifact_sha256` is unique): a cache hit from another
        // trigger is the same fact again.
        let env = Envelope::new(kind, &[job.layer.id(), &stored.sha256], self.now(), &self.run.run_id, &self.run.config_hash, meta);
        self.stamp(job, env)
    }

    /// The `ai.failed` event of `job` (public for jobs whose pack could not be built).
    pub fn fail_job(&self, job: &Job, reason: &str, detail: &str) -> Envelope {
        self.failed(job, reason, detail)
    }

    fn failed(&self, job: &Job, reason: &str, detail: &str) -> Envelope {
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        let meta = json!({"layer": job.layer.id(), "reason": reason, "detail": detail, "model": self.cfg.model,
            "trigger_event_id": job.trigger_event_id, "trigger_type": job.trigger_type});
        let env = Envelope::new(EventType::AiFailed, &[job.layer.id(), &job.trigger_event_id, reason, &self.run.run_id], self.now(), &self.run.run_id, &self.run.config_hash, meta);
        self.stamp(job, env)
    }

    fn stamp(&self, job: &Job, mut env: Envelope) -> Envelope {
        env.asset_id.clone_from(&job.pack.subject);
        env.symbol.clone_from(&job.symbol);
        env.chain.clone_from(&job.chain);
        env.with_source(SOURCE)
    }

    fn now(&self) -> Ts {
        self.clock.now()
    }
}

/// Every `evidence_ids` entry and every other string of a reply.
fn collect(v: &Value, cited: &mut Vec<String>, texts: &mut Vec<String>, in_ids: bool) {
    match v {
        Value::String(s) if in_ids => cited.push(s.clone()),
        Value::String(s) => texts.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect(x, cited, texts, in_ids)),
        Value::Object(m) => m.iter().for_each(|(k, x)| collect(x, cited, texts, k == "evidence_ids")),
        _ => {}
    }
}
