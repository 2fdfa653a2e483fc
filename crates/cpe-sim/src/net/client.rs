//! The ACS client: carries one CWMP session over HTTP(S) to the ACS URL.
//!
//! The client knows HTTP, not CWMP: a [`SessionDriver`] (the device agent) gives the first
//! body (the Inform), sees every answer of the ACS and says what to POST next or that the
//! session is over. The client applies the transport rules of TR-069 §3.4 around those bodies
//! (notes §3.1–§3.3):
//!
//! * HTTP/1.1 POSTs to the ACS URL, one at a time, never pipelined (§3.4.6).
//! * Framing by kind of message (§3.4.1): a POST carrying a SOAP request of the CPE (the
//!   Inform, TransferComplete, GetRPCMethods, ...) has `Content-Type: text/xml;
//!   charset="utf-8"` and an empty `SOAPAction:` header; a POST carrying a SOAP response or
//!   fault has `Content-Type` and no `SOAPAction`; the empty POST has neither, and
//!   `Content-Length: 0`. The driver says which kind each body is ([`Post`]).
//! * One TCP (or TLS) connection for the whole session (§3.4.2); when the ACS closes it
//!   between two exchanges (`Connection: close`, or end of stream), the next request goes on a
//!   new connection and the session goes on. A request whose response was lost is never sent
//!   again: the session fails (§3.4.2: the CPE MUST NOT resend it in the same session).
//! * Cookies (§3.4.2): every `Set-Cookie` of the session is kept (name and value; attributes
//!   ignored; up to [`MAX_COOKIE_BYTES`], far above the 512 bytes TR-069 requires) and sent
//!   back on every later request of the session; the jar dies with the session.
//! * Authentication (§3.4.4–§3.4.5, notes §3.2): a 401 is answered with Digest (MD5, MD5-sess,
//!   SHA-256, a fresh random cnonce per challenge, the nonce count increasing per request) or
//!   Basic, on the same connection unless the ACS closed it; later requests keep carrying
//!   `Authorization`. A 401 right after answering a challenge fails the session (credentials
//!   rejected), except one Digest re-challenge with `stale=true` (RFC 7616 §3.3). Over TLS,
//!   Basic can be sent pre-emptively ([`AuthPolicy::PreemptiveBasicOverTls`]).
//! * Timeouts (§3.4.2): the CPE MUST wait at least 30 s for a response; no response within
//!   [`AcsClientConfig::response_timeout`] (30 s by default) fails the session. Connecting
//!   (name resolution, TCP, TLS) has its own limit.
//! * Any status other than 401 goes to the driver with its body (204 with an empty one), so
//!   the agent decides: a 503 with `Retry-After` is an unsuccessful session with a hint for
//!   the back-off (§3.2.1.1), given through [`SessionDriver::on_retry_after`] and the report.
//! * TLS (§3.3): see [`super::tls`]; an `https` URL is never tried over plain HTTP.
//!
//! Header names go out in title case (`Content-Type`, `Soapaction`): HTTP header names are
//! case-insensitive (RFC 7230 §3.2), and hyper offers no way to write `SOAPAction` verbatim.
//!
//! [`Quirks`] make the client misbehave on purpose, as some real CPEs do, to test an ACS.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cwmp::auth::digest::AlgorithmPreference;
use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, HeaderMap, HeaderName, HeaderValue,
    RETRY_AFTER, SET_COOKIE, USER_AGENT,
};
use http::{Method, Request};
use http_body_util::Full;
use tokio::time::Instant;

use super::auth::ClientAuth;
use super::http::{
    BodyError, Conn, ConnectError, ConnectOptions, SendError, connect, deadline_after, read_body,
};
use super::tls::{TlsClientConfig, TlsError};
use super::url::{HttpUrl, Scheme, UrlError};

/// Most bytes of cookies kept in one session (names and values). TR-069 §3.4.2 asks for at
/// least 512; real ACSes set one session cookie of a few dozen bytes.
pub const MAX_COOKIE_BYTES: usize = 8192;
/// Most cookies kept in one session.
pub const MAX_COOKIES: usize = 64;

