//! The session flow (TR-069 §3.7.1, notes §3.3): the Inform, the ACS's answers, the CPE's
//! requests, HoldRequests, 8005, the end of the session and what follows it.

use std::borrow::Cow;
use std::time::Duration;

use cwmp::event_code as code;
use cwmp::{
    Body, CwmpVersion, EncodeError, Envelope, EventStruct, Fault, FaultCode, Header, Inform,
    MessageKind, Namespace,
};

use super::events::{self, Event};
use super::session::{self, CpeRequest, Session};
use super::{
    Agent, GetRpcMethodsPolicy, Post, SESSION_TIMEOUT_SECS, SessionStep, event_allowed, fault,
    millis, retry,
};
use crate::data_model::DataModel;
use crate::time::Time;

impl<M: DataModel> Agent<M> {
    /// The CWMP versions claimed, ascending (CWMP 1.0 only when none are configured).
    pub(super) fn claimed_versions(&self) -> Vec<CwmpVersion> {
        let mut v: Vec<CwmpVersion> = self
            .config
            .versions
            .iter()
            .copied()
            .filter(|v| v.namespace().is_some())
            .collect();
        v.sort();
        v.dedup();
        if v.is_empty() {
            v.push(CwmpVersion::V1_0);
        }
        v
    }

    /// The Inform's namespace: the forced one, else the highest claimed version's (notes
    /// §2.3 step 1).
    pub(super) fn inform_namespace(&self) -> Namespace {
        self.config.quirks.namespace.unwrap_or_else(|| {
            self.claimed_versions()
                .last()
                .and_then(|v| v.namespace())
                .unwrap_or(Namespace::Cwmp1_0)
        })
    }

    pub(super) fn next_message_id(&mut self) -> String {
        self.message_id = self.message_id.wrapping_add(1);
        format!("cpe-{}", self.message_id)
    }

    pub(super) fn start_session(&mut self, now: Time) -> Result<Vec<u8>, EncodeError> {
        let namespace = self.inform_namespace();
        let mut session = Session::new(namespace);
        // Queued events first (at most 60, leaving room for the derived ones).
        let mut events: Vec<Event> = Vec::new();
        for e in self.state.events.ordered() {
            if events.len() < 60 && event_allowed(namespace, &e.code) {
                events.push(e);
            }
        }
        // A passive notification rides along (notes §4.4).
        if self.model.pending_changes().any && !events.iter().any(|e| e.code == code::VALUE_CHANGE)
        {
            events.push(Event::new(code::VALUE_CHANGE, ""));
        }
        session.delivered = events.clone();
        session.bootstrap = events.iter().any(|e| e.code == code::BOOTSTRAP);
        // Events of the TransferComplete and DUStateChangeComplete records.
        let mut derived: Vec<Event> = Vec::new();
        for r in &self.state.transfer_completes {
            let m = Event::new(r.method.event_code(), &r.command_key);
            let need = usize::from(session.transfer_completes.is_empty())
                + usize::from(!derived.contains(&m));
            if events.len() + derived.len() + need <= events::MAX_EVENTS
                && event_allowed(namespace, &m.code)
            {
                if session.transfer_completes.is_empty() {
                    derived.push(Event::new(code::TRANSFER_COMPLETE, ""));
                }
                if !derived.contains(&m) {
                    derived.push(m);
                }
                session.transfer_completes.push(r.id);
            }
        }
        // AutonomousTransferComplete exists from CWMP 1.1 (cwmp-1-1.xsd) on.
        if namespace >= Namespace::Cwmp1_1 {
            for r in &self.state.autonomous_completes {
                let need = usize::from(session.autonomous_completes.is_empty());
                if events.len() + derived.len() + need <= events::MAX_EVENTS {
                    if session.autonomous_completes.is_empty() {
                        derived.push(Event::new(code::AUTONOMOUS_TRANSFER_COMPLETE, ""));
                    }
                    session.autonomous_completes.push(r.id);
                }
            }
        }
        if namespace >= Namespace::Cwmp1_2 {
            for r in &self.state.du_completes {
                let m = Event::new(
                    code::M_CHANGE_DU_STATE,
                    r.command_key.as_deref().unwrap_or(""),
                );
                let need = usize::from(session.du_completes.is_empty())
                    + usize::from(!derived.contains(&m));
                if events.len() + derived.len() + need <= events::MAX_EVENTS {
                    if session.du_completes.is_empty() {
                        derived.push(Event::new(code::DU_STATE_CHANGE_COMPLETE, ""));
                    }
                    if !derived.contains(&m) {
                        derived.push(m);
                    }
                    session.du_completes.push(r.id);
                }
            }
        }
        events.extend(derived);
        let mut list: Vec<EventStruct<'static>> = Vec::with_capacity(events.len());
        for e in &events {
            // The quirk: a BOOTSTRAP announced as PERIODIC.
            let code = if self.config.quirks.first_inform_periodic && e.code == code::BOOTSTRAP {
                code::PERIODIC
            } else {
                e.code.as_str()
            };
            if !list
                .iter()
                .any(|s| s.event_code == code && s.command_key == e.command_key)
            {
                list.push(EventStruct {
                    event_code: Cow::Owned(code.to_owned()),
                    command_key: Cow::Owned(e.command_key.clone()),
                });
            }
        }
        let codes: Vec<&str> = list.iter().map(|e| &*e.event_code).collect();
        let mut parameter_list = self.model.inform_parameters(now);
        parameter_list.extend(self.model.inform_parameter_extras(&codes, now));
        let inform = Inform {
            device_id: self.model.device_id(),
            event: list,
            max_envelopes: 1,
            current_time: now.to_datetime(),
            retry_count: self.state.retry_count,
            parameter_list,
        };
        let claimed = self.claimed_versions();
        let highest = claimed.last().copied().unwrap_or(CwmpVersion::V1_0);
        let in_1_2 = namespace == Namespace::Cwmp1_2;
        let header = Header {
            id: Some(Cow::Owned(self.next_message_id())),
            // CWMP 1.4: the list of versions (mustUnderstand 0); CWMP 1.3: SessionTimeout,
            // which also tells a pre-1.4 ACS that the CPE speaks 1.3 (notes §2.3).
            supported_cwmp_versions: (in_1_2
                && highest >= CwmpVersion::V1_4
                && !self.config.versions.is_empty())
            .then(|| claimed.clone()),
            session_timeout: (in_1_2 && highest >= CwmpVersion::V1_3)
                .then_some(SESSION_TIMEOUT_SECS),
            ..Header::default()
        };
        let envelope = Envelope {
            namespace,
            header,
            body: Body::Inform(inform),
        };
        let bytes = session::encode(&envelope, &self.config.quirks)?;
        self.session = Some(session);
        self.stats.informs += 1;
        Ok(bytes)
    }

