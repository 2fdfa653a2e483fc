//! Agent sessions against a scripted ACS: events, periodic and scheduled informs,
//! Connection Requests, value changes, HoldRequests, version negotiation, quirks, faults,
//! retries and robustness against whatever the ACS sends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agent_common;

use std::borrow::Cow;
use std::time::Duration;

use agent_common::*;
use cpe::DataModel;
use cpe::Time;
use cpe::agent::retry::wait_bounds;
use cpe::agent::{AgentConfig, AgentQuirks, AgentState, GetRpcMethodsPolicy, Post, SessionStep};
use cwmp::{
    Body, CwmpVersion, FaultCode, Namespace, Notification, ParameterValue, ParameterValueStruct,
};
use proptest::prelude::*;

fn spv(name: &str, value: ParameterValue<'static>) -> Body<'static> {
    cwmp::SetParameterValues {
        parameter_list: vec![ParameterValueStruct::new(name.to_owned(), value)],
        parameter_key: "".into(),
    }
    .into()
}

fn has(inform: &cwmp::Envelope<'_>, code: &str, key: &str) -> bool {
    events(inform).contains(&(code.to_owned(), key.to_owned()))
}

/// Runs the first (BOOTSTRAP) session with a default ACS.
fn bootstrapped(config: AgentConfig) -> Harness {
    let mut h = Harness::new(config);
    let out = h.session(&mut Acs::default());
    assert!(out.ok(), "{:?}", out.step);
    h
}

#[test]
fn first_session_bootstraps() {
    let mut h = Harness::new(AgentConfig::default());
    assert!(h.due());
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    let inform = &out.inform;
    assert_eq!(codes(inform), ["0 BOOTSTRAP", "1 BOOT"]);
    assert_eq!(inform.namespace, Namespace::Cwmp1_2);
    assert_eq!(
        inform.header.supported_cwmp_versions.as_deref(),
        Some(&CwmpVersion::ALL[..])
    );
    assert_eq!(inform.header.session_timeout, Some(30));
    let Body::Inform(i) = &inform.body else {
        unreachable!()
    };
    assert_eq!(i.device_id.serial_number, "SIM000000007");
    assert_eq!(i.device_id.oui, "02C0DE");
    assert_eq!(i.max_envelopes, 1);
    assert_eq!(i.retry_count, 0);
    assert_eq!(i.current_time, T0.to_datetime());
    assert_eq!(
        inform_param(inform, "Device.DeviceInfo.SoftwareVersion").as_deref(),
        Some("4.2.1")
    );
    assert!(inform_param(inform, "Device.ManagementServer.ParameterKey").is_some());
    // GetRPCMethods in the BOOTSTRAP session (the default policy), then the empty POST.
    assert_eq!(acs.posts, ["GetRPCMethods", "empty"]);
    let state = h.agent.state();
    assert!(state.is_bootstrapped());
    assert!(state.undelivered_events().is_empty());
    assert!(!h.due());
    assert_eq!(h.agent.stats().sessions_ok, 1);
    // Nothing until the first periodic inform, an hour after the boot.
    assert_eq!(h.agent.poll_timeout(), Some(T0.plus_secs(3600)));
    h.validate();
}

#[test]
fn restart_with_state_boots_without_bootstrap() {
    let config = AgentConfig::default();
    let h = bootstrapped(config.clone());
    let json = serde_json::to_string(&h.agent.state()).unwrap();
    let state: AgentState = serde_json::from_str(&json).unwrap();
    assert_eq!(state, h.agent.state());
    let t1 = T0.plus_secs(100);
    let mut h = Harness::resume(tree(t1), config, state, t1);
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert!(out.ok());
    assert_eq!(codes(&out.inform), ["1 BOOT"]);
    // Not a BOOTSTRAP session: no GetRPCMethods.
    assert_eq!(acs.posts, ["empty"]);
    h.validate();
}

#[test]
fn periodic_informs_follow_interval_and_phase() {
    let mut h = bootstrapped(AgentConfig::default());
    h.advance_secs(3599);
    assert!(!h.due());
    h.advance_secs(1);
    assert!(h.due());
    let reference = T0.plus_secs(10_000 + 17);
    let mut acs = Acs::with_requests([
        spv(
            "Device.ManagementServer.PeriodicInformInterval",
            ParameterValue::UnsignedInt(60),
        ),
        spv(
            "Device.ManagementServer.PeriodicInformTime",
            ParameterValue::DateTime(reference.to_datetime()),
        ),
    ]);
    let out = h.session(&mut acs);
    assert!(out.ok());
    assert_eq!(codes(&out.inform), ["2 PERIODIC"]);
    // Now phase-aligned to PeriodicInformTime: the next multiple of 60 s from it.
    let now = h.now;
    let next = h.agent.poll_timeout().unwrap();
    assert!(next > now && next <= now.plus_secs(60));
    assert_eq!(
        (i128::from(next.0) - i128::from(reference.0)).rem_euclid(60_000),
        0
    );
    h.advance_to(next);
    let out = h.session(&mut Acs::with_requests([spv(
        "Device.ManagementServer.PeriodicInformEnable",
        ParameterValue::Boolean(false),
    )]));
    assert_eq!(codes(&out.inform), ["2 PERIODIC"]);
    // Disabled: no timer at all.
    assert_eq!(h.agent.poll_timeout(), None);
    h.advance_secs(100_000);
    assert!(!h.due());
    h.validate();
}

#[test]
fn schedule_inform_fires_after_its_delay() {
    let mut h = bootstrapped(AgentConfig::default());
    let mut acs = Acs::with_requests([cwmp::ScheduleInform {
        delay_seconds: 30,
        command_key: "si-1".into(),
    }
    .into()]);
    h.agent.handle_connection_request(h.now);
    let out = h.session(&mut acs);
    assert!(out.ok());
    assert!(matches!(acs.response(0), Body::ScheduleInformResponse(_)));
    assert_eq!(h.agent.poll_timeout(), Some(h.now.plus_secs(30)));
    h.advance_secs(29);
    assert!(!h.due());
    h.advance_secs(1);
    let out = h.session(&mut Acs::default());
    assert!(has(&out.inform, "3 SCHEDULED", ""));
    assert!(has(&out.inform, "M ScheduleInform", "si-1"));
    assert_eq!(codes(&out.inform).len(), 2);
    h.validate();
}

#[test]
fn connection_requests() {
    let mut h = bootstrapped(AgentConfig::default());
    assert!(h.agent.handle_connection_request(h.now));
    let inform = h.agent.poll_session(h.now).unwrap();
    h.emitted.push(inform.clone());
    assert_eq!(codes(&decode(&inform)), ["6 CONNECTION REQUEST"]);
    // In a session: ignored, but remembered for a session after this one.
    assert!(!h.agent.handle_connection_request(h.now));
    let ir = acs_envelope(
        Namespace::Cwmp1_2,
        "1",
        cwmp::InformResponse { max_envelopes: 1 },
        None,
        Some(CwmpVersion::V1_4),
    );
    assert_eq!(
        h.agent.handle_response(200, &ir, h.now),
        SessionStep::Post(Post::Empty)
    );
    assert_eq!(h.agent.handle_response(204, b"", h.now), SessionStep::Done);
    assert!(h.due());
    let out = h.session(&mut Acs::default());
    assert_eq!(codes(&out.inform), ["6 CONNECTION REQUEST"]);
    h.validate();
}

#[test]
fn active_changes_open_a_session_passive_ones_ride_along() {
    let mut h = bootstrapped(AgentConfig::default());
    // SoftwareVersion has forced active notification.
    h.set("Device.DeviceInfo.SoftwareVersion", "4.2.2");
    h.agent.handle_local_change(h.now);
    assert!(h.due());
    let mut acs = Acs::with_requests([cwmp::SetParameterAttributes {
        parameter_list: vec![cwmp::SetParameterAttributesStruct {
            name: "Device.ManagementServer.Username".into(),
            notification_change: true,
            notification: Notification::Passive,
            access_list_change: false,
            access_list: vec![],
        }],
    }
    .into()]);
    let out = h.session(&mut acs);
    assert_eq!(codes(&out.inform), ["4 VALUE CHANGE"]);
    assert_eq!(
        inform_param(&out.inform, "Device.DeviceInfo.SoftwareVersion").as_deref(),
        Some("4.2.2")
    );
    assert!(matches!(
        acs.response(0),
        Body::SetParameterAttributesResponse(_)
    ));
    // Passive: no session of its own.
    h.set("Device.ManagementServer.Username", "someone");
    h.agent.handle_local_change(h.now);
    assert!(!h.due());
    h.agent.handle_connection_request(h.now);
    let out = h.session(&mut Acs::default());
    assert!(has(&out.inform, "4 VALUE CHANGE", ""));
    assert!(has(&out.inform, "6 CONNECTION REQUEST", ""));
    assert_eq!(
        inform_param(&out.inform, "Device.ManagementServer.Username").as_deref(),
        Some("someone")
    );
    // Delivered: the next Inform does not repeat it.
    h.agent.handle_connection_request(h.now);
    let out = h.session(&mut Acs::default());
    assert_eq!(codes(&out.inform), ["6 CONNECTION REQUEST"]);
    assert_eq!(
        inform_param(&out.inform, "Device.ManagementServer.Username"),
        None
    );
    h.validate();
}

#[test]
fn hold_requests_defers_the_cpe_requests() {
    let config = AgentConfig {
        get_rpc_methods: GetRpcMethodsPolicy::EverySession,
        ..AgentConfig::default()
    };
    let mut h = Harness::new(config);
    let mut acs = Acs::with_requests([cwmp::GetParameterValues {
        parameter_names: vec!["Device.DeviceInfo.UpTime".into()],
    }
    .into()]);
    acs.hold = true;
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    // Held: the empty POST first, GetRPCMethods only once the ACS stops holding.
    assert_eq!(
        acs.posts,
        [
            "empty",
            "GetParameterValuesResponse",
            "GetRPCMethods",
            "empty"
        ]
    );
    h.validate();
}

#[test]
fn version_negotiation() {
    // The ACS picks 1.0: the rest of the session is written in cwmp-1-0, and 1.2 methods
    // are not supported in it.
    let mut h = Harness::new(AgentConfig::default());
    let mut acs = Acs {
        namespace: Namespace::Cwmp1_0,
        use_cwmp_version: Some(CwmpVersion::V1_0),
        ..Acs::with_requests([cwmp::GetRPCMethods {}.into()])
    };
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    assert!(
        acs.cpe_requests
            .iter()
            .all(|e| e.namespace == Namespace::Cwmp1_0)
    );
    assert_eq!(acs.cpe_responses[0].namespace, Namespace::Cwmp1_0);
    let Body::GetRPCMethodsResponse(r) = acs.response(0) else {
        panic!()
    };
    assert!(r.method_list.iter().any(|m| m == "Download"));
    assert!(
        !r.method_list
            .iter()
            .any(|m| m == "GetAllQueuedTransfers" || m == "ChangeDUState")
    );

    // A 1.2 method in a 1.0 session: 9000.
    h.agent.handle_connection_request(h.now);
    let inform = h.agent.poll_session(h.now).unwrap();
    h.emitted.push(inform);
    let ir = acs_envelope(
        Namespace::Cwmp1_0,
        "i",
        cwmp::InformResponse { max_envelopes: 1 },
        None,
        Some(CwmpVersion::V1_0),
    );
    assert_eq!(
        h.agent.handle_response(200, &ir, h.now),
        SessionStep::Post(Post::Empty)
    );
    assert_eq!(h.agent.session_version(), Some(CwmpVersion::V1_0));
    let cancel = acs_envelope(
        Namespace::Cwmp1_2,
        "c1",
        cwmp::CancelTransfer {
            command_key: "x".into(),
        },
        None,
        None,
    );
    let SessionStep::Post(Post::Response(bytes)) = h.agent.handle_response(200, &cancel, h.now)
    else {
        panic!()
    };
    h.emitted.push(bytes.clone());
    let env = decode(&bytes);
    assert_eq!(env.namespace, Namespace::Cwmp1_0);
    assert_eq!(env.header.id.as_deref(), Some("c1"));
    let Body::Fault(f) = env.body else { panic!() };
    assert_eq!(f.code(), Some(FaultCode::METHOD_NOT_SUPPORTED));
    assert_eq!(h.agent.handle_response(204, b"", h.now), SessionStep::Done);

    // The ACS picks a version the CPE did not claim: the session fails.
    let config = AgentConfig {
        versions: vec![CwmpVersion::V1_0, CwmpVersion::V1_2],
        ..AgentConfig::default()
    };
    let mut h2 = Harness::new(config);
    let mut acs = Acs {
        use_cwmp_version: Some(CwmpVersion::V1_3),
        ..Acs::default()
    };
    let out = h2.session(&mut acs);
    assert!(matches!(out.step, SessionStep::Failed(_)));
    // Claiming up to 1.2: no SupportedCWMPVersions, no SessionTimeout.
    assert_eq!(out.inform.namespace, Namespace::Cwmp1_2);
    assert_eq!(out.inform.header.supported_cwmp_versions, None);
    assert_eq!(out.inform.header.session_timeout, None);

    // Claiming up to 1.3: SessionTimeout tells a pre-1.4 ACS; without UseCWMPVersion the
    // response's namespace gives 1.3.
    let config = AgentConfig {
        versions: vec![
            CwmpVersion::V1_0,
            CwmpVersion::V1_1,
            CwmpVersion::V1_2,
            CwmpVersion::V1_3,
        ],
        ..AgentConfig::default()
    };
    let mut h3 = Harness::new(config);
    let inform = h3.agent.poll_session(T0).unwrap();
    h3.emitted.push(inform.clone());
    let inform = decode(&inform);
    assert_eq!(inform.header.session_timeout, Some(30));
    assert_eq!(inform.header.supported_cwmp_versions, None);
    let ir = acs_envelope(
        Namespace::Cwmp1_2,
        "i",
        cwmp::InformResponse { max_envelopes: 1 },
        None,
        None,
    );
    h3.agent.handle_response(200, &ir, T0);
    assert_eq!(h3.agent.session_version(), Some(CwmpVersion::V1_3));

    // No versions configured: CWMP 1.0, no version headers.
    let config = AgentConfig {
        versions: vec![],
        ..AgentConfig::default()
    };
    let mut h4 = Harness::new(config);
    let mut acs = Acs {
        namespace: Namespace::Cwmp1_0,
        use_cwmp_version: None,
        ..Acs::default()
    };
    let out = h4.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    assert_eq!(out.inform.namespace, Namespace::Cwmp1_0);
    assert_eq!(out.inform.header.supported_cwmp_versions, None);
    assert_eq!(out.inform.header.session_timeout, None);

    // The forced namespace quirk: every envelope in cwmp-1-1, whatever the ACS says.
    let config = AgentConfig {
        quirks: AgentQuirks {
            namespace: Some(Namespace::Cwmp1_1),
            ..AgentQuirks::default()
        },
        ..AgentConfig::default()
    };
    let mut h5 = Harness::new(config);
    let mut acs = Acs::with_requests([cwmp::GetRPCMethods {}.into()]);
    let out = h5.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    assert_eq!(out.inform.namespace, Namespace::Cwmp1_1);
    // cwmp-1-1 has no SupportedCWMPVersions.
    assert_eq!(out.inform.header.supported_cwmp_versions, None);
    assert!(
        acs.cpe_requests
            .iter()
            .all(|e| e.namespace == Namespace::Cwmp1_1)
    );
    assert_eq!(acs.cpe_responses[0].namespace, Namespace::Cwmp1_1);

    let mut all = h.emitted;
    all.extend(h2.emitted);
    all.extend(h3.emitted);
    all.extend(h4.emitted);
    all.extend(h5.emitted);
    validate(&all);
}

#[test]
fn quirks() {
    let config = AgentConfig {
        quirks: AgentQuirks {
            no_xml_declaration: true,
            array_type_mismatch: true,
            first_inform_periodic: true,
            namespace: None,
        },
        ..AgentConfig::default()
    };
    let mut h = Harness::new(config);
    let mut acs = Acs::with_requests([cwmp::GetParameterValues {
        parameter_names: vec!["Device.DeviceInfo.SoftwareVersion".into()],
    }
    .into()]);
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    // BOOTSTRAP announced as PERIODIC; the device still counts as bootstrapped.
    assert_eq!(codes(&out.inform), ["2 PERIODIC", "1 BOOT"]);
    assert!(h.agent.state().is_bootstrapped());
    let inform = String::from_utf8(h.emitted[0].clone()).unwrap();
    assert!(inform.starts_with("<soap-env:Envelope"), "{inform}");
    assert!(inform.contains("cwmp:EventStruct[3]"), "{inform}");
    let response = String::from_utf8(h.emitted.last().unwrap().clone()).unwrap();
    assert!(
        response.contains("cwmp:ParameterValueStruct[2]"),
        "{response}"
    );
    // Still decodable (the count is ignored) and still valid (arrayType is a string).
    let Body::GetParameterValuesResponse(r) = acs.response(0) else {
        panic!()
    };
    assert_eq!(r.parameter_list.len(), 1);
    h.validate();

    // Without the quirks: a declaration and true counts.
    let mut plain = Harness::new(AgentConfig::default());
    let inform = plain.agent.poll_session(T0).unwrap();
    plain.emitted.push(inform.clone());
    let text = String::from_utf8(inform).unwrap();
    assert!(text.starts_with("<?xml"));
    assert!(text.contains("cwmp:EventStruct[2]"));
    plain.validate();
}

#[test]
fn unsupported_methods_answer_9000() {
    let mut h = bootstrapped(AgentConfig::default());
    h.agent.handle_connection_request(h.now);
    let mut acs = Acs::with_requests([
        cwmp::GetOptions {
            option_name: "".into(),
        }
        .into(),
        cwmp::SetVouchers {
            voucher_list: vec![cwmp::Voucher(vec![1, 2, 3])],
        }
        .into(),
    ]);
    let out = h.session(&mut acs);
    assert!(out.ok());
    assert_eq!(acs.fault_code(0), Some(FaultCode::METHOD_NOT_SUPPORTED));
    assert_eq!(acs.fault_code(1), Some(FaultCode::METHOD_NOT_SUPPORTED));
    // IDs echoed.
    assert_eq!(acs.cpe_responses[0].header.id.as_deref(), Some("acs-1"));
    assert_eq!(acs.cpe_responses[1].header.id.as_deref(), Some("acs-2"));

    // A method cwmp does not know, and a header the CPE must understand but does not.
    h.agent.handle_connection_request(h.now);
    let inform = h.agent.poll_session(h.now).unwrap();
    h.emitted.push(inform);
    let ir = acs_envelope(
        Namespace::Cwmp1_2,
        "i",
        cwmp::InformResponse { max_envelopes: 1 },
        None,
        Some(CwmpVersion::V1_4),
    );
    assert_eq!(
        h.agent.handle_response(200, &ir, h.now),
        SessionStep::Post(Post::Empty)
    );
    let unknown = br#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cwmp="urn:dslforum-org:cwmp-1-2"><soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">u-1</cwmp:ID></soap-env:Header><soap-env:Body><cwmp:X_02C0DE_Frobnicate><A>1</A></cwmp:X_02C0DE_Frobnicate></soap-env:Body></soap-env:Envelope>"#;
    let SessionStep::Post(Post::Response(bytes)) = h.agent.handle_response(200, unknown, h.now)
    else {
        panic!()
    };
    h.emitted.push(bytes.clone());
    let env = decode(&bytes);
    assert_eq!(env.header.id.as_deref(), Some("u-1"));
    let Body::Fault(f) = &env.body else { panic!() };
    assert_eq!(f.code(), Some(FaultCode::METHOD_NOT_SUPPORTED));
    let must = br#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cwmp="urn:dslforum-org:cwmp-1-2" xmlns:x="urn:x"><soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">m-1</cwmp:ID><x:Thing soap-env:mustUnderstand="1">1</x:Thing></soap-env:Header><soap-env:Body><cwmp:GetRPCMethods></cwmp:GetRPCMethods></soap-env:Body></soap-env:Envelope>"#;
    let SessionStep::Post(Post::Response(bytes)) = h.agent.handle_response(200, must, h.now) else {
        panic!()
    };
    h.emitted.push(bytes.clone());
    let env = decode(&bytes);
    let Body::Fault(f) = &env.body else { panic!() };
    assert_eq!(f.faultcode, cwmp::SoapFaultCode::MustUnderstand);
    assert_eq!(h.agent.handle_response(204, b"", h.now), SessionStep::Done);
    assert_eq!(h.agent.stats().rpcs_handled, 4);
    h.validate();
}

#[test]
fn failed_sessions_are_retried_with_back_off() {
    let mut h = Harness::new(AgentConfig::default());
    let mut acs = Acs {
        inform_answer: Some((500, b"oops".to_vec())),
        ..Acs::default()
    };
    let out = h.session(&mut acs);
    assert!(matches!(out.step, SessionStep::Failed(_)));
    let state = h.agent.state();
    assert_eq!(state.retry_count(), 1);
    assert!(!state.is_bootstrapped());
    // Events retained for the retry.
    assert_eq!(
        state.undelivered_events(),
        [
            ("0 BOOTSTRAP".to_owned(), String::new()),
            ("1 BOOT".to_owned(), String::new())
        ]
    );
    let retry = h.agent.retry_at().unwrap();
    let (low, high) = wait_bounds(1, 5, 2000);
    assert!(
        retry >= h.now.plus_secs(low) && retry <= h.now.plus_secs(high),
        "{retry:?}"
    );
    assert!(!h.due());
    assert_eq!(h.agent.poll_timeout(), Some(retry));
    h.advance_to(retry);
    assert!(h.due());
    // Second failure: the ACS faults the Inform.
    let mut acs = Acs {
        inform_answer: Some((
            200,
            acs_envelope(
                Namespace::Cwmp1_2,
                "x",
                cwmp::Fault::cwmp(FaultCode::ACS_RETRY_REQUEST, None),
                None,
                None,
            ),
        )),
        ..Acs::default()
    };
    let out = h.session(&mut acs);
    assert_eq!(retry_count(&out.inform), 1);
    assert!(matches!(out.step, SessionStep::Failed(_)));
    let retry = h.agent.retry_at().unwrap();
    let (low, high) = wait_bounds(2, 5, 2000);
    assert!(retry >= h.now.plus_secs(low) && retry <= h.now.plus_secs(high));
    h.advance_to(retry);
    let out = h.session(&mut Acs::default());
    assert!(out.ok());
    assert_eq!(retry_count(&out.inform), 2);
    assert_eq!(codes(&out.inform), ["0 BOOTSTRAP", "1 BOOT"]);
    assert_eq!(h.agent.state().retry_count(), 0);
    assert_eq!(h.agent.retry_at(), None);
    h.validate();
}

#[test]
fn retry_settings_come_from_the_model() {
    let mut h = Harness::new(AgentConfig::default());
    h.set(
        "Device.ManagementServer.CWMPRetryMinimumWaitInterval",
        "100",
    );
    h.set(
        "Device.ManagementServer.CWMPRetryIntervalMultiplier",
        "1500",
    );
    for n in 1..=3 {
        let out = h.session(&mut Acs {
            inform_answer: Some((503, vec![])),
            ..Acs::default()
        });
        assert!(matches!(out.step, SessionStep::Failed(_)));
        let retry = h.agent.retry_at().unwrap();
        let (low, high) = wait_bounds(n, 100, 1500);
        let wait = (retry.0 - h.now.0) / 1000;
        assert!(
            (low..=high).contains(&wait),
            "retry {n}: {wait} not in {low}..={high}"
        );
        h.advance_to(retry);
    }
    h.validate();
}

#[test]
fn retry_after_is_honoured() {
    let mut h = Harness::new(AgentConfig::default());
    let inform = h.agent.poll_session(h.now).unwrap();
    h.emitted.push(inform);
    h.agent
        .handle_session_failed("HTTP 503", Some(Duration::from_secs(600)), h.now);
    assert!(!h.agent.in_session());
    assert_eq!(h.agent.retry_at(), Some(h.now.plus_secs(600)));
    assert_eq!(h.agent.state().retry_count(), 1);
    // A Retry-After shorter than the back-off does not shorten it.
    h.advance_secs(600);
    let inform = h.agent.poll_session(h.now).unwrap();
    assert_eq!(retry_count(&decode(&inform)), 1);
    h.emitted.push(inform);
    h.agent
        .handle_session_failed("HTTP 503", Some(Duration::from_secs(1)), h.now);
    let wait = h.agent.retry_at().unwrap().0 - h.now.0;
    assert!((10_000..=20_000).contains(&wait), "{wait}");
    h.validate();
}

#[test]
fn connection_request_events_are_not_retried() {
    let mut h = bootstrapped(AgentConfig::default());
    assert!(h.agent.handle_connection_request(h.now));
    let out = h.session(&mut Acs {
        inform_answer: Some((503, vec![])),
        ..Acs::default()
    });
    assert!(matches!(out.step, SessionStep::Failed(_)));
    // Nothing else to deliver: no retry, nothing due.
    assert!(h.agent.state().undelivered_events().is_empty());
    assert_eq!(h.agent.retry_at(), None);
    assert!(!h.due());
    // A new event opens a session at once; RetryCount still counts the failure.
    h.agent.handle_connection_request(h.now);
    let out = h.session(&mut Acs::default());
    assert_eq!(retry_count(&out.inform), 1);
    h.validate();
}

/// notes §4.4: after a failed session PERIODIC and VALUE CHANGE are kept, CONNECTION
/// REQUEST is not; across a reboot PERIODIC is kept, VALUE CHANGE is not, BOOT is new.
#[test]
fn retention_across_failures_and_reboots() {
    let config = AgentConfig::default();
    let mut h = bootstrapped(config.clone());
    h.advance_secs(3600);
    h.set("Device.DeviceInfo.SoftwareVersion", "4.2.9");
    h.agent.handle_local_change(h.now);
    assert!(h.agent.handle_connection_request(h.now));
    let out = h.session(&mut Acs {
        inform_answer: Some((503, vec![])),
        ..Acs::default()
    });
    assert_eq!(
        codes(&out.inform),
        ["2 PERIODIC", "4 VALUE CHANGE", "6 CONNECTION REQUEST"]
    );
    let kept: Vec<String> = h
        .agent
        .state()
        .undelivered_events()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(kept, ["2 PERIODIC", "4 VALUE CHANGE"]);
    // The embedder restarts (a reboot of the device).
    let json = serde_json::to_string(&h.agent.state()).unwrap();
    let t1 = h.now.plus_secs(1);
    let mut h2 = Harness::resume(tree(t1), config, serde_json::from_str(&json).unwrap(), t1);
    let out = h2.session(&mut Acs::default());
    assert!(out.ok());
    assert_eq!(codes(&out.inform), ["1 BOOT", "2 PERIODIC"]);
    assert_eq!(retry_count(&out.inform), 1);
    h.validate();
    h2.validate();
}

#[test]
fn a_new_event_ends_the_retry_wait() {
    let mut h = Harness::new(AgentConfig::default());
    let _ = h.session(&mut Acs {
        inform_answer: Some((503, vec![])),
        ..Acs::default()
    });
    assert!(h.agent.retry_at().is_some());
    assert!(!h.due());
    assert!(h.agent.handle_connection_request(h.now));
    assert!(h.due());
    let out = h.session(&mut Acs::default());
    assert!(has(&out.inform, "0 BOOTSTRAP", "") && has(&out.inform, "6 CONNECTION REQUEST", ""));
    h.validate();
}

#[test]
fn faults_to_cpe_requests() {
    let config = AgentConfig {
        get_rpc_methods: GetRpcMethodsPolicy::EverySession,
        ..AgentConfig::default()
    };
    // 8005: the request is sent again later in the session.
    let mut h = Harness::new(config.clone());
    let mut acs = Acs {
        faults: vec![("GetRPCMethods", FaultCode::ACS_RETRY_REQUEST)],
        ..Acs::default()
    };
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    assert_eq!(acs.posts, ["GetRPCMethods", "GetRPCMethods", "empty"]);
    // 8005 every time: given up after three attempts; the session still succeeds.
    h.agent.handle_connection_request(h.now);
    let mut acs = Acs {
        faults: vec![("GetRPCMethods", FaultCode::ACS_RETRY_REQUEST); 5],
        ..Acs::default()
    };
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    assert_eq!(
        acs.posts,
        ["GetRPCMethods", "GetRPCMethods", "GetRPCMethods", "empty"]
    );
    // Any other fault fails the session.
    h.agent.handle_connection_request(h.now);
    let mut acs = Acs {
        faults: vec![("GetRPCMethods", FaultCode::ACS_INTERNAL_ERROR)],
        ..Acs::default()
    };
    let out = h.session(&mut acs);
    assert!(matches!(out.step, SessionStep::Failed(_)));
    h.validate();
}

#[test]
fn protocol_violations_fail_the_session() {
    let cases: Vec<(u16, Vec<u8>)> = vec![
        (204, vec![]),
        (401, vec![]),
        (200, b"<not-xml".to_vec()),
        (
            200,
            acs_envelope(Namespace::Cwmp1_2, "x", cwmp::GetRPCMethods {}, None, None),
        ),
        (
            200,
            acs_envelope(
                Namespace::Cwmp1_2,
                "x",
                cwmp::TransferCompleteResponse {},
                None,
                None,
            ),
        ),
    ];
    for (status, body) in cases {
        let mut h = Harness::new(AgentConfig::default());
        let out = h.session(&mut Acs {
            inform_answer: Some((status, body.clone())),
            ..Acs::default()
        });
        assert!(
            matches!(out.step, SessionStep::Failed(_)),
            "{status} {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(h.agent.state().retry_count(), 1);
        h.validate();
    }
    // After the empty POST: a response where a request was due, and a second
    // InformResponse.
    for body in [
        acs_envelope(Namespace::Cwmp1_2, "y", cwmp::RebootResponse {}, None, None),
        acs_envelope(
            Namespace::Cwmp1_2,
            "y",
            cwmp::InformResponse { max_envelopes: 1 },
            None,
            None,
        ),
    ] {
        let mut h = Harness::new(AgentConfig {
            get_rpc_methods: GetRpcMethodsPolicy::Never,
            ..AgentConfig::default()
        });
        let mut acs = Acs {
            replace: vec![(0, 200, body)],
            ..Acs::default()
        };
        let out = h.session(&mut acs);
        assert!(matches!(out.step, SessionStep::Failed(_)), "{:?}", out.step);
        // The InformResponse had delivered the events: nothing is left to retry, but the
        // failure counts.
        assert!(h.agent.state().is_bootstrapped());
        assert_eq!(h.agent.state().retry_count(), 1);
        assert_eq!(h.agent.retry_at(), None);
        h.validate();
    }
}

#[test]
fn a_new_acs_url_means_bootstrap() {
    let mut h = bootstrapped(AgentConfig::default());
    h.agent.handle_connection_request(h.now);
    let out = h.session(&mut Acs::with_requests([spv(
        "Device.ManagementServer.URL",
        ParameterValue::String(Cow::Borrowed("http://acs2.example/cwmp")),
    )]));
    assert!(out.ok());
    assert!(!h.agent.state().is_bootstrapped());
    assert!(h.due());
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert_eq!(codes(&out.inform), ["0 BOOTSTRAP"]);
    assert!(h.agent.state().is_bootstrapped());
    // A BOOTSTRAP session: GetRPCMethods (default policy).
    assert_eq!(acs.posts, ["GetRPCMethods", "empty"]);
    // The same URL again: nothing.
    h.agent.handle_local_change(h.now);
    assert!(!h.due());
    h.validate();
}

#[test]
fn stats_count_rpcs_by_method() {
    let mut h = bootstrapped(AgentConfig::default());
    h.agent.handle_connection_request(h.now);
    let gpv: Body<'static> = cwmp::GetParameterValues {
        parameter_names: vec!["Device.DeviceInfo.".into()],
    }
    .into();
    let out = h.session(&mut Acs::with_requests([
        gpv.clone(),
        gpv,
        cwmp::GetRPCMethods {}.into(),
    ]));
    assert!(out.ok());
    let stats = h.agent.stats();
    assert_eq!(stats.rpcs_handled, 3);
    assert_eq!(stats.rpcs_by_method.get("GetParameterValues"), Some(&2));
    assert_eq!(stats.rpcs_by_method.get("GetRPCMethods"), Some(&1));
    assert_eq!(stats.sessions_ok, 2);
    assert_eq!(stats.informs, 2);
    h.validate();
}

/// An ACS request cut short at `len` bytes.
fn truncated(len: usize) -> Vec<u8> {
    let mut full = acs_envelope(
        Namespace::Cwmp1_2,
        "t",
        cwmp::SetParameterValues {
            parameter_list: vec![ParameterValueStruct::new(
                "Device.ManagementServer.PeriodicInformInterval",
                ParameterValue::UnsignedInt(60),
            )],
            parameter_key: "k".into(),
        },
        None,
        None,
    );
    full.truncate(len % (full.len() + 1));
    full
}

/// Envelopes the property test below made the agent emit, validated after it.
static EMITTED: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

fn emitted(bytes: &[u8]) {
    EMITTED.lock().unwrap().push(bytes.to_vec());
}

/// Whatever the ACS answers — arbitrary bytes, a truncated envelope, any status — at any
/// point of the session, the agent neither panics nor loses track: it posts, ends or fails
/// the session, and a failed session leaves a retry scheduled when something is left to
/// deliver. Everything it emitted validates.
#[test]
fn any_answer_is_handled() {
    let config = ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let strategy = (
        0usize..3,
        prop_oneof![Just(200u16), Just(204), any::<u16>()],
        prop::collection::vec(any::<u8>(), 0..300),
        any::<usize>(),
        any::<bool>(),
    );
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&strategy, |(stage, status, garbage, cut, use_truncated)| {
        let mut h = Harness::new(AgentConfig::default());
        let inform_bytes = h.agent.poll_session(h.now).unwrap();
        emitted(&inform_bytes);
        let inform = decode(&inform_bytes);
        let body = if use_truncated {
            truncated(cut)
        } else {
            garbage
        };
        if stage >= 1 {
            let ir = acs_envelope(
                Namespace::Cwmp1_2,
                inform.header.id.as_deref().unwrap_or(""),
                cwmp::InformResponse { max_envelopes: 1 },
                None,
                Some(CwmpVersion::V1_4),
            );
            let step = h.agent.handle_response(200, &ir, h.now);
            let SessionStep::Post(Post::Request(request)) = step else {
                return Err(TestCaseError::fail(format!("{step:?}")));
            };
            emitted(&request);
        }
        if stage >= 2 {
            let ok = acs_envelope(
                Namespace::Cwmp1_2,
                "r",
                cwmp::GetRPCMethodsResponse {
                    method_list: vec!["Inform".into()],
                },
                None,
                None,
            );
            let step = h.agent.handle_response(200, &ok, h.now);
            prop_assert_eq!(step, SessionStep::Post(Post::Empty));
        }
        let step = h.agent.handle_response(status, &body, h.now);
        match step {
            SessionStep::Failed(_) => {
                prop_assert!(!h.agent.in_session());
                prop_assert_eq!(h.agent.state().retry_count(), 1);
                // Before the InformResponse the events wait for a retry; after it they
                // were delivered and nothing is left to retry.
                prop_assert_eq!(h.agent.retry_at().is_some(), stage == 0);
            }
            SessionStep::Done => prop_assert!(!h.agent.in_session()),
            SessionStep::Post(Post::Response(bytes)) => {
                decode(&bytes);
                emitted(&bytes);
            }
            SessionStep::Post(_) => prop_assert!(h.agent.in_session()),
        }
        // The agent goes on: a failed session is retried later.
        h.advance_secs(10_000);
        if stage == 0 && !h.agent.in_session() {
            prop_assert!(h.agent.poll_session(h.now).is_some());
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    validate(&EMITTED.lock().unwrap());
}

#[test]
fn nothing_happens_before_power_on_or_while_off() {
    let mut agent = cpe::agent::Agent::new(tree(T0), AgentConfig::default(), AgentState::default());
    assert_eq!(agent.poll_timeout(), None);
    assert_eq!(agent.poll_session(T0), None);
    assert!(!agent.handle_connection_request(T0));
    assert_eq!(agent.poll_transfer(T0), None);
    assert!(matches!(
        agent.handle_response(200, b"", T0),
        SessionStep::Failed(_)
    ));
    agent.power_on(T0);
    assert!(agent.session_due(T0));
    assert_eq!(agent.model().root(), "Device.");
    let _ = Time(0);
}
