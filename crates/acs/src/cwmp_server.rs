//! The CWMP endpoint: HTTP/1.1 (TLS when configured), CPE authentication, sessions.
//!
//! A session lives on its TCP connection; a CPE that reconnects mid-session presents the
//! session cookie set with the InformResponse (notes §3.1) and authenticates again on the
//! new connection. Every step's changes are committed before its reply is written.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use acs_core::provision;
use acs_core::session::{DeviceContext, ProvisioningSetup, Reply, Session, Step, read_inform};
use acs_core::{DeviceId, Timestamp};
use acs_store::{SessionClaim, Store};
use bytes::Bytes;
use cwmp::auth::digest::{self, DigestServer, Secret, StoredCredential};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tracing::{Instrument, debug, info, warn};

use crate::metrics;
use crate::state::{AppState, SessionGuard, SessionLease};

/// The current time, as the engine takes it.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp(ms)
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Who authenticated on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Principal {
    /// Authentication is disabled.
    Anyone,
    /// The fleet-wide default credential: any device.
    Default,
    /// A device's own credential.
    Device(DeviceId),
}

impl Principal {
    fn may_be(&self, device: &DeviceId) -> bool {
        match self {
            Principal::Anyone | Principal::Default => true,
            Principal::Device(d) => d == device,
        }
    }
}

/// A session in progress.
struct Live {
    session: Session,
    device: DeviceId,
    cookie: String,
    started: Instant,
    last: Instant,
    /// The ACS request sent and when, for the RPC duration metric.
    pending: Option<(&'static str, Instant)>,
    /// Ended (204, reaper, shutdown, store failure).
    closed: bool,
    /// The device's place in the registry, its claim in the store and the admission
    /// permit, given back the moment the session ends, not when the last reference to it
    /// (a connection) goes.
    held: Option<(SessionGuard, Option<SessionLease>, OwnedSemaphorePermit)>,
    /// The device's claim in the store, when the store is shared by nodes
    /// ([`Store::shared_by_nodes`]), and when it was last renewed.
    claim: Option<SessionClaim>,
    claimed: Instant,
}

impl Live {
    fn close(&mut self) {
        self.closed = true;
        self.held = None;
    }
}

type LiveRef = Arc<tokio::sync::Mutex<Live>>;

/// Sessions by cookie.
#[derive(Default)]
struct Sessions {
    by_cookie: Mutex<HashMap<String, LiveRef>>,
}

impl Sessions {
    fn get(&self, cookie: &str) -> Option<LiveRef> {
        self.by_cookie.lock().ok()?.get(cookie).cloned()
    }

    fn insert(&self, cookie: String, live: LiveRef) {
        if let Ok(mut m) = self.by_cookie.lock() {
            m.insert(cookie, live);
        }
    }

    fn remove(&self, cookie: &str) {
        if let Ok(mut m) = self.by_cookie.lock() {
            m.remove(cookie);
        }
    }

