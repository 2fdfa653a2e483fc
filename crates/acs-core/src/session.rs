//! The CWMP session engine, without I/O: HTTP bodies and time in, answers and changes to
//! persist out (notes §3.3).
//!
//! The server reads the first body with [`read_inform`], authenticates the device it names,
//! loads what the store knows ([`DeviceContext`]) and calls [`Session::start`]. Each later
//! body of the session goes to [`Session::handle`]. Every [`Step`] carries the changes that
//! must be committed before its reply is sent: what the CPE forgets once answered (events,
//! TransferComplete) is durable before the answer leaves.
//!
//! The session is a small state machine whose states are named for what they expect:
//! [`State::AwaitingCpeRequests`] after the InformResponse (CPE requests, or the empty POST
//! that hands the turn to the ACS), [`State::AwaitingResponse`] after an ACS request, and
//! [`State::Ended`] after the 204 — or [`State::Released`] when that 204 lifted a
//! `HoldRequests` and the CPE may still send the requests it held back.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cwmp::{Body, CwmpVersion, Envelope, FaultCode, Namespace};
use serde_json::{Value, json};

use crate::change::{Change, Event, InformRecord, ParamUpdate, PendingTransfer};
use crate::device::{DeviceData, DeviceIdentity, Param, StoredValue};
use crate::fault::{Fault, RetryPolicy, task_channel};
use crate::id::DeviceId;
use crate::plan::{acs_fault, cwmp_fault, string_value};
use crate::preset::{self, Preset, SessionDevice, applicable};
use crate::provision::{
    Action, Active, DeviceFacts, ExtCall, NoScripts, Options, Provisioning, Runner,
};
use crate::query::DeviceView;
use crate::task::{Task, TaskId};
use crate::time::Timestamp;

/// The engine's settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// CWMP versions the ACS speaks (negotiation, notes §2.3).
    pub acs_versions: Vec<CwmpVersion>,
    /// Back-off after a task fault.
    pub retry: RetryPolicy,
    /// Set connection-request credentials on devices whose credentials the ACS does not
    /// know, so that it can wake them (issue: on by default).
    pub set_connection_request_credentials: bool,
    /// Most ACS requests in one session: a device that keeps answering with less than asked
    /// cannot hold a session open for ever.
    pub max_requests: usize,
    /// Decoder limits.
    pub limits: cwmp::Limits,
    /// Encoder options (boolean style).
    pub encode: cwmp::EncodeOptions,
    /// Send `HoldRequests` true while the ACS has work, so that the CPE's own requests
    /// (TransferComplete, ...) wait until the ACS is done (TR-069 §3.7.1.4, A.3.1.3).
    /// Deprecated since Amendment 5 ("the ACS is not expected to send it"), hence off by
    /// default; CPEs must still honour it.
    pub hold_requests: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            acs_versions: CwmpVersion::ALL.to_vec(),
            retry: RetryPolicy::default(),
            set_connection_request_credentials: true,
            max_requests: 256,
            limits: cwmp::Limits::DEFAULT,
            encode: cwmp::EncodeOptions::default(),
            hold_requests: false,
        }
    }
}

/// What to answer on HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 200 with this SOAP envelope (`text/xml`).
    Soap(String),
    /// 204: the ACS has nothing more to ask; the session is over.
    NoContent,
    /// 400 with this message: not something a SOAP fault can answer.
    BadRequest(String),
    /// No reply yet: a provision called extensions. Make these calls (the I/O is the
    /// caller's), commit the step's changes, and hand the results to [`Session::on_ext`],
    /// whose step holds the reply.
    Wait(Vec<ExtCall>),
    /// No reply yet: the presets need the device's stored data, which was deferred
    /// ([`DeviceContext::data_deferred`]). Commit the step's changes, load the data and
    /// hand it to [`Session::on_data`], whose step holds the reply.
    Load,
}

/// How a task ended in this step, for API callers waiting on it.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// Done, with its result.
    Done(Value),
    /// Faulted; it stays queued and is retried later.
    Faulted(Fault),
}

/// The result of handling one HTTP request.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// To commit, durably, before the reply is sent.
    pub changes: Vec<Change>,
    /// The reply.
    pub reply: Reply,
    /// Tasks that finished or faulted in this step.
    pub task_outcomes: Vec<(TaskId, TaskOutcome)>,
    /// The CWMP message the reply carries (`InformResponse`, `GetParameterValues`, ...)
    /// or that was answered, for logs and metrics.
    pub message: Option<&'static str>,
    /// Provisions' `log()` lines: (channel, line).
    pub logs: Vec<(String, String)>,
}

impl Step {
    fn reply(reply: Reply) -> Step {
        Step {
            changes: Vec::new(),
            reply,
            task_outcomes: Vec::new(),
            message: None,
            logs: Vec::new(),
        }
    }
}

/// An Inform read from the first request of a session. It borrows the request's body:
/// names and values are copied once, into what the session stores, not first into an
/// owned envelope.
#[derive(Debug, Clone)]
pub struct InformRequest<'a> {
    /// The device it names.
    pub device: DeviceId,
    /// Its identity fields.
    pub identity: DeviceIdentity,
    /// The envelope.
    envelope: Envelope<'a>,
}

