//! The four layers and their versioned prompt and schema: `prompts/<layer>/v1.md` and
//! `schemas/<layer>.v1.json`, compiled in and hashed at load (`prompt_sha256` covers both, so changing
//! either changes every cache key and artifact).

use nl_domain::EventType;
use serde_json::Value;

use crate::canonical;
use crate::error::AiError;
use crate::schema;

/// An AI layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// Research notes on one asset.
    L1,
    /// The market regime.
    L2,
    /// Strategy hypotheses as draft experiment specs.
    L3,
    /// The governance critic's report.
    L4,
}

impl Layer {
    pub const ALL: [Layer; 4] = [Layer::L1, Layer::L2, Layer::L3, Layer::L4];

    /// `l1` … `l4`.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Layer::L1 => "l1",
            Layer::L2 => "l2",
            Layer::L3 => "l3",
            Layer::L4 => "l4",
        }
    }

    /// `L1`/`l1` → the layer.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.id().eq_ignore_ascii_case(s))
    }

    /// `ai.l<N>.completed`.
    #[must_use]
    pub fn completed(self) -> EventType {
        match self {
            Layer::L1 => EventType::AiL1Completed,
            Layer::L2 => EventType::AiL2Completed,
            Layer::L3 => EventType::AiL3Completed,
            Layer::L4 => EventType::AiL4Completed,
        }
    }

    fn sources(self) -> (&'static str, &'static str) {
        match self {
            Layer::L1 => (include_str!("../../../prompts/l1/v1.md"), include_str!("../../../schemas/l1.v1.json")),
            Layer::L2 => (include_str!("../../../prompts/l2/v1.md"), include_str!("../../../schemas/l2.v1.json")),
            Layer::L3 => (include_str!("../../../prompts/l3/v1.md"), include_str!("../../../schemas/l3.v1.json")),
            Layer::L4 => (include_str!("../../../prompts/l4/v1.md"), include_str!("../../../schemas/l4.v1.json")),
        }
    }
}

/// A layer's loaded prompt and schema.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub layer: Layer,
    /// `l1/v1`.
    pub prompt_id: String,
    /// `l1.v1`.
    pub schema_version: String,
    pub system: String,
    pub schema: Value,
    /// SHA-256 over the prompt text and the canonical schema.
    pub sha256: String,
}

impl Prompt {
    /// Loads and hashes `layer`'s v1 prompt and schema; the schema must stay within the validator's subset.
    ///
    /// # Errors
    /// [`AiError::Prompt`] when the schema does not parse or uses an unsupported keyword.
    pub fn load(layer: Layer) -> Result<Self, AiError> {
        let (system, schema_text) = layer.sources();
        let name = format!("{}.v1", layer.id());
        let schema: Value = serde_json::from_str(schema_text).map_err(|e| AiError::Prompt(name.clone(), e.to_string()))?;
        schema::check_supported(&schema, "$").map_err(|e| AiError::Prompt(name.clone(), e))?;
        let sha256 = canonical::sha256_hex(format!("{system}\u{1f}{}", canonical::to_string(&schema)).as_bytes());
        Ok(Self { layer, prompt_id: format!("{}/v1", layer.id()), schema_version: name, system: system.to_owned(), schema, sha256 })
    }

    /// The system prompt with this call's marker in place of `MARKER`.
    #[must_use]
    pub fn system_for(&self, marker: &str) -> String {
        self.system.replace("MARKER", marker)
    }
}

/// All four prompts.
///
/// # Errors
/// See [`Prompt::load`].
pub fn load_all() -> Result<Vec<Prompt>, AiError> {
    Layer::ALL.into_iter().map(Prompt::load).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_prompt_loads_with_a_stable_hash() {
        for p in load_all().unwrap() {
            assert_eq!(p.sha256, Prompt::load(p.layer).unwrap().sha256);
            assert!(p.system_for("abc").contains("^abc^"), "{} names the marker", p.prompt_id);
        }
        assert_eq!(Layer::parse("L3"), Some(Layer::L3));
    }
}
