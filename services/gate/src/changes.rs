//! Decide only on change: the last decision published per asset, so an unchanged decision is not
//! re-emitted (a promoted asset re-evaluated on a new snapshot does not alert twice).
//!
//! A decision *changes* when it flips (promoted ↔ rejected), or when a rejection's reason codes differ (so a
//! `NO_MARKET_DATA` rejection is followed by the rejection that the arriving data explains). A promotion
//! that stays a promotion is unchanged whatever its `PASS:` notes say.
//!
//! The set is bounded (the least recently decided asset is forgotten first). When the service has a reader
//! it is seeded from the ledger: in bulk with the latest decisions of the most recently decided assets at
//! start, and per asset ([`LastDecisions::seed`]) only for an asset the bulk set may have missed (it was
//! cut at the set's size, or the set has forgotten assets since: [`LastDecisions::has_forgotten`]), so a
//! restarted (or forgetful) gate does not emit an unchanged decision again; without a reader its next
//! decision is emitted once more. A decision is remembered only once it was published ([`LastDecisions::commit`]); a batch that failed to
//! publish is forgotten ([`LastDecisions::discard`]), so its redelivery decides again.

use nl_domain::{BoundedMap, Decision, GateDecision};

/// What makes two decisions of one asset the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionKey {
    Promoted,
    Rejected(Vec<String>),
}

impl DecisionKey {
    /// The key of `d`.
    #[must_use]
    pub fn of(d: &GateDecision) -> Self {
        match d.decision {
            Decision::Promoted => Self::Promoted,
            Decision::Rejected => Self::Rejected(d.reason_codes.clone()),
        }
    }
}

/// The last published decision per asset, plus the decisions of the batch being published.
#[derive(Debug)]
pub struct LastDecisions {
    last: BoundedMap<String, DecisionKey>,
    max: usize,
    pending: Vec<(String, DecisionKey)>,
    /// Whether an asset was ever forgotten to make room.
    forgotten: bool,
}

impl LastDecisions {
    /// An empty set remembering at most `max_assets` assets.
    #[must_use]
    pub fn new(max_assets: usize) -> Self {
        Self { last: BoundedMap::new(max_assets), max: max_assets.max(1), pending: Vec::new(), forgotten: false }
    }

