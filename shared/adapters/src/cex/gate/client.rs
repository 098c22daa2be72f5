//! Gate HTTP poll clients: the endpoint descriptors the generic
//! [`InstrumentListSource`](crate::cex::poll::InstrumentListSource) poll with. Base URL,
//! interval and budget come from the source config; the path, weight and parser are fixed here.

use crate::cex::currency::CurrencyDescriptor;
use crate::cex::poll::{Endpoint, InstrumentListDescriptor};
use crate::cex::ticker::TickerDescriptor;

use super::parse::{VENUE, parse_currency, parse_instruments, parse_ticker};

/// Public REST host of Gate.
pub const BASE_URL: &str = "https://api.gateio.ws";

/// `GET /api/v4/spot/currency_pairs` (bare array; `buy_start` gives the go-live time).
pub const PAIRS: InstrumentListDescriptor = InstrumentListDescriptor {
    venue: VENUE,
    endpoint: Endpoint { path: "/api/v4/spot/currency_pairs", weight: 1, headers: &[], api_key_header: None },
    parse: parse_instruments,
};

/// `GET /api/v4/spot/currencies/{currency}`: the chains a new pair's base currency moves on, with contracts.
/// Gate chain names as Gate's wallet API spells them (`ETH`, `BSC`, `SOL`, `BASEEVM`, `ARBEVM`, `OPETH`,
/// `MATIC`, `AVAX_C`; seen in public Gate withdrawal clients and chain-synonym tables).
pub const CURRENCY: CurrencyDescriptor = CurrencyDescriptor {
    path_prefix: "/api/v4/spot/currencies/",
    weight: 1,
    parse: parse_currency,
    chains: &[
        ("ETH", "eth"),
        ("BSC", "bsc"),
        ("SOL", "solana"),
        ("BASEEVM", "base"),
        ("ARBEVM", "arbitrum"),
        ("OPETH", "optimism"),
        ("MATIC", "polygon"),
        ("AVAX_C", "avax"),
    ],
};

/// `GET /api/v4/spot/tickers?currency_pair={id}` (a one-row array): last price and 24 h quote volume of one pair.
pub const TICKER: TickerDescriptor = TickerDescriptor { venue: VENUE, path_prefix: "/api/v4/spot/tickers?currency_pair=", weight: 1, parse: parse_ticker };
