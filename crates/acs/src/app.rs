//! Starting and stopping the ACS: the store, both listeners, and background upkeep.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acs_core::fault::RetryPolicy;
use acs_core::session::EngineConfig;
use acs_store::Store;
use acs_store::sqlite::{SqliteOptions, SqliteStore};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tracing::{info, warn};

use crate::config::Config;
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

/// Opens the configured store (creating the data directory), running its migrations.
pub fn open_store(config: &Config) -> Result<SqliteStore, StartError> {
    let path = config
        .database
        .sqlite_path(&config.data_dir)
        .map_err(StartError::Config)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StartError::Config(format!("{}: {e}", dir.display())))?;
    }
    let options = SqliteOptions {
        synchronous_full: config.database.synchronous_full,
        event_retention_days: config.database.event_retention_days,
        ..SqliteOptions::default()
    };
    Ok(SqliteStore::open(&path, options)?)
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
    pub state: AppState<SqliteStore>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
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
    let store = open_store(&config)?;
    let admin_token = tokens::ensure_admin(&store, cwmp_server::now()).await?;

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

    let state: AppState<SqliteStore> = Arc::new(Shared {
        engine: engine_config(&config),
        admission: Arc::new(Semaphore::new(config.cwmp.max_sessions)),
        conn_req: conn_req::ConnectionRequester::new(&config.connection_request),
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
        match state.store.expire_tasks(cwmp_server::now()).await {
            Ok(0) => {}
            Ok(n) => info!(expired = n, "expired tasks removed"),
            Err(e) => warn!("expiring tasks failed: {e}"),
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