    pub(super) fn fail_session(
        &mut self,
        now: Time,
        reason: String,
        retry_after: Option<Duration>,
    ) -> SessionStep {
        self.end_session(now, false, retry_after);
        SessionStep::Failed(reason)
    }

    /// After a failure: what is not retried goes, RetryCount grows and the retry waits
    /// per TR-069 §3.2.1.1, no less than the ACS's Retry-After.
    pub(super) fn schedule_retry(&mut self, now: Time, retry_after: Option<Duration>) {
        self.state.events.after_failed_session();
        self.state.retry_count = self.state.retry_count.saturating_add(1);
        if self.needs_session() {
            let (m, k) = self.retry_settings(now);
            let wait = retry::random_wait_millis(&mut self.rng, self.state.retry_count, m, k);
            let wait = wait.max(retry_after.map_or(0, millis));
            self.state.retry_at = Some(now.plus_millis(wait));
        } else {
            // Nothing left to deliver (a lone CONNECTION REQUEST): nothing to retry.
            self.state.retry_at = None;
        }
    }

    /// The session is over: its after-effects (TR-069: Reboot, FactoryReset, transfers and
    /// diagnostics start once the session has ended).
    pub(super) fn end_session(&mut self, now: Time, ok: bool, retry_after: Option<Duration>) {
        let Some(session) = self.session.take() else {
            return;
        };
        let pending = &mut self.state.pending_boot;
        for key in session.reboot_keys {
            if !pending.reboot_keys.contains(&key) {
                pending.reboot_keys.push(key);
            }
        }
        pending.factory_reset |= session.factory_reset;
        if ok {
            self.stats.sessions_ok += 1;
            // TR-069 A.3.3.1: RetryCount is zero after a successful session.
            self.state.retry_count = 0;
            self.state.retry_at = None;
            if session.gave_up && self.needs_session() {
                // A request the ACS kept refusing with 8005 waits like a first retry.
                let (m, k) = self.retry_settings(now);
                let wait = retry::random_wait_millis(&mut self.rng, 1, m, k);
                self.state.retry_at = Some(now.plus_millis(wait));
            }
        } else {
            self.stats.sessions_failed += 1;
            self.schedule_retry(now, retry_after);
        }
        for t in &mut self.state.transfers {
            t.after_session = false;
        }
        for d in &mut self.state.du_changes {
            d.after_session = false;
        }
        if std::mem::take(&mut self.cr_in_session) {
            self.push_event(code::CONNECTION_REQUEST, "");
        }
        self.check_acs_url();
        self.schedule_diagnostics(now);
        self.refresh_periodic(now);
        self.advance_du(now);
        if self.state.pending_boot.is_pending() {
            self.start_reboot(now);
        }
    }

