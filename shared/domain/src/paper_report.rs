//! The report of one paper session or backtest: profit PnL and learning PnL apart, and per experiment the
//! trades, hit rate, PnL, fees, slippage, max drawdown, budget used, blocks by reason, and the primary
//! metric against its success criterion with a bootstrap confidence interval ("insufficient sample"
//! below the spec's minimum trades). Rendered as a table, JSON or CSV. Deterministic: the bootstrap's
//! generator is seeded, so the same trades and seed give the same report, byte for byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::experiment::PrimaryMetric;
use crate::paper_read::RunTrades;
use crate::{BookTags, ExperimentSpec};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

/// Bootstrap resamples.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// The primary metric of an experiment against its criterion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricVerdict {
    pub metric: String,
    pub value: Option<f64>,
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
    pub criterion: String,
    pub min_trades: u32,
    /// `pass`, `fail` or `insufficient sample`.
    pub verdict: String,
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub book: String,
    pub experiment_id: Option<String>,
    pub orders: u64,
    pub fills: u64,
    /// Closed positions.
    pub trades: u64,
    pub open_positions: u64,
    pub hit_rate: Option<f64>,
    pub realized_pnl_usd: Decimal,
    pub unrealized_pnl_usd: Decimal,
    pub pnl_usd: Decimal,
    pub fees_usd: Decimal,
    pub avg_slippage_bps: Option<Decimal>,
    pub max_drawdown_usd: Decimal,
    pub budget_used_usd: Decimal,
    pub blocks: u64,
    pub blocks_by_reason: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<MetricVerdict>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub run_id: String,
    pub group_by: Vec<String>,
    pub seed: u64,
    pub groups: Vec<GroupRow>,
    /// `(book, experiment_id, reason_code) → blocks`, when grouped by reason code.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks_by_reason: Vec<(String, Option<String>, String, u64)>,
}

/// The grouping keys a report accepts.
pub const GROUP_KEYS: &[&str] = &["book", "experiment_id", "reason_code"];

/// Parses `book,experiment_id,reason_code`.
///
/// # Errors
/// The unknown key.
pub fn parse_group_by(s: &str) -> Result<Vec<String>, String> {
    let keys: Vec<String> = s.split(',').map(str::trim).filter(|k| !k.is_empty()).map(String::from).collect();
    for k in &keys {
        if !GROUP_KEYS.contains(&k.as_str()) {
            return Err(format!("group_by: unknown key {k:?} (known: {})", GROUP_KEYS.join(", ")));
        }
    }
    Ok(if keys.is_empty() { vec!["book".into()] } else { keys })
}

/// splitmix64: a tiny seeded generator, enough for resampling indices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn mean(v: &[f64]) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let n = v.len() as f64;
    v.iter().sum::<f64>() / n
}

/// The 95 % percentile bootstrap interval of the mean of `v`.
#[must_use]
pub fn bootstrap_ci(v: &[f64], seed: u64) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let mut rng = Rng(seed);
    let n = v.len();
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let sample: Vec<f64> = (0..n).map(|_| v[usize::try_from(rng.next() % n as u64).unwrap_or(0)]).collect();
            mean(&sample)
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let i = ((BOOTSTRAP_RESAMPLES - 1) as f64 * q).round() as usize;
        means[i]
    };
    Some((at(0.025), at(0.975)))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[derive(Default)]
struct Acc {
    orders: u64,
    fills: u64,
    slippage: Vec<Decimal>,
    fees: Decimal,
    budget: Decimal,
    blocks: BTreeMap<String, u64>,
    nblocks: u64,
    /// Latest state per position: (status, realized, unrealized, entry notional).
    positions: BTreeMap<String, (String, Decimal, Decimal, Decimal)>,
    /// Realized PnL in closing order.
    closes: Vec<(Decimal, Decimal)>,
}

