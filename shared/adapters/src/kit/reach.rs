//! Is there a network at all? [`Reachability`] watches the HTTP exchanges of a set of sources (one
//! `nl run-cycle`) and tells when every one of them failed to resolve or connect and none got any answer:
//! offline, the cycle stops retrying and says "no network" instead of backing off for a minute.
//!
//! A source's polls run inside [`Reachability::scope`]; [`crate::kit::HttpSource`] reports each attempt
//! through a task-local (no plumbing through the `Source` trait, and polls outside a scope report nothing).

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

/// What one source's HTTP exchanges showed so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Nothing,
    /// At least one resolve/connect failure, no response.
    Unreachable,
    /// Some server answered (any status): the network works.
    Answered,
}

#[derive(Debug)]
struct Shared {
    seen: Mutex<(Vec<Seen>, Option<String>)>,
    changed: watch::Sender<u64>,
}

/// Reachability of a fixed set of sources (indexed `0..n`).
#[derive(Debug, Clone)]
pub struct Reachability {
    shared: Arc<Shared>,
}

tokio::task_local! {
    static PROBE: (Reachability, usize);
}

impl Reachability {
    /// Tracks `n` sources, none seen yet.
    #[must_use]
    pub fn new(n: usize) -> Self {
        let (changed, _) = watch::channel(0);
        Self { shared: Arc::new(Shared { seen: Mutex::new((vec![Seen::Nothing; n], None)), changed }) }
    }

    /// Runs `fut` (the polls of source `index`) reporting its HTTP exchanges here.
    pub async fn scope<F: std::future::Future>(&self, index: usize, fut: F) -> F::Output {
        PROBE.scope((self.clone(), index), fut).await
    }

    /// Resolves once every source failed to resolve or connect and none was answered; returns the first
    /// such error. Never resolves when some source got an answer (or when there are no sources).
    pub async fn all_unreachable(&self) -> String {
        let mut rx = self.shared.changed.subscribe();
        loop {
            if let Some(e) = self.verdict() {
                return e;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The first resolve/connect error when every source failed that way and none was answered.
    #[must_use]
    pub fn verdict(&self) -> Option<String> {
        let g = self.shared.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let all = !g.0.is_empty() && g.0.iter().all(|s| *s == Seen::Unreachable);
        if all { g.1.clone() } else { None }
    }

    fn mark(&self, index: usize, seen: Seen, error: Option<&str>) {
        let mut g = self.shared.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(slot) = g.0.get_mut(index) else { return };
        if *slot == Seen::Answered || *slot == seen {
            return;
        }
        *slot = seen;
        if g.1.is_none()
            && let Some(e) = error
        {
            g.1 = Some(e.to_owned());
        }
        drop(g);
        self.shared.changed.send_modify(|n| *n += 1);
    }
}

/// An HTTP exchange got a response (any status), in the current source's scope if any.
pub(crate) fn answered() {
    let _ = PROBE.try_with(|(r, i)| r.mark(*i, Seen::Answered, None));
}

/// Resolving or connecting failed (`error` without URL), in the current source's scope if any.
pub(crate) fn unreachable(error: &str) {
    let _ = PROBE.try_with(|(r, i)| r.mark(*i, Seen::Unreachable, Some(error)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_only_when_every_source_failed_to_connect_and_none_answered() {
        let r = Reachability::new(2);
        r.scope(0, async { unreachable("dns error: no such host") }).await;
        assert_eq!(r.verdict(), None, "one source still unknown");
        r.scope(1, async { unreachable("connection refused") }).await;
        assert_eq!(r.all_unreachable().await, "dns error: no such host");

        let r = Reachability::new(2);
        r.scope(0, async { answered() }).await;
        r.scope(0, async { unreachable("later blip") }).await;
        r.scope(1, async { unreachable("connection refused") }).await;
        assert_eq!(r.verdict(), None, "an answer proves the network");
        // Outside a scope nothing is reported (and nothing panics).
        unreachable("x");
        assert_eq!(Reachability::new(0).verdict(), None);
    }
}
