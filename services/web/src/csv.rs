//! CSV export of a list view (RFC 4180). Token names are attacker-controlled: a text cell that a spreadsheet
//! would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'`.

use std::fmt::Write as _;

use nl_domain::views::Listing;

/// Header of [`listings_csv`].
pub const LISTING_COLUMNS: &[&str] = &[
    "first_seen_at",
    "asset_id",
    "symbol",
    "name",
    "chain",
    "kind",
    "venues",
    "sources",
    "latency_ms",
    "price_usd",
    "liquidity_usd",
    "score",
    "decision",
    "reason_codes",
    "risk_pass",
    "risk_fail",
    "risk_unknown",
    "reviewed_at",
];

/// A cell quoted when it holds a comma, quote or line break.
fn cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// A free-text cell: [`cell`], defused against spreadsheet formulas.
fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { cell(&format!("'{s}")) } else { cell(s) }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The listings as CSV, header first.
#[must_use]
pub fn listings_csv(rows: &[Listing]) -> String {
    let mut out = LISTING_COLUMNS.join(",");
    out.push_str("\r\n");
    for l in rows {
        let risk = l.risk.unwrap_or_default();
        let cells = [
            l.first_seen_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            text(&l.asset_id.to_string()),
            text(&l.symbol),
            text(l.name.as_deref().unwrap_or("")),
            text(l.chain.as_deref().unwrap_or("")),
            l.kind.as_str().to_string(),
            text(&l.venues.join(" ")),
            text(&l.sources.join(" ")),
            opt(l.latency_ms()),
            opt(l.price_usd),
            opt(l.liquidity_usd),
            opt(l.score),
            opt(l.decision.map(|d| d.as_str())),
            text(&l.reason_codes.join(" ")),
            opt(l.risk.map(|_| risk.pass)),
            opt(l.risk.map(|_| risk.fail)),
            opt(l.risk.map(|_| risk.unknown)),
            opt(l.reviewed_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))),
        ];
        let _ = write!(out, "{}\r\n", cells.join(","));
    }
    out
}
