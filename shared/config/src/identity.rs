//! `config_hash` and `run_id`.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Hex SHA-256 of the canonical JSON of `v`: object keys sorted (serde_json's map is a BTreeMap),
/// no whitespace, numbers as serde_json prints them.
#[must_use]
pub fn config_hash(v: &serde_json::Value) -> String {
    let canonical = serde_json::to_vec(v).unwrap_or_default();
    hex::encode(Sha256::digest(&canonical))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new run id `nl_YYYYMMDD_HHMMSSZ_<8 hex>` for a run starting at `now`. The 8 hex digits come from
/// hashing the clock's nanoseconds, the process id and a process-wide counter, so two runs started in the
/// same second (even in one process) differ; the ledger's `runs` primary key enforces uniqueness.
#[must_use]
pub fn new_run_id(now: DateTime<Utc>) -> String {
    let mut h = Sha256::new();
    h.update(now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.update(d.as_nanos().to_le_bytes());
    }
    let digest = h.finalize();
    format!("nl_{}_{}", now.format("%Y%m%d_%H%M%SZ"), hex::encode(&digest[..4]))
}

/// Whether `s` has the run id form.
#[must_use]
pub fn is_valid_run_id(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 28
        && s.starts_with("nl_")
        && b[3..11].iter().all(u8::is_ascii_digit)
        && b[11] == b'_'
        && b[12..18].iter().all(u8::is_ascii_digit)
        && b[18] == b'Z'
        && b[19] == b'_'
        && b[20..].iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}
