//! OKX: `public/instruments` (SPOT), `support/announcements` and the keyless `instruments` push channel.

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_announcements, parse_instruments, parse_ws_frame};
