#![allow(clippy::unwrap_used)]

use chrono::TimeZone;
use nl_domain::{BookTags, ExperimentStatus, PositionUpdated, Ts};

use super::*;

fn at(min: u32) -> Ts {
    chrono::Utc.with_ymd_and_hms(2026, 12, 7, 12, min, 0).unwrap()
}

fn record(question: &str) -> ExperimentRecord {
    let spec = serde_json::json!({
        "spec_id": "explore", "version": 1, "question": question, "hypothesis": "above 0",
        "exposure": {"decisions": ["rejected", "promoted"], "sample_rate": 0.5, "notional_usd": "10",
                     "take_profit_pct": "20", "stop_loss_pct": "20", "max_hold_minutes": 60},
        "metrics": {"primary": "mean_return_pct", "success_criterion": {"op": ">", "threshold": 0.0}, "min_trades": 10},
        "risk": {"max_notional_usd": "500", "max_open_positions": 50},
        "no_learn_zones": [{"kind": "utc_window", "start": "00:00", "end": "01:00"}]
    });
    let spec = ExperimentSpec::parse(&spec.to_string()).unwrap();
    ExperimentRecord {
        experiment_id: "explore".into(),
        status: ExperimentStatus::Running,
        spec_sha256: spec.sha256(),
        spec,
        created_at: "2026-12-07T11:00:00Z".into(),
        updated_at: "2026-12-07T11:05:00Z".into(),
        frozen_at: Some("2026-12-07T11:05:00Z".into()),
    }
}

fn position(id: &str, tags: BookTags, status: &str, realized: i64, unrealized: i64, min: u32) -> PositionUpdated {
    PositionUpdated {
        tags,
        position_id: id.into(),
        asset_id: "dex:base:0xabc".into(),
        status: status.into(),
        quantity: Decimal::ONE,
        entry_notional_usd: Decimal::TEN,
        avg_entry_price: Decimal::ONE,
        mark_price: Decimal::ONE,
        unrealized_pnl_usd: Decimal::from(unrealized),
        realized_pnl_usd: Decimal::from(realized),
        fees_usd: Decimal::ZERO,
        honeypot: false,
        at: at(min),
    }
}

#[test]
fn money_has_its_sign_and_two_decimals() {
    assert_eq!(money(Decimal::new(1234, 3)), "+$1.23");
    assert_eq!(money(Decimal::new(-40, 2)), "−$0.40");
    assert_eq!(money(Decimal::new(-1, 4)), "$0.00");
    assert_eq!(usd2(Decimal::ZERO), "$0.00");
    assert_eq!(usd2(Decimal::new(123, 1)), "$12.30");
    assert_eq!(sign_class(Decimal::new(-5, 1)), "num neg");
    assert_eq!(sign_class(Decimal::ZERO), "num");
}

#[test]
fn csv_cells_are_quoted_and_defused() {
    assert_eq!(cell("cex:okx:A"), "cex:okx:A");
    assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    assert_eq!(cell("a,b"), "\"a,b\"");
}

#[test]
fn the_empty_state_says_how_to_start() {
    let html = overview_body(&[], &[], None).into_string();
    assert!(html.contains("id=\"howto\"") && html.contains("nl backtest --from") && html.contains("nl paper start"), "{html}");
    assert!(not_connected().into_string().contains("nl serve web"));
}

#[test]
fn experiments_render_escaped_with_their_status() {
    let html = overview_body(&[record("<script>alert(1)</script>")], &[], None).into_string();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>alert"), "{html}");
    assert!(html.contains("badge running") && html.contains("mean_return_pct &gt; 0") && html.contains("href=\"/learning/explore\""), "{html}");
    // No run yet: the how-to under the experiments.
    assert!(html.contains("id=\"howto\""));
    let page = experiment_body(&record("q"), &[]).into_string();
    assert!(page.contains("no_learn_window") && page.contains("No paper session or backtest traded this experiment"), "{page}");
}

#[test]
fn the_chart_marks_positions_to_market_per_book() {
    let trades = RunTrades {
        positions: vec![
            position("p1", BookTags::profit(), "open", 0, 3, 1),
            position("l1", BookTags::learning("explore"), "open", 0, -2, 2),
            position("p1", BookTags::profit(), "closed", 5, 0, 3),
            position("p2", BookTags::profit(), "open", 0, -1, 4),
        ],
        ..RunTrades::default()
    };
    let profit = chart::marked(&trades, |p| !p.tags.learning_book);
    assert_eq!(profit.iter().map(|p| p.1).collect::<Vec<_>>(), vec![3.0, 5.0, 4.0]);
    let learning = chart::marked(&trades, |p| p.tags.learning_book);
    assert_eq!(learning, vec![(at(2), -2.0)]);
    let lines = [
        Line { label: "profit book".into(), color: chart::PROFIT, points: profit },
        Line { label: "learning book".into(), color: chart::LEARNING, points: learning },
    ];
    let svg = chart::pnl_over_time("PnL", &lines).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("profit book") && svg.contains("learning book"), "{svg}");
    assert!(chart::pnl_over_time("PnL", &[]).is_none());
}
