//! Integration tests, one binary: each file beside this one is a module (one link instead of one per file,
//! which keeps CI's disk and link time small). Run one file's tests with `cargo test -p CRATE --test integration FILE::`.

mod cex_common;
mod dex_support;

mod cex_announcements;
mod cex_currency_link;
mod cex_instruments;
mod dex_dexscreener;
mod dex_evm;
mod dex_evm_push;
mod dex_geckoterminal;
mod known_first;
mod lease_collectors;
mod push_known;
mod push_okx;
mod solana_backfill;
mod solana_push;
mod solana_venues;
mod state_nats_known;
