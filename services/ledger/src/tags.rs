//! Rule tags of an asset (`assets.tags_json`, a sorted JSON array of strings): what rules alone say about
//! it. AI tags live under their own prefix.
//!
//! | tag | when |
//! |---|---|
//! | `cex`, `dex` | the venue type of the asset's identity (`cex:<venue>:<BASE>` or `<chain>:<address>`) |
//! | `cex_instrument`, `cex_contract`, `cex_announcement`, `dex_pool`, `token_profile` | a sighting of that kind |
//! | `multi_source` | sighted by two or more sources |
//! | `cex_and_dex` | sighted on a CEX and on a DEX (a CEX listing linked to its contract) |
//! | `risk:<check>` | the check failed in the asset's latest risk evaluation (replaced by each newer one) |
//! | `ai:<tag>` | an AI tag: L1's latest completed research note on the asset (advisory; replaced by each newer one) |

use std::collections::BTreeSet;

use nl_domain::{ObservationKind, Sighting};

/// Prefix of the tags the latest risk evaluation sets.
pub const RISK_PREFIX: &str = "risk:";
/// Prefix of AI tags (L1), kept apart from rule tags: advisory, never read by a rule.
pub const AI_PREFIX: &str = "ai:";

fn kind_tag(kind: ObservationKind) -> &'static str {
    match kind {
        ObservationKind::CexInstrument => "cex_instrument",
        ObservationKind::CexContract => "cex_contract",
        ObservationKind::CexAnnouncement => "cex_announcement",
        ObservationKind::DexPool => "dex_pool",
        ObservationKind::TokenProfile => "token_profile",
    }
}

fn is_dex(kind: ObservationKind) -> bool {
    matches!(kind, ObservationKind::DexPool | ObservationKind::TokenProfile)
}

fn parse(tags_json: &str) -> BTreeSet<String> {
    serde_json::from_str(tags_json).unwrap_or_default()
}

fn encode(tags: &BTreeSet<String>) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

/// The tags of an asset of venue kind `kind` (`cex`/`dex`) with `sightings`, keeping the risk tags of
/// `previous` (its stored `tags_json`).
#[must_use]
pub fn of_sightings(kind: &str, sightings: &[Sighting], previous: &str) -> String {
    let mut tags: BTreeSet<String> = parse(previous).into_iter().filter(|t| t.starts_with(RISK_PREFIX) || t.starts_with(AI_PREFIX)).collect();
    tags.insert(kind.to_string());
    tags.extend(sightings.iter().map(|s| kind_tag(s.kind).to_string()));
    let sources: BTreeSet<&str> = sightings.iter().map(|s| s.source.as_str()).collect();
    if sources.len() > 1 {
        tags.insert("multi_source".into());
    }
    if sightings.iter().any(|s| is_dex(s.kind)) && sightings.iter().any(|s| !is_dex(s.kind)) {
        tags.insert("cex_and_dex".into());
    }
    encode(&tags)
}

/// `previous` with its AI tags replaced by `ai:<tag>` for each of `tags` (lowercased, spaces as `_`).
#[must_use]
pub fn with_ai<'a>(previous: &str, tags: impl IntoIterator<Item = &'a str>) -> String {
    let mut out: BTreeSet<String> = parse(previous).into_iter().filter(|t| !t.starts_with(AI_PREFIX)).collect();
    out.extend(tags.into_iter().map(|t| format!("{AI_PREFIX}{}", t.trim().to_lowercase().replace(' ', "_"))).filter(|t| t.len() > AI_PREFIX.len()));
    encode(&out)
}

/// `previous` with its risk tags replaced by one per `failed` check.
#[must_use]
pub fn with_risk<'a>(previous: &str, failed: impl IntoIterator<Item = &'a str>) -> String {
    let mut tags: BTreeSet<String> = parse(previous).into_iter().filter(|t| !t.starts_with(RISK_PREFIX)).collect();
    tags.extend(failed.into_iter().map(|c| format!("{RISK_PREFIX}{c}")));
    encode(&tags)
}
