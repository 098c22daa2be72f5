//! `NatsBus`: the [`Bus`] over NATS JetStream, written for nats-server 2.9 (no 2.10+ features).
//!
//! * One stream (default `NL` over `nl.>`), file storage, dedup window; created if missing.
//! * Publish sets `Nats-Msg-Id = msg.id` and waits for the PubAck; batches pipeline through a bounded
//!   window, never more than 4096 un-awaited acks (async-nats deadlocks above 5000).
//! * Durable pull consumers: `AckPolicy::Explicit`, explicit `ack_wait`/`max_deliver`/`max_ack_pending`
//!   and a single `filter_subject` (2.9 silently ignores `filter_subjects`).
//! * Dead-lettering: a nak on the last attempt or a term copies the message to
//!   `nl.dlq.<durable>.<subject>` then TERMs; ack-wait exhaustion is caught from the server's
//!   `MAX_DELIVERIES` advisory. Copies dedup by `dlq-<durable>-<seq>`, so several replicas (or both
//!   paths) produce one dead letter.
//! * Secrets come only from the env variables the config names.

mod consume;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::context::{ConsumerInfoErrorKind, PublishAckFuture};
use async_nats::jetstream::stream::{self, ConsumerErrorKind, StorageType};
use async_nats::{ConnectOptions, HeaderMap, HeaderName, HeaderValue, Subject};
use async_trait::async_trait;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::subject::is_valid_subject;
use crate::{Bus, BusError, ConsumerSpec, ConsumerState, DLQ_PREFIX, Message, PublishAck, Subscription};

pub use consume::DlqWriter;

/// The dedup header JetStream understands.
pub const NATS_MSG_ID: &str = "Nats-Msg-Id";

/// Stream storage backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NatsStorage {
    /// On disk (the default).
    #[default]
    File,
    /// In server memory.
    Memory,
}

/// Connection and stream settings (`[nats]`). Secrets are never here: `password_env`, `token_env` and
/// `nkey_seed_env` name the environment variables that hold them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    /// Server URL(s), comma-separated: `nats://127.0.0.1:4222`.
    pub url: String,
    /// Stream name.
    pub stream: String,
    /// Subjects the stream captures.
    pub subjects: Vec<String>,
    /// Dedup window for `Nats-Msg-Id`, seconds (clamped to `max_age_secs` when that is set).
    pub duplicate_window_secs: u64,
    /// Message age limit, seconds; 0 keeps messages until other limits apply.
    pub max_age_secs: u64,
    /// Stream storage.
    pub storage: NatsStorage,
    /// User name for user/password auth.
    pub user: Option<String>,
    /// Env variable holding the password for `user`.
    pub password_env: Option<String>,
    /// Env variable holding an auth token.
    pub token_env: Option<String>,
    /// Env variable holding an nkey seed (`SU...`).
    pub nkey_seed_env: Option<String>,
    /// Path of a `.creds` file (JWT + seed).
    pub creds_file: Option<PathBuf>,
    /// CA bundle to trust for the server certificate.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (mutual TLS); needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// Client key (mutual TLS); needs `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Refuse to talk without TLS.
    pub require_tls: bool,
    /// Publish acks awaited at once by `publish_batch` (1..=4096).
    pub publish_window: usize,
    /// Connection name shown by the server's monitoring.
    pub connect_name: String,
    /// Confirm acks with the server (`double_ack`) instead of fire-and-forget.
    pub double_ack: bool,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            stream: "NL".into(),
            subjects: vec!["nl.>".into()],
            duplicate_window_secs: 120,
            max_age_secs: 0,
            storage: NatsStorage::File,
            user: None,
            password_env: None,
            token_env: None,
            nkey_seed_env: None,
            creds_file: None,
            ca_file: None,
            cert_file: None,
            key_file: None,
            require_tls: false,
            publish_window: 256,
            connect_name: "nl".into(),
            double_ack: false,
        }
    }
}

