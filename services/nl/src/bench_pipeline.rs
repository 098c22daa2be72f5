//! `nl bench pipeline`: end-to-end throughput and observation → decision latency of the distributed
//! deployment on this machine. A private nats-server, `nl serve enricher|risk-scorer|gate|ledger` as four
//! separate processes (this executable, with `--config` and NATS pointed at the private server), and this
//! process publishing synthetic CEX `listing.observed` events and consuming `candidate.*` to time each
//! listing's decision.
//!
//! Two phases over the same processes:
//! * saturation: N listings published as fast as the bus takes them; throughput is N over the time from
//!   the first publish to the last decision (latency here is mostly queueing);
//!   Also timed to the ledger holding every event ("fully persisted", issue 14's figure against the Python
//!   reference `scripts/bench/pyref.py`, which the bench runs on as many listings);
//! * latency at load: N more at a steady 2,000/s (issue 14's figure), or 60% of the measured throughput when
//!   saturation stays below 2,000/s, so p50/p99 show the pipeline's latency rather than a backlog.
//!
//! The enricher closes its snapshot rounds every [`BENCH_ROUND_MS`] here (`[enricher] round_ms`, 200 by
//! default, gathers every source's snapshots of an asset before one evaluation; a deployment that wants
//! decisions within 100 ms sets it this low, at the price of merging fewer late sources per round). An
//! `NL_ENRICHER__ROUND_MS` in the environment overrides it.
//!
//! CEX listings need no risk-provider calls (there are none for CEX assets), so this measures the
//! pipeline itself; provider and DexScreener URLs point at a loopback simulator so nothing leaves the
//! machine either way.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use nl_bus::observation_messages;
use nl_bus::{Bus, ConsumerSpec, NatsBus, Subscription};
use nl_config::Loaded;
use nl_domain::{AssetId, ChangeKind, Envelope, ListingObservation, ObservationKind, RunIdentity};
use nl_testkit::{NatsServer, wait_until};
use tokio::process::{Child, Command};

use crate::bench::collector::percentile;
use crate::config::NlConfig;

/// The steady phase's rate (issue 14: observation -> decision p99 under 100 ms at a steady 2,000/s).
const STEADY_RATE: f64 = 2_000.0;
/// Give up when no decision arrives for this long.
const STALL: Duration = Duration::from_secs(60);
/// Listings per `publish_batch` in the saturation phase.
const CHUNK: usize = 1000;
/// Paced publishing sends a chunk this often.
const TICK: Duration = Duration::from_millis(10);
/// The steady phase runs at most at this share of the measured throughput, so it measures latency
/// rather than a growing backlog.
const HEADROOM: f64 = 0.6;
/// Durable of this process's `candidate.*` consumer.
const OBSERVER: &str = "bench_decisions";
/// The enricher's `round_ms` in the bench (a low-latency deployment's setting; see the module docs).
const BENCH_ROUND_MS: u64 = 20;

/// Publish instants of undecided listings and the latencies of decided ones.
#[derive(Default)]
struct Timings {
    pending: HashMap<String, Instant>,
    latencies: Vec<Duration>,
    last_decision: Option<Instant>,
}

type Shared = Arc<Mutex<Timings>>;

fn lock(t: &Shared) -> std::sync::MutexGuard<'_, Timings> {
    t.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One phase's figures.
struct Phase {
    started: Instant,
    published_in: Duration,
    decided_in: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.decided_in.as_secs_f64().max(1e-9)
    }

    fn ms(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        percentile(&sorted, p).as_secs_f64() * 1e3
    }

    fn percentiles_ms(&self) -> (f64, f64) {
        (self.ms(0.50), self.ms(0.99))
    }

    fn line(&self) -> String {
        format!("p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", self.ms(0.50), self.ms(0.99), self.ms(1.0))
    }
}

