//! Enrichment rounds: every source's snapshots of an asset are gathered during a round, and when the round
//! closes the asset gets ONE merged `snapshot.recorded` (see [`crate::merge`]), so risk, score and gate
//! evaluate it exactly once per round, from every source's facts.
//!
//! * A snapshot joins the open round once the batch (or scheduler round) that produced it has published
//!   its raw captures and upserts; every observed asset joins it, with a no-data snapshot when no source
//!   gave market data, so every discovered asset is evaluated.
//! * **Who closes a round.** With `[enricher] round_ms > 0` a timer closes it every `round_ms` (`nl serve
//!   enricher`, `nl run`). A [`RoundControl`] closes it on request: `nl run-cycle`, `nl demo` and `nl
//!   rederive` build the enricher with [`RoundControl::explicit`] (no timer), and close the round once the
//!   cycle's (or the replayed run's) observations are drained. A run's round is then exactly its
//!   observations, so its merged views, scores and decisions are a function of its raws, whatever order
//!   the sources' messages arrived in.
//! * The merged snapshot is stamped with its newest member's time and `source` (the members' sources
//!   joined by `+`), so its event id derives from the round's content; `meta.merge` keeps every member
//!   (each source's own values and raw event) and the provenance of each value; `meta.source_count` is the
//!   number of listing sources that observed the asset (as far as the bounded memory reaches).
//! * The token's own text (its `name`, and a `description` where a source gave one) goes on every merged
//!   snapshot as `meta.name` / `meta.description`, re-snapshots included (the last text seen per asset is
//!   remembered, bounded like the sources seen), so the risk-scorer's deterministic `metadata_injection`
//!   rule reads it on every evaluation. It is attacker-controlled: carried as data, never interpreted here.
//! * The open round lives in memory: a crash loses at most one round of evaluations (the assets' next
//!   round evaluates them again); the observations' upserts and raws are already stored.
//! * **Idle assets.** A feeder that outlives any sensible round (a re-derivation of a run of any size)
//!   bounds it with [`RoundControl::close_idle`]: each call starts a new *epoch* and closes the assets
//!   nothing was added to for `keep` epochs, so the open round holds only recently observed assets and
//!   their evaluations flow on while the feeder reads. An asset observed again after it was closed joins
//!   the next round (it gets one more merged snapshot); a feeder that never calls it sees no difference.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use nl_bus::Message;
use nl_domain::{AssetId, BoundedMap, Snapshot};
use tracing::{Span, warn};

use crate::error::EnricherError;
use crate::merge::{MERGE_KEY, Merged, merge};
use crate::service::Core;
use crate::snapshot::snapshot_envelope;
use crate::stats::EnricherStats;

/// One asset's part of the open round.
struct Pending {
    snapshots: Vec<Snapshot>,
    symbol: Option<String>,
    /// The span of the last observation that added to it: the merged snapshot continues its trace.
    span: Span,
    /// The epoch of the last add (see [`RoundControl::close_idle`]).
    epoch: u64,
}

/// A token's own text as a source reported it (attacker-controlled metadata), and its decimals where the
/// source gives them (GeckoTerminal tokens).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TokenText {
    pub(crate) name: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) decimals: Option<u8>,
}

impl TokenText {
    /// The non-empty values of `name` and `description`.
    pub(crate) fn of(name: Option<&str>, description: Option<&str>) -> Self {
        let keep = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        Self { name: keep(name), description: keep(description), decimals: None }
    }

    /// What a pool says of its base token: its name and decimals.
    pub(crate) fn of_token(t: &nl_adapters::dex::TokenRef) -> Self {
        Self { decimals: t.decimals, ..Self::of(t.name.as_deref(), None) }
    }

    fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none() && self.decimals.is_none()
    }

    /// Takes the values `newer` gives; keeps the others.
    pub(crate) fn update(&mut self, newer: &Self) {
        if newer.name.is_some() {
            self.name.clone_from(&newer.name);
        }
        if newer.description.is_some() {
            self.description.clone_from(&newer.description);
        }
        if newer.decimals.is_some() {
            self.decimals = newer.decimals;
        }
    }
}

/// The open round and the listing sources seen per asset.
pub(crate) struct Rounds {
    open: BTreeMap<AssetId, Pending>,
    seen: BoundedMap<AssetId, BTreeSet<String>>,
    /// The latest token text seen per asset (what every merged snapshot of it carries).
    texts: BoundedMap<AssetId, TokenText>,
    /// Advanced by [`RoundControl::close_idle`].
    epoch: u64,
}

