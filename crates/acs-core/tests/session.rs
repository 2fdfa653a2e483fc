//! The session engine driven by scripted CPE conversations, without I/O.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;
use std::path::PathBuf;

use acs_core::change::{Change, PendingTransfer};
use acs_core::device::{DeviceData, Param, StoredValue, ValueType};
use acs_core::session::{
    DeviceContext, EngineConfig, Reply, Session, Step, TaskOutcome, read_inform,
};
use acs_core::task::{Task, TaskId, parse_task};
use acs_core::{DeviceId, Timestamp};
use cwmp::{Body, CwmpVersion, Envelope, Namespace, ParameterValue, ParameterValueStruct};
use serde_json::json;

const T0: Timestamp = Timestamp(1_714_564_800_000);

fn device() -> DeviceId {
    DeviceId::from_identity("00D09E", "HGW-1", "SN000001")
}

fn inform(
    ns: Namespace,
    events: &[&str],
    extra_header: impl FnOnce(&mut cwmp::Header<'static>),
) -> Vec<u8> {
    let mut env = Envelope::new(
        ns,
        Some("cpe-1".into()),
        cwmp::Inform {
            device_id: cwmp::DeviceIdStruct {
                manufacturer: "ExampleCorp".into(),
                oui: "00D09E".into(),
                product_class: "HGW-1".into(),
                serial_number: "SN000001".into(),
            },
            event: events
                .iter()
                .map(|e| cwmp::EventStruct::new(e.to_string()))
                .collect(),
            max_envelopes: 1,
            current_time: cwmp::DateTime::UNKNOWN,
            retry_count: 0,
            parameter_list: vec![
                ParameterValueStruct::new(
                    "Device.DeviceInfo.SoftwareVersion",
                    ParameterValue::String("3.0.21".into()),
                ),
                ParameterValueStruct::new(
                    "Device.ManagementServer.ConnectionRequestURL",
                    ParameterValue::String("http://192.0.2.10:7547/cr".into()),
                ),
            ],
        },
    );
    extra_header(&mut env.header);
    env.encode().unwrap().into_bytes()
}

/// A CPE message answering (or sent within) the session, in the 1-0 namespace.
fn cpe(id: &str, body: impl Into<Body<'static>>) -> Vec<u8> {
    Envelope::new(Namespace::Cwmp1_0, Some(Cow::Owned(id.to_owned())), body)
        .encode()
        .unwrap()
        .into_bytes()
}

fn task(id: TaskId, json: serde_json::Value) -> Task {
    let new = parse_task(device(), &json, T0.plus_millis(-1000)).unwrap();
    Task {
        id,
        device: new.device,
        created: new.created,
        expiry: new.expiry,
        kind: new.kind,
        progress: None,
        retries: 0,
        not_before: None,
    }
}

/// Collects every envelope the ACS sends, to validate them against the BBF schemas.
#[derive(Default)]
struct Sent(Vec<String>);

impl Sent {
    fn take(&mut self, step: &Step) -> Option<Envelope<'static>> {
        match &step.reply {
            Reply::Soap(xml) => {
                self.0.push(xml.clone());
                Some(cwmp::decode(xml.as_bytes()).unwrap().into_owned())
            }
            _ => None,
        }
    }
}

