//! Pure mapping of a `listing.observed` / `listing.retracted` observation to the `asset.upserted` the
//! ledger merges: the asset's identity (linked to a contract where the venue says which), and one sighting.

use nl_adapters::cex::currency::{LINK_CHAIN_KEY, LINK_CONTRACT_KEY};
use nl_domain::{AssetId, AssetUpsert, BASE_DECIMALS_KEY, ChangeKind, Envelope, EventId, EventType, ListingObservation, ObservationKind, Sighting};
use serde_json::{Map, Value};

/// Sighting status of a retracted observation.
pub const RETRACTED: &str = "retracted";

/// Keys of a DEX observation's `details` copied into the sighting's pair detail (when present and not null).
const PAIR_KEYS: &[&str] = &[
    "dex",
    "pool",
    "pair",
    "network",
    "quote_token",
    "quote_symbol",
    "token0",
    "token1",
    "fee",
    "tick_spacing",
    "hooks",
    "stable",
    "factory",
    "kind",
    "program",
    "url",
    "labels",
];

// The pair detail's [`BASE_DECIMALS_KEY`] comes from GeckoTerminal's token attributes (`base_decimals`), the
// ERC-20 `decimals()` of a factory-log pool's new token (`token_meta.decimals`) or a Solana launch's mint
// (`decimals`).

/// The asset an observation is about: its own id, or, for a CEX-only id whose `details` name a valid
/// chain and contract (written by the collector from the venue's currency info), the on-chain id. An
/// invalid link (e.g. MEXC's placeholder `contractAddress`) is
/// ignored and the CEX id kept.
#[must_use]
pub fn asset_of(obs: &ListingObservation) -> AssetId {
    if let AssetId::Cex { .. } = obs.asset_id
        && let Some((chain, contract)) = linked_contract(&obs.details)
        && let Ok(id) = AssetId::chain(&chain, &contract)
    {
        return id;
    }
    obs.asset_id.clone()
}

fn linked_contract(details: &Value) -> Option<(String, String)> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let chain = s(details.get(LINK_CHAIN_KEY))?.to_ascii_lowercase();
    let contract = s(details.get(LINK_CONTRACT_KEY))?;
    Some((chain, contract))
}

/// The sighting an observation records. A retracted observation gets status [`RETRACTED`]; DEX pools
/// carry their pair detail (pool address, dex, quote, fee, ...), every other kind `null`; announcements
/// carry their URL.
#[must_use]
pub fn sighting_of(obs: &ListingObservation) -> Sighting {
    let status = if obs.change == ChangeKind::Retracted { Some(RETRACTED.to_string()) } else { obs.status.clone() };
    let pair = if obs.kind == ObservationKind::DexPool { pair_detail(obs) } else { Value::Null };
    Sighting {
        source: obs.source.clone(),
        venue: obs.venue.clone(),
        kind: obs.kind,
        instrument_id: obs.instrument_id.clone(),
        status,
        source_published_at: obs.source_published_at,
        scheduled_at: obs.scheduled_at,
        first_observed_at: obs.first_observed_at,
        pair,
        url: announcement_url(obs),
    }
}

/// An announcement's own URL (`details.url`), when it is an http(s) URL.
fn announcement_url(obs: &ListingObservation) -> Option<String> {
    if obs.kind != ObservationKind::CexAnnouncement {
        return None;
    }
    let url = obs.details.get("url").and_then(Value::as_str).map(str::trim)?;
    (url.starts_with("https://") || url.starts_with("http://")).then(|| url.to_string())
}

fn pair_detail(obs: &ListingObservation) -> Value {
    let mut m = Map::new();
    m.insert("pool".into(), Value::String(obs.instrument_id.clone()));
    m.insert("dex".into(), Value::String(obs.venue.clone()));
    if let Some(q) = &obs.quote {
        m.insert("quote".into(), Value::String(q.clone()));
    }
    if let Some(d) = obs.details.as_object() {
        for k in PAIR_KEYS {
            if let Some(v) = d.get(*k).filter(|v| !v.is_null()) {
                m.insert((*k).to_string(), v.clone());
            }
        }
    }
    let details = &obs.details;
    let decimals = [details.get(BASE_DECIMALS_KEY), details.pointer("/token_meta/decimals"), details.get("decimals")];
    if let Some(d) = decimals.into_iter().flatten().find(|v| v.is_u64()) {
        m.insert(BASE_DECIMALS_KEY.into(), d.clone());
    }
    Value::Object(m)
}

