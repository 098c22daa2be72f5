//! The gRPC `Ledger` service over the read-only pool. It never writes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use nl_bus::Bus;
use nl_proto::pb;
use nl_proto::pb::ledger_server::{Ledger, LedgerServer};
use tokio::net::TcpListener;
use nl_proto::auth::RequireBearer;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::ServerTlsConfig;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::error::{LedgerError, Result};
use crate::read::SqliteReader;
use crate::rows::{AssetFilter, AssetRow, DecisionRow, RiskRow, ScoreRow, SnapshotRow};
use crate::store::LedgerStore;

/// Implementation of `nl.v1.Ledger`.
#[derive(Clone)]
pub struct LedgerGrpc {
    reader: SqliteReader,
    bus: Option<Arc<dyn Bus>>,
    auth: RequireBearer,
    tls: Option<ServerTlsConfig>,
}

impl std::fmt::Debug for LedgerGrpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerGrpc").field("bus", &self.bus.is_some()).finish_non_exhaustive()
    }
}

impl LedgerGrpc {
    #[must_use]
    pub fn new(reader: SqliteReader) -> Self {
        Self { reader, bus: None, auth: RequireBearer::default(), tls: None }
    }

    /// Requires a bearer token on every request (`UNAUTHENTICATED` without it) when `auth` has one.
    #[must_use]
    pub fn with_auth(mut self, auth: RequireBearer) -> Self {
        self.auth = auth;
        self
    }

    /// Serves TLS only, with this certificate and key (see [`nl_proto::tls::server_tls`]), when `Some`.
    #[must_use]
    pub fn with_tls(mut self, tls: Option<ServerTlsConfig>) -> Self {
        self.tls = tls;
        self
    }

    /// Lets `Stats` report the bus's dead-letter count.
    #[must_use]
    pub fn with_bus(mut self, bus: Arc<dyn Bus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// The tonic service to mount on a router.
    #[must_use]
    pub fn into_service(self) -> LedgerServer<Self> {
        LedgerServer::new(self)
    }
}

/// Serves `Ledger` on `addr` until `shutdown` completes.
///
/// # Errors
/// [`LedgerError::Io`] when `addr` cannot be bound, [`LedgerError::Transport`] when serving fails.
pub async fn serve(addr: SocketAddr, store: &LedgerStore, shutdown: impl Future<Output = ()>) -> Result<()> {
    let listener = TcpListener::bind(addr).await?;
    serve_listener(listener, LedgerGrpc::new(store.reader().clone()), shutdown).await
}

/// Serves `svc` on an already bound listener (bind `127.0.0.1:0` and read `local_addr` first in tests).
///
/// # Errors
/// [`LedgerError::Transport`] when serving fails.
pub async fn serve_listener(listener: TcpListener, svc: LedgerGrpc, shutdown: impl Future<Output = ()>) -> Result<()> {
    let (auth, tls) = (svc.auth.clone(), svc.tls.clone());
    let service = InterceptedService::new(svc.into_service(), auth);
    nl_proto::tls::server(tls)?.add_service(service).serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown).await?;
    Ok(())
}

fn status(e: &LedgerError) -> Status {
    if e.is_retryable() { Status::unavailable(e.to_string()) } else { Status::internal(e.to_string()) }
}

impl From<AssetRow> for pb::Asset {
    fn from(a: AssetRow) -> Self {
        Self {
            asset_id: a.asset_id,
            symbol: a.symbol,
            name: a.name,
            chain: a.chain,
            address: a.contract_address,
            kind: a.kind,
            first_seen_at: a.first_seen_at,
            first_source: a.first_source,
            last_seen_at: a.last_seen_at,
            sources_json: a.sources_json,
            status: a.status,
            reviewed_at: a.reviewed_at,
            updated_at: a.updated_at,
            run_id: a.run_id,
        }
    }
}

impl From<SnapshotRow> for pb::LatestSnapshot {
    fn from(s: SnapshotRow) -> Self {
        Self {
            event_id: s.event_id,
            observed_at: s.ts,
            source: s.source,
            price_usd: s.price,
            fdv_usd: s.fdv,
            market_cap_usd: s.market_cap_usd,
            liquidity_usd: s.liquidity_usd,
            volume_24h_usd: s.volume_24h_usd,
            holders: s.holders,
            age_minutes: s.age_minutes,
            raw_event_id: s.raw_event_id,
            run_id: s.run_id,
        }
    }
}

impl From<RiskRow> for pb::LatestRisk {
    fn from(r: RiskRow) -> Self {
        Self {
            event_id: r.event_id,
            evaluated_at: r.ts,
            rule_set_version: r.rule_set_version,
            severity: u32::try_from(r.severity).unwrap_or(0),
            checks_json: r.flags_json,
            disagreements_json: r.disagreements_json,
            run_id: r.run_id,
            config_hash: r.config_hash,
        }
    }
}

impl From<ScoreRow> for pb::LatestScore {
    fn from(s: ScoreRow) -> Self {
        Self {
            event_id: s.event_id,
            computed_at: s.ts,
            score: s.score.to_string(),
            breakdown_json: s.breakdown_json,
            reason: s.reason,
            formula_version: s.formula_version,
            run_id: s.run_id,
            config_hash: s.config_hash,
        }
    }
}