impl Drop for Sent {
    fn drop(&mut self) {
        if self.0.is_empty() || std::thread::panicking() {
            return;
        }
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bbf/validate-envelope");
        assert!(
            script.exists(),
            "{} is needed (tests read ../shared)",
            script.display()
        );
        let dir = std::env::temp_dir().join(format!(
            "acs-core-sent-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let files: Vec<PathBuf> = self
            .0
            .iter()
            .enumerate()
            .map(|(i, xml)| {
                let f = dir.join(format!("{i}.xml"));
                std::fs::write(&f, xml).unwrap();
                f
            })
            .collect();
        let out = std::process::Command::new(&script)
            .args(&files)
            .output()
            .expect("run validate-envelope (needs xmllint)");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "an envelope the ACS sent does not validate:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn start(ctx: DeviceContext, body: &[u8]) -> (Session, Step) {
    let config = EngineConfig::default();
    let request = read_inform(body, &config).unwrap();
    assert_eq!(request.device, device());
    Session::start(T0, request, ctx, &config)
}

fn known_ctx() -> DeviceContext {
    DeviceContext {
        known_device: true,
        cr_credentials: Some(("u".into(), "p".into())),
        loaded: true,
        ..DeviceContext::default()
    }
}

fn request_id(env: &Envelope<'_>) -> String {
    env.header.id.as_deref().unwrap().to_owned()
}

#[test]
fn first_contact_registers_and_sets_connection_request_credentials() {
    let mut sent = Sent::default();
    let ctx = DeviceContext {
        new_cr_credentials: Some(("acs-user".into(), "s3cret".into())),
        ..DeviceContext::default()
    };
    let (mut s, step) = start(
        ctx,
        &inform(Namespace::Cwmp1_0, &["0 BOOTSTRAP", "1 BOOT"], |_| {}),
    );
    let reply = sent.take(&step).unwrap();
    assert!(matches!(reply.body, Body::InformResponse(_)));
    assert_eq!(reply.header.id.as_deref(), Some("cpe-1"));
    assert_eq!(reply.namespace, Namespace::Cwmp1_0);
    let Change::Inform(rec) = &step.changes[0] else {
        panic!()
    };
    assert!(rec.bootstrap && rec.boot);
    assert_eq!(rec.cwmp_version, "1.0");
    assert_eq!(rec.params.len(), 2);

    let step = s.handle(T0, b"", &EngineConfig::default());
    let req = sent.take(&step).unwrap();
    let Body::SetParameterValues(spv) = &req.body else {
        panic!("{:?}", req.body)
    };
    assert_eq!(
        spv.parameter_list[0].name,
        "Device.ManagementServer.ConnectionRequestUsername"
    );
    assert_eq!(
        spv.parameter_list[1].value,
        ParameterValue::String("s3cret".into())
    );

    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::SetParameterValuesResponse {
                status: cwmp::ApplyStatus::Applied,
            },
        ),
        &EngineConfig::default(),
    );
    assert_eq!(step.reply, Reply::NoContent);
    assert!(s.is_ended());
    assert!(step.changes.iter().any(|c| matches!(c, Change::ConnectionRequestCredentials { username, .. } if username == "acs-user")));
}

#[test]
fn periodic_inform_without_work_is_two_exchanges() {
    let mut sent = Sent::default();
    let (mut s, step) = start(
        known_ctx(),
        &inform(Namespace::Cwmp1_2, &["2 PERIODIC"], |_| {}),
    );
    assert!(sent.take(&step).is_some());
    let step = s.handle(T0, b"", &EngineConfig::default());
    assert_eq!(step.reply, Reply::NoContent);
    assert!(step.changes.is_empty());
    assert!(s.is_ended());
}

#[test]
fn version_negotiation() {
    let mut sent = Sent::default();
    let (_, step) = start(
        known_ctx(),
        &inform(Namespace::Cwmp1_2, &["2 PERIODIC"], |h| {
            h.supported_cwmp_versions = Some(CwmpVersion::ALL.to_vec());
        }),
    );
    let reply = sent.take(&step).unwrap();
    assert_eq!(reply.header.use_cwmp_version, Some(CwmpVersion::V1_4));

    let config = EngineConfig {
        acs_versions: vec![CwmpVersion::V1_2],
        ..EngineConfig::default()
    };
    let body = inform(Namespace::Cwmp1_2, &["2 PERIODIC"], |h| {
        h.supported_cwmp_versions = Some(vec![CwmpVersion::V1_4])
    });
    let req = read_inform(&body, &config).unwrap();
    let (s, step) = Session::start(T0, req, known_ctx(), &config);
    let reply = sent.take(&step).unwrap();
    let Body::Fault(f) = reply.body else { panic!() };
    assert_eq!(f.code(), Some(cwmp::FaultCode::ACS_VERSION_INCOMPATIBLE));
    assert!(s.is_ended());
    assert!(
        step.changes.is_empty(),
        "nothing is recorded of a session that did not start"
    );
}

#[test]
fn a_value_read_in_the_inform_satisfies_a_task_without_rpc() {
    let mut sent = Sent::default();
    let mut ctx = known_ctx();
    ctx.tasks = vec![task(
        7,
        json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.SoftwareVersion"]}),
    )];
    let (mut s, step) = start(
        ctx,
        &inform(Namespace::Cwmp1_0, &["6 CONNECTION REQUEST"], |_| {}),
    );
    sent.take(&step);
    let step = s.handle(T0, b"", &EngineConfig::default());
    assert_eq!(step.reply, Reply::NoContent);
    assert!(
        step.changes
            .iter()
            .any(|c| matches!(c, Change::TaskDone { task: 7, .. }))
    );
    let (_, TaskOutcome::Done(result)) = &step.task_outcomes[0] else {
        panic!()
    };
    assert_eq!(
        result["Device.DeviceInfo.SoftwareVersion"],
        json!(["3.0.21", "xsd:string"])
    );
}

#[test]
fn get_and_set_values() {
    let mut sent = Sent::default();
    let mut ctx = known_ctx();
    ctx.tasks = vec![
        task(
            1,
            json!({"name": "getParameterValues", "parameterNames": ["Device.ManagementServer.PeriodicInformInterval"]}),
        ),
        task(
            2,
            json!({"name": "setParameterValues", "parameterValues": [["Device.ManagementServer.PeriodicInformInterval", 300]]}),
        ),
    ];
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}));
    sent.take(&step);
    let config = EngineConfig::default();
    let req = sent.take(&s.handle(T0, b"", &config)).unwrap();
    assert!(matches!(req.body, Body::GetParameterValues(_)));
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::GetParameterValuesResponse {
                parameter_list: vec![ParameterValueStruct::new(
                    "Device.ManagementServer.PeriodicInformInterval",
                    ParameterValue::UnsignedInt(3600),
                )],
            },
        ),
        &config,
    );
    // The GPV finished task 1 and, since the type is now known, task 2 goes straight to SPV.
    assert!(
        step.changes
            .iter()
            .any(|c| matches!(c, Change::TaskDone { task: 1, .. }))
    );
    let req = sent.take(&step).unwrap();
    let Body::SetParameterValues(spv) = &req.body else {
        panic!("{:?}", req.body)
    };
    assert_eq!(
        spv.parameter_list[0].value,
        ParameterValue::UnsignedInt(300)
    );
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::SetParameterValuesResponse {
                status: cwmp::ApplyStatus::Applied,
            },
        ),
        &config,
    );
    assert_eq!(step.reply, Reply::NoContent);
    assert!(
        step.changes
            .iter()
            .any(|c| matches!(c, Change::TaskDone { task: 2, .. }))
    );
}

#[test]
fn an_unknown_type_is_probed_before_setting() {
    let mut sent = Sent::default();
    let mut ctx = known_ctx();
    ctx.tasks = vec![task(
        3,
        json!({"name": "setParameterValues", "parameterValues": [["Device.WiFi.SSID.1.Enable", "1"]]}),
    )];
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}));
    sent.take(&step);
    let config = EngineConfig::default();
    let probe = sent.take(&s.handle(T0, b"", &config)).unwrap();
    assert!(matches!(probe.body, Body::GetParameterValues(_)));
    let req = sent
        .take(&s.handle(
            T0,
            &cpe(
                &request_id(&probe),
                cwmp::GetParameterValuesResponse {
                    parameter_list: vec![ParameterValueStruct::new(
                        "Device.WiFi.SSID.1.Enable",
                        ParameterValue::Boolean(false),
                    )],
                },
            ),
            &config,
        ))
        .unwrap();
    let Body::SetParameterValues(spv) = &req.body else {
        panic!()
    };
    assert_eq!(
        spv.parameter_list[0].value,
        ParameterValue::Boolean(true),
        "typed as the device reported it"
    );
}

#[test]
fn a_cpe_fault_becomes_a_task_fault_with_back_off() {
    let mut sent = Sent::default();
    let mut ctx = known_ctx();
    ctx.tasks = vec![
        task(
            4,
            json!({"name": "setParameterValues", "parameterValues": [["Device.X", "v", "xsd:string"]]}),
        ),
        task(5, json!({"name": "reboot"})),
    ];
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}));
    sent.take(&step);
    let config = EngineConfig::default();
    let req = sent.take(&s.handle(T0, b"", &config)).unwrap();
    let mut fault = cwmp::Fault::cwmp(cwmp::FaultCode::INVALID_ARGUMENTS, None);
    if let Some(d) = fault.detail.as_mut() {
        d.set_parameter_values_faults
            .push(cwmp::SetParameterValuesFault {
                parameter_name: "Device.X".into(),
                fault_code: cwmp::FaultCode::INVALID_PARAMETER_NAME,
                fault_string: Some("no such parameter".into()),
            });
    }
    let step = s.handle(T0, &cpe(&request_id(&req), fault), &config);
    let Some(Change::TaskFault {
        task: 4,
        fault,
        retry_at,
        ..
    }) = step
        .changes
        .iter()
        .find(|c| matches!(c, Change::TaskFault { .. }))
    else {
        panic!("{:?}", step.changes)
    };
    assert_eq!(fault.code, "cwmp.9003");
    assert_eq!(fault.detail.as_ref().unwrap()[0]["faultCode"], 9005);
    assert_eq!(*retry_at, config.retry.next_attempt(T0, 0));
    // The session goes on with the next task.
    let req = sent.take(&step).unwrap();
    assert!(matches!(req.body, Body::Reboot(ref r) if r.command_key == "task_5"));
}

