//! [`EvmLogSource`]: one chain's factory logs (V2 `PairCreated`, V3 `PoolCreated`, V4 `Initialize`,
//! Aerodrome) polled over HTTP JSON-RPC with a durable block cursor, so pairs created while nl was down
//! are backfilled on restart.
//!
//! One poll:
//! 1. `eth_blockNumber`; the safe head is `head - confirmations`.
//! 2. Reorg check: the header of the cursor's last block must still have the stored hash; if not, the
//!    cursor rewinds `reorg_rewind` blocks.
//! 3. `eth_getLogs` over `[next_block, min(safe, next_block + max_blocks_per_poll - 1)]` in chunks of the
//!    learned span, filtered by the factory list and `[[topic0s]]`. A range-cap error halves the span and
//!    re-plans the failed chunk; a single block over the cap, or any other error, stops the scan there.
//! 4. Decode; fetch block headers for timestamps (cached per poll) and to check that each log's block is
//!    still canonical; ERC-20 metadata of new tokens via batched `eth_call`.
//! 5. One `listing.observed` per new (non-quote) token; a log with `removed: true` (whose pool the scan
//!    does not also find live), or a remembered pool that a re-scan no longer finds, yields
//!    `listing.retracted`; pools re-found after a rewind are not re-emitted.
//! 6. The cursor advances to the last fully scanned block, with its hash.
//!
//! Event ids are deterministic (source, pool, asset, change), so a crash between publish and state save
//! re-emits the same ids, which consumers dedupe.
//!
//! [`EvmLogSource::apply_pushed`] runs a log pushed by `eth_subscribe("logs")` through steps 4-5 against
//! the same cursor (see `push::evm`), so push and scan share event ids and report a pool once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nl_domain::{ListingObservation, Ts};
use crate::kit::{BudgetConfig, HttpConfig, HttpSource};
use serde_json::json;
use tracing::warn;

use super::cursor::EvmCursor;
use super::decode::{PoolCreated, decode_log};
use super::erc20::TokenMeta;
use super::observe::to_observations;
use super::quotes::{QuoteSet, new_tokens};
use super::ranges::{halve_span, plan_ranges};
use super::registry::{FactoryRegistry, default_configs};
use super::rpc::{LogFilter, RpcBlockHeader, RpcErrorClass, RpcLog, subscribe_logs_request};
use super::rpc_client::{RpcCallError, RpcClient};
use crate::source::{PollError, PollOutcome, Source};
use crate::dex::client_util::poll_error;
use crate::dex::config::{DexBuildError, EvmChainConfig};
use crate::dex::pool::ObservationContext;

/// Settings of the scan (the parts of [`EvmChainConfig`] the poll uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSettings {
    pub confirmations: u64,
    pub max_block_span: u64,
    pub max_blocks_per_poll: u64,
    pub start_block: Option<u64>,
    pub reorg_rewind: u64,
    pub fetch_metadata: bool,
    pub max_metadata_per_poll: usize,
}

/// The factory-log source of one EVM chain.
pub struct EvmLogSource {
    name: String,
    chain: String,
    rpc: RpcClient,
    registry: FactoryRegistry,
    filter: LogFilter,
    quotes: QuoteSet,
    settings: ScanSettings,
    interval: Duration,
}

impl std::fmt::Debug for EvmLogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvmLogSource").field("name", &self.name).field("chain", &self.chain).field("factories", &self.registry.len()).finish_non_exhaustive()
    }
}

/// A found pool with the raw `eth_getLogs` response it came from.
struct Found {
    pool: PoolCreated,
    raw_id: String,
}

