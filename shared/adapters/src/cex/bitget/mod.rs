//! Bitget: `GET /api/v2/spot/public/symbols` and `GET /api/v2/public/annoucements` (vendor spelling).

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_announcements, parse_instruments};
