//! The closed set of event types. The wire name (`asset.discovered`) is also the bus subject suffix.

use crate::wire_enum::wire_enum;

wire_enum! {
    /// Every event type nl emits.
    EventType, crate::DomainError::EventType, {
        RawCaptured => "raw.captured",
        ListingObserved => "listing.observed",
        ListingRetracted => "listing.retracted",
        AssetUpserted => "asset.upserted",
        AssetDiscovered => "asset.discovered",
        AssetUpdated => "asset.updated",
        AssetReviewed => "asset.reviewed",
        AssetDelisted => "asset.delisted",
        SnapshotRecorded => "snapshot.recorded",
        RiskEvaluated => "risk.evaluated",
        RiskFlagged => "risk.flagged",
        ScoreComputed => "score.computed",
        CandidatePromoted => "candidate.promoted",
        CandidateRejected => "candidate.rejected",
    AiL1Completed => "ai.l1.completed",
    AiL2Completed => "ai.l2.completed",
    AiL3Completed => "ai.l3.completed",
    AiL4Completed => "ai.l4.completed",
        AiFailed => "ai.failed",
        AiJobRequested => "ai.job.requested",
        RunStarted => "run.started",
        RunCompleted => "run.completed",
        OrderSubmitted => "order.submitted",
        OrderFilled => "order.filled",
        PositionUpdated => "position.updated",
        TradeBlocked => "trade.blocked",
        ExperimentCreated => "experiment.created",
        ExperimentStatusChanged => "experiment.status_changed",
        LearningGateUpdated => "learning.gate_updated",
        StrategyRunStarted => "strategy_run.started",
        StrategyRunCompleted => "strategy_run.completed",
        Manual => "manual.note",
    }
}

impl EventType {
    /// The bus subject this type is published on: `nl.evt.<type>`.
    #[must_use]
    pub fn subject(self) -> String {
        format!("nl.evt.{}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_every_type() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), *t);
        }
        assert!("asset.bogus".parse::<EventType>().is_err());
        assert_eq!(EventType::AssetDiscovered.subject(), "nl.evt.asset.discovered");
    }
}
