//! The dashboard's HTTP surface over a scripted `LedgerReader`: token check, error statuses, CSV export,
//! escaping and security headers, on 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use nl_domain::views::{AssetDetail, Listing, ListingQuery, MarketKind, RunSummary, SourceHealth};
use nl_domain::{AssetId, Decision, GateDecision, LedgerReader, ReadError};
use nl_web::{WebConfig, WebService};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves fixed listings; records the last query; fails every read when `down`.
#[derive(Default)]
struct Scripted {
    rows: Vec<Listing>,
    sources: Vec<SourceHealth>,
    last: Mutex<Option<ListingQuery>>,
    down: bool,
}

fn listing(id: &str, symbol: &str) -> Listing {
    Listing {
        asset_id: AssetId::parse(id).unwrap(),
        symbol: symbol.into(),
        name: Some("=HYPERLINK(\"http://x\")".into()),
        chain: None,
        address: None,
        kind: MarketKind::Cex,
        status: "live".into(),
        venues: vec!["okx".into()],
        sources: vec!["okx_spot".into()],
        first_seen_at: chrono::Utc::now(),
        first_source: "okx_spot".into(),
        source_published_at: None,
        price_usd: None,
        liquidity_usd: None,
        score: None,
        decision: Some(Decision::Promoted),
        reason_codes: vec!["PROMOTED".into()],
        risk: None,
        reviewed_at: None,
    }
}

#[async_trait]
impl LedgerReader for Scripted {
    async fn latest_decision(&self, _asset: &AssetId) -> Result<Option<GateDecision>, ReadError> {
        Ok(None)
    }
    async fn listings(&self, query: &ListingQuery) -> Result<Vec<Listing>, ReadError> {
        if self.down {
            return Err(ReadError::Unavailable("database is locked".into()));
        }
        *self.last.lock().unwrap() = Some(query.clone());
        Ok(self.rows.clone())
    }
    async fn asset_detail(&self, _asset: &AssetId) -> Result<Option<AssetDetail>, ReadError> {
        Ok(None)
    }
    async fn sources(&self) -> Result<Vec<SourceHealth>, ReadError> {
        Ok(self.sources.clone())
    }
    async fn runs(&self, _limit: u32) -> Result<Vec<RunSummary>, ReadError> {
        Ok(vec![])
    }
    async fn change_mark(&self) -> Result<i64, ReadError> {
        Ok(1)
    }
}

async fn start(reader: Arc<Scripted>, token: Option<&str>) -> (String, nl_bus::CancellationToken) {
    let token = token.map(str::to_string);
    let token_env = token.as_ref().map(|_| "TEST_WEB_TOKEN".to_string());
    let env: nl_bus::EnvLookup = Arc::new(move |k| (k == "TEST_WEB_TOKEN").then(|| token.clone()).flatten());
    let ctx = nl_bus::ServiceCtx::new(Arc::new(nl_bus::MemoryBus::default()), nl_domain::RunIdentity { run_id: "r".into(), config_hash: "c".into() }).with_env(env);
    let cfg = WebConfig { addr: "127.0.0.1:0".parse().unwrap(), token_env, ..WebConfig::default() };
    let web = WebService::bind(cfg, &ctx, reader).await.unwrap();
    let addr = web.local_addr().unwrap().to_string();
    let stop = nl_bus::CancellationToken::new();
    tokio::spawn(web.serve(stop.clone()));
    (addr, stop)
}

/// One request; (status, head, body).
async fn req(addr: &str, method: &str, path: &str, auth: Option<&str>) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n{auth}\r\n").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head[9..12].parse().unwrap(), head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test]
async fn a_token_is_required_when_configured_and_health_stays_open() {
    let reader = Arc::new(Scripted { rows: vec![listing("cex:okx:AAA", "AAA")], ..Scripted::default() });
    let (addr, stop) = start(reader, Some("s3cret")).await;
    let (status, head, _) = req(&addr, "GET", "/", None).await;
    assert_eq!(status, 401);
    assert!(head.contains("www-authenticate: basic"), "{head}");
    assert_eq!(req(&addr, "GET", "/", Some("Bearer wrong")).await.0, 401);
    assert_eq!(req(&addr, "GET", "/live", None).await.0, 401, "the live stream is protected too");
    assert_eq!(req(&addr, "GET", "/", Some("Bearer s3cret")).await.0, 200);
    // Basic auth with the token as password: base64("desk:s3cret").
    assert_eq!(req(&addr, "GET", "/", Some("Basic ZGVzazpzM2NyZXQ=")).await.0, 200);
    assert_eq!(req(&addr, "GET", "/healthz", None).await.0, 200);
    stop.cancel();
}

#[tokio::test]
async fn a_missing_token_variable_or_an_open_address_without_one_fails_at_start() {
    let ctx = nl_bus::ServiceCtx::new(Arc::new(nl_bus::MemoryBus::default()), nl_domain::RunIdentity { run_id: "r".into(), config_hash: "c".into() })
        .with_env(Arc::new(|_| None));
    let cfg = WebConfig { addr: "127.0.0.1:0".parse().unwrap(), token_env: Some("NOT_SET".into()), ..WebConfig::default() };
    let err = WebService::bind(cfg, &ctx, Arc::new(Scripted::default())).await.unwrap_err().to_string();
    assert!(err.contains("NOT_SET"), "{err}");
    let cfg = WebConfig { addr: "0.0.0.0:0".parse().unwrap(), ..WebConfig::default() };
    let err = WebService::bind(cfg, &ctx, Arc::new(Scripted::default())).await.unwrap_err().to_string();
    assert!(err.contains("not loopback") && err.contains("token_env"), "{err}");
}

