//! The closed set of event types. The wire name (`asset.discovered`) is also the bus subject suffix.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

macro_rules! event_types {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// Every event type nl emits.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType { $($variant),+ }

        impl EventType {
            /// All types, in declaration order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),+];

            /// The wire name, e.g. `asset.discovered`.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name),+ }
            }
        }
    };
}

event_types! {
    RawCaptured => "raw.captured",
    ListingObserved => "listing.observed",
    ListingRetracted => "listing.retracted",
    AssetUpserted => "asset.upserted",
    AssetDiscovered => "asset.discovered",
    AssetUpdated => "asset.updated",
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
    RunStarted => "run.started",
    RunCompleted => "run.completed",
    ExperimentTagged => "experiment.tagged",
    Manual => "manual.note",
}

impl EventType {
    /// Comma-separated list of wire names, for error messages.
    #[must_use]
    pub fn known_list() -> String {
        Self::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The bus subject this type is published on: `nl.evt.<type>`.
    #[must_use]
    pub fn subject(self) -> String {
        format!("nl.evt.{}", self.as_str())
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|t| t.as_str() == s).ok_or_else(|| DomainError::EventType(s.to_string()))
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
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