#[test]
fn add_object_then_refresh_then_set_values() {
    let mut sent = Sent::default();
    let mut ctx = known_ctx();
    ctx.tasks = vec![task(
        6,
        json!({"name": "addObject", "objectName": "Device.NAT.PortMapping.", "parameterValues": [["Enable", true]]}),
    )];
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}));
    sent.take(&step);
    let config = EngineConfig::default();
    let req = sent.take(&s.handle(T0, b"", &config)).unwrap();
    assert!(matches!(req.body, Body::AddObject(_)));
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::AddObjectResponse {
                instance_number: 3,
                status: cwmp::ApplyStatus::Applied,
            },
        ),
        &config,
    );
    assert!(step.changes.iter().any(
        |c| matches!(c, Change::TaskProgress { task: 6, progress } if progress["instance"] == 3)
    ));
    let req = sent.take(&step).unwrap();
    assert!(
        matches!(&req.body, Body::GetParameterNames(g) if g.parameter_path == "Device.NAT.PortMapping.3.")
    );
    let req = sent
        .take(&s.handle(
            T0,
            &cpe(
                &request_id(&req),
                cwmp::GetParameterNamesResponse {
                    parameter_list: vec![
                        cwmp::ParameterInfoStruct {
                            name: "Device.NAT.PortMapping.3.".into(),
                            writable: true,
                        },
                        cwmp::ParameterInfoStruct {
                            name: "Device.NAT.PortMapping.3.Enable".into(),
                            writable: true,
                        },
                    ],
                },
            ),
            &config,
        ))
        .unwrap();
    assert!(matches!(req.body, Body::GetParameterValues(_)));
    let req = sent
        .take(&s.handle(
            T0,
            &cpe(
                &request_id(&req),
                cwmp::GetParameterValuesResponse {
                    parameter_list: vec![ParameterValueStruct::new(
                        "Device.NAT.PortMapping.3.Enable",
                        ParameterValue::Boolean(false),
                    )],
                },
            ),
            &config,
        ))
        .unwrap();
    let Body::SetParameterValues(spv) = &req.body else {
        panic!()
    };
    assert_eq!(
        spv.parameter_list[0].name,
        "Device.NAT.PortMapping.3.Enable"
    );
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::SetParameterValuesResponse {
                status: cwmp::ApplyStatus::Applied,
            },
        ),
        &config,
    );
    let (_, TaskOutcome::Done(result)) = &step.task_outcomes[0] else {
        panic!()
    };
    assert_eq!(result["instanceNumber"], 3);
}

#[test]
fn an_interrupted_add_object_resumes_at_its_instance() {
    let mut sent = Sent::default();
    let mut t = task(
        8,
        json!({"name": "addObject", "objectName": "Device.NAT.PortMapping."}),
    );
    t.progress = Some(json!({"instance": 4}));
    let mut ctx = known_ctx();
    ctx.tasks = vec![t];
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}));
    sent.take(&step);
    let req = sent
        .take(&s.handle(T0, b"", &EngineConfig::default()))
        .unwrap();
    assert!(
        matches!(&req.body, Body::GetParameterNames(g) if g.parameter_path == "Device.NAT.PortMapping.4."),
        "no second AddObject"
    );
}

#[test]
fn refresh_object_learns_names_values_and_forgets_what_vanished() {
    let mut sent = Sent::default();
    let mut ctx = known_ctx();
    let mut data = DeviceData::default();
    data.params.insert(
        "Device.Hosts.Host.9.".into(),
        Param {
            object: true,
            ..Param::default()
        },
    );
    data.params.insert(
        "Device.Hosts.Host.9.HostName".into(),
        Param {
            value: Some(StoredValue {
                text: "old".into(),
                value_type: ValueType::String,
            }),
            ..Param::default()
        },
    );
    ctx.data = data;
    ctx.tasks = vec![task(
        9,
        json!({"name": "refreshObject", "objectName": "Device.Hosts."}),
    )];
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}));
    sent.take(&step);
    let config = EngineConfig::default();
    let req = sent.take(&s.handle(T0, b"", &config)).unwrap();
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::GetParameterNamesResponse {
                parameter_list: vec![
                    cwmp::ParameterInfoStruct {
                        name: "Device.Hosts.".into(),
                        writable: false,
                    },
                    cwmp::ParameterInfoStruct {
                        name: "Device.Hosts.Host.".into(),
                        writable: false,
                    },
                    cwmp::ParameterInfoStruct {
                        name: "Device.Hosts.Host.1.".into(),
                        writable: false,
                    },
                    cwmp::ParameterInfoStruct {
                        name: "Device.Hosts.Host.1.HostName".into(),
                        writable: false,
                    },
                    cwmp::ParameterInfoStruct {
                        name: "Device.Hosts.HostNumberOfEntries".into(),
                        writable: false,
                    },
                ],
            },
        ),
        &config,
    );
    let Some(Change::DeleteParams { paths, .. }) = step
        .changes
        .iter()
        .find(|c| matches!(c, Change::DeleteParams { .. }))
    else {
        panic!()
    };
    assert!(paths.contains(&"Device.Hosts.Host.9.".to_owned()));
    let req = sent.take(&step).unwrap();
    assert!(
        matches!(&req.body, Body::GetParameterValues(g) if g.parameter_names == ["Device.Hosts."])
    );
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::GetParameterValuesResponse {
                parameter_list: vec![
                    ParameterValueStruct::new(
                        "Device.Hosts.Host.1.HostName",
                        ParameterValue::String("laptop".into()),
                    ),
                    ParameterValueStruct::new(
                        "Device.Hosts.HostNumberOfEntries",
                        ParameterValue::UnsignedInt(1),
                    ),
                ],
            },
        ),
        &config,
    );
    assert!(
        step.changes
            .iter()
            .any(|c| matches!(c, Change::TaskDone { task: 9, .. }))
    );
    assert_eq!(step.reply, Reply::NoContent);
}

