//! Invalid and hostile input: every fixture in `fixtures/invalid` gives its specific error,
//! with the element path where there is one, and what was known of the envelope.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use cwmp::{DecodeError, DecodeErrorKind as K, Limits, Namespace};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/invalid")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn error(name: &str) -> DecodeError {
    match cwmp::decode(&fixture(name)) {
        Ok(env) => panic!("{name} decoded to {:?}", env.body.name()),
        Err(e) => e,
    }
}

/// Asserts the kind, the path, and the envelope's ID as known at the failure.
#[track_caller]
fn check(name: &str, matches: impl FnOnce(&K) -> bool, path: &str, id: Option<&str>) {
    let e = error(name);
    assert!(
        matches(e.kind()),
        "{name}: unexpected kind {:?} ({e})",
        e.kind()
    );
    assert_eq!(e.path(), path, "{name}: {e}");
    assert_eq!(e.request_id(), id, "{name}: {e}");
    // Every message says what and where.
    assert!(e.to_string().contains(" at byte "), "{e}");
}

#[test]
fn broken_xml() {
    check(
        "broken-xml-truncated.xml",
        |k| matches!(k, K::Syntax(_) | K::UnexpectedEof),
        "/Envelope/Body/Inform/Event/EventStruct[1]",
        Some("id-7"),
    );
    check(
        "broken-xml-mismatched-end-tag.xml",
        |k| matches!(k, K::Syntax(s) if s.contains("</Commandkey>")),
        "/Envelope/Body/Reboot/CommandKey",
        Some("id-7"),
    );
    check(
        "trailing-content.xml",
        |k| *k == K::TrailingContent,
        "",
        Some("id-7"),
    );
    check(
        "invalid-character-reference.xml",
        |k| matches!(k, K::Syntax(s) if s.contains("&#0;")),
        "/Envelope/Body/Reboot/CommandKey",
        Some("id-7"),
    );
    check(
        "not-an-envelope.xml",
        |k| matches!(k, K::NotEnvelope { found } if found == "html"),
        "",
        None,
    );
    check("not-utf8.xml", |k| *k == K::NotUtf8, "", None);
    // XML 1.0 §3.1: an attribute name appears at most once in a start tag.
    check(
        "duplicate-attribute.xml",
        |k| matches!(k, K::Syntax(s) if s.contains("duplicate attribute xsi:type")),
        "/Envelope/Body/Reboot",
        Some("id-7"),
    );
}

#[test]
fn dtds_and_entities_are_refused() {
    let e = error("doctype-billion-laughs.xml");
    assert_eq!(*e.kind(), K::Doctype);
    // The error points at the DOCTYPE itself, which follows the XML declaration.
    assert_eq!(e.offset(), 22);
    check(
        "doctype-external-entity.xml",
        |k| *k == K::Doctype,
        "",
        None,
    );
    check(
        "undefined-entity.xml",
        |k| matches!(k, K::UndefinedEntity(e) if e == "nbsp"),
        "/Envelope/Body/Reboot/CommandKey",
        Some("id-7"),
    );
    check(
        "processing-instruction.xml",
        |k| matches!(k, K::ProcessingInstruction(t) if t == "evil"),
        "/Envelope/Body",
        Some("id-7"),
    );
}

#[test]
fn wrong_types() {
    let invalid = |expected: &'static str, found: &'static str| move |k: &K| matches!(k, K::InvalidValue { expected: e, found: f } if *e == expected && f == found);
    check(
        "wrong-type-retrycount.xml",
        invalid("xsd:unsignedInt", "many"),
        "/Envelope/Body/Inform/RetryCount",
        Some("id-7"),
    );
    check(
        "wrong-type-currenttime.xml",
        invalid("xsd:dateTime", "yesterday"),
        "/Envelope/Body/Inform/CurrentTime",
        Some("id-7"),
    );
    check(
        "wrong-type-nextlevel.xml",
        invalid("xsd:boolean", "maybe"),
        "/Envelope/Body/GetParameterNames/NextLevel",
        Some("id-7"),
    );
    check(
        "wrong-type-status.xml",
        invalid("Status (0 or 1)", "7"),
        "/Envelope/Body/SetParameterValuesResponse/Status",
        Some("id-7"),
    );
    check(
        "wrong-type-instance-number.xml",
        invalid("xsd:unsignedInt", "-3"),
        "/Envelope/Body/AddObjectResponse/InstanceNumber",
        Some("id-7"),
    );
    check(
        "bad-supported-versions.xml",
        invalid("comma-separated list of CWMP versions", "1.0,one.four"),
        "/Envelope/Header/SupportedCWMPVersions",
        Some("id-7"),
    );
    check(
        "element-in-text.xml",
        |k| matches!(k, K::UnexpectedElement(e) if e == "b"),
        "/Envelope/Body/Reboot/CommandKey",
        Some("id-7"),
    );
}

