//! Venue text quoted in errors, logs and manifests: at most [`QUOTE_CHARS`] bytes, with control characters
//! escaped, so a hostile or huge body can neither flood an error string nor inject terminal escapes, NULs
//! or line breaks into a log line. A whole error message (which may quote several pieces of venue text)
//! is bounded again at [`ERROR_BYTES`] where it leaves a source ([`quote_error`]).

/// The most bytes of venue text an error keeps (escapes included); the name is kept from when this was a
/// character count.
pub const QUOTE_CHARS: usize = 256;

/// The most bytes of one error message kept in a poll report, a manifest, `run.completed` or a log line.
pub const ERROR_BYTES: usize = 1024;

/// The start of `text`, control characters escaped (`\n`, `\u{1b}`, ...), at most [`QUOTE_CHARS`] bytes in
/// all, cut on a character boundary (an escape that would not fit is left out whole).
#[must_use]
pub fn quote(text: &str) -> String {
    bounded(text, QUOTE_CHARS)
}

/// An error message as it may be stored and shown: control characters escaped, at most [`ERROR_BYTES`]
/// bytes, ending in `…` when it was cut.
#[must_use]
pub fn quote_error(text: &str) -> String {
    let out = bounded(text, ERROR_BYTES);
    if out.len() < escaped_len(text) {
        let mut cut = bounded(&out, ERROR_BYTES - '…'.len_utf8());
        cut.push('…');
        return cut;
    }
    out
}

fn escaped_len(text: &str) -> usize {
    text.chars().map(|c| if c.is_control() { c.escape_default().count() } else { c.len_utf8() }).sum()
}

/// The start of `text` with control characters escaped, at most `max_bytes` bytes.
fn bounded(text: &str, max_bytes: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let fits = if c.is_control() {
            let piece: String = c.escape_default().collect();
            let ok = out.len() + piece.len() <= max_bytes;
            if ok {
                out.push_str(&piece);
            }
            ok
        } else {
            let ok = out.len() + c.len_utf8() <= max_bytes;
            if ok {
                out.push(c);
            }
            ok
        };
        if !fits {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_bounded_and_escaped() {
        assert_eq!(quote("ok"), "ok");
        assert_eq!(quote("a\u{1b}[31mred\r\n\0"), "a\\u{1b}[31mred\\r\\n\\u{0}");
        assert!(quote(&"\n".repeat(1000)).chars().count() <= QUOTE_CHARS, "escapes count towards the bound");
        assert_eq!(quote(&"x".repeat(1_000_000)).len(), QUOTE_CHARS);
        assert!(quote(&"é".repeat(1000)).chars().count() <= QUOTE_CHARS, "cut on a character boundary");
        assert_eq!(quote(&"é".repeat(1000)).len(), QUOTE_CHARS, "a bound in bytes (é is two)");
        assert_eq!(quote(&"€".repeat(1000)).len(), 255, "no character is split");
        assert_eq!(quote("Ünïcode name"), "Ünïcode name", "only control characters are escaped");
    }

    #[test]
    fn error_messages_are_bounded_escaped_and_marked_when_cut() {
        assert_eq!(quote_error("HTTP 404: nope"), "HTTP 404: nope");
        let long = format!("src: parse failed: {}\u{1b}[2J", "y".repeat(5000));
        let q = quote_error(&long);
        assert!(q.len() <= ERROR_BYTES && q.ends_with('…') && q.starts_with("src: parse failed: yyy"), "{q}");
        assert!(!q.chars().any(|c| c.is_control()));
        assert_eq!(quote_error("a\nb"), "a\\nb");
        assert_eq!(quote_error(&quote_error("a\nb")), "a\\nb", "escaping twice changes nothing");
    }
}
