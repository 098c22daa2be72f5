//! Server-rendered pages (maud escapes every interpolated string): the layout, the new-listings list,
//! candidates, and sources and runs.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use nl_domain::views::{Listing, RunSummary, SourceHealth};
use nl_domain::{Decimal, Ts};

use crate::filters::Filters;

/// Which page the navigation highlights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Listings,
    Candidates,
    Sources,
    Learning,
    Asset,
}

/// The page frame: navigation, stylesheet and script (all served from the binary).
#[must_use]
pub fn layout(title: &str, nav: Nav, body: &Markup) -> Markup {
    let link = |href: &str, label: &str, this: Nav| html! { a href=(href) class=[(nav == this).then_some("active")] { (label) } };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · nl" }
                link rel="stylesheet" href="/static/style.css";
                script src="/static/app.js" defer {}
            }
            body {
                header {
                    span.brand { "nl" }
                    span.tag { "new-listings radar · read-only" }
                    nav {
                        (link("/", "New listings", Nav::Listings))
                        (link("/candidates", "Candidates", Nav::Candidates))
                        (link("/sources", "Sources & runs", Nav::Sources))
                        (link("/learning", "Learning book", Nav::Learning))
                    }
                    // Only the new-listings page updates live (app.js); elsewhere the badge would only ever say offline.
                    @if nav == Nav::Listings { span #live.live title="live updates" { "○ connecting" } }
                }
                main { (body) }
            }
        }
    }
}

/// A time as `YYYY-MM-DD HH:MM:SS` UTC.
#[must_use]
pub fn when(t: &Ts) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A USD amount, compact: `$0.52`, `$0.00001234`, `$250.0k`, `-$1.2M` (see [`crate::charts::compact`]).
#[must_use]
pub fn usd(d: Option<Decimal>) -> String {
    d.map_or_else(
        || "—".to_string(),
        |d| {
            let v = crate::charts::compact(crate::charts::float(d));
            v.strip_prefix('-').map_or_else(|| format!("${v}"), |abs| format!("-${abs}"))
        },
    )
}

/// A latency in ms as `1.2 s` / `3.4 min`.
#[must_use]
pub fn latency(ms: Option<i64>) -> String {
    match ms {
        None => "—".into(),
        Some(ms) if ms.abs() < 1000 => format!("{ms} ms"),
        Some(ms) if ms.abs() < 120_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) if ms.abs() < 7_200_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        Some(ms) => format!("{:.1} h", ms as f64 / 3_600_000.0),
    }
}

/// The decision as a badge.
#[must_use]
pub fn decision_badge(l: &Listing) -> Markup {
    match l.decision {
        Some(d) => html! { span class={"badge " (d.as_str())} title=(l.reason_codes.join(", ")) { (d.as_str()) } },
        None => html! { span.badge.none { "pending" } },
    }
}

/// The table rows of `listings` (also what the live view pushes).
#[must_use]
pub fn listing_rows(listings: &[Listing]) -> Markup {
    html! {
        @for l in listings {
            tr data-id=(l.asset_id.to_string()) {
                td.time { (when(&l.first_seen_at)) }
                td.sym { a href={"/asset/" (l.asset_id.to_string())} { (l.symbol) } }
                td { (l.name.as_deref().unwrap_or("")) }
                td { span class={"kind " (l.kind.as_str())} { (l.kind.as_str()) } " " (l.chain.as_deref().unwrap_or("")) " " span.dim { (l.venues.join(", ")) } }
                td.dim { (l.sources.join(", ")) }
                td.num { (latency(l.latency_ms())) }
                td.num { (usd(l.liquidity_usd)) }
                td.num { (l.score.map(|s| s.round_dp(2).to_string()).unwrap_or_else(|| "—".into())) }
                td { (decision_badge(l)) }
                td.risk {
                    @match l.risk {
                        Some(r) => { span.pass { (r.pass) } " / " span.fail { (r.fail) } " / " span.unknown { (r.unknown) } }
                        None => { span.dim { "—" } }
                    }
                }
            }
        }
    }
}

fn listing_table(listings: &[Listing]) -> Markup {
    html! {
        table.listings {
            thead { tr {
                th { "first seen (UTC)" } th { "symbol" } th { "name" } th { "chain / venue" } th { "sources" }
                th { "latency" } th { "liquidity" } th { "score" } th { "decision" } th title="pass / fail / unknown" { "risk P/F/U" }
            } }
            tbody #rows { (listing_rows(listings)) }
        }
        @if listings.is_empty() { p.empty { "No listings match." } }
    }
}

