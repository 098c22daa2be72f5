//! Applying paper events: orders, fills, position snapshots, learning-budget allocations, blocked signals,
//! experiment specs and their status steps, strategy runs. The tables' CHECKs refuse a row whose book tags
//! disagree; the typed bodies refuse it first ([`nl_domain::Body::decode`]), so such an event is kept in
//! `events` as invalid and dead-lettered rather than failing the batch.

use nl_domain::{Body, Envelope, EventType, ExperimentStatus};
use sqlx::SqliteConnection;

use crate::db::ts_str;
use crate::error::Result;

/// A paper event's decoded body, ready to apply.
pub(crate) struct PaperRow {
    event_id: String,
    run_id: String,
    kind: EventType,
    body: Body,
}

impl PaperRow {
    /// The row of a paper event, or the reason its meta does not fit.
    pub(crate) fn parse(env: &Envelope) -> std::result::Result<Self, String> {
        let body = env.body().map_err(|e| e.to_string())?;
        Ok(Self { event_id: env.event_id.0.clone(), run_id: env.run_id.clone(), kind: env.kind, body })
    }
}

fn tag(b: &nl_domain::BookTags) -> (i64, Option<&str>) {
    (i64::from(b.learning_book), b.experiment_id.as_deref())
}

/// Applies new paper events in order (a status step needs its spec, written earlier in the same batch).
pub(crate) async fn apply(conn: &mut SqliteConnection, rows: &[&PaperRow]) -> Result<()> {
    for r in rows {
        apply_one(conn, r).await?;
    }
    Ok(())
}

