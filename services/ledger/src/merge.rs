//! Merging `asset.upserted` into an asset row, and deciding what the merge means: a first insert is
//! `asset.discovered`; a new `(source, instrument_id)` sighting or a changed status is `asset.updated`.
//! Pure: no I/O, times come from the envelopes, so a replay merges to the same rows.

use nl_domain::{AssetChanged, AssetId, AssetUpsert, BASE_DECIMALS_KEY, Envelope, EventType, Sighting};

use crate::db::ts_str;
use crate::error::{LedgerError, Result};
use crate::rows::AssetRow;
use crate::tags;

/// Status of an asset whose sightings never carried one.
pub const DEFAULT_STATUS: &str = "observed";

/// An asset row with its sightings parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AssetState {
    pub row: AssetRow,
    pub sightings: Vec<Sighting>,
}

/// What one merge changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Discovered,
    Updated { new_sighting: bool, previous_status: Option<String> },
    /// An unnamed asset took the symbol (and name, decimals) a later snapshot carried: these fields.
    Named(Vec<&'static str>),
    /// Nothing the runbook reports changed (the row may still have new details).
    Quiet,
}

impl AssetState {
    /// Parses a stored row.
    pub fn from_row(row: AssetRow) -> Result<Self> {
        let sightings = serde_json::from_str(&row.sources_json)
            .map_err(|e| LedgerError::Corrupt(format!("assets.sources_json of {}: {e}", row.asset_id)))?;
        Ok(Self { row, sightings })
    }

    /// The first sighting of an asset.
    pub fn new(up: &AssetUpsert, env: &Envelope) -> Result<Self> {
        let first_seen = ts_str(&up.sighting.first_observed_at);
        let (chain, address) = chain_and_address(up);
        let row = AssetRow {
            asset_id: up.asset_id.to_string(),
            symbol: up.symbol.clone(),
            name: up.name.clone(),
            chain,
            contract_address: address,
            kind: kind_of(&up.asset_id).into(),
            first_seen_at: first_seen.clone(),
            first_source: up.sighting.source.clone(),
            last_seen_at: first_seen.max(ts_str(&env.ts)),
            sources_json: String::new(),
            status: up.sighting.status.clone().unwrap_or_else(|| DEFAULT_STATUS.into()),
            reviewed_at: None,
            updated_at: ts_str(&env.ts),
            run_id: env.run_id.clone(),
            decimals: decimals_of(&up.sighting),
            tags_json: String::new(),
        };
        let mut state = Self { row, sightings: vec![up.sighting.clone()] };
        state.row.sources_json = serde_json::to_string(&state.sightings)?;
        state.row.tags_json = tags::of_sightings(&state.row.kind, &state.sightings, "[]");
        Ok(state)
    }

    /// Merges a later upsert into this asset and says what changed.
    pub fn merge(&mut self, up: &AssetUpsert, env: &Envelope) -> Result<Change> {
        let s = &up.sighting;
        let seen = ts_str(&s.first_observed_at);
        let row = &mut self.row;
        // Arrival order is not deterministic (sources publish concurrently), so identity follows the
        // sighting order instead: the earliest sighting wins, ties broken by source name, and an empty
        // symbol never replaces a known one. A re-derivation then merges to the same row.
        let earlier = (seen.as_str(), s.source.as_str()) < (row.first_seen_at.as_str(), row.first_source.as_str());
        if !up.symbol.is_empty() && (row.symbol.is_empty() || earlier) {
            row.symbol.clone_from(&up.symbol);
        }
        if up.name.is_some() {
            row.name.clone_from(&up.name);
        }
        let (chain, address) = chain_and_address(up);
        if chain.is_some() {
            row.chain = chain;
        }
        if address.is_some() {
            row.contract_address = address;
        }
        if let Some(d) = decimals_of(s) {
            row.decimals = Some(d);
        }
        if earlier {
            row.first_seen_at.clone_from(&seen);
            row.first_source.clone_from(&s.source);
        }
        row.last_seen_at = row.last_seen_at.clone().max(seen).max(ts_str(&env.ts));
        row.updated_at = ts_str(&env.ts);
        row.run_id.clone_from(&env.run_id);

        let new_sighting = match self.sightings.iter_mut().find(|o| o.source == s.source && o.instrument_id == s.instrument_id) {
            Some(old) => {
                merge_sighting(old, s);
                false
            }
            None => {
                self.sightings.push(s.clone());
                self.sightings.sort_by(|a, b| (&a.source, &a.instrument_id).cmp(&(&b.source, &b.instrument_id)));
                true
            }
        };
        let previous_status = row.status.clone();
        if let Some(status) = &s.status {
            row.status.clone_from(status);
        }
        let status_changed = row.status != previous_status;
        row.sources_json = serde_json::to_string(&self.sightings)?;
        row.tags_json = tags::of_sightings(&row.kind, &self.sightings, &row.tags_json);
        Ok(if new_sighting || status_changed {
            Change::Updated { new_sighting, previous_status: status_changed.then_some(previous_status) }
        } else {
            Change::Quiet
        })
    }

