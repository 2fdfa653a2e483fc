//! Real-world shapes the decoder accepts (notes §9), each checked for what it decodes to.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;
use std::path::PathBuf;

use cwmp::{Body, CwmpVersion, Envelope, FaultCode, Namespace, ParameterValue, SoapFaultCode};

fn read(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lenient")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Decodes a fixture; the closure gets the envelope.
fn with(name: &str, f: impl FnOnce(Envelope<'_>)) {
    let bytes = read(name);
    let utf8 = cwmp::transcode(&bytes, None).unwrap();
    match cwmp::decode(&utf8) {
        Ok(env) => f(env),
        Err(e) => panic!("{name}: {e}"),
    }
}

#[test]
fn every_lenient_fixture_decodes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lenient");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        with(path.file_name().unwrap().to_str().unwrap(), |_| {});
        count += 1;
    }
    assert!(count >= 20);
}

#[test]
fn no_xml_declaration_bom_comments_and_crlf() {
    for name in ["no-xml-declaration.xml", "byte-order-mark.xml"] {
        with(name, |env| {
            let Body::Reboot(r) = env.body else {
                panic!("{name}")
            };
            assert_eq!(r.command_key, "k");
        });
    }
    with("comments-whitespace-crlf.xml", |env| {
        let Body::Reboot(r) = env.body else { panic!() };
        // XML end-of-line handling turns CRLF into LF (XML 1.0 §2.11).
        assert_eq!(r.command_key, "line1\nline2");
    });
}

#[test]
fn nonstandard_cwmp_namespaces_are_the_1_2_namespace() {
    with("namespace-cwmp-1-3.xml", |env| {
        assert_eq!(env.namespace, Namespace::Cwmp1_2)
    });
    with("namespace-cwmp-1-4.xml", |env| {
        assert_eq!(env.namespace, Namespace::Cwmp1_2);
        assert_eq!(
            env.header.supported_cwmp_versions.as_deref(),
            Some(&CwmpVersion::ALL[..])
        );
        let negotiated =
            cwmp::version::negotiate(env.namespace, &env.header, &CwmpVersion::ALL).unwrap();
        assert_eq!(negotiated.version, CwmpVersion::V1_4);
        // The answer goes out in the real namespace, never in cwmp-1-4.
        assert_eq!(negotiated.namespace.uri(), "urn:dslforum-org:cwmp-1-2");
    });
}

#[test]
fn array_counts_are_ignored() {
    with("arraytype-count-disagrees.xml", |env| {
        let Body::Inform(inform) = env.body else {
            panic!()
        };
        assert_eq!(inform.event.len(), 1);
        assert_eq!(inform.parameter_list.len(), 2);
    });
    with("arraytype-missing.xml", |env| {
        let Body::GetParameterValues(gpv) = env.body else {
            panic!()
        };
        assert_eq!(gpv.parameter_names, ["Device.DeviceInfo.", "Device.Time."]);
    });
}

#[test]
fn unknown_headers_and_elements_are_skipped() {
    with("unknown-header-not-must-understand.xml", |env| {
        assert_eq!(env.header.id.as_deref(), Some("id-7"));
        assert!(matches!(env.body, Body::Reboot(_)));
    });
    with("unknown-extra-elements.xml", |env| {
        let Body::Inform(inform) = env.body else {
            panic!()
        };
        assert_eq!(inform.device_id.serial_number, "SN000001");
        assert_eq!(inform.max_envelopes, 1);
    });
}

#[test]
fn namespaces_by_uri_never_by_prefix() {
    with("default-namespace-body.xml", |env| {
        let Body::Reboot(r) = env.body else { panic!() };
        assert_eq!(r.command_key, "k");
    });
    // `cwmp` bound to SOAP, `soap` to CWMP 1-1, `xsd` and `xsi` swapped.
    with("swapped-prefixes.xml", |env| {
        assert_eq!(env.namespace, Namespace::Cwmp1_1);
        assert_eq!(env.header.id.as_deref(), Some("sw-1"));
        let Body::GetParameterValuesResponse(r) = env.body else {
            panic!()
        };
        assert_eq!(r.parameter_list[0].value, ParameterValue::Int(-12));
    });
    with("xml-schema-1999-namespaces.xml", |env| {
        let Body::GetParameterValuesResponse(r) = env.body else {
            panic!()
        };
        assert_eq!(r.parameter_list[0].value, ParameterValue::Boolean(true));
    });
}