impl InformRequest<'_> {
    /// The Inform's events.
    pub fn events(&self) -> impl Iterator<Item = &str> {
        let inform = match &self.envelope.body {
            Body::Inform(i) => Some(i),
            _ => None,
        };
        inform
            .into_iter()
            .flat_map(|i| i.event.iter().map(|e| e.event_code.as_ref()))
    }

    /// The Inform's `ConnectionRequestURL`, if it carries one.
    pub fn connection_request_url(&self) -> Option<&str> {
        let Body::Inform(inform) = &self.envelope.body else {
            return None;
        };
        inform
            .parameter_list
            .iter()
            .find(|p| p.name.ends_with("ManagementServer.ConnectionRequestURL"))
            .and_then(|p| match &p.value {
                cwmp::ParameterValue::String(s) => Some(s.as_ref()),
                _ => None,
            })
    }
}

/// A SOAP fault answering a request that could not be taken, in the peer's namespace with
/// its ID when they are known.
fn fault_reply(ns: Option<Namespace>, id: Option<&str>, code: FaultCode, message: &str) -> Reply {
    let env = Envelope::new(
        ns.unwrap_or(Namespace::Cwmp1_0),
        id.map(|i| Cow::Owned(i.to_owned())),
        cwmp::Fault::cwmp(code, Some(Cow::Owned(message.to_owned()))),
    );
    match env.encode() {
        Ok(xml) => Reply::Soap(xml),
        // An ID with characters XML cannot carry: answer without it.
        Err(_) => match Envelope::new(
            ns.unwrap_or(Namespace::Cwmp1_0),
            None,
            cwmp::Fault::cwmp(code, None),
        )
        .encode()
        {
            Ok(xml) => Reply::Soap(xml),
            Err(e) => Reply::BadRequest(e.to_string()),
        },
    }
}

/// The fault for a body the decoder refused: 8000 for an unknown method, 8003 otherwise;
/// a 400 when not even the CWMP namespace could be read.
fn decode_error_reply(e: &cwmp::DecodeError) -> Reply {
    let code = match e.kind() {
        cwmp::DecodeErrorKind::UnknownMethod { .. } => FaultCode::ACS_METHOD_NOT_SUPPORTED,
        cwmp::DecodeErrorKind::TooLarge { .. } => FaultCode::ACS_RESOURCES_EXCEEDED,
        _ => FaultCode::ACS_INVALID_ARGUMENTS,
    };
    if e.namespace().is_none() {
        return Reply::BadRequest(e.to_string());
    }
    fault_reply(e.namespace(), e.request_id(), code, &e.to_string())
}

/// Reads the first request of a session: it must be an Inform. Anything else is answered
/// with the reply returned as the error.
pub fn read_inform<'a>(body: &'a [u8], config: &EngineConfig) -> Result<InformRequest<'a>, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Reply::BadRequest(
            "no session: a session starts with an Inform".into(),
        ));
    }
    let envelope =
        cwmp::decode_with_limits(body, config.limits).map_err(|e| decode_error_reply(&e))?;
    let Body::Inform(inform) = &envelope.body else {
        return Err(fault_reply(
            Some(envelope.namespace),
            envelope.header.id.as_deref(),
            FaultCode::ACS_REQUEST_DENIED,
            &format!(
                "a session starts with an Inform, not {}",
                envelope.body.name()
            ),
        ));
    };
    let d = &inform.device_id;
    let identity = DeviceIdentity {
        manufacturer: d.manufacturer.to_string(),
        oui: d.oui.to_string(),
        product_class: d.product_class.to_string(),
        serial_number: d.serial_number.to_string(),
    };
    if identity.oui.is_empty() || identity.serial_number.is_empty() {
        return Err(fault_reply(
            Some(envelope.namespace),
            envelope.header.id.as_deref(),
            FaultCode::ACS_INVALID_ARGUMENTS,
            "DeviceId needs an OUI and a SerialNumber",
        ));
    }
    let device = DeviceId::from_identity(
        &identity.oui,
        &identity.product_class,
        &identity.serial_number,
    );
    Ok(InformRequest {
        device,
        identity,
        envelope,
    })
}

/// What the store knows of the device when its session starts.
#[derive(Debug, Clone, Default)]
pub struct DeviceContext {
    /// The device was seen before.
    pub known_device: bool,
    /// Connection-request credentials the ACS set on it.
    pub cr_credentials: Option<(String, String)>,
    /// Its known data (empty when the session has no work and it was not loaded).
    pub data: DeviceData,
    /// Tasks due now.
    pub tasks: Vec<Task>,
    /// Transfers awaiting completion.
    pub transfers: Vec<PendingTransfer>,
    /// Fresh random credentials, used if the ACS must set them (the engine has no
    /// randomness of its own).
    pub new_cr_credentials: Option<(String, String)>,
    /// The peer's address, for the record.
    pub remote_address: Option<String>,
    /// The session's work was loaded (tasks or transfers exist).
    pub loaded: bool,
    /// The provisions of the presets that apply to this session, if any.
    pub provisioning: Option<ProvisioningSetup>,
    /// `data` was not loaded (it is empty): the presets start from the Inform's values,
    /// the tags and the identity, and the session answers [`Reply::Load`] when they need
    /// more (see [`Session::on_data`]). Without presets it means nothing.
    pub data_deferred: bool,
}

/// What provisioning needs from the caller: the presets, what the store knows beyond
/// parameters, and the runner of scripts. The session picks the presets that apply.
#[derive(Debug, Clone)]
pub struct ProvisioningSetup {
    /// Every preset.
    pub presets: Arc<Vec<Preset>>,
    /// The device's faults outside task channels: channel, when, retries so far. A
    /// preset whose channel has a fault waits for the fault's retry time.
    pub channel_faults: Vec<(String, Timestamp, u32)>,
    /// The device's tags.
    pub tags: BTreeSet<String>,
    /// Its last `1 BOOT`, `0 BOOTSTRAP`, and its registration.
    pub last_boot: Option<Timestamp>,
    /// Last bootstrap.
    pub last_bootstrap: Option<Timestamp>,
    /// First seen.
    pub registered: Option<Timestamp>,
    /// Runs provision scripts.
    pub runner: Arc<dyn Runner>,
    /// Bounds and settings.
    pub options: Options,
}

