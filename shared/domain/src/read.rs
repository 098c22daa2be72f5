//! What other services may read from the ledger, as domain types. The ledger owns its schema and its SQL;
//! everyone else holds a `dyn LedgerReader`: in-process read-only SQLite in embedded mode, gRPC `Ledger` in
//! distributed mode. Neither implementation lives here (this crate does no I/O).

use async_trait::async_trait;

use crate::views::{AssetDetail, EventFeedQuery, FeedEvent, Listing, ListingQuery, RunSummary, SourceHealth};
use crate::{AssetId, GateDecision};

/// Why a read failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    /// The store could not be reached or queried; worth retrying.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// The store answered with data that does not parse: a bug or a damaged store, not worth retrying.
    #[error("ledger data is corrupt: {0}")]
    Corrupt(String),
}

/// At most this many ids in one [`LedgerReader::stored_event_ids`] request over gRPC (a client asks in
/// chunks of this size; the ledger refuses more).
pub const STORED_EVENT_IDS_PER_REQUEST: usize = 2_000;

/// Reads of the ledger's state.
#[async_trait]
pub trait LedgerReader: Send + Sync + 'static {
    /// The latest gate decision on `asset`, `None` when there is none.
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read or holds a row that does not parse.
    async fn latest_decision(&self, asset: &AssetId) -> Result<Option<GateDecision>, ReadError>;

    /// The latest gate decision of each of the `limit` most recently decided assets, most recent first:
    /// what a gate loads at start instead of asking [`Self::latest_decision`] for every asset it does not
    /// remember. Fewer than `limit` means these are every asset's. A reader that does not serve it answers
    /// [`ReadError::Unavailable`] (the gate then asks per asset).
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read or holds a row that does not parse.
    async fn latest_decisions(&self, limit: u32) -> Result<Vec<GateDecision>, ReadError> {
        let _ = limit;
        Err(ReadError::Unavailable("this ledger reader does not serve decisions in bulk".into()))
    }

    /// Listings matching `query`, newest first (at most `query.effective_limit()`).
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read or holds a row that does not parse.
    async fn listings(&self, query: &ListingQuery) -> Result<Vec<Listing>, ReadError>;

    /// Everything known about `asset`, `None` when it is unknown.
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read or holds a row that does not parse.
    async fn asset_detail(&self, asset: &AssetId) -> Result<Option<AssetDetail>, ReadError>;

    /// Health of every source that captured something, by source name.
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read or holds a row that does not parse.
    async fn sources(&self) -> Result<Vec<SourceHealth>, ReadError>;

    /// The latest `limit` runs, newest first.
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read or holds a row that does not parse.
    async fn runs(&self, limit: u32) -> Result<Vec<RunSummary>, ReadError>;

    /// A number that grows whenever the ledger commits an event (the last event's sequence number): live
    /// views poll it to learn that something changed.
    ///
    /// # Errors
    /// [`ReadError::Unavailable`] when the store cannot be read.
    async fn change_mark(&self) -> Result<i64, ReadError>;

    /// Committed events after `query.after_seq`, oldest first: the feed alerts and `nl watch` tail. A
    /// reader that does not serve it answers [`ReadError::Unavailable`].
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read or holds a row that does not parse.
    async fn events_after(&self, query: &EventFeedQuery) -> Result<Vec<FeedEvent>, ReadError> {
        let _ = query;
        Err(ReadError::Unavailable("this ledger reader does not serve the event feed".into()))
    }

    /// Model tokens (in + out) that the stored AI outputs created at or after `since` used: what
    /// `[ai.budget] daily_cap` has already spent when an AI process starts. A reader that cannot tell
    /// answers [`ReadError::Unavailable`] (the caller fails closed).
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read.
    async fn ai_tokens_since(&self, since: crate::Ts) -> Result<u64, ReadError> {
        Ok(self.ai_usage_since(since).await?.tokens)
    }

    /// The stored AI outputs created at or after `since`: their tokens (what [`Self::ai_tokens_since`]
    /// answers) and their count by status; what `nl ai budget` shows. A reader that cannot tell answers
    /// [`ReadError::Unavailable`].
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read.
    async fn ai_usage_since(&self, since: crate::Ts) -> Result<crate::AiUsage, ReadError> {
        let _ = since;
        Err(ReadError::Unavailable("this ledger reader does not serve AI spend".into()))
    }

    /// The layers (`l1`…`l4`) with a stored AI output triggered by `trigger_event_id`: a trigger delivered
    /// again (a scheduled period requested by a restarted or second orchestrator) is already answered.
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read.
    async fn ai_layers_answered(&self, trigger_event_id: &str) -> Result<Vec<String>, ReadError> {
        let _ = trigger_event_id;
        Err(ReadError::Unavailable("this ledger reader does not serve AI outputs".into()))
    }

    /// Which of `ids` the ledger has applied (stored in its `events` table): what a writer that published
    /// events waits on before it reads what they changed. A reader that cannot tell answers
    /// [`ReadError::Unavailable`].
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read.
    async fn stored_event_ids(&self, ids: &[String]) -> Result<std::collections::BTreeSet<String>, ReadError> {
        let _ = ids;
        Err(ReadError::Unavailable("this ledger reader does not tell which events it stored".into()))
    }
}
