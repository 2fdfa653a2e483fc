//! What `encode` writes validates against the BBF CWMP schemas (`shared/bbf/cwmp-1-*.xsd`,
//! checked with xmllint through `shared/bbf/validate-envelope`), and what the schemas
//! forbid, `encode` refuses.
//!
//! These tests fail, never skip, when the validator or xmllint is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::borrow::Cow;

use common::samples;
use common::strategies::{self, Ctx, FaultSite};
use cwmp::{
    AddObject, AddObjectResponse, Body, BooleanStyle, ChangeDUState, DateTime, DeviceIdStruct,
    EncodeError, EncodeOptions, Envelope, EventStruct, Fault, FaultCode, GetParameterValues,
    GetParameterValuesResponse, GetQueuedTransfersResponse, Header, Inform, Namespace,
    Notification, Operation, ParameterValue, ParameterValueStruct, QueuedTransferStruct, Reboot,
    SetParameterAttributes, SetParameterAttributesStruct, SetParameterValuesFault, SoapFaultCode,
    TimeWindowStruct, TransferComplete, TransferCompleteFaultStruct, TransferState,
    UninstallOpStruct,
};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

const DIGITS: EncodeOptions = EncodeOptions {
    booleans: BooleanStyle::Digits,
};

/// Encodes the sample `name` in every namespace that defines it (with `true`/`false`, and
/// with `1`/`0` in the newest), validates all of them in one run of the validator, and
/// checks that older namespaces refuse it.
fn check_sample(name: &str, sample: fn(Namespace) -> Body<'static>) {
    let since = sample(Namespace::Cwmp1_2).since();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut files = Vec::new();
    for ns in common::namespaces_since(since) {
        let envelope = samples::envelope(ns, sample(ns));
        let xml = envelope
            .encode()
            .unwrap_or_else(|e| panic!("{name}: encode in {ns} refused the sample: {e}"));
        files.push((format!("{name}-{}.xml", common::ns_tag(ns)), xml));
        if ns == Namespace::Cwmp1_2 {
            let xml = envelope
                .encode_with(&DIGITS)
                .unwrap_or_else(|e| panic!("{name}: encode_with(Digits) in {ns} failed: {e}"));
            files.push((format!("{name}-{}-digits.xml", common::ns_tag(ns)), xml));
        }
    }
    for ns in common::namespaces_before(since) {
        let envelope = samples::envelope(ns, sample(ns));
        match envelope.encode() {
            Err(EncodeError::NotInNamespace { item, namespace }) => {
                assert_eq!(
                    namespace, ns,
                    "{name}: NotInNamespace names the wrong namespace"
                );
                assert_eq!(
                    item,
                    envelope.body.name(),
                    "{name}: NotInNamespace names {item}"
                );
            }
            other => panic!(
                "{name} does not exist before {since}, yet encoding it in {ns} gave {other:?}"
            ),
        }
    }
    let paths = common::write_files(dir.path(), &files);
    if let Err(report) = common::validate(&paths) {
        panic!("{name}: the encoded sample does not validate against the BBF schema\n{report}");
    }
}

macro_rules! sample_tests {
    ($($name:ident),* $(,)?) => {
        /// One test per message: the hand-written sample validates in every namespace.
        mod sample_validates {
            use super::*;
            $(
                #[test]
                fn $name() {
                    check_sample(stringify!($name), samples::$name);
                }
            )*
        }
    };
}
common::with_messages!(sample_tests);

#[test]
fn messages_without_arguments_are_recognised() {
    let empty: Vec<&str> = samples::all(Namespace::Cwmp1_2)
        .iter()
        .filter(|(_, b)| has_no_arguments(b))
        .map(|(n, _)| *n)
        .collect();
    assert!(empty.contains(&"reboot_response") && empty.contains(&"get_rpc_methods"));
    assert!(
        !empty.contains(&"reboot") && !empty.contains(&"fault"),
        "{empty:?}"
    );
    assert_eq!(empty.len(), 17, "{empty:?}");
}

