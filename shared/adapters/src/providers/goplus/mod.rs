//! GoPlus token security (EVM): `GET /api/v1/token_security/{chain_id}?contract_addresses={addr}`.
//!
//! The envelope is `{code, message, result}`; `code` other than 1 is an error; `result` is keyed by the
//! lowercased address. Flags are `"0"`/`"1"` strings (`""`/absent = unknown), taxes are fraction strings.

pub mod models;
pub mod parse;

pub use parse::parse_token_security;
