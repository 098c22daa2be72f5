//! `events.jsonl`: the append-only mirror of every event, one compact JSON envelope per line.
//!
//! Invariant 3 of the architecture: lines are never rewritten and no `event_id` is ever written twice.
//!
//! * **Torn tail.** A crash mid-write can leave a final line without `\n`, or (after a power loss)
//!   garbage without a newline after the last good line. [`EventLog::open`] cuts that one unterminated
//!   line and warns with the number of bytes cut.
//! * **Corrupt lines.** Complete (terminated) lines that do not parse are not a torn write: their bytes
//!   are copied to `events.jsonl.quarantine-<ts>`, and `open` fails with [`RecorderError::Quarantined`]
//!   saying so (nothing is deleted; the next open succeeds). Those at the end are cut; those inside the
//!   log are overwritten with spaces in place, the one rewrite the log ever gets, so every valid line
//!   keeps its bytes and offset. Blank lines are skipped by every reader.
//! * **Exactly once.** `open` loads every `event_id` in the file; [`EventLog::append_batch`] skips ids
//!   already present and repeats within the batch. The order is write → fsync → remember ids, so events
//!   whose write did not survive a crash are not remembered, are redelivered (they were never acked),
//!   and are written then.
//! * **Single writer.** `open` takes an exclusive advisory lock on the file; a second writer gets
//!   [`RecorderError::Locked`]. Readers ([`crate::read_events`]) need no lock.
//!
//! * **Each fact once.** A line holds the *stored form* of its event ([`nl_domain::stored`]): a copy of
//!   another event's body (a score's evaluation and snapshot, an asset change's sighting) is dropped and
//!   cited by event id when that event is already in the file with the same content. The log keeps a
//!   64-bit digest of what each citable event (snapshot, risk evaluation, upsert) contributes, so it drops
//!   only copies it can restore exactly; [`crate::read_published`] restores them. A risk evaluation's
//!   line also lists its checks' provider times once ([`nl_domain::stored::log_form`]).
//!
//! **Memory.** The id set grows with the file: about 16 bytes per canonical id (32 lowercase hex
//! digits) plus hash-set overhead, roughly 40 bytes per event, so ~400 MB per 10 million events; the
//! digests add about as much per citable event. Rotate the file (start a new path) long before that
//! matters; a rotated file starts a new id set.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::hash::Hasher;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nl_domain::stored::{Citation, cited_view, log_form, stored_cited_value};
use nl_domain::{Envelope, EventId};
use tracing::{error, info, warn};

use crate::error::RecorderError;
use crate::lines::{self, MAX_LINE_BYTES};

/// Default location of the log, relative to the working directory.
pub const DEFAULT_EVENTS_PATH: &str = "out/research/new_listings/events.jsonl";

/// When appended bytes are forced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// `sync_data` after every batch, before `append_batch` returns. Acks then mean "on disk".
    #[default]
    PerBatch,
    /// `sync_data` after a batch if at least this long has passed since the last sync; otherwise the
    /// batch waits for a later append or [`EventLog::sync`]. Acks then mean "handed to the OS".
    Interval(Duration),
    /// Never sync explicitly (tests, throwaway runs).
    Never,
}

/// What one [`EventLog::append_batch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Events written (new ids).
    pub written: usize,
    /// Events skipped because their id was already in the file or earlier in the batch.
    pub duplicates: usize,
    /// Bytes `[start, end)` appended; `start == end` when nothing was written.
    pub byte_range: (u64, u64),
}

/// An event [`EventLog::append_batch`] writes: its envelope, and its JSON when that is already written
/// (a typed bus payload's, shared with the other consumers of the message), so the line is not encoded
/// a second time.
pub trait Appendable {
    /// The event.
    fn envelope(&self) -> &Envelope;
    /// `Envelope::to_json` of [`Appendable::envelope`], if at hand.
    fn json(&self) -> Option<&[u8]> {
        None
    }
}

impl Appendable for Envelope {
    fn envelope(&self) -> &Envelope {
        self
    }
}

/// A set key for an event id: 16 bytes for the canonical 32-hex form, the string otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum IdKey {
    Hex(u128),
    Other(Box<str>),
}