fn select(name: &str, current: Option<&String>, options: &[(&str, &str)]) -> Markup {
    let current = current.map(String::as_str).unwrap_or("");
    html! {
        select name=(name) {
            @for (value, label) in options { option value=(value) selected[*value == current] { (label) } }
        }
    }
}

fn filter_form(action: &str, f: &Filters, raw_query: &str) -> Markup {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        form.filters method="get" action=(action) {
            input type="search" name="q" placeholder="search symbol, name, id" value=(value(&f.q));
            input name="chain" placeholder="chain" value=(value(&f.chain)) size="10";
            input name="venue" placeholder="venue" value=(value(&f.venue)) size="10";
            (select("kind", f.kind.as_ref(), &[("", "CEX + DEX"), ("cex", "CEX"), ("dex", "DEX")]))
            (select("decision", f.decision.as_ref(), &[("", "any decision"), ("promoted", "promoted"), ("rejected", "rejected")]))
            input name="min_liq" placeholder="min liquidity $" value=(value(&f.min_liq)) size="12";
            input name="since" placeholder="since (1h, 2d)" value=(value(&f.since)) size="10";
            button type="submit" { "Filter" }
            @if f.any() { a.clear href=(action) { "clear" } }
            a.csv href={(action.trim_end_matches('/')) "/export.csv?" (raw_query)} { "CSV" }
        }
    }
}

/// The new-listings page (live): filters in the URL, newest first.
#[must_use]
pub fn listings_page(listings: &[Listing], f: &Filters, raw_query: &str) -> Markup {
    layout(
        "New listings",
        Nav::Listings,
        &html! {
            h1 { "New listings" span.count { (listings.len()) " shown" } }
            (filter_form("/", f, raw_query))
            div #listing data-live={"/live?" (raw_query)} { (listing_table(listings)) }
        },
    )
}

/// The candidates page: `v_assets_candidates`, with the reasons each passed.
#[must_use]
pub fn candidates_page(listings: &[Listing], f: &Filters, raw_query: &str) -> Markup {
    layout(
        "Candidates",
        Nav::Candidates,
        &html! {
            h1 { "Candidates" span.count { (listings.len()) } }
            p.dim { "Latest gate decision promoted and latest liquidity at the candidate minimum (v_assets_candidates)." }
            (filter_form("/candidates", f, raw_query))
            table.listings {
                thead { tr { th { "first seen (UTC)" } th { "symbol" } th { "chain / venue" } th { "liquidity" } th { "score" } th { "why it passed" } } }
                tbody {
                    @for l in listings {
                        tr data-id=(l.asset_id.to_string()) {
                            td.time { (when(&l.first_seen_at)) }
                            td.sym { a href={"/asset/" (l.asset_id.to_string())} { (l.symbol) } }
                            td { (l.chain.as_deref().unwrap_or("")) " " span.dim { (l.venues.join(", ")) } }
                            td.num { (usd(l.liquidity_usd)) }
                            td.num { (l.score.map(|s| s.round_dp(2).to_string()).unwrap_or_else(|| "—".into())) }
                            td { @for code in &l.reason_codes { code { (code) } " " } }
                        }
                    }
                }
            }
            @if listings.is_empty() { p.empty { "No candidates." } }
        },
    )
}

fn age(now: Ts, t: Option<Ts>) -> String {
    t.map_or_else(|| "never".into(), |t| format!("{} ago", latency(Some((now - t).num_milliseconds()))))
}