/// `Content-Type` of every POST that carries a SOAP envelope (TR-069 §3.4.1).
const TEXT_XML: HeaderValue = HeaderValue::from_static("text/xml; charset=\"utf-8\"");
/// `SOAPAction` of a POST carrying a CPE request: present and empty (TR-069 §3.4.1).
const SOAP_ACTION: HeaderName = HeaderName::from_static("soapaction");

/// What the agent behind a session does: produce bodies and judge the ACS's answers.
pub trait SessionDriver: Send {
    /// The first POST body: the Inform (a SOAP request, framed as such).
    fn first(&mut self) -> Vec<u8>;

    /// The ACS's answer to the last POST: 200 with a body, 204 (body empty), or any other
    /// status except a 401 the client handled itself. Returns what to POST next, or that the
    /// session is over, successfully or not.
    fn on_response(&mut self, status: u16, body: &[u8]) -> Next;

    /// The answer that is about to be given to [`SessionDriver::on_response`] carries
    /// `Retry-After` (typically a 503 from an overloaded ACS): a lower bound for the next
    /// attempt. The default ignores it; the value is in the report too.
    fn on_retry_after(&mut self, _delay: Duration) {}
}

/// What to do after an answer of the ACS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// POST this.
    Post(Post),
    /// The session ended successfully (TR-069 §3.7.1.4).
    Done,
    /// The session is unsuccessful, for this reason.
    Failed(String),
}

impl Next {
    /// POST a SOAP request of the CPE (TransferComplete, GetRPCMethods, ...).
    pub fn request(body: Vec<u8>) -> Next {
        Next::Post(Post::Request(body))
    }

    /// POST a SOAP response or fault answering the ACS's request.
    pub fn response(body: Vec<u8>) -> Next {
        Next::Post(Post::Response(body))
    }

    /// POST the empty body: the CPE has nothing more to send.
    pub fn empty() -> Next {
        Next::Post(Post::Empty)
    }
}

/// One POST of the CPE, by kind: the kind decides the framing headers (TR-069 §3.4.1). A
/// `Request` or `Response` with an empty body is sent as the empty POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Post {
    /// A SOAP request: `Content-Type` and an empty `SOAPAction`.
    Request(Vec<u8>),
    /// A SOAP response or fault: `Content-Type`, no `SOAPAction`.
    Response(Vec<u8>),
    /// The empty POST: neither header, `Content-Length: 0`.
    Empty,
}

/// How the client authenticates to the ACS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthPolicy {
    /// Send credentials only in answer to a 401 challenge. The default.
    #[default]
    AnswerChallenges,
    /// Over TLS, send Basic credentials with every request from the first one on (TR-069
    /// §3.4.4: "the CPE SHOULD send Basic credentials pre-emptively" with TLS). Over plain HTTP
    /// this behaves like [`AuthPolicy::AnswerChallenges`]: the password is not sent in clear
    /// unasked.
    PreemptiveBasicOverTls,
}

/// Deliberate misbehaviour, as seen in real CPEs, to exercise an ACS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// Send Basic credentials pre-emptively on every request, even over plain HTTP.
    pub basic_always: bool,
    /// End the session as failed on any non-2xx status, 401 included, without answering the
    /// challenge or asking the driver.
    pub give_up_on_non_2xx: bool,
    /// Close the connection after every exchange (including a 401 challenge), so every
    /// request of the session goes on a new connection.
    pub new_connection_per_request: bool,
}