/// How many times a session re-selects its presets after provisioning changed the device
/// (a preset's precondition may now hold, or no longer).
const MAX_RESELECTIONS: u32 = 4;

/// A session's provisioning (presets and NBI tasks) in progress.
#[derive(Debug)]
struct ProvisioningRun {
    engine: Provisioning,
    facts: DeviceFacts,
    /// The presets; `None` when only tasks run.
    setup: Option<ProvisioningSetup>,
    /// The events of the Inform, for preset selection.
    events: Vec<String>,
    /// The provisions running now.
    active: Vec<Active>,
    /// Channels whose faults are due for a retry now, with their retries.
    due: BTreeMap<String, u32>,
    reselections: u32,
    done: bool,
    /// The device's stored data is not loaded yet.
    deferred: bool,
    /// The selection needs the stored data: the next step asks for it.
    want_data: bool,
}

/// The provisions of the presets that apply to the device now, in order, and the channels
/// whose faults are due for a retry (with their retries); presets of a channel whose
/// fault is not due yet are left out, so a faulted channel backs off alone. With the
/// stored data `deferred`, also whether a precondition looked at a parameter the Inform
/// did not carry (the selection must then be made again on the stored data).
fn select(
    setup: &ProvisioningSetup,
    facts: &DeviceFacts,
    known: &DeviceData,
    events: &[String],
    now: Timestamp,
    retry: &RetryPolicy,
    deferred: bool,
) -> (Vec<Active>, BTreeMap<String, u32>, bool) {
    let mut blocked = BTreeSet::new();
    let mut due = BTreeMap::new();
    for (channel, at, retries) in &setup.channel_faults {
        if retry.next_attempt(*at, *retries) > now {
            blocked.insert(channel.as_str());
        } else {
            due.insert(channel.clone(), *retries);
        }
    }
    let view = InformOnly {
        device: SessionDevice { facts, data: known },
        deferred,
        missing: Cell::new(false),
    };
    let presets: Vec<&Preset> = applicable(setup.presets.iter(), &view, events, now)
        .into_iter()
        .filter(|p| !blocked.contains(p.channel.as_str()))
        .collect();
    (preset::active(&presets), due, view.missing.get())
}

/// The session's view of the device for preconditions; with the stored data deferred, it
/// notes when a precondition looks at a parameter the Inform did not carry (the answer
/// then waits for the data).
struct InformOnly<'a> {
    device: SessionDevice<'a>,
    deferred: bool,
    missing: Cell<bool>,
}

impl DeviceView for InformOnly<'_> {
    fn id(&self) -> &str {
        self.device.id()
    }
    fn manufacturer(&self) -> Option<&str> {
        self.device.manufacturer()
    }
    fn oui(&self) -> Option<&str> {
        self.device.oui()
    }
    fn product_class(&self) -> Option<&str> {
        self.device.product_class()
    }
    fn serial_number(&self) -> Option<&str> {
        self.device.serial_number()
    }
    fn last_inform(&self) -> Option<Timestamp> {
        self.device.last_inform()
    }
    fn last_boot(&self) -> Option<Timestamp> {
        self.device.last_boot()
    }
    fn last_bootstrap(&self) -> Option<Timestamp> {
        self.device.last_bootstrap()
    }
    fn registered(&self) -> Option<Timestamp> {
        self.device.registered()
    }
    fn tags(&self) -> impl Iterator<Item = &str> {
        self.device.tags()
    }
    fn param(&self, path: &str) -> Option<&Param> {
        let p = self.device.param(path);
        // A known parameter is not an object (the filter asks both): that is known.
        if p.is_none()
            && self.deferred
            && path
                .strip_suffix('.')
                .is_none_or(|leaf| self.device.param(leaf).is_none())
        {
            self.missing.set(true);
        }
        p
    }
}

impl ProvisioningRun {
    /// The presets' selection now (`None` when only tasks run).
    #[allow(clippy::type_complexity)]
    fn select(
        &self,
        known: &DeviceData,
        now: Timestamp,
        retry: &RetryPolicy,
    ) -> Option<(Vec<Active>, BTreeMap<String, u32>, bool)> {
        let setup = self.setup.as_ref()?;
        Some(select(
            setup,
            &self.facts,
            known,
            &self.events,
            now,
            retry,
            self.deferred,
        ))
    }
}

/// The state of a session, named for what it expects next.
#[derive(Debug)]
pub enum State {
    /// After the InformResponse: CPE requests, or the empty POST that hands over the turn.
    AwaitingCpeRequests,
    /// After an ACS request: its response or fault.
    AwaitingResponse(Box<Pending>),
    /// After the 204.
    Ended,
    /// After a 204 that lifted `HoldRequests`: the CPE may now send the requests it held
    /// back (TR-069 §3.7.1.4: the session ends only once the CPE has none left), or close.
    Released,
}

/// An ACS request awaiting its answer.
#[derive(Debug)]
pub struct Pending {
    id: String,
    sent: Body<'static>,
    owner: Owner,
}

