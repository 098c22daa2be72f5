//! Linking a CEX listing to its token contract through the venue's public currency info.
//!
//! A venue that publishes, per currency, the chains it moves on and the contract on each (KuCoin
//! `GET /api/v3/currencies/{currency}`, Gate `GET /api/v4/spot/currencies/{currency}`) gets a
//! [`CurrencyDescriptor`]: the endpoint, its parser and an explicit table from the venue's chain names to
//! our chain slugs. Chains missing from the table (TRON, TON, the venue's own chains, ...) are ignored, and
//! an address that is not a valid `<chain>:<address>` for its chain (empty, or MEXC-style placeholders
//! such as `xtokens`) never links. The pure part lives here; [`poll`](super::poll) does the fetching.

use nl_domain::AssetId;
use serde::Serialize;

use super::types::ParseError;

/// Keys written into a linked observation's `details`. `chain` and `contract_address` are the keys the
/// enricher reads to turn `cex:<venue>:<BASE>` into `<chain>:<address>`.
pub const LINK_CHAIN_KEY: &str = "chain";
/// See [`LINK_CHAIN_KEY`].
pub const LINK_CONTRACT_KEY: &str = "contract_address";
/// Every mapped chain with a valid contract, in the order chosen (first = the link).
pub const LINK_CANDIDATES_KEY: &str = "contract_links";
/// Id of the `raw_events` row holding the currency response the link came from.
pub const LINK_RAW_KEY: &str = "currency_raw_event_id";

/// One chain a currency moves on, as the venue names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyChain {
    /// The venue's chain id (KuCoin `chainId` such as `eth`, Gate `name` such as `ETH`).
    pub venue_chain: String,
    /// The token contract on that chain; `None` for native coins (`""` on the wire).
    pub contract: Option<String>,
}

/// A venue's currency info, reduced to what linking needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyInfo {
    pub currency: String,
    /// The chain the venue calls the currency's main chain (Gate `chain`), tried first.
    pub main_chain: Option<String>,
    pub chains: Vec<CurrencyChain>,
}

/// Parser of a currency response body.
pub type CurrencyParser = fn(&str) -> Result<CurrencyInfo, ParseError>;

/// What a venue's currency lookup needs: the path before the currency code, its weight, the parser and the
/// chain-name table.
#[derive(Debug, Clone, Copy)]
pub struct CurrencyDescriptor {
    /// Path to which the currency code is appended (e.g. `/api/v3/currencies/`).
    pub path_prefix: &'static str,
    /// Weight charged to the provider budget per request.
    pub weight: u32,
    pub parse: CurrencyParser,
    /// Venue chain name → our chain slug. Matched case-insensitively.
    pub chains: &'static [(&'static str, &'static str)],
}

impl CurrencyDescriptor {
    /// The request path for `currency`.
    #[must_use]
    pub fn path(&self, currency: &str) -> String {
        format!("{}{currency}", self.path_prefix)
    }

    /// Our chain slug for a venue chain name, if the table knows it.
    #[must_use]
    pub fn chain_slug(&self, venue_chain: &str) -> Option<&'static str> {
        self.chains.iter().find(|(v, _)| v.eq_ignore_ascii_case(venue_chain)).map(|(_, ours)| *ours)
    }
}

/// A contract the currency info names on a chain we know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractLink {
    /// Our chain slug.
    pub chain: String,
    /// The normalized address (EVM lowercased, Solana as-is).
    pub address: String,
    /// The venue's name for the chain.
    pub venue_chain: String,
}

/// Every chain of `info` that maps to one of our chains and carries a valid contract: the main chain first,
/// then the venue's order. The first entry is the link; empty means the listing stays `cex:<venue>:<BASE>`.
#[must_use]
pub fn contract_links(info: &CurrencyInfo, desc: &CurrencyDescriptor) -> Vec<ContractLink> {
    let is_main = |c: &CurrencyChain| info.main_chain.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(&c.venue_chain));
    let ordered = info.chains.iter().filter(|c| is_main(c)).chain(info.chains.iter().filter(|c| !is_main(c)));
    let mut out: Vec<ContractLink> = Vec::new();
    for c in ordered {
        let (Some(slug), Some(contract)) = (desc.chain_slug(&c.venue_chain), c.contract.as_deref()) else { continue };
        let Ok(AssetId::Chain { chain, address }) = AssetId::chain(slug, contract.trim()) else { continue };
        if !out.iter().any(|l| l.chain == chain && l.address == address) {
            out.push(ContractLink { chain, address, venue_chain: c.venue_chain.clone() });
        }
    }
    out
}

