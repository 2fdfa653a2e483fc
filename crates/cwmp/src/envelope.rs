//! The SOAP envelope: CWMP headers (notes §2.3), one message, and the SOAP Fault (§2.7).

use std::borrow::Cow;

use serde::Serialize;

use crate::codec::{Codec, Validate, Validator, check};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, excerpt};
use crate::fault::{CwmpFault, Fault, SoapFaultCode};
use crate::limits::Limits;
use crate::message::Body;
use crate::namespace::{CwmpVersion, Namespace, format_version_list, parse_version_list};
use crate::xml::reader::{Cursor, Ns, Tag};
use crate::xml::writer::{EncodeOptions, Writer};

/// The CWMP header elements of an envelope. Absent elements are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Header<'a> {
    /// `cwmp:ID`: correlates a response with its request; a responder copies it.
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    pub id: Option<Cow<'a, str>>,
    /// `cwmp:HoldRequests` (ACS to CPE, deprecated since Amendment 5): while true the CPE
    /// sends no requests.
    #[serde(rename = "HoldRequests", skip_serializing_if = "Option::is_none")]
    pub hold_requests: Option<bool>,
    /// `cwmp:SessionTimeout` (CPE to ACS in an Inform, CWMP 1.3): seconds the CPE waits for
    /// an HTTP response.
    #[serde(rename = "SessionTimeout", skip_serializing_if = "Option::is_none")]
    pub session_timeout: Option<u32>,
    /// `cwmp:SupportedCWMPVersions` (CPE to ACS in an Inform, CWMP 1.4).
    #[serde(
        rename = "SupportedCWMPVersions",
        skip_serializing_if = "Option::is_none"
    )]
    pub supported_cwmp_versions: Option<Vec<CwmpVersion>>,
    /// `cwmp:UseCWMPVersion` (ACS to CPE in an InformResponse, CWMP 1.4).
    #[serde(rename = "UseCWMPVersion", skip_serializing_if = "Option::is_none")]
    pub use_cwmp_version: Option<CwmpVersion>,
    /// `cwmp:NoMoreRequests` (CPE to ACS, TR-069 Issue 1 only, deprecated since Amendment
    /// 1): decoded for the record; an ACS ignores it.
    #[serde(rename = "NoMoreRequests", skip_serializing_if = "Option::is_none")]
    pub no_more_requests: Option<bool>,
}

impl Header<'_> {
    fn is_empty(&self) -> bool {
        *self == Header::default()
    }
}

/// A CWMP envelope: namespace, headers and one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope<'a> {
    /// The CWMP namespace: the one received, or the one to write.
    pub namespace: Namespace,
    /// The headers.
    pub header: Header<'a>,
    /// The message.
    pub body: Body<'a>,
}

impl<'a> Envelope<'a> {
    /// An envelope with the given namespace, `cwmp:ID` and message, and no other header.
    pub fn new(namespace: Namespace, id: Option<Cow<'a, str>>, body: impl Into<Body<'a>>) -> Self {
        Envelope {
            namespace,
            header: Header {
                id,
                ..Header::default()
            },
            body: body.into(),
        }
    }

    /// The CWMP version this envelope speaks, as far as it says: `UseCWMPVersion` if
    /// present, else the highest known version in `SupportedCWMPVersions`, else the version
    /// its namespace implies ([`version::implied_version`](crate::version::implied_version)).
    pub fn cwmp_version(&self) -> CwmpVersion {
        let listed = self
            .header
            .supported_cwmp_versions
            .as_ref()
            .and_then(|versions| {
                versions
                    .iter()
                    .filter(|v| v.namespace().is_some())
                    .max()
                    .copied()
            });
        self.header
            .use_cwmp_version
            .or(listed)
            .unwrap_or_else(|| crate::version::implied_version(self.namespace, &self.header))
    }

    /// Writes the envelope. Fails when the message or a header does not exist in the
    /// namespace, or a value breaks the namespace's schema: what this returns validates
    /// against the BBF schemas.
    pub fn encode(&self) -> Result<String, EncodeError> {
        self.encode_with(&EncodeOptions::default())
    }