impl NatsConfig {
    /// The stream config this bus creates.
    #[must_use]
    pub fn stream_config(&self) -> stream::Config {
        let max_age = Duration::from_secs(self.max_age_secs);
        let mut duplicate_window = Duration::from_secs(self.duplicate_window_secs);
        if !max_age.is_zero() && duplicate_window > max_age {
            // The server rejects a window longer than max_age (error 10052).
            duplicate_window = max_age;
        }
        stream::Config {
            name: self.stream.clone(),
            subjects: self.subjects.clone(),
            storage: match self.storage {
                NatsStorage::File => StorageType::File,
                NatsStorage::Memory => StorageType::Memory,
            },
            retention: stream::RetentionPolicy::Limits,
            duplicate_window,
            max_age,
            allow_direct: true,
            num_replicas: 1,
            ..Default::default()
        }
    }

    /// The server URLs without user info, and the credentials that were in them. They go to the client as
    /// options, never inside a URL: the client logs server addresses (user info included) at debug level.
    fn url_credentials(&self) -> Result<(String, Option<(String, Option<String>)>), BusError> {
        let mut creds = None;
        let mut urls = Vec::new();
        for part in self.url.split(',') {
            let (url, found) = nl_domain::redact::split_userinfo(part.trim());
            if found.is_some() && creds.is_some() && found != creds {
                return Err(BusError::Connect("nats.url: every server URL must carry the same credentials".into()));
            }
            creds = creds.or(found);
            urls.push(url);
        }
        Ok((urls.join(","), creds))
    }

    async fn connect_options(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<(ConnectOptions, String), BusError> {
        let secret = |field: &str, var: &str| {
            env(var).filter(|v| !v.is_empty()).ok_or_else(|| BusError::Connect(format!("env variable {var} (nats.{field}) is not set")))
        };
        let (url, url_creds) = self.url_credentials()?;
        let methods = [
            self.user.is_some() || self.password_env.is_some(),
            self.token_env.is_some(),
            self.nkey_seed_env.is_some(),
            self.creds_file.is_some(),
            url_creds.is_some(),
        ];
        if methods.iter().filter(|m| **m).count() > 1 {
            return Err(BusError::Connect("configure one of user/password_env, token_env, nkey_seed_env, creds_file, credentials in nats.url".into()));
        }
        let mut opts = ConnectOptions::new();
        match url_creds {
            Some((user, Some(password))) => opts = opts.user_and_password(user, password),
            Some((token, None)) => opts = opts.token(token),
            None => {}
        }
        match (&self.user, &self.password_env) {
            (Some(user), Some(var)) => opts = opts.user_and_password(user.clone(), secret("password_env", var)?),
            (None, None) => {}
            _ => return Err(BusError::Connect("nats.user and nats.password_env go together".into())),
        }
        if let Some(var) = &self.token_env {
            opts = opts.token(secret("token_env", var)?);
        }
        if let Some(var) = &self.nkey_seed_env {
            opts = opts.nkey(secret("nkey_seed_env", var)?);
        }
        if let Some(path) = &self.creds_file {
            opts = opts.credentials_file(path).await.map_err(|e| BusError::Connect(format!("creds_file {}: {e}", path.display())))?;
        }
        if let Some(ca) = &self.ca_file {
            opts = opts.add_root_certificates(ca.clone());
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => opts = opts.add_client_certificate(cert.clone(), key.clone()),
            (None, None) => {}
            _ => return Err(BusError::Connect("nats.cert_file and nats.key_file go together".into())),
        }
        Ok((opts.require_tls(self.require_tls).name(&self.connect_name).connection_timeout(Duration::from_secs(5)), url))
    }
}

/// Shared state of one connection.
pub(crate) struct Shared {
    pub(crate) client: async_nats::Client,
    pub(crate) js: async_nats::jetstream::Context,
    pub(crate) stream: stream::Stream,
    pub(crate) dlq: Arc<DlqWriter>,
    pub(crate) config: NatsConfig,
    advisories: tokio::task::JoinHandle<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.advisories.abort();
    }
}