impl TryFrom<DecisionRow> for pb::LatestDecision {
    type Error = LedgerError;
    fn try_from(d: DecisionRow) -> Result<Self> {
        let decision = match d.decision.as_str() {
            "promoted" => pb::Decision::Promoted,
            "rejected" => pb::Decision::Rejected,
            other => return Err(LedgerError::Corrupt(format!("gate_decisions.decision {other:?}"))),
        };
        let list = |field: &str, s: &str| -> Result<Vec<String>> {
            serde_json::from_str(s).map_err(|e| LedgerError::Corrupt(format!("gate_decisions.{field} of {}: {e}", d.event_id)))
        };
        Ok(Self {
            decision: Some(pb::GateDecision {
                asset_id: d.asset_id.clone(),
                decision: decision.into(),
                reason_codes: list("reason_codes_json", &d.reason_codes_json)?,
                rule_set_version: d.rule_set_version.clone(),
                config_hash: d.config_hash.clone(),
                inputs: list("inputs_json", &d.inputs_json)?,
                decided_at: d.decided_at.clone(),
            }),
            event_id: d.event_id,
            run_id: d.run_id,
        })
    }
}

#[tonic::async_trait]
impl Ledger for LedgerGrpc {
    async fn get_asset(&self, req: Request<pb::GetAssetRequest>) -> std::result::Result<Response<pb::GetAssetResponse>, Status> {
        let id = req.into_inner().asset_id;
        match self.reader.get_asset(&id).await.map_err(|e| status(&e))? {
            Some(a) => Ok(Response::new(pb::GetAssetResponse { asset: Some(a.into()) })),
            None => Err(Status::not_found(format!("unknown asset {id}"))),
        }
    }

    async fn list_assets(&self, req: Request<pb::ListAssetsRequest>) -> std::result::Result<Response<pb::ListAssetsResponse>, Status> {
        let req = req.into_inner();
        let filter = match req.filter() {
            pb::AssetFilter::Unspecified | pb::AssetFilter::All => AssetFilter::All,
            pb::AssetFilter::New => AssetFilter::New,
            pb::AssetFilter::Candidates => AssetFilter::Candidates,
        };
        let token = Some(req.page_token.as_str()).filter(|t| !t.is_empty());
        let page = self.reader.list_assets(filter, req.page_size, token).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::ListAssetsResponse {
            assets: page.assets.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        }))
    }

    async fn get_latest(&self, req: Request<pb::GetLatestRequest>) -> std::result::Result<Response<pb::GetLatestResponse>, Status> {
        let id = req.into_inner().asset_id;
        let l = self.reader.latest(&id).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::GetLatestResponse {
            asset_id: l.asset_id,
            snapshot: l.snapshot.map(Into::into),
            risk: l.risk.map(Into::into),
            score: l.score.map(Into::into),
            decision: l.decision.map(pb::LatestDecision::try_from).transpose().map_err(|e| status(&e))?,
        }))
    }

    async fn list_latest_decisions(
        &self,
        req: Request<pb::ListLatestDecisionsRequest>,
    ) -> std::result::Result<Response<pb::ListLatestDecisionsResponse>, Status> {
        let rows = self.reader.latest_decision_rows(req.into_inner().limit).await.map_err(|e| status(&e))?;
        let decisions = rows
            .into_iter()
            .map(|d| pb::LatestDecision::try_from(d).map(|l| l.decision.unwrap_or_default()))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| status(&e))?;
        Ok(Response::new(pb::ListLatestDecisionsResponse { decisions }))
    }

    async fn view(&self, req: Request<pb::ViewRequest>) -> std::result::Result<Response<pb::ViewResponse>, Status> {
        let req = req.into_inner();
        let answer = match crate::paper_views::answer(&self.reader, &req.view, &req.query_json).await {
            Some(paper) => paper,
            None => crate::views::answer(self.reader.pool(), &req.view, &req.query_json).await,
        };
        let json = answer.map_err(|e| match e {
            crate::views::ViewError::Request(m) => Status::invalid_argument(m),
            crate::views::ViewError::Store(e) => status(&e),
            crate::views::ViewError::Read(nl_domain::ReadError::Unavailable(m)) => Status::unavailable(m),
            crate::views::ViewError::Read(nl_domain::ReadError::Corrupt(m)) => Status::internal(m),
        })?;
        Ok(Response::new(pb::ViewResponse { json }))
    }

    async fn stats(&self, _req: Request<pb::StatsRequest>) -> std::result::Result<Response<pb::StatsResponse>, Status> {
        let s = self.reader.stats().await.map_err(|e| status(&e))?;
        let dead_letter_count = match &self.bus {
            Some(bus) => Some(bus.dead_letter_count().await.map_err(|e| Status::unavailable(e.to_string()))?),
            None => None,
        };
        Ok(Response::new(pb::StatsResponse {
            tables: s.tables.into_iter().map(|(table, rows)| pb::TableCount { table, rows }).collect(),
            events_by_type: s.events_by_type.into_iter().map(|(event_type, events)| pb::TypeCount { event_type, events }).collect(),
            outbox_pending: s.outbox_pending,
            dead_letter_count,
            last_run_id: s.last_run_id,
        }))
    }
}
