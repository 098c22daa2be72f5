//! `known_instruments`: the known-instrument set of each instrument-list source, one row per venue
//! instrument id (migration 0012). Written with the source's cursor in one transaction, only the rows a
//! poll changed; read whole when a source starts.

use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::error::Result;
use crate::insert::{exec_chunked, statement_chunks};

/// One row of `known_instruments` (its `source` aside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct KnownInstrumentRow {
    pub instrument_id: String,
    /// The base asset as the venue spells it; `None` for entries saved before it was kept.
    pub base: Option<String>,
    /// `trading`, `pre_trading`, `halted`, `closed` or `other:<venue word>`.
    pub status: String,
    pub raw_status: String,
    pub scheduled_at: Option<String>,
    pub first_seen: String,
    /// Absent from the latest complete snapshot.
    pub removed: bool,
    /// Part of a known asset (never reported new).
    pub baseline: bool,
    /// Consecutive complete snapshots the id was absent from.
    pub missing: i64,
    pub link_chain: Option<String>,
    pub link_address: Option<String>,
}

/// What changed in a source's known set since it was last saved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownChanges {
    /// Rows new or changed.
    pub upserts: Vec<KnownInstrumentRow>,
    /// Instrument ids no longer in the set.
    pub deletes: Vec<String>,
}

impl KnownChanges {
    /// True when nothing changed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.deletes.is_empty()
    }
}

const COLUMNS: usize = 12;

/// Writes `changes` of `source`'s set; returns the rows affected.
pub(crate) async fn write(conn: &mut SqliteConnection, source: &str, changes: &KnownChanges) -> Result<u64> {
    let mut n = exec_chunked(
        conn,
        "INSERT INTO known_instruments (source, instrument_id, base, status, raw_status, scheduled_at, first_seen, removed, baseline, missing, link_chain, link_address) ",
        " ON CONFLICT(source, instrument_id) DO UPDATE SET base = excluded.base, status = excluded.status, raw_status = excluded.raw_status, \
         scheduled_at = excluded.scheduled_at, first_seen = excluded.first_seen, removed = excluded.removed, baseline = excluded.baseline, \
         missing = excluded.missing, link_chain = excluded.link_chain, link_address = excluded.link_address",
        COLUMNS,
        &changes.upserts,
        |mut b, r| {
            b.push_bind(source.to_string())
                .push_bind(r.instrument_id.clone())
                .push_bind(r.base.clone())
                .push_bind(r.status.clone())
                .push_bind(r.raw_status.clone())
                .push_bind(r.scheduled_at.clone())
                .push_bind(r.first_seen.clone())
                .push_bind(r.removed)
                .push_bind(r.baseline)
                .push_bind(r.missing)
                .push_bind(r.link_chain.clone())
                .push_bind(r.link_address.clone());
        },
    )
    .await?;
    for chunk in statement_chunks(&changes.deletes, crate::db::MAX_ROWS_PER_STATEMENT) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("DELETE FROM known_instruments WHERE source = ");
        qb.push_bind(source.to_string()).push(" AND instrument_id IN (");
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.push_bind(id.clone());
        }
        qb.push(")");
        n += qb.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(n)
}
