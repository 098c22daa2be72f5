//! [`EvmPushSource`]: one EVM chain's factory logs pushed over `eth_subscribe("logs")`, with the
//! `eth_getLogs` poll of [`EvmLogSource`] as the backbone.
//!
//! The task is the only owner of the chain's state key (the [`EvmCursor`]); the chain is therefore not
//! also run as a separate poll source ([`build_dex_feeds`] takes it out of the poll set). It does three
//! things, one at a time, so they never race on the cursor:
//!
//! * **On every connect** (first and each reconnect) it backfills: the poll runs (via the runtime's
//!   [`poll_once`]: publish, then save state) until the cursor stops advancing, i.e. up to the safe head.
//!   Pairs created while the socket was down are found here.
//! * **Every `interval_ms`** the poll runs once more, connected or not: it advances the cursor through
//!   confirmed blocks, checks the cursor block's hash for reorgs and retracts remembered pools a re-scan
//!   no longer finds.
//! * **Each pushed frame** is kept raw (`nl.raw.<source>`) and its log goes through
//!   [`EvmLogSource::apply_pushed`]: the same decoder, observation builder and ERC-20 metadata lookup as
//!   the poll, so the event id is the one the poll would give. A new pool is published and remembered in
//!   the cursor's `recent` pools; `removed: true` retracts a remembered pool.
//!
//! A pushed log never moves `next_block`. A log at height `h` above the cursor is remembered by pool, not
//! by height: when the scan later covers `h`, it finds the pool known and does not report it again, and if
//! the chain no longer has it there, it retracts it. Moving the cursor to `h` instead would skip every
//! block between the cursor and `h` that was created while the socket was down or whose logs the node
//! never pushed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nl_bus::{observation_messages, raw_messages};
use nl_adapters::dex::config::{DexBuildError, DexSourcesConfig, EvmChainConfig, build_aggregator_sources, evm_chains, solana_sources};
use nl_adapters::dex::solana::source::SolanaLaunchSource;
use nl_adapters::dex::evm::client::EvmLogSource;
use nl_adapters::dex::evm::cursor::EvmCursor;
use nl_adapters::dex::evm::{WsFrame, parse_ws_frame};
use nl_adapters::kit::{EnvHeader, SecretLocation, UrlFn, WsConfig, WsEvent};
use nl_adapters::kit::quote::quote;
use nl_adapters::{PollOutcome, Source};
use nl_domain::{RawEvent, Ts};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use super::lease::{LeaseKeeper, LeasedSessions, Reader, SessionEnd, run_leased};
use super::source::PushStatus;
use crate::runtime::{CollectorCtx, poll_once};

/// The push task of one EVM chain.
pub struct EvmPushSource {
    name: String,
    scan: Arc<EvmLogSource>,
    ws: WsConfig,
    url_fn: Option<UrlFn>,
    run_id: String,
    status: Arc<PushStatus>,
}

impl std::fmt::Debug for EvmPushSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvmPushSource").field("name", &self.name).field("scan", &self.scan).finish_non_exhaustive()
    }
}

impl EvmPushSource {
    /// Pushes over `ws` (its subscribe message is set here) on top of `scan`, under `scan`'s name.
    #[must_use]
    pub fn new(scan: Arc<EvmLogSource>, mut ws: WsConfig, run_id: &str) -> Self {
        ws.subscribe_messages = vec![scan.subscribe_message()];
        Self { name: scan.name().to_string(), scan, ws, url_fn: None, run_id: run_id.to_string(), status: Arc::new(PushStatus::default()) }
    }

