//! Solana mint facts as a risk provider (issue #20): the risk-scorer asks the configured Solana RPC
//! (`[risk_scorer.providers.solana_rpc]`, here the loopback Solana node of `nl_testkit::solana_node`)
//! `getAccountInfo(mint, jsonParsed)` and judges `mint_authority` / `freeze_authority` from the account
//! data (vendor-doc payloads in the adapters' `dex/solana/test_data`), with provenance `solana_rpc`. An RPC
//! error or a missing account gives `unknown`, never `pass`; every response is kept raw, and a
//! re-derivation answers the request from its capture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use nl_adapters::kit::recorded::{RecordedQueues, request_path};
use nl_adapters::providers::{Provider, ProviderClients, ProvidersConfig};
use nl_bus::MemoryBus;
use nl_domain::{AssetId, Envelope, EventType, RiskEvaluation, Snapshot, Ts, Verdict};
use nl_risk_scorer::{Clock, RiskScorerConfig, RiskScorerCtx, RunIdentity};
use nl_adapters::dex::solana::pda::{METAPLEX_METADATA, metaplex_metadata_address};
use nl_testkit::solana_node::{SolanaNode, base64_account};
use serde_json::Value;

const RENOUNCED: &str = include_str!("../../../shared/adapters/src/dex/solana/test_data/http_get_account_info_mint_json_parsed.json");
const METAPLEX: &str = include_str!("../../../shared/adapters/src/dex/solana/test_data/http_get_account_info_metaplex_base64.json");
const AUTHORITIES: &str = include_str!("../../../shared/adapters/src/dex/solana/test_data/http_get_account_info_mint_2022_json_parsed.json");

/// Mints of the test (base58, 32..44 chars).
const MINT_RENOUNCED: &str = "GPAVdWsSJhoJhE7ZbcWc4ffNHAbBZRP58jujb1empump";
const MINT_FREEZE: &str = "3Y1SCEJABneLzJ1KL7f6jp5NyP7wxjtqmAy5qKAVpump";
const MINT_ABSENT: &str = "HaQdrXRUoxxk1qLFZJNrSyzWNjn16o1r1np5h6jipump";

fn now() -> Ts {
    "2026-10-08T12:00:00Z".parse().unwrap()
}

struct FixedClock(Ts);

impl Clock for FixedClock {
    fn now(&self) -> Ts {
        self.0
    }
}

/// The recorded `result.value` of a vendor-doc `getAccountInfo` body.
fn account(body: &str) -> Value {
    serde_json::from_str::<Value>(body).unwrap()["result"]["value"].clone()
}

/// The mainnet Metaplex metadata account of the test data (MILLI; creators `None`) rewritten for `mint`
/// with `is_mutable` (byte 323: after the puffed strings, `seller_fee_basis_points`, the `None` creators
/// tag and `primary_sale_happened`).
fn metaplex_of(mint: &str, is_mutable: bool) -> Value {
    use base64::Engine as _;
    let v = account(METAPLEX);
    let mut bytes = base64::engine::general_purpose::STANDARD.decode(v["data"][0].as_str().unwrap()).unwrap();
    bytes[33..65].copy_from_slice(&bs58::decode(mint).into_vec().unwrap());
    bytes[323] = u8::from(is_mutable);
    base64_account(METAPLEX_METADATA, &bytes)
}

/// Only the Solana RPC, at the node.
fn providers(node_url: &str) -> ProvidersConfig {
    let mut p = ProvidersConfig::all_at(node_url);
    (p.goplus.enabled, p.honeypot_is.enabled, p.rugcheck.enabled, p.solana_rpc.enabled) = (false, false, false, true);
    p
}

async fn scorer(node_url: &str) -> Arc<nl_risk_scorer::RiskScorerCore> {
    let cfg = RiskScorerConfig { providers: providers(node_url), fetch_wait_ms: 20, report_cache_ttl_secs: 0, ..RiskScorerConfig::default() };
    let ctx = RiskScorerCtx::new(Arc::new(MemoryBus::default()), RunIdentity { run_id: "run".into(), config_hash: "cfg".into() })
        .with_clock(Arc::new(FixedClock(now())));
    nl_risk_scorer::build(cfg, ctx).await.unwrap().core()
}

