//! Wire types of Solana JSON-RPC: `logsNotification` and the `getTransaction` result in `json` or
//! `jsonParsed` encoding (`maxSupportedTransactionVersion: 0`). Unknown keys are ignored.

use serde::Deserialize;

/// `{"jsonrpc":"2.0","method":"logsNotification","params":{"result":{…},"subscription":N}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogsNotification {
    pub method: String,
    pub params: LogsParams,
}

/// `params` of a logs notification.
#[derive(Debug, Clone, Deserialize)]
pub struct LogsParams {
    pub result: LogsResult,
    pub subscription: u64,
}

/// `{"context":{"slot":…},"value":{…}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogsResult {
    pub context: SlotContext,
    pub value: LogsValue,
}

/// `context`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct SlotContext {
    pub slot: u64,
}

/// `value`: the transaction signature, its error (`null` on success) and its log lines.
#[derive(Debug, Clone, Deserialize)]
pub struct LogsValue {
    pub signature: String,
    #[serde(default)]
    pub err: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub logs: Vec<String>,
}

/// The `getTransaction` result (`null` when not found or not yet confirmed).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionResult {
    pub slot: u64,
    /// Unix seconds; `null` when not available.
    pub block_time: Option<i64>,
    pub transaction: TransactionField,
    pub meta: Option<TransactionMeta>,
}

/// `transaction`: an object for `json`/`jsonParsed`, or `[data, encoding]` for binary encodings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TransactionField {
    Json(TransactionJson),
    Encoded(Vec<String>),
}

/// The JSON transaction.
#[derive(Debug, Clone, Deserialize)]
pub struct TransactionJson {
    #[serde(default)]
    pub signatures: Vec<String>,
    pub message: TransactionMessage,
}

/// `message`; only the account keys are used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionMessage {
    #[serde(default)]
    pub account_keys: Vec<AccountKey>,
    /// Kept loose: an instruction of an unexpected shape is skipped ([`WireIx`]), not a parse error.
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub instructions: Vec<serde_json::Value>,
}

/// An instruction as `getTransaction` gives it: `jsonParsed` names the program and accounts
/// (`programId`, `accounts: [pubkey]`), `json` indexes them (`programIdIndex`, `accounts: [index]`);
/// `data` is base58. Instructions `jsonParsed` decodes (`parsed`) have no `data`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireIx {
    pub program_id: Option<String>,
    pub program_id_index: Option<usize>,
    #[serde(default)]
    pub accounts: Vec<AccountRef>,
    pub data: Option<String>,
}

/// An instruction's account: a pubkey (`jsonParsed`) or an index into the account keys (`json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AccountRef {
    Key(String),
    Index(usize),
}

/// `meta.innerInstructions[]`: the instructions invoked by the outer instruction `index`.
#[derive(Debug, Clone, Deserialize)]
pub struct InnerInstructions {
    pub index: u64,
    #[serde(default)]
    pub instructions: Vec<serde_json::Value>,
}

/// An account key: a base58 string (`json`) or `{pubkey, signer, writable, source}` (`jsonParsed`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AccountKey {
    Plain(String),
    Parsed { pubkey: String, signer: Option<bool>, writable: Option<bool>, source: Option<String> },
}

impl AccountKey {
    /// The base58 public key.
    #[must_use]
    pub fn pubkey(&self) -> &str {
        match self {
            Self::Plain(k) | Self::Parsed { pubkey: k, .. } => k,
        }
    }
}

/// `meta` (status metadata); token balances are omitted when recording was disabled.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionMeta {
    pub err: Option<serde_json::Value>,
    pub pre_token_balances: Option<Vec<TokenBalance>>,
    pub post_token_balances: Option<Vec<TokenBalance>>,
    pub log_messages: Option<Vec<String>>,
    pub loaded_addresses: Option<LoadedAddresses>,
    pub inner_instructions: Option<Vec<InnerInstructions>>,
}

/// Address-lookup-table accounts of a v0 transaction (they follow the static keys in index order).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LoadedAddresses {
    #[serde(default)]
    pub writable: Vec<String>,
    #[serde(default)]
    pub readonly: Vec<String>,
}

/// One SPL token balance.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenBalance {
    pub account_index: u64,
    pub mint: String,
    pub owner: Option<String>,
    pub program_id: Option<String>,
    pub ui_token_amount: Option<UiTokenAmount>,
}

/// `uiTokenAmount`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UiTokenAmount {
    pub amount: Option<String>,
    pub decimals: Option<u8>,
    pub ui_amount_string: Option<String>,
}