impl IdKey {
    fn of(id: &EventId) -> Self {
        Self::of_str(id.as_str())
    }

    fn of_str(s: &str) -> Self {
        // Only the canonical lowercase form maps to a number, so two different strings never share a key.
        let canonical = s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        match canonical.then(|| u128::from_str_radix(s, 16).ok()).flatten() {
            Some(n) => Self::Hex(n),
            None => Self::Other(s.into()),
        }
    }
}

/// The append-only events file, opened for writing. One per file (it holds an exclusive lock).
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    file: File,
    len: u64,
    count: u64,
    ids: HashSet<IdKey>,
    /// [`digest`] of the [`nl_domain::stored::cited_value`] of each citable event in the file.
    cited: HashMap<IdKey, u64>,
    policy: FsyncPolicy,
    last_sync: Instant,
    /// Bytes written since the last sync.
    dirty: bool,
    /// A failed write could not be rolled back; refuse further appends.
    poisoned: bool,
}

/// Result of scanning an existing file.
struct Scan {
    ids: HashSet<IdKey>,
    cited: HashMap<IdKey, u64>,
    count: u64,
    valid_end: u64,
    total: u64,
    cut_lines: u64,
    /// Terminated lines among the invalid tail (a torn write leaves none).
    complete_bad_lines: u64,
    /// Invalid lines followed by a valid one: `[start, end)` with the `\n`, in file order.
    inner_bad: Vec<(u64, u64)>,
    /// The first invalid line: line number and reason.
    first_bad: Option<(u64, String)>,
    repeated_ids: u64,
}

impl EventLog {
    /// Opens (creating if needed) the log at `path`, repairs a torn tail, and loads the ids present.
    ///
    /// # Errors
    /// * [`RecorderError::Locked`] when another writer holds the file;
    /// * [`RecorderError::Quarantined`] when complete lines did not parse (moved to a quarantine file);
    /// * [`RecorderError::Io`] when the file or its directory cannot be created, read, truncated or synced.
    pub fn open(path: impl AsRef<Path>, policy: FsyncPolicy) -> Result<Self, RecorderError> {
        let path = path.as_ref().to_path_buf();
        let io = |op: &'static str| {
            let path = path.clone();
            move |source| RecorderError::Io { path, op, source }
        };
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = parent {
            fs::create_dir_all(dir).map_err(io("create parent directories"))?;
        }
        let existed = path.exists();
        // Append mode: every write lands at the current end, which after a repair is the truncation point.
        let file = OpenOptions::new().read(true).append(true).create(true).open(&path).map_err(io("open"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(RecorderError::Locked { path }),
            Err(fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                warn!(path = %path.display(), "File locking is unsupported here; make sure only one recorder writes this file.");
            }
            Err(fs::TryLockError::Error(e)) => return Err(io("lock")(e)),
        }
        // Make a new file's directory entry durable, not just its contents.
        if let Some(dir) = parent.filter(|_| !existed)
            && let Err(error) = File::open(dir).and_then(|d| d.sync_all())
        {
            warn!(dir = %dir.display(), %error, "Could not fsync the directory of the new events log.");
        }

        let scan = scan(&file, &path)?;
        let tail_bad = scan.complete_bad_lines > 0;
        if tail_bad || !scan.inner_bad.is_empty() {
            let mut spans = scan.inner_bad.clone();
            if tail_bad {
                spans.push((scan.valid_end, scan.total));
            }
            let quarantine = crate::quarantine::quarantine(&file, &path, &spans)?;
            if !scan.inner_bad.is_empty() {
                crate::quarantine::blank_in_place(&path, &scan.inner_bad)?;
            }
            if tail_bad {
                file.set_len(scan.valid_end).map_err(io("cut the quarantined lines"))?;
                file.sync_all().map_err(io("fsync after quarantine"))?;
            }
            let (line, reason) = scan.first_bad.unwrap_or_default();
            let blanked = scan.inner_bad.len() as u64;
            let lines = blanked + if tail_bad { scan.cut_lines } else { 0 };
            let bytes = spans.iter().map(|(from, to)| to - from).sum();
            error!(path = %path.display(), quarantine = %quarantine.display(), lines, bytes, blanked, "Corrupt lines of the events log moved to quarantine.");
            return Err(RecorderError::Quarantined { path, quarantine, lines, bytes, line, reason, blanked });
        }
        if scan.valid_end < scan.total {
            let cut = scan.total - scan.valid_end;
            warn!(path = %path.display(), bytes_cut = cut, lines_cut = scan.cut_lines, keep = scan.valid_end, "Repairing torn tail of the events log.");
            file.set_len(scan.valid_end).map_err(io("truncate torn tail"))?;
            file.sync_all().map_err(io("fsync after repair"))?;
        }
        if scan.repeated_ids > 0 {
            warn!(path = %path.display(), repeated = scan.repeated_ids, "Events log already holds repeated event ids (written by an older writer); left as is.");
        }
        info!(path = %path.display(), events = scan.count, bytes = scan.valid_end, "Events log open.");
        Ok(Self {
            path,
            file,
            len: scan.valid_end,
            count: scan.count,
            ids: scan.ids,
            cited: scan.cited,
            policy,
            last_sync: Instant::now(),
            dirty: false,
            poisoned: false,
        })
    }

