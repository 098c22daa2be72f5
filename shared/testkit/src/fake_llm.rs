//! A loopback fake of an OpenAI-compatible chat-completions server, for the AI layers' tests and
//! `nl bench ai` only (never a model: it answers from a script). It checks every request (the model
//! name, the `response_format` of the expected dialect, untrusted text datamarked with the marker the
//! system prompt announces, no tools) and counts calls; a request that fails a check gets a 400 and is
//! recorded as a violation.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

/// What the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A schema-valid answer for the layer the system prompt names, citing `e1`.
    Valid,
    /// Not JSON.
    Malformed,
    /// Valid JSON whose summary/note is far over the schema's length.
    OverLong,
    /// An enum value outside the schema (`severity`, `label`, `metric`; L1: a confidence of 2).
    BadEnum,
    /// A red flag citing an evidence id the pack does not have.
    UnknownEvidence,
    /// An address that is not in the pack.
    InventedAddress,
}

#[derive(Debug, Default)]
struct Inner {
    requests: Vec<Value>,
    violations: Vec<String>,
}

#[derive(Clone)]
struct AppState {
    model: String,
    dialect: String,
    reply: Arc<Mutex<Reply>>,
    calls: Arc<AtomicU64>,
    inner: Arc<Mutex<Inner>>,
}

