//! Per-source leases, so that of N collector replicas exactly one polls each source, and another takes
//! over when the holder dies.
//!
//! The NATS implementation follows the KV lock pattern that works on nats-server 2.9: a bucket whose
//! `max_age` is the lease TTL; acquire = `create` (fails while someone holds the key), renew = `update`
//! by revision (fails once someone else took over), release = `delete` by revision. An abandoned lease
//! ages out after the TTL. The bucket's backing stream `KV_<bucket>` is created by hand because
//! `create_key_value` is broken against 2.9.10 (async-nats `query_account`).
//!
//! Fencing: a paused ex-holder may still act after losing the lease. [`Lease::fencing_token`] is the KV
//! revision at acquisition, which only grows across holders of a key; writers can refuse work carrying
//! a token lower than one already seen for that source.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::kv::{CreateErrorKind, UpdateErrorKind};
use async_nats::jetstream::stream;
use async_trait::async_trait;
use bytes::Bytes;

use crate::BusError;

/// A held lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The leased key, e.g. `source.binance`.
    pub key: String,
    /// Who holds it (replica id).
    pub owner: String,
    /// Current revision, advanced by every renewal (compare-and-set handle).
    pub revision: u64,
    /// Revision at acquisition; grows across successive holders of the key.
    pub fencing_token: u64,
}

/// Lease manager.
#[async_trait]
pub trait Leases: Send + Sync {
    /// How long a lease lives without renewal; renew every `ttl / 3`.
    fn ttl(&self) -> Duration;

    /// Takes `key` if nobody holds it. `None` = held by someone else.
    ///
    /// # Errors
    /// `BusError::Broker` when the store cannot be reached or the key is invalid.
    async fn acquire(&self, key: &str) -> Result<Option<Lease>, BusError>;

    /// Extends the lease. `Ok(false)` = it was lost (expired and taken); stop work for it at once.
    ///
    /// # Errors
    /// `BusError::Broker` when the store cannot be reached (the lease may still be held; retry before
    /// the TTL runs out, and treat it as lost after that).
    async fn renew(&self, lease: &mut Lease) -> Result<bool, BusError>;

    /// Gives the lease up so another replica can take it at once.
    ///
    /// # Errors
    /// `BusError::Broker` when the store cannot be reached (the lease then expires after the TTL).
    async fn release(&self, lease: Lease) -> Result<(), BusError>;
}

/// Embedded mode: one process, so every acquire is granted.
#[derive(Debug)]
pub struct MemoryLeases {
    owner: String,
    ttl: Duration,
    revision: AtomicU64,
}

impl MemoryLeases {
    /// A lease manager that always grants.
    #[must_use]
    pub fn new(owner: impl Into<String>, ttl: Duration) -> Self {
        Self { owner: owner.into(), ttl, revision: AtomicU64::new(0) }
    }
}

#[async_trait]
impl Leases for MemoryLeases {
    fn ttl(&self) -> Duration {
        self.ttl
    }

    async fn acquire(&self, key: &str) -> Result<Option<Lease>, BusError> {
        let rev = self.revision.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Some(Lease { key: key.to_owned(), owner: self.owner.clone(), revision: rev, fencing_token: rev }))
    }

    async fn renew(&self, lease: &mut Lease) -> Result<bool, BusError> {
        lease.revision = self.revision.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(true)
    }

    async fn release(&self, _lease: Lease) -> Result<(), BusError> {
        Ok(())
    }
}

/// Leases in a JetStream KV bucket.
pub struct NatsLeases {
    kv: async_nats::jetstream::kv::Store,
    owner: String,
    ttl: Duration,
}

impl std::fmt::Debug for NatsLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsLeases").field("owner", &self.owner).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl NatsLeases {
    /// Opens (creating if needed) bucket `bucket` with `max_age = ttl`, leasing as `owner`.
    ///
    /// # Errors
    /// `BusError::Broker` when the backing stream cannot be created or opened.
    pub async fn open(js: &async_nats::jetstream::Context, bucket: &str, ttl: Duration, owner: impl Into<String>) -> Result<Self, BusError> {
        // What `kv_to_stream_config` would create for history=1, max_age=ttl.
        let config = stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            max_age: ttl,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            storage: stream::StorageType::File,
            num_replicas: 1,
            ..Default::default()
        };
        js.get_or_create_stream(config).await.map_err(|e| BusError::Broker(format!("lease bucket {bucket}: {e}")))?;
        let kv = js.get_key_value(bucket).await.map_err(|e| BusError::Broker(format!("lease bucket {bucket}: {e}")))?;
        Ok(Self { kv, owner: owner.into(), ttl })
    }

    fn value(&self) -> Bytes {
        Bytes::from(serde_json::json!({ "owner": self.owner }).to_string())
    }

    /// Current holder of `key`, if any (for status output).
    ///
    /// # Errors
    /// `BusError::Broker` when the store cannot be read.
    pub async fn holder(&self, key: &str) -> Result<Option<String>, BusError> {
        let entry = self.kv.entry(key).await.map_err(|e| BusError::Broker(format!("lease {key}: {e}")))?;
        Ok(entry.filter(|e| e.operation == async_nats::jetstream::kv::Operation::Put).map(|e| {
            serde_json::from_slice::<serde_json::Value>(&e.value)
                .ok()
                .and_then(|v| v.get("owner").and_then(|o| o.as_str()).map(str::to_owned))
                .unwrap_or_default()
        }))
    }
}

#[async_trait]
impl Leases for NatsLeases {
    fn ttl(&self) -> Duration {
        self.ttl
    }

    async fn acquire(&self, key: &str) -> Result<Option<Lease>, BusError> {
        match self.kv.create(key, self.value()).await {
            Ok(rev) => Ok(Some(Lease { key: key.to_owned(), owner: self.owner.clone(), revision: rev, fencing_token: rev })),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(BusError::Broker(format!("acquire lease {key}: {e}"))),
        }
    }

    async fn renew(&self, lease: &mut Lease) -> Result<bool, BusError> {
        match self.kv.update(&lease.key, self.value(), lease.revision).await {
            Ok(rev) => {
                lease.revision = rev;
                Ok(true)
            }
            Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Ok(false),
            Err(e) => Err(BusError::Broker(format!("renew lease {}: {e}", lease.key))),
        }
    }

    async fn release(&self, lease: Lease) -> Result<(), BusError> {
        // Deleting by revision: if the lease was already lost, the new holder's entry is left alone.
        let Err(e) = self.kv.delete_expect_revision(&lease.key, Some(lease.revision)).await else { return Ok(()) };
        // A wrong-revision refusal means the lease was already lost; that is a successful release.
        let current = self.kv.entry(&lease.key).await.map_err(|e| BusError::Broker(format!("lease {}: {e}", lease.key)))?;
        if current.is_some_and(|entry| entry.revision == lease.revision) {
            return Err(BusError::Broker(format!("release lease {}: {e}", lease.key)));
        }
        Ok(())
    }
}