#[derive(Debug, Clone, Copy)]
enum Owner {
    CrCredentials,
    /// The provisioning engine (presets and tasks).
    Provisioning,
}

/// Setting the connection-request credentials the ACS will use.
#[derive(Debug)]
struct CrCredentials {
    root: &'static str,
    username: String,
    password: String,
    sent: bool,
}

/// A CWMP session with one device.
#[derive(Debug)]
pub struct Session {
    device: DeviceId,
    namespace: Namespace,
    version: CwmpVersion,
    state: State,
    known: DeviceData,
    /// The ACS's messages carry `HoldRequests` true (until its 204).
    hold: bool,
    cr: Option<CrCredentials>,
    transfers: Vec<PendingTransfer>,
    requests_sent: usize,
    provisioning: Option<ProvisioningRun>,
}

/// The methods an ACS implements (GetRPCMethods from a CPE).
const ACS_METHODS: [&str; 8] = [
    "Inform",
    "GetRPCMethods",
    "TransferComplete",
    "AutonomousTransferComplete",
    "DUStateChangeComplete",
    "AutonomousDUStateChangeComplete",
    "RequestDownload",
    "Kicked",
];

impl Session {
    /// Starts the session with its Inform: negotiates the version, records the Inform, and
    /// answers with the InformResponse.
    pub fn start(
        now: Timestamp,
        inform: InformRequest<'_>,
        ctx: DeviceContext,
        config: &EngineConfig,
    ) -> (Session, Step) {
        let env = inform.envelope;
        let device = inform.device;
        let negotiated =
            match cwmp::version::negotiate(env.namespace, &env.header, &config.acs_versions) {
                Ok(n) => n,
                Err(no_common) => {
                    let reply = fault_reply(
                        Some(env.namespace),
                        env.header.id.as_deref(),
                        FaultCode::ACS_VERSION_INCOMPATIBLE,
                        &no_common.to_string(),
                    );
                    let session = Session::ended(device, env.namespace);
                    return (session, Step::reply(reply));
                }
            };
        let Body::Inform(inf) = env.body else {
            // read_inform only builds requests holding an Inform.
            return (
                Session::ended(device, env.namespace),
                Step::reply(Reply::BadRequest("not an Inform".into())),
            );
        };

        let events: Vec<Event> = inf
            .event
            .iter()
            .map(|e| Event {
                code: e.event_code.to_string(),
                command_key: e.command_key.to_string(),
            })
            .collect();
        let event_codes: Vec<String> = events.iter().map(|e| e.code.clone()).collect();
        let bootstrap = events.iter().any(|e| e.code == "0 BOOTSTRAP");
        let boot = events.iter().any(|e| e.code == "1 BOOT");

        // BOOTSTRAP: the device was reset or is new to this ACS; what was known of it is void.
        let mut known = if bootstrap {
            DeviceData::default()
        } else {
            ctx.data
        };
        // Only provisioning (presets, tasks) reads the known data. A session with neither,
        // most periodic sessions, sends the Inform's values to the store alone, sparing a
        // copy of every name and value into a map no one reads.
        let params = if ctx.provisioning.is_some() || !ctx.tasks.is_empty() {
            crate::plan::apply_values(&mut known, &inf.parameter_list, now)
        } else {
            crate::plan::value_updates(&inf.parameter_list, now)
        };
        let inform_identity = inform.identity;
        let changes = vec![Change::Inform(InformRecord {
            device: device.clone(),
            identity: inform_identity.clone(),
            at: now,
            events,
            retry_count: inf.retry_count,
            cwmp_version: negotiated.version.to_string(),
            bootstrap,
            boot,
            params,
            remote_address: ctx.remote_address,
        })];
        // A reset device forgets the credentials the ACS set.
        let cr_known = ctx.cr_credentials.is_some() && !bootstrap;
        let has_cr_url = inf
            .parameter_list
            .iter()
            .any(|p| p.name.ends_with("ManagementServer.ConnectionRequestURL"));
        let cr = match (
            &ctx.new_cr_credentials,
            config.set_connection_request_credentials,
        ) {
            (Some((username, password)), true)
                if !cr_known
                    && has_cr_url
                    && (!ctx.known_device || bootstrap || boot || ctx.loaded) =>
            {
                let root = if inf
                    .parameter_list
                    .iter()
                    .any(|p| p.name.starts_with("InternetGatewayDevice."))
                {
                    "InternetGatewayDevice."
                } else {
                    "Device."
                };
                Some(CrCredentials {
                    root,
                    username: username.clone(),
                    password: password.clone(),
                    sent: false,
                })
            }
            _ => None,
        };

        let mut header = cwmp::Header {
            id: env.header.id.clone(),
            ..cwmp::Header::default()
        };
        header.use_cwmp_version = negotiated.use_cwmp_version;
        let provisioning = {
            let setup = ctx.provisioning;
            let facts = DeviceFacts {
                id: device.clone(),
                identity: inform_identity.clone(),
                tags: setup.as_ref().map(|s| s.tags.clone()).unwrap_or_default(),
                inform: now,
                last_boot: if boot {
                    Some(now)
                } else {
                    setup.as_ref().and_then(|s| s.last_boot)
                },
                last_bootstrap: if bootstrap {
                    Some(now)
                } else {
                    setup.as_ref().and_then(|s| s.last_bootstrap)
                },
                registered: setup.as_ref().and_then(|s| s.registered).or(Some(now)),
            };
            // A bootstrapping device's stored data is void: there is nothing to load.
            let deferred = ctx.data_deferred && !bootstrap;
            let (active, due, want_data) = match &setup {
                Some(setup) => select(
                    setup,
                    &facts,
                    &known,
                    &event_codes,
                    now,
                    &config.retry,
                    deferred,
                ),
                None => Default::default(),
            };
            (!active.is_empty() || !ctx.tasks.is_empty() || want_data).then(|| {
                let options = setup
                    .as_ref()
                    .map(|s| s.options.clone())
                    .unwrap_or_default();
                let mut engine =
                    Provisioning::new(device.clone(), now, active.clone(), due.clone(), options)
                        .with_tasks(ctx.tasks);
                if deferred {
                    engine = engine.defer_data();
                }
                ProvisioningRun {
                    engine,
                    facts,
                    setup,
                    events: event_codes.clone(),
                    active,
                    due,
                    reselections: 0,
                    done: false,
                    deferred,
                    want_data,
                }
            })
        };
        let hold = config.hold_requests && (cr.is_some() || provisioning.is_some());
        if hold {
            header.hold_requests = Some(true);
        }
        let response = Envelope {
            namespace: negotiated.namespace,
            header,
            body: Body::InformResponse(cwmp::InformResponse { max_envelopes: 1 }),
        };
        let reply = match response.encode_with(&config.encode) {
            Ok(xml) => Reply::Soap(xml),
            Err(_) => {
                // Only the echoed ID can make this fail: answer without it.
                let plain = Envelope::new(
                    negotiated.namespace,
                    None,
                    cwmp::InformResponse { max_envelopes: 1 },
                );
                match plain.encode_with(&config.encode) {
                    Ok(xml) => Reply::Soap(xml),
                    Err(e) => Reply::BadRequest(e.to_string()),
                }
            }
        };
        let session = Session {
            device,
            namespace: negotiated.namespace,
            version: negotiated.version,
            state: State::AwaitingCpeRequests,
            known,
            hold,
            cr,
            transfers: ctx.transfers,
            requests_sent: 0,
            provisioning,
        };
        (
            session,
            Step {
                changes,
                reply,
                task_outcomes: Vec::new(),
                message: Some("InformResponse"),
                logs: Vec::new(),
            },
        )
    }

