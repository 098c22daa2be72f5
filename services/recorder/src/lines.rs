//! Reading newline-terminated lines with a bound on the bytes kept in memory, so a corrupt tail
//! without newlines (e.g. a run of NUL bytes after a power loss) cannot exhaust memory.

use std::io::{self, BufRead};

/// Longest line kept in memory. Envelopes are a few KB; anything longer is corrupt.
pub(crate) const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// What one call to [`read_line`] consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line {
    /// Bytes consumed from the reader, including the newline. 0 at end of file.
    pub consumed: u64,
    /// The line ended with `\n` (false only for the last line of the file).
    pub terminated: bool,
    /// The line was longer than the bound; `buf` holds only its prefix.
    pub truncated: bool,
}

/// Reads one line into `buf` (cleared first, newline excluded), keeping at most `max` bytes but
/// consuming the whole line.
pub(crate) fn read_line<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut line = Line { consumed: 0, terminated: false, truncated: false };
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(line);
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if take > room {
            line.truncated = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        let used = if done { take + 1 } else { take };
        reader.consume(used);
        line.consumed += used as u64;
        if done {
            line.terminated = true;
            return Ok(line);
        }
    }
}

/// A terminated line of whitespace only (a corrupt line blanked in place, or an empty line): every reader
/// skips it. `buf` is what [`read_line`] kept of it.
pub(crate) fn is_blank(line: &Line, buf: &[u8]) -> bool {
    line.terminated && buf.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn splits_bounds_and_reports_tail() {
        let data = b"ab\n\nlonger line\ntail";
        let mut r = io::BufReader::with_capacity(3, &data[..]);
        let mut buf = Vec::new();
        let l = read_line(&mut r, &mut buf, 4).unwrap();
        assert_eq!((l.consumed, l.terminated, l.truncated, buf.as_slice()), (3, true, false, &b"ab"[..]));
        let l = read_line(&mut r, &mut buf, 4).unwrap();
        assert_eq!((l.consumed, l.terminated, buf.len()), (1, true, 0));
        let l = read_line(&mut r, &mut buf, 4).unwrap();
        assert_eq!((l.consumed, l.terminated, l.truncated, buf.as_slice()), (12, true, true, &b"long"[..]));
        let l = read_line(&mut r, &mut buf, 4).unwrap();
        assert_eq!((l.consumed, l.terminated, l.truncated, buf.as_slice()), (4, false, false, &b"tail"[..]));
        let l = read_line(&mut r, &mut buf, 4).unwrap();
        assert_eq!(l.consumed, 0);
    }
}
