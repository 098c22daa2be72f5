//! Binance HTTP poll clients: the endpoint descriptors the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) and
//! [`AnnouncementSource`](crate::cex::poll::AnnouncementSource) poll with. Base URL,
//! interval and budget come from the source config; the path, weight and parser are fixed here.

use crate::cex::poll::{AnnouncementDescriptor, Endpoint, InstrumentListDescriptor};

use super::parse::{VENUE, parse_announcements, parse_instruments};

/// Public REST host of Binance spot.
pub const BASE_URL: &str = "https://api.binance.com";

/// Web host serving the CMS announcement API (not the REST API host).
pub const CMS_BASE_URL: &str = "https://www.binance.com";

/// Spot `GET /api/v3/exchangeInfo` (request weight 20 of 6000/min/IP).
pub const SPOT: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/api/v3/exchangeInfo", weight: 20, headers: &[], api_key_header: Some("X-MBX-APIKEY") },
    parse: parse_instruments,
};

/// CMS article list of catalog 48 (New Cryptocurrency Listing), first page of 20, on `www.binance.com`. Undocumented web API: keyless, edge-cached.
pub const ANNOUNCEMENTS: AnnouncementDescriptor = AnnouncementDescriptor {
    venue: VENUE,
    endpoint: Endpoint {
        path: "/bapi/composite/v1/public/cms/article/list/query?type=1&catalogId=48&pageNo=1&pageSize=20",
        weight: 1,
        headers: &[],
        api_key_header: None,
    },
    parse: parse_announcements,
    page_param: Some("pageNo"),
    delistings: false,
};

/// CMS article list of catalog 161 (Delisting), first page of 20, on `www.binance.com`. Delisting notices only ([`AnnouncementDescriptor::delistings`]).
pub const DELISTINGS: AnnouncementDescriptor = AnnouncementDescriptor {
    endpoint: Endpoint { path: "/bapi/composite/v1/public/cms/article/list/query?type=1&catalogId=161&pageNo=1&pageSize=20", ..ANNOUNCEMENTS.endpoint },
    delistings: true,
    ..ANNOUNCEMENTS
};