fn snapshot_env(mint: &str) -> Envelope {
    let asset = AssetId::parse(&format!("solana:{mint}")).unwrap();
    let snap = Snapshot {
        asset_id: asset.clone(),
        observed_at: "2026-10-08T11:59:00Z".parse().unwrap(),
        source: "geckoterminal".into(),
        price_usd: None,
        fdv_usd: None,
        market_cap_usd: None,
        liquidity_usd: Some("52239.41".parse().unwrap()),
        volume_24h_usd: Some("180000".parse().unwrap()),
        holders: Some(400),
        age_minutes: Some(45),
        raw_event_id: None,
    };
    let meta = serde_json::to_value(&snap).unwrap();
    Envelope::new(EventType::SnapshotRecorded, &[&asset.to_string(), "11:59"], snap.observed_at, "run", "cfg", meta).with_asset(asset.to_string())
}

fn verdict(eval: &RiskEvaluation, code: &str) -> (Verdict, String) {
    let c = eval.checks.iter().find(|c| c.code == code).unwrap_or_else(|| panic!("no {code} check: {:?}", eval.checks));
    (c.verdict, c.provider.clone())
}

#[tokio::test]
async fn mint_and_freeze_authority_verdicts_match_the_account_data() {
    let node = SolanaNode::start().await.unwrap();
    {
        let mut l = node.ledger();
        l.accounts.insert(MINT_RENOUNCED.into(), account(RENOUNCED));
        // The Token-2022 sample has both authorities set; this mint keeps only its freeze authority.
        let mut freeze_only = account(AUTHORITIES);
        freeze_only["data"]["parsed"]["info"]["mintAuthority"] = Value::Null;
        l.accounts.insert(MINT_FREEZE.into(), freeze_only);
        l.accounts.insert("TSLvdd1pWpHVjahSpsvCXUbgwsL3JAcvokwaKt1eokM".into(), account(AUTHORITIES));
    }
    let core = scorer(&node.url).await;

    let e = core.evaluate_envelope(&snapshot_env(MINT_RENOUNCED)).await.unwrap();
    let eval: RiskEvaluation = serde_json::from_value(e.risk.meta.clone()).unwrap();
    assert_eq!(verdict(&eval, "mint_authority"), (Verdict::Pass, "solana_rpc".into()), "mintAuthority null = renounced");
    assert_eq!(verdict(&eval, "freeze_authority"), (Verdict::Pass, "solana_rpc".into()));
    assert_eq!(e.raws.len(), 2, "both RPC responses (the mint, its Metaplex metadata PDA) are kept raw");
    assert_eq!(verdict(&eval, "metadata_mutable"), (Verdict::Unknown, "rugcheck".into()), "no metadata account: unknown, never pass");
    assert_eq!(e.raws[0].source, "solana_rpc");
    assert!(e.raws[0].endpoint.ends_with(&format!("#getAccountInfo({MINT_RENOUNCED})")), "{}", e.raws[0].endpoint);
    assert_eq!((e.raws[0].http_status, e.raws[0].parse_error.as_deref()), (Some(200), None));

    let e = core.evaluate_envelope(&snapshot_env(MINT_FREEZE)).await.unwrap();
    let eval: RiskEvaluation = serde_json::from_value(e.risk.meta.clone()).unwrap();
    assert_eq!(verdict(&eval, "mint_authority").0, Verdict::Pass);
    assert_eq!(verdict(&eval, "freeze_authority"), (Verdict::Fail, "solana_rpc".into()), "a freeze authority that is set is a risk");
    let freeze = eval.checks.iter().find(|c| c.code == "freeze_authority").unwrap();
    assert_eq!(freeze.severity, 100, "freeze_authority is a shipped hard-fail code");

    let e = core.evaluate_envelope(&snapshot_env("TSLvdd1pWpHVjahSpsvCXUbgwsL3JAcvokwaKt1eokM")).await.unwrap();
    let eval: RiskEvaluation = serde_json::from_value(e.risk.meta.clone()).unwrap();
    assert_eq!((verdict(&eval, "mint_authority").0, verdict(&eval, "freeze_authority").0), (Verdict::Fail, Verdict::Fail));
    assert_eq!(verdict(&eval, "metadata_mutable"), (Verdict::Fail, "solana_rpc".into()), "Token-2022 tokenMetadata with an update authority");
    assert_eq!(node.ledger().calls.get("getAccountInfo").copied(), Some(6), "two getAccountInfo per evaluation: the mint and its metadata PDA");
}

