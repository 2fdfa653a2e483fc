//! The device agent: events, sessions, retries, transfers, reboots (TR-069 §3.7, notes §3).
//!
//! [`Agent`] is a state machine in the manner of quinn-proto: time and bytes are inputs,
//! nothing here reads a clock or does I/O. The embedder (`cpe-sim`) loops:
//!
//! 1. sleep until [`Agent::poll_timeout`] (or a Connection Request, or a local change),
//!    then call [`Agent::handle_timeout`] / [`Agent::handle_connection_request`];
//! 2. [`Agent::poll_transfer`]: perform each [`TransferJob`] (HTTP GET/PUT) and report with
//!    [`Agent::handle_transfer_result`];
//! 3. [`Agent::poll_session`]: when it returns an Inform, POST it to the ACS, give every
//!    answer to [`Agent::handle_response`] and POST what it returns until it says
//!    [`SessionStep::Done`] or [`SessionStep::Failed`]; a transport failure goes to
//!    [`Agent::handle_session_failed`];
//! 4. persist [`Agent::state`] (with the tree's overlay) when a state directory is used.
//!
//! What the agent does, and where the specification leaves a choice:
//!
//! - **Events** (notes §4.4): `0 BOOTSTRAP` until an InformResponse answers an Inform
//!   carrying it (first power-on, after FactoryReset, after `ManagementServer.URL`
//!   changed); `1 BOOT` at every power-on; `2 PERIODIC` every `PeriodicInformInterval`,
//!   phase-aligned to `PeriodicInformTime` when it is set, else to the boot; `3 SCHEDULED`
//!   with `M ScheduleInform`; `4 VALUE CHANGE` (an active notification opens a session, a
//!   passive one rides along); `6 CONNECTION REQUEST`; `7 TRANSFER COMPLETE` with
//!   `M Download` / `M Upload` / `M ScheduleDownload`, and `11 DU STATE CHANGE COMPLETE`
//!   with `M ChangeDUState`, for as long as their TransferComplete / DUStateChangeComplete
//!   awaits its response; `8 DIAGNOSTICS COMPLETE`; `M Reboot` with `1 BOOT`. Retention
//!   across failed sessions and reboots follows the table of notes §4.4 (see `events`).
//! - **Sessions** (TR-069 §3.7.1, notes §3.3): after the InformResponse the CPE sends its
//!   requests one at a time — TransferComplete, AutonomousTransferComplete,
//!   DUStateChangeComplete, GetRPCMethods (per
//!   [`GetRpcMethodsPolicy`]) — unless HoldRequests holds them, then the empty POST; it
//!   answers every ACS request; the session ends when the ACS answers with an empty body
//!   after the CPE's empty POST. A fault to the Inform, a fault other than 8005 to a CPE
//!   request, an HTTP error status, an undecodable body, an unexpected message or an ACS
//!   request whose `cwmp:ID` no answer could echo (a character XML 1.0 cannot carry; the
//!   request is not carried out) fail the session. An answer the CPE cannot encode (a
//!   value of the data model XML cannot carry) becomes fault 9002 (Internal error). A
//!   request answered with 8005 is sent again later in the session, at most three times
//!   in all.
//! - **AutonomousTransferComplete** (A.3.3.3, CWMP 1.1+): a transfer the device made on its
//!   own ([`Agent::handle_autonomous_transfer`]) is reported with `10 AUTONOMOUS TRANSFER
//!   COMPLETE` and kept until acknowledged.
//! - **After the session** (TR-069 A.3.2.8, A.3.2.9): Reboot, FactoryReset and a new
//!   firmware take effect (the device is off for [`AgentConfig::reboot_duration`]);
//!   transfers and ChangeDUState operations start; requested diagnostics are scheduled; a
//!   failed session is retried per §3.2.1.1 ([`retry`]).
//! - **CancelTransfer** with a CommandKey no transfer has answers 9003 (Invalid
//!   arguments): the spec leaves the code open and 9000 would claim the method is missing.
//!   A transfer in progress or completed cannot be cancelled (9021).
//! - **ScheduleDownload** windows in mode `4 Confirmation Needed` (or a vendor mode) are not
//!   used: nobody can confirm on a simulated device. When no usable window is left the
//!   TransferComplete says 9020, or the last attempt's fault if one failed.

pub mod diagnostics;
pub mod du;
mod events;
mod requests;
pub mod retry;
mod session;
mod session_flow;
mod transfer_flow;
mod transfers;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use cwmp::event_code as code;
use cwmp::{Body, CwmpVersion, Fault, FaultCode, Namespace, ParameterValue};
use serde::{Deserialize, Serialize};

use crate::data_model::DataModel;
use crate::time::Time;

use events::EventQueue;
use retry::Rng;
use session::Session;
use transfers::{
    DuChange, DuOp, DuRecord, DuResult, PendingFirmware, QueuedTransfer, TransferPhase,
    TransferRecord,
};

/// When the CPE calls GetRPCMethods on the ACS (TR-069 §A.3.1.1: optional for the CPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GetRpcMethodsPolicy {
    /// Never.
    Never,
    /// In the session that delivers `0 BOOTSTRAP`.
    #[default]
    OnBootstrap,
    /// In every session.
    EverySession,
}

