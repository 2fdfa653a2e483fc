//! The Connection Request listener (TR-069 §3.2.2; notes §5.1, §7.2, §7.4), driven by the
//! ACS's own connection-request client (`acs::conn_req`) for interoperability and by a raw
//! client for what a well-behaved ACS never sends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acs::config::ConnectionRequestConfig;
use acs::conn_req::{ConnectionRequestError, ConnectionRequester};
use cpe_sim::net::{CrConfig, CrListener, CrServer, CrTarget, RateLimit};
use cwmp::auth::basic;
use cwmp::auth::digest::{self, Algorithm, Challenge, DigestRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------------------------
// Devices and helpers
// ---------------------------------------------------------------------------------------------

/// A simulated device: credentials the test can change, and a count of wakes.
struct Device {
    credentials: Mutex<(String, String)>,
    wakes: AtomicUsize,
}

impl Device {
    fn new(username: &str, password: &str) -> Arc<Device> {
        Arc::new(Device {
            credentials: Mutex::new((username.to_owned(), password.to_owned())),
            wakes: AtomicUsize::new(0),
        })
    }

    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }

    fn set_credentials(&self, username: &str, password: &str) {
        *self.credentials.lock().unwrap() = (username.to_owned(), password.to_owned());
    }
}

impl CrTarget for Device {
    fn credentials(&self) -> (String, String) {
        self.credentials.lock().unwrap().clone()
    }

    fn wake(&self) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

async fn start(config: CrConfig) -> CrServer {
    CrListener::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
        .spawn()
}

fn requester() -> ConnectionRequester {
    ConnectionRequester::new(&ConnectionRequestConfig {
        timeout_secs: 5,
        allow_basic: false,
        ..ConnectionRequestConfig::default()
    })
}

/// Waits (bounded) until `f` holds; the wake comes right after the response is written.
async fn eventually(f: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    f()
}

/// Lets a wrongly issued wake arrive before asserting that none did.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A response head read by the raw client.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn challenges(&self) -> Vec<Challenge> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
            .flat_map(|(_, v)| digest::parse_challenges(v).unwrap())
            .collect()
    }
}