    fn ended(device: DeviceId, namespace: Namespace) -> Session {
        Session {
            device,
            namespace,
            version: namespace.base_version(),
            state: State::Ended,
            known: DeviceData::default(),
            hold: false,
            cr: None,
            transfers: Vec::new(),
            requests_sent: 0,
            provisioning: None,
        }
    }

    /// The device of the session.
    pub fn device(&self) -> &DeviceId {
        &self.device
    }

    /// The session's CWMP version.
    pub fn version(&self) -> CwmpVersion {
        self.version
    }

    /// The state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Whether the session is over.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// Whether the ACS has sent its 204 and only lifted `HoldRequests` with it: the session
    /// is complete unless the CPE sends the requests it held, so a connection closed now
    /// ends it successfully.
    pub fn is_released(&self) -> bool {
        matches!(self.state, State::Released)
    }

    /// Handles the next HTTP request body of the session (empty: the CPE's empty POST).
    pub fn handle(&mut self, now: Timestamp, body: &[u8], config: &EngineConfig) -> Step {
        if matches!(self.state, State::Ended) {
            return Step::reply(Reply::BadRequest(
                "the session is over; a new one starts with an Inform".into(),
            ));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return match std::mem::replace(&mut self.state, State::AwaitingCpeRequests) {
                State::AwaitingResponse(pending) => {
                    // The CPE skipped its answer: the request failed.
                    let mut step = Step::reply(Reply::NoContent);
                    let msg = format!(
                        "empty POST instead of the response to {}",
                        pending.sent.name()
                    );
                    self.fail_owner(
                        pending.owner,
                        acs_fault("protocol", msg, now, 0),
                        now,
                        config,
                        &mut step,
                    );
                    self.plan(now, config, step)
                }
                _ => self.plan(now, config, Step::reply(Reply::NoContent)),
            };
        }
        let env = match cwmp::decode_with_limits(body, config.limits) {
            Ok(env) => env,
            Err(e) => {
                if let State::AwaitingResponse(pending) =
                    std::mem::replace(&mut self.state, State::AwaitingCpeRequests)
                {
                    let mut step = Step::reply(Reply::NoContent);
                    let msg = format!("undecodable response to {}: {e}", pending.sent.name());
                    self.fail_owner(
                        pending.owner,
                        acs_fault("protocol", msg, now, 0),
                        now,
                        config,
                        &mut step,
                    );
                    return self.plan(now, config, step);
                }
                return Step::reply(decode_error_reply(&e));
            }
        };
        match std::mem::replace(&mut self.state, State::AwaitingCpeRequests) {
            State::AwaitingResponse(pending) if env.body.kind() == cwmp::MessageKind::Response => {
                self.on_response(now, pending, &env, config)
            }
            State::AwaitingResponse(pending) => {
                // A request while the CPE owes us a response: refuse it, keep waiting.
                let reply = fault_reply(
                    Some(self.namespace),
                    env.header.id.as_deref(),
                    FaultCode::ACS_REQUEST_DENIED,
                    &format!("expected the response to {}", pending.sent.name()),
                );
                self.state = State::AwaitingResponse(pending);
                Step::reply(reply)
            }
            // HoldRequests (A.3.1.3): the CPE must not send requests until it is lifted.
            // 8005 tells it to keep the request and send it later (§3.7.1.4), so nothing
            // it reports is lost.
            _ if self.hold && env.body.kind() == cwmp::MessageKind::Request => {
                Step::reply(fault_reply(
                    Some(self.namespace),
                    env.header.id.as_deref(),
                    FaultCode::ACS_RETRY_REQUEST,
                    "HoldRequests is true: send this request once the ACS has lifted it",
                ))
            }
            _ => self.on_cpe_request(now, &env, config),
        }
    }