/// Field behaviours the agent can imitate (issue 4 quirk profiles). The HTTP-level quirks
/// (Basic always, giving up on non-2xx) belong to the embedder's client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentQuirks {
    /// Envelopes start at `<soap:Envelope`, without `<?xml ...?>`.
    pub no_xml_declaration: bool,
    /// Write every envelope in this namespace (e.g. `cwmp-1-3`, `cwmp-1-4`) instead of the
    /// one the claimed versions imply.
    pub namespace: Option<Namespace>,
    /// SOAP arrays carry an `arrayType` count that disagrees with the items.
    pub array_type_mismatch: bool,
    /// The first Inform after a factory reset says `2 PERIODIC` instead of `0 BOOTSTRAP`.
    pub first_inform_periodic: bool,
}

/// How an agent behaves; not persisted (it comes from the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The CWMP versions the CPE claims (`SupportedCWMPVersions`), highest last or in any
    /// order; empty claims 1.0 only and sends no header.
    pub versions: Vec<CwmpVersion>,
    /// When to call GetRPCMethods.
    pub get_rpc_methods: GetRpcMethodsPolicy,
    /// Field behaviours.
    pub quirks: AgentQuirks,
    /// How long the device is off while it reboots (Reboot, firmware, FactoryReset).
    pub reboot_duration: Duration,
    /// How long a requested diagnostic takes before its results are in.
    pub diagnostics_duration: Duration,
    /// Seed of the agent's random numbers (retry jitter, periodic phase, diagnostics
    /// results), so that runs are repeatable.
    pub seed: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            versions: vec![
                CwmpVersion::V1_0,
                CwmpVersion::V1_1,
                CwmpVersion::V1_2,
                CwmpVersion::V1_3,
                CwmpVersion::V1_4,
            ],
            get_rpc_methods: GetRpcMethodsPolicy::default(),
            quirks: AgentQuirks::default(),
            reboot_duration: Duration::from_secs(2),
            diagnostics_duration: Duration::from_secs(1),
            seed: 0,
        }
    }
}

/// A ScheduleInform waiting for its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ScheduledInform {
    at: Time,
    command_key: String,
}

/// A requested diagnostic and when its results are in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingDiagnostic {
    at: Time,
    param: String,
}

/// What the next boot applies (the ACS's Reboot and FactoryReset, a downloaded firmware).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PendingBoot {
    /// CommandKeys of the Reboots: `M Reboot` each after the boot.
    #[serde(default)]
    reboot_keys: Vec<String>,
    /// FactoryReset: factory values and `0 BOOTSTRAP`.
    #[serde(default)]
    factory_reset: bool,
    /// A firmware image to apply.
    #[serde(default)]
    firmware: Option<PendingFirmware>,
}

impl PendingBoot {
    fn is_pending(&self) -> bool {
        !self.reboot_keys.is_empty() || self.factory_reset || self.firmware.is_some()
    }
}

/// What survives a restart of the embedder: events not yet delivered, retry count,
/// transfers queued or awaiting TransferComplete, scheduled informs, whether the device has
/// bootstrapped. Serialized as JSON by `cpe-sim --state-dir`; the fields are private, the
/// accessors below say what matters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentState {
    /// An InformResponse answered an Inform carrying `0 BOOTSTRAP` since the last factory
    /// reset or ACS URL change.
    bootstrapped: bool,
    /// The ACS URL the device last knew (a change means `0 BOOTSTRAP`).
    acs_url: Option<String>,
    /// Undelivered events.
    events: EventQueue,
    /// Unsuccessful sessions since the last successful one (the Inform's RetryCount).
    retry_count: u32,
    /// No session before this (the retry wait, notes §3.5).
    retry_at: Option<Time>,
    /// ScheduleInforms waiting.
    scheduled_informs: Vec<ScheduledInform>,
    /// Transfers queued or in progress.
    transfers: Vec<QueuedTransfer>,
    /// Finished transfers awaiting TransferCompleteResponse.
    transfer_completes: Vec<TransferRecord>,
    /// ChangeDUStates being carried out.
    du_changes: Vec<DuChange>,
    /// Finished ChangeDUStates awaiting DUStateChangeCompleteResponse.
    du_completes: Vec<DuRecord>,
    /// The device's own transfers awaiting AutonomousTransferCompleteResponse.
    #[serde(default)]
    autonomous_completes: Vec<AutonomousRecord>,
    /// Diagnostics running.
    diagnostics: Vec<PendingDiagnostic>,
    /// What the next boot applies.
    pending_boot: PendingBoot,
    /// Next transfer, record and job id.
    next_id: u64,
}

impl AgentState {
    /// Whether the device has delivered `0 BOOTSTRAP` (to the current ACS).
    pub fn is_bootstrapped(&self) -> bool {
        self.bootstrapped
    }

    /// Unsuccessful sessions since the last successful one.
    pub fn retry_count(&self) -> u32 {
        self.retry_count
    }

    /// Undelivered events (code, CommandKey), those derived from pending TransferComplete
    /// and DUStateChangeComplete records excluded.
    pub fn undelivered_events(&self) -> Vec<(String, String)> {
        self.events
            .ordered()
            .into_iter()
            .map(|e| (e.code, e.command_key))
            .collect()
    }

