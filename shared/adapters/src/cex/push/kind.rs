//! The push feeds nl knows: their config kind names, default URLs, subscribe messages, keepalives, frame
//! parsers, and which REST endpoint (if any) fills a connection gap with the same state key.

use crate::cex::poll::InstrumentListDescriptor;
use crate::cex::types::{ParseError, WsFrame};
use crate::cex::{binance, coinbase, kraken, okx};

/// `kind = "okx_instruments_ws"`: OKX `instruments` channel (SPOT), keyless.
pub const OKX_INSTRUMENTS_WS: &str = "okx_instruments_ws";
/// `kind = "kraken_instrument_ws"`: Kraken v2 `instrument` channel, keyless.
pub const KRAKEN_INSTRUMENT_WS: &str = "kraken_instrument_ws";
/// `kind = "coinbase_status_ws"`: Coinbase Exchange `status` channel, keyless.
pub const COINBASE_STATUS_WS: &str = "coinbase_status_ws";
/// `kind = "binance_contract_info_ws"`: Binance USDⓈ-M futures `!contractInfo` stream, keyless.
pub const BINANCE_CONTRACT_INFO_WS: &str = "binance_contract_info_ws";
/// `kind = "binance_announcements_ws"`: Binance announcement WebSocket; needs a read-only API key and secret.
pub const BINANCE_ANNOUNCEMENTS_WS: &str = "binance_announcements_ws";

/// Every push kind, for [`SourcesConfig::ensure_kinds_known`](crate::cex::config::SourcesConfig::ensure_kinds_known).
pub const PUSH_KINDS: [&str; 5] = [OKX_INSTRUMENTS_WS, KRAKEN_INSTRUMENT_WS, COINBASE_STATUS_WS, BINANCE_CONTRACT_INFO_WS, BINANCE_ANNOUNCEMENTS_WS];

/// One push feed implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushKind {
    OkxInstruments,
    KrakenInstrument,
    CoinbaseStatus,
    BinanceContractInfo,
    BinanceAnnouncements,
}

impl PushKind {
    /// The kind named `kind` in config, if it is a push kind.
    #[must_use]
    pub fn from_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            OKX_INSTRUMENTS_WS => Self::OkxInstruments,
            KRAKEN_INSTRUMENT_WS => Self::KrakenInstrument,
            COINBASE_STATUS_WS => Self::CoinbaseStatus,
            BINANCE_CONTRACT_INFO_WS => Self::BinanceContractInfo,
            BINANCE_ANNOUNCEMENTS_WS => Self::BinanceAnnouncements,
            _ => return None,
        })
    }

    /// The config kind name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OkxInstruments => OKX_INSTRUMENTS_WS,
            Self::KrakenInstrument => KRAKEN_INSTRUMENT_WS,
            Self::CoinbaseStatus => COINBASE_STATUS_WS,
            Self::BinanceContractInfo => BINANCE_CONTRACT_INFO_WS,
            Self::BinanceAnnouncements => BINANCE_ANNOUNCEMENTS_WS,
        }
    }

    /// The public endpoint (the announcement one gets its signed query per connect).
    #[must_use]
    pub fn default_ws_url(self) -> &'static str {
        match self {
            Self::OkxInstruments => "wss://ws.okx.com:8443/ws/v5/public",
            Self::KrakenInstrument => "wss://ws.kraken.com/v2",
            Self::CoinbaseStatus => "wss://ws-feed.exchange.coinbase.com",
            Self::BinanceContractInfo => "wss://fstream.binance.com/ws/!contractInfo",
            Self::BinanceAnnouncements => "wss://api.binance.com/sapi/wss",
        }
    }

    /// Frames sent after every connect. Binance streams subscribe through the URL itself.
    #[must_use]
    pub fn subscribe_messages(self) -> Vec<String> {
        match self {
            Self::OkxInstruments => vec![r#"{"op":"subscribe","args":[{"channel":"instruments","instType":"SPOT"}]}"#.into()],
            Self::KrakenInstrument => vec![r#"{"method":"subscribe","params":{"channel":"instrument"}}"#.into()],
            Self::CoinbaseStatus => vec![r#"{"type":"subscribe","channels":[{"name":"status"}]}"#.into()],
            Self::BinanceContractInfo | Self::BinanceAnnouncements => Vec::new(),
        }
    }

    /// Keepalive: `(interval ms, text payload)`; `None` payload = protocol ping frames. OKX wants a text
    /// `ping` within 30 s; the Binance announcement server wants a PING every 30 s.
    #[must_use]
    pub fn keepalive(self) -> (u64, Option<String>) {
        match self {
            Self::OkxInstruments => (20_000, Some("ping".into())),
            Self::KrakenInstrument => (20_000, Some(r#"{"method":"ping"}"#.into())),
            Self::CoinbaseStatus | Self::BinanceContractInfo => (20_000, None),
            Self::BinanceAnnouncements => (30_000, None),
        }
    }

    /// Parses one text frame of this feed.
    ///
    /// # Errors
    /// The venue parser's [`ParseError`].
    pub fn parse(self, text: &str) -> Result<WsFrame, ParseError> {
        match self {
            Self::OkxInstruments => okx::parse_ws_frame(text),
            Self::KrakenInstrument => kraken::parse_ws_frame(text),
            Self::CoinbaseStatus => coinbase::parse_ws_frame(text),
            Self::BinanceContractInfo => binance::parse_contract_info_frame(text),
            Self::BinanceAnnouncements => binance::parse_announcement_frame(text),
        }
    }

    /// Whether the feed carries announcements (state: seen ids) rather than instruments (state: known set).
    #[must_use]
    pub fn is_announcements(self) -> bool {
        self == Self::BinanceAnnouncements
    }

    /// The REST list whose ids equal this feed's ids, so one poll of it under the push source's own state key
    /// fills a connection gap. `None` where no such endpoint exists: Kraken's REST pair keys differ from its v2
    /// symbols (its subscribe snapshot is complete and fills the gap instead); Binance futures and the
    /// announcement feed have no REST twin in the reference.
    #[must_use]
    pub fn gap_fill(self) -> Option<InstrumentListDescriptor> {
        match self {
            Self::OkxInstruments => Some(okx::client::SPOT),
            Self::CoinbaseStatus => Some(coinbase::client::PRODUCTS),
            Self::KrakenInstrument | Self::BinanceContractInfo | Self::BinanceAnnouncements => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in PUSH_KINDS {
            assert_eq!(PushKind::from_kind(k).map(PushKind::as_str), Some(k));
        }
        assert_eq!(PushKind::from_kind("okx_spot"), None);
    }
}