impl EvmLogSource {
    /// Builds the source.
    ///
    /// # Errors
    /// [`DexBuildError`] for a missing chain or RPC URL, bad factories or quotes, a missing secret env
    /// var, or a bad budget.
    pub fn from_config(cfg: &EvmChainConfig, run_id: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, DexBuildError> {
        let name = cfg.source_name();
        let invalid = |reason: &str| DexBuildError::Invalid { source_name: name.clone(), reason: reason.to_string() };
        if cfg.chain.is_empty() || cfg.rpc_url.is_empty() {
            return Err(invalid("`chain` and `rpc_url` are required"));
        }
        if cfg.ws_url.as_deref().is_some_and(|ws| !(ws.starts_with("ws://") || ws.starts_with("wss://"))) {
            return Err(invalid("`ws_url` must start with ws:// or wss://"));
        }
        if cfg.max_block_span == 0 || cfg.max_blocks_per_poll == 0 {
            return Err(invalid("`max_block_span` and `max_blocks_per_poll` must be > 0"));
        }
        let factories = cfg.factories.clone().unwrap_or_else(|| default_configs(&cfg.chain, cfg.include_unconfirmed_factories));
        let registry = FactoryRegistry::new(&cfg.chain, factories).map_err(|error| DexBuildError::Factories { source_name: name.clone(), error })?;
        if registry.is_empty() {
            return Err(invalid("no factories for this chain"));
        }
        let mut quotes = QuoteSet::defaults();
        for q in &cfg.quotes {
            quotes.insert(&cfg.chain, q).map_err(|error| DexBuildError::Factories { source_name: name.clone(), error })?;
        }
        let mut http_cfg = HttpConfig::new(cfg.rpc_url.clone());
        http_cfg.timeout_ms = cfg.timeout_ms;
        http_cfg.max_body_bytes = crate::kit::check_max_body_bytes(cfg.max_body_bytes).map_err(|r| invalid(&r))?;
        http_cfg.secrets.clone_from(&cfg.rpc_secrets);
        let budget = crate::kit::Budget::new(BudgetConfig::new(cfg.calls_per_sec, (cfg.calls_per_sec * 2.0).max(1.0)))
            .map_err(|error| DexBuildError::Budget { source_name: name.clone(), error })?;
        let http =
            HttpSource::with_env(name.clone(), http_cfg, Arc::new(budget), env).map_err(|error| DexBuildError::Http { source_name: name.clone(), error })?;
        Ok(Self {
            rpc: RpcClient::new(http, &name, run_id),
            filter: registry.log_filter(),
            registry,
            quotes,
            chain: cfg.chain.clone(),
            settings: ScanSettings {
                confirmations: cfg.confirmations,
                max_block_span: cfg.max_block_span,
                max_blocks_per_poll: cfg.max_blocks_per_poll,
                start_block: cfg.start_block,
                reorg_rewind: cfg.reorg_rewind.max(1),
                fetch_metadata: cfg.fetch_metadata,
                max_metadata_per_poll: cfg.max_metadata_per_poll,
            },
            interval: Duration::from_millis(cfg.interval_ms),
            name,
        })
    }

    /// The JSON-RPC client (budget and stats).
    #[must_use]
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    fn fail(&self, out: &mut PollOutcome, what: &str, e: &RpcCallError) {
        let err = match e {
            RpcCallError::Fetch(f) => poll_error(&self.name, f),
            RpcCallError::Rpc(r) => PollError::Fetch { source_name: self.name.clone(), message: format!("{what}: {r}"), transient: false },
        };
        out.errors.push(err);
    }

    /// Step 2: rewinds the cursor when its last block's hash changed. Returns false on an RPC failure.
    async fn check_reorg(&self, cur: &mut EvmCursor, out: &mut PollOutcome) -> bool {
        let (Some(last), Some(hash)) = (cur.last_block(), cur.last_block_hash.clone()) else { return true };
        match self.rpc.header(last, &mut out.raws).await {
            Ok(Some(h)) if h.hash.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(&hash)) => true,
            Ok(h) => {
                let to = last.saturating_sub(self.settings.reorg_rewind - 1);
                warn!(source = %self.name, block = last, stored = %hash, now = ?h.and_then(|h| h.hash), rewind_to = to, "Reorg detected; re-scanning.");
                cur.next_block = to;
                cur.last_block_hash = None;
                true
            }
            Err(e) => {
                self.fail(out, "reorg check", &e);
                false
            }
        }
    }