    fn all(&self) -> Vec<LiveRef> {
        self.by_cookie
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.by_cookie.lock().map_or(0, |m| m.len())
    }
}

/// Per-connection state.
#[derive(Default)]
struct Conn {
    /// The Digest nonce issued on this connection (TR-069 §3.4.5: a fresh nonce per TCP
    /// connection, so an Authorization header replayed on another connection fails).
    nonce: Option<String>,
    last_nc: u32,
    principal: Option<Principal>,
    session: Option<LiveRef>,
}

/// The endpoint's state.
struct Endpoint<S> {
    app: AppState<S>,
    digest: DigestServer,
    sessions: Sessions,
    tls: bool,
    shutting_down: watch::Receiver<bool>,
}

type Resp = Response<Full<Bytes>>;

fn response(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

fn text(status: StatusCode, msg: impl Into<String>) -> Resp {
    let mut r = response(status, msg.into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn busy(retry_after: u64) -> Resp {
    let mut r = text(StatusCode::SERVICE_UNAVAILABLE, "busy, retry later");
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn reply_response(reply: Reply) -> Resp {
    match reply {
        Reply::Soap(xml) => {
            let mut r = response(StatusCode::OK, xml);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=\"utf-8\""),
            );
            r
        }
        // TR-069 §3.4.6: an empty response is a 204.
        Reply::NoContent => response(StatusCode::NO_CONTENT, Bytes::new()),
        Reply::BadRequest(msg) => text(StatusCode::BAD_REQUEST, msg),
        // finish_step makes the calls and replies with what follows them.
        Reply::Wait(_) | Reply::Load => text(StatusCode::INTERNAL_SERVER_ERROR, "unfinished step"),
    }
}

/// Why a step has no reply yet.
enum Pause {
    /// Extension calls to make.
    Ext(Vec<provision::ExtCall>),
    /// The device's stored data to load.
    Load,
}

/// Reads the session cookie, tolerating CPEs that separate cookies with commas (notes §9 #8).
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(header::COOKIE) {
        let Ok(s) = value.to_str() else { continue };
        for part in s.split([';', ',']) {
            if let Some((k, v)) = part.trim().split_once('=')
                && k.trim() == "session"
            {
                return Some(v.trim().to_owned());
            }
        }
    }
    None
}

/// Runs the CWMP endpoint until `shutdown` turns true, then lets sessions in flight finish
/// (up to the longest session time) before returning.
pub async fn serve<S: Store + std::fmt::Debug>(
    app: AppState<S>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: watch::Receiver<bool>,
) {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let auth = &app.config.cwmp.auth;
    let digest = match DigestServer::new(auth.realm.clone(), &key, auth.nonce_lifetime_secs) {
        Ok(d) => d,
        Err(e) => {
            warn!("cannot set up Digest authentication: {e}");
            return;
        }
    };
    if !auth.enabled {
        warn!(
            "CPE authentication is DISABLED (cwmp.auth.enabled = false): any client can act as any device"
        );
    } else if auth.default_username.is_empty() {
        // Secure by default: there is no built-in password, so say how devices get in.
        info!(
            "no fleet credential (cwmp.auth.default_username/default_password): only devices \
             with credentials set through PUT /devices/{{id}}/credentials can connect"
        );
    }
    let endpoint = Arc::new(Endpoint {
        app: app.clone(),
        digest,
        sessions: Sessions::default(),
        tls: tls.is_some(),
        shutting_down: shutdown.clone(),
    });

    // Sessions that stop talking end after the idle timeout; all end after the maximum.
    let reaper = {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                endpoint.reap().await;
            }
        })
    };

    let mut connections = tokio::task::JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, remote)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let endpoint = endpoint.clone();
                let tls = tls.clone();
                connections.spawn(async move { endpoint.connection(stream, remote, tls).await });
            }
            _ = stop.changed() => {
                if *stop.borrow() { break; }
            }
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    info!(
        sessions = endpoint.sessions.len(),
        "CWMP endpoint stopping: finishing sessions in flight"
    );
    let limit = Duration::from_secs(app.config.cwmp.max_session_secs);
    let _ = tokio::time::timeout(limit, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
    reaper.abort();
    for live in endpoint.sessions.all() {
        let mut l = live.lock().await;
        if !l.closed {
            l.close();
            metrics::session_ended("shutdown");
        }
    }
}

