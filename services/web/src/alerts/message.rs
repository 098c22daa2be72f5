//! What an alert says, and how each sink kind gets it. Token names, symbols, reason codes and venue text
//! are attacker-controlled: every kind escapes them for its own markup (HTML for Telegram's
//! `parse_mode = "HTML"`, mrkdwn for Slack, markdown for Discord, JSON strings for the generic webhook),
//! and control characters (a forged second line) are replaced first.

use nl_domain::FeedEvent;
use nl_domain::views::Listing;
use serde_json::{Value, json};

use crate::alerts::config::SinkKind;

/// Longest untrusted field kept in a message (Discord's `content` is at most 2000 characters, Telegram's
/// text 4096).
const MAX_FIELD: usize = 120;

/// One alert: the event and what the ledger knows of its asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub event_id: String,
    pub event_type: String,
    pub asset_id: String,
    pub symbol: String,
    pub name: Option<String>,
    pub chain: Option<String>,
    pub venues: Vec<String>,
    pub score: Option<String>,
    pub liquidity_usd: Option<String>,
    pub reasons: Vec<String>,
    /// asset.delisted: the venue's reason and schedule, from the event's meta.
    pub detail: Option<String>,
    pub ts: String,
}

impl Alert {
    /// The alert for `ev`, with the asset's listing when the ledger has one.
    #[must_use]
    pub fn new(ev: &FeedEvent, listing: Option<&Listing>) -> Self {
        let meta_str = |k: &str| ev.meta.get(k).and_then(Value::as_str).map(str::to_string);
        let detail = (ev.event_type == "asset.delisted").then(|| {
            let mut parts = Vec::new();
            for k in ["venue", "reason", "scheduled_at", "title"] {
                if let Some(v) = meta_str(k) {
                    parts.push(format!("{k} {v}"));
                }
            }
            parts.join(", ")
        });
        Self {
            event_id: ev.event_id.clone(),
            event_type: ev.event_type.clone(),
            asset_id: ev.asset_id.clone().unwrap_or_default(),
            symbol: listing.map(|l| l.symbol.clone()).or_else(|| ev.symbol.clone()).or_else(|| meta_str("symbol")).unwrap_or_else(|| "?".into()),
            name: listing.and_then(|l| l.name.clone()).or_else(|| meta_str("name")),
            chain: listing.and_then(|l| l.chain.clone()).or_else(|| ev.chain.clone()),
            venues: listing.map(|l| l.venues.clone()).unwrap_or_default(),
            score: listing.and_then(|l| l.score).map(|s| s.round_dp(2).to_string()),
            liquidity_usd: listing.and_then(|l| l.liquidity_usd).map(|d| d.round_dp(0).to_string()),
            reasons: listing.map(|l| l.reason_codes.clone()).unwrap_or_default(),
            detail,
            ts: ev.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }

    fn headline(&self) -> &'static str {
        match self.event_type.as_str() {
            "candidate.promoted" => "Candidate promoted",
            "asset.discovered" => "New listing",
            "asset.delisted" => "Delisting",
            _ => "Event",
        }
    }

    /// The lines of the message, each untrusted piece passed through `esc`.
    fn lines(&self, esc: &dyn Fn(&str) -> String) -> Vec<String> {
        let mut title = esc(&self.symbol);
        if let Some(n) = &self.name {
            title = format!("{title} ({})", esc(n));
        }
        let mut lines = vec![title];
        let place: Vec<String> = self.chain.iter().chain(self.venues.iter()).map(|p| esc(p)).collect();
        if !place.is_empty() {
            lines.push(format!("on {}", place.join(", ")));
        }
        let mut facts = Vec::new();
        if let Some(s) = &self.score {
            facts.push(format!("score {s}"));
        }
        if let Some(l) = &self.liquidity_usd {
            facts.push(format!("liquidity ${l}"));
        }
        if !facts.is_empty() {
            lines.push(facts.join(" · "));
        }
        if !self.reasons.is_empty() {
            lines.push(format!("reasons {}", self.reasons.iter().map(|r| esc(r)).collect::<Vec<_>>().join(", ")));
        }
        if let Some(d) = &self.detail {
            lines.push(esc(d));
        }
        lines.push(format!("asset {}", esc(&self.asset_id)));
        lines
    }

    /// The request body for `kind`.
    #[must_use]
    pub fn body(&self, kind: SinkKind, chat_id: Option<&str>) -> Value {
        match kind {
            SinkKind::Telegram => {
                let text = format!("<b>{}</b>\n{}", self.headline(), self.lines(&|s| html(s)).join("\n"));
                json!({
                    "chat_id": chat_id.unwrap_or_default(),
                    "text": truncate(&text, 4000),
                    "parse_mode": "HTML",
                    "link_preview_options": {"is_disabled": true},
                })
            }
            SinkKind::Slack => {
                let text = format!("*{}*\n{}", self.headline(), self.lines(&|s| slack(s)).join("\n"));
                json!({ "text": text })
            }
            SinkKind::Discord => {
                let text = format!("**{}**\n{}", self.headline(), self.lines(&|s| discord(s)).join("\n"));
                json!({ "content": truncate(&text, 1990), "allowed_mentions": {"parse": []} })
            }
            SinkKind::Webhook => json!({
                "event_id": self.event_id,
                "type": self.event_type,
                "ts": self.ts,
                "asset_id": self.asset_id,
                "symbol": self.symbol,
                "name": self.name,
                "chain": self.chain,
                "venues": self.venues,
                "score": self.score,
                "liquidity_usd": self.liquidity_usd,
                "reason_codes": self.reasons,
                "detail": self.detail,
                "text": format!("{}: {}", self.headline(), self.lines(&|s| plain(s)).join(" | ")),
            }),
        }
    }
}

/// Control characters replaced (no forged lines) and the length capped.
#[must_use]
pub fn plain(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).take(MAX_FIELD).collect();
    if s.chars().count() > MAX_FIELD {
        out.push('…');
    }
    out
}

/// Telegram HTML: the four entities its parser knows (`&lt;`, `&gt;`, `&amp;`, `&quot;`).
#[must_use]
pub fn html(s: &str) -> String {
    plain(s).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Slack mrkdwn: `&`, `<`, `>` become entities (so no `<!channel>`, `<@U…>` or `<url|link>` can form), and
/// the text goes in an inline code span, where `*`, `_` and `~` do not format (a backquote inside is
/// replaced, since mrkdwn has no escape for it).
#[must_use]
pub fn slack(s: &str) -> String {
    let t = plain(s).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('`', "'");
    format!("`{t}`")
}

/// Discord markdown: every markdown, mention and link character is backslash-escaped (the webhook also
/// sends `allowed_mentions: {"parse": []}`, so nothing pings).
#[must_use]
pub fn discord(s: &str) -> String {
    let mut out = String::new();
    for c in plain(s).chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '-' | '[' | ']' | '(' | ')' | '@' | ':' | '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { s.chars().take(max).collect::<String>() + "…" }
}