    /// The device goes off for the reboot duration.
    pub(super) fn start_reboot(&mut self, now: Time) {
        self.abort_running();
        self.next_periodic = None;
        self.reboot_until = Some(now.plus_millis(millis(self.config.reboot_duration)));
    }

    pub(super) fn on_undecodable(&mut self, error: &cwmp::DecodeError, now: Time) -> SessionStep {
        let expecting_request = self
            .session
            .as_ref()
            .is_some_and(|s| s.informed && s.outstanding.is_none());
        if expecting_request {
            // An ACS request this CPE cannot read but can answer: a method it does not
            // know (9000, notes §3.3 rule 7), or a header it must understand (SOAP 1.1
            // §4.2.3).
            let answer = match error.kind() {
                cwmp::DecodeErrorKind::UnknownMethod { name } => Some(fault(
                    FaultCode::METHOD_NOT_SUPPORTED,
                    format!("{name} is not supported"),
                )),
                cwmp::DecodeErrorKind::MustUnderstand { header } => {
                    Some(Body::Fault(Fault::must_understand(header)))
                }
                _ => None,
            };
            if let Some(body) = answer {
                self.count_rpc("unknown");
                let id = error.request_id().map(|s| Cow::Owned(s.to_owned()));
                return self.respond(id, body, now);
            }
        }
        self.fail_session(
            now,
            format!("undecodable answer from the ACS: {error}"),
            None,
        )
    }

    pub(super) fn on_empty(&mut self, now: Time) -> SessionStep {
        let Some(session) = self.session.as_mut() else {
            return SessionStep::Failed("no session is open".into());
        };
        if !session.informed {
            return self.fail_session(now, "empty answer to the Inform".into(), None);
        }
        if let Some((request, _)) = session.outstanding {
            let reason = format!("empty answer where {} was due", request.response_name());
            return self.fail_session(now, reason, None);
        }
        // An empty message carries no HoldRequests: requests are free again.
        session.hold = false;
        if session.has_requests() {
            return self.next_post();
        }
        if session.sent_empty {
            // TR-069 §3.7.1.4: nothing more either way.
            self.end_session(now, true, None);
            return SessionStep::Done;
        }
        session.sent_empty = true;
        SessionStep::Post(Post::Empty)
    }

