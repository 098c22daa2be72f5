//! [`LedgerStore`]: the handle services use. Writes go to the writer task through a bounded channel
//! (callers wait when it is full: back-pressure, not loss); reads go to the read-only pool.

use std::sync::Arc;

use bytes::Bytes;
use nl_domain::{Envelope, EventId};
use tokio::sync::{mpsc, oneshot};

use crate::apply::ApplyOutcome;
use crate::config::LedgerConfig;
use crate::db::{migrate_up, open_write_pool};
use crate::error::{LedgerError, Result};
use crate::known::KnownChanges;
use crate::read::SqliteReader;
use crate::writer::{self, Command};

/// Settings keys the views read.
pub const SETTING_NEW_WINDOW_MINUTES: &str = "new_window_minutes";
pub const SETTING_CANDIDATE_MIN_LIQUIDITY_USD: &str = "candidate_min_liquidity_usd";

/// Handle on the ledger database: the single writer plus the read-only pool. Cheap to clone; the writer
/// stops once every clone is dropped.
#[derive(Debug, Clone)]
pub struct LedgerStore {
    tx: mpsc::Sender<Command>,
    reader: SqliteReader,
}

impl LedgerStore {
    /// Validates `cfg`, opens (creating) the database, refuses it when `PRAGMA quick_check` finds damage,
    /// applies pending migrations, writes the view settings from `cfg`, fills missing `raw_events.venue_type`s
    /// of the sources `cfg` names, opens the read pool and starts the writer task and its background WAL
    /// checkpointer (see the `checkpoint` module).
    ///
    /// # Errors
    /// [`LedgerError::Config`], [`LedgerError::Open`], [`LedgerError::Migrate`] or [`LedgerError::Db`].
    pub async fn open(cfg: &LedgerConfig) -> Result<Self> {
        cfg.validate()?;
        let write = open_write_pool(&cfg.db_path).await?;
        if let Some(problem) = crate::db::damage(&write).await? {
            return Err(LedgerError::Corrupt(format!("refusing to write to it: {}", crate::db::damaged_advice(&cfg.db_path, &problem))));
        }
        migrate_up(&write).await?;
        {
            let mut conn = write.acquire().await?;
            writer::set_setting(&mut conn, SETTING_NEW_WINDOW_MINUTES, &cfg.new_window_minutes.to_string()).await?;
            writer::set_setting(&mut conn, SETTING_CANDIDATE_MIN_LIQUIDITY_USD, &cfg.candidate_min_liquidity_usd).await?;
            writer::backfill_venue_types(&mut conn, &cfg.venue_types).await?;
        }
        let reader = SqliteReader::open(&cfg.db_path, cfg.read_connections).await?;
        let committed = crate::checkpoint::start(&cfg.db_path, &write).await?;
        let (tx, rx) = mpsc::channel(cfg.channel_bound);
        tokio::spawn(writer::run(write, rx, cfg.batch_size, std::sync::Arc::new(cfg.venue_types.clone()), committed));
        Ok(Self { tx, reader })
    }

