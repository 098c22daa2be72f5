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
/// back to a string. Returns the path of the first table the override had to create (the file has no
/// such table), so an error can say the override names something the file does not have.
pub(crate) fn apply(table: &mut toml::Table, o: &EnvOverride) -> Option<Vec<String>> {
    let mut cur = table;
    let mut created = None;
    let (last, parents) = o.path.split_last()?;
    for (i, seg) in parents.iter().enumerate() {
        if created.is_none() && !cur.contains_key(seg) {
            created = Some(o.path[..=i].to_vec());
        }
        let entry = cur.entry(seg.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        match entry {
            toml::Value::Table(t) => cur = t,
            _ => return created,
        }
    }
    let value = match cur.get(last) {
        Some(toml::Value::String(_)) => toml::Value::String(o.raw.clone()),
        _ => parse_scalar(&o.raw),
    };
    cur.insert(last.clone(), value);
    created
}

/// For an override that created the table `created` (see [`apply`]): which table the file lacks, the
/// entries its parent does have, and the closest of them, e.g. "there is no [sources.binance] in the file;
/// [sources] has: binance_spot, okx_spot (did you mean `binance_spot`?)".
pub(crate) fn missing_table_hint(file: &toml::Table, created: &[String]) -> String {
    let Some((name, parent_path)) = created.split_last() else { return String::new() };
    let mut parent = file;
    for seg in parent_path {
        match parent.get(seg) {
            Some(toml::Value::Table(t)) => parent = t,
            _ => return format!("there is no [{}] in the file", created.join(".")),
        }
    }
    let siblings: Vec<&str> = parent.iter().filter(|(_, v)| v.is_table()).map(|(k, _)| k.as_str()).collect();
    let mut hint = format!("there is no [{}] in the file", created.join("."));
    if !siblings.is_empty() && !parent_path.is_empty() {
        hint.push_str(&format!("; [{}] has: {}", parent_path.join("."), siblings.join(", ")));
        if let Some(best) = siblings.iter().filter(|s| s.contains(name.as_str()) || name.contains(*s)).min_by_key(|s| s.len()) {
            hint.push_str(&format!(" (did you mean `{best}`?)"));
        }
    }
    hint
}

fn parse_scalar(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}
