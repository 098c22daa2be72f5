//! Charts drawn on the server as SVG with plotters' SVG backend: a value over time (price, liquidity) and
//! the score breakdown. Labels come from token data, so they pass through plotters' SVG text escaping.

use nl_domain::{Decimal, ScoreComponent, Ts};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

const WIDTH: u32 = 560;
const LINE_HEIGHT: u32 = 220;
const BAR_ROW: u32 = 34;
pub(crate) const BG: RGBColor = RGBColor(0x16, 0x1b, 0x22);
pub(crate) const FG: RGBColor = RGBColor(0xc9, 0xd1, 0xd9);
pub(crate) const GRID: RGBColor = RGBColor(0x30, 0x36, 0x3d);
pub(crate) const ACCENT: RGBColor = RGBColor(0x58, 0xa6, 0xff);
const POSITIVE: RGBColor = RGBColor(0x3f, 0xb9, 0x50);
const NEGATIVE: RGBColor = RGBColor(0xf8, 0x51, 0x49);

/// A decimal as a float for plotting (exact values stay in the tables).
#[must_use]
pub fn float(d: Decimal) -> f64 {
    d.to_string().parse().unwrap_or(0.0)
}

pub(crate) fn label_style(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&FG)
}

/// The dashboard's mesh on a value-over-time chart: dark grid, five labels per axis, `x` and `y` formatting them.
pub(crate) fn time_mesh<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    x: &dyn Fn(&f64) -> String,
    y: &dyn Fn(&f64) -> String,
) -> Option<()> {
    chart
        .configure_mesh()
        .light_line_style(BG)
        .bold_line_style(GRID)
        .axis_style(GRID)
        .label_style(label_style(11))
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(x)
        .y_label_formatter(y)
        .draw()
        .ok()
}

/// `points` (time, value) as a line chart titled `title`; `None` when there are no points.
#[must_use]
pub fn time_series(title: &str, points: &[(Ts, f64)]) -> Option<String> {
    let first = points.first()?.0;
    let xs: Vec<(f64, f64)> = points.iter().map(|(t, v)| (minutes(first, *t), *v)).collect();
    let x_max = xs.iter().map(|p| p.0).fold(0.0_f64, f64::max).max(1.0);
    let (lo, hi) = xs.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let pad = ((hi - lo).abs() * 0.1).max(hi.abs() * 0.05).max(1e-9);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, LINE_HEIGHT)).into_drawing_area();
        root.fill(&BG).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, label_style(15))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, (lo - pad)..(hi + pad))
            .ok()?;
        time_mesh(&mut chart, &|m| (first + chrono::Duration::seconds((m * 60.0) as i64)).format("%H:%M").to_string(), &|v| compact(*v))?;
        chart.draw_series(LineSeries::new(xs.iter().copied(), ACCENT.stroke_width(2))).ok()?;
        chart.draw_series(xs.iter().map(|p| Circle::new(*p, 3, ACCENT.filled()))).ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

fn minutes(from: Ts, to: Ts) -> f64 {
    (to - from).num_milliseconds() as f64 / 60_000.0
}

/// A value for people reading prices: k/M/B suffixes from a thousand up, plain decimals below with four
/// significant figures and at least two decimals (`0.52`, `0.00001234`, `5.20`, `1.2M`). Never
/// scientific notation: new tokens trade far below a cent.
#[must_use]
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if !a.is_finite() {
        return "—".into();
    }
    if a >= 1e9 {
        format!("{:.1}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        plain(v)
    }
}

/// Most decimals shown: a value below this many zeros after the point reads as 0.
const MAX_DECIMALS: i32 = 18;

/// `v` (below 1000) with four significant figures, trailing zeros trimmed down to two decimals.
fn plain(v: f64) -> String {
    let a = v.abs();
    let magnitude = if a == 0.0 { 0 } else { a.log10().floor() as i32 };
    let decimals = usize::try_from((3 - magnitude).clamp(2, MAX_DECIMALS)).unwrap_or(2);
    let mut s = format!("{v:.decimals$}");
    if let Some(point) = s.find('.') {
        let keep = point + 3;
        while s.len() > keep && s.ends_with('0') {
            s.pop();
        }
    }
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s.remove(0);
    }
    s
}

/// The score's components as horizontal bars of their contributions; `None` when there are none.
#[must_use]
pub fn score_breakdown(components: &[ScoreComponent]) -> Option<String> {
    if components.is_empty() {
        return None;
    }
    let n = i32::try_from(components.len()).ok()?;
    let values: Vec<f64> = components.iter().map(|c| float(c.contribution)).collect();
    let lo = values.iter().copied().fold(0.0_f64, f64::min);
    let hi = values.iter().copied().fold(0.0_f64, f64::max);
    let pad = ((hi - lo) * 0.08).max(0.01);
    let height = 70 + BAR_ROW * u32::try_from(components.len()).ok()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&BG).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption("score breakdown (contribution)", label_style(15))
            .margin(10)
            .x_label_area_size(26)
            .y_label_area_size(150)
            .build_cartesian_2d((lo - pad)..(hi + pad), (0..n).into_segmented())
            .ok()?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(BG)
            .bold_line_style(GRID)
            .axis_style(GRID)
            .label_style(label_style(11))
            .x_labels(6)
            .y_labels(components.len())
            .x_label_formatter(&|v| format!("{v:.2}"))
            .y_label_formatter(&|s| match s {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    usize::try_from(*i).ok().and_then(|i| components.get(i)).map(|c| c.name.clone()).unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .draw()
            .ok()?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, v)| {
                let i = i32::try_from(i).unwrap_or(0);
                let color = if *v < 0.0 { NEGATIVE } else { POSITIVE };
                let mut bar = Rectangle::new([(0.0, SegmentValue::Exact(i)), (*v, SegmentValue::Exact(i + 1))], color.filled());
                bar.set_margin(5, 5, 0, 0);
                bar
            }))
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn compact_never_uses_scientific_notation() {
        for (v, want) in [
            (0.52, "0.52"),
            (0.5, "0.50"),
            (0.000_012_34, "0.00001234"),
            (0.000_379_8, "0.0003798"),
            (0.000_000_001_5, "0.0000000015"),
            (0.123_456, "0.1235"),
            (5.2, "5.20"),
            (1.2346, "1.235"),
            (412.0, "412.00"),
            (0.0, "0.00"),
            (-0.0042, "-0.0042"),
            (250_000.0, "250.0k"),
            (1_200_000.0, "1.2M"),
            (3_400_000_000.0, "3.4B"),
        ] {
            assert_eq!(compact(v), want, "{v}");
        }
        assert!(!compact(1e-20).contains('e'), "{}", compact(1e-20));
    }
}