    /// [`encode`](Self::encode) with options.
    pub fn encode_with(&self, options: &EncodeOptions) -> Result<String, EncodeError> {
        self.validate()?;
        let mut out = String::with_capacity(512);
        let mut w = Writer::new(&mut out, *options);
        w.envelope_start(self.namespace);
        if !self.header.is_empty() {
            encode_header(&self.header, &mut w);
        }
        w.open("soap-env:Body");
        self.body.encode_method(&mut w);
        w.close("soap-env:Body");
        w.envelope_end();
        Ok(out)
    }

    /// Checks the envelope against the schema of its namespace without writing it.
    pub fn validate(&self) -> Result<(), EncodeError> {
        let ns = self.namespace;
        let h = &self.header;
        // SessionTimeout (CWMP 1.3) and SupportedCWMPVersions (1.4) are defined in the 1-2
        // namespace only. UseCWMPVersion answers in the namespace of the version chosen,
        // which may be older (notes §2.3), so it may stand in any namespace, but must agree
        // with it.
        if ns < Namespace::Cwmp1_2 {
            if h.session_timeout.is_some() {
                return Err(EncodeError::NotInNamespace {
                    item: "SessionTimeout",
                    namespace: ns,
                });
            }
            if h.supported_cwmp_versions.is_some() {
                return Err(EncodeError::NotInNamespace {
                    item: "SupportedCWMPVersions",
                    namespace: ns,
                });
            }
        }
        if self.body.since() > ns {
            return Err(EncodeError::NotInNamespace {
                item: self.body.name(),
                namespace: ns,
            });
        }
        let mut v = Validator::new(ns);
        v.at("Envelope", |v| {
            v.at("Header", |v| {
                if let Some(version) = h.use_cwmp_version
                    && version.namespace() != Some(ns)
                {
                    v.at("UseCWMPVersion", |v| {
                        v.fail(format!("CWMP {version} is not written in namespace {ns}"))
                    });
                }
                if let Some(id) = &h.id {
                    v.at("ID", |v| id.validate(v));
                }
            });
            v.at("Body", |v| self.body.validate(v));
        });
        v.finish()
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Envelope<'static> {
        Envelope {
            namespace: self.namespace,
            header: crate::IntoOwned::into_owned(self.header),
            body: self.body.into_owned(),
        }
    }
}

impl crate::IntoOwned for Header<'_> {
    type Owned = Header<'static>;
    fn into_owned(self) -> Header<'static> {
        Header {
            id: self.id.map(|id| Cow::Owned(id.into_owned())),
            hold_requests: self.hold_requests,
            session_timeout: self.session_timeout,
            supported_cwmp_versions: self.supported_cwmp_versions,
            use_cwmp_version: self.use_cwmp_version,
            no_more_requests: self.no_more_requests,
        }
    }
}

impl crate::IntoOwned for Fault<'_> {
    type Owned = Fault<'static>;
    fn into_owned(self) -> Fault<'static> {
        Fault {
            faultcode: self.faultcode.into_owned(),
            faultstring: Cow::Owned(self.faultstring.into_owned()),
            detail: crate::IntoOwned::into_owned(self.detail),
        }
    }
}

fn encode_header(h: &Header<'_>, w: &mut Writer<'_>) {
    // mustUnderstand per the schemas: 1 for ID, HoldRequests and UseCWMPVersion, 0 for
    // SessionTimeout and SupportedCWMPVersions (a pre-1.4 ACS must be able to ignore it).
    fn element(w: &mut Writer<'_>, name: &str, must_understand: bool, text: &str) {
        w.open_with(
            name,
            "soap-env:mustUnderstand",
            if must_understand { "1" } else { "0" },
        );
        w.text(text);
        w.close(name);
    }
    w.open("soap-env:Header");
    if let Some(id) = &h.id {
        element(w, "cwmp:ID", true, id);
    }
    if let Some(hold) = h.hold_requests {
        let text = w.boolean(hold);
        element(w, "cwmp:HoldRequests", true, text);
    }
    if let Some(timeout) = h.session_timeout {
        element(w, "cwmp:SessionTimeout", false, &timeout.to_string());
    }
    if let Some(versions) = &h.supported_cwmp_versions {
        element(
            w,
            "cwmp:SupportedCWMPVersions",
            false,
            &format_version_list(versions),
        );
    }
    if let Some(version) = h.use_cwmp_version {
        element(w, "cwmp:UseCWMPVersion", true, &version.to_string());
    }
    if let Some(no_more) = h.no_more_requests {
        let text = w.boolean(no_more);
        element(w, "cwmp:NoMoreRequests", false, text);
    }
    w.close("soap-env:Header");
}

