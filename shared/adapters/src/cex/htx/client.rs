//! HTX HTTP poll client: the endpoint descriptor the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) polls with. Base URL, interval and
//! budget come from the source config; the path, weight and parser are fixed here.

use crate::cex::poll::{Endpoint, InstrumentListDescriptor};

use super::parse::{VENUE, parse_instruments};

/// Public REST host of HTX (alternative: `https://api-aws.huobi.pro`).
pub const BASE_URL: &str = "https://api.huobi.pro";

/// `GET /v2/settings/common/symbols` without `ts`: always the full list.
pub const SPOT: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/v2/settings/common/symbols", weight: 1, headers: &[], api_key_header: None },
    parse: parse_instruments,
};
