//! Helpers of the agent tests: a device with the built-in profile, a scripted fake ACS that
//! decodes the agent's POSTs with `cwmp::decode` and answers with envelopes built from
//! cwmp types, and schema validation of everything the agent emitted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use cpe::DataModel;
use cpe::Time;
use cpe::agent::{Agent, AgentConfig, AgentState, Post, SessionStep, TransferJob};
use cpe::tree::{Template, Tree};
use cwmp::{Body, CwmpVersion, Envelope, Fault, FaultCode, Header, Namespace, ParameterValue};

/// A time well after the epoch.
pub const T0: Time = Time(1_700_000_000_000);

pub fn template() -> Arc<Template> {
    static T: OnceLock<Arc<Template>> = OnceLock::new();
    Arc::clone(T.get_or_init(|| Arc::new(Template::builtin().unwrap())))
}

pub fn tree(now: Time) -> Tree {
    let t = template();
    let id = t.identity(7, "SIM000000007");
    Tree::new(t, id, now)
}

/// Decodes what the agent sent; it must decode.
pub fn decode(bytes: &[u8]) -> Envelope<'static> {
    cwmp::decode(bytes)
        .unwrap_or_else(|e| {
            panic!(
                "the agent sent what cwmp cannot decode: {e}\n{}",
                String::from_utf8_lossy(bytes)
            )
        })
        .into_owned()
}

/// An envelope of the ACS.
pub fn acs_envelope(
    namespace: Namespace,
    id: &str,
    body: impl Into<Body<'static>>,
    hold: Option<bool>,
    use_cwmp_version: Option<CwmpVersion>,
) -> Vec<u8> {
    let envelope = Envelope {
        namespace,
        header: Header {
            id: Some(Cow::Owned(id.to_owned())),
            hold_requests: hold,
            use_cwmp_version,
            ..Header::default()
        },
        body: body.into(),
    };
    envelope.encode().unwrap().into_bytes()
}

/// The event codes of an Inform, with their CommandKeys.
pub fn events(inform: &Envelope<'_>) -> Vec<(String, String)> {
    let Body::Inform(i) = &inform.body else {
        panic!("not an Inform: {}", inform.body.name())
    };
    i.event
        .iter()
        .map(|e| (e.event_code.to_string(), e.command_key.to_string()))
        .collect()
}

pub fn codes(inform: &Envelope<'_>) -> Vec<String> {
    events(inform).into_iter().map(|(c, _)| c).collect()
}

pub fn retry_count(inform: &Envelope<'_>) -> u32 {
    let Body::Inform(i) = &inform.body else {
        panic!("not an Inform")
    };
    i.retry_count
}

/// A parameter of the Inform's ParameterList.
pub fn inform_param(inform: &Envelope<'_>, name: &str) -> Option<String> {
    let Body::Inform(i) = &inform.body else {
        panic!("not an Inform")
    };
    i.parameter_list
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.text().into_owned())
}

/// A scripted ACS: answers the Inform, answers the CPE's requests, and after the CPE's
/// empty POST sends its queued requests one by one, then 204.
#[derive(Debug)]
pub struct Acs {
    /// Namespace of the ACS's messages (the InformResponse's decides the version when no
    /// UseCWMPVersion is sent).
    pub namespace: Namespace,
    /// UseCWMPVersion in the InformResponse.
    pub use_cwmp_version: Option<CwmpVersion>,
    /// Replaces the InformResponse (status, body).
    pub inform_answer: Option<(u16, Vec<u8>)>,
    /// Requests to send after the empty POST.
    pub requests: VecDeque<Body<'static>>,
    /// HoldRequests=true in the InformResponse and in every request but the last.
    pub hold: bool,
    /// Answer the CPE request of this name with this fault (each used once).
    pub faults: Vec<(&'static str, FaultCode)>,
    /// Replaces the answer to the n-th POST after the Inform (0-based): status and body.
    pub replace: Vec<(usize, u16, Vec<u8>)>,
    /// Every Inform received.
    pub informs: Vec<Envelope<'static>>,
    /// Every CPE request received.
    pub cpe_requests: Vec<Envelope<'static>>,
    /// Every CPE response (or fault) to the ACS's requests.
    pub cpe_responses: Vec<Envelope<'static>>,
    /// Every POST after the Inform, in order: the message name or `empty`.
    pub posts: Vec<String>,
    pub ids: u32,
}

impl Default for Acs {
    fn default() -> Self {
        Acs {
            namespace: Namespace::Cwmp1_2,
            use_cwmp_version: Some(CwmpVersion::V1_4),
            inform_answer: None,
            requests: VecDeque::new(),
            hold: false,
            faults: Vec::new(),
            replace: Vec::new(),
            informs: Vec::new(),
            cpe_requests: Vec::new(),
            cpe_responses: Vec::new(),
            posts: Vec::new(),
            ids: 0,
        }
    }
}

impl Acs {
    pub fn with_requests(requests: impl IntoIterator<Item = Body<'static>>) -> Acs {
        Acs {
            requests: requests.into_iter().collect(),
            ..Acs::default()
        }
    }

