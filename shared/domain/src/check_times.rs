//! The events log's compact form of a risk evaluation's checks (see [`crate::stored::log_form`]).
//!
//! Every check of an evaluation carries its provider report's `observed_at` and `expires_at`; the checks of
//! one report share them, so an evaluation of 15 checks repeats about three pairs 15 times (about 80 bytes a
//! check, a quarter of the line). Stored, the distinct pairs are listed once under [`TIMES_KEY`] and each
//! check names its pair by index (`"t"`, omitted for the first); a `null` `value` or `detail` is omitted.
//! [`expand`] gives the checks back exactly.

use serde_json::{Map, Value};

/// The listed key (under [`crate::stored::CITED_KEY`]) of an evaluation whose checks' times are kept once.
pub(crate) const CHECK_TIMES_KEY: &str = "checks.times";
/// The key of a compacted evaluation holding its distinct `[observed_at, expires_at]` pairs.
pub(crate) const TIMES_KEY: &str = "$times";
/// The key of a compacted check naming its pair (absent: the first).
const PAIR_KEY: &str = "t";
const TIMES: [&str; 2] = ["observed_at", "expires_at"];
/// Keys every check has, omitted when `null`.
const NULLABLE: [&str; 2] = ["value", "detail"];

/// The compacted checks and their distinct time pairs; `None` unless every check is an object with string
/// times and both [`NULLABLE`] keys, and no [`PAIR_KEY`] (so [`expand`] restores it exactly).
pub fn compact(checks: &[Value]) -> Option<(Vec<Value>, Vec<Value>)> {
    let mut pairs: Vec<[&str; 2]> = Vec::new();
    let mut out = Vec::with_capacity(checks.len());
    for check in checks {
        let obj = check.as_object().filter(|o| !o.contains_key(PAIR_KEY) && NULLABLE.iter().all(|k| o.contains_key(*k)))?;
        let pair = [obj.get(TIMES[0])?.as_str()?, obj.get(TIMES[1])?.as_str()?];
        let index = pairs.iter().position(|p| *p == pair).unwrap_or_else(|| {
            pairs.push(pair);
            pairs.len() - 1
        });
        let mut kept: Map<String, Value> = obj
            .iter()
            .filter(|(k, v)| !TIMES.contains(&k.as_str()) && !(v.is_null() && NULLABLE.contains(&k.as_str())))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if index > 0 {
            kept.insert(PAIR_KEY.to_string(), Value::from(index));
        }
        out.push(Value::Object(kept));
    }
    Some((out, pairs.into_iter().map(|p| Value::from(p.to_vec())).collect()))
}

/// Puts each check's times (and omitted `null`s) back; `None` when `checks` or `pairs` is not what
/// [`compact`] writes.
pub fn expand(checks: &mut Value, pairs: &Value) -> Option<()> {
    let pairs = pairs.as_array()?;
    for check in checks.as_array_mut()? {
        let obj = check.as_object_mut()?;
        let index = match obj.remove(PAIR_KEY) {
            None => 0,
            Some(i) => usize::try_from(i.as_u64()?).ok()?,
        };
        let pair = pairs.get(index)?.as_array().filter(|p| p.len() == 2)?;
        for (key, time) in TIMES.iter().zip(pair) {
            obj.insert((*key).to_string(), time.clone());
        }
        for key in NULLABLE {
            obj.entry(key).or_insert(Value::Null);
        }
    }
    Some(())
}