#[test]
fn every_command_task_sends_its_rpc() {
    let mut sent = Sent::default();
    let tasks = [
        (
            json!({"name": "download", "fileType": "1 Firmware Upgrade Image", "url": "http://files/fw.bin"}),
            "Download",
        ),
        (
            json!({"name": "upload", "fileType": "1 Vendor Configuration File", "url": "http://files/up"}),
            "Upload",
        ),
        (
            json!({"name": "scheduleInform", "delaySeconds": 60}),
            "ScheduleInform",
        ),
        (json!({"name": "getQueuedTransfers"}), "GetQueuedTransfers"),
        (json!({"name": "getRPCMethods"}), "GetRPCMethods"),
        (
            json!({"name": "getParameterAttributes", "parameterNames": ["Device.DeviceInfo.UpTime"]}),
            "GetParameterAttributes",
        ),
        (
            json!({"name": "setParameterAttributes", "parameterAttributes": [{"name": "Device.DeviceInfo.UpTime", "notification": 1}]}),
            "SetParameterAttributes",
        ),
        (
            json!({"name": "deleteObject", "objectName": "Device.NAT.PortMapping.3."}),
            "DeleteObject",
        ),
        // A reset, then a reboot, go last: the device may drop the session at once.
        (json!({"name": "factoryReset"}), "FactoryReset"),
        (json!({"name": "reboot"}), "Reboot"),
    ];
    let mut ctx = known_ctx();
    ctx.tasks = tasks
        .iter()
        .enumerate()
        .map(|(i, (j, _))| task(100 + i as i64, j.clone()))
        .collect();
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}));
    sent.take(&step);
    let config = EngineConfig::default();
    let mut step = s.handle(T0, b"", &config);
    for (_, expected) in &tasks {
        let req = sent
            .take(&step)
            .unwrap_or_else(|| panic!("expected {expected}"));
        assert_eq!(req.body.name(), *expected);
        let id = request_id(&req);
        let req_body = req.body.clone();
        let response: Body<'static> = match req.body {
            Body::Reboot(_) => cwmp::RebootResponse {}.into(),
            Body::FactoryReset(_) => cwmp::FactoryResetResponse {}.into(),
            Body::Download(_) => cwmp::DownloadResponse {
                status: cwmp::TransferStatus::Pending,
                start_time: cwmp::DateTime::UNKNOWN,
                complete_time: cwmp::DateTime::UNKNOWN,
            }
            .into(),
            Body::Upload(_) => cwmp::UploadResponse {
                status: cwmp::TransferStatus::Completed,
                start_time: cwmp::DateTime::UNKNOWN,
                complete_time: cwmp::DateTime::UNKNOWN,
            }
            .into(),
            Body::ScheduleInform(_) => cwmp::ScheduleInformResponse {}.into(),
            Body::GetQueuedTransfers(_) => cwmp::GetQueuedTransfersResponse {
                transfer_list: vec![],
            }
            .into(),
            Body::GetRPCMethods(_) => cwmp::GetRPCMethodsResponse {
                method_list: vec!["GetRPCMethods".into()],
            }
            .into(),
            Body::GetParameterAttributes(_) => cwmp::GetParameterAttributesResponse {
                parameter_list: vec![cwmp::ParameterAttributeStruct {
                    name: "Device.DeviceInfo.UpTime".into(),
                    notification: cwmp::Notification::Off,
                    access_list: vec![],
                }],
            }
            .into(),
            Body::SetParameterAttributes(_) => cwmp::SetParameterAttributesResponse {}.into(),
            Body::DeleteObject(_) => cwmp::DeleteObjectResponse {
                status: cwmp::ApplyStatus::Applied,
            }
            .into(),
            other => panic!("{other:?}"),
        };
        step = s.handle(T0, &cpe(&id, response), &config);
        if *expected == "Download" {
            assert!(step.changes.iter().any(|c| matches!(c, Change::TransferStarted { transfer, .. } if transfer.command_key == "task_100")));
        }
        if *expected == "Reboot" {
            let Body::Reboot(r) = &req_body else { panic!() };
            assert_eq!(
                r.command_key, "task_109",
                "a task's reboot carries its command key"
            );
        }
        if *expected == "GetRPCMethods" {
            assert!(
                step.task_outcomes.iter().any(
                    |(_, o)| matches!(o, TaskOutcome::Done(v) if v == &json!(["GetRPCMethods"]))
                )
            );
        }
    }
    assert_eq!(step.reply, Reply::NoContent);
}

#[test]
fn transfer_complete_is_recorded_and_faults_go_to_the_task_channel() {
    let mut sent = Sent::default();
    let mut ctx = known_ctx();
    ctx.transfers = vec![PendingTransfer {
        command_key: "task_12".into(),
        task: Some(12),
        detail: json!({}),
        started: T0,
    }];
    let (mut s, step) = start(
        ctx,
        &inform(
            Namespace::Cwmp1_0,
            &["7 TRANSFER COMPLETE", "M Download"],
            |_| {},
        ),
    );
    sent.take(&step);
    let config = EngineConfig::default();
    let step = s.handle(
        T0,
        &cpe(
            "tc-1",
            cwmp::TransferComplete {
                command_key: "task_12".into(),
                fault_struct: cwmp::TransferCompleteFaultStruct {
                    fault_code: cwmp::FaultCode(9010),
                    fault_string: "checksum".into(),
                },
                start_time: cwmp::DateTime::UNKNOWN,
                complete_time: cwmp::DateTime::UNKNOWN,
            },
        ),
        &config,
    );
    let reply = sent.take(&step).unwrap();
    assert!(matches!(reply.body, Body::TransferCompleteResponse(_)));
    assert_eq!(reply.header.id.as_deref(), Some("tc-1"));
    assert!(step.changes.iter().any(
        |c| matches!(c, Change::TransferCompleted { command_key, .. } if command_key == "task_12")
    ));
    assert!(step.changes.iter().any(|c| matches!(c, Change::DeviceFault { channel, fault, .. } if channel == "task_12" && fault.code == "cwmp.9010")));
}

