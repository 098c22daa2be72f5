//! [`NatsStateStore`]: source state (known instrument sets, announcement cursors) in a JetStream KV bucket,
//! so every collector replica resumes from the same cursor after a lease moves.
//!
//! The bucket's backing stream `KV_<bucket>` is created by hand, exactly as `create_key_value` would
//! (history 1, no age limit), because async-nats 0.51's `create_key_value` fails against nats-server 2.9.10
//! (`query_account` cannot decode the server's account info); the bucket is then opened with
//! `get_key_value`. Keys are source names; characters a KV key may not hold are escaped as `=XX`.
//!
//! Layout (#16): the key `<source>` holds the source's state without its known instruments (the cursor:
//! a few bytes whatever the venue's size); an instrument-list source's known set (`known.entries`) is one
//! key per instrument, `<source>.=K.<instrument>` (`=K` is never produced by [`state_key`], so no source's
//! keys overlap another's), holding that instrument's entry. A save writes the entries that changed since
//! the set this store last read or wrote, deletes the removed ones, then writes the cursor. So a million
//! instruments are a million small values (none near NATS's 1 MB `max_payload`) and a poll that changes one
//! writes two.
//!
//! Replicas: each store remembers the set it last saw per source and the last stream sequence it read of
//! that source's entry keys. Every load catches up first, reading only the entry keys written after that
//! sequence (by anyone, itself included), so a replica taking a lease over, or reading another source's
//! known set for its announcements, sees the complete set as last written. A save interrupted midway leaves
//! some entries ahead of the cursor; they are what the next load reads, which is at worst an entry saved
//! one poll early (its events were already published).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::push::OrderedConfig;
use async_nats::jetstream::{self, stream};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::state::{KnownEntries, StateError, StateStore, known_entries, without_known_entries};

/// Default bucket name.
pub const STATE_BUCKET: &str = "nl_source_state";

/// The token between a source's key and an instrument's in a known-entry key.
const KNOWN_TOKEN: &str = "=K";

/// KV writes in flight at once during a save.
const WRITES_IN_FLIGHT: usize = 256;

/// Longest wait for the next entry while reading a known set.
const READ_GAP: Duration = Duration::from_secs(30);

/// A source's known set as this store last read or wrote it.
#[derive(Debug, Default)]
struct Known {
    /// False until the set was read from the bucket once.
    read: bool,
    entries: KnownEntries,
    /// The last stream sequence read of the source's entry keys (0: none).
    seen: u64,
}

/// Source state in a JetStream KV bucket: one key per source (its cursor) and one per known instrument.
pub struct NatsStateStore {
    kv: jetstream::kv::Store,
    client: async_nats::Client,
    bucket: String,
    known: std::sync::Mutex<HashMap<String, Arc<Mutex<Known>>>>,
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
        Ok(Self { kv, client: js.client(), bucket: bucket.to_string(), known: std::sync::Mutex::default() })
    }

    /// The bucket name.
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// This store's record of `source`'s known set.
    fn known_of(&self, source: &str) -> Arc<Mutex<Known>> {
        let mut map = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(source.to_string()).or_default())
    }

    /// Brings `known` up to date with the bucket: every entry key of `source` written after `known.seen`
    /// (all of them on the first read).
    async fn catch_up(&self, source: &str, known: &mut Known) -> Result<(), StateError> {
        let e = |what: &str, err: &dyn std::fmt::Display| StateError(format!("load {source}: known set: {what}: {err}"));
        let prefix = format!("{}{}", self.kv.prefix, known_prefix(source));
        let deliver_policy = if known.seen == 0 { DeliverPolicy::All } else { DeliverPolicy::ByStartSequence { start_sequence: known.seen + 1 } };
        let config = OrderedConfig {
            deliver_subject: self.client.new_inbox(),
            description: Some("nl known-set read".to_string()),
            filter_subject: format!("{prefix}>"),
            replay_policy: jetstream::consumer::ReplayPolicy::Instant,
            deliver_policy,
            ..Default::default()
        };
        let consumer = self.kv.stream.create_consumer(config).await.map_err(|err| e("consumer", &err))?;
        let mut pending = consumer.cached_info().num_pending;
        if pending > 0 {
            let mut messages = consumer.messages().await.map_err(|err| e("consumer", &err))?;
            while pending > 0 {
                let next = tokio::time::timeout(READ_GAP, messages.next()).await.map_err(|err| e("read", &err))?;
                let message = next.ok_or_else(|| e("read", &"the consumer ended"))?.map_err(|err| e("read", &err))?;
                let info = message.info().map_err(|err| e("read", &err))?;
                let (sequence, left) = (info.stream_sequence, info.pending);
                let id = message.subject.as_str().strip_prefix(&prefix).and_then(unescape_key);
                let id = id.ok_or_else(|| e("read", &format!("not an entry key: {}", message.subject)))?;
                if is_put(&message) {
                    let v: Value = serde_json::from_slice(&message.payload).map_err(|err| e(&format!("entry {id}"), &err))?;
                    known.entries.insert(id, v);
                } else {
                    known.entries.remove(&id);
                }
                known.seen = known.seen.max(sequence);
                pending = left;
            }
        }
        known.read = true;
        Ok(())
    }

    /// Writes what changed from `known` to `next` (entries, then deletions) and applies it to `known`.
    async fn write_known(&self, source: &str, known: &mut Known, next: &KnownEntries) -> Result<(), StateError> {
        let prefix = known_prefix(source);
        let mut puts = Vec::new();
        for (id, v) in next.iter().filter(|(id, v)| known.entries.get(*id) != Some(*v)) {
            let body = serde_json::to_vec(v).map_err(|e| StateError(format!("save {source}: entry {id}: {e}")))?;
            puts.push((id.clone(), format!("{prefix}{}", state_key(id)), body));
        }
        let deletes: Vec<(String, String)> =
            known.entries.keys().filter(|id| !next.contains_key(*id)).map(|id| (id.clone(), format!("{prefix}{}", state_key(id)))).collect();
        let put_ids: Vec<String> = puts.iter().map(|(id, _, _)| id.clone()).collect();
        let delete_ids: Vec<String> = deletes.iter().map(|(id, _)| id.clone()).collect();
        let kv = &self.kv;
        futures::stream::iter(
            puts.into_iter()
                .map(move |(id, key, body)| async move { kv.put(key, body.into()).await.map_err(|e| StateError(format!("save {source}: entry {id}: {e}"))) }),
        )
        .buffer_unordered(WRITES_IN_FLIGHT)
        .try_for_each(|_| async { Ok(()) })
        .await?;
        futures::stream::iter(
            deletes
                .into_iter()
                .map(move |(id, key)| async move { kv.delete(key).await.map_err(|e| StateError(format!("save {source}: removing entry {id}: {e}"))) }),
        )
        .buffer_unordered(WRITES_IN_FLIGHT)
        .try_for_each(|()| async { Ok(()) })
        .await?;
        for id in delete_ids {
            known.entries.remove(&id);
        }
        for id in put_ids {
            if let Some(v) = next.get(&id) {
                known.entries.insert(id, v.clone());
            }
        }
        Ok(())
    }
}