/// The JetStream bus. Cloning shares the connection.
#[derive(Clone)]
pub struct NatsBus {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus").field("url", &nl_domain::redact::redact_urls(&self.shared.config.url)).field("stream", &self.shared.config.stream).finish_non_exhaustive()
    }
}

impl NatsBus {
    /// Connects, authenticating with secrets read from the env variables the config names, and
    /// creates (or binds to) the stream.
    ///
    /// # Errors
    /// `BusError::Connect` when a named env variable is missing, the server is unreachable, auth fails
    /// or the stream cannot be created.
    pub async fn connect(config: &NatsConfig) -> Result<Self, BusError> {
        Self::connect_with_env(config, &|var| std::env::var(var).ok()).await
    }

    /// Like [`NatsBus::connect`] with an explicit env lookup (tests cannot set process env safely).
    ///
    /// # Errors
    /// As [`NatsBus::connect`].
    pub async fn connect_with_env(config: &NatsConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, BusError> {
        let (opts, url) = config.connect_options(env).await?;
        let client = opts.connect(url.as_str()).await.map_err(|e| BusError::Connect(nl_domain::redact::redact_urls(&format!("{url}: {e}"))))?;
        let js = async_nats::jetstream::new(client.clone());
        let stream = js.get_or_create_stream(config.stream_config()).await.map_err(|e| BusError::Connect(format!("stream {}: {e}", config.stream)))?;
        let dlq = Arc::new(DlqWriter::new(js.clone(), stream.clone()));
        let advisories = consume::spawn_advisory_listener(&client, &config.stream, Arc::clone(&dlq)).await?;
        Ok(Self { shared: Arc::new(Shared { client, js, stream, dlq, config: config.clone(), advisories }) })
    }

    /// The underlying client, for callers that need core NATS (e.g. request/reply).
    #[must_use]
    pub fn client(&self) -> &async_nats::Client {
        &self.shared.client
    }

    /// The JetStream context (used by [`crate::NatsLeases`]).
    #[must_use]
    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.shared.js
    }

    async fn send(&self, msg: Message) -> Result<(Subject, PublishAckFuture), BusError> {
        if !is_valid_subject(&msg.subject) {
            return Err(BusError::Publish { subject: msg.subject, reason: "invalid subject".into() });
        }
        let headers = to_headers(&msg).map_err(|reason| BusError::Publish { subject: msg.subject.clone(), reason })?;
        let subject = Subject::from(msg.subject);
        let fut = self
            .shared
            .js
            .publish_with_headers(subject.clone(), headers, msg.payload.into())
            .await
            .map_err(|e| BusError::Publish { subject: subject.to_string(), reason: e.to_string() })?;
        Ok((subject, fut))
    }
}

fn to_headers(msg: &Message) -> Result<HeaderMap, String> {
    let mut h = HeaderMap::new();
    if !msg.id.is_empty() {
        h.insert(NATS_MSG_ID, HeaderValue::from_str(&msg.id).map_err(|_| format!("invalid message id {:?}", msg.id))?);
    }
    for (k, v) in &msg.headers {
        let name = HeaderName::from_str(k).map_err(|_| format!("invalid header name {k:?}"))?;
        let value = HeaderValue::from_str(v).map_err(|_| format!("invalid value of header {k}"))?;
        h.insert(name, value);
    }
    Ok(h)
}

async fn await_ack(subject: Subject, fut: PublishAckFuture) -> Result<PublishAck, BusError> {
    let ack = fut.await.map_err(|e| BusError::Publish { subject: subject.to_string(), reason: e.to_string() })?;
    Ok(PublishAck { sequence: ack.sequence, duplicate: ack.duplicate })
}

fn not_found(durable: &str) -> BusError {
    BusError::NotFound(format!("consumer {durable}"))
}

