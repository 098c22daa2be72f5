//! [`SolanaLaunchSource`]: launches on the watched programs of one Solana RPC, by backfill (the poll) and
//! by push (the collector's `logsSubscribe` task hands pushed notifications to [`SolanaLaunchSource::fetch`]
//! and [`SolanaLaunchSource::apply`]).
//!
//! **Backfill.** The durable [`SolanaCursor`] keeps, per program, the newest signature fully covered
//! (`until`). A poll pages `getSignaturesForAddress(program, {until, before})` back from the newest
//! signature to `until`, fetches each successful transaction not already handled, and reports its
//! launches. At most `max_pages_per_poll` pages and `max_tx_per_poll` transactions per program per poll:
//! the rest of a long gap stays in the cursor (`gap`: the newest signature of the gap and the oldest one
//! done) and the next poll continues from there. The very first poll of a program only records its newest
//! signature (the baseline): history before nl started is not reported.
//!
//! **Same ids from push and backfill.** Both build the observation from the transaction with the same
//! code, so its event id (source, pool, asset, change) is the same. Each handled signature is remembered
//! (`done`, bounded), so a backfill after a reconnect does not fetch or report a pushed launch again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nl_domain::{ListingObservation, RawEvent, Ts};
use serde::{Deserialize, Serialize};

use super::activity::{Activity, EarlyTrades, activity_observation};
use super::config::{Program, SolanaConfig};
use super::events::{SolanaEvent, events_in_logs};
use super::launch::{Launch, launch_observation, launches_in_tx};
use super::parse::{CREATE_PATTERNS, LogsNotice, TxSummary, detect_launches};
use super::rpc_client::SolanaRpc;
use crate::dex::client_util::BoundedSeen;
use crate::dex::config::DexBuildError;
use crate::dex::pool::ObservationContext;
use crate::kit::{BudgetConfig, HttpConfig, HttpSource};
use crate::source::{PollError, PollOutcome, Source};

/// Backfill position of one program.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramCursor {
    /// Newest signature whose history is fully handled; `None` before the baseline.
    pub until: Option<String>,
    /// A gap being paged back: its newest signature and the oldest one handled so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
}

/// See [`ProgramCursor::gap`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The newest signature when the gap was first paged: `until` once the gap is closed.
    pub top: String,
    /// The oldest signature handled so far (`None`: none yet, page from the newest).
    pub before: Option<String>,
}

/// The durable state of a Solana source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SolanaCursor {
    pub programs: BTreeMap<String, ProgramCursor>,
    /// Signatures handled (pushed or backfilled), oldest first.
    #[serde(default)]
    pub done: BoundedSeen,
    /// Mints seen created, so a later pool for one is a graduation.
    #[serde(default)]
    pub mints: BoundedSeen,
    /// Young pump.fun mints whose trades are counted (minimum-activity trigger; empty when it is off).
    #[serde(default, skip_serializing_if = "Activity::is_empty")]
    pub activity: Activity,
    /// Trades handled before their mint's create, counted once it is tracked (minimum-activity trigger).
    #[serde(default, skip_serializing_if = "EarlyTrades::is_empty")]
    pub early_trades: EarlyTrades,
}

/// What a pushed notification's transaction fetch gave.
#[derive(Debug)]
pub struct Fetched {
    pub notice: LogsNotice,
    pub raws: Vec<RawEvent>,
    /// The transaction (from `getTransaction`, or from the notification alone when the node never served
    /// it), and the raw id it came from.
    pub tx: Option<(TxSummary, Option<String>)>,
    pub error: Option<PollError>,
}

/// Launch detection on one Solana RPC.
#[derive(Debug)]
pub struct SolanaLaunchSource {
    name: String,
    rpc: SolanaRpc,
    programs: Vec<Program>,
    cfg: SolanaConfig,
}

