//! Upbit HTTP poll client: the endpoint descriptor the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) polls with. Base URL, interval and
//! budget come from the source config; the path, weight and parser are fixed here. No `Origin` header is
//! ever sent (Upbit limits requests carrying one to 1 per 10 s).

use crate::cex::poll::{Endpoint, InstrumentListDescriptor};

use super::parse::{VENUE, parse_instruments};

/// Public Quotation API host of Upbit.
pub const BASE_URL: &str = "https://api.upbit.com";

/// `GET /v1/market/all?isDetails=true` (market group: 10 req/s per IP).
pub const SPOT: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/v1/market/all?isDetails=true", weight: 1, headers: &[], api_key_header: None },
    parse: parse_instruments,
};
