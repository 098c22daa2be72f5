//! The enricher's [`BatchHandler`]: a fetched batch of observations in, per observation its upsert and
//! (for the first observation of an asset that gets one) its snapshot out, with the provider responses
//! they used as raw captures.
//!
//! The snapshots do not go out with the batch: once its raw captures and upserts are published they join
//! the open round (`crate::round`), which publishes one merged snapshot per asset when it closes.
//!
//! A batch is handled as one because its lookups are shared: DexScreener pairs are asked for up to 30
//! addresses per call and a CEX asset gets one ticker lookup per batch. Each output still belongs to
//! the observation it came from (so it continues that observation's trace); a pair response that served
//! several observations goes with the first of them. The assets join the tracked set only once the
//! batch's outputs are published.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{MutexGuard, PoisonError};
use std::time::Duration;

use nl_bus::{BatchHandler, Item, Message, Outcome};
use nl_bus::raw_messages;
use nl_domain::{AssetId, Body, ChangeKind, Envelope, EventType, ListingObservation, RawEvent, Snapshot};
use tokio::time::Instant;
use tracing::{Span, debug, warn};

use crate::change::MarketFacts;
use crate::error::EnricherError;
use crate::normalize::{asset_of, upsert_envelope};
use crate::round::TokenText;
use crate::schedule::Tracked;
use crate::service::{Core, Enriching};
use crate::snapshot::{carried_snapshot, cex_age_snapshot, cex_snapshot, no_data_snapshot, pool_snapshot, snapshot_envelope};
use crate::stats::{Dropped, EnricherStats, Stage};
use nl_adapters::cex::ticker_client::TickerRef;

/// What a batch leaves to do once its outputs are published: track its assets and count its snapshots.
#[derive(Default)]
pub(crate) struct AfterPublish {
    observations: Vec<ListingObservation>,
    initial: HashMap<AssetId, Snapshot>,
    cex_pairs: HashMap<AssetId, TickerRef>,
    /// Per non-retracted observation, what it adds to the open round.
    round: Vec<RoundEntry>,
    /// Launches younger than `enrich_after_secs`: tracked, first enriched when that old.
    deferred: HashSet<AssetId>,
    /// Tracked launches their source reported active (`enrich_after_trades`): enriched by the next round
    /// if still deferred.
    activated: HashSet<AssetId>,
}

/// What one observation adds to the open round: its asset, source, snapshots, symbol and handling span.
struct RoundEntry {
    asset: AssetId,
    source: String,
    snapshots: Vec<Snapshot>,
    symbol: Option<String>,
    text: TokenText,
    span: Span,
}

/// The outputs of one observation before encoding.
#[derive(Default)]
struct Outputs {
    raws: Vec<RawEvent>,
    upsert: Option<Envelope>,
    snapshots: Vec<Snapshot>,
}

impl BatchHandler for Enriching {
    type Input = ListingObservation;
    type Error = EnricherError;

    fn decode(&self, msg: &nl_bus::Message, span: &Span) -> Result<ListingObservation, String> {
        let (reason, why) = match decode(msg) {
            Ok(obs) => {
                span.record("asset_id", asset_of(&obs).to_string());
                return Ok(obs);
            }
            Err(failed) => failed,
        };
        self.0.stats.drop_one(reason, 1);
        self.0.stats.error(Stage::Decode);
        Err(why)
    }