#[test]
fn every_body_variant_has_a_sample() {
    let mut seen = [false; common::VARIANT_COUNT];
    for (_, body) in samples::all(Namespace::Cwmp1_2) {
        seen[common::variant_index(&body)] = true;
    }
    let missing: Vec<usize> = (0..common::VARIANT_COUNT).filter(|i| !seen[*i]).collect();
    assert!(
        missing.is_empty(),
        "Body variants without a sample: {missing:?}"
    );
    assert_eq!(
        strategies::all().len(),
        samples::all(Namespace::Cwmp1_2).len()
    );
}

#[test]
fn every_header_validates_in_cwmp_1_2() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ns = Namespace::Cwmp1_2;
    let mut files = Vec::new();
    let inform = samples::envelope_with_every_header();
    for (name, body) in [
        ("inform", inform.body.clone()),
        ("inform_response", samples::inform_response(ns)),
        ("fault", samples::fault(ns)),
    ] {
        let envelope = Envelope {
            body,
            ..inform.clone()
        };
        let xml = envelope
            .encode()
            .expect("every header is valid in cwmp-1-2");
        for element in [
            "<cwmp:ID soap-env:mustUnderstand=\"1\">",
            "<cwmp:HoldRequests soap-env:mustUnderstand=\"1\">true</cwmp:HoldRequests>",
            "<cwmp:SessionTimeout soap-env:mustUnderstand=\"0\">60</cwmp:SessionTimeout>",
            "<cwmp:SupportedCWMPVersions soap-env:mustUnderstand=\"0\">1.0,1.1,1.2,1.3,1.4<",
            "<cwmp:UseCWMPVersion soap-env:mustUnderstand=\"1\">1.4</cwmp:UseCWMPVersion>",
            "<cwmp:NoMoreRequests",
        ] {
            assert!(xml.contains(element), "{element} missing from\n{xml}");
        }
        files.push((format!("headers-{name}.xml"), xml));
        let digits = envelope.encode_with(&DIGITS).expect("digits");
        assert!(digits.contains(">1</cwmp:HoldRequests>"), "{digits}");
        files.push((format!("headers-{name}-digits.xml"), digits));
    }
    // The headers that exist in the older namespaces.
    for old in [Namespace::Cwmp1_0, Namespace::Cwmp1_1] {
        let envelope = Envelope {
            namespace: old,
            header: samples::legacy_header(old),
            body: samples::inform(old),
        };
        let xml = envelope
            .encode()
            .unwrap_or_else(|e| panic!("legacy headers refused in {old}: {e}"));
        files.push((format!("headers-legacy-{}.xml", common::ns_tag(old)), xml));
    }
    let paths = common::write_files(dir.path(), &files);
    if let Err(report) = common::validate(&paths) {
        panic!("envelopes with every header do not validate\n{report}");
    }
}

#[test]
fn session_timeout_and_supported_versions_are_refused_before_cwmp_1_2() {
    for ns in [Namespace::Cwmp1_0, Namespace::Cwmp1_1] {
        let with = |header: Header<'static>| Envelope {
            namespace: ns,
            header,
            body: samples::inform(ns),
        };
        let timeout = with(Header {
            session_timeout: Some(30),
            ..samples::legacy_header(ns)
        });
        assert_eq!(
            timeout.encode(),
            Err(EncodeError::NotInNamespace {
                item: "SessionTimeout",
                namespace: ns
            })
        );
        let versions = with(Header {
            supported_cwmp_versions: Some(vec![cwmp::CwmpVersion::V1_0]),
            ..samples::legacy_header(ns)
        });
        assert_eq!(
            versions.encode(),
            Err(EncodeError::NotInNamespace {
                item: "SupportedCWMPVersions",
                namespace: ns
            })
        );
        let full = with(samples::full_header(ns));
        assert!(
            matches!(full.encode(), Err(EncodeError::NotInNamespace { .. })),
            "every header in {ns}"
        );
        // UseCWMPVersion must name a version written in the envelope's namespace.
        let wrong_version = with(Header {
            use_cwmp_version: Some(cwmp::CwmpVersion::V1_4),
            ..samples::legacy_header(ns)
        });
        expect_invalid(&wrong_version, "Header/UseCWMPVersion");
    }
}

