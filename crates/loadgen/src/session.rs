//! One CWMP session as a CPE runs it (TR-069 §3.7.1, notes §3.3): POST the Inform, expect
//! 200 with an InformResponse, POST an empty body, expect 204. Each session opens its own TCP
//! connection and drives hyper's HTTP/1 client connection in the same task, so a session
//! costs no extra task and no wakeups across worker threads.
//!
//! Authentication: a 401 with a Digest challenge is answered on the same connection with
//! `cwmp::auth::digest`, once per request, and the answer counts as an exchange of the
//! session; later requests on that connection carry `Authorization` with the next nonce
//! count. Basic credentials are sent pre-emptively on every request.
//!
//! If the ACS asks something after the empty POST instead of answering 204, the session goes
//! on like a CPE's: SetParameterValues and SetParameterAttributes are acknowledged, anything
//! else gets fault 9000, up to a bounded number of exchanges.
//!
//! If the ACS closes the connection between two exchanges, the next request goes on a new
//! connection (TR-069 §3.4.2); the outcome counts the connections a session used.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use cwmp::auth::digest::{self, AlgorithmPreference, DigestChallenge, DigestRequest};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout_at};

use crate::inform::{InformTemplate, Vars, device_username};

/// How the generator authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// No credentials; a 401 fails the session.
    None,
    /// Pre-emptive Basic on every request.
    Basic,
    /// Answer Digest challenges.
    Digest,
}

/// Everything a session needs that does not change between sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Where to connect.
    pub addr: SocketAddr,
    /// Further nodes of the same ACS (behind no load balancer): session number `n` goes to
    /// `[addr, also...][n % (1 + also.len())]`.
    pub also: Vec<SocketAddr>,
    /// `Host` header value.
    pub host: HeaderValue,
    /// Request target (origin form), e.g. `/`.
    pub path: String,
    /// Authentication mode.
    pub auth: AuthMode,
    /// Username; `None` means each device's own `OUI-ProductClass-Serial`.
    pub username: Option<String>,
    /// Password (all devices).
    pub password: String,
    /// Longest a whole session may take.
    pub timeout: Duration,
    /// Most HTTP exchanges in one session (a runaway ACS ends the session as failed).
    pub max_exchanges: u32,
    /// Spread connections to a loopback IPv4 target over this many source addresses,
    /// 127.0.0.1 to 127.0.0.N, round robin; 0 or 1: let the kernel choose. See
    /// [`SessionConfig::source_for`].
    pub source_addrs: u32,
}

impl SessionConfig {
    /// Where session number `session` connects.
    pub fn target_for(&self, session: u64) -> SocketAddr {
        let n = 1 + self.also.len() as u64;
        match (session % n) as usize {
            0 => self.addr,
            k => self.also[k - 1],
        }
    }

    /// The source address of session number `session`.
    ///
    /// Every session leaves a TIME_WAIT socket on the client side (the client closes
    /// first). From a single address to a single server port, 28,000 ephemeral ports are
    /// soon all in TIME_WAIT, and every connect() then searches them for one it may reuse:
    /// on loopback that search cost this generator about a fifth of its CPU time at 14,000
    /// sessions/s. Real CPEs each have their own address, so spreading the connections over
    /// several loopback addresses is also closer to what an ACS sees.
    pub fn source_for(&self, session: u64) -> Option<IpAddr> {
        let IpAddr::V4(target) = self.addr.ip() else {
            return None;
        };
        if self.source_addrs <= 1 || !target.is_loopback() {
            return None;
        }
        // 127.0.0.1 to at most 127.255.255.254.
        let n = u64::from(self.source_addrs.min((1 << 24) - 2));
        let k = (session % n) as u32 + 1;
        Some(IpAddr::V4(Ipv4Addr::from(
            u32::from(Ipv4Addr::new(127, 0, 0, 0)) + k,
        )))
    }
}

/// Where in the session something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Opening the TCP connection.
    Connect,
    /// The Inform exchange.
    Inform,
    /// The empty POST.
    Empty,
    /// A POST answering an ACS request.
    Reply,
}

