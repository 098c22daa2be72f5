//! Tests of [`super`]: torn tails, quarantine, blank lines, exactly-once appends, stored forms.
#![allow(clippy::unwrap_used)]
use super::*;
use chrono::TimeZone;
use nl_domain::EventType;

fn ev(i: u64) -> Envelope {
    let ts = chrono::Utc.timestamp_millis_opt(1_700_000_000_000 + i as i64).unwrap();
    Envelope::new(EventType::ListingObserved, &["t", &i.to_string()], ts, "nl_20260101_000000Z_00000000", "cfg", serde_json::json!({ "i": i }))
}

fn line(i: u64) -> Vec<u8> {
    let mut l = ev(i).to_json().unwrap();
    l.push(b'\n');
    l
}

fn file_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    fs::write(&path, bytes).unwrap();
    (dir, path)
}

#[test]
fn id_keys_are_compact_only_for_canonical_hex() {
    assert!(matches!(IdKey::of(&ev(1).event_id), IdKey::Hex(_)));
    let upper = EventId(ev(1).event_id.as_str().to_uppercase());
    assert!(matches!(IdKey::of(&upper), IdKey::Other(_)));
    assert_ne!(IdKey::of(&upper), IdKey::of(&ev(1).event_id));
    assert!(matches!(IdKey::of(&EventId("+".repeat(32))), IdKey::Other(_)));
}

#[test]
fn creates_parent_dirs_and_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/events.jsonl");
    let log = EventLog::open(&path, FsyncPolicy::PerBatch).unwrap();
    assert!(path.exists());
    assert_eq!((log.len(), log.count(), log.is_empty()), (0, 0, true));
}

#[test]
fn empty_file_opens_unchanged() {
    let (_d, path) = file_with(b"");
    let log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    assert_eq!((log.len(), log.count()), (0, 0));
    assert_eq!(fs::metadata(&path).unwrap().len(), 0);
}

#[test]
fn file_ending_at_newline_is_kept_whole() {
    let mut bytes = line(1);
    bytes.extend(line(2));
    let (_d, path) = file_with(&bytes);
    let log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    assert_eq!((log.len(), log.count()), (bytes.len() as u64, 2));
    assert_eq!(fs::read(&path).unwrap(), bytes);
    assert!(log.contains(&ev(2).event_id));
}

#[test]
fn partial_json_tail_is_cut() {
    let good = [line(1), line(2)].concat();
    let partial = &line(3)[..40];
    let (_d, path) = file_with(&[good.as_slice(), partial].concat());
    let mut log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    assert_eq!(fs::read(&path).unwrap(), good, "earlier lines untouched, tail gone");
    assert_eq!(log.count(), 2);
    assert!(!log.contains(&ev(3).event_id));
    // The redelivered event is written after the repair point.
    let out = log.append_batch(&[ev(2), ev(3)]).unwrap();
    assert_eq!((out.written, out.duplicates, out.byte_range.0), (1, 1, good.len() as u64));
    assert_eq!(fs::read(&path).unwrap(), [good, line(3)].concat());
}

#[test]
fn complete_json_without_newline_is_cut() {
    let good = line(1);
    let mut unterminated = line(2);
    unterminated.pop();
    let (_d, path) = file_with(&[good.clone(), unterminated].concat());
    let log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    assert_eq!(fs::read(&path).unwrap(), good);
    assert_eq!(log.count(), 1);
}

#[test]
fn an_unterminated_garbage_tail_is_cut() {
    let good = [line(1), line(2)].concat();
    for tail in [&b"\0\0\0\0\0\0"[..], b"{\"half", b"garbage"] {
        let (_d, path) = file_with(&[good.as_slice(), tail].concat());
        let log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
        assert_eq!(fs::read(&path).unwrap(), good, "tail {tail:?}");
        assert_eq!(log.count(), 2);
    }
}

#[test]
fn complete_corrupt_lines_at_the_end_are_quarantined_with_an_error_never_deleted() {
    let good = [line(1), line(2)].concat();
    for tail in [&b"garbage\n"[..], b"{\"event_id\":1}\n", b"not json\n\0\0\0\n{\"half", b"\0\n \n"] {
        let (dir, path) = file_with(&[good.as_slice(), tail].concat());
        let err = EventLog::open(&path, FsyncPolicy::Never).unwrap_err();
        let RecorderError::Quarantined { quarantine, bytes, .. } = &err else { panic!("tail {tail:?}: {err}") };
        assert!(err.to_string().contains("quarantine-") && err.to_string().contains("nothing deleted"), "{err}");
        assert_eq!(fs::read(quarantine).unwrap(), tail, "every byte after the last good line is kept");
        assert_eq!(*bytes, tail.len() as u64);
        assert_eq!(fs::read(&path).unwrap(), good, "the log keeps its good lines");
        assert!(quarantine.starts_with(dir.path()));
        assert_eq!(EventLog::open(&path, FsyncPolicy::Never).unwrap().count(), 2, "the next open succeeds");
    }
}