    /// Step 3: scans `[from, to]`; returns the pools found and the last block fully scanned.
    async fn scan(&self, cur: &mut EvmCursor, from: u64, to: u64, out: &mut PollOutcome) -> (Vec<Found>, Option<u64>) {
        let mut span = cur.span.clamp(1, self.settings.max_block_span);
        let mut queue: VecDeque<(u64, u64)> = plan_ranges(from, to, span).into();
        let mut found = Vec::new();
        let mut through = None;
        let mut clean = true;
        while let Some((a, b)) = queue.pop_front() {
            if b - a + 1 > span {
                for r in plan_ranges(a, b, span).into_iter().rev() {
                    queue.push_front(r);
                }
                continue;
            }
            match self.rpc.get_logs(&self.filter, a, b, &mut out.raws).await {
                Ok((logs, raw_id)) => {
                    for log in &logs {
                        match decode_log(&self.registry, log) {
                            Ok(pool) => found.push(Found { pool, raw_id: raw_id.clone() }),
                            Err(e) if e.is_foreign() => {}
                            Err(e) => out.errors.push(PollError::Parse { source_name: self.name.clone(), message: e.to_string() }),
                        }
                    }
                    through = Some(b);
                }
                Err(e) if e.class() == Some(RpcErrorClass::RangeTooLarge) => {
                    clean = false;
                    if let Some(s) = halve_span(b - a + 1) {
                        span = s;
                        queue.push_front((a, b));
                    } else {
                        self.fail(out, "eth_getLogs of a single block over the provider cap", &e);
                        break;
                    }
                }
                Err(e) => {
                    self.fail(out, "eth_getLogs", &e);
                    break;
                }
            }
        }
        // Regrow slowly after clean polls, so a transient result-count cap does not shrink scans forever.
        cur.span = if clean { span.saturating_mul(2).min(self.settings.max_block_span) } else { span };
        (found, through)
    }

    /// Step 4a: headers of the blocks of `found` plus `through`. Drops pools whose log block hash no
    /// longer matches (a reorg under our feet) and pulls `through` back before them.
    async fn headers(&self, found: &mut Vec<Found>, through: &mut u64, out: &mut PollOutcome) -> Option<HashMap<u64, RpcBlockHeader>> {
        let mut blocks: Vec<u64> = found.iter().filter_map(|f| f.pool.block_number).collect();
        blocks.push(*through);
        blocks.sort_unstable();
        blocks.dedup();
        let mut cache = HashMap::new();
        for n in blocks {
            match self.rpc.header(n, &mut out.raws).await {
                Ok(Some(h)) => {
                    cache.insert(n, h);
                }
                Ok(None) => {
                    *through = (*through).min(n.saturating_sub(1));
                }
                Err(e) => {
                    self.fail(out, "eth_getBlockByNumber", &e);
                    return None;
                }
            }
        }
        for f in found.iter() {
            let (Some(n), Some(lh)) = (f.pool.block_number, f.pool.block_hash.as_deref()) else { continue };
            let canonical = cache.get(&n).and_then(|h| h.hash.as_deref()).is_some_and(|h| h.eq_ignore_ascii_case(lh));
            if !canonical && !f.pool.removed {
                *through = (*through).min(n.saturating_sub(1));
            }
        }
        let limit = *through;
        found.retain(|f| f.pool.block_number.is_none_or(|b| b <= limit));
        Some(cache)
    }

    async fn metadata(&self, token: &str, lookups: &mut MetaLookups, out: &mut PollOutcome) -> Option<TokenMeta> {
        if let Some(m) = lookups.cache.get(token) {
            return m.clone();
        }
        if !self.settings.fetch_metadata || lookups.budget == 0 {
            return None;
        }
        lookups.budget -= 1;
        let meta = match self.rpc.token_meta(token, &mut out.raws).await {
            Ok(m) => Some(m),
            Err(e) => {
                self.fail(out, "erc20 metadata", &e);
                None
            }
        };
        lookups.cache.insert(token.to_string(), meta.clone());
        meta
    }

