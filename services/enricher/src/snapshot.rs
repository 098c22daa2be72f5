//! Pure construction of market snapshots: from pool data carried by an observation (GeckoTerminal), from
//! DexScreener pairs (best pool by liquidity), or for CEX listings (age, and the values of the pair's ticker,
//! set by [`apply_ticker`]). Missing values stay `None`
//! (NULL), never 0; decimals come through exactly as the source parsers produced them.

use std::cmp::Ordering;

use nl_adapters::cex::Ticker;
use nl_adapters::cex::ticker_client::TickerRef;
use nl_adapters::dex::DexPool;
use nl_domain::{AssetId, DomainError, Envelope, EventId, EventType, ListingObservation, Snapshot, Ts};

/// `source` of snapshots built from DexScreener pairs.
pub const DEXSCREENER: &str = "dexscreener";
/// `source` of snapshots of CEX listings (age, and ticker values where the venue's ticker answered).
pub const CEX: &str = "enricher_cex";
/// `source` of the snapshot of an on-chain asset no source had market data for (see [`no_data_snapshot`]).
pub const NO_DATA: &str = "enricher";

/// The deterministic id of a snapshot: asset, observation time (ms) and source. A redelivered input
/// re-derives the same snapshot time and therefore the same id.
#[must_use]
pub fn snapshot_event_id(s: &Snapshot) -> EventId {
    let at = s.observed_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    EventId::derive(EventType::SnapshotRecorded, &[&s.asset_id.to_string(), &at, &s.source])
}

/// The `snapshot.recorded` envelope of `s`, stamped with its observation time.
///
/// # Errors
/// `serde_json::Error` if the snapshot cannot be encoded (it is plain data, so this does not happen).
pub fn snapshot_envelope(s: &Snapshot, symbol: Option<&str>, run_id: &str, config_hash: &str) -> Result<Envelope, serde_json::Error> {
    let meta = serde_json::to_value(s)?;
    let mut env = Envelope::new(EventType::SnapshotRecorded, &[], s.observed_at, run_id, config_hash, meta)
        .with_asset(s.asset_id.to_string())
        .with_source(s.source.clone());
    env.event_id = snapshot_event_id(s);
    if let Some(sym) = symbol.filter(|s| !s.is_empty()) {
        env = env.with_symbol(sym);
    }
    if let Some(chain) = s.asset_id.chain_slug() {
        env = env.with_chain(chain);
    }
    Ok(env)
}

/// The snapshot an observation already carries (`details.snapshot`, set by the GeckoTerminal source from
/// the pool's own market data), when it is a valid snapshot of `asset`.
#[must_use]
pub fn carried_snapshot(obs: &ListingObservation, asset: &AssetId) -> Option<Snapshot> {
    let v = obs.details.get("snapshot").filter(|v| v.is_object())?;
    let s: Snapshot = serde_json::from_value(v.clone()).ok()?;
    (&s.asset_id == asset).then_some(s)
}

/// An age-only snapshot of a CEX listing at `observed_at`: minutes since the scheduled trading start (or,
/// without one, the source's publication time). Negative before trading starts. `None` when the
/// observation gives neither time. No market value is invented.
#[must_use]
pub fn cex_age_snapshot(obs: &ListingObservation, asset: &AssetId, observed_at: Ts) -> Option<Snapshot> {
    let age = listed_age(obs, observed_at)?;
    Some(cex_snapshot(asset, observed_at, Some(age), obs.raw_event_id.clone()))
}

/// Minutes from the observation's scheduled trading start (or, without one, its publication time) to `at`.
fn listed_age(obs: &ListingObservation, at: Ts) -> Option<i64> {
    obs.scheduled_at.or(obs.source_published_at).map(|listed| (at - listed).num_minutes())
}

/// A CEX listing snapshot with only its age: every market value NULL until a ticker fills price and volume
/// (FDV, liquidity and holders are never known for a CEX pair).
#[must_use]
pub fn cex_snapshot(asset: &AssetId, observed_at: Ts, age_minutes: Option<i64>, raw_event_id: Option<String>) -> Snapshot {
    blank_snapshot(CEX, asset, observed_at, age_minutes, raw_event_id)
}

