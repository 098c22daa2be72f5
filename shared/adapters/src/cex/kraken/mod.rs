//! Kraken: `GET /0/public/AssetPairs` and the v2 WebSocket `instrument` channel.

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_instruments, parse_ws_frame};
