//! [`SolanaRpc`]: Solana JSON-RPC over the budgeted [`HttpSource`] (`getSignaturesForAddress`,
//! `getTransaction`, `getAccountInfo`). Every response, error bodies included, becomes a [`RawEvent`]; a
//! body that does not parse or carries an error object is kept with that error.

use nl_domain::RawEvent;
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse::{TxSummary, get_transaction_request, parse_get_transaction};
use crate::dex::evm::error::RpcError;
use crate::dex::evm::rpc::parse_response;
use crate::dex::evm::rpc_client::{RpcCallError, RpcClient};
use crate::kit::HttpSource;

/// One `getSignaturesForAddress` item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureInfo {
    pub signature: String,
    pub slot: u64,
    #[serde(default)]
    pub err: Option<Value>,
    #[serde(default)]
    pub block_time: Option<i64>,
}

/// Parses a `getSignaturesForAddress` response body (newest first).
///
/// # Errors
/// As [`parse_response`], plus `RpcError::Json` when `result` is not a list of signatures.
pub fn parse_signatures(body: &str) -> Result<Vec<SignatureInfo>, RpcError> {
    let result = parse_response(body)?;
    serde_json::from_value(result).map_err(|e| RpcError::json(&e, body))
}

/// JSON-RPC client of one Solana RPC.
#[derive(Debug)]
pub struct SolanaRpc {
    rpc: RpcClient,
    commitment: String,
}

impl SolanaRpc {
    /// Wraps `http` (whose base URL is the RPC endpoint); raws are attributed to `source`.
    #[must_use]
    pub fn new(http: HttpSource, source: &str, run_id: &str, commitment: &str) -> Self {
        Self { rpc: RpcClient::new(http, source, run_id), commitment: commitment.to_string() }
    }

    /// The HTTP client (budget, stats).
    #[must_use]
    pub fn http(&self) -> &HttpSource {
        self.rpc.http()
    }

    async fn exchange<T>(&self, body: &Value, label: &str, raws: &mut Vec<RawEvent>, parse: impl FnOnce(&str) -> Result<T, RpcError>) -> Result<T, RpcCallError> {
        self.rpc.exchange(body, 1, label, raws, parse).await
    }

    fn id(&self) -> u64 {
        self.rpc.id(1)
    }

    /// `getSignaturesForAddress(address, {limit, before?, until?, commitment})`, newest first.
    ///
    /// # Errors
    /// [`RpcCallError`] on transport failure, an error object or a malformed result.
    pub async fn signatures(&self, address: &str, before: Option<&str>, until: Option<&str>, limit: u32, raws: &mut Vec<RawEvent>) -> Result<Vec<SignatureInfo>, RpcCallError> {
        let mut opts = json!({"limit": limit, "commitment": self.commitment});
        if let Some(b) = before {
            opts["before"] = json!(b);
        }
        if let Some(u) = until {
            opts["until"] = json!(u);
        }
        let req = json!({"jsonrpc": "2.0", "id": self.id(), "method": "getSignaturesForAddress", "params": [address, opts]});
        self.exchange(&req, &format!("getSignaturesForAddress({address})"), raws, parse_signatures).await
    }

    /// `getTransaction(signature)` (`jsonParsed`, `maxSupportedTransactionVersion: 0`); `None` while the
    /// node does not have it. Returns the raw id of the response too.
    ///
    /// # Errors
    /// As [`signatures`](Self::signatures).
    pub async fn transaction(&self, signature: &str, raws: &mut Vec<RawEvent>) -> Result<(Option<TxSummary>, String), RpcCallError> {
        let req = get_transaction_request(self.id(), signature, &self.commitment);
        let tx = self.exchange(&req, &format!("getTransaction({signature})"), raws, parse_get_transaction).await?;
        Ok((tx, raws.last().map(|r| r.raw_id.clone()).unwrap_or_default()))
    }

    /// `getAccountInfo(address, {encoding: jsonParsed})`: the `result.value` (`null` for no account) and
    /// the raw id of the response.
    ///
    /// # Errors
    /// As [`signatures`](Self::signatures).
    pub async fn account_info(&self, address: &str, raws: &mut Vec<RawEvent>) -> Result<(Value, String), RpcCallError> {
        let req = json!({"jsonrpc": "2.0", "id": self.id(), "method": "getAccountInfo", "params": [address, {"encoding": "jsonParsed", "commitment": self.commitment}]});
        let v = self.exchange(&req, &format!("getAccountInfo({address})"), raws, |b| parse_response(b).map(|r| r.get("value").cloned().unwrap_or(Value::Null))).await?;
        Ok((v, raws.last().map(|r| r.raw_id.clone()).unwrap_or_default()))
    }
}
