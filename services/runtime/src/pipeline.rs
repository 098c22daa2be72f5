//! The embedded pipeline: services as tasks over one bus, stopped together, drained by accounting.
//!
//! Draining checks every durable consumer in pipeline order (upstream first). Once they settle, the
//! enricher's open round is closed (its merged snapshots published) and the pipeline settles again, so a
//! drained pipeline has evaluated everything it was sent. Each service publishes its
//! outputs durably *before* acking its input, so once an upstream consumer shows nothing pending and
//! nothing unacked, everything it will ever send downstream is already counted there. Two clean passes in a
//! row make the answer robust against work that starts between checks.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use nl_bus::{Bus, CancellationToken, ConsumerState, MemoryBus, Service};
use nl_enricher::RoundControl;
use tokio::task::JoinSet;
use tracing::{info, warn};

/// Consumer counters at the end of a drain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub consumers: Vec<(String, ConsumerState)>,
    pub checks: u32,
}

/// Services running as tasks over one bus.
pub struct Pipeline {
    bus: Arc<dyn Bus>,
    durables: Vec<String>,
    cancel: CancellationToken,
    tasks: JoinSet<(String, anyhow::Result<()>)>,
    rounds: Option<RoundControl>,
    /// Compacted on every accounting check (see [`Pipeline::with_compaction`]).
    compact: Option<MemoryBus>,
}

impl Pipeline {
    #[must_use]
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        Self { bus, durables: Vec::new(), cancel: CancellationToken::new(), tasks: JoinSet::new(), rounds: None, compact: None }
    }

    /// Compacts `mem` (drops what every consumer has settled) at every accounting check of a drain or a
    /// backlog wait, so a feeder that runs the bus for a long time (a re-derivation) holds only what is in
    /// flight, not what was handled. Messages are then gone for consumers created later.
    #[must_use]
    pub fn with_compaction(mut self, mem: MemoryBus) -> Self {
        self.compact = Some(mem);
        self
    }

    /// Closes the enricher's rounds through `rounds` when draining.
    #[must_use]
    pub fn with_rounds(mut self, rounds: RoundControl) -> Self {
        self.rounds = Some(rounds);
        self
    }

    /// The bus the services share.
    #[must_use]
    pub fn bus(&self) -> Arc<dyn Bus> {
        Arc::clone(&self.bus)
    }

    /// Spawns a built service; its durables join the drain order (spawn upstream services first).
    pub fn spawn_service(&mut self, service: Box<dyn Service>) {
        self.durables.extend(service.durables());
        let (name, shutdown) = (service.name().to_string(), self.cancel.clone());
        self.tasks.spawn(async move { (name, service.run(shutdown).await.map(drop).map_err(|e| anyhow::anyhow!(e))) });
    }

    /// Waits until every consumer has nothing pending and nothing unacked in two passes in a row, closes
    /// the enricher's open round, and waits again while that round's merged snapshots are evaluated.
    /// `progress` is called about once a second with the total outstanding.
    ///
    /// # Errors
    /// A service task ended early (its error is reported), the round could not be published, or `timeout`
    /// passed with work outstanding.
    pub async fn drain(&mut self, timeout: Duration, mut progress: impl FnMut(u64)) -> anyhow::Result<DrainReport> {
        let report = self.settle_to(0, 2, timeout, &mut progress).await?;
        let Some(rounds) = &self.rounds else { return Ok(report) };
        if rounds.close().await.context("closing the enricher's round")? == 0 {
            return Ok(report);
        }
        self.settle_to(0, 2, timeout, progress).await
    }

    /// Waits until every consumer has nothing pending and nothing unacked in two passes in a row, without
    /// closing the enricher's round (see [`Self::drain`]).
    ///
    /// # Errors
    /// As [`Self::drain`].
    pub async fn settle(&mut self, timeout: Duration) -> anyhow::Result<DrainReport> {
        self.settle_to(0, 2, timeout, |_| {}).await
    }

    /// Waits until at most `limit` deliveries are outstanding over every consumer: backpressure for a
    /// feeder that publishes faster than the pipeline consumes.
    ///
    /// # Errors
    /// As [`Self::drain`].
    pub async fn wait_backlog(&mut self, limit: u64, timeout: Duration) -> anyhow::Result<()> {
        self.settle_to(limit, 1, timeout, |_| {}).await.map(drop)
    }

    /// Polls the consumers until at most `limit` deliveries are outstanding in `passes` checks in a row.
    async fn settle_to(&mut self, limit: u64, passes: u32, timeout: Duration, mut progress: impl FnMut(u64)) -> anyhow::Result<DrainReport> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut clean = 0u32;
        let mut checks = 0u32;
        let mut last_progress = tokio::time::Instant::now();
        let mut step = Duration::from_millis(2);
        loop {
            if let Some(done) = self.tasks.try_join_next() {
                let (name, res) = done.context("service task panicked")?;
                bail!("{} during the cycle", early_exit(&name, res));
            }
            checks += 1;
            if let Some(mem) = &self.compact {
                let _retained = mem.compact();
            }
            let mut states = Vec::with_capacity(self.durables.len());
            let mut outstanding = 0u64;
            for d in &self.durables {
                let st = self.bus.consumer_state(d).await.with_context(|| format!("consumer {d}"))?;
                outstanding += st.num_pending + st.num_ack_pending;
                states.push((d.clone(), st));
            }
            if outstanding <= limit {
                clean += 1;
                if clean >= passes {
                    return Ok(DrainReport { consumers: states, checks });
                }
                continue;
            }
            clean = 0;
            if last_progress.elapsed() >= Duration::from_secs(1) {
                progress(outstanding);
                last_progress = tokio::time::Instant::now();
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("pipeline did not drain within {timeout:?}: {states:?}");
            }
            // Back off between checks; this is the accounting loop's pace, not a wait for a guess.
            tokio::time::sleep(step).await;
            step = (step * 2).min(Duration::from_millis(50));
        }
    }

    /// Resolves when a service ends before it was told to stop (it failed, or exited when it should not
    /// have), with what happened; never resolves while all are running. For long runs that must notice.
    pub async fn exited(&mut self) -> String {
        match self.tasks.join_next().await {
            Some(Ok((name, res))) => early_exit(&name, res),
            Some(Err(e)) => format!("service task failed: {e}"),
            None => std::future::pending().await,
        }
    }

    /// Tells every service to stop and waits for them; returns the services that failed.
    pub async fn stop(mut self) -> Vec<String> {
        self.cancel.cancel();
        let mut failed = Vec::new();
        while let Some(done) = self.tasks.join_next().await {
            match done {
                Ok((name, Ok(()))) => info!(service = %name, "Stopped."),
                Ok((name, Err(e))) => {
                    warn!(service = %name, error = %format!("{e:#}"), "Service failed.");
                    failed.push(format!("{name}: {e:#}"));
                }
                Err(e) => failed.push(format!("task: {e}")),
            }
        }
        failed
    }
}

/// "service <name> stopped: <error, or that it exited>".
fn early_exit(name: &str, res: anyhow::Result<()>) -> String {
    format!("service {name} stopped: {}", res.err().map_or_else(|| "exited".to_string(), |e| format!("{e:#}")))
}
