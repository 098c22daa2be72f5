//! What an `events` row keeps of an envelope (invariant 9: store each fact once).
//!
//! The envelope's fields are columns. Of the meta, the row keeps only what no other row holds:
//!
//! * **Tabled** types (raw captures, snapshots, risk evaluations, scores, gate decisions, AI outputs) have
//!   a typed row (`raw_events`, `market_snapshots`, …) that holds their facts; the `events` row keeps the
//!   *residual*: the keys of the stored meta that the typed row does not give back (usually none, so
//!   `meta` is NULL; a raw capture timed finer than a millisecond keeps its `observed_at`; a score keeps
//!   the list of what it cites).
//! * **Meta** types (observations, upserts, asset changes, risk flags, run events) have no typed row of
//!   their own: the row keeps the stored meta.
//! * **Whole** types (free-form `manual.note`, whose meta nothing else knows, and the paper events) keep
//!   the envelope as delivered in `body`, as does any envelope the columns cannot rebuild exactly (an
//!   unknown schema version, a meta using the reserved keys) and any meta invalid for its type.
//!
//! The stored meta is the [`nl_domain::stored`] form: copies of other events are cited by event id.
//! [`crate::rebuild`] gives the published envelope back.

use std::borrow::Cow;

use nl_domain::stored::{CITED_KEY, Citation, stored_form};
use nl_domain::{Envelope, EventType, SCHEMA_VERSION};
use serde_json::{Map, Value};

use crate::error::Result;

/// The key of a residual that lists keys the typed row gives but the stored meta lacks.
pub(crate) const UNSET_KEY: &str = "$unset";

/// Where an events row's meta lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Tabled,
    Meta,
    Whole,
}

/// How events of `kind` are kept.
pub(crate) fn form(kind: EventType) -> Form {
    use EventType as T;
    match kind {
        T::RawCaptured
        | T::SnapshotRecorded
        | T::RiskEvaluated
        | T::ScoreComputed
        | T::CandidatePromoted
        | T::CandidateRejected
        | T::AiL1Completed
        | T::AiL2Completed
        | T::AiL3Completed
        | T::AiL4Completed => Form::Tabled,
        // Paper events keep their envelope whole: their rows are read models, not a rebuildable form.
        T::Manual
        | T::OrderSubmitted
        | T::OrderFilled
        | T::PositionUpdated
        | T::TradeBlocked
        | T::ExperimentCreated
        | T::ExperimentStatusChanged
        | T::LearningGateUpdated
        | T::StrategyRunStarted
        | T::StrategyRunCompleted => Form::Whole,
        T::ListingObserved
        | T::ListingRetracted
        | T::AssetUpserted
        | T::AssetDiscovered
        | T::AssetUpdated
        | T::AssetReviewed
        | T::AssetDelisted
        | T::RiskFlagged
        | T::RunStarted
        | T::RunCompleted
        | T::AiFailed
        | T::AiJobRequested => Form::Meta,
    }
}

/// The `meta` and `body` columns of an events row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Kept {
    pub meta: Option<String>,
    pub body: Option<String>,
}

/// What the events row of `env` keeps. `delivered` is the JSON it was decoded from (kept verbatim when the
/// row keeps the whole envelope); `base` the meta its typed row gives back (`None`: no typed row, e.g. an
/// invalid meta); `holds` confirms a citation (the store holds the cited event with that content).
pub(crate) fn kept(env: &Envelope, delivered: Option<&str>, base: Option<&Value>, holds: impl FnMut(&Citation<'_>) -> bool) -> Result<Kept> {
    let reserved = env.meta.as_object().is_some_and(|o| o.contains_key(CITED_KEY) || o.contains_key(UNSET_KEY));
    let form = match (form(env.kind), base) {
        _ if env.v != SCHEMA_VERSION || reserved => Form::Whole,
        (Form::Tabled, None) => Form::Whole,
        (f, _) => f,
    };
    if form == Form::Whole {
        let body = match delivered {
            Some(text) => text.to_string(),
            None => serde_json::to_string(env)?,
        };
        return Ok(Kept { meta: None, body: Some(body) });
    }
    let stored = stored_form(env.kind, &env.meta, holds).map_or(Cow::Borrowed(&env.meta), Cow::Owned);
    let meta = match base {
        Some(base) if form == Form::Tabled => residual(&stored, base),
        _ => Some(stored.into_owned()),
    };
    Ok(Kept { meta: meta.map(|m| serde_json::to_string(&m)).transpose()?, body: None })
}

/// What turns `base` into `stored`: the keys whose values differ, and under [`UNSET_KEY`] the keys `base`
/// has and `stored` lacks. `None` when they are equal. A `stored` that is not an object replaces `base`
/// whole (it is its own residual, and never an object with [`UNSET_KEY`]).
pub(crate) fn residual(stored: &Value, base: &Value) -> Option<Value> {
    if stored == base {
        return None;
    }
    let (Some(s), Some(b)) = (stored.as_object(), base.as_object()) else { return Some(stored.clone()) };
    let mut out: Map<String, Value> = s.iter().filter(|(k, v)| b.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let unset: Vec<Value> = b.keys().filter(|k| !s.contains_key(*k)).map(|k| Value::String(k.clone())).collect();
    if !unset.is_empty() {
        out.insert(UNSET_KEY.to_string(), Value::Array(unset));
    }
    Some(Value::Object(out))
}

/// `base` with `residual` applied (the inverse of [`residual`]).
pub(crate) fn apply_residual(base: Value, residual: Option<Value>) -> Value {
    let Some(residual) = residual else { return base };
    match (base, residual) {
        (Value::Object(mut b), Value::Object(mut r)) => {
            if let Some(Value::Array(unset)) = r.remove(UNSET_KEY) {
                for k in unset.iter().filter_map(Value::as_str) {
                    b.remove(k);
                }
            }
            b.extend(r);
            Value::Object(b)
        }
        (_, r) => r,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn residual_round_trips() {
        let base = json!({"a": 1, "b": "x", "c": null, "gone": true});
        for stored in [
            json!({"a": 1, "b": "x", "c": null, "gone": true}),
            json!({"a": 2, "b": "x", "c": null, "new": [1], "$cited": ["s"]}),
            json!({}),
            json!(null),
            json!([1, 2]),
        ] {
            let r = residual(&stored, &base);
            assert_eq!(r.is_none(), stored == base);
            assert_eq!(apply_residual(base.clone(), r), stored, "{stored}");
        }
        assert_eq!(residual(&json!({"a": 2, "b": "x", "c": null, "gone": true}), &base), Some(json!({"a": 2})));
    }

    #[test]
    fn forms_cover_every_type() {
        for t in EventType::ALL {
            let _ = form(*t);
        }
        assert_eq!(form(EventType::Manual), Form::Whole);
        assert_eq!(form(EventType::ScoreComputed), Form::Tabled);
        assert_eq!(form(EventType::ListingObserved), Form::Meta);
    }
}
