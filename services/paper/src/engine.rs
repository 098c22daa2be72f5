//! The one engine of paper sessions and backtests: signal → order → fill → position, for the profit book
//! and the learning book. It is a pure state machine over envelopes in time order: only the clock (each
//! input's own time) and the data source (the bus, or events stored in the ledger) differ between paper
//! and backtest.
//!
//! * **Profit book:** `[paper.strategy]` enters on `candidate.promoted`.
//! * **Learning book:** each running experiment's exposure picks signals (promoted or rejected), sampled
//!   by a hash of seed, spec and signal; the learning gate ([`crate::gate`]) may block them. Never a
//!   hard-fail honeypot.
//! * Every order fills at the first snapshot of its asset at or after decision time plus latency (never an
//!   earlier one), priced by [`crate::fill`]; none within `max_price_wait_secs`: `no_fresh_price`.
//! * Positions are marked on every snapshot and exit on take-profit, stop-loss or max holding time. A
//!   honeypot is marked to 0 and cannot be sold.
//!
//! The profit book never reads learning state, so disabling learning leaves it byte-identical.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use nl_domain::paper::paper_envelope;
use nl_domain::{
    AssetUpsert, Body, BookTags, CheckCode, Decision, Envelope, EventId, EventType, ExperimentSpec, ExperimentStatus, GateDecision, LearningGateUpdated,
    OrderFilled, OrderSubmitted, PositionUpdated, RiskAllocation, RiskEvaluation, RunIdentity, Side, Snapshot, TradeBlocked, Ts, Verdict,
};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::config::{FeeModel, PaperConfig};
use crate::fill::{self, Ask, Market};
use crate::gate::{LearningGate, utc_day};
use crate::PaperError;

/// What the engine knows about an asset from the events so far (never from later ones).
#[derive(Debug, Clone, Default)]
struct Facts {
    dex: bool,
    chain: Option<String>,
    scheduled_at: Option<Ts>,
    honeypot: bool,
    buy_tax: Decimal,
    sell_tax: Decimal,
    last: Option<Snapshot>,
}

#[derive(Debug, Clone)]
struct Pending {
    order: OrderSubmitted,
    not_before: Ts,
    deadline: Ts,
}

#[derive(Debug, Clone)]
struct Position {
    id: String,
    tags: BookTags,
    asset: String,
    quantity: Decimal,
    /// USD spent including gas.
    cost: Decimal,
    entry_notional: Decimal,
    entry_price: Decimal,
    fees: Decimal,
    opened_at: Ts,
    take_profit_pct: Decimal,
    stop_loss_pct: Decimal,
    max_hold_minutes: u32,
    exiting: bool,
    stuck: bool,
    /// The mark (price, honeypot) of the last `position.updated`: a snapshot that changes neither emits none.
    marked: Option<(Decimal, bool)>,
}

/// A known experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub spec: ExperimentSpec,
    pub sha256: String,
    pub status: ExperimentStatus,
}

/// The engine.
pub struct Engine {
    cfg: PaperConfig,
    fees: FeeModel,
    run: RunIdentity,
    facts: HashMap<String, Facts>,
    pending: BTreeMap<String, Vec<Pending>>,
    positions: BTreeMap<String, Position>,
    /// (book key, asset) with an open or pending position: one per book and asset.
    busy: BTreeSet<(String, String)>,
    experiments: BTreeMap<String, Experiment>,
    gate: LearningGate,
}

fn id16(kind: EventType, parts: &[&str]) -> String {
    EventId::derive(kind, parts).0
}

fn book_key(t: &BookTags) -> String {
    t.experiment_id.clone().unwrap_or_else(|| "profit".into())
}

