//! Coinbase Exchange: `GET /products` (bare array) and the WebSocket `status` channel.

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_instruments, parse_ws_frame};
