//! The HTTP Connection Request listener (TR-069 §3.2.2; notes §5.1): one plain-HTTP TCP
//! listener serving the Connection Requests of many simulated devices, each at its own random
//! path (`ManagementServer.ConnectionRequestURL`).
//!
//! What it does with a request:
//!
//! 1. Only `GET` is served (405 otherwise): a Connection Request is an HTTP 1.1 GET.
//! 2. The request target must be exactly a registered device's path, else 404 with an empty
//!    body (no hint at which paths exist). "The path of this URL SHOULD be randomly generated
//!    by the CPE so that it is unique per CPE": 128 random bits here.
//! 3. Digest authentication against the device's *current* `ConnectionRequestUsername` and
//!    `ConnectionRequestPassword` ([`CrTarget::credentials`] is asked on every request, so a
//!    change made by the ACS counts at once). qop `auth`, MD5 and MD5-sess by default;
//!    stateless nonces from `cwmp`'s `DigestServer` with a random per-listener key; a nonce
//!    count that does not increase is a replay and is refused; an expired nonce gets a new
//!    challenge with `stale=true`. Digest only: "The CPE MUST use digest-authentication";
//!    a Basic `Authorization` is answered with a Digest challenge.
//! 4. A request that fails authentication never wakes the device ("MUST NOT initiate a
//!    connection to the ACS due to an unsuccessfully authenticated request").
//! 5. Rate limit per device ([`RateLimit`], 5 accepted requests per 60 s by default): beyond
//!    it, 503 without `Retry-After` ("The CPE SHOULD restrict the number of Connection Requests
//!    it accepts during a given period ... MUST respond ... with an HTTP 503 ... SHOULD NOT
//!    include the HTTP Retry-After header").
//! 6. Success is a 200 with an empty body, written and flushed *before* [`CrTarget::wake`] is
//!    called: the response is sent "immediately upon successful authentication, prior to it
//!    initiating the resulting session".
//!
//! **Devices without credentials.** TR-069 requires Digest on every Connection Request, and a
//! device whose `ConnectionRequestUsername` or `ConnectionRequestPassword` is empty (the ACS
//! never set them) has nothing to check a response against. Such a device refuses every
//! Connection Request with 401 (a challenge that cannot be met) until both are set: accepting
//! empty credentials would let anyone who learns the URL trigger sessions.
//!
//! **A hostile network** (notes §7.2: Misfortune Cookie on port 7547; §7.4): the request head
//! is read by a minimal parser (`httparse`) with a size limit (431 beyond), a header-count
//! limit (431), and a time limit (the connection is closed); bodies are never read (a request
//! with one is answered and the connection closed); no header other than `Authorization`,
//! `Content-Length`, `Transfer-Encoding` and `Connection` is looked at, cookies included;
//! connections are capped ([`CrConfig::max_connections`]; beyond, a new connection is closed
//! at once) and so are the requests per connection.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cwmp::auth::DigestError;
use cwmp::auth::digest::{Algorithm, DigestServer, NonceCounts, Secret, StoredCredential};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// A device that can be woken by a Connection Request.
///
/// Both methods are called from the listener's tasks and must not block.
pub trait CrTarget: Send + Sync {
    /// The device's current `ConnectionRequestUsername` and `ConnectionRequestPassword`
    /// (they change when the ACS sets them). Asked on every request.
    fn credentials(&self) -> (String, String);

    /// An authenticated Connection Request arrived and was answered: start a session (with
    /// event `6 CONNECTION REQUEST`) within 30 s. Several wakes before the session starts
    /// mean one session (notes §5.1); a wake during a session means one more after it.
    fn wake(&self);
}

/// At most `max_requests` accepted Connection Requests per device in any window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Accepted requests allowed in the window.
    pub max_requests: u32,
    /// The sliding window.
    pub per: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            max_requests: 5,
            per: Duration::from_secs(60),
        }
    }
}

