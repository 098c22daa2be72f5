//! `NL_<SECTION>__<KEY>` environment overrides. Only variables with a `__` are overrides, so plain
//! settings like `NL_LOG_FORMAT` are left alone. Segments are lowercased (`NL_SOURCES__BINANCE__BASE_URL`
//! sets `sources.binance.base_url`).

use crate::ConfigError;

/// One override: the variable, the key path it sets, and its raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvOverride {
    pub var: String,
    pub path: Vec<String>,
    pub raw: String,
}

/// Picks the overrides out of an environment, sorted by variable name for determinism.
///
/// # Errors
/// `ConfigError::BadOverride` for a variable with an empty path segment (`NL_A____B`).
pub fn collect_overrides<I: IntoIterator<Item = (String, String)>>(vars: I) -> Result<Vec<EnvOverride>, ConfigError> {
    let mut out = Vec::new();
    for (var, raw) in vars {
        let Some(rest) = var.strip_prefix("NL_") else { continue };
        if !rest.contains("__") {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::BadOverride { name: var, reason: "empty key segment (use single `__` between keys)".into() });
        }
        out.push(EnvOverride { var, path, raw });
    }
    out.sort_by(|a, b| a.var.cmp(&b.var));
    Ok(out)
}

/// Sets the override in the table. The value is typed after what the file has at that key: a string
/// stays a string; otherwise the raw text is read as a TOML value (numbers, booleans, arrays), falling
/// back to a string.
pub(crate) fn apply(table: &mut toml::Table, o: &EnvOverride) {
    let mut cur = table;
    let (last, parents) = match o.path.split_last() {
        Some(x) => x,
        None => return,
    };
    for seg in parents {
        let entry = cur.entry(seg.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        match entry {
            toml::Value::Table(t) => cur = t,
            _ => return,
        }
    }
    let value = match cur.get(last) {
        Some(toml::Value::String(_)) => toml::Value::String(o.raw.clone()),
        _ => parse_scalar(&o.raw),
    };
    cur.insert(last.clone(), value);
}

fn parse_scalar(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}
