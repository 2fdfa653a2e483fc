//! Starting and stopping the ACS: the store, both listeners, and background upkeep.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acs_core::fault::RetryPolicy;
use acs_core::session::EngineConfig;
use acs_store::postgres::{PostgresOptions, PostgresStore};
use acs_store::sqlite::{SqliteOptions, SqliteStore};
use acs_store::{AnyStore, Store};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tracing::{info, warn};

use crate::config::{Backend, Config, redact};
use crate::state::{AppState, SessionRegistry, Shared, TaskWaiters};
use crate::{api, conn_req, cwmp_server, metrics, tls, tokens};

/// Why the ACS could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration cannot be used.
    #[error("{0}")]
    Config(String),
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] acs_store::StoreError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

/// The engine's settings from the configuration.
pub fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig {
        acs_versions: config.versions(),
        retry: RetryPolicy {
            base_secs: config.tasks.retry_base_secs,
            max_secs: config.tasks.retry_max_secs,
        },
        set_connection_request_credentials: config.cwmp.set_connection_request_credentials,
        max_requests: config.cwmp.max_requests_per_session,
        hold_requests: config.cwmp.hold_requests,
        limits: cwmp::Limits {
            max_body_bytes: config.cwmp.max_body_bytes,
            ..cwmp::Limits::DEFAULT
        },
        encode: cwmp::EncodeOptions {
            booleans: if config.cwmp.boolean_digits {
                cwmp::BooleanStyle::Digits
            } else {
                cwmp::BooleanStyle::Words
            },
        },
    }
}

/// Opens the configured store (creating the data directory for SQLite), running its
/// migrations.
pub async fn open_store(config: &Config) -> Result<AnyStore, StartError> {
    match config
        .database
        .backend(&config.data_dir)
        .map_err(StartError::Config)?
    {
        Backend::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StartError::Config(format!("{}: {e}", dir.display())))?;
            }
            let options = SqliteOptions {
                synchronous_full: config.database.synchronous_full,
                event_retention_days: config.database.event_retention_days,
                summary_cache_entries: config.database.summary_cache_entries,
                ..SqliteOptions::default()
            };
            Ok(SqliteStore::open(&path, options)?.into())
        }
        Backend::Postgres(url) => {
            let options = PostgresOptions {
                schema: Some(config.database.schema.clone()).filter(|s| !s.is_empty()),
                pool_size: config.database.pool_size,
                event_retention_days: config.database.event_retention_days,
                ..PostgresOptions::default()
            };
            let store = PostgresStore::connect(&url, options)
                .await
                .map_err(|e| StartError::Config(format!("PostgreSQL at {}: {e}", redact(&url))))?;
            Ok(store.into())
        }
    }
}

/// Keeps a second `acs serve` off a SQLite database this one serves: SQLite would let it
/// in, and two nodes on one file would each think a device's session is theirs alone
/// (sharing needs PostgreSQL). An advisory lock on `<database>.lock`, held until the
/// process ends or the ACS stops.
fn lock_sqlite(config: &Config) -> Result<Option<std::fs::File>, StartError> {
    let Ok(Backend::Sqlite(path)) = config.database.backend(&config.data_dir) else {
        return Ok(None);
    };
    let mut name = path.into_os_string();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .map_err(|e| StartError::Config(format!("{}: {e}", name.display())))?;
    // A lock held for a moment longer is waited for: the ACS this one replaces may still
    // be closing (an in-process restart), and a process forked elsewhere shares the lock
    // until it execs.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StartError::Config(format!(
                    "another acs serves this SQLite database ({} is locked); several nodes \
                     need database.url = \"postgres://...\"",
                    std::path::Path::new(&name).display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StartError::Config(format!("{}: {e}", name.display())));
            }
        }
    }
}

/// This node's name in leases and claims.
fn node_id(config: &Config) -> Arc<str> {
    if !config.cluster.node_id.is_empty() {
        return config.cluster.node_id.as_str().into();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "acs".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        cwmp_server::random_hex(4)
    )
    .into()
}

/// A running ACS.
#[derive(Debug)]
pub struct Running {
    /// Where the CWMP endpoint listens.
    pub cwmp_addr: SocketAddr,
    /// Where the API listens.
    pub api_addr: SocketAddr,
    /// The admin token created at this start (first start only), to print once.
    pub admin_token: Option<String>,
    /// The shared state (tests use it).
    pub state: AppState<AnyStore>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The SQLite database's lock, released after the last task.
    _lock: Option<std::fs::File>,
}

impl Running {
    /// Stops accepting work, lets sessions in flight finish, and returns when all stopped.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| StartError::Bind { addr, error })
}

