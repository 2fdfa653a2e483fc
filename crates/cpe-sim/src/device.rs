//! One simulated device: a task that puts the I/O around a [`cpe::agent::Agent`] over a
//! [`cpe::tree::Tree`] — sleeps until the agent's next deadline or a wake-up, performs its
//! transfers, carries its sessions to the ACS, and saves its state.
//!
//! A device at rest is its agent, its tree overlay and a parked future: nothing per device
//! is kept for the HTTP client (built per session; cookies and connections live only as
//! long as a session, TR-069 §3.4.2), so 100,000 idle devices cost little.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cpe::agent::{Agent, Post, SessionStep, TransferFailure, TransferJob, TransferKind};
use cpe::tree::{Identity, Tree};
use cpe::{DataModel, Time};
use cwmp::ParameterValue;
use tokio::sync::{Notify, watch};

use crate::fleet::{SentLog, Shared};
use crate::net::{self, AcsClient, AcsClientConfig, CrTarget, SessionDriver};
use crate::persist::DeviceFile;
use crate::quirks::QuirkSet;
use crate::stats::FailureCause;

/// Now, as the agent counts time.
pub fn now() -> Time {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Time(ms)
}

/// What the Connection Request listener and the fleet share with a device task.
#[derive(Debug, Default)]
pub struct Wake {
    /// Wakes the task (Connection Request, shutdown, power cycle).
    notify: Notify,
    /// A Connection Request arrived since the task last looked.
    connection_request: AtomicBool,
    /// `ConnectionRequestUsername` and `ConnectionRequestPassword` as of the last session.
    credentials: Mutex<(String, String)>,
}

impl Wake {
    fn set_credentials(&self, user: String, pass: String) {
        *self
            .credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (user, pass);
    }

    /// Wakes the task without a Connection Request.
    pub fn poke(&self) {
        self.notify.notify_one();
    }
}

impl CrTarget for Wake {
    fn credentials(&self) -> (String, String) {
        self.credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn wake(&self) {
        self.connection_request.store(true, Ordering::Release);
        // notify_one keeps a permit when the task is not waiting, so no wake is lost.
        self.notify.notify_one();
    }
}

/// Everything one device task owns.
pub(crate) struct Device {
    pub(crate) identity: Identity,
    pub(crate) wake: Arc<Wake>,
    /// `ManagementServer.ConnectionRequestURL` on the listener, if there is one.
    pub(crate) cr_url: Option<String>,
    /// Wait this long before powering on (ramp-up jitter).
    pub(crate) start_delay: Duration,
}

/// Runs a device until shutdown. `power` counts power cycles requested by the fleet (an
/// outage storm): each one restarts the device from its saved state.
pub(crate) async fn run(
    device: Device,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    mut power: watch::Receiver<u64>,
) {
    power.mark_unchanged();
    if !device.start_delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(device.start_delay) => {}
            () = stopped(&mut shutdown) => return,
        }
    }
    let Some(mut agent) = power_on(&device, &shared, None).await else {
        return;
    };
    shared.stats.device_started();
    let mut informed = false;
    loop {
        let t = now();
        if device.wake.connection_request.swap(false, Ordering::AcqRel)
            && agent.handle_connection_request(t)
        {
            shared.stats.connection_request();
        }
        if agent.poll_timeout().is_some_and(|d| d <= t) {
            agent.handle_timeout(t);
        }
        let mut worked = false;
        while let Some(job) = agent.poll_transfer(now()) {
            worked = true;
            let id = job.id;
            let result = tokio::select! {
                r = transfer(&shared, job) => r,
                () = stopped(&mut shutdown) => break,
            };
            shared.stats.transfer(result.is_ok());
            agent.handle_transfer_result(id, result, now());
        }
        refresh_cr_url(&mut agent, &device);
        if let Some(inform) = agent.poll_session(now()) {
            worked = true;
            let ended = tokio::select! {
                ok = session(&mut agent, inform, &device, &shared) => {
                    if ok && !informed {
                        informed = true;
                        shared.stats.device_informed(shared.started.elapsed(), shared.devices);
                    }
                    false
                }
                () = stopped(&mut shutdown) => true,
            };
            if ended {
                // The session was cut short: the device goes down as if the power failed
                // mid-session; the saved state is the one before it.
                return;
            }
        }
        if worked {
            save(&agent, &device, &shared).await;
            continue;
        }
        if *shutdown.borrow() {
            save(&agent, &device, &shared).await;
            return;
        }
        let sleep = async {
            match agent.poll_timeout() {
                Some(at) => {
                    tokio::time::sleep(Duration::from_millis(at.millis_since(now()))).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = sleep => {}
            () = device.wake.notify.notified() => {}
            () = stopped(&mut shutdown) => {
                save(&agent, &device, &shared).await;
                return;
            }
            Ok(()) = power.changed() => {
                // Power cut and back: the device loses everything it did not save.
                save(&agent, &device, &shared).await;
                let (tree, state) = agent.into_parts();
                match power_on(&device, &shared, Some((tree, state))).await {
                    Some(a) => agent = a,
                    None => return,
                }
            }
        }
    }
}

/// Resolves when the fleet shuts down (the guard `wait_for` returns is dropped here: it
/// must not live across an await of the task).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|s| *s).await.is_err() {
        // The fleet is gone without saying so: stop as well.
    }
}

