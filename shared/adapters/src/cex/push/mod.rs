//! Venue side of the CEX push feeds (WebSocket feeds that report listings as they happen): what the
//! collector's push runtime (leases, reconnects, gap fill, publishing) needs to know about each venue.
//!
//! * [`kind`]: the feeds (`okx_instruments_ws`, `kraken_instrument_ws`, `coinbase_status_ws`,
//!   `binance_contract_info_ws`, `binance_announcements_ws`), their subscribe/keepalive/parser and REST gap fill;
//! * [`frame`]: pure frame handling (raw, parse, diff, observations);
//! * [`signing`]: the signed URL of the Binance announcement feed.
//!
//! The scripted WebSocket venue for tests and benchmarks is `nl_testkit::ws_venue`.

pub mod frame;
pub mod kind;
pub mod signing;

pub use kind::{PUSH_KINDS, PushKind};