impl SolanaLaunchSource {
    /// Builds the source of `cfg` (named `name`).
    ///
    /// # Errors
    /// [`DexBuildError::Invalid`] naming the field to fix; budget or HTTP errors.
    pub fn from_config(name: &str, cfg: &SolanaConfig, run_id: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, DexBuildError> {
        let programs = cfg.validate().map_err(|reason| DexBuildError::Invalid { source_name: name.to_string(), reason })?;
        let mut http_cfg = HttpConfig::new(cfg.rpc_url.clone());
        http_cfg.timeout_ms = cfg.timeout_ms;
        http_cfg.max_body_bytes = crate::kit::check_max_body_bytes(cfg.max_body_bytes)
            .map_err(|reason| DexBuildError::Invalid { source_name: name.to_string(), reason })?;
        let budget = crate::kit::Budget::new(BudgetConfig::new(cfg.calls_per_sec, (cfg.calls_per_sec * 2.0).max(1.0)))
            .map_err(|error| DexBuildError::Budget { source_name: name.to_string(), error })?;
        let http = HttpSource::with_env(name.to_string(), http_cfg, Arc::new(budget), env)
            .map_err(|error| DexBuildError::Http { source_name: name.to_string(), error })?;
        Ok(Self { name: name.to_string(), rpc: SolanaRpc::new(http, name, run_id, &cfg.commitment), programs, cfg: cfg.clone() })
    }

    /// The watched programs.
    #[must_use]
    pub fn programs(&self) -> &[Program] {
        &self.programs
    }

    /// The config it was built from.
    #[must_use]
    pub fn config(&self) -> &SolanaConfig {
        &self.cfg
    }

    /// The RPC client (budget, `getAccountInfo` for risk facts).
    #[must_use]
    pub fn rpc(&self) -> &SolanaRpc {
        &self.rpc
    }

    /// One `logsSubscribe` per watched program (`mentions` takes exactly one pubkey).
    #[must_use]
    pub fn subscribe_messages(&self) -> Vec<String> {
        self.programs.iter().enumerate().map(|(i, p)| super::parse::logs_subscribe_request(i as u64 + 1, &p.id, &self.cfg.commitment).to_string()).collect()
    }

    fn watched(&self, program: &str) -> bool {
        self.programs.iter().any(|p| p.id == program)
    }

    /// Whether a pushed notification may hold a launch of a watched program (a create pattern or a known
    /// Anchor event in its logs); only those are fetched.
    #[must_use]
    pub fn is_candidate(&self, notice: &LogsNotice) -> bool {
        if notice.err.is_some() {
            return false;
        }
        detect_launches(notice, CREATE_PATTERNS).iter().any(|e| self.watched(&e.program)) || super::events::has_launch_event(&notice.logs)
    }

    /// Fetches a pushed launch's transaction, retrying while the node has not indexed it. When it never
    /// does, the notification's own logs stand in if they hold an Anchor event (pump.fun, PumpSwap);
    /// otherwise `tx` is `None` and the next backfill finds the launch.
    pub async fn fetch(&self, notice: LogsNotice) -> Fetched {
        let mut raws = Vec::new();
        let mut error = None;
        for attempt in 0..self.cfg.tx_fetch_attempts.max(1) {
            match self.rpc.transaction(&notice.signature, &mut raws).await {
                Ok((Some(tx), raw_id)) => return Fetched { notice, raws, tx: Some((tx, Some(raw_id))), error: None },
                Ok((None, _)) => {}
                Err(e) => {
                    error = Some(PollError::Fetch { source_name: self.name.clone(), message: e.to_string(), transient: true });
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt.min(6))).await;
        }
        // Only an Anchor event carries a launch's fields in the logs themselves; without one the launch is
        // left to the backfill (the signature is not marked done).
        if !super::events::has_launch_event(&notice.logs) {
            return Fetched { notice, raws, tx: None, error };
        }
        let tx = TxSummary {
            signature: Some(notice.signature.clone()),
            slot: notice.slot,
            block_time: None,
            failed: false,
            account_keys: Vec::new(),
            mints: Vec::new(),
            logs: notice.logs.clone(),
            instructions: Vec::new(),
        };
        Fetched { notice, raws, tx: Some((tx, None)), error }
    }

    /// The observations of a handled transaction: its launches, remembered in `cursor` (signature done,
    /// created mints), then (minimum-activity trigger on) the activity reports its creates and trades
    /// complete. A signature already done gives nothing.
    pub fn apply(&self, cursor: &mut SolanaCursor, signature: &str, tx: &TxSummary, raw_event_id: Option<String>, now: Ts) -> (Vec<ListingObservation>, Vec<PollError>) {
        let cap = self.cfg.remember_signatures.max(1);
        if !cursor.done.insert(signature.to_string(), cap) {
            return (Vec::new(), Vec::new());
        }
        let mints = &cursor.mints;
        let launches: Vec<Launch> = launches_in_tx(tx, signature, &|m| mints.contains(m), &|p| self.watched(p));
        let ctx = ObservationContext { source: self.name.clone(), first_observed_at: now, emitted_at: now, raw_event_id };
        let (mut obs, mut errors) = (Vec::new(), Vec::new());
        for l in &launches {
            if l.kind == super::parse::LaunchKind::TokenCreate {
                cursor.mints.insert(l.mint.clone(), cap);
            }
            match launch_observation(l, &ctx) {
                Ok(o) => obs.push(o),
                Err(e) => errors.push(PollError::Parse { source_name: self.name.clone(), message: e.to_string() }),
            }
        }
        if let Some(trigger) = self.cfg.activity.filter(|_| !tx.failed) {
            self.track_creates(cursor, &tx.logs);
            let created: Vec<String> = obs.iter().filter(|o| o.change == nl_domain::ChangeKind::New).filter_map(|o| o.base.clone()).collect();
            for m in created {
                if let Some(y) = cursor.activity.published(&m, trigger) {
                    obs.extend(activity_observation(&y, signature, tx.slot, &ctx).ok());
                }
            }
            obs.extend(self.count_trades(cursor, signature, tx.slot, &tx.logs, &ctx));
        }
        (obs, errors)
    }

    /// Starts counting the trades of the pump.fun mints created in `logs` (minimum-activity trigger on),
    /// the trades held before the create included.
    pub fn track_creates(&self, cursor: &mut SolanaCursor, logs: &[String]) {
        let Some(trigger) = self.cfg.activity else { return };
        for ev in events_in_logs(logs) {
            if let SolanaEvent::PumpCreate(c) = ev {
                cursor.activity.expire(c.timestamp, trigger.window_secs);
                cursor.activity.track(&c);
                // Not published yet (the caller publishes the create next), so this reports nothing.
                for at in cursor.early_trades.take(&c.mint) {
                    cursor.activity.trade(&c.mint, at, trigger);
                }
            }
        }
    }

    /// Counts the pump.fun trades in `logs` (a pushed notification or a fetched transaction, not counted
    /// before: the caller checks the signature is new); the activity observations of the mints this
    /// makes active. A trade of a mint whose create was not seen yet is held until it is.
    pub fn count_trades(&self, cursor: &mut SolanaCursor, signature: &str, slot: u64, logs: &[String], ctx: &ObservationContext) -> Vec<ListingObservation> {
        let Some(trigger) = self.cfg.activity else { return Vec::new() };
        let mut out = Vec::new();
        for ev in events_in_logs(logs) {
            if let SolanaEvent::PumpTrade(t) = ev {
                cursor.activity.expire(t.timestamp, trigger.window_secs);
                if !cursor.activity.contains(&t.mint) && !cursor.mints.contains(&t.mint) {
                    cursor.early_trades.hold(&t.mint, t.timestamp, trigger);
                    continue;
                }
                if let Some(y) = cursor.activity.trade(&t.mint, t.timestamp, trigger) {
                    out.extend(activity_observation(&y, signature, slot, ctx).ok());
                }
            }
        }
        out
    }

    /// Whether trades are counted (the minimum-activity trigger is on).
    #[must_use]
    pub fn counts_trades(&self) -> bool {
        self.cfg.activity.is_some()
    }

    /// Backfills one program: see the module doc.
    async fn backfill_program(&self, program: &str, cursor: &mut SolanaCursor, out: &mut PollOutcome, now: Ts) {
        let mut pc = cursor.programs.get(program).cloned().unwrap_or_default();
        let limit = self.cfg.page_limit;
        if pc.until.is_none() && pc.gap.is_none() {
            match self.rpc.signatures(program, None, None, 1, &mut out.raws).await {
                Ok(page) => pc.until = page.first().map(|s| s.signature.clone()),
                Err(e) => out.errors.push(self.fetch_error(&e)),
            }
            cursor.programs.insert(program.to_string(), pc);
            return;
        }
        let mut fetched = 0_u32;
        // Transactions fetched this poll, newest first; applied oldest first once paging stops, so a
        // mint's create is handled before its trades.
        let mut handled: Vec<(String, TxSummary, String)> = Vec::new();
        'pages: for _ in 0..self.cfg.max_pages_per_poll {
            let before = pc.gap.as_ref().and_then(|g| g.before.clone());
            let page = match self.rpc.signatures(program, before.as_deref(), pc.until.as_deref(), limit, &mut out.raws).await {
                Ok(p) => p,
                Err(e) => {
                    out.errors.push(self.fetch_error(&e));
                    break;
                }
            };
            let Some(first) = page.first() else {
                if let Some(g) = pc.gap.take() {
                    pc.until = Some(g.top);
                }
                break;
            };
            let gap = pc.gap.get_or_insert_with(|| Gap { top: first.signature.clone(), before: None });
            for s in &page {
                if s.err.is_none() && !cursor.done.contains(&s.signature) {
                    if fetched >= self.cfg.max_tx_per_poll {
                        break 'pages;
                    }
                    fetched += 1;
                    match self.rpc.transaction(&s.signature, &mut out.raws).await {
                        Ok((Some(tx), raw_id)) => handled.push((s.signature.clone(), tx, raw_id)),
                        // Listed but not served yet: retried by the next poll.
                        Ok((None, _)) => break 'pages,
                        Err(e) => {
                            out.errors.push(self.fetch_error(&e));
                            break 'pages;
                        }
                    }
                }
                gap.before = Some(s.signature.clone());
            }
            if page.len() < limit as usize {
                let top = gap.top.clone();
                pc.gap = None;
                pc.until = Some(top);
                break;
            }
        }
        for (signature, tx, raw_id) in handled.into_iter().rev() {
            let (obs, errors) = self.apply(cursor, &signature, &tx, Some(raw_id), now);
            out.observations.extend(obs);
            out.errors.extend(errors);
        }
        cursor.programs.insert(program.to_string(), pc);
    }

    fn fetch_error(&self, e: &crate::dex::evm::rpc_client::RpcCallError) -> PollError {
        match e {
            crate::dex::evm::rpc_client::RpcCallError::Fetch(f) => crate::dex::client_util::poll_error(&self.name, f),
            other => PollError::Fetch { source_name: self.name.clone(), message: other.to_string(), transient: true },
        }
    }

    /// The saved cursor (`None` or unreadable → empty: the next poll takes a baseline).
    #[must_use]
    pub fn cursor_of(state: Option<&serde_json::Value>) -> SolanaCursor {
        state.and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default()
    }
}

#[async_trait]
impl Source for SolanaLaunchSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(self.cfg.interval_ms.max(1))
    }

    async fn poll(&self, state: Option<&serde_json::Value>, now: Ts) -> PollOutcome {
        let mut cursor = Self::cursor_of(state);
        let mut out = PollOutcome::default();
        for p in &self.programs {
            self.backfill_program(&p.id, &mut cursor, &mut out, now).await;
        }
        out.next_state = serde_json::to_value(&cursor).ok();
        out
    }

    fn budget(&self) -> Option<&crate::kit::Budget> {
        Some(self.rpc.http().budget().as_ref())
    }
}
