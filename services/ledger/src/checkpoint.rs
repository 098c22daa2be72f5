//! WAL checkpoints off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses `wal_autocheckpoint` pages, on the
//! writer's connection: that commit copies every page of the WAL back into the database file and syncs it
//! before the writer can take the next batch (15 % of the writer's CPU in the session-6 profile, plus its
//! `fsync`). Here a second connection runs `PRAGMA wal_checkpoint(PASSIVE)` on its own thread after the
//! writer commits, at most once per [`CHECKPOINT_EVERY`], so the copying overlaps the next batches. A passive
//! checkpoint never blocks the writer or readers. The writer's own automatic checkpoint stays as a bound
//! ([`FALLBACK_AUTOCHECKPOINT_PAGES`]) for when this one cannot keep up.
//!
//! Durability is unchanged: a commit is in the WAL (written before `COMMIT` returns; `synchronous=NORMAL`
//! in WAL mode survives a process crash) whether or not it was checkpointed yet.

use std::path::Path;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::SqlitePoolOptions;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::db::{WAL_AUTOCHECKPOINT_PAGES, base_options};
use crate::error::{LedgerError, Result};

/// Least time between two background checkpoints: each absorbs the rewrites of the same pages by every
/// commit in between.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// The writer's own automatic checkpoint, reached only when the background one falls behind (256 MiB of
/// [`crate::db::PAGE_SIZE`] pages).
pub const FALLBACK_AUTOCHECKPOINT_PAGES: u32 = 4 * WAL_AUTOCHECKPOINT_PAGES;
// The pragma below spells the number out (sqlx takes literal SQL only).
const _: () = assert!(FALLBACK_AUTOCHECKPOINT_PAGES == 262_144);

/// Tells the checkpointer that the writer committed. Dropping it stops the checkpointer.
#[derive(Debug, Clone)]
pub(crate) struct Committed(mpsc::Sender<()>);

impl Committed {
    /// Never waits: a wake-up already pending covers this commit too.
    pub(crate) fn notify(&self) {
        let _ = self.0.try_send(());
    }
}

/// Raises the writer's automatic checkpoint on `writer` to the fallback bound and starts the background
/// checkpointer on its own connection to `path`.
///
/// # Errors
/// [`LedgerError::Db`] when the pragma fails, [`LedgerError::Open`] when the second connection cannot open.
pub(crate) async fn start(path: &Path, writer: &SqlitePool) -> Result<Committed> {
    sqlx::query("PRAGMA wal_autocheckpoint = 262144").execute(writer).await?;
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .connect_with(base_options(path))
        .await
        .map_err(|source| LedgerError::Open { path: path.display().to_string(), source })?;
    let (tx, mut rx) = mpsc::channel(1);
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&pool).await {
                Ok((busy, frames, copied)) => debug!(busy, frames, copied, "Background WAL checkpoint."),
                Err(error) => warn!(%error, "Background WAL checkpoint failed; the writer's automatic checkpoint still bounds the WAL."),
            }
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
        pool.close().await;
    });
    Ok(Committed(tx))
}
