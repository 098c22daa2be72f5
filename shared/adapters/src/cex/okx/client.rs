//! OKX HTTP poll clients: the endpoint descriptors the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) and
//! [`AnnouncementSource`](crate::cex::poll::AnnouncementSource) poll with. Base URL,
//! interval and budget come from the source config; the path, weight and parser are fixed here.

use crate::cex::poll::{AnnouncementDescriptor, Endpoint, InstrumentListDescriptor};
use crate::cex::ticker::TickerDescriptor;

use super::parse::{VENUE, parse_announcements, parse_instruments, parse_ticker};

/// Public REST host of OKX.
pub const BASE_URL: &str = "https://www.okx.com";

/// `GET /api/v5/public/instruments?instType=SPOT` (20 req/2 s per IP and instType); new pairs appear as `preopen` with `listTime` when the announcement goes out.
pub const SPOT: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/api/v5/public/instruments?instType=SPOT", weight: 1, headers: &[], api_key_header: None },
    parse: parse_instruments,
};

/// `GET /api/v5/support/announcements?annType=announcements-new-listings&page=1` in English (5 req/2 s).
pub const ANNOUNCEMENTS: AnnouncementDescriptor = AnnouncementDescriptor {
    venue: VENUE,
    endpoint: Endpoint {
        path: "/api/v5/support/announcements?annType=announcements-new-listings&page=1",
        weight: 1,
        headers: &[("Accept-Language", "en-US")],
        api_key_header: None,
    },
    parse: parse_announcements,
    page_param: Some("page"),
    delistings: false,
};

/// `GET /api/v5/support/announcements?annType=announcements-delistings&page=1` in English. Delisting notices only ([`AnnouncementDescriptor::delistings`]).
pub const DELISTINGS: AnnouncementDescriptor = AnnouncementDescriptor {
    endpoint: Endpoint { path: "/api/v5/support/announcements?annType=announcements-delistings&page=1", ..ANNOUNCEMENTS.endpoint },
    delistings: true,
    ..ANNOUNCEMENTS
};

/// `GET /api/v5/market/ticker?instId={instId}` (20 req/2 s per IP): last price and 24 h volume of one pair.
pub const TICKER: TickerDescriptor = TickerDescriptor { venue: VENUE, path_prefix: "/api/v5/market/ticker?instId=", weight: 1, parse: parse_ticker };
