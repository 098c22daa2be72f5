//! The single writer: one task owns the one-connection write pool and drains a bounded channel of
//! commands, each with a `oneshot` reply. Commands waiting in the channel are group-committed in one
//! transaction (bounded by `batch_size` envelopes); if that transaction fails, each command is retried
//! alone so one bad command cannot fail its neighbours, and every caller gets its own answer.
//!
//! Pruning published outbox rows is not a transaction of its own that a batch waits for: the ids the
//! service published ([`Command::Published`], no reply) ride along with the next group's transaction, or
//! are pruned alone once the writer has been idle for [`PRUNE_IDLE`]. A crash before the prune commits
//! leaves the rows pending, and they are published again on start (the bus dedupes by event id).

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nl_domain::{Envelope, EventId};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::apply::{ApplyOutcome, BatchResult, apply_batch};
use crate::checkpoint::Committed;
use crate::config::VenueTypes;
use crate::db::{MAX_ROWS_PER_STATEMENT, now_str};
use crate::error::Result;
use crate::known::KnownChanges;

/// A request to the writer.
pub(crate) enum Command {
    Apply { envs: Vec<Arc<Envelope>>, bodies: Vec<Option<Bytes>>, reply: oneshot::Sender<Result<ApplyOutcome>> },
    MarkPublished { ids: Vec<EventId>, reply: oneshot::Sender<Result<u64>> },
    /// Published outbox rows to prune with a later transaction (nobody waits for it).
    Published { ids: Vec<EventId> },
    PutCursor { source: String, cursor_json: String, lease_rev: Option<i64>, known: KnownChanges, reply: oneshot::Sender<Result<()>> },
    SetSetting { key: String, value: String, reply: oneshot::Sender<Result<()>> },
    /// Records a run's manifest file (`runs.run_manifest_json`); answers whether the run's row exists.
    RunManifest { run_id: String, manifest_json: String, reply: oneshot::Sender<Result<u64>> },
}

impl Command {
    fn weight(&self) -> usize {
        match self {
            Self::Apply { envs, .. } => envs.len(),
            Self::MarkPublished { ids, .. } => ids.len(),
            Self::Published { .. } => 0,
            Self::PutCursor { known, .. } => 1 + known.upserts.len() + known.deletes.len(),
            Self::SetSetting { .. } | Self::RunManifest { .. } => 1,
        }
    }
}

/// A command of a group, with its envelopes moved into the group's shared vector.
enum Item {
    Apply(Range<usize>, oneshot::Sender<Result<ApplyOutcome>>),
    MarkPublished(Vec<EventId>, oneshot::Sender<Result<u64>>),
    PutCursor { source: String, cursor_json: String, lease_rev: Option<i64>, known: KnownChanges, reply: oneshot::Sender<Result<()>> },
    SetSetting { key: String, value: String, reply: oneshot::Sender<Result<()>> },
    RunManifest { run_id: String, manifest_json: String, reply: oneshot::Sender<Result<u64>> },
}

/// How long the writer waits for a command before it prunes published outbox rows in a transaction of
/// their own.
pub(crate) const PRUNE_IDLE: Duration = Duration::from_millis(20);

/// Runs the writer until every sender is dropped.
/// Each group's commit wakes the background checkpointer (`committed`).
pub(crate) async fn run(pool: SqlitePool, mut rx: mpsc::Receiver<Command>, batch_size: usize, venues: VenueTypes, committed: Committed) {
    let venues = &venues;
    let mut prune: Vec<EventId> = Vec::new();
    loop {
        let next = if prune.is_empty() {
            rx.recv().await
        } else {
            match tokio::time::timeout(PRUNE_IDLE, rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    prune_alone(&pool, &mut prune).await;
                    committed.notify();
                    continue;
                }
            }
        };
        let Some(first) = next else { break };
        run_group(&pool, &mut rx, batch_size, venues, first, &mut prune).await;
        committed.notify();
    }
    prune_alone(&pool, &mut prune).await;
    debug!("Writer stopped: every handle was dropped.");
}

