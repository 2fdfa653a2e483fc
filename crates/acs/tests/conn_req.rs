//! Connection requests against small test servers playing the CPE's side (TR-069 §3.2.2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use acs::config::ConnectionRequestConfig;
use acs::conn_req::{ConnectionRequestError, ConnectionRequester};
use bytes::Bytes;
use cwmp::auth::basic;
use cwmp::auth::digest::{Algorithm, DigestServer, Secret, StoredCredential};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const USER: &str = "cr-user";
const PASS: &str = "cr-secret-1";
const PATH: &str = "/cr/8f3a2b?x=1";

/// How the test CPE answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// This status, without authentication.
    Status(u16),
    /// Digest, keeping the connection open after the challenge.
    Digest,
    /// Digest, offering SHA-256 before MD5.
    DigestSha256First,
    /// Digest, closing the connection after each response (announced with
    /// `Connection: close`).
    DigestClose,
    /// Digest; the first correct answer gets a new challenge with `stale=true`.
    DigestStaleOnce,
    /// Basic only.
    Basic,
}

/// A request the test CPE received.
#[derive(Debug, Clone)]
struct Seen {
    /// Which TCP connection (numbered from 0).
    conn: usize,
    uri: String,
    authorization: Option<String>,
    /// Whether the credentials were right (`None`: none sent).
    verified: Option<bool>,
    /// The Digest algorithm of right credentials.
    algorithm: Option<Algorithm>,
}

