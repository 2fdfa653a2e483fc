//! A fleet: N simulated devices in one process, sharing one immutable template tree, one
//! Connection Request listener (each device at its own URL), one TLS configuration and one
//! set of counters.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpe::agent::AgentConfig;
use cpe::tree::Template;
use rand::{Rng, SeedableRng};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::device::{self, Device, Wake};
use crate::net::{
    CrConfig, CrListener, CrServer, FileTransfer, Quirks as HttpQuirks, RateLimit, TlsClientConfig,
    TransferConfig,
};
use crate::persist::{PersistError, StateDir};
use crate::quirks::QuirkSet;
use crate::serial::SerialPattern;
use crate::stats::{Stats, Summary};

/// How to run a fleet.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The devices' kind: definitions, factory values. Set the ACS URL and credentials in
    /// it ([`Template::set_factory_value`]) before starting.
    pub template: Arc<Template>,
    /// How many devices.
    pub devices: u64,
    /// The index of the first device (its serial number and addresses derive from it).
    pub first_index: u64,
    /// Serial numbers.
    pub serial_pattern: SerialPattern,
    /// The agents' behaviour (each device's seed is derived from this one's; its quirks
    /// are replaced by `quirks.agent`).
    pub agent: AgentConfig,
    /// Field behaviours to imitate.
    pub quirks: QuirkSet,
    /// TLS trust for `https` ACS and file URLs; `None`: Mozilla's roots.
    pub tls: Option<TlsClientConfig>,
    /// Where the Connection Request listener binds; `None`: no listener.
    pub cr_listen: Option<SocketAddr>,
    /// The host (and port) put into ConnectionRequestURL, when the bind address is not
    /// what the ACS should use (`0.0.0.0`, NAT).
    pub cr_host: Option<String>,
    /// Connection Requests accepted per device and window; `None`: unlimited.
    pub cr_rate_limit: Option<RateLimit>,
    /// Where device state is kept across runs.
    pub state_dir: Option<PathBuf>,
    /// Devices power on spread at random over this window (0: all at once, an outage
    /// storm).
    pub ramp_up: Duration,
    /// Most sessions in flight at once.
    pub max_sessions: usize,
    /// How long a session waits for each answer of the ACS.
    pub response_timeout: Duration,
    /// Source address for sessions and transfers.
    pub local_addr: Option<IpAddr>,
    /// Seed of the ramp-up jitter and of the agents.
    pub seed: u64,
    /// Keep a copy of every envelope the devices send (conformance tests validate them
    /// against the schemas; an embedder can dump a conversation).
    pub sent_log: Option<SentLog>,
}

/// Every envelope sent, in order, as it went on the wire.
pub type SentLog = Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

impl FleetConfig {
    /// One device of `template`, no listener, no state directory.
    pub fn new(template: Arc<Template>) -> FleetConfig {
        FleetConfig {
            template,
            devices: 1,
            first_index: 0,
            serial_pattern: SerialPattern::default(),
            agent: AgentConfig::default(),
            quirks: QuirkSet::default(),
            tls: None,
            cr_listen: None,
            cr_host: None,
            cr_rate_limit: Some(RateLimit::default()),
            state_dir: None,
            ramp_up: Duration::ZERO,
            max_sessions: 1024,
            response_timeout: Duration::from_secs(30),
            local_addr: None,
            seed: 0,
            sent_log: None,
        }
    }
}

/// Why a fleet could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The listener could not bind.
    #[error("connection request listener on {addr}: {source}")]
    Listen {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The state directory is unusable.
    #[error(transparent)]
    State(#[from] PersistError),
    /// TLS configuration.
    #[error("TLS: {0}")]
    Tls(String),
    /// A device could not be registered on the listener (two devices with one serial).
    #[error("device {0}: cannot register on the connection request listener: {1}")]
    Register(String, String),
}

/// What every device task shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) template: Arc<Template>,
    pub(crate) agent: AgentConfig,
    pub(crate) http_quirks: HttpQuirks,
    pub(crate) wire_quirks: QuirkSet,
    pub(crate) tls: Option<TlsClientConfig>,
    pub(crate) response_timeout: Duration,
    pub(crate) local_addr: Option<IpAddr>,
    pub(crate) state_dir: Option<StateDir>,
    pub(crate) session_slots: Semaphore,
    pub(crate) transfers: FileTransfer,
    pub(crate) stats: Arc<Stats>,
    pub(crate) sent_log: Option<SentLog>,
    pub(crate) started: Instant,
    pub(crate) devices: u64,
}

/// One device of a running fleet, as tests and the operator see it.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    /// Its serial number.
    pub serial: String,
    /// Its Connection Request URL, when the fleet has a listener.
    pub connection_request_url: Option<String>,
    /// Wakes its task.
    pub wake: Arc<Wake>,
}

/// A running fleet.
#[derive(Debug)]
pub struct Fleet {
    stats: Arc<Stats>,
    shutdown: watch::Sender<bool>,
    power: watch::Sender<u64>,
    tasks: JoinSet<()>,
    cr: Option<CrServer>,
    /// Since when sessions are counted: the start, or the end of the warm-up.
    measured_from: Instant,
    devices: Vec<DeviceInfo>,
    count: u64,
}

