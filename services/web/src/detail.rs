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

fn score(d: &AssetDetail) -> Markup {
    html! {
        h2 { "Score" }
        @if let Some(s) = &d.score {
            p { strong { (s.score.round_dp(3).to_string()) } " · formula " code { (s.formula_version) } " · " (when(&s.computed_at)) }
            p.dim { (s.reason) }
            (svg(score_breakdown(&s.components), "no components"))
            table.listings {
                thead { tr { th { "component" } th { "input" } th { "weight" } th { "contribution" } } }
                tbody { @for c in &s.components { tr {
                    td { (c.name) } td.num { (c.input.map(|i| i.to_string()).unwrap_or_else(|| "—".into())) }
                    td.num { (c.weight.to_string()) } td.num { (c.contribution.to_string()) }
                } } }
            }
        } @else { p.empty { "Not scored yet." } }
    }
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
                thead { tr { th { "check" } th { "provider" } th { "verdict" } th { "severity" } th { "value" } th { "detail" } th { "observed" } th { "expires" } } }
                tbody { @for c in &r.checks { tr {
                    td { code { (c.code.as_str()) } } td { (c.provider) } td { (verdict(c.verdict)) } td.num { (c.severity) }
                    td { (c.value.as_ref().map(ToString::to_string).unwrap_or_default()) } td.dim { (c.detail.as_deref().unwrap_or("")) }
                    td.time { (when(&c.observed_at)) } td.time { (when(&c.expires_at)) }
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
                dt { "reason codes" } dd { @for code in &g.reason_codes { code { (code) } " " } }
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