#[test]
fn missing_required_elements() {
    check(
        "missing-deviceid.xml",
        |k| *k == K::MissingElement("DeviceId"),
        "/Envelope/Body/Inform",
        Some("id-7"),
    );
    check(
        "missing-oui.xml",
        |k| *k == K::MissingElement("OUI"),
        "/Envelope/Body/Inform/DeviceId",
        Some("id-7"),
    );
    check(
        "missing-value.xml",
        |k| *k == K::MissingElement("Value"),
        "/Envelope/Body/SetParameterValues/ParameterList/ParameterValueStruct[1]",
        Some("id-7"),
    );
    check(
        "changedustate-no-operations.xml",
        |k| *k == K::MissingElement("Operations"),
        "/Envelope/Body/ChangeDUState",
        Some("id-7"),
    );
    check(
        "changedustate-missing-xsi-type.xml",
        |k| *k == K::MissingAttribute("xsi:type"),
        "/Envelope/Body/ChangeDUState/Operations[1]",
        Some("id-7"),
    );
    check(
        "changedustate-unknown-operation-type.xml",
        |k| matches!(k, K::UnknownOperationType(t) if t == "RebootOpStruct"),
        "/Envelope/Body/ChangeDUState/Operations[1]",
        Some("id-7"),
    );
    check(
        "missing-body.xml",
        |k| *k == K::MissingBody,
        "/Envelope",
        Some("id-7"),
    );
    check(
        "empty-body.xml",
        |k| *k == K::EmptyBody,
        "/Envelope/Body",
        Some("id-7"),
    );
    check(
        "two-messages.xml",
        |k| *k == K::MultipleMessages,
        "/Envelope/Body",
        Some("id-7"),
    );
    check(
        "duplicate-element.xml",
        |k| *k == K::DuplicateElement("CommandKey"),
        "/Envelope/Body/Reboot/CommandKey",
        Some("id-7"),
    );
    check(
        "duplicate-header-id.xml",
        |k| *k == K::DuplicateElement("ID"),
        "/Envelope/Header/ID",
        Some("a"),
    );
}

#[test]
fn headers_that_must_be_understood() {
    check(
        "must-understand-unknown-header.xml",
        |k| matches!(k, K::MustUnderstand { header } if header == "x:Billing"),
        "/Envelope/Header/Billing",
        Some("id-7"),
    );
    check(
        "must-understand-unknown-cwmp-header.xml",
        |k| matches!(k, K::MustUnderstand { header } if header == "cwmp:Priority"),
        "/Envelope/Header/Priority",
        Some("id-7"),
    );
}

#[test]
fn messages_that_are_not_cwmp() {
    // The ID and namespace come with the error so that the responder can answer with
    // fault 8000 (ACS) or 9000 (CPE) in the peer's namespace.
    let e = error("unknown-method.xml");
    assert!(matches!(e.kind(), K::UnknownMethod { name } if name == "X_ACME_Reflash"));
    assert_eq!(e.request_id(), Some("id-7"));
    assert_eq!(e.namespace(), Some(Namespace::Cwmp1_0));
    check(
        "not-cwmp-namespace.xml",
        |k| matches!(k, K::NotCwmp { namespace, .. } if namespace == "urn:example:acme"),
        "/Envelope/Body",
        Some("id-7"),
    );
    check(
        "unbound-prefix.xml",
        |k| matches!(k, K::UnboundPrefix(p) if p == "acme"),
        "/Envelope/Body",
        Some("id-7"),
    );
    check(
        "soap12-envelope.xml",
        |k| *k == K::SoapVersionMismatch,
        "",
        None,
    );
}

#[test]
fn nesting_deeper_than_the_limit() {
    check(
        "too-deep.xml",
        |k| *k == K::TooDeep { limit: 32 },
        "/Envelope/Body/Reboot",
        Some("id-7"),
    );
}

/// A valid envelope whose ParameterList holds `n` parameters.
fn gpv_response(n: usize) -> Vec<u8> {
    let mut s = String::from(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Body><cwmp:GetParameterValuesResponse><ParameterList>"#,
    );
    for i in 0..n {
        s.push_str(&format!(
            "<ParameterValueStruct><Name>Device.X.{i}</Name><Value>v</Value></ParameterValueStruct>"
        ));
    }
    s.push_str("</ParameterList></cwmp:GetParameterValuesResponse></soap:Body></soap:Envelope>");
    s.into_bytes()
}

#[test]
fn a_100_mb_body_is_refused_before_parsing() {
    let mut body = gpv_response(10);
    body.resize(100 * 1024 * 1024, b' ');
    let started = std::time::Instant::now();
    let e = cwmp::decode(&body).unwrap_err();
    assert_eq!(
        *e.kind(),
        K::TooLarge {
            size: 100 * 1024 * 1024,
            limit: Limits::DEFAULT.max_body_bytes
        }
    );
    // Refused on its size alone: nothing was read (a generous bound, not a benchmark).
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn element_and_attribute_floods_stop_at_the_limits() {
    let limits = Limits {
        max_elements: 1000,
        ..Limits::DEFAULT
    };
    let e = cwmp::decode_with_limits(&gpv_response(400), limits).unwrap_err();
    assert_eq!(*e.kind(), K::TooManyElements { limit: 1000 });
    assert_eq!(
        e.path(),
        "/Envelope/Body/GetParameterValuesResponse/ParameterList",
        "{e}"
    );
    assert!(cwmp::decode_with_limits(&gpv_response(300), limits).is_ok());

    let attrs: String = (0..40).map(|i| format!(" a{i}=\"{i}\"")).collect();
    let body = format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Body><cwmp:Reboot{attrs}><CommandKey/></cwmp:Reboot></soap:Body></soap:Envelope>"#
    );
    let e = cwmp::decode(body.as_bytes()).unwrap_err();
    assert_eq!(*e.kind(), K::TooManyAttributes { limit: 32 });
}

#[test]
fn deep_nesting_cannot_exhaust_the_stack() {
    // Far beyond the limit: refused at depth 33, without recursion on the way.
    let depth = 100_000;
    let body = format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{}{}</soap:Body></soap:Envelope>"#,
        "<x>".repeat(depth),
        "</x>".repeat(depth)
    );
    let e = cwmp::decode(body.as_bytes()).unwrap_err();
    assert!(
        matches!(e.kind(), K::TooDeep { .. } | K::NotCwmp { .. }),
        "{e}"
    );
}
