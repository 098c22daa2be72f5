//! The simulator's HTTP routes: each venue's and provider's path, answered from the [`World`] at its
//! current tick. Query strings are ignored except where they select the answer (page, address).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use crate::world::World;

type Shared = Arc<Mutex<World>>;
type Q = Query<HashMap<String, String>>;

fn world(s: &Shared) -> MutexGuard<'_, World> {
    // Every update is a counter increment or a tick bump, consistent even after a panicking holder.
    let mut w = s.lock().unwrap_or_else(PoisonError::into_inner);
    w.hits += 1;
    w
}

fn json(v: &Value) -> Response {
    ([("content-type", "application/json")], v.to_string()).into_response()
}

fn body_or_404(body: Option<String>) -> Response {
    match body {
        Some(b) => ([("content-type", "application/json")], b).into_response(),
        None => (StatusCode::NOT_FOUND, "unknown token").into_response(),
    }
}

/// Every route of the simulator.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/v5/public/instruments", get(|State(s): State<Shared>| async move { json(&world(&s).okx_instruments()) }))
        .route("/api/v5/support/announcements", get(|State(s): State<Shared>| async move { json(&world(&s).okx_announcements()) }))
        .route("/api/v3/exchangeInfo", get(|State(s): State<Shared>| async move { json(&world(&s).binance_exchange_info()) }))
        .route("/api/v4/spot/currency_pairs", get(|State(s): State<Shared>| async move { json(&world(&s).gate_pairs()) }))
        .route(
            "/api/v5/market/ticker",
            get(|State(s): State<Shared>, Query(q): Q| async move { json(&world(&s).okx_ticker(q.get("instId").map_or("", String::as_str))) }),
        )
        .route(
            "/api/v4/spot/tickers",
            get(|State(s): State<Shared>, Query(q): Q| async move {
                match world(&s).gate_ticker(q.get("currency_pair").map_or("", String::as_str)) {
                    Some(v) => json(&v),
                    None => (StatusCode::BAD_REQUEST, json(&serde_json::json!({"label": "INVALID_CURRENCY_PAIR", "message": "Invalid currency pair"}))).into_response(),
                }
            }),
        )
        .route(
            "/api/v4/spot/currencies/{currency}",
            get(|State(s): State<Shared>, Path(currency): Path<String>| async move {
                body_or_404(world(&s).gate_currency(&currency).map(|v| v.to_string()))
            }),
        )
        .route(
            "/networks/{network}/new_pools",
            get(|State(s): State<Shared>, Path(network): Path<String>, Query(q): Q| async move {
                let page = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let mut w = world(&s);
                w.served_new_pools(&network, page);
                json(&w.new_pools(&network, page))
            }),
        )
        .route("/token-profiles/latest/v1", get(|State(s): State<Shared>| async move { json(&world(&s).token_profiles()) }))
        .route("/token-boosts/latest/v1", get(|State(s): State<Shared>| async move { json(&Value::Array(world(&s).token_profiles().as_array().cloned().unwrap_or_default())) }))
        .route(
            "/tokens/v1/{chain}/{addresses}",
            get(|State(s): State<Shared>, Path((_chain, addresses)): Path<(String, String)>| async move { json(&world(&s).token_pairs(&addresses)) }),
        )
        .route(
            "/api/v1/token_security/{chain}",
            get(|State(s): State<Shared>, Path(_chain): Path<String>, Query(q): Q| async move {
                body_or_404(world(&s).goplus(q.get("contract_addresses").map_or("", String::as_str)))
            }),
        )
        .route("/v2/IsHoneypot", get(|State(s): State<Shared>, Query(q): Q| async move { body_or_404(world(&s).honeypot_is(q.get("address").map_or("", String::as_str))) }))
        .route(
            "/v1/tokens/{mint}/report",
            get(|State(s): State<Shared>, Path(_mint): Path<String>| async move { ([("content-type", "application/json")], world(&s).rugcheck()).into_response() }),
        )
        .with_state(state)
}