/// A raw HTTP/1.1 client connection.
struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    async fn open(addr: SocketAddr) -> RawConn {
        RawConn {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// Sends raw bytes and reads one response head (the listener never sends a body);
    /// `None` when the listener closed the connection instead.
    async fn send(&mut self, request: &[u8]) -> Option<RawResponse> {
        if self.stream.write_all(request).await.is_err() {
            return None;
        }
        self.read_response().await
    }

    async fn read_response(&mut self) -> Option<RawResponse> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buf[..end].to_vec()).unwrap();
                self.buf.drain(..end + 4);
                let mut lines = head.split("\r\n");
                let status_line = lines.next().unwrap();
                assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
                let status = status_line[9..12].parse().unwrap();
                let headers = lines
                    .map(|l| {
                        let (n, v) = l.split_once(':').unwrap();
                        (n.trim().to_owned(), v.trim().to_owned())
                    })
                    .collect::<Vec<_>>();
                let response = RawResponse { status, headers };
                assert_eq!(response.header("content-length"), Some("0"));
                return Some(response);
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(Duration::from_secs(3), self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return None,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => panic!("no response"),
            }
        }
    }

    /// Whether the listener closed the connection (within 3 s).
    async fn is_closed(&mut self) -> bool {
        let mut chunk = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(3), self.stream.read(&mut chunk)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

fn get(path: &str, authorization: Option<&str>) -> Vec<u8> {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: cpe\r\n");
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// Answers the challenge of `algorithm` among `challenges`.
fn answer(
    challenges: &[Challenge],
    algorithm: Algorithm,
    username: &str,
    password: &str,
    uri: &str,
    nc: u32,
) -> String {
    let challenge = challenges
        .iter()
        .find_map(|c| match c {
            Challenge::Digest(d) if d.effective_algorithm() == algorithm => Some(d),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {algorithm} challenge in {challenges:?}"));
    challenge
        .respond(&DigestRequest {
            username,
            password,
            method: "GET",
            uri,
            cnonce: "0a4f113b0a4f113b",
            nc,
        })
        .unwrap()
        .to_header_value()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Interoperability with the ACS's client
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn digest_wakes_exactly_the_addressed_device() {
    let server = start(CrConfig::default()).await;
    let devices: Vec<Arc<Device>> = (0..3)
        .map(|i| Device::new(&format!("acs-{i}"), &format!("secret-{i}")))
        .collect();
    let urls: Vec<String> = devices
        .iter()
        .map(|d| {
            server
                .registry()
                .register(Arc::clone(d) as Arc<dyn CrTarget>)
                .url
        })
        .collect();
    for url in &urls {
        assert!(url.starts_with(&format!("http://{}/cr/", server.local_addr())));
        assert_eq!(
            url.len(),
            format!("http://{}/cr/", server.local_addr()).len() + 32
        );
    }
    requester()
        .send(&urls[1], Some(("acs-1", "secret-1")))
        .await
        .unwrap();
    assert!(eventually(|| devices[1].wakes() == 1).await);
    settle().await;
    let wakes: Vec<usize> = devices.iter().map(|d| d.wakes()).collect();
    assert_eq!(wakes, vec![0, 1, 0]);
}

#[tokio::test]
async fn wrong_or_missing_credentials_never_wake() {
    let server = start(CrConfig::default()).await;
    let device = Device::new("acs", "right");
    let url = server.registry().register(device.clone()).url;
    assert_eq!(
        requester().send(&url, Some(("acs", "wrong"))).await,
        Err(ConnectionRequestError::AuthenticationFailed)
    );
    assert_eq!(
        requester().send(&url, Some(("other", "right"))).await,
        Err(ConnectionRequestError::AuthenticationFailed)
    );
    assert_eq!(
        requester().send(&url, None).await,
        Err(ConnectionRequestError::NoCredentials)
    );
    settle().await;
    assert_eq!(device.wakes(), 0);
}

#[tokio::test]
async fn unknown_paths_get_404_without_a_hint() {
    let server = start(CrConfig::default()).await;
    let device = Device::new("acs", "pw");
    let registration = server.registry().register(device.clone());
    let base = format!("http://{}", server.local_addr());
    for url in [
        format!("{base}/cr/00000000000000000000000000000000"),
        format!("{base}/"),
        format!("{}x", registration.url),
        format!("{}?x=1", registration.url),
        format!("{}/", registration.url),
    ] {
        assert_eq!(
            requester().send(&url, Some(("acs", "pw"))).await,
            Err(ConnectionRequestError::Status(404)),
            "{url}"
        );
    }
    let mut conn = RawConn::open(server.local_addr()).await;
    let response = conn.send(&get("/nope", None)).await.unwrap();
    assert_eq!(response.status, 404);
    assert_eq!(response.header("www-authenticate"), None);
    // Unregistered: its URL is unknown from now on.
    assert!(server.registry().unregister(&registration.path));
    assert_eq!(
        requester()
            .send(&registration.url, Some(("acs", "pw")))
            .await,
        Err(ConnectionRequestError::Status(404))
    );
    settle().await;
    assert_eq!(device.wakes(), 0);
}

#[tokio::test]
async fn credentials_changed_by_the_device_count_at_once() {
    let server = start(CrConfig::default()).await;
    let device = Device::new("old-user", "old-pass");
    let url = server.registry().register(device.clone()).url;
    requester()
        .send(&url, Some(("old-user", "old-pass")))
        .await
        .unwrap();
    device.set_credentials("new-user", "new-pass");
    assert_eq!(
        requester().send(&url, Some(("old-user", "old-pass"))).await,
        Err(ConnectionRequestError::AuthenticationFailed)
    );
    requester()
        .send(&url, Some(("new-user", "new-pass")))
        .await
        .unwrap();
    assert!(eventually(|| device.wakes() == 2).await);
}

#[tokio::test]
async fn a_device_without_credentials_refuses_everything() {
    let server = start(CrConfig::default()).await;
    let device = Device::new("", "");
    let url = server.registry().register(device.clone()).url;
    assert_eq!(
        requester().send(&url, Some(("", ""))).await,
        Err(ConnectionRequestError::AuthenticationFailed)
    );
    // A username alone is not enough either.
    device.set_credentials("acs", "");
    assert_eq!(
        requester().send(&url, Some(("acs", ""))).await,
        Err(ConnectionRequestError::AuthenticationFailed)
    );
    settle().await;
    assert_eq!(device.wakes(), 0);
    // Once the ACS has set both, it works.
    device.set_credentials("acs", "pw");
    requester().send(&url, Some(("acs", "pw"))).await.unwrap();
    assert!(eventually(|| device.wakes() == 1).await);
}

#[tokio::test]
async fn rate_limit_answers_503_without_retry_after() {
    let server = start(CrConfig {
        rate_limit: Some(RateLimit {
            max_requests: 2,
            per: Duration::from_secs(60),
        }),
        ..CrConfig::default()
    })
    .await;
    let device = Device::new("acs", "pw");
    let other = Device::new("acs", "pw");
    let registration = server.registry().register(device.clone());
    let other_url = server.registry().register(other.clone()).url;
    for _ in 0..2 {
        requester()
            .send(&registration.url, Some(("acs", "pw")))
            .await
            .unwrap();
    }
    assert_eq!(
        requester()
            .send(&registration.url, Some(("acs", "pw")))
            .await,
        Err(ConnectionRequestError::Status(503))
    );
    // The limit is per device.
    requester()
        .send(&other_url, Some(("acs", "pw")))
        .await
        .unwrap();
    assert!(eventually(|| device.wakes() == 2 && other.wakes() == 1).await);

    // The raw 503 carries no Retry-After.
    let mut conn = RawConn::open(server.local_addr()).await;
    let challenge = conn.send(&get(&registration.path, None)).await.unwrap();
    assert_eq!(challenge.status, 401);
    let auth = answer(
        &challenge.challenges(),
        Algorithm::Md5,
        "acs",
        "pw",
        &registration.path,
        1,
    );
    let busy = conn
        .send(&get(&registration.path, Some(&auth)))
        .await
        .unwrap();
    assert_eq!(busy.status, 503);
    assert_eq!(busy.header("retry-after"), None);
    settle().await;
    assert_eq!(device.wakes(), 2);
}

#[tokio::test]
async fn rate_limit_window_slides() {
    let server = start(CrConfig {
        rate_limit: Some(RateLimit {
            max_requests: 1,
            per: Duration::from_secs(1),
        }),
        ..CrConfig::default()
    })
    .await;
    let device = Device::new("acs", "pw");
    let url = server.registry().register(device.clone()).url;
    requester().send(&url, Some(("acs", "pw"))).await.unwrap();
    assert_eq!(
        requester().send(&url, Some(("acs", "pw"))).await,
        Err(ConnectionRequestError::Status(503))
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    requester().send(&url, Some(("acs", "pw"))).await.unwrap();
    assert!(eventually(|| device.wakes() == 2).await);
}

// ---------------------------------------------------------------------------------------------
// Digest details, with a raw client
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn md5_and_md5_sess_are_offered_and_accepted() {
    let server = start(CrConfig::default()).await;
    let device = Device::new("acs", "pw");
    let path = server.registry().register(device.clone()).path;
    for (i, algorithm) in [Algorithm::Md5, Algorithm::Md5Sess].into_iter().enumerate() {
        let mut conn = RawConn::open(server.local_addr()).await;
        let challenge = conn.send(&get(&path, None)).await.unwrap();
        assert_eq!(challenge.status, 401);
        // Kept open for the answer.
        assert_eq!(challenge.header("connection"), None);
        let offered: Vec<Algorithm> = challenge
            .challenges()
            .iter()
            .map(|c| match c {
                Challenge::Digest(d) => {
                    assert_eq!(d.realm, "cpe-sim");
                    assert_eq!(d.qop.as_deref(), Some(&[digest::Qop::Auth][..]));
                    d.effective_algorithm()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(offered, vec![Algorithm::Md5, Algorithm::Md5Sess]);
        let auth = answer(&challenge.challenges(), algorithm, "acs", "pw", &path, 1);
        let ok = conn.send(&get(&path, Some(&auth))).await.unwrap();
        assert_eq!(ok.status, 200, "{algorithm}");
        assert!(eventually(|| device.wakes() == i + 1).await);
    }
}

#[tokio::test]
async fn a_replayed_authorization_is_refused() {
    let server = start(CrConfig::default()).await;
    let device = Device::new("acs", "pw");
    let path = server.registry().register(device.clone()).path;
    let mut conn = RawConn::open(server.local_addr()).await;
    let challenge = conn.send(&get(&path, None)).await.unwrap();
    let challenges = challenge.challenges();
    let first = answer(&challenges, Algorithm::Md5, "acs", "pw", &path, 1);
    assert_eq!(
        conn.send(&get(&path, Some(&first))).await.unwrap().status,
        200
    );
    assert!(eventually(|| device.wakes() == 1).await);

    // The same header again, on a new connection: a replay.
    let mut replay = RawConn::open(server.local_addr()).await;
    assert_eq!(
        replay.send(&get(&path, Some(&first))).await.unwrap().status,
        401
    );
    settle().await;
    assert_eq!(device.wakes(), 1);

    // A higher nonce count on the same nonce is a new request.
    let mut next = RawConn::open(server.local_addr()).await;
    let second = answer(&challenges, Algorithm::Md5, "acs", "pw", &path, 2);
    assert_eq!(
        next.send(&get(&path, Some(&second))).await.unwrap().status,
        200
    );
    assert!(eventually(|| device.wakes() == 2).await);
}

#[tokio::test]
async fn an_expired_nonce_gets_a_stale_challenge() {
    let server = start(CrConfig {
        nonce_lifetime: Duration::from_secs(1),
        ..CrConfig::default()
    })
    .await;
    let device = Device::new("acs", "pw");
    let path = server.registry().register(device.clone()).path;
    let mut conn = RawConn::open(server.local_addr()).await;
    let challenge = conn.send(&get(&path, None)).await.unwrap();
    let auth = answer(
        &challenge.challenges(),
        Algorithm::Md5,
        "acs",
        "pw",
        &path,
        1,
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut conn = RawConn::open(server.local_addr()).await;
    let stale = conn.send(&get(&path, Some(&auth))).await.unwrap();
    assert_eq!(stale.status, 401);
    assert!(
        stale
            .challenges()
            .iter()
            .all(|c| matches!(c, Challenge::Digest(d) if d.stale))
    );
    settle().await;
    assert_eq!(device.wakes(), 0);
}

#[tokio::test]
async fn basic_credentials_are_not_accepted() {
    let server = start(CrConfig::default()).await;
    let device = Device::new("acs", "pw");
    let path = server.registry().register(device.clone()).path;
    let mut conn = RawConn::open(server.local_addr()).await;
    let basic = basic::authorization("acs", "pw").unwrap();
    let response = conn.send(&get(&path, Some(&basic))).await.unwrap();
    assert_eq!(response.status, 401);
    assert!(
        response
            .header("www-authenticate")
            .unwrap()
            .starts_with("Digest ")
    );
    settle().await;
    assert_eq!(device.wakes(), 0);
}

#[tokio::test]
async fn only_get_is_served() {
    let server = start(CrConfig::default()).await;
    let device = Device::new("acs", "pw");
    let path = server.registry().register(device.clone()).path;
    // A valid Digest answer for GET does not make a POST acceptable.
    let mut conn = RawConn::open(server.local_addr()).await;
    let challenge = conn.send(&get(&path, None)).await.unwrap();
    let auth = answer(
        &challenge.challenges(),
        Algorithm::Md5,
        "acs",
        "pw",
        &path,
        1,
    );
    for method in ["POST", "PUT", "HEAD", "DELETE"] {
        let mut conn = RawConn::open(server.local_addr()).await;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: cpe\r\nAuthorization: {auth}\r\nContent-Length: 5\r\n\r\nhello"
        );
        let response = conn.send(request.as_bytes()).await.unwrap();
        assert_eq!(response.status, 405, "{method}");
        assert_eq!(response.header("allow"), Some("GET"));
    }
    settle().await;
    assert_eq!(device.wakes(), 0);
}

#[tokio::test]
async fn a_get_with_a_body_is_answered_and_the_body_ignored() {
    let server = start(CrConfig::default()).await;
    let device = Device::new("acs", "pw");
    let path = server.registry().register(device.clone()).path;
    let mut conn = RawConn::open(server.local_addr()).await;
    let challenge = conn.send(&get(&path, None)).await.unwrap();
    let auth = answer(
        &challenge.challenges(),
        Algorithm::Md5,
        "acs",
        "pw",
        &path,
        1,
    );
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: cpe\r\nAuthorization: {auth}\r\nContent-Length: 11\r\nCookie: {}\r\n\r\n<soap>x</s>",
        "c=".repeat(500)
    );
    let response = conn.send(request.as_bytes()).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(conn.is_closed().await);
    assert!(eventually(|| device.wakes() == 1).await);
}

// ---------------------------------------------------------------------------------------------
// The response goes out before the wake
// ---------------------------------------------------------------------------------------------

/// Looks, from inside `wake`, at what the client has received.
struct Peeking {
    client: Mutex<Option<std::net::TcpStream>>,
    saw_200_before_wake: AtomicBool,
    wakes: AtomicUsize,
}

impl CrTarget for Peeking {
    fn credentials(&self) -> (String, String) {
        ("acs".into(), "pw".into())
    }

    fn wake(&self) {
        let guard = self.client.lock().unwrap();
        let client = guard.as_ref().unwrap();
        client.set_nonblocking(true).unwrap();
        // The listener's task is blocked here: if the 200 were not written yet, it could not
        // arrive while we look.
        for _ in 0..200 {
            let mut buf = [0u8; 64];
            if let Ok(n) = client.peek(&mut buf)
                && buf[..n].starts_with(b"HTTP/1.1 200")
            {
                self.saw_200_before_wake.store(true, Ordering::SeqCst);
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        client.set_nonblocking(false).unwrap();
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_is_written_before_the_device_is_woken() {
    let server = start(CrConfig::default()).await;
    let target = Arc::new(Peeking {
        client: Mutex::new(None),
        saw_200_before_wake: AtomicBool::new(false),
        wakes: AtomicUsize::new(0),
    });
    let path = server.registry().register(target.clone()).path;
    let addr = server.local_addr();
    let target_in = Arc::clone(&target);
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        *target_in.client.lock().unwrap() = Some(stream.try_clone().unwrap());
        stream.write_all(&get(&path, None)).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        let challenges: Vec<Challenge> = text
            .lines()
            .filter_map(|l| l.strip_prefix("WWW-Authenticate: "))
            .flat_map(|v| digest::parse_challenges(v).unwrap())
            .collect();
        let auth = answer(&challenges, Algorithm::Md5, "acs", "pw", &path, 1);
        stream.write_all(&get(&path, Some(&auth))).unwrap();
        // Leave the response in the socket until `wake` has looked at it (peeking does not
        // consume it; reading here would).
        let deadline = Instant::now() + Duration::from_secs(3);
        while target_in.wakes.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    })
    .await
    .unwrap();
    assert!(eventually(|| target.wakes.load(Ordering::SeqCst) == 1).await);
    assert!(target.saw_200_before_wake.load(Ordering::SeqCst));
}

// ---------------------------------------------------------------------------------------------
// Hostile clients
// ---------------------------------------------------------------------------------------------

fn strict() -> CrConfig {
    CrConfig {
        header_timeout: Duration::from_millis(300),
        max_connections: 2,
        ..CrConfig::default()
    }
}

#[tokio::test]
async fn oversized_heads_are_refused() {
    let server = start(strict()).await;
    let device = Device::new("acs", "pw");
    let path = server.registry().register(device.clone()).path;

    let mut conn = RawConn::open(server.local_addr()).await;
    let big = format!("GET {path} HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(9000));
    let response = conn.send(big.as_bytes()).await;
    assert_eq!(response.map(|r| r.status), Some(431));

    let mut conn = RawConn::open(server.local_addr()).await;
    let mut many = format!("GET {path} HTTP/1.1\r\n");
    for i in 0..40 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let response = conn.send(many.as_bytes()).await;
    assert_eq!(response.map(|r| r.status), Some(431));
    assert!(conn.is_closed().await);
}

#[tokio::test]
async fn garbage_gets_400_and_a_closed_connection() {
    let server = start(strict()).await;
    let mut conn = RawConn::open(server.local_addr()).await;
    let response = conn
        .send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")
        .await;
    assert_eq!(response.map(|r| r.status), Some(400));
    assert!(conn.is_closed().await);
}

#[tokio::test]
async fn a_slow_client_is_cut_off() {
    let server = start(strict()).await;
    let mut conn = RawConn::open(server.local_addr()).await;
    conn.stream
        .write_all(b"GET /cr/x HTTP/1.1\r\nHost:")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(conn.is_closed().await);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn connections_are_capped() {
    let server = start(CrConfig {
        header_timeout: Duration::from_secs(1),
        ..strict()
    })
    .await;
    let device = Device::new("acs", "pw");
    let url = server.registry().register(device.clone()).url;
    let mut idle = vec![
        RawConn::open(server.local_addr()).await,
        RawConn::open(server.local_addr()).await,
    ];
    // Let the listener accept both.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut third = RawConn::open(server.local_addr()).await;
    assert!(third.send(&get("/cr/x", None)).await.is_none());
    // The idle ones time out, and then there is room again.
    for conn in &mut idle {
        assert!(conn.is_closed().await);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    requester().send(&url, Some(("acs", "pw"))).await.unwrap();
    assert!(eventually(|| device.wakes() == 1).await);
}

#[tokio::test]
async fn requests_per_connection_are_capped() {
    let server = start(CrConfig {
        max_requests_per_connection: 2,
        ..CrConfig::default()
    })
    .await;
    let path = server.registry().register(Device::new("acs", "pw")).path;
    let mut conn = RawConn::open(server.local_addr()).await;
    assert_eq!(conn.send(&get(&path, None)).await.unwrap().status, 401);
    assert_eq!(conn.send(&get(&path, None)).await.unwrap().status, 401);
    assert!(conn.send(&get(&path, None)).await.is_none());
}

#[tokio::test]
async fn shutdown_stops_the_listener() {
    let server = start(CrConfig::default()).await;
    let addr = server.local_addr();
    server.shutdown().await.unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}
