//! The asset detail page: identity, sources, charts, score breakdown, risk checks with provenance, the
//! gate decision, AI notes (advisory), the timeline and the "mark reviewed" button.

use maud::{Markup, html};
use nl_domain::views::AssetDetail;
use nl_domain::{ObservationKind, Verdict};

use crate::charts::{float, score_breakdown, time_series};
use crate::pages::{Nav, decision_badge, latency, layout, svg, usd, when};

fn verdict(v: Verdict) -> Markup {
    let (class, label) = match v {
        Verdict::Pass => ("pass", "pass"),
        Verdict::Fail => ("fail", "fail"),
        Verdict::Unknown => ("unknown", "unknown"),
    };
    html! { span class={"badge " (class)} { (label) } }
}

/// The wire name of a sighting kind (`dex_pool`, `cex_instrument`, ...).
fn kind_name(k: ObservationKind) -> String {
    serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// A link only for http(s) URLs; anything else is shown as text.
fn maybe_link(s: &str) -> Markup {
    if s.starts_with("https://") || s.starts_with("http://") {
        html! { a href=(s) rel="noopener noreferrer" target="_blank" { (s) } }
    } else {
        html! { (s) }
    }
}

/// The announcement URLs of the asset's sightings (the source's own `url`, never the instrument id,
/// which for an announcement is `<announcement id>:<SYMBOL>`), deduplicated in sighting order.
fn announcement_links(d: &AssetDetail) -> Vec<&str> {
    let mut urls: Vec<&str> = Vec::new();
    for u in d.sightings.iter().filter_map(|s| s.url.as_deref()) {
        if !urls.contains(&u) {
            urls.push(u);
        }
    }
    urls
}

fn identity(d: &AssetDetail) -> Markup {
    let l = &d.listing;
    html! {
        h1 { (l.symbol) " " span.dim { (l.name.as_deref().unwrap_or("")) } " " (decision_badge(l)) }
        dl.identity {
            dt { "asset id" } dd { code #asset-id { (l.asset_id.to_string()) } }
            dt { "market" } dd { (l.kind.as_str()) " · " (l.chain.as_deref().unwrap_or("no chain")) }
            dt { "contract" } dd { code { (l.address.as_deref().unwrap_or("—")) } }
            dt { "status" } dd class=[(l.status.contains("delist")).then_some("warn")] { (l.status) }
            dt { "first seen" } dd { (when(&l.first_seen_at)) " UTC by " (l.first_source) " · latency " (latency(l.latency_ms())) }
            @let links = announcement_links(d);
            @if !links.is_empty() {
                dt { "announcement" } dd.announcement { @for u in &links { (maybe_link(u)) " " } }
            }
            dt { "reviewed" } dd #reviewed { (l.reviewed_at.as_ref().map(when).unwrap_or_else(|| "not yet".into())) }
        }
        form.review method="post" action={"/asset/" (l.asset_id.to_string()) "/review"} {
            button type="submit" disabled[l.reviewed_at.is_some()] { "Mark reviewed" }
        }
    }
}

fn sources(d: &AssetDetail) -> Markup {
    html! {
        h2 { "Sources" }
        table.listings {
            thead { tr { th { "source" } th { "venue" } th { "kind" } th { "instrument / link" } th { "status" } th { "published" } th { "first observed" } } }
            tbody {
                @for s in &d.sightings {
                    tr {
                        td { (s.source) } td { (s.venue) }
                        td { (kind_name(s.kind)) @if s.kind == ObservationKind::CexAnnouncement { " " span.badge.none { "announcement" } } }
                        td.clip { (s.instrument_id) @if let Some(u) = &s.url { " · " (maybe_link(u)) } }
                        td { (s.status.as_deref().unwrap_or("")) }
                        td { (s.source_published_at.as_ref().map(when).unwrap_or_else(|| "—".into())) }
                        td { (when(&s.first_observed_at)) }
                    }
                }
            }
        }
    }
}

fn market(d: &AssetDetail) -> Markup {
    let series = |f: fn(&nl_domain::Snapshot) -> Option<nl_domain::Decimal>| -> Vec<_> {
        d.snapshots.iter().filter_map(|s| f(s).map(|v| (s.observed_at, float(v)))).collect()
    };
    let last = d.snapshots.last();
    html! {
        h2 { "Market" }
        @if let Some(s) = last {
            p { "latest snapshot " (when(&s.observed_at)) " from " (s.source) ": price " (usd(s.price_usd)) ", liquidity " (usd(s.liquidity_usd))
                ", FDV " (usd(s.fdv_usd)) ", market cap " (usd(s.market_cap_usd)) ", 24h volume " (usd(s.volume_24h_usd))
                ", holders " (s.holders.map(|h| h.to_string()).unwrap_or_else(|| "—".into())) }
        } @else { p.empty { "No snapshot yet." } }
        div.charts {
            (svg(time_series("price (USD)", &series(|s| s.price_usd)), "no price data"))
            (svg(time_series("liquidity (USD)", &series(|s| s.liquidity_usd)), "no liquidity data"))
        }
    }
}

/// Why the score differs from its components' sum, when it does (the scorer clamps it to its range).
pub(crate) fn clamped(s: &nl_domain::ScoreRecord) -> Option<String> {
    if s.components.is_empty() {
        return None;
    }
    let sum: nl_domain::Decimal = s.components.iter().map(|c| c.contribution).sum();
    let gap = (sum - s.score).abs();
    if gap < nl_domain::Decimal::new(1, 2) {
        return None;
    }
    let bound = if sum < s.score { "its floor" } else { "its ceiling" };
    Some(format!("The components sum to {}; the score is clamped at {bound}, {}.", sum.round_dp(2).normalize(), s.score.round_dp(2).normalize()))
}

fn score(d: &AssetDetail) -> Markup {
    html! {
        h2 { "Score" }
        @if let Some(s) = &d.score {
            p { strong { (s.score.round_dp(3).to_string()) } " · formula " code { (s.formula_version) } " · " (when(&s.computed_at)) }
            @if let Some(why) = clamped(s) { p.warn #score-clamped { (why) } }
            p.dim { (s.reason) }
            (svg(score_breakdown(&s.components), "no components"))
            table.listings {
                thead { tr { th { "component" } th { "input" } th { "weight" } th { "contribution" } } }
                tbody { @for c in &s.components { tr {
                    td { (c.name) } td.num { (c.input.map(|i| number(float(i))).unwrap_or_else(|| "—".into())) }
                    td.num { (c.weight.to_string()) } td.num { (c.contribution.to_string()) }
                } } }
            }
        } @else { p.empty { "Not scored yet." } }
    }
}

/// A number for a table cell: integers grouped (`250,000`), fractions to four significant figures with
/// trailing zeros dropped (`0.12`, `0.0003798`).
fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.fract() == 0.0 || v.abs() >= 1000.0 {
        let digits = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        return if v < 0.0 { format!("-{out}") } else { out };
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = usize::try_from((3 - magnitude).clamp(0, 18)).unwrap_or(0);
    let s = format!("{v:.decimals$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A risk check's judged value for people: strings without quotes (numeric strings formatted as
/// numbers), empty lists and objects as "—", lists joined with ", ", objects as "key value" pairs.
#[must_use]
pub(crate) fn check_value(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "—".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() && !s.trim().is_empty() => number(f),
            _ => s.clone(),
        },
        Value::Array(a) if a.is_empty() => "—".into(),
        Value::Array(a) => a.iter().map(check_value).collect::<Vec<_>>().join(", "),
        Value::Object(o) if o.is_empty() => "—".into(),
        Value::Object(o) => o.iter().map(|(k, v)| format!("{k} {}", check_value(v))).collect::<Vec<_>>().join(", "),
    }
}

/// A provider list (`goplus+honeypot_is`) that may wrap after each `+`, never inside a name.
fn providers(p: &str) -> Markup {
    html! { @for (i, part) in p.split('+').enumerate() { @if i > 0 { "+" wbr; } (part) } }
}

/// A check time in the table: month-day and minute, the full time on hover.
fn short_time(t: &nl_domain::Ts) -> Markup {
    html! { span title={(when(t)) " UTC"} { (t.format("%m-%d %H:%M").to_string()) } }
}

fn risk(d: &AssetDetail) -> Markup {
    html! {
        h2 { "Risk checks" }
        @if let Some(r) = &d.risk {
            p.dim { "rule set " code { (r.rule_set_version) } " · severity " (r.severity) " · " (when(&r.evaluated_at))
                " · event " code { (d.risk_event_id.as_deref().unwrap_or("")) } }
            @if !r.disagreements.is_empty() {
                p.warn { "providers disagree on: " @for c in &r.disagreements { code { (c.as_str()) } " " } }
            }
            table.listings.checks {
                thead { tr { th { "check" } th { "provider" } th { "verdict" } th { "severity" } th { "value" } th { "detail" } th { "observed (UTC)" } th { "expires (UTC)" } } }
                tbody { @for c in &r.checks { tr {
                    td { code { (c.code.as_str()) } } td.provider { (providers(&c.provider)) } td { (verdict(c.verdict)) } td.num { (c.severity) }
                    td.value { (c.value.as_ref().map(check_value).unwrap_or_else(|| "—".into())) } td.dim.detail { (c.detail.as_deref().unwrap_or("")) }
                    td.time { (short_time(&c.observed_at)) } td.time { (short_time(&c.expires_at)) }
                } } }
            }
        } @else { p.empty { "Not evaluated yet." } }
    }
}

fn decision(d: &AssetDetail) -> Markup {
    html! {
        h2 { "Gate decision (L5)" }
        @if let Some(g) = &d.decision {
            dl.identity {
                dt { "decision" } dd #decision { span class={"badge " (g.decision.as_str())} { (g.decision.as_str()) } }
                dt { "reason codes" } dd { @for code in &g.reason_codes { code.reason { (code) } " " } }
                dt { "rule set" } dd { code { (g.rule_set_version) } }
                dt { "config_hash" } dd { code { (g.config_hash) } }
                dt { "decided" } dd { (when(&g.decided_at)) }
                dt { "inputs" } dd.dim { @for i in &g.inputs { code { (i) } " " } }
                dt { "event" } dd.dim { code { (d.decision_event_id.as_deref().unwrap_or("")) } }
            }
        } @else { p.empty { "No decision yet." } }
    }
}

fn ai_notes(d: &AssetDetail) -> Markup {
    html! {
        @if !d.ai_notes.is_empty() {
            h2 { "AI notes " span.badge.none { "advisory — never an input of the gate" } }
            @for n in &d.ai_notes {
                div.note {
                    p.dim { (n.layer) " · " (n.model.as_deref().unwrap_or("?")) " · " (when(&n.created_at)) }
                    pre { (serde_json::to_string_pretty(&n.body).unwrap_or_default()) }
                }
            }
        }
    }
}

fn timeline(d: &AssetDetail) -> Markup {
    html! {
        h2 { "Timeline" }
        ol.timeline {
            @for e in &d.timeline {
                li { span.time { (when(&e.ts)) } " " code { (e.event_type) } " " (e.summary)
                     @if !e.event_id.is_empty() { " " span.dim.clip { (e.event_id) } } }
            }
        }
    }
}

/// The whole asset page.
#[must_use]
pub fn asset_page(d: &AssetDetail) -> Markup {
    layout(
        &d.listing.symbol,
        Nav::Asset,
        &html! {
            (identity(d))
            div.grid {
                section { (decision(d)) }
                section { (score(d)) }
            }
            (risk(d))
            (market(d))
            (sources(d))
            (ai_notes(d))
            (timeline(d))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::check_value;
    use serde_json::json;

    #[test]
    fn check_values_read_as_values_not_json() {
        assert_eq!(check_value(&json!("250000")), "250,000");
        assert_eq!(check_value(&json!("0.9991")), "0.9991");
        assert_eq!(check_value(&json!("0.12")), "0.12");
        assert_eq!(check_value(&json!("1")), "1");
        assert_eq!(check_value(&json!(412)), "412");
        assert_eq!(check_value(&json!(1_200_000.7)), "1,200,001");
        assert_eq!(check_value(&json!("honeypot_is")), "honeypot_is");
        assert_eq!(check_value(&json!(true)), "true");
        assert_eq!(check_value(&json!([])), "—");
        assert_eq!(check_value(&json!({})), "—");
        assert_eq!(check_value(&json!(null)), "—");
        assert_eq!(check_value(&json!(["goplus", "honeypot_is"])), "goplus, honeypot_is");
        assert_eq!(
            check_value(&json!({"dexscreener": "0.0003798", "geckoterminal": "0.52"})),
            "dexscreener 0.0003798, geckoterminal 0.52"
        );
        assert_eq!(check_value(&json!("-12.5")), "-12.5");
    }

    #[test]
    fn a_clamped_score_says_why() {
        let c = |v: i64| nl_domain::ScoreComponent {
            name: "x".into(),
            input: None,
            weight: nl_domain::Decimal::ONE,
            contribution: nl_domain::Decimal::new(v, 1),
        };
        let mut s = nl_domain::ScoreRecord {
            asset_id: nl_domain::AssetId::parse("cex:okx:ABC").expect("id"),
            score: nl_domain::Decimal::ZERO,
            components: vec![c(350), c(-1400)],
            reason: String::new(),
            formula_version: "score-v2".into(),
            computed_at: chrono::Utc::now(),
        };
        let why = super::clamped(&s).expect("clamped");
        assert!(why.contains("-105") && why.contains("floor"), "{why}");
        s.components = vec![c(350), c(-100)];
        s.score = nl_domain::Decimal::new(25, 0);
        assert_eq!(super::clamped(&s), None);
    }
}
