//! Versioned risk rules and the evaluation of one asset into tri-state checks.
//!
//! Each check gets `pass`, `fail` or `unknown` with the provider that decided it, when that provider
//! observed it, and when the verdict expires (`observed_at + ttl`). A missing, failed or expired provider
//! report makes the checks it feeds `unknown`, never `pass`. When several providers judge the same check,
//! the worst verdict wins (any fail → fail) and a pass/fail split is recorded as a disagreement.
//! Checks that do not apply to the asset's chain family are omitted.

use nl_adapters::providers::{Provider, ProviderReport, SecurityFacts};
use nl_domain::{AssetId, ChainFamily, CheckCode, Decimal, RiskCheck, RiskEvaluation, Snapshot, Ts, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::RiskError;

#[cfg(test)]
mod tests;

/// How long a verdict stays valid after its input was observed, per input source (seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictTtl {
    pub goplus: u64,
    pub honeypot_is: u64,
    pub rugcheck: u64,
    /// The Solana RPC's mint account (default 600).
    #[serde(default = "default_ttl")]
    pub solana_rpc: u64,
    /// Market snapshot (liquidity, holders, age).
    pub snapshot: u64,
}

fn default_ttl() -> u64 {
    600
}

impl VerdictTtl {
    /// TTL of a provider's verdicts.
    #[must_use]
    pub const fn of(&self, p: Provider) -> u64 {
        match p {
            Provider::Goplus => self.goplus,
            Provider::HoneypotIs => self.honeypot_is,
            Provider::Rugcheck => self.rugcheck,
            Provider::SolanaRpc => self.solana_rpc,
        }
    }
}

/// The versioned rule set. Percentages and taxes are fractions (`0.10` = 10%).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskRules {
    /// Recorded on every evaluation (`rule_set_version`).
    pub version: String,
    pub min_liquidity_usd: Decimal,
    pub min_holders: u64,
    /// Largest allowed share of one listed holder (raw maximum, pools included).
    pub max_top_holder_pct: Decimal,
    pub max_buy_tax: Decimal,
    pub max_sell_tax: Decimal,
    /// Smallest share of LP that must be locked or burned.
    pub min_lp_locked_pct: Decimal,
    /// Younger than this (minutes since pool creation) fails `very_new_contract`.
    pub min_age_minutes: i64,
    pub ttl_seconds: VerdictTtl,
    /// Checks whose failure is critical: a failed check in this list gets severity 100. The gate has its
    /// own, authoritative hard-fail list; keeping both equal is the normal setup.
    #[serde(default)]
    pub hard_fail: Vec<CheckCode>,
    /// Largest accepted spread between two sources' prices of one asset, as `max / min − 1` (default 0.5:
    /// the highest may be 1.5× the lowest); beyond it `source_disagreement` fails (see `crate::sources`).
    #[serde(default = "default_price_spread")]
    pub max_source_price_spread: Decimal,
}

fn default_price_spread() -> Decimal {
    Decimal::new(5, 1)
}

impl Default for RiskRules {
    fn default() -> Self {
        Self {
            version: "risk-rules-v1".into(),
            min_liquidity_usd: Decimal::from(10_000),
            min_holders: 50,
            max_top_holder_pct: Decimal::new(25, 2),
            max_buy_tax: Decimal::new(10, 2),
            max_sell_tax: Decimal::new(10, 2),
            min_lp_locked_pct: Decimal::new(90, 2),
            min_age_minutes: 10,
            ttl_seconds: VerdictTtl { goplus: 900, honeypot_is: 600, rugcheck: 600, solana_rpc: 600, snapshot: 600 },
            hard_fail: CheckCode::DEFAULT_HARD_FAIL.to_vec(),
            max_source_price_spread: default_price_spread(),
        }
    }
}