#[async_trait]
impl Bus for NatsBus {
    async fn publish(&self, msg: Message) -> Result<PublishAck, BusError> {
        let (subject, fut) = self.send(msg).await?;
        await_ack(subject, fut).await
    }

    async fn publish_batch(&self, msgs: Vec<Message>) -> Result<Vec<PublishAck>, BusError> {
        let window = self.shared.config.publish_window.clamp(1, 4096);
        let mut inflight: VecDeque<(Subject, PublishAckFuture)> = VecDeque::with_capacity(window.min(msgs.len()));
        let mut acks = Vec::with_capacity(msgs.len());
        for msg in msgs {
            if inflight.len() >= window
                && let Some((subject, fut)) = inflight.pop_front()
            {
                acks.push(await_ack(subject, fut).await?);
            }
            inflight.push_back(self.send(msg).await?);
        }
        while let Some((subject, fut)) = inflight.pop_front() {
            acks.push(await_ack(subject, fut).await?);
        }
        Ok(acks)
    }

    async fn subscribe(&self, spec: ConsumerSpec) -> Result<Box<dyn Subscription>, BusError> {
        spec.validate()?;
        let err = |reason: String| BusError::Consumer { durable: spec.durable.clone(), reason };
        match self.shared.stream.consumer_info(&spec.durable).await {
            Ok(info) if info.config.filter_subject != spec.filter_subject => {
                return Err(err(format!("exists with filter {} (asked for {})", info.config.filter_subject, spec.filter_subject)));
            }
            Ok(_) => {}
            Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => {}
            Err(e) => return Err(err(e.to_string())),
        }
        let config = pull::Config {
            durable_name: Some(spec.durable.clone()),
            ack_policy: AckPolicy::Explicit,
            deliver_policy: DeliverPolicy::All,
            ack_wait: spec.ack_wait,
            max_deliver: i64::from(spec.max_deliver),
            max_ack_pending: i64::try_from(spec.max_ack_pending).unwrap_or(i64::MAX),
            filter_subject: spec.filter_subject.clone(),
            ..Default::default()
        };
        // On 2.9 this is create-or-update, so a changed ack_wait / max_deliver is applied.
        let consumer = self.shared.stream.create_consumer(config).await.map_err(|e| err(e.to_string()))?;
        Ok(Box::new(consume::NatsSubscription::new(Arc::clone(&self.shared), consumer, &spec).await?))
    }

    async fn consumer_state(&self, durable: &str) -> Result<ConsumerState, BusError> {
        match self.shared.stream.consumer_info(durable).await {
            Ok(info) => {
                Ok(ConsumerState { num_pending: info.num_pending, num_ack_pending: info.num_ack_pending as u64, num_redelivered: info.num_redelivered as u64 })
            }
            Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => Err(not_found(durable)),
            Err(e) => Err(BusError::Consumer { durable: durable.to_owned(), reason: e.to_string() }),
        }
    }

    async fn delete_consumer(&self, durable: &str) -> Result<(), BusError> {
        match self.shared.stream.delete_consumer(durable).await {
            Ok(_) => Ok(()),
            Err(e) => match e.kind() {
                ConsumerErrorKind::JetStream(js) if js.error_code() == ErrorCode::CONSUMER_NOT_FOUND => Err(not_found(durable)),
                _ => Err(BusError::Consumer { durable: durable.to_owned(), reason: e.to_string() }),
            },
        }
    }

    async fn dead_letter_count(&self) -> Result<u64, BusError> {
        let info = self.shared.stream.info_with_subjects(format!("{DLQ_PREFIX}.>")).await.map_err(|e| BusError::Broker(format!("stream info: {e}")))?;
        info.try_fold(0u64, |sum, (_, n)| async move { Ok(sum + n as u64) }).await.map_err(|e| BusError::Broker(format!("stream info: {e}")))
    }
}
