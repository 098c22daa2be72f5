//! HTX (Huobi): `GET /v2/settings/common/symbols` (`sc` symbol, `bc`/`qc` currencies, `state`, `toa` trade
//! open time in ms).

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_instruments};
