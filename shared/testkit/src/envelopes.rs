//! Deterministic bulk events for tests and benches that need many distinct envelopes of a realistic size
//! (the ledger's and recorder's throughput tests, `nl bench ledger`).

use chrono::TimeZone;
use nl_domain::{Envelope, EventType};

/// `n` distinct `manual.note` envelopes of about 250 bytes, time-ordered, deterministic.
#[must_use]
pub fn bench_envelopes(n: usize) -> Vec<Envelope> {
    let base = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
    (0..n)
        .map(|i| {
            let ts = base + chrono::Duration::milliseconds(i64::try_from(i).unwrap_or(i64::MAX));
            let meta = serde_json::json!({ "seq": i, "note": "x".repeat(64) });
            Envelope::new(EventType::Manual, &["bench", &i.to_string()], ts, "nl_20260101_000000Z_00000000", "bench", meta)
                .with_asset(format!("cex:bench:A{}", i % 1000))
                .with_source("bench")
        })
        .collect()
}
