//! One CWMP session as the CPE sees it (TR-069 §3.7.1, notes §3.3): what the Inform
//! delivered, the CPE requests still to send, HoldRequests, and what to do once the session
//! is over. Also the envelope encoder with the agent's quirks.

use std::collections::VecDeque;

use cwmp::{Body, CwmpVersion, EncodeError, Envelope, Namespace};

use super::AgentQuirks;
use super::events::Event;

/// A request of the CPE (notes §3.3 rule 3), in the order they are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CpeRequest {
    /// TransferComplete for the record with this id.
    TransferComplete(u64),
    /// DUStateChangeComplete for the record with this id.
    DuStateChangeComplete(u64),
    /// AutonomousTransferComplete for the record with this id.
    AutonomousTransferComplete(u64),
    /// GetRPCMethods (TR-069 A.3.1.1; optional for the CPE).
    GetRpcMethods,
}

impl CpeRequest {
    /// The response that answers it.
    pub(crate) fn response_name(self) -> &'static str {
        match self {
            CpeRequest::TransferComplete(_) => "TransferCompleteResponse",
            CpeRequest::DuStateChangeComplete(_) => "DUStateChangeCompleteResponse",
            CpeRequest::AutonomousTransferComplete(_) => "AutonomousTransferCompleteResponse",
            CpeRequest::GetRpcMethods => "GetRPCMethodsResponse",
        }
    }
}

/// A request answered with fault 8005 (Retry request) is sent again later in the session
/// (notes §3.3 rule 6), at most this many times in all.
pub(crate) const MAX_ATTEMPTS: u32 = 3;

/// An open session.
#[derive(Debug)]
pub(crate) struct Session {
    /// The namespace the CPE writes in: the Inform's until the InformResponse, then the
    /// negotiated version's (or the forced one).
    pub namespace: Namespace,
    /// The negotiated version, once the InformResponse arrived.
    pub version: Option<CwmpVersion>,
    /// The InformResponse arrived.
    pub informed: bool,
    /// Queued events the Inform carried (removed from the queue by the InformResponse).
    pub delivered: Vec<Event>,
    /// The Inform carried `0 BOOTSTRAP`.
    pub bootstrap: bool,
    /// TransferComplete records whose events the Inform carried.
    pub transfer_completes: Vec<u64>,
    /// DUStateChangeComplete records whose events the Inform carried.
    pub du_completes: Vec<u64>,
    /// AutonomousTransferComplete records whose event the Inform carried.
    pub autonomous_completes: Vec<u64>,
    /// Requests still to send, with the attempts made so far.
    pub requests: VecDeque<(CpeRequest, u32)>,
    /// Answered with 8005, to try again once the others are through.
    pub deferred: Vec<(CpeRequest, u32)>,
    /// The request awaiting its response.
    pub outstanding: Option<(CpeRequest, u32)>,
    /// HoldRequests was true in the ACS's last message (TR-069 §3.7.1.4; a message without
    /// the header, an empty one included, releases it).
    pub hold: bool,
    /// The empty POST went out since the last request (TR-069 §3.7.1.4 condition 2).
    pub sent_empty: bool,
    /// A request was given up after repeated 8005: retry in a later session.
    pub gave_up: bool,
    /// CommandKeys of the Reboots asked for: the device reboots after the session.
    pub reboot_keys: Vec<String>,
    /// FactoryReset was asked for.
    pub factory_reset: bool,
}

impl Session {
    pub(crate) fn new(namespace: Namespace) -> Session {
        Session {
            namespace,
            version: None,
            informed: false,
            delivered: Vec::new(),
            bootstrap: false,
            transfer_completes: Vec::new(),
            du_completes: Vec::new(),
            autonomous_completes: Vec::new(),
            requests: VecDeque::new(),
            deferred: Vec::new(),
            outstanding: None,
            hold: false,
            sent_empty: false,
            gave_up: false,
            reboot_keys: Vec::new(),
            factory_reset: false,
        }
    }

    /// The next request to send, if requests are not held: the queue first, then those
    /// deferred by 8005.
    pub(crate) fn next_request(&mut self) -> Option<(CpeRequest, u32)> {
        if self.hold {
            return None;
        }
        if let Some(next) = self.requests.pop_front() {
            return Some(next);
        }
        if self.deferred.is_empty() {
            return None;
        }
        let deferred = std::mem::take(&mut self.deferred);
        for (request, attempts) in deferred {
            if attempts < MAX_ATTEMPTS {
                self.requests.push_back((request, attempts));
            } else {
                self.gave_up = true;
            }
        }
        self.requests.pop_front()
    }