#[test]
fn file_of_only_an_unterminated_line_is_emptied() {
    let (_d, path) = file_with(b"{\"partial");
    let log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    assert_eq!((log.len(), fs::metadata(&path).unwrap().len()), (0, 0));
}

#[test]
fn bad_lines_inside_the_log_are_quarantined_and_blanked_in_place_keeping_every_offset() {
    let bad = [b"oops\n".to_vec(), b"{\"event_id\":1}\n".to_vec()];
    let bytes = [line(1), bad[0].clone(), line(2), bad[1].clone(), line(3)].concat();
    let (dir, path) = file_with(&bytes);
    let err = EventLog::open(&path, FsyncPolicy::Never).unwrap_err();
    let RecorderError::Quarantined { quarantine, lines, bytes: quarantined, line: first, blanked, .. } = &err else { panic!("{err}") };
    assert_eq!((*lines, *blanked, *first), (2, 2, 2));
    assert_eq!(fs::read(quarantine).unwrap(), bad.concat(), "the corrupt lines' bytes, in order");
    assert_eq!(*quarantined, bad.concat().len() as u64);
    assert!(quarantine.starts_with(dir.path()));
    assert!(err.to_string().contains("blanked in place") && err.to_string().contains("nothing deleted"), "{err}");
    let after = fs::read(&path).unwrap();
    assert_eq!(after.len(), bytes.len(), "same length: every valid line keeps its offset");
    let blank = |l: &[u8]| [vec![b' '; l.len() - 1], vec![b'\n']].concat();
    assert_eq!(after, [line(1), blank(&bad[0]), line(2), blank(&bad[1]), line(3)].concat());
    let log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    assert_eq!((log.count(), log.len()), (3, bytes.len() as u64), "the next open succeeds and keeps the blank lines");
    let ids: Vec<u64> = crate::read_events(&path, crate::ReplayFilter::default()).unwrap().map(|r| r.unwrap().meta["i"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3], "readers skip blank lines");
}

#[test]
fn blank_lines_are_neither_events_nor_corrupt() {
    let bytes = [line(1), b"\n".to_vec(), b"   \n".to_vec(), line(2), b" \n".to_vec()].concat();
    let (_d, path) = file_with(&bytes);
    let log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    assert_eq!((log.count(), fs::read(&path).unwrap()), (2, bytes));
}

#[test]
fn exactly_once_within_batch_and_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    {
        let mut log = EventLog::open(&path, FsyncPolicy::PerBatch).unwrap();
        let out = log.append_batch(&[ev(1), ev(2), ev(1), ev(3)]).unwrap();
        assert_eq!((out.written, out.duplicates), (3, 1));
        let out = log.append_batch(&[ev(3), ev(2)]).unwrap();
        assert_eq!((out.written, out.duplicates, out.byte_range.0, out.byte_range.1), (0, 2, log.len(), log.len()));
    }
    let mut log = EventLog::open(&path, FsyncPolicy::PerBatch).unwrap();
    assert_eq!(log.count(), 3);
    let out = log.append_batch(&[ev(1), ev(2), ev(3), ev(4)]).unwrap();
    assert_eq!((out.written, out.duplicates), (1, 3));
    drop(log);
    let text = fs::read(&path).unwrap();
    assert_eq!(text, [line(1), line(2), line(3), line(4)].concat());
}

#[test]
fn byte_ranges_are_contiguous_disjoint_and_hold_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let mut log = EventLog::open(&path, FsyncPolicy::Interval(Duration::from_secs(3600))).unwrap();
    let mut ranges = Vec::new();
    for b in 0..5u64 {
        let batch: Vec<_> = (b * 10..b * 10 + 10).map(ev).collect();
        ranges.push((b, log.append_batch(&batch).unwrap().byte_range));
    }
    log.sync().unwrap();
    let bytes = fs::read(&path).unwrap();
    assert_eq!(ranges[0].1.0, 0);
    assert_eq!(ranges.last().unwrap().1.1, bytes.len() as u64);
    for w in ranges.windows(2) {
        assert_eq!(w[0].1.1, w[1].1.0, "contiguous");
    }
    for (b, (s, e)) in ranges {
        let want: Vec<u8> = (b * 10..b * 10 + 10).flat_map(line).collect();
        assert_eq!(&bytes[s as usize..e as usize], want.as_slice());
    }
}

#[test]
fn second_writer_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let first = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    assert!(matches!(EventLog::open(&path, FsyncPolicy::Never), Err(RecorderError::Locked { .. })));
    drop(first);
    EventLog::open(&path, FsyncPolicy::Never).unwrap();
}