/// Configuration of an [`AcsClient`].
#[derive(Clone)]
pub struct AcsClientConfig {
    /// `ManagementServer.URL`: `http://` or `https://`.
    pub url: String,
    /// `ManagementServer.Username`.
    pub username: String,
    /// `ManagementServer.Password`.
    pub password: String,
    /// When credentials are sent.
    pub auth: AuthPolicy,
    /// Which Digest challenge to answer when the ACS offers several.
    pub digest_preference: AlgorithmPreference,
    /// TLS for an `https` URL; `None`: Mozilla's roots only (one configuration shared by the
    /// whole process). A configuration with extra CAs is built once and cloned (an `Arc`)
    /// into every device's client.
    pub tls: Option<TlsClientConfig>,
    /// Time to resolve, connect and finish the TLS handshake. Default 10 s.
    pub connect_timeout: Duration,
    /// Time from sending a request to the end of its response. Default 30 s, the least
    /// TR-069 §3.4.2 allows; shorter values are for tests.
    pub response_timeout: Duration,
    /// Source address to bind before connecting (e.g. one 127.0.0.x per simulated device).
    pub local_addr: Option<IpAddr>,
    /// Most HTTP exchanges in one session, 401s included: a runaway ACS ends the session as
    /// failed. Default 1000.
    pub max_exchanges: u32,
    /// Largest response body accepted. Default 4 MiB.
    pub max_response_bytes: usize,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Deliberate misbehaviour.
    pub quirks: Quirks,
}

impl fmt::Debug for AcsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcsClientConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("auth", &self.auth)
            .field("digest_preference", &self.digest_preference)
            .field("tls", &self.tls)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("local_addr", &self.local_addr)
            .field("max_exchanges", &self.max_exchanges)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("user_agent", &self.user_agent)
            .field("quirks", &self.quirks)
            .finish()
    }
}

impl AcsClientConfig {
    /// A configuration with the defaults documented on each field.
    pub fn new(
        url: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> AcsClientConfig {
        AcsClientConfig {
            url: url.into(),
            username: username.into(),
            password: password.into(),
            auth: AuthPolicy::default(),
            digest_preference: AlgorithmPreference::default(),
            tls: None,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(30),
            local_addr: None,
            max_exchanges: 1000,
            max_response_bytes: 4 * 1024 * 1024,
            user_agent: concat!("cpe-sim/", env!("CARGO_PKG_VERSION")).to_owned(),
            quirks: Quirks::default(),
        }
    }
}

/// Why an [`AcsClient`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The ACS URL is not usable.
    #[error("ACS URL: {0}")]
    Url(#[from] UrlError),
    /// The default TLS configuration could not be built.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The credentials cannot be sent (e.g. a `:` in the username for Basic).
    #[error("credentials: {0}")]
    Credentials(String),
    /// The user agent cannot go into a header.
    #[error("invalid User-Agent")]
    UserAgent,
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Name resolution or TCP connect failed.
    #[error("cannot reach the ACS: {0}")]
    Connect(String),
    /// Connecting took longer than the connect timeout.
    #[error("connecting to the ACS timed out")]
    ConnectTimeout,
    /// The TLS handshake failed (certificate not trusted, host name mismatch, protocol).
    #[error("TLS: {0}")]
    Tls(String),
    /// No (complete) response within the response timeout.
    #[error("no response from the ACS in time")]
    Timeout,
    /// The connection failed during an exchange (reset, closed before the response,
    /// malformed response).
    #[error("connection failed: {0}")]
    Connection(String),
    /// The ACS answered the credentials with another 401.
    #[error("the ACS rejected the credentials")]
    AuthRejected,
    /// A 401 without a challenge the client can answer.
    #[error("cannot answer the ACS's challenge: {0}")]
    NoUsableChallenge(String),
    /// The credentials could not be put into a request.
    #[error("credentials: {0}")]
    Credentials(String),
    /// A non-2xx status with [`Quirks::give_up_on_non_2xx`].
    #[error("the ACS answered {0}")]
    Status(u16),
    /// A response body larger than the limit.
    #[error("response body larger than the limit")]
    ResponseTooLarge,
    /// More exchanges than allowed.
    #[error("more than the allowed number of exchanges")]
    TooManyExchanges,
    /// The driver ended the session as failed.
    #[error("{0}")]
    Driver(String),
}

/// What a session did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// `Ok` when the driver ended the session with [`Next::Done`].
    pub outcome: Result<(), SessionError>,
    /// HTTP request/response exchanges, 401s included.
    pub exchanges: u32,
    /// Connections opened (TCP, or TLS).
    pub connections: u32,
    /// Authentication challenges answered.
    pub auth_challenges: u32,
    /// From the start of the session to its end.
    pub duration: Duration,
    /// Status of the last response received.
    pub last_status: Option<u16>,
    /// `Retry-After` of the last response that carried one.
    pub retry_after: Option<Duration>,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
}

