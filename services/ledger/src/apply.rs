//! Applying a batch of envelopes inside the writer's transaction.
//!
//! Every envelope goes to `events` (`ON CONFLICT DO NOTHING … RETURNING` tells new from duplicate);
//! only new ones reach their typed table. A meta that does not parse for its type is still kept in
//! `events` and reported, so the service can dead-letter it. History-dependent events
//! (`asset.discovered`, `asset.updated`, `risk.flagged`) are derived here and written to `outbox` and
//! `events` in the same transaction, so they exist if and only if their cause committed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use nl_domain::stored::{Citation, citations, is_cited_copy};
use nl_domain::{AssetUpsert, Envelope, EventId, EventType, RiskEvaluation, RiskFlagged, RunMeta, Verdict};
use serde_json::Value;
use sqlx::SqliteConnection;

use crate::config::VenueTypes;
use crate::db::{now_str, ts_str};
use crate::error::Result;
use crate::insert::{self, exec_chunked, fetch_in, returning_chunked};
use crate::kept::kept;
use crate::merge::{AssetState, Change};
use crate::rebuild;
use crate::rows::{AssetRow, RawRow, RiskRow};
use crate::tags;
use crate::typed::Typed;

/// An envelope kept in `events` whose meta did not parse for its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEvent {
    pub event_id: EventId,
    pub kind: EventType,
    pub error: String,
}

/// What one `apply` did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplyOutcome {
    /// Envelopes stored for the first time, in input order.
    pub new: Vec<EventId>,
    /// Envelopes already stored (earlier, or earlier in the same batch).
    pub duplicates: Vec<EventId>,
    /// Envelopes (new or duplicate) whose meta is invalid for their type; they are in `events` only.
    pub invalid: Vec<InvalidEvent>,
    /// Derived events committed to the outbox by this apply, in cause order. Publish, then mark published.
    pub derived: Vec<Envelope>,
}

/// Per-envelope results of one group-committed batch, split back per command by index range.
#[derive(Debug, Default)]
pub(crate) struct BatchResult {
    is_new: Vec<bool>,
    invalid: Vec<Option<String>>,
    derived: Vec<(usize, Envelope)>,
}

impl BatchResult {
    pub fn outcome(&self, envs: &[Arc<Envelope>], range: Range<usize>) -> ApplyOutcome {
        let mut out = ApplyOutcome::default();
        for i in range.clone() {
            let id = envs[i].event_id.clone();
            if let Some(error) = &self.invalid[i] {
                out.invalid.push(InvalidEvent { event_id: id.clone(), kind: envs[i].kind, error: error.clone() });
            }
            if self.is_new[i] { out.new.push(id) } else { out.duplicates.push(id) }
        }
        out.derived = self.derived.iter().filter(|(i, _)| range.contains(i)).map(|(_, e)| e.clone()).collect();
        out
    }
}

