//! Reading `events.jsonl` back: a streaming iterator (one line in memory at a time) with filters by
//! time, type and byte range ([`read_events`], the lines as stored), and the same with each event's
//! published meta restored ([`read_published`], for `nl replay-events`).
//!
//! A bad line does not end the stream: it yields a [`ReplayError`] naming its line number and byte
//! offset, and the caller decides to skip it ([`ReplayError::is_line_error`]) or stop. Errors that
//! make further reading meaningless (I/O, a torn tail, a byte range that splits a line) end the
//! iteration after being yielded.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use nl_domain::stored::{cited_events, restore, stored_cited_value};
use nl_domain::{DomainError, Envelope, EventType, Ts};

use crate::lines::{self, MAX_LINE_BYTES};

/// Which events to yield. The default yields everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayFilter {
    /// Only events with `ts >= from_ts`.
    pub from_ts: Option<Ts>,
    /// Only these types; empty means all.
    pub types: Vec<EventType>,
    /// Only the bytes `[start, end)`, e.g. an [`crate::AppendOutcome::byte_range`]. Both ends must be
    /// line boundaries.
    pub byte_range: Option<(u64, u64)>,
}

impl ReplayFilter {
    /// Whether `env` passes the time and type filters.
    #[must_use]
    pub fn matches(&self, env: &Envelope) -> bool {
        self.from_ts.is_none_or(|from| env.ts >= from) && (self.types.is_empty() || self.types.contains(&env.kind))
    }
}

/// Errors of reading the log. `line` counts from 1 at the start of the read (the file, or the byte
/// range's start); `offset` is always the absolute byte offset of the line's first byte.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot open events log {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("byte range {start}..{end} of {path} is invalid: {reason}")]
    BadRange { path: PathBuf, start: u64, end: u64, reason: String },
    #[error("reading {path} at line {line} (byte {offset}) failed: {source}")]
    Io { path: PathBuf, line: u64, offset: u64, source: std::io::Error },
    #[error("line {line} (byte {offset}) is not a valid envelope: {source}")]
    Parse { line: u64, offset: u64, source: serde_json::Error },
    #[error("line {line} (byte {offset}) is longer than {max} bytes ({bytes})")]
    TooLong { line: u64, offset: u64, bytes: u64, max: usize },
    #[error("line {line} (byte {offset}) has no trailing newline ({bytes} bytes): a torn tail or a write in progress")]
    Torn { line: u64, offset: u64, bytes: u64 },
    #[error("line {line} (byte {offset}) runs past the end of the byte range at {end}")]
    PastRangeEnd { line: u64, offset: u64, end: u64 },
    #[error("event {event_id} cites an event the file does not hold: {source}")]
    Restore { event_id: String, source: DomainError },
}

impl ReplayError {
    /// True for errors confined to one line (the stream continues after them); false for errors
    /// after which the iterator ends.
    #[must_use]
    pub fn is_line_error(&self) -> bool {
        matches!(self, Self::Parse { .. } | Self::TooLong { .. } | Self::Restore { .. })
    }
}

/// The id of the last event in the log at `path` (its last line that parses; blank and corrupt lines are
/// passed over), `None` for a missing log or one without events. Reads backwards from the end in growing
/// windows, so a long log costs one small read.
///
/// # Errors
/// [`ReplayError::Open`] or [`ReplayError::Io`] when the file cannot be opened or read.
pub fn last_event_id(path: impl AsRef<Path>) -> Result<Option<nl_domain::EventId>, ReplayError> {
    let path = path.as_ref();
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ReplayError::Open { path: path.to_path_buf(), source }),
    };
    let io = |offset, source| ReplayError::Io { path: path.to_path_buf(), line: 0, offset, source };
    let len = file.metadata().map_err(|e| io(0, e))?.len();
    let mut window = 64 * 1024;
    let mut buf = Vec::new();
    loop {
        let start = len.saturating_sub(window);
        buf.clear();
        file.seek(SeekFrom::Start(start)).and_then(|_| (&mut file).take(len - start).read_to_end(&mut buf)).map_err(|e| io(start, e))?;
        // A window that starts mid-line drops that partial line.
        let whole = if start == 0 { &buf[..] } else { buf.iter().position(|&b| b == b'\n').map_or(&[][..], |i| &buf[i + 1..]) };
        let last = whole.split(|&b| b == b'\n').rev().filter(|l| !l.iter().all(u8::is_ascii_whitespace)).find_map(|l| Envelope::from_json(l).ok());
        if let Some(env) = last {
            return Ok(Some(env.event_id));
        }
        if start == 0 {
            return Ok(None);
        }
        window = window.saturating_mul(4);
    }
}