#[test]
fn cpe_requests_and_protocol_violations() {
    let mut sent = Sent::default();
    let (mut s, step) = start(
        known_ctx(),
        &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}),
    );
    sent.take(&step);
    let config = EngineConfig::default();
    let reply = sent
        .take(&s.handle(T0, &cpe("g", cwmp::GetRPCMethods {}), &config))
        .unwrap();
    let Body::GetRPCMethodsResponse(r) = reply.body else {
        panic!()
    };
    assert!(r.method_list.iter().any(|m| m == "TransferComplete"));
    let reply = sent
        .take(&s.handle(
            T0,
            &cpe(
                "k",
                cwmp::Kicked {
                    command: "c".into(),
                    referer: "r".into(),
                    arg: "a".into(),
                    next: "http://x/next".into(),
                },
            ),
            &config,
        ))
        .unwrap();
    assert!(matches!(reply.body, Body::KickedResponse(ref k) if k.next_url == "http://x/next"));
    let reply = sent
        .take(&s.handle(
            T0,
            &cpe(
                "r",
                cwmp::RequestDownload {
                    file_type: "1 Firmware Upgrade Image".into(),
                    file_type_arg: vec![],
                },
            ),
            &config,
        ))
        .unwrap();
    assert!(matches!(reply.body, Body::RequestDownloadResponse(_)));
    // A second Inform, a method of the CPE, a stray response: faults, the session goes on.
    let reply = sent
        .take(&s.handle(
            T0,
            &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}),
            &config,
        ))
        .unwrap();
    assert_eq!(reply.body.name(), "Fault");
    let reply = sent
        .take(&s.handle(
            T0,
            &cpe(
                "x",
                cwmp::Reboot {
                    command_key: "".into(),
                },
            ),
            &config,
        ))
        .unwrap();
    let Body::Fault(f) = reply.body else { panic!() };
    assert_eq!(f.code(), Some(cwmp::FaultCode::ACS_METHOD_NOT_SUPPORTED));
    let reply = sent.take(&s.handle(T0, b"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:cwmp=\"urn:dslforum-org:cwmp-1-0\"><soap:Header><cwmp:ID soap:mustUnderstand=\"1\">z</cwmp:ID></soap:Header><soap:Body><cwmp:X_ACME_Hello/></soap:Body></soap:Envelope>", &config)).unwrap();
    let Body::Fault(f) = reply.body else { panic!() };
    assert_eq!(f.code(), Some(cwmp::FaultCode::ACS_METHOD_NOT_SUPPORTED));
    assert_eq!(reply.header.id.as_deref(), Some("z"));
    assert!(matches!(
        s.handle(T0, b"<not xml", &config).reply,
        Reply::BadRequest(_)
    ));
    assert_eq!(s.handle(T0, b"", &config).reply, Reply::NoContent);
}

#[test]
fn an_empty_post_instead_of_a_response_faults_the_task() {
    let mut sent = Sent::default();
    let mut ctx = known_ctx();
    ctx.tasks = vec![task(20, json!({"name": "reboot"}))];
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}));
    sent.take(&step);
    let config = EngineConfig::default();
    sent.take(&s.handle(T0, b"", &config)).unwrap();
    let step = s.handle(T0, b"", &config);
    assert!(step.changes.iter().any(
        |c| matches!(c, Change::TaskFault { task: 20, fault, .. } if fault.code == "protocol")
    ));
    assert_eq!(step.reply, Reply::NoContent);
}

#[test]
fn first_requests_that_are_not_an_inform() {
    let config = EngineConfig::default();
    assert!(matches!(
        read_inform(b"", &config),
        Err(Reply::BadRequest(_))
    ));
    assert!(matches!(
        read_inform(b"<html/>", &config),
        Err(Reply::BadRequest(_))
    ));
    let Err(Reply::Soap(xml)) = read_inform(
        &cpe(
            "t",
            cwmp::TransferComplete {
                command_key: "".into(),
                fault_struct: cwmp::TransferCompleteFaultStruct {
                    fault_code: cwmp::FaultCode::SUCCESS,
                    fault_string: "".into(),
                },
                start_time: cwmp::DateTime::UNKNOWN,
                complete_time: cwmp::DateTime::UNKNOWN,
            },
        ),
        &config,
    ) else {
        panic!()
    };
    let env = cwmp::decode(xml.as_bytes()).unwrap();
    assert_eq!(env.header.id.as_deref(), Some("t"));
}

#[test]
fn a_device_that_answers_less_than_asked_cannot_loop() {
    let mut sent = Sent::default();
    let mut ctx = known_ctx();
    ctx.tasks = vec![task(
        30,
        json!({"name": "getParameterValues", "parameterNames": ["Device.Missing."]}),
    )];
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}));
    sent.take(&step);
    let config = EngineConfig::default();
    let req = sent.take(&s.handle(T0, b"", &config)).unwrap();
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::GetParameterValuesResponse {
                parameter_list: vec![],
            },
        ),
        &config,
    );
    assert_eq!(step.reply, Reply::NoContent);
    assert!(
        step.changes
            .iter()
            .any(|c| matches!(c, Change::TaskDone { task: 30, .. }))
    );
}

#[test]
fn bootstrap_forgets_known_data_and_credentials() {
    let mut sent = Sent::default();
    let mut ctx = known_ctx();
    ctx.new_cr_credentials = Some(("n".into(), "p2".into()));
    ctx.data
        .params
        .insert("Device.Old".into(), Param::default());
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["0 BOOTSTRAP"], |_| {}));
    sent.take(&step);
    let req = sent
        .take(&s.handle(T0, b"", &EngineConfig::default()))
        .unwrap();
    assert!(
        matches!(req.body, Body::SetParameterValues(_)),
        "credentials set again after BOOTSTRAP"
    );
}