pub(crate) fn encode_fault(f: &Fault<'_>, w: &mut Writer<'_>) {
    w.open("soap-env:Fault");
    // TR-069 writes Client and Server unqualified (notes §2.7); the SOAP-level codes are
    // written as QNames in the envelope namespace, as SOAP 1.1 §4.4.1 defines them.
    let code = match &f.faultcode {
        SoapFaultCode::MustUnderstand => Cow::Borrowed("soap-env:MustUnderstand"),
        SoapFaultCode::VersionMismatch => Cow::Borrowed("soap-env:VersionMismatch"),
        other => Cow::Borrowed(other.as_str()),
    };
    w.leaf("faultcode", &code);
    w.leaf("faultstring", &f.faultstring);
    if let Some(detail) = &f.detail {
        w.open("detail");
        detail.encode("cwmp:Fault", w);
        w.close("detail");
    }
    w.close("soap-env:Fault");
}

pub(crate) fn validate_fault(f: &Fault<'_>, v: &mut Validator) {
    v.at("faultcode", |v| {
        if let SoapFaultCode::Other(code) = &f.faultcode {
            // An unqualified QName, i.e. an NCName, dotted like `Client.Authentication`.
            let mut chars = code.chars();
            let ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if !ok {
                v.fail(format!(
                    "{:?} is not an unqualified fault code",
                    excerpt(code)
                ));
            }
        }
    });
    v.at("faultstring", |v| check::xml_chars(&f.faultstring, v));
    if let Some(detail) = &f.detail {
        v.at("detail/Fault", |v| detail.validate(v));
    }
}

/// Decodes an envelope: UTF-8 (see [`transcode`](crate::transcode) for other charsets),
/// within `limits`.
pub(crate) fn decode(input: &[u8], limits: Limits) -> Result<Envelope<'_>, DecodeError> {
    if input.len() > limits.max_body_bytes {
        return Err(DecodeError::new(
            DecodeErrorKind::TooLarge {
                size: input.len(),
                limit: limits.max_body_bytes,
            },
            0,
        ));
    }
    // SIMD validation is several times faster than std's on ASCII-heavy XML; std runs only
    // on failure, to say where.
    let text = match simdutf8::basic::from_utf8(input) {
        Ok(text) => text,
        Err(_) => {
            let at = std::str::from_utf8(input)
                .err()
                .map_or(0, |e| e.valid_up_to());
            return Err(DecodeError::new(DecodeErrorKind::NotUtf8, at as u64));
        }
    };
    // A byte-order mark is legal before the XML declaration.
    let (text, base) = match text.strip_prefix('\u{FEFF}') {
        Some(rest) => (rest, 3),
        None => (text, 0),
    };
    let mut cur = Cursor::new(text, base, limits);
    decode_envelope(&mut cur).map_err(|e| e.with_context(cur.id.clone(), cur.namespace))
}