    /// The task of `cfg` (which must have a `ws_url`) on top of `scan`. Secrets of `rpc_secrets` apply to
    /// the WebSocket too: `{name}` placeholders and query parameters are filled per connect from values read
    /// through `env` now, headers from their variables at connect time. Raws and logs show the configured
    /// URL only.
    ///
    /// # Errors
    /// [`DexBuildError::Invalid`] without a `ws://`/`wss://` URL, or when a secret's variable is unset.
    pub fn from_config(cfg: &EvmChainConfig, scan: Arc<EvmLogSource>, run_id: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, DexBuildError> {
        let name = scan.name().to_string();
        let invalid = |reason: String| DexBuildError::Invalid { source_name: name.clone(), reason };
        let url = cfg.ws_url.clone().filter(|u| u.starts_with("ws://") || u.starts_with("wss://"));
        let url = url.ok_or_else(|| invalid("`ws_url` must start with ws:// or wss://".into()))?;
        let mut ws = WsConfig::new(url);
        ws.connect_timeout_ms = cfg.timeout_ms;
        ws.backoff_base_ms = cfg.ws_backoff_base_ms.max(1);
        ws.backoff_cap_ms = cfg.ws_backoff_cap_ms.max(ws.backoff_base_ms);
        let mut fill = Vec::new();
        for p in &cfg.rpc_secrets {
            match p.location {
                SecretLocation::Header => ws.env_headers.push(EnvHeader { name: p.name.clone(), value_env: p.value_env.clone() }),
                SecretLocation::Path | SecretLocation::Query => {
                    let value = env(&p.value_env).filter(|v| !v.is_empty());
                    let value = value.ok_or_else(|| invalid(format!("secret `{}`: env var `{}` is unset or empty", p.name, p.value_env)))?;
                    fill.push((p.location, p.name.clone(), value));
                }
            }
        }
        let mut push = Self::new(scan, ws, run_id);
        if !fill.is_empty() {
            push.url_fn = Some(Arc::new(move |template: &str| {
                let mut url = template.to_string();
                for (location, name, value) in &fill {
                    if *location == SecretLocation::Path {
                        url = url.replace(&format!("{{{name}}}"), value);
                    } else {
                        url.push(if url.contains('?') { '&' } else { '?' });
                        url.push_str(&format!("{name}={value}"));
                    }
                }
                Ok(url)
            }));
        }
        Ok(push)
    }

    /// The source name (state and lease key).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Status for metrics (`last_message_age`, counters, frames, backfills as `gap_fills`).
    #[must_use]
    pub fn status(&self) -> Arc<PushStatus> {
        Arc::clone(&self.status)
    }

    /// Runs until `stop` turns true (or its sender is dropped); releases the lease on the way out.
    pub async fn run(self: Arc<Self>, ctx: CollectorCtx, stop: watch::Receiver<bool>) {
        run_leased(&*self, ctx, stop).await;
    }

    async fn run_session(&self, ctx: &CollectorCtx, lease: &mut LeaseKeeper, stop: &mut watch::Receiver<bool>) -> SessionEnd {
        let mut reader = Reader::start(self.ws.clone(), self.url_fn.as_ref(), &self.status);
        let mut cursor = self.load_cursor(ctx).await;
        // Pools pushed before the first scan created a cursor: remembered for this session only.
        let mut scratch = EvmCursor::starting_at(0, 1);
        let mut renew_tick = LeaseKeeper::renew_tick(ctx);
        let every = self.scan.interval().max(Duration::from_millis(1));
        let mut poll_tick = tokio::time::interval_at(Instant::now() + every, every);
        poll_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let end = loop {
            tokio::select! {
                _ = stop.changed() => break SessionEnd::Stop,
                _ = renew_tick.tick(), if ctx.leases.is_some() => {
                    if !lease.keep(ctx).await {
                        break SessionEnd::LeaseLost;
                    }
                }
                _ = poll_tick.tick() => {
                    if !lease.keep(ctx).await {
                        break SessionEnd::LeaseLost;
                    }
                    cursor = self.poll(ctx).await.1;
                }
                ev = reader.events.recv() => {
                    let Some(ev) = ev else { break SessionEnd::Stop };
                    if !lease.keep(ctx).await {
                        break SessionEnd::LeaseLost;
                    }
                    match ev {
                        WsEvent::Connected { attempt } => {
                            self.status.connects.fetch_add(1, Ordering::Relaxed);
                            debug!(source = %self.name, attempt, "Node connected; backfilling with eth_getLogs.");
                            cursor = self.backfill(ctx, stop).await;
                        }
                        WsEvent::Text(text, at) => self.handle_text(ctx, &text, at, &mut cursor, &mut scratch).await,
                        WsEvent::Disconnected { reason } => debug!(source = %self.name, %reason, "Node disconnected."),
                    }
                }
            }
        };
        reader.finish().await;
        end
    }

    async fn load_cursor(&self, ctx: &CollectorCtx) -> Option<EvmCursor> {
        match ctx.state.load(&self.name).await {
            Ok(v) => v.and_then(|v| serde_json::from_value(v).map_err(|error| warn!(source = %self.name, %error, "Saved cursor unreadable.")).ok()),
            Err(error) => {
                warn!(source = %self.name, %error, "Cannot load the cursor; pushed pools are remembered in memory until it loads.");
                None
            }
        }
    }

    /// One poll through the runtime (publish, then save the cursor); whether it went cleanly, and the
    /// cursor it left.
    async fn poll(&self, ctx: &CollectorCtx) -> (bool, Option<EvmCursor>) {
        let report = poll_once(self.scan.as_ref(), ctx, Arc::clone(&self.status.counters), chrono::Utc::now()).await;
        if !report.ok() {
            warn!(source = %self.name, errors = ?report.errors, not_committed = ?report.not_committed, "eth_getLogs poll incomplete.");
        }
        (report.ok(), self.load_cursor(ctx).await)
    }

    /// Polls until the cursor stops advancing (caught up with the safe head), a poll fails, or `stop`.
    /// Counted (`gap_fills`) once done, like the CEX feeds' gap fills.
    async fn backfill(&self, ctx: &CollectorCtx, stop: &watch::Receiver<bool>) -> Option<EvmCursor> {
        let mut cursor = self.load_cursor(ctx).await;
        loop {
            let before = cursor.as_ref().map(|c| c.next_block);
            let (ok, after) = self.poll(ctx).await;
            cursor = after;
            if !ok || *stop.borrow() || cursor.as_ref().map(|c| c.next_block) == before {
                self.status.gap_fills.fetch_add(1, Ordering::Relaxed);
                return cursor;
            }
        }
    }

    /// One pushed frame: kept raw, its log applied to the cursor, raw and observations published, then the
    /// cursor saved. A failed publish drops the in-memory change (the next scan reports the pool).
    async fn handle_text(&self, ctx: &CollectorCtx, text: &str, at: Ts, cursor: &mut Option<EvmCursor>, scratch: &mut EvmCursor) {
        let counters = &self.status.counters;
        self.status.frames.fetch_add(1, Ordering::Relaxed);
        let mut raw = RawEvent::new(&self.name, &self.ws.url, None, at, text.to_string(), &self.run_id);
        let mut out = PollOutcome::default();
        let mut changed = false;
        match parse_ws_frame(text) {
            Err(e) => {
                self.status.parse_errors.fetch_add(1, Ordering::Relaxed);
                counters.errors.fetch_add(1, Ordering::Relaxed);
                warn!(source = %self.name, error = %e, "Pushed frame did not parse; kept raw.");
                raw.parse_error = Some(e.to_string());
            }
            Ok(WsFrame::Reply { result, .. }) => info!(source = %self.name, subscription = %quote(&result.to_string()), "Subscribed to factory logs."),
            Ok(WsFrame::Error { error, .. }) => {
                self.status.venue_errors.fetch_add(1, Ordering::Relaxed);
                counters.errors.fetch_add(1, Ordering::Relaxed);
                warn!(source = %self.name, code = error.code, message = %quote(&error.message), "Node answered with an error; polling continues.");
            }
            Ok(WsFrame::Log { log, .. }) => {
                let cur = cursor.as_mut().unwrap_or(scratch);
                changed = self.scan.apply_pushed(&log, &raw.raw_id, at, cur, &mut out).await && cursor.is_some();
            }
        }
        for e in &out.errors {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            warn!(source = %self.name, stage = e.stage(), error = %e, "Pushed log error.");
        }
        let raws: Vec<RawEvent> = std::iter::once(raw).chain(out.raws).collect();
        let msgs: Vec<_> = raw_messages(&raws, &ctx.run).into_iter().chain(observation_messages(&out.observations, &ctx.run)).collect();
        if let Err(error) = ctx.bus.publish_batch(msgs).await {
            counters.publish_failures.fetch_add(1, Ordering::Relaxed);
            warn!(source = %self.name, %error, "Publishing a pushed log failed; the next eth_getLogs scan reports it.");
            if changed {
                *cursor = self.load_cursor(ctx).await;
            }
            return;
        }
        counters.raws.fetch_add(raws.len() as u64, Ordering::Relaxed);
        counters.observations.fetch_add(out.observations.len() as u64, Ordering::Relaxed);
        if let (true, Some(cur)) = (changed, cursor.as_ref()) {
            let saved = match serde_json::to_value(cur) {
                Ok(v) => ctx.state.save(&self.name, &v).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(error) = saved {
                warn!(source = %self.name, %error, "Saving the cursor failed; continuing in memory.");
            }
        }
        if out.errors.is_empty() {
            let ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
            counters.last_success_ms.store(ms, Ordering::Relaxed);
        }
    }
}

/// The DEX feeds of a long-running collector.
#[derive(Default)]
pub struct DexFeeds {
    /// GeckoTerminal, DexScreener, and the EVM chains without `ws_url`.
    pub polls: Vec<Arc<dyn Source>>,
    /// One push task per EVM chain with a `ws_url` (each polls its chain itself).
    pub pushes: Vec<Arc<EvmPushSource>>,
    /// One push task per Solana RPC with a `ws_url` (each backfills itself).
    pub solana: Vec<Arc<super::solana::SolanaPushSource>>,
}

/// Builds the DEX feeds for `nl serve collector` / `nl run`: like
/// [`build_dex_sources_with_env`](nl_adapters::dex::config::build_dex_sources_with_env), except that a
/// chain with `ws_url` becomes an [`EvmPushSource`] instead of a poll source.
///
/// # Errors
/// [`DexBuildError`] naming the source whose config is invalid.
pub fn build_dex_feeds(cfg: &DexSourcesConfig, run_id: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<DexFeeds, DexBuildError> {
    let mut feeds = DexFeeds { polls: build_aggregator_sources(cfg, run_id, env)?, pushes: Vec::new(), solana: Vec::new() };
    for chain in evm_chains(cfg) {
        let scan = Arc::new(EvmLogSource::from_config(&chain, run_id, env)?);
        if chain.ws_url.is_some() {
            feeds.pushes.push(Arc::new(EvmPushSource::from_config(&chain, scan, run_id, env)?));
        } else {
            feeds.polls.push(scan);
        }
    }
    for (name, c) in solana_sources(cfg) {
        let scan = Arc::new(SolanaLaunchSource::from_config(name, c, run_id, env)?);
        match &c.ws_url {
            Some(ws) => feeds.solana.push(Arc::new(super::solana::SolanaPushSource::new(scan, ws, run_id))),
            None => feeds.polls.push(scan),
        }
    }
    Ok(feeds)
}

#[async_trait::async_trait]
impl LeasedSessions for EvmPushSource {
    fn lease_name(&self) -> &str {
        &self.name
    }

    fn lease_status(&self) -> Arc<PushStatus> {
        Arc::clone(&self.status)
    }

    async fn session(&self, ctx: &CollectorCtx, lease: &mut LeaseKeeper, stop: &mut watch::Receiver<bool>) -> SessionEnd {
        self.run_session(ctx, lease, stop).await
    }
}
