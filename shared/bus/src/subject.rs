//! NATS subject filters (`*` matches one token, `>` the rest), evaluated without allocating so the
//! in-memory bus can test every stored message against every consumer cheaply.

/// Whether `subject` matches the NATS `filter` (`*` = exactly one token, `>` = one or more trailing tokens).
#[must_use]
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    if filter == ">" {
        return !subject.is_empty();
    }
    if !filter.contains(['*', '>']) {
        return filter == subject;
    }
    let mut f = filter.split('.');
    let mut s = subject.split('.');
    loop {
        match (f.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether `filter` is a well-formed subject filter: non-empty tokens, no whitespace, `>` only last.
#[must_use]
pub fn is_valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.chars().any(char::is_whitespace) {
        return false;
    }
    let tokens: Vec<&str> = filter.split('.').collect();
    tokens.iter().enumerate().all(|(i, t)| !t.is_empty() && (*t == ">" && i + 1 == tokens.len() || *t == "*" || !t.contains(['*', '>'])))
}

/// Whether `subject` is a valid literal subject to publish on (no wildcards, no empty tokens).
#[must_use]
pub fn is_valid_subject(subject: &str) -> bool {
    !subject.is_empty() && !subject.chars().any(char::is_whitespace) && subject.split('.').all(|t| !t.is_empty() && !t.contains(['*', '>']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_nats() {
        let cases = [
            (">", "nl.a", true),
            ("nl.>", "nl.a.b", true),
            ("nl.>", "nl", false),
            ("nl.*", "nl.a", true),
            ("nl.*", "nl.a.b", false),
            ("nl.*.b", "nl.a.b", true),
            ("nl.*.b", "nl.a.c", false),
            ("nl.a", "nl.a", true),
            ("nl.a", "nl.ab", false),
            ("nl.a.>", "nl.a", false),
            ("nl.dlq.>", "nl.dlq.c.nl.x", true),
        ];
        for (f, s, want) in cases {
            assert_eq!(subject_matches(f, s), want, "{f} vs {s}");
        }
    }

    #[test]
    fn filters_and_subjects_are_validated() {
        assert!(is_valid_filter("nl.>"));
        assert!(is_valid_filter("nl.*.x"));
        assert!(!is_valid_filter("nl.>.x"));
        assert!(!is_valid_filter("nl..x"));
        assert!(!is_valid_filter("nl.a*"));
        assert!(!is_valid_filter(""));
        assert!(is_valid_subject("nl.a.b"));
        assert!(!is_valid_subject("nl.*"));
        assert!(!is_valid_subject("nl a"));
    }
}
