//! The recorder service: a durable pull consumer on `nl.evt.>` that appends each fetched batch to the
//! [`EventLog`] and acks the batch only after the write (and, under the default policy, the fsync).
//!
//! * An undecodable payload is poison: it is terminated (dead-lettered by the bus) with the decode
//!   error as reason, and counted. It is never written.
//! * A failed append naks the batch with a delay, so the bus redelivers it; the log's rollback and
//!   id set make the retry write each event once.
//! * Shutdown is checked between batches only: a fetched batch is always written and settled first.
//!
//! The consumer loop is the `nl-bus` handler kernel; the recorder is a [`BatchHandler`] (one append per
//! batch). File I/O runs on the blocking pool, one batch at a time, so fsync never stalls the async
//! workers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nl_bus::handler::{DROPPED_HELP, ERRORS_HELP};
use nl_bus::{
    BatchHandler, CancellationToken, Consumer, ConsumerConfig, ConsumerSpec, ConsumerStats, Item, Message, Outcome, Payload, Registry,
    ServiceCtx,
};
use nl_domain::Envelope;
use serde::{Deserialize, Serialize};
use tracing::{Span, info, warn};

use crate::error::RecorderError;
use crate::log::{Appendable, DEFAULT_EVENTS_PATH, EventLog, FsyncPolicy};

/// Subjects the recorder mirrors.
pub const EVENTS_FILTER: &str = "nl.evt.>";
/// Largest accepted `batch_size` (invariant 8: every batch has a bound).
pub const MAX_BATCH_SIZE: usize = 10_000;
/// Delay before a batch whose append failed is redelivered.
const APPEND_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The service's name (its handle spans are `recorder.handle`).
const SERVICE: &str = "recorder";

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

/// Live counters, shared with whoever holds [`Recorder::stats`]: the kernel's, plus the log's.
#[derive(Debug, Default)]
pub struct RecorderStats {
    consumer: Arc<ConsumerStats>,
    written: AtomicU64,
    duplicates: AtomicU64,
    append_errors: AtomicU64,
}

/// A snapshot of [`RecorderStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
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
        let c = self.consumer.snapshot();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RecorderCounts {
            received: c.received,
            written: get(&self.written),
            duplicates: get(&self.duplicates),
            undecodable: c.undecodable,
            append_errors: get(&self.append_errors),
            settle_errors: c.settle_errors,
        }
    }

    /// The kernel's fixed metric set (events written count as published) plus
    /// `nl_errors_total{stage="append"}` and `nl_dropped_total{reason="duplicate"}`.
    #[allow(clippy::cast_precision_loss)]
    pub fn export(&self, r: &Registry) {
        self.consumer.export(r);
        let c = self.snapshot();
        r.counter_set("nl_errors_total", ERRORS_HELP, &[("stage", "append")], c.append_errors as f64);
        r.counter_set("nl_dropped_total", DROPPED_HELP, &[("reason", "duplicate")], c.duplicates as f64);
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A built recorder, ready to [`run`](Recorder::run).
pub struct Recorder {
    consumer: Consumer<Writer>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("cfg", &self.consumer.handler().cfg).field("consumer", &self.consumer).finish_non_exhaustive()
    }
}

/// The recorder's [`BatchHandler`]: appends a batch to the log, one write (and fsync) per batch.
struct Writer {
    cfg: RecorderConfig,
    /// `None` only while a blocking task holds it, or after that task died.
    log: Mutex<Option<EventLog>>,
    stats: Arc<RecorderStats>,
}

/// Validates `cfg`, opens (and repairs) the log, and binds the durable consumer.
///
/// # Errors
/// [`RecorderError::Config`] for a bad config; the errors of [`EventLog::open`]; [`RecorderError::Bus`]
/// when the consumer cannot be created.
pub async fn build(cfg: RecorderConfig, ctx: ServiceCtx) -> Result<Recorder, RecorderError> {
    cfg.validate()?;
    let (path, policy) = (cfg.path.clone(), cfg.fsync.policy());
    let log = blocking(move || EventLog::open(path, policy)).await?;
    let kernel = ConsumerConfig::new(SERVICE, cfg.consumer_spec(), cfg.batch_size, Duration::from_millis(cfg.fetch_wait_ms));
    let stats = Arc::new(RecorderStats::default());
    let consumer_stats = Arc::clone(&stats.consumer);
    let writer = Writer { cfg, log: Mutex::new(Some(log)), stats };
    Ok(Recorder { consumer: Consumer::bind(ctx.bus, kernel, writer, consumer_stats).await? })
}

impl Recorder {
    /// A handle on the live counters.
    #[must_use]
    pub fn stats(&self) -> Arc<RecorderStats> {
        Arc::clone(&self.consumer.handler().stats)
    }