/// Writes the link into an observation's `details` (an object; anything else is replaced by one).
pub fn annotate(details: &mut serde_json::Value, links: &[ContractLink], raw_event_id: &str) {
    let Some(first) = links.first() else { return };
    if !details.is_object() {
        *details = serde_json::Value::Object(serde_json::Map::new());
    }
    details[LINK_CHAIN_KEY] = first.chain.clone().into();
    details[LINK_CONTRACT_KEY] = first.address.clone().into();
    details[LINK_CANDIDATES_KEY] = serde_json::to_value(links).unwrap_or_default();
    details[LINK_RAW_KEY] = raw_event_id.into();
}

/// Saves in the next state the contract each `New` observation was linked to (see [`crate::cex::KnownEntry::link`]).
pub(crate) fn remember_links(out: &mut crate::source::PollOutcome) {
    let Some(entries) = out.next_state.as_mut().and_then(|s| s.pointer_mut("/known/entries")) else { return };
    for o in out.observations.iter().filter(|o| o.change == nl_domain::ChangeKind::New) {
        let s = |k: &str| o.details.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
        if let (Some(chain), Some(address), Some(e)) = (s(LINK_CHAIN_KEY), s(LINK_CONTRACT_KEY), entries.get_mut(&o.instrument_id)) {
            e["link"] = serde_json::json!([chain, address]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: &str) -> Result<CurrencyInfo, ParseError> {
        Err(ParseError::Invalid { venue: "t", what: "t", reason: String::new(), excerpt: String::new() })
    }

    const DESC: CurrencyDescriptor =
        CurrencyDescriptor { path_prefix: "/c/", weight: 1, parse: never, chains: &[("eth", "eth"), ("bsc", "bsc"), ("sol", "solana")] };

    fn chain(v: &str, c: &str) -> CurrencyChain {
        CurrencyChain { venue_chain: v.into(), contract: (!c.is_empty()).then(|| c.to_string()) }
    }

    #[test]
    fn main_chain_first_unknown_and_invalid_ignored() {
        let info = CurrencyInfo {
            currency: "NEW".into(),
            main_chain: Some("BSC".into()),
            chains: vec![
                chain("trx", "TXYZabcdefghijkmnopqrstuvwxyz12345"),
                chain("eth", "0xA1B2C3D4E5F60718293A4B5C6D7E8F9012345678"),
                chain("sol", "xtokens"),
                chain("bsc", "0x00000000000000000000000000000000000000b5"),
                chain("eth", ""),
            ],
        };
        let links = contract_links(&info, &DESC);
        let got: Vec<(&str, &str)> = links.iter().map(|l| (l.chain.as_str(), l.address.as_str())).collect();
        assert_eq!(got, [("bsc", "0x00000000000000000000000000000000000000b5"), ("eth", "0xa1b2c3d4e5f60718293a4b5c6d7e8f9012345678")]);
    }

    #[test]
    fn annotate_sets_the_enricher_keys() {
        let links = vec![ContractLink { chain: "eth".into(), address: "0xab".into(), venue_chain: "ERC20".into() }];
        let mut d = serde_json::json!({"quote": "USDT"});
        annotate(&mut d, &links, "raw1");
        assert_eq!((d["chain"].as_str(), d["contract_address"].as_str(), d["currency_raw_event_id"].as_str()), (Some("eth"), Some("0xab"), Some("raw1")));
        assert_eq!(d["quote"], "USDT");
        let mut untouched = serde_json::json!({"quote": "USDT"});
        annotate(&mut untouched, &[], "raw2");
        assert!(untouched.get("chain").is_none());
    }
}
