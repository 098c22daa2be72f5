//! Canonical JSON (object keys sorted, no whitespace) and its SHA-256: the identity of evidence packs and
//! artifacts, independent of the map type serde_json was built with.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `v` serialized with object keys sorted, no whitespace.
#[must_use]
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Lowercase hex SHA-256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of the canonical form of `v`.
#[must_use]
pub fn hash(v: &Value) -> String {
    sha256_hex(to_string(v).as_bytes())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_level() {
        assert_eq!(super::to_string(&json!({"b":1,"a":{"d":[1,{"z":0,"y":"x"}],"c":null}})), r#"{"a":{"c":null,"d":[1,{"y":"x","z":0}]},"b":1}"#);
    }
}