/// Computes the report of `trades`; `specs` gives each experiment's metric and criterion.
#[must_use]
pub fn compute(run_id: &str, trades: &RunTrades, specs: &BTreeMap<String, ExperimentSpec>, group_by: &[String], seed: u64) -> Report {
    let by_exp = group_by.iter().any(|k| k == "experiment_id");
    let key = |t: &BookTags| (t.book().to_string(), if by_exp { t.experiment_id.clone() } else { None });
    let mut acc: BTreeMap<(String, Option<String>), Acc> = BTreeMap::new();
    for b in ["profit", "learning"] {
        if !by_exp || b == "profit" {
            acc.entry((b.to_string(), None)).or_default();
        }
    }
    for o in &trades.orders {
        let a = acc.entry(key(&o.tags)).or_default();
        a.orders += 1;
        if let Some(r) = &o.risk_allocation {
            a.budget += r.allocated_usd;
        }
    }
    for f in &trades.fills {
        let a = acc.entry(key(&f.tags)).or_default();
        a.fills += 1;
        a.slippage.push(f.slippage_bps);
        a.fees += f.fee_usd + f.tax_usd + f.gas_usd;
    }
    for p in &trades.positions {
        let a = acc.entry(key(&p.tags)).or_default();
        if p.status == "closed" {
            a.closes.push((p.realized_pnl_usd, p.entry_notional_usd));
        }
        a.positions.insert(p.position_id.clone(), (p.status.clone(), p.realized_pnl_usd, p.unrealized_pnl_usd, p.entry_notional_usd));
    }
    let mut reasons: BTreeMap<(String, Option<String>, String), u64> = BTreeMap::new();
    for b in &trades.blocks {
        let a = acc.entry(key(&b.tags)).or_default();
        a.nblocks += 1;
        for c in &b.reason_codes {
            *a.blocks.entry(c.clone()).or_default() += 1;
            *reasons.entry((b.tags.book().to_string(), b.tags.experiment_id.clone(), c.clone())).or_default() += 1;
        }
    }
    let groups = acc
        .into_iter()
        .map(|((book, exp), a)| {
            let trades_n = a.closes.len() as u64;
            let realized: Decimal = a.closes.iter().map(|(r, _)| *r).sum();
            let unrealized: Decimal = a.positions.values().filter(|p| p.0 == "open").map(|p| p.2).sum();
            let wins = a.closes.iter().filter(|(r, _)| *r > Decimal::ZERO).count();
            #[allow(clippy::cast_precision_loss)]
            let hit_rate = (trades_n > 0).then(|| round4(wins as f64 / trades_n as f64));
            let (mut peak, mut cum, mut dd) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
            for (r, _) in &a.closes {
                cum += *r;
                peak = peak.max(cum);
                dd = dd.max(peak - cum);
            }
            let n_slip = Decimal::from(a.slippage.len() as u64);
            let avg_slippage_bps = (!a.slippage.is_empty()).then(|| (a.slippage.iter().copied().sum::<Decimal>() / n_slip).round_dp(4));
            let primary = exp.as_ref().and_then(|id| specs.get(id)).map(|spec| verdict(spec, &a.closes, seed));
            GroupRow {
                book,
                experiment_id: exp,
                orders: a.orders,
                fills: a.fills,
                trades: trades_n,
                open_positions: a.positions.values().filter(|p| p.0 == "open").count() as u64,
                hit_rate,
                realized_pnl_usd: realized.round_dp(8).normalize(),
                unrealized_pnl_usd: unrealized.round_dp(8).normalize(),
                pnl_usd: (realized + unrealized).round_dp(8).normalize(),
                fees_usd: a.fees.round_dp(8).normalize(),
                avg_slippage_bps: avg_slippage_bps.map(|d| d.normalize()),
                max_drawdown_usd: dd.round_dp(8).normalize(),
                budget_used_usd: a.budget.normalize(),
                blocks: a.nblocks,
                blocks_by_reason: a.blocks,
                primary,
            }
        })
        .collect();
    let blocks_by_reason = if group_by.iter().any(|k| k == "reason_code") { reasons.into_iter().map(|((b, e, r), n)| (b, e, r, n)).collect() } else { Vec::new() };
    Report { run_id: run_id.to_string(), group_by: group_by.to_vec(), seed, groups, blocks_by_reason }
}