#[tokio::test]
async fn an_rpc_error_or_a_missing_account_is_unknown_never_pass() {
    let node = SolanaNode::start().await.unwrap();
    let core = scorer(&node.url).await;
    // No account at the address: `value: null`.
    let e = core.evaluate_envelope(&snapshot_env(MINT_ABSENT)).await.unwrap();
    let eval: RiskEvaluation = serde_json::from_value(e.risk.meta.clone()).unwrap();
    assert_eq!((verdict(&eval, "mint_authority").0, verdict(&eval, "freeze_authority").0), (Verdict::Unknown, Verdict::Unknown));
    assert!(e.raws[0].parse_error.as_deref().is_some_and(|m| m.contains("no account")), "{:?}", e.raws[0].parse_error);

    // The node answers a JSON-RPC error object.
    node.ledger().account_error = Some((-32005, "Node is behind by 42 slots".into()));
    node.ledger().accounts.insert(MINT_RENOUNCED.into(), account(RENOUNCED));
    let e = core.evaluate_envelope(&snapshot_env(MINT_RENOUNCED)).await.unwrap();
    let eval: RiskEvaluation = serde_json::from_value(e.risk.meta.clone()).unwrap();
    assert_eq!((verdict(&eval, "mint_authority").0, verdict(&eval, "freeze_authority").0), (Verdict::Unknown, Verdict::Unknown));
    assert!(e.raws[0].parse_error.as_deref().is_some_and(|m| m.contains("-32005")), "kept with its error: {:?}", e.raws[0].parse_error);

    // Nothing listening: a transport failure, captured without a status.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cfg = providers(&format!("http://127.0.0.1:{port}"));
    cfg.solana_rpc.max_attempts = 1;
    let down = scorer_with(cfg).await;
    let e = down.evaluate_envelope(&snapshot_env(MINT_RENOUNCED)).await.unwrap();
    let eval: RiskEvaluation = serde_json::from_value(e.risk.meta.clone()).unwrap();
    assert_eq!(verdict(&eval, "mint_authority").0, Verdict::Unknown);
    assert_eq!(e.raws[0].http_status, None);
}

async fn scorer_with(providers: ProvidersConfig) -> Arc<nl_risk_scorer::RiskScorerCore> {
    let cfg = RiskScorerConfig { providers, fetch_wait_ms: 20, report_cache_ttl_secs: 0, ..RiskScorerConfig::default() };
    let ctx = RiskScorerCtx::new(Arc::new(MemoryBus::default()), RunIdentity { run_id: "run".into(), config_hash: "cfg".into() })
        .with_clock(Arc::new(FixedClock(now())));
    nl_risk_scorer::build(cfg, ctx).await.unwrap().core()
}

