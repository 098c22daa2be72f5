//! Configuration: a TOML file (`config/default.toml` or `--config PATH`) with `NL_<SECTION>__<KEY>`
//! environment overrides, deserialized into the caller's typed config (`deny_unknown_fields` all the way
//! down), plus the two identities every event carries: `config_hash` and `run_id`.
//!
//! * `config_hash` = hex SHA-256 of the canonical JSON (keys sorted, no whitespace) of the *effective*
//!   config (file + env overrides + defaults), with secret-looking keys removed.
//! * `run_id` = `nl_YYYYMMDD_HHMMSSZ_<8 hex>`, UTC start time plus 32 random-ish bits.
//!
//! Secrets never live in config: a key that looks like a secret (`password`, `token`, `secret`,
//! `api_key`, ...) must be empty; config names the env variable instead (`password_env = "NL_NATS_PASSWORD"`).
#![forbid(unsafe_code)]

mod env;
mod identity;
mod secrets;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use env::{EnvOverride, collect_overrides};
pub use identity::{config_hash, is_valid_run_id, new_run_id};
pub use secrets::{find_inline_secrets, is_secret_key, redact};

/// Default config file, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "config/default.toml";

/// Why a configuration could not be loaded. Every message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is invalid: {message}")]
    File { path: PathBuf, message: String },
    #[error("environment override(s) {vars} do not fit the config from {path}: {message}")]
    Env { path: PathBuf, vars: String, message: String },
    #[error("config file {path} holds a secret value at `{key}`; move it to an environment variable and name that variable in `{key}_env`")]
    InlineSecret { path: PathBuf, key: String },
    #[error("environment variable {name} is not a valid override: {reason}")]
    BadOverride { name: String, reason: String },
}

/// A loaded, validated configuration with its identity.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub path: PathBuf,
    pub config: T,
    /// The effective config as JSON, secret keys redacted. Goes into run manifests.
    pub effective_json: serde_json::Value,
    pub config_hash: String,
    /// Names of the env variables that overrode keys (values are not kept).
    pub overrides: Vec<String>,
}

/// Loads `path`, applies `NL_*__*` overrides from `vars`, and deserializes into `T`.
///
/// # Errors
/// [`ConfigError`] naming the file or env variable and the offending key.
pub fn load_with_env<T, I>(path: &Path, vars: I) -> Result<Loaded<T>, ConfigError>
where
    T: DeserializeOwned + Serialize,
    I: IntoIterator<Item = (String, String)>,
{
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    load_str(path, &text, vars)
}

/// Loads `path` with overrides from the process environment.
///
/// # Errors
/// See [`load_with_env`].
pub fn load<T: DeserializeOwned + Serialize>(path: &Path) -> Result<Loaded<T>, ConfigError> {
    load_with_env(path, std::env::vars())
}

/// Like [`load_with_env`] with the file's text given (`path` is used in messages only).
///
/// # Errors
/// See [`load_with_env`].
pub fn load_str<T, I>(path: &Path, text: &str, vars: I) -> Result<Loaded<T>, ConfigError>
where
    T: DeserializeOwned + Serialize,
    I: IntoIterator<Item = (String, String)>,
{
    let file_err = |message: String| ConfigError::File { path: path.to_path_buf(), message: message.trim().to_string() };
    // Deserialize the file alone first: toml's errors then carry line and column in the file.
    let _: T = toml::from_str(text).map_err(|e| file_err(e.to_string()))?;
    let mut table: toml::Table = toml::from_str(text).map_err(|e| file_err(e.to_string()))?;
    if let Some(key) = find_inline_secrets(&table).into_iter().next() {
        return Err(ConfigError::InlineSecret { path: path.to_path_buf(), key });
    }
    let overrides = collect_overrides(vars)?;
    let file_table = table.clone();
    let mut hints = Vec::new();
    for o in &overrides {
        if let Some(created) = env::apply(&mut table, o) {
            hints.push((o.var.clone(), env::missing_table_hint(&file_table, &created)));
        }
    }
    let names: Vec<String> = overrides.iter().map(|o| o.var.clone()).collect();
    let config: T = match toml::Value::Table(table).try_into() {
        Ok(c) => c,
        Err(e) => {
            let e: toml::de::Error = e;
            let vars = culprits::<T>(text, &overrides);
            let mut message = e.message().trim().to_string();
            for (var, hint) in hints.iter().filter(|(v, _)| vars.contains(v)) {
                message = format!("{hint} (set by {var}); {message}");
            }
            return Err(ConfigError::Env { path: path.to_path_buf(), vars: vars.join(", "), message });
        }
    };
    let full = serde_json::to_value(&config).map_err(|e| file_err(e.to_string()))?;
    let effective_json = redact(&full);
    let config_hash = config_hash(&effective_json);
    Ok(Loaded { path: path.to_path_buf(), config, effective_json, config_hash, overrides: names })
}

/// The overrides that, applied alone to the file, do not deserialize (all of them if none fails alone).
fn culprits<T: DeserializeOwned>(text: &str, overrides: &[EnvOverride]) -> Vec<String> {
    let bad: Vec<String> = overrides
        .iter()
        .filter(|o| {
            let Ok(mut t) = toml::from_str::<toml::Table>(text) else { return true };
            env::apply(&mut t, o);
            toml::Value::Table(t).try_into::<T>().is_err()
        })
        .map(|o| o.var.clone())
        .collect();
    if bad.is_empty() { overrides.iter().map(|o| o.var.clone()).collect() } else { bad }
}

/// Hash of an arbitrary serializable config, the same algorithm as [`Loaded::config_hash`].
#[must_use]
pub fn hash_of<T: Serialize>(config: &T) -> String {
    let v = serde_json::to_value(config).unwrap_or(serde_json::Value::Null);
    config_hash(&redact(&v))
}

/// File name of the SQLite database under the out dir: the runbook's `new_listings.sqlite`.
pub const DB_FILE_NAME: &str = "new_listings.sqlite";
/// The database's file name before the runbook's name was adopted; an existing one is renamed on first
/// open (`nl_ledger::db::adopt_legacy_db`).
pub const LEGACY_DB_FILE_NAME: &str = "nl.db";

/// Where outputs live: `out/research/new_listings/` unless `NL_STORAGE__OUT_DIR` says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub out_dir: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { out_dir: PathBuf::from("out/research/new_listings") }
    }
}

impl StorageConfig {
    #[must_use]
    pub fn db_path(&self) -> PathBuf {
        self.out_dir.join(DB_FILE_NAME)
    }
    #[must_use]
    pub fn events_path(&self) -> PathBuf {
        self.out_dir.join("events.jsonl")
    }
    #[must_use]
    pub fn runs_dir(&self) -> PathBuf {
        self.out_dir.join("runs")
    }
}

#[cfg(test)]
mod tests;