    /// CommandKeys of the transfers whose TransferComplete awaits its response.
    pub fn pending_transfer_completes(&self) -> Vec<String> {
        self.transfer_completes
            .iter()
            .map(|r| r.command_key.clone())
            .collect()
    }

    /// Transfers queued or in progress.
    pub fn queued_transfers(&self) -> usize {
        self.transfers.len()
    }

    /// The firmware version the next boot installs, if a firmware image waits.
    pub fn pending_firmware(&self) -> Option<&str> {
        self.pending_boot
            .firmware
            .as_ref()
            .map(|f| f.version.as_str())
    }

    fn take_id(&mut self) -> u64 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }
}

/// A transfer the device made on its own initiative (a firmware update it found, a log it
/// uploaded), reported with AutonomousTransferComplete and `10 AUTONOMOUS TRANSFER
/// COMPLETE` (TR-069 A.3.3.3, CWMP 1.1 and later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutonomousTransfer {
    /// The URL on which the transfer was announced to the device (may be empty).
    pub announce_url: String,
    /// The URL the file moved from or to.
    pub transfer_url: String,
    /// A download (true) or an upload (false).
    pub is_download: bool,
    /// E.g. `1 Firmware Upgrade Image`.
    pub file_type: String,
    /// Bytes moved.
    pub file_size: u32,
    /// The file's name on the device (may be empty).
    pub target_file_name: String,
    /// 0 on success, else the transfer fault (9010, 9012, ...).
    pub fault_code: u32,
    /// Empty on success.
    pub fault_string: String,
    /// When it started.
    pub start: Time,
    /// When it ended.
    pub complete: Time,
}

/// What to POST next in a session. The kind decides the HTTP framing (TR-069 §3.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Post {
    /// A SOAP request of the CPE (TransferComplete, GetRPCMethods, ...).
    Request(Vec<u8>),
    /// A SOAP response or fault answering the ACS.
    Response(Vec<u8>),
    /// The empty POST.
    Empty,
}

/// What the agent makes of an answer of the ACS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStep {
    /// POST this.
    Post(Post),
    /// The session ended successfully (TR-069 §3.7.1.4).
    Done,
    /// The session failed (the reason); the agent has scheduled the retry (notes §3.5).
    Failed(String),
}

/// A file transfer the embedder performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferJob {
    /// Identifies the job in [`Agent::handle_transfer_result`].
    pub id: u64,
    /// GET or PUT, and what.
    pub kind: TransferKind,
    /// Give up after this long (fault 9010/9011).
    pub timeout: Duration,
}

/// The two directions of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferKind {
    /// HTTP GET `url`; `file_size` (0: unknown) must match (9018 otherwise); at most
    /// `max_bytes`.
    Download {
        /// The file's URL.
        url: String,
        /// Credentials for the file server (may be empty).
        username: String,
        /// Credentials for the file server (may be empty).
        password: String,
        /// The announced size, 0 when unknown.
        file_size: u64,
        /// Largest accepted file.
        max_bytes: u64,
    },
    /// HTTP PUT `body` to `url`.
    Upload {
        /// Where to put it.
        url: String,
        /// Credentials for the file server (may be empty).
        username: String,
        /// Credentials for the file server (may be empty).
        password: String,
        /// The file.
        body: Vec<u8>,
        /// Its `Content-Type`.
        content_type: String,
    },
}

/// A transfer that failed: the fault for TransferComplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferFailure {
    /// 9010, 9011, 9012, 9014–9020...
    pub code: FaultCode,
    /// For FaultString.
    pub message: String,
}

/// Counters of what the agent did, for the embedder's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// ACS requests answered (responses and faults).
    pub rpcs_handled: u64,
    /// ACS requests answered, by method name.
    pub rpcs_by_method: BTreeMap<String, u64>,
    /// Informs sent (sessions opened).
    pub informs: u64,
    /// Sessions that ended successfully.
    pub sessions_ok: u64,
    /// Sessions that failed.
    pub sessions_failed: u64,
    /// Boots (power-ons and reboots).
    pub boots: u64,
    /// Transfers (and deployment-unit downloads) that succeeded.
    pub transfers_ok: u64,
    /// Transfers that failed.
    pub transfers_failed: u64,
    /// Diagnostics completed.
    pub diagnostics: u64,
}

/// How long the embedder may take over one transfer before reporting a failure.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);

/// After a failed attempt inside a ScheduleDownload window, the next one waits this long.
const WINDOW_RETRY_DELAY_SECS: u64 = 10;

/// At most this many ScheduleInforms, Reboot CommandKeys and ChangeDUStates wait at once
/// (9004 beyond): nothing the ACS sends makes the state grow without bound.
const MAX_PENDING: usize = 16;

/// `SessionTimeout` the Inform announces (CWMP 1.3; notes §2.3: 30 s is the default
/// behaviour).
const SESSION_TIMEOUT_SECS: u32 = 30;

/// TransferComplete fault codes every namespace allows (notes §4.3 restricted sets); others
/// are replaced by 9010 / 9011.
fn transfer_fault_allowed(code: FaultCode) -> bool {
    matches!(code.0, 9001 | 9002 | 9010..=9012 | 9014..=9020 | 9033..=9899)
}