/// Prunes `prune` in a transaction of its own. On failure the rows stay in the outbox (published again
/// on the next start, harmless) and are not retried.
async fn prune_alone(pool: &SqlitePool, prune: &mut Vec<EventId>) {
    if prune.is_empty() {
        return;
    }
    if let Err(error) = transact(pool, &VenueTypes::default(), &[], &[], &[], prune).await {
        warn!(%error, rows = prune.len(), "Pruning published outbox rows failed; they stay pending.");
    }
    prune.clear();
}

/// Commits `first` and whatever else waits in `rx`, up to `batch_size` envelopes, and answers each.
/// Published ids it meets join `prune`, which the group's transaction empties when it commits.
async fn run_group(pool: &SqlitePool, rx: &mut mpsc::Receiver<Command>, batch_size: usize, venues: &VenueTypes, first: Command, prune: &mut Vec<EventId>) {
    let mut weight = first.weight();
    let mut cmds = vec![first];
    while weight < batch_size {
        match rx.try_recv() {
            Ok(c) => {
                weight += c.weight();
                cmds.push(c);
            }
            Err(_) => break,
        }
    }
    let mut envs = Vec::with_capacity(weight);
    let mut bodies = Vec::with_capacity(weight);
    let items: Vec<Item> = cmds
        .into_iter()
        .filter_map(|c| match c {
            Command::Apply { envs: mut e, bodies: mut b, reply } => {
                let start = envs.len();
                envs.append(&mut e);
                bodies.append(&mut b);
                Some(Item::Apply(start..envs.len(), reply))
            }
            Command::MarkPublished { ids, reply } => Some(Item::MarkPublished(ids, reply)),
            Command::Published { mut ids } => {
                prune.append(&mut ids);
                None
            }
            Command::PutCursor { source, cursor_json, lease_rev, known, reply } => Some(Item::PutCursor { source, cursor_json, lease_rev, known, reply }),
            Command::SetSetting { key, value, reply } => Some(Item::SetSetting { key, value, reply }),
            Command::RunManifest { run_id, manifest_json, reply } => Some(Item::RunManifest { run_id, manifest_json, reply }),
        })
        .collect();
    debug!(commands = items.len(), envelopes = envs.len(), prune = prune.len(), "Writer committing a group.");
    if items.len() == 1 {
        for item in items {
            run_alone(pool, venues, &envs, &bodies, item, prune).await;
        }
        return;
    }
    if items.is_empty() {
        // Only published ids: they wait for the next group, or the writer's idle prune.
        return;
    }
    let others: Vec<&Item> = items.iter().filter(|i| !matches!(i, Item::Apply(..))).collect();
    match transact(pool, venues, &envs, &bodies, &others, prune).await {
        Ok((batch, answers)) => {
            prune.clear();
            let mut answers = answers.into_iter();
            for item in items {
                match item {
                    Item::Apply(range, reply) => {
                        let _ = reply.send(Ok(batch.outcome(&envs, range)));
                    }
                    other => reply_other(other, Ok(answers.next().unwrap_or(0))),
                }
            }
        }
        Err(error) => {
            warn!(%error, commands = items.len(), "Group commit failed; retrying each command alone.");
            // Alone, without the prune: whatever failed the group must not fail it again.
            for item in items {
                run_alone(pool, venues, &envs, &bodies, item, &mut Vec::new()).await;
            }
        }
    }
}

/// Runs `item` in a transaction of its own, which also prunes `prune` (emptied when it commits).
async fn run_alone(pool: &SqlitePool, venues: &VenueTypes, envs: &[Arc<Envelope>], bodies: &[Option<Bytes>], item: Item, prune: &mut Vec<EventId>) {
    let pruned = match item {
        Item::Apply(range, reply) => {
            let (slice, encoded) = (&envs[range.clone()], &bodies[range]);
            let res = transact(pool, venues, slice, encoded, &[], prune).await.map(|(batch, _)| batch.outcome(slice, 0..slice.len()));
            let ok = res.is_ok();
            let _ = reply.send(res);
            ok
        }
        other => {
            let res = transact(pool, venues, &[], &[], &[&other], prune).await.map(|(_, answers)| answers.first().copied().unwrap_or(0));
            let ok = res.is_ok();
            reply_other(other, res);
            ok
        }
    };
    if pruned {
        prune.clear();
    }
}

