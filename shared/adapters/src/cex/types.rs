//! Normalized CEX types shared by every venue parser: instruments, announcements, push frames and the one
//! parse error. Venue wire types stay in each venue's `models.rs`; only these types leave a venue folder.

use serde::{Deserialize, Serialize};

use nl_domain::Ts;

/// Longest payload excerpt kept in a [`ParseError`], in characters.
pub const EXCERPT_CHARS: usize = crate::kit::quote::QUOTE_CHARS;

/// Trading state of an instrument, normalized across venues. The venue's own word is kept in
/// [`Instrument::raw_status`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InstrumentStatus {
    /// Open for normal trading.
    Trading,
    /// Listed but not yet trading (OKX `preopen`, Bybit `PreLaunch`, call auctions, ...).
    PreTrading,
    /// Temporarily not tradable (suspended, break, cancel-only, disabled).
    Halted,
    /// Closed for good or delisted.
    Closed,
    /// A value this code does not know; kept verbatim so a new venue state is visible, never guessed.
    Other(String),
}

impl InstrumentStatus {
    /// A short stable label (`trading`, `pre_trading`, `halted`, `closed`, or the raw value for `Other`).
    #[must_use]
    pub fn label(&self) -> &str {
        match self {
            Self::Trading => "trading",
            Self::PreTrading => "pre_trading",
            Self::Halted => "halted",
            Self::Closed => "closed",
            Self::Other(s) => s,
        }
    }
}

/// Which market an instrument or announcement concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Market {
    Spot,
    Futures,
    Margin,
    /// Earn, Convert, Loans, Alpha, Options, copy trading, ...
    Other,
}

impl Market {
    /// Lowercase label, as used in observation details.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Spot => "spot",
            Self::Futures => "futures",
            Self::Margin => "margin",
            Self::Other => "other",
        }
    }
}

/// One tradable instrument as a venue lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instrument {
    /// Venue slug (`binance`, `okx`, ...).
    pub venue: String,
    /// The venue's own instrument id (`BTC-USDT`, `BTCUSDT`, `XXBTZUSD`, ...).
    pub instrument_id: String,
    /// Base asset as the venue spells it.
    pub base: String,
    /// Quote asset as the venue spells it.
    pub quote: String,
    /// Spot for instrument lists, Futures for contract feeds.
    pub market: Market,
    pub status: InstrumentStatus,
    /// The venue's status word (or flags) verbatim.
    pub raw_status: String,
    /// When trading is scheduled to start, where the venue says (OKX `listTime`, KuCoin `tradingStartTime`,
    /// Gate `buy_start`, Bitget `openTime`, Binance futures `ot`).
    pub scheduled_at: Option<Ts>,
    /// When the venue says this record was produced (push event time), if it says.
    pub source_published_at: Option<Ts>,
    /// Venue-specific extras worth keeping (flags, precisions, auction stages).
    pub details: serde_json::Value,
}

/// A coin named by an announcement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CoinRef {
    /// Uppercase ticker (`AMP`, `1000SATS`).
    pub symbol: String,
    /// Project name when the title gives one (`Amp` in "Amp (AMP)").
    pub name: Option<String>,
}

/// What an announcement is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnouncementAction {
    Listing,
    Delisting,
    Other,
}

impl AnnouncementAction {
    /// Lowercase label, as used in observation details.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Listing => "listing",
            Self::Delisting => "delisting",
            Self::Other => "other",
        }
    }
}

/// One venue announcement, with what its title says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    /// Venue slug.
    pub venue: String,
    /// Stable id: the venue's article id/code, or the article URL where the venue has no id.
    pub id: String,
    pub title: String,
    pub url: Option<String>,
    pub published_at: Option<Ts>,
    pub coins: Vec<CoinRef>,
    pub action: AnnouncementAction,
    pub markets: Vec<Market>,
    /// `(base, quote)` pairs spelled out in the title ("Adds X/USDT").
    pub pairs: Vec<(String, String)>,
}

/// One decoded push frame.
#[derive(Debug, Clone, PartialEq)]
pub enum WsFrame {
    /// Instruments carried by the frame. `complete` is true when the frame is the venue's whole universe
    /// (a snapshot), so absent instruments may be treated as removed; deltas carry `complete: false`.
    Instruments { instruments: Vec<Instrument>, complete: bool },
    /// An announcement pushed by the venue.
    Announcement(Announcement),
    /// Subscription acknowledgement.
    Ack { channel: Option<String> },
    /// Keepalive reply or heartbeat.
    Pong,
    /// The venue reported an error on the connection.
    Error { code: Option<String>, msg: String },
    /// A well-formed frame this parser has no use for.
    Ignored,
}

/// Why a venue payload could not be turned into normalized types. Every variant carries the venue, what
/// failed and a copy of the payload truncated to [`EXCERPT_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The payload is not the JSON shape expected (truncated, wrong types, missing required keys).
    #[error("{venue}: cannot decode {what}: {reason}; payload: {excerpt}")]
    Decode { venue: &'static str, what: &'static str, reason: String, excerpt: String },
    /// The venue answered with an error envelope (OKX `code != "0"`, Bybit `retCode != 0`, ...).
    #[error("{venue}: venue error {code}: {msg}; payload: {excerpt}")]
    Venue { venue: &'static str, code: String, msg: String, excerpt: String },
    /// Decoded, but unusable (e.g. every row lacks a base asset): most likely an upstream format change.
    #[error("{venue}: invalid {what}: {reason}; payload: {excerpt}")]
    Invalid { venue: &'static str, what: &'static str, reason: String, excerpt: String },
}

impl ParseError {
    /// The venue whose payload failed.
    #[must_use]
    pub fn venue(&self) -> &'static str {
        match self {
            Self::Decode { venue, .. } | Self::Venue { venue, .. } | Self::Invalid { venue, .. } => venue,
        }
    }

    /// The truncated payload copy.
    #[must_use]
    pub fn excerpt(&self) -> &str {
        match self {
            Self::Decode { excerpt, .. } | Self::Venue { excerpt, .. } | Self::Invalid { excerpt, .. } => excerpt,
        }
    }

    /// True for venue error envelopes, which are worth retrying later; decode/invalid errors are not.
    #[must_use]
    pub fn is_venue_error(&self) -> bool {
        matches!(self, Self::Venue { .. })
    }
}