/// The `serve` processes, SIGKILLed on drop if still running (`kill_on_drop`).
struct Services(Vec<(&'static str, Child)>);

impl Services {
    fn spawn(config: &Path, out: &Path, nats: &nl_bus::NatsConfig, sim_url: &str) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating the nl executable")?;
        // The gate reads an asset's last decision from the ledger's gRPC, so the ledger gets a known port.
        let ledger_port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).context("picking a free port for the ledger's gRPC")?.port();
        let mut env: Vec<(String, String)> = vec![
            ("NL_BUS__MODE".into(), "nats".into()),
            ("NL_NATS__URL".into(), nats.url.clone()),
            ("NL_NATS__STREAM".into(), nats.stream.clone()),
            ("NL_STORAGE__OUT_DIR".into(), out.display().to_string()),
            ("NL_LEDGER__DB_PATH".into(), out.join(nl_config::DB_FILE_NAME).display().to_string()),
            ("NL_SERVE__METRICS_ADDR".into(), "127.0.0.1:0".into()),
            ("NL_SERVE__LEDGER_GRPC_ADDR".into(), format!("127.0.0.1:{ledger_port}")),
            ("NL_SERVE__LEDGER_URL".into(), format!("http://127.0.0.1:{ledger_port}")),
            ("NL_SERVE__GATE_GRPC_ADDR".into(), "127.0.0.1:0".into()),
            ("NL_ENRICHER__DEXSCREENER__BASE_URL".into(), sim_url.into()),
        ];
        for p in ["GOPLUS", "HONEYPOT_IS", "RUGCHECK"] {
            env.push((format!("NL_RISK_SCORER__PROVIDERS__{p}__BASE_URL"), sim_url.into()));
        }
        if std::env::var_os("RUST_LOG").is_none() {
            env.push(("RUST_LOG".into(), "warn".into()));
        }
        if std::env::var_os("NL_ENRICHER__ROUND_MS").is_none() {
            env.push(("NL_ENRICHER__ROUND_MS".into(), BENCH_ROUND_MS.to_string()));
        }
        let mut children = Vec::new();
        for service in ["enricher", "risk-scorer", "gate", "ledger"] {
            let child = Command::new(&exe)
                .arg("--config")
                .arg(config)
                .args(["serve", service])
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("spawning nl serve {service}"))?;
            children.push((service, child));
        }
        Ok(Self(children))
    }

    /// Fails when a service has exited (it logged why on stderr).
    fn check_running(&mut self) -> anyhow::Result<()> {
        for (service, child) in &mut self.0 {
            if let Some(status) = child.try_wait().context("polling a service")? {
                anyhow::bail!("nl serve {service} exited early ({status})");
            }
        }
        Ok(())
    }

    /// SIGTERM, then up to 30 s to drain and exit; a service that does not is killed.
    async fn stop(mut self) {
        for (_, child) in &self.0 {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
            }
        }
        for (service, child) in &mut self.0 {
            match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
                Ok(Ok(status)) if status.success() => {}
                Ok(Ok(status)) => println!("  note: nl serve {service} exited with {status}"),
                Ok(Err(e)) => println!("  note: waiting for nl serve {service}: {e}"),
                Err(_) => {
                    println!("  note: nl serve {service} did not stop within 30 s; killed");
                    let _ = child.kill().await;
                }
            }
        }
    }
}

/// What one `nl bench pipeline` run measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PipelineFigures {
    /// Saturation: listings over first publish to last decision.
    pub decided_per_sec: f64,
    /// Saturation: listings over first publish to the ledger holding every event (fully persisted);
    /// `None` when the ledger did not catch up within the stall limit.
    pub persisted_per_sec: Option<f64>,
    /// The steady phase's offered rate and its observation -> decision percentiles (ms).
    pub steady_rate: f64,
    pub steady_p50_ms: f64,
    pub steady_p99_ms: f64,
}

/// Runs both phases with `n` listings each, prints the figures, then the Python reference's rate on as
/// many listings.
///
/// # Errors
/// nats-server missing, a service failing to start, or the pipeline stalling.
pub async fn pipeline(loaded: &Loaded<NlConfig>, n: usize) -> anyhow::Result<()> {
    let build = crate::bench::build_kind();
    println!("nl bench pipeline: CEX listings through nl serve enricher, risk-scorer, gate, ledger (separate processes) over NATS JetStream, {build}");
    let f = measure(loaded, n, true).await?;
    match crate::bench_bytes::pyref_rate(n).await {
        Ok(r) => {
            let ratio = f.persisted_per_sec.map_or_else(|| "-".into(), |p| format!("{:.2}x", p / r.max(1e-9)));
            println!("  Python reference (scripts/bench/pyref.py, {n} listings persisted): {r:>10.0} listings/s; persisted nl / reference: {ratio}");
        }
        Err(e) => println!("  Python reference skipped: {e:#}"),
    }
    Ok(())
}