impl Stage {
    /// Lower-case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Inform => "inform",
            Stage::Empty => "empty POST",
            Stage::Reply => "reply POST",
        }
    }
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// TCP connect failed, with the error kind.
    Connect(std::io::ErrorKind),
    /// The session's time ran out.
    Timeout,
    /// The connection was closed before a response arrived.
    Closed,
    /// Another HTTP-level error (malformed response, reset, ...).
    Http,
    /// An unexpected HTTP status.
    Status(u16),
    /// A 200 whose body is not a CWMP envelope, or is empty.
    BadBody,
    /// A SOAP fault in answer to the Inform, with its CWMP code (0 if none).
    Fault(u32),
    /// A CWMP message that does not belong here.
    Unexpected(&'static str),
    /// Credentials were refused (a second 401 for the same request, or a 401 to Basic).
    AuthRejected,
    /// A 401 without a Digest challenge this client can answer.
    NoChallenge,
    /// Computing the Digest response failed.
    DigestError,
    /// The session needed more exchanges than allowed.
    TooManyExchanges,
}

/// A failed session: the cause and the stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub cause: Cause,
    /// Where.
    pub stage: Stage,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = self.stage.name();
        match &self.cause {
            Cause::Connect(kind) => write!(f, "connect: {kind:?}"),
            Cause::Timeout => write!(f, "timeout ({stage})"),
            Cause::Closed => write!(f, "connection closed ({stage})"),
            Cause::Http => write!(f, "http error ({stage})"),
            Cause::Status(code) => write!(f, "status {code} ({stage})"),
            Cause::BadBody => write!(f, "bad body ({stage})"),
            Cause::Fault(code) => write!(f, "fault {code} ({stage})"),
            Cause::Unexpected(name) => write!(f, "unexpected {name} ({stage})"),
            Cause::AuthRejected => write!(f, "auth rejected ({stage})"),
            Cause::NoChallenge => write!(f, "no digest challenge ({stage})"),
            Cause::DigestError => write!(f, "digest error ({stage})"),
            Cause::TooManyExchanges => write!(f, "too many exchanges ({stage})"),
        }
    }
}

/// What one session did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// `None` on success.
    pub failure: Option<Failure>,
    /// HTTP request/response exchanges, including those answering a challenge.
    pub exchanges: u32,
    /// TCP connections opened.
    pub connections: u32,
    /// Digest challenges answered.
    pub challenges: u32,
    /// Whether the InformResponse came with a `Set-Cookie`.
    pub cookie: bool,
    /// Methods the ACS called after the empty POST.
    pub acs_requests: Vec<&'static str>,
}

type ReqBody = Full<Bytes>;

/// A client connection whose driver is polled by the task awaiting its responses.
struct Conn {
    sender: http1::SendRequest<ReqBody>,
    driver: Pin<Box<http1::Connection<TokioIo<TcpStream>, ReqBody>>>,
    driver_done: bool,
}

/// Runs `f` while polling the connection driver, which moves the bytes.
async fn drive<F: Future>(
    driver: &mut Pin<Box<http1::Connection<TokioIo<TcpStream>, ReqBody>>>,
    done: &mut bool,
    f: F,
) -> F::Output {
    let mut f = std::pin::pin!(f);
    if !*done {
        tokio::select! {
            biased;
            out = &mut f => return out,
            _ = driver.as_mut() => *done = true,
        }
    }
    // The connection is finished: `f` completes (with an error, at worst) on its own.
    f.await
}

struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Conn {
    async fn open(addr: SocketAddr, source: Option<IpAddr>) -> Result<Conn, std::io::Error> {
        let stream = match source {
            Some(ip) => {
                let socket = match ip {
                    IpAddr::V4(_) => TcpSocket::new_v4()?,
                    IpAddr::V6(_) => TcpSocket::new_v6()?,
                };
                socket.bind(SocketAddr::new(ip, 0))?;
                socket.connect(addr).await?
            }
            None => TcpStream::connect(addr).await?,
        };
        stream.set_nodelay(true)?;
        let (sender, driver) = http1::Builder::new()
            .title_case_headers(true)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        Ok(Conn {
            sender,
            driver: Box::pin(driver),
            driver_done: false,
        })
    }

    /// Waits until the connection can take a request; fails if it has been closed.
    async fn ready(&mut self) -> Result<(), hyper::Error> {
        let Conn {
            sender,
            driver,
            driver_done,
        } = self;
        drive(driver, driver_done, sender.ready()).await
    }

    async fn exchange(&mut self, req: Request<ReqBody>) -> Result<Response, hyper::Error> {
        let Conn {
            sender,
            driver,
            driver_done,
        } = self;
        let resp = drive(driver, driver_done, sender.send_request(req)).await?;
        let (parts, body) = resp.into_parts();
        let body = drive(driver, driver_done, body.collect()).await?.to_bytes();
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    fn is_closed(&self) -> bool {
        self.driver_done || self.sender.is_closed()
    }
}

/// What a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A SOAP request (the Inform): `Content-Type` and an empty `SOAPAction`.
    SoapRequest,
    /// A SOAP response to an ACS request: `Content-Type`, no `SOAPAction`.
    SoapResponse,
    /// The empty POST: neither.
    Empty,
}

