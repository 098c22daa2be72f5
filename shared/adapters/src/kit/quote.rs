//! Venue text quoted in errors, logs and manifests: at most [`QUOTE_CHARS`] characters (so at most 1 KiB),
//! with control characters escaped, so a hostile or huge body can neither flood an error string nor
//! inject terminal escapes, NULs or line breaks into a log line.

/// The most characters of venue text an error keeps (escapes included).
pub const QUOTE_CHARS: usize = 256;

/// The start of `text`, control characters escaped (`\n`, `\u{1b}`, ...), at most [`QUOTE_CHARS`]
/// characters in all (an escape that would not fit is left out whole).
#[must_use]
pub fn quote(text: &str) -> String {
    let mut out = String::new();
    let mut len = 0;
    for c in text.chars() {
        let piece: String = if c.is_control() { c.escape_default().collect() } else { c.to_string() };
        let n = piece.chars().count();
        if len + n > QUOTE_CHARS {
            break;
        }
        out.push_str(&piece);
        len += n;
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
        assert_eq!(quote(&"é".repeat(1000)).chars().count(), QUOTE_CHARS, "cut on a character boundary");
        assert_eq!(quote("Ünïcode name"), "Ünïcode name", "only control characters are escaped");
    }
}
