//! Bybit HTTP poll clients: the endpoint descriptors the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) and
//! [`AnnouncementSource`](crate::cex::poll::AnnouncementSource) poll with. Base URL,
//! interval and budget come from the source config; the path, weight and parser are fixed here.

use crate::cex::poll::{AnnouncementDescriptor, Endpoint, InstrumentListDescriptor};
use crate::cex::ticker::TickerDescriptor;

use super::parse::{VENUE, parse_announcements, parse_instruments, parse_ticker};

/// Public REST host of Bybit.
pub const BASE_URL: &str = "https://api.bybit.com";

/// `GET /v5/market/instruments-info?category=spot` (no pagination for spot; 600 req/5 s/IP).
pub const SPOT: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/v5/market/instruments-info?category=spot", weight: 1, headers: &[], api_key_header: None },
    parse: parse_instruments,
};

/// `GET /v5/announcements/index?locale=en-US&type=new_crypto&page=1&limit=20`.
pub const ANNOUNCEMENTS: AnnouncementDescriptor = AnnouncementDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/v5/announcements/index?locale=en-US&type=new_crypto&page=1&limit=20", weight: 1, headers: &[], api_key_header: None },
    parse: parse_announcements,
    page_param: Some("page"),
    delistings: false,
};

/// `GET /v5/announcements/index?locale=en-US&type=delistings&page=1&limit=20`. Delisting notices only ([`AnnouncementDescriptor::delistings`]).
pub const DELISTINGS: AnnouncementDescriptor = AnnouncementDescriptor {
    endpoint: Endpoint { path: "/v5/announcements/index?locale=en-US&type=delistings&page=1&limit=20", ..ANNOUNCEMENTS.endpoint },
    delistings: true,
    ..ANNOUNCEMENTS
};

/// `GET /v5/market/tickers?category=spot&symbol={symbol}`: last price and 24 h turnover (quote volume) of one pair.
pub const TICKER: TickerDescriptor = TickerDescriptor { venue: VENUE, path_prefix: "/v5/market/tickers?category=spot&symbol=", weight: 1, parse: parse_ticker };
