//! Answers the agent cannot write: fault 9002 (Internal error) when the data model gives a
//! response that cannot be encoded, and a failed session (never a panic, a loop or a stray
//! POST) when the ACS's `cwmp:ID`, which every answer echoes, cannot be written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agent_common;

use std::borrow::Cow;

use agent_common::*;
use cpe::agent::{Agent, AgentConfig, AgentState, GetRpcMethodsPolicy, Post, SessionStep};
use cpe::data_model::PendingChanges;
use cpe::tree::Tree;
use cpe::{DataModel, Time};
use cwmp::{
    Body, CwmpVersion, DeviceIdStruct, FaultCode, Namespace, ParameterValue, ParameterValueStruct,
    SoapFaultCode,
};

/// The built-in device, but its GetParameterValuesResponse values end with U+0001, a
/// character XML 1.0 cannot carry: a data model whose answer cannot be encoded. Every
/// other method is the tree's.
#[derive(Debug)]
struct Flawed {
    tree: Tree,
}

impl DataModel for Flawed {
    fn root(&self) -> &str {
        self.tree.root()
    }

    fn handle_parameter_rpc(&mut self, request: &Body<'_>, now: Time) -> Option<Body<'static>> {
        match self.tree.handle_parameter_rpc(request, now)? {
            Body::GetParameterValuesResponse(mut r) => {
                for p in &mut r.parameter_list {
                    let text = format!("{}\u{1}", p.value.text());
                    p.value = ParameterValue::String(Cow::Owned(text));
                }
                Some(Body::GetParameterValuesResponse(r))
            }
            other => Some(other),
        }
    }

    fn value(&self, path: &str, now: Time) -> Option<ParameterValue<'static>> {
        self.tree.value(path, now)
    }

    fn set_value(&mut self, path: &str, value: ParameterValue<'static>, now: Time) -> bool {
        self.tree.set_value(path, value, now)
    }

    fn add_instance(&mut self, table: &str, now: Time) -> Option<u32> {
        self.tree.add_instance(table, now)
    }

    fn delete_instance(&mut self, object: &str, now: Time) -> bool {
        self.tree.delete_instance(object, now)
    }

    fn inform_parameters(&self, now: Time) -> Vec<ParameterValueStruct<'static>> {
        self.tree.inform_parameters(now)
    }

    fn pending_changes(&self) -> PendingChanges {
        self.tree.pending_changes()
    }

    fn clear_changes(&mut self) {
        self.tree.clear_changes()
    }

    fn factory_reset(&mut self, now: Time) {
        self.tree.factory_reset(now)
    }

    fn reboot(&mut self, now: Time) {
        self.tree.reboot(now)
    }

    fn requested_diagnostics(&self) -> Vec<String> {
        self.tree.requested_diagnostics()
    }

    fn instance_numbers(&self, table: &str) -> Option<Vec<u32>> {
        self.tree.instance_numbers(table)
    }

    fn device_id(&self) -> DeviceIdStruct<'static> {
        self.tree.device_id()
    }

    fn management_value(&self, name: &str, now: Time) -> Option<ParameterValue<'static>> {
        self.tree.management_value(name, now)
    }

    fn inform_parameter_extras(
        &self,
        events: &[&str],
        now: Time,
    ) -> Vec<ParameterValueStruct<'static>> {
        self.tree.inform_parameter_extras(events, now)
    }
}

fn no_rpc_methods() -> AgentConfig {
    AgentConfig {
        get_rpc_methods: GetRpcMethodsPolicy::Never,
        ..AgentConfig::default()
    }
}

fn gpv(names: &[&str]) -> Body<'static> {
    cwmp::GetParameterValues {
        parameter_names: names.iter().map(|n| Cow::Owned((*n).to_owned())).collect(),
    }
    .into()
}

fn set_interval(seconds: u32) -> Body<'static> {
    cwmp::SetParameterValues {
        parameter_list: vec![ParameterValueStruct::new(
            "Device.ManagementServer.PeriodicInformInterval",
            ParameterValue::UnsignedInt(seconds),
        )],
        parameter_key: "k".into(),
    }
    .into()
}

