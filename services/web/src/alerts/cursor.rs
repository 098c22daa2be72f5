//! A sink's durable cursor: the last ledger sequence number it is done with, the ids of the events it
//! alerted on recently, and the one request in flight. Written atomically (temp file, fsync, rename)
//! after every message, so a restart resumes exactly where the sink stopped and never alerts twice.
//!
//! `in_flight` is written before each request and cleared by its answer. Finding it set at start means the
//! process died during a request whose outcome is unknown: the event is skipped (never a double alert, as
//! the issue asks: "so there is never a double alert") and counted as `unconfirmed`, in the cursor too, so
//! the count and the last such event survive later restarts and stay on the sources page.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Event ids remembered (a rebuilt DB renumbers sequences; the ids still dedup).
pub const RECENT_IDS: usize = 512;
/// Assets whose delisting was alerted on, remembered.
pub const DELISTED_ASSETS: usize = 4096;

/// The event a request was sent for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub seq: i64,
    pub event_id: String,
}

/// The stored state of one sink.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Cursor {
    /// Every event up to and including this sequence number is done (sent, filtered out or unconfirmed).
    pub after_seq: i64,
    /// Ids of the events most recently alerted on, oldest first (at most [`RECENT_IDS`]).
    pub recent_ids: Vec<String>,
    pub in_flight: Option<InFlight>,
    /// Messages delivered over the cursor's life.
    pub sent: u64,
    /// Requests a crash left without an answer over the cursor's life (skipped, never sent twice).
    pub unconfirmed: u64,
    /// The last of them.
    pub last_unconfirmed: Option<InFlight>,
    /// Assets a delisting alert went out for, oldest first (at most [`DELISTED_ASSETS`]): a coin announced
    /// as delisted and later gone from the list is two `asset.delisted` events but one alert.
    pub delisted: Vec<String>,
}

impl Cursor {
    /// Whether `event_id` was alerted on already.
    #[must_use]
    pub fn seen(&self, event_id: &str) -> bool {
        self.recent_ids.iter().any(|i| i == event_id)
    }

    /// Whether a delisting alert went out for `asset_id` already.
    #[must_use]
    pub fn delisting_alerted(&self, asset_id: &str) -> bool {
        self.delisted.iter().any(|a| a == asset_id)
    }

    /// Remembers that a delisting alert goes out for `asset_id`.
    pub fn note_delisting(&mut self, asset_id: &str) {
        self.delisted.push(asset_id.to_string());
        if self.delisted.len() > DELISTED_ASSETS {
            let cut = self.delisted.len() - DELISTED_ASSETS;
            self.delisted.drain(..cut);
        }
    }

    /// Settles a request found in flight at start (its outcome unknown after a crash): skipped and counted.
    /// Returns it, `None` when there was none.
    pub fn skip_in_flight(&mut self) -> Option<InFlight> {
        let f = self.in_flight.take()?;
        self.after_seq = self.after_seq.max(f.seq);
        self.unconfirmed += 1;
        self.last_unconfirmed = Some(f.clone());
        Some(f)
    }

    /// `seq` is done; `alerted` when a message went out for it.
    pub fn done(&mut self, seq: i64, event_id: &str, alerted: bool) {
        self.after_seq = self.after_seq.max(seq);
        self.in_flight = None;
        if alerted {
            self.sent += 1;
            self.recent_ids.push(event_id.to_string());
            if self.recent_ids.len() > RECENT_IDS {
                let cut = self.recent_ids.len() - RECENT_IDS;
                self.recent_ids.drain(..cut);
            }
        }
    }
}

/// The exclusive lock of a cursor directory (`<dir>/alerts.lock`, an OS file lock the kernel releases
/// when its holder exits, even by a crash): one alert process per directory, so no event is alerted by two.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock of `dir` (created if needed) without waiting.
    ///
    /// # Errors
    /// [`crate::WebError::Locked`] when another process (or another service in this one) holds it;
    /// [`crate::WebError::Lock`] when the directory or file cannot be created or locked.
    pub fn acquire(dir: &Path) -> Result<Self, crate::WebError> {
        let path = dir.join("alerts.lock");
        let io = |source| crate::WebError::Lock { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(crate::WebError::Locked { path }),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

/// Where a sink's cursor lives, and its reads and writes.
#[derive(Debug, Clone)]
pub struct CursorFile {
    path: PathBuf,
}

impl CursorFile {
    /// `<dir>/<sink>.cursor.json`.
    #[must_use]
    pub fn new(dir: &Path, sink: &str) -> Self {
        Self { path: dir.join(format!("{sink}.cursor.json")) }
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored cursor, `None` before the first write.
    ///
    /// # Errors
    /// The file exists but cannot be read or parsed (it is left as is; the sink refuses to start rather
    /// than guess and double-alert).
    pub fn load(&self) -> std::io::Result<Option<Cursor>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces the stored cursor atomically and durably.
    ///
    /// # Errors
    /// The directory or file cannot be written.
    pub fn store(&self, cursor: &Cursor) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(cursor).map_err(std::io::Error::other)?;
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}
