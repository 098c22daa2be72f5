//! The recorder service: a durable pull consumer on `nl.evt.>` that appends each fetched batch to the
//! [`EventLog`] and acks the batch only after the write (and, under the default policy, the fsync).
//!
//! * An undecodable payload is poison: it is terminated (dead-lettered by the bus) with the decode
//!   error as reason, and counted. It is never written.
//! * A failed append naks the batch with a delay, so the bus redelivers it; the log's rollback and
//!   id set make the retry write each event once.
//! * Shutdown is checked between batches only: a fetched batch is always written and settled first.
//!
//! File I/O runs on the blocking pool, one batch at a time, so fsync never stalls the async workers.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nl_bus::{Bus, ConsumerSpec, Delivery, Subscription};
use nl_domain::Envelope;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::error::RecorderError;
use crate::log::{DEFAULT_EVENTS_PATH, EventLog, FsyncPolicy};

/// Subjects the recorder mirrors.
pub const EVENTS_FILTER: &str = "nl.evt.>";
/// Largest accepted `batch_size` (invariant 8: every batch has a bound).
pub const MAX_BATCH_SIZE: usize = 10_000;
/// Delay before a batch whose append failed is redelivered.
const APPEND_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Bytes of an undecodable payload kept in logs and term reasons.
const PREVIEW_BYTES: usize = 200;

/// `[recorder]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecorderConfig {
    /// The events log. Default `out/research/new_listings/events.jsonl`.
    pub path: PathBuf,
    /// `"per_batch"` (default), `"never"`, or `{ interval_ms = N }`.
    pub fsync: FsyncConfig,
    /// Deliveries fetched and written per batch (1..=10,000). Default 256.
    pub batch_size: usize,
    /// Durable consumer name. Default `recorder`.
    pub durable: String,
    /// How long one fetch waits for messages. Default 500 ms.
    pub fetch_wait_ms: u64,
    /// Consumer `ack_wait`. Default 30,000 ms.
    pub ack_wait_ms: u64,
    /// Consumer `max_deliver`. Default 5.
    pub max_deliver: u32,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from(DEFAULT_EVENTS_PATH),
            fsync: FsyncConfig::PerBatch,
            batch_size: 256,
            durable: "recorder".to_string(),
            fetch_wait_ms: 500,
            ack_wait_ms: 30_000,
            max_deliver: 5,
        }
    }
}

impl RecorderConfig {
    /// The consumer spec this config asks for.
    #[must_use]
    pub fn consumer_spec(&self) -> ConsumerSpec {
        ConsumerSpec::tuned(self.durable.clone(), EVENTS_FILTER, self.ack_wait_ms, self.max_deliver, self.batch_size)
    }

    /// Checks the bounds serde cannot express.
    ///
    /// # Errors
    /// [`RecorderError::Config`] naming the offending key.
    pub fn validate(&self) -> Result<(), RecorderError> {
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return Err(RecorderError::Config(format!("batch_size must be 1..={MAX_BATCH_SIZE}, got {}", self.batch_size)));
        }
        if self.fetch_wait_ms == 0 {
            return Err(RecorderError::Config("fetch_wait_ms must be positive".to_string()));
        }
        if self.path.as_os_str().is_empty() {
            return Err(RecorderError::Config("path must not be empty".to_string()));
        }
        self.consumer_spec().validate()?;
        Ok(())
    }
}

/// The fsync policy as written in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "FsyncRepr", into = "FsyncRepr")]
pub enum FsyncConfig {
    /// `"per_batch"`.
    #[default]
    PerBatch,
    /// `"never"`.
    Never,
    /// `{ interval_ms = N }`, N > 0.
    Interval { interval_ms: u64 },
}