/// Builds the device's agent — from its saved state, from `previous` (a power cycle), or
/// fresh from the factory — and powers it on.
async fn power_on(
    device: &Device,
    shared: &Shared,
    previous: Option<(Tree, cpe::agent::AgentState)>,
) -> Option<Agent<Tree>> {
    let t = now();
    let (mut tree, state) = match previous {
        Some((mut tree, state)) => {
            tree.reboot(t);
            (tree, state)
        }
        None => {
            let saved = match &shared.state_dir {
                Some(dir) => match dir.load(&device.identity).await {
                    Ok(s) => s,
                    Err(e) => {
                        // A device whose state cannot be read does not start: starting it
                        // fresh would BOOTSTRAP it and lose what the ACS set.
                        tracing::error!(serial = %device.identity.serial_number, error = %e, "device not started");
                        return None;
                    }
                },
                None => None,
            };
            match saved {
                Some(f) => {
                    let mut tree =
                        Tree::with_state(shared.template.clone(), device.identity.clone(), &f.tree);
                    tree.reboot(t);
                    (tree, f.agent)
                }
                None => (
                    Tree::new(shared.template.clone(), device.identity.clone(), t),
                    Default::default(),
                ),
            }
        }
    };
    set_cr_url(&mut tree, device, t);
    let mut config = shared.agent.clone();
    config.seed = shared.agent.seed ^ device.identity.index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut agent = Agent::new(tree, config, state);
    agent.power_on(t);
    update_cr_credentials(&agent, &device.wake);
    Some(agent)
}

/// Puts the listener's URL for this device into `ConnectionRequestURL` if it is not there
/// (first start, a new listener port, a factory reset that restored the profile's value):
/// a device keeps that parameter at its current address. The path is the serial number, so
/// across restarts on the same port this changes nothing. Whether it changed.
fn set_cr_url(tree: &mut Tree, device: &Device, t: Time) -> bool {
    let Some(url) = &device.cr_url else {
        return false;
    };
    if tree.management_text("ConnectionRequestURL", t).as_deref() == Some(url.as_str()) {
        return false;
    }
    tree.set_management_value(
        "ConnectionRequestURL",
        ParameterValue::String(url.clone().into()),
        t,
    )
}

/// [`set_cr_url`] on a running agent, before it composes an Inform: the change is the
/// device's own (active notification: the ACS learns the URL in the next Inform).
fn refresh_cr_url(agent: &mut Agent<Tree>, device: &Device) {
    if agent.is_rebooting() || device.cr_url.is_none() {
        return;
    }
    let t = now();
    if set_cr_url(agent.model_mut(), device, t) {
        agent.handle_local_change(t);
    }
}

fn update_cr_credentials(agent: &Agent<Tree>, wake: &Wake) {
    let t = now();
    let tree = agent.model();
    wake.set_credentials(
        tree.management_text("ConnectionRequestUsername", t)
            .unwrap_or_default(),
        tree.management_text("ConnectionRequestPassword", t)
            .unwrap_or_default(),
    );
}

async fn save(agent: &Agent<Tree>, device: &Device, shared: &Shared) {
    let Some(dir) = &shared.state_dir else {
        return;
    };
    let file = DeviceFile::new(
        device.identity.clone(),
        agent.model().overlay_state(),
        agent.state(),
    );
    if let Err(e) = dir.save(&file).await {
        tracing::warn!(serial = %device.identity.serial_number, error = %e, "device state not saved");
    }
}

/// Adapts the agent to the HTTP client's [`SessionDriver`].
struct Driver<'a> {
    agent: &'a mut Agent<Tree>,
    inform: Option<Vec<u8>>,
    quirks: &'a QuirkSet,
    log: Option<&'a SentLog>,
    wake: &'a Wake,
}

