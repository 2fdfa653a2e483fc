//! The ACS's methods through the agent on the real tree: parameter methods, Reboot,
//! FactoryReset, GetRPCMethods, diagnostics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agent_common;

use std::borrow::Cow;
use std::time::Duration;

use agent_common::*;
use cpe::agent::AgentConfig;
use cwmp::{ApplyStatus, Body, FaultCode, ParameterValue, ParameterValueStruct};

fn bootstrapped(config: AgentConfig) -> Harness {
    let mut h = Harness::new(config);
    let out = h.session(&mut Acs::default());
    assert!(out.ok(), "{:?}", out.step);
    h
}

fn spv(params: &[(&str, ParameterValue<'static>)], key: &str) -> Body<'static> {
    cwmp::SetParameterValues {
        parameter_list: params
            .iter()
            .map(|(n, v)| ParameterValueStruct::new((*n).to_owned(), v.clone()))
            .collect(),
        parameter_key: Cow::Owned(key.to_owned()),
    }
    .into()
}

fn string(s: &str) -> ParameterValue<'static> {
    ParameterValue::String(Cow::Owned(s.to_owned()))
}

#[test]
fn parameter_methods_through_the_tree() {
    let mut h = bootstrapped(AgentConfig::default());
    h.agent.handle_connection_request(h.now);
    let mut acs = Acs::with_requests([
        cwmp::GetParameterValues {
            parameter_names: vec!["Device.DeviceInfo.SoftwareVersion".into()],
        }
        .into(),
        spv(
            &[(
                "Device.ManagementServer.PeriodicInformInterval",
                ParameterValue::UnsignedInt(600),
            )],
            "key-1",
        ),
        // One unknown parameter and one read-only: 9003 with a fault per parameter.
        spv(
            &[
                ("Device.Nope.Nothing", string("x")),
                ("Device.DeviceInfo.SoftwareVersion", string("6.6.6")),
            ],
            "key-2",
        ),
        cwmp::GetParameterNames {
            parameter_path: "Device.ManagementServer.".into(),
            next_level: true,
        }
        .into(),
        cwmp::AddObject {
            object_name: "Device.ManagementServer.InformParameter.".into(),
            parameter_key: "key-3".into(),
        }
        .into(),
        cwmp::GetParameterAttributes {
            parameter_names: vec!["Device.DeviceInfo.SoftwareVersion".into()],
        }
        .into(),
        cwmp::DeleteObject {
            object_name: "Device.ManagementServer.InformParameter.1.".into(),
            parameter_key: "key-4".into(),
        }
        .into(),
        cwmp::GetParameterValues {
            parameter_names: vec!["Device.NoSuchThing.".into()],
        }
        .into(),
    ]);
    let out = h.session(&mut acs);
    assert!(out.ok(), "{:?}", out.step);
    let Body::GetParameterValuesResponse(r) = acs.response(0) else {
        panic!("{:?}", acs.response(0))
    };
    assert_eq!(r.parameter_list[0].value.text(), "4.2.1");
    let Body::SetParameterValuesResponse(r) = acs.response(1) else {
        panic!()
    };
    assert_eq!(r.status, ApplyStatus::Applied);
    let Body::Fault(f) = acs.response(2) else {
        panic!()
    };
    let detail = f.detail.as_ref().unwrap();
    assert_eq!(detail.fault_code, FaultCode::INVALID_ARGUMENTS);
    let mut per: Vec<(String, u32)> = detail
        .set_parameter_values_faults
        .iter()
        .map(|p| (p.parameter_name.to_string(), p.fault_code.0))
        .collect();
    per.sort();
    assert_eq!(
        per,
        [
            ("Device.DeviceInfo.SoftwareVersion".to_owned(), 9008),
            ("Device.Nope.Nothing".to_owned(), 9005)
        ]
    );
    let Body::GetParameterNamesResponse(r) = acs.response(3) else {
        panic!()
    };
    assert!(
        r.parameter_list
            .iter()
            .any(|p| p.name == "Device.ManagementServer.URL")
    );
    let Body::AddObjectResponse(r) = acs.response(4) else {
        panic!()
    };
    assert_eq!(r.instance_number, 1);
    assert!(matches!(
        acs.response(5),
        Body::GetParameterAttributesResponse(_)
    ));
    assert!(matches!(acs.response(6), Body::DeleteObjectResponse(_)));
    assert_eq!(acs.fault_code(7), Some(FaultCode::INVALID_PARAMETER_NAME));
    // IDs echoed, in order.
    for (i, r) in acs.cpe_responses.iter().enumerate() {
        assert_eq!(
            r.header.id.as_deref(),
            Some(format!("acs-{}", i + 1).as_str())
        );
    }
    assert_eq!(
        h.value("Device.ManagementServer.PeriodicInformInterval"),
        "600"
    );
    // The new interval takes effect after the session; ParameterKey is the last successful
    // call's, reported in the next Inform.
    assert_eq!(h.agent.poll_timeout(), Some(h.now.plus_secs(600)));
    h.advance_secs(600);
    let out = h.session(&mut Acs::default());
    assert_eq!(codes(&out.inform), ["2 PERIODIC"]);
    assert_eq!(
        inform_param(&out.inform, "Device.ManagementServer.ParameterKey").as_deref(),
        Some("key-4")
    );
    h.validate();
}

#[test]
fn reboot_after_the_session() {
    let config = AgentConfig {
        reboot_duration: Duration::from_secs(45),
        ..AgentConfig::default()
    };
    let mut h = bootstrapped(config);
    h.advance_secs(1000);
    h.agent.handle_connection_request(h.now);
    let mut acs = Acs::with_requests([cwmp::Reboot {
        command_key: "rb-1".into(),
    }
    .into()]);
    let inform = h.agent.poll_session(h.now).unwrap();
    h.emitted.push(inform);
    // Not before the session ends (TR-069 A.3.2.9).
    let ir = acs_envelope(
        cwmp::Namespace::Cwmp1_2,
        "1",
        cwmp::InformResponse { max_envelopes: 1 },
        None,
        Some(cwmp::CwmpVersion::V1_4),
    );
    let _ = h.agent.handle_response(200, &ir, h.now);
    let reboot = acs_envelope(
        cwmp::Namespace::Cwmp1_2,
        "r",
        acs.requests.pop_front().unwrap(),
        None,
        None,
    );
    let cpe::agent::SessionStep::Post(cpe::agent::Post::Response(bytes)) =
        h.agent.handle_response(200, &reboot, h.now)
    else {
        panic!()
    };
    h.emitted.push(bytes.clone());
    assert!(matches!(decode(&bytes).body, Body::RebootResponse(_)));
    assert!(!h.agent.is_rebooting());
    assert_eq!(
        h.agent.handle_response(204, b"", h.now),
        cpe::agent::SessionStep::Done
    );
    assert!(h.agent.is_rebooting());
    // Off: Connection Requests are ignored, no session, no transfer.
    assert!(!h.agent.handle_connection_request(h.now));
    assert_eq!(h.agent.poll_session(h.now), None);
    assert_eq!(h.agent.poll_timeout(), Some(h.now.plus_secs(45)));
    h.advance_secs(44);
    assert!(h.agent.is_rebooting());
    h.advance_secs(1);
    assert!(!h.agent.is_rebooting());
    let out = h.session(&mut Acs::default());
    assert!(out.ok());
    assert_eq!(
        events(&out.inform),
        [
            ("1 BOOT".to_owned(), String::new()),
            ("M Reboot".to_owned(), "rb-1".to_owned())
        ]
    );
    // UpTime counts from the new boot.
    assert_eq!(h.value("Device.DeviceInfo.UpTime"), "0");
    assert_eq!(h.agent.stats().boots, 2);
    h.validate();
}

#[test]
fn reboot_pending_survives_a_restart() {
    let config = AgentConfig::default();
    let mut h = bootstrapped(config.clone());
    h.agent.handle_connection_request(h.now);
    let out = h.session(&mut Acs::with_requests([cwmp::Reboot {
        command_key: "rb-2".into(),
    }
    .into()]));
    assert!(out.ok());
    assert!(h.agent.is_rebooting());
    // The embedder stops while the device is off and starts again later.
    let json = serde_json::to_string(&h.agent.state()).unwrap();
    let t1 = h.now.plus_secs(1);
    let mut h2 = Harness::resume(tree(t1), config, serde_json::from_str(&json).unwrap(), t1);
    let out = h2.session(&mut Acs::default());
    assert!(!codes(&out.inform).contains(&"0 BOOTSTRAP".to_owned()));
    assert_eq!(
        events(&out.inform),
        [
            ("1 BOOT".to_owned(), String::new()),
            ("M Reboot".to_owned(), "rb-2".to_owned())
        ]
    );
    h.validate();
    h2.validate();
}

#[test]
fn factory_reset_bootstraps_with_factory_values() {
    let mut h = Harness::new(AgentConfig::default());
    let mut acs = Acs::with_requests([spv(
        &[(
            "Device.ManagementServer.PeriodicInformInterval",
            ParameterValue::UnsignedInt(900),
        )],
        "cfg-1",
    )]);
    assert!(h.session(&mut acs).ok());
    assert_eq!(
        h.value("Device.ManagementServer.PeriodicInformInterval"),
        "900"
    );
    h.agent.handle_connection_request(h.now);
    let mut acs = Acs::with_requests([cwmp::FactoryReset {}.into()]);
    assert!(h.session(&mut acs).ok());
    assert!(matches!(acs.response(0), Body::FactoryResetResponse(_)));
    assert!(h.agent.is_rebooting());
    h.finish_reboot();
    assert!(!h.agent.state().is_bootstrapped());
    assert_eq!(
        h.value("Device.ManagementServer.PeriodicInformInterval"),
        "3600"
    );
    assert_eq!(h.value("Device.ManagementServer.ParameterKey"), "");
    let mut acs = Acs::default();
    let out = h.session(&mut acs);
    assert_eq!(codes(&out.inform), ["0 BOOTSTRAP", "1 BOOT"]);
    assert_eq!(
        inform_param(&out.inform, "Device.ManagementServer.ParameterKey").as_deref(),
        Some("")
    );
    assert_eq!(acs.posts, ["GetRPCMethods", "empty"]);
    assert!(h.agent.state().is_bootstrapped());
    h.validate();
}

#[test]
fn get_rpc_methods_lists_what_the_cpe_supports() {
    let mut h = bootstrapped(AgentConfig::default());
    h.agent.handle_connection_request(h.now);
    let mut acs = Acs::with_requests([cwmp::GetRPCMethods {}.into()]);
    assert!(h.session(&mut acs).ok());
    let Body::GetRPCMethodsResponse(r) = acs.response(0) else {
        panic!()
    };
    let methods: Vec<&str> = r.method_list.iter().map(|m| &**m).collect();
    for m in [
        "GetRPCMethods",
        "SetParameterValues",
        "GetParameterValues",
        "GetParameterNames",
        "SetParameterAttributes",
        "GetParameterAttributes",
        "AddObject",
        "DeleteObject",
        "Reboot",
        "Download",
        "Upload",
        "FactoryReset",
        "ScheduleInform",
        "GetAllQueuedTransfers",
        "ScheduleDownload",
        "CancelTransfer",
        "ChangeDUState",
    ] {
        assert!(methods.contains(&m), "{m} missing");
    }
    assert!(!methods.contains(&"GetOptions") && !methods.contains(&"SetVouchers"));
    h.validate();
}

#[test]
fn diagnostics_complete_after_the_session() {
    let config = AgentConfig {
        diagnostics_duration: Duration::from_secs(5),
        ..AgentConfig::default()
    };
    let mut h = bootstrapped(config);
    h.agent.handle_connection_request(h.now);
    let state_param = "Device.IP.Diagnostics.IPPing.DiagnosticsState";
    let mut acs = Acs::with_requests([spv(
        &[
            ("Device.IP.Diagnostics.IPPing.Host", string("192.0.2.1")),
            (state_param, string("Requested")),
        ],
        "",
    )]);
    assert!(h.session(&mut acs).ok());
    assert!(matches!(
        acs.response(0),
        Body::SetParameterValuesResponse(_)
    ));
    let requested_at = h.now;
    assert_eq!(h.agent.poll_timeout(), Some(requested_at.plus_secs(5)));
    h.advance_secs(4);
    assert!(!h.due());
    h.advance_secs(1);
    assert!(h.due());
    // Whatever the diagnostics module wrote, the request is over.
    assert_ne!(h.value(state_param), "Requested");
    let out = h.session(&mut Acs::default());
    assert_eq!(codes(&out.inform), ["8 DIAGNOSTICS COMPLETE"]);
    assert_eq!(h.agent.stats().diagnostics, 1);
    // Not run again.
    h.advance_secs(60);
    assert!(!h.due());
    h.validate();
}

#[test]
fn cancelled_diagnostics_do_not_complete() {
    let mut h = bootstrapped(AgentConfig::default());
    h.agent.handle_connection_request(h.now);
    let state_param = "Device.IP.Diagnostics.IPPing.DiagnosticsState";
    assert!(
        h.session(&mut Acs::with_requests([spv(
            &[
                ("Device.IP.Diagnostics.IPPing.Host", string("192.0.2.1")),
                (state_param, string("Requested")),
            ],
            "",
        )]))
        .ok()
    );
    // The ACS changes its mind before the results are in (TR-181 DiagnosticsState).
    h.agent.handle_connection_request(h.now);
    assert!(
        h.session(&mut Acs::with_requests([spv(
            &[(state_param, string("Canceled"))],
            ""
        )]))
        .ok()
    );
    h.advance_secs(10);
    assert!(!h.due());
    h.validate();
}