    pub(super) fn on_message(&mut self, envelope: Envelope<'static>, now: Time) -> SessionStep {
        let hold = envelope.header.hold_requests == Some(true);
        let Some(session) = self.session.as_mut() else {
            return SessionStep::Failed("no session is open".into());
        };
        if !session.informed {
            match &envelope.body {
                Body::InformResponse(_) => {}
                Body::Fault(f) => {
                    let code = f
                        .code()
                        .map_or_else(|| "no code".to_owned(), |c| c.to_string());
                    let reason = format!("the ACS answered the Inform with a fault ({code})");
                    return self.fail_session(now, reason, None);
                }
                other => {
                    let reason = format!("expected InformResponse, got {}", other.name());
                    return self.fail_session(now, reason, None);
                }
            }
            let claimed = self.claimed_versions();
            let version =
                match cwmp::version::accept(envelope.namespace, &envelope.header, &claimed) {
                    Ok(v) => v,
                    Err(e) => return self.fail_session(now, e.to_string(), None),
                };
            let Some(session) = self.session.as_mut() else {
                return SessionStep::Failed("no session is open".into());
            };
            session.informed = true;
            session.version = Some(version);
            session.namespace = self
                .config
                .quirks
                .namespace
                .or(version.namespace())
                .unwrap_or(envelope.namespace);
            session.hold = hold;
            // The InformResponse delivers the Inform's events (notes §4.4 "removed when").
            self.state.events.remove_delivered(&session.delivered);
            if session.bootstrap {
                self.state.bootstrapped = true;
            }
            self.model.clear_changes();
            for id in &session.transfer_completes {
                session
                    .requests
                    .push_back((CpeRequest::TransferComplete(*id), 0));
            }
            if session.namespace >= Namespace::Cwmp1_1 {
                for id in &session.autonomous_completes {
                    session
                        .requests
                        .push_back((CpeRequest::AutonomousTransferComplete(*id), 0));
                }
            } else {
                // The ACS chose CWMP 1.0, which has no AutonomousTransferComplete: the
                // records can never be delivered to it (and would keep a session due).
                self.state.autonomous_completes.clear();
            }
            if session.namespace >= Namespace::Cwmp1_2 {
                for id in &session.du_completes {
                    session
                        .requests
                        .push_back((CpeRequest::DuStateChangeComplete(*id), 0));
                }
            }
            let rpc_methods = match self.config.get_rpc_methods {
                GetRpcMethodsPolicy::Never => false,
                GetRpcMethodsPolicy::OnBootstrap => session.bootstrap,
                GetRpcMethodsPolicy::EverySession => true,
            };
            if rpc_methods {
                session.requests.push_back((CpeRequest::GetRpcMethods, 0));
            }
            return self.next_post();
        }
        if let Some((request, attempts)) = session.outstanding.take() {
            session.hold = hold;
            match (request, &envelope.body) {
                (CpeRequest::TransferComplete(id), Body::TransferCompleteResponse(_)) => {
                    self.state.transfer_completes.retain(|r| r.id != id);
                }
                (CpeRequest::DuStateChangeComplete(id), Body::DUStateChangeCompleteResponse(_)) => {
                    self.state.du_completes.retain(|r| r.id != id);
                }
                (
                    CpeRequest::AutonomousTransferComplete(id),
                    Body::AutonomousTransferCompleteResponse(_),
                ) => {
                    self.state.autonomous_completes.retain(|r| r.id != id);
                }
                (CpeRequest::GetRpcMethods, Body::GetRPCMethodsResponse(_)) => {}
                (_, Body::Fault(f)) if f.code() == Some(FaultCode::ACS_RETRY_REQUEST) => {
                    // notes §3.3 rule 6: not a failure; try again later in the session.
                    session.deferred.push((request, attempts.saturating_add(1)));
                }
                (_, Body::Fault(f)) => {
                    let code = f
                        .code()
                        .map_or_else(|| "no code".to_owned(), |c| c.to_string());
                    let reason = format!(
                        "the ACS answered {} with a fault ({code})",
                        request.response_name().trim_end_matches("Response")
                    );
                    return self.fail_session(now, reason, None);
                }
                (_, other) => {
                    let reason =
                        format!("expected {}, got {}", request.response_name(), other.name());
                    return self.fail_session(now, reason, None);
                }
            }
            return self.next_post();
        }
        // The CPE sent a response or the empty POST: the ACS sends a request.
        session.hold = hold;
        let is_acs_request = envelope.body.kind() == MessageKind::Request
            && matches!(
                envelope.body.caller(),
                Some(cwmp::Caller::Acs | cwmp::Caller::Either)
            );
        if !is_acs_request {
            let reason = format!("unexpected {} from the ACS", envelope.body.name());
            return self.fail_session(now, reason, None);
        }
        // The answer echoes the request's `cwmp:ID`. cwmp's decoder lets through characters
        // XML 1.0 cannot carry (a raw U+0001); no answer could be written, so the request
        // is not carried out and the session fails.
        let namespace = session.namespace;
        if let Err(e) = echo_check(namespace, envelope.header.id.clone()) {
            let reason = format!(
                "cannot answer {}: its cwmp:ID cannot be echoed ({e})",
                envelope.body.name()
            );
            return self.fail_session(now, reason, None);
        }
        let body = self.handle_acs_request(&envelope.body, now);
        self.respond(envelope.header.id, body, now)
    }