    fn next_id(&mut self) -> String {
        self.ids += 1;
        format!("acs-{}", self.ids)
    }

    fn answer_inform(&mut self, inform: &Envelope<'_>) -> (u16, Vec<u8>) {
        if let Some(answer) = self.inform_answer.take() {
            return answer;
        }
        let id = inform.header.id.as_deref().unwrap_or("");
        (
            200,
            acs_envelope(
                self.namespace,
                id,
                cwmp::InformResponse { max_envelopes: 1 },
                self.hold.then_some(true),
                self.use_cwmp_version,
            ),
        )
    }

    fn answer_request(&mut self, request: &Envelope<'_>) -> (u16, Vec<u8>) {
        let id = request.header.id.as_deref().unwrap_or("").to_owned();
        let name = request.body.name();
        let hold = (self.hold && !self.requests.is_empty()).then_some(true);
        if let Some(i) = self.faults.iter().position(|(n, _)| *n == name) {
            let (_, code) = self.faults.remove(i);
            return (
                200,
                acs_envelope(self.namespace, &id, Fault::cwmp(code, None), hold, None),
            );
        }
        let body: Body<'static> = match &request.body {
            Body::TransferComplete(_) => cwmp::TransferCompleteResponse {}.into(),
            Body::DUStateChangeComplete(_) => cwmp::DUStateChangeCompleteResponse {}.into(),
            Body::GetRPCMethods(_) => cwmp::GetRPCMethodsResponse {
                method_list: vec![
                    "Inform".into(),
                    "TransferComplete".into(),
                    "GetRPCMethods".into(),
                ],
            }
            .into(),
            Body::AutonomousTransferComplete(_) => {
                cwmp::AutonomousTransferCompleteResponse {}.into()
            }
            other => panic!("the CPE sent an unexpected request {}", other.name()),
        };
        (200, acs_envelope(self.namespace, &id, body, hold, None))
    }

    fn next(&mut self) -> (u16, Vec<u8>) {
        match self.requests.pop_front() {
            Some(body) => {
                let id = self.next_id();
                let hold = (self.hold && !self.requests.is_empty()).then_some(true);
                (200, acs_envelope(self.namespace, &id, body, hold, None))
            }
            None => (204, Vec::new()),
        }
    }

    /// The CPE's response to the ACS's request number `i` (0-based).
    pub fn response(&self, i: usize) -> &Body<'static> {
        &self.cpe_responses[i].body
    }

    /// The fault code of the CPE's response number `i`.
    pub fn fault_code(&self, i: usize) -> Option<FaultCode> {
        match self.response(i) {
            Body::Fault(f) => f.code(),
            _ => None,
        }
    }
}

/// How a session ended.
#[derive(Debug)]
pub struct Outcome {
    pub inform: Envelope<'static>,
    pub step: SessionStep,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.step == SessionStep::Done
    }
}

/// An agent on a real tree, the test's clock, and everything the agent emitted.
#[derive(Debug)]
pub struct Harness {
    pub agent: Agent<Tree>,
    pub now: Time,
    pub emitted: Vec<Vec<u8>>,
}

