//! Integration tests, one binary: each file beside this one is a module (one link instead of one per file,
//! which keeps CI's disk and link time small). Run one file's tests with `cargo test -p CRATE --test integration FILE::`.

mod service;
mod solana_mint;