/// Configuration of a [`CrListener`].
#[derive(Debug, Clone)]
pub struct CrConfig {
    /// Digest realm. Default `cpe-sim`.
    pub realm: String,
    /// Host (name or IP literal; IPv6 without brackets) written into the devices' URLs.
    /// Default: the bound address, which must then not be unspecified (`0.0.0.0`).
    pub advertised_host: Option<String>,
    /// Prefix of every device's path; must start and end with `/`. Default `/cr/`.
    pub path_prefix: String,
    /// Per-device rate limit; `None` for none. Default 5 per 60 s.
    pub rate_limit: Option<RateLimit>,
    /// Most connections open at once. Default 1024.
    pub max_connections: usize,
    /// Time for a client to send a whole request head (also the idle time allowed between
    /// two requests of a connection). Default 10 s.
    pub header_timeout: Duration,
    /// Largest request head (request line and headers), bytes. Default 8192.
    pub max_header_bytes: usize,
    /// Most header lines in a request. Default 32.
    pub max_headers: usize,
    /// Most requests on one connection (the challenge and the answer take two). Default 4.
    pub max_requests_per_connection: u32,
    /// Lifetime of a Digest nonce. Default 60 s.
    pub nonce_lifetime: Duration,
    /// Nonces whose counts are tracked for replay protection. Default 65536.
    pub nonce_tracking: usize,
    /// Digest algorithms offered (one challenge each, in this order) and accepted. Default
    /// MD5 and MD5-sess (TR-069 §3.4.5).
    pub algorithms: Vec<Algorithm>,
}

impl Default for CrConfig {
    fn default() -> Self {
        CrConfig {
            realm: "cpe-sim".to_owned(),
            advertised_host: None,
            path_prefix: "/cr/".to_owned(),
            rate_limit: Some(RateLimit::default()),
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 8192,
            max_headers: 32,
            max_requests_per_connection: 4,
            nonce_lifetime: Duration::from_secs(60),
            nonce_tracking: 65_536,
            algorithms: vec![Algorithm::Md5, Algorithm::Md5Sess],
        }
    }
}

/// A device's place on the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// `ManagementServer.ConnectionRequestURL`, e.g. `http://192.0.2.7:7547/cr/3f2a…`.
    pub url: String,
    /// The path, to give to [`CrRegistry::unregister`].
    pub path: String,
}

struct Device {
    target: Arc<dyn CrTarget>,
    /// When the recent accepted requests were accepted, oldest first.
    accepted: Mutex<VecDeque<Instant>>,
}

struct Shared {
    config: CrConfig,
    digest: DigestServer,
    nonce_counts: Mutex<NonceCounts>,
    devices: RwLock<HashMap<String, Arc<Device>>>,
    /// `http://host:port`.
    base_url: String,
}

/// Registers and unregisters devices; a cheap handle, usable while the listener serves.
#[derive(Clone)]
pub struct CrRegistry {
    shared: Arc<Shared>,
}

impl fmt::Debug for CrRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrRegistry")
            .field("base_url", &self.shared.base_url)
            .field("devices", &self.len())
            .finish()
    }
}

/// Why a path could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// Another device has it.
    #[error("path already registered")]
    Taken,
    /// Not a path this listener serves (must start with the prefix, unreserved characters).
    #[error("invalid path")]
    Invalid,
}

impl CrRegistry {
    /// Registers a device at a new random path (`<prefix><32 hex digits>`) and returns its
    /// Connection Request URL.
    pub fn register(&self, target: Arc<dyn CrTarget>) -> Registration {
        loop {
            let path = format!(
                "{}{}",
                self.shared.config.path_prefix,
                hex::encode(rand::random::<[u8; 16]>())
            );
            // A collision of 128 random bits does not happen; the loop only makes it harmless.
            if let Ok(registration) = self.register_at(&path, Arc::clone(&target)) {
                return registration;
            }
        }
    }

    /// Registers a device at a given path, e.g. one it had before a restart of the simulator
    /// (real CPEs keep their URL across reboots). The path must start with the prefix and
    /// hold only unreserved characters (RFC 3986 §2.3).
    pub fn register_at(
        &self,
        path: &str,
        target: Arc<dyn CrTarget>,
    ) -> Result<Registration, RegisterError> {
        let prefix = &self.shared.config.path_prefix;
        let valid = path.len() > prefix.len()
            && path.len() <= 256
            && path.starts_with(prefix.as_str())
            && path.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~')
            });
        if !valid {
            return Err(RegisterError::Invalid);
        }
        let mut devices = self
            .shared
            .devices
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match devices.entry(path.to_owned()) {
            Entry::Occupied(_) => Err(RegisterError::Taken),
            Entry::Vacant(slot) => {
                slot.insert(Arc::new(Device {
                    target,
                    accepted: Mutex::new(VecDeque::new()),
                }));
                Ok(Registration {
                    url: format!("{}{path}", self.shared.base_url),
                    path: path.to_owned(),
                })
            }
        }
    }

    /// Removes a device; its URL answers 404 from now on. Returns whether it was registered.
    pub fn unregister(&self, path: &str) -> bool {
        self.shared
            .devices
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(path)
            .is_some()
    }

    /// Number of registered devices.
    pub fn len(&self) -> usize {
        self.shared
            .devices
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no device is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn device(&self, path: &str) -> Option<Arc<Device>> {
        self.shared
            .devices
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
            .cloned()
    }
}

