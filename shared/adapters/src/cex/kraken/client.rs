//! Kraken HTTP poll clients: the endpoint descriptors the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) poll with. Base URL,
//! interval and budget come from the source config; the path, weight and parser are fixed here.

use crate::cex::poll::{Endpoint, InstrumentListDescriptor};

use super::parse::{VENUE, parse_instruments};

/// Public REST host of Kraken.
pub const BASE_URL: &str = "https://api.kraken.com";

/// `GET /0/public/AssetPairs` (public per-IP limit not confirmed).
pub const PAIRS: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/0/public/AssetPairs", weight: 1, headers: &[], api_key_header: None },
    parse: parse_instruments,
};