/// HoldRequests (TR-069 A.3.1.3, §3.7.1.4): held while the ACS has work, a CPE request is
/// told to retry (8005), the 204 lifts the hold, and the CPE may then still send it.
#[test]
fn hold_requests_then_release() {
    let mut sent = Sent::default();
    let config = EngineConfig {
        hold_requests: true,
        ..EngineConfig::default()
    };
    let mut ctx = known_ctx();
    ctx.tasks = vec![task(5, json!({"name": "reboot"}))];
    ctx.transfers = vec![PendingTransfer {
        command_key: "task_4".into(),
        task: Some(4),
        detail: json!({}),
        started: T0,
    }];
    let body = inform(Namespace::Cwmp1_2, &["7 TRANSFER COMPLETE"], |_| {});
    let (mut s, step) = Session::start(T0, read_inform(&body, &config).unwrap(), ctx, &config);
    let env = sent.take(&step).unwrap();
    assert_eq!(env.header.hold_requests, Some(true));

    let transfer_complete = || {
        cpe(
            "tc",
            cwmp::TransferComplete {
                command_key: "task_4".into(),
                fault_struct: cwmp::TransferCompleteFaultStruct {
                    fault_code: cwmp::FaultCode::SUCCESS,
                    fault_string: "".into(),
                },
                start_time: cwmp::DateTime::UNKNOWN,
                complete_time: cwmp::DateTime::UNKNOWN,
            },
        )
    };
    // Held: the CPE's request is refused with 8005 and nothing is recorded.
    let step = s.handle(T0, &transfer_complete(), &config);
    let env = sent.take(&step).unwrap();
    let Body::Fault(f) = &env.body else {
        panic!("{:?}", env.body)
    };
    assert_eq!(f.detail.as_ref().unwrap().fault_code, cwmp::FaultCode(8005));
    assert!(step.changes.is_empty());

    // The ACS's requests keep the hold.
    let step = s.handle(T0, b"", &config);
    let env = sent.take(&step).unwrap();
    assert!(matches!(env.body, Body::Reboot(_)));
    assert_eq!(env.header.hold_requests, Some(true));
    let step = s.handle(
        T0,
        &cpe(&request_id(&env), cwmp::RebootResponse {}),
        &config,
    );
    assert_eq!(step.reply, Reply::NoContent);
    assert!(s.is_released() && !s.is_ended());

    // The 204 lifted it: the held request now goes through, then the session ends.
    let step = s.handle(T0, &transfer_complete(), &config);
    let env = sent.take(&step).unwrap();
    assert!(matches!(env.body, Body::TransferCompleteResponse(_)));
    assert_eq!(env.header.hold_requests, None);
    assert!(step.changes.iter().any(
        |c| matches!(c, Change::TransferCompleted { command_key, .. } if command_key == "task_4")
    ));
    let step = s.handle(T0, b"", &config);
    assert_eq!(step.reply, Reply::NoContent);
    assert!(s.is_ended());
}

/// With nothing to do, HoldRequests is not sent even when configured.
#[test]
fn no_hold_without_work() {
    let mut sent = Sent::default();
    let config = EngineConfig {
        hold_requests: true,
        ..EngineConfig::default()
    };
    let body = inform(Namespace::Cwmp1_2, &["2 PERIODIC"], |_| {});
    let (mut s, step) = Session::start(
        T0,
        read_inform(&body, &config).unwrap(),
        known_ctx(),
        &config,
    );
    assert_eq!(sent.take(&step).unwrap().header.hold_requests, None);
    assert_eq!(s.handle(T0, b"", &config).reply, Reply::NoContent);
    assert!(s.is_ended());
}

/// A runner whose one script looks the serial up in an extension and sets the periodic
/// interval from it.
#[derive(Debug)]
struct LookupScript;

impl acs_core::provision::Runner for LookupScript {
    fn run_provision(
        &self,
        name: &str,
        _: &[serde_json::Value],
        host: &mut acs_core::provision::Host<'_>,
    ) -> Option<acs_core::provision::RunOutcome> {
        use acs_core::provision::{ExtAnswer, RunOutcome};
        if name != "lookup" {
            return None;
        }
        let serial = host
            .declare("DeviceID.SerialNumber", &json!({"value": 1}), &json!(null))
            .unwrap()[0]
            .value
            .clone()
            .unwrap()
            .0;
        if let ExtAnswer::Value(v) = host.ext("db", "interval", &[serial]) {
            host.declare(
                "Device.ManagementServer.PeriodicInformInterval",
                &json!(null),
                &json!({ "value": [v, "xsd:unsignedInt"] }),
            )
            .unwrap();
        }
        Some(RunOutcome::Finished(json!(null)))
    }
}

#[test]
fn provisioning_runs_before_tasks_and_waits_for_extensions() {
    use acs_core::provision::Options;
    use acs_core::session::ProvisioningSetup;
    let preset = |name: &str, j: serde_json::Value| {
        acs_core::preset::Preset::from_json(&acs_core::preset::Name::parse(name).unwrap(), &j)
            .unwrap()
    };
    let mut sent = Sent::default();
    let ctx = DeviceContext {
        tasks: vec![task(7, json!({"name": "reboot"}))],
        provisioning: Some(ProvisioningSetup {
            presets: std::sync::Arc::new(vec![
                preset("tagged", json!({"provisions": [["tag", "provisioned"]]})),
                preset(
                    "lookup",
                    json!({"weight": 1, "events": {"1 BOOT": true}, "provisions": [["lookup"]]}),
                ),
                // Not this device's: the precondition does not hold.
                preset(
                    "other",
                    json!({"precondition": {"_deviceId._ProductClass": "STB"}, "provisions": [["reboot"]]}),
                ),
                // Not on BOOT.
                preset(
                    "periodic",
                    json!({"events": {"1 BOOT": false}, "provisions": [["reboot"]]}),
                ),
            ]),
            channel_faults: Vec::new(),
            tags: Default::default(),
            last_boot: None,
            last_bootstrap: None,
            registered: None,
            runner: std::sync::Arc::new(LookupScript),
            options: Options::default(),
        }),
        ..known_ctx()
    };
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["1 BOOT"], |_| {}));
    sent.take(&step).unwrap();
    // The tag is a change without an RPC; then the script needs its extension.
    let step = s.handle(T0, b"", &EngineConfig::default());
    assert!(
        step.changes
            .iter()
            .any(|c| matches!(c, Change::Tags { add, .. } if add == &["provisioned"]))
    );
    let Reply::Wait(calls) = &step.reply else {
        panic!("{:?}", step.reply)
    };
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].name.as_str(), calls[0].args.as_str()),
        ("db", "[\"SN000001\"]")
    );
    let step = s.on_ext(
        T0,
        vec![(calls[0].clone(), Ok(json!(900)))],
        &EngineConfig::default(),
    );
    // The parameter is not known yet: its object is listed first.
    let req = sent.take(&step).unwrap();
    let Body::GetParameterNames(gpn) = &req.body else {
        panic!("{:?}", req.body)
    };
    assert_eq!(gpn.parameter_path, "Device.ManagementServer.");
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::GetParameterNamesResponse {
                parameter_list: ["ConnectionRequestURL", "PeriodicInformInterval"]
                    .iter()
                    .map(|n| cwmp::ParameterInfoStruct {
                        name: format!("Device.ManagementServer.{n}").into(),
                        writable: true,
                    })
                    .collect(),
            },
        ),
        &EngineConfig::default(),
    );
    // Its value's type is declared: set without reading it first.
    let req = sent.take(&step).unwrap();
    let Body::SetParameterValues(spv) = &req.body else {
        panic!("{:?}", req.body)
    };
    assert_eq!(
        spv.parameter_list[0].value,
        ParameterValue::UnsignedInt(900)
    );
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::SetParameterValuesResponse {
                status: cwmp::ApplyStatus::Applied,
            },
        ),
        &EngineConfig::default(),
    );
    // Provisioning is done: the task follows.
    let req = sent.take(&step).unwrap();
    assert!(matches!(req.body, Body::Reboot(_)), "{:?}", req.body);
}

