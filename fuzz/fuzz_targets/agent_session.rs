//! The CPE agent in conversation with an arbitrary ACS: an agent over the built-in device,
//! powered on, fed a sequence of ACS answers (any status, any body), transport failures,
//! transfer results and the passing of time, across several sessions. It never panics,
//! every message it emits decodes with `cwmp::decode` (requests as requests, answers as
//! responses or faults), a session it ends or fails is closed, and its persisted state
//! survives a JSON round trip.
//!
//! Input: one configuration byte, then steps separated by a NUL byte. A step is an
//! operation byte and its argument (the rest of the step); the operation's high nibble is
//! a number of seconds that pass before it, its low nibble says what it is:
//!
//! - `1` the ACS answers 200 with the argument as body (an empty one is the empty answer),
//!   `2` 204, `3` 401, `4` 500, `5` 503 (the argument as body too); `0` and `a`–`f` are
//!   200 as well, and an empty step is the empty answer;
//! - `6` the session fails below CWMP; a non-empty argument's first byte is a Retry-After
//!   in seconds;
//! - `7` the oldest transfer job succeeds, the argument being the file; `8` it fails, with
//!   a fault code from the argument's first two bytes (9000 + their value modulo 1000)
//!   and the rest as message;
//! - `9` an event of the device: `cr` a Connection Request, `restart` a restart of the
//!   embedder (the state persisted as JSON and read back), `local` a local change, else
//!   the argument's decimal digits are seconds that pass (timers firing on the way).
//!
//! An answer when no session is open first opens one: time runs to the agent's next timer
//! until a session is due (a Connection Request if none comes), and the Inform goes out.
//!
//! With `AGENT_SESSION_TRACE` set in the environment the target prints what happens (to
//! check what a seed does: `cargo fuzz run --sanitizer none agent_session SEED`).
//!
//! The configuration byte: bit 0 no XML declaration, bit 1 skewed `arrayType` counts,
//! bit 2 the first Inform says PERIODIC, bits 3–4 the GetRPCMethods policy, bits 5–7 the
//! CWMP versions claimed.
#![no_main]

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cpe::Time;
use cpe::agent::{
    Agent, AgentConfig, AgentQuirks, AgentState, GetRpcMethodsPolicy, Post, SessionStep,
    TransferFailure, TransferJob,
};
use cpe::tree::{Template, Tree};
use cwmp::{CwmpVersion, FaultCode, MessageKind};
use libfuzzer_sys::fuzz_target;

const T0: Time = Time(1_714_564_800_000);

/// Steps taken from one input, and timers fired to reach a session or a time.
const MAX_STEPS: usize = 64;
const MAX_TIMERS: usize = 64;

fn template() -> Arc<Template> {
    static T: OnceLock<Arc<Template>> = OnceLock::new();
    Arc::clone(T.get_or_init(|| Arc::new(Template::builtin().expect("the built-in profile loads"))))
}

fn config(byte: u8) -> AgentConfig {
    use CwmpVersion as V;
    let versions = match byte >> 5 {
        1 => vec![V::V1_0],
        2 => vec![V::V1_0, V::V1_1],
        3 => vec![V::V1_0, V::V1_1, V::V1_2],
        4 => vec![V::V1_3, V::V1_0],
        5 => Vec::new(),
        _ => AgentConfig::default().versions,
    };
    AgentConfig {
        versions,
        get_rpc_methods: match (byte >> 3) & 3 {
            1 => GetRpcMethodsPolicy::Never,
            2 => GetRpcMethodsPolicy::EverySession,
            _ => GetRpcMethodsPolicy::OnBootstrap,
        },
        quirks: AgentQuirks {
            no_xml_declaration: byte & 1 != 0,
            array_type_mismatch: byte & 2 != 0,
            first_inform_periodic: byte & 4 != 0,
            namespace: None,
        },
        ..AgentConfig::default()
    }
}

fn tracing() -> bool {
    static T: OnceLock<bool> = OnceLock::new();
    *T.get_or_init(|| std::env::var_os("AGENT_SESSION_TRACE").is_some())
}

