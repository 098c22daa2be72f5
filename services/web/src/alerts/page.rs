//! The alert sinks' table on the sources page.

use maud::{Markup, html};
use nl_domain::Ts;

use crate::alerts::AlertBoard;

/// "Alert sinks": each sink's state, counters and last error (escaped like everything maud renders).
pub(crate) fn board_section(now: Ts, board: &AlertBoard) -> Markup {
    let snaps = board.snapshot();
    html! {
        h1 { "Alert sinks" }
        @if snaps.is_empty() {
            p.empty { "No alert sinks configured ([alerts.<name>])." }
        } @else {
            table.listings #alert-sinks {
                thead { tr {
                    th { "sink" } th { "kind" } th { "state" } th { "sent" } th { "filtered" } th { "retries" }
                    th { "429s" } th { "failures" } th { "unconfirmed" } th { "cursor" } th { "last sent" } th { "last error" }
                } }
                tbody {
                    @for s in &snaps {
                        tr data-sink=(s.name) {
                            td.sym { (s.name) }
                            td { (s.kind) }
                            td { span class={"badge " @if s.state == "running" { "pass" } @else if s.state == "stopped" { "fail" } @else { "none" }} { (s.state) } }
                            td.num { (s.sent) }
                            td.num { (s.filtered) }
                            td.num class=[(s.retries > 0).then_some("warn")] { (s.retries) }
                            td.num class=[(s.rate_limited > 0).then_some("warn")] { (s.rate_limited) }
                            td.num.failures class=[(s.failures > 0).then_some("warn")] { (s.failures) }
                            td.num class=[(s.unconfirmed > 0).then_some("warn")] { (s.unconfirmed) }
                            td.num { (s.cursor) }
                            td { (s.last_sent_at.map(|t| format!("{}s ago", (now - t).num_seconds().max(0))).unwrap_or_else(|| "—".into())) }
                            td.dim.clip { (s.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}
