//! What a database costs on disk, per table: the figure `nl bench bytes` reports next to the Python
//! reference's. The ledger owns the SQL against its file, so the measurement lives here; it works on any
//! SQLite file (the reference's DB too).
//!
//! The WAL is checkpointed (and truncated) first, so the file size is everything committed. Sizes per
//! table come from SQLite's `dbstat` table (pages used, indexes counted with their table).

use std::path::Path;

use sqlx::Connection;
use sqlx::sqlite::SqliteConnectOptions;

use crate::error::{LedgerError, Result};

/// Bytes one SQLite file takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    /// The main file after a full checkpoint (the WAL is then empty).
    pub file_bytes: u64,
    /// `(table, bytes of its pages and its indexes' pages, rows)`, largest first. `sqlite_schema` and free
    /// pages are not listed.
    pub tables: Vec<TableBytes>,
    /// Pages on the free list.
    pub free_bytes: u64,
}

/// One table's share of a [`Footprint`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableBytes {
    pub table: String,
    /// Pages of the table and of its indexes.
    pub bytes: u64,
    /// Of which pages of its indexes.
    pub index_bytes: u64,
    pub rows: u64,
}

/// Checkpoints `db`'s WAL into the main file (no process may be writing it) and measures it.
///
/// # Errors
/// [`LedgerError::Open`] when the file cannot be opened; [`LedgerError::Db`] when a query fails (e.g. a
/// SQLite built without `dbstat`).
pub async fn footprint(db: &Path) -> Result<Footprint> {
    let opts = SqliteConnectOptions::new().filename(db).create_if_missing(false);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.map_err(|source| LedgerError::Open { path: db.display().to_string(), source })?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await?;
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT m.tbl_name, m.type, SUM(d.pgsize) FROM dbstat AS d JOIN sqlite_schema AS m ON m.name = d.name GROUP BY m.tbl_name, m.type",
    )
    .fetch_all(&mut conn)
    .await?;
    let mut tables: Vec<TableBytes> = Vec::new();
    for (table, kind, bytes) in rows {
        let bytes = u64::try_from(bytes).unwrap_or(0);
        let entry = match tables.iter_mut().find(|t| t.table == table) {
            Some(t) => t,
            None => {
                tables.push(TableBytes { table: table.clone(), ..TableBytes::default() });
                tables.last_mut().ok_or_else(|| LedgerError::Corrupt("empty table list".into()))?
            }
        };
        entry.bytes += bytes;
        if kind == "index" {
            entry.index_bytes += bytes;
        }
    }
    for t in &mut tables {
        let sql = format!("SELECT COUNT(*) FROM \"{}\"", t.table.replace('"', "\"\""));
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut conn).await?;
        t.rows = u64::try_from(n).unwrap_or(0);
    }
    tables.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.table.cmp(&b.table)));
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&mut conn).await?;
    let free: i64 = sqlx::query_scalar("PRAGMA freelist_count").fetch_one(&mut conn).await?;
    conn.close().await?;
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    let file_bytes = std::fs::metadata(db)?.len() + std::fs::metadata(wal).map_or(0, |m| m.len());
    Ok(Footprint { file_bytes, tables, free_bytes: u64::try_from(page_size * free).unwrap_or(0) })
}