impl Driver<'_> {
    fn out(&self, body: Vec<u8>) -> Vec<u8> {
        let body = self.quirks.on_wire(body);
        if let Some(log) = self.log
            && !body.is_empty()
        {
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(body.clone());
        }
        body
    }
}

impl SessionDriver for Driver<'_> {
    fn first(&mut self) -> Vec<u8> {
        let inform = self.inform.take().unwrap_or_default();
        self.out(inform)
    }

    fn on_response(&mut self, status: u16, body: &[u8]) -> net::Next {
        match self.agent.handle_response(status, body, now()) {
            SessionStep::Post(Post::Request(b)) => net::Next::request(self.out(b)),
            SessionStep::Post(Post::Response(b)) => {
                // A SetParameterValues answered with Status 0 has its changes "validated and
                // applied", the Connection Request credentials among them: the
                // listener takes them now, not at the session's end, since the ACS may send
                // a Connection Request with them as soon as the session is over.
                update_cr_credentials(self.agent, self.wake);
                net::Next::response(self.out(b))
            }
            SessionStep::Post(Post::Empty) => net::Next::empty(),
            SessionStep::Done => net::Next::Done,
            SessionStep::Failed(why) => net::Next::Failed(why),
        }
    }
}

/// Runs one session; the agent has been told how it ended. Whether it succeeded.
async fn session(
    agent: &mut Agent<Tree>,
    inform: Vec<u8>,
    device: &Device,
    shared: &Shared,
) -> bool {
    let t = now();
    let tree = agent.model();
    let url = tree.management_text("URL", t).unwrap_or_default();
    let mut config = AcsClientConfig::new(
        url,
        tree.management_text("Username", t).unwrap_or_default(),
        tree.management_text("Password", t).unwrap_or_default(),
    );
    config.tls = shared.tls.clone();
    config.quirks = shared.http_quirks;
    config.response_timeout = shared.response_timeout;
    config.local_addr = shared.local_addr;
    let client = match AcsClient::new(config) {
        Ok(c) => c,
        Err(e) => {
            // An unusable URL (the ACS may have set one): the session fails like an
            // unreachable ACS, with the retry back-off.
            agent.handle_session_failed(&e.to_string(), None, now());
            shared.stats.session_failed(FailureCause::Connect);
            return false;
        }
    };
    // Session slots bound the sessions in flight (and so the sockets and buffers); a
    // device waiting for a slot is not yet talking to the ACS.
    let Ok(_slot) = shared.session_slots.acquire().await else {
        return false;
    };
    shared.stats.session_started();
    let rpcs_before = agent.stats().rpcs_handled;
    let mut driver = Driver {
        agent,
        inform: Some(inform),
        quirks: &shared.wire_quirks,
        log: shared.sent_log.as_ref(),
        wake: &device.wake,
    };
    // Boxed: the session future is large and lives only while the session does, so idle
    // device futures stay small.
    let report = Box::pin(client.run_session(&mut driver)).await;
    let agent = driver.agent;
    shared
        .stats
        .rpcs(agent.stats().rpcs_handled.saturating_sub(rpcs_before));
    match &report.outcome {
        Ok(()) => shared.stats.session_ok(report.duration),
        Err(net::SessionError::Driver(why)) => {
            tracing::debug!(serial = %device.identity.serial_number, %why, "session failed");
            shared.stats.session_failed(FailureCause::Protocol);
        }
        Err(e) => {
            tracing::debug!(serial = %device.identity.serial_number, error = %e, "session failed");
            agent.handle_session_failed(&e.to_string(), report.retry_after, now());
            shared.stats.session_failed(FailureCause::of(e));
        }
    }
    update_cr_credentials(agent, &device.wake);
    report.outcome.is_ok()
}

/// Performs a transfer job.
async fn transfer(shared: &Shared, job: TransferJob) -> Result<Vec<u8>, TransferFailure> {
    let fail = |f: net::TransferFault| TransferFailure {
        code: f.code,
        message: f.message,
    };
    match job.kind {
        TransferKind::Download {
            url,
            username,
            password,
            file_size,
            max_bytes,
        } => shared
            .transfers
            .download(
                &url,
                &username,
                &password,
                max_bytes,
                (file_size > 0).then_some(file_size),
                job.timeout,
            )
            .await
            .map(|b| b.to_vec())
            .map_err(fail),
        TransferKind::Upload {
            url,
            username,
            password,
            body,
            content_type,
        } => shared
            .transfers
            .upload(
                &url,
                &username,
                &password,
                body.into(),
                &content_type,
                job.timeout,
            )
            .await
            .map(|()| Vec::new())
            .map_err(fail),
    }
}
