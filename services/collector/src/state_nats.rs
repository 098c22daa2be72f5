//! [`NatsStateStore`]: source state (known instrument sets, announcement cursors) in a JetStream KV bucket,
//! so every collector replica resumes from the same cursor after a lease moves.
//!
//! The bucket's backing stream `KV_<bucket>` is created by hand, exactly as `create_key_value` would
//! (history 1, no age limit), because async-nats 0.51's `create_key_value` fails against nats-server 2.9.10
//! (`query_account` cannot decode the server's account info); the bucket is then opened with
//! `get_key_value`. Keys are source names; characters a KV key may not hold are escaped as `=XX`.

use async_nats::jetstream::{self, stream};
use async_trait::async_trait;

use crate::state::{StateError, StateStore};

/// Default bucket name.
pub const STATE_BUCKET: &str = "nl_source_state";

/// Source state in a JetStream KV bucket (one key per source, last value only).
pub struct NatsStateStore {
    kv: jetstream::kv::Store,
    bucket: String,
}

impl std::fmt::Debug for NatsStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsStateStore").field("bucket", &self.bucket).finish_non_exhaustive()
    }
}

impl NatsStateStore {
    /// Opens bucket `bucket`, creating its backing stream if missing.
    ///
    /// # Errors
    /// `StateError` when the stream cannot be created or the bucket opened.
    pub async fn open(js: &jetstream::Context, bucket: &str) -> Result<Self, StateError> {
        // What `kv_to_stream_config` creates for history = 1 and no TTL.
        let config = stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            storage: stream::StorageType::File,
            num_replicas: 1,
            ..Default::default()
        };
        js.get_or_create_stream(config).await.map_err(|e| StateError(format!("state bucket {bucket}: {e}")))?;
        let kv = js.get_key_value(bucket).await.map_err(|e| StateError(format!("state bucket {bucket}: {e}")))?;
        Ok(Self { kv, bucket: bucket.to_string() })
    }

    /// The bucket name.
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

/// A KV-safe key for `source`: `[-_/A-Za-z0-9]` and inner dots pass, everything else (and `=`) becomes `=XX`.
#[must_use]
pub fn state_key(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let last = source.len().saturating_sub(1);
    for (i, b) in source.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/') || (b == b'.' && i != 0 && i != last);
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    if out.is_empty() { "=".to_string() } else { out }
}

#[async_trait]
impl StateStore for NatsStateStore {
    async fn load(&self, source: &str) -> Result<Option<serde_json::Value>, StateError> {
        let key = state_key(source);
        let Some(bytes) = self.kv.get(&key).await.map_err(|e| StateError(format!("load {source}: {e}")))? else { return Ok(None) };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| StateError(format!("load {source}: stored state is not JSON: {e}")))
    }

    async fn save(&self, source: &str, state: &serde_json::Value) -> Result<(), StateError> {
        let body = serde_json::to_vec(state).map_err(|e| StateError(format!("save {source}: {e}")))?;
        self.kv.put(state_key(source), body.into()).await.map_err(|e| StateError(format!("save {source}: {e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::state_key;

    #[test]
    fn keys_are_kv_safe_and_distinct() {
        assert_eq!(state_key("okx_spot"), "okx_spot");
        assert_eq!(state_key("evm.base"), "evm.base");
        assert_eq!(state_key("a b"), "a=20b");
        assert_eq!(state_key(".x."), "=2Ex=2E");
        assert_ne!(state_key("a=20b"), state_key("a b"));
        assert_eq!(state_key(""), "=");
    }
}
