//! Read models of the ledger for people: the new-listings list, one asset's detail, source health and
//! runs. The CLI views (`nl list`, `nl show`, `nl candidates`) and the web dashboard read them through
//! [`crate::LedgerReader`]; the ledger builds them from its tables.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{AssetId, Decision, GateDecision, RiskEvaluation, ScoreRecord, Sighting, Snapshot, Ts, Verdict};

/// Default and maximum number of rows of a [`ListingQuery`].
pub const DEFAULT_LISTING_LIMIT: u32 = 200;
pub const MAX_LISTING_LIMIT: u32 = 5000;

/// Where an asset trades: a centralized venue's instrument or an on-chain pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketKind {
    Cex,
    Dex,
}

impl MarketKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cex => "cex",
            Self::Dex => "dex",
        }
    }

    /// `cex` or `dex`; `None` otherwise.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cex" => Some(Self::Cex),
            "dex" => Some(Self::Dex),
            _ => None,
        }
    }
}

impl Decision {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promoted => "promoted",
            Self::Rejected => "rejected",
        }
    }

    /// `promoted` or `rejected`; `None` otherwise.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "promoted" => Some(Self::Promoted),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}

/// Which listings to return, newest first. Every filter is optional; they combine with AND.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ListingQuery {
    /// First seen at or after this time.
    pub since: Option<Ts>,
    /// Exact chain slug (e.g. `solana`).
    pub chain: Option<String>,
    /// A venue that saw the asset (e.g. `okx`, `raydium`), as in its sightings.
    pub venue: Option<String>,
    pub kind: Option<MarketKind>,
    /// The latest gate decision.
    pub decision: Option<Decision>,
    /// The latest snapshot's liquidity is known and at least this (USD).
    pub min_liquidity_usd: Option<Decimal>,
    /// Case-insensitive substring of the symbol, name or asset id.
    pub text: Option<String>,
    /// Only `v_assets_candidates` (latest decision promoted, liquidity at the candidate minimum).
    pub candidates_only: bool,
    /// At most this many rows; 0 means [`DEFAULT_LISTING_LIMIT`], capped at [`MAX_LISTING_LIMIT`].
    pub limit: u32,
}

impl ListingQuery {
    /// The row limit actually applied.
    #[must_use]
    pub fn effective_limit(&self) -> u32 {
        if self.limit == 0 { DEFAULT_LISTING_LIMIT } else { self.limit.min(MAX_LISTING_LIMIT) }
    }
}

/// Verdict counts of a risk evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RiskSummary {
    pub pass: u32,
    pub fail: u32,
    pub unknown: u32,
}

impl RiskSummary {
    /// Counts the verdicts of `checks`.
    #[must_use]
    pub fn of(checks: &[crate::RiskCheck]) -> Self {
        checks.iter().fold(Self::default(), |mut s, c| {
            match c.verdict {
                Verdict::Pass => s.pass += 1,
                Verdict::Fail => s.fail += 1,
                Verdict::Unknown => s.unknown += 1,
            }
            s
        })
    }
}

/// One row of the new-listings list: the asset and its latest snapshot, score, risk and decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub asset_id: AssetId,
    pub symbol: String,
    pub name: Option<String>,
    pub chain: Option<String>,
    pub address: Option<String>,
    pub kind: MarketKind,
    pub status: String,
    /// Distinct venues and sources of its sightings, sorted.
    pub venues: Vec<String>,
    pub sources: Vec<String>,
    pub first_seen_at: Ts,
    pub first_source: String,
    /// The first sighting's own publication time, when the source gives one.
    pub source_published_at: Option<Ts>,
    pub price_usd: Option<Decimal>,
    pub liquidity_usd: Option<Decimal>,
    pub score: Option<Decimal>,
    pub decision: Option<Decision>,
    pub reason_codes: Vec<String>,
    pub risk: Option<RiskSummary>,
    pub reviewed_at: Option<Ts>,
}

impl Listing {
    /// First-seen latency against the source's own time (ms), when the source gives one.
    #[must_use]
    pub fn latency_ms(&self) -> Option<i64> {
        self.source_published_at.map(|p| (self.first_seen_at - p).num_milliseconds())
    }
}

