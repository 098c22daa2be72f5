//! Live updates over SSE. One poller per server reads the ledger's change mark every `poll_ms` and
//! publishes it on a watch channel; each open page's stream re-renders its filtered rows when the mark
//! moves and pushes them as one `rows` event (the page's script swaps them in). A page therefore shows a
//! commit within `poll_ms` plus one query.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use nl_domain::LedgerReader;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::filters::Filters;
use crate::server::AppState;

/// Polls `reader`'s change mark every `every` until `shutdown`, publishing each new mark on `tx`. A failed
/// read is logged and retried at the next tick (the pages keep their last rows meanwhile).
pub(crate) async fn poll_changes(reader: Arc<dyn LedgerReader>, every: Duration, tx: watch::Sender<i64>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match reader.change_mark().await {
            Ok(mark) => {
                tx.send_if_modified(|cur| {
                    let moved = *cur != mark;
                    *cur = mark;
                    moved
                });
            }
            Err(e) => tracing::warn!(error = %e, "web: reading the ledger's change mark failed"),
        }
    }
}

/// `GET /live?<filters>`: the page's rows, now and after every ledger commit.
pub(crate) async fn live(State(s): State<Arc<AppState>>, Query(f): Query<Filters>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    s.stats.live_streams.fetch_add(1, Ordering::Relaxed);
    let candidates = false;
    let rx = s.changes.clone();
    let stream = futures::stream::unfold((s, f, rx, true), move |(s, f, mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None; // the server is shutting down
        }
        let mark = *rx.borrow_and_update();
        let event = match s.listings(&f, candidates).await {
            Ok(rows) => {
                s.stats.live_pushes.fetch_add(1, Ordering::Relaxed);
                Event::default().event("rows").id(mark.to_string()).data(crate::pages::listing_rows(&rows).into_string())
            }
            Err(_) => Event::default().event("stale").data("the ledger could not be read; showing the last rows"),
        };
        Some((Ok(event), (s, f, rx, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
