//! `[alerts.<name>]`: one alert sink per table. Secrets (webhook URLs, the Telegram bot token) come from
//! the environment only: the config names the variable (`url_env`, `bot_token_env`).

use serde::{Deserialize, Serialize};

use crate::error::WebError;

/// Event types a sink may follow.
pub const ALERTABLE: &[&str] = &["candidate.promoted", "asset.discovered", "asset.delisted"];
/// Telegram's public Bot API.
pub const TELEGRAM_API: &str = "https://api.telegram.org";

/// Where a sink posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// Any HTTP endpoint: the alert as one JSON object.
    Webhook,
    /// A Slack incoming webhook (`{"text": ...}`).
    Slack,
    /// A Discord webhook (`{"content": ..., "allowed_mentions": {"parse": []}}`).
    Discord,
    /// The Telegram Bot API `sendMessage` (HTML parse mode).
    Telegram,
}

impl SinkKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Telegram => "telegram",
        }
    }

    /// The default pace: Telegram allows 20 messages a minute to one group, Slack about one a second per
    /// webhook, Discord's webhook buckets are small (sources-2.md §7).
    #[must_use]
    pub fn default_per_minute(self) -> u32 {
        match self {
            Self::Telegram => 20,
            Self::Slack => 60,
            Self::Discord => 30,
            Self::Webhook => 120,
        }
    }
}

fn d_events() -> Vec<String> {
    vec!["candidate.promoted".into()]
}
fn d_true() -> bool {
    true
}
fn d_max_attempts() -> u32 {
    5
}
fn d_backoff_base_ms() -> u64 {
    500
}
fn d_backoff_cap_ms() -> u64 {
    60_000
}
fn d_timeout_ms() -> u64 {
    10_000
}
fn d_poll_ms() -> u64 {
    500
}
fn d_max_retry_after_secs() -> u64 {
    3600
}

/// One `[alerts.<name>]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSinkConfig {
    pub kind: SinkKind,
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Event types to alert on (default `["candidate.promoted"]`; also `asset.discovered`, `asset.delisted`).
    #[serde(default = "d_events")]
    pub events: Vec<String>,
    /// webhook, slack, discord: the environment variable holding the URL (it carries the secret).
    #[serde(default)]
    pub url_env: Option<String>,
    /// telegram: the environment variable holding the bot token.
    #[serde(default)]
    pub bot_token_env: Option<String>,
    /// telegram: the chat (`-100…` or `@channel`).
    #[serde(default)]
    pub chat_id: Option<String>,
    /// telegram: the Bot API base URL (default `https://api.telegram.org`; tests point it at loopback).
    #[serde(default)]
    pub api_base: Option<String>,
    /// Only assets on these chains (empty = any).
    #[serde(default)]
    pub chains: Vec<String>,
    /// Only assets seen on these venues (empty = any).
    #[serde(default)]
    pub venues: Vec<String>,
    /// Only assets whose latest score is at least this (an unknown score does not pass).
    #[serde(default)]
    pub min_score: Option<f64>,
    /// Only assets whose latest liquidity is at least this many USD (unknown does not pass).
    #[serde(default)]
    pub min_liquidity_usd: Option<f64>,
    /// Messages per minute at most (default by kind: telegram 20, slack 60, discord 30, webhook 120).
    #[serde(default)]
    pub per_minute: Option<u32>,
    /// Attempts per round before the sink counts a failure and waits `backoff_cap_ms` (it never skips).
    #[serde(default = "d_max_attempts")]
    pub max_attempts: u32,
    #[serde(default = "d_backoff_base_ms")]
    pub backoff_base_ms: u64,
    #[serde(default = "d_backoff_cap_ms")]
    pub backoff_cap_ms: u64,
    /// Per-request timeout.
    #[serde(default = "d_timeout_ms")]
    pub timeout_ms: u64,
    /// How often the ledger's event feed is read for new events.
    #[serde(default = "d_poll_ms")]
    pub poll_ms: u64,
    /// Longest `retry_after` / `Retry-After` honoured as asked; longer is taken as this.
    #[serde(default = "d_max_retry_after_secs")]
    pub max_retry_after_secs: u64,
    /// On the very first start (no cursor yet): alert on events already in the ledger too. Default false:
    /// a new sink starts at the ledger's current end.
    #[serde(default)]
    pub backfill: bool,
}

