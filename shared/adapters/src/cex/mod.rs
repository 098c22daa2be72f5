//! Centralized-exchange sources: per-venue wire models and parsers for instrument lists, announcement
//! feeds, push frames and single-pair tickers ([`ticker`], looked up by [`ticker_client`]), the
//! announcement title parser, and the baseline/diff logic that turns snapshots into `listing.observed`
//! observations. The parsers do no I/O: [`poll`] holds the HTTP poll sources that call them with response
//! bodies (endpoint descriptors in each venue's `client.rs`), [`config`] builds them from `[sources]`,
//! and [`push`] holds the venue side of the WebSocket feeds. The scripted mock venue for tests and benchmarks
//! is `nl_testkit::cex_venue`.

pub mod config;
pub mod currency;
pub mod cursor;
pub mod diff;
pub mod list_policy;
pub mod poll;
pub mod push;
pub mod ticker;
pub mod ticker_client;
pub mod title;
pub mod types;
mod wire;

#[cfg(test)]
mod venue_rules_tests;

pub mod binance;
pub mod bingx;
pub mod bitget;
pub mod bybit;
pub mod coinbase;
pub mod gate;
pub mod htx;
pub mod kraken;
pub mod kucoin;
pub mod mexc;
pub mod okx;
pub mod upbit;

pub use cursor::{AnnouncementPolicy, AnnouncementSelection, SeenAnnouncements, select_new_announcements};
pub use diff::{DiffOutcome, KnownEntry, KnownSet, announcement_observations, diff, diff_partial, diff_unbaselined, to_observation};
pub use ticker::{Ticker, TickerDescriptor, ticker_descriptor};
pub use title::{TitleInfo, parse_title};
pub use types::{Announcement, AnnouncementAction, CoinRef, Instrument, InstrumentStatus, Market, ParseError, WsFrame};
