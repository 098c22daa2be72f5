//! [`LedgerReader`] over gRPC `Ledger`: how a service reads the ledger in distributed mode, where the
//! ledger process is the only one that opens the database.

use nl_domain::{AssetId, GateDecision, LedgerReader, ReadError};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::auth::AttachBearer;
use crate::pb;
use crate::pb::ledger_client::LedgerClient;

/// A ledger read through its gRPC API.
#[derive(Debug, Clone)]
pub struct GrpcLedgerReader {
    client: LedgerClient<InterceptedService<Channel, AttachBearer>>,
}

impl GrpcLedgerReader {
    /// A reader on `channel` (connected lazily or eagerly by the caller).
    #[must_use]
    pub fn new(channel: Channel) -> Self {
        Self::with_auth(channel, AttachBearer::default())
    }

    /// A reader whose requests carry the ledger's bearer token.
    #[must_use]
    pub fn with_auth(channel: Channel, auth: AttachBearer) -> Self {
        Self { client: LedgerClient::with_interceptor(channel, auth) }
    }
}

#[async_trait::async_trait]
impl LedgerReader for GrpcLedgerReader {
    async fn latest_decision(&self, asset: &AssetId) -> Result<Option<GateDecision>, ReadError> {
        let req = pb::GetLatestRequest { asset_id: asset.to_string() };
        let resp = match self.client.clone().get_latest(req).await {
            Ok(r) => r.into_inner(),
            Err(s) if s.code() == tonic::Code::NotFound => return Ok(None),
            Err(s) => return Err(ReadError::Unavailable(format!("ledger GetLatest: {s}"))),
        };
        resp.decision.and_then(|d| d.decision).map(|d| GateDecision::try_from(d).map_err(|e| ReadError::Corrupt(format!("{asset}: {e}")))).transpose()
    }
}