/// One entry of an asset's event timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub ts: Ts,
    pub event_type: String,
    pub event_id: String,
    /// A short human-readable line (source, values, decision).
    pub summary: String,
}

/// An AI layer's output on an asset: advisory only, never an input of L5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiNote {
    pub layer: String,
    pub model: Option<String>,
    pub created_at: Ts,
    pub body: serde_json::Value,
}

/// Everything known about one asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetDetail {
    pub listing: Listing,
    pub sightings: Vec<Sighting>,
    /// Snapshot history, oldest first (the latest ones when there are many).
    pub snapshots: Vec<Snapshot>,
    pub risk: Option<RiskEvaluation>,
    /// Provenance of `risk`: its event id and config hash.
    pub risk_event_id: Option<String>,
    pub score: Option<ScoreRecord>,
    pub decision: Option<GateDecision>,
    pub decision_event_id: Option<String>,
    /// Events of the asset, oldest first.
    pub timeline: Vec<TimelineEntry>,
    pub ai_notes: Vec<AiNote>,
}

/// Health of one source, from its raw captures and the sightings it made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub source: String,
    pub captures: u64,
    /// Captures with a parse error or an HTTP status >= 400.
    pub errors: u64,
    /// Captures answered 429.
    pub rate_limited: u64,
    pub last_capture_at: Option<Ts>,
    /// The last capture that parsed with a success status.
    pub last_success_at: Option<Ts>,
    pub last_error: Option<String>,
    /// Detection latency (first observation against the source's own time) over recent sightings, ms.
    pub latency_p50_ms: Option<i64>,
    pub latency_p99_ms: Option<i64>,
    /// The revision of the source's lease in distributed mode, when one was taken.
    pub lease_rev: Option<i64>,
}

/// What the stored AI outputs created since a time used: model tokens (in + out, one row per artifact, so
/// a cached answer reached again is not counted twice) and outputs by status (`completed`, `abstained`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiUsage {
    pub tokens: u64,
    pub by_status: std::collections::BTreeMap<String, u64>,
}

/// One run, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: String,
    pub config_hash: String,
    pub status: String,
    pub dry_run: bool,
    pub started_at: Option<Ts>,
    pub finished_at: Option<Ts>,
    /// What the run's `run.completed` event carried (its summary), `{}` until then.
    pub manifest: serde_json::Value,
    /// The run's manifest file (`runs/<run_id>/manifest.json`: events.jsonl byte range `events {start, end,
    /// count}`, `code_version`, effective config, ...) as the ledger recorded it when it was written;
    /// `None` when none was recorded (distributed runs, runs from before migration 0016).
    #[serde(default)]
    pub run_manifest: Option<serde_json::Value>,
}

/// Default and maximum number of events of one [`EventFeedQuery`] page.
pub const DEFAULT_FEED_LIMIT: u32 = 100;
pub const MAX_FEED_LIMIT: u32 = 1000;

/// A page of the ledger's committed events after a sequence number: what alerts and `nl watch` tail.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EventFeedQuery {
    /// Only events whose sequence number is greater than this (0 = from the first).
    pub after_seq: i64,
    /// Only these event types (`candidate.promoted`, ...); empty = every type.
    pub types: Vec<String>,
    /// At most this many (0 = [`DEFAULT_FEED_LIMIT`], capped at [`MAX_FEED_LIMIT`]).
    pub limit: u32,
}

impl EventFeedQuery {
    /// The limit actually applied.
    #[must_use]
    pub fn effective_limit(&self) -> u32 {
        if self.limit == 0 { DEFAULT_FEED_LIMIT } else { self.limit.min(MAX_FEED_LIMIT) }
    }
}

/// One committed event as the ledger's `events` table keeps it, in commit order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedEvent {
    /// The ledger's sequence number (grows with every commit; the same mark as `change_mark`).
    pub seq: i64,
    pub event_id: String,
    pub ts: Ts,
    pub event_type: String,
    pub asset_id: Option<String>,
    pub symbol: Option<String>,
    pub chain: Option<String>,
    pub source: Option<String>,
    /// The stored meta (facts kept elsewhere are cited by event id, not repeated).
    pub meta: serde_json::Value,
}