impl AlertSinkConfig {
    /// The pace actually applied.
    #[must_use]
    pub fn per_minute(&self) -> u32 {
        self.per_minute.unwrap_or_else(|| self.kind.default_per_minute())
    }

    /// Checks one sink's settings.
    ///
    /// # Errors
    /// [`WebError::Config`] naming the key to fix.
    pub fn validate(&self, name: &str) -> Result<(), WebError> {
        let bad = |m: String| Err(WebError::Config(format!("[alerts.{name}] {m}")));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return bad("the sink name may hold only letters, digits, '_' and '-'".into());
        }
        if self.events.is_empty() {
            return bad(format!("events is empty; choose from {ALERTABLE:?}"));
        }
        if let Some(e) = self.events.iter().find(|e| !ALERTABLE.contains(&e.as_str())) {
            return bad(format!("events holds {e:?}; alerts follow only {ALERTABLE:?}"));
        }
        match self.kind {
            SinkKind::Telegram => {
                if self.bot_token_env.is_none() {
                    return bad("kind = \"telegram\" needs bot_token_env (the environment variable holding the bot token)".into());
                }
                if self.chat_id.as_deref().is_none_or(|c| c.trim().is_empty()) {
                    return bad("kind = \"telegram\" needs chat_id".into());
                }
                if self.url_env.is_some() {
                    return bad("url_env is for webhook, slack and discord; telegram uses bot_token_env and chat_id".into());
                }
            }
            _ => {
                if self.url_env.is_none() {
                    return bad(format!("kind = \"{}\" needs url_env (the environment variable holding the webhook URL)", self.kind.as_str()));
                }
                if self.bot_token_env.is_some() || self.chat_id.is_some() || self.api_base.is_some() {
                    return bad("bot_token_env, chat_id and api_base are for kind = \"telegram\"".into());
                }
            }
        }
        if self.per_minute() == 0 || self.per_minute() > 6000 {
            return bad(format!("per_minute = {} must be within 1..=6000", self.per_minute()));
        }
        if self.max_attempts == 0 || self.max_attempts > 20 {
            return bad(format!("max_attempts = {} must be within 1..=20", self.max_attempts));
        }
        if self.backoff_base_ms == 0 || self.backoff_cap_ms < self.backoff_base_ms {
            return bad("backoff_base_ms must be at least 1 and backoff_cap_ms at least backoff_base_ms".into());
        }
        if self.timeout_ms == 0 || self.poll_ms == 0 {
            return bad("timeout_ms and poll_ms must be at least 1".into());
        }
        Ok(())
    }

    /// The URL to post to, read from the environment now.
    ///
    /// # Errors
    /// [`WebError::Config`] naming the variable when it is missing or not an http(s) URL (its value is
    /// never quoted: it is a secret).
    pub fn endpoint(&self, name: &str, env: &nl_bus::EnvLookup) -> Result<String, WebError> {
        let read = |var: &str| -> Result<String, WebError> {
            env(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| WebError::Config(format!("[alerts.{name}] names {var}, which is not set (or empty) in the environment")))
        };
        match self.kind {
            SinkKind::Telegram => {
                let var = self.bot_token_env.as_deref().unwrap_or_default();
                let token = read(var)?;
                if token.contains('/') || token.chars().any(char::is_whitespace) {
                    return Err(WebError::Config(format!("[alerts.{name}] {var} does not look like a bot token (no '/' or spaces)")));
                }
                let base = self.api_base.as_deref().unwrap_or(TELEGRAM_API).trim_end_matches('/');
                Ok(format!("{base}/bot{token}/sendMessage"))
            }
            _ => {
                let var = self.url_env.as_deref().unwrap_or_default();
                let url = read(var)?;
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(WebError::Config(format!("[alerts.{name}] {var} must hold an http(s) URL")));
                }
                Ok(url)
            }
        }
    }
}
