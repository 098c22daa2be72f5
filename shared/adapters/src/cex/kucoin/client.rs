//! KuCoin HTTP poll clients: the endpoint descriptors the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) and
//! [`AnnouncementSource`](crate::cex::poll::AnnouncementSource) poll with. Base URL,
//! interval and budget come from the source config; the path, weight and parser are fixed here.

use crate::cex::currency::CurrencyDescriptor;
use crate::cex::poll::{AnnouncementDescriptor, Endpoint, InstrumentListDescriptor};
use crate::cex::ticker::TickerDescriptor;

use super::parse::{VENUE, parse_announcements, parse_currency, parse_instruments, parse_ticker};

/// Public REST host of KuCoin.
pub const BASE_URL: &str = "https://api.kucoin.com";

/// `GET /api/v2/symbols` (`tradingStartTime` gives the go-live time).
pub const SYMBOLS: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/api/v2/symbols", weight: 1, headers: &[], api_key_header: None },
    parse: parse_instruments,
};

/// `GET /api/v3/announcements?annType=new-listings&lang=en_US&pageSize=20&currentPage=1`.
pub const ANNOUNCEMENTS: AnnouncementDescriptor = AnnouncementDescriptor {
    venue: VENUE,
    endpoint: Endpoint {
        path: "/api/v3/announcements?annType=new-listings&lang=en_US&pageSize=20&currentPage=1",
        weight: 1,
        headers: &[],
        api_key_header: None,
    },
    parse: parse_announcements,
    page_param: Some("currentPage"),
    delistings: false,
};

/// `GET /api/v3/announcements?annType=delistings&lang=en_US&pageSize=20&currentPage=1`. Delisting notices only ([`AnnouncementDescriptor::delistings`]).
pub const DELISTINGS: AnnouncementDescriptor = AnnouncementDescriptor {
    endpoint: Endpoint { path: "/api/v3/announcements?annType=delistings&lang=en_US&pageSize=20&currentPage=1", ..ANNOUNCEMENTS.endpoint },
    delistings: true,
    ..ANNOUNCEMENTS
};

/// `GET /api/v3/currencies/{currency}`: the chains a new symbol's base currency moves on, with contracts.
/// KuCoin `chainId` values as ccxt's KuCoin network table spells them (`ccxt/ccxt` `ts/src/kucoin.ts`,
/// `options.networks`: `ERC20 → eth`, `BEP20 → bsc`, `SOL → sol`, `ARBONE → arbitrum`, `BASE → base`, ...).
pub const CURRENCY: CurrencyDescriptor = CurrencyDescriptor {
    path_prefix: "/api/v3/currencies/",
    weight: 1,
    parse: parse_currency,
    chains: &[
        ("eth", "eth"),
        ("bsc", "bsc"),
        ("sol", "solana"),
        ("base", "base"),
        ("arbitrum", "arbitrum"),
        ("optimism", "optimism"),
        ("matic", "polygon"),
        ("avaxc", "avax"),
    ],
};

/// `GET /api/v1/market/stats?symbol={symbol}`: 24 h stats (last price, quote volume `volValue`) of one pair.
pub const TICKER: TickerDescriptor = TickerDescriptor { venue: VENUE, path_prefix: "/api/v1/market/stats?symbol=", weight: 1, parse: parse_ticker };
