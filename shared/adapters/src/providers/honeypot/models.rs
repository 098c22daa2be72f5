//! honeypot.is wire types (only the fields nl judges; name/symbol are deliberately not modelled).

use serde::Deserialize;

use crate::providers::wire::loose;

/// The `IsHoneypot` response.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IsHoneypotResponse {
    #[serde(default)]
    pub token: Option<Token>,
    #[serde(default, deserialize_with = "loose")]
    pub simulation_success: Option<String>,
    #[serde(default)]
    pub honeypot_result: Option<HoneypotResult>,
    #[serde(default)]
    pub simulation_result: Option<SimulationResult>,
    #[serde(default)]
    pub contract_code: Option<ContractCode>,
}

/// `token`: the checked token.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    #[serde(default, deserialize_with = "loose")]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub total_holders: Option<String>,
}

/// `honeypotResult`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoneypotResult {
    #[serde(default, deserialize_with = "loose")]
    pub is_honeypot: Option<String>,
}

/// `simulationResult`: taxes in percent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulationResult {
    #[serde(default, deserialize_with = "loose")]
    pub buy_tax: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub sell_tax: Option<String>,
}

/// `contractCode`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractCode {
    #[serde(default, deserialize_with = "loose")]
    pub open_source: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub is_proxy: Option<String>,
}