#[tokio::test]
async fn filters_reach_the_reader_and_bad_ones_are_a_400_that_says_why() {
    let reader = Arc::new(Scripted { rows: vec![listing("cex:okx:AAA", "<b>AAA</b>")], ..Scripted::default() });
    let (addr, stop) = start(reader.clone(), None).await;
    let (status, head, body) = req(&addr, "GET", "/?chain=solana&kind=dex&decision=rejected&min_liq=5000&q=pep&since=1h", None).await;
    assert_eq!(status, 200);
    assert!(head.contains("content-security-policy: default-src 'self'"), "{head}");
    assert!(body.contains("&lt;b&gt;AAA&lt;/b&gt;") && !body.contains("<b>AAA"), "symbols are escaped");
    let q = reader.last.lock().unwrap().clone().unwrap();
    assert_eq!((q.chain.as_deref(), q.kind, q.decision, q.text.as_deref()), (Some("solana"), Some(MarketKind::Dex), Some(Decision::Rejected), Some("pep")));
    assert_eq!(q.min_liquidity_usd, Some(5000.into()));
    assert!(q.since.is_some() && !q.candidates_only);

    let (status, _, body) = req(&addr, "GET", "/?decision=maybe", None).await;
    assert_eq!(status, 400);
    assert!(body.contains("promoted or rejected"), "{body}");
    assert_eq!(req(&addr, "GET", "/asset/not%20an%20id", None).await.0, 400);
    assert_eq!(req(&addr, "GET", "/asset/cex:okx:NOPE", None).await.0, 404);
    assert_eq!(req(&addr, "POST", "/asset/cex:okx:AAA/review", None).await.0, 501);

    let _ = req(&addr, "GET", "/candidates/export.csv?venue=okx", None).await;
    assert!(reader.last.lock().unwrap().as_ref().unwrap().candidates_only, "the candidates export asks for candidates");
    stop.cancel();
}

#[tokio::test]
async fn csv_export_defuses_formulas_and_quotes_cells() {
    let reader = Arc::new(Scripted { rows: vec![listing("cex:okx:AAA", "AAA")], ..Scripted::default() });
    let (addr, stop) = start(reader, None).await;
    let (status, head, body) = req(&addr, "GET", "/export.csv", None).await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/csv"), "{head}");
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some(nl_web::csv::LISTING_COLUMNS.join(",").as_str()));
    let row = lines.next().unwrap();
    assert!(row.contains(",\"'=HYPERLINK(\"\"http://x\"\")\","), "a formula name is quoted and prefixed: {row}");
    stop.cancel();
}

#[tokio::test]
async fn an_unreadable_ledger_is_a_503_not_an_empty_page() {
    let (addr, stop) = start(Arc::new(Scripted { down: true, ..Scripted::default() }), None).await;
    let (status, _, body) = req(&addr, "GET", "/", None).await;
    assert_eq!(status, 503);
    assert!(body.contains("ledger unavailable"), "{body}");
    stop.cancel();
}

/// Who holds each source's lease, as a collectors' lease bucket would answer.
struct Holders;

#[async_trait]
impl nl_web::LeaseHolders for Holders {
    async fn holder(&self, source: &str) -> Option<String> {
        (source == "okx_spot").then(|| "collector-a-<7>".to_string())
    }
}

fn health(source: &str) -> SourceHealth {
    SourceHealth {
        source: source.into(),
        captures: 3,
        errors: 0,
        rate_limited: 0,
        last_capture_at: None,
        last_success_at: None,
        last_error: None,
        latency_p50_ms: None,
        latency_p99_ms: None,
        lease_rev: None,
    }
}

#[tokio::test]
async fn the_sources_page_names_each_lease_holder_when_leases_are_known() {
    let reader = Arc::new(Scripted { sources: vec![health("okx_spot"), health("geckoterminal")], ..Scripted::default() });
    let ctx = nl_bus::ServiceCtx::new(Arc::new(nl_bus::MemoryBus::default()), nl_domain::RunIdentity { run_id: "r".into(), config_hash: "c".into() });
    let cfg = WebConfig { addr: "127.0.0.1:0".parse().unwrap(), ..WebConfig::default() };
    let web = WebService::bind(cfg.clone(), &ctx, reader.clone()).await.unwrap().with_leases(Arc::new(Holders));
    let addr = web.local_addr().unwrap().to_string();
    let stop = nl_bus::CancellationToken::new();
    tokio::spawn(web.serve(stop.clone()));
    let (status, _, body) = req(&addr, "GET", "/sources", None).await;
    assert_eq!(status, 200);
    assert!(body.contains("<th>lease holder</th>"), "{body}");
    let row = |source: &str| body.split("<tr>").find(|r| r.contains(&format!(">{source}<"))).unwrap_or_default().to_string();
    assert!(row("okx_spot").contains("<td>collector-a-&lt;7&gt;</td>"), "the holder, escaped: {}", row("okx_spot"));
    assert!(row("geckoterminal").contains("<td>—</td>"), "no lease: {}", row("geckoterminal"));

    // Without a lease lookup (embedded modes) nobody is named.
    let web = WebService::bind(cfg, &ctx, reader).await.unwrap();
    let addr = web.local_addr().unwrap().to_string();
    tokio::spawn(web.serve(stop.clone()));
    let (_, _, body) = req(&addr, "GET", "/sources", None).await;
    assert!(!body.contains("collector-a"), "{body}");
    stop.cancel();
}
