//! Throughput probes for `nl bench`: publish and consume rates of any [`Bus`].

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::testkit::unique_name;
use crate::{Bus, BusError, ConsumerSpec, Message};

/// Messages per `publish_batch` call.
const BATCH: usize = 1000;

/// The subject prefix the probes publish under; `bench_publish` returns the exact subject.
pub const BENCH_PREFIX: &str = "nl.bench";

/// Result of a publish probe.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishBench {
    /// Subject the messages went to (consume them with [`bench_consume`]).
    pub subject: String,
    /// Messages stored.
    pub messages: usize,
    /// Messages per second.
    pub rate: f64,
}

/// Publishes `n` messages (200-byte payload, unique ids) in batches of 1000 and returns msgs/s.
///
/// On a [`crate::MemoryBus`] keep `n` under its `max_messages` (nothing consumes them).
///
/// # Errors
/// The first publish failure.
pub async fn bench_publish(bus: &dyn Bus, n: usize) -> Result<f64, BusError> {
    Ok(bench_publish_report(bus, n).await?.rate)
}

/// Like [`bench_publish`], also returning the subject used.
///
/// # Errors
/// The first publish failure.
pub async fn bench_publish_report(bus: &dyn Bus, n: usize) -> Result<PublishBench, BusError> {
    let run = unique_name("b");
    let subject = format!("{BENCH_PREFIX}.{run}");
    let payload = Bytes::from(vec![b'x'; 200]);
    let start = Instant::now();
    let mut sent = 0;
    while sent < n {
        let k = BATCH.min(n - sent);
        let msgs = (sent..sent + k).map(|i| Message::new(subject.clone(), format!("{run}-{i}"), payload.clone())).collect();
        bus.publish_batch(msgs).await?;
        sent += k;
    }
    Ok(PublishBench { subject, messages: n, rate: rate(n, start.elapsed()) })
}

/// Consumes `n` messages from `filter` with a fresh durable, acking each, and returns msgs/s.
/// Stops early (counting what arrived) if nothing arrives for 5 s.
///
/// # Errors
/// Subscribe, fetch or ack failures.
pub async fn bench_consume(bus: &dyn Bus, filter: &str, n: usize) -> Result<f64, BusError> {
    let durable = unique_name("bench");
    let mut spec = ConsumerSpec::new(durable.clone(), filter);
    spec.max_ack_pending = 20_000;
    let mut sub = bus.subscribe(spec).await?;
    let start = Instant::now();
    let mut got = 0;
    while got < n {
        let batch = sub.fetch(BATCH, Duration::from_secs(5)).await?;
        if batch.is_empty() {
            break;
        }
        for d in &batch {
            d.ack().await?;
        }
        got += batch.len();
    }
    let r = rate(got, start.elapsed());
    drop(sub);
    bus.delete_consumer(&durable).await?;
    Ok(r)
}

fn rate(n: usize, took: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let n = n as f64;
    n / took.as_secs_f64().max(1e-9)
}