    /// How many assets it remembers at most.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.max
    }

    /// Whether an asset was forgotten to make room since it was created: an asset unknown here may then
    /// have a last decision all the same.
    #[must_use]
    pub fn has_forgotten(&self) -> bool {
        self.forgotten
    }

    fn remember(&mut self, asset: String, key: DecisionKey) {
        if self.last.len() >= self.max && self.last.get(&asset).is_none() {
            self.forgotten = true;
        }
        self.last.insert(asset, key);
    }

    /// Whether `d` differs from its asset's last decision (published, or pending in this batch); if so it
    /// is staged as the asset's last decision until [`Self::commit`] or [`Self::discard`].
    pub fn stage_if_changed(&mut self, d: &GateDecision) -> bool {
        let asset = d.asset_id.to_string();
        let key = DecisionKey::of(d);
        let prev = self.pending.iter().rev().find(|(a, _)| *a == asset).map(|(_, k)| k).or_else(|| self.last.get(&asset));
        if prev == Some(&key) {
            return false;
        }
        self.pending.push((asset, key));
        true
    }

    /// Whether `asset` has a last decision here (published, or pending in this batch).
    #[must_use]
    pub fn knows(&self, asset: &str) -> bool {
        self.pending.iter().any(|(a, _)| a == asset) || self.last.get(&asset.to_string()).is_some()
    }

    /// Takes `d`, read back from the ledger, as its asset's last decision unless one is known here.
    pub fn seed(&mut self, d: &GateDecision) {
        let asset = d.asset_id.to_string();
        if !self.knows(&asset) {
            self.remember(asset, DecisionKey::of(d));
        }
    }

    /// The staged decisions were published: remember them.
    pub fn commit(&mut self) {
        for (asset, key) in std::mem::take(&mut self.pending) {
            self.remember(asset, key);
        }
    }

    /// The staged decisions were not published: forget them.
    pub fn discard(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use nl_domain::AssetId;

    use super::*;

    fn d(asset: &str, decision: Decision, reasons: &[&str]) -> GateDecision {
        GateDecision {
            asset_id: AssetId::parse(asset).unwrap(),
            decision,
            reason_codes: reasons.iter().map(|r| (*r).to_string()).collect(),
            rule_set_version: "v".into(),
            config_hash: "c".into(),
            inputs: vec![],
            decided_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn only_changes_are_staged_and_only_published_ones_remembered() {
        let mut l = LastDecisions::new(10);
        let a = "cex:okx:A";
        assert!(l.stage_if_changed(&d(a, Decision::Rejected, &["NO_MARKET_DATA"])));
        assert!(!l.stage_if_changed(&d(a, Decision::Rejected, &["NO_MARKET_DATA"])), "same batch, same rejection");
        l.discard();
        assert!(l.stage_if_changed(&d(a, Decision::Rejected, &["NO_MARKET_DATA"])), "not published: decided again");
        l.commit();
        assert!(!l.stage_if_changed(&d(a, Decision::Rejected, &["NO_MARKET_DATA"])));
        assert!(l.stage_if_changed(&d(a, Decision::Rejected, &["SCORE_BELOW_THRESHOLD"])), "other reasons");
        assert!(l.stage_if_changed(&d(a, Decision::Promoted, &["PROMOTED", "PASS:low_liquidity"])));
        l.commit();
        assert!(!l.stage_if_changed(&d(a, Decision::Promoted, &["PROMOTED"])), "a promotion stays one whatever its notes");
        assert!(l.stage_if_changed(&d(a, Decision::Rejected, &["HARD_FAIL:honeypot"])));
    }

    #[test]
    fn a_seeded_decision_is_not_emitted_again_and_never_overrides_one_known_here() {
        let mut l = LastDecisions::new(10);
        let a = "cex:okx:A";
        assert!(!l.knows(a));
        l.seed(&d(a, Decision::Promoted, &["PROMOTED"]));
        assert!(l.knows(a) && !l.stage_if_changed(&d(a, Decision::Promoted, &["PROMOTED"])), "the ledger's last decision, unchanged");
        assert!(l.stage_if_changed(&d(a, Decision::Rejected, &["HARD_FAIL:honeypot"])));
        l.seed(&d(a, Decision::Promoted, &["PROMOTED"]));
        l.commit();
        assert!(!l.stage_if_changed(&d(a, Decision::Rejected, &["HARD_FAIL:honeypot"])), "a pending decision outranks a seeded one");
    }

    #[test]
    fn bounded_forgetting_the_oldest() {
        let mut l = LastDecisions::new(2);
        for a in ["cex:okx:A", "cex:okx:B", "cex:okx:C"] {
            assert!(l.stage_if_changed(&d(a, Decision::Promoted, &["PROMOTED"])));
            l.commit();
        }
        assert!(!l.stage_if_changed(&d("cex:okx:C", Decision::Promoted, &["PROMOTED"])));
        assert!(l.stage_if_changed(&d("cex:okx:A", Decision::Promoted, &["PROMOTED"])), "A was forgotten: emitted again");
        assert!(l.has_forgotten());
    }

    #[test]
    fn forgetting_is_noted_only_when_room_is_made() {
        let mut l = LastDecisions::new(2);
        l.seed(&d("cex:okx:A", Decision::Promoted, &["PROMOTED"]));
        l.seed(&d("cex:okx:B", Decision::Promoted, &["PROMOTED"]));
        assert!(l.stage_if_changed(&d("cex:okx:B", Decision::Rejected, &["SCORE_BELOW_THRESHOLD"])));
        l.commit();
        assert!(!l.has_forgotten(), "full, but B was already held");
        l.seed(&d("cex:okx:C", Decision::Promoted, &["PROMOTED"]));
        assert!(l.has_forgotten() && !l.knows("cex:okx:A"));
    }
}