/// A preset's script that wants the uptime fresh and periodic informs on, and a virtual
/// parameter `interval` over the periodic inform interval.
#[derive(Debug)]
struct IntervalScripts;

impl acs_core::provision::Runner for IntervalScripts {
    fn run_provision(
        &self,
        name: &str,
        _: &[serde_json::Value],
        host: &mut acs_core::provision::Host<'_>,
    ) -> Option<acs_core::provision::RunOutcome> {
        if name != "watch" {
            return None;
        }
        let now = host.now.0;
        host.declare(
            "Device.DeviceInfo.UpTime",
            &json!({ "value": now }),
            &json!(null),
        )
        .unwrap();
        host.declare(
            "Device.ManagementServer.PeriodicInformEnable",
            &json!(null),
            &json!({"value": [true, "xsd:boolean"]}),
        )
        .unwrap();
        Some(acs_core::provision::RunOutcome::Finished(json!(null)))
    }

    fn run_virtual_parameter(
        &self,
        name: &str,
        args: &[serde_json::Value],
        host: &mut acs_core::provision::Host<'_>,
    ) -> Option<acs_core::provision::RunOutcome> {
        if name != "interval" {
            return None;
        }
        let path = "Device.ManagementServer.PeriodicInformInterval";
        let m = match args[3].get("value").and_then(|v| v.get(0)) {
            Some(v) => host.declare(
                path,
                &json!(null),
                &json!({"value": [v, "xsd:unsignedInt"]}),
            ),
            None => host.declare(path, &json!({"value": args[2]["value"]}), &json!(null)),
        }
        .unwrap();
        let value = m.first().and_then(|i| i.value.clone());
        Some(acs_core::provision::RunOutcome::Finished(
            json!({"writable": true, "value": value.map(|(v, t)| json!([v, t]))}),
        ))
    }
}

/// NBI tasks go through the provisioning engine: a task's read joins the presets' in one
/// GetParameterValues, its values join theirs in one SetParameterValues, and tasks read
/// and set a virtual parameter as they would a parameter.
#[test]
fn tasks_share_rpcs_with_presets_and_reach_virtual_parameters() {
    use acs_core::provision::Options;
    use acs_core::session::ProvisioningSetup;
    let mut sent = Sent::default();
    let old = T0.plus_millis(-3_600_000);
    let mut data = DeviceData::default();
    for (path, text, value_type) in [
        ("Device.DeviceInfo.UpTime", "100", ValueType::UnsignedInt),
        (
            "Device.ManagementServer.PeriodicInformEnable",
            "false",
            ValueType::Boolean,
        ),
        (
            "Device.ManagementServer.PeriodicInformInterval",
            "3600",
            ValueType::UnsignedInt,
        ),
    ] {
        data.params.insert(
            path.into(),
            Param {
                value: Some(StoredValue {
                    text: text.into(),
                    value_type,
                }),
                ts: old,
                writable: Some(true),
                ..Param::default()
            },
        );
    }
    let ctx = DeviceContext {
        data,
        tasks: vec![
            task(
                1,
                json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.HardwareVersion"]}),
            ),
            task(
                2,
                json!({"name": "setParameterValues", "parameterValues": [["VirtualParameters.interval", 600, "xsd:unsignedInt"]]}),
            ),
            task(
                3,
                json!({"name": "getParameterValues", "parameterNames": ["VirtualParameters.interval"]}),
            ),
        ],
        provisioning: Some(ProvisioningSetup {
            presets: std::sync::Arc::new(vec![
                acs_core::preset::Preset::from_json(
                    &acs_core::preset::Name::parse("watch").unwrap(),
                    &json!({"provisions": [["watch"]]}),
                )
                .unwrap(),
            ]),
            channel_faults: Vec::new(),
            tags: Default::default(),
            last_boot: None,
            last_bootstrap: None,
            registered: None,
            runner: std::sync::Arc::new(IntervalScripts),
            options: Options::default(),
        }),
        ..known_ctx()
    };
    let config = EngineConfig::default();
    let (mut s, step) = start(ctx, &inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {}));
    sent.take(&step).unwrap();
    // One read for the preset (uptime), task 1 (a name not known: read directly, not found
    // by listing its object) and the virtual parameter's script (the interval).
    let req = sent.take(&s.handle(T0, b"", &config)).unwrap();
    let Body::GetParameterValues(gpv) = &req.body else {
        panic!("{:?}", req.body)
    };
    let mut names: Vec<&str> = gpv.parameter_names.iter().map(|n| n.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "Device.DeviceInfo.HardwareVersion",
            "Device.DeviceInfo.UpTime",
            "Device.ManagementServer.PeriodicInformInterval"
        ]
    );
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::GetParameterValuesResponse {
                parameter_list: vec![
                    ParameterValueStruct::new(
                        "Device.DeviceInfo.HardwareVersion",
                        ParameterValue::String("rev-b".into()),
                    ),
                    ParameterValueStruct::new(
                        "Device.DeviceInfo.UpTime",
                        ParameterValue::UnsignedInt(200),
                    ),
                    ParameterValueStruct::new(
                        "Device.ManagementServer.PeriodicInformInterval",
                        ParameterValue::UnsignedInt(3600),
                    ),
                ],
            },
        ),
        &config,
    );
    let done = |step: &Step, id: TaskId| {
        step.task_outcomes.iter().find_map(|(t, o)| match o {
            TaskOutcome::Done(v) if *t == id => Some(v.clone()),
            _ => None,
        })
    };
    assert_eq!(
        done(&step, 1),
        Some(json!({"Device.DeviceInfo.HardwareVersion": ["rev-b", "xsd:string"]}))
    );
    assert_eq!(
        done(&step, 3),
        Some(json!({"VirtualParameters.interval": ["3600", "xsd:unsignedInt"]}))
    );
    // One write: the preset's value and the one the virtual parameter's script derived
    // from task 2.
    let req = sent.take(&step).unwrap();
    let Body::SetParameterValues(spv) = &req.body else {
        panic!("{:?}", req.body)
    };
    let mut values: Vec<(&str, &ParameterValue<'_>)> = spv
        .parameter_list
        .iter()
        .map(|p| (p.name.as_ref(), &p.value))
        .collect();
    values.sort_by_key(|(n, _)| *n);
    assert_eq!(
        values,
        [
            (
                "Device.ManagementServer.PeriodicInformEnable",
                &ParameterValue::Boolean(true)
            ),
            (
                "Device.ManagementServer.PeriodicInformInterval",
                &ParameterValue::UnsignedInt(600)
            ),
        ]
    );
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::SetParameterValuesResponse {
                status: cwmp::ApplyStatus::Applied,
            },
        ),
        &config,
    );
    assert_eq!(step.reply, Reply::NoContent);
    assert!(done(&step, 2).is_some(), "{:?}", step.task_outcomes);
    // The virtual parameter's new value is stored like a parameter's.
    assert!(
        step.changes
            .iter()
            .any(|c| matches!(c, Change::Params { updates, .. }
        if updates.iter().any(|u| u.path == "VirtualParameters.interval"
            && u.value.as_ref().is_some_and(|v| v.text == "600"))))
    );
}