fn decode_envelope<'a>(cur: &mut Cursor<'a>) -> Result<Envelope<'a>, DecodeError> {
    let root = cur.root()?;
    match (root.ns, root.local) {
        (Ns::SoapEnv, "Envelope") => {}
        (Ns::Soap12Env, _) => return Err(cur.error(DecodeErrorKind::SoapVersionMismatch)),
        _ => {
            return Err(cur.error(DecodeErrorKind::NotEnvelope {
                found: excerpt(root.qname),
            }));
        }
    }
    let mut header = None;
    let mut body = None;
    while let Some(tag) = cur.next_child()? {
        match (tag.ns, tag.local) {
            (Ns::SoapEnv, "Header") if header.is_none() && body.is_none() => {
                header =
                    Some(decode_header(cur).map_err(|e| e.within("Header").within("Envelope"))?);
            }
            (Ns::SoapEnv, "Body") if body.is_none() => {
                body =
                    Some(decode_body(cur, &tag).map_err(|e| e.within("Body").within("Envelope"))?);
            }
            (Ns::SoapEnv, "Header" | "Body") => {
                let name = if tag.local == "Header" {
                    "Header"
                } else {
                    "Body"
                };
                return Err(cur
                    .error(DecodeErrorKind::DuplicateElement(name))
                    .within("Envelope"));
            }
            // SOAP 1.1 §4.1.1 allows further elements after the Body.
            _ => cur.skip()?,
        }
    }
    cur.finish()?;
    let body = body.ok_or_else(|| {
        DecodeError::new(DecodeErrorKind::MissingBody, root.offset).within("Envelope")
    })?;
    let (body, body_ns) = body;
    // A SOAP Fault without CWMP detail or header says its version only by the namespace
    // the envelope declares; failing that, the oldest.
    let namespace = body_ns
        .or(cur.namespace)
        .or(cur.declared_cwmp)
        .unwrap_or(Namespace::Cwmp1_0);
    Ok(Envelope {
        namespace,
        header: header.unwrap_or_default(),
        body,
    })
}

fn decode_header<'a>(cur: &mut Cursor<'a>) -> Result<Header<'a>, DecodeError> {
    let mut h = Header::default();
    while let Some(tag) = cur.next_child()? {
        let Ns::Cwmp(ns) = tag.ns else {
            not_understood(cur, &tag)?;
            continue;
        };
        cur.namespace.get_or_insert(ns);
        // Header names are matched without regard to case: GenieACS looks for
        // `sessionTimeout`, so CPEs written against it may send that (notes §9 #2).
        let local = tag.local;
        let name = [
            "ID",
            "HoldRequests",
            "SessionTimeout",
            "SupportedCWMPVersions",
            "UseCWMPVersion",
            "NoMoreRequests",
        ]
        .into_iter()
        .find(|n| n.eq_ignore_ascii_case(local));
        let Some(name) = name else {
            not_understood(cur, &tag)?;
            continue;
        };
        let text = cur.text().map_err(|e| e.within(name))?;
        let invalid = |expected: &'static str, text: &str| {
            DecodeError::new(
                DecodeErrorKind::InvalidValue {
                    expected,
                    found: excerpt(text),
                },
                tag.offset,
            )
            .within(name)
        };
        let duplicate =
            || DecodeError::new(DecodeErrorKind::DuplicateElement(name), tag.offset).within(name);
        match name {
            "ID" => {
                if h.id.is_some() {
                    return Err(duplicate());
                }
                cur.id = Some(text.to_string());
                h.id = Some(text);
            }
            "HoldRequests" | "NoMoreRequests" => {
                let value =
                    crate::codec::parse_bool(&text).ok_or_else(|| invalid("xsd:boolean", &text))?;
                let slot = if name == "HoldRequests" {
                    &mut h.hold_requests
                } else {
                    &mut h.no_more_requests
                };
                if slot.replace(value).is_some() {
                    return Err(duplicate());
                }
            }
            "SessionTimeout" => {
                let value = text
                    .trim()
                    .parse()
                    .map_err(|_| invalid("xsd:unsignedInt", &text))?;
                if h.session_timeout.replace(value).is_some() {
                    return Err(duplicate());
                }
            }
            "SupportedCWMPVersions" => {
                let value = parse_version_list(&text)
                    .map_err(|_| invalid("comma-separated list of CWMP versions", &text))?;
                if h.supported_cwmp_versions.replace(value).is_some() {
                    return Err(duplicate());
                }
            }
            _ => {
                let value = text
                    .parse()
                    .map_err(|_| invalid("CWMP version (major.minor)", &text))?;
                if h.use_cwmp_version.replace(value).is_some() {
                    return Err(duplicate());
                }
            }
        }
    }
    Ok(h)
}

/// A header element this implementation does not know: ignored, unless it must be
/// understood (SOAP 1.1 §4.2.3), which is refused.
fn not_understood(cur: &mut Cursor<'_>, tag: &Tag<'_>) -> Result<(), DecodeError> {
    if tag.must_understand {
        return Err(DecodeError::new(
            DecodeErrorKind::MustUnderstand {
                header: excerpt(tag.qname),
            },
            tag.offset,
        )
        .within(tag.local));
    }
    cur.skip()
}

