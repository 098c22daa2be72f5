//! One sink's loop: read the ledger's event feed after the cursor, filter, pace, deliver with bounded
//! retries, advance the cursor. A sink that keeps failing waits and tries the same event again (it never
//! skips one, and it never blocks anything but itself: it only reads the ledger).

use std::sync::Arc;
use std::time::Duration;

use nl_adapters::kit::Backoff;
use nl_domain::views::Listing;
use nl_domain::{AssetId, EventFeedQuery, FeedEvent, LedgerReader};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::alerts::SinkStats;
use crate::alerts::config::AlertSinkConfig;
use crate::alerts::cursor::{Cursor, CursorFile, InFlight};
use crate::alerts::deliver::{Outcome, post};
use crate::alerts::message::Alert;

/// Events read per feed page.
const PAGE: u32 = 100;

pub(crate) struct Worker {
    pub name: String,
    pub cfg: AlertSinkConfig,
    pub url: String,
    pub client: reqwest::Client,
    pub reader: Arc<dyn LedgerReader>,
    pub file: CursorFile,
    pub stats: Arc<SinkStats>,
}

/// Sleeps `d` unless `stop` fires first; false when stopped.
async fn pause(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(d) => true,
    }
}

impl Worker {
    fn save(&self, cursor: &Cursor) -> bool {
        match self.file.store(cursor) {
            Ok(()) => {
                self.stats.set_cursor(cursor.after_seq);
                true
            }
            Err(e) => {
                self.stats.fail(&format!("writing {}: {e}", self.file.path().display()));
                false
            }
        }
    }

    /// The cursor to start from: the stored one (an unconfirmed request skipped), or the ledger's end.
    async fn start(&self, stop: &CancellationToken) -> Option<Cursor> {
        match self.file.load() {
            Ok(Some(mut c)) => {
                if let Some(f) = c.skip_in_flight() {
                    tracing::warn!(sink = %self.name, event_id = %f.event_id, "Alert outcome unknown after a crash; not sent again.");
                    self.save(&c);
                }
                self.stats.unconfirmed.store(c.unconfirmed, std::sync::atomic::Ordering::Relaxed);
                if let Some(f) = &c.last_unconfirmed {
                    self.stats.note_error(&format!("event {} (seq {}): a crash left its request unanswered; not sent again (unconfirmed)", f.event_id, f.seq));
                }
                return Some(c);
            }
            Ok(None) => {}
            Err(e) => {
                self.stats.stop(&format!("cursor unreadable, fix or remove it: {e}"));
                return None;
            }
        }
        let mut c = Cursor::default();
        if !self.cfg.backfill {
            loop {
                match self.reader.change_mark().await {
                    Ok(mark) => break c.after_seq = mark,
                    Err(e) => {
                        self.stats.fail(&e.to_string());
                        if !pause(Duration::from_millis(self.cfg.poll_ms.max(500)), stop).await {
                            return None;
                        }
                    }
                }
            }
        }
        self.save(&c).then_some(c)
    }