/// A bound Connection Request listener, not serving yet.
pub struct CrListener {
    listener: TcpListener,
    local_addr: SocketAddr,
    registry: CrRegistry,
}

impl fmt::Debug for CrListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrListener")
            .field("local_addr", &self.local_addr)
            .field("registry", &self.registry)
            .finish()
    }
}

impl CrListener {
    /// Binds the listener. TR-069 §3.2.2 requires plain HTTP; IANA's port is 7547.
    ///
    /// Fails with `InvalidInput` for an unusable configuration: a realm with control
    /// characters, a bad path prefix, an unspecified address without
    /// [`CrConfig::advertised_host`], or zero connections.
    pub async fn bind(addr: SocketAddr, config: CrConfig) -> io::Result<CrListener> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
        let prefix_ok = config.path_prefix.starts_with('/')
            && config.path_prefix.ends_with('/')
            && config.path_prefix.len() <= 64
            && config.path_prefix.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~')
            });
        if !prefix_ok {
            return Err(invalid(
                "path prefix must be /…/ with unreserved characters",
            ));
        }
        if config.max_connections == 0 || config.max_requests_per_connection == 0 {
            return Err(invalid("limits must be at least 1"));
        }
        let key: [u8; 32] = rand::random();
        let digest = DigestServer::new(config.realm.clone(), &key, config.nonce_lifetime.as_secs())
            .map_err(|e| invalid(&e.to_string()))?
            .with_algorithms(&config.algorithms);
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let host = match &config.advertised_host {
            Some(host) if host.contains(':') => format!("[{host}]"),
            Some(host) => host.clone(),
            None if local_addr.ip().is_unspecified() => {
                return Err(invalid(
                    "bound to an unspecified address: set advertised_host",
                ));
            }
            None => match local_addr.ip() {
                IpAddr::V4(ip) => ip.to_string(),
                IpAddr::V6(ip) => format!("[{ip}]"),
            },
        };
        let base_url = format!("http://{host}:{}", local_addr.port());
        let nonce_counts = NonceCounts::new(config.nonce_tracking, config.nonce_lifetime.as_secs());
        Ok(CrListener {
            listener,
            local_addr,
            registry: CrRegistry {
                shared: Arc::new(Shared {
                    config,
                    digest,
                    nonce_counts: Mutex::new(nonce_counts),
                    devices: RwLock::new(HashMap::new()),
                    base_url,
                }),
            },
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://HOST:PORT`: what a device's path is appended to in its URL.
    pub fn base_url(&self) -> &str {
        &self.registry.shared.base_url
    }

    /// The registry, to register devices before or while serving.
    pub fn registry(&self) -> CrRegistry {
        self.registry.clone()
    }

    /// Shorthand for [`CrRegistry::register`].
    pub fn register(&self, target: Arc<dyn CrTarget>) -> Registration {
        self.registry.register(target)
    }

    /// Shorthand for [`CrRegistry::unregister`].
    pub fn unregister(&self, path: &str) -> bool {
        self.registry.unregister(path)
    }

    /// Serves until `shutdown` completes, then stops accepting and gives the connections in
    /// progress up to [`CrConfig::header_timeout`] to finish before cutting them.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let shared = Arc::clone(&self.registry.shared);
        let permits = Arc::new(Semaphore::new(shared.config.max_connections));
        let mut tasks = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                            tracing::debug!(%peer, "connection request listener full, closing");
                            drop(stream);
                            continue;
                        };
                        let registry = self.registry.clone();
                        tasks.spawn(async move {
                            handle_connection(&registry, stream, peer).await;
                            drop(permit);
                        });
                    }
                    Err(error) => {
                        // Out of descriptors and the like: do not spin.
                        tracing::warn!(%error, "connection request accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        drop(self.listener);
        let grace = shared.config.header_timeout;
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tasks.abort_all();
        }
        Ok(())
    }

    /// Serves in a background task until [`CrServer::shutdown`] (or until the handle is
    /// dropped).
    pub fn spawn(self) -> CrServer {
        let (tx, rx) = oneshot::channel::<()>();
        let registry = self.registry();
        let local_addr = self.local_addr;
        let task = tokio::spawn(self.serve(async move {
            // A dropped sender means shutdown too.
            let _ = rx.await;
        }));
        CrServer {
            registry,
            local_addr,
            shutdown: Some(tx),
            task,
        }
    }
}

