//! Bus probes for `nl bench ledger`: the consume rate of any [`Bus`] without a store behind it.

use std::time::{Duration, Instant};

use nl_bus::{Bus, BusError, ConsumerSpec};
use nl_testkit::unique_name;

/// Messages per fetch.
const BATCH: usize = 1000;

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
