//! A small JSON Schema validator for the subset the layer schemas use: `type` (one or a list),
//! `properties`, `required`, `additionalProperties: false`, `enum`, `minLength`/`maxLength`,
//! `minimum`/`maximum`, `items`, `minItems`/`maxItems`. Servers do not all enforce a schema (llama-cpp-python
//! ignores bounds), so every reply is checked here; a keyword outside the subset fails loading, so a
//! schema can never be silently half-enforced.

use serde_json::Value;

const KNOWN: &[&str] = &[
    "$schema", "$id", "title", "description", "type", "properties", "required", "additionalProperties", "enum", "minLength",
    "maxLength", "minimum", "maximum", "items", "minItems", "maxItems",
];

/// Checks that `schema` uses only the supported keywords (recursively).
///
/// # Errors
/// The path and name of the first unsupported keyword.
pub fn check_supported(schema: &Value, path: &str) -> Result<(), String> {
    let Some(obj) = schema.as_object() else { return Err(format!("{path}: a schema must be an object")) };
    for (k, v) in obj {
        if !KNOWN.contains(&k.as_str()) {
            return Err(format!("{path}: unsupported keyword {k:?}"));
        }
        match k.as_str() {
            "properties" => {
                for (name, sub) in v.as_object().ok_or_else(|| format!("{path}.properties must be an object"))? {
                    check_supported(sub, &format!("{path}.{name}"))?;
                }
            }
            "items" => check_supported(v, &format!("{path}[]"))?,
            "additionalProperties" if v != &Value::Bool(false) => return Err(format!("{path}: only additionalProperties: false is supported")),
            _ => {}
        }
    }
    Ok(())
}

/// Validates `value` against `schema`.
///
/// # Errors
/// Every violation found, each as `path: what`.
pub fn validate(schema: &Value, value: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    walk(schema, value, "$", &mut errors);
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

fn walk(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else { return };
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_ok(t, v),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| type_ok(t, v)),
            _ => false,
        };
        if !ok {
            errors.push(format!("{path}: expected type {t}"));
            return;
        }
    }
    if let Some(Value::Array(allowed)) = s.get("enum")
        && !allowed.contains(v) {
            errors.push(format!("{path}: {v} is not one of {}", Value::Array(allowed.clone())));
        }
    let num = |k: &str| s.get(k).and_then(Value::as_f64);
    let count = |k: &str| s.get(k).and_then(Value::as_u64).and_then(|n| usize::try_from(n).ok());
    if let Some(text) = v.as_str() {
        let n = text.chars().count();
        if count("maxLength").is_some_and(|m| n > m) {
            errors.push(format!("{path}: {n} characters, more than maxLength"));
        }
        if count("minLength").is_some_and(|m| n < m) {
            errors.push(format!("{path}: {n} characters, fewer than minLength"));
        }
    }
    if let Some(x) = v.as_f64()
        && (num("minimum").is_some_and(|m| x < m) || num("maximum").is_some_and(|m| x > m)) {
            errors.push(format!("{path}: {x} is out of bounds"));
        }
    if let Some(items) = v.as_array() {
        if count("maxItems").is_some_and(|m| items.len() > m) || count("minItems").is_some_and(|m| items.len() < m) {
            errors.push(format!("{path}: {} items, outside minItems/maxItems", items.len()));
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                walk(item_schema, item, &format!("{path}[{i}]"), errors);
            }
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = s.get("required") {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errors.push(format!("{path}: missing required {r:?}"));
                }
            }
        }
        for (k, child) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => walk(sub, child, &format!("{path}.{k}"), errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => errors.push(format!("{path}: unexpected property {k:?}")),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn subset_is_enforced() {
        let s = json!({"type":"object","additionalProperties":false,"required":["a","b"],"properties":{
            "a":{"type":"string","maxLength":3,"enum":["x","yy"]},
            "b":{"type":"number","minimum":0,"maximum":1},
            "c":{"type":"array","maxItems":2,"items":{"type":"integer"}}}});
        check_supported(&s, "$").unwrap();
        validate(&s, &json!({"a":"x","b":0.5,"c":[1,2]})).unwrap();
        assert!(validate(&s, &json!({"a":"zz","b":0.5})).unwrap_err()[0].contains("not one of"));
        assert!(validate(&s, &json!({"a":"x","b":2.0})).unwrap_err()[0].contains("out of bounds"));
        assert!(validate(&s, &json!({"a":"x"})).unwrap_err()[0].contains("missing required"));
        assert!(validate(&s, &json!({"a":"x","b":1,"d":1})).unwrap_err()[0].contains("unexpected"));
        assert!(validate(&s, &json!({"a":"x","b":1,"c":[1,2,3]})).unwrap_err()[0].contains("items"));
        assert!(validate(&s, &json!({"a":"x","b":1,"c":["1"]})).unwrap_err()[0].contains("expected type"));
        assert!(check_supported(&json!({"type":"string","pattern":"x"}), "$").is_err());
    }
}