#[test]
fn value_types_undeclared_missing_unknown_and_misfit() {
    with("undeclared-xsd-prefix.xml", |env| {
        let Body::GetParameterValuesResponse(r) = env.body else {
            panic!()
        };
        let values: Vec<_> = r.parameter_list.iter().map(|p| p.value.clone()).collect();
        assert_eq!(
            values,
            [
                ParameterValue::UnsignedInt(42),
                ParameterValue::String(Cow::Borrowed("no type")),
                ParameterValue::Other {
                    xsi_type: "xsd:unsignedInt".into(),
                    text: "-1".into()
                },
                ParameterValue::Other {
                    xsi_type: "decimal".into(),
                    text: "1.5".into()
                },
                ParameterValue::Base64(b"hi".to_vec()),
            ]
        );
    });
}

#[test]
fn header_names_in_any_case_and_deprecated_headers() {
    with("header-names-any-case.xml", |env| {
        assert_eq!(env.header.id.as_deref(), Some("id-7"));
        assert_eq!(env.header.session_timeout, Some(60));
        assert_eq!(env.header.no_more_requests, Some(true));
        assert_eq!(
            cwmp::version::implied_version(env.namespace, &env.header),
            CwmpVersion::V1_3
        );
    });
    with("booleans-as-digits.xml", |env| {
        assert_eq!(env.header.hold_requests, Some(false));
        let Body::GetParameterNames(g) = env.body else {
            panic!()
        };
        assert!(g.next_level);
    });
}

#[test]
fn entities_cdata_and_charsets() {
    with("entities-and-cdata.xml", |env| {
        let Body::SetParameterValues(spv) = env.body else {
            panic!()
        };
        assert_eq!(
            spv.parameter_list[0].value,
            ParameterValue::String("a & b <c> \"d\" 'e' café €".into())
        );
        assert_eq!(
            spv.parameter_list[1].value,
            ParameterValue::String("<raw> & stuff tail".into())
        );
        assert_eq!(spv.parameter_key, "k&1");
    });
    with("latin1-declared.xml", |env| {
        let Body::Reboot(r) = env.body else { panic!() };
        assert_eq!(r.command_key, "café");
    });
}

#[test]
fn genieacs_empty_notification() {
    with("empty-notification.xml", |env| {
        let Body::SetParameterAttributes(spa) = env.body else {
            panic!()
        };
        let s = &spa.parameter_list[0];
        assert!(!s.notification_change);
        assert_eq!(s.notification, cwmp::Notification::Off);
        assert_eq!(s.access_list, ["Subscriber"]);
    });
}

#[test]
fn faults_qualified_unqualified_and_without_detail() {
    with("fault-qualified-code-no-faultstring.xml", |env| {
        let Body::Fault(f) = env.body else { panic!() };
        assert_eq!(f.faultcode, SoapFaultCode::Client);
        assert_eq!(f.faultstring, "");
        let d = f.detail.unwrap();
        assert_eq!(d.fault_code, FaultCode::INVALID_ARGUMENTS);
        assert_eq!(d.set_parameter_values_faults.len(), 2);
        assert_eq!(
            d.set_parameter_values_faults[0].fault_code,
            FaultCode::INVALID_PARAMETER_VALUE
        );
        assert_eq!(d.set_parameter_values_faults[1].fault_string, None);
    });
    // A pre-1.4 CPE refusing our UseCWMPVersion header answers like this.
    with("must-understand-fault-without-detail.xml", |env| {
        let Body::Fault(f) = env.body else { panic!() };
        assert_eq!(f.faultcode, SoapFaultCode::MustUnderstand);
        assert_eq!(f.detail, None);
    });
}