/// Carries CWMP sessions to one ACS. Cheap to keep per device; the TLS configuration inside
/// is shared.
#[derive(Debug, Clone)]
pub struct AcsClient {
    config: AcsClientConfig,
    url: HttpUrl,
    host: HeaderValue,
    path: http::Uri,
    user_agent: HeaderValue,
    tls: TlsClientConfig,
}

impl AcsClient {
    /// Checks the configuration: the URL, the TLS configuration (built from Mozilla's roots if
    /// none is given), and that pre-emptive Basic credentials can be encoded.
    pub fn new(config: AcsClientConfig) -> Result<AcsClient, ConfigError> {
        let url = HttpUrl::parse(&config.url)?;
        let host = url.host_header()?;
        let path = http::Uri::try_from(url.path())
            .map_err(|_| ConfigError::Url(UrlError::Invalid("bad path")))?;
        let tls = match &config.tls {
            Some(tls) => tls.clone(),
            None => TlsClientConfig::webpki_roots()?,
        };
        let user_agent = HeaderValue::try_from(config.user_agent.as_str())
            .map_err(|_| ConfigError::UserAgent)?;
        let client = AcsClient {
            config,
            url,
            host,
            path,
            user_agent,
            tls,
        };
        if client.preemptive_basic() {
            ClientAuth::preemptive_basic(&client.config.username, &client.config.password)
                .map_err(ConfigError::Credentials)?;
        }
        Ok(client)
    }

    /// The ACS URL.
    pub fn url(&self) -> &HttpUrl {
        &self.url
    }

    /// The configuration.
    pub fn config(&self) -> &AcsClientConfig {
        &self.config
    }

    /// Replaces the credentials (the ACS may set `ManagementServer.Username`/`Password`).
    pub fn set_credentials(&mut self, username: impl Into<String>, password: impl Into<String>) {
        self.config.username = username.into();
        self.config.password = password.into();
    }

    fn preemptive_basic(&self) -> bool {
        self.config.quirks.basic_always
            || (self.config.auth == AuthPolicy::PreemptiveBasicOverTls
                && self.url.scheme() == Scheme::Https)
    }

    /// Runs one session: POSTs the driver's Inform, hands each answer to the driver, and POSTs
    /// what it says until it says [`Next::Done`] or [`Next::Failed`], or the transport fails.
    /// Never panics on anything the network sends.
    pub async fn run_session(&self, driver: &mut dyn SessionDriver) -> SessionReport {
        let started = Instant::now();
        let mut session = Session::new(self);
        let outcome = session.run(driver).await;
        if let Err(error) = &outcome {
            tracing::debug!(url = %self.url, %error, "CWMP session failed");
        }
        // Dropping the session closes the connection and forgets the cookies (§3.4.2).
        SessionReport {
            outcome,
            exchanges: session.exchanges,
            connections: session.connections,
            auth_challenges: session.auth_challenges,
            duration: started.elapsed(),
            last_status: session.last_status,
            retry_after: session.retry_after,
            bytes_sent: session.bytes_sent,
            bytes_received: session.bytes_received,
        }
    }
}

/// An answer of the ACS.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

/// Framing of one POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Response,
    Empty,
}

struct Session<'a> {
    client: &'a AcsClient,
    conn: Option<Conn>,
    auth: ClientAuth,
    cookies: CookieJar,
    exchanges: u32,
    connections: u32,
    auth_challenges: u32,
    last_status: Option<u16>,
    retry_after: Option<Duration>,
    bytes_sent: u64,
    bytes_received: u64,
}