impl RiskRules {
    /// Checks ranges (hard-fail codes are checked when the config is read: [`CheckCode`] is closed).
    ///
    /// # Errors
    /// [`RiskError::Config`] naming the first invalid setting.
    pub fn validate(&self) -> Result<(), RiskError> {
        let bad = |m: String| Err(RiskError::Config(m));
        if self.version.trim().is_empty() {
            return bad("rules.version must not be empty".into());
        }
        for (name, v) in [("max_top_holder_pct", self.max_top_holder_pct), ("max_buy_tax", self.max_buy_tax), ("max_sell_tax", self.max_sell_tax), ("min_lp_locked_pct", self.min_lp_locked_pct)] {
            if v < Decimal::ZERO || v > Decimal::ONE {
                return bad(format!("rules.{name} is a fraction in [0, 1], got {v}"));
            }
        }
        if self.min_liquidity_usd < Decimal::ZERO || self.min_age_minutes < 0 || self.max_source_price_spread < Decimal::ZERO {
            return bad("rules.min_liquidity_usd, rules.min_age_minutes and rules.max_source_price_spread must be >= 0".into());
        }
        Ok(())
    }
}

/// Whether an evaluation got worse: the first non-zero severity, or any increase.
#[must_use]
pub fn severity_rose(prev: Option<u8>, cur: u8) -> bool {
    prev.map_or(cur > 0, |p| cur > p)
}

/// A provider-fed check: which families it applies to, its intrinsic severity and how a fact is judged.
struct FactRule {
    code: CheckCode,
    severity: u8,
    evm: bool,
    solana: bool,
    /// `None` = the report does not carry the fact; `Some((failed, value))` otherwise.
    judge: fn(&SecurityFacts, &RiskRules) -> Option<(bool, Value)>,
}

fn dec(d: Decimal) -> Value {
    Value::String(d.normalize().to_string())
}

const FACT_RULES: [FactRule; 13] = [
    FactRule { code: CheckCode::Honeypot, severity: 100, evm: true, solana: false, judge: |f, _| f.is_honeypot.map(|b| (b, Value::Bool(b))) },
    FactRule { code: CheckCode::BuyTaxHigh, severity: 70, evm: true, solana: true, judge: |f, r| f.buy_tax.map(|t| (t > r.max_buy_tax, dec(t))) },
    FactRule { code: CheckCode::SellTaxHigh, severity: 90, evm: true, solana: true, judge: |f, r| f.sell_tax.map(|t| (t > r.max_sell_tax, dec(t))) },
    FactRule { code: CheckCode::Mintable, severity: 70, evm: true, solana: false, judge: |f, _| f.is_mintable.map(|b| (b, Value::Bool(b))) },
    FactRule { code: CheckCode::OwnerNotRenounced, severity: 40, evm: true, solana: false, judge: |f, _| f.owner_renounced.map(|b| (!b, Value::Bool(b))) },
    FactRule { code: CheckCode::Proxy, severity: 40, evm: true, solana: false, judge: |f, _| f.is_proxy.map(|b| (b, Value::Bool(b))) },
    FactRule { code: CheckCode::NotOpenSource, severity: 50, evm: true, solana: false, judge: |f, _| f.is_open_source.map(|b| (!b, Value::Bool(b))) },
    FactRule { code: CheckCode::HolderConcentration, severity: 50, evm: true, solana: true, judge: |f, r| f.top_holder_pct.map(|p| (p > r.max_top_holder_pct, dec(p))) },
    FactRule { code: CheckCode::LpUnlocked, severity: 70, evm: true, solana: true, judge: |f, r| f.lp_locked_pct.map(|p| (p < r.min_lp_locked_pct, dec(p))) },
    FactRule { code: CheckCode::MintAuthority, severity: 80, evm: false, solana: true, judge: |f, _| f.mint_authority_enabled.map(|b| (b, Value::Bool(b))) },
    FactRule { code: CheckCode::FreezeAuthority, severity: 90, evm: false, solana: true, judge: |f, _| f.freeze_authority_enabled.map(|b| (b, Value::Bool(b))) },
    // Metadata (name, symbol, URI) its update authority can still rewrite: a soft risk, not a hard fail.
    FactRule { code: CheckCode::MetadataMutable, severity: 20, evm: false, solana: true, judge: |f, _| f.metadata_mutable.map(|b| (b, Value::Bool(b))) },
    FactRule { code: CheckCode::CreatorHoneypotHistory, severity: 60, evm: true, solana: false, judge: |f, _| f.creator_honeypot_history.map(|b| (b, Value::Bool(b))) },
];