/// DUStateChangeComplete fault codes (notes §4.3); others become 9017 (unable to complete
/// download), the nearest for a failed deployment-unit download.
fn du_fault(code: FaultCode) -> FaultCode {
    if matches!(code.0, 9001 | 9003 | 9012 | 9013 | 9015..=9018 | 9022..=9899) {
        code
    } else {
        FaultCode::FILE_TRANSFER_INCOMPLETE
    }
}

/// An operation's result as stored, its fault code within the set DUStateChangeComplete
/// allows (notes §4.3; 9001 stands for any other failure), and a UUID: an operation that
/// named none and failed before the device assigned one gets one from `rng` (the schema
/// requires a UUID in every OpResultStruct).
fn du_result(result: &cwmp::OpResultStruct<'_>, rng: &mut Rng) -> DuResult {
    let mut r = DuResult::from_struct(result);
    if !matches!(r.fault_code, 0 | 9001 | 9003 | 9012 | 9013 | 9015..=9018 | 9022..=9899) {
        r.fault_code = FaultCode::REQUEST_DENIED.0;
    }
    if !is_uuid(&r.uuid) {
        r.uuid = random_uuid(rng);
    }
    r
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A version 4 (random) UUID from the agent's seeded numbers.
fn random_uuid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// An AutonomousTransferComplete awaiting its response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct AutonomousRecord {
    id: u64,
    transfer: AutonomousTransfer,
}

impl AutonomousRecord {
    fn message(&self) -> cwmp::AutonomousTransferComplete<'static> {
        let t = &self.transfer;
        cwmp::AutonomousTransferComplete {
            announce_url: Cow::Owned(t.announce_url.clone()),
            transfer_url: Cow::Owned(t.transfer_url.clone()),
            is_download: t.is_download,
            file_type: Cow::Owned(t.file_type.clone()),
            file_size: t.file_size,
            target_file_name: Cow::Owned(t.target_file_name.clone()),
            fault_struct: cwmp::TransferCompleteFaultStruct {
                fault_code: FaultCode(t.fault_code),
                fault_string: Cow::Owned(t.fault_string.clone()),
            },
            start_time: t.start.to_datetime(),
            complete_time: t.complete.to_datetime(),
        }
    }
}

/// Whether an event code exists in the namespace (cwmp-1-0 enumerates its codes; the later
/// schemas use patterns every code of this agent matches).
fn event_allowed(namespace: Namespace, event_code: &str) -> bool {
    namespace > Namespace::Cwmp1_0
        || !matches!(
            event_code,
            code::M_SCHEDULE_DOWNLOAD | code::M_CHANGE_DU_STATE | code::DU_STATE_CHANGE_COMPLETE
        )
}

fn fault(code: FaultCode, message: impl Into<String>) -> Body<'static> {
    Body::Fault(Fault::cwmp(code, Some(Cow::Owned(message.into()))))
}

/// Milliseconds of `d`, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The smallest `reference + k·interval` after `now` (any integer k).
fn next_aligned(reference_ms: i128, interval_ms: i128, now_ms: i128) -> Time {
    if interval_ms <= 0 {
        return Time(u64::MAX);
    }
    let k = (now_ms - reference_ms).div_euclid(interval_ms) + 1;
    let t = reference_ms + k * interval_ms;
    Time(u64::try_from(t.max(0)).unwrap_or(u64::MAX))
}

/// The CPE side of CWMP for one device.
#[derive(Debug)]
pub struct Agent<M: DataModel> {
    model: M,
    config: AgentConfig,
    state: AgentState,
    stats: AgentStats,
    rng: Rng,
    /// power_on was called.
    powered: bool,
    /// Off until then (rebooting).
    reboot_until: Option<Time>,
    session: Option<Session>,
    /// The next `2 PERIODIC`.
    next_periodic: Option<Time>,
    /// Phase reference of periodic informs when PeriodicInformTime is unknown: the boot.
    periodic_ref: Time,
    /// A Connection Request came during the session: a session follows this one.
    cr_in_session: bool,
    /// Next `cwmp:ID` of the CPE's requests.
    message_id: u64,
    /// The latest time any input carried.
    now: Time,
}

impl<M: DataModel> Agent<M> {
    /// An agent for a device whose parameters are `model`, resuming `state` (the default
    /// for a device fresh from the factory). Call [`Agent::power_on`] next.
    pub fn new(model: M, config: AgentConfig, state: AgentState) -> Agent<M> {
        let rng = Rng::new(config.seed);
        Agent {
            model,
            config,
            state,
            stats: AgentStats::default(),
            rng,
            powered: false,
            reboot_until: None,
            session: None,
            next_periodic: None,
            periodic_ref: Time(0),
            cr_in_session: false,
            message_id: 0,
            now: Time(0),
        }
    }

    /// The device powers on at `now`: `0 BOOTSTRAP` if it never reached an ACS (or after a
    /// factory reset or a new ACS URL), else `1 BOOT` (plus `M Reboot` / `M Download`
    /// completions pending from before the restart); a session is due at once.
    pub fn power_on(&mut self, now: Time) {
        self.now = self.now.max(now);
        self.powered = true;
        self.reboot_until = None;
        self.session = None;
        self.cr_in_session = false;
        self.boot(now);
    }

