//! Corrupt complete lines at the end of events.jsonl are never deleted: their bytes are copied to
//! `events.jsonl.quarantine-<UTC time>` (and synced) before the log is cut back to its last valid line.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::RecorderError;

/// Copies bytes `[from, to)` of `file` (the log at `path`) to a new quarantine file beside it; returns its path.
pub(crate) fn quarantine(file: &File, path: &Path, from: u64, to: u64) -> Result<PathBuf, RecorderError> {
    let io = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| RecorderError::Io { path: p, op, source }
    };
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let mut target = PathBuf::from(format!("{}.quarantine-{stamp}", path.display()));
    let mut n = 1;
    while target.exists() {
        target = PathBuf::from(format!("{}.quarantine-{stamp}-{n}", path.display()));
        n += 1;
    }
    let mut out = OpenOptions::new().write(true).create_new(true).open(&target).map_err(io("create quarantine file", &target))?;
    let mut reader = file;
    reader.seek(SeekFrom::Start(from)).map_err(io("seek to the corrupt lines", path))?;
    let copied = std::io::copy(&mut reader.take(to - from), &mut out).map_err(io("copy corrupt lines to quarantine", &target))?;
    if copied != to - from {
        return Err(io("copy corrupt lines to quarantine", &target)(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the log shrank while copying")));
    }
    out.flush().and_then(|()| out.sync_all()).map_err(io("fsync quarantine file", &target))?;
    Ok(target)
}