/// The `asset.upserted` payload of an observation.
#[must_use]
pub fn normalize(obs: &ListingObservation) -> AssetUpsert {
    let asset_id = asset_of(obs);
    let (chain, address) = match &asset_id {
        AssetId::Chain { chain, address } => (Some(chain.clone()), Some(address.clone())),
        AssetId::Cex { .. } => (None, None),
    };
    let symbol = if obs.symbol.trim().is_empty() { obs.base.clone().unwrap_or_default() } else { obs.symbol.clone() };
    AssetUpsert { asset_id, symbol, name: obs.name.clone(), chain, address, sighting: sighting_of(obs) }
}

/// The deterministic id of an upsert: asset, sighting key (source + instrument) and status.
#[must_use]
pub fn upsert_event_id(up: &AssetUpsert) -> EventId {
    let asset = up.asset_id.to_string();
    let s = &up.sighting;
    EventId::derive(EventType::AssetUpserted, &[&asset, &s.source, &s.instrument_id, s.status.as_deref().unwrap_or_default()])
}

/// The `asset.upserted` envelope of an observation, stamped with the observation's `emitted_at` so a
/// redelivery produces the identical event.
///
/// # Errors
/// `serde_json::Error` if the upsert cannot be encoded (it is plain data, so this does not happen).
pub fn upsert_envelope(obs: &ListingObservation, run_id: &str, config_hash: &str) -> Result<Envelope, serde_json::Error> {
    let up = normalize(obs);
    let meta = serde_json::to_value(&up)?;
    let mut env = Envelope::new(EventType::AssetUpserted, &[], obs.emitted_at, run_id, config_hash, meta)
        .with_asset(up.asset_id.to_string())
        .with_source(up.sighting.source.clone());
    env.event_id = upsert_event_id(&up);
    if !up.symbol.is_empty() {
        env = env.with_symbol(up.symbol.clone());
    }
    if let Some(chain) = up.chain {
        env = env.with_chain(chain);
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn obs(asset: &str, kind: ObservationKind, change: ChangeKind, details: Value) -> ListingObservation {
        let t = chrono::Utc.with_ymd_and_hms(2026, 10, 9, 12, 0, 0).single().expect("ts");
        ListingObservation {
            source: "okx_instruments".into(),
            venue: "okx".into(),
            kind,
            change,
            asset_id: AssetId::parse(asset).expect("asset"),
            symbol: "NEW".into(),
            name: Some("New Coin".into()),
            base: Some("NEW".into()),
            quote: Some("USDT".into()),
            instrument_id: "NEW-USDT".into(),
            status: Some("preopen".into()),
            source_published_at: Some(t),
            scheduled_at: Some(t + chrono::Duration::hours(2)),
            first_observed_at: t,
            emitted_at: t,
            raw_event_id: Some("raw1".into()),
            details,
        }
    }

    #[test]
    fn cex_only_keeps_cex_id_and_null_pair() {
        let o = obs("cex:okx:NEW", ObservationKind::CexInstrument, ChangeKind::New, json!({"market": "spot"}));
        let up = normalize(&o);
        assert_eq!(up.asset_id.to_string(), "cex:okx:NEW");
        assert_eq!((up.chain, up.address), (None, None));
        assert_eq!(up.sighting.status.as_deref(), Some("preopen"));
        assert_eq!(up.sighting.scheduled_at, o.scheduled_at);
        assert_eq!(up.sighting.source_published_at, o.source_published_at);
        assert_eq!(up.sighting.instrument_id, "NEW-USDT");
        assert_eq!(up.sighting.pair, Value::Null);
    }

    #[test]
    fn announcement_carries_its_url_and_other_kinds_none() {
        let url = "https://www.okx.com/help/okx-to-list-new";
        let mut o = obs("cex:okx:NEW", ObservationKind::CexAnnouncement, ChangeKind::New, json!({"announcement_id": url, "url": url}));
        o.instrument_id = format!("{url}:NEW");
        assert_eq!(sighting_of(&o).url.as_deref(), Some(url));
        o.details = json!({"url": "javascript:alert(1)"});
        assert_eq!(sighting_of(&o).url, None, "only http(s) URLs");
        let inst = obs("cex:okx:NEW", ObservationKind::CexInstrument, ChangeKind::New, json!({"url": url}));
        assert_eq!(sighting_of(&inst).url, None);
    }

    #[test]
    fn linked_contract_becomes_chain_id_and_bad_link_is_ignored() {
        let o = obs(
            "cex:kucoin:NEW",
            ObservationKind::CexInstrument,
            ChangeKind::New,
            json!({"chain": "ETH", "contract_address": "0xA1B2C3D4E5F60718293A4B5C6D7E8F9012345678"}),
        );
        let up = normalize(&o);
        assert_eq!(up.asset_id.to_string(), "eth:0xa1b2c3d4e5f60718293a4b5c6d7e8f9012345678");
        assert_eq!(up.chain.as_deref(), Some("eth"));
        assert_eq!(up.address.as_deref(), Some("0xa1b2c3d4e5f60718293a4b5c6d7e8f9012345678"));
        let bad = obs("cex:mexc:NEW", ObservationKind::CexInstrument, ChangeKind::New, json!({"chain": "eth", "contract_address": "xtokens"}));
        assert_eq!(normalize(&bad).asset_id.to_string(), "cex:mexc:NEW");
    }

    #[test]
    fn dex_pool_carries_pair_detail() {
        let mut o = obs(
            "solana:3Y1SCEJABneLzJ1KL7f6jp5NyP7wxjtqmAy5qKAVpump",
            ObservationKind::DexPool,
            ChangeKind::New,
            json!({"dex": "pumpswap", "pool": "FVZqEg9dYKqRXUmswwtBRPSaneoV6guujtCvLrDyt6qi", "quote_token": "So11111111111111111111111111111111111111112", "url": null, "snapshot": {"big": true}}),
        );
        o.venue = "pumpswap".into();
        o.instrument_id = "FVZqEg9dYKqRXUmswwtBRPSaneoV6guujtCvLrDyt6qi".into();
        let up = normalize(&o);
        assert_eq!(up.chain.as_deref(), Some("solana"));
        assert_eq!(up.sighting.pair["pool"], "FVZqEg9dYKqRXUmswwtBRPSaneoV6guujtCvLrDyt6qi");
        assert_eq!(up.sighting.pair["dex"], "pumpswap");
        assert_eq!(up.sighting.pair["quote_token"], "So11111111111111111111111111111111111111112");
        assert!(up.sighting.pair.get("url").is_none(), "null keys are not copied");
        assert!(up.sighting.pair.get("snapshot").is_none(), "market data is not pair detail");
        assert!(up.sighting.pair.get(BASE_DECIMALS_KEY).is_none(), "no decimals given, none made up");
    }

    #[test]
    fn base_token_decimals_come_from_whichever_source_gives_them() {
        let asset = "eth:0xa1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
        for (details, want) in [
            (json!({"base_decimals": 9}), Some(9)),
            (json!({"token_meta": {"decimals": 18, "flags": []}}), Some(18)),
            (json!({"decimals": 6, "slot": 1}), Some(6)),
            (json!({"token_meta": {"decimals": null, "flags": ["decimals_reverted"]}}), None),
        ] {
            let up = normalize(&obs(asset, ObservationKind::DexPool, ChangeKind::New, details.clone()));
            assert_eq!(up.sighting.pair.get(BASE_DECIMALS_KEY).and_then(Value::as_u64), want, "{details}");
        }
    }

    #[test]
    fn retraction_is_an_upsert_with_retracted_status_and_its_own_id() {
        let o = obs("cex:okx:NEW", ObservationKind::CexInstrument, ChangeKind::New, Value::Null);
        let r = ListingObservation { change: ChangeKind::Retracted, ..o.clone() };
        let (a, b) = (normalize(&o), normalize(&r));
        assert_eq!(b.sighting.status.as_deref(), Some(RETRACTED));
        assert_ne!(upsert_event_id(&a), upsert_event_id(&b));
    }

    #[test]
    fn envelope_id_is_deterministic() {
        let o = obs("cex:okx:NEW", ObservationKind::CexInstrument, ChangeKind::New, Value::Null);
        let a = upsert_envelope(&o, "run", "hash").expect("env");
        let b = upsert_envelope(&o, "run", "hash").expect("env");
        assert_eq!(a, b);
        assert_eq!(a.kind, EventType::AssetUpserted);
        assert_eq!(a.event_id, upsert_event_id(&normalize(&o)));
        assert_eq!(a.symbol.as_deref(), Some("NEW"));
        let back: AssetUpsert = serde_json::from_value(a.meta).expect("meta is an AssetUpsert");
        assert_eq!(back, normalize(&o));
    }
}