fn verdict(spec: &ExperimentSpec, closes: &[(Decimal, Decimal)], seed: u64) -> MetricVerdict {
    let m = &spec.metrics;
    let values: Vec<f64> = closes
        .iter()
        .map(|(r, n)| match m.primary {
            PrimaryMetric::MeanReturnPct => if *n > Decimal::ZERO { (*r / *n * Decimal::ONE_HUNDRED).to_f64().unwrap_or(0.0) } else { 0.0 },
            PrimaryMetric::HitRate => if *r > Decimal::ZERO { 1.0 } else { 0.0 },
        })
        .collect();
    let value = (!values.is_empty()).then(|| round4(mean(&values)));
    let ci = bootstrap_ci(&values, seed).map(|(l, h)| (round4(l), round4(h)));
    let op = serde_json::to_value(m.success_criterion.op).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let verdict = if (closes.len() as u64) < u64::from(m.min_trades) {
        "insufficient sample".to_string()
    } else if value.is_some_and(|v| m.success_criterion.op.holds(v, m.success_criterion.threshold)) {
        "pass".into()
    } else {
        "fail".into()
    };
    let metric = serde_json::to_value(m.primary).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    MetricVerdict {
        metric: metric.clone(),
        value,
        ci95_low: ci.map(|c| c.0),
        ci95_high: ci.map(|c| c.1),
        criterion: format!("{metric} {op} {}", m.success_criterion.threshold),
        min_trades: m.min_trades,
        verdict,
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

const COLUMNS: &[&str] = &[
    "book", "experiment_id", "orders", "fills", "trades", "open", "hit_rate", "pnl_usd", "realized_usd", "unrealized_usd", "fees_usd", "slippage_bps",
    "max_drawdown_usd", "budget_used_usd", "blocks", "primary_metric", "ci95", "criterion", "verdict",
];

fn cells(g: &GroupRow) -> Vec<String> {
    let p = g.primary.as_ref();
    vec![
        g.book.clone(),
        g.experiment_id.clone().unwrap_or_else(|| "-".into()),
        g.orders.to_string(),
        g.fills.to_string(),
        g.trades.to_string(),
        g.open_positions.to_string(),
        opt(g.hit_rate),
        g.pnl_usd.to_string(),
        g.realized_pnl_usd.to_string(),
        g.unrealized_pnl_usd.to_string(),
        g.fees_usd.to_string(),
        opt(g.avg_slippage_bps),
        g.max_drawdown_usd.to_string(),
        g.budget_used_usd.to_string(),
        g.blocks.to_string(),
        p.map_or_else(|| "-".into(), |p| format!("{}={}", p.metric, opt(p.value))),
        p.map_or_else(|| "-".into(), |p| match (p.ci95_low, p.ci95_high) {
            (Some(l), Some(h)) => format!("[{l}, {h}]"),
            _ => "-".into(),
        }),
        p.map_or_else(|| "-".into(), |p| format!("{} (min {} trades)", p.criterion, p.min_trades)),
        p.map_or_else(|| "-".into(), |p| p.verdict.clone()),
    ]
}

impl Report {
    /// A plain-text table (profit and learning rows apart), then blocks by reason when asked for.
    #[must_use]
    pub fn to_table(&self) -> String {
        let rows: Vec<Vec<String>> = self.groups.iter().map(cells).collect();
        let mut widths: Vec<usize> = COLUMNS.iter().map(|c| c.len()).collect();
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let line = |cells: &[String]| cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect::<Vec<_>>().join("  ").trim_end().to_string();
        let mut out = format!("report of {} (group by {})\n", self.run_id, self.group_by.join(","));
        let _ = writeln!(out, "{}", line(&COLUMNS.iter().map(|c| (*c).to_string()).collect::<Vec<_>>()));
        for r in &rows {
            let _ = writeln!(out, "{}", line(r));
        }
        if !self.blocks_by_reason.is_empty() {
            out.push_str("\nblocks by reason\n");
            for (b, e, r, n) in &self.blocks_by_reason {
                let _ = writeln!(out, "{b:<9} {:<28} {r:<28} {n}", e.as_deref().unwrap_or("-"));
            }
        }
        out
    }

    /// CSV: one row per group (the table's columns), cells quoted where needed.
    #[must_use]
    pub fn to_csv(&self) -> String {
        let quote = |c: &str| if c.contains([',', '"', '\n']) { format!("\"{}\"", c.replace('"', "\"\"")) } else { c.to_string() };
        let mut out = COLUMNS.join(",");
        out.push('\n');
        for g in &self.groups {
            out.push_str(&cells(g).iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
    }
}
