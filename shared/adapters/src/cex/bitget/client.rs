//! Bitget HTTP poll clients: the endpoint descriptors the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) and
//! [`AnnouncementSource`](crate::cex::poll::AnnouncementSource) poll with. Base URL,
//! interval and budget come from the source config; the path, weight and parser are fixed here.

use crate::cex::poll::{AnnouncementDescriptor, Endpoint, InstrumentListDescriptor};

use super::parse::{VENUE, parse_announcements, parse_instruments};

/// Public REST host of Bitget.
pub const BASE_URL: &str = "https://api.bitget.com";

/// `GET /api/v2/spot/public/symbols`.
pub const SPOT: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/api/v2/spot/public/symbols", weight: 1, headers: &[], api_key_header: None },
    parse: parse_instruments,
};

/// `GET /api/v2/public/annoucements?language=en_US&annType=coin_listings` (vendor spelling; 20 req/s/IP).
pub const ANNOUNCEMENTS: AnnouncementDescriptor = AnnouncementDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/api/v2/public/annoucements?language=en_US&annType=coin_listings", weight: 1, headers: &[], api_key_header: None },
    parse: parse_announcements,
    page_param: None,
    delistings: false,
};
