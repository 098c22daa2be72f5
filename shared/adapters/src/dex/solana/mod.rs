//! Solana launch detection: `logsSubscribe` notifications, create/initialize log patterns per program
//! (community conventions, not official), and `getTransaction` parsing to find the new mint.
//! JSON-RPC framing and errors are shared with [`super::evm::rpc`].

pub mod activity;
pub mod config;
pub mod events;
pub mod instructions;
pub mod launch;
pub mod mint;
pub mod models;
pub mod parse;
pub mod pda;
pub mod rpc_client;
pub mod source;

pub use parse::{
    CREATE_PATTERNS, CreatePattern, LaunchEvent, LaunchKind, LogsNotice, MintCandidate, PROGRAMS, QUOTE_MINTS, TxSummary, WSOL_MINT,
    detect_launches, get_transaction_request, launch_observations, logs_subscribe_request, new_mints, parse_get_transaction,
    parse_logs_notification,
};
