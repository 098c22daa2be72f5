//! One lifecycle for every service: `build(cfg, ServiceCtx) -> Service`, then `run(shutdown) -> Counts`.
//!
//! [`ServiceCtx`] is what every service gets from its surroundings: the bus, the run identity, a clock and
//! an environment lookup. Anything only one service needs (recorded responses for re-derivation, a shared
//! ledger store, a pair-fetcher override) is a builder method on that service's own context or config.
//! A built service is also a [`Service`] trait object, so one piece of wiring can start, watch, export
//! metrics for and stop any mix of services.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use nl_domain::{RunIdentity, Ts};
use nl_telemetry::Registry;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::Bus;

/// Where a service gets the time from.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Ts;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Ts {
        chrono::Utc::now()
    }
}

/// A clock that starts at `base` and advances with tokio's clock, so it follows
/// `tokio::time::pause()` / `advance()` in tests.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: Ts,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `base` now.
    #[must_use]
    pub fn starting_at(base: Ts) -> Self {
        Self { base, start: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Ts {
        self.base + chrono::Duration::from_std(self.start.elapsed()).unwrap_or_default()
    }
}

/// Resolves an environment variable (injected so tests need not touch the process environment).
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What every service needs from its surroundings.
#[derive(Clone)]
pub struct ServiceCtx {
    pub bus: Arc<dyn Bus>,
    pub run: RunIdentity,
    pub clock: Arc<dyn Clock>,
    /// Resolves API key variables (normally the process environment).
    pub env: EnvLookup,
}

impl std::fmt::Debug for ServiceCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCtx").field("run", &self.run).finish_non_exhaustive()
    }
}

impl ServiceCtx {
    /// A context on the wall clock and the process environment.
    #[must_use]
    pub fn new(bus: Arc<dyn Bus>, run: RunIdentity) -> Self {
        Self { bus, run, clock: Arc::new(SystemClock), env: Arc::new(|k| std::env::var(k).ok()) }
    }

    /// Replaces the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the environment lookup.
    #[must_use]
    pub fn with_env(mut self, env: EnvLookup) -> Self {
        self.env = env;
        self
    }
}

/// A finished service's counters by name (nested counters as `outer.inner`), the same shape for every
/// service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Counts(BTreeMap<String, u64>);

impl Counts {
    /// The unsigned integer fields of `counts` (a service's own counts struct), nested maps flattened.
    #[must_use]
    pub fn of(counts: &impl Serialize) -> Self {
        fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, u64>) {
            match v {
                serde_json::Value::Number(n) => {
                    if let Some(n) = n.as_u64() {
                        out.insert(prefix.to_owned(), n);
                    }
                }
                serde_json::Value::Object(fields) => {
                    for (k, v) in fields {
                        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                        walk(&key, v, out);
                    }
                }
                _ => {}
            }
        }
        let mut out = BTreeMap::new();
        if let Ok(v) = serde_json::to_value(counts) {
            walk("", &v, &mut out);
        }
        Self(out)
    }

    /// A counter's value (0 when absent).
    #[must_use]
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Every counter, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

/// Any error a service stops with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A built service, ready to run. Each service crate implements it next to its inherent `run`, which
/// returns that service's own typed counts and error.
#[async_trait]
pub trait Service: Send {
    /// The service's name (`gate`, `ledger`, ...).
    fn name(&self) -> &'static str;

    /// The durable consumers it owns, upstream first (for draining and consumer metrics).
    fn durables(&self) -> Vec<String>;

    /// Registers a scrape hook that exports the service's metrics into `registry`.
    fn register_metrics(&self, registry: &Registry);

    /// Runs until `shutdown` is cancelled; the work in flight is finished first.
    ///
    /// # Errors
    /// The service's fatal error.
    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<Counts, BoxError>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[derive(Serialize)]
    struct Own {
        written: u64,
        by: BTreeMap<&'static str, u64>,
        label: &'static str,
    }

    #[test]
    fn counts_flatten_a_services_own_counts() {
        let c = Counts::of(&Own { written: 3, by: BTreeMap::from([("fetch", 2)]), label: "x" });
        assert_eq!(c.iter().collect::<Vec<_>>(), [("by.fetch", 2), ("written", 3)]);
        assert_eq!((c.get("written"), c.get("missing")), (3, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_the_paused_clock() {
        let base: Ts = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = TokioClock::starting_at(base);
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        assert_eq!(clock.now(), base + chrono::Duration::seconds(90));
    }
}

/// Implements [`Service`] for a consuming service whose inherent `run(self, CancellationToken)` returns
/// its typed counts and whose `stats()`-like expression gives an `Arc` of something with
/// `export(&Registry)`: `impl_service!(GateService, "gate", durables = |s| vec![..], stats = |s| ..)`.
/// The same four methods for every service, written once.
#[macro_export]
macro_rules! impl_service {
    ($ty:ty, $name:expr, durables = |$d:ident| $durables:expr, stats = |$s:ident| $stats:expr) => {
        #[$crate::async_trait]
        impl $crate::Service for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn durables(&self) -> Vec<String> {
                let $d = self;
                $durables
            }

            fn register_metrics(&self, registry: &$crate::Registry) {
                let $s = self;
                let stats = $stats;
                registry.on_scrape(move |r| stats.export(r));
            }

            async fn run(self: Box<Self>, shutdown: $crate::CancellationToken) -> Result<$crate::Counts, $crate::BoxError> {
                Ok($crate::Counts::of(&<$ty>::run(*self, shutdown).await?))
            }
        }
    };
}