/// `low_holders` from provider holder counts, used when the snapshot has none.
const HOLDERS_FROM_PROVIDERS: FactRule =
    FactRule { code: CheckCode::LowHolders, severity: 30, evm: true, solana: true, judge: |f, r| f.holder_count.map(|n| (n < r.min_holders, Value::from(n))) };

const SEV_LOW_LIQUIDITY: u8 = 60;
const SEV_LOW_HOLDERS: u8 = 30;
const SEV_VERY_NEW: u8 = 20;
const SEV_DISAGREEMENT: u8 = 50;

fn family(asset: &AssetId) -> Option<ChainFamily> {
    match asset {
        AssetId::Chain { chain, address } => {
            Some(ChainFamily::of_chain(chain).unwrap_or(if address.starts_with("0x") { ChainFamily::Evm } else { ChainFamily::Solana }))
        }
        AssetId::Cex { .. } => None,
    }
}

fn expected_providers(f: Option<ChainFamily>) -> &'static [Provider] {
    match f {
        Some(ChainFamily::Evm) => &[Provider::Goplus, Provider::HoneypotIs],
        Some(ChainFamily::Solana) => &[Provider::Rugcheck],
        None => &[],
    }
}

/// `t + secs`, saturating at the latest representable time instead of panicking on absurd TTLs.
fn plus_secs(t: Ts, secs: u64) -> Ts {
    i64::try_from(secs)
        .ok()
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// The inputs of one evaluation after picking the newest report per provider and dropping stale ones.
struct Inputs<'a> {
    fresh: Vec<(&'a ProviderReport, Ts)>,
    expired: Vec<(Provider, Ts)>,
    expected: &'static [Provider],
    rules: &'a RiskRules,
    now: Ts,
}

impl<'a> Inputs<'a> {
    fn new(reports: &'a [ProviderReport], expected: &'static [Provider], rules: &'a RiskRules, now: Ts) -> Self {
        let (mut fresh, mut expired) = (Vec::new(), Vec::new());
        for p in Provider::ALL {
            let Some(latest) = reports.iter().filter(|r| r.provider == p).max_by_key(|r| r.observed_at) else { continue };
            let expires = plus_secs(latest.observed_at, rules.ttl_seconds.of(p));
            if expires > now { fresh.push((latest, expires)) } else { expired.push((p, expires)) }
        }
        Self { fresh, expired, expected, rules, now }
    }

    /// Why no fresh report gave a fact, per provider that was expected or had a report.
    fn unknown_detail(&self, judged: &[(Provider, Value)], silent: &[Provider]) -> String {
        let mut parts: Vec<String> = judged.iter().map(|(p, v)| format!("{p}={}", v.as_str().map_or_else(|| v.to_string(), String::from))).collect();
        for p in Provider::ALL {
            if silent.contains(&p) {
                parts.push(format!("{p}: fact not reported"));
            } else if let Some((_, at)) = self.expired.iter().find(|(e, _)| *e == p) {
                parts.push(format!("{p}: report expired at {}", at.to_rfc3339()));
            } else if self.expected.contains(&p) && !self.fresh.iter().any(|(r, _)| r.provider == p) {
                parts.push(format!("{p}: no report"));
            }
        }
        parts.join("; ")
    }

    /// Judges one rule over the fresh reports. Returns the check and whether providers disagreed.
    fn check(&self, rule: &FactRule) -> (RiskCheck, bool) {
        let mut judged = Vec::new();
        let mut silent = Vec::new();
        for (r, expires) in &self.fresh {
            match (rule.judge)(&r.facts, self.rules) {
                Some((failed, value)) => judged.push((r.provider, r.observed_at, *expires, failed, value)),
                None => silent.push(r.provider),
            }
        }
        let any_fail = judged.iter().any(|j| j.3);
        let disagree = any_fail && judged.iter().any(|j| !j.3);
        let deciding: Vec<_> = judged.iter().filter(|j| j.3 == any_fail).collect();
        let detail = self.unknown_detail(&judged.iter().map(|j| (j.0, j.4.clone())).collect::<Vec<_>>(), &silent);
        let Some(first) = deciding.iter().min_by_key(|j| (j.2, j.0)) else {
            let provider = if self.expected.is_empty() { "none".to_string() } else { join(self.expected.iter().copied()) };
            let check = RiskCheck {
                code: rule.code,
                verdict: Verdict::Unknown,
                provider,
                observed_at: self.now,
                expires_at: self.now,
                severity: rule.severity,
                value: None,
                detail: Some(detail),
            };
            return (check, false);
        };
        let (verdict, severity) = if any_fail { (Verdict::Fail, self.fail_severity(rule.code, rule.severity)) } else { (Verdict::Pass, 0) };
        let check = RiskCheck {
            code: rule.code,
            verdict,
            provider: join(deciding.iter().map(|j| j.0)),
            observed_at: first.1,
            expires_at: first.2,
            severity,
            value: Some(first.4.clone()),
            detail: Some(detail),
        };
        (check, disagree)
    }

    fn fail_severity(&self, code: CheckCode, intrinsic: u8) -> u8 {
        if self.rules.hard_fail.contains(&code) { 100 } else { intrinsic }
    }
}

fn join(providers: impl Iterator<Item = Provider>) -> String {
    let mut v: Vec<Provider> = providers.collect();
    v.sort();
    v.dedup();
    v.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("+")
}

/// A check judged from the market snapshot.
fn snapshot_check(code: CheckCode, severity: u8, snap: Option<(&Snapshot, Ts)>, judged: Option<(bool, Value)>, inputs: &Inputs<'_>) -> RiskCheck {
    let (provider, observed_at, expires_at) = match snap {
        Some((s, exp)) => (format!("snapshot:{}", s.source), s.observed_at, exp),
        None => ("snapshot".to_string(), inputs.now, inputs.now),
    };
    match judged {
        Some((failed, value)) if snap.is_some() => RiskCheck {
            code,
            verdict: if failed { Verdict::Fail } else { Verdict::Pass },
            provider,
            observed_at,
            expires_at,
            severity: if failed { inputs.fail_severity(code, severity) } else { 0 },
            value: Some(value),
            detail: None,
        },
        _ => RiskCheck {
            code,
            verdict: Verdict::Unknown,
            provider,
            observed_at: inputs.now,
            expires_at: inputs.now,
            severity,
            value: None,
            detail: Some(if snap.is_some() { "snapshot lacks the value".into() } else { "no fresh snapshot".into() }),
        },
    }
}

/// Evaluates one asset under `rules` at `now`.
///
/// `snapshot` is the latest market snapshot (ignored when it belongs to another asset or is older than
/// `ttl_seconds.snapshot`); `reports` are the provider reports obtained so far, any number per provider
/// (the newest per provider is used; a newest one older than its TTL counts as missing).
#[must_use]
pub fn evaluate(asset: &AssetId, snapshot: Option<&Snapshot>, reports: &[ProviderReport], rules: &RiskRules, now: Ts) -> RiskEvaluation {
    let fam = family(asset);
    let inputs = Inputs::new(reports, expected_providers(fam), rules, now);
    let snap = snapshot
        .filter(|s| &s.asset_id == asset)
        .map(|s| (s, plus_secs(s.observed_at, rules.ttl_seconds.snapshot)))
        .filter(|(_, exp)| *exp > now);

    let mut checks = Vec::with_capacity(CheckCode::ALL.len());
    let liq = snap.and_then(|(s, _)| s.liquidity_usd).map(|l| (l < rules.min_liquidity_usd, dec(l)));
    checks.push(snapshot_check(CheckCode::LowLiquidity, SEV_LOW_LIQUIDITY, snap, liq, &inputs));

    let mut disagreements = Vec::new();
    match snap.and_then(|(s, _)| s.holders) {
        Some(n) => checks.push(snapshot_check(CheckCode::LowHolders, SEV_LOW_HOLDERS, snap, Some((n < rules.min_holders, Value::from(n))), &inputs)),
        None if fam.is_some() => {
            let (c, disagree) = inputs.check(&HOLDERS_FROM_PROVIDERS);
            if disagree {
                disagreements.push(c.code);
            }
            checks.push(c);
        }
        None => checks.push(snapshot_check(CheckCode::LowHolders, SEV_LOW_HOLDERS, snap, None, &inputs)),
    }

    let age = snap.and_then(|(s, _)| s.age_minutes_at(now)).map(|a| (a < rules.min_age_minutes, Value::from(a)));
    checks.push(snapshot_check(CheckCode::VeryNewContract, SEV_VERY_NEW, snap, age, &inputs));

    if let Some(f) = fam {
        for rule in FACT_RULES.iter().filter(|r| if f == ChainFamily::Evm { r.evm } else { r.solana }) {
            let (c, disagree) = inputs.check(rule);
            if disagree {
                disagreements.push(c.code);
            }
            checks.push(c);
        }
        checks.push(disagreement_check(&inputs, &disagreements));
    }

    let severity = checks.iter().filter(|c| c.verdict == Verdict::Fail).map(|c| c.severity).max().unwrap_or(0);
    RiskEvaluation { asset_id: asset.clone(), rule_set_version: rules.version.clone(), evaluated_at: now, checks, severity, disagreements }
}

/// Severity of a `metadata_injection` hit (a hard fail under the default lists).
const SEV_METADATA_INJECTION: u8 = 90;

/// The deterministic `metadata_injection` check: the token's own text (symbol, name, description) read
/// as instructions to an automated reader (`nl_domain::injection`, pattern list
/// [`nl_domain::injection::PATTERNS_VERSION`]). Only a hit adds a check (`fail`), so evaluations of
/// tokens with ordinary names are unchanged. The rule, never a model, may move the gate.
#[must_use]
pub fn metadata_injection_check(texts: &[&str], rules: &RiskRules, now: Ts) -> Option<RiskCheck> {
    let (field, phrase) = texts.iter().find_map(|t| nl_domain::injection::scan(t).map(|p| (*t, p)))?;
    let severity = if rules.hard_fail.contains(&CheckCode::MetadataInjection) { 100 } else { SEV_METADATA_INJECTION };
    Some(RiskCheck {
        code: CheckCode::MetadataInjection,
        verdict: Verdict::Fail,
        provider: format!("rule:{}", nl_domain::injection::PATTERNS_VERSION),
        observed_at: now,
        expires_at: chrono::DateTime::<chrono::Utc>::MAX_UTC,
        severity,
        value: Some(Value::String(phrase.to_owned())),
        detail: Some(format!("token metadata reads as an instruction ({} characters scanned)", field.chars().count())),
    })
}

/// Adds the [`metadata_injection_check`] of `texts` to `eval` when it fires.
pub fn apply_metadata_injection(eval: &mut RiskEvaluation, texts: &[&str], rules: &RiskRules) {
    if let Some(c) = metadata_injection_check(texts, rules, eval.evaluated_at) {
        eval.severity = eval.severity.max(c.severity);
        eval.checks.push(c);
    }
}

fn disagreement_check(inputs: &Inputs<'_>, codes: &[CheckCode]) -> RiskCheck {
    let observed_at = inputs.fresh.iter().map(|(r, _)| r.observed_at).min().unwrap_or(inputs.now);
    let expires_at = inputs.fresh.iter().map(|(_, e)| *e).min().unwrap_or(inputs.now);
    let failed = !codes.is_empty();
    RiskCheck {
        code: CheckCode::ProviderDisagreement,
        verdict: if failed { Verdict::Fail } else { Verdict::Pass },
        provider: if inputs.fresh.is_empty() { "none".into() } else { join(inputs.fresh.iter().map(|(r, _)| r.provider)) },
        observed_at,
        expires_at,
        severity: if failed { inputs.fail_severity(CheckCode::ProviderDisagreement, SEV_DISAGREEMENT) } else { 0 },
        value: Some(Value::from(codes.iter().map(|c| c.as_str()).collect::<Vec<_>>())),
        detail: Some(format!("{} fresh provider report(s) compared", inputs.fresh.len())),
    }
}