    /// The results of the extension calls a [`Reply::Wait`] asked for (an error is the
    /// message of a failed call: timeout, exit status, HTTP error): provisioning goes on.
    pub fn on_ext(
        &mut self,
        now: Timestamp,
        results: Vec<(ExtCall, Result<Value, String>)>,
        config: &EngineConfig,
    ) -> Step {
        if let Some(p) = self.provisioning.as_mut() {
            for (call, result) in results {
                p.engine.on_ext(call, result);
            }
        }
        self.plan(now, config, Step::reply(Reply::NoContent))
    }

    /// The device's stored data a [`Reply::Load`] asked for: what the Inform carried
    /// stays (it is newer), the rest joins the known data, the presets are selected again
    /// on it and provisioning goes on.
    pub fn on_data(&mut self, now: Timestamp, data: DeviceData, config: &EngineConfig) -> Step {
        for (path, param) in data.params {
            self.known.params.entry(path).or_insert(param);
        }
        if let Some(p) = self.provisioning.as_mut() {
            p.deferred = false;
            p.want_data = false;
            p.engine.data_loaded();
            if let Some((active, due, _)) = p.select(&self.known, now, &config.retry)
                && active != p.active
            {
                p.engine.reselect(active.clone(), due.clone());
                p.active = active;
                p.due = due;
            }
        }
        self.plan(now, config, Step::reply(Reply::NoContent))
    }