/// The InformResponse answering `inform`.
fn inform_response(inform: &[u8], hold: Option<bool>) -> Vec<u8> {
    let inform = decode(inform);
    acs_envelope(
        Namespace::Cwmp1_2,
        inform.header.id.as_deref().unwrap(),
        cwmp::InformResponse { max_envelopes: 1 },
        hold,
        Some(CwmpVersion::V1_4),
    )
}

/// An ACS request whose `cwmp:ID` holds a raw U+0001: cwmp's decoder lets it through (it
/// is lenient on input), but no envelope carrying it can be written.
fn with_control_char_id(body: impl Into<Body<'static>>) -> Vec<u8> {
    let bytes = acs_envelope(Namespace::Cwmp1_2, "bad-@@-id", body, None, None);
    let text = String::from_utf8(bytes).unwrap().replace("@@", "\u{1}");
    let decoded = cwmp::decode(text.as_bytes()).expect("the decoder accepts the ID");
    assert_eq!(decoded.header.id.as_deref(), Some("bad-\u{1}-id"));
    text.into_bytes()
}

fn post(step: SessionStep) -> Post {
    match step {
        SessionStep::Post(post) => post,
        other => panic!("expected a POST, got {other:?}"),
    }
}

#[test]
fn an_answer_that_cannot_be_encoded_becomes_fault_9002() {
    let mut emitted = Vec::new();
    let flawed = Flawed { tree: tree(T0) };
    let mut agent = Agent::new(flawed, no_rpc_methods(), AgentState::default());
    agent.power_on(T0);
    let inform = agent.poll_session(T0).unwrap();
    emitted.push(inform.clone());
    let step = agent.handle_response(200, &inform_response(&inform, None), T0);
    assert_eq!(post(step), Post::Empty);

    // The tree's answer carries U+0001: the agent answers 9002 instead, echoing the ID.
    let request = acs_envelope(
        Namespace::Cwmp1_2,
        "gpv-1",
        gpv(&["Device.DeviceInfo.SoftwareVersion"]),
        None,
        None,
    );
    let Post::Response(bytes) = post(agent.handle_response(200, &request, T0)) else {
        panic!("expected a response");
    };
    emitted.push(bytes.clone());
    let answer = decode(&bytes);
    assert_eq!(answer.header.id.as_deref(), Some("gpv-1"));
    let Body::Fault(fault) = &answer.body else {
        panic!("expected a fault, got {}", answer.body.name());
    };
    assert_eq!(fault.code(), Some(FaultCode::INTERNAL_ERROR));
    assert_eq!(fault.faultcode, SoapFaultCode::Server);
    assert_eq!(fault.faultstring, "CWMP fault");
    let message = fault
        .detail
        .as_ref()
        .unwrap()
        .fault_string
        .as_deref()
        .unwrap();
    assert!(
        message.starts_with("the answer cannot be encoded"),
        "{message}"
    );
    assert!(message.contains("U+0001"), "{message}");
    assert!(!message.contains('\u{1}'), "{message}");
    assert_eq!(
        agent.stats().rpcs_by_method.get("GetParameterValues"),
        Some(&1)
    );

    // The session goes on: other methods are answered as usual, then it ends well.
    let request = acs_envelope(Namespace::Cwmp1_2, "spv-1", set_interval(120), None, None);
    let Post::Response(bytes) = post(agent.handle_response(200, &request, T0)) else {
        panic!("expected a response");
    };
    emitted.push(bytes.clone());
    assert!(matches!(
        decode(&bytes).body,
        Body::SetParameterValuesResponse(_)
    ));
    assert_eq!(agent.handle_response(204, b"", T0), SessionStep::Done);
    assert_eq!(agent.state().retry_count(), 0);
    validate(&emitted);
}

/// A Connection Request session of a bootstrapped device, up to the CPE's empty POST.
fn in_cr_session(h: &mut Harness) {
    h.agent.handle_connection_request(h.now);
    let inform = h.agent.poll_session(h.now).unwrap();
    h.emitted.push(inform.clone());
    let step = h
        .agent
        .handle_response(200, &inform_response(&inform, None), h.now);
    assert_eq!(post(step), Post::Empty);
}