/// Applies `envs` on `conn`, which the caller has inside a transaction.
/// `bodies[i]` is the JSON `envs[i]` was decoded from, kept verbatim when its row keeps the whole envelope.
pub(crate) async fn apply_batch(conn: &mut SqliteConnection, venues: &VenueTypes, envs: &[Arc<Envelope>], bodies: &[Option<Bytes>]) -> Result<BatchResult> {
    let now = now_str();
    let mut parsed: Vec<std::result::Result<Typed, String>> = envs.iter().map(|e| Typed::parse(e, &now)).collect();
    for p in &mut parsed {
        if let Ok(Typed::Raw(r)) = p {
            r.venue_type = venues.get(&r.source).cloned();
        }
    }

    // Within the batch the first occurrence of an id wins; later ones are duplicates.
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(envs.len());
    let mut unique = Vec::with_capacity(envs.len());
    for (i, e) in envs.iter().enumerate() {
        if *first.entry(e.event_id.as_str()).or_insert(i) == i {
            unique.push(i);
        }
    }
    // A raw capture whose payload is already stored (a re-derivation copies raw_events first) is rebuilt
    // from the stored row, so that row is what its events row is kept against.
    let raw_ids: Vec<String> = unique.iter().filter(|i| matches!(parsed[**i], Ok(Typed::Raw(_)))).map(|i| envs[*i].event_id.0.clone()).collect();
    if !raw_ids.is_empty() {
        for row in fetch_in::<RawRow>(conn, "SELECT * FROM raw_events WHERE raw_id IN", &raw_ids).await? {
            if let Some(&i) = first.get(row.raw_id.as_str()) {
                parsed[i] = Ok(Typed::Raw(Box::new(row)));
            }
        }
    }
    let held = held_citations(conn, envs, &unique).await?;
    let holds = |c: &Citation<'_>| {
        let cited = held.get(c.event_id).map(|e| (e.kind, &e.meta)).or_else(|| first.get(c.event_id).map(|&i| (envs[i].kind, &envs[i].meta)));
        cited.is_some_and(|(kind, meta)| kind == c.kind && is_cited_copy(kind, meta, c.copy))
    };
    let mut rows = Vec::with_capacity(unique.len());
    for &i in &unique {
        let e = &envs[i];
        let base = parsed[i].as_ref().ok().map(Typed::base).transpose()?.flatten();
        let delivered = bodies.get(i).and_then(|b| b.as_deref()).and_then(|b| std::str::from_utf8(b).ok());
        rows.push((e, ts_str(&e.ts), kept(e, delivered, base.as_ref(), holds)?));
    }
    drop(held);
    // `seq` is the rowid: rows inserted by this statement get sequences above the current maximum. When
    // every unique envelope was inserted (the usual case) no read-back is needed; otherwise the new ones
    // are exactly the rows above that maximum.
    let before: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM events").fetch_one(&mut *conn).await?;
    let attempted = rows.len();
    let added = exec_chunked(
        conn,
        "INSERT INTO events (event_id, ts, type, run_id, config_hash, asset_id, source, symbol, chain, meta, body) ",
        " ON CONFLICT(event_id) DO NOTHING",
        11,
        &rows,
        |mut b, (e, ts, kept)| {
            b.push_bind(e.event_id.as_str())
                .push_bind(ts.as_str())
                .push_bind(e.kind.as_str())
                .push_bind(e.run_id.as_str())
                .push_bind(e.config_hash.as_str())
                .push_bind(e.asset_id.as_deref())
                .push_bind(e.source.as_deref())
                .push_bind(e.symbol.as_deref())
                .push_bind(e.chain.as_deref())
                .push_bind(kept.meta.as_deref())
                .push_bind(kept.body.as_deref());
        },
    )
    .await?;
    drop(rows);
    let inserted: Option<HashSet<String>> = if usize::try_from(added).is_ok_and(|a| a == attempted) {
        None
    } else {
        Some(sqlx::query_scalar("SELECT event_id FROM events WHERE seq > ?").bind(before).fetch_all(&mut *conn).await?.into_iter().collect())
    };

    let is_new: Vec<bool> = envs
        .iter()
        .enumerate()
        .map(|(i, e)| first.get(e.event_id.as_str()) == Some(&i) && inserted.as_ref().is_none_or(|set| set.contains(e.event_id.as_str())))
        .collect();
    let invalid: Vec<Option<String>> = parsed.iter().map(|p| p.as_ref().err().cloned()).collect();

    let mut raws = Vec::new();
    let mut snaps = Vec::new();
    let mut risks = Vec::new();
    let mut scores = Vec::new();
    let mut decisions = Vec::new();
    let mut ais = Vec::new();
    let mut runs = Vec::new();
    let mut assets = Vec::new();
    let mut reviews = Vec::new();
    let mut delisted = Vec::new();
    let mut paper = Vec::new();
    for (i, p) in parsed.iter().enumerate() {
        let (true, Ok(typed)) = (is_new[i], p) else { continue };
        match typed {
            Typed::Plain => {}
            Typed::Raw(r) => raws.push(&**r),
            Typed::Asset(u) => assets.push((i, &**u)),
            Typed::Delisted(d) => delisted.push(&**d),
            Typed::Snapshot(s) => snaps.push(&**s),
            Typed::Risk(r) => risks.push((i, &r.0, &r.1)),
            Typed::Score(s) => scores.push(&**s),
            Typed::Decision(d) => decisions.push(&**d),
            Typed::Run(r) => runs.push((&envs[i], r)),
            Typed::Ai(a) => ais.push(&**a),
            Typed::Review(asset, at) => reviews.push((asset.as_str(), at.as_str())),
            Typed::Paper(p) => paper.push(&**p),
        }
    }

    insert::raw_events(conn, &raws).await?;
    insert::snapshots(conn, &snaps).await?;
    insert::scores(conn, &scores).await?;
    insert::decisions(conn, &decisions).await?;
    insert::ai_outputs(conn, &ais).await?;
    ai_tags(conn, &ais).await?;
    for (env, r) in &runs {
        upsert_run(conn, env, r).await?;
    }

    let mut derived = merge_assets(conn, envs, &assets).await?;
    derived.extend(name_unnamed(conn, envs, &is_new).await?);
    apply_reviews(conn, &reviews).await?;
    mark_delisted(conn, &delisted).await?;
    crate::paper::apply(conn, &paper).await?;
    derived.extend(apply_risks(conn, envs, &risks).await?);
    derived.sort_by_key(|(i, _)| *i);
    let derived = write_outbox(conn, derived, &now).await?;
    // Derived events go to `events` in this transaction too: published from the outbox, they come back
    // as duplicates, and a crash between publishing and consuming them loses nothing.
    if !derived.is_empty() {
        let derived_envs: Vec<Arc<Envelope>> = derived.iter().map(|(_, e)| Arc::new(e.clone())).collect();
        Box::pin(apply_batch(conn, venues, &derived_envs, &[])).await?;
    }
    Ok(BatchResult { is_new, invalid, derived })
}