    fn observations(&self, pool: &PoolCreated, raw_id: Option<&str>, now: Ts, out: &mut PollOutcome) -> Vec<ListingObservation> {
        let ctx = ObservationContext { source: self.name.clone(), first_observed_at: now, emitted_at: now, raw_event_id: raw_id.map(str::to_string) };
        match to_observations(pool, &self.quotes, &ctx) {
            Ok(v) => v,
            Err(e) => {
                out.errors.push(PollError::Parse { source_name: self.name.clone(), message: format!("pool {}: {e}", pool.pool) });
                Vec::new()
            }
        }
    }

    /// Retracts a remembered pool (a `removed` log, or one a re-scan no longer finds) and forgets it.
    /// Pools never reported are not retracted.
    fn retract(&self, pool: &PoolCreated, raw_id: Option<&str>, now: Ts, cur: &mut EvmCursor, out: &mut PollOutcome) {
        let Some(mut gone) = cur.recent.remove(&pool.pool) else { return };
        gone.removed = true;
        let obs = self.observations(&gone, raw_id, now, out);
        out.observations.extend(obs);
    }

    /// A live pool: a remembered one only gets its block refreshed; a new one is reported (with ERC-20
    /// metadata of its new tokens) and remembered. Returns whether it was new.
    #[allow(clippy::too_many_arguments)]
    async fn observe(
        &self,
        mut pool: PoolCreated,
        raw_id: &str,
        block_time: Option<Ts>,
        now: Ts,
        cur: &mut EvmCursor,
        lookups: &mut MetaLookups,
        out: &mut PollOutcome,
    ) -> bool {
        if let Some(known) = cur.recent.get_mut(&pool.pool) {
            known.block_number = pool.block_number;
            known.block_hash = pool.block_hash.clone();
            return false;
        }
        if pool.block_time.is_none() {
            pool.block_time = block_time;
        }
        let mut obs = self.observations(&pool, Some(raw_id), now, out);
        for token in new_tokens(&pool, &self.quotes) {
            let meta = self.metadata(&token, lookups, out).await;
            for o in obs.iter_mut().filter(|o| o.base.as_deref() == Some(token.as_str())) {
                if let Some(m) = &meta {
                    o.symbol = m.symbol.clone().unwrap_or_default();
                    o.name.clone_from(&m.name);
                }
                if let Some(d) = o.details.as_object_mut() {
                    d.insert("token_meta".into(), json!(meta));
                    d.insert("chain".into(), json!(self.chain));
                }
            }
        }
        out.observations.extend(obs);
        cur.recent.insert(pool.pool.clone(), pool);
        true
    }

    /// Applies one log pushed by `eth_subscribe("logs")` (kept as raw `raw_id`) to `cur`, through the same
    /// decoding and observation path as a scan, so a pool seen by both gets one event id and is reported
    /// once:
    /// * `removed: true` retracts a remembered pool;
    /// * a new pool is reported and remembered in `cur.recent` (its block time from the block header when
    ///   the provider sent no `blockTimestamp`);
    /// * a pending log (no block number) is left to the scan.
    ///
    /// `cur.next_block` is never moved: only a contiguous `eth_getLogs` scan advances the cursor, so a
    /// pushed log above it cannot make the scan skip the blocks in between; when the scan reaches its
    /// block the pool is already remembered and not reported again. Returns whether `cur` changed.
    pub async fn apply_pushed(&self, log: &RpcLog, raw_id: &str, now: Ts, cur: &mut EvmCursor, out: &mut PollOutcome) -> bool {
        let pool = match decode_log(&self.registry, log) {
            Ok(p) => p,
            Err(e) if e.is_foreign() => return false,
            Err(e) => {
                out.errors.push(PollError::Parse { source_name: self.name.clone(), message: e.to_string() });
                return false;
            }
        };
        if pool.removed {
            let known = cur.recent.contains_key(&pool.pool);
            self.retract(&pool, Some(raw_id), now, cur, out);
            return known;
        }
        let Some(block) = pool.block_number else { return false };
        let mut block_time = None;
        if pool.block_time.is_none() && !cur.recent.contains_key(&pool.pool) {
            match self.rpc.header(block, &mut out.raws).await {
                Ok(h) => block_time = h.as_ref().and_then(RpcBlockHeader::time),
                Err(e) => self.fail(out, "eth_getBlockByNumber", &e),
            }
        }
        let mut lookups = MetaLookups::new(self.settings.max_metadata_per_poll);
        self.observe(pool, raw_id, block_time, now, cur, &mut lookups, out).await;
        true
    }