    /// Appends the events whose ids are new, in input order, each in its stored form, with one write, then
    /// syncs per policy.
    ///
    /// On error nothing is remembered and the partial write is truncated away, so retrying the same
    /// batch (or a redelivery of it) is safe.
    ///
    /// # Errors
    /// * [`RecorderError::Encode`] if an envelope cannot be serialized (nothing is written);
    /// * [`RecorderError::Io`] if the write or the sync fails;
    /// * [`RecorderError::Poisoned`] if an earlier failure could not be rolled back.
    pub fn append_batch<E: Appendable>(&mut self, events: &[E]) -> Result<AppendOutcome, RecorderError> {
        if self.poisoned {
            return Err(RecorderError::Poisoned { path: self.path.clone() });
        }
        let start = self.len;
        let mut buf = Vec::with_capacity(events.len().saturating_mul(512));
        let mut fresh: HashSet<IdKey> = HashSet::new();
        let mut fresh_cited: HashMap<IdKey, u64> = HashMap::new();
        let mut duplicates = 0;
        for event in events {
            let env = event.envelope();
            let key = IdKey::of(&env.event_id);
            if self.ids.contains(&key) || fresh.contains(&key) {
                duplicates += 1;
                continue;
            }
            let held = |c: &Citation<'_>| {
                let k = IdKey::of_str(c.event_id);
                self.cited.get(&k).or_else(|| fresh_cited.get(&k)).is_some_and(|d| *d == digest(c.copy))
            };
            let encode_err = |source| RecorderError::Encode { event_id: env.event_id.to_string(), source };
            match (log_form(env.kind, &env.meta, held), event.json()) {
                (Some(meta), _) => buf.extend_from_slice(&env.to_json_with_meta(&meta).map_err(encode_err)?),
                (None, Some(json)) => buf.extend_from_slice(json),
                (None, None) => serde_json::to_writer(&mut buf, env).map_err(encode_err)?,
            }
            buf.push(b'\n');
            if let Some(v) = cited_view(env.kind, &env.meta) {
                fresh_cited.insert(key.clone(), digest(&v));
            }
            fresh.insert(key);
        }
        let written = fresh.len();
        if written == 0 {
            return Ok(AppendOutcome { written, duplicates, byte_range: (start, start) });
        }

