//! What a validated reply becomes in the artifact: L1 and L4 as they are; L2 gains `valid_until` (the
//! trigger time plus the regime schedule); L3's hypotheses become draft ExperimentSpecs for the learning
//! book (status `draft`, never started).

use serde_json::{Value, json};

use crate::canonical;
use crate::config::AiConfig;
use crate::engine::Job;
use crate::layers::Layer;
use crate::pack::Pack;

/// The artifact's `output` for a validated reply `out`.
#[must_use]
pub fn finish(job: &Job, mut out: Value, cfg: &AiConfig, pack: &Pack) -> Value {
    match job.layer {
        Layer::L1 | Layer::L4 => out,
        Layer::L2 => {
            let hours = i64::try_from(cfg.regime_interval_secs.max(3600) / 3600).unwrap_or(1);
            let valid_until = pack.as_of + chrono::Duration::hours(hours);
            if let Some(m) = out.as_object_mut() {
                m.insert("valid_until".into(), json!(valid_until));
            }
            out
        }
        Layer::L3 => {
            let input = pack.sha256();
            let drafts: Vec<Value> = out
                .get("hypotheses")
                .and_then(Value::as_array)
                .map(|hs| hs.iter().enumerate().map(|(i, h)| draft_spec(&input, i, h)).collect())
                .unwrap_or_default();
            json!({"hypotheses": out.get("hypotheses"), "drafts": drafts})
        }
    }
}

/// One hypothesis as a draft ExperimentSpec (the learning book's fields; paper only, never started).
fn draft_spec(input_sha256: &str, i: usize, h: &Value) -> Value {
    let id = &canonical::sha256_hex(format!("{input_sha256}\u{1f}{i}").as_bytes())[..12];
    json!({
        "spec_id": format!("l3-{id}"),
        "version": 1,
        "question": h.get("question"),
        "hypothesis": h.get("hypothesis"),
        "exposure": {"mode": "paper", "universe": "promoted_candidates", "size_usd": "100", "max_open": 5},
        "metrics": [h.get("metric")],
        "risk": {"paper_only": true, "max_drawdown_pct": 20},
        "no_learn_zones": [],
        "evidence_ids": h.get("evidence_ids"),
        "status": "draft",
    })
}