/// Opens `path` for reading with `filter`.
///
/// # Errors
/// [`ReplayError::Open`] when the file cannot be opened; [`ReplayError::BadRange`] when the byte range
/// is reversed, starts past the end of the file, or does not start at a line boundary.
pub fn read_events(path: impl AsRef<Path>, filter: ReplayFilter) -> Result<EventReader, ReplayError> {
    let path = path.as_ref().to_path_buf();
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(source) => return Err(ReplayError::Open { path, source }),
    };
    let mut start = 0;
    let mut end = None;
    if let Some((s, e)) = filter.byte_range {
        let bad = |reason: &str| ReplayError::BadRange { path: path.clone(), start: s, end: e, reason: reason.to_string() };
        if s > e {
            return Err(bad("start is after end"));
        }
        let len = file.metadata().map_err(|source| ReplayError::Open { path: path.clone(), source })?.len();
        if s > len {
            return Err(bad(&format!("start is past the end of the file ({len} bytes)")));
        }
        if s > 0 {
            let mut before = [0u8; 1];
            file.seek(SeekFrom::Start(s - 1)).and_then(|_| file.read_exact(&mut before)).map_err(|source| ReplayError::Open { path: path.clone(), source })?;
            if before[0] != b'\n' {
                return Err(bad("start is not at a line boundary"));
            }
        }
        file.seek(SeekFrom::Start(s)).map_err(|source| ReplayError::Open { path: path.clone(), source })?;
        start = s;
        end = Some(e);
    }
    Ok(EventReader { path, reader: BufReader::with_capacity(1 << 16, file), filter, offset: start, end, line: 0, buf: Vec::new(), done: false })
}

/// Like [`read_events`], with each event's meta as published: what the log stored as a citation of an
/// earlier event ([`nl_domain::stored`]) is put back from that event.
///
/// Before the first event it reads the filtered events once (which events they cite) and the file up to
/// the filter's end once (the cited values, kept in memory until the end).
///
/// # Errors
/// As [`read_events`].
pub fn read_published(path: impl AsRef<Path>, filter: ReplayFilter) -> Result<Published, ReplayError> {
    let path = path.as_ref();
    let mut needed: HashMap<String, EventType> = HashMap::new();
    for env in read_events(path, filter.clone())?.flatten() {
        needed.extend(cited_events(env.kind, &env.meta).into_iter().map(|(kind, id)| (id.to_string(), kind)));
    }
    let mut held: HashMap<String, serde_json::Value> = HashMap::new();
    if !needed.is_empty() {
        let upto = ReplayFilter { byte_range: filter.byte_range.map(|(_, end)| (0, end)), ..ReplayFilter::default() };
        for env in read_events(path, upto)?.flatten() {
            if needed.get(env.event_id.as_str()) == Some(&env.kind)
                && !held.contains_key(env.event_id.as_str())
                && let Some(v) = stored_cited_value(env.kind, &env.meta)
            {
                held.insert(env.event_id.0.clone(), v);
            }
        }
    }
    Ok(Published { events: read_events(path, filter)?, held })
}

/// The reader returned by [`read_published`].
#[derive(Debug)]
pub struct Published {
    events: EventReader,
    held: HashMap<String, serde_json::Value>,
}

impl Iterator for Published {
    type Item = Result<Envelope, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.events.next()?.and_then(|mut env| {
            let held = &self.held;
            match restore(env.kind, &mut env.meta, |_, id| held.get(id).cloned()) {
                Ok(()) => Ok(env),
                Err(source) => Err(ReplayError::Restore { event_id: env.event_id.0, source }),
            }
        }))
    }
}

/// The streaming reader returned by [`read_events`].
#[derive(Debug)]
pub struct EventReader {
    path: PathBuf,
    reader: BufReader<File>,
    filter: ReplayFilter,
    offset: u64,
    end: Option<u64>,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl EventReader {
    /// Absolute byte offset of the next line to read.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn fail(&mut self, err: ReplayError) -> Option<Result<Envelope, ReplayError>> {
        self.done = true;
        Some(Err(err))
    }
}