    /// Names an unnamed asset (empty symbol) from a snapshot's `symbol`, and `name` and `decimals` where
    /// they are unknown; returns the fields it filled.
    pub fn name_from(&mut self, symbol: &str, name: Option<&str>, decimals: Option<i64>, at: &str) -> Vec<&'static str> {
        let row = &mut self.row;
        if !row.symbol.trim().is_empty() || symbol.trim().is_empty() {
            return Vec::new();
        }
        let mut filled = vec!["symbol"];
        row.symbol = symbol.trim().to_string();
        if let (None, Some(n)) = (&row.name, name.map(str::trim).filter(|n| !n.is_empty())) {
            row.name = Some(n.to_string());
            filled.push("name");
        }
        if let (None, Some(d)) = (row.decimals, decimals) {
            row.decimals = Some(d);
            filled.push("decimals");
        }
        row.updated_at = at.to_string();
        filled
    }

    /// The post-commit event announcing `change`, caused by `cause` (`None` for [`Change::Quiet`]).
    pub fn derived_event(&self, change: &Change, s: &Sighting, cause: &Envelope) -> Result<Option<Envelope>> {
        let id = self.row.asset_id.as_str();
        let mut body = AssetChanged {
            asset: serde_json::to_value(&self.row)?,
            sightings: self.sightings.clone(),
            sighting: s.clone(),
            changes: Vec::new(),
            previous_status: None,
            cause_event_id: cause.event_id.clone(),
            contract_address: self.row.contract_address.clone(),
            venue_type: Some(self.row.venue_type().to_string()),
            metadata_missing: self.row.symbol.trim().is_empty(),
        };
        let (kind, id_parts) = match change {
            Change::Quiet => return Ok(None),
            Change::Discovered => (EventType::AssetDiscovered, vec![id.to_string()]),
            Change::Named(fields) => {
                body.changes = fields.iter().map(|f| (*f).to_string()).collect();
                (EventType::AssetUpdated, vec![id.to_string(), "named".into(), cause.event_id.to_string()])
            }
            Change::Updated { new_sighting, previous_status } => {
                if *new_sighting {
                    body.changes.push("new_sighting".into());
                }
                if previous_status.is_some() {
                    body.changes.push("status".into());
                }
                body.previous_status.clone_from(previous_status);
                (
                    EventType::AssetUpdated,
                    vec![id.to_string(), s.source.clone(), s.instrument_id.clone(), self.row.status.clone(), cause.event_id.to_string()],
                )
            }
        };
        let meta = serde_json::to_value(&body)?;
        let parts: Vec<&str> = id_parts.iter().map(String::as_str).collect();
        let mut env = Envelope::new(kind, &parts, cause.ts, &cause.run_id, &cause.config_hash, meta).with_asset(id).with_source(s.source.clone());
        if !body.metadata_missing {
            env = env.with_symbol(self.row.symbol.clone());
        }
        if let Some(chain) = &self.row.chain {
            env = env.with_chain(chain.clone());
        }
        Ok(Some(env))
    }
}

fn kind_of(id: &AssetId) -> &'static str {
    match id {
        AssetId::Chain { .. } => "dex",
        AssetId::Cex { .. } => "cex",
    }
}

/// The token decimals a sighting carries, when its source gave them.
fn decimals_of(s: &Sighting) -> Option<i64> {
    s.pair.get(BASE_DECIMALS_KEY).and_then(serde_json::Value::as_i64)
}

fn chain_and_address(up: &AssetUpsert) -> (Option<String>, Option<String>) {
    match &up.asset_id {
        AssetId::Chain { chain, address } => (Some(chain.clone()), Some(address.clone())),
        AssetId::Cex { .. } => (up.chain.clone(), up.address.clone()),
    }
}