/// What the simulated CPE answers to GetRPCMethods: the methods it does not fault.
const CPE_METHODS: [&str; 3] = [
    "GetRPCMethods",
    "SetParameterValues",
    "SetParameterAttributes",
];

struct DigestState {
    challenge: DigestChallenge,
    cnonce: String,
    nc: u32,
}

struct Session<'a> {
    cfg: &'a SessionConfig,
    target: SocketAddr,
    source: Option<IpAddr>,
    deadline: Instant,
    username: String,
    conn: Option<Conn>,
    digest: Option<DigestState>,
    cookies: Vec<(String, String)>,
    out: Outcome,
}

const TEXT_XML: HeaderValue = HeaderValue::from_static("text/xml; charset=\"utf-8\"");
const EMPTY: HeaderValue = HeaderValue::from_static("");

impl Session<'_> {
    fn fail(stage: Stage, cause: Cause) -> Failure {
        Failure { cause, stage }
    }

    fn authorization(&mut self, stage: Stage) -> Result<Option<HeaderValue>, Failure> {
        let value = match self.cfg.auth {
            AuthMode::None => return Ok(None),
            AuthMode::Basic => cwmp::auth::basic::authorization(&self.username, &self.cfg.password)
                .map_err(|_| Self::fail(stage, Cause::AuthRejected))?,
            AuthMode::Digest => {
                let Some(state) = self.digest.as_mut() else {
                    return Ok(None);
                };
                state.nc += 1;
                let request = DigestRequest {
                    username: &self.username,
                    password: &self.cfg.password,
                    method: "POST",
                    uri: &self.cfg.path,
                    cnonce: &state.cnonce,
                    nc: state.nc,
                };
                state
                    .challenge
                    .respond(&request)
                    .and_then(|c| c.to_header_value())
                    .map_err(|_| Self::fail(stage, Cause::DigestError))?
            }
        };
        HeaderValue::try_from(value)
            .map(Some)
            .map_err(|_| Self::fail(stage, Cause::DigestError))
    }

    fn cookie_header(&self) -> Option<HeaderValue> {
        if self.cookies.is_empty() {
            return None;
        }
        let mut s = String::new();
        for (i, (name, value)) in self.cookies.iter().enumerate() {
            if i > 0 {
                s.push_str("; ");
            }
            s.push_str(name);
            s.push('=');
            s.push_str(value);
        }
        HeaderValue::try_from(s).ok()
    }

    /// Keeps the cookies of a response (RFC 6265: name=value before the first `;`).
    fn store_cookies(&mut self, headers: &HeaderMap) -> bool {
        let mut any = false;
        for value in headers.get_all(header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() {
                continue;
            }
            any = true;
            match self.cookies.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value.to_owned(),
                None => self.cookies.push((name.to_owned(), value.to_owned())),
            }
        }
        any
    }

    fn request(
        &mut self,
        stage: Stage,
        kind: Kind,
        body: &Bytes,
    ) -> Result<Request<ReqBody>, Failure> {
        let mut req = Request::new(Full::new(body.clone()));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self
            .cfg
            .path
            .parse()
            .map_err(|_| Self::fail(stage, Cause::Http))?;
        let h = req.headers_mut();
        h.insert(header::HOST, self.cfg.host.clone());
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        match kind {
            Kind::SoapRequest => {
                h.insert(header::CONTENT_TYPE, TEXT_XML);
                h.insert("SOAPAction", EMPTY);
            }
            Kind::SoapResponse => {
                h.insert(header::CONTENT_TYPE, TEXT_XML);
            }
            Kind::Empty => {}
        }
        if let Some(cookie) = self.cookie_header() {
            req.headers_mut().insert(header::COOKIE, cookie);
        }
        if let Some(auth) = self.authorization(stage)? {
            req.headers_mut().insert(header::AUTHORIZATION, auth);
        }
        Ok(req)
    }

    async fn connection(&mut self) -> Result<&mut Conn, Failure> {
        if self.conn.as_ref().is_some_and(Conn::is_closed) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let open = Conn::open(self.target, self.source);
            let conn = match timeout_at(self.deadline, open).await {
                Err(_) => return Err(Self::fail(Stage::Connect, Cause::Timeout)),
                Ok(Err(e)) => return Err(Self::fail(Stage::Connect, Cause::Connect(e.kind()))),
                Ok(Ok(conn)) => conn,
            };
            self.out.connections += 1;
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| Self::fail(Stage::Connect, Cause::Http))
    }

    /// One POST, answering a Digest challenge if one comes.
    async fn send(&mut self, stage: Stage, kind: Kind, body: Bytes) -> Result<Response, Failure> {
        let mut answered = false;
        loop {
            if self.out.exchanges >= self.cfg.max_exchanges {
                return Err(Self::fail(stage, Cause::TooManyExchanges));
            }
            let req = self.request(stage, kind, &body)?;
            let deadline = self.deadline;
            let mut fresh = self.conn.is_none();
            let mut conn = self.connection().await?;
            loop {
                match timeout_at(deadline, conn.ready()).await {
                    Err(_) => return Err(Self::fail(stage, Cause::Timeout)),
                    Ok(Ok(())) => break,
                    // Closed by the server since the last exchange: the session goes on in a
                    // new connection (TR-069 §3.4.2).
                    Ok(Err(_)) if !fresh => {
                        self.conn = None;
                        fresh = true;
                        conn = self.connection().await?;
                    }
                    Ok(Err(_)) => return Err(Self::fail(stage, Cause::Closed)),
                }
            }
            let result = timeout_at(deadline, conn.exchange(req)).await;
            self.out.exchanges += 1;
            let resp = match result {
                Err(_) => return Err(Self::fail(stage, Cause::Timeout)),
                Ok(Err(e)) => {
                    let cause = if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
                        Cause::Closed
                    } else {
                        Cause::Http
                    };
                    return Err(Self::fail(stage, cause));
                }
                Ok(Ok(resp)) => resp,
            };
            let close = resp.headers.get_all(header::CONNECTION).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|s| s.to_ascii_lowercase().contains("close"))
            });
            if close {
                self.conn = None;
            }
            if resp.status != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            if self.cfg.auth != AuthMode::Digest {
                let cause = match self.cfg.auth {
                    AuthMode::None => Cause::Status(401),
                    _ => Cause::AuthRejected,
                };
                return Err(Self::fail(stage, cause));
            }
            if answered {
                return Err(Self::fail(stage, Cause::AuthRejected));
            }
            let challenges: Vec<&str> = resp
                .headers
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            let challenge = digest::parse_challenges(&challenges.join(", "))
                .ok()
                .and_then(|c| {
                    digest::select_challenge(&c, AlgorithmPreference::PreferMd5)
                        .ok()
                        .cloned()
                })
                .ok_or_else(|| Self::fail(stage, Cause::NoChallenge))?;
            self.digest = Some(DigestState {
                challenge,
                cnonce: format!("{:032x}", rand::random::<u128>()),
                nc: 0,
            });
            self.out.challenges += 1;
            answered = true;
        }
    }

    async fn run(&mut self, inform: Bytes) -> Result<(), Failure> {
        // The Inform.
        let resp = self.send(Stage::Inform, Kind::SoapRequest, inform).await?;
        if resp.status != StatusCode::OK {
            return Err(Self::fail(
                Stage::Inform,
                Cause::Status(resp.status.as_u16()),
            ));
        }
        self.out.cookie = self.store_cookies(&resp.headers);
        match cwmp::decode(&resp.body) {
            Ok(env) => match env.body {
                cwmp::Body::InformResponse(_) => {}
                cwmp::Body::Fault(f) => {
                    let code = f.code().map_or(0, |c| c.0);
                    return Err(Self::fail(Stage::Inform, Cause::Fault(code)));
                }
                other => return Err(Self::fail(Stage::Inform, Cause::Unexpected(other.name()))),
            },
            Err(_) => return Err(Self::fail(Stage::Inform, Cause::BadBody)),
        }

        // The empty POST, then whatever the ACS asks, until 204.
        let mut next: Option<Bytes> = None;
        loop {
            let (stage, kind, body) = match next.take() {
                None => (Stage::Empty, Kind::Empty, Bytes::new()),
                Some(body) => (Stage::Reply, Kind::SoapResponse, body),
            };
            let resp = self.send(stage, kind, body).await?;
            self.store_cookies(&resp.headers);
            match resp.status {
                StatusCode::NO_CONTENT => return Ok(()),
                StatusCode::OK if !resp.body.is_empty() => {
                    next = Some(self.answer(stage, &resp.body)?);
                }
                StatusCode::OK => return Err(Self::fail(stage, Cause::BadBody)),
                status => return Err(Self::fail(stage, Cause::Status(status.as_u16()))),
            }
        }
    }

    /// The CPE's answer to an ACS request.
    fn answer(&mut self, stage: Stage, body: &[u8]) -> Result<Bytes, Failure> {
        let env = cwmp::decode(body).map_err(|_| Self::fail(stage, Cause::BadBody))?;
        let name = env.body.name();
        let from_acs = matches!(
            env.body.caller(),
            Some(cwmp::Caller::Acs | cwmp::Caller::Either)
        );
        if !from_acs || env.body.kind() != cwmp::MessageKind::Request {
            return Err(Self::fail(stage, Cause::Unexpected(name)));
        }
        self.out.acs_requests.push(name);
        let reply: cwmp::Body<'_> = match env.body {
            cwmp::Body::SetParameterValues(_) => cwmp::SetParameterValuesResponse {
                status: cwmp::ApplyStatus::Applied,
            }
            .into(),
            cwmp::Body::SetParameterAttributes(_) => cwmp::SetParameterAttributesResponse {}.into(),
            cwmp::Body::GetRPCMethods(_) => cwmp::GetRPCMethodsResponse {
                method_list: CPE_METHODS.iter().map(|&m| m.into()).collect(),
            }
            .into(),
            _ => cwmp::Fault::cwmp(cwmp::FaultCode::METHOD_NOT_SUPPORTED, None).into(),
        };
        let xml = cwmp::Envelope::new(env.namespace, env.header.id.clone(), reply)
            .encode()
            .map_err(|_| Self::fail(stage, Cause::BadBody))?;
        Ok(Bytes::from(xml))
    }
}