struct Cpe {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Cpe {
    fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn requester(timeout_secs: u64, allow_basic: bool) -> ConnectionRequester {
    ConnectionRequester::new(&ConnectionRequestConfig {
        timeout_secs,
        allow_basic,
        ..ConnectionRequestConfig::default()
    })
}

fn digest_server(mode: Mode) -> DigestServer {
    let server = DigestServer::new("cpe-cr", b"0123456789abcdef0123456789abcdef", 300).unwrap();
    if mode == Mode::DigestSha256First {
        server.with_algorithms(&[Algorithm::Sha256, Algorithm::Md5])
    } else {
        server
    }
}

fn respond(
    mode: Mode,
    digest: &DigestServer,
    stale_sent: &AtomicUsize,
    seen: &mut Seen,
) -> Response<Full<Bytes>> {
    let empty = |status: u16| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::from_u16(status).unwrap();
        r
    };
    let challenge = |stale: bool| {
        let mut r = Response::new(Full::new(Bytes::from_static(b"<html>401</html>")));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        for c in digest.challenges(now(), &rand::random(), stale) {
            r.headers_mut().append(WWW_AUTHENTICATE, c.parse().unwrap());
        }
        r
    };
    match mode {
        Mode::Status(status) => empty(status),
        Mode::Basic => match &seen.authorization {
            Some(auth) => {
                let ok = basic::verify(auth, USER, PASS).is_ok();
                seen.verified = Some(ok);
                if ok { empty(200) } else { empty(401) }
            }
            None => {
                let mut r = empty(401);
                let c = basic::challenge("cpe-cr").unwrap();
                r.headers_mut().insert(WWW_AUTHENTICATE, c.parse().unwrap());
                r
            }
        },
        Mode::Digest | Mode::DigestSha256First | Mode::DigestClose | Mode::DigestStaleOnce => {
            let Some(auth) = &seen.authorization else {
                return challenge(false);
            };
            let expected = StoredCredential {
                username: USER,
                secret: Secret::Password(PASS),
            };
            match digest.verify_header(auth, "GET", &seen.uri, &expected, now()) {
                Ok(verified) => {
                    seen.verified = Some(true);
                    seen.algorithm = Some(verified.algorithm);
                    if mode == Mode::DigestStaleOnce
                        && stale_sent.fetch_add(1, Ordering::SeqCst) == 0
                    {
                        challenge(true)
                    } else {
                        empty(204)
                    }
                }
                Err(_) => {
                    seen.verified = Some(false);
                    challenge(false)
                }
            }
        }
    }
}

/// A hyper server on 127.0.0.1:0 (or `bind`) answering as `mode`.
async fn cpe_on(bind: &str, mode: Mode) -> Cpe {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let digest = Arc::new(digest_server(mode));
    let stale_sent = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        for conn in 0.. {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (log, digest, stale_sent) = (log.clone(), digest.clone(), stale_sent.clone());
            let service = service_fn(move |req: Request<Incoming>| {
                let mut seen = Seen {
                    conn,
                    uri: req.uri().to_string(),
                    authorization: req
                        .headers()
                        .get(AUTHORIZATION)
                        .map(|v| v.to_str().unwrap().to_owned()),
                    verified: None,
                    algorithm: None,
                };
                let response = respond(mode, &digest, &stale_sent, &mut seen);
                log.lock().unwrap().push(seen);
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(mode != Mode::DigestClose)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Cpe { addr, seen }
}

async fn cpe(mode: Mode) -> Cpe {
    cpe_on("127.0.0.1:0", mode).await
}

/// A Digest CPE written on bare TCP that answers one request per connection and then
/// closes it without announcing it (no `Connection: close`), as some CPEs do after their
/// challenge. With `linger`, it waits a little before closing, so that the client's next
/// request is already on its way (and lost) when the connection goes.
async fn rude_cpe(linger: bool) -> Cpe {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let digest = digest_server(Mode::Digest);
    tokio::spawn(async move {
        for conn in 0.. {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let head = read_head(&mut stream).await;
            let mut lines = head.split("\r\n");
            let uri = lines.next().unwrap().split(' ').nth(1).unwrap().to_owned();
            let authorization = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
                .map(|(_, value)| value.trim().to_owned());
            let mut seen = Seen {
                conn,
                uri,
                authorization,
                verified: None,
                algorithm: None,
            };
            let response = match &seen.authorization {
                None => format!(
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {}\r\nContent-Length: 0\r\n\r\n",
                    digest.challenge(now(), &rand::random(), false)
                ),
                Some(auth) => {
                    let expected = StoredCredential {
                        username: USER,
                        secret: Secret::Password(PASS),
                    };
                    let ok = digest
                        .verify_header(auth, "GET", &seen.uri, &expected, now())
                        .is_ok();
                    seen.verified = Some(ok);
                    if ok {
                        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_owned()
                    } else {
                        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".to_owned()
                    }
                }
            };
            log.lock().unwrap().push(seen);
            let _ = stream.write_all(response.as_bytes()).await;
            if linger {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let _ = stream.shutdown().await;
            drop(stream);
        }
    });
    Cpe { addr, seen }
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the request head");
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).unwrap()
}

#[tokio::test]
async fn digest_success_on_the_same_connection() {
    let cpe = cpe(Mode::Digest).await;
    requester(5, false)
        .send(&cpe.url(), Some((USER, PASS)))
        .await
        .unwrap();
    let seen = cpe.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].authorization, None);
    assert_eq!(seen[0].uri, PATH);
    assert_eq!(seen[1].verified, Some(true), "{seen:?}");
    assert_eq!(seen[1].algorithm, Some(Algorithm::Md5));
    // Keep-alive: the answer went on the connection of the challenge.
    assert_eq!(seen[0].conn, seen[1].conn);
    let auth = seen[1].authorization.as_deref().unwrap();
    for part in [
        "Digest ",
        "username=\"cr-user\"",
        "uri=\"/cr/8f3a2b?x=1\"",
        "qop=auth",
        "nc=00000001",
    ] {
        assert!(auth.contains(part), "{part} missing from {auth}");
    }
}

#[tokio::test]
async fn md5_is_preferred_over_sha256() {
    let cpe = cpe(Mode::DigestSha256First).await;
    requester(5, false)
        .send(&cpe.url(), Some((USER, PASS)))
        .await
        .unwrap();
    let seen = cpe.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].verified, Some(true));
    assert_eq!(seen[1].algorithm, Some(Algorithm::Md5));
}