/// One run of both phases over fresh processes; prints each phase's lines when `verbose`.
///
/// # Errors
/// As [`pipeline`].
pub(crate) async fn measure(loaded: &Loaded<NlConfig>, n: usize, verbose: bool) -> anyhow::Result<PipelineFigures> {
    anyhow::ensure!(n > 0, "--events must be at least 1");
    let say = |line: String| {
        if verbose {
            println!("{line}");
        }
    };
    let server = NatsServer::try_start(None).await.map_err(|e| anyhow!("starting nats-server: {e}"))?;
    let nats = server.bus_config();
    let sim = nl_simulator::Simulator::start().await.context("starting the loopback provider simulator")?;
    let out = tempfile::tempdir().context("temp dir")?;
    let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(&nats).await.context("connecting to the bench nats-server")?);
    let cfg = &loaded.config;
    let durables = [&cfg.enricher.durable, &cfg.risk_scorer.durable, &cfg.gate.durable, &cfg.ledger.durable];

    let started = Instant::now();
    let mut services = Services::spawn(&loaded.path, out.path(), &nats, &sim.base_url())?;
    let ready = wait_until(Duration::from_secs(60), || {
        let bus = Arc::clone(&bus);
        async move {
            for d in durables {
                if bus.consumer_state(d).await.is_err() {
                    return false;
                }
            }
            true
        }
    })
    .await;
    services.check_running()?;
    anyhow::ensure!(ready, "the services did not create their consumers within 60 s");
    say(format!("  4 services ready in {:.1} s", started.elapsed().as_secs_f64()));

    let timings = Shared::default();
    let sub = bus.subscribe(ConsumerSpec::new(OBSERVER, "nl.evt.candidate.>")).await.context("subscribing to decisions")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let observer = tokio::spawn(observe(sub, Arc::clone(&timings), stop_rx));
    let run = RunIdentity { run_id: nl_config::new_run_id(chrono::Utc::now()), config_hash: loaded.config_hash.clone() };
    let ledger_caught_up = || {
        let (bus, durable) = (Arc::clone(&bus), cfg.ledger.durable.clone());
        async move { bus.consumer_state(&durable).await.is_ok_and(|s| s.num_pending == 0 && s.num_ack_pending == 0) }
    };

    let result = async {
        let sat = phase(bus.as_ref(), &timings, &mut services, &listings(1, n), &run, None).await?;
        let persisted = wait_until(STALL, ledger_caught_up).await.then(|| sat.started.elapsed());
        let tput = sat.rate();
        say(format!("  saturation: {n} listings published in {:.2} s, all decided in {:.2} s", sat.published_in.as_secs_f64(), sat.decided_in.as_secs_f64()));
        say(format!("    throughput to a decision: {tput:>10.0} listings/s"));
        let persisted_per_sec = persisted.map(|d| n as f64 / d.as_secs_f64().max(1e-9));
        match (persisted, persisted_per_sec) {
            (Some(d), Some(r)) => say(format!(
                "    fully persisted (ledger caught up {:.2} s after the last decision): {r:>10.0} listings/s",
                (d.saturating_sub(sat.decided_in)).as_secs_f64()
            )),
            _ => say(format!("    ledger still behind {} s after the last decision", STALL.as_secs())),
        }
        say(format!("    observation -> decision (mostly queueing at saturation): {}", sat.line()));

        let rate = steady_rate(tput);
        let load = phase(bus.as_ref(), &timings, &mut services, &listings(2, n), &run, Some(rate)).await?;
        say(format!("  steady load: {n} listings at {rate:.0}/s, all decided in {:.2} s", load.decided_in.as_secs_f64()));
        say(format!("    observation -> decision: {}  (target p99 < 100 ms at {STEADY_RATE:.0}/s)", load.line()));
        let t = Instant::now();
        if wait_until(STALL, ledger_caught_up).await {
            say(format!("  ledger caught up (every event stored in SQLite) {:.2} s after the last decision", t.elapsed().as_secs_f64()));
        } else {
            say(format!("  ledger still behind {} s after the last decision", STALL.as_secs()));
        }
        let (p50, p99) = load.percentiles_ms();
        anyhow::Ok(PipelineFigures { decided_per_sec: tput, persisted_per_sec, steady_rate: rate, steady_p50_ms: p50, steady_p99_ms: p99 })
    }
    .await;
    let _ = stop_tx.send(true);
    let _ = observer.await;
    services.stop().await;
    result
}