/// Whether the message has no arguments (`RebootResponse`): random ones differ only in
/// their headers.
fn has_no_arguments(body: &Body<'_>) -> bool {
    let json = serde_json::to_value(body).expect("Body serializes");
    json.as_object()
        .and_then(|o| o.values().next())
        .and_then(|v| v.as_object())
        .is_some_and(|fields| fields.is_empty())
}

/// Random schema-valid envelopes: three per message and namespace (one for messages without
/// arguments), all validated in one run of the validator.
#[test]
fn random_envelopes_validate() {
    const PER_MESSAGE_AND_NAMESPACE: usize = 3;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut runner = TestRunner::default();
    let mut files = Vec::new();
    let mut refused = Vec::new();
    for (name, since, body_of) in strategies::all() {
        for ns in common::namespaces_since(since) {
            let strategy = (strategies::header(ns), body_of(Ctx::new(ns)));
            let count = if has_no_arguments(
                &samples::all(ns)
                    .into_iter()
                    .find(|(n, _)| *n == name)
                    .expect("sample")
                    .1,
            ) {
                1
            } else {
                PER_MESSAGE_AND_NAMESPACE
            };
            for i in 0..count {
                let (header, body) = strategy
                    .new_tree(&mut runner)
                    .expect("strategy generates a value")
                    .current();
                let envelope = Envelope {
                    namespace: ns,
                    header,
                    body,
                };
                let options = if i % 2 == 1 {
                    DIGITS
                } else {
                    EncodeOptions::default()
                };
                match envelope.encode_with(&options) {
                    Ok(xml) => files.push((format!("{name}-{}-{i}.xml", common::ns_tag(ns)), xml)),
                    Err(e) => refused.push(format!("{name} in {ns}: {e}\n{envelope:#?}")),
                }
            }
        }
    }
    let paths = common::write_files(dir.path(), &files);
    let validation = common::validate(&paths);
    let mut problems = String::new();
    if !refused.is_empty() {
        problems.push_str(&format!(
            "encode refused {} schema-valid envelopes:\n{}\n",
            refused.len(),
            refused
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    if let Err(report) = validation {
        problems.push_str(&report);
    }
    assert!(problems.is_empty(), "random envelopes:\n{problems}");
}

// ---------------------------------------------------------------------------------------
// What the schemas forbid, encode refuses
// ---------------------------------------------------------------------------------------

fn s(text: &str) -> Cow<'static, str> {
    Cow::Owned(text.to_owned())
}

/// `encode` must refuse `envelope` with `EncodeError::Invalid` at a path ending in
/// `path_end`.
fn expect_invalid(envelope: &Envelope<'_>, path_end: &str) {
    match envelope.encode() {
        Err(EncodeError::Invalid { path, reason }) => {
            assert!(
                path.ends_with(path_end),
                "refused at {path:?} ({reason}), expected a path ending in {path_end:?}"
            );
            assert!(!reason.is_empty());
        }
        Err(other) => panic!("expected EncodeError::Invalid at {path_end}, got {other:?}"),
        Ok(xml) => panic!("expected EncodeError::Invalid at {path_end}, but encoded\n{xml}"),
    }
    assert!(
        matches!(envelope.validate(), Err(EncodeError::Invalid { .. })),
        "validate() and encode() disagree"
    );
}

fn env(ns: Namespace, body: impl Into<Body<'static>>) -> Envelope<'static> {
    Envelope::new(ns, Some(s("1")), body)
}

fn sample_as<T>(body: Body<'static>, extract: fn(Body<'static>) -> Option<T>) -> T {
    extract(body).expect("sample of the expected message")
}

fn sample_inform(ns: Namespace) -> Inform<'static> {
    sample_as(samples::inform(ns), |b| match b {
        Body::Inform(m) => Some(m),
        _ => None,
    })
}

#[test]
fn refuses_too_long_command_key() {
    let ok = Reboot {
        command_key: s(&"é".repeat(32)),
    };
    env(Namespace::Cwmp1_0, ok)
        .encode()
        .expect("32 characters (64 bytes) fit");
    let long = Reboot {
        command_key: s(&"k".repeat(33)),
    };
    expect_invalid(&env(Namespace::Cwmp1_0, long), "Reboot/CommandKey");
}

#[test]
fn refuses_lower_case_oui() {
    let mut inform = sample_inform(Namespace::Cwmp1_2);
    inform.device_id = DeviceIdStruct {
        oui: s("00d09e"),
        ..inform.device_id
    };
    expect_invalid(&env(Namespace::Cwmp1_2, inform), "Inform/DeviceId/OUI");
}

#[test]
fn refuses_object_name_without_trailing_dot() {
    let add = AddObject {
        object_name: s("Device.NAT.PortMapping"),
        parameter_key: s(""),
    };
    expect_invalid(&env(Namespace::Cwmp1_0, add), "AddObject/ObjectName");
}

#[test]
fn refuses_instance_number_zero() {
    let response = AddObjectResponse {
        instance_number: 0,
        status: cwmp::ApplyStatus::Applied,
    };
    expect_invalid(
        &env(Namespace::Cwmp1_0, response),
        "AddObjectResponse/InstanceNumber",
    );
}

#[test]
fn refuses_bad_uuid() {
    let change = ChangeDUState {
        operations: vec![Operation::Uninstall(UninstallOpStruct {
            uuid: s("3f2504e0-4f89-11d3-9a0c-0305e82c330"),
            version: None,
            execution_env_ref: None,
        })],
        command_key: None,
    };
    expect_invalid(&env(Namespace::Cwmp1_2, change), "UUID");
}

#[test]
fn refuses_more_than_64_events() {
    let mut inform = sample_inform(Namespace::Cwmp1_2);
    inform.event = vec![EventStruct::new("4 VALUE CHANGE"); 64];
    env(Namespace::Cwmp1_2, inform.clone())
        .encode()
        .expect("64 events");
    inform.event.push(EventStruct::new("1 BOOT"));
    expect_invalid(&env(Namespace::Cwmp1_2, inform), "Inform/Event");
}

#[test]
fn refuses_more_than_16_transfers() {
    let item = QueuedTransferStruct {
        command_key: s("k"),
        state: TransferState::InProgress,
    };
    let ok = GetQueuedTransfersResponse {
        transfer_list: vec![item.clone(); 16],
    };
    env(Namespace::Cwmp1_0, ok).encode().expect("16 transfers");
    let too_many = GetQueuedTransfersResponse {
        transfer_list: vec![item; 17],
    };
    expect_invalid(
        &env(Namespace::Cwmp1_0, too_many),
        "GetQueuedTransfersResponse/TransferList",
    );
}

#[test]
fn refuses_three_time_windows() {
    let Body::ScheduleDownload(mut download) = samples::schedule_download(Namespace::Cwmp1_2)
    else {
        unreachable!()
    };
    let window = TimeWindowStruct {
        window_start: 0,
        window_end: 60,
        window_mode: s("1 At Any Time"),
        user_message: s(""),
        max_retries: 0,
    };
    download.time_window_list = vec![window.clone(); 3];
    expect_invalid(
        &env(Namespace::Cwmp1_2, download.clone()),
        "ScheduleDownload/TimeWindowList",
    );
    download.time_window_list = vec![];
    expect_invalid(
        &env(Namespace::Cwmp1_2, download),
        "ScheduleDownload/TimeWindowList",
    );
}

#[test]
fn refuses_empty_parameter_names() {
    let get = GetParameterValues {
        parameter_names: vec![],
    };
    expect_invalid(
        &env(Namespace::Cwmp1_0, get),
        "GetParameterValues/ParameterNames",
    );
}

#[test]
fn refuses_access_list_other_than_subscriber() {
    let set = SetParameterAttributes {
        parameter_list: vec![SetParameterAttributesStruct {
            name: s("Device.WiFi.SSID.1.SSID"),
            notification_change: false,
            notification: Notification::Off,
            access_list_change: true,
            access_list: vec![s("Subscriber"), s("Admin")],
        }],
    };
    expect_invalid(&env(Namespace::Cwmp1_2, set), "AccessList");
}

#[test]
fn refuses_event_codes_the_namespace_does_not_define() {
    for (ns, code) in [
        (Namespace::Cwmp1_0, "10 AUTONOMOUS TRANSFER COMPLETE"),
        (Namespace::Cwmp1_0, "M ChangeDUState"),
        (Namespace::Cwmp1_1, "X ACME vendor event"),
        (Namespace::Cwmp1_2, "BOOT"),
        (Namespace::Cwmp1_2, "14  HEARTBEAT"),
        (Namespace::Cwmp1_2, "14 HEARTBEAT "),
        (Namespace::Cwmp1_2, "X 00D09E "),
    ] {
        let mut inform = sample_inform(ns);
        inform.event = vec![EventStruct::new(code)];
        expect_invalid(&env(ns, inform), "EventCode");
    }
}

#[test]
fn refuses_file_types_the_namespace_does_not_define() {
    for (ns, file_type) in [
        (Namespace::Cwmp1_0, "6 Stored Firmware Image"),
        (Namespace::Cwmp1_1, "4 Vendor Log File"),
        (Namespace::Cwmp1_2, "0 Firmware"),
        (Namespace::Cwmp1_2, "Firmware"),
    ] {
        let Body::Download(mut download) = samples::download(ns) else {
            unreachable!()
        };
        download.file_type = s(file_type);
        expect_invalid(&env(ns, download), "Download/FileType");
    }
}

#[test]
fn refuses_fault_codes_out_of_range_for_their_context() {
    // TransferComplete: 9003 is not a transfer fault.
    let complete = TransferComplete {
        command_key: s(""),
        fault_struct: TransferCompleteFaultStruct {
            fault_code: FaultCode::INVALID_ARGUMENTS,
            fault_string: s(""),
        },
        start_time: DateTime::UNKNOWN,
        complete_time: DateTime::UNKNOWN,
    };
    expect_invalid(
        &env(Namespace::Cwmp1_2, complete),
        "TransferComplete/FaultStruct/FaultCode",
    );
    // cwmp:Fault: 9900 is in no range; 9014 is not a cwmp-1-0 code.
    for (ns, code) in [(Namespace::Cwmp1_2, 9900), (Namespace::Cwmp1_0, 9014)] {
        let fault = Envelope::new(ns, None, Body::Fault(Fault::cwmp(FaultCode(code), None)));
        expect_invalid(&fault, "Fault/detail/Fault/FaultCode");
    }
    // SetParameterValuesFault: an ACS code in cwmp-1-2.
    let mut fault = Fault::cwmp(FaultCode::INVALID_ARGUMENTS, None);
    if let Some(detail) = fault.detail.as_mut() {
        detail
            .set_parameter_values_faults
            .push(SetParameterValuesFault {
                parameter_name: s("Device.X"),
                fault_code: FaultCode::ACS_INVALID_ARGUMENTS,
                fault_string: None,
            });
    }
    expect_invalid(
        &Envelope::new(Namespace::Cwmp1_2, None, Body::Fault(fault)),
        "SetParameterValuesFault[1]/FaultCode",
    );
}

#[test]
fn refuses_lightweight_notification_before_cwmp_1_2() {
    for ns in [Namespace::Cwmp1_0, Namespace::Cwmp1_1] {
        let set = SetParameterAttributes {
            parameter_list: vec![SetParameterAttributesStruct {
                name: s("Device.WiFi.SSID.1.SSID"),
                notification_change: true,
                notification: Notification::ActiveLightweight,
                access_list_change: false,
                access_list: vec![],
            }],
        };
        expect_invalid(&env(ns, set.clone()), "Notification");
        env(Namespace::Cwmp1_2, set)
            .encode()
            .expect("notification 5 exists in cwmp-1-2");
    }
}

#[test]
fn refuses_characters_xml_cannot_carry() {
    let reboot = Reboot {
        command_key: s("a\u{1}b"),
    };
    expect_invalid(&env(Namespace::Cwmp1_0, reboot), "Reboot/CommandKey");
    let mut header = env(Namespace::Cwmp1_0, Reboot { command_key: s("") });
    header.header.id = Some(s("id\u{1}"));
    expect_invalid(&header, "Header/ID");
    let values = GetParameterValuesResponse {
        parameter_list: vec![ParameterValueStruct::new(
            "Device.X",
            ParameterValue::String(s("\u{FFFE}")),
        )],
    };
    expect_invalid(&env(Namespace::Cwmp1_0, values), "Value");
    let fault = Fault {
        faultcode: SoapFaultCode::Server,
        faultstring: s("\u{0}"),
        detail: None,
    };
    expect_invalid(
        &Envelope::new(Namespace::Cwmp1_0, None, Body::Fault(fault)),
        "Fault/faultstring",
    );
}

#[test]
fn refuses_other_values_of_modeled_types() {
    let values = GetParameterValuesResponse {
        parameter_list: vec![ParameterValueStruct::new(
            "Device.DeviceInfo.UpTime",
            ParameterValue::Other {
                xsi_type: s("xsd:int"),
                text: s("twelve"),
            },
        )],
    };
    expect_invalid(&env(Namespace::Cwmp1_0, values), "ParameterList[1]/Value");
}

/// An envelope whose only free fault code stands at `site`, holding `code`.
fn fault_code_envelope(site: FaultSite, ns: Namespace, code: u32) -> Envelope<'static> {
    let body: Body<'static> = match site {
        FaultSite::Fault => Body::Fault(Fault::cwmp(FaultCode(code), Some(s("x")))),
        FaultSite::SetParameterValues => {
            let mut fault = Fault::cwmp(FaultCode::INVALID_ARGUMENTS, None);
            if let Some(detail) = fault.detail.as_mut() {
                detail.fault_string = None;
                detail
                    .set_parameter_values_faults
                    .push(SetParameterValuesFault {
                        parameter_name: s("Device.X"),
                        fault_code: FaultCode(code),
                        fault_string: None,
                    });
            }
            Body::Fault(fault)
        }
        FaultSite::Transfer => TransferComplete {
            command_key: s(""),
            fault_struct: TransferCompleteFaultStruct {
                fault_code: FaultCode(code),
                fault_string: s(""),
            },
            start_time: DateTime::UNKNOWN,
            complete_time: DateTime::UNKNOWN,
        }
        .into(),
        FaultSite::DeploymentUnit => {
            let Body::DUStateChangeComplete(mut complete) = samples::du_state_change_complete(ns)
            else {
                unreachable!()
            };
            complete.results.truncate(1);
            complete.results[0].fault.fault_code = FaultCode(code);
            complete.into()
        }
    };
    Envelope::new(ns, None, body)
}

