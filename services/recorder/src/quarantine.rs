//! Corrupt complete lines of events.jsonl are never deleted: their bytes are copied to
//! `events.jsonl.quarantine-<UTC time>` (and synced) before the log is cut back to its last valid line
//! (lines at its end) or the lines are overwritten with spaces in place (lines inside it, so that every
//! other line keeps the byte offset run manifests cite).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::RecorderError;

fn io(op: &'static str, p: &Path) -> impl FnOnce(std::io::Error) -> RecorderError {
    let p = p.to_path_buf();
    move |source| RecorderError::Io { path: p, op, source }
}

/// Copies the byte ranges `spans` (`[from, to)`, in file order) of `file` (the log at `path`) to a new
/// quarantine file beside it, one after the other; returns its path.
pub(crate) fn quarantine(file: &File, path: &Path, spans: &[(u64, u64)]) -> Result<PathBuf, RecorderError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let mut target = PathBuf::from(format!("{}.quarantine-{stamp}", path.display()));
    let mut n = 1;
    while target.exists() {
        target = PathBuf::from(format!("{}.quarantine-{stamp}-{n}", path.display()));
        n += 1;
    }
    let mut out = OpenOptions::new().write(true).create_new(true).open(&target).map_err(io("create quarantine file", &target))?;
    let mut reader = file;
    for &(from, to) in spans {
        reader.seek(SeekFrom::Start(from)).map_err(io("seek to the corrupt lines", path))?;
        let copied = std::io::copy(&mut reader.take(to - from), &mut out).map_err(io("copy corrupt lines to quarantine", &target))?;
        if copied != to - from {
            let shrank = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the log shrank while copying");
            return Err(io("copy corrupt lines to quarantine", &target)(shrank));
        }
    }
    out.flush().and_then(|()| out.sync_all()).map_err(io("fsync quarantine file", &target))?;
    Ok(target)
}

/// Overwrites each line `[from, to)` of the log at `path` (`to` just past its `\n`, which stays) with
/// spaces, then syncs. A separate handle: the log's own is in append mode, where positioned writes append.
pub(crate) fn blank_in_place(path: &Path, spans: &[(u64, u64)]) -> Result<(), RecorderError> {
    let file = OpenOptions::new().write(true).open(path).map_err(io("open to blank corrupt lines", path))?;
    let spaces = [b' '; 8192];
    for &(from, to) in spans {
        let mut at = from;
        let end = to.saturating_sub(1);
        while at < end {
            let n = usize::try_from(end - at).map_or(spaces.len(), |left| left.min(spaces.len()));
            file.write_all_at(&spaces[..n], at).map_err(io("blank corrupt lines", path))?;
            at += n as u64;
        }
    }
    file.sync_all().map_err(io("fsync after blanking corrupt lines", path))
}