/// Newer details win; the earliest first observation is kept.
fn merge_sighting(old: &mut Sighting, new: &Sighting) {
    let first = old.first_observed_at.min(new.first_observed_at);
    let published = new.source_published_at.or(old.source_published_at);
    let scheduled = new.scheduled_at.or(old.scheduled_at);
    let status = new.status.clone().or_else(|| old.status.take());
    let pair = if new.pair.is_null() { std::mem::take(&mut old.pair) } else { new.pair.clone() };
    let url = new.url.clone().or_else(|| old.url.take());
    *old = Sighting { first_observed_at: first, source_published_at: published, scheduled_at: scheduled, status, pair, url, ..new.clone() };
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use nl_domain::ObservationKind;

    fn up(source: &str, inst: &str, status: Option<&str>, minute: u32) -> (AssetUpsert, Envelope) {
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0).unwrap();
        let up = AssetUpsert {
            asset_id: AssetId::parse("cex:okx:NEW").unwrap(),
            symbol: "NEW".into(),
            name: None,
            chain: None,
            address: None,
            sighting: Sighting {
                source: source.into(),
                venue: "okx".into(),
                kind: ObservationKind::CexInstrument,
                instrument_id: inst.into(),
                status: status.map(String::from),
                source_published_at: None,
                scheduled_at: None,
                first_observed_at: at,
                pair: serde_json::Value::Null,
                url: None,
            },
        };
        let env = Envelope::new(EventType::AssetUpserted, &[source, inst, &minute.to_string()], at, "run", "cfg", serde_json::to_value(&up).unwrap());
        (up, env)
    }

    #[test]
    fn first_is_discovered_then_new_sighting_and_status_change_are_updates() {
        let (u1, e1) = up("okx_instruments", "NEW-USDT", Some("preopen"), 1);
        let mut st = AssetState::new(&u1, &e1).unwrap();
        assert_eq!(st.row.kind, "cex");
        assert_eq!(st.row.status, "preopen");

        let (u2, e2) = up("okx_instruments", "NEW-USDT", Some("preopen"), 2);
        assert_eq!(st.merge(&u2, &e2).unwrap(), Change::Quiet);
        assert_eq!(st.row.first_seen_at, "2026-01-01T00:01:00.000Z", "earliest sighting kept");

        let (u3, e3) = up("okx_announcements", "ann-1", None, 3);
        assert_eq!(st.merge(&u3, &e3).unwrap(), Change::Updated { new_sighting: true, previous_status: None });
        assert_eq!(st.sightings.len(), 2);
        assert_eq!(st.row.status, "preopen", "a sighting without status keeps the asset's");

        let (u4, e4) = up("okx_instruments", "NEW-USDT", Some("live"), 4);
        assert_eq!(st.merge(&u4, &e4).unwrap(), Change::Updated { new_sighting: false, previous_status: Some("preopen".into()) });
        assert_eq!(st.row.last_seen_at, "2026-01-01T00:04:00.000Z");
        let ev = st.derived_event(&Change::Updated { new_sighting: false, previous_status: Some("preopen".into()) }, &u4.sighting, &e4).unwrap().unwrap();
        assert_eq!(ev.kind, EventType::AssetUpdated);
        assert_eq!(ev.ts, e4.ts, "derived events carry the cause's time, so replays derive the same event");
        let again = st.derived_event(&Change::Updated { new_sighting: false, previous_status: Some("preopen".into()) }, &u4.sighting, &e4).unwrap().unwrap();
        assert_eq!(ev.event_id, again.event_id);
        assert!(ev.meta.get("metadata_missing").is_none(), "a named asset carries no flag");
    }

    #[test]
    fn an_announcement_url_is_kept_when_a_later_sighting_lacks_it() {
        let url = "https://www.okx.com/help/okx-to-list-new";
        let (mut u1, e1) = up("okx_announcements", "ann-1:NEW", None, 1);
        u1.sighting.url = Some(url.into());
        let mut st = AssetState::new(&u1, &e1).unwrap();
        let (u2, e2) = up("okx_announcements", "ann-1:NEW", Some("live"), 2);
        st.merge(&u2, &e2).unwrap();
        assert_eq!(st.sightings[0].url.as_deref(), Some(url));
    }

    #[test]
    fn an_asset_nobody_named_is_discovered_with_metadata_missing_and_no_symbol() {
        let (mut u, e) = up("dexscreener_profiles", "0xabc", None, 1);
        u.symbol = String::new();
        let st = AssetState::new(&u, &e).unwrap();
        let ev = st.derived_event(&Change::Discovered, &u.sighting, &e).unwrap().unwrap();
        assert_eq!(ev.kind, EventType::AssetDiscovered);
        assert_eq!(ev.symbol, None, "never symbol \"\"");
        assert_eq!(ev.meta["metadata_missing"], true);
    }
}