    /// When [`Agent::handle_timeout`] must next be called, if ever. A session or transfer
    /// that is due already is not a timeout: [`Agent::poll_session`] and
    /// [`Agent::poll_transfer`] hand it out.
    pub fn poll_timeout(&self) -> Option<Time> {
        if !self.powered {
            return None;
        }
        if let Some(t) = self.reboot_until {
            return Some(t);
        }
        let now = self.now;
        // No allocation: this runs on every turn of every simulated device.
        let mut next: Option<Time> = None;
        let mut consider = |t: Time| {
            next = Some(next.map_or(t, |n| n.min(t)));
        };
        self.next_periodic.into_iter().for_each(&mut consider);
        self.state
            .scheduled_informs
            .iter()
            .for_each(|s| consider(s.at));
        self.state.diagnostics.iter().for_each(|d| consider(d.at));
        // A retry or a transfer whose time has passed needs no timeout but a call of
        // poll_session / poll_transfer, which the embedder makes on every turn: only their
        // future times count, so that an embedder busy with other transfers does not spin.
        if self.session.is_none()
            && self.needs_session()
            && let Some(t) = self.state.retry_at.filter(|t| *t > now)
        {
            consider(t);
        }
        for t in &self.state.transfers {
            if t.after_session || t.phase != TransferPhase::Queued {
                continue;
            }
            // The start (for ScheduleDownload in the next usable window), and the ends of
            // the windows still to come (when 9020 may be due).
            if let Some(start) = t.next_start(now).filter(|s| *s > now) {
                consider(start);
            }
            t.windows
                .iter()
                .filter(|w| w.end >= now)
                .for_each(|w| consider(w.end.plus_millis(1)));
        }
        next
    }