#[tokio::test]
async fn each_request_has_a_fresh_cnonce() {
    let cpe = cpe(Mode::Digest).await;
    let r = requester(5, false);
    r.send(&cpe.url(), Some((USER, PASS))).await.unwrap();
    r.send(&cpe.url(), Some((USER, PASS))).await.unwrap();
    let seen = cpe.seen();
    let cnonce = |s: &Seen| {
        let auth = s.authorization.clone().unwrap();
        cwmp::auth::digest::DigestCredentials::parse(&auth)
            .unwrap()
            .cnonce
            .unwrap()
    };
    assert_eq!(seen.len(), 4);
    assert_ne!(cnonce(&seen[1]), cnonce(&seen[3]));
    assert!(cnonce(&seen[1]).len() >= 16);
}

#[tokio::test]
async fn no_authentication_needed_200_and_204() {
    for status in [200, 204] {
        let cpe = cpe(Mode::Status(status)).await;
        requester(5, false)
            .send(&cpe.url(), Some((USER, PASS)))
            .await
            .unwrap();
        requester(5, false).send(&cpe.url(), None).await.unwrap();
        let seen = cpe.seen();
        assert_eq!(seen.len(), 2);
        assert!(seen.iter().all(|s| s.authorization.is_none()));
    }
}

#[tokio::test]
async fn wrong_password_fails_after_one_answer() {
    let cpe = cpe(Mode::Digest).await;
    let err = requester(5, false)
        .send(&cpe.url(), Some((USER, "wrong")))
        .await
        .unwrap_err();
    assert_eq!(err, ConnectionRequestError::AuthenticationFailed);
    assert_eq!(err.outcome(), "auth");
    let seen = cpe.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].verified, Some(false));
}

#[tokio::test]
async fn wrong_username_fails() {
    let cpe = cpe(Mode::Digest).await;
    let err = requester(5, false)
        .send(&cpe.url(), Some(("other", PASS)))
        .await
        .unwrap_err();
    assert_eq!(err, ConnectionRequestError::AuthenticationFailed);
}

#[tokio::test]
async fn a_challenge_without_known_credentials() {
    let cpe = cpe(Mode::Digest).await;
    let err = requester(5, false)
        .send(&cpe.url(), None)
        .await
        .unwrap_err();
    assert_eq!(err, ConnectionRequestError::NoCredentials);
    assert_eq!(cpe.seen().len(), 1);
}

#[tokio::test]
async fn device_closing_after_the_challenge_announced() {
    let cpe = cpe(Mode::DigestClose).await;
    requester(5, false)
        .send(&cpe.url(), Some((USER, PASS)))
        .await
        .unwrap();
    let seen = cpe.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_ne!(seen[0].conn, seen[1].conn);
    assert_eq!(seen[1].verified, Some(true));
}

#[tokio::test]
async fn device_closing_after_the_challenge_unannounced() {
    for linger in [false, true] {
        let cpe = rude_cpe(linger).await;
        requester(5, false)
            .send(&cpe.url(), Some((USER, PASS)))
            .await
            .unwrap();
        let seen = cpe.seen();
        assert_eq!(seen.len(), 2, "linger {linger}: {seen:?}");
        assert_ne!(seen[0].conn, seen[1].conn);
        assert_eq!(seen[1].verified, Some(true));
    }
}

#[tokio::test]
async fn device_closing_after_the_challenge_with_a_wrong_password() {
    let cpe = rude_cpe(false).await;
    let err = requester(5, false)
        .send(&cpe.url(), Some((USER, "wrong")))
        .await
        .unwrap_err();
    assert_eq!(err, ConnectionRequestError::AuthenticationFailed);
    assert_eq!(cpe.seen().len(), 2);
}

#[tokio::test]
async fn a_stale_nonce_is_answered_once_more() {
    let cpe = cpe(Mode::DigestStaleOnce).await;
    requester(5, false)
        .send(&cpe.url(), Some((USER, PASS)))
        .await
        .unwrap();
    let seen = cpe.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen[1..].iter().all(|s| s.verified == Some(true)));
}