impl Rounds {
    pub(crate) fn new(max_assets: usize) -> Self {
        Self { open: BTreeMap::new(), seen: BoundedMap::new(max_assets), texts: BoundedMap::new(max_assets), epoch: 0 }
    }

    /// Remembers the token text a source reported for `asset`; a value it does not give keeps the one seen before.
    pub(crate) fn remember_text(&mut self, asset: &AssetId, text: &TokenText) {
        if text.is_empty() {
            return;
        }
        self.texts.get_or_insert_with(asset.clone(), TokenText::default).update(text);
    }

    /// Adds `snapshots` of `asset` to the open round; `source` is the listing source that observed it
    /// (`None` for a scheduled re-snapshot).
    pub(crate) fn add(&mut self, asset: &AssetId, source: Option<&str>, snapshots: Vec<Snapshot>, symbol: Option<&str>, span: &Span) {
        if let Some(src) = source {
            let seen = self.seen.get_or_insert_with(asset.clone(), BTreeSet::new);
            if !seen.contains(src) {
                seen.insert(src.to_string());
            }
        }
        let epoch = self.epoch;
        let p = self.open.entry(asset.clone()).or_insert_with(|| Pending { snapshots: Vec::new(), symbol: None, span: Span::none(), epoch });
        p.epoch = epoch;
        p.snapshots.extend(snapshots);
        if let Some(sym) = symbol.filter(|s| !s.is_empty()) {
            p.symbol = Some(sym.to_string());
        }
        if !span.is_none() {
            p.span = span.clone();
        }
    }

    /// How many listing sources observed `asset` (at least 1).
    fn source_count(&self, asset: &AssetId) -> u32 {
        self.seen.get(asset).map_or(1, |s| u32::try_from(s.len()).unwrap_or(u32::MAX).max(1))
    }
}

/// Closes the enricher's rounds on request (see the module docs). Cloned handles close the same rounds.
#[derive(Clone, Default)]
pub struct RoundControl {
    explicit: bool,
    cores: Arc<Mutex<Vec<Weak<Core>>>>,
}

impl std::fmt::Debug for RoundControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoundControl").field("explicit", &self.explicit).finish_non_exhaustive()
    }
}

impl RoundControl {
    /// Rounds closed only by [`RoundControl::close`]: the enricher runs no round timer.
    #[must_use]
    pub fn explicit() -> Self {
        Self { explicit: true, ..Self::default() }
    }

    /// Rounds closed by the `round_ms` timer and by [`RoundControl::close`] (e.g. before a final drain).
    #[must_use]
    pub fn timed() -> Self {
        Self::default()
    }

    /// Whether the enricher's timer is off.
    #[must_use]
    pub fn is_explicit(&self) -> bool {
        self.explicit
    }

    fn cores(&self) -> MutexGuard<'_, Vec<Weak<Core>>> {
        // A list of handles; a panicked holder cannot leave it half-written.
        self.cores.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn attach(&self, core: &Arc<Core>) {
        self.cores().push(Arc::downgrade(core));
    }

    /// Closes the open round of every enricher built with this control: publishes one merged snapshot per
    /// asset in it. Returns how many were published.
    ///
    /// # Errors
    /// The publish failed (the round stays open, so a later close publishes it).
    pub async fn close(&self) -> Result<usize, EnricherError> {
        let cores: Vec<Arc<Core>> = self.cores().iter().filter_map(Weak::upgrade).collect();
        let mut n = 0;
        for core in cores {
            n += core.close_round().await?;
        }
        Ok(n)
    }

    /// Starts a new epoch of every enricher built with this control and closes, in each, the assets of
    /// the open round nothing was added to in the last `keep` epochs (see the module docs). Returns how
    /// many merged snapshots were published.
    ///
    /// # Errors
    /// The publish failed (those assets stay in the open round).
    pub async fn close_idle(&self, keep: u64) -> Result<usize, EnricherError> {
        let cores: Vec<Arc<Core>> = self.cores().iter().filter_map(Weak::upgrade).collect();
        let mut n = 0;
        for core in cores {
            let cutoff = {
                let mut r = core.rounds();
                r.epoch += 1;
                r.epoch.saturating_sub(keep)
            };
            n += core.close_round_where(|p| p.epoch < cutoff).await?;
        }
        Ok(n)
    }

