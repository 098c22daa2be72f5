//! DexScreener clients against a loopback axum mock: the profiles source records its first poll as known
//! (the list carries no time, so nothing in it is within the lookback) and reports each later token once
//! across polls, and pair lookups go out in batches of at most 30 addresses with every response kept raw.
#![allow(clippy::unwrap_used)]

use crate::dex_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use dex_support::{Harness, meta};
use nl_adapters::dex::config::{DexScreenerConfig, per_minute_budget};
use nl_adapters::dex::dexscreener::client::{DexScreenerClient, ProfilesSource, ProfilesVariant};

const PROFILES: &str = include_str!("../../../shared/adapters/src/dex/dexscreener/test_data/http_get_token_profiles_latest.json");
const TOKENS_V1: &str = include_str!("../../../shared/adapters/src/dex/dexscreener/test_data/http_get_tokens_v1.json");

type Seen = Arc<Mutex<Vec<String>>>;

/// The token the recorded profiles list names that the first poll does not see yet.
const LATER: &str = "3Y1SCEJABneLzJ1KL7f6jp5NyP7wxjtqmAy5qKAVpump";

/// The recorded profiles; the first answer lacks [`LATER`].
fn profiles(call: usize) -> String {
    let mut v: serde_json::Value = serde_json::from_str(PROFILES).unwrap();
    if call == 0 {
        v.as_array_mut().unwrap().retain(|p| p["tokenAddress"] != LATER);
    }
    v.to_string()
}

async fn start(seen: Seen) -> String {
    start_with(seen, StatusCode::OK).await
}

/// The mock; token lookups answer `tokens` (the recorded body when OK, an error otherwise).
async fn start_with(seen: Seen, tokens: StatusCode) -> String {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .route("/token-profiles/latest/v1", get(move || async move { profiles(calls.fetch_add(1, Ordering::SeqCst)) }))
        .route(
            "/tokens/v1/{chain}/{addrs}",
            get(move |State(s): State<Seen>, Path((chain, addrs)): Path<(String, String)>| async move {
                s.lock().unwrap().push(format!("{chain}/{addrs}"));
                (tokens, if tokens == StatusCode::OK { TOKENS_V1 } else { "{\"error\":\"not found\"}" })
            }),
        )
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn cfg(url: &str) -> DexScreenerConfig {
    DexScreenerConfig { base_url: url.to_string(), profiles_calls_per_min: 6_000.0, pairs_calls_per_min: 6_000.0, ..DexScreenerConfig::default() }
}

#[tokio::test]
async fn first_poll_is_known_then_profiles_are_reported_once_with_a_name() {
    let lookups = Seen::default();
    let url = start(Arc::clone(&lookups)).await;
    let budget = per_minute_budget(6_000.0).unwrap();
    let src = Arc::new(ProfilesSource::from_config(&cfg(&url), ProfilesVariant::Profiles, budget, "run").unwrap());
    let h = Harness::new();
    h.poll(src.clone()).await;
    assert!(h.bus.observed().is_empty(), "undated items on the first poll are known, not new");
    h.poll(src.clone()).await;
    let observed = h.bus.observed();
    assert_eq!(observed.len(), 1, "only the token that appeared after the first poll");
    assert_eq!(meta(&observed[0])["asset_id"], format!("solana:{LATER}"));
    assert_eq!(meta(&observed[0])["kind"], "token_profile");
    // An address-only sighting is named by a token lookup before it is published.
    assert_eq!(*lookups.lock().unwrap(), [format!("solana/{LATER}")]);
    assert_eq!((meta(&observed[0])["symbol"].as_str(), observed[0]["symbol"].as_str()), (Some("STONK"), Some("STONK")));
    assert!(meta(&observed[0])["details"].get("metadata_missing").is_none());
    h.poll(src).await;
    assert_eq!(h.bus.observed().len(), 1, "no repeats");
    assert_eq!(lookups.lock().unwrap().len(), 1, "known tokens are not looked up again");
    assert_eq!(h.bus.raws("dexscreener_profiles").len(), 4, "three lists and the lookup, kept raw");
}

#[tokio::test]
async fn a_failed_name_lookup_marks_the_sighting_metadata_missing() {
    let url = start_with(Seen::default(), StatusCode::NOT_FOUND).await;
    let budget = per_minute_budget(6_000.0).unwrap();
    let src = Arc::new(ProfilesSource::from_config(&cfg(&url), ProfilesVariant::Profiles, budget, "run").unwrap());
    let h = Harness::new();
    h.poll(src.clone()).await;
    let report = h.poll(src).await;
    assert_eq!(report.errors.iter().filter(|e| e.contains("fetch failed: HTTP 404")).count(), 1, "the failed lookup is reported: {report:?}");
    let observed = h.bus.observed();
    assert_eq!(observed.len(), 1);
    assert_eq!(meta(&observed[0])["details"]["metadata_missing"], true);
    let raws = h.bus.raws("dexscreener_profiles");
    assert!(raws.iter().any(|r| r["meta"]["http_status"] == 404 && r["meta"]["parse_error"].is_string()), "the 404 is kept with its error");
}

#[tokio::test]
async fn pair_lookups_are_batched_by_thirty() {
    let seen = Seen::default();
    let url = start(Arc::clone(&seen)).await;
    let client = DexScreenerClient::from_config(&cfg(&url), "run").unwrap();
    let addrs: Vec<String> = (0..31).map(|i| format!("0x{i:040x}")).collect();
    let out = client.fetch_pairs_for_tokens("eth", &addrs).await;
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.starts_with("ethereum/")), "our `eth` is DexScreener's `ethereum`: {calls:?}");
    assert_eq!(calls[0].split(',').count(), 30);
    assert_eq!(calls[1].split(',').count(), 1);
    assert_eq!(out.raws.len(), 2);
    assert!(!out.pools.is_empty());
    assert!(out.raws[0].parse_error.is_some(), "the fixture's malformed item is recorded on the raw");
}