#[allow(clippy::too_many_lines)]
async fn apply_one(conn: &mut SqliteConnection, r: &PaperRow) -> Result<()> {
    let (id, run) = (r.event_id.as_str(), r.run_id.as_str());
    match &r.body {
        Body::OrderSubmitted(o) => {
            let (lb, exp) = tag(&o.tags);
            sqlx::query(
                "INSERT INTO orders (order_id, event_id, run_id, asset_id, side, notional_usd, intent, signal_event_id, decided_at, learning_book, experiment_id) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(&o.order_id)
            .bind(id)
            .bind(run)
            .bind(&o.asset_id)
            .bind(o.side.as_str())
            .bind(o.notional_usd.to_string())
            .bind(&o.intent)
            .bind(&o.signal_event_id)
            .bind(ts_str(&o.decided_at))
            .bind(lb)
            .bind(exp)
            .execute(&mut *conn)
            .await?;
            if let Some(a) = &o.risk_allocation {
                sqlx::query(
                    "INSERT INTO risk_allocations (event_id, order_id, run_id, budget_day, allocated_usd, budget_used_usd, budget_limit_usd, learning_book, experiment_id) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING",
                )
                .bind(id)
                .bind(&o.order_id)
                .bind(run)
                .bind(&a.budget_day)
                .bind(a.allocated_usd.to_string())
                .bind(a.budget_used_usd.to_string())
                .bind(a.budget_limit_usd.to_string())
                .bind(lb)
                .bind(exp)
                .execute(&mut *conn)
                .await?;
            }
        }
        Body::OrderFilled(f) => {
            let (lb, exp) = tag(&f.tags);
            sqlx::query(
                "INSERT INTO fills (fill_id, event_id, order_id, run_id, asset_id, side, mark_price, price, quantity, notional_usd, fee_usd, tax_usd, gas_usd, \
                 slippage_bps, snapshot_event_id, filled_at, fill_model, rng_seed, assumptions_json, learning_book, experiment_id) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(&f.fill_id)
            .bind(id)
            .bind(&f.order_id)
            .bind(run)
            .bind(&f.asset_id)
            .bind(f.side.as_str())
            .bind(f.mark_price.to_string())
            .bind(f.price.to_string())
            .bind(f.quantity.to_string())
            .bind(f.notional_usd.to_string())
            .bind(f.fee_usd.to_string())
            .bind(f.tax_usd.to_string())
            .bind(f.gas_usd.to_string())
            .bind(f.slippage_bps.to_string())
            .bind(&f.snapshot_event_id)
            .bind(ts_str(&f.filled_at))
            .bind(&f.fill_model)
            .bind(f.rng_seed.to_string())
            .bind(serde_json::to_string(&f.assumptions)?)
            .bind(lb)
            .bind(exp)
            .execute(&mut *conn)
            .await?;
        }
        Body::PositionUpdated(p) => {
            let (lb, exp) = tag(&p.tags);
            sqlx::query(
                "INSERT INTO position_snapshots (event_id, run_id, position_id, asset_id, status, quantity, entry_notional_usd, avg_entry_price, mark_price, \
                 unrealized_pnl_usd, realized_pnl_usd, fees_usd, honeypot, ts, learning_book, experiment_id) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING",
            )
            .bind(id)
            .bind(run)
            .bind(&p.position_id)
            .bind(&p.asset_id)
            .bind(&p.status)
            .bind(p.quantity.to_string())
            .bind(p.entry_notional_usd.to_string())
            .bind(p.avg_entry_price.to_string())
            .bind(p.mark_price.to_string())
            .bind(p.unrealized_pnl_usd.to_string())
            .bind(p.realized_pnl_usd.to_string())
            .bind(p.fees_usd.to_string())
            .bind(p.honeypot)
            .bind(ts_str(&p.at))
            .bind(lb)
            .bind(exp)
            .execute(&mut *conn)
            .await?;
        }
        Body::TradeBlocked(b) => {
            let (lb, exp) = tag(&b.tags);
            sqlx::query(
                "INSERT INTO block_events (event_id, run_id, asset_id, side, signal_event_id, order_id, reason_codes_json, ts, learning_book, experiment_id) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING",
            )
            .bind(id)
            .bind(run)
            .bind(&b.asset_id)
            .bind(b.side.as_str())
            .bind(&b.signal_event_id)
            .bind(b.order_id.as_deref())
            .bind(serde_json::to_string(&b.reason_codes)?)
            .bind(ts_str(&b.blocked_at))
            .bind(lb)
            .bind(exp)
            .execute(&mut *conn)
            .await?;
        }
        Body::ExperimentCreated(c) => {
            let at = ts_str(&c.created_at);
            sqlx::query(
                "INSERT INTO experiment_specs (experiment_id, version, spec_json, status, created_at, updated_at, spec_sha256, event_id) \
                 VALUES (?, ?, ?, 'draft', ?, ?, ?, ?) ON CONFLICT(experiment_id) DO NOTHING",
            )
            .bind(&c.spec.spec_id)
            .bind(i64::from(c.spec.version))
            .bind(serde_json::to_string(&c.spec)?)
            .bind(&at)
            .bind(&at)
            .bind(&c.spec_sha256)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        Body::ExperimentStatusChanged(s) => {
            // Only a legal step from the stored status, for the stored (frozen) spec, changes the row; any
            // other is kept in `events` only.
            let Some(exp) = s.tags.experiment_id.as_deref() else { return Ok(()) };
            if !s.from.can_become(s.to) {
                return Ok(());
            }
            let frozen = (s.to == ExperimentStatus::Running).then(|| ts_str(&s.changed_at));
            sqlx::query(
                "UPDATE experiment_specs SET status = ?1, updated_at = ?2, frozen_at = COALESCE(frozen_at, ?3) \
                 WHERE experiment_id = ?4 AND status = ?5 AND spec_sha256 = ?6",
            )
            .bind(s.to.as_str())
            .bind(ts_str(&s.changed_at))
            .bind(frozen)
            .bind(exp)
            .bind(s.from.as_str())
            .bind(&s.spec_sha256)
            .execute(&mut *conn)
            .await?;
        }
        Body::StrategyRun(s) => {
            let settings = serde_json::to_string(&s.settings)?;
            if r.kind == EventType::StrategyRunStarted {
                sqlx::query(
                    "INSERT INTO strategy_runs (run_id, mode, settings_json, source_run_id, started_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(run_id) DO NOTHING",
                )
                .bind(run)
                .bind(&s.mode)
                .bind(&settings)
                .bind(s.source_run_id.as_deref())
                .bind(ts_str(&s.started_at))
                .execute(&mut *conn)
                .await?;
                for e in &s.experiment_ids {
                    sqlx::query("INSERT INTO experiment_runs (experiment_id, run_id, plan_id, started_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
                        .bind(e)
                        .bind(run)
                        .bind(&s.mode)
                        .bind(ts_str(&s.started_at))
                        .execute(&mut *conn)
                        .await?;
                }
            } else {
                let end = s.ended_at.as_ref().map(ts_str);
                sqlx::query(
                    "INSERT INTO strategy_runs (run_id, mode, settings_json, source_run_id, started_at, ended_at, status) VALUES (?, ?, ?, ?, ?, ?, 'completed') \
                     ON CONFLICT(run_id) DO UPDATE SET ended_at = excluded.ended_at, status = 'completed'",
                )
                .bind(run)
                .bind(&s.mode)
                .bind(&settings)
                .bind(s.source_run_id.as_deref())
                .bind(ts_str(&s.started_at))
                .bind(end.as_deref())
                .execute(&mut *conn)
                .await?;
                sqlx::query("UPDATE experiment_runs SET ended_at = ? WHERE run_id = ?").bind(end.as_deref()).bind(run).execute(&mut *conn).await?;
            }
        }
        // learning.gate_updated is kept in `events` only (the budget state is in risk_allocations).
        _ => {}
    }
    Ok(())
}