macro_rules! trace {
    ($($arg:tt)*) => {
        if tracing() {
            eprintln!($($arg)*);
        }
    };
}

/// What the agent emitted must decode, and be of the kind it claims.
fn check(bytes: &[u8], kind: MessageKind, what: &str) {
    match cwmp::decode(bytes) {
        Ok(envelope) => {
            if tracing() {
                let detail = match &envelope.body {
                    cwmp::Body::Inform(i) => i
                        .event
                        .iter()
                        .map(|e| format!("{} {}", e.event_code, e.command_key))
                        .collect::<Vec<_>>()
                        .join(", "),
                    cwmp::Body::Fault(f) => format!("{:?}", f.code()),
                    _ => String::new(),
                };
                trace!("  cpe -> {} {detail}", envelope.body.name());
            }
            assert_eq!(
                envelope.body.kind(),
                kind,
                "the agent's {what} is a {}:\n{}",
                envelope.body.name(),
                String::from_utf8_lossy(bytes)
            )
        }
        Err(e) => panic!(
            "the agent's {what} does not decode: {e}\n{}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

struct Driver {
    agent: Agent<Tree>,
    config: AgentConfig,
    now: Time,
    jobs: VecDeque<TransferJob>,
}

impl Driver {
    /// Fires the agent's timers up to `t` (a bounded number of them).
    fn advance_to(&mut self, t: Time) {
        for _ in 0..MAX_TIMERS {
            match self.agent.poll_timeout() {
                Some(next) if next <= t && next > self.now => {
                    self.now = next;
                    self.agent.handle_timeout(next);
                }
                _ => break,
            }
        }
        self.now = self.now.max(t);
        self.agent.handle_timeout(self.now);
        self.collect_jobs();
    }

    fn collect_jobs(&mut self) {
        for _ in 0..8 {
            match self.agent.poll_transfer(self.now) {
                Some(job) => self.jobs.push_back(job),
                None => break,
            }
        }
    }

    /// Opens a session if none is open; whether one is.
    fn ensure_session(&mut self) -> bool {
        if self.agent.in_session() {
            return true;
        }
        for _ in 0..MAX_TIMERS {
            if self.agent.session_due(self.now) {
                break;
            }
            // The retry wait, the reboot, a periodic or scheduled inform...
            let next = self
                .agent
                .poll_timeout()
                .into_iter()
                .chain(self.agent.retry_at())
                .filter(|t| *t > self.now)
                .min();
            match next {
                Some(t) if t <= self.now.plus_secs(7 * 24 * 3600) => self.advance_to(t),
                _ => {
                    if !self.agent.handle_connection_request(self.now) {
                        // Off (rebooting): wait for the boot.
                        match self.agent.poll_timeout() {
                            Some(t) => self.advance_to(t.max(self.now)),
                            None => return false,
                        }
                    }
                }
            }
        }
        let Some(inform) = self.agent.poll_session(self.now) else {
            return false;
        };
        check(&inform, MessageKind::Request, "Inform");
        assert!(
            self.agent.in_session(),
            "an Inform went out: a session is open"
        );
        true
    }

    fn answer(&mut self, status: u16, body: &[u8]) {
        if !self.ensure_session() {
            return;
        }
        let step = self.agent.handle_response(status, body, self.now);
        match &step {
            SessionStep::Post(Post::Empty) => trace!("  cpe -> empty POST"),
            SessionStep::Post(_) => {}
            other => trace!("  {other:?}"),
        }
        match step {
            SessionStep::Post(post) => {
                assert!(
                    self.agent.in_session(),
                    "a POST follows: the session is open"
                );
                match post {
                    Post::Request(bytes) => check(&bytes, MessageKind::Request, "request"),
                    Post::Response(bytes) => check(&bytes, MessageKind::Response, "answer"),
                    Post::Empty => {}
                }
            }
            SessionStep::Done => {
                assert!(!self.agent.in_session(), "the session is over");
                assert_eq!(self.agent.state().retry_count(), 0, "a successful session");
            }
            SessionStep::Failed(reason) => {
                assert!(
                    !self.agent.in_session(),
                    "the failed session is over: {reason}"
                );
                assert!(
                    self.agent.state().retry_count() > 0,
                    "the failure counts: {reason}"
                );
            }
        }
        self.collect_jobs();
    }

    fn transfer_result(&mut self, fail: bool, arg: &[u8]) {
        self.collect_jobs();
        let Some(job) = self.jobs.pop_front() else {
            trace!("  no transfer job");
            return;
        };
        trace!("  job {:?}", job.kind);
        let result = if fail {
            let code = u16::from_be_bytes([
                arg.first().copied().unwrap_or(0),
                arg.get(1).copied().unwrap_or(0),
            ]);
            Err(TransferFailure {
                code: FaultCode(9000 + u32::from(code % 1000)),
                message: String::from_utf8_lossy(arg.get(2..).unwrap_or_default()).into_owned(),
            })
        } else {
            Ok(arg.to_vec())
        };
        self.agent.handle_transfer_result(job.id, result, self.now);
        self.collect_jobs();
    }

    /// The embedder restarts: the state persisted as JSON and read back, a power-on.
    fn restart(self) -> Driver {
        let (model, state) = self.agent.into_parts();
        let json = serde_json::to_string(&state).expect("the state serializes");
        let back: AgentState = serde_json::from_str(&json).expect("the state reads back");
        assert_eq!(back, state, "the state survives its JSON");
        let mut agent = Agent::new(model, self.config.clone(), back);
        agent.power_on(self.now);
        // Jobs of the previous run are forgotten (results for them would be ignored).
        Driver {
            agent,
            config: self.config,
            now: self.now,
            jobs: VecDeque::new(),
        }
    }

    /// An event of the device (`restart` is the caller's).
    fn event(&mut self, arg: &[u8]) {
        match arg {
            b"cr" => {
                self.agent.handle_connection_request(self.now);
            }
            b"local" => self.agent.handle_local_change(self.now),
            digits => {
                let secs = digits
                    .iter()
                    .filter(|b| b.is_ascii_digit())
                    .take(9)
                    .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
                self.advance_to(self.now.plus_secs(secs));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&config_byte, rest)) = data.split_first() else {
        return;
    };
    let config = config(config_byte);
    let t = template();
    let identity = t.identity(1, "SIM000000001");
    let mut agent = Agent::new(
        Tree::new(t, identity, T0),
        config.clone(),
        AgentState::default(),
    );
    agent.power_on(T0);
    let mut d = Driver {
        agent,
        config,
        now: T0,
        jobs: VecDeque::new(),
    };
    for step in rest.split(|&b| b == 0).take(MAX_STEPS) {
        let Some((&op, arg)) = step.split_first() else {
            // An empty step: the empty answer.
            d.answer(200, b"");
            continue;
        };
        trace!(
            "t+{}s op {op:#04x} {:?}",
            d.now.millis_since(T0) / 1000,
            String::from_utf8_lossy(arg.get(..arg.len().min(60)).unwrap_or_default())
        );
        let pause = u64::from(op >> 4);
        if pause > 0 {
            d.advance_to(d.now.plus_secs(pause));
        }
        match op & 15 {
            2 => d.answer(204, arg),
            3 => d.answer(401, arg),
            4 => d.answer(500, arg),
            5 => d.answer(503, arg),
            6 => {
                let retry_after = arg.first().map(|s| Duration::from_secs(u64::from(*s)));
                d.agent
                    .handle_session_failed("fuzz: transport failure", retry_after, d.now);
                assert!(!d.agent.in_session());
            }
            7 => d.transfer_result(false, arg),
            8 => d.transfer_result(true, arg),
            9 if arg == b"restart" => d = d.restart(),
            9 => d.event(arg),
            _ => d.answer(200, arg),
        }
    }
});
