//! The L6 execution check. nl places no orders: this only tells an external executor whether executing
//! on the latest decision is allowed. It is blocked by default and needs every one of: `enabled`,
//! `armed`, a non-empty confirmation token in the environment variable named by `confirm_token_env`
//! (never the token itself in config), the same token presented by the caller, not a dry run, and a
//! promoted decision. Each unmet condition adds its reason code.

use nl_domain::{Decision, GateDecision};
use nl_proto::auth::constant_time_eq;
use serde::{Deserialize, Serialize};

/// L6 switches. The defaults make execution impossible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionConfig {
    pub enabled: bool,
    pub armed: bool,
    /// Name of the environment variable holding the confirmation token.
    pub confirm_token_env: String,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        Self { enabled: false, armed: false, confirm_token_env: "NL_EXECUTION_CONFIRM_TOKEN".into() }
    }
}

/// The answer to "may an executor act on this?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionCheck {
    pub allowed: bool,
    /// Every unmet condition: `EXECUTION_DISABLED`, `NOT_ARMED`, `CONFIRM_TOKEN_ENV_UNSET`,
    /// `CONFIRM_TOKEN_MISMATCH`, `DRY_RUN`, `NOT_PROMOTED`. Empty when allowed.
    pub reasons: Vec<String>,
}

/// Checks every L6 condition; see the module docs. `env_lookup` reads an environment variable (injected
/// so tests need not touch the process environment).
#[must_use]
pub fn check_execution(cfg: &ExecutionConfig, presented_token: Option<&str>, env_lookup: impl Fn(&str) -> Option<String>, dry_run: bool, decision: Option<&GateDecision>) -> ExecutionCheck {
    let mut reasons = Vec::new();
    if !cfg.enabled {
        reasons.push("EXECUTION_DISABLED");
    }
    if !cfg.armed {
        reasons.push("NOT_ARMED");
    }
    let expected = if cfg.confirm_token_env.trim().is_empty() { None } else { env_lookup(&cfg.confirm_token_env).filter(|t| !t.is_empty()) };
    match expected {
        None => reasons.push("CONFIRM_TOKEN_ENV_UNSET"),
        // The presented token is judged only once execution is enabled and armed: otherwise any caller
        // could use the answer as an oracle for the token.
        Some(expected) if cfg.enabled && cfg.armed => {
            if !presented_token.is_some_and(|p| constant_time_eq(p.as_bytes(), expected.as_bytes())) {
                reasons.push("CONFIRM_TOKEN_MISMATCH");
            }
        }
        Some(_) => {}
    }
    if dry_run {
        reasons.push("DRY_RUN");
    }
    if decision.is_none_or(|d| d.decision != Decision::Promoted) {
        reasons.push("NOT_PROMOTED");
    }
    ExecutionCheck { allowed: reasons.is_empty(), reasons: reasons.into_iter().map(String::from).collect() }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use nl_domain::{AssetId, Ts};

    use super::*;

    const TOKEN: &str = "s3cret-confirm";

    fn decision(d: Decision) -> GateDecision {
        let now: Ts = "2026-10-08T12:00:00Z".parse().unwrap();
        GateDecision {
            asset_id: AssetId::parse("eth:0x6982508145454ce325ddbe47a25d4ec3d2311933").unwrap(),
            decision: d,
            reason_codes: vec![],
            rule_set_version: "v".into(),
            config_hash: "h".into(),
            inputs: vec![],
            decided_at: now,
        }
    }

    #[test]
    fn all_combinations_denied_except_the_full_one() {
        let promoted = decision(Decision::Promoted);
        let rejected = decision(Decision::Rejected);
        let mut allowed_count = 0;
        for mask in 0u32..64 {
            let bit = |i: u32| mask & (1 << i) != 0;
            let (enabled, armed, env_set, token_ok, not_dry, is_promoted) = (bit(0), bit(1), bit(2), bit(3), bit(4), bit(5));
            let cfg = ExecutionConfig { enabled, armed, confirm_token_env: "NL_TEST_TOKEN".into() };
            let env = move |name: &str| (env_set && name == "NL_TEST_TOKEN").then(|| TOKEN.to_string());
            let presented = if token_ok { Some(TOKEN) } else { Some("s3cret-confirX") };
            let d = if is_promoted { &promoted } else { &rejected };
            let got = check_execution(&cfg, presented, env, !not_dry, Some(d));
            let all = enabled && armed && env_set && token_ok && not_dry && is_promoted;
            assert_eq!(got.allowed, all, "mask {mask:06b}: {:?}", got.reasons);
            assert_eq!(got.allowed, got.reasons.is_empty(), "mask {mask:06b}");
            allowed_count += usize::from(got.allowed);
            for (cond, code) in [(enabled, "EXECUTION_DISABLED"), (armed, "NOT_ARMED"), (env_set, "CONFIRM_TOKEN_ENV_UNSET"), (not_dry, "DRY_RUN"), (is_promoted, "NOT_PROMOTED")] {
                assert_eq!(got.reasons.iter().any(|r| r == code), !cond, "mask {mask:06b} {code}");
            }
            // A mismatch can only be judged against a configured token.
            assert_eq!(got.reasons.iter().any(|r| r == "CONFIRM_TOKEN_MISMATCH"), enabled && armed && env_set && !token_ok, "mask {mask:06b}");
        }
        assert_eq!(allowed_count, 1);
    }

    #[test]
    fn default_config_can_never_allow() {
        let cfg = ExecutionConfig::default();
        let promoted = decision(Decision::Promoted);
        for env_value in [None, Some(""), Some(TOKEN)] {
            for presented in [None, Some(""), Some(TOKEN)] {
                for dry_run in [false, true] {
                    for d in [None, Some(&promoted)] {
                        let got = check_execution(&cfg, presented, |_| env_value.map(String::from), dry_run, d);
                        assert!(!got.allowed);
                        assert!(got.reasons.starts_with(&["EXECUTION_DISABLED".to_string(), "NOT_ARMED".to_string()]));
                    }
                }
            }
        }
        let cfg: ExecutionConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(cfg, ExecutionConfig::default());
        assert!(serde_json::from_str::<ExecutionConfig>(r#"{"confirm_token":"x"}"#).is_err(), "the token itself is not a config key");
    }

    #[test]
    fn empty_env_token_missing_decision_and_absent_presented_token() {
        let cfg = ExecutionConfig { enabled: true, armed: true, confirm_token_env: "T".into() };
        let promoted = decision(Decision::Promoted);
        let got = check_execution(&cfg, Some(""), |_| Some(String::new()), false, Some(&promoted));
        assert_eq!(got.reasons, ["CONFIRM_TOKEN_ENV_UNSET"]);
        let got = check_execution(&cfg, None, |_| Some(TOKEN.into()), false, None);
        assert_eq!(got.reasons, ["CONFIRM_TOKEN_MISMATCH", "NOT_PROMOTED"]);
        let got = check_execution(&cfg, Some(TOKEN), |_| Some(TOKEN.into()), false, Some(&promoted));
        assert!(got.allowed);
    }

    #[test]
    fn constant_time_eq_table() {
        for (a, b, want) in [("", "", true), ("a", "a", true), ("a", "b", false), ("abc", "ab", false), ("ab", "abc", false), ("ab\0", "ab", false)] {
            assert_eq!(constant_time_eq(a.as_bytes(), b.as_bytes()), want, "{a:?} {b:?}");
        }
    }
}