        if let Err(source) = self.file.write_all(&buf) {
            self.roll_back(start);
            return Err(RecorderError::Io { path: self.path.clone(), op: "write", source });
        }
        self.dirty = true;
        if let Err(source) = self.sync_per_policy() {
            // The bytes may or may not be on disk; drop them so the redelivery writes them cleanly.
            self.roll_back(start);
            return Err(RecorderError::Io { path: self.path.clone(), op: "fsync", source });
        }
        let end = start + buf.len() as u64;
        self.len = end;
        self.count += written as u64;
        self.ids.extend(fresh);
        self.cited.extend(fresh_cited);
        Ok(AppendOutcome { written, duplicates, byte_range: (start, end) })
    }

    /// Forces everything written so far to stable storage (a no-op when nothing is pending).
    /// Call it at shutdown and when idle under [`FsyncPolicy::Interval`] or [`FsyncPolicy::Never`].
    ///
    /// # Errors
    /// [`RecorderError::Io`] when `sync_data` fails.
    pub fn sync(&mut self) -> Result<(), RecorderError> {
        if self.dirty {
            self.file.sync_data().map_err(|source| RecorderError::Io { path: self.path.clone(), op: "fsync", source })?;
            self.dirty = false;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Whether `id` is already in the file.
    #[must_use]
    pub fn contains(&self, id: &EventId) -> bool {
        self.ids.contains(&IdKey::of(id))
    }

    /// Size of the file in bytes (all complete lines).
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file holds no events.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of lines (events) in the file.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fsync policy in force.
    #[must_use]
    pub fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    fn sync_per_policy(&mut self) -> std::io::Result<()> {
        let due = match self.policy {
            FsyncPolicy::PerBatch => true,
            FsyncPolicy::Interval(every) => self.last_sync.elapsed() >= every,
            FsyncPolicy::Never => false,
        };
        if due {
            self.file.sync_data()?;
            self.dirty = false;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Cuts the file back to `len` after a failed write; if even that fails, stop appending.
    fn roll_back(&mut self, len: u64) {
        if let Err(error) = self.file.set_len(len) {
            warn!(path = %self.path.display(), %error, "Could not roll back a failed append; the log must be reopened.");
            self.poisoned = true;
        }
    }
}

/// A 64-bit digest of `v`'s JSON, to tell whether a copy equals a cited event's contribution.
fn digest(v: &impl serde::Serialize) -> u64 {
    struct HashWriter(std::hash::DefaultHasher);
    impl Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = HashWriter(std::hash::DefaultHasher::new());
    // Writing a `Value` into an infallible writer cannot fail.
    let _ = serde_json::to_writer(&mut w, v);
    w.0.finish()
}

/// Reads the whole file once: ids, digests of citable events, count, and where the valid prefix ends.
fn scan(file: &File, path: &Path) -> Result<Scan, RecorderError> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::new();
    let mut out = Scan {
        ids: HashSet::new(),
        cited: HashMap::new(),
        count: 0,
        valid_end: 0,
        total: 0,
        cut_lines: 0,
        complete_bad_lines: 0,
        inner_bad: Vec::new(),
        first_bad: None,
        repeated_ids: 0,
    };
    let mut line_no = 0u64;
    // Invalid lines after the last valid one (`[start, end)`, terminated): the tail, unless a valid line follows.
    let mut pending: Vec<(u64, u64, bool)> = Vec::new();
    loop {
        let line =
            lines::read_line(&mut reader, &mut buf, MAX_LINE_BYTES).map_err(|source| RecorderError::Io { path: path.to_path_buf(), op: "read", source })?;
        if line.consumed == 0 {
            break;
        }
        line_no += 1;
        let offset = out.total;
        out.total += line.consumed;
        if lines::is_blank(&line, &buf) {
            // A quarantined line blanked in place: no event, and not corrupt.
            if pending.is_empty() {
                out.valid_end = out.total;
            }
            continue;
        }
        let parsed = if !line.terminated {
            Err("no trailing newline".to_string())
        } else if line.truncated {
            Err(format!("line longer than {MAX_LINE_BYTES} bytes"))
        } else {
            Envelope::from_json(&buf).map_err(|e| e.to_string())
        };
        match parsed {
            Ok(env) => {
                out.inner_bad.extend(pending.drain(..).map(|(from, to, _)| (from, to)));
                let key = IdKey::of(&env.event_id);
                if out.ids.insert(key.clone()) {
                    if let Some(v) = stored_cited_value(env.kind, &env.meta) {
                        out.cited.insert(key, digest(&v));
                    }
                } else {
                    out.repeated_ids += 1;
                }
                out.count += 1;
                out.valid_end = out.total;
            }
            Err(reason) => {
                pending.push((offset, out.total, line.terminated));
                out.first_bad.get_or_insert((line_no, reason));
            }
        }
    }
    out.cut_lines = pending.len() as u64;
    out.complete_bad_lines = pending.iter().filter(|(_, _, terminated)| *terminated).count() as u64;
    Ok(out)
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