/// The stored events the batch's new envelopes cite (see [`nl_domain::stored`]), rebuilt, by id. Cited
/// events of the batch itself that are not stored yet are looked up in the batch by the caller.
async fn held_citations(conn: &mut SqliteConnection, envs: &[Arc<Envelope>], unique: &[usize]) -> Result<HashMap<String, Envelope>> {
    let mut wanted: Vec<String> = unique.iter().flat_map(|&i| citations(envs[i].kind, &envs[i].meta)).map(|c| c.event_id.to_string()).collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    wanted.sort_unstable();
    wanted.dedup();
    rebuild::envelopes(conn, &wanted).await
}

async fn merge_assets(conn: &mut SqliteConnection, envs: &[Arc<Envelope>], ups: &[(usize, &AssetUpsert)]) -> Result<Vec<(usize, Envelope)>> {
    if ups.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = ups.iter().map(|(_, u)| u.asset_id.to_string()).collect::<HashSet<_>>().into_iter().collect();
    let mut states: BTreeMap<String, AssetState> = BTreeMap::new();
    for row in fetch_in::<AssetRow>(conn, "SELECT * FROM assets WHERE asset_id IN", &ids).await? {
        states.insert(row.asset_id.clone(), AssetState::from_row(row)?);
    }
    let mut touched = HashSet::new();
    let mut derived = Vec::new();
    for &(i, up) in ups {
        let env = &envs[i];
        let key = up.asset_id.to_string();
        let change = match states.get_mut(&key) {
            Some(state) => state.merge(up, env)?,
            None => {
                states.insert(key.clone(), AssetState::new(up, env)?);
                Change::Discovered
            }
        };
        if let Some(state) = states.get(&key)
            && let Some(ev) = state.derived_event(&change, &up.sighting, env)?
        {
            derived.push((i, ev));
        }
        touched.insert(key);
    }
    let rows: Vec<&AssetRow> = states.iter().filter(|(k, _)| touched.contains(*k)).map(|(_, s)| &s.row).collect();
    exec_chunked(
        conn,
        "INSERT INTO assets (asset_id, symbol, name, chain, contract_address, kind, first_seen_at, first_source, last_seen_at, sources_json, status, \
         reviewed_at, updated_at, run_id, decimals, tags_json) ",
        " ON CONFLICT(asset_id) DO UPDATE SET symbol = excluded.symbol, name = excluded.name, chain = excluded.chain, \
         contract_address = excluded.contract_address, kind = excluded.kind, first_seen_at = excluded.first_seen_at, first_source = excluded.first_source, \
         last_seen_at = excluded.last_seen_at, sources_json = excluded.sources_json, status = excluded.status, \
         updated_at = excluded.updated_at, run_id = excluded.run_id, decimals = excluded.decimals, tags_json = excluded.tags_json",
        16,
        &rows,
        |mut b, r| {
            b.push_bind(r.asset_id.as_str())
                .push_bind(r.symbol.as_str())
                .push_bind(r.name.as_deref())
                .push_bind(r.chain.as_deref())
                .push_bind(r.contract_address.as_deref())
                .push_bind(r.kind.as_str())
                .push_bind(r.first_seen_at.as_str())
                .push_bind(r.first_source.as_str())
                .push_bind(r.last_seen_at.as_str())
                .push_bind(r.sources_json.as_str())
                .push_bind(r.status.as_str())
                .push_bind(r.reviewed_at.as_deref())
                .push_bind(r.updated_at.as_str())
                .push_bind(r.run_id.as_str())
                .push_bind(r.decimals)
                .push_bind(r.tags_json.as_str());
        },
    )
    .await?;
    Ok(derived)
}

