//! Quirk profiles: field behaviours a run can imitate (`--quirk NAME`, repeatable), to
//! see how an ACS copes with the CPEs operators actually have.

use cpe::agent::AgentQuirks;
use cwmp::Namespace;

use crate::net::Quirks as HttpQuirks;

/// Every quirk by name, with what it does.
pub const QUIRKS: &[(&str, &str)] = &[
    (
        "no-xml-declaration",
        "envelopes start at <soap:Envelope, without <?xml ...?>",
    ),
    (
        "cwmp-1-3",
        "write every envelope in the urn:dslforum-org:cwmp-1-3 namespace",
    ),
    (
        "cwmp-1-4",
        "write every envelope in the urn:dslforum-org:cwmp-1-4 namespace",
    ),
    (
        "array-type-mismatch",
        "SOAP arrays carry arrayType counts that disagree with their items",
    ),
    (
        "basic-always",
        "send Basic credentials with every request, even over plain HTTP",
    ),
    (
        "first-inform-periodic",
        "the first Inform says 2 PERIODIC instead of 0 BOOTSTRAP",
    ),
    (
        "give-up-on-non-2xx",
        "end the session as failed on any non-2xx answer, 401 included",
    ),
    (
        "new-connection-per-request",
        "open a new TCP connection for every request of a session",
    ),
];

/// The quirks of a run, split by the layer that applies them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuirkSet {
    /// Applied by the agent (envelopes, events).
    pub agent: AgentQuirks,
    /// Applied by the HTTP client.
    pub http: HttpQuirks,
    /// The namespace URI written on the wire instead of `cwmp-1-2`: `cwmp-1-3` and
    /// `cwmp-1-4` are not BBF namespaces (the schemas stop at 1-2, notes §2.1) but some
    /// CPEs use them, so the agent encodes in 1-2 and the envelope is rewritten on its way
    /// out.
    pub wire_namespace: Option<&'static str>,
}

/// `urn:dslforum-org:cwmp-1-3`, seen in the field.
pub const CWMP_1_3: &str = "urn:dslforum-org:cwmp-1-3";
/// `urn:dslforum-org:cwmp-1-4`, seen in the field.
pub const CWMP_1_4: &str = "urn:dslforum-org:cwmp-1-4";

impl QuirkSet {
    /// An envelope as it goes on the wire: with [`QuirkSet::wire_namespace`], the CWMP
    /// 1-2 namespace URI replaced by it.
    pub fn on_wire(&self, body: Vec<u8>) -> Vec<u8> {
        let Some(ns) = self.wire_namespace else {
            return body;
        };
        let from = Namespace::Cwmp1_2.uri().as_bytes();
        let mut out = Vec::with_capacity(body.len() + 8);
        let mut rest = &body[..];
        while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(ns.as_bytes());
            rest = &rest[at + from.len()..];
        }
        out.extend_from_slice(rest);
        out
    }
}

/// A quirk name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown quirk {0:?}; known: {known}", known = QUIRKS.iter().map(|q| q.0).collect::<Vec<_>>().join(", "))]
pub struct UnknownQuirk(pub String);

impl QuirkSet {
    /// The set of these names (each also comma-separated lists).
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<QuirkSet, UnknownQuirk> {
        let mut q = QuirkSet::default();
        for name in names
            .iter()
            .flat_map(|n| n.as_ref().split(','))
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            match name {
                "no-xml-declaration" => q.agent.no_xml_declaration = true,
                "cwmp-1-3" => q.wire_namespace = Some(CWMP_1_3),
                "cwmp-1-4" => q.wire_namespace = Some(CWMP_1_4),
                "array-type-mismatch" => q.agent.array_type_mismatch = true,
                "basic-always" => q.http.basic_always = true,
                "first-inform-periodic" => q.agent.first_inform_periodic = true,
                "give-up-on-non-2xx" => q.http.give_up_on_non_2xx = true,
                "new-connection-per-request" => q.http.new_connection_per_request = true,
                other => return Err(UnknownQuirk(other.to_owned())),
            }
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_quirk_parses_and_changes_something() {
        for (name, _) in QUIRKS {
            let q = QuirkSet::parse(&[name]).unwrap();
            assert_ne!(q, QuirkSet::default(), "{name}");
        }
        let q = QuirkSet::parse(&["basic-always,cwmp-1-4", " no-xml-declaration "]).unwrap();
        assert!(q.http.basic_always && q.agent.no_xml_declaration);
        assert_eq!(q.wire_namespace, Some(CWMP_1_4));
        assert_eq!(
            q.on_wire(b"<a xmlns:cwmp=\"urn:dslforum-org:cwmp-1-2\"/>".to_vec()),
            b"<a xmlns:cwmp=\"urn:dslforum-org:cwmp-1-4\"/>"
        );
        assert_eq!(QuirkSet::default().on_wire(b"x".to_vec()), b"x");
        let err = QuirkSet::parse(&["nope"]).unwrap_err();
        assert!(err.to_string().contains("basic-always"), "{err}");
    }
}