    /// POSTs a response to an ACS request, echoing its `cwmp:ID`. An answer that cannot
    /// be encoded (a value the data model gave that XML 1.0 cannot carry) becomes fault
    /// 9002 (Internal error); when not even that can be written (the ID), the session
    /// fails.
    pub(super) fn respond(
        &mut self,
        id: Option<Cow<'static, str>>,
        body: Body<'static>,
        now: Time,
    ) -> SessionStep {
        let namespace = self
            .session
            .as_ref()
            .map_or(Namespace::Cwmp1_0, |s| s.namespace);
        let name = body.name();
        let envelope = Envelope::new(namespace, id.clone(), body);
        let bytes = session::encode(&envelope, &self.config.quirks).or_else(|e| {
            let fallback = Envelope::new(
                namespace,
                id,
                fault(
                    FaultCode::INTERNAL_ERROR,
                    format!(
                        "the answer cannot be encoded: {}",
                        printable(&e.to_string())
                    ),
                ),
            );
            session::encode(&fallback, &self.config.quirks)
        });
        match bytes {
            Ok(bytes) => SessionStep::Post(Post::Response(bytes)),
            Err(e) => {
                let reason =
                    format!("the answer ({name}) cannot be encoded, not even as fault 9002: {e}");
                self.fail_session(now, reason, None)
            }
        }
    }

    /// After the InformResponse or a response to a CPE request: the next request, or the
    /// empty POST.
    pub(super) fn next_post(&mut self) -> SessionStep {
        loop {
            let Some(session) = self.session.as_mut() else {
                return SessionStep::Failed("no session is open".into());
            };
            let Some((request, attempts)) = session.next_request() else {
                session.sent_empty = true;
                return SessionStep::Post(Post::Empty);
            };
            let namespace = session.namespace;
            match self.encode_request(request, namespace) {
                Some(bytes) => {
                    if let Some(session) = self.session.as_mut() {
                        session.outstanding = Some((request, attempts));
                        session.sent_empty = false;
                    }
                    return SessionStep::Post(Post::Request(bytes));
                }
                // The record vanished or cannot be written in this namespace: skip it.
                None => continue,
            }
        }
    }

    pub(super) fn encode_request(
        &mut self,
        request: CpeRequest,
        namespace: Namespace,
    ) -> Option<Vec<u8>> {
        let id = Some(Cow::Owned(self.next_message_id()));
        let encode = |body: Body<'static>| {
            session::encode(
                &Envelope::new(namespace, id.clone(), body),
                &self.config.quirks,
            )
            .ok()
        };
        match request {
            CpeRequest::TransferComplete(rid) => {
                let record = self.state.transfer_completes.iter().find(|r| r.id == rid)?;
                let bytes = encode(Body::TransferComplete(record.message(false)))
                    .or_else(|| encode(Body::TransferComplete(record.message(true))));
                if bytes.is_none() {
                    // A record no envelope can carry would make a session due forever.
                    self.state.transfer_completes.retain(|r| r.id != rid);
                }
                bytes
            }
            CpeRequest::DuStateChangeComplete(rid) => {
                let record = self.state.du_completes.iter().find(|r| r.id == rid)?;
                let bytes = encode(Body::DUStateChangeComplete(record.message()));
                if bytes.is_none() {
                    self.state.du_completes.retain(|r| r.id != rid);
                }
                bytes
            }
            CpeRequest::AutonomousTransferComplete(rid) => {
                let record = self
                    .state
                    .autonomous_completes
                    .iter()
                    .find(|r| r.id == rid)?;
                let bytes = encode(Body::AutonomousTransferComplete(record.message()));
                if bytes.is_none() {
                    self.state.autonomous_completes.retain(|r| r.id != rid);
                }
                bytes
            }
            CpeRequest::GetRpcMethods => encode(Body::GetRPCMethods(cwmp::GetRPCMethods {})),
        }
    }

    pub(super) fn count_rpc(&mut self, name: &str) {
        self.stats.rpcs_handled += 1;
        *self
            .stats
            .rpcs_by_method
            .entry(name.to_owned())
            .or_default() += 1;
    }
}

/// Whether an answer carrying `id` as its `cwmp:ID` can be written in `namespace`.
fn echo_check(namespace: Namespace, id: Option<Cow<'static, str>>) -> Result<(), EncodeError> {
    Envelope::new(namespace, id, fault(FaultCode::INTERNAL_ERROR, "")).validate()
}

/// `text` with everything but printable ASCII replaced by `?` (an error message may quote
/// the value that could not be written).
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}
