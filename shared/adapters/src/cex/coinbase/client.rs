//! Coinbase Exchange HTTP poll clients: the endpoint descriptors the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) poll with. Base URL,
//! interval and budget come from the source config; the path, weight and parser are fixed here.

use crate::cex::poll::{Endpoint, InstrumentListDescriptor};

use super::parse::{VENUE, parse_instruments};

/// Public REST host of Coinbase Exchange.
pub const BASE_URL: &str = "https://api.exchange.coinbase.com";

/// `GET /products` (bare array; 10 req/s/IP, burst 15).
pub const PRODUCTS: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/products", weight: 1, headers: &[], api_key_header: None },
    parse: parse_instruments,
};