impl FsyncConfig {
    /// The log policy.
    #[must_use]
    pub fn policy(self) -> FsyncPolicy {
        match self {
            Self::PerBatch => FsyncPolicy::PerBatch,
            Self::Never => FsyncPolicy::Never,
            Self::Interval { interval_ms } => FsyncPolicy::Interval(Duration::from_millis(interval_ms)),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged, expecting = "\"per_batch\", \"never\" or { interval_ms = <milliseconds> }")]
enum FsyncRepr {
    Named(FsyncName),
    Interval(IntervalRepr),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FsyncName {
    PerBatch,
    Never,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntervalRepr {
    interval_ms: u64,
}

impl TryFrom<FsyncRepr> for FsyncConfig {
    type Error = String;
    fn try_from(r: FsyncRepr) -> Result<Self, String> {
        match r {
            FsyncRepr::Named(FsyncName::PerBatch) => Ok(Self::PerBatch),
            FsyncRepr::Named(FsyncName::Never) => Ok(Self::Never),
            FsyncRepr::Interval(IntervalRepr { interval_ms: 0 }) => Err("fsync interval_ms must be positive (use \"per_batch\")".to_string()),
            FsyncRepr::Interval(IntervalRepr { interval_ms }) => Ok(Self::Interval { interval_ms }),
        }
    }
}

impl From<FsyncConfig> for FsyncRepr {
    fn from(c: FsyncConfig) -> Self {
        match c {
            FsyncConfig::PerBatch => Self::Named(FsyncName::PerBatch),
            FsyncConfig::Never => Self::Named(FsyncName::Never),
            FsyncConfig::Interval { interval_ms } => Self::Interval(IntervalRepr { interval_ms }),
        }
    }
}

/// Live counters, shared with whoever holds [`Recorder::stats`].
#[derive(Debug, Default)]
pub struct RecorderStats {
    received: AtomicU64,
    written: AtomicU64,
    duplicates: AtomicU64,
    undecodable: AtomicU64,
    append_errors: AtomicU64,
    settle_errors: AtomicU64,
}

/// A snapshot of [`RecorderStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecorderCounts {
    /// Deliveries fetched.
    pub received: u64,
    /// Events written to the log.
    pub written: u64,
    /// Events skipped because their id was already written (redeliveries, republishes).
    pub duplicates: u64,
    /// Payloads that were not envelopes, terminated.
    pub undecodable: u64,
    /// Batches whose append failed and were nak'ed.
    pub append_errors: u64,
    /// Acks, naks or terms the bus refused (the bus redelivers; dedup absorbs it).
    pub settle_errors: u64,
}

impl RecorderStats {
    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> RecorderCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RecorderCounts {
            received: get(&self.received),
            written: get(&self.written),
            duplicates: get(&self.duplicates),
            undecodable: get(&self.undecodable),
            append_errors: get(&self.append_errors),
            settle_errors: get(&self.settle_errors),
        }
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A built recorder, ready to [`run`](Recorder::run).
pub struct Recorder {
    cfg: RecorderConfig,
    /// `None` only while a blocking task holds it, or after that task died.
    log: Option<EventLog>,
    sub: Box<dyn Subscription>,
    stats: Arc<RecorderStats>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("cfg", &self.cfg).field("log", &self.log).finish_non_exhaustive()
    }
}

/// Validates `cfg`, opens (and repairs) the log, and binds the durable consumer.
///
/// # Errors
/// [`RecorderError::Config`] for a bad config; the errors of [`EventLog::open`]; [`RecorderError::Bus`]
/// when the consumer cannot be created.
pub async fn build(cfg: RecorderConfig, bus: Arc<dyn Bus>) -> Result<Recorder, RecorderError> {
    cfg.validate()?;
    let (path, policy) = (cfg.path.clone(), cfg.fsync.policy());
    let log = blocking(move || EventLog::open(path, policy)).await?;
    let sub = bus.subscribe(cfg.consumer_spec()).await?;
    Ok(Recorder { cfg, log: Some(log), sub, stats: Arc::new(RecorderStats::default()) })
}

impl Recorder {
    /// A handle on the live counters.
    #[must_use]
    pub fn stats(&self) -> Arc<RecorderStats> {
        Arc::clone(&self.stats)
    }

    /// The effective config.
    #[must_use]
    pub fn config(&self) -> &RecorderConfig {
        &self.cfg
    }