impl Iterator for EventReader {
    type Item = Result<Envelope, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done || self.end.is_some_and(|end| self.offset >= end) {
                self.done = true;
                return None;
            }
            let offset = self.offset;
            let line = match lines::read_line(&mut self.reader, &mut self.buf, MAX_LINE_BYTES) {
                Ok(l) => l,
                Err(source) => {
                    let err = ReplayError::Io { path: self.path.clone(), line: self.line + 1, offset, source };
                    return self.fail(err);
                }
            };
            if line.consumed == 0 {
                self.done = true;
                return None;
            }
            self.line += 1;
            self.offset += line.consumed;
            let n = self.line;
            if let Some(end) = self.end.filter(|&end| self.offset > end) {
                return self.fail(ReplayError::PastRangeEnd { line: n, offset, end });
            }
            if !line.terminated {
                return self.fail(ReplayError::Torn { line: n, offset, bytes: line.consumed });
            }
            if lines::is_blank(&line, &self.buf) {
                continue;
            }
            if line.truncated {
                return Some(Err(ReplayError::TooLong { line: n, offset, bytes: line.consumed, max: MAX_LINE_BYTES }));
            }
            match Envelope::from_json(&self.buf) {
                Err(source) => {
                    return Some(Err(ReplayError::Parse { line: n, offset, source }));
                }
                Ok(env) if self.filter.matches(&env) => return Some(Ok(env)),
                Ok(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::log::{EventLog, FsyncPolicy};
    use chrono::TimeZone;

    fn ev(i: u64, kind: EventType) -> Envelope {
        let ts = chrono::Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap();
        Envelope::new(kind, &["r", &i.to_string()], ts, "nl_20260101_000000Z_00000000", "cfg", serde_json::json!({ "i": i }))
    }

    fn kind_of(i: u64) -> EventType {
        if i.is_multiple_of(3) { EventType::AssetDiscovered } else { EventType::ListingObserved }
    }

    /// 30 events in 3 batches of 10; returns the byte ranges.
    fn fixture() -> (tempfile::TempDir, PathBuf, Vec<(u64, u64)>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
        let ranges = (0..3u64)
            .map(|b| {
                let batch: Vec<_> = (b * 10..b * 10 + 10).map(|i| ev(i, kind_of(i))).collect();
                log.append_batch(&batch).unwrap().byte_range
            })
            .collect();
        (dir, path, ranges)
    }

    fn ids(path: &Path, filter: ReplayFilter) -> Vec<u64> {
        read_events(path, filter).unwrap().map(|r| r.unwrap().meta["i"].as_u64().unwrap()).collect()
    }

    #[test]
    fn reads_everything_in_order() {
        let (_d, path, _) = fixture();
        assert_eq!(ids(&path, ReplayFilter::default()), (0..30).collect::<Vec<_>>());
    }

    #[test]
    fn filters_by_ts_type_and_both() {
        let (_d, path, _) = fixture();
        let from = chrono::Utc.timestamp_opt(1_700_000_025, 0).unwrap();
        assert_eq!(ids(&path, ReplayFilter { from_ts: Some(from), ..Default::default() }), (25..30).collect::<Vec<_>>());
        let disc = ReplayFilter { types: vec![EventType::AssetDiscovered], ..Default::default() };
        assert_eq!(ids(&path, disc.clone()), (0..30).filter(|i| i % 3 == 0).collect::<Vec<_>>());
        assert_eq!(ids(&path, ReplayFilter { from_ts: Some(from), ..disc }), vec![27]);
        let two = ReplayFilter { types: vec![EventType::AssetDiscovered, EventType::ListingObserved], ..Default::default() };
        assert_eq!(ids(&path, two).len(), 30);
        assert!(ids(&path, ReplayFilter { types: vec![EventType::RunStarted], ..Default::default() }).is_empty());
    }

    #[test]
    fn filters_by_byte_range_of_a_batch() {
        let (_d, path, ranges) = fixture();
        assert_eq!(ids(&path, ReplayFilter { byte_range: Some(ranges[1]), ..Default::default() }), (10..20).collect::<Vec<_>>());
        let last_two = (ranges[1].0, ranges[2].1);
        let odd_types = ReplayFilter { byte_range: Some(last_two), types: vec![EventType::AssetDiscovered], ..Default::default() };
        assert_eq!(ids(&path, odd_types), vec![12, 15, 18, 21, 24, 27]);
        let empty = (ranges[2].1, ranges[2].1);
        assert!(ids(&path, ReplayFilter { byte_range: Some(empty), ..Default::default() }).is_empty());
    }

    #[test]
    fn misaligned_byte_ranges_are_rejected() {
        let (_d, path, ranges) = fixture();
        let bad = |r| read_events(&path, ReplayFilter { byte_range: Some(r), ..Default::default() }).err();
        assert!(matches!(bad((ranges[1].0 + 1, ranges[1].1)), Some(ReplayError::BadRange { .. })));
        assert!(matches!(bad((ranges[1].1, ranges[1].0)), Some(ReplayError::BadRange { .. })));
        assert!(matches!(bad((ranges[2].1 + 1, ranges[2].1 + 2)), Some(ReplayError::BadRange { .. })));
        let mut it = read_events(&path, ReplayFilter { byte_range: Some((ranges[1].0, ranges[1].1 - 1)), ..Default::default() }).unwrap();
        assert_eq!(it.by_ref().take(9).filter(Result::is_ok).count(), 9);
        assert!(matches!(it.next(), Some(Err(ReplayError::PastRangeEnd { line: 10, .. }))));
        assert!(it.next().is_none());
    }

    #[test]
    fn bad_lines_name_line_and_offset_and_reading_can_continue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let good = |i| {
            let mut l = ev(i, kind_of(i)).to_json().unwrap();
            l.push(b'\n');
            l
        };
        let (a, b) = (good(1), good(2));
        let bytes = [a.clone(), b"{not json}\n".to_vec(), b.clone(), b"{\"torn".to_vec()].concat();
        std::fs::write(&path, &bytes).unwrap();
        let got: Vec<_> = read_events(&path, ReplayFilter::default()).unwrap().collect();
        assert_eq!(got.len(), 4);
        assert!(got[0].is_ok() && got[2].is_ok());
        match &got[1] {
            Err(e @ ReplayError::Parse { line: 2, offset, .. }) => {
                assert_eq!(*offset, a.len() as u64);
                assert!(e.is_line_error());
                assert!(e.to_string().contains(&format!("line 2 (byte {})", a.len())));
            }
            other => panic!("unexpected {other:?}"),
        }
        match &got[3] {
            Err(e @ ReplayError::Torn { line: 4, offset, bytes: 6 }) => {
                assert_eq!(*offset, (a.len() + 11 + b.len()) as u64);
                assert!(!e.is_line_error());
            }
            other => panic!("unexpected {other:?}"),
        }
        // Stop-on-first-error callers: collect into Result.
        let all: Result<Vec<_>, _> = read_events(&path, ReplayFilter::default()).unwrap().collect();
        assert!(all.is_err());
    }

    #[test]
    fn missing_file_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(read_events(dir.path().join("nope.jsonl"), ReplayFilter::default()), Err(ReplayError::Open { .. })));
    }

    #[test]
    fn last_event_id_passes_over_a_torn_tail_blank_and_corrupt_lines_and_spans_windows() {
        let (dir, path, _) = fixture();
        assert_eq!(last_event_id(&path).unwrap(), Some(ev(29, kind_of(29)).event_id));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"   \nnot json\n{\"half");
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(last_event_id(&path).unwrap(), Some(ev(29, kind_of(29)).event_id));
        // A last line longer than the first window.
        let big = Envelope::new(EventType::ListingObserved, &["big"], ev(0, kind_of(0)).ts, "nl_20260101_000000Z_00000000", "cfg", serde_json::json!({"pad": "x".repeat(200_000)}));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"\n");
        bytes.extend_from_slice(&big.to_json().unwrap());
        bytes.push(b'\n');
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(last_event_id(&path).unwrap(), Some(big.event_id));
        assert_eq!(last_event_id(dir.path().join("missing.jsonl")).unwrap(), None);
        std::fs::write(&path, b"\n  \n").unwrap();
        assert_eq!(last_event_id(&path).unwrap(), None);
    }
}