impl<'a> Session<'a> {
    fn new(client: &'a AcsClient) -> Session<'a> {
        let auth = if client.preemptive_basic() {
            // Checked in `AcsClient::new`; a failure here would only mean no pre-emptive
            // credentials, and the challenge is answered as usual.
            ClientAuth::preemptive_basic(&client.config.username, &client.config.password)
                .unwrap_or_default()
        } else {
            ClientAuth::default()
        };
        Session {
            client,
            conn: None,
            auth,
            cookies: CookieJar::default(),
            exchanges: 0,
            connections: 0,
            auth_challenges: 0,
            last_status: None,
            retry_after: None,
            bytes_sent: 0,
            bytes_received: 0,
        }
    }

    async fn run(&mut self, driver: &mut dyn SessionDriver) -> Result<(), SessionError> {
        let mut post = Post::Request(driver.first());
        loop {
            let answer = self.exchange(post).await?;
            if self.client.config.quirks.give_up_on_non_2xx && !(200..300).contains(&answer.status)
            {
                return Err(SessionError::Status(answer.status));
            }
            if let Some(delay) = retry_after(&answer.headers) {
                self.retry_after = Some(delay);
                driver.on_retry_after(delay);
            }
            match driver.on_response(answer.status, &answer.body) {
                Next::Post(next) => post = next,
                Next::Done => return Ok(()),
                Next::Failed(reason) => return Err(SessionError::Driver(reason)),
            }
        }
    }

    /// One POST, answering authentication challenges on the way.
    async fn exchange(&mut self, post: Post) -> Result<Answer, SessionError> {
        let (kind, body) = match post {
            Post::Request(body) if !body.is_empty() => (Kind::Request, Bytes::from(body)),
            Post::Response(body) if !body.is_empty() => (Kind::Response, Bytes::from(body)),
            _ => (Kind::Empty, Bytes::new()),
        };
        let config = &self.client.config;
        // Whether the last 401 for this POST was answered with fresh credentials.
        let mut answered = false;
        let mut stale_answered = false;
        loop {
            let request = self.build(kind, &body)?;
            let answer = self.send(request, body.len()).await?;
            if answer.status != 401 || config.quirks.give_up_on_non_2xx {
                return Ok(answer);
            }
            let result = self.auth.answer(
                &answer.headers,
                &config.username,
                &config.password,
                config.digest_preference,
            );
            let answered_now = match result {
                Ok(a) => a,
                Err(_) if answered => return Err(SessionError::AuthRejected),
                Err(reason) => return Err(SessionError::NoUsableChallenge(reason)),
            };
            if answered {
                // A second 401 right after answering: the credentials are wrong, unless the
                // ACS only says the nonce went stale (RFC 7616 §3.3), once.
                if !answered_now.stale || stale_answered {
                    return Err(SessionError::AuthRejected);
                }
                stale_answered = true;
            }
            answered = true;
            self.auth_challenges += 1;
        }
    }

    fn build(&mut self, kind: Kind, body: &Bytes) -> Result<Request<Full<Bytes>>, SessionError> {
        let client = self.client;
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = client.path.clone();
        let authorization = self
            .auth
            .header(
                &client.config.username,
                &client.config.password,
                "POST",
                client.url.path(),
            )
            .map_err(SessionError::Credentials)?;
        let headers = request.headers_mut();
        headers.insert(HOST, client.host.clone());
        headers.insert(USER_AGENT, client.user_agent.clone());
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        match kind {
            Kind::Request => {
                headers.insert(CONTENT_TYPE, TEXT_XML);
                headers.insert(SOAP_ACTION, HeaderValue::from_static(""));
            }
            Kind::Response => {
                headers.insert(CONTENT_TYPE, TEXT_XML);
            }
            Kind::Empty => {}
        }
        if let Some(cookie) = self.cookies.header() {
            headers.insert(COOKIE, cookie);
        }
        if let Some(value) = authorization {
            headers.insert(AUTHORIZATION, value);
        }
        Ok(request)
    }

    /// The open connection, or a new one.
    async fn connection(&mut self) -> Result<(Conn, bool), SessionError> {
        if let Some(conn) = self.conn.take() {
            // Let the connection's driver notice a close that already arrived.
            tokio::task::yield_now().await;
            if conn.is_usable() {
                return Ok((conn, false));
            }
        }
        let client = self.client;
        let options = ConnectOptions {
            tls: &client.tls,
            timeout: client.config.connect_timeout,
            local_addr: client.config.local_addr,
        };
        let conn = connect(&client.url, &options).await.map_err(|e| match e {
            ConnectError::Timeout => SessionError::ConnectTimeout,
            ConnectError::Tls(reason) => SessionError::Tls(reason),
            other => SessionError::Connect(other.to_string()),
        })?;
        self.connections += 1;
        Ok((conn, true))
    }

    /// Sends one request and reads its response within the response timeout. A request that
    /// found the connection closed before it left goes on a new connection.
    async fn send(
        &mut self,
        mut request: Request<Full<Bytes>>,
        body_len: usize,
    ) -> Result<Answer, SessionError> {
        let config = &self.client.config;
        if self.exchanges >= config.max_exchanges {
            return Err(SessionError::TooManyExchanges);
        }
        let (mut conn, response) = loop {
            let (mut conn, fresh) = self.connection().await?;
            let deadline = deadline_after(config.response_timeout);
            match tokio::time::timeout_at(deadline, conn.send(request)).await {
                Err(_) => return Err(SessionError::Timeout),
                Ok(Ok(response)) => break (conn, (response, deadline)),
                Ok(Err(SendError::NotSent(unsent))) if !fresh => {
                    // Closed by the ACS since the last exchange (TR-069 §3.4.2).
                    tracing::debug!(url = %self.client.url, "connection closed by the ACS, reconnecting");
                    request = *unsent;
                }
                Ok(Err(SendError::NotSent(_))) => {
                    return Err(SessionError::Connection(
                        "closed before the request was sent".to_owned(),
                    ));
                }
                Ok(Err(SendError::Failed(error))) => {
                    return Err(SessionError::Connection(error.to_string()));
                }
            }
        };
        let (response, deadline) = response;
        self.exchanges += 1;
        self.bytes_sent += body_len as u64;
        let (parts, body) = response.into_parts();
        let status = parts.status.as_u16();
        self.last_status = Some(status);
        // Cookies count from every response, a 401 included.
        self.cookies.store(&parts.headers);
        let body =
            match tokio::time::timeout_at(deadline, read_body(body, config.max_response_bytes))
                .await
            {
                Err(_) => return Err(SessionError::Timeout),
                Ok(Err(BodyError::TooLarge)) => return Err(SessionError::ResponseTooLarge),
                Ok(Err(BodyError::Http(reason))) => return Err(SessionError::Connection(reason)),
                Ok(Ok(body)) => body,
            };
        self.bytes_received += body.len() as u64;
        tracing::trace!(url = %self.client.url, status, len = body.len(), "ACS answered");
        if config.quirks.new_connection_per_request {
            conn.retire();
        }
        if conn.is_usable() {
            self.conn = Some(conn);
        }
        Ok(Answer {
            status,
            headers: parts.headers,
            body,
        })
    }
}

/// The cookies of one session: `name=value` pairs, in the order first set.
#[derive(Debug, Default)]
struct CookieJar {
    cookies: Vec<(String, String)>,
}

impl CookieJar {
    fn size(&self) -> usize {
        self.cookies.iter().map(|(n, v)| n.len() + v.len()).sum()
    }