/// Deterministic sample: the signal is taken when hash(seed, spec, signal) falls below `rate`.
#[must_use]
pub fn sampled(seed: u64, spec_id: &str, signal: &str, rate: f64) -> bool {
    let mut h = Sha256::new();
    h.update(seed.to_be_bytes());
    h.update(spec_id.as_bytes());
    h.update([0x1f]);
    h.update(signal.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    #[allow(clippy::cast_precision_loss)]
    let u = (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64;
    u < rate
}

impl Engine {
    /// An engine for `run`.
    ///
    /// # Errors
    /// [`PaperError::Config`] when the config is invalid (no fee model, above all).
    pub fn new(cfg: PaperConfig, run: RunIdentity) -> Result<Self, PaperError> {
        let fees = cfg.validate()?.clone();
        let limit = cfg.learning.equity_usd * cfg.learning.daily_risk_budget_pct / Decimal::ONE_HUNDRED;
        let gate = LearningGate::new(limit, &cfg.learning.regime);
        Ok(Self { cfg, fees, run, facts: HashMap::new(), pending: BTreeMap::new(), positions: BTreeMap::new(), busy: BTreeSet::new(), experiments: BTreeMap::new(), gate })
    }

    /// Registers an experiment (from the ledger, or a spec file given to a backtest).
    pub fn add_experiment(&mut self, e: Experiment) {
        self.experiments.insert(e.spec.spec_id.clone(), e);
    }

    /// The experiments the learning book trades now, by id.
    fn running(&self) -> Vec<&Experiment> {
        if !self.cfg.learning.enabled {
            return Vec::new();
        }
        let only = &self.cfg.learning.experiment_ids;
        self.experiments.values().filter(|e| e.status == ExperimentStatus::Running && (only.is_empty() || only.contains(&e.spec.spec_id))).collect()
    }

    /// Feeds one event; returns what it caused, in order.
    pub fn on_event(&mut self, env: &Envelope) -> Vec<Envelope> {
        let mut out = Vec::new();
        let Ok(body) = env.body() else { return out };
        match body {
            Body::AssetUpserted(u) => self.upsert(&u),
            Body::RiskEvaluated(r) => self.risk(&r),
            Body::SnapshotRecorded(s) => self.snapshot(&s.snapshot, env, &mut out),
            Body::Decision(d) => self.decision(&d, env, &mut out),
            Body::ExperimentCreated(c) => {
                self.experiments.entry(c.spec.spec_id.clone()).or_insert(Experiment { spec: c.spec.clone(), sha256: c.spec_sha256.clone(), status: ExperimentStatus::Draft });
            }
            Body::ExperimentStatusChanged(s) => {
                if let Some(e) = s.tags.experiment_id.as_deref().and_then(|id| self.experiments.get_mut(id))
                    && e.status == s.from
                    && s.from.can_become(s.to)
                    && e.sha256 == s.spec_sha256
                {
                    e.status = s.to;
                }
            }
            _ => {}
        }
        out
    }

    /// Ends the session: orders still waiting for a price are blocked `no_fresh_price`.
    pub fn finish(&mut self, at: Ts) -> Vec<Envelope> {
        let mut out = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        for p in pending.into_values().flatten() {
            self.refuse(&p.order, vec!["no_fresh_price".into()], at, &mut out);
        }
        out
    }

    fn upsert(&mut self, u: &AssetUpsert) {
        let f = self.facts.entry(u.asset_id.to_string()).or_default();
        f.dex = u.sighting.kind == nl_domain::ObservationKind::DexPool;
        f.chain.clone_from(&u.chain);
        if u.sighting.scheduled_at.is_some() {
            f.scheduled_at = u.sighting.scheduled_at;
        }
    }

    fn risk(&mut self, r: &RiskEvaluation) {
        let f = self.facts.entry(r.asset_id.to_string()).or_insert_with(|| Facts { dex: !r.asset_id.to_string().starts_with("cex:"), chain: r.asset_id.chain_slug().map(String::from), ..Facts::default() });
        for c in &r.checks {
            let value = c.value.as_ref().and_then(|v| v.as_str().and_then(|s| s.parse::<Decimal>().ok()).or_else(|| v.as_f64().and_then(|n| Decimal::try_from(n).ok())));
            match c.code {
                CheckCode::Honeypot if c.verdict == Verdict::Fail => f.honeypot = true,
                CheckCode::BuyTaxHigh => f.buy_tax = value.unwrap_or(f.buy_tax).clamp(Decimal::ZERO, Decimal::ONE),
                CheckCode::SellTaxHigh => f.sell_tax = value.unwrap_or(f.sell_tax).clamp(Decimal::ZERO, Decimal::ONE),
                _ => {}
            }
        }
    }

    fn decision(&mut self, d: &GateDecision, env: &Envelope, out: &mut Vec<Envelope>) {
        let asset = d.asset_id.to_string();
        let facts = self.facts.entry(asset.clone()).or_insert_with(|| Facts { dex: !asset.starts_with("cex:"), chain: d.asset_id.chain_slug().map(String::from), ..Facts::default() }).clone();
        let honeypot = facts.honeypot || d.reason_codes.iter().any(|c| c.eq_ignore_ascii_case("HARD_FAIL:honeypot"));
        let signal = env.event_id.as_str();
        // Profit book: promoted only.
        if d.decision == Decision::Promoted && self.cfg.strategy.enabled {
            let tags = BookTags::profit();
            if !self.busy.contains(&(book_key(&tags), asset.clone())) {
                let s = self.cfg.strategy.clone();
                if honeypot {
                    self.block(&tags, &asset, Side::Buy, signal, vec!["honeypot".into()], d.decided_at, None, out);
                } else {
                    self.submit_entry(tags, &asset, signal, d.decided_at, s.notional_usd, (s.take_profit_pct, s.stop_loss_pct, s.max_hold_minutes), None, out);
                }
            }
        }
        // Learning book.
        let specs: Vec<(ExperimentSpec, String)> = self.running().into_iter().map(|e| (e.spec.clone(), e.sha256.clone())).collect();
        for (spec, _sha) in specs {
            let x = &spec.exposure;
            let want = match d.decision {
                Decision::Promoted => nl_domain::experiment::SignalDecision::Promoted,
                Decision::Rejected => nl_domain::experiment::SignalDecision::Rejected,
            };
            let kind = if facts.dex { nl_domain::experiment::MarketKindSel::Dex } else { nl_domain::experiment::MarketKindSel::Cex };
            let chain_ok = x.chains.is_empty() || facts.chain.as_ref().is_some_and(|c| x.chains.contains(c));
            let liq_ok = x.min_liquidity_usd.is_none_or(|min| facts.last.as_ref().and_then(|s| s.liquidity_usd).is_some_and(|l| l >= min));
            if !x.decisions.contains(&want) || !(x.kinds.is_empty() || x.kinds.contains(&kind)) || !chain_ok || !liq_ok {
                continue;
            }
            let tags = BookTags::learning(spec.spec_id.clone());
            if self.busy.contains(&(book_key(&tags), asset.clone())) || !sampled(self.cfg.rng, &spec.spec_id, signal, x.sample_rate) {
                continue;
            }
            if honeypot {
                self.block(&tags, &asset, Side::Buy, signal, vec!["honeypot".into()], d.decided_at, None, out);
                continue;
            }
            let codes = self.gate.check(&spec, x.notional_usd, d.decided_at, facts.scheduled_at);
            if codes.is_empty() {
                self.gate.commit(&spec.spec_id, x.notional_usd, d.decided_at);
                let alloc = RiskAllocation {
                    budget_day: utc_day(d.decided_at),
                    allocated_usd: x.notional_usd,
                    budget_used_usd: self.gate.budget.used_usd,
                    budget_limit_usd: self.gate.limit_usd,
                };
                self.submit_entry(tags.clone(), &asset, signal, d.decided_at, x.notional_usd, (x.take_profit_pct, x.stop_loss_pct, x.max_hold_minutes), Some(alloc), out);
            } else {
                self.block(&tags, &asset, Side::Buy, signal, codes, d.decided_at, None, out);
            }
            self.gate_updated(&spec, &tags, signal, d.decided_at, facts.scheduled_at, out);
        }
    }

    fn gate_updated(&mut self, spec: &ExperimentSpec, tags: &BookTags, signal: &str, at: Ts, open_at: Option<Ts>, out: &mut Vec<Envelope>) {
        let zones_active = self.gate.zones_active(spec, at, open_at);
        let budget = self.gate.roll(at).clone();
        let body = LearningGateUpdated { tags: tags.clone(), budget_day: budget.day, budget_used_usd: budget.used_usd, budget_limit_usd: self.gate.limit_usd, zones_active, at };
        out.push(paper_envelope(EventType::LearningGateUpdated, &[&self.run.run_id, &spec.spec_id, signal], at, &self.run, None, &body));
    }

    #[allow(clippy::too_many_arguments)]
    fn submit_entry(&mut self, tags: BookTags, asset: &str, signal: &str, at: Ts, notional: Decimal, exits: (Decimal, Decimal, u32), alloc: Option<RiskAllocation>, out: &mut Vec<Envelope>) {
        let order_id = id16(EventType::OrderSubmitted, &[&book_key(&tags), signal, "entry"]);
        let order = OrderSubmitted {
            tags: tags.clone(),
            order_id: order_id.clone(),
            position_id: order_id.clone(),
            asset_id: asset.to_string(),
            side: Side::Buy,
            notional_usd: notional,
            quantity: None,
            intent: "entry".into(),
            signal_event_id: signal.to_string(),
            decided_at: at,
            risk_allocation: alloc,
        };
        self.positions.insert(
            order_id.clone(),
            Position {
                id: order_id,
                tags: tags.clone(),
                asset: asset.to_string(),
                quantity: Decimal::ZERO,
                cost: Decimal::ZERO,
                entry_notional: notional,
                entry_price: Decimal::ZERO,
                fees: Decimal::ZERO,
                opened_at: at,
                take_profit_pct: exits.0,
                stop_loss_pct: exits.1,
                max_hold_minutes: exits.2,
                exiting: true,
                stuck: false,
                marked: None,
            },
        );
        self.busy.insert((book_key(&tags), asset.to_string()));
        self.submit(order, out);
    }

    fn submit(&mut self, order: OrderSubmitted, out: &mut Vec<Envelope>) {
        let not_before = order.decided_at + chrono::Duration::milliseconds(i64::try_from(self.cfg.decision_latency_ms).unwrap_or(i64::MAX / 2));
        let deadline = not_before + chrono::Duration::seconds(i64::try_from(self.cfg.max_price_wait_secs).unwrap_or(i64::MAX / 2_000));
        out.push(paper_envelope(EventType::OrderSubmitted, &[&self.run.run_id, &order.order_id], order.decided_at, &self.run, Some(&order.asset_id), &order));
        self.pending.entry(order.asset_id.clone()).or_default().push(Pending { order, not_before, deadline });
    }

    #[allow(clippy::too_many_arguments)]
    fn block(&self, tags: &BookTags, asset: &str, side: Side, signal: &str, reason_codes: Vec<String>, at: Ts, order_id: Option<String>, out: &mut Vec<Envelope>) {
        let body = TradeBlocked { tags: tags.clone(), asset_id: asset.to_string(), side, signal_event_id: signal.to_string(), reason_codes, blocked_at: at, order_id };
        let parts = [self.run.run_id.as_str(), &book_key(tags), signal, side.as_str(), body.order_id.as_deref().unwrap_or("")];
        out.push(paper_envelope(EventType::TradeBlocked, &parts, at, &self.run, Some(asset), &body));
    }

    /// An order that will not fill: blocked; an entry's position is dropped, an exit's stays open.
    fn refuse(&mut self, order: &OrderSubmitted, codes: Vec<String>, at: Ts, out: &mut Vec<Envelope>) {
        self.block(&order.tags, &order.asset_id, order.side, &order.signal_event_id, codes.clone(), at, Some(order.order_id.clone()), out);
        match order.side {
            Side::Buy => {
                self.positions.remove(&order.position_id);
                self.busy.remove(&(book_key(&order.tags), order.asset_id.clone()));
                if let Some(id) = &order.tags.experiment_id {
                    self.gate.release(id, order.notional_usd);
                }
            }
            Side::Sell => {
                if let Some(p) = self.positions.get_mut(&order.position_id) {
                    p.exiting = false;
                    p.stuck = codes.iter().any(|c| c == "honeypot_unsellable");
                }
            }
        }
    }

    fn snapshot(&mut self, s: &Snapshot, env: &Envelope, out: &mut Vec<Envelope>) {
        let asset = s.asset_id.to_string();
        let facts = {
            let f = self.facts.entry(asset.clone()).or_insert_with(|| Facts { dex: !asset.starts_with("cex:"), chain: s.asset_id.chain_slug().map(String::from), ..Facts::default() });
            f.last = Some(s.clone());
            f.clone()
        };
        let at = s.observed_at;
        // Orders waiting for this asset's price: this is the first snapshot at or after their time.
        if let Some(waiting) = self.pending.remove(&asset) {
            let mut keep = Vec::new();
            for p in waiting {
                if at < p.not_before {
                    keep.push(p);
                } else if at > p.deadline {
                    self.refuse(&p.order, vec!["no_fresh_price".into()], at, out);
                } else {
                    self.fill(&p.order, s, env, &facts, out);
                }
            }
            if !keep.is_empty() {
                self.pending.insert(asset.clone(), keep);
            }
        }
        // Marks and exits.
        let ids: Vec<String> = self.positions.values().filter(|p| p.asset == asset && p.quantity > Decimal::ZERO).map(|p| p.id.clone()).collect();
        for id in ids {
            let Some(p) = self.positions.get(&id).cloned() else { continue };
            let mark = if facts.honeypot { Decimal::ZERO } else { s.price_usd.unwrap_or(Decimal::ZERO) };
            if s.price_usd.is_none() && !facts.honeypot {
                continue;
            }
            if p.marked != Some((mark, facts.honeypot)) {
                self.position_event(&p, "open", mark, Decimal::ZERO, facts.honeypot, at, env.event_id.as_str(), out);
                if let Some(q) = self.positions.get_mut(&id) {
                    q.marked = Some((mark, facts.honeypot));
                }
            }
            if p.exiting || p.stuck {
                continue;
            }
            let ret_pct = if p.entry_price > Decimal::ZERO { (mark / p.entry_price - Decimal::ONE) * Decimal::ONE_HUNDRED } else { Decimal::ZERO };
            let held = (at - p.opened_at).num_minutes();
            let intent = if ret_pct >= p.take_profit_pct {
                "take_profit"
            } else if ret_pct <= -p.stop_loss_pct {
                "stop_loss"
            } else if held >= i64::from(p.max_hold_minutes) {
                "max_hold"
            } else {
                continue;
            };
            let order_id = id16(EventType::OrderSubmitted, &[&p.id, env.event_id.as_str(), intent]);
            let order = OrderSubmitted {
                tags: p.tags.clone(),
                order_id,
                position_id: p.id.clone(),
                asset_id: asset.clone(),
                side: Side::Sell,
                notional_usd: p.entry_notional,
                quantity: Some(p.quantity),
                intent: intent.into(),
                signal_event_id: env.event_id.0.clone(),
                decided_at: at,
                risk_allocation: None,
            };
            if let Some(pos) = self.positions.get_mut(&id) {
                pos.exiting = true;
            }
            self.submit(order, out);
        }
    }

    fn fill(&mut self, o: &OrderSubmitted, s: &Snapshot, env: &Envelope, facts: &Facts, out: &mut Vec<Envelope>) {
        let at = s.observed_at;
        if facts.scheduled_at.is_some_and(|open| open > at) {
            return self.refuse(o, vec!["venue_not_open".into()], at, out);
        }
        if facts.honeypot {
            let code = if o.side == Side::Buy { "honeypot" } else { "honeypot_unsellable" };
            return self.refuse(o, vec![code.into()], at, out);
        }
        let Some(price) = s.price_usd else { return self.refuse(o, vec!["no_fresh_price".into()], at, out) };
        let market = Market {
            dex: facts.dex,
            price,
            liquidity_usd: s.liquidity_usd,
            volume_24h_usd: s.volume_24h_usd,
            age_minutes: s.age_minutes,
            buy_tax: facts.buy_tax,
            sell_tax: facts.sell_tax,
        };
        let ask = match o.side {
            Side::Buy => Ask::Buy { notional_usd: o.notional_usd },
            Side::Sell => Ask::Sell { quantity: o.quantity.unwrap_or(Decimal::ZERO) },
        };
        let priced = match fill::price(ask, &market, &self.fees, &self.cfg.caps) {
            Ok(p) => p,
            Err(refusal) => return self.refuse(o, vec![refusal.code().into()], at, out),
        };
        let fill_id = id16(EventType::OrderFilled, &[&o.order_id, env.event_id.as_str()]);
        let body = OrderFilled {
            tags: o.tags.clone(),
            order_id: o.order_id.clone(),
            fill_id: fill_id.clone(),
            asset_id: o.asset_id.clone(),
            side: o.side,
            mark_price: price,
            price: priced.price,
            quantity: priced.quantity,
            notional_usd: priced.notional_usd,
            fee_usd: priced.fee_usd,
            tax_usd: priced.tax_usd,
            gas_usd: priced.gas_usd,
            slippage_bps: priced.slippage_bps,
            snapshot_event_id: env.event_id.0.clone(),
            filled_at: at,
            fill_model: fill::MODEL_VERSION.into(),
            rng_seed: self.cfg.rng,
            assumptions: priced.assumptions,
        };
        out.push(paper_envelope(EventType::OrderFilled, &[&self.run.run_id, &fill_id], at, &self.run, Some(&o.asset_id), &body));
        let Some(mut p) = self.positions.get(&o.position_id).cloned() else { return };
        let costs = priced.fee_usd + priced.tax_usd + priced.gas_usd;
        match o.side {
            Side::Buy => {
                p.quantity = priced.quantity;
                p.cost = priced.notional_usd + priced.gas_usd;
                p.entry_price = if priced.quantity > Decimal::ZERO { (p.cost / priced.quantity).round_dp(12) } else { Decimal::ZERO };
                p.fees = costs;
                p.opened_at = at;
                p.exiting = false;
                p.marked = Some((price, false));
                self.position_event(&p, "open", price, Decimal::ZERO, false, at, &fill_id, out);
                self.positions.insert(p.id.clone(), p);
            }
            Side::Sell => {
                p.fees += costs;
                let realized = (priced.notional_usd - priced.gas_usd - p.cost).round_dp(12);
                self.position_event(&p, "closed", price, realized, false, at, &fill_id, out);
                self.positions.remove(&p.id);
                self.busy.remove(&(book_key(&p.tags), p.asset.clone()));
                if let Some(id) = &p.tags.experiment_id {
                    self.gate.release(id, p.entry_notional);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn position_event(&self, p: &Position, status: &str, mark: Decimal, realized: Decimal, honeypot: bool, at: Ts, cause: &str, out: &mut Vec<Envelope>) {
        let (quantity, unrealized) = if status == "closed" { (Decimal::ZERO, Decimal::ZERO) } else { (p.quantity, (p.quantity * mark - p.cost).round_dp(12)) };
        let body = PositionUpdated {
            tags: p.tags.clone(),
            position_id: p.id.clone(),
            asset_id: p.asset.clone(),
            status: status.into(),
            quantity,
            entry_notional_usd: p.entry_notional,
            avg_entry_price: p.entry_price,
            mark_price: mark,
            unrealized_pnl_usd: unrealized,
            realized_pnl_usd: realized,
            fees_usd: p.fees.round_dp(12),
            honeypot,
            at,
        };
        out.push(paper_envelope(EventType::PositionUpdated, &[&self.run.run_id, &p.id, cause, status], at, &self.run, Some(&p.asset), &body));
    }
}