/// The steady phase's offered rate: [`STEADY_RATE`] when the saturation throughput `tput` reaches it,
/// else [`HEADROOM`] of `tput`.
fn steady_rate(tput: f64) -> f64 {
    if tput >= STEADY_RATE { STEADY_RATE } else { (HEADROOM * tput).max(1.0) }
}

/// `n` new CEX listings on the synthetic venue `bench`, named by `phase` so phases never collide.
fn listings(phase: u32, n: usize) -> Vec<ListingObservation> {
    let now = chrono::Utc::now();
    (0..n)
        .map(|i| {
            let base = format!("P{phase}N{i:07}");
            ListingObservation {
                source: "bench_spot".into(),
                venue: "bench".into(),
                kind: ObservationKind::CexInstrument,
                change: ChangeKind::New,
                asset_id: AssetId::Cex { venue: "bench".into(), base: base.clone() },
                symbol: base.clone(),
                name: None,
                base: Some(base.clone()),
                quote: Some("USDT".into()),
                instrument_id: format!("{base}-USDT"),
                status: Some("live".into()),
                source_published_at: Some(now),
                scheduled_at: None,
                first_observed_at: now,
                emitted_at: now,
                raw_event_id: None,
                details: serde_json::json!({}),
            }
        })
        .collect()
}

/// Publishes `obs` (all at once, or paced at `rate` per second) and waits until every one is decided.
async fn phase(
    bus: &dyn Bus,
    timings: &Shared,
    services: &mut Services,
    obs: &[ListingObservation],
    run: &RunIdentity,
    rate: Option<f64>,
) -> anyhow::Result<Phase> {
    let before = lock(timings).latencies.len();
    let chunk = rate.map_or(CHUNK, |r| ((r * TICK.as_secs_f64()).ceil() as usize).max(1));
    let start = Instant::now();
    for (k, part) in obs.chunks(chunk).enumerate() {
        if rate.is_some() {
            tokio::time::sleep_until((start + TICK * u32::try_from(k).unwrap_or(u32::MAX)).into()).await;
        }
        let now = Instant::now();
        lock(timings).pending.extend(part.iter().map(|o| (o.asset_id.to_string(), now)));
        bus.publish_batch(observation_messages(part, run)).await.context("publishing listings")?;
    }
    let published_in = start.elapsed();
    let want = before + obs.len();
    let (mut seen, mut progress) = (before, Instant::now());
    loop {
        let got = lock(timings).latencies.len();
        if got >= want {
            break;
        }
        if got > seen {
            (seen, progress) = (got, Instant::now());
        }
        services.check_running()?;
        anyhow::ensure!(
            progress.elapsed() < STALL,
            "pipeline stalled: {} of {} listings decided, none in the last {} s",
            got - before,
            obs.len(),
            STALL.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t = lock(timings);
    let decided_in = t.last_decision.map_or(Duration::ZERO, |l| l.duration_since(start));
    Ok(Phase { started: start, published_in, decided_in, latencies: t.latencies[before..].to_vec() })
}

/// Consumes `candidate.*` until stopped, recording each listing's first decision.
async fn observe(mut sub: Box<dyn Subscription>, timings: Shared, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let batch = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            r = sub.fetch(CHUNK, Duration::from_millis(100)) => r,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(error) => {
                tracing::warn!(%error, "Fetching decisions failed; retrying.");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let now = Instant::now();
        {
            let mut t = lock(&timings);
            for d in &batch {
                let asset = Envelope::from_json(&d.message.payload).ok().and_then(|e| e.asset_id);
                if let Some(published) = asset.and_then(|a| t.pending.remove(&a)) {
                    t.latencies.push(now.duration_since(published));
                    t.last_decision = Some(now);
                }
            }
        }
        for d in batch {
            let _ = d.ack().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{STEADY_RATE, steady_rate};

    #[test]
    fn steady_phase_offers_2000_per_sec_whenever_saturation_reaches_it() {
        assert!((steady_rate(3_100.0) - STEADY_RATE).abs() < f64::EPSILON, "60 % of 3,100 would be 1,860: below the figure's rate");
        assert!((steady_rate(STEADY_RATE) - STEADY_RATE).abs() < f64::EPSILON);
        assert!((steady_rate(1_000.0) - 600.0).abs() < 1e-9, "below 2,000/s it keeps 60 % headroom");
        assert!((steady_rate(0.0) - 1.0).abs() < f64::EPSILON);
    }
}
