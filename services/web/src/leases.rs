//! Who holds each source's lease in distributed mode. The ledger never learns it: collector replicas take
//! their leases in a NATS KV bucket (`[collector] lease_bucket`, value `{"owner": <replica id>}`) and keep
//! their cursors in another bucket, not in the ledger, and a raw capture does not name its replica. So
//! `nl serve web`, which is on NATS anyway, asks the lease bucket itself; embedded modes have no leases.

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::future::join_all;
use tracing::debug;

/// Looks up the current holder of a source's lease.
#[async_trait]
pub trait LeaseHolders: Send + Sync {
    /// The replica id holding `source`'s lease now; `None` when nobody holds it or it cannot be read.
    async fn holder(&self, source: &str) -> Option<String>;
}

#[async_trait]
impl LeaseHolders for nl_bus::NatsLeases {
    async fn holder(&self, source: &str) -> Option<String> {
        // Collectors lease under the source's name.
        match nl_bus::NatsLeases::holder(self, source).await {
            Ok(h) => h.filter(|h| !h.is_empty()),
            Err(error) => {
                debug!(%source, %error, "Reading a lease holder failed.");
                None
            }
        }
    }
}

/// The holders of `sources`' leases, looked up concurrently (sources without one are absent).
pub(crate) async fn holders_of(leases: &dyn LeaseHolders, sources: impl Iterator<Item = &str>) -> BTreeMap<String, String> {
    let sources: Vec<&str> = sources.collect();
    let found = join_all(sources.iter().map(|s| leases.holder(s))).await;
    sources.into_iter().zip(found).filter_map(|(s, h)| h.map(|h| (s.to_string(), h))).collect()
}