/// Runs one session for the device and session number in `vars`.
pub async fn run_session(cfg: &SessionConfig, template: &InformTemplate, vars: &Vars) -> Outcome {
    let inform = Bytes::from(template.render(vars));
    let username = match &cfg.username {
        Some(u) => u.clone(),
        None if cfg.auth == AuthMode::None => String::new(),
        None => device_username(vars.device),
    };
    let mut session = Session {
        cfg,
        target: cfg.target_for(vars.session),
        source: cfg.source_for(vars.session),
        deadline: Instant::now() + cfg.timeout,
        username,
        conn: None,
        digest: None,
        cookies: Vec::new(),
        out: Outcome::default(),
    };
    session.out.failure = session.run(inform).await.err();
    // Dropping the connection closes it: the client closes first, so TIME_WAIT stays here
    // (the kernel reuses loopback TIME_WAIT ports for new connections, tcp_tw_reuse=2).
    drop(session.conn.take());
    session.out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn sessions_go_to_the_nodes_in_turn() {
        let mut c = cfg("127.0.0.1:7547", 1);
        assert_eq!(c.target_for(5), c.addr);
        c.also = vec!["127.0.0.1:8547".parse().unwrap()];
        let targets: Vec<String> = (0..4).map(|s| c.target_for(s).to_string()).collect();
        assert_eq!(
            targets,
            [
                "127.0.0.1:7547",
                "127.0.0.1:8547",
                "127.0.0.1:7547",
                "127.0.0.1:8547"
            ]
        );
    }

    fn cfg(addr: &str, source_addrs: u32) -> SessionConfig {
        SessionConfig {
            addr: addr.parse().unwrap(),
            also: Vec::new(),
            host: HeaderValue::from_static("h"),
            path: "/".into(),
            auth: AuthMode::None,
            username: None,
            password: String::new(),
            timeout: Duration::from_secs(1),
            max_exchanges: 16,
            source_addrs,
        }
    }

    #[test]
    fn source_addresses_rotate_over_loopback_only() {
        let c = cfg("127.0.0.1:7547", 3);
        let ips: Vec<_> = (0..4)
            .map(|s| c.source_for(s).unwrap().to_string())
            .collect();
        assert_eq!(ips, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1"]);
        assert_eq!(
            cfg("127.0.0.1:7547", 300)
                .source_for(299)
                .unwrap()
                .to_string(),
            "127.0.1.44"
        );
        // Clamped below 127.255.255.255.
        let far = cfg("127.0.0.1:7547", u32::MAX)
            .source_for(16_777_213)
            .unwrap();
        assert_eq!(far.to_string(), "127.255.255.254");
        assert_eq!(cfg("127.0.0.1:7547", 1).source_for(5), None);
        assert_eq!(cfg("[::1]:7547", 8).source_for(5), None);
        assert_eq!(cfg("192.0.2.1:7547", 8).source_for(5), None);
    }
}
