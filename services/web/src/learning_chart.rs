//! The learning-book page's chart, drawn on the server with plotters' SVG backend: PnL per book (or per
//! experiment) over time, marked to market (closed positions at their realized PnL, open ones at their
//! unrealized, after each position update: the figure the report ends on), one step line each, with a
//! zero line and a legend.

use std::collections::BTreeMap;

use nl_domain::paper_read::RunTrades;
use nl_domain::{PositionUpdated, Ts};
use plotters::prelude::*;

use crate::charts::{BG, FG, GRID, compact, float, label_style, time_mesh};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 260;
/// The profit book's colour (the dashboard's accent) and the learning book's (its amber).
pub const PROFIT: RGBColor = crate::charts::ACCENT;
pub const LEARNING: RGBColor = RGBColor(0xd2, 0x99, 0x22);

/// One line: a label, its colour, and its values `(time, PnL then)` in time order.
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(Ts, f64)>,
}

/// The PnL of the positions of `trades` that `keep` accepts, after each of their updates: every
/// position's latest realized plus unrealized PnL, summed.
pub fn marked(trades: &RunTrades, keep: impl Fn(&PositionUpdated) -> bool) -> Vec<(Ts, f64)> {
    let mut updates: Vec<&PositionUpdated> = trades.positions.iter().filter(|p| keep(p)).collect();
    // Stable: event order among equal times.
    updates.sort_by_key(|p| p.at);
    let mut latest: BTreeMap<&str, f64> = BTreeMap::new();
    updates
        .into_iter()
        .map(|p| {
            // As the report: a closed position counts its realized PnL, an open one its unrealized.
            let pnl = if p.status == "closed" { p.realized_pnl_usd } else { p.unrealized_pnl_usd };
            latest.insert(p.position_id.as_str(), float(pnl));
            (p.at, latest.values().sum())
        })
        .collect()
}

/// Step points of `values`, from 0 at `start` to the last value at `end`.
fn steps(values: &[(Ts, f64)], start: Ts, end: Ts) -> Vec<(f64, f64)> {
    let x = |t: Ts| (t - start).num_milliseconds() as f64 / 60_000.0;
    let mut last = 0.0;
    let mut pts = vec![(0.0, 0.0)];
    for (t, v) in values {
        pts.push((x(*t), last));
        last = *v;
        pts.push((x(*t), last));
    }
    pts.push((x(end), last));
    pts
}

/// `lines` as a PnL chart titled `title`; `None` when no line has a point.
#[must_use]
pub fn pnl_over_time(title: &str, lines: &[Line]) -> Option<String> {
    let times = lines.iter().flat_map(|l| l.points.iter().map(|c| c.0));
    let (start, end) = times.fold(None, |acc: Option<(Ts, Ts)>, t| Some(acc.map_or((t, t), |(a, b)| (a.min(t), b.max(t)))))?;
    let span_min = ((end - start).num_milliseconds() as f64 / 60_000.0).max(1.0 / 60.0);
    // A little room on both sides, so the first and last steps are visible.
    let pad_x = span_min * 0.04;
    let series: Vec<(&Line, Vec<(f64, f64)>)> = lines.iter().map(|l| (l, steps(&l.points, start, end))).collect();
    let (lo, hi) = series.iter().flat_map(|s| s.1.iter().map(|p| p.1)).fold((0.0_f64, 0.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad_y = ((hi - lo) * 0.1).max(0.01);
    let fmt = if span_min > 2.0 * 24.0 * 60.0 {
        "%m-%d"
    } else if span_min > 10.0 {
        "%H:%M"
    } else {
        "%H:%M:%S"
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&BG).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, label_style(15))
            .margin(10)
            .margin_right(26)
            .x_label_area_size(28)
            .y_label_area_size(64)
            .build_cartesian_2d((-pad_x)..(span_min + pad_x), (lo - pad_y)..(hi + pad_y))
            .ok()?;
        time_mesh(&mut chart, &|m| (start + chrono::Duration::milliseconds((m * 60_000.0) as i64)).format(fmt).to_string(), &|v| format!("${}", compact(*v)))?;
        chart.draw_series(LineSeries::new([(-pad_x, 0.0), (span_min + pad_x, 0.0)], FG.mix(0.35).stroke_width(1))).ok()?;
        for (line, pts) in &series {
            let color = line.color;
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .ok()?
                .label(line.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(BG.mix(0.85))
            .border_style(GRID)
            .label_font(label_style(12))
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}