    async fn handle_batch(&self, items: Vec<Item<ListingObservation>>) -> Result<Vec<Outcome>, EnricherError> {
        let (observations, spans): (Vec<ListingObservation>, Vec<Span>) = items.into_iter().map(|i| (i.input, i.span)).unzip();
        let core = &self.0;
        let mut out: Vec<Outputs> = observations.iter().map(|_| Outputs::default()).collect();
        let mut symbols: HashMap<AssetId, String> = HashMap::new();
        let mut texts: HashMap<AssetId, TokenText> = HashMap::new();
        let mut need_fetch: Vec<(usize, AssetId)> = Vec::new();
        // One snapshot per CEX asset and batch: from its first observation with a looked-up pair, else its first.
        let mut cex: BTreeMap<AssetId, (usize, Option<TickerRef>)> = BTreeMap::new();
        let mut deferred: HashSet<AssetId> = HashSet::new();
        let mut activated: HashSet<AssetId> = HashSet::new();
        for (i, obs) in observations.iter().enumerate() {
            // An activity report is not a sighting: no upsert.
            let activity = obs.activity().is_some();
            match upsert_envelope(obs, &core.run.run_id, &core.run.config_hash) {
                Ok(_) if activity => {}
                Ok(env) => out[i].upsert = Some(env),
                Err(error) => warn!(%error, "Encoding an upsert failed."),
            }
            let asset = asset_of(obs);
            if !obs.symbol.is_empty() {
                symbols.insert(asset.clone(), obs.symbol.clone());
            }
            texts.entry(asset.clone()).or_default().update(&TokenText::of(obs.name.as_deref(), obs.details.get("description").and_then(serde_json::Value::as_str)));
            if obs.change == ChangeKind::Retracted {
                continue;
            }
            // A tracked launch reported active is left to the schedule (see `track_all`); without the
            // trigger configured the report is only recorded. An untracked one (e.g. after a restart) is
            // enriched now like any observation.
            if activity && (core.cfg.enrich_after_trades == 0 || deferred.contains(&asset) || core.schedule().contains(&asset)) {
                activated.insert(asset);
                continue;
            }
            if core.defers(obs, &asset) {
                deferred.insert(asset);
                continue;
            }
            if let Some(s) = carried_snapshot(obs, &asset) {
                out[i].snapshots.push(s);
            } else if matches!(asset, AssetId::Chain { .. }) {
                if core.pairs.is_some() {
                    need_fetch.push((i, asset));
                }
            } else {
                let pair = core.ticker_pair(obs);
                match cex.get(&asset) {
                    Some((_, Some(_))) => {}
                    Some((_, None)) if pair.is_none() => {}
                    _ => {
                        cex.insert(asset, (i, pair));
                    }
                }
            }
        }
        let mut cex_pairs: HashMap<AssetId, TickerRef> = HashMap::new();
        for (asset, (i, pair)) in cex {
            let obs = &observations[i];
            let mut snap = cex_age_snapshot(obs, &asset, obs.emitted_at);
            if let Some(pair) = pair {
                let s = snap.get_or_insert_with(|| cex_snapshot(&asset, obs.emitted_at, None, obs.raw_event_id.clone()));
                core.add_ticker(s, &pair, &mut out[i].raws).await;
                cex_pairs.insert(asset, pair);
            }
            out[i].snapshots.extend(snap);
        }
        let wanted: Vec<AssetId> = need_fetch.iter().map(|(_, a)| a.clone()).collect();
        if let Some((first, _)) = need_fetch.first() {
            let found = core.fetch_best_pools(&wanted, &mut out[*first].raws).await;
            for (i, asset) in &need_fetch {
                let obs = &observations[*i];
                if let Some((pool, raw_id)) = found.get(asset) {
                    if let Some(sym) = &pool.base_token.symbol {
                        symbols.entry(asset.clone()).or_insert_with(|| sym.clone());
                    }
                    let t = texts.entry(asset.clone()).or_default();
                    let of_pool = TokenText::of_token(&pool.base_token);
                    if t.name.is_none() {
                        t.name = of_pool.name;
                    }
                    t.decimals = t.decimals.or(of_pool.decimals);
                    match pool_snapshot(pool, obs.emitted_at, raw_id.clone(), obs.source_published_at) {
                        Ok(s) => out[*i].snapshots.push(s),
                        Err(error) => warn!(asset = %asset, %error, "Pool snapshot failed."),
                    }
                } else {
                    debug!(asset = %asset, "No DexScreener pair yet; the schedule will look again.");
                }
            }
        }
        // Every observed asset is evaluated: one that no source gave market data for gets a snapshot saying so.
        let mut covered: HashSet<AssetId> = out.iter().flat_map(|o| o.snapshots.iter().map(|s| s.asset_id.clone())).collect();
        for (i, obs) in observations.iter().enumerate().filter(|(_, o)| o.change != ChangeKind::Retracted) {
            let asset = asset_of(obs);
            if !covered.contains(&asset) && !deferred.contains(&asset) && !activated.contains(&asset) {
                out[i].snapshots.push(no_data_snapshot(obs, &asset));
                covered.insert(asset);
            }
        }
        EnricherStats::add(&core.stats.deferred, deferred.len());
        if core.cfg.enrich_after_trades == 0 {
            activated.clear();
        }
        let mut after = AfterPublish { cex_pairs, deferred, activated, ..AfterPublish::default() };
        let outcomes = out
            .into_iter()
            .zip(observations.iter().zip(spans))
            .map(|(o, (obs, span))| {
                after.initial.extend(o.snapshots.iter().map(|s| (s.asset_id.clone(), s.clone())));
                let encoded = core.encode(o.raws, o.upsert, &[], &symbols).map_or_else(|e| Outcome::poison(e.to_string()), Outcome::Done);
                if obs.change != ChangeKind::Retracted {
                    let asset = asset_of(obs);
                    let symbol = symbols.get(&asset).cloned();
                    let text = texts.get(&asset).cloned().unwrap_or_default();
                    after.round.push(RoundEntry { asset, source: obs.source.clone(), snapshots: o.snapshots, symbol, text, span });
                }
                encoded
            })
            .collect();
        after.observations = observations;
        *self.pending() = Some(after);
        Ok(outcomes)
    }