    /// Fetches, writes and acks batches until `shutdown` completes; the batch in flight when it does
    /// is finished first. Returns the final counters.
    ///
    /// # Errors
    /// A non-retryable bus error, a log that cannot be reopened after a failed write, or a panicked
    /// file task. Retryable bus errors are logged and retried.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<RecorderCounts, RecorderError> {
        tokio::pin!(shutdown);
        let wait = Duration::from_millis(self.cfg.fetch_wait_ms);
        info!(durable = %self.cfg.durable, path = %self.cfg.path.display(), "Recorder running.");
        while let Some(batch) = nl_bus::next_batch(&mut *self.sub, self.cfg.batch_size, wait, shutdown.as_mut()).await? {
            if batch.is_empty() {
                self.idle_sync().await?;
            } else {
                self.handle(batch).await?;
            }
        }
        if !matches!(self.cfg.fsync, FsyncConfig::Never) {
            self.with_log(EventLog::sync).await?;
        }
        let counts = self.stats.snapshot();
        info!(?counts, "Recorder stopped.");
        Ok(counts)
    }

    /// Decodes, appends, then settles one fetched batch.
    async fn handle(&mut self, batch: Vec<Delivery>) -> Result<(), RecorderError> {
        RecorderStats::add(&self.stats.received, batch.len() as u64);
        let mut decoded = Vec::with_capacity(batch.len());
        let mut envelopes = Vec::with_capacity(batch.len());
        for d in batch {
            match Envelope::from_json(&d.message.payload) {
                Ok(env) => {
                    envelopes.push(env);
                    decoded.push(d);
                }
                Err(error) => {
                    RecorderStats::add(&self.stats.undecodable, 1);
                    let preview = preview(&d.message.payload);
                    warn!(subject = %d.message.subject, sequence = d.sequence, %error, payload = %preview, "Undecodable event; terminating.");
                    let reason = format!("undecodable envelope: {error}; payload starts {preview}");
                    if let Err(error) = d.term(&reason).await {
                        RecorderStats::add(&self.stats.settle_errors, 1);
                        warn!(%error, sequence = d.sequence, "Term failed; the bus will redeliver.");
                    }
                }
            }
        }
        if envelopes.is_empty() {
            return Ok(());
        }

        match self.with_log(move |log| log.append_batch(&envelopes)).await {
            Ok(out) => {
                RecorderStats::add(&self.stats.written, out.written as u64);
                RecorderStats::add(&self.stats.duplicates, out.duplicates as u64);
                let acks = futures::future::join_all(decoded.iter().map(Delivery::ack)).await;
                self.count_settle_failures(acks, "Ack");
                Ok(())
            }
            Err(RecorderError::Task(reason)) => Err(RecorderError::Task(reason)),
            Err(error) => {
                RecorderStats::add(&self.stats.append_errors, 1);
                warn!(%error, events = decoded.len(), "Append failed; nak'ing the batch for redelivery.");
                let reason = format!("append failed: {error}");
                let naks = futures::future::join_all(decoded.iter().map(|d| d.nak(Some(APPEND_RETRY_DELAY), &reason))).await;
                self.count_settle_failures(naks, "Nak");
                if matches!(error, RecorderError::Poisoned { .. }) {
                    self.reopen().await?;
                }
                Ok(())
            }
        }
    }

    fn count_settle_failures(&self, results: Vec<Result<(), nl_bus::BusError>>, what: &str) {
        let failed: Vec<_> = results.into_iter().filter_map(Result::err).collect();
        if let Some(error) = failed.first() {
            RecorderStats::add(&self.stats.settle_errors, failed.len() as u64);
            warn!(%error, failed = failed.len(), "{what} failed; the bus will redeliver and dedup absorbs it.");
        }
    }

    /// Under an interval policy, an idle moment is when pending bytes get synced.
    async fn idle_sync(&mut self) -> Result<(), RecorderError> {
        if matches!(self.cfg.fsync, FsyncConfig::Interval { .. })
            && let Err(error) = self.with_log(EventLog::sync).await
        {
            if matches!(error, RecorderError::Task(_)) {
                return Err(error);
            }
            warn!(%error, "Idle fsync failed.");
        }
        Ok(())
    }

