//! Property tests of the codec: for every message and every namespace that defines it,
//! `decode(encode(envelope)) == envelope` (with either boolean style), `into_owned` keeps
//! the value, and decoding never panics, whatever the bytes: arbitrary input, or valid
//! encodings with flipped bits, truncations, insertions, deletions and duplications.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::samples;
use common::strategies;
use cwmp::{BooleanStyle, EncodeOptions, Envelope, Limits, Namespace};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

/// Cases per message for the round trip and for the mutations.
const CASES: u32 = 256;

const DIGITS: EncodeOptions = EncodeOptions {
    booleans: BooleanStyle::Digits,
};

/// Runs a property with `cases` cases, without writing regression files, and fails with the
/// shrunk input.
fn run<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    // PROPTEST_CASES, when set, overrides the per-test count (for longer local runs).
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    match runner.run(&strategy, test) {
        Ok(()) => {}
        Err(TestError::Fail(reason, value)) => {
            panic!("{name}: {reason}\nminimal failing input:\n{value:#?}")
        }
        Err(TestError::Abort(reason)) => panic!("{name}: aborted: {reason}"),
    }
}

/// `decode(encode(envelope)) == envelope` in both boolean styles, and the decoded value
/// survives `into_owned`.
fn check_roundtrip(envelope: &Envelope<'_>) -> Result<(), TestCaseError> {
    for options in [EncodeOptions::default(), DIGITS] {
        let xml = envelope.encode_with(&options).map_err(|e| {
            TestCaseError::fail(format!(
                "encode ({options:?}) refused a valid envelope: {e}"
            ))
        })?;
        let decoded = cwmp::decode(xml.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("decode failed ({options:?}): {e}\n{xml}")))?;
        prop_assert_eq!(
            &decoded,
            envelope,
            "decode(encode(envelope)) differs ({:?}); encoded:\n{}",
            options,
            xml
        );
        let owned = decoded.clone().into_owned();
        prop_assert_eq!(&owned, &decoded, "into_owned changed the envelope");
    }
    Ok(())
}

macro_rules! roundtrip_tests {
    ($($name:ident),* $(,)?) => {
        /// One property per message: random envelopes in every namespace that defines it.
        mod roundtrip {
            use super::*;
            $(
                #[test]
                fn $name() {
                    let since = samples::$name(Namespace::Cwmp1_2).since();
                    run(
                        stringify!($name),
                        CASES,
                        strategies::envelope(since, strategies::$name),
                        |envelope| check_roundtrip(&envelope),
                    );
                }
            )*
        }

        /// One property per message: mutated encodings never make decode panic.
        mod mutated {
            use super::*;
            $(
                #[test]
                fn $name() {
                    let since = samples::$name(Namespace::Cwmp1_2).since();
                    run(
                        stringify!($name),
                        CASES,
                        (
                            strategies::envelope(since, strategies::$name),
                            strategies::encode_options(),
                            vec(mutation(), 1..6),
                        ),
                        |(envelope, options, mutations)| check_mutations(&envelope, options, &mutations),
                    );
                }
            )*
        }
    };
}
common::with_messages!(roundtrip_tests);