/// The snapshot of an observation nothing gave market data for (no pool carried, no pair found or the
/// lookup failed, no ticker for the venue): every value NULL, the age from the observation's times when it
/// has them. It is published all the same, so the asset is evaluated with its facts unknown and the gate
/// rejects it with `NO_MARKET_DATA` until data arrives. CEX assets keep their source, [`CEX`]; on-chain
/// ones get [`NO_DATA`].
#[must_use]
pub fn no_data_snapshot(obs: &ListingObservation, asset: &AssetId) -> Snapshot {
    let source = if matches!(asset, AssetId::Cex { .. }) { CEX } else { NO_DATA };
    blank_snapshot(source, asset, obs.emitted_at, listed_age(obs, obs.emitted_at), obs.raw_event_id.clone())
}

/// The snapshot of a deferred launch (see `enrich_after_secs`) that still has no pool when its first
/// enrichment is due: market values unknown, so it is evaluated (and rejected `NO_MARKET_DATA`) all the same.
#[must_use]
pub fn unpooled_snapshot(asset: &AssetId, observed_at: Ts, age_minutes: Option<i64>) -> Snapshot {
    blank_snapshot(NO_DATA, asset, observed_at, age_minutes, None)
}

fn blank_snapshot(source: &str, asset: &AssetId, observed_at: Ts, age_minutes: Option<i64>, raw_event_id: Option<String>) -> Snapshot {
    Snapshot {
        asset_id: asset.clone(),
        observed_at,
        source: source.to_string(),
        price_usd: None,
        fdv_usd: None,
        market_cap_usd: None,
        liquidity_usd: None,
        volume_24h_usd: None,
        holders: None,
        age_minutes,
        raw_event_id,
    }
}

/// The pool to snapshot `asset` from: among pools whose *base* token is the asset (a quote-side pool's
/// price is not the asset's), the one with the most USD liquidity; pools with a known liquidity beat
/// pools without; ties go to 24 h volume, then to the pool address (so the choice is deterministic).
#[must_use]
pub fn best_pool<'a>(pools: &'a [DexPool], asset: &AssetId) -> Option<&'a DexPool> {
    pools.iter().filter(|p| p.base_asset().is_ok_and(|a| &a == asset)).max_by(|a, b| rank(a, b))
}

fn rank(a: &DexPool, b: &DexPool) -> Ordering {
    a.liquidity_usd.cmp(&b.liquidity_usd).then(a.volume_24h_usd.cmp(&b.volume_24h_usd)).then_with(|| b.pool_address.cmp(&a.pool_address))
}

/// A DexScreener snapshot of `pool` at `observed_at`, pointing at the raw response it was parsed from.
/// When the pair has no creation time, the age falls back to `born` (e.g. the block time of the
/// observation), else stays `None`.
///
/// # Errors
/// `DomainError::AssetId` when the pool's base token is malformed for its chain.
pub fn pool_snapshot(pool: &DexPool, observed_at: Ts, raw_event_id: Option<String>, born: Option<Ts>) -> Result<Snapshot, DomainError> {
    let mut s = pool.to_snapshot(DEXSCREENER, observed_at, raw_event_id)?;
    if s.age_minutes.is_none() {
        s.age_minutes = born.map(|b| (observed_at - b).num_minutes());
    }
    Ok(s)
}

