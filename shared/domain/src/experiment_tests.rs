#![allow(clippy::unwrap_used)]

use super::*;
use crate::{BookTags, Envelope, EventType, TradeBlocked};
use serde_json::{Value, json};

/// The example spec of docs/learning-book.md.
pub(crate) fn example() -> Value {
    json!({
        "spec_id": "rejected_low_liq_v1",
        "version": 1,
        "question": "Do listings L5 rejected for low liquidity still run up in their first hour?",
        "hypothesis": "Mean return of rejected low-liquidity DEX listings over 60 minutes is above 0 after fees.",
        "exposure": {"decisions": ["rejected"], "kinds": ["dex"], "sample_rate": 0.5, "notional_usd": "50",
                     "take_profit_pct": "30", "stop_loss_pct": "20", "max_hold_minutes": 60},
        "metrics": {"primary": "mean_return_pct", "success_criterion": {"op": ">", "threshold": 0.0}, "min_trades": 30},
        "risk": {"max_notional_usd": "500", "max_open_positions": 10},
        "no_learn_zones": [{"kind": "utc_window", "start": "23:30", "end": "00:30"}, {"kind": "venue_not_open"}]
    })
}

fn with(path: &[&str], v: Value) -> String {
    let mut doc = example();
    let mut at = &mut doc;
    for (i, k) in path.iter().enumerate() {
        if i + 1 == path.len() {
            at[*k] = v.clone();
        } else {
            at = &mut at[*k];
        }
    }
    doc.to_string()
}

#[test]
fn the_example_parses_and_hashes_canonically() {
    let spec = ExperimentSpec::parse(&example().to_string()).unwrap();
    assert_eq!(spec.spec_id, "rejected_low_liq_v1");
    // Key order and whitespace do not change the hash; a value does.
    let pretty = serde_json::to_string_pretty(&example()).unwrap();
    assert_eq!(ExperimentSpec::parse(&pretty).unwrap().sha256(), spec.sha256());
    let other = ExperimentSpec::parse(&with(&["exposure", "sample_rate"], json!(0.25))).unwrap();
    assert_ne!(other.sha256(), spec.sha256());
    assert_eq!(spec.sha256().len(), 64);
}

#[test]
fn a_bad_spec_is_refused_with_the_field_path() {
    let cases: Vec<(String, &str)> = vec![
        (with(&["exposure", "sample_rate"], json!(1.5)), "exposure.sample_rate"),
        (with(&["exposure", "notional_usd"], json!("-1")), "exposure.notional_usd"),
        (with(&["exposure", "decisions"], json!(["maybe"])), "exposure.decisions[0]"),
        (with(&["metrics", "min_trades"], json!(0)), "metrics.min_trades"),
        (with(&["metrics", "success_criterion", "op"], json!("=")), "metrics.success_criterion.op"),
        (with(&["risk", "max_notional_usd"], json!("1")), "risk.max_notional_usd"),
        (with(&["spec_id"], json!("Has Spaces")), "spec_id"),
        (with(&["no_learn_zones"], json!([{"kind": "utc_window", "start": "25:00", "end": "01:00"}])), "no_learn_zones[0]"),
        (with(&["no_learn_zones"], json!([{"kind": "moon_phase"}])), "no_learn_zones[0].kind"),
        (with(&["exposure", "leverage"], json!(10)), "exposure.leverage"),
    ];
    for (text, path) in cases {
        let err = ExperimentSpec::parse(&text).unwrap_err();
        assert_eq!(err.path, path, "{err}");
    }
    let mut missing = example();
    missing.as_object_mut().unwrap().remove("metrics");
    let err = ExperimentSpec::parse(&missing.to_string()).unwrap_err();
    assert!(err.to_string().contains("metrics"), "{err}");
}

#[test]
fn the_status_machine_allows_only_its_steps() {
    use ExperimentStatus as S;
    let legal = [
        (S::Draft, S::Approved),
        (S::Approved, S::Running),
        (S::Running, S::Paused),
        (S::Paused, S::Running),
        (S::Running, S::Completed),
        (S::Paused, S::Aborted),
        (S::Draft, S::Aborted),
    ];
    for (a, b) in legal {
        assert!(a.can_become(b), "{a} -> {b}");
    }
    for (a, b) in [(S::Draft, S::Running), (S::Completed, S::Running), (S::Aborted, S::Draft), (S::Approved, S::Paused), (S::Running, S::Running)] {
        assert!(!a.can_become(b), "{a} -> {b} must be refused");
    }
    assert!(S::Completed.is_final() && !S::Paused.is_final());
}

#[test]
fn no_learn_windows_wrap_midnight() {
    let z = NoLearnZone::UtcWindow { start: "23:30".into(), end: "00:30".into() };
    assert!(z.holds_at(23 * 60 + 45, None) && z.holds_at(10, None));
    assert!(!z.holds_at(31, None) && !z.holds_at(12 * 60, None));
    let z = NoLearnZone::UtcWindow { start: "08:00".into(), end: "09:00".into() };
    assert!(z.holds_at(8 * 60, None) && !z.holds_at(9 * 60, None));
    let r = NoLearnZone::Regime { label: "risk_off".into() };
    assert!(r.holds_at(0, Some("risk_off")) && !r.holds_at(0, Some("risk_on")) && !r.holds_at(0, None));
}