/// Starts the ACS.
pub async fn start(config: Config) -> Result<Running, StartError> {
    config
        .check()
        .map_err(|e| StartError::Config(e.to_string()))?;
    let lock = lock_sqlite(&config)?;
    let store = open_store(&config).await?;
    let node = node_id(&config);
    let admin_token = tokens::ensure_admin(&store, &node, cwmp_server::now()).await?;
    if config.provisioning.default_presets
        && crate::scripts::install_defaults(&store, &node, cwmp_server::now()).await?
    {
        tracing::info!("default presets installed (bootstrap, inform)");
    }

    let cwmp_tls = match (&config.cwmp.tls.cert, &config.cwmp.tls.key) {
        (Some(c), Some(k)) => Some(tokio_rustls::TlsAcceptor::from(
            tls::server_config(c, k).map_err(StartError::Config)?,
        )),
        _ => None,
    };
    let api_tls = match (&config.api.tls.cert, &config.api.tls.key) {
        (Some(c), Some(k)) => Some(tokio_rustls::TlsAcceptor::from(
            tls::server_config(c, k).map_err(StartError::Config)?,
        )),
        _ => None,
    };
    let cwmp_listener = bind(config.cwmp.listen).await?;
    let api_listener = bind(config.api.listen).await?;
    let cwmp_addr = cwmp_listener
        .local_addr()
        .map_err(|error| StartError::Bind {
            addr: config.cwmp.listen,
            error,
        })?;
    let api_addr = api_listener
        .local_addr()
        .map_err(|error| StartError::Bind {
            addr: config.api.listen,
            error,
        })?;
    if cwmp_tls.is_none() {
        warn!(
            "the CWMP endpoint runs without TLS (cwmp.tls): Digest protects credentials, not data"
        );
    }

    info!(node = %node, store = store.backend(), "opened the store");
    let state: AppState<AnyStore> = Arc::new(Shared {
        node,
        engine: engine_config(&config),
        admission: Arc::new(Semaphore::new(config.cwmp.max_sessions)),
        conn_req: conn_req::ConnectionRequester::new(&config.connection_request),
        extensions: crate::ext::Extensions::new(&config.provisioning),
        provisioning: crate::scripts::ProvisioningCache::new(acs_script::Limits::default()),
        metrics: metrics::install(),
        sessions: Arc::new(SessionRegistry::default()),
        waiters: TaskWaiters::default(),
        store,
        config,
    });

    let (shutdown, stop) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(cwmp_server::serve(
            state.clone(),
            cwmp_listener,
            cwmp_tls,
            stop.clone(),
        )),
        tokio::spawn(api::serve(
            state.clone(),
            api_listener,
            api_tls,
            stop.clone(),
        )),
        tokio::spawn(upkeep(state.clone(), stop)),
    ];
    info!(%cwmp_addr, %api_addr, "ACS started");
    Ok(Running {
        cwmp_addr,
        api_addr,
        admin_token,
        state,
        shutdown,
        tasks,
        _lock: lock,
    })
}

/// Periodic work: expire tasks, refresh gauges, forget abandoned waiters.
async fn upkeep<S: Store>(state: AppState<S>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.config.tasks.expire_interval_secs.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        // One node per period does it (a claim in a shared store; always this node's on
        // SQLite).
        let now = cwmp_server::now();
        // Due again a little before this node's next tick, so that the node whose tick
        // comes first takes each period.
        let next = now.plus_millis(i64::try_from(every.as_millis() * 9 / 10).unwrap_or(i64::MAX));
        match state
            .store
            .claim_job("expire_tasks", &state.node, now, next)
            .await
        {
            Ok(true) => match state.store.expire_tasks(now).await {
                Ok(0) => {}
                Ok(n) => info!(expired = n, "expired tasks removed"),
                Err(e) => warn!("expiring tasks failed: {e}"),
            },
            Ok(false) => {}
            Err(e) => warn!("claiming the task expiry failed: {e}"),
        }
        if let Ok((tasks, faults)) = state.store.counts().await {
            metrics::queue(tasks, faults);
        }
        metrics::active_sessions(state.sessions.count());
        state.waiters.prune();
    }
}

/// Runs until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn run(config: Config) -> Result<(), StartError> {
    let running = start(config).await?;
    if let Some(token) = &running.admin_token {
        // Shown once; only its hash is stored.
        println!(
            "First start: created the API token \"admin\". Store it now, it is not shown again:\n\n    {token}\n"
        );
    }
    println!(
        "CWMP endpoint on {}, API on {}",
        running.cwmp_addr, running.api_addr
    );
    wait_for_signal().await;
    info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
