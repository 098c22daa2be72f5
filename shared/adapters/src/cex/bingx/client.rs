//! BingX HTTP poll client: the endpoint descriptor the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) polls with. Base URL, interval and
//! budget come from the source config; the path, weight and parser are fixed here. The doc marks
//! `timestamp` required, yet the endpoint is unsigned and widely called without it; a venue error naming
//! the timestamp (80014, 100421) surfaces as a failed poll with that code.

use crate::cex::poll::{Endpoint, InstrumentListDescriptor};

use super::parse::{VENUE, parse_instruments};

/// Public REST host of BingX.
pub const BASE_URL: &str = "https://open-api.bingx.com";

/// `GET /openApi/spot/v1/common/symbols` (market group: 500 req/10 s and 1000 req/min per IP).
pub const SPOT: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/openApi/spot/v1/common/symbols", weight: 1, headers: &[], api_key_header: None },
    parse: parse_instruments,
};
