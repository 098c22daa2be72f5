//! `[web]` configuration.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::error::WebError;

/// Bounds of `poll_ms` (how often the live view looks for a new commit).
pub const MIN_POLL_MS: u64 = 20;
pub const MAX_POLL_MS: u64 = 5_000;

/// `[web]`: the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Listen address; loopback by default. Binding elsewhere without a token is refused.
    pub addr: SocketAddr,
    /// Name of the environment variable holding the bearer token; unset = no authentication (loopback only).
    pub token_env: Option<String>,
    /// How often the live view checks the ledger for a new commit (ms).
    pub poll_ms: u64,
    /// Rows of a list page (and of its CSV export unless `limit` is given).
    pub page_rows: u32,
    /// Runs shown on the sources and runs page.
    pub runs_shown: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self { addr: SocketAddr::from(([127, 0, 0, 1], 8088)), token_env: None, poll_ms: 200, page_rows: 200, runs_shown: 20 }
    }
}

impl WebConfig {
    /// Checks the bounds, and that a non-loopback address has a token.
    ///
    /// # Errors
    /// [`WebError::Config`] saying what to fix.
    pub fn validate(&self) -> Result<(), WebError> {
        if !(MIN_POLL_MS..=MAX_POLL_MS).contains(&self.poll_ms) {
            return Err(WebError::Config(format!("[web] poll_ms = {} must be within {MIN_POLL_MS}..={MAX_POLL_MS}", self.poll_ms)));
        }
        if self.page_rows == 0 || self.page_rows > nl_domain::views::MAX_LISTING_LIMIT {
            return Err(WebError::Config(format!("[web] page_rows = {} must be within 1..={}", self.page_rows, nl_domain::views::MAX_LISTING_LIMIT)));
        }
        if !self.addr.ip().is_loopback() && self.token_env.is_none() {
            return Err(WebError::Config(format!(
                "[web] addr = {} is not loopback: set [web] token_env to the name of an environment variable holding a bearer token",
                self.addr
            )));
        }
        Ok(())
    }

    /// The bearer token from the environment, when `token_env` names one.
    ///
    /// # Errors
    /// [`WebError::Config`] when `token_env` is set but the variable is missing or empty.
    pub fn token(&self, env: &nl_bus::EnvLookup) -> Result<Option<String>, WebError> {
        let Some(name) = &self.token_env else { return Ok(None) };
        match env(name) {
            Some(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_string())),
            _ => Err(WebError::Config(format!("[web] token_env names {name}, which is not set (or empty) in the environment"))),
        }
    }
}