    /// A request from the CPE (after the InformResponse).
    fn on_cpe_request(
        &mut self,
        now: Timestamp,
        env: &Envelope<'_>,
        config: &EngineConfig,
    ) -> Step {
        let id = env.header.id.as_deref();
        let mut changes = Vec::new();
        let body: Body<'static> = match &env.body {
            Body::TransferComplete(tc) => {
                self.transfer_done(
                    &tc.command_key,
                    &tc.fault_struct.fault_code,
                    &tc.fault_struct.fault_string,
                    now,
                    &mut changes,
                );
                Body::TransferCompleteResponse(cwmp::TransferCompleteResponse {})
            }
            Body::AutonomousTransferComplete(atc) => {
                let code = atc.fault_struct.fault_code;
                if code != FaultCode::SUCCESS {
                    changes.push(Change::DeviceFault {
                        device: self.device.clone(),
                        channel: "autonomous_transfer".into(),
                        fault: Fault {
                            code: format!("cwmp.{}", code.0),
                            message: atc.fault_struct.fault_string.to_string(),
                            detail: Some(json!({"transferURL": atc.transfer_url, "fileType": atc.file_type, "isDownload": atc.is_download})),
                            timestamp: now,
                            retries: 0,
                        },
                    });
                }
                Body::AutonomousTransferCompleteResponse(
                    cwmp::AutonomousTransferCompleteResponse {},
                )
            }
            Body::DUStateChangeComplete(d) => {
                let failed = d
                    .results
                    .iter()
                    .find(|r| r.fault.fault_code != FaultCode::SUCCESS);
                let (code, msg) = match failed {
                    Some(r) => (
                        r.fault.fault_code,
                        r.fault.fault_string.as_deref().unwrap_or("").to_owned(),
                    ),
                    None => (FaultCode::SUCCESS, String::new()),
                };
                let key = d.command_key.as_deref().unwrap_or("").to_owned();
                self.transfer_done(&key, &code, &msg, now, &mut changes);
                Body::DUStateChangeCompleteResponse(cwmp::DUStateChangeCompleteResponse {})
            }
            Body::AutonomousDUStateChangeComplete(d) => {
                if let Some(r) = d
                    .results
                    .iter()
                    .find(|r| r.fault.fault_code != FaultCode::SUCCESS)
                {
                    changes.push(Change::DeviceFault {
                        device: self.device.clone(),
                        channel: "autonomous_du_state_change".into(),
                        fault: Fault {
                            code: format!("cwmp.{}", r.fault.fault_code.0),
                            message: r.fault.fault_string.as_deref().unwrap_or("").to_owned(),
                            detail: Some(
                                json!({"uuid": r.uuid, "operation": r.operation_performed}),
                            ),
                            timestamp: now,
                            retries: 0,
                        },
                    });
                }
                Body::AutonomousDUStateChangeCompleteResponse(
                    cwmp::AutonomousDUStateChangeCompleteResponse {},
                )
            }
            Body::GetRPCMethods(_) => Body::GetRPCMethodsResponse(cwmp::GetRPCMethodsResponse {
                method_list: ACS_METHODS.iter().map(|m| Cow::Borrowed(*m)).collect(),
            }),
            Body::RequestDownload(_) => {
                Body::RequestDownloadResponse(cwmp::RequestDownloadResponse {})
            }
            Body::Kicked(k) => Body::KickedResponse(cwmp::KickedResponse {
                next_url: Cow::Owned(k.next.to_string()),
            }),
            Body::Inform(_) => {
                return Step::reply(fault_reply(
                    Some(self.namespace),
                    id,
                    FaultCode::ACS_REQUEST_DENIED,
                    "a second Inform in one session",
                ));
            }
            other => {
                let msg = match other.kind() {
                    cwmp::MessageKind::Response => {
                        format!("{} answers no request of the ACS", other.name())
                    }
                    cwmp::MessageKind::Request => {
                        format!("{} is not a method of the ACS", other.name())
                    }
                };
                let code = if other.kind() == cwmp::MessageKind::Request {
                    FaultCode::ACS_METHOD_NOT_SUPPORTED
                } else {
                    FaultCode::ACS_REQUEST_DENIED
                };
                return Step::reply(fault_reply(Some(self.namespace), id, code, &msg));
            }
        };
        let message = Some(env.body.name());
        let reply = match self.encode(id.map(str::to_owned), body, config) {
            Ok(xml) => Reply::Soap(xml),
            Err(e) => Reply::BadRequest(e.to_string()),
        };
        Step {
            changes,
            reply,
            task_outcomes: Vec::new(),
            message,
            logs: Vec::new(),
        }
    }

    /// A transfer's completion: forget it, and record its failure as a fault (in the
    /// channel of the task that started it) or clear that channel on success.
    fn transfer_done(
        &mut self,
        key: &str,
        code: &FaultCode,
        message: &str,
        now: Timestamp,
        changes: &mut Vec<Change>,
    ) {
        let task = self
            .transfers
            .iter()
            .find(|t| t.command_key == key)
            .and_then(|t| t.task);
        self.transfers.retain(|t| t.command_key != key);
        changes.push(Change::TransferCompleted {
            device: self.device.clone(),
            command_key: key.to_owned(),
        });
        let channel = task.map(task_channel).unwrap_or_else(|| "transfer".into());
        if *code == FaultCode::SUCCESS {
            changes.push(Change::ClearFault {
                device: self.device.clone(),
                channel,
            });
        } else {
            changes.push(Change::DeviceFault {
                device: self.device.clone(),
                channel,
                fault: Fault {
                    code: format!("cwmp.{}", code.0),
                    message: message.to_owned(),
                    detail: Some(json!({ "commandKey": key })),
                    timestamp: now,
                    retries: 0,
                },
            });
        }
    }

    /// The CPE's answer to an ACS request.
    fn on_response(
        &mut self,
        now: Timestamp,
        pending: Box<Pending>,
        env: &Envelope<'_>,
        config: &EngineConfig,
    ) -> Step {
        let mut step = Step::reply(Reply::NoContent);
        step.message = Some(env.body.name());
        if let Body::Fault(f) = &env.body {
            // The retries are counted by the owner (per channel, per task).
            self.fail_owner(pending.owner, cwmp_fault(f, now, 0), now, config, &mut step);
            return self.plan(now, config, step);
        }
        match pending.owner {
            Owner::Provisioning => {
                if let Some(p) = self.provisioning.as_mut() {
                    let changes =
                        p.engine
                            .on_response(&pending.sent, &env.body, &mut self.known, now);
                    self.record(changes, now, config, &mut step);
                }
            }
            Owner::CrCredentials => {
                if let (Some(cr), Body::SetParameterValuesResponse(_)) = (&self.cr, &env.body) {
                    // The username reads back; the password is hidden (TR-181), so it is kept
                    // only in the credentials record.
                    let path = format!("{}ManagementServer.ConnectionRequestUsername", cr.root);
                    let stored = StoredValue {
                        text: cr.username.clone(),
                        value_type: crate::device::ValueType::String,
                    };
                    self.known.params.insert(
                        path.clone(),
                        Param {
                            value: Some(stored.clone()),
                            ts: now,
                            ..Param::default()
                        },
                    );
                    step.changes.push(Change::Params {
                        device: self.device.clone(),
                        updates: vec![ParamUpdate {
                            path,
                            value: Some(stored),
                            ts: Some(now),
                            ..ParamUpdate::default()
                        }],
                    });
                    step.changes.push(Change::ConnectionRequestCredentials {
                        device: self.device.clone(),
                        username: cr.username.clone(),
                        password: cr.password.clone(),
                    });
                    step.changes.push(Change::ClearFault {
                        device: self.device.clone(),
                        channel: "cr_credentials".into(),
                    });
                } else {
                    let msg = format!(
                        "expected SetParameterValuesResponse, got {}",
                        env.body.name()
                    );
                    self.fail_owner(
                        Owner::CrCredentials,
                        acs_fault("protocol", msg, now, 0),
                        now,
                        config,
                        &mut step,
                    );
                }
            }
        }
        self.plan(now, config, step)
    }

    fn fail_owner(
        &mut self,
        owner: Owner,
        fault: Fault,
        now: Timestamp,
        config: &EngineConfig,
        step: &mut Step,
    ) {
        match owner {
            Owner::CrCredentials => {
                step.changes.push(Change::DeviceFault {
                    device: self.device.clone(),
                    channel: "cr_credentials".into(),
                    fault,
                });
            }
            Owner::Provisioning => {
                if let Some(p) = self.provisioning.as_mut() {
                    let changes = p.engine.on_fault(fault);
                    self.record(changes, now, config, step);
                }
            }
        }
    }

    /// Adds the engine's changes to the step; a fault in a task's channel is that task's
    /// fault (with its next attempt) and its outcome.
    fn record(&self, changes: Vec<Change>, now: Timestamp, config: &EngineConfig, step: &mut Step) {
        let engine = self.provisioning.as_ref().map(|p| &p.engine);
        for change in changes {
            let task = match &change {
                Change::DeviceFault { channel, .. } => {
                    engine.and_then(|e| e.task_of(channel)).map(|t| t.id)
                }
                _ => None,
            };
            match (task, change) {
                (Some(task), Change::DeviceFault { fault, .. }) => {
                    let retry_at = config.retry.next_attempt(now, fault.retries);
                    step.changes.push(Change::TaskFault {
                        task,
                        device: self.device.clone(),
                        fault: fault.clone(),
                        retry_at,
                    });
                    step.task_outcomes.push((task, TaskOutcome::Faulted(fault)));
                }
                (_, change) => step.changes.push(change),
            }
        }
    }

    /// The ACS's turn: the next request that closes a gap, or 204 when none is left.
    fn plan(&mut self, now: Timestamp, config: &EngineConfig, mut step: Step) -> Step {
        loop {
            if self.requests_sent >= config.max_requests {
                return self.no_more_requests(step);
            }
            // The ACS's own work first: without connection-request credentials it cannot
            // wake the device for the tasks that follow.
            if let Some(cr) = self.cr.as_mut().filter(|c| !c.sent) {
                cr.sent = true;
                let body = Body::SetParameterValues(cwmp::SetParameterValues {
                    parameter_list: vec![
                        cwmp::ParameterValueStruct::new(
                            format!("{}ManagementServer.ConnectionRequestUsername", cr.root),
                            string_value(cr.username.clone()),
                        ),
                        cwmp::ParameterValueStruct::new(
                            format!("{}ManagementServer.ConnectionRequestPassword", cr.root),
                            string_value(cr.password.clone()),
                        ),
                    ],
                    parameter_key: Cow::Borrowed(""),
                });
                if let Some(done) = self.send(now, body, Owner::CrCredentials, config, &mut step) {
                    return done;
                }
                continue;
            }
            // Then provisioning: the presets' provisions and the NBI tasks, in one engine.
            let Some(p) = self.provisioning.as_mut().filter(|p| !p.done) else {
                return self.no_more_requests(step);
            };
            if p.want_data {
                step.reply = Reply::Load;
                return step;
            }
            {
                let runner: &dyn Runner = match &p.setup {
                    Some(setup) => setup.runner.as_ref(),
                    None => &NoScripts,
                };
                let next = p.engine.next(&mut self.known, &mut p.facts, now, runner);
                for (task, result) in next.finished_tasks {
                    step.changes.push(Change::TaskDone {
                        task,
                        device: self.device.clone(),
                    });
                    step.task_outcomes.push((task, TaskOutcome::Done(result)));
                }
                step.logs.extend(next.logs);
                self.record(next.changes, now, config, &mut step);
                let Some(p) = self.provisioning.as_mut() else {
                    continue;
                };
                match next.action {
                    Action::Send(body) => {
                        if let Some(done) =
                            self.send(now, body, Owner::Provisioning, config, &mut step)
                        {
                            return done;
                        }
                    }
                    Action::Ext(calls) => {
                        step.reply = Reply::Wait(calls);
                        return step;
                    }
                    Action::Load => {
                        step.reply = Reply::Load;
                        return step;
                    }
                    Action::Done => {
                        // What provisioning changed may make other presets apply (or
                        // not): select again, a bounded number of times.
                        match p.select(&self.known, now, &config.retry) {
                            Some((_, _, true)) => p.want_data = true,
                            Some((active, due, _))
                                if active != p.active && p.reselections < MAX_RESELECTIONS =>
                            {
                                p.reselections += 1;
                                p.engine.reselect(active.clone(), due.clone());
                                p.active = active;
                                p.due = due;
                            }
                            _ => p.done = true,
                        }
                    }
                }
            }
        }
    }

    /// The 204. It ends the session, unless the messages before it held the CPE's requests:
    /// the 204 carries no header, so it lifts the hold, and the CPE may now send them.
    fn no_more_requests(&mut self, mut step: Step) -> Step {
        self.state = if std::mem::take(&mut self.hold) {
            State::Released
        } else {
            State::Ended
        };
        step.reply = Reply::NoContent;
        step
    }

    /// Encodes and sends an ACS request; `None` when it could not be encoded (the owner is
    /// faulted and planning goes on).
    fn send(
        &mut self,
        now: Timestamp,
        body: Body<'static>,
        owner: Owner,
        config: &EngineConfig,
        step: &mut Step,
    ) -> Option<Step> {
        self.requests_sent += 1;
        let id = format!("acs-{}", self.requests_sent);
        let name = body.name();
        match self.encode(Some(id.clone()), body.clone(), config) {
            Ok(xml) => {
                self.state = State::AwaitingResponse(Box::new(Pending {
                    id,
                    sent: body,
                    owner,
                }));
                let mut done = std::mem::replace(step, Step::reply(Reply::NoContent));
                done.reply = Reply::Soap(xml);
                done.message = Some(name);
                Some(done)
            }
            Err(e) => {
                // Arguments the schema refuses (a value too long for the version, ...).
                let fault = acs_fault("invalid_arguments", e.to_string(), now, 0);
                self.fail_owner(owner, fault, now, config, step);
                None
            }
        }
    }

    fn encode(
        &self,
        id: Option<String>,
        body: Body<'static>,
        config: &EngineConfig,
    ) -> Result<String, cwmp::EncodeError> {
        let mut env = Envelope::new(self.namespace, id.map(Cow::Owned), body);
        if self.hold {
            env.header.hold_requests = Some(true);
        }
        env.encode_with(&config.encode)
    }

    /// The pending request's ID, when one is awaited.
    pub fn pending_request(&self) -> Option<(&str, &'static str)> {
        match &self.state {
            State::AwaitingResponse(p) => Some((&p.id, p.sent.name())),
            _ => None,
        }
    }
}