/// The fault codes `encode` accepts, per context and namespace, are exactly those of the
/// schema: the codec is swept over 0..=10000 against the ranges read from the schemas
/// (`strategies::fault_code_ranges`), and xmllint confirms those ranges on both sides of
/// every boundary (envelopes edited by hand, since `encode` refuses the outside codes).
#[test]
fn fault_code_ranges_match_the_schema() {
    let sites = [
        (FaultSite::Fault, Namespace::ALL.to_vec()),
        (FaultSite::SetParameterValues, Namespace::ALL.to_vec()),
        (FaultSite::Transfer, Namespace::ALL.to_vec()),
        (FaultSite::DeploymentUnit, vec![Namespace::Cwmp1_2]),
    ];
    let mut codec_mismatches = Vec::new();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut files = Vec::new();
    let mut expected = Vec::new();
    for (site, namespaces) in &sites {
        for &ns in namespaces {
            let ranges = strategies::fault_code_ranges(ns, *site);
            let allowed = |c: u32| ranges.iter().any(|r| r.contains(&c));
            let wrong: Vec<u32> = (0..=10_000)
                .filter(|&c| fault_code_envelope(*site, ns, c).encode().is_ok() != allowed(c))
                .collect();
            if !wrong.is_empty() {
                codec_mismatches.push(format!(
                    "{site:?} in {ns}: encode disagrees with the schema ranges {ranges:?} on \
                     {} codes, e.g. {:?}",
                    wrong.len(),
                    &wrong[..wrong.len().min(10)]
                ));
            }
            let base = *ranges[0].start();
            let xml = fault_code_envelope(*site, ns, base)
                .encode()
                .expect("base code");
            let needle = format!("<FaultCode>{base}</FaultCode>");
            assert_eq!(xml.matches(&needle).count(), 1, "{xml}");
            let mut candidates: Vec<u32> = ranges
                .iter()
                .flat_map(|r| {
                    let (a, b) = (*r.start(), *r.end());
                    [a.saturating_sub(1), a, b, b + 1]
                })
                .collect();
            candidates.sort_unstable();
            candidates.dedup();
            for c in candidates {
                let edited = xml.replacen(&needle, &format!("<FaultCode>{c}</FaultCode>"), 1);
                files.push((format!("{site:?}-{}-{c}.xml", common::ns_tag(ns)), edited));
                expected.push(allowed(c));
            }
        }
    }
    let paths = common::write_files(dir.path(), &files);
    let (verdicts, output) = common::validate_each(&paths);
    let schema_mismatches: Vec<String> = files
        .iter()
        .zip(verdicts.iter().zip(&expected))
        .filter(|(_, (valid, expected))| valid != expected)
        .map(|((name, _), (valid, _))| {
            format!(
                "{name}: the schema says {}",
                if *valid { "valid" } else { "invalid" }
            )
        })
        .collect();
    assert!(
        codec_mismatches.is_empty() && schema_mismatches.is_empty(),
        "fault codes:\n{}\n{}\n(validator output:\n{output})",
        codec_mismatches.join("\n"),
        schema_mismatches.join("\n")
    );
}