    /// Time has reached `now`: periodic and scheduled informs, retries, reboots,
    /// diagnostics and delayed transfers that are due.
    pub fn handle_timeout(&mut self, now: Time) {
        self.now = self.now.max(now);
        if let Some(t) = self.reboot_until
            && now >= t
        {
            self.reboot_until = None;
            self.boot(now);
        }
        if !self.powered || self.reboot_until.is_some() {
            return;
        }
        if self.next_periodic.is_some_and(|t| t <= now) {
            self.refresh_periodic(now);
        }
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.state.scheduled_informs)
            .into_iter()
            .partition(|s| s.at <= now);
        self.state.scheduled_informs = waiting;
        for s in due {
            // TR-069 A.4.1.3: `3 SCHEDULED` with `M ScheduleInform` and its CommandKey.
            self.push_event(code::SCHEDULED, "");
            self.push_event(code::M_SCHEDULE_INFORM, &s.command_key);
        }
        self.run_diagnostics(now);
        self.expire_windows(now);
        self.advance_du(now);
    }

    /// An authenticated Connection Request arrived: a `6 CONNECTION REQUEST` session is
    /// due. `false` when the device ignores it: rebooting, or a session is already open —
    /// then it is remembered and a `6 CONNECTION REQUEST` session follows the current one,
    /// so that what the ACS wanted is not lost.
    pub fn handle_connection_request(&mut self, now: Time) -> bool {
        self.now = self.now.max(now);
        if !self.powered || self.reboot_until.is_some() {
            return false;
        }
        if self.session.is_some() {
            self.cr_in_session = true;
            return false;
        }
        self.push_event(code::CONNECTION_REQUEST, "");
        true
    }

    /// The device's own parameters changed (see [`DataModel::set_value`]): an active
    /// notification makes a `4 VALUE CHANGE` session due. A new ACS URL makes a
    /// `0 BOOTSTRAP` session due; new periodic settings take effect.
    pub fn handle_local_change(&mut self, now: Time) {
        self.now = self.now.max(now);
        if !self.powered {
            return;
        }
        if self.model.pending_changes().active {
            self.push_event(code::VALUE_CHANGE, "");
        }
        self.check_acs_url();
        self.refresh_periodic(now);
    }

    /// A session is due: the Inform to POST (the agent is now in a session).
    pub fn poll_session(&mut self, now: Time) -> Option<Vec<u8>> {
        self.now = self.now.max(now);
        if !self.session_due(now) {
            return None;
        }
        match self.start_session(now) {
            Ok(inform) => Some(inform),
            Err(_) => {
                // Cannot happen with a model whose values are valid; counted as a failed
                // attempt so that the agent does not spin.
                self.schedule_retry(now, None);
                self.stats.sessions_failed += 1;
                None
            }
        }
    }

    /// The ACS's answer to the last POST (a 401 the HTTP client answered itself is not
    /// passed on): status and body.
    pub fn handle_response(&mut self, status: u16, body: &[u8], now: Time) -> SessionStep {
        self.now = self.now.max(now);
        if self.session.is_none() {
            return SessionStep::Failed("no session is open".into());
        }
        // TR-069 §3.7.1.4: a 4xx or 5xx status ends the session unsuccessfully.
        if !(200..300).contains(&status) {
            return self.fail_session(now, format!("HTTP status {status}"), None);
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return self.on_empty(now);
        }
        match cwmp::decode(body) {
            Ok(envelope) => {
                let envelope = envelope.into_owned();
                self.on_message(envelope, now)
            }
            Err(e) => self.on_undecodable(&e, now),
        }
    }

    /// The session failed below CWMP (connect, TLS, timeout, authentication); the agent
    /// schedules the retry (notes §3.5), no earlier than `retry_after` if the ACS said so.
    pub fn handle_session_failed(
        &mut self,
        reason: &str,
        retry_after: Option<Duration>,
        now: Time,
    ) {
        self.now = self.now.max(now);
        if self.session.is_some() {
            let _ = self.fail_session(now, reason.to_owned(), retry_after);
        }
    }

    /// A transfer is due: perform it and report with [`Agent::handle_transfer_result`].
    pub fn poll_transfer(&mut self, now: Time) -> Option<TransferJob> {
        self.now = self.now.max(now);
        if !self.powered || self.reboot_until.is_some() {
            return None;
        }
        let ready = self.state.transfers.iter().position(|t| {
            t.phase == TransferPhase::Queued
                && !t.after_session
                && t.due <= now
                && (t.windows.is_empty() || t.open_window(now).is_some())
        });
        if let Some(i) = ready
            && let Some(t) = self.state.transfers.get_mut(i)
        {
            t.phase = TransferPhase::InProgress { started: now };
            let t = t.clone();
            return Some(self.job(&t, now));
        }
        self.advance_du(now);
        let (url, username, password) = self
            .state
            .du_changes
            .first()
            .filter(|d| !d.after_session && d.job.is_none())
            .and_then(|d| d.ops.get(d.results.len()))?
            .download()?;
        let id = self.state.take_id();
        if let Some(change) = self.state.du_changes.first_mut() {
            change.job = Some((id, now));
        }
        Some(TransferJob {
            id,
            kind: TransferKind::Download {
                url,
                username,
                password,
                file_size: 0,
                max_bytes: transfers::DEFAULT_MAX_BYTES,
            },
            timeout: TRANSFER_TIMEOUT,
        })
    }

    /// The outcome of a [`TransferJob`]: the file (empty for an upload) or the fault.
    /// Unknown ids (a job the device forgot when it rebooted) are ignored.
    pub fn handle_transfer_result(
        &mut self,
        id: u64,
        result: Result<Vec<u8>, TransferFailure>,
        now: Time,
    ) {
        self.now = self.now.max(now);
        let in_progress = self
            .state
            .transfers
            .iter()
            .position(|t| t.id == id && matches!(t.phase, TransferPhase::InProgress { .. }));
        if let Some(i) = in_progress {
            let t = self.state.transfers.remove(i);
            self.transfer_done(t, result, now);
            return;
        }
        let Some(change) = self
            .state
            .du_changes
            .iter_mut()
            .find(|d| d.job.is_some_and(|(job, _)| job == id))
        else {
            return;
        };
        let started = change.job.take().map_or(now, |(_, s)| s);
        let change_id = change.id;
        let Some(op) = change.ops.get(change.results.len()).cloned() else {
            return;
        };
        let result = match result {
            Ok(file) => {
                self.stats.transfers_ok += 1;
                match (&op, op.install_struct(), op.update_struct()) {
                    (DuOp::Install { .. }, Some(s), _) => {
                        du::install(&mut self.model, &s, &file, started, now)
                    }
                    (_, _, Some(s)) => du::update(&mut self.model, &s, Some(&file), started, now),
                    _ => du::failed(op.uuid(), FaultCode::INTERNAL_ERROR, "", started, now),
                }
            }
            Err(f) => {
                self.stats.transfers_failed += 1;
                du::failed(op.uuid(), du_fault(f.code), &f.message, started, now)
            }
        };
        if let Some(change) = self.state.du_changes.iter_mut().find(|d| d.id == change_id) {
            change.results.push(du_result(&result, &mut self.rng));
        }
        self.advance_du(now);
    }

    /// The device moved a file on its own initiative: an AutonomousTransferComplete is
    /// delivered in a session that becomes due now (kept until the ACS acknowledges it;
    /// the 16 newest are kept). Not reported to a CWMP 1.0 ACS, which lacks the method.
    pub fn handle_autonomous_transfer(&mut self, transfer: AutonomousTransfer, _now: Time) {
        const MAX_AUTONOMOUS: usize = 16;
        if self.inform_namespace() < Namespace::Cwmp1_1 {
            return;
        }
        let id = self.state.take_id();
        if self.state.autonomous_completes.len() >= MAX_AUTONOMOUS {
            self.state.autonomous_completes.remove(0);
        }
        self.state
            .autonomous_completes
            .push(AutonomousRecord { id, transfer });
        self.state.retry_at = None;
    }

    /// A snapshot of what must survive a restart.
    pub fn state(&self) -> AgentState {
        self.state.clone()
    }

    /// The device's parameters.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The device's parameters, to change them as the device (then call
    /// [`Agent::handle_local_change`]).
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// The parts, for persistence.
    pub fn into_parts(self) -> (M, AgentState) {
        (self.model, self.state)
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> &AgentStats {
        &self.stats
    }

    /// Whether a session is open.
    pub fn in_session(&self) -> bool {
        self.session.is_some()
    }

    /// Whether the device is off, rebooting.
    pub fn is_rebooting(&self) -> bool {
        self.reboot_until.is_some()
    }

    /// Whether [`Agent::poll_session`] would open a session at `now`.
    pub fn session_due(&self, now: Time) -> bool {
        self.powered
            && self.reboot_until.is_none()
            && self.session.is_none()
            && self.needs_session()
            && self.state.retry_at.is_none_or(|t| now >= t)
    }

    /// When the retry of a failed session is due, while the agent waits for it.
    pub fn retry_at(&self) -> Option<Time> {
        self.state.retry_at
    }

    /// The CWMP version negotiated in the open session (after the InformResponse).
    pub fn session_version(&self) -> Option<CwmpVersion> {
        self.session.as_ref().and_then(|s| s.version)
    }

    // ----- events and timers -----

    /// Queues an event that opens a session; a retry wait ends (notes §3.5: a new event
    /// during the wait makes the CPE retry at once).
    fn push_event(&mut self, event_code: &str, command_key: &str) {
        self.state.events.push(event_code, command_key);
        self.state.retry_at = None;
    }

    /// Whether something waits for delivery.
    fn needs_session(&self) -> bool {
        !self.state.events.is_empty()
            || !self.state.transfer_completes.is_empty()
            || !self.state.du_completes.is_empty()
            || !self.state.autonomous_completes.is_empty()
            || self.model.pending_changes().active
    }

    /// The device (re)boots: what was pending for the boot is applied, and the power-on
    /// events are queued.
    fn boot(&mut self, now: Time) {
        self.stats.boots += 1;
        self.abort_running();
        // notes §4.4: 4 VALUE CHANGE is not kept across a reboot (values are re-read).
        self.model.clear_changes();
        self.state.events.after_reboot();
        let pending = std::mem::take(&mut self.state.pending_boot);
        if pending.factory_reset {
            // Back to the factory: the device forgets what it was doing and who its ACS
            // was (TR-069 A.4.1.1); `0 BOOTSTRAP` follows.
            self.model.factory_reset(now);
            self.state = AgentState {
                next_id: self.state.next_id,
                ..AgentState::default()
            };
        }
        self.model.reboot(now);
        if let Some(firmware) = pending.firmware {
            // The new image runs: SoftwareVersion changes (a forced active notification, so
            // it comes with 4 VALUE CHANGE), and the download is complete.
            let path = format!("{}DeviceInfo.SoftwareVersion", self.model.root());
            let version: String = firmware.version.chars().take(64).collect();
            self.model
                .set_value(&path, ParameterValue::String(Cow::Owned(version)), now);
            let mut record = firmware.record;
            record.complete = now;
            self.state.transfer_completes.push(record);
        }
        self.state.events.push(code::BOOT, "");
        for key in &pending.reboot_keys {
            self.state.events.push(code::M_REBOOT, key);
        }
        self.check_acs_url();
        if !self.state.bootstrapped {
            self.state.events.push(code::BOOTSTRAP, "");
        }
        self.periodic_ref = now;
        self.next_periodic = None;
        self.refresh_periodic(now);
        // A session is due at once after a boot.
        self.state.retry_at = None;
    }

    /// Transfers in progress die with the power (they start again after the boot).
    fn abort_running(&mut self) {
        for t in &mut self.state.transfers {
            t.phase = TransferPhase::Queued;
        }
        for d in &mut self.state.du_changes {
            d.job = None;
        }
    }

    /// Compares `ManagementServer.URL` with the one the device knew: a new ACS means
    /// `0 BOOTSTRAP` (TR-069 §3.7.1.5, notes §4.4).
    fn check_acs_url(&mut self) {
        let url = self
            .model
            .management_value("URL", Time(0))
            .map(|v| v.text().into_owned())
            .unwrap_or_default();
        match &self.state.acs_url {
            Some(known) if *known == url => {}
            Some(_) => {
                self.state.events.discard_for_new_acs();
                self.state.bootstrapped = false;
                self.push_event(code::BOOTSTRAP, "");
                self.state.acs_url = Some(url);
            }
            None => self.state.acs_url = Some(url),
        }
    }

    fn management_u32(&self, name: &str, now: Time) -> Option<u32> {
        match self.model.management_value(name, now)? {
            ParameterValue::UnsignedInt(v) => Some(v),
            ParameterValue::Int(v) => u32::try_from(v).ok(),
            ParameterValue::UnsignedLong(v) => u32::try_from(v).ok(),
            ParameterValue::Long(v) => u32::try_from(v).ok(),
            other => other.text().trim().parse().ok(),
        }
    }

    fn management_bool(&self, name: &str, now: Time) -> Option<bool> {
        match self.model.management_value(name, now)? {
            ParameterValue::Boolean(b) => Some(b),
            other => match other.text().trim() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
        }
    }

    fn retry_settings(&self, now: Time) -> (u32, u32) {
        (
            self.management_u32("CWMPRetryMinimumWaitInterval", now)
                .unwrap_or(retry::DEFAULT_MIN_WAIT),
            self.management_u32("CWMPRetryIntervalMultiplier", now)
                .unwrap_or(retry::DEFAULT_MULTIPLIER),
        )
    }

    /// Recomputes the next `2 PERIODIC` from PeriodicInformEnable, PeriodicInformInterval
    /// and PeriodicInformTime (TR-181: the phase reference; the Unknown Time lets the CPE
    /// choose, and this one counts from its boot).
    fn refresh_periodic(&mut self, now: Time) {
        self.fire_periodic_if_due(now);
        let enabled = self
            .management_bool("PeriodicInformEnable", now)
            .unwrap_or(false);
        let interval = self
            .management_u32("PeriodicInformInterval", now)
            .unwrap_or(0);
        if !enabled || interval == 0 {
            self.next_periodic = None;
            return;
        }
        let reference = match self.model.management_value("PeriodicInformTime", now) {
            Some(ParameterValue::DateTime(t)) if !t.is_unknown() => Some(t),
            Some(ParameterValue::String(s)) => {
                cwmp::DateTime::parse(&s).ok().filter(|t| !t.is_unknown())
            }
            _ => None,
        };
        let reference_ms = match reference {
            Some(t) => i128::from(t.unix_timestamp()) * 1000,
            None => i128::from(self.periodic_ref.0),
        };
        self.next_periodic = Some(next_aligned(
            reference_ms,
            i128::from(interval) * 1000,
            i128::from(now.0),
        ));
    }

    /// A periodic inform already due is not lost when the schedule is recomputed.
    fn fire_periodic_if_due(&mut self, now: Time) {
        if self.next_periodic.is_some_and(|t| t <= now) {
            self.next_periodic = None;
            self.push_event(code::PERIODIC, "");
        }
    }

    /// Schedules the diagnostics the ACS requested (after the session, TR-069 A.3.2.1
    /// note: the CPE runs them once the session has ended).
    fn schedule_diagnostics(&mut self, now: Time) {
        for param in self.model.requested_diagnostics() {
            if !self.state.diagnostics.iter().any(|d| d.param == param) {
                self.state.diagnostics.push(PendingDiagnostic {
                    at: now.plus_millis(millis(self.config.diagnostics_duration)),
                    param,
                });
            }
        }
    }

    /// Completes the diagnostics whose time has come: `8 DIAGNOSTICS COMPLETE`, unless the
    /// ACS cancelled the request meanwhile (TR-181 DiagnosticsState).
    fn run_diagnostics(&mut self, now: Time) {
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.state.diagnostics)
            .into_iter()
            .partition(|d| d.at <= now);
        self.state.diagnostics = waiting;
        for d in due {
            if !self.model.requested_diagnostics().contains(&d.param) {
                continue;
            }
            let seed = self.rng.next_u64();
            if !diagnostics::complete(&mut self.model, &d.param, seed, now) {
                // A diagnostic this device cannot run: it still ends, in error.
                let set = |m: &mut M, v: &str| {
                    m.set_value(&d.param, ParameterValue::String(Cow::Owned(v.into())), now)
                };
                if !set(&mut self.model, "Error_Internal") {
                    set(&mut self.model, "None");
                }
            }
            self.stats.diagnostics += 1;
            self.push_event(code::DIAGNOSTICS_COMPLETE, "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_alignment() {
        // From a reference in the past or in the future, the next multiple after now.
        assert_eq!(next_aligned(0, 60_000, 59_999), Time(60_000));
        assert_eq!(next_aligned(0, 60_000, 60_000), Time(120_000));
        assert_eq!(next_aligned(1_000_000, 60_000, 10_000), Time(40_000));
        assert_eq!(next_aligned(-5_000, 10_000, 0), Time(5_000));
        assert_eq!(next_aligned(0, 0, 5), Time(u64::MAX));
        assert_eq!(next_aligned(0, 1000, i128::from(u64::MAX)), Time(u64::MAX));
    }

    #[test]
    fn uuids() {
        let mut rng = Rng::new(3);
        for _ in 0..100 {
            let u = random_uuid(&mut rng);
            assert!(is_uuid(&u), "{u}");
            assert_eq!(u.as_bytes()[14], b'4');
        }
        assert!(!is_uuid(""));
        assert!(!is_uuid("6f1d2a4c-0b1e-4c5d-9a8b-1234567890a"));
    }

    #[test]
    fn fault_code_sets() {
        assert!(transfer_fault_allowed(FaultCode::FILE_TRANSFER_FAILURE));
        assert!(transfer_fault_allowed(FaultCode(9850)));
        assert!(!transfer_fault_allowed(FaultCode::INVALID_ARGUMENTS));
        assert!(!transfer_fault_allowed(FaultCode(9013)));
        assert_eq!(du_fault(FaultCode::FILE_TRANSFER_FAILURE), FaultCode(9017));
        assert_eq!(du_fault(FaultCode(9016)), FaultCode(9016));
        assert!(!event_allowed(Namespace::Cwmp1_0, "M ScheduleDownload"));
        assert!(event_allowed(Namespace::Cwmp1_1, "M ScheduleDownload"));
        assert!(event_allowed(Namespace::Cwmp1_0, "M Download"));
    }
}