/// Sources (health, detection latency, the lease holder per source in `holders`), `extra` (the alert
/// sinks), and runs (manifest, config hash, event range).
#[must_use]
pub fn sources_page(now: Ts, sources: &[SourceHealth], holders: &BTreeMap<String, String>, runs: &[RunSummary], extra: &Markup) -> Markup {
    layout(
        "Sources and runs",
        Nav::Sources,
        &html! {
            h1 { "Sources" }
            table.listings {
                thead { tr {
                    th { "source" } th { "last success" } th { "captures" } th { "errors" } th { "429s" }
                    th { "latency p50" } th { "latency p99" } th { "lease holder" } th { "last error" }
                } }
                tbody {
                    @for s in sources {
                        tr {
                            td.sym { (s.source) }
                            td { (age(now, s.last_success_at)) }
                            td.num { (s.captures) }
                            td.num class=[(s.errors > 0).then_some("warn")] { (s.errors) }
                            td.num class=[(s.rate_limited > 0).then_some("warn")] { (s.rate_limited) }
                            td.num { (latency(s.latency_p50_ms)) }
                            td.num { (latency(s.latency_p99_ms)) }
                            td { (lease(s, holders)) }
                            td.dim.clip { (s.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            @if sources.is_empty() { p.empty { "No captures yet." } }
            (extra)
            h1 { "Runs" }
            @for r in runs {
                details.run {
                    summary {
                        code { (r.run_id) } " "
                        span class={"badge " (r.status)} { (r.status) } " "
                        @if r.dry_run { span.badge.none { "dry run" } " " }
                        span.dim { "config " code { (r.config_hash) } " · " (r.started_at.as_ref().map(when).unwrap_or_default()) " → " (r.finished_at.as_ref().map(when).unwrap_or_default()) }
                        " " span.dim { (event_range(r)) }
                    }
                    pre { (serde_json::to_string_pretty(r.run_manifest.as_ref().unwrap_or(&r.manifest)).unwrap_or_default()) }
                }
            }
            @if runs.is_empty() { p.empty { "No runs yet." } }
        },
    )
}

/// Who holds the source's lease (with the revision the ledger saw, when it saw one), or "—".
fn lease(s: &SourceHealth, holders: &BTreeMap<String, String>) -> String {
    match (holders.get(&s.source), s.lease_rev) {
        (Some(h), Some(r)) => format!("{h} (rev {r})"),
        (Some(h), None) => h.clone(),
        (None, Some(r)) => format!("rev {r}"),
        (None, None) => "—".into(),
    }
}

/// The run's slice of events.jsonl (`events: {start, end, count}`) and code version, from the manifest
/// file the ledger recorded (a run without one shows nothing).
fn event_range(r: &RunSummary) -> String {
    let Some(manifest) = &r.run_manifest else { return String::new() };
    let field = |k: &str| manifest.pointer(&format!("/events/{k}")).and_then(serde_json::Value::as_u64);
    let code = |k: &str| manifest.pointer(&format!("/code_version/{k}")).and_then(serde_json::Value::as_str).unwrap_or("?");
    let mut out = match (field("start"), field("end"), field("count")) {
        (Some(a), Some(b), Some(n)) => format!("events.jsonl bytes {a}..{b} ({n} events)"),
        _ => String::new(),
    };
    if manifest.get("code_version").is_some() {
        out = format!("{out} · code {} {}", code("crate_version"), code("git_commit")).trim_start_matches(" · ").to_string();
    }
    out
}

/// A page saying what went wrong (the message is escaped like everything else).
#[must_use]
pub fn error_page(title: &str, message: &str) -> Markup {
    layout(title, Nav::Asset, &html! { h1 { (title) } p.error { (message) } p { a href="/" { "back to new listings" } } })
}

/// Raw SVG markup produced by the chart renderer (plotters escapes its text).
#[must_use]
pub fn svg(s: Option<String>, empty: &str) -> Markup {
    match s {
        Some(s) => html! { div.chart { (PreEscaped(s)) } },
        None => html! { p.empty { (empty) } },
    }
}

#[cfg(test)]
mod tests {
    use super::usd;
    use nl_domain::Decimal;
    use std::str::FromStr;

    fn d(s: &str) -> Option<Decimal> {
        Some(Decimal::from_str(s).expect("decimal"))
    }

    #[test]
    fn usd_reads_as_a_price_not_scientific_notation() {
        assert_eq!(usd(d("0.52")), "$0.52");
        assert_eq!(usd(d("0.00001234")), "$0.00001234");
        assert_eq!(usd(d("0.0003798")), "$0.0003798");
        assert_eq!(usd(d("5.2")), "$5.20");
        assert_eq!(usd(d("250000")), "$250.0k");
        assert_eq!(usd(d("1200000")), "$1.2M");
        assert_eq!(usd(d("-0.25")), "-$0.25");
        assert_eq!(usd(None), "—");
    }
}