impl Fleet {
    /// Creates the devices and starts their tasks (on the current Tokio runtime).
    pub async fn start(config: FleetConfig) -> Result<Fleet, FleetError> {
        let started = Instant::now();
        let state_dir = config
            .state_dir
            .as_deref()
            .map(StateDir::open)
            .transpose()?;
        let transfers = FileTransfer::new(TransferConfig {
            tls: config.tls.clone(),
            local_addr: config.local_addr,
            ..TransferConfig::default()
        })
        .map_err(|e| FleetError::Tls(e.to_string()))?;
        let listener = match config.cr_listen {
            Some(addr) => {
                let cr = CrConfig {
                    advertised_host: config.cr_host.clone(),
                    rate_limit: config.cr_rate_limit,
                    max_connections: 4096,
                    ..CrConfig::default()
                };
                Some(
                    CrListener::bind(addr, cr)
                        .await
                        .map_err(|source| FleetError::Listen { addr, source })?,
                )
            }
            None => None,
        };
        // Every device's ConnectionRequestURL is its place on the listener, also as its
        // factory value (a factory reset must not send the ACS to the profile's address).
        let template = match &listener {
            Some(l) => {
                let mut t = Arc::unwrap_or_clone(config.template.clone());
                let path = format!("{}ManagementServer.ConnectionRequestURL", t.root());
                let url = format!("{}/cr/{{serial}}", l.base_url());
                if let Err(e) = t.set_factory_template(&path, &url) {
                    tracing::warn!("{e}");
                }
                Arc::new(t)
            }
            None => config.template.clone(),
        };
        let stats = Arc::new(Stats::new());
        let shared = Arc::new(Shared {
            template: template.clone(),
            agent: AgentConfig {
                quirks: config.quirks.agent.clone(),
                ..config.agent.clone()
            },
            http_quirks: config.quirks.http,
            wire_quirks: config.quirks.clone(),
            tls: config.tls.clone(),
            response_timeout: config.response_timeout,
            local_addr: config.local_addr,
            state_dir,
            session_slots: Semaphore::new(config.max_sessions.max(1)),
            transfers,
            stats: stats.clone(),
            sent_log: config.sent_log.clone(),
            started,
            devices: config.devices,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (power, power_rx) = watch::channel(0u64);
        let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
        let ramp_ms = u64::try_from(config.ramp_up.as_millis()).unwrap_or(u64::MAX);
        let mut tasks = JoinSet::new();
        let mut devices = Vec::with_capacity(usize::try_from(config.devices).unwrap_or(0));
        for i in 0..config.devices {
            let index = config.first_index.saturating_add(i);
            let serial = config.serial_pattern.render(index);
            let identity = template.identity(index, serial.clone());
            let wake = Arc::new(Wake::default());
            let cr_url = match &listener {
                Some(l) => {
                    let path = format!("/cr/{serial}");
                    let reg = l
                        .registry()
                        .register_at(&path, wake.clone())
                        .map_err(|e| FleetError::Register(serial.clone(), e.to_string()))?;
                    Some(reg.url)
                }
                None => None,
            };
            let start_delay = if ramp_ms == 0 {
                Duration::ZERO
            } else {
                Duration::from_millis(rng.random_range(0..ramp_ms))
            };
            devices.push(DeviceInfo {
                serial,
                connection_request_url: cr_url.clone(),
                wake: wake.clone(),
            });
            let device = Device {
                identity,
                wake,
                cr_url,
                start_delay,
            };
            tasks.spawn(device::run(
                device,
                shared.clone(),
                shutdown_rx.clone(),
                power_rx.clone(),
            ));
        }
        let cr = listener.map(CrListener::spawn);
        Ok(Fleet {
            stats,
            shutdown,
            power,
            tasks,
            cr,
            measured_from: started,
            count: config.devices,
            devices,
        })
    }

    /// The live counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// The devices, in index order.
    pub fn devices(&self) -> &[DeviceInfo] {
        &self.devices
    }

    /// Where the Connection Request listener listens.
    pub fn cr_addr(&self) -> Option<SocketAddr> {
        self.cr.as_ref().map(CrServer::local_addr)
    }

    /// The counters so far.
    pub fn summary(&self) -> Summary {
        self.stats.summary(self.count, self.measured_from.elapsed())
    }

    /// The warm-up is over: sessions, RPCs, failures and latencies are counted from now
    /// (the devices' start-up figures are kept).
    pub fn end_warmup(&mut self) {
        self.stats.restart_measurement();
        self.measured_from = Instant::now();
    }

    /// An outage storm: every device loses power and comes back at once, so every one
    /// opens a `1 BOOT` session at the same moment.
    pub fn outage_storm(&self) {
        self.power.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Stops every device (each saves its state) and the listener; the final counters.
    pub async fn shutdown(mut self) -> Summary {
        let _ = self.shutdown.send(true);
        for d in &self.devices {
            d.wake.poke();
        }
        while self.tasks.join_next().await.is_some() {}
        if let Some(cr) = self.cr.take()
            && let Err(e) = cr.shutdown().await
        {
            tracing::warn!(error = %e, "connection request listener");
        }
        self.summary()
    }
}