/// A listener serving in the background.
#[derive(Debug)]
pub struct CrServer {
    registry: CrRegistry,
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl CrServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The registry.
    pub fn registry(&self) -> &CrRegistry {
        &self.registry
    }

    /// Stops accepting, lets the connections in progress finish (bounded), and returns.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(error) => Err(io::Error::other(error)),
        }
    }
}

/// What a request head said, as far as this listener cares.
struct Head {
    method_is_get: bool,
    /// The request target as received (for the Digest `uri` check).
    target: String,
    http10: bool,
    authorization: Option<String>,
    /// A body follows (Content-Length > 0, or Transfer-Encoding).
    has_body: bool,
    connection_close: bool,
}

enum ReadError {
    /// End of stream or time out: close without a word.
    Gone,
    /// The head is larger than allowed, or has too many headers.
    TooLarge,
    /// Not HTTP.
    Malformed,
}

/// A response to write.
struct Reply {
    status: u16,
    www_authenticate: Vec<String>,
    close: bool,
    /// The device to wake once the reply is out.
    wake: Option<Arc<Device>>,
}

impl Reply {
    fn status(status: u16) -> Reply {
        Reply {
            status,
            www_authenticate: Vec::new(),
            close: true,
            wake: None,
        }
    }
}

async fn handle_connection(registry: &CrRegistry, mut stream: TcpStream, peer: SocketAddr) {
    let config = &registry.shared.config;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    for _ in 0..config.max_requests_per_connection {
        let reply = match read_head(&mut stream, &mut buf, config).await {
            Ok(head) => {
                let mut reply = decide(registry, &head, peer);
                reply.close |= head.has_body || head.connection_close || head.http10;
                reply
            }
            Err(ReadError::Gone) => return,
            Err(ReadError::TooLarge) => Reply::status(431),
            Err(ReadError::Malformed) => Reply::status(400),
        };
        let written = tokio::time::timeout(config.header_timeout, async {
            stream.write_all(render(&reply).as_bytes()).await?;
            stream.flush().await
        })
        .await;
        if !matches!(written, Ok(Ok(()))) {
            return;
        }
        // The response is out: now the device may start its session (TR-069 §3.2.2).
        if let Some(device) = &reply.wake {
            device.target.wake();
        }
        if reply.close {
            let _ = stream.shutdown().await;
            return;
        }
    }
    let _ = stream.shutdown().await;
}

/// Reads one request head into `buf` (which may hold bytes of it already) and removes it.
async fn read_head(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    config: &CrConfig,
) -> Result<Head, ReadError> {
    let deadline = super::http::deadline_after(config.header_timeout);
    loop {
        if !buf.is_empty() {
            let mut headers = vec![httparse::EMPTY_HEADER; config.max_headers];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = interpret(&request)?;
                    buf.drain(..len);
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return Err(ReadError::TooLarge),
                Err(_) => return Err(ReadError::Malformed),
            }
        }
        if buf.len() >= config.max_header_bytes {
            return Err(ReadError::TooLarge);
        }
        let room = config.max_header_bytes - buf.len();
        let mut chunk = vec![0u8; room.min(4096)];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Err(ReadError::Gone),
            Ok(Ok(n)) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
}

