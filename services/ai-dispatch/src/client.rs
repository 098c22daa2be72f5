//! The OpenAI-compatible chat-completions client: one request per call, greedy sampling for determinism
//! (`temperature`, `seed`, and `top_k: 1, top_p: 1, repeat_penalty: 1`, which llama.cpp's servers honour
//! and others ignore), the layer's schema in `response_format` in the configured dialect, no tools.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::{AiConfig, Dialect};
use crate::error::CallError;

/// One chat completion's text and usage.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub content: String,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub latency_ms: u64,
}

/// The client.
#[derive(Debug, Clone)]
pub struct ChatClient {
    http: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<String>,
    temperature: f64,
    seed: u64,
    max_tokens: u32,
    timeout_ms: u64,
    max_reply_bytes: usize,
    dialect: Dialect,
}

impl ChatClient {
    /// A client for `cfg`; `api_key` comes from the environment variable `cfg.api_key_env` names.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(cfg: &AiConfig, api_key: Option<String>) -> Result<Self, CallError> {
        nl_adapters::kit::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .build()
            .map_err(|e| CallError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            url: format!("{}/chat/completions", cfg.base_url.trim_end_matches('/')),
            model: cfg.model.clone(),
            api_key,
            temperature: cfg.temperature,
            seed: cfg.rng,
            max_tokens: cfg.max_completion,
            timeout_ms: cfg.timeout_ms,
            max_reply_bytes: cfg.max_reply_bytes,
            dialect: cfg.response_format_dialect,
        })
    }

    /// The request body for `system`/`user` and `schema` (public so tests and `--dry-run` can show it).
    #[must_use]
    pub fn request_body(&self, system: &str, user: &str, schema_name: &str, schema: &Value) -> Value {
        let response_format = match self.dialect {
            Dialect::JsonSchema => json!({"type": "json_schema", "json_schema": {"name": schema_name, "strict": true, "schema": schema}}),
            Dialect::JsonObjectSchema => json!({"type": "json_object", "schema": schema}),
        };
        json!({
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": self.temperature,
            "seed": self.seed,
            "top_k": 1,
            "top_p": 1,
            "repeat_penalty": 1,
            "max_tokens": self.max_tokens,
            "stream": false,
            "response_format": response_format,
        })
    }

    /// Sends `body`.
    ///
    /// # Errors
    /// [`CallError`]: timeout, transport, a non-2xx status, an over-long body, a body without a message.
    pub async fn complete(&self, body: &Value) -> Result<Reply, CallError> {
        let started = Instant::now();
        let mut req = self.http.post(&self.url).json(body);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.map_err(|e| self.transport(&e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.transport(&e))?;
        if !status.is_success() {
            return Err(CallError::Status(status.as_u16(), String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned()));
        }
        if bytes.len() > self.max_reply_bytes.saturating_mul(4) {
            return Err(CallError::TooLong(bytes.len()));
        }
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| CallError::Shape(e.to_string()))?;
        let content = v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| CallError::Shape("no choices[0].message.content".into()))?
            .to_owned();
        let usage = |k: &str| v.pointer(&format!("/usage/{k}")).and_then(Value::as_u64).unwrap_or(0);
        Ok(Reply {
            content,
            tokens_in: usage("prompt_tokens"),
            tokens_out: usage("completion_tokens"),
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    fn transport(&self, e: &reqwest::Error) -> CallError {
        if e.is_timeout() { CallError::Timeout(self.timeout_ms) } else { CallError::Transport(e.to_string()) }
    }
}