impl Harness {
    /// A device fresh from the factory, powered on at T0.
    pub fn new(config: AgentConfig) -> Harness {
        Harness::resume(tree(T0), config, AgentState::default(), T0)
    }

    /// A device resuming `state`, powered on at `now`.
    pub fn resume(tree: Tree, config: AgentConfig, state: AgentState, now: Time) -> Harness {
        let mut agent = Agent::new(tree, config, state);
        agent.power_on(now);
        Harness {
            agent,
            now,
            emitted: Vec::new(),
        }
    }

    /// Lets time pass to `t`, firing every timer on the way.
    pub fn advance_to(&mut self, t: Time) {
        for _ in 0..100_000 {
            match self.agent.poll_timeout() {
                Some(next) if next <= t && next > self.now => {
                    self.now = next;
                    self.agent.handle_timeout(next);
                }
                Some(next) if next <= self.now => {
                    self.agent.handle_timeout(self.now);
                    if self.agent.poll_timeout() == Some(next) {
                        break;
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(t);
        self.agent.handle_timeout(self.now);
    }

    pub fn advance_secs(&mut self, secs: u64) {
        let t = self.now.plus_secs(secs);
        self.advance_to(t);
    }

    /// Runs one session against `acs`; panics if none is due.
    pub fn session(&mut self, acs: &mut Acs) -> Outcome {
        let inform = self.agent.poll_session(self.now).expect("a session is due");
        self.emitted.push(inform.clone());
        let inform = decode(&inform);
        acs.informs.push(inform.clone());
        let mut answer = acs.answer_inform(&inform);
        for n in 0..1000 {
            if let Some(i) = acs.replace.iter().position(|(k, _, _)| *k + 1 == n) {
                let (_, status, body) = acs.replace.remove(i);
                answer = (status, body);
            }
            let step = self.agent.handle_response(answer.0, &answer.1, self.now);
            let post = match step {
                SessionStep::Post(post) => post,
                step => return Outcome { inform, step },
            };
            answer = match post {
                Post::Request(bytes) => {
                    self.emitted.push(bytes.clone());
                    let env = decode(&bytes);
                    acs.posts.push(env.body.name().to_owned());
                    acs.cpe_requests.push(env.clone());
                    acs.answer_request(&env)
                }
                Post::Response(bytes) => {
                    self.emitted.push(bytes.clone());
                    let env = decode(&bytes);
                    acs.posts.push(env.body.name().to_owned());
                    acs.cpe_responses.push(env);
                    acs.next()
                }
                Post::Empty => {
                    acs.posts.push("empty".into());
                    acs.next()
                }
            };
        }
        panic!("the session never ends");
    }

    /// Whether a session is due now.
    pub fn due(&self) -> bool {
        self.agent.session_due(self.now)
    }

    /// The next transfer job; panics if none.
    pub fn job(&mut self) -> TransferJob {
        self.agent
            .poll_transfer(self.now)
            .expect("a transfer is due")
    }

    pub fn value(&self, path: &str) -> String {
        self.agent
            .model()
            .value(path, self.now)
            .map(|v| v.text().into_owned())
            .unwrap_or_else(|| panic!("{path} does not exist"))
    }

    pub fn set(&mut self, path: &str, value: &str) {
        assert!(self.agent.model_mut().set_value(
            path,
            ParameterValue::String(Cow::Owned(value.to_owned())),
            self.now
        ));
    }

    /// Reboots out of a session: waits the reboot duration.
    pub fn finish_reboot(&mut self) {
        assert!(self.agent.is_rebooting(), "the device is not rebooting");
        let until = self.agent.poll_timeout().unwrap();
        self.advance_to(until);
        assert!(!self.agent.is_rebooting());
    }

    /// Validates everything the agent emitted against the BBF schemas.
    pub fn validate(&self) {
        validate(&self.emitted);
    }
}

/// Validates envelopes with `shared/bbf/validate-envelope`, in one batch; fails (never
/// skips) when the script or xmllint is missing.
pub fn validate(envelopes: &[Vec<u8>]) {
    schema_check::validate(envelopes, "the agent");
}