    /// The read side.
    #[must_use]
    pub fn reader(&self) -> &SqliteReader {
        &self.reader
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| LedgerError::WriterGone)?;
        rx.await.map_err(|_| LedgerError::WriterGone)?
    }

    /// Stores `envs` idempotently and commits the events derived from them to the outbox, in one
    /// transaction (possibly shared with other callers' commands). See [`ApplyOutcome`].
    ///
    /// # Errors
    /// [`LedgerError::Db`] when the transaction failed (nothing of it was stored);
    /// [`LedgerError::WriterGone`] when the writer task has stopped.
    pub async fn apply(&self, envs: Vec<Envelope>) -> Result<ApplyOutcome> {
        let bodies = vec![None; envs.len()];
        self.apply_encoded(envs.into_iter().map(Arc::new).collect(), bodies).await
    }

    /// Like [`LedgerStore::apply`], over shared envelopes (as the bus delivers them, not copied), with the
    /// JSON each envelope was decoded from (as delivered), kept verbatim as its `events.body` instead of
    /// encoding the envelope again where the row keeps the whole envelope (free-form types; see the `kept`
    /// module). `bodies[i]` belongs to `envs[i]`; `None` (or a body that is not UTF-8) encodes the envelope.
    ///
    /// # Errors
    /// As [`LedgerStore::apply`]; [`LedgerError::Corrupt`] when the two vectors differ in length.
    pub async fn apply_encoded(&self, envs: Vec<Arc<Envelope>>, bodies: Vec<Option<Bytes>>) -> Result<ApplyOutcome> {
        if envs.len() != bodies.len() {
            return Err(LedgerError::Corrupt(format!("{} envelopes with {} bodies", envs.len(), bodies.len())));
        }
        if envs.is_empty() {
            return Ok(ApplyOutcome::default());
        }
        self.call(|reply| Command::Apply { envs, bodies, reply }).await
    }

    /// Marks outbox events as published, which removes them from the outbox (they are stored in `events`
    /// once consumed back); returns how many were pending.
    ///
    /// # Errors
    /// As [`LedgerStore::apply`].
    pub async fn mark_published(&self, ids: Vec<EventId>) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.call(|reply| Command::MarkPublished { ids, reply }).await
    }

    /// Hands published outbox events to the writer to prune with its next transaction (or when it is
    /// idle), without waiting for that: until then they stay pending in the outbox, and a crash before
    /// then publishes them again on start (the bus dedupes by event id).
    ///
    /// # Errors
    /// [`LedgerError::WriterGone`] when the writer task has stopped.
    pub async fn published(&self, ids: Vec<EventId>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.tx.send(Command::Published { ids }).await.map_err(|_| LedgerError::WriterGone)
    }

    /// Stores a source's durable cursor (and the lease revision it was written under).
    ///
    /// # Errors
    /// As [`LedgerStore::apply`]; [`LedgerError::Json`] never in practice.
    pub async fn put_cursor(&self, source: &str, cursor: &serde_json::Value, lease_rev: Option<u64>) -> Result<()> {
        self.put_source_state(source, cursor, KnownChanges::default(), lease_rev).await
    }

    /// Stores a source's durable cursor and the changes of its known-instrument set (`known_instruments`)
    /// in one transaction.
    ///
    /// # Errors
    /// As [`LedgerStore::put_cursor`].
    pub async fn put_source_state(&self, source: &str, cursor: &serde_json::Value, known: KnownChanges, lease_rev: Option<u64>) -> Result<()> {
        let cursor_json = serde_json::to_string(cursor)?;
        let lease_rev = lease_rev.map(|r| i64::try_from(r).unwrap_or(i64::MAX));
        self.call(|reply| Command::PutCursor { source: source.to_string(), cursor_json, lease_rev, known, reply }).await
    }

    /// Sets a `settings` value (e.g. [`SETTING_NEW_WINDOW_MINUTES`]).
    ///
    /// # Errors
    /// As [`LedgerStore::apply`].
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.call(|reply| Command::SetSetting { key: key.to_string(), value: value.to_string(), reply }).await
    }

    /// Records `manifest`, the run's `runs/<run_id>/manifest.json` as the runtime wrote it (its events.jsonl
    /// byte range, code version, ...), on the run's row (`runs.run_manifest_json`), replacing an earlier one
    /// (a continuous run's checkpoints). Returns false when the ledger has no row for the run yet (its
    /// `run.started` not applied): nothing is recorded then.
    ///
    /// # Errors
    /// As [`LedgerStore::apply`]; [`LedgerError::Json`] never in practice.
    pub async fn record_run_manifest(&self, run_id: &str, manifest: &serde_json::Value) -> Result<bool> {
        let manifest_json = serde_json::to_string(manifest)?;
        let rows = self.call(|reply| Command::RunManifest { run_id: run_id.to_string(), manifest_json, reply }).await?;
        Ok(rows > 0)
    }

    /// Up to `limit` derived events not yet published, oldest first (re-publish after a crash).
    ///
    /// # Errors
    /// See [`SqliteReader::pending_outbox`].
    pub async fn pending_outbox(&self, limit: u32) -> Result<Vec<Envelope>> {
        self.reader.pending_outbox(limit).await
    }
}
