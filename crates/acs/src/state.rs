//! State shared by the CWMP endpoint, the NBI and background work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acs_core::DeviceId;
use acs_core::session::{EngineConfig, TaskOutcome};
use acs_core::task::TaskId;
use tokio::sync::{Semaphore, broadcast, oneshot};

use crate::config::Config;

/// Everything the servers share.
#[derive(Debug)]
pub struct Shared<S> {
    /// This node's name in the store's session leases and job claims.
    pub node: Arc<str>,
    /// The device store.
    pub store: S,
    /// The configuration.
    pub config: Config,
    /// The session engine's settings.
    pub engine: EngineConfig,
    /// Devices in session.
    pub sessions: Arc<SessionRegistry>,
    /// API calls waiting for tasks to finish.
    pub waiters: TaskWaiters,
    /// Admission: one permit per session.
    pub admission: Arc<Semaphore>,
    /// Sends connection requests.
    pub conn_req: crate::conn_req::ConnectionRequester,
    /// Makes provisions' extension calls.
    pub extensions: crate::ext::Extensions,
    /// The presets and scripts, cached.
    pub provisioning: crate::scripts::ProvisioningCache,
    /// Renders `/metrics`.
    pub metrics: crate::metrics::Handle,
}

/// A handle to the shared state.
pub type AppState<S> = Arc<Shared<S>>;

/// A session started or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// A session with the device began.
    Started,
    /// It ended.
    Ended,
}

/// The devices in session, so that one device never has two sessions at once, and so that
/// API calls can wait for a device's session to start or end.
#[derive(Debug)]
pub struct SessionRegistry {
    active: Mutex<HashMap<DeviceId, u64>>,
    events: broadcast::Sender<(DeviceId, SessionEvent)>,
    next: std::sync::atomic::AtomicU64,
}

impl Default for SessionRegistry {
    fn default() -> Self {
        SessionRegistry {
            active: Mutex::new(HashMap::new()),
            events: broadcast::channel(4096).0,
            next: std::sync::atomic::AtomicU64::new(1),
        }
    }
}

/// Held while a device is in session; ending the session (dropping it) frees the device.
#[derive(Debug)]
pub struct SessionGuard {
    registry: Arc<SessionRegistry>,
    device: DeviceId,
    serial: u64,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let removed = match self.registry.active.lock() {
            Ok(mut active) if active.get(&self.device) == Some(&self.serial) => {
                active.remove(&self.device);
                true
            }
            _ => false,
        };
        if removed {
            let _ = self
                .registry
                .events
                .send((self.device.clone(), SessionEvent::Ended));
        }
    }
}

impl SessionRegistry {
    /// Marks the device in session; `None` if it already is.
    pub fn begin(self: &Arc<Self>, device: &DeviceId) -> Option<SessionGuard> {
        let registry = self;
        let serial = registry
            .next
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        {
            let mut active = registry.active.lock().ok()?;
            if active.contains_key(device) {
                return None;
            }
            active.insert(device.clone(), serial);
        }
        let _ = registry
            .events
            .send((device.clone(), SessionEvent::Started));
        Some(SessionGuard {
            registry: Arc::clone(self),
            device: device.clone(),
            serial,
        })
    }

    /// Whether the device is in session.
    pub fn is_active(&self, device: &DeviceId) -> bool {
        self.active.lock().is_ok_and(|a| a.contains_key(device))
    }

    /// How many devices are in session.
    pub fn count(&self) -> usize {
        self.active.lock().map_or(0, |a| a.len())
    }

    /// Waits until the device is not in session; `false` on timeout.
    pub async fn wait_end(&self, device: &DeviceId, timeout: Duration) -> bool {
        let mut rx = self.events.subscribe();
        let wait = async {
            loop {
                if !self.is_active(device) {
                    return true;
                }
                match rx.recv().await {
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return false,
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    /// A receiver of session events, to watch for a device's next session.
    pub fn subscribe(&self) -> broadcast::Receiver<(DeviceId, SessionEvent)> {
        self.events.subscribe()
    }
}

/// A device's session claim in the store (other nodes sharing it refuse the device while
/// it lasts); dropping it gives the claim up, in the background. A node that dies drops
/// nothing: its claims expire (`cluster.session_lease_secs`).
pub struct SessionLease {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl SessionLease {
    /// The claim held on `device` in `store`.
    pub fn new<S: acs_store::Store>(
        store: S,
        device: DeviceId,
        claim: acs_store::SessionClaim,
    ) -> Self {
        SessionLease {
            release: Some(Box::new(move || {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        if let Err(e) = store.release_session(&device, &claim).await {
                            tracing::debug!(%device, "releasing the session claim failed: {e}");
                        }
                    });
                }
            })),
        }
    }
}

impl Drop for SessionLease {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

impl std::fmt::Debug for SessionLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionLease")
    }
}

/// API calls waiting for tasks to finish or fault.
#[derive(Debug, Default)]
pub struct TaskWaiters {
    waiting: Mutex<HashMap<TaskId, Vec<oneshot::Sender<TaskOutcome>>>>,
}

impl TaskWaiters {
    /// Registers interest in a task's outcome.
    pub fn wait(&self, task: TaskId) -> oneshot::Receiver<TaskOutcome> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiting.lock() {
            w.entry(task).or_default().push(tx);
        }
        rx
    }

    /// Delivers an outcome (after it is committed).
    pub fn publish(&self, task: TaskId, outcome: &TaskOutcome) {
        let senders = self
            .waiting
            .lock()
            .ok()
            .and_then(|mut w| w.remove(&task))
            .unwrap_or_default();
        for tx in senders {
            let _ = tx.send(outcome.clone());
        }
    }

    /// Forgets waiters whose caller gave up.
    pub fn prune(&self) {
        if let Ok(mut w) = self.waiting.lock() {
            w.retain(|_, senders| {
                senders.retain(|s| !s.is_closed());
                !senders.is_empty()
            });
        }
    }
}
