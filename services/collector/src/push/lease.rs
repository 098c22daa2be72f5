//! Plumbing shared by the push tasks ([`super::PushSource`], [`super::evm::EvmPushSource`]): holding the
//! source's lease around a WebSocket session, and running the reconnecting [`WsClient`] reader of one
//! session.
//!
//! With leases (distributed mode) a replica connects only while it holds the source's lease, renews it at
//! most every `lease_renew_every` right before handling an event, and drops the connection as soon as the
//! lease is lost.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nl_adapters::kit::{UrlFn, WsClient, WsConfig, WsEvent};
use nl_bus::lease::Lease;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

use super::source::PushStatus;
use crate::runtime::CollectorCtx;

/// Bound of the frame channel between the WebSocket reader and the push task.
const EVENT_BUFFER: usize = 256;

/// How a session ended.
pub(crate) enum SessionEnd {
    Stop,
    LeaseLost,
}

/// A push task that runs in sessions under its source's lease: one session per lease tenure (or per
/// reconnect), until stopped.
#[async_trait::async_trait]
pub(crate) trait LeasedSessions: Send + Sync {
    /// The source name (the lease key).
    fn lease_name(&self) -> &str;
    /// The status the lease keeper reports into.
    fn lease_status(&self) -> Arc<PushStatus>;
    /// One session: connect, work, and say why it ended.
    async fn session(&self, ctx: &CollectorCtx, lease: &mut LeaseKeeper, stop: &mut watch::Receiver<bool>) -> SessionEnd;
}

/// Runs `task`'s sessions while this replica holds the lease, until `stop` turns true (or its sender is
/// dropped); releases the lease on the way out.
pub(crate) async fn run_leased(task: &dyn LeasedSessions, ctx: CollectorCtx, mut stop: watch::Receiver<bool>) {
    let mut lease = LeaseKeeper::new(task.lease_name(), task.lease_status());
    while lease.wait_acquired(&ctx, &mut stop).await {
        match task.session(&ctx, &mut lease, &mut stop).await {
            SessionEnd::Stop => break,
            SessionEnd::LeaseLost => {}
        }
    }
    lease.release(&ctx).await;
}

/// The lease of one push task.
pub(crate) struct LeaseKeeper {
    name: String,
    lease: Option<Lease>,
    renewed: Instant,
    status: Arc<PushStatus>,
}

impl LeaseKeeper {
    pub(crate) fn new(name: &str, status: Arc<PushStatus>) -> Self {
        Self { name: name.to_string(), lease: None, renewed: Instant::now(), status }
    }

    /// Returns true once this replica may connect (at once without leases), false when `stop` fired first.
    pub(crate) async fn wait_acquired(&mut self, ctx: &CollectorCtx, stop: &mut watch::Receiver<bool>) -> bool {
        loop {
            if *stop.borrow() {
                return false;
            }
            let Some(leases) = &ctx.leases else { return true };
            if self.lease.is_some() {
                return true;
            }
            match leases.acquire(&self.name).await {
                Ok(Some(l)) => {
                    info!(source = %self.name, revision = l.revision, "Lease acquired; connecting this feed.");
                    self.lease = Some(l);
                    self.renewed = Instant::now();
                    return true;
                }
                Ok(None) => {}
                Err(error) => warn!(source = %self.name, %error, "Lease acquire failed."),
            }
            tokio::select! {
                _ = stop.changed() => return false,
                () = tokio::time::sleep(ctx.lease_renew_every) => {}
            }
        }
    }

    /// Keeps the lease: renews when the last renewal is `lease_renew_every` old. False = lost, stop now.
    pub(crate) async fn keep(&mut self, ctx: &CollectorCtx) -> bool {
        let Some(leases) = &ctx.leases else { return true };
        let Some(l) = self.lease.as_mut() else { return false };
        if self.renewed.elapsed() < ctx.lease_renew_every {
            return true;
        }
        match leases.renew(l).await {
            Ok(true) => {
                self.renewed = Instant::now();
                true
            }
            Ok(false) => {
                self.status.counters.leases_lost.fetch_add(1, Ordering::Relaxed);
                warn!(source = %self.name, "Lease lost to another replica; disconnecting.");
                self.lease = None;
                false
            }
            // A transient store error: keep going while the lease cannot have expired yet.
            Err(error) if self.renewed.elapsed() < leases.ttl() => {
                warn!(source = %self.name, %error, "Lease renewal failed; retrying.");
                true
            }
            Err(error) => {
                warn!(source = %self.name, %error, "Lease renewal failed past the TTL; disconnecting.");
                self.lease = None;
                false
            }
        }
    }

    /// A timer for renewing the lease between events (it only fires with leases).
    pub(crate) fn renew_tick(ctx: &CollectorCtx) -> tokio::time::Interval {
        tokio::time::interval(ctx.lease_renew_every.max(Duration::from_millis(10)))
    }

    /// Releases the lease, if held.
    pub(crate) async fn release(self, ctx: &CollectorCtx) {
        if let (Some(leases), Some(l)) = (&ctx.leases, self.lease)
            && let Err(error) = leases.release(l).await
        {
            warn!(source = %self.name, %error, "Releasing the lease failed; it will expire by TTL.");
        }
    }
}

/// The reconnecting WebSocket reader of one session; its events arrive on `events`.
pub(crate) struct Reader {
    pub(crate) events: mpsc::Receiver<WsEvent>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<nl_adapters::kit::WsExit>,
    status: Arc<PushStatus>,
}

impl Reader {
    /// Starts a [`WsClient`] over `ws` (each connection's URL derived by `url_fn`, if any) and publishes its
    /// handle in `status`.
    pub(crate) fn start(ws: WsConfig, url_fn: Option<&UrlFn>, status: &Arc<PushStatus>) -> Self {
        let (tx, events) = mpsc::channel(EVENT_BUFFER);
        let (stop, stop_rx) = oneshot::channel::<()>();
        let mut client = WsClient::new(ws);
        if let Some(f) = url_fn {
            client = client.with_url_fn(Arc::clone(f));
        }
        status.set_handle(Some(client.handle()));
        let task = tokio::spawn(client.run(tx, async move {
            let _ = stop_rx.await;
        }));
        Self { events, stop, task, status: Arc::clone(status) }
    }

    /// Closes the connection and waits for the reader to end.
    pub(crate) async fn finish(self) {
        let Self { events, stop, task, status } = self;
        drop(stop);
        let _ = task.await;
        drop(events);
        status.set_handle(None);
    }
}