#[test]
fn an_id_that_cannot_be_echoed_fails_the_session() {
    let mut h = Harness::new(no_rpc_methods());
    assert!(h.session(&mut Acs::default()).ok());
    let interval = h.value("Device.ManagementServer.PeriodicInformInterval");

    // A SetParameterValues whose ID cannot be echoed: not carried out (no answer could
    // say so), the session fails.
    in_cr_session(&mut h);
    let step = h
        .agent
        .handle_response(200, &with_control_char_id(set_interval(77)), h.now);
    let SessionStep::Failed(reason) = step else {
        panic!("expected a failed session, got {step:?}");
    };
    assert!(reason.contains("cwmp:ID"), "{reason}");
    assert!(reason.contains("U+0001"), "{reason}");
    assert!(!h.agent.in_session());
    assert_eq!(h.agent.state().retry_count(), 1);
    assert_eq!(
        h.value("Device.ManagementServer.PeriodicInformInterval"),
        interval
    );
    assert_eq!(h.agent.stats().rpcs_handled, 0);
    // The agent is not stuck in the session: answers now find none.
    assert!(matches!(
        h.agent.handle_response(204, b"", h.now),
        SessionStep::Failed(_)
    ));

    // A method the CPE does not know, whose 9000 fault would echo the ID: the same.
    in_cr_session(&mut h);
    let unknown = String::from_utf8(with_control_char_id(gpv(&["Device."])))
        .unwrap()
        .replace("GetParameterValues>", "X_ACME_Frobnicate>");
    let step = h.agent.handle_response(200, unknown.as_bytes(), h.now);
    let SessionStep::Failed(reason) = step else {
        panic!("expected a failed session, got {step:?}");
    };
    assert!(reason.contains("U+0001"), "{reason}");
    assert!(!h.agent.in_session());
    assert_eq!(h.agent.state().retry_count(), 2);

    // The next session says so (RetryCount) and works.
    h.agent.handle_connection_request(h.now);
    let mut acs = Acs::with_requests([set_interval(77)]);
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    assert_eq!(retry_count(&out.inform), 2);
    assert_eq!(
        h.value("Device.ManagementServer.PeriodicInformInterval"),
        "77"
    );
    assert_eq!(h.agent.state().retry_count(), 0);
    h.validate();
}

#[test]
fn an_id_that_cannot_be_echoed_leaves_a_retry_for_what_is_undelivered() {
    let mut h = Harness::new(no_rpc_methods());
    assert!(h.session(&mut Acs::default()).ok());
    // A configuration download: its TransferComplete is due in the next session.
    h.agent.handle_connection_request(h.now);
    let download: Body<'static> = cwmp::Download {
        command_key: "cfg-1".into(),
        file_type: "3 Vendor Configuration File".into(),
        url: "http://files.example/cfg.txt".into(),
        username: "".into(),
        password: "".into(),
        file_size: 0,
        target_file_name: "".into(),
        delay_seconds: 0,
        success_url: "".into(),
        failure_url: "".into(),
    }
    .into();
    assert!(h.session(&mut Acs::with_requests([download])).ok());
    let job = h.job();
    h.agent
        .handle_transfer_result(job.id, Ok(b"# empty\n".to_vec()), h.now);

    // The ACS holds the CPE's requests and sends one whose ID cannot be echoed.
    let inform = h.agent.poll_session(h.now).unwrap();
    h.emitted.push(inform.clone());
    assert!(codes(&decode(&inform)).contains(&"7 TRANSFER COMPLETE".to_owned()));
    let step = h
        .agent
        .handle_response(200, &inform_response(&inform, Some(true)), h.now);
    assert_eq!(post(step), Post::Empty);
    let step = h.agent.handle_response(
        200,
        &with_control_char_id(gpv(&["Device.DeviceInfo.UpTime"])),
        h.now,
    );
    assert!(matches!(step, SessionStep::Failed(_)), "{step:?}");
    assert!(!h.agent.in_session());

    // The TransferComplete was not delivered: a retry is scheduled, and it delivers it.
    let retry_at = h.agent.retry_at().expect("a retry is scheduled");
    assert!(retry_at > h.now);
    assert!(!h.due());
    h.advance_to(retry_at);
    assert!(h.due());
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    assert_eq!(retry_count(&out.inform), 1);
    assert!(codes(&out.inform).contains(&"7 TRANSFER COMPLETE".to_owned()));
    assert_eq!(acs.posts, ["TransferComplete", "empty"]);
    assert!(h.agent.state().pending_transfer_completes().is_empty());
    h.validate();
}
