//! BingX: `GET /openApi/spot/v1/common/symbols` (`BASE-QUOTE` symbols; integer `status`: 0 offline,
//! 1 online, 5 pre-open, 10 accessed, 25 suspended; `timeOnline` in ms).

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_instruments};
