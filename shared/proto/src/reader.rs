//! [`LedgerReader`] over gRPC `Ledger`: how a service reads the ledger in distributed mode, where the
//! ledger process is the only one that opens the database.

use nl_domain::views::{AssetDetail, EventFeedQuery, FeedEvent, Listing, ListingQuery, RunSummary, SourceHealth};
use nl_domain::{AssetId, GateDecision, LedgerReader, ReadError};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::auth::AttachBearer;
use crate::pb;
use crate::pb::ledger_client::LedgerClient;

/// The largest answer accepted (tonic's default is 4 MiB): `ListLatestDecisions` for a gate remembering
/// 100,000 assets answers about 40 MB.
const MAX_ANSWER_BYTES: usize = 256 * 1024 * 1024;

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
        Self { client: LedgerClient::with_interceptor(channel, auth).max_decoding_message_size(MAX_ANSWER_BYTES) }
    }

    /// One `Ledger.View` call, its JSON answer decoded.
    pub(crate) async fn view<T: serde::de::DeserializeOwned>(&self, view: &str, query: &impl serde::Serialize) -> Result<T, ReadError> {
        let query_json = serde_json::to_string(query).map_err(|e| ReadError::Corrupt(format!("view {view} query: {e}")))?;
        let req = pb::ViewRequest { view: view.to_string(), query_json };
        let resp = self.client.clone().view(req).await.map_err(|s| failed(&format!("View {view}"), &s))?.into_inner();
        serde_json::from_str(&resp.json).map_err(|e| ReadError::Corrupt(format!("ledger View {view} answer: {e}")))
    }
}

/// A failed call as a read error; a refused token says how a client sends one.
fn failed(call: &str, s: &tonic::Status) -> ReadError {
    if s.code() == tonic::Code::Unauthenticated {
        return ReadError::Unavailable(format!(
            "ledger {call}: UNAUTHENTICATED, {}: the ledger requires a bearer token; set [serve] grpc_token_env (NL_SERVE__GRPC_TOKEN_ENV) to the name of an env variable holding it",
            s.message()
        ));
    }
    ReadError::Unavailable(format!("ledger {call}: {s}"))
}

#[async_trait::async_trait]
impl LedgerReader for GrpcLedgerReader {
    async fn latest_decision(&self, asset: &AssetId) -> Result<Option<GateDecision>, ReadError> {
        let req = pb::GetLatestRequest { asset_id: asset.to_string() };
        let resp = match self.client.clone().get_latest(req).await {
            Ok(r) => r.into_inner(),
            Err(s) if s.code() == tonic::Code::NotFound => return Ok(None),
            Err(s) => return Err(failed("GetLatest", &s)),
        };
        resp.decision.and_then(|d| d.decision).map(|d| GateDecision::try_from(d).map_err(|e| ReadError::Corrupt(format!("{asset}: {e}")))).transpose()
    }

    async fn latest_decisions(&self, limit: u32) -> Result<Vec<GateDecision>, ReadError> {
        let req = pb::ListLatestDecisionsRequest { limit };
        let resp = self.client.clone().list_latest_decisions(req).await.map_err(|s| ReadError::Unavailable(format!("ledger ListLatestDecisions: {s}")))?;
        resp.into_inner().decisions.into_iter().map(|d| GateDecision::try_from(d).map_err(|e| ReadError::Corrupt(format!("a latest decision: {e}")))).collect()
    }

    async fn listings(&self, query: &ListingQuery) -> Result<Vec<Listing>, ReadError> {
        self.view("listings", query).await
    }

    async fn asset_detail(&self, asset: &AssetId) -> Result<Option<AssetDetail>, ReadError> {
        self.view("asset_detail", &asset.to_string()).await
    }

    async fn sources(&self) -> Result<Vec<SourceHealth>, ReadError> {
        self.view("sources", &()).await
    }

    async fn runs(&self, limit: u32) -> Result<Vec<RunSummary>, ReadError> {
        self.view("runs", &limit).await
    }

    async fn change_mark(&self) -> Result<i64, ReadError> {
        self.view("change_mark", &()).await
    }

    async fn events_after(&self, query: &EventFeedQuery) -> Result<Vec<FeedEvent>, ReadError> {
        self.view("events_after", query).await
    }

    async fn ai_usage_since(&self, since: nl_domain::Ts) -> Result<nl_domain::AiUsage, ReadError> {
        self.view("ai_usage_since", &since).await
    }

    async fn ai_layers_answered(&self, trigger_event_id: &str) -> Result<Vec<String>, ReadError> {
        self.view("ai_layers_answered", &trigger_event_id).await
    }

    async fn stored_event_ids(&self, ids: &[String]) -> Result<std::collections::BTreeSet<String>, ReadError> {
        let mut stored = std::collections::BTreeSet::new();
        for chunk in ids.chunks(nl_domain::read::STORED_EVENT_IDS_PER_REQUEST) {
            stored.extend(self.view::<Vec<String>>("stored_event_ids", &chunk).await?);
        }
        Ok(stored)
    }
}
