//! Opening the database: the embedded migrations, the single-connection write pool and the read-only pool.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::SecondsFormat;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::config::LEGACY_DB_FILE_NAME;
use crate::error::{LedgerError, Result};

/// The reversible migrations in `/migrations`, embedded at compile time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// SQLite's limit on bound parameters per statement.
pub const MAX_BINDS: usize = 32_766;
/// Rows per multi-row statement; large enough to amortize the per-statement round trip.
pub const MAX_ROWS_PER_STATEMENT: usize = 500;

/// Rows per `push_values` statement for a table of `columns` bound columns.
#[must_use]
pub fn rows_per_statement(columns: usize) -> usize {
    (MAX_BINDS / columns.max(1)).clamp(1, MAX_ROWS_PER_STATEMENT)
}

/// The current time as stored: RFC 3339, milliseconds, `Z`.
#[must_use]
pub fn now_str() -> String {
    ts_str(&chrono::Utc::now())
}

/// A timestamp as stored: RFC 3339, milliseconds, `Z` (sorts lexicographically).
#[must_use]
pub fn ts_str(ts: &nl_domain::Ts) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Prepared statements the writer's connection keeps: every table's multi-row inserts in their ten
/// statement sizes (see `insert::statement_chunks`) and the single statements, with room to spare
/// (sqlx's default of 100 evicted some on every batch).
pub const STATEMENT_CACHE_CAPACITY: usize = 512;

/// The page size of a new database file. SQLite's default (4 KiB) stores a row of 2-4 KiB (a risk
/// evaluation's `flags_json`, most raw payloads) one to a page, leaving the rest of the page empty, and an
/// empty table or index still takes a whole page. With 1 KiB pages a large row spills into overflow pages
/// that SQLite fills completely: measured with `nl bench bytes`, about 2 KB less per listing (8 % of the
/// file) for the same rows. It only applies when the file is created; an existing file keeps its size.
pub const PAGE_SIZE: u32 = 1024;

/// WAL pages between automatic checkpoints (64 MiB of [`PAGE_SIZE`] pages).
pub const WAL_AUTOCHECKPOINT_PAGES: u32 = 65_536;
/// The writer's page cache (SQLite `cache_size`; negative: KiB): 16 MiB. It was 64 MiB, and in
/// `nl run` tracking 10,000 assets the cache filled it (48 MB at the peak, heaptrack); `nl bench ledger
/// --events 50000` on the loaded 2-core machine showed no difference beyond its run-to-run noise (store
/// apply 97 % and 109 % of raw SQLite at 16 MiB, 160 % and 103 % at 64 MiB).
pub const WRITER_CACHE_KIB: i64 = -16 * 1024;
/// Size the WAL file is truncated back to after a checkpoint.
pub const WAL_SIZE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

pub(crate) fn base_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new().filename(path).busy_timeout(Duration::from_secs(5)).foreign_keys(true)
}

/// Opens the writer's pool: one connection, WAL, `synchronous=NORMAL`, 5 s busy timeout, foreign keys,
/// in-memory statement journals, [`PAGE_SIZE`] pages for a new file.
/// Creates the file and its parent directories when missing.
///
/// Event ids are hashes, so every insert lands on a random page of the `event_id` index. Checkpointing
/// the WAL every 1,000 pages (SQLite's default) copied most of that index back on nearly every commit;
/// checkpointing every [`WAL_AUTOCHECKPOINT_PAGES`] lets one checkpoint absorb many commits' rewrites of
/// the same pages (measured: about 1.5-2x batched insert rate). The WAL is truncated back to
/// [`WAL_SIZE_LIMIT_BYTES`] after a checkpoint.
///
/// `temp_store=MEMORY` keeps statement journals in memory. A multi-row insert that may abort part way
/// (NOT NULL, foreign keys) keeps one, and past 64 KiB SQLite spilled it to a file under `/var/tmp`:
/// measured on `nl bench ledger --events 20000`, those temp files took 45k of the writer's 151k
/// `pwrite` calls and 108 MB, more than the WAL itself. With them in memory the raw batched insert rate
/// rose by 10-25 % (interleaved runs).
///
/// # Errors
/// [`LedgerError::Io`] when the directory cannot be created, [`LedgerError::Open`] when SQLite cannot open it.
pub async fn open_write_pool(path: &Path) -> Result<SqlitePool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await?;
    }
    let opts = base_options(path)
        .create_if_missing(true)
        .page_size(PAGE_SIZE)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .pragma("cache_size", WRITER_CACHE_KIB.to_string())
        .pragma("temp_store", "memory")
        .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
        .pragma("journal_size_limit", WAL_SIZE_LIMIT_BYTES.to_string())
        .statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .connect_with(opts)
        .await
        .map_err(|source| LedgerError::Open { path: path.display().to_string(), source })
}

/// Opens a read-only pool of `connections` connections. Writes through it fail.
///
/// # Errors
/// [`LedgerError::Open`] when the file does not exist or cannot be opened.
pub async fn open_read_pool(path: &Path, connections: u32) -> Result<SqlitePool> {
    let opts = base_options(path).read_only(true);
    SqlitePoolOptions::new()
        .max_connections(connections.max(1))
        .connect_with(opts)
        .await
        .map_err(|source| LedgerError::Open { path: path.display().to_string(), source })
}

