//! Binance: spot `exchangeInfo`, the CMS announcement list (catalog 48), the futures `!contractInfo` push
//! stream and the official announcement WebSocket `DATA` frame.

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_announcement_frame, parse_announcements, parse_contract_info_frame, parse_instruments};
