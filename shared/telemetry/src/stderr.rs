//! What reaches stderr stays one record per line and cannot drive the terminal. Venue and token text
//! (names, symbols, error bodies) may hold NUL, ESC or CR/LF: text log lines escape every control
//! character but the record's own newline, and lines written outside `tracing` (progress, the final
//! error) go through [`line`], which prints a JSON object in JSON mode so that every line on stderr
//! parses.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::time::FormatTime;

use crate::LogFormat;

/// Whether `c` is escaped: C0 controls but tab, DEL and C1 controls.
fn escaped(c: char) -> bool {
    c.is_control() && c != '\t'
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if escaped(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// `text` with control characters escaped (`\n`, `\r`, `\u{0}`, `\u{1b}`, ...); tab is kept.
#[must_use]
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    escape_into(&mut out, text);
    Cow::Owned(out)
}

/// Writes one line to stderr outside `tracing`: in JSON mode a JSON object like a log record
/// (`timestamp`, `level`, `fields.message`, `target`), otherwise `text` with control characters escaped.
pub fn line(level: tracing::Level, text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(render(LogFormat::from_env(), level, text).as_bytes());
}

/// The bytes [`line`] writes, newline included.
#[must_use]
pub fn render(format: LogFormat, level: tracing::Level, text: &str) -> String {
    match format {
        LogFormat::Text => format!("{}\n", escape_controls(text)),
        LogFormat::Json => {
            let mut timestamp = String::new();
            let _ = tracing_subscriber::fmt::time::SystemTime.format_time(&mut tracing_subscriber::fmt::format::Writer::new(&mut timestamp));
            let record = serde_json::json!({ "timestamp": timestamp, "level": level.as_str(), "fields": { "message": text }, "target": "nl" });
            format!("{record}\n")
        }
    }
}

/// Stderr for the text log layer (which runs without colours): every control character of a record but
/// its final newline is escaped; `tracing` itself leaves `%`-formatted values raw.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EscapingStderr;

impl<'a> MakeWriter<'a> for EscapingStderr {
    type Writer = Escaping<std::io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        Escaping(std::io::stderr())
    }
}

/// Escapes control characters of each record written through it (the formatter writes a record at once).
#[derive(Debug)]
pub struct Escaping<W>(pub W);

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (body, newline) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, true),
            None => (buf, false),
        };
        let text = String::from_utf8_lossy(body);
        if !text.chars().any(escaped) {
            self.0.write_all(buf)?;
            return Ok(buf.len());
        }
        let mut out = String::with_capacity(buf.len() + 16);
        escape_into(&mut out, &text);
        if newline {
            out.push('\n');
        }
        self.0.write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