fn reply_other(item: Item, res: Result<u64>) {
    match item {
        Item::Apply(..) => {}
        Item::MarkPublished(_, reply) | Item::RunManifest { reply, .. } => {
            let _ = reply.send(res);
        }
        Item::PutCursor { reply, .. } | Item::SetSetting { reply, .. } => {
            let _ = reply.send(res.map(|_| ()));
        }
    }
}

/// One transaction: apply `envs` (if any, with their delivered `bodies`), then run `others` in order,
/// then prune the published outbox rows `prune`.
async fn transact(
    pool: &SqlitePool,
    venues: &VenueTypes,
    envs: &[Arc<Envelope>],
    bodies: &[Option<Bytes>],
    others: &[&Item],
    prune: &[EventId],
) -> Result<(BatchResult, Vec<u64>)> {
    let mut tx = pool.begin().await?;
    let batch = if envs.is_empty() { BatchResult::default() } else { apply_batch(&mut tx, venues, envs, bodies).await? };
    let mut answers = Vec::with_capacity(others.len());
    for item in others {
        answers.push(exec_other(&mut tx, item).await?);
    }
    if !prune.is_empty() {
        mark_published(&mut tx, prune).await?;
    }
    tx.commit().await?;
    Ok((batch, answers))
}

async fn exec_other(conn: &mut SqliteConnection, item: &Item) -> Result<u64> {
    match item {
        Item::Apply(..) => Ok(0),
        Item::MarkPublished(ids, _) => mark_published(conn, ids).await,
        Item::PutCursor { source, cursor_json, lease_rev, known, .. } => Ok(sqlx::query(
            "INSERT INTO source_cursors (source, cursor_json, updated_at, lease_rev) VALUES (?, ?, ?, ?) \
             ON CONFLICT(source) DO UPDATE SET cursor_json = excluded.cursor_json, updated_at = excluded.updated_at, lease_rev = excluded.lease_rev",
        )
        .bind(source)
        .bind(cursor_json)
        .bind(now_str())
        .bind(lease_rev)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            + crate::known::write(conn, source, known).await?),
        Item::SetSetting { key, value, .. } => set_setting(conn, key, value).await,
        Item::RunManifest { run_id, manifest_json, .. } => Ok(sqlx::query("UPDATE runs SET run_manifest_json = ? WHERE run_id = ?")
            .bind(manifest_json)
            .bind(run_id)
            .execute(&mut *conn)
            .await?
            .rows_affected()),
    }
}

/// Fills `raw_events.venue_type` where it is NULL for the sources `venues` names (rows stored before the
/// column existed, or before the source was configured).
pub(crate) async fn backfill_venue_types(conn: &mut SqliteConnection, venues: &std::collections::BTreeMap<String, String>) -> Result<u64> {
    let mut n = 0;
    for (source, venue) in venues.iter() {
        n += sqlx::query("UPDATE raw_events SET venue_type = ? WHERE source = ? AND venue_type IS NULL")
            .bind(venue)
            .bind(source)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// Upserts one `settings` row.
pub(crate) async fn set_setting(conn: &mut SqliteConnection, key: &str, value: &str) -> Result<u64> {
    Ok(sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Deletes published events from the outbox: once on the bus they live in `events` (the ledger stores
/// what it publishes), so the outbox row would be a second copy. Returns how many were pending.
async fn mark_published(conn: &mut SqliteConnection, ids: &[EventId]) -> Result<u64> {
    let mut n = 0;
    for chunk in crate::insert::statement_chunks(ids, MAX_ROWS_PER_STATEMENT) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("DELETE FROM outbox WHERE event_id IN (");
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.push_bind(id.as_str());
        }
        qb.push(")");
        n += qb.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(n)
}
