//! Gate HTTP poll clients: the endpoint descriptors the generic
//! [`InstrumentListSource`](crate::sources::cex::poll::InstrumentListSource) poll with. Base URL,
//! interval and budget come from the source config; the path, weight and parser are fixed here.

use crate::sources::cex::poll::{Endpoint, InstrumentListDescriptor};

use super::parse::{VENUE, parse_instruments};

/// Public REST host of Gate.
pub const BASE_URL: &str = "https://api.gateio.ws";

/// `GET /api/v4/spot/currency_pairs` (bare array; `buy_start` gives the go-live time).
pub const PAIRS: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/api/v4/spot/currency_pairs", weight: 1, headers: &[], api_key_header: None },
    parse: parse_instruments,
};