/// The hand-written samples round-trip in every namespace that defines them, with the ID
/// header, with every header (cwmp-1-2) and with the headers of the older namespaces.
#[test]
fn samples_roundtrip() {
    let mut failures = Vec::new();
    for ns in Namespace::ALL {
        for (name, body) in samples::all(ns) {
            if body.since() > ns {
                continue;
            }
            let header = if ns == Namespace::Cwmp1_2 {
                samples::full_header(ns)
            } else {
                samples::legacy_header(ns)
            };
            for envelope in [
                samples::envelope(ns, body.clone()),
                Envelope {
                    namespace: ns,
                    header,
                    body: body.clone(),
                },
                Envelope::new(ns, None, body),
            ] {
                if let Err(e) = check_roundtrip(&envelope) {
                    failures.push(format!("{name} in {ns}: {e}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} sample round trips failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every sample decodes to a value whose `into_owned` equals it (the decoded strings
/// borrow from the input where they can).
#[test]
fn decoded_samples_into_owned() {
    for ns in Namespace::ALL {
        for (name, body) in samples::all(ns) {
            if body.since() > ns {
                continue;
            }
            let xml = samples::envelope(ns, body)
                .encode()
                .unwrap_or_else(|e| panic!("{name} in {ns}: {e}"));
            let decoded = cwmp::decode(xml.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let owned: Envelope<'static> = decoded.clone().into_owned();
            assert_eq!(owned, decoded, "{name} in {ns}");
            assert_eq!(
                cwmp::IntoOwned::into_owned(decoded.header.clone()),
                decoded.header
            );
        }
    }
}

/// `ParameterValue::Other` with a type the schemas do not define for values (SOAP-encoding
/// types, vendor types) or with a modeled type: `encode` refuses it, so nothing it accepts
/// can come back from `decode` as a different value.
#[test]
fn other_values_that_would_not_read_back_are_refused() {
    use std::borrow::Cow;
    for (xsi_type, text) in [
        ("soap-enc:int", "5"),
        ("soap-enc:string", "text"),
        ("soap-enc:base64", "aGk="),
        ("soap-enc:int", "five"),
        ("cwmp:X_ACME_Type", "x"),
        ("xsd:int", "5"),
        ("xsd:base64", "aGk="),
    ] {
        let value = cwmp::ParameterValue::Other {
            xsi_type: Cow::Borrowed(xsi_type),
            text: Cow::Borrowed(text),
        };
        let envelope = Envelope::new(
            Namespace::Cwmp1_2,
            None,
            cwmp::GetParameterValuesResponse {
                parameter_list: vec![cwmp::ParameterValueStruct::new("Device.X", value)],
            },
        );
        match envelope.encode() {
            Err(cwmp::EncodeError::Invalid { path, .. }) => assert_eq!(
                path, "/Envelope/Body/GetParameterValuesResponse/ParameterList[1]/Value",
                "{xsi_type}"
            ),
            other => panic!("Other {{ {xsi_type}, {text:?} }}: expected a refusal, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Decoding never panics
// ---------------------------------------------------------------------------------------

/// Fragments worth inserting into an envelope.
const SNIPPETS: &[&str] = &[
    "<",
    ">",
    "&",
    "\"",
    "'",
    "/>",
    "</",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "&#xD800;",
    "&#65;",
    "&bogus;",
    "&#",
    "<![CDATA[x]]>",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<!-- c -->",
    "<?pi x?>",
    "<?xml version=\"1.0\"?>",
    "<!DOCTYPE x [<!ENTITY e \"ee\">]>",
    "<x>",
    "</x>",
    "<x/>",
    "<cwmp:Inform>",
    "</soap-env:Body>",
    "<soap-env:Body>",
    "<soap-env:Header></soap-env:Header>",
    "<soap-env:Fault><faultcode>Client</faultcode></soap-env:Fault>",
    "<cwmp:ID soap-env:mustUnderstand=\"1\">x</cwmp:ID>",
    "<cwmp:X soap-env:mustUnderstand=\"1\"/>",
    " xmlns:cwmp=\"urn:dslforum-org:cwmp-1-4\"",
    " xmlns=\"urn:dslforum-org:cwmp-1-0\"",
    " xmlns:xsd=\"\"",
    " xsi:type=\"xsd:int\"",
    " xsi:type=\"cwmp:UninstallOpStruct\"",
    " xsi:type=\"undeclared:thing\"",
    " xsi:nil=\"true\"",
    " soap-enc:arrayType=\"cwmp:ParameterValueStruct[99999999999]\"",
    " a=\"1\" a=\"2\"",
    "\u{FEFF}",
    "\u{0}",
    "é",
    "𝄞",
    "\r\n",
    "-1",
    "99999999999999999999999",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.9999999999+14:00",
    "true",
];

/// One edit of an encoded envelope.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR a byte with a non-zero mask.
    Flip(Index, u8),
    /// Cut the input at a point.
    Truncate(Index),
    /// Insert raw bytes.
    Insert(Index, Vec<u8>),
    /// Insert one of [`SNIPPETS`].
    Snippet(Index, &'static str),
    /// Delete up to `n` bytes.
    Delete(Index, usize),
    /// Repeat a range of up to `n` bytes.
    Duplicate(Index, usize),
    /// Swap two ranges of up to `n` bytes (reorders elements and text).
    Swap(Index, Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1u8..).prop_map(|(i, m)| Mutation::Flip(i, m)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        4 => (any::<Index>(), select(SNIPPETS)).prop_map(|(i, s)| Mutation::Snippet(i, s)),
        2 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        2 => (any::<Index>(), 1usize..256).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        1 => (any::<Index>(), any::<Index>(), 1usize..64).prop_map(|(a, b, n)| Mutation::Swap(a, b, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |i: &Index, len: usize| i.index(len + 1);
    match m {
        Mutation::Flip(i, mask) => {
            if !bytes.is_empty() {
                let p = i.index(bytes.len());
                bytes[p] ^= mask;
            }
        }
        Mutation::Truncate(i) => bytes.truncate(at(i, bytes.len())),
        Mutation::Insert(i, b) => {
            let p = at(i, bytes.len());
            bytes.splice(p..p, b.iter().copied());
        }
        Mutation::Snippet(i, s) => {
            let p = at(i, bytes.len());
            bytes.splice(p..p, s.bytes());
        }
        Mutation::Delete(i, n) => {
            let p = at(i, bytes.len());
            let end = (p + n).min(bytes.len());
            bytes.drain(p..end);
        }
        Mutation::Duplicate(i, n) => {
            let p = at(i, bytes.len());
            let end = (p + n).min(bytes.len());
            let copy = bytes[p..end].to_vec();
            bytes.splice(end..end, copy);
        }
        Mutation::Swap(a, b, n) => {
            let (a, b) = (at(a, bytes.len()), at(b, bytes.len()));
            let (lo, hi) = (a.min(b), a.max(b));
            let n = (*n).min(hi - lo).min(bytes.len() - hi);
            if n > 0 {
                let first = bytes[lo..lo + n].to_vec();
                let second = bytes[hi..hi + n].to_vec();
                bytes.splice(hi..hi + n, first);
                bytes.splice(lo..lo + n, second);
            }
        }
    }
}

/// Decodes `input` with the default limits and with tight ones; whatever comes out is
/// copied and re-encoded. Nothing may panic; results are ignored.
fn decode_anything(input: &[u8]) {
    if let Ok(envelope) = cwmp::decode(input) {
        let owned = envelope.clone().into_owned();
        let _ = owned.encode();
        let _ = envelope.encode_with(&DIGITS);
    }
    let tight = Limits {
        max_body_bytes: 4096,
        max_depth: 6,
        max_elements: 40,
        max_attributes: 4,
    };
    let _ = cwmp::decode_with_limits(input, tight);
}

fn check_mutations(
    envelope: &Envelope<'_>,
    options: EncodeOptions,
    mutations: &[Mutation],
) -> Result<(), TestCaseError> {
    let xml = envelope
        .encode_with(&options)
        .map_err(|e| TestCaseError::fail(format!("encode refused a valid envelope: {e}")))?;
    let mut bytes = xml.into_bytes();
    for m in mutations {
        apply(&mut bytes, m);
        decode_anything(&bytes);
    }
    Ok(())
}

#[test]
fn arbitrary_bytes_never_panic() {
    run("arbitrary_bytes", 512, vec(any::<u8>(), 0..2048), |bytes| {
        decode_anything(&bytes);
        Ok(())
    });
}

#[test]
fn arbitrary_text_never_panics() {
    run("arbitrary_text", 512, ".{0,512}", |text: String| {
        decode_anything(text.as_bytes());
        Ok(())
    });
}

/// Markup soup: SNIPPETS and element names glued together, inside an envelope or not.
#[test]
fn markup_soup_never_panics() {
    const PROLOGUE: &str = "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\" \
        xmlns:cwmp=\"urn:dslforum-org:cwmp-1-2\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
        xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soap-env:Body>";
    let token = prop_oneof![
        select(SNIPPETS).prop_map(str::to_owned),
        select(
            &[
                "<cwmp:Inform>",
                "</cwmp:Inform>",
                "<DeviceId>",
                "</DeviceId>",
                "<ParameterList>",
                "</ParameterList>",
                "<ParameterValueStruct>",
                "</ParameterValueStruct>",
                "<Name>",
                "</Name>",
                "<Value xsi:type=\"xsd:dateTime\">",
                "<Value xsi:type=\"xsd:base64\">",
                "<Value>",
                "</Value>",
                "<cwmp:ChangeDUState>",
                "<Operations xsi:type=\"cwmp:InstallOpStruct\">",
                "</Operations>",
                "<cwmp:GetParameterValuesResponse>",
                "</cwmp:GetParameterValuesResponse>",
                "</soap-env:Body></soap-env:Envelope>",
            ][..]
        )
        .prop_map(str::to_owned),
        "[a-zA-Z0-9 =:./-]{0,12}",
    ];
    run(
        "markup_soup",
        512,
        (any::<bool>(), vec(token, 0..40)),
        |(wrapped, tokens)| {
            let mut text = if wrapped {
                PROLOGUE.to_owned()
            } else {
                String::new()
            };
            text.push_str(&tokens.concat());
            decode_anything(text.as_bytes());
            Ok(())
        },
    );
}