    /// Whether a request still waits (held, queued or deferred).
    pub(crate) fn has_requests(&self) -> bool {
        !self.requests.is_empty() || self.deferred.iter().any(|(_, n)| *n < MAX_ATTEMPTS)
    }
}

/// The methods this CPE implements (TR-069 A.3.2, A.4.1), for GetRPCMethodsResponse.
/// GetOptions and SetVouchers are not among them: they answer 9000.
pub(crate) const CPE_METHODS: [&str; 18] = [
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
    "GetQueuedTransfers",
    "GetAllQueuedTransfers",
    "ScheduleInform",
    "ScheduleDownload",
    "CancelTransfer",
    "ChangeDUState",
];

/// The methods of [`CPE_METHODS`] that exist in `namespace`.
pub(crate) fn supported_methods(namespace: Namespace) -> Vec<&'static str> {
    CPE_METHODS
        .into_iter()
        .filter(|m| Body::method_since(m).is_some_and(|since| since <= namespace))
        .collect()
}

/// Encodes an envelope, then applies the quirks: no XML declaration, and `arrayType`
/// counts one more than the items. cwmp's encoder has no option for the latter, so the
/// count is rewritten in the text: `soap-enc:arrayType="` can only occur in the encoder's
/// own start tags, since character data escapes `"`. The schemas type `arrayType` as a
/// plain string (the stand-in `soapenc-stub.xsd` and the real SOAP encoding schema alike),
/// so such envelopes still validate; cwmp's decoder ignores the count (notes §2.4, §9 #6).
pub(crate) fn encode(
    envelope: &Envelope<'_>,
    quirks: &AgentQuirks,
) -> Result<Vec<u8>, EncodeError> {
    let mut text = envelope.encode()?;
    if quirks.no_xml_declaration
        && text.starts_with("<?xml")
        && let Some(end) = text.find("?>")
    {
        let rest = text.get(end + 2..).unwrap_or("").trim_start();
        text = rest.to_owned();
    }
    if quirks.array_type_mismatch {
        text = skew_array_counts(&text);
    }
    Ok(text.into_bytes())
}

/// Adds one to every `soap-enc:arrayType="type[n]"` count.
pub(crate) fn skew_array_counts(text: &str) -> String {
    const ATTR: &str = "soap-enc:arrayType=\"";
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(pos) = rest.find(ATTR) {
        let (before, after) = rest.split_at(pos + ATTR.len());
        out.push_str(before);
        let value_end = after.find('"').unwrap_or(after.len());
        let value = after.get(..value_end).unwrap_or("");
        match value
            .strip_suffix(']')
            .and_then(|v| v.rsplit_once('['))
            .and_then(|(ty, n)| Some((ty, n.parse::<u64>().ok()?)))
        {
            Some((ty, n)) => {
                out.push_str(ty);
                out.push('[');
                out.push_str(&n.saturating_add(1).to_string());
                out.push(']');
            }
            None => out.push_str(value),
        }
        rest = after.get(value_end..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_counts_are_skewed() {
        let text = r#"<a soap-enc:arrayType="cwmp:EventStruct[2]"><b soap-enc:arrayType="xsd:string[0]">x[1]"</b>"#;
        assert_eq!(
            skew_array_counts(text),
            r#"<a soap-enc:arrayType="cwmp:EventStruct[3]"><b soap-enc:arrayType="xsd:string[1]">x[1]"</b>"#
        );
        assert_eq!(skew_array_counts("plain"), "plain");
    }

    #[test]
    fn methods_by_namespace() {
        let v10 = supported_methods(Namespace::Cwmp1_0);
        assert!(v10.contains(&"Download") && !v10.contains(&"GetAllQueuedTransfers"));
        let v11 = supported_methods(Namespace::Cwmp1_1);
        assert!(v11.contains(&"GetAllQueuedTransfers") && !v11.contains(&"ChangeDUState"));
        assert_eq!(
            supported_methods(Namespace::Cwmp1_2).len(),
            CPE_METHODS.len()
        );
    }

    #[test]
    fn deferred_requests_come_back_a_bounded_number_of_times() {
        let mut s = Session::new(Namespace::Cwmp1_2);
        s.requests.push_back((CpeRequest::GetRpcMethods, 0));
        let mut sent = 0;
        while let Some((r, n)) = s.next_request() {
            sent += 1;
            s.deferred.push((r, n + 1));
        }
        assert_eq!(sent, MAX_ATTEMPTS);
        assert!(s.gave_up);
        assert!(!s.has_requests());
        s.hold = true;
        s.requests.push_back((CpeRequest::GetRpcMethods, 0));
        assert_eq!(s.next_request(), None);
        assert!(s.has_requests());
    }
}