    /// The `eth_subscribe("logs")` request for this chain's factories and topics.
    #[must_use]
    pub fn subscribe_message(&self) -> String {
        subscribe_logs_request(1, &self.filter).to_string()
    }
}

/// ERC-20 metadata looked up during one pass, and how many lookups are left.
struct MetaLookups {
    cache: HashMap<String, Option<TokenMeta>>,
    budget: usize,
}

impl MetaLookups {
    fn new(budget: usize) -> Self {
        Self { cache: HashMap::new(), budget }
    }
}

#[async_trait]
impl Source for EvmLogSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn budget(&self) -> Option<&crate::kit::Budget> {
        Some(self.rpc.http().budget().as_ref())
    }

    async fn poll(&self, state: Option<&serde_json::Value>, now: Ts) -> PollOutcome {
        let mut out = PollOutcome::default();
        let head = match self.rpc.block_number(&mut out.raws).await {
            Ok(h) => h,
            Err(e) => {
                self.fail(&mut out, "eth_blockNumber", &e);
                return out;
            }
        };
        let safe = head.saturating_sub(self.settings.confirmations);
        let saved = state.and_then(|s| match serde_json::from_value::<EvmCursor>(s.clone()) {
            Ok(c) => Some(c),
            Err(error) => {
                warn!(source = %self.name, %error, "Saved cursor is unreadable; starting over like a first run.");
                None
            }
        });
        let mut cur = saved.unwrap_or_else(|| EvmCursor::starting_at(self.settings.start_block.unwrap_or(safe), self.settings.max_block_span));
        if !self.check_reorg(&mut cur, &mut out).await {
            return out;
        }
        let from = cur.next_block;
        let to = safe.min(from.saturating_add(self.settings.max_blocks_per_poll - 1));
        if from > to {
            out.next_state = serde_json::to_value(&cur).ok();
            return out;
        }
        let (mut found, through) = self.scan(&mut cur, from, to, &mut out).await;
        let Some(mut through) = through else {
            out.next_state = serde_json::to_value(&cur).ok();
            return out;
        };
        let Some(headers) = self.headers(&mut found, &mut through, &mut out).await else { return out };
        if through < from {
            out.next_state = serde_json::to_value(&cur).ok();
            return out;
        }
        found.sort_by_key(|f| (f.pool.block_number, f.pool.log_index));

        // Retractions: first the logs the node itself reports as removed (they carry the raw they came in),
        // then remembered pools in the re-scanned range that the chain no longer has.
        // A removed log whose pool the same scan also finds live (the tx was re-included) retracts nothing.
        let (removed, found): (Vec<Found>, Vec<Found>) = found.into_iter().partition(|f| f.pool.removed);
        let present: HashSet<String> = found.iter().map(|f| f.pool.pool.clone()).collect();
        for f in removed.iter().filter(|f| !present.contains(&f.pool.pool)) {
            self.retract(&f.pool, Some(&f.raw_id), now, &mut cur, &mut out);
        }
        for key in cur.vanished(from, through, &present) {
            if let Some(gone) = cur.recent.get(&key).cloned() {
                self.retract(&gone, None, now, &mut cur, &mut out);
            }
        }

        let mut lookups = MetaLookups::new(self.settings.max_metadata_per_poll);
        for Found { pool, raw_id } in found {
            let block_time = pool.block_number.and_then(|n| headers.get(&n)).and_then(RpcBlockHeader::time);
            self.observe(pool, &raw_id, block_time, now, &mut cur, &mut lookups, &mut out).await;
        }

        cur.next_block = through + 1;
        cur.last_block_hash = headers.get(&through).and_then(|h| h.hash.clone());
        cur.prune(self.settings.reorg_rewind.max(self.settings.confirmations) + 1);
        out.next_state = serde_json::to_value(&cur).ok();
        out
    }
}