/// Sets `s`'s price and 24 h volume from `ticker` when the pair is USD-quoted (else they stay NULL), and
/// points the snapshot at the ticker's capture.
pub fn apply_ticker(s: &mut Snapshot, pair: &TickerRef, ticker: &Ticker, raw_event_id: Option<String>) {
    if pair.usd_quoted() {
        s.price_usd = ticker.last;
        s.volume_24h_usd = ticker.quote_volume_24h;
    }
    if raw_event_id.is_some() {
        s.raw_event_id = raw_event_id;
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use chrono::TimeZone;
    use nl_adapters::dex::dexscreener::parse_pairs;
    use nl_domain::{ChangeKind, Decimal, ObservationKind};

    const PAIRS: &str = include_str!("../../../shared/adapters/src/dex/dexscreener/test_data/http_get_latest_dex_pairs.json");
    const TOKENS_V1: &str = include_str!("../../../shared/adapters/src/dex/dexscreener/test_data/http_get_tokens_v1.json");
    const STONK: &str = "solana:3Y1SCEJABneLzJ1KL7f6jp5NyP7wxjtqmAy5qKAVpump";

    fn all_pools() -> Vec<DexPool> {
        let mut v = parse_pairs(PAIRS).expect("pairs").pools;
        v.extend(parse_pairs(TOKENS_V1).expect("tokens").pools);
        v
    }

    fn at() -> Ts {
        chrono::Utc.with_ymd_and_hms(2026, 10, 10, 0, 0, 0).single().expect("ts")
    }

    #[test]
    fn best_pool_prefers_known_liquidity_and_only_base_side() {
        let pools = all_pools();
        let asset = AssetId::parse(STONK).expect("id");
        let best = best_pool(&pools, &asset).expect("a pool");
        assert_eq!(best.dex.as_deref(), Some("pumpswap"), "the pool with liquidity beats the bonding curve");
        let sol = AssetId::parse("solana:So11111111111111111111111111111111111111112").expect("id");
        assert!(best_pool(&pools, &sol).is_none(), "quote-side pools are not used");
    }

    #[test]
    fn pool_snapshot_is_exact_and_keeps_missing_as_none() {
        let pools = all_pools();
        let stonk = best_pool(&pools, &AssetId::parse(STONK).expect("id")).expect("pool");
        let s = pool_snapshot(stonk, at(), Some("raw".into()), None).expect("snap");
        assert_eq!(s.price_usd, Some(Decimal::from_str("0.0003798").expect("d")));
        assert_eq!(s.liquidity_usd, Some(Decimal::from_str("52239.46").expect("d")));
        assert_eq!(s.volume_24h_usd, Some(Decimal::from_str("24660.15").expect("d")));
        assert_eq!(s.fdv_usd, Some(Decimal::from(379_813)));
        assert_eq!(s.market_cap_usd, Some(Decimal::from(379_813)));
        assert_eq!(s.holders, None);
        assert_eq!(s.source, DEXSCREENER);
        let kys = AssetId::parse("solana:DppWLLeBgn49Poy15Jqq8vewEEtSrMBQNzKKzYgZpump").expect("id");
        let k = pool_snapshot(best_pool(&pools, &kys).expect("pool"), at(), None, None).expect("snap");
        assert_eq!(k.liquidity_usd, None, "missing liquidity is NULL, never 0");
        assert_eq!(k.price_usd, Some(Decimal::from_str("0.000007690").expect("d")));
        let new = AssetId::parse("eth:0xa1b2c3d4e5f60718293a4b5c6d7e8f9012345678").expect("id");
        let n = pool_snapshot(best_pool(&pools, &new).expect("pool"), at(), None, None).expect("snap");
        assert_eq!((n.liquidity_usd, n.market_cap_usd), (None, None));
    }

    #[test]
    fn age_falls_back_to_born_when_pair_has_no_creation_time() {
        let pools = parse_pairs(TOKENS_V1).expect("tokens").pools;
        let meteora = pools.iter().find(|p| p.dex.as_deref() == Some("meteoradbc")).expect("pool");
        let s = pool_snapshot(meteora, at(), None, Some(at() - chrono::Duration::minutes(7))).expect("snap");
        assert_eq!(s.age_minutes, Some(7));
        assert_eq!(s.price_usd, None);
    }

    #[test]
    fn snapshot_id_depends_on_asset_time_and_source_only() {
        let pools = all_pools();
        let stonk = best_pool(&pools, &AssetId::parse(STONK).expect("id")).expect("pool");
        let a = pool_snapshot(stonk, at(), Some("raw1".into()), None).expect("snap");
        let b = pool_snapshot(stonk, at(), Some("raw2".into()), None).expect("snap");
        let c = pool_snapshot(stonk, at() + chrono::Duration::seconds(60), None, None).expect("snap");
        assert_eq!(snapshot_event_id(&a), snapshot_event_id(&b));
        assert_ne!(snapshot_event_id(&a), snapshot_event_id(&c));
        let env = snapshot_envelope(&a, Some("STONK"), "run", "hash").expect("env");
        assert_eq!(env.chain.as_deref(), Some("solana"));
        assert_eq!(serde_json::from_value::<Snapshot>(env.meta).expect("meta"), a);
    }

    #[test]
    fn cex_age_snapshot_has_only_age() {
        let t = at();
        let obs = ListingObservation {
            source: "okx_instruments".into(),
            venue: "okx".into(),
            kind: ObservationKind::CexInstrument,
            change: ChangeKind::New,
            asset_id: AssetId::parse("cex:okx:NEW").expect("id"),
            symbol: "NEW".into(),
            name: None,
            base: None,
            quote: None,
            instrument_id: "NEW-USDT".into(),
            status: None,
            source_published_at: Some(t - chrono::Duration::minutes(90)),
            scheduled_at: Some(t - chrono::Duration::minutes(30)),
            first_observed_at: t,
            emitted_at: t,
            raw_event_id: None,
            details: serde_json::Value::Null,
        };
        let s = cex_age_snapshot(&obs, &obs.asset_id, t).expect("snap");
        assert_eq!(s.age_minutes, Some(30), "scheduled start wins over publication time");
        assert!(s.price_usd.is_none() && s.liquidity_usd.is_none() && s.volume_24h_usd.is_none() && s.holders.is_none());
        let none = ListingObservation { scheduled_at: None, source_published_at: None, ..obs };
        assert!(cex_age_snapshot(&none, &none.asset_id, t).is_none());
    }

    #[test]
    fn no_data_snapshot_has_every_market_value_null() {
        let t = at();
        let obs = ListingObservation {
            source: "binance_spot".into(),
            venue: "binance".into(),
            kind: ObservationKind::CexInstrument,
            change: ChangeKind::New,
            asset_id: AssetId::parse("cex:binance:NEW").expect("id"),
            symbol: "NEW".into(),
            name: None,
            base: None,
            quote: None,
            instrument_id: "NEWUSDT".into(),
            status: None,
            source_published_at: None,
            scheduled_at: None,
            first_observed_at: t,
            emitted_at: t,
            raw_event_id: Some("raw".into()),
            details: serde_json::Value::Null,
        };
        let s = no_data_snapshot(&obs, &obs.asset_id);
        assert_eq!((s.source.as_str(), s.age_minutes, s.observed_at, s.raw_event_id.as_deref()), (CEX, None, t, Some("raw")));
        assert!(s.price_usd.is_none() && s.fdv_usd.is_none() && s.market_cap_usd.is_none() && s.liquidity_usd.is_none());
        assert!(s.volume_24h_usd.is_none() && s.holders.is_none());
        let linked = AssetId::parse("bsc:0x00000000000000000000000000006a7e00000002").expect("id");
        let published = ListingObservation { source_published_at: Some(t - chrono::Duration::minutes(45)), ..obs };
        let s = no_data_snapshot(&published, &linked);
        assert_eq!((s.source.as_str(), s.age_minutes), (NO_DATA, Some(45)), "a linked listing's age comes from its announcement");
    }

    #[test]
    fn only_usd_quotes_give_usd_values() {
        let t = Ticker { instrument_id: None, last: Decimal::from_str("0.4187").ok(), quote_volume_24h: Decimal::from_str("5841232.918347").ok() };
        let usdt = TickerRef { venue: "okx".into(), instrument_id: "NEWT-USDT".into(), quote: "USDT".into() };
        let blank = || Snapshot {
            asset_id: AssetId::cex("okx", "NEWT").expect("id"),
            observed_at: at(),
            source: "enricher_cex".into(),
            price_usd: None,
            fdv_usd: None,
            market_cap_usd: None,
            liquidity_usd: None,
            volume_24h_usd: None,
            holders: None,
            age_minutes: None,
            raw_event_id: Some("obs-raw".into()),
        };
        let mut usd = blank();
        apply_ticker(&mut usd, &usdt, &t, Some("ticker-raw".into()));
        assert_eq!((usd.price_usd, usd.volume_24h_usd), (t.last, t.quote_volume_24h));
        assert_eq!(usd.raw_event_id.as_deref(), Some("ticker-raw"));
        let btc = TickerRef { quote: "BTC".into(), ..usdt };
        let mut not_usd = blank();
        apply_ticker(&mut not_usd, &btc, &t, None);
        assert_eq!((not_usd.price_usd, not_usd.volume_24h_usd), (None, None), "a BTC price is not converted");
        assert_eq!(not_usd.raw_event_id.as_deref(), Some("obs-raw"));
    }
}
