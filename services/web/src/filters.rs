//! List filters as they appear in a URL (`?chain=solana&decision=promoted&min_liq=5000&q=pepe`) and on the
//! command line, turned into a [`ListingQuery`]. A filter the user left empty is no filter.

use std::str::FromStr;

use nl_domain::views::{ListingQuery, MarketKind};
use nl_domain::{Decimal, Decision, Ts};
use serde::Deserialize;

/// The filters of a list view, verbatim from the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Filters {
    pub chain: Option<String>,
    pub venue: Option<String>,
    /// `cex` or `dex`.
    pub kind: Option<String>,
    /// `promoted` or `rejected`.
    pub decision: Option<String>,
    /// Minimum latest liquidity, USD.
    pub min_liq: Option<String>,
    /// Text search in symbol, name and asset id.
    pub q: Option<String>,
    /// `1h`, `30m`, `2d`, `90s` or an RFC 3339 time.
    pub since: Option<String>,
    pub limit: Option<u32>,
}

fn given(s: Option<&String>) -> Option<&str> {
    s.map(|s| s.trim()).filter(|s| !s.is_empty())
}

impl Filters {
    /// The query these filters stand for, at `now`; `default_limit` when no limit is given.
    ///
    /// # Errors
    /// A message naming the filter that does not parse and what it accepts.
    pub fn to_query(&self, now: Ts, default_limit: u32) -> Result<ListingQuery, String> {
        let kind = given(self.kind.as_ref())
            .map(|k| MarketKind::parse(k).ok_or_else(|| format!("kind {k:?}: expected cex or dex")))
            .transpose()?;
        let decision = given(self.decision.as_ref())
            .map(|d| Decision::parse(d).ok_or_else(|| format!("decision {d:?}: expected promoted or rejected")))
            .transpose()?;
        let min_liquidity_usd = given(self.min_liq.as_ref())
            .map(|m| Decimal::from_str(m).map_err(|e| format!("min liquidity {m:?}: {e} (expected a number of USD)")))
            .transpose()?;
        let since = given(self.since.as_ref()).map(|s| parse_since(s, now)).transpose()?;
        Ok(ListingQuery {
            since,
            chain: given(self.chain.as_ref()).map(str::to_string),
            venue: given(self.venue.as_ref()).map(str::to_string),
            kind,
            decision,
            min_liquidity_usd,
            text: given(self.q.as_ref()).map(str::to_string),
            candidates_only: false,
            limit: self.limit.unwrap_or(default_limit),
        })
    }

    /// Whether any filter is set (besides the limit).
    #[must_use]
    pub fn any(&self) -> bool {
        [&self.chain, &self.venue, &self.kind, &self.decision, &self.min_liq, &self.q, &self.since].iter().any(|f| given(f.as_ref()).is_some())
    }
}

/// `since` as a time: a duration back from `now` (`90s`, `30m`, `1h`, `2d`, `1w`) or an RFC 3339 time.
///
/// # Errors
/// A message saying what is accepted.
pub fn parse_since(s: &str, now: Ts) -> Result<Ts, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let bad = || format!("since {s:?}: expected a duration such as 90s, 30m, 1h, 2d, 1w, or an RFC 3339 time");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    let back = n.checked_mul(secs).and_then(chrono::Duration::try_seconds).ok_or_else(bad)?;
    now.checked_sub_signed(back).ok_or_else(bad)
}

#[cfg(test)]
#[path = "filters_tests.rs"]
mod tests;
