//! No asset without a name: an address-only sighting (a DexScreener profile or boost) gets its symbol,
//! name and decimals from a token lookup (`/tokens/v1`) before it is published; when the lookup does not
//! name it, the observation says so (`details.metadata_missing = true`) instead of carrying a blank symbol
//! silently.

use std::collections::BTreeMap;

use nl_domain::{AssetId, ChangeKind, ListingObservation};
use serde_json::json;

use crate::dex::pool::{DexPool, TokenRef};

/// Key of the flag set on observations the lookup could not name.
pub const METADATA_MISSING_KEY: &str = "metadata_missing";

/// The `(chain, addresses)` of the new observations without a symbol, in first-seen order.
#[must_use]
pub fn unnamed(observations: &[ListingObservation]) -> Vec<(String, Vec<String>)> {
    let mut by_chain: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for o in observations.iter().filter(|o| o.change == ChangeKind::New && o.symbol.trim().is_empty()) {
        if let AssetId::Chain { chain, address } = &o.asset_id {
            let list = by_chain.entry(chain.clone()).or_default();
            if !list.contains(address) {
                list.push(address.clone());
            }
        }
    }
    by_chain.into_iter().collect()
}

/// The token `address` is in `pools`, as the base or quote side of a pair on `chain`.
fn token_of<'a>(pools: &'a [DexPool], chain: &str, address: &str) -> Option<&'a TokenRef> {
    pools
        .iter()
        .filter(|p| p.chain == chain)
        .flat_map(|p| [&p.base_token, &p.quote_token])
        .find(|t| t.address.eq_ignore_ascii_case(address) && t.symbol.as_deref().is_some_and(|s| !s.trim().is_empty()))
}

/// Names the new unnamed observations on `on_chain` from `pools` (that chain's lookup); marks those it
/// cannot name `metadata_missing`.
pub fn apply_names(observations: &mut [ListingObservation], on_chain: &str, pools: &[DexPool]) {
    for o in observations.iter_mut().filter(|o| o.change == ChangeKind::New && o.symbol.trim().is_empty()) {
        let AssetId::Chain { chain, address } = &o.asset_id else { continue };
        if chain != on_chain {
            continue;
        }
        let found = token_of(pools, chain, address).cloned();
        let Some(details) = o.details.as_object_mut() else { continue };
        match found {
            Some(t) => {
                o.symbol = t.symbol.unwrap_or_default();
                if o.name.is_none() {
                    o.name = t.name;
                }
                if let Some(d) = t.decimals {
                    details.insert("decimals".into(), json!(d));
                }
            }
            None => {
                details.insert(METADATA_MISSING_KEY.into(), json!(true));
            }
        }
    }
}