/// With the stored data deferred, presets that look only at the Inform's values cost no
/// read; a precondition or a declaration that names anything else asks for the data
/// (Reply::Load) before anything acts, and goes on with it.
#[test]
fn deferred_data_is_loaded_only_when_a_preset_looks_beyond_the_inform() {
    use acs_core::provision::Options;
    use acs_core::session::ProvisioningSetup;
    let preset = |name: &str, j: serde_json::Value| {
        acs_core::preset::Preset::from_json(&acs_core::preset::Name::parse(name).unwrap(), &j)
            .unwrap()
    };
    let ctx = |presets: Vec<acs_core::preset::Preset>| DeviceContext {
        data_deferred: true,
        provisioning: Some(ProvisioningSetup {
            presets: std::sync::Arc::new(presets),
            channel_faults: Vec::new(),
            tags: Default::default(),
            last_boot: None,
            last_bootstrap: None,
            registered: None,
            runner: std::sync::Arc::new(IntervalScripts),
            options: Options::default(),
        }),
        ..known_ctx()
    };
    let stored = || {
        let mut data = DeviceData::default();
        for (path, text, t) in [
            ("Device.DeviceInfo.UpTime", "100", ValueType::UnsignedInt),
            (
                "Device.ManagementServer.PeriodicInformEnable",
                "true",
                ValueType::Boolean,
            ),
            // Older than the Inform's value, which wins.
            (
                "Device.DeviceInfo.SoftwareVersion",
                "1.0",
                ValueType::String,
            ),
        ] {
            data.params.insert(
                path.into(),
                Param {
                    value: Some(StoredValue {
                        text: text.into(),
                        value_type: t,
                    }),
                    ts: T0.plus_millis(-60_000),
                    writable: Some(true),
                    ..Param::default()
                },
            );
        }
        data
    };
    let config = EngineConfig::default();
    let body = inform(Namespace::Cwmp1_0, &["2 PERIODIC"], |_| {});

    // On the Inform's values alone: a tag from the software version, no read.
    let (mut s, _) = start(
        ctx(vec![preset(
            "by-version",
            json!({"precondition": {"Device.DeviceInfo.SoftwareVersion": "3.0.21"},
                   "provisions": [["tag", "v3"]]}),
        )]),
        &body,
    );
    let step = s.handle(T0, b"", &config);
    assert_eq!(step.reply, Reply::NoContent);
    assert!(
        step.changes
            .iter()
            .any(|c| matches!(c, Change::Tags { add, .. } if add == &["v3"]))
    );

    // A precondition on a parameter the Inform did not carry: the data first.
    let (mut s, _) = start(
        ctx(vec![preset(
            "enabled",
            json!({"precondition": {"Device.ManagementServer.PeriodicInformEnable": true},
                   "provisions": [["tag", "periodic"]]}),
        )]),
        &body,
    );
    let step = s.handle(T0, b"", &config);
    assert_eq!(step.reply, Reply::Load);
    let step = s.on_data(T0, stored(), &config);
    assert_eq!(step.reply, Reply::NoContent);
    assert!(
        step.changes
            .iter()
            .any(|c| matches!(c, Change::Tags { add, .. } if add == &["periodic"]))
    );

    // A provision that declares a parameter the Inform did not carry: the data, then
    // only what is still needed (the uptime is read; the stored `true` is kept, so no
    // SetParameterValues follows).
    let (mut s, _) = start(
        ctx(vec![preset("watch", json!({"provisions": [["watch"]]}))]),
        &body,
    );
    let step = s.handle(T0, b"", &config);
    assert_eq!(step.reply, Reply::Load);
    assert!(
        step.changes.is_empty(),
        "nothing acts before the data is in"
    );
    let mut sent = Sent::default();
    let step = s.on_data(T0, stored(), &config);
    let req = sent.take(&step).unwrap();
    let Body::GetParameterValues(gpv) = &req.body else {
        panic!("{:?}", req.body)
    };
    assert_eq!(gpv.parameter_names, ["Device.DeviceInfo.UpTime"]);
    let step = s.handle(
        T0,
        &cpe(
            &request_id(&req),
            cwmp::GetParameterValuesResponse {
                parameter_list: vec![ParameterValueStruct::new(
                    "Device.DeviceInfo.UpTime",
                    ParameterValue::UnsignedInt(160),
                )],
            },
        ),
        &config,
    );
    assert_eq!(step.reply, Reply::NoContent);

    // A bootstrap voids the stored data: nothing to load.
    let (mut s, _) = start(
        ctx(vec![preset(
            "enabled",
            json!({"precondition": {"Device.ManagementServer.PeriodicInformEnable": true},
                   "provisions": [["tag", "periodic"]]}),
        )]),
        &inform(Namespace::Cwmp1_0, &["0 BOOTSTRAP"], |_| {}),
    );
    let step = s.handle(T0, b"", &config);
    assert_ne!(step.reply, Reply::Load);
}
