//! The gRPC `nl.v1.Gate` server.
//!
//! * `Check(asset_id)` returns the latest stored decision (with its reason codes) from a
//!   [`LedgerReader`] (the ledger's read side).
//! * `CheckExecution(asset_id, confirm_token, dry_run)` answers the L6 question through
//!   [`check_execution`]: not allowed unless execution is enabled, armed, the presented token matches the
//!   one in the environment variable the config names, it is not a dry run, and the latest decision is
//!   promoted. It never executes anything and never logs the token.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use nl_domain::{AssetId, GateDecision, LedgerReader, ReadError};
use nl_proto::pb;
use nl_proto::pb::gate_server::{Gate, GateServer};
use tokio::net::TcpListener;
use nl_proto::auth::RequireBearer;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::ServerTlsConfig;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::service::GateServiceError;
use crate::{ExecutionConfig, check_execution};

type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Implementation of `nl.v1.Gate`.
#[derive(Clone)]
pub struct GateGrpc {
    decisions: Arc<dyn LedgerReader>,
    execution: ExecutionConfig,
    env: EnvLookup,
    auth: RequireBearer,
    tls: Option<ServerTlsConfig>,
}

impl std::fmt::Debug for GateGrpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateGrpc").field("execution", &self.execution).finish_non_exhaustive()
    }
}

impl GateGrpc {
    /// A server reading decisions from `decisions`, with the confirmation token read from the process
    /// environment.
    #[must_use]
    pub fn new(decisions: Arc<dyn LedgerReader>, execution: ExecutionConfig) -> Self {
        Self { decisions, execution, env: Arc::new(|k| std::env::var(k).ok()), auth: RequireBearer::default(), tls: None }
    }

    /// Serves TLS only, with this certificate and key (see [`nl_proto::tls::server_tls`]), when `Some`.
    #[must_use]
    pub fn with_tls(mut self, tls: Option<ServerTlsConfig>) -> Self {
        self.tls = tls;
        self
    }

    /// Requires a bearer token on every request (`UNAUTHENTICATED` without it) when `auth` has one.
    #[must_use]
    pub fn with_auth(mut self, auth: RequireBearer) -> Self {
        self.auth = auth;
        self
    }

    /// Replaces the environment lookup (tests, secret stores).
    #[must_use]
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Arc::new(env);
        self
    }

    /// The tonic service to mount on a router.
    #[must_use]
    pub fn into_service(self) -> GateServer<Self> {
        GateServer::new(self)
    }

    async fn latest(&self, asset_id: &str) -> Result<Option<GateDecision>, Status> {
        let asset = AssetId::parse(asset_id).map_err(|e| Status::invalid_argument(e.to_string()))?;
        self.decisions.latest_decision(&asset).await.map_err(|e| match e {
            ReadError::Corrupt(_) => Status::data_loss(e.to_string()),
            ReadError::Unavailable(_) => Status::unavailable(e.to_string()),
        })
    }
}

#[tonic::async_trait]
impl Gate for GateGrpc {
    async fn check(&self, req: Request<pb::CheckRequest>) -> Result<Response<pb::CheckResponse>, Status> {
        let asset_id = req.into_inner().asset_id;
        let decision = self.latest(&asset_id).await?.ok_or_else(|| Status::not_found(format!("no gate decision for {asset_id}")))?;
        Ok(Response::new(pb::CheckResponse { decision: Some(pb::GateDecision::from(&decision)) }))
    }

    async fn check_execution(&self, req: Request<pb::CheckExecutionRequest>) -> Result<Response<pb::CheckExecutionResponse>, Status> {
        let r = req.into_inner();
        let decision = self.latest(&r.asset_id).await?;
        let presented = Some(r.confirm_token.as_str()).filter(|t| !t.is_empty());
        let env = Arc::clone(&self.env);
        let answer = check_execution(&self.execution, presented, move |k| env(k), r.dry_run, decision.as_ref());
        tracing::info!(asset_id = %r.asset_id, allowed = answer.allowed, reasons = ?answer.reasons, dry_run = r.dry_run, "Execution check.");
        Ok(Response::new(pb::CheckExecutionResponse {
            allowed: answer.allowed,
            reasons: answer.reasons,
            decision: decision.as_ref().map(pb::GateDecision::from),
        }))
    }
}

/// Serves `Gate` on `addr` until `shutdown` completes.
///
/// # Errors
/// [`GateServiceError::Io`] when `addr` cannot be bound, [`GateServiceError::Transport`] when serving fails.
pub async fn serve(addr: SocketAddr, svc: GateGrpc, shutdown: impl Future<Output = ()>) -> Result<(), GateServiceError> {
    let listener = TcpListener::bind(addr).await?;
    serve_listener(listener, svc, shutdown).await
}

/// Serves `svc` on an already bound listener (bind `127.0.0.1:0` and read `local_addr` first in tests).
///
/// # Errors
/// [`GateServiceError::Transport`] when serving fails.
pub async fn serve_listener(listener: TcpListener, svc: GateGrpc, shutdown: impl Future<Output = ()>) -> Result<(), GateServiceError> {
    let (auth, tls) = (svc.auth.clone(), svc.tls.clone());
    let service = InterceptedService::new(svc.into_service(), auth);
    nl_proto::tls::server(tls)?.add_service(service).serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown).await?;
    Ok(())
}