#[tokio::test]
async fn a_capture_answers_the_same_request_in_a_re_derivation() {
    let node = SolanaNode::start().await.unwrap();
    node.ledger().accounts.insert(MINT_FREEZE.into(), account(AUTHORITIES));
    let cfg = providers(&node.url);
    let asset = AssetId::parse(&format!("solana:{MINT_FREEZE}")).unwrap();
    let live = ProviderClients::new(&cfg, "run-1", &|_| None).unwrap();
    assert_eq!(live.asked_about(&asset), [Provider::Rugcheck, Provider::SolanaRpc], "rugcheck as before, the RPC next to it");
    node.ledger().accounts.insert(metaplex_metadata_address(MINT_FREEZE).unwrap(), metaplex_of(MINT_FREEZE, false));
    let f = live.fetch(Provider::SolanaRpc, &asset, now()).await;
    assert_eq!(f.raws.len(), 2);
    // Indexed the way `nl rederive` indexes provider captures: by source and request path under the base URL.
    let queues: RecordedQueues =
        f.raws.iter().map(|raw| (raw.source.clone(), request_path(&raw.endpoint, &cfg.solana_rpc.base_url).to_string(), raw.clone())).collect();
    let replay = ProviderClients::new(&cfg, "run-2", &|_| None).unwrap().with_recorded(Arc::new(queues));
    let g = replay.fetch(Provider::SolanaRpc, &asset, "2030-01-01T00:00:00Z".parse().unwrap()).await;
    let report = f.report.unwrap();
    assert_eq!(report.facts.metadata_mutable, Some(false), "the Metaplex account says immutable");
    assert_eq!(g.report.unwrap(), report, "the same report (metadata included) from the captures");
    let same = |r: &[nl_domain::RawEvent]| r.iter().map(|r| (r.endpoint.clone(), r.content_hash.clone())).collect::<Vec<_>>();
    assert_eq!(same(&g.raws), same(&f.raws), "the replay answers both requests from their captures");
    assert_eq!(node.ledger().calls.get("getAccountInfo").copied(), Some(2), "the replay did not ask the node");
}

#[tokio::test]
async fn metaplex_is_mutable_is_a_check_read_at_the_metadata_pda() {
    let node = SolanaNode::start().await.unwrap();
    {
        let mut l = node.ledger();
        l.accounts.insert(MINT_RENOUNCED.into(), account(RENOUNCED));
        l.accounts.insert(MINT_ABSENT.into(), account(RENOUNCED));
        // The recorded mainnet metadata account (MILLI), rewritten for our mint, at the PDA derived from it.
        l.accounts.insert(metaplex_metadata_address(MINT_RENOUNCED).unwrap(), metaplex_of(MINT_RENOUNCED, true));
        // A metadata account that is not Metaplex's: kept raw with its error, the check unknown.
        let mut wrong = metaplex_of(MINT_ABSENT, false);
        wrong["owner"] = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA".into();
        l.accounts.insert(metaplex_metadata_address(MINT_ABSENT).unwrap(), wrong);
    }
    let core = scorer(&node.url).await;

    let e = core.evaluate_envelope(&snapshot_env(MINT_RENOUNCED)).await.unwrap();
    let eval: RiskEvaluation = serde_json::from_value(e.risk.meta.clone()).unwrap();
    assert_eq!(verdict(&eval, "metadata_mutable"), (Verdict::Fail, "solana_rpc".into()), "is_mutable = 1");
    let check = eval.checks.iter().find(|c| c.code == "metadata_mutable").unwrap();
    assert_eq!(check.severity, 20, "a soft risk, not a shipped hard fail");
    let pda = metaplex_metadata_address(MINT_RENOUNCED).unwrap();
    let md = e.raws.iter().find(|r| r.endpoint.ends_with(&format!("#getAccountInfo({pda})"))).expect("the metadata response is kept raw");
    assert_eq!((md.http_status, md.parse_error.as_deref()), (Some(200), None));
    let score: Value = e.score.meta.clone();
    assert!(score.to_string().contains(&md.raw_id), "the score cites the metadata capture: {score}");

    let e = core.evaluate_envelope(&snapshot_env(MINT_ABSENT)).await.unwrap();
    let eval: RiskEvaluation = serde_json::from_value(e.risk.meta.clone()).unwrap();
    assert_eq!(verdict(&eval, "mint_authority"), (Verdict::Pass, "solana_rpc".into()), "the mint still answers");
    assert_eq!(verdict(&eval, "metadata_mutable").0, Verdict::Unknown, "a metadata account of another owner is never a pass");
    let pda = metaplex_metadata_address(MINT_ABSENT).unwrap();
    let md = e.raws.iter().find(|r| r.endpoint.ends_with(&format!("#getAccountInfo({pda})"))).unwrap();
    assert!(md.parse_error.as_deref().is_some_and(|m| m.contains("not the Metaplex")), "{:?}", md.parse_error);
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}
