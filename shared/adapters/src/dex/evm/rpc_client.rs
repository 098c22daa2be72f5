//! [`RpcClient`]: JSON-RPC over the budgeted [`HttpSource`]. Every response (error bodies included)
//! becomes a [`RawEvent`]; a body that does not parse, or carries a JSON-RPC error object, is kept with
//! that error in `parse_error`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use nl_domain::RawEvent;
use crate::kit::{FetchError, HttpSource};
use serde_json::Value;

use super::erc20::{CallOutcome, TokenMeta, metadata_requests, token_meta};
use super::error::RpcError;
use super::rpc::{
    BlockTag, JsonRpcResponse, LogFilter, RpcBlockHeader, RpcErrorClass, RpcLog, block_number_request, get_block_by_number_request,
    get_logs_request, parse_block_header, parse_block_number, parse_get_logs, to_quantity,
};
use crate::dex::client_util::{keep_error_response, keep_retried, raw_from};

/// A failed JSON-RPC exchange.
#[derive(Debug, thiserror::Error)]
pub enum RpcCallError {
    /// No usable HTTP response (transport, 5xx after retries, 429).
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The body was malformed or an error object.
    #[error("{0}")]
    Rpc(#[from] RpcError),
}

impl RpcCallError {
    /// The JSON-RPC error class, when the node answered with an error object.
    #[must_use]
    pub fn class(&self) -> Option<RpcErrorClass> {
        match self {
            Self::Rpc(e) => e.class(),
            Self::Fetch(_) => None,
        }
    }
}

/// JSON-RPC client of one chain.
#[derive(Debug)]
pub struct RpcClient {
    http: HttpSource,
    source: String,
    run_id: String,
    next_id: AtomicU64,
}

impl RpcClient {
    /// Wraps `http` (whose base URL is the RPC endpoint); raws are attributed to `source`.
    #[must_use]
    pub fn new(http: HttpSource, source: &str, run_id: &str) -> Self {
        Self { http, source: source.to_string(), run_id: run_id.to_string(), next_id: AtomicU64::new(1) }
    }

    /// The HTTP client (budget, stats).
    #[must_use]
    pub fn http(&self) -> &HttpSource {
        &self.http
    }

    pub(crate) fn id(&self, n: u64) -> u64 {
        self.next_id.fetch_add(n, Ordering::Relaxed)
    }

    /// Posts `body`, keeps the response as a raw labelled `label`, and parses it with `parse`.
    pub(crate) async fn exchange<T>(
        &self,
        body: &Value,
        weight: u32,
        label: &str,
        raws: &mut Vec<RawEvent>,
        parse: impl FnOnce(&str) -> Result<T, RpcError>,
    ) -> Result<T, RpcCallError> {
        let suffix = format!("#{label}");
        let fetched = match self.http.post_json("", body, weight).await {
            Ok(f) => {
                keep_retried(raws, &f.retried, &self.source, &self.run_id, &suffix);
                f
            }
            Err(e) => {
                keep_error_response(raws, &e, &self.source, &self.run_id, &suffix);
                return Err(e.into());
            }
        };
        let mut raw = raw_from(&fetched, &self.source, &self.run_id, &suffix);
        let parsed = parse(&fetched.body);
        if let Err(e) = &parsed {
            raw.parse_error = Some(e.to_string());
        }
        raws.push(raw);
        Ok(parsed?)
    }

    /// `eth_blockNumber`.
    ///
    /// # Errors
    /// [`RpcCallError`] on transport failure, an error object or a malformed quantity.
    pub async fn block_number(&self, raws: &mut Vec<RawEvent>) -> Result<u64, RpcCallError> {
        self.exchange(&block_number_request(self.id(1)), 1, "eth_blockNumber", raws, parse_block_number).await
    }

    /// `eth_getBlockByNumber(n, false)`; `None` when the node does not know the block.
    ///
    /// # Errors
    /// As [`block_number`](Self::block_number).
    pub async fn header(&self, n: u64, raws: &mut Vec<RawEvent>) -> Result<Option<RpcBlockHeader>, RpcCallError> {
        let label = format!("eth_getBlockByNumber({})", to_quantity(n));
        self.exchange(&get_block_by_number_request(self.id(1), BlockTag::Number(n)), 1, &label, raws, parse_block_header).await
    }

    /// `eth_getLogs` over `[from, to]` (inclusive).
    ///
    /// # Errors
    /// As [`block_number`](Self::block_number); a provider range cap classifies as
    /// [`RpcErrorClass::RangeTooLarge`].
    pub async fn get_logs(&self, filter: &LogFilter, from: u64, to: u64, raws: &mut Vec<RawEvent>) -> Result<(Vec<RpcLog>, String), RpcCallError> {
        let label = format!("eth_getLogs({}..{})", to_quantity(from), to_quantity(to));
        let req = get_logs_request(self.id(1), filter, BlockTag::Number(from), BlockTag::Number(to));
        let logs = self.exchange(&req, 1, &label, raws, parse_get_logs).await?;
        let raw_id = raws.last().map(|r| r.raw_id.clone()).unwrap_or_default();
        Ok((logs, raw_id))
    }

    /// ERC-20 `name`, `symbol`, `decimals`, `totalSupply` of `token` in one JSON-RPC batch. Reverts and
    /// odd encodings become flags in the result; only a failed exchange is an error.
    ///
    /// # Errors
    /// [`RpcCallError`] when the batch could not be exchanged or the reply is not a batch.
    pub async fn token_meta(&self, token: &str, raws: &mut Vec<RawEvent>) -> Result<TokenMeta, RpcCallError> {
        let first = self.id(4);
        let body = Value::Array(metadata_requests(first, token, BlockTag::Latest).to_vec());
        let label = format!("erc20_metadata({token})");
        let replies = self.exchange(&body, 4, &label, raws, parse_batch).await?;
        let by_id: HashMap<u64, &JsonRpcResponse> = replies.iter().filter_map(|r| Some((r.id.as_ref()?.as_u64()?, r))).collect();
        let outcome = |i: u64| -> CallOutcome<'_> {
            match by_id.get(&(first + i)) {
                Some(r) if r.error.is_none() => match &r.result {
                    Some(Value::String(s)) => CallOutcome::Returned(s.as_str()),
                    _ => CallOutcome::Failed,
                },
                _ => CallOutcome::Failed,
            }
        };
        Ok(token_meta(outcome(0), outcome(1), outcome(2), outcome(3)))
    }
}

/// Parses a JSON-RPC batch reply (an array of responses).
fn parse_batch(body: &str) -> Result<Vec<JsonRpcResponse>, RpcError> {
    let v: Value = serde_json::from_str(body).map_err(|e| RpcError::json(&e, body))?;
    if let Some(err) = v.get("error") {
        let e = serde_json::from_value(err.clone()).map_err(|e| RpcError::json(&e, body))?;
        return Err(RpcError::Rpc(e));
    }
    serde_json::from_value(v).map_err(|e| RpcError::json(&e, body))
}