/// The running fake.
pub struct FakeLlm {
    pub addr: SocketAddr,
    state: AppState,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeLlm {
    /// Starts on `127.0.0.1:0`, expecting `model` and the dialect `json_schema` or `json_object_schema`.
    ///
    /// # Panics
    /// When the loopback listener cannot be bound (test support).
    pub async fn start(model: &str, dialect: &str) -> Self {
        let state = AppState {
            model: model.into(),
            dialect: dialect.into(),
            reply: Arc::new(Mutex::new(Reply::Valid)),
            calls: Arc::new(AtomicU64::new(0)),
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let app = axum::Router::new().route("/v1/chat/completions", post(chat)).with_state(state.clone());
        #[allow(clippy::expect_used)]
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        #[allow(clippy::expect_used)]
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, _task: task }
    }

    /// `http://127.0.0.1:PORT/v1`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Calls answered so far (violations included).
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// Switches what later calls get.
    pub fn set_reply(&self, r: Reply) {
        *self.state.reply.lock().unwrap_or_else(PoisonError::into_inner) = r;
    }

    /// Every request body received.
    #[must_use]
    pub fn requests(&self) -> Vec<Value> {
        self.state.inner.lock().unwrap_or_else(PoisonError::into_inner).requests.clone()
    }

    /// Requests that failed a check, with the reason.
    #[must_use]
    pub fn violations(&self) -> Vec<String> {
        self.state.inner.lock().unwrap_or_else(PoisonError::into_inner).violations.clone()
    }
}

fn check(s: &AppState, req: &Value) -> Result<(String, String), String> {
    if req.get("model").and_then(Value::as_str) != Some(s.model.as_str()) {
        return Err(format!("model {:?}, expected {:?}", req.get("model"), s.model));
    }
    if req.get("tools").is_some() || req.get("functions").is_some() {
        return Err("tools offered".into());
    }
    let rf = req.get("response_format").ok_or("no response_format")?;
    let schema_ok = match s.dialect.as_str() {
        "json_schema" => rf.get("type") == Some(&json!("json_schema")) && rf.pointer("/json_schema/schema/type") == Some(&json!("object")),
        _ => rf.get("type") == Some(&json!("json_object")) && rf.pointer("/schema/type") == Some(&json!("object")),
    };
    if !schema_ok {
        return Err(format!("response_format {rf} is not the {} dialect", s.dialect));
    }
    let msgs = req.get("messages").and_then(Value::as_array).ok_or("no messages")?;
    let system = msgs.first().and_then(|m| m.get("content")).and_then(Value::as_str).ok_or("no system message")?;
    let user = msgs.get(1).and_then(|m| m.get("content")).and_then(Value::as_str).ok_or("no user message")?;
    // The marker the system prompt announces: `^<hex>^`.
    let marker = system.split('^').nth(1).filter(|m| m.len() == 16 && m.chars().all(|c| c.is_ascii_hexdigit())).ok_or("system prompt names no marker")?;
    let pack: Value = serde_json::from_str(user).map_err(|e| format!("user message is not the JSON pack: {e}"))?;
    for item in pack.get("items").and_then(Value::as_array).into_iter().flatten() {
        for t in item.get("text").and_then(Value::as_object).into_iter().flat_map(|m| m.values()) {
            let t = t.as_str().unwrap_or_default();
            if t.contains(' ') || (t.contains('^') && !t.contains(&format!("^{marker}^"))) {
                return Err(format!("untrusted text not datamarked: {t:?}"));
            }
        }
    }
    let layer = ["L1", "L2", "L3", "L4"].into_iter().find(|l| system.contains(&format!("You are {l}"))).ok_or("unknown layer")?;
    Ok((layer.to_owned(), user.to_owned()))
}

fn content(layer: &str, reply: Reply) -> String {
    let long = "x".repeat(5000);
    let v = match (layer, reply) {
        (_, Reply::Malformed) => return "{\"tags\": [\"new\", ".into(),
        ("L1", r) => json!({
            "tags": ["new_listing", "dex"],
            "summary": match r { Reply::OverLong => long.clone(), Reply::InventedAddress => "Send funds to 0x1111111111111111111111111111111111111111.".into(), _ => "A newly listed token; see the evidence.".into() },
            "red_flags": [{"flag": "metadata reads like an instruction to automated systems", "evidence_ids": [if r == Reply::UnknownEvidence { "e999" } else { "e1" }]}],
            "open_questions": ["Who deployed the contract?"],
            "confidence": if r == Reply::BadEnum { 2.0 } else { 0.4 },
        }),
        ("L2", r) => json!({
            "label": if r == Reply::BadEnum { "bullish" } else { "normal" },
            "drivers": [{"driver": if r == Reply::OverLong { long.clone() } else { "listing counts as in the pack".into() }, "evidence_ids": [if r == Reply::UnknownEvidence { "e999" } else { "e1" }]}],
            "confidence": 0.5,
        }),
        ("L3", r) => json!({"hypotheses": [{
            "question": "Do promoted DEX listings hold their price for a day?",
            "hypothesis": if r == Reply::OverLong { long.clone() } else { "Promoted listings with deep liquidity fall less over a day than the rest.".into() },
            "metric": if r == Reply::BadEnum { "moon_factor" } else { "return_24h" },
            "evidence_ids": [if r == Reply::UnknownEvidence { "e999" } else { "e1" }],
        }]}),
        (_, r) => json!({
            "findings": [{"severity": if r == Reply::BadEnum { "apocalyptic" } else { "info" }, "note": "deterministic checks as reported", "evidence_ids": [if r == Reply::UnknownEvidence { "e999" } else { "e1" }]}],
            "summary": if r == Reply::OverLong { long } else { "Governance checks reviewed.".into() },
        }),
    };
    v.to_string()
}

async fn chat(State(s): State<AppState>, Json(req): Json<Value>) -> (StatusCode, Json<Value>) {
    s.calls.fetch_add(1, Ordering::SeqCst);
    let checked = check(&s, &req);
    let mut inner = s.inner.lock().unwrap_or_else(PoisonError::into_inner);
    inner.requests.push(req);
    let (layer, _) = match checked {
        Ok(ok) => ok,
        Err(why) => {
            inner.violations.push(why.clone());
            return (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": why}})));
        }
    };
    drop(inner);
    let reply = *s.reply.lock().unwrap_or_else(PoisonError::into_inner);
    let text = content(&layer, reply);
    (StatusCode::OK, Json(json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "model": s.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    })))
}