#[tokio::test]
async fn busy_and_other_statuses() {
    for status in [503, 500, 404, 302] {
        let cpe = cpe(Mode::Status(status)).await;
        let err = requester(5, false)
            .send(&cpe.url(), Some((USER, PASS)))
            .await
            .unwrap_err();
        assert_eq!(err, ConnectionRequestError::Status(status));
    }
    assert_eq!(ConnectionRequestError::Status(503).outcome(), "busy");
}

#[tokio::test]
async fn unreachable_port() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = requester(5, false)
        .send(&format!("http://{addr}/cr"), Some((USER, PASS)))
        .await;
    assert!(
        matches!(err, Err(ConnectionRequestError::Unreachable(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_device_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts, reads, never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let started = Instant::now();
    let err = requester(1, false)
        .send(&format!("http://{addr}/cr"), Some((USER, PASS)))
        .await;
    assert_eq!(
        err,
        Err(ConnectionRequestError::Timeout(Duration::from_secs(1)))
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_device_that_sends_garbage_is_an_error_not_a_panic() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = read_head(&mut stream).await;
            let _ = stream.write_all(b"\x00\xffNOT HTTP AT ALL\r\n\r\n").await;
        }
    });
    let err = requester(5, false)
        .send(&format!("http://{addr}/cr"), Some((USER, PASS)))
        .await;
    assert!(
        matches!(err, Err(ConnectionRequestError::Unreachable(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn basic_only_is_refused_unless_allowed() {
    let cpe = cpe(Mode::Basic).await;
    let err = requester(5, false)
        .send(&cpe.url(), Some((USER, PASS)))
        .await
        .unwrap_err();
    assert_eq!(err, ConnectionRequestError::BasicNotAllowed);
    // The password never went out.
    assert_eq!(cpe.seen().len(), 1);

    requester(5, true)
        .send(&cpe.url(), Some((USER, PASS)))
        .await
        .unwrap();
    let seen = cpe.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].verified, Some(true));
    assert!(
        seen[2]
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Basic ")
    );

    let err = requester(5, true)
        .send(&cpe.url(), Some((USER, "wrong")))
        .await
        .unwrap_err();
    assert_eq!(err, ConnectionRequestError::AuthenticationFailed);
}

#[tokio::test]
async fn ipv6_literal_hosts() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let cpe = cpe_on("[::1]:0", Mode::Digest).await;
    let url = format!("http://[::1]:{}{PATH}", cpe.addr.port());
    requester(5, false)
        .send(&url, Some((USER, PASS)))
        .await
        .unwrap();
    assert_eq!(cpe.seen()[1].verified, Some(true));
}

#[tokio::test]
async fn https_and_garbage_urls_are_refused() {
    let cpe = cpe(Mode::Status(200)).await;
    let r = requester(5, false);
    let https = format!("https://{}{PATH}", cpe.addr);
    for url in [
        https.as_str(),
        "",
        "   ",
        "http://",
        "http:// /",
        "http://:7547/",
        "ftp://127.0.0.1/",
        "127.0.0.1:7547/cr",
        "//127.0.0.1/cr",
        "http://user:pass@127.0.0.1/",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:70000/",
        "http://127.0.0.1:7547:1/",
        "http://[::1/",
        "http://[not-v6]:80/",
        "http://host/a b",
        "http://host/\r\nInjected: yes",
        "http://h\u{f6}st/",
        "\u{1F600}\u{1F600}",
        "http://\u{0}",
    ] {
        let err = r.send(url, Some((USER, PASS))).await.unwrap_err();
        assert!(
            matches!(err, ConnectionRequestError::InvalidUrl(_)),
            "{url:?}: {err:?}"
        );
        assert_eq!(err.outcome(), "invalid_url");
    }
    assert!(cpe.seen().is_empty());
}