/// Adopts a database left under its pre-runbook name: when `path` does not exist and a
/// [`LEGACY_DB_FILE_NAME`] (`nl.db`) does in the same folder, renames it, with its `-wal` and `-shm` files,
/// to `path`. Returns the old path when it moved it. The sidecars move first, so an interrupted adoption
/// is finished by the next call and no committed page is left behind. Nothing happens when `path` already
/// exists or is itself named `nl.db`. Run it before any connection opens either file.
///
/// # Errors
/// The I/O error of a failed rename.
pub fn adopt_legacy_db(path: &Path) -> std::io::Result<Option<PathBuf>> {
    let legacy = path.with_file_name(LEGACY_DB_FILE_NAME);
    if legacy == path || path.exists() || !legacy.is_file() {
        return Ok(None);
    }
    for suffix in ["-wal", "-shm"] {
        let from = sidecar(&legacy, suffix);
        if from.exists() {
            std::fs::rename(&from, sidecar(path, suffix))?;
        }
    }
    std::fs::rename(&legacy, path)?;
    Ok(Some(legacy))
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Applies every pending migration.
///
/// # Errors
/// [`LedgerError::Migrate`] when a migration fails or the applied history diverges from the embedded one.
pub async fn migrate_up(pool: &SqlitePool) -> Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Reverts migrations down to `target` (0 removes every table and view the migrations created).
///
/// # Errors
/// [`LedgerError::Migrate`] when a down migration fails.
pub async fn migrate_down(pool: &SqlitePool, target: i64) -> Result<()> {
    MIGRATOR.undo(pool, target).await?;
    Ok(())
}

/// Names of the user tables and views, sorted (SQLite internals excluded).
///
/// # Errors
/// [`LedgerError::Db`] on query failure.
pub async fn schema_objects(pool: &SqlitePool) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// `PRAGMA quick_check`: the problems SQLite finds in the file's structure, empty when it is sound.
///
/// # Errors
/// [`LedgerError::Db`] when the check itself cannot run (a file that is not a database at all).
pub async fn quick_check(pool: &SqlitePool) -> Result<Vec<String>> {
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA quick_check").fetch_all(pool).await?;
    Ok(rows.into_iter().filter(|r| r != "ok").collect())
}

/// Whether `e` is SQLite saying the file is damaged or not a database (`SQLITE_CORRUPT`, `SQLITE_NOTADB`),
/// as opposed to busy, locked or unreachable.
#[must_use]
pub fn is_damage(e: &LedgerError) -> bool {
    let (LedgerError::Db(sqlx::Error::Database(db)) | LedgerError::Open { source: sqlx::Error::Database(db), .. }) = e else { return false };
    // SQLite reports extended codes; the primary code is the low byte.
    db.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 11 | 26))
}

/// The problem that makes the database damaged: what `PRAGMA quick_check` finds, or the damage error that
/// keeps it from running. `None` when the file is sound.
///
/// # Errors
/// [`LedgerError::Db`] when the check cannot run for another reason (busy, locked).
pub async fn damage(pool: &SqlitePool) -> Result<Option<String>> {
    match quick_check(pool).await {
        Ok(problems) if problems.is_empty() => Ok(None),
        Ok(problems) => Ok(Some(format!("PRAGMA quick_check: {}", problems.iter().take(3).cloned().collect::<Vec<_>>().join("; ")))),
        Err(e) if is_damage(&e) => Ok(Some(e.to_string())),
        Err(e) => Err(e),
    }
}

/// What an operator does about the damaged database at `db`: move it away, then rebuild it from the log.
#[must_use]
pub fn damaged_advice(db: &Path, problem: &str) -> String {
    let d = db.display();
    format!(
        "the DB {d} is damaged ({problem}). Move it away with its -wal and -shm files (e.g. `mv {d} {d}.damaged`), \
         then rebuild it from events.jsonl with `nl rebuild --from-events`"
    )
}

/// Copies the WAL into the database file and truncates it, so `path` alone holds everything committed
/// (a clean exit leaves no state only the WAL knows). Best effort: a missing file is fine.
///
/// # Errors
/// [`LedgerError::Open`] or [`LedgerError::Db`] when the checkpoint cannot run.
pub async fn checkpoint_wal(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(base_options(path))
        .await
        .map_err(|source| LedgerError::Open { path: path.display().to_string(), source })?;
    // The checkpoint answers `busy = 1` instead of failing while another connection (a store being
    // dropped, its background checkpointer) still reads; retry until it has run to completion.
    let deadline = std::time::Instant::now() + CHECKPOINT_BUSY_FOR;
    loop {
        let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&pool).await?;
        if busy == 0 || std::time::Instant::now() >= deadline {
            if busy != 0 {
                tracing::warn!(path = %path.display(), "WAL checkpoint still busy after {CHECKPOINT_BUSY_FOR:?}; the WAL stays beside the DB");
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pool.close().await;
    Ok(())
}

/// How long [`checkpoint_wal`] retries a checkpoint that other connections keep busy.
const CHECKPOINT_BUSY_FOR: Duration = Duration::from_secs(5);
