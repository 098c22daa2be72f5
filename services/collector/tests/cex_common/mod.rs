//! Shared harness of the `cex_*` tier-(b) tests: a mock venue, a `MemoryBus`, a persistent state store, and
//! collectors built from the real config path (`SourcesConfig::defaults` with `base_url` pointed at the mock).
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use nl_adapters::cex::config::{SourcesConfig, build_sources_for_run};
use nl_testkit::cex_venue::MockVenue;
use nl_adapters::kit::BudgetRegistry;
use nl_testkit::unique_name;
use nl_bus::{Bus, ConsumerSpec, MemoryBus, Subscription};
use nl_collector::{Collector, CollectorCtx, MemoryStateStore, RunIdentity};
use serde_json::Value;

pub const RUN_ID: &str = "nl_20260101_000000Z_0000abcd";

pub struct Harness {
    pub venue: MockVenue,
    pub bus: Arc<MemoryBus>,
    pub state: Arc<MemoryStateStore>,
    pub cfg: SourcesConfig,
    observed: Box<dyn Subscription>,
}

/// Reads a `test_data` file of a venue.
pub fn test_data(venue: &str, file: &str) -> String {
    let path = format!("{}/../../shared/adapters/src/cex/{venue}/test_data/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

impl Harness {
    /// A harness for the default entry `source`, pointed at a fresh mock venue.
    pub async fn new(source: &str) -> Self {
        let venue = MockVenue::start().await.unwrap();
        let mut cfg = SourcesConfig::defaults().only(&[source]);
        cfg.get_mut(source).unwrap().base_url = venue.base_url();
        let bus = Arc::new(MemoryBus::default());
        let observed = bus.subscribe(ConsumerSpec::new(unique_name("obs"), "nl.evt.listing.observed")).await.unwrap();
        Self { venue, bus, state: Arc::new(MemoryStateStore::default()), cfg, observed }
    }

    /// A fresh collector (a "process start"): new sources, budgets and HTTP clients, same bus and state.
    pub fn collector(&self) -> Collector {
        let budgets = BudgetRegistry::new(self.cfg.budget_configs().unwrap(), nl_adapters::kit::BudgetConfig::new(1.0, 1.0)).unwrap();
        let sources = build_sources_for_run(&self.cfg, &budgets, &|_| None, RUN_ID).unwrap();
        let ctx = CollectorCtx {
            bus: self.bus.clone(),
            state: self.state.clone(),
            leases: None,
            lease_renew_every: Duration::from_secs(10),
            run: RunIdentity { run_id: RUN_ID.into(), config_hash: "test".into() },
        };
        Collector::new(sources, ctx)
    }

    /// Every `listing.observed` published since the last call (acked), as envelope JSON. Outputs of a
    /// finished `poll_once` are already durable, so an empty short fetch means there are no more.
    pub async fn take_observed(&mut self) -> Vec<Value> {
        drain(self.observed.as_mut()).await
    }

    /// A new consumer of `subject` from the start of the stream.
    pub async fn subscribe(&self, subject: &str) -> Box<dyn Subscription> {
        self.bus.subscribe(ConsumerSpec::new(unique_name("c"), subject)).await.unwrap()
    }
}

/// Drains a subscription of what is stored now.
pub async fn drain(sub: &mut dyn Subscription) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let batch = sub.fetch(100, Duration::from_millis(50)).await.unwrap();
        if batch.is_empty() {
            return out;
        }
        for d in batch {
            out.push(serde_json::from_slice(&d.message.payload).unwrap());
            d.ack().await.unwrap();
        }
    }
}

/// Milliseconds since the epoch of an RFC 3339 field, for comparing timestamps.
pub fn ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"))).unwrap().timestamp_millis()
}
