//! Bans outlive the process: when a source's rate budget is paused (a 418 ban, a long `Retry-After`), the
//! pause's end is saved in the state store under `ban:<source>`, and the next `nl run-cycle` or `nl run`
//! pauses the budget again until then before the source's first request, instead of hitting a venue that
//! banned us the moment it restarts.

use std::time::Duration;

use chrono::Utc;
use nl_adapters::Source;
use serde_json::json;
use tracing::{info, warn};

use crate::runtime::CollectorCtx;

/// Pauses shorter than this are not worth a write.
const MIN_REMEMBERED: Duration = Duration::from_secs(5);

/// The state-store key of `source`'s remembered ban.
#[must_use]
pub fn ban_key(source: &str) -> String {
    format!("ban:{source}")
}

/// Re-applies a remembered ban of `source` that has not ended yet; returns how long it still runs.
pub async fn restore(source: &dyn Source, ctx: &CollectorCtx) -> Option<Duration> {
    let saved = match ctx.state.load(&ban_key(source.name())).await {
        Ok(s) => s?,
        Err(error) => {
            warn!(source = source.name(), %error, "Cannot read the remembered ban.");
            return None;
        }
    };
    let until = saved.get("until").and_then(|v| v.as_str()).and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())?;
    let left = (until.with_timezone(&Utc) - Utc::now()).to_std().ok().filter(|d| !d.is_zero())?;
    source.pause_budget_for(left);
    info!(source = source.name(), until = %until, "Rate budget paused again until a remembered ban ends.");
    Some(left)
}

/// Saves the end of `source`'s current budget pause when it is long enough to matter and later than the
/// one saved (`saved`, updated).
pub async fn remember(source: &dyn Source, ctx: &CollectorCtx, saved: &mut Option<chrono::DateTime<Utc>>) {
    let Some(paused) = source.budget_paused_for().filter(|d| *d >= MIN_REMEMBERED) else { return };
    let Some(until) = chrono::Duration::from_std(paused).ok().and_then(|d| Utc::now().checked_add_signed(d)) else { return };
    if saved.is_some_and(|s| until <= s + chrono::Duration::seconds(1)) {
        return;
    }
    let value = json!({"until": until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)});
    match ctx.state.save(&ban_key(source.name()), &value).await {
        Ok(()) => *saved = Some(until),
        Err(error) => warn!(source = source.name(), %error, "Cannot remember the ban."),
    }
}