/// `DateTime` holds years the `time` crate allows (-9999..=9999), but xsd:dateTime as CWMP
/// writes it (four digits, no sign) only 1 to 9999: year 0 is reachable through
/// `from_offset_date_time`, and through an offset that moves 0001-01-01 into year 0.
#[test]
fn refuses_years_outside_1_to_9999() {
    use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};
    let year_zero = DateTime::from_offset_date_time(
        PrimitiveDateTime::new(
            Date::from_calendar_date(0, Month::June, 1).expect("year 0 date"),
            Time::MIDNIGHT,
        )
        .assume_utc(),
    );
    let shifted = DateTime::from_offset_date_time(
        PrimitiveDateTime::new(
            Date::from_calendar_date(1, Month::January, 1).expect("date"),
            Time::MIDNIGHT,
        )
        .assume_offset(UtcOffset::from_hms(1, 0, 0).expect("offset")),
    );
    assert_eq!(shifted.year(), 0);
    let negative = DateTime::from_offset_date_time(
        PrimitiveDateTime::new(
            Date::from_calendar_date(-44, Month::March, 15).expect("date"),
            Time::MIDNIGHT,
        )
        .assume_utc(),
    );
    for t in [year_zero, shifted, negative] {
        let mut inform = sample_inform(Namespace::Cwmp1_0);
        inform.current_time = t;
        expect_invalid(&env(Namespace::Cwmp1_0, inform), "Inform/CurrentTime");
        let values = GetParameterValuesResponse {
            parameter_list: vec![ParameterValueStruct::new(
                "Device.Time.CurrentLocalTime",
                ParameterValue::DateTime(t),
            )],
        };
        expect_invalid(&env(Namespace::Cwmp1_0, values), "Value");
    }
}