/// Sets `assets.reviewed_at` to the latest review time of each reviewed asset. A review of an asset the
/// ledger does not know changes no row (the event is still kept in `events`).
/// An asset discovered without a name (`metadata_missing`: its source gave only an address and the token
/// lookup failed) takes the symbol a later snapshot carries, and its `name` and `decimals` where the row
/// has none: the enricher's re-snapshots look the token up again on the re-snapshot schedule (DexScreener
/// pairs name their base token). Each naming is an `asset.updated` whose `changes` list the filled fields.
/// A known symbol is never replaced.
async fn name_unnamed(conn: &mut SqliteConnection, envs: &[Arc<Envelope>], is_new: &[bool]) -> Result<Vec<(usize, Envelope)>> {
    let mut derived = Vec::new();
    for (i, e) in envs.iter().enumerate().filter(|(i, e)| is_new[*i] && e.kind == EventType::SnapshotRecorded) {
        let (Some(asset), Some(symbol)) = (e.asset_id.as_deref(), e.symbol.as_deref().map(str::trim).filter(|s| !s.is_empty())) else { continue };
        let row: Option<AssetRow> = sqlx::query_as("SELECT * FROM assets WHERE asset_id = ? AND trim(symbol) = ''").bind(asset).fetch_optional(&mut *conn).await?;
        let Some(row) = row else { continue };
        let mut state = AssetState::from_row(row)?;
        let name = e.meta.get("name").and_then(serde_json::Value::as_str);
        let decimals = e.meta.get("decimals").and_then(serde_json::Value::as_i64);
        let filled = state.name_from(symbol, name, decimals, &ts_str(&e.ts));
        let Some(sighting) = state.sightings.first().cloned().filter(|_| !filled.is_empty()) else { continue };
        let r = &state.row;
        sqlx::query("UPDATE assets SET symbol = ?1, name = ?2, decimals = ?3, updated_at = ?4 WHERE asset_id = ?5")
            .bind(&r.symbol)
            .bind(&r.name)
            .bind(r.decimals)
            .bind(&r.updated_at)
            .bind(asset)
            .execute(&mut *conn)
            .await?;
        derived.extend(state.derived_event(&Change::Named(filled), &sighting, e)?.map(|ev| (i, ev)));
    }
    Ok(derived)
}