impl<S: Store + std::fmt::Debug> Endpoint<S> {
    async fn connection(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        remote: SocketAddr,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) {
        let handshake_timeout = Duration::from_secs(self.app.config.cwmp.handshake_timeout_secs);
        match tls {
            Some(acceptor) => {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => self.http(TokioIo::new(stream), remote).await,
                    Ok(Err(e)) => debug!(%remote, "TLS handshake failed: {e}"),
                    Err(_) => debug!(%remote, "TLS handshake timed out"),
                }
            }
            None => self.http(TokioIo::new(stream), remote).await,
        }
    }

    async fn http<I>(self: Arc<Self>, io: I, remote: SocketAddr)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let conn_state = Arc::new(tokio::sync::Mutex::new(Conn::default()));
        let conn_state_for_shutdown = conn_state.clone();
        let endpoint = self.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let endpoint = endpoint.clone();
            let conn_state = conn_state.clone();
            async move { Ok::<_, Infallible>(endpoint.request(req, &conn_state, remote).await) }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        // Between two requests of a session the CPE may take a while (a large
        // GetParameterNames): waiting for the next request's headers is bounded by the
        // session's idle timeout, not by a short header timeout.
        let idle = Duration::from_secs(self.app.config.cwmp.session_timeout_secs.max(1));
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(idle)
            .keep_alive(true);
        let conn = builder.serve_connection(io, service);
        // The connection lives in this block only. When hyper's connection future ends
        // because the peer went away in the middle of a request, the request's future is
        // still inside it, holding the connection's state: it must be dropped (the request
        // abandoned, its admission permit returned) before `connection_closed` takes that
        // state, or both wait for each other forever.
        'serve: {
            let mut conn = std::pin::pin!(conn);
            let mut stop = self.shutting_down.clone();
            tokio::select! {
                _ = conn.as_mut() => break 'serve,
                _ = async {
                    while !*stop.borrow() {
                        if stop.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                } => {}
            }
            // Shutting down: a connection carrying a session keeps serving it until it
            // ends; then the connection finishes its exchange and closes.
            loop {
                // The request in progress holds the connection's state until it answers,
                // and it only progresses while the connection is polled: poll it while
                // waiting.
                let check = async {
                    match &conn_state_for_shutdown.lock().await.session {
                        Some(live) => !live.lock().await.closed,
                        None => false,
                    }
                };
                let busy = tokio::select! {
                    _ = conn.as_mut() => break 'serve,
                    busy = check => busy,
                };
                if !busy {
                    break;
                }
                tokio::select! {
                    _ = conn.as_mut() => break 'serve,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
        self.connection_closed(&conn_state_for_shutdown).await;
    }

    /// The CPE closed the connection. A session whose 204 only lifted HoldRequests is
    /// complete (the CPE had nothing held back); any other stays for its cookie until the
    /// reaper's timeout.
    async fn connection_closed(&self, conn: &tokio::sync::Mutex<Conn>) {
        let Some(live) = conn.lock().await.session.take() else {
            return;
        };
        let mut l = live.lock().await;
        if !l.closed && l.session.is_released() {
            l.close();
            self.sessions.remove(&l.cookie);
            debug!(device = %l.device, "session ended after its 204 lifted HoldRequests");
            metrics::session_ended("ok");
            metrics::active_sessions(self.sessions.len());
        }
    }

    /// Ends the device's session if its 204 has been sent and only lifted HoldRequests;
    /// whether it did.
    async fn end_released(&self, device: &DeviceId) -> bool {
        for live in self.sessions.all() {
            let mut l = live.lock().await;
            if !l.closed && l.device == *device && l.session.is_released() {
                l.close();
                self.sessions.remove(&l.cookie);
                metrics::session_ended("ok");
                return true;
            }
        }
        false
    }

    async fn reap(&self) {
        let idle = Duration::from_secs(self.app.config.cwmp.session_timeout_secs);
        let max = Duration::from_secs(self.app.config.cwmp.max_session_secs);
        for live in self.sessions.all() {
            let mut l = live.lock().await;
            if l.closed {
                continue;
            }
            let outcome = if l.last.elapsed() > idle {
                if l.session.is_released() {
                    "ok"
                } else {
                    "timeout"
                }
            } else if l.started.elapsed() > max {
                "too_long"
            } else {
                continue;
            };
            l.close();
            self.sessions.remove(&l.cookie);
            let device = l.device.clone();
            let pending = l.session.pending_request().map(|(_, m)| m);
            info!(device = %device, outcome, pending, "session ended without its 204");
            metrics::session_ended(outcome);
        }
        metrics::active_sessions(self.sessions.len());
    }

    async fn request(
        &self,
        req: Request<Incoming>,
        conn: &tokio::sync::Mutex<Conn>,
        remote: SocketAddr,
    ) -> Resp {
        if req.method() != Method::POST {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "CWMP takes POST");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return r;
        }
        let (parts, body) = req.into_parts();
        let mut conn = conn.lock().await;

        // The session: by cookie, else the one on this connection.
        let live = match session_cookie(&parts.headers).and_then(|c| self.sessions.get(&c)) {
            Some(live) => Some(live),
            None => conn.session.clone(),
        };
        let live = match live {
            Some(l) if !l.lock().await.closed => Some(l),
            _ => None,
        };

        // Authenticate the connection once; a session continued on another connection must
        // authenticate there too.
        let device_of_session = match &live {
            Some(l) => Some(l.lock().await.device.clone()),
            None => None,
        };
        let authenticated = conn
            .principal
            .clone()
            .filter(|p| device_of_session.as_ref().is_none_or(|d| p.may_be(d)));
        let principal = match authenticated {
            Some(p) => p,
            None => match self.authenticate(&parts, &mut conn).await {
                Ok(p) => {
                    conn.principal = Some(p.clone());
                    p
                }
                Err(r) => return r,
            },
        };

        let body = match self.read_body(&parts.headers, body).await {
            Ok(b) => b,
            Err(r) => return r,
        };

        match live {
            Some(live) => self.continue_session(live, &body, &mut conn).await,
            None => {
                self.start_session(&body, principal, &mut conn, remote)
                    .await
            }
        }
    }

    async fn read_body(&self, headers: &HeaderMap, body: Incoming) -> Result<Bytes, Resp> {
        let max = self.app.config.cwmp.max_body_bytes;
        let too_large = || {
            text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body larger than {max} bytes"),
            )
        };
        if let Some(len) = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            && len > max
        {
            return Err(too_large());
        }
        let timeout = Duration::from_secs(self.app.config.cwmp.body_timeout_secs);
        let collected = tokio::time::timeout(timeout, Limited::new(body, max).collect()).await;
        let raw = match collected {
            Ok(Ok(c)) => c.to_bytes(),
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err(too_large());
            }
            Ok(Err(_)) => return Err(text(StatusCode::BAD_REQUEST, "body could not be read")),
            Err(_) => {
                return Err(text(
                    StatusCode::REQUEST_TIMEOUT,
                    "body not received in time",
                ));
            }
        };
        // HTTP compression (TR-069 §3.4.7), bounded after decompression too (zip bombs).
        let encoding = headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_ascii_lowercase());
        let decoder: Box<dyn std::io::Read> = match encoding.as_deref() {
            None | Some("") | Some("identity") => return Ok(raw),
            Some("gzip") | Some("x-gzip") => {
                Box::new(flate2::read::GzDecoder::new(std::io::Cursor::new(raw)))
            }
            Some("deflate") => Box::new(flate2::read::ZlibDecoder::new(std::io::Cursor::new(raw))),
            Some(other) => {
                return Err(text(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("Content-Encoding {other} is not supported"),
                ));
            }
        };
        let mut out = Vec::new();
        use std::io::Read as _;
        match decoder.take(max as u64 + 1).read_to_end(&mut out) {
            Ok(n) if n > max => Err(too_large()),
            Ok(_) => Ok(Bytes::from(out)),
            Err(e) => Err(text(
                StatusCode::BAD_REQUEST,
                format!("body does not decompress: {e}"),
            )),
        }
    }

    /// Checks the request's credentials; the error is the 401 (or 400) to answer with.
    async fn authenticate(
        &self,
        parts: &http::request::Parts,
        conn: &mut Conn,
    ) -> Result<Principal, Resp> {
        let auth = &self.app.config.cwmp.auth;
        if !auth.enabled {
            return Ok(Principal::Anyone);
        }
        let header_value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let scheme = header_value
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let uri = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let outcome: Result<Principal, &'static str> = match scheme.as_str() {
            "digest" => self.check_digest(header_value, uri, conn).await,
            "basic" if self.tls && auth.allow_basic_over_tls => {
                self.check_basic(header_value).await
            }
            // Basic over plain HTTP is refused (TR-069 §3.4.4: without TLS, Digest).
            "basic" => Err("Basic over plain HTTP"),
            _ => Err("no credentials"),
        };
        match outcome {
            Ok(p) => Ok(p),
            Err(reason) => {
                if reason != "no credentials" {
                    warn!(reason, "CPE authentication failed");
                    metrics::session_ended("unauthorized");
                }
                Err(self.challenge(conn, reason == "stale"))
            }
        }
    }

    fn challenge(&self, conn: &mut Conn, stale: bool) -> Resp {
        let mut random = [0u8; digest::NONCE_RANDOM_LEN];
        rand::rng().fill_bytes(&mut random);
        let t = now().millis() / 1000;
        let challenge = self
            .digest
            .challenge(u64::try_from(t).unwrap_or(0), &random, stale);
        // Remember the nonce this connection got: only it is accepted here.
        conn.nonce = digest::parse_challenges(&challenge).ok().and_then(|c| {
            c.into_iter().find_map(|c| match c {
                digest::Challenge::Digest(d) => Some(d.nonce),
                _ => None,
            })
        });
        conn.last_nc = 0;
        let mut r = text(StatusCode::UNAUTHORIZED, "authentication required");
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
        if self.tls
            && self.app.config.cwmp.auth.allow_basic_over_tls
            && let Ok(b) = cwmp::auth::basic::challenge(&self.app.config.cwmp.auth.realm)
            && let Ok(v) = HeaderValue::from_str(&b)
        {
            r.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
        r
    }

    async fn check_digest(
        &self,
        value: &str,
        uri: &str,
        conn: &mut Conn,
    ) -> Result<Principal, &'static str> {
        let creds =
            digest::DigestCredentials::parse(value).map_err(|_| "malformed Digest credentials")?;
        if conn.nonce.as_deref() != Some(creds.nonce.as_str()) {
            // A nonce from another connection (or none issued yet): challenge afresh.
            return Err("stale");
        }
        let auth = &self.app.config.cwmp.auth;
        let (principal, secret_owned) =
            if !auth.default_username.is_empty() && creds.username == auth.default_username {
                (
                    Principal::Default,
                    SecretOwned::Password(auth.default_password.clone()),
                )
            } else {
                let stored = self.stored_credential(&creds.username).await?;
                let ha1 = if creds.effective_algorithm().is_sha256() {
                    stored.ha1_sha256
                } else {
                    stored.ha1_md5
                };
                (Principal::Device(stored.device), SecretOwned::Ha1(ha1))
            };
        let secret = match &secret_owned {
            SecretOwned::Password(p) => Secret::Password(p),
            SecretOwned::Ha1(h) => Secret::Ha1(h),
        };
        let t = u64::try_from(now().millis() / 1000).unwrap_or(0);
        let verified = self
            .digest
            .verify(
                &creds,
                "POST",
                uri,
                &StoredCredential {
                    username: &creds.username,
                    secret,
                },
                t,
            )
            .map_err(|e| match e {
                digest::DigestError::Stale => "stale",
                _ => "bad Digest response",
            })?;
        if verified.nc <= conn.last_nc {
            return Err("replayed nonce count");
        }
        conn.last_nc = verified.nc;
        Ok(principal)
    }

    /// A device's own credential (per-device, set through the API), by username.
    async fn stored_credential(
        &self,
        username: &str,
    ) -> Result<acs_store::CpeCredential, &'static str> {
        self.app
            .store
            .cpe_credential(username)
            .await
            .map_err(|_| "credential lookup failed")?
            .ok_or("unknown username")
    }

    async fn check_basic(&self, value: &str) -> Result<Principal, &'static str> {
        let creds = cwmp::auth::basic::BasicCredentials::parse(value)
            .map_err(|_| "malformed Basic credentials")?;
        let auth = &self.app.config.cwmp.auth;
        if !auth.default_username.is_empty() && creds.username == auth.default_username {
            return if creds.matches(&auth.default_username, &auth.default_password) {
                Ok(Principal::Default)
            } else {
                Err("bad password")
            };
        }
        let stored = self.stored_credential(&creds.username).await?;
        let ha1 = digest::ha1(
            digest::Algorithm::Md5,
            &creds.username,
            &auth.realm,
            &creds.password,
        );
        use subtle::ConstantTimeEq as _;
        if bool::from(ha1.as_bytes().ct_eq(stored.ha1_md5.as_bytes())) {
            Ok(Principal::Device(stored.device))
        } else {
            Err("bad password")
        }
    }

    async fn start_session(
        &self,
        body: &Bytes,
        principal: Principal,
        conn: &mut Conn,
        remote: SocketAddr,
    ) -> Resp {
        let config = &self.app.config.cwmp;
        if *self.shutting_down.borrow() {
            return busy(config.retry_after_secs);
        }
        let Ok(permit) = self.app.admission.clone().try_acquire_owned() else {
            metrics::session_ended("busy");
            return busy(config.retry_after_secs);
        };
        let inform = match read_inform(body, &self.app.engine) {
            Ok(i) => i,
            Err(reply) => {
                debug!(%remote, "first request is not a usable Inform");
                metrics::session_ended("bad_request");
                return reply_response(reply);
            }
        };
        let device = inform.device.clone();
        let span = tracing::info_span!("session", device = %device);
        async {
            if !principal.may_be(&device) {
                warn!("credentials of another device");
                metrics::session_ended("unauthorized");
                conn.principal = None;
                return self.challenge(conn, false);
            }
            let guard = match self.app.sessions.begin(&device) {
                Some(g) => Some(g),
                // Its previous session may only be waiting for a connection to close
                // after a 204 that lifted HoldRequests: that one is complete.
                None if self.end_released(&device).await => self.app.sessions.begin(&device),
                None => None,
            };
            let Some(guard) = guard else {
                info!("refused: the device is already in session");
                metrics::session_ended("busy");
                return busy(config.retry_after_secs);
            };
            let now = now();
            let cookie = random_hex(16);
            // Claimed in the store too when nodes share it, and read meanwhile; a store of
            // one node has only this node's registry (`guard`) to keep.
            let claim = self.app.store.shared_by_nodes().then(|| SessionClaim {
                // Not the cookie: what is in the database must not open the session.
                owner: self.app.node.to_string(),
                session: random_hex(8),
            });
            let (claimed, ctx) = tokio::join!(
                async {
                    match &claim {
                        Some(claim) => self.claim(&device, claim, now).await,
                        None => Ok(true),
                    }
                },
                self.context(&device, now, remote)
            );
            let lease = match claimed {
                Ok(true) => claim
                    .clone()
                    .map(|claim| SessionLease::new(self.app.store.clone(), device.clone(), claim)),
                Ok(false) => {
                    info!("refused: the device is in session on another node");
                    metrics::session_ended("busy");
                    return busy(config.retry_after_secs);
                }
                Err(e) => {
                    warn!("store unavailable: {e}");
                    metrics::session_ended("error");
                    return busy(config.retry_after_secs);
                }
            };
            let ctx = match ctx {
                Ok(ctx) => ctx,
                Err(e) => {
                    warn!("store unavailable: {e}");
                    metrics::session_ended("error");
                    return busy(config.retry_after_secs);
                }
            };
            let (session, step) = Session::start(now, inform, ctx, &self.app.engine);
            let live = Live {
                session,
                device: device.clone(),
                cookie: cookie.clone(),
                started: Instant::now(),
                last: Instant::now(),
                pending: None,
                closed: false,
                held: Some((guard, lease, permit)),
                claim,
                claimed: Instant::now(),
            };
            let live = Arc::new(tokio::sync::Mutex::new(live));
            let mut r = self.finish_step(&live, step).await;
            if !live.lock().await.closed {
                self.sessions.insert(cookie.clone(), live.clone());
                conn.session = Some(live);
                if let Ok(v) = HeaderValue::from_str(&format!("session={cookie}; Path=/; HttpOnly"))
                {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
            }
            r
        }
        .instrument(span)
        .await
    }

    async fn continue_session(&self, live: LiveRef, body: &Bytes, conn: &mut Conn) -> Resp {
        let device = live.lock().await.device.clone();
        let span = tracing::info_span!("session", device = %device);
        async {
            if let Some(refused) = self.renew(&live).await {
                return refused;
            }
            let step = {
                let mut l = live.lock().await;
                l.last = Instant::now();
                if let Some((method, since)) = l.pending.take() {
                    metrics::rpc(method, since.elapsed());
                }
                l.session.handle(now(), body, &self.app.engine)
            };
            let r = self.finish_step(&live, step).await;
            if live.lock().await.closed {
                conn.session = None;
            }
            r
        }
        .instrument(span)
        .await
    }

    /// Commits a step's changes, publishes task outcomes, and builds the reply; ends the
    /// session when the engine did. A step that waits on extension calls is committed,
    /// the calls are made, and the session goes on with their results.
    async fn finish_step(&self, live: &LiveRef, mut step: Step) -> Resp {
        loop {
            let (changes, calls) = {
                let changes = std::mem::take(&mut step.changes);
                for (channel, line) in std::mem::take(&mut step.logs) {
                    info!(channel, "provision: {line}");
                }
                match &mut step.reply {
                    Reply::Wait(calls) => (changes, Some(Pause::Ext(std::mem::take(calls)))),
                    Reply::Load => (changes, Some(Pause::Load)),
                    _ => (changes, None),
                }
            };
            if !changes.is_empty()
                && let Err(e) = self.app.store.commit(changes).await
            {
                // Nothing the CPE would forget was acknowledged: it retries the session later.
                warn!("commit failed, session abandoned: {e}");
                let mut l = live.lock().await;
                l.close();
                self.sessions.remove(&l.cookie);
                metrics::session_ended("error");
                return busy(self.app.config.cwmp.retry_after_secs);
            }
            let Some(pause) = calls else { break };
            for (task, outcome) in &step.task_outcomes {
                self.app.waiters.publish(*task, outcome);
            }
            let calls = match pause {
                Pause::Ext(calls) => calls,
                Pause::Load => {
                    // The presets need more than the Inform carried: the one read of the
                    // device's data that a session without presets' needs is spared.
                    let device = live.lock().await.session.device().clone();
                    metrics::device_data_loaded("provisioning");
                    match self.app.store.session_data(&device, now()).await {
                        Ok(data) => {
                            step = live.lock().await.session.on_data(
                                now(),
                                data.data,
                                &self.app.engine,
                            );
                            continue;
                        }
                        Err(e) => {
                            warn!("loading the device's data failed, session abandoned: {e}");
                            let mut l = live.lock().await;
                            l.close();
                            self.sessions.remove(&l.cookie);
                            metrics::session_ended("error");
                            return busy(self.app.config.cwmp.retry_after_secs);
                        }
                    }
                }
            };
            let results = self.app.extensions.call_all(calls).await;
            for (call, result) in &results {
                if let Err(e) = result {
                    warn!(extension = %call.name, function = %call.function, "extension call failed: {e}");
                }
            }
            step = live
                .lock()
                .await
                .session
                .on_ext(now(), results, &self.app.engine);
        }
        let Step {
            reply,
            task_outcomes,
            message,
            ..
        } = step;
        for (task, outcome) in &task_outcomes {
            self.app.waiters.publish(*task, outcome);
        }
        let mut l = live.lock().await;
        if l.session.is_ended() {
            l.close();
            self.sessions.remove(&l.cookie);
            let outcome = if matches!(reply, Reply::NoContent) {
                "ok"
            } else {
                "refused"
            };
            debug!(outcome, "session ended");
            metrics::session_ended(outcome);
        } else if let (Reply::Soap(_), Some(m)) = (&reply, message)
            && l.session.pending_request().is_some()
        {
            l.pending = Some((m, Instant::now()));
        }
        reply_response(reply)
    }

    /// Claims the device in the store for this node, for `cluster.session_lease_secs`.
    async fn claim(
        &self,
        device: &DeviceId,
        claim: &SessionClaim,
        now: Timestamp,
    ) -> acs_store::Result<bool> {
        let lease = i64::try_from(self.app.config.cluster.session_lease_secs).unwrap_or(i64::MAX);
        self.app
            .store
            .claim_session(device, claim, now, now.plus_secs(lease))
            .await
    }

    /// Renews the session's claim once a third of its time has passed; the reply that ends
    /// the session if the claim was lost (this node stalled past it and another took the
    /// device) or cannot be renewed.
    async fn renew(&self, live: &LiveRef) -> Option<Resp> {
        let every = Duration::from_secs(self.app.config.cluster.session_lease_secs / 3);
        let (device, claim) = {
            let l = live.lock().await;
            let Some(claim) = &l.claim else {
                return None;
            };
            if l.closed || l.claimed.elapsed() < every {
                return None;
            }
            (l.device.clone(), claim.clone())
        };
        let claimed = self.claim(&device, &claim, now()).await;
        let mut l = live.lock().await;
        match claimed {
            Ok(true) => {
                l.claimed = Instant::now();
                None
            }
            outcome => {
                match outcome {
                    Err(e) => warn!("store unavailable, session abandoned: {e}"),
                    _ => warn!("session abandoned: another node took the device"),
                }
                l.close();
                self.sessions.remove(&l.cookie);
                metrics::session_ended("error");
                Some(busy(self.app.config.cwmp.retry_after_secs))
            }
        }
    }

    async fn context(
        &self,
        device: &DeviceId,
        now: Timestamp,
        remote: SocketAddr,
    ) -> acs_store::Result<DeviceContext> {
        let store = &self.app.store;
        let summary = store.device_summary(device).await?;
        let mut ctx = DeviceContext {
            remote_address: Some(remote.ip().to_string()),
            ..DeviceContext::default()
        };
        // A device without work costs one small read (its summary, with its tags).
        let provisioning = self.app.provisioning.current(store).await;
        let presets = !provisioning.presets.is_empty();
        let mut tags = std::collections::BTreeSet::new();
        let mut channel_faults = Vec::new();
        let times = summary
            .as_ref()
            .map(|s| (s.registered, s.last_boot, s.last_bootstrap));
        if let Some(s) = summary {
            ctx.known_device = true;
            ctx.cr_credentials = s.cr_credentials;
            // With presets but no other work, the session starts from the Inform, the
            // tags and the identity; it asks for the stored data (Reply::Load) only when
            // a preset looks further. A recorded fault may hold a preset's channel back:
            // then everything is read at once.
            if s.has_tasks || s.has_transfers || (presets && s.has_faults) {
                let data = store.session_data(device, now).await?;
                metrics::device_data_loaded("start");
                ctx.data = data.data;
                ctx.tasks = data.tasks;
                ctx.transfers = data.transfers;
                tags = data.tags.into_iter().collect();
                channel_faults = data.channel_faults;
                ctx.loaded = true;
            } else if presets {
                tags = s.tags.into_iter().collect();
                ctx.data_deferred = true;
            }
        }
        if presets {
            let p = &self.app.config.provisioning;
            ctx.provisioning = Some(ProvisioningSetup {
                presets: provisioning.presets.clone(),
                channel_faults,
                tags,
                last_boot: times.and_then(|t| t.1),
                last_bootstrap: times.and_then(|t| t.2),
                registered: times.and_then(|t| t.0),
                runner: provisioning.runner.clone(),
                options: provision::Options {
                    max_rounds: p.max_rounds,
                    file_base_url: p.file_base_url.clone(),
                },
            });
        }
        // Offered to the engine even when credentials are known: a device that sends
        // 0 BOOTSTRAP (factory reset) has lost them, and the engine then sets new ones.
        ctx.new_cr_credentials = Some((format!("acs-{}", random_hex(6)), random_hex(16)));
        Ok(ctx)
    }
}

enum SecretOwned {
    Password(String),
    Ha1(String),
}