/// Every property the type serializes is in the schema, and the schema requires exactly the fields serde
/// requires (the schema is hand-written; this keeps it from drifting).
#[test]
fn the_schema_matches_the_type() {
    let schema = ExperimentSpec::json_schema();
    let spec = serde_json::to_value(ExperimentSpec::parse(&example().to_string()).unwrap()).unwrap();
    fn check(schema: &Value, v: &Value, path: &str) {
        let Some(obj) = v.as_object() else { return };
        let props = schema["properties"].as_object().unwrap_or_else(|| panic!("{path}: schema has no properties"));
        for (k, child) in obj {
            let s = props.get(k).unwrap_or_else(|| panic!("{path}.{k} missing from the schema"));
            if s.get("properties").is_some() {
                check(s, child, &format!("{path}.{k}"));
            }
        }
        for r in schema["required"].as_array().unwrap() {
            assert!(obj.contains_key(r.as_str().unwrap()), "{path}: required {r} not serialized");
        }
    }
    check(&schema, &spec, "");
    // Removing any required top-level field makes the spec unparseable, as the schema says.
    for r in schema["required"].as_array().unwrap() {
        let mut doc = example();
        doc.as_object_mut().unwrap().remove(r.as_str().unwrap());
        assert!(ExperimentSpec::parse(&doc.to_string()).is_err(), "{r} is required");
    }
}

#[test]
fn paper_bodies_refuse_mismatched_tags() {
    let ts = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let body = TradeBlocked {
        tags: BookTags::learning("x"),
        asset_id: "cex:okx:NEW".into(),
        side: crate::Side::Buy,
        signal_event_id: "s".into(),
        reason_codes: vec!["no_learn_window".into()],
        blocked_at: ts,
        order_id: None,
    };
    let good = Envelope::new(EventType::TradeBlocked, &["a"], ts, "r", "c", serde_json::to_value(&body).unwrap());
    assert!(good.body().is_ok());
    let mut meta = good.meta.clone();
    assert_eq!(meta["learning_book"], json!(true));
    assert_eq!(meta["experiment_id"], json!("x"));
    meta["experiment_id"] = Value::Null;
    let bad = Envelope::new(EventType::TradeBlocked, &["b"], ts, "r", "c", meta);
    let err = bad.body().unwrap_err().to_string();
    assert!(err.contains("needs an experiment_id"), "{err}");
    let mut meta = good.meta.clone();
    meta["learning_book"] = json!(false);
    let err = Envelope::new(EventType::TradeBlocked, &["c"], ts, "r", "c", meta).body().unwrap_err().to_string();
    assert!(err.contains("learning_book = false"), "{err}");
}

/// The example spec written as a person writes YAML (decimals as plain numbers or quoted strings).
const EXAMPLE_YAML: &str = r#"
spec_id: rejected_low_liq_v1
version: 1
question: Do listings L5 rejected for low liquidity still run up in their first hour?
hypothesis: Mean return of rejected low-liquidity DEX listings over 60 minutes is above 0 after fees.
exposure:
  decisions: [rejected]
  kinds: [dex]
  sample_rate: 0.5
  notional_usd: "50"
  take_profit_pct: "30"
  stop_loss_pct: "20"
  max_hold_minutes: 60
metrics:
  primary: mean_return_pct
  success_criterion: {op: ">", threshold: 0.0}
  min_trades: 30
risk:
  max_notional_usd: "500"
  max_open_positions: 10
no_learn_zones:
  - {kind: utc_window, start: "23:30", end: "00:30"}
  - kind: venue_not_open
"#;

#[test]
fn a_yaml_spec_is_the_same_spec_as_its_json() {
    let json = ExperimentSpec::parse(&example().to_string()).unwrap();
    let yaml = ExperimentSpec::parse_file(std::path::Path::new("spec.yaml"), EXAMPLE_YAML).unwrap();
    assert_eq!(yaml, json);
    assert_eq!(yaml.sha256(), json.sha256(), "the frozen hash does not depend on the file's format");
    assert_eq!(ExperimentSpec::parse_file(std::path::Path::new("spec.YML"), EXAMPLE_YAML).unwrap().sha256(), json.sha256());
    // A .json file is JSON: the YAML text is refused there.
    assert!(ExperimentSpec::parse_file(std::path::Path::new("spec.json"), EXAMPLE_YAML).is_err());
    // A bad YAML spec names the field, as JSON does.
    let bad = EXAMPLE_YAML.replace("sample_rate: 0.5", "sample_rate: 1.5");
    assert_eq!(ExperimentSpec::parse_yaml(&bad).unwrap_err().path, "exposure.sample_rate");
    let typo = EXAMPLE_YAML.replace("max_open_positions: 10", "max_open_positions: ten");
    assert_eq!(ExperimentSpec::parse_yaml(&typo).unwrap_err().path, "risk.max_open_positions");
}