/// The message, and the CWMP namespace it is written in (when it says).
type BodyAndNamespace<'a> = (Body<'a>, Option<Namespace>);

fn decode_body<'a>(
    cur: &mut Cursor<'a>,
    body_tag: &Tag<'a>,
) -> Result<BodyAndNamespace<'a>, DecodeError> {
    let mut message = None;
    while let Some(tag) = cur.next_child()? {
        if message.is_some() {
            return Err(DecodeError::new(
                DecodeErrorKind::MultipleMessages,
                tag.offset,
            ));
        }
        message = Some(match tag.ns {
            Ns::SoapEnv if tag.local == "Fault" => {
                let fault = decode_fault(cur, &tag).map_err(|e| e.within("Fault"))?;
                (Body::Fault(fault), None)
            }
            Ns::Cwmp(ns) => {
                cur.namespace = Some(ns);
                match Body::decode_method(cur, &tag) {
                    Some(result) => (result.map_err(|e| e.within(tag.local))?, Some(ns)),
                    None => {
                        return Err(DecodeError::new(
                            DecodeErrorKind::UnknownMethod {
                                name: excerpt(tag.local),
                            },
                            tag.offset,
                        ));
                    }
                }
            }
            _ => {
                return Err(DecodeError::new(
                    DecodeErrorKind::NotCwmp {
                        element: excerpt(tag.qname),
                        namespace: excerpt(&cur.uri_of(tag.qname)),
                    },
                    tag.offset,
                ));
            }
        });
    }
    message.ok_or_else(|| DecodeError::new(DecodeErrorKind::EmptyBody, body_tag.offset))
}

fn decode_fault<'a>(cur: &mut Cursor<'a>, fault_tag: &Tag<'a>) -> Result<Fault<'a>, DecodeError> {
    let start = fault_tag.offset;
    let mut faultcode = None;
    let mut faultstring = None;
    let mut detail = None;
    // faultcode, faultstring and detail are unqualified (SOAP 1.1 §4.4); any namespace is
    // accepted, as some stacks qualify them.
    while let Some(tag) = cur.next_child()? {
        match tag.local {
            "faultcode" if faultcode.is_none() => {
                faultcode = Some(SoapFaultCode::parse(
                    cur.text().map_err(|e| e.within("faultcode"))?,
                ));
            }
            "faultstring" if faultstring.is_none() => {
                faultstring = Some(cur.text().map_err(|e| e.within("faultstring"))?);
            }
            "detail" if detail.is_none() => {
                detail = Some(decode_detail(cur).map_err(|e| e.within("detail"))?);
            }
            "faultcode" | "faultstring" | "detail" => {
                let name = match tag.local {
                    "faultcode" => "faultcode",
                    "faultstring" => "faultstring",
                    _ => "detail",
                };
                return Err(
                    DecodeError::new(DecodeErrorKind::DuplicateElement(name), tag.offset)
                        .within(name),
                );
            }
            _ => cur.skip()?,
        }
    }
    Ok(Fault {
        faultcode: faultcode
            .ok_or_else(|| DecodeError::new(DecodeErrorKind::MissingElement("faultcode"), start))?,
        // Some CPEs omit faultstring although SOAP requires it; the CWMP detail is what
        // matters, so it is accepted as empty.
        faultstring: faultstring.unwrap_or(Cow::Borrowed("")),
        detail: detail.flatten(),
    })
}

fn decode_detail<'a>(cur: &mut Cursor<'a>) -> Result<Option<CwmpFault<'a>>, DecodeError> {
    let mut fault = None;
    while let Some(tag) = cur.next_child()? {
        match (tag.ns, tag.local) {
            (Ns::Cwmp(ns), "Fault") if fault.is_none() => {
                cur.namespace.get_or_insert(ns);
                fault = Some(CwmpFault::decode(cur, &tag).map_err(|e| e.within("Fault"))?);
            }
            _ => cur.skip()?,
        }
    }
    Ok(fault)
}
