//! Secret hygiene: config may name env variables that hold secrets, never hold them.

const SECRET_WORDS: &[&str] = &["password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "seed", "credential"];

/// Whether a key names a secret value (as opposed to `*_env`, which names the variable holding one).
#[must_use]
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    // `*_env` names the variable holding a secret; `*_header`/`*_name` name where it goes; files hold it.
    if ["_env", "_file", "_path", "_header", "_name"].iter().any(|suffix| k.ends_with(suffix)) {
        return false;
    }
    SECRET_WORDS.iter().any(|w| k.contains(w))
}

/// Dotted paths of secret-looking keys with a non-empty value.
#[must_use]
pub fn find_inline_secrets(table: &toml::Table) -> Vec<String> {
    let mut out = Vec::new();
    walk(table, "", &mut out);
    out
}

fn walk(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => walk(t, &path, out),
            toml::Value::String(s) if is_secret_key(k) && !s.is_empty() => out.push(path),
            toml::Value::Integer(_) | toml::Value::Array(_) if is_secret_key(k) => out.push(path),
            _ => {}
        }
    }
}

/// A copy of `v` with every secret-looking key removed and credentials in URLs redacted, for hashing and
/// manifests.
#[must_use]
pub fn redact(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(m.iter().filter(|(k, _)| !is_secret_key(k)).map(|(k, v)| (k.clone(), redact(v))).collect())
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(redact).collect()),
        serde_json::Value::String(s) => serde_json::Value::String(nl_domain::redact::redact_urls(s)),
        other => other.clone(),
    }
}

/// `message` (a config error) without secret values: lines that assign a secret-looking key
/// (`password = "…"`, as toml quotes the offending line) lose their value, every value in `known`
/// is replaced, and credentials in URLs are redacted.
#[must_use]
pub fn scrub_message(message: &str, known: &[&str]) -> String {
    let mut out: Vec<String> = message.lines().map(scrub_assignment).collect();
    for line in &mut out {
        for value in known.iter().filter(|v| !v.is_empty()) {
            *line = line.replace(value, nl_domain::redact::REDACTED);
        }
        *line = nl_domain::redact::redact_urls(line);
    }
    let mut joined = out.join("\n");
    if message.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

/// `key = value` with a secret-looking key keeps `key = ` and loses the value.
fn scrub_assignment(line: &str) -> String {
    let Some((lhs, _)) = line.split_once('=') else { return line.to_owned() };
    let key = lhs.trim_end().rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).next().unwrap_or("");
    if is_secret_key(key) { format!("{lhs}= {}", nl_domain::redact::REDACTED) } else { line.to_owned() }
}