    pub(crate) async fn run(self, stop: CancellationToken) {
        let Some(mut cursor) = self.start(&stop).await else { return };
        self.stats.set_cursor(cursor.after_seq);
        self.stats.set_state("running");
        let poll = Duration::from_millis(self.cfg.poll_ms);
        let gap = Duration::from_secs_f64(60.0 / f64::from(self.cfg.per_minute()));
        let mut next_send = Instant::now();
        while !stop.is_cancelled() {
            let q = EventFeedQuery { after_seq: cursor.after_seq, types: self.cfg.events.clone(), limit: PAGE };
            let page = match self.reader.events_after(&q).await {
                Ok(p) => {
                    self.stats.set_state("running");
                    p
                }
                Err(e) => {
                    self.stats.fail(&e.to_string());
                    if !pause(poll, &stop).await {
                        return;
                    }
                    continue;
                }
            };
            if page.is_empty() {
                if !pause(poll, &stop).await {
                    return;
                }
                continue;
            }
            for ev in page {
                let delisting = (ev.event_type == "asset.delisted").then_some(ev.asset_id.as_deref()).flatten();
                if cursor.seen(&ev.event_id) || delisting.is_some_and(|a| cursor.delisting_alerted(a)) {
                    cursor.done(ev.seq, &ev.event_id, false);
                    self.save(&cursor);
                    continue;
                }
                let listing = match self.listing(&ev).await {
                    Ok(l) => l,
                    Err(e) => {
                        // Not filtered on a guess: the page is read again after a pause.
                        self.stats.fail(&e.to_string());
                        if !pause(poll, &stop).await {
                            return;
                        }
                        break;
                    }
                };
                if !self.passes(&ev, listing.as_ref()) {
                    self.stats.filtered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    cursor.done(ev.seq, &ev.event_id, false);
                    self.save(&cursor);
                    continue;
                }
                if let Some(asset) = delisting {
                    // Stored with the request's in-flight mark, so even an unconfirmed send is not repeated.
                    cursor.note_delisting(asset);
                }
                let alert = Alert::new(&ev, listing.as_ref());
                let body = alert.body(self.cfg.kind, self.cfg.chat_id.as_deref());
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep_until(next_send) => {}
                }
                if !self.deliver(&ev, &body, &mut cursor, &stop).await {
                    return;
                }
                next_send = Instant::now() + gap;
            }
        }
    }

    /// The asset's listing row, when the ledger has one (a delisting of an asset nl never recorded has none).
    async fn listing(&self, ev: &FeedEvent) -> Result<Option<Listing>, nl_domain::ReadError> {
        let Some(id) = ev.asset_id.as_deref().and_then(|a| AssetId::parse(a).ok()) else { return Ok(None) };
        Ok(self.reader.asset_detail(&id).await?.map(|d| d.listing))
    }

    fn passes(&self, ev: &FeedEvent, l: Option<&Listing>) -> bool {
        let c = &self.cfg;
        let chain = l.and_then(|l| l.chain.as_deref()).or(ev.chain.as_deref());
        if !c.chains.is_empty() && !chain.is_some_and(|ch| c.chains.iter().any(|w| w.eq_ignore_ascii_case(ch))) {
            return false;
        }
        if !c.venues.is_empty() {
            let meta_venue = ev.meta.get("venue").and_then(serde_json::Value::as_str);
            let venues: Vec<&str> = l.map(|l| l.venues.iter().map(String::as_str).collect()).unwrap_or_default();
            if !venues.into_iter().chain(meta_venue).any(|v| c.venues.iter().any(|w| w.eq_ignore_ascii_case(v))) {
                return false;
            }
        }
        let num = |d: Option<nl_domain::Decimal>| d.and_then(|d| d.to_string().parse::<f64>().ok());
        if let Some(min) = c.min_score
            && !num(l.and_then(|l| l.score)).is_some_and(|s| s >= min)
        {
            return false;
        }
        if let Some(min) = c.min_liquidity_usd
            && !num(l.and_then(|l| l.liquidity_usd)).is_some_and(|s| s >= min)
        {
            return false;
        }
        true
    }

    /// Delivers one alert: `max_attempts` tries with backoff (a 429's wait honoured), then a counted failure
    /// and a pause of `backoff_cap_ms`, then again, until it is delivered, the receiver says it is gone, or
    /// the sink stops. A request in progress is finished, not abandoned, when the sink is asked to stop.
    /// False when the sink stops.
    async fn deliver(&self, ev: &FeedEvent, body: &serde_json::Value, cursor: &mut Cursor, stop: &CancellationToken) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let backoff = Backoff::new(Duration::from_millis(self.cfg.backoff_base_ms), Duration::from_millis(self.cfg.backoff_cap_ms));
        let max_wait = Duration::from_secs(self.cfg.max_retry_after_secs);
        loop {
            let mut last_wait = Duration::ZERO;
            for attempt in 0..self.cfg.max_attempts {
                cursor.in_flight = Some(InFlight { seq: ev.seq, event_id: ev.event_id.clone() });
                if !self.save(cursor) {
                    return pause(backoff.cap, stop).await;
                }
                let outcome = post(&self.client, self.cfg.kind, &self.url, body).await;
                cursor.in_flight = None;
                let wait = match outcome {
                    Outcome::Sent => {
                        cursor.done(ev.seq, &ev.event_id, true);
                        self.save(cursor);
                        self.stats.sent(chrono::Utc::now());
                        return true;
                    }
                    Outcome::Gone(why) => {
                        self.save(cursor);
                        tracing::error!(sink = %self.name, reason = %why, "Alert sink stopped: the receiver refuses it.");
                        self.stats.stop(&why);
                        return false;
                    }
                    Outcome::RateLimited(asked) => {
                        self.stats.rate_limited.fetch_add(1, Relaxed);
                        self.stats.note_error(&format!("429, retry after {:?}", asked.unwrap_or_default()));
                        asked.map_or_else(|| backoff.delay(attempt), |w| w.min(max_wait))
                    }
                    Outcome::Failed(why) => {
                        self.stats.retries.fetch_add(1, Relaxed);
                        self.stats.note_error(&why);
                        backoff.delay(attempt)
                    }
                };
                self.save(cursor);
                last_wait = wait;
                if attempt + 1 < self.cfg.max_attempts && !pause(wait, stop).await {
                    return false;
                }
            }
            // Every attempt of this round failed: counted, visible, and tried again after the cap.
            self.stats.fail(&format!("{} attempts failed for event {}", self.cfg.max_attempts, ev.event_id));
            if !pause(last_wait.max(backoff.cap), stop).await {
                return false;
            }
        }
    }
}
