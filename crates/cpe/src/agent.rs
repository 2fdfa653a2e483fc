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
//! WORK IN PROGRESS (issue 4): this file pins the public API; the behaviour is being
//! written.

pub mod diagnostics;
pub mod du;

use std::time::Duration;

use cwmp::{CwmpVersion, FaultCode, Namespace};
use serde::{Deserialize, Serialize};

use crate::data_model::DataModel;
use crate::time::Time;

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

/// What survives a restart of the embedder: events not yet delivered, retry count,
/// transfers queued or awaiting TransferComplete, scheduled informs, whether the device has
/// bootstrapped. Serialized as JSON by `cpe-sim --state-dir`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {}

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
}

/// The CPE side of CWMP for one device.
#[derive(Debug)]
pub struct Agent<M: DataModel> {
    model: M,
    config: AgentConfig,
    state: AgentState,
    stats: AgentStats,
}

impl<M: DataModel> Agent<M> {
    /// An agent for a device whose parameters are `model`, resuming `state` (the default
    /// for a device fresh from the factory). Call [`Agent::power_on`] next.
    pub fn new(model: M, config: AgentConfig, state: AgentState) -> Agent<M> {
        Agent {
            model,
            config,
            state,
            stats: AgentStats::default(),
        }
    }

    /// The device powers on at `now`: `0 BOOTSTRAP` if it never reached an ACS (or after a
    /// factory reset or a new ACS URL), else `1 BOOT` (plus `M Reboot` / `M Download`
    /// completions pending from before the restart); a session is due at once.
    pub fn power_on(&mut self, _now: Time) {}

    /// When [`Agent::handle_timeout`] must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Time> {
        None
    }

    /// Time has reached `now`: periodic and scheduled informs, retries, reboots,
    /// diagnostics and delayed transfers that are due.
    pub fn handle_timeout(&mut self, _now: Time) {}

    /// An authenticated Connection Request arrived: a `6 CONNECTION REQUEST` session is
    /// due. `false` when the device ignores it (rebooting, or a session is already open).
    pub fn handle_connection_request(&mut self, _now: Time) -> bool {
        false
    }

    /// The device's own parameters changed (see [`DataModel::set_value`]): an active
    /// notification makes a `4 VALUE CHANGE` session due.
    pub fn handle_local_change(&mut self, _now: Time) {}

    /// A session is due: the Inform to POST (the agent is now in a session).
    pub fn poll_session(&mut self, _now: Time) -> Option<Vec<u8>> {
        None
    }

    /// The ACS's answer to the last POST (a 401 the HTTP client answered itself is not
    /// passed on): status and body.
    pub fn handle_response(&mut self, _status: u16, _body: &[u8], _now: Time) -> SessionStep {
        SessionStep::Failed("not built yet".into())
    }

    /// The session failed below CWMP (connect, TLS, timeout, authentication); the agent
    /// schedules the retry (notes §3.5), no earlier than `retry_after` if the ACS said so.
    pub fn handle_session_failed(
        &mut self,
        _reason: &str,
        _retry_after: Option<Duration>,
        _now: Time,
    ) {
    }

    /// A transfer is due: perform it and report with [`Agent::handle_transfer_result`].
    pub fn poll_transfer(&mut self, _now: Time) -> Option<TransferJob> {
        None
    }

    /// The outcome of a [`TransferJob`]: the file (empty for an upload) or the fault.
    pub fn handle_transfer_result(
        &mut self,
        _id: u64,
        _result: Result<Vec<u8>, TransferFailure>,
        _now: Time,
    ) {
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
        false
    }

    /// Whether the device is off, rebooting.
    pub fn is_rebooting(&self) -> bool {
        false
    }
}
