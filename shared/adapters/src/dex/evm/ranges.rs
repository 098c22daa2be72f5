//! Block-range planning for `eth_getLogs` backfill, and splitting after a provider's range-cap error.

/// Splits the inclusive range `[from, to]` into consecutive inclusive chunks of at most `max_span`
/// blocks (`max_span` 0 is treated as 1). Empty when `from > to`.
#[must_use]
pub fn plan_ranges(from: u64, to: u64, max_span: u64) -> Vec<(u64, u64)> {
    let span = max_span.max(1);
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = start.saturating_add(span - 1).min(to);
        out.push((start, end));
        if end == u64::MAX {
            break;
        }
        start = end + 1;
    }
    out
}

/// Halves an inclusive range after a `RangeTooLarge` error; `None` for a single block (cannot split:
/// the block itself is over the cap and must be reported).
#[must_use]
pub fn split_range((from, to): (u64, u64)) -> Option<((u64, u64), (u64, u64))> {
    if from >= to {
        return None;
    }
    let mid = from + (to - from) / 2;
    Some(((from, mid), (mid + 1, to)))
}

/// The next span to try after a range-cap error: half the current one, or `None` at 1.
#[must_use]
pub fn halve_span(span: u64) -> Option<u64> {
    (span > 1).then_some(span / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_inclusive_chunks() {
        assert_eq!(plan_ranges(10, 35, 10), vec![(10, 19), (20, 29), (30, 35)]);
        assert_eq!(plan_ranges(5, 5, 100), vec![(5, 5)]);
        assert_eq!(plan_ranges(6, 5, 100), vec![]);
        assert_eq!(plan_ranges(0, 2, 0), vec![(0, 0), (1, 1), (2, 2)]);
        assert_eq!(plan_ranges(u64::MAX - 1, u64::MAX, 10), vec![(u64::MAX - 1, u64::MAX)]);
        let chunks = plan_ranges(1, 10_000, 2_000);
        assert_eq!(chunks.len(), 5);
        assert!(chunks.windows(2).all(|w| w[0].1 + 1 == w[1].0), "contiguous, no gaps or overlaps");
    }

    #[test]
    fn splits_and_halves() {
        assert_eq!(split_range((0, 9)), Some(((0, 4), (5, 9))));
        assert_eq!(split_range((4, 5)), Some(((4, 4), (5, 5))));
        assert_eq!(split_range((7, 7)), None);
        assert_eq!(halve_span(2000), Some(1000));
        assert_eq!(halve_span(3), Some(1));
        assert_eq!(halve_span(1), None);
        assert_eq!(halve_span(0), None);
    }
}
