//! Shared source plumbing for every CEX, DEX and risk adapter of nl (formerly the `nl-sourcekit` crate).
//!
//! - [`Budget`] / [`BudgetRegistry`]: one async token bucket per provider, penalised by
//!   `Retry-After` and bans and throttled by the venue's own usage headers.
//! - [`headers`]: venue rate-limit headers as one [`Usage`] shape, and `Retry-After`.
//! - [`HttpSource`]: budgeted HTTP client with conditional requests, backoff, raw capture and stats.
//! - [`recorded`]: recorded responses in place of the network (re-derivation from `raw_events`).
//! - [`ws`]: a reconnecting WebSocket client with subscribe replay and a silence watchdog.
mod backoff;
pub mod budget;
mod fetch;
pub mod headers;
pub mod quote;
mod reach;
mod http;
pub mod recorded;
mod secrets;
mod stats;
pub mod ws;

pub use backoff::Backoff;
pub use budget::{Budget, BudgetConfig, BudgetError, BudgetRegistry, BudgetStatus};
pub use fetch::{BODY_EXCERPT_CHARS, FailedAttempt, FetchError, Fetched};
pub use headers::{Usage, UsageKind};
pub use http::{BuildError, DEFAULT_MAX_BODY_BYTES, HttpConfig, HttpSource, OVERSIZE_PREFIX_BYTES, PAGE_MAX_BODY_BYTES, USER_AGENT, check_max_body_bytes, install_crypto_provider};
pub use reach::Reachability;
pub use recorded::{RecordedQueues, RecordedResponses};
pub use secrets::{REDACTED, SecretLocation, SecretParam, is_sensitive_param, redact_url};
pub use stats::{SourceStats, StatsSnapshot};
pub use ws::{EnvHeader, EnvLookup, UrlFn, WsClient, WsConfig, WsEvent, WsExit, WsHandle};