    fn after_publish(&self, published: bool) {
        let Some(after) = self.pending().take() else { return };
        if !published {
            return;
        }
        {
            let mut rounds = self.0.rounds();
            for e in &after.round {
                rounds.remember_text(&e.asset, &e.text);
                rounds.add(&e.asset, Some(&e.source), e.snapshots.clone(), e.symbol.as_deref(), &e.span);
            }
        }
        if self.0.tracking() {
            self.0.track_all(&after);
        }
    }
}

impl Enriching {
    fn pending(&self) -> MutexGuard<'_, Option<AfterPublish>> {
        // Set by one batch, taken once its outputs are published; a panicked holder leaves at worst nothing.
        self.1.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Core {
    /// The messages of one observation (or one scheduler round): raw captures, then the upsert, then
    /// snapshots (named with the symbols seen).
    pub(crate) fn encode(
        &self,
        raws: Vec<RawEvent>,
        events: impl IntoIterator<Item = Envelope>,
        snapshots: &[Snapshot],
        symbols: &HashMap<AssetId, String>,
    ) -> Result<Vec<Message>, EnricherError> {
        let mut msgs = raw_messages(&raws, &self.run);
        msgs.extend(events.into_iter().map(Message::typed));
        for s in snapshots {
            let env = snapshot_envelope(s, symbols.get(&s.asset_id).map(String::as_str), &self.run.run_id, &self.run.config_hash)
                .map_err(|e| EnricherError::Encode { what: "snapshot", error: e.to_string() })?;
            msgs.push(Message::typed(env));
        }
        Ok(msgs)
    }

    /// Adds a published batch's on-chain assets, and its CEX assets with a looked-up pair, to the tracked
    /// set (first re-snapshot one tier after now).
    fn track_all(&self, after: &AfterPublish) {
        let now_ts = self.clock.now();
        let now = Instant::now();
        let mut added = false;
        let mut sched = self.schedule();
        for obs in after.observations.iter().filter(|o| o.change != ChangeKind::Retracted) {
            let asset = asset_of(obs);
            let pair = after.cex_pairs.get(&asset).cloned();
            if pair.is_none() && !matches!(asset, AssetId::Chain { .. }) {
                continue;
            }
            let born = after
                .initial
                .get(&asset)
                .and_then(|s| s.age_minutes.map(|a| s.observed_at - chrono::Duration::minutes(a)))
                .or(obs.source_published_at)
                .unwrap_or(obs.first_observed_at);
            let age = (now_ts - born).to_std().unwrap_or_default();
            let initial = after.initial.get(&asset).map(MarketFacts::of);
            let tracked = sched.track(asset.clone(), age, now, pair);
            if after.deferred.contains(&asset) && !sched.was_published(&asset) {
                let wait = Duration::from_secs(self.cfg.enrich_after_secs).saturating_sub(age);
                sched.defer(&asset, now + wait);
            }
            // Every published first snapshot is the baseline its asset's re-snapshots are compared with.
            if let Some(facts) = initial {
                sched.published(&asset, facts, now);
            }
            match tracked {
                Tracked::Added { evicted } => {
                    added = true;
                    if let Some(old) = evicted {
                        EnricherStats::add(&self.stats.shed_total, 1);
                        self.stats.drop_one(Dropped::Shed, 1);
                        warn!(evicted = %old, bound = self.cfg.max_tracked, "Tracked set full; evicted the oldest-tracked asset.");
                    }
                }
                Tracked::Known | Tracked::TooOld => {}
            }
        }
        // A deferred launch its source reported active is due now: the next round enriches it.
        for asset in &after.activated {
            if !sched.was_published(asset) && sched.defer(asset, now) {
                EnricherStats::add(&self.stats.activated, 1);
                added = true;
            }
        }
        self.stats.tracked.store(sched.len() as u64, std::sync::atomic::Ordering::Relaxed);
        drop(sched);
        if added {
            self.wake.notify_one();
        }
    }
}

/// An observation from a delivered message, or why it is poison.
fn decode(msg: &nl_bus::Message) -> Result<ListingObservation, (Dropped, String)> {
    let env = msg.payload.to_envelope().map_err(|e| (Dropped::Undecodable, format!("undecodable envelope: {e}")))?;
    if !matches!(env.kind, EventType::ListingObserved | EventType::ListingRetracted) {
        return Err((Dropped::UnexpectedType, format!("unexpected event type {} on {}", env.kind, msg.subject)));
    }
    match env.body() {
        Ok(Body::Listing(obs)) => Ok(*obs),
        Ok(_) => Err((Dropped::Undecodable, format!("{} decoded as another body", env.kind))),
        Err(e) => Err((Dropped::Undecodable, format!("meta of {} is not a ListingObservation: {e}", env.kind))),
    }
}