#[test]
fn refuses_messages_in_namespaces_without_them() {
    let change = samples::change_du_state(Namespace::Cwmp1_2);
    for ns in [Namespace::Cwmp1_0, Namespace::Cwmp1_1] {
        assert_eq!(
            Envelope::new(ns, None, change.clone()).encode(),
            Err(EncodeError::NotInNamespace {
                item: "ChangeDUState",
                namespace: ns
            })
        );
    }
}

// ---------------------------------------------------------------------------------------
// Accepted by encode, refused by the schema: each of these is a codec bug
// ---------------------------------------------------------------------------------------

/// `encode` promises output that validates against the BBF schemas: `body` in `ns` must
/// either be refused by `encode` or validate. Fails with the validator's complaint.
fn assert_refused_or_valid(name: &str, ns: Namespace, body: Body<'static>) {
    let Ok(xml) = Envelope::new(ns, None, body).encode() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let paths = common::write_files(dir.path(), &[(format!("{name}.xml"), xml)]);
    if let Err(report) = common::validate(&paths) {
        panic!("BUG: encode accepted a value that the BBF schema refuses ({name}):\n{report}");
    }
}

fn one_value(name: &str, value: ParameterValue<'static>) -> Body<'static> {
    GetParameterValuesResponse {
        parameter_list: vec![ParameterValueStruct::new(name.to_owned(), value)],
    }
    .into()
}

/// `ParameterValue::Base64` is written as `xsd:base64Binary`: GenieACS's `xsd:base64` is
/// not an XML Schema type.
#[test]
fn refused_or_valid_base64_value_type() {
    assert_refused_or_valid(
        "base64-value",
        Namespace::Cwmp1_2,
        one_value("Device.X_Blob", ParameterValue::Base64(b"hi".to_vec())),
    );
}

/// `ParameterValue::Other` with a `cwmp:` type: the CWMP schemas define no such type.
#[test]
fn refused_or_valid_vendor_xsi_type() {
    assert_refused_or_valid(
        "vendor-xsi-type",
        Namespace::Cwmp1_2,
        one_value(
            "Device.X_Vendor",
            ParameterValue::Other {
                xsi_type: s("cwmp:X_ACME_Type"),
                text: s("anything"),
            },
        ),
    );
}

/// `ParameterValue::Other` of an XML Schema type whose text does not fit the type.
#[test]
fn refused_or_valid_other_text_not_of_its_type() {
    assert_refused_or_valid(
        "decimal-text-not-decimal",
        Namespace::Cwmp1_2,
        one_value(
            "Device.X_Decimal",
            ParameterValue::Other {
                xsi_type: s("xsd:decimal"),
                text: s("not a number"),
            },
        ),
    );
}

/// `ObjectNameType` is `.*\.`, and XSD `.` matches neither LF nor CR.
#[test]
fn refused_or_valid_object_name_with_line_break() {
    assert_refused_or_valid(
        "object-name-with-newline",
        Namespace::Cwmp1_2,
        AddObject {
            object_name: s("Device.NAT.\nPortMapping."),
            parameter_key: s(""),
        }
        .into(),
    );
}

/// `faultcode` is an `xs:QName`: a name may not start with a digit.
#[test]
fn refused_or_valid_faultcode_not_a_qname() {
    assert_refused_or_valid(
        "faultcode-not-an-ncname",
        Namespace::Cwmp1_2,
        Body::Fault(Fault {
            faultcode: SoapFaultCode::Other(s("9Client")),
            faultstring: s("CWMP fault"),
            detail: None,
        }),
    );
}

/// `InstallOpStruct/URL` is an `xs:anyURI`; xmllint refuses a malformed `%` escape.
#[test]
fn refused_or_valid_install_url_not_a_uri() {
    assert_refused_or_valid(
        "install-url-bad-escape",
        Namespace::Cwmp1_2,
        ChangeDUState {
            operations: vec![Operation::Install(cwmp::InstallOpStruct {
                url: s("http://apps.example.com/du/100%zz.ipk"),
                uuid: None,
                username: None,
                password: None,
                execution_env_ref: None,
            })],
            command_key: None,
        }
        .into(),
    );
}

/// The SOAP MustUnderstand sample: a qualified faultcode and no CWMP detail.
#[test]
fn must_understand_fault_has_no_detail() {
    let Body::Fault(fault) = samples::fault_must_understand(Namespace::Cwmp1_0) else {
        unreachable!()
    };
    assert_eq!(fault.faultcode, SoapFaultCode::MustUnderstand);
    assert!(fault.detail.is_none());
    let xml = Envelope::new(Namespace::Cwmp1_0, None, Body::Fault(fault))
        .encode()
        .expect("encodes");
    assert!(
        xml.contains("<faultcode>soap-env:MustUnderstand</faultcode>"),
        "{xml}"
    );
    assert!(!xml.contains("<detail>"), "{xml}");
}
