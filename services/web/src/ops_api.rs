//! The `/v1` ops API of the learning book: backtests, paper sessions, experiments, fills and reports, as
//! JSON. Reads come from the ledger's read side ([`PaperReader`]); actions go through [`PaperOps`] (which
//! the `nl` binary provides), so every write is an event the ledger applies. Same access rule as the
//! dashboard: loopback by default, and when `[web] token_env` names a token every request needs
//! `Authorization: Bearer <token>`. A bad request gets 400 with the field path: `{"error", "path"}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use nl_domain::paper_ops::{BacktestRequest, OpsError, PaperOps, PaperSessionRequest, StatusRequest};
use nl_domain::paper_read::{FillQuery, PaperReader};
use nl_domain::secret::constant_time_eq;
use nl_domain::{ExperimentSpec, ReadError};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

struct Ops {
    reader: Arc<dyn PaperReader>,
    ops: Arc<dyn PaperOps>,
    token: Option<String>,
}

type St = State<Arc<Ops>>;

/// An API error as JSON.
struct ApiError(StatusCode, String, Option<String>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.2 {
            Some(path) => json!({"error": self.1, "path": path}),
            None => json!({"error": self.1}),
        };
        (self.0, axum::Json(body)).into_response()
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        Self(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), None)
    }
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> Self {
        match e {
            OpsError::BadRequest { path, message } => Self(StatusCode::BAD_REQUEST, message, Some(path)),
            OpsError::NotFound(m) => Self(StatusCode::NOT_FOUND, m, None),
            OpsError::Conflict(m) => Self(StatusCode::CONFLICT, m, None),
            OpsError::Failed(m) => Self(StatusCode::INTERNAL_SERVER_ERROR, m, None),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(status: StatusCode, v: Value) -> ApiResult {
    Ok((status, axum::Json(v)).into_response())
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None))
}

/// Parses a JSON body as `T`, refusing with 400 and the path of the first bad field.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError(StatusCode::BAD_REQUEST, e.into_inner().to_string(), Some(path))
    })
}

async fn create_experiment(State(s): St, b: Bytes) -> ApiResult {
    let spec = ExperimentSpec::parse(std::str::from_utf8(&b).unwrap_or("")).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.message, Some(e.path)))?;
    let id = spec.spec_id.clone();
    s.ops.create_experiment(spec).await?;
    let rec = s.reader.experiment(&id).await?;
    ok(StatusCode::CREATED, to_json(&rec)?)
}

async fn list_experiments(State(s): St) -> ApiResult {
    ok(StatusCode::OK, json!({"experiments": to_json(&s.reader.experiments().await?)?}))
}

async fn experiment_status(State(s): St, Path(id): Path<String>, b: Bytes) -> ApiResult {
    let req: StatusRequest = body(&b)?;
    s.ops.set_experiment_status(&id, req.status, req.reason).await?;
    ok(StatusCode::OK, to_json(&s.reader.experiment(&id).await?)?)
}

async fn create_backtest(State(s): St, b: Bytes) -> ApiResult {
    let req: BacktestRequest = body(&b)?;
    let run_id = s.ops.run_backtest(req).await?;
    ok(StatusCode::CREATED, to_json(&s.reader.strategy_run(&run_id).await?)?)
}

async fn runs(s: &Ops, mode: &str) -> ApiResult {
    ok(StatusCode::OK, json!({"runs": to_json(&s.reader.strategy_runs(Some(mode)).await?)?}))
}

async fn run(s: &Ops, mode: &str, id: &str) -> ApiResult {
    match s.reader.strategy_run(id).await? {
        Some(r) if r.mode == mode => ok(StatusCode::OK, to_json(&r)?),
        _ => Err(ApiError(StatusCode::NOT_FOUND, format!("no {mode} run {id}"), None)),
    }
}

async fn list_backtests(State(s): St) -> ApiResult {
    runs(&s, "backtest").await
}

async fn get_backtest(State(s): St, Path(id): Path<String>) -> ApiResult {
    run(&s, "backtest", &id).await
}

async fn start_session(State(s): St, b: Bytes) -> ApiResult {
    let req: PaperSessionRequest = body(&b)?;
    let run_id = s.ops.start_session(req).await?;
    ok(StatusCode::CREATED, json!({"run_id": run_id, "status": "running"}))
}

async fn list_sessions(State(s): St) -> ApiResult {
    runs(&s, "paper").await
}

async fn get_session(State(s): St, Path(id): Path<String>) -> ApiResult {
    run(&s, "paper", &id).await
}

async fn stop_session(State(s): St, Path(id): Path<String>) -> ApiResult {
    s.ops.stop_session(&id).await?;
    ok(StatusCode::OK, json!({"run_id": id, "status": "stopped"}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FillsParams {
    learning_book: Option<bool>,
    experiment_id: Option<String>,
    run_id: Option<String>,
    limit: Option<u32>,
}

async fn fills(State(s): St, Query(q): Query<Value>) -> ApiResult {
    // Query values arrive as strings: parse `learning_book` and `limit` with their field named.
    let mut v = q;
    for key in ["learning_book", "limit"] {
        if let Some(Value::String(text)) = v.get(key).cloned() {
            v[key] = serde_json::from_str(&text).map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("{text:?} is not a valid {key}"), Some(key.into())))?;
        }
    }
    let p: FillsParams = body(&Bytes::from(v.to_string()))?;
    let q = FillQuery { run_id: p.run_id, learning_book: p.learning_book, experiment_id: p.experiment_id, limit: p.limit };
    ok(StatusCode::OK, json!({"fills": to_json(&s.reader.fills(&q).await?)?}))
}

#[derive(Debug, Deserialize)]
struct ReportParams {
    group_by: Option<String>,
}

async fn report(State(s): St, Path(id): Path<String>, Query(p): Query<ReportParams>) -> ApiResult {
    ok(StatusCode::OK, s.ops.report(&id, p.group_by.as_deref().unwrap_or("book,experiment_id")).await?)
}

async fn openapi() -> Response {
    axum::Json(crate::ops_openapi::document()).into_response()
}

async fn auth(State(s): St, headers: HeaderMap, req: Request, next: Next) -> Response {
    if let Some(token) = &s.token {
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
            return ApiError(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into(), None).into_response();
        }
    }
    next.run(req).await
}

/// The `/v1` routes.
pub(crate) fn router(reader: Arc<dyn PaperReader>, ops: Arc<dyn PaperOps>, token: Option<String>) -> Router {
    let state = Arc::new(Ops { reader, ops, token });
    Router::new()
        .route("/v1/backtests", post(create_backtest).get(list_backtests))
        .route("/v1/backtests/{id}", get(get_backtest))
        .route("/v1/paper-sessions", post(start_session).get(list_sessions))
        .route("/v1/paper-sessions/{id}", get(get_session))
        .route("/v1/paper-sessions/{id}/stop", post(stop_session))
        .route("/v1/experiments", get(list_experiments).post(create_experiment))
        .route("/v1/experiments/{id}/status", patch(experiment_status))
        .route("/v1/fills", get(fills))
        .route("/v1/reports/{run_id}", get(report))
        .route("/v1/openapi.json", get(openapi))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), auth))
        .with_state(state)
}