    /// Closes at most `max` assets of the open rounds (the first in asset order), so a feeder can close a
    /// large round a slice at a time with backpressure in between; each closed asset gets the merged
    /// snapshot a whole close would give it. Returns how many assets left the open rounds (0: none is open).
    ///
    /// # Errors
    /// The publish failed (those assets stay in the open round).
    pub async fn close_some(&self, max: usize) -> Result<usize, EnricherError> {
        let cores: Vec<Arc<Core>> = self.cores().iter().filter_map(Weak::upgrade).collect();
        let mut taken = 0;
        for core in cores {
            let left = max.saturating_sub(taken);
            if left == 0 {
                break;
            }
            let (n, _) = core
                .close_round_taking(|open| {
                    let rest = open.keys().nth(left).cloned().map(|k| open.split_off(&k)).unwrap_or_default();
                    std::mem::replace(open, rest)
                })
                .await?;
            taken += n;
        }
        Ok(taken)
    }
}

impl Core {
    pub(crate) fn rounds(&self) -> MutexGuard<'_, Rounds> {
        // Plain map updates; a panicked holder leaves at worst a round that closes with what it has.
        self.rounds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes one merged snapshot per asset of the open round, in asset order, and starts a new round.
    ///
    /// # Errors
    /// The publish failed: the round's snapshots go back into the open round.
    pub(crate) async fn close_round(&self) -> Result<usize, EnricherError> {
        self.close_round_where(|_| true).await
    }

    /// Publishes one merged snapshot per asset of the open round that `close` picks, in asset order; the
    /// others stay open. Returns how many were published.
    ///
    /// # Errors
    /// The publish failed: those snapshots go back into the open round.
    async fn close_round_where(&self, close: impl Fn(&Pending) -> bool) -> Result<usize, EnricherError> {
        let take = |open: &mut BTreeMap<AssetId, Pending>| {
            if open.values().all(&close) {
                std::mem::take(open)
            } else {
                let (closing, kept): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(open).into_iter().partition(|(_, p)| close(p));
                *open = kept;
                closing
            }
        };
        self.close_round_taking(take).await.map(|(_, published)| published)
    }

    /// Publishes one merged snapshot per asset that `take` removes from the open round, in asset order.
    /// Returns how many assets were taken and how many snapshots published.
    ///
    /// # Errors
    /// The publish failed: those snapshots go back into the open round.
    async fn close_round_taking(
        &self,
        take: impl FnOnce(&mut BTreeMap<AssetId, Pending>) -> BTreeMap<AssetId, Pending>,
    ) -> Result<(usize, usize), EnricherError> {
        let (open, counts, texts) = {
            let mut r = self.rounds();
            let open = take(&mut r.open);
            let counts: BTreeMap<AssetId, u32> = open.keys().map(|a| (a.clone(), r.source_count(a))).collect();
            let texts: BTreeMap<AssetId, TokenText> = open.keys().filter_map(|a| r.texts.get(a).map(|t| (a.clone(), t.clone()))).collect();
            (open, counts, texts)
        };
        let taken = open.len();
        if open.is_empty() {
            return Ok((0, 0));
        }
        let mut msgs = Vec::with_capacity(open.len());
        for (asset, p) in &open {
            let Some(Merged { snapshot, info }) = merge(asset, &p.snapshots) else { continue };
            let env = snapshot_envelope(&snapshot, p.symbol.as_deref(), &self.run.run_id, &self.run.config_hash)
                .and_then(|mut env| {
                    if let Some(obj) = env.meta.as_object_mut() {
                        obj.insert("source_count".into(), counts.get(asset).copied().unwrap_or(1).into());
                        obj.insert(MERGE_KEY.into(), serde_json::to_value(&info)?);
                        if let Some(t) = texts.get(asset) {
                            for (k, v) in [("name", &t.name), ("description", &t.description)] {
                                if let Some(v) = v {
                                    obj.insert(k.into(), v.clone().into());
                                }
                            }
                            if let Some(d) = t.decimals {
                                obj.insert("decimals".into(), d.into());
                            }
                        }
                    }
                    Ok(env)
                })
                .map_err(|e| EnricherError::Encode { what: "snapshot", error: e.to_string() })?;
            msgs.push(Message::typed(env).traced(&p.span));
        }
        let n = msgs.len();
        match self.bus.publish_batch(msgs).await {
            Ok(acks) => {
                EnricherStats::add(&self.stats.consumer.published, acks.len());
                EnricherStats::add(&self.stats.consumer.duplicates, acks.iter().filter(|a| a.duplicate).count());
                EnricherStats::add(&self.stats.snapshots, n);
                Ok((taken, n))
            }
            Err(error) => {
                warn!(%error, assets = open.len(), "Publishing a round's merged snapshots failed; they stay in the open round.");
                let mut r = self.rounds();
                for (asset, p) in open {
                    r.add(&asset, None, p.snapshots, p.symbol.as_deref(), &p.span);
                }
                Err(error.into())
            }
        }
    }
}