/// Whether a KV message is a value (not a delete or purge marker).
fn is_put(message: &jetstream::Message) -> bool {
    let op = message.headers.as_ref().and_then(|h| h.get("KV-Operation")).map(|v| v.as_str().to_string());
    !matches!(op.as_deref(), Some("DEL" | "PURGE"))
}

/// The key prefix of `source`'s known entries: `<source>.=K.`.
fn known_prefix(source: &str) -> String {
    format!("{}.{KNOWN_TOKEN}.", state_key(source))
}

/// A KV-safe key for `source`: `[-_/A-Za-z0-9]` and inner dots pass (a dot after a dot is escaped, as KV key
/// tokens may not be empty), everything else (and `=`) becomes `=XX`.
#[must_use]
pub fn state_key(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let bytes = source.as_bytes();
    let last = bytes.len().saturating_sub(1);
    for (i, &b) in bytes.iter().enumerate() {
        let inner_dot = b == b'.' && i != 0 && i != last && bytes[i - 1] != b'.';
        let plain = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/') || inner_dot;
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    if out.is_empty() { "=".to_string() } else { out }
}

/// The name a [`state_key`] was made of, or `None` when `key` is not one.
fn unescape_key(key: &str) -> Option<String> {
    if key == "=" {
        return Some(String::new());
    }
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[async_trait]
impl StateStore for NatsStateStore {
    async fn load(&self, source: &str) -> Result<Option<Value>, StateError> {
        let key = state_key(source);
        let Some(bytes) = self.kv.get(&key).await.map_err(|e| StateError(format!("load {source}: {e}")))? else { return Ok(None) };
        let mut state: Value = serde_json::from_slice(&bytes).map_err(|e| StateError(format!("load {source}: stored state is not JSON: {e}")))?;
        let Some(entries) = state.pointer_mut("/known/entries").and_then(Value::as_object_mut) else { return Ok(Some(state)) };
        let known = self.known_of(source);
        let mut known = known.lock().await;
        self.catch_up(source, &mut known).await?;
        // Entries still in the cursor (saved as one value before #16) win; the next save moves them.
        let legacy = std::mem::take(entries);
        entries.extend(known.entries.iter().map(|(k, v)| (k.clone(), v.clone())));
        entries.extend(legacy);
        Ok(Some(state))
    }

    async fn save(&self, source: &str, state: &Value) -> Result<(), StateError> {
        let cursor = match known_entries(state) {
            None => state.clone(),
            Some(next) => {
                let known = self.known_of(source);
                let mut known = known.lock().await;
                let written = async {
                    if !known.read {
                        self.catch_up(source, &mut known).await?;
                    }
                    self.write_known(source, &mut known, next).await
                };
                if let Err(e) = written.await {
                    // Unsure what the bucket holds now: read it again before the next save.
                    *known = Known::default();
                    return Err(e);
                }
                without_known_entries(state)
            }
        };
        let body = serde_json::to_vec(&cursor).map_err(|e| StateError(format!("save {source}: {e}")))?;
        self.kv.put(state_key(source), body.into()).await.map_err(|e| StateError(format!("save {source}: {e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{state_key, unescape_key};

    #[test]
    fn keys_are_kv_safe_and_distinct() {
        assert_eq!(state_key("okx_spot"), "okx_spot");
        assert_eq!(state_key("evm.base"), "evm.base");
        assert_eq!(state_key("a b"), "a=20b");
        assert_eq!(state_key(".x."), "=2Ex=2E");
        assert_eq!(state_key("a..b"), "a.=2Eb");
        assert_ne!(state_key("a=20b"), state_key("a b"));
        assert_eq!(state_key(""), "=");
    }

    #[test]
    fn keys_give_their_names_back() {
        for name in ["okx_spot", "evm.base", "a b", ".x.", "a..b", "a=20b", "", "BTC-USDT", "币/USDT", "=K"] {
            assert_eq!(unescape_key(&state_key(name)).as_deref(), Some(name), "{name:?}");
        }
        assert_eq!(unescape_key("a=2"), None);
        assert_eq!(unescape_key("=ZZ"), None);
    }
}
