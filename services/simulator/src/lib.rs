//! Simulated venues on `127.0.0.1:0` whose listings appear over time, for `nl demo` and end-to-end tests.
//!
//! One loopback HTTP server answers every venue's paths (they do not collide), so each source's
//! `base_url` is [`Simulator::base_url`]:
//!
//! * CEX instrument lists: OKX `/api/v5/public/instruments`, Binance `/api/v3/exchangeInfo`,
//!   Gate `/api/v4/spot/currency_pairs` (with `/api/v4/spot/currencies/{currency}`: native coins, except a
//!   BSC token contract on even ticks from 2); the OKX announcement feed `/api/v5/support/announcements`;
//! * DEX: GeckoTerminal `/networks/{network}/new_pools` (20 pools a page, pages 1 to 10), DexScreener `/token-profiles/latest/v1` and
//!   `/tokens/v1/{chain}/{addresses}`;
//! * risk providers: GoPlus `/api/v1/token_security/{chain}`, honeypot.is `/v2/IsHoneypot`, rugcheck
//!   `/v1/tokens/{mint}/report`.
//!
//! Payloads are the real-shaped recordings from the adapters' `test_data` and the gate's golden scenarios,
//! templated with the simulated instruments and tokens ([`world`]). [`Simulator::advance`] moves to the next
//! tick: every venue lists one more instrument, and two more pools appear on-chain (one clean token, one
//! honeypot).
#![forbid(unsafe_code)]

pub mod routes;
pub mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

pub use world::{TokenKind, World};

/// The running simulator; the server stops when this is dropped.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    world: Arc<Mutex<World>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Simulator {
    /// Binds `127.0.0.1:0` and serves tick 0 (the venues' recorded lists and the first pools).
    ///
    /// # Errors
    /// The bind error, or a recorded payload that no longer parses.
    pub async fn start() -> anyhow::Result<Self> {
        let world = Arc::new(Mutex::new(World::new()?));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = routes::router(Arc::clone(&world));
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "Simulator stopped.");
            }
        });
        Ok(Self { addr, world, task })
    }

    /// `http://127.0.0.1:<port>`: the `base_url` of every simulated venue and provider.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Moves to the next tick: new instruments on every venue, a new announcement, two new pools.
    /// Returns the new tick number.
    pub fn advance(&self) -> u32 {
        self.advance_by(1)
    }

    /// Moves `n` ticks on at once (see [`Simulator::advance`]); returns the new tick number.
    pub fn advance_by(&self, n: u32) -> u32 {
        let mut w = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        w.tick += n;
        w.tick
    }

    /// Pools listed that no GeckoTerminal `new_pools` page served yet ([`World::pools_unserved`]).
    #[must_use]
    pub fn pools_unserved(&self) -> u64 {
        self.world.lock().unwrap_or_else(PoisonError::into_inner).pools_unserved()
    }

    /// Names the `kind` token of tick `t` `name` on the venues that report names (see [`World::rename`]).
    pub fn rename(&self, t: u32, kind: TokenKind, name: &str) {
        self.world.lock().unwrap_or_else(PoisonError::into_inner).rename(t, kind, name);
    }

    /// The current tick.
    #[must_use]
    pub fn tick(&self) -> u32 {
        self.world.lock().unwrap_or_else(PoisonError::into_inner).tick
    }

    /// Requests served so far (all routes).
    #[must_use]
    pub fn hits(&self) -> u64 {
        self.world.lock().unwrap_or_else(PoisonError::into_inner).hits
    }
}