    /// The effective config.
    #[must_use]
    pub fn config(&self) -> &RecorderConfig {
        &self.consumer.handler().cfg
    }

    /// Fetches, writes and acks batches until `shutdown` is cancelled; the batch in flight when it is
    /// gets finished first. Returns the final counters.
    ///
    /// # Errors
    /// A non-retryable bus error, a log that cannot be reopened after a failed write, or a panicked
    /// file task. Retryable bus errors are logged and retried.
    pub async fn run(self, shutdown: CancellationToken) -> Result<RecorderCounts, RecorderError> {
        let cfg = self.config();
        info!(durable = %cfg.durable, path = %cfg.path.display(), "Recorder running.");
        let writer = self.consumer.run(shutdown).await?;
        if !matches!(writer.cfg.fsync, FsyncConfig::Never) {
            writer.with_log(EventLog::sync).await?;
        }
        let counts = writer.stats.snapshot();
        info!(?counts, "Recorder stopped.");
        Ok(counts)
    }
}

nl_bus::impl_service!(Recorder, SERVICE, durables = |s| vec![s.consumer.durable().to_owned()], stats = |s| s.stats());

/// A delivered event: the envelope (shared with the bus and the other consumers when the payload is
/// typed, parsed when it is bytes), and a typed payload, whose JSON (written once, shared) is the line.
struct Delivered {
    env: Arc<Envelope>,
    typed: Option<Payload>,
}

impl Appendable for Delivered {
    fn envelope(&self) -> &Envelope {
        &self.env
    }

    fn json(&self) -> Option<&[u8]> {
        self.typed.as_ref().map(|p| &p.as_bytes()[..])
    }
}

impl BatchHandler for Writer {
    type Input = Delivered;
    type Error = RecorderError;

    fn decode(&self, msg: &Message, _span: &Span) -> Result<Delivered, String> {
        let env = msg.payload.to_envelope().map_err(|e| format!("undecodable envelope: {e}"))?;
        Ok(Delivered { env, typed: msg.payload.is_typed().then(|| msg.payload.clone()) })
    }

    /// Appends the batch; on a failed append every delivery is retried after a delay (the log's
    /// rollback and id set make the retry write each event once).
    async fn handle_batch(&self, items: Vec<Item<Delivered>>) -> Result<Vec<Outcome>, RecorderError> {
        let n = items.len();
        let envelopes: Vec<Delivered> = items.into_iter().map(|i| i.input).collect();
        match self.with_log(move |log| log.append_batch(&envelopes)).await {
            Ok(out) => {
                RecorderStats::add(&self.stats.written, out.written as u64);
                RecorderStats::add(&self.stats.duplicates, out.duplicates as u64);
                ConsumerStats::add(&self.stats.consumer.published, out.written);
                Ok((0..n).map(|_| Outcome::Done(Vec::new())).collect())
            }
            Err(RecorderError::Task(reason)) => Err(RecorderError::Task(reason)),
            Err(error) => {
                RecorderStats::add(&self.stats.append_errors, 1);
                warn!(%error, events = n, "Append failed; nak'ing the batch for redelivery.");
                let reason = format!("append failed: {error}");
                if matches!(error, RecorderError::Poisoned { .. }) {
                    self.reopen().await?;
                }
                Ok((0..n).map(|_| Outcome::retry(Some(APPEND_RETRY_DELAY), reason.clone())).collect())
            }
        }
    }

    /// Under an interval policy, an idle moment is when pending bytes get synced.
    async fn idle(&self) -> Result<(), RecorderError> {
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
}

impl Writer {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<EventLog>> {
        // The slot only ever holds the log or nothing; a panicked holder cannot leave it half-written.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops the log and opens it again, which repairs whatever a failed write left behind.
    async fn reopen(&self) -> Result<(), RecorderError> {
        drop(self.slot().take());
        let (path, policy) = (self.cfg.path.clone(), self.cfg.fsync.policy());
        let log = blocking(move || EventLog::open(path, policy)).await?;
        *self.slot() = Some(log);
        info!(path = %self.cfg.path.display(), "Events log reopened after a failed write.");
        Ok(())
    }

    /// Runs `f` on the log on the blocking pool.
    async fn with_log<T, F>(&self, f: F) -> Result<T, RecorderError>
    where
        T: Send + 'static,
        F: FnOnce(&mut EventLog) -> Result<T, RecorderError> + Send + 'static,
    {
        let mut log = self.slot().take().ok_or_else(|| RecorderError::Task("events log lost by an earlier failed task".to_string()))?;
        let (log, result) = blocking(move || {
            let r = f(&mut log);
            Ok((log, r))
        })
        .await?;
        *self.slot() = Some(log);
        result
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, RecorderError> + Send + 'static) -> Result<T, RecorderError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| RecorderError::Task(e.to_string()))?
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
}