    /// Keeps the `name=value` of each `Set-Cookie` (RFC 6265 §5.2: the part before the first
    /// `;`; attributes are ignored). A cookie with a known name replaces the old value; new
    /// ones are dropped beyond [`MAX_COOKIES`] or [`MAX_COOKIE_BYTES`].
    fn store(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            let valid_value = value.bytes().all(|b| b.is_ascii_graphic() && b != b';');
            if !valid_name || !valid_value {
                continue;
            }
            let size = self.size();
            if let Some(slot) = self.cookies.iter_mut().find(|(n, _)| n == name) {
                let grown = size - slot.1.len() + value.len();
                if grown <= MAX_COOKIE_BYTES {
                    slot.1 = value.to_owned();
                }
                continue;
            }
            if self.cookies.len() < MAX_COOKIES
                && self.size() + name.len() + value.len() <= MAX_COOKIE_BYTES
            {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// The `Cookie` header value (RFC 6265 §5.4): `a=1; b=2`.
    fn header(&self) -> Option<HeaderValue> {
        if self.cookies.is_empty() {
            return None;
        }
        let mut text = String::with_capacity(self.size() + 4 * self.cookies.len());
        for (i, (name, value)) in self.cookies.iter().enumerate() {
            if i > 0 {
                text.push_str("; ");
            }
            text.push_str(name);
            text.push('=');
            text.push_str(value);
        }
        HeaderValue::try_from(text).ok()
    }
}

/// `Retry-After` (RFC 7231 §7.1.3): delay-seconds, or an HTTP-date (IMF-fixdate) turned into
/// the time left from now (zero if past).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long values saturate instead of failing.
        let secs = text
            .parse::<u64>()
            .unwrap_or(u64::MAX)
            .min(u64::from(u32::MAX));
        return Some(Duration::from_secs(secs));
    }
    let at = parse_imf_fixdate(text)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Parses `Sun, 06 Nov 1994 08:49:37 GMT` into Unix seconds (RFC 7231 §7.1.1.1). The obsolete
/// RFC 850 and asctime forms are not accepted.
fn parse_imf_fixdate(text: &str) -> Option<u64> {
    let (_, rest) = text.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u32 = parse_digits(parts.next()?, 2)?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u32 = parse_digits(parts.next()?, 4)?;
    let mut clock = parts.next()?.split(':');
    let hour: u32 = parse_digits(clock.next()?, 2)?;
    let minute: u32 = parse_digits(clock.next()?, 2)?;
    let second: u32 = parse_digits(clock.next()?, 2)?;
    if parts.next()? != "GMT" || parts.next().is_some() || clock.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 || year < 1970 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, i64::from(day));
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    u64::try_from(secs).ok()
}

fn parse_digits(text: &str, len: usize) -> Option<u32> {
    if text.len() == len && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn cookies_keep_name_value_only() {
        let mut jar = CookieJar::default();
        jar.store(&headers(&[
            ("set-cookie", "session=abc; Path=/; HttpOnly"),
            ("set-cookie", "route=r1"),
            ("set-cookie", "bad"),
            ("set-cookie", "=novalue"),
        ]));
        assert_eq!(jar.header().unwrap(), "session=abc; route=r1");
        jar.store(&headers(&[("set-cookie", "session=def; Max-Age=10")]));
        assert_eq!(jar.header().unwrap(), "session=def; route=r1");
    }

    #[test]
    fn cookie_jar_is_bounded_but_holds_more_than_512_bytes() {
        let mut jar = CookieJar::default();
        let big = "v".repeat(600);
        jar.store(&headers(&[("set-cookie", &format!("big={big}"))]));
        assert_eq!(jar.size(), 603);
        for i in 0..200 {
            jar.store(&headers(&[(
                "set-cookie",
                &format!("c{i}={}", "x".repeat(100)),
            )]));
        }
        assert!(jar.size() <= MAX_COOKIE_BYTES);
        assert!(jar.cookies.len() <= MAX_COOKIES);
        assert!(jar.header().is_some());
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "120")])),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "99999999999999999999999")])),
            Some(Duration::from_secs(u64::from(u32::MAX)))
        );
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Sun, 06 Nov 1994 08:49:37 GMT"
            )])),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-5")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn imf_fixdate() {
        assert_eq!(
            parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_imf_fixdate("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_imf_fixdate("Sun, 6 Nov 1994 08:49:37 GMT"), None);
    }

    #[test]
    fn config_checks() {
        assert!(matches!(
            AcsClient::new(AcsClientConfig::new("ftp://acs/", "u", "p")),
            Err(ConfigError::Url(UrlError::UnsupportedScheme(_)))
        ));
        let mut config = AcsClientConfig::new("https://acs/", "a:b", "p");
        config.auth = AuthPolicy::PreemptiveBasicOverTls;
        assert!(matches!(
            AcsClient::new(config),
            Err(ConfigError::Credentials(_))
        ));
        let client =
            AcsClient::new(AcsClientConfig::new("http://acs:7547/cwmp", "u", "p")).unwrap();
        assert_eq!(client.url().path(), "/cwmp");
        assert!(format!("{:?}", client.config()).contains("<redacted>"));
    }
}