fn interpret(request: &httparse::Request<'_, '_>) -> Result<Head, ReadError> {
    let method = request.method.ok_or(ReadError::Malformed)?;
    let target = request.path.ok_or(ReadError::Malformed)?;
    let version = request.version.ok_or(ReadError::Malformed)?;
    let mut authorization = None;
    let mut has_body = false;
    let mut connection_close = false;
    for header in request.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("authorization") {
            // Only the first one counts; a value that is not text is no credentials.
            if authorization.is_none() {
                authorization = std::str::from_utf8(header.value).ok().map(str::to_owned);
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value).map_err(|_| ReadError::Malformed)?;
            let len: u64 = value.trim().parse().map_err(|_| ReadError::Malformed)?;
            has_body |= len > 0;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            has_body = true;
        } else if name.eq_ignore_ascii_case("connection") {
            connection_close |= std::str::from_utf8(header.value)
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
        }
        // Everything else, Cookie included, is ignored (notes §7.2).
    }
    Ok(Head {
        method_is_get: method == "GET",
        target: target.to_owned(),
        http10: version == 0,
        authorization,
        has_body,
        connection_close,
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The path of an origin-form or absolute-form (`http://host/path`) request target.
fn target_path(target: &str) -> &str {
    if target.starts_with('/') {
        return target;
    }
    let lower_http = target
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"));
    if !lower_http {
        return "";
    }
    let rest = target.get(7..).unwrap_or("");
    match rest.find('/') {
        Some(i) => rest.get(i..).unwrap_or(""),
        None => "",
    }
}

fn decide(registry: &CrRegistry, head: &Head, peer: SocketAddr) -> Reply {
    let shared = &registry.shared;
    if !head.method_is_get {
        return Reply::status(405);
    }
    // Exact match: a query string or any other variation is another, unknown, path.
    let Some(device) = registry.device(target_path(&head.target)) else {
        return Reply::status(404);
    };
    let now = now_secs();
    let challenge = |stale: bool| Reply {
        status: 401,
        www_authenticate: shared.digest.challenges(now, &rand::random(), stale),
        close: false,
        wake: None,
    };
    let (username, password) = device.target.credentials();
    let Some(authorization) = &head.authorization else {
        return challenge(false);
    };
    if username.is_empty() || password.is_empty() {
        tracing::debug!(%peer, "connection request for a device without credentials");
        return challenge(false);
    }
    let expected = StoredCredential {
        username: &username,
        secret: Secret::Password(&password),
    };
    let verified = shared
        .digest
        .verify_header(authorization, "GET", &head.target, &expected, now)
        .and_then(|verified| {
            shared
                .nonce_counts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .accept(&verified, now)
        });
    match verified {
        Ok(()) => {}
        Err(DigestError::Stale) => return challenge(true),
        Err(error) => {
            tracing::debug!(%peer, %error, "connection request not authenticated");
            return challenge(false);
        }
    }
    if let Some(limit) = shared.config.rate_limit {
        let now = Instant::now();
        let mut accepted = device
            .accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= limit.per)
        {
            accepted.pop_front();
        }
        if accepted.len() >= limit.max_requests as usize {
            tracing::debug!(%peer, "connection request rate limited");
            return Reply::status(503);
        }
        accepted.push_back(now);
    }
    Reply {
        status: 200,
        www_authenticate: Vec::new(),
        close: true,
        wake: Some(device),
    }
}

fn render(reply: &Reply) -> String {
    let reason = match reply.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: 0\r\n",
        reply.status
    );
    for challenge in &reply.www_authenticate {
        out.push_str("WWW-Authenticate: ");
        out.push_str(challenge);
        out.push_str("\r\n");
    }
    if reply.status == 405 {
        out.push_str("Allow: GET\r\n");
    }
    if reply.close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn target_paths() {
        assert_eq!(target_path("/cr/abc"), "/cr/abc");
        assert_eq!(target_path("http://h:1/cr/abc"), "/cr/abc");
        assert_eq!(target_path("HTTP://h"), "");
        assert_eq!(target_path("*"), "");
        assert_eq!(target_path("/cr/abc?x"), "/cr/abc?x");
    }

    #[test]
    fn replies_render() {
        let mut reply = Reply::status(401);
        reply.close = false;
        reply.www_authenticate = vec!["Digest realm=\"r\"".into()];
        assert_eq!(
            render(&reply),
            "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nWWW-Authenticate: Digest realm=\"r\"\r\n\r\n"
        );
        assert_eq!(
            render(&Reply::status(405)),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nAllow: GET\r\nConnection: close\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn bind_checks_the_configuration() {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let bad_prefix = CrConfig {
            path_prefix: "cr".into(),
            ..CrConfig::default()
        };
        assert!(CrListener::bind(addr, bad_prefix).await.is_err());
        let bad_realm = CrConfig {
            realm: "a\r\nb".into(),
            ..CrConfig::default()
        };
        assert!(CrListener::bind(addr, bad_realm).await.is_err());
        let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
        assert!(CrListener::bind(any, CrConfig::default()).await.is_err());
        let advertised = CrConfig {
            advertised_host: Some("cpe.example".into()),
            ..CrConfig::default()
        };
        let listener = CrListener::bind(any, advertised).await.unwrap();
        struct Nop;
        impl CrTarget for Nop {
            fn credentials(&self) -> (String, String) {
                (String::new(), String::new())
            }
            fn wake(&self) {}
        }
        let registration = listener.register(Arc::new(Nop));
        assert!(registration.url.starts_with(&format!(
            "http://cpe.example:{}/cr/",
            listener.local_addr().port()
        )));
        assert_eq!(registration.path.len(), "/cr/".len() + 32);
        assert!(
            listener
                .registry()
                .register_at(&registration.path, Arc::new(Nop))
                .is_err()
        );
        assert!(listener.unregister(&registration.path));
        assert!(!listener.unregister(&registration.path));
        assert!(listener.registry().is_empty());
    }
}
