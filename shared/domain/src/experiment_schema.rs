//! The JSON Schema (draft 2020-12) of [`crate::ExperimentSpec`], written out by hand: the lock file holds
//! schemars 1.x but not its derive macro, and no new crate comes in for one schema. `experiment_tests.rs`
//! keeps it honest: every field the type serializes is in the schema, every required field is required,
//! and the example spec and the schema agree.

use serde_json::{Value, json};

fn decimal(desc: &str) -> Value {
    json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$", "description": desc})
}

/// The schema.
#[must_use]
pub fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://nl.local/schemas/experiment_spec.v1.json",
        "title": "ExperimentSpec",
        "description": "A learning-book experiment: question -> exposure -> metrics. Paper only.",
        "type": "object",
        "additionalProperties": false,
        "required": ["spec_id", "version", "question", "hypothesis", "exposure", "metrics", "risk"],
        "properties": {
            "spec_id": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"},
            "version": {"type": "integer", "minimum": 1},
            "question": {"type": "string", "minLength": 1},
            "hypothesis": {"type": "string", "minLength": 1},
            "exposure": {
                "type": "object",
                "additionalProperties": false,
                "required": ["decisions", "sample_rate", "notional_usd", "take_profit_pct", "stop_loss_pct", "max_hold_minutes"],
                "properties": {
                    "decisions": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"enum": ["promoted", "rejected"]}},
                    "chains": {"type": "array", "items": {"type": "string"}},
                    "kinds": {"type": "array", "items": {"enum": ["cex", "dex"]}},
                    "sample_rate": {"type": "number", "minimum": 0, "maximum": 1},
                    "min_liquidity_usd": decimal("liquidity floor, USD"),
                    "notional_usd": decimal("notional per trade, USD"),
                    "take_profit_pct": decimal("take-profit, percent of entry"),
                    "stop_loss_pct": decimal("stop-loss, percent of entry"),
                    "max_hold_minutes": {"type": "integer", "minimum": 1}
                }
            },
            "metrics": {
                "type": "object",
                "additionalProperties": false,
                "required": ["primary", "success_criterion", "min_trades"],
                "properties": {
                    "primary": {"enum": ["mean_return_pct", "hit_rate"]},
                    "success_criterion": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["op", "threshold"],
                        "properties": {"op": {"enum": [">", ">=", "<", "<="]}, "threshold": {"type": "number"}}
                    },
                    "min_trades": {"type": "integer", "minimum": 1}
                }
            },
            "risk": {
                "type": "object",
                "additionalProperties": false,
                "required": ["max_notional_usd", "max_open_positions"],
                "properties": {
                    "max_notional_usd": decimal("most open notional at once, USD"),
                    "max_open_positions": {"type": "integer", "minimum": 1}
                }
            },
            "no_learn_zones": {
                "type": "array",
                "items": {"oneOf": [
                    {"type": "object", "additionalProperties": false, "required": ["kind", "start", "end"],
                     "properties": {"kind": {"const": "utc_window"},
                                    "start": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
                                    "end": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}}},
                    {"type": "object", "additionalProperties": false, "required": ["kind", "label"],
                     "properties": {"kind": {"const": "regime"}, "label": {"type": "string", "minLength": 1}}},
                    {"type": "object", "additionalProperties": false, "required": ["kind"],
                     "properties": {"kind": {"const": "venue_not_open"}}}
                ]}
            }
        }
    })
}