    /// Drops the log and opens it again, which repairs whatever a failed write left behind.
    async fn reopen(&mut self) -> Result<(), RecorderError> {
        drop(self.log.take());
        let (path, policy) = (self.cfg.path.clone(), self.cfg.fsync.policy());
        self.log = Some(blocking(move || EventLog::open(path, policy)).await?);
        info!(path = %self.cfg.path.display(), "Events log reopened after a failed write.");
        Ok(())
    }

    /// Runs `f` on the log on the blocking pool.
    async fn with_log<T, F>(&mut self, f: F) -> Result<T, RecorderError>
    where
        T: Send + 'static,
        F: FnOnce(&mut EventLog) -> Result<T, RecorderError> + Send + 'static,
    {
        let mut log = self.log.take().ok_or_else(|| RecorderError::Task("events log lost by an earlier failed task".to_string()))?;
        let (log, result) = blocking(move || {
            let r = f(&mut log);
            Ok((log, r))
        })
        .await?;
        self.log = Some(log);
        result
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, RecorderError> + Send + 'static) -> Result<T, RecorderError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| RecorderError::Task(e.to_string()))?
}

fn preview(payload: &[u8]) -> String {
    let cut = &payload[..payload.len().min(PREVIEW_BYTES)];
    let mut s: String = String::from_utf8_lossy(cut).into_owned();
    if payload.len() > PREVIEW_BYTES {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Wrapper {
        recorder: RecorderConfig,
    }

    fn parse(toml_text: &str) -> Result<RecorderConfig, toml::de::Error> {
        toml::from_str::<Wrapper>(toml_text).map(|w| w.recorder)
    }

    #[test]
    fn defaults_fill_missing_keys() {
        let c = parse("[recorder]\n").unwrap();
        assert_eq!(c, RecorderConfig::default());
        assert_eq!(c.path, PathBuf::from("out/research/new_listings/events.jsonl"));
        assert_eq!(c.durable, "recorder");
        assert_eq!(c.fsync.policy(), FsyncPolicy::PerBatch);
        c.validate().unwrap();
    }

    #[test]
    fn fsync_forms() {
        assert_eq!(parse("[recorder]\nfsync = \"never\"").unwrap().fsync, FsyncConfig::Never);
        assert_eq!(parse("[recorder]\nfsync = \"per_batch\"").unwrap().fsync, FsyncConfig::PerBatch);
        let c = parse("[recorder]\nfsync = { interval_ms = 250 }").unwrap();
        assert_eq!(c.fsync.policy(), FsyncPolicy::Interval(Duration::from_millis(250)));
        for bad in ["fsync = \"sometimes\"", "fsync = { interval_ms = 0 }", "fsync = { interval_ms = 5, jitter = 1 }", "fsync = 5"] {
            assert!(parse(&format!("[recorder]\n{bad}")).is_err(), "{bad} should be rejected");
        }
        // Round trip through serde keeps the written form.
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["fsync"], serde_json::json!({ "interval_ms": 250 }));
        assert_eq!(serde_json::to_value(RecorderConfig::default()).unwrap()["fsync"], "per_batch");
    }

    #[test]
    fn unknown_keys_and_bad_bounds_are_rejected() {
        assert!(parse("[recorder]\nbatchsize = 3").is_err());
        let zero = parse("[recorder]\nbatch_size = 0").unwrap();
        assert!(matches!(zero.validate(), Err(RecorderError::Config(m)) if m.contains("batch_size")));
        let huge = RecorderConfig { batch_size: MAX_BATCH_SIZE + 1, ..RecorderConfig::default() };
        assert!(huge.validate().is_err());
        let bad_name = RecorderConfig { durable: "a.b".to_string(), ..RecorderConfig::default() };
        assert!(bad_name.validate().is_err());
    }

    #[test]
    fn preview_is_bounded() {
        assert_eq!(preview(b"abc"), "abc");
        let long = vec![b'x'; 1000];
        assert_eq!(preview(&long).len(), PREVIEW_BYTES + 3);
    }
}
