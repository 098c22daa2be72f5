//! `nl bench ledger`'s store figures: SQLite's raw batched insert rate of `events` rows on one
//! connection, and the ledger's own rate (actor, dedup, typed dispatch, group commit) on the same rows.

use std::time::Instant;

use anyhow::Context;
use nl_domain::Envelope;
use nl_ledger::db::{migrate_up, open_write_pool, ts_str};
use nl_ledger::{LedgerConfig, LedgerStore, exec_chunked};
use nl_testkit::bench_envelopes;

/// Rows per transaction in the raw baseline; the bench ledger uses the same `batch_size`.
pub const BENCH_TX_ROWS: usize = 5000;

/// Inserts `n` `events` rows (from [`bench_envelopes`]) into a fresh, migrated temporary database
/// with multi-row `push_values` statements, [`BENCH_TX_ROWS`] rows per transaction, on one connection
/// (WAL, synchronous=NORMAL). Returns rows per second.
///
/// # Errors
/// When the temporary database cannot be created or written.
pub async fn bench_raw_insert(n: usize) -> anyhow::Result<f64> {
    let tmp = tempfile::tempdir().context("temp dir")?;
    let pool = open_write_pool(&tmp.path().join("nl.db")).await?;
    migrate_up(&pool).await?;
    let envs = bench_envelopes(n);
    let rows: Vec<(&Envelope, String, String)> = envs.iter().map(|e| Ok((e, ts_str(&e.ts), serde_json::to_string(e)?))).collect::<anyhow::Result<_>>()?;
    let start = Instant::now();
    for batch in rows.chunks(BENCH_TX_ROWS) {
        let mut tx = pool.begin().await?;
        exec_chunked(
            &mut tx,
            "INSERT INTO events (event_id, ts, type, run_id, config_hash, asset_id, source, body) ",
            " ON CONFLICT(event_id) DO NOTHING",
            8,
            batch,
            |mut b, (e, ts, body)| {
                b.push_bind(e.event_id.as_str())
                    .push_bind(ts.as_str())
                    .push_bind(e.kind.as_str())
                    .push_bind(e.run_id.as_str())
                    .push_bind(e.config_hash.as_str())
                    .push_bind(e.asset_id.as_deref())
                    .push_bind(e.source.as_deref())
                    .push_bind(body.as_str());
            },
        )
        .await?;
        tx.commit().await?;
    }
    let rate = rate(n, start);
    pool.close().await;
    Ok(rate)
}

/// Applies the same `n` envelopes through a fresh [`LedgerStore`], `batch` envelopes per `apply` call,
/// with up to `concurrency` calls in flight (so the writer can group-commit). Returns envelopes per second.
///
/// # Errors
/// When the store cannot be opened or an apply fails.
pub async fn bench_ledger_apply(n: usize, batch: usize, concurrency: usize) -> anyhow::Result<f64> {
    let tmp = tempfile::tempdir().context("temp dir")?;
    let store = LedgerStore::open(&LedgerConfig::with_db_path(tmp.path().join("nl.db"))).await?;
    let envs = bench_envelopes(n);
    let chunks: Vec<Vec<Envelope>> = envs.chunks(batch.max(1)).map(<[Envelope]>::to_vec).collect();
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for chunk in chunks {
        while set.len() >= concurrency.max(1) {
            if let Some(r) = set.join_next().await {
                r.context("bench task")??;
            }
        }
        let s = store.clone();
        set.spawn(async move { s.apply(chunk).await.map(|_| ()) });
    }
    while let Some(r) = set.join_next().await {
        r.context("bench task")??;
    }
    Ok(rate(n, start))
}

#[allow(clippy::cast_precision_loss)]
fn rate(n: usize, start: Instant) -> f64 {
    n as f64 / start.elapsed().as_secs_f64().max(1e-9)
}
