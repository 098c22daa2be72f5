//! MEXC HTTP poll clients: the endpoint descriptors the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) poll with. Base URL,
//! interval and budget come from the source config; the path, weight and parser are fixed here.

use crate::cex::poll::{Endpoint, InstrumentListDescriptor};

use super::parse::{VENUE, parse_instruments};

/// Public REST host of MEXC.
pub const BASE_URL: &str = "https://api.mexc.com";

/// `GET /api/v3/exchangeInfo` (request weight 10).
pub const SPOT: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/api/v3/exchangeInfo", weight: 10, headers: &[], api_key_header: None },
    parse: parse_instruments,
};