async fn apply_reviews(conn: &mut SqliteConnection, reviews: &[(&str, &str)]) -> Result<()> {
    for (asset, at) in reviews {
        sqlx::query("UPDATE assets SET reviewed_at = ?1 WHERE asset_id = ?2 AND (reviewed_at IS NULL OR reviewed_at < ?1)")
            .bind(at)
            .bind(asset)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Marks the named assets `delisted` (the `events` row keeps the venue, time and announcement). An
/// asset nl never recorded stays unrecorded: a delisting is not a listing.
///
/// A venue listing linked to its contract (a CEX listing whose currency info named the token, so its
/// sightings sit on `<chain>:<address>`) is the same asset: the on-chain row holding a CEX sighting of that
/// venue for the delisted coin (one of the delisted instruments, a `BASE-`/`BASE_`/`BASE/` pair of it, or
/// an announcement `<id>:BASE`) is marked too.
async fn mark_delisted(conn: &mut SqliteConnection, delisted: &[&nl_domain::AssetDelisted]) -> Result<()> {
    for d in delisted {
        let instruments = serde_json::to_string(&d.instruments)?;
        sqlx::query(
            "UPDATE assets SET status = 'delisted', updated_at = ?1 WHERE asset_id = ?2 \
             OR (asset_id NOT LIKE 'cex:%' AND EXISTS (SELECT 1 FROM json_each(assets.sources_json) s \
                 WHERE json_extract(s.value, '$.venue') = ?3 \
                 AND json_extract(s.value, '$.kind') IN ('cex_instrument', 'cex_contract', 'cex_announcement') \
                 AND (json_extract(s.value, '$.instrument_id') IN (SELECT value FROM json_each(?4)) \
                      OR upper(json_extract(s.value, '$.instrument_id')) GLOB upper(?5) || '[-_/]*' \
                      OR upper(json_extract(s.value, '$.instrument_id')) GLOB '*:' || upper(?5))))",
        )
        .bind(ts_str(&d.observed_at))
        .bind(&d.asset_id)
        .bind(&d.venue)
        .bind(instruments)
        .bind(&d.symbol)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Inserts evaluations and derives `risk.flagged` where severity rose above the asset's previous
/// latest evaluation (an asset's first evaluation rises from 0). Out-of-order (older) evaluations are
/// stored but never flag.
async fn apply_risks(conn: &mut SqliteConnection, envs: &[Arc<Envelope>], risks: &[(usize, &RiskEvaluation, &RiskRow)]) -> Result<Vec<(usize, Envelope)>> {
    if risks.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = risks.iter().map(|(_, r, _)| r.asset_id.to_string()).collect::<HashSet<_>>().into_iter().collect();
    let mut latest: HashMap<String, (String, i64)> = HashMap::new();
    for (asset, at, severity) in
        fetch_in::<(String, String, i64)>(conn, "SELECT asset_id, ts, severity FROM v_latest_risk WHERE asset_id IN", &ids).await?
    {
        latest.insert(asset, (at, severity));
    }
    let mut rows = Vec::with_capacity(risks.len());
    let mut derived = Vec::new();
    let mut newest: HashMap<String, &RiskEvaluation> = HashMap::new();
    for &(i, r, row) in risks {
        let env = &envs[i];
        let asset = r.asset_id.to_string();
        let at = ts_str(&r.evaluated_at);
        let severity = i64::from(r.severity);
        let prev = latest.get(&asset).cloned();
        if prev.as_ref().is_none_or(|(prev_at, _)| at >= *prev_at) {
            let prev_severity = prev.as_ref().map_or(0, |(_, s)| *s);
            if severity > prev_severity {
                derived.push((i, risk_flagged(env, r, &asset, prev.map(|(_, s)| s))));
            }
            newest.insert(asset.clone(), r);
            latest.insert(asset, (at, severity));
        }
        rows.push(row);
    }
    insert::risks(conn, &rows).await?;
    risk_tags(conn, &newest).await?;
    Ok(derived)
}

/// Replaces the `ai:` tags of each asset with those of its newest completed L1 note in this batch.
async fn ai_tags(conn: &mut SqliteConnection, ais: &[&insert::AiRow]) -> Result<()> {
    let mut newest: HashMap<String, &insert::AiRow> = HashMap::new();
    for a in ais.iter().filter(|a| a.layer == "l1" && a.status.as_deref() == Some("completed")) {
        if let Some(asset) = &a.asset_id {
            newest.insert(asset.clone(), a);
        }
    }
    if newest.is_empty() {
        return Ok(());
    }
    rewrite_tags(conn, &newest, |a, old| tags::with_ai(old, a.ai_tags.iter().map(String::as_str))).await
}

/// Replaces the `risk:<check>` tags of each asset with the failed checks of its newest evaluation.
async fn risk_tags(conn: &mut SqliteConnection, newest: &HashMap<String, &RiskEvaluation>) -> Result<()> {
    rewrite_tags(conn, newest, |r, old| tags::with_risk(old, r.checks.iter().filter(|c| c.verdict == Verdict::Fail).map(|c| c.code.as_str()))).await
}

/// Rewrites `assets.tags_json` of each asset in `newest` to `retag(item, current tags)`, where that changes it.
async fn rewrite_tags<T>(conn: &mut SqliteConnection, newest: &HashMap<String, T>, retag: impl Fn(&T, &str) -> String) -> Result<()> {
    let ids: Vec<String> = newest.keys().cloned().collect();
    let mut changed = Vec::new();
    for (asset, old) in fetch_in::<(String, String)>(conn, "SELECT asset_id, tags_json FROM assets WHERE asset_id IN", &ids).await? {
        let Some(item) = newest.get(&asset) else { continue };
        let tags = retag(item, &old);
        if tags != old {
            changed.push((asset, tags));
        }
    }
    exec_chunked(
        conn,
        "WITH t(asset_id, tags_json) AS (",
        ") UPDATE assets SET tags_json = (SELECT t.tags_json FROM t WHERE t.asset_id = assets.asset_id) WHERE asset_id IN (SELECT asset_id FROM t)",
        2,
        &changed,
        |mut b, (asset, tags)| {
            b.push_bind(asset.as_str()).push_bind(tags.as_str());
        },
    )
    .await?;
    Ok(())
}

fn risk_flagged(cause: &Envelope, r: &RiskEvaluation, asset: &str, previous: Option<i64>) -> Envelope {
    let body = RiskFlagged {
        asset_id: asset.to_string(),
        severity: r.severity,
        previous_severity: previous,
        rule_set_version: r.rule_set_version.clone(),
        evaluated_at: ts_str(&r.evaluated_at),
        failed_checks: r.checks.iter().filter(|c| c.verdict == Verdict::Fail).map(|c| c.code).collect(),
        disagreements: r.disagreements.clone(),
        risk_event_id: cause.event_id.clone(),
    };
    let meta = serde_json::to_value(&body).unwrap_or(Value::Null);
    let mut env = Envelope::new(EventType::RiskFlagged, &[asset, cause.event_id.as_str()], cause.ts, &cause.run_id, &cause.config_hash, meta)
        .with_asset(asset);
    env.symbol.clone_from(&cause.symbol);
    env.chain.clone_from(&cause.chain);
    env.source.clone_from(&cause.source);
    env
}

async fn upsert_run(conn: &mut SqliteConnection, env: &Envelope, r: &RunMeta) -> Result<()> {
    let manifest = serde_json::to_string(&env.meta)?;
    let at = ts_str(&env.ts);
    if env.kind == EventType::RunStarted {
        sqlx::query(
            "INSERT INTO runs (run_id, config_hash, started_at, dry_run, manifest_json, status) VALUES (?, ?, ?, ?, ?, 'running') \
             ON CONFLICT(run_id) DO UPDATE SET started_at = COALESCE(runs.started_at, excluded.started_at), \
             dry_run = MAX(runs.dry_run, excluded.dry_run)",
        )
        .bind(&env.run_id)
        .bind(&env.config_hash)
        .bind(&at)
        .bind(r.dry_run)
        .bind(&manifest)
        .execute(&mut *conn)
        .await?;
    } else {
        sqlx::query(
            "INSERT INTO runs (run_id, config_hash, finished_at, dry_run, manifest_json, status) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT(run_id) DO UPDATE SET finished_at = excluded.finished_at, status = excluded.status, \
             manifest_json = excluded.manifest_json, dry_run = MAX(runs.dry_run, excluded.dry_run)",
        )
        .bind(&env.run_id)
        .bind(&env.config_hash)
        .bind(&at)
        .bind(r.dry_run)
        .bind(&manifest)
        .bind(r.status.as_deref().unwrap_or("completed"))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Inserts derived events into `outbox`; returns those not already there (in order).
async fn write_outbox(conn: &mut SqliteConnection, derived: Vec<(usize, Envelope)>, now: &str) -> Result<Vec<(usize, Envelope)>> {
    if derived.is_empty() {
        return Ok(derived);
    }
    let items: Vec<(&Envelope, String)> = derived.iter().map(|(_, e)| Ok((e, serde_json::to_string(e)?))).collect::<Result<_>>()?;
    let mut fresh: HashSet<String> = returning_chunked(
        conn,
        "INSERT INTO outbox (event_id, subject, body, created_at) ",
        " ON CONFLICT(event_id) DO NOTHING RETURNING event_id",
        4,
        &items,
        |mut b, (e, body)| {
            b.push_bind(e.event_id.as_str()).push_bind(e.subject()).push_bind(body.as_str()).push_bind(now);
        },
    )
    .await?
    .into_iter()
    .collect();
    drop(items);
    Ok(derived.into_iter().filter(|(_, e)| fresh.remove(e.event_id.as_str())).collect())
}
