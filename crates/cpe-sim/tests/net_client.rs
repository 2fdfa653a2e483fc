//! The ACS client against a fake ACS on 127.0.0.1 that records every request and answers from
//! a script: framing per message kind, cookies, Digest and Basic, connection handling,
//! statuses and timeouts (TR-069 §3.4; notes §3.1–§3.3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cpe_sim::net::{
    AcsClient, AcsClientConfig, AuthPolicy, Next, Quirks, SessionDriver, SessionError,
};
use cwmp::auth::basic;
use cwmp::auth::digest::{
    Algorithm, DigestCredentials, DigestServer, NonceCounts, Secret, StoredCredential,
};
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// The fake ACS
// ---------------------------------------------------------------------------------------------

/// A request the fake ACS received.
#[derive(Debug, Clone)]
struct Seen {
    /// Which TCP connection (numbered from 0).
    conn: usize,
    peer: SocketAddr,
    version: Version,
    method: String,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// The fake ACS's answer.
#[derive(Debug, Clone, Default)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// Wait this long before answering.
    delay: Option<Duration>,
}

impl Reply {
    fn ok(body: &str) -> Reply {
        Reply {
            status: 200,
            body: body.as_bytes().to_vec(),
            ..Reply::default()
        }
    }

    fn status(status: u16) -> Reply {
        Reply {
            status,
            ..Reply::default()
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

struct FakeAcs {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeAcs {
    async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> FakeAcs {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let conns = Arc::new(AtomicUsize::new(0));
        let seen_in = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    return;
                };
                let conn = conns.fetch_add(1, Ordering::SeqCst);
                let handler = Arc::clone(&handler);
                let seen = Arc::clone(&seen_in);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let handler = Arc::clone(&handler);
                        let seen = Arc::clone(&seen);
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.unwrap().to_bytes();
                            let record = Seen {
                                conn,
                                peer,
                                version: parts.version,
                                method: parts.method.to_string(),
                                uri: parts.uri.to_string(),
                                headers: parts.headers,
                                body,
                            };
                            seen.lock().unwrap().push(record.clone());
                            let reply = handler(&record);
                            if let Some(delay) = reply.delay {
                                tokio::time::sleep(delay).await;
                            }
                            let mut response = Response::new(Full::new(Bytes::from(reply.body)));
                            *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
                            for (name, value) in reply.headers {
                                response.headers_mut().append(name, value.parse().unwrap());
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeAcs { addr, seen }
    }

    fn url(&self) -> String {
        format!("http://{}/cwmp", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------------

/// Plays the agent: sends an Inform, then the scripted steps, one per answer; `Done` when
/// the script is exhausted.
struct Script {
    steps: VecDeque<Next>,
    answers: Vec<(u16, Vec<u8>)>,
    retry_after: Option<Duration>,
    /// Sleep in `on_response` (lets the connection's driver see a close).
    pause: Option<Duration>,
}

impl Script {
    fn new(steps: Vec<Next>) -> Script {
        Script {
            steps: steps.into(),
            answers: Vec::new(),
            retry_after: None,
            pause: None,
        }
    }
}

const INFORM: &str = "<Inform/>";

impl SessionDriver for Script {
    fn first(&mut self) -> Vec<u8> {
        INFORM.as_bytes().to_vec()
    }

    fn on_response(&mut self, status: u16, body: &[u8]) -> Next {
        self.answers.push((status, body.to_vec()));
        if let Some(pause) = self.pause {
            std::thread::sleep(pause);
        }
        self.steps.pop_front().unwrap_or(Next::Done)
    }

    fn on_retry_after(&mut self, delay: Duration) {
        self.retry_after = Some(delay);
    }
}

fn config(url: &str) -> AcsClientConfig {
    let mut config = AcsClientConfig::new(url, "000000-Box-SN1", "cpe-secret");
    config.response_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(5);
    config
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------------------------------------
// Framing and cookies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_kind_of_post_is_framed_and_cookies_come_back() {
    let long = "v".repeat(600);
    let long_for_acs = long.clone();
    let acs = FakeAcs::start(move |seen| match seen.body.as_ref() {
        b"<Inform/>" => Reply::ok("<InformResponse/>")
            .header("set-cookie", "session=abc123; Path=/; HttpOnly")
            .header("set-cookie", format!("big={long_for_acs}; Max-Age=60")),
        b"<TransferComplete/>" => Reply::ok("<TransferCompleteResponse/>"),
        b"" => Reply::ok("<GetParameterValues/>"),
        b"<GetParameterValuesResponse/>" => Reply::status(204),
        other => panic!("unexpected body {other:?}"),
    })
    .await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let mut driver = Script::new(vec![
        Next::request(b"<TransferComplete/>".to_vec()),
        Next::empty(),
        Next::response(b"<GetParameterValuesResponse/>".to_vec()),
    ]);
    let report = client.run_session(&mut driver).await;
    assert_eq!(report.outcome, Ok(()));
    assert_eq!(report.exchanges, 4);
    assert_eq!(report.connections, 1);
    assert_eq!(report.auth_challenges, 0);
    assert_eq!(report.last_status, Some(204));
    assert_eq!(report.bytes_sent, (INFORM.len() + 19 + 29) as u64);
    assert_eq!(
        driver.answers,
        vec![
            (200, b"<InformResponse/>".to_vec()),
            (200, b"<TransferCompleteResponse/>".to_vec()),
            (200, b"<GetParameterValues/>".to_vec()),
            (204, Vec::new()),
        ]
    );

    let seen = acs.seen();
    assert_eq!(seen.len(), 4);
    for s in &seen {
        assert_eq!(s.conn, 0, "one connection for the whole session");
        assert_eq!(s.method, "POST");
        assert_eq!(s.uri, "/cwmp");
        assert_eq!(s.version, Version::HTTP_11);
        assert_eq!(s.header("host").unwrap(), acs.addr.to_string());
        assert_eq!(
            s.header("content-length").unwrap(),
            s.body.len().to_string()
        );
    }
    let cookies = format!("session=abc123; big={long}");
    // The Inform: a SOAP request.
    assert_eq!(
        seen[0].header("content-type"),
        Some("text/xml; charset=\"utf-8\"")
    );
    assert_eq!(seen[0].header("soapaction"), Some(""));
    assert_eq!(seen[0].header("cookie"), None);
    // TransferComplete: a SOAP request of the CPE.
    assert_eq!(
        seen[1].header("content-type"),
        Some("text/xml; charset=\"utf-8\"")
    );
    assert_eq!(seen[1].header("soapaction"), Some(""));
    assert_eq!(seen[1].header("cookie"), Some(cookies.as_str()));
    // The empty POST: neither header.
    assert_eq!(seen[2].header("content-type"), None);
    assert_eq!(seen[2].header("soapaction"), None);
    assert_eq!(seen[2].header("content-length"), Some("0"));
    assert_eq!(seen[2].header("cookie"), Some(cookies.as_str()));
    // A SOAP response: Content-Type, no SOAPAction.
    assert_eq!(
        seen[3].header("content-type"),
        Some("text/xml; charset=\"utf-8\"")
    );
    assert_eq!(seen[3].header("soapaction"), None);
    assert_eq!(seen[3].header("cookie"), Some(cookies.as_str()));
    assert!(seen.iter().all(|s| s.header("authorization").is_none()));
}

#[tokio::test]
async fn cookies_do_not_outlive_the_session() {
    let acs = FakeAcs::start(|seen| {
        if seen.body.is_empty() {
            Reply::status(204)
        } else {
            Reply::ok("<InformResponse/>").header("set-cookie", "session=s1")
        }
    })
    .await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    for _ in 0..2 {
        let report = client
            .run_session(&mut Script::new(vec![Next::empty()]))
            .await;
        assert_eq!(report.outcome, Ok(()));
    }
    let seen = acs.seen();
    assert_eq!(seen.len(), 4);
    let cookies: Vec<Option<&str>> = seen.iter().map(|s| s.header("cookie")).collect();
    assert_eq!(
        cookies,
        vec![None, Some("session=s1"), None, Some("session=s1")]
    );
    // Each session has its own connection.
    assert_eq!(seen[2].conn, 1);
}

#[tokio::test]
async fn an_empty_request_body_is_the_empty_post() {
    let acs = FakeAcs::start(|_| Reply::status(204)).await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let mut driver = Script::new(vec![Next::response(Vec::new())]);
    driver.steps.push_front(Next::request(Vec::new()));
    let report = client.run_session(&mut driver).await;
    assert_eq!(report.outcome, Ok(()));
    let seen = acs.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen[1..] {
        assert_eq!(s.header("content-type"), None);
        assert_eq!(s.header("soapaction"), None);
        assert_eq!(s.header("content-length"), Some("0"));
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

/// A fake ACS that requires Digest with `algorithm`, verified with `cwmp`'s server side,
/// nonce counts included. Records `(nc, algorithm)` of each accepted request.
fn digest_acs(
    algorithm: Algorithm,
    password: &'static str,
    accepted: Arc<Mutex<Vec<(u32, Algorithm)>>>,
) -> impl Fn(&Seen) -> Reply + Send + Sync + 'static {
    let server = DigestServer::new("acs-realm", b"0123456789abcdef0123456789abcdef", 300)
        .unwrap()
        .with_algorithms(&[algorithm]);
    let counts = Mutex::new(NonceCounts::new(64, 300));
    move |seen| {
        let challenge = || {
            let mut reply = Reply::status(401);
            for c in server.challenges(now(), &rand::random(), false) {
                reply = reply.header("www-authenticate", c);
            }
            reply
        };
        let Some(header) = seen.header("authorization") else {
            return challenge();
        };
        let expected = StoredCredential {
            username: "000000-Box-SN1",
            secret: Secret::Password(password),
        };
        let verified = match server.verify_header(header, "POST", &seen.uri, &expected, now()) {
            Ok(v) => v,
            Err(_) => return challenge(),
        };
        if counts.lock().unwrap().accept(&verified, now()).is_err() {
            return challenge();
        }
        accepted
            .lock()
            .unwrap()
            .push((verified.nc, verified.algorithm));
        if seen.body.is_empty() {
            Reply::status(204)
        } else {
            Reply::ok("<InformResponse/>")
        }
    }
}

async fn digest_session(algorithm: Algorithm) {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let acs = FakeAcs::start(digest_acs(algorithm, "cpe-secret", Arc::clone(&accepted))).await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let mut driver = Script::new(vec![Next::empty()]);
    let report = client.run_session(&mut driver).await;
    assert_eq!(report.outcome, Ok(()), "{algorithm}");
    assert_eq!(report.exchanges, 3);
    assert_eq!(report.auth_challenges, 1);
    assert_eq!(report.connections, 1);
    // The 401 never reaches the driver.
    assert_eq!(driver.answers.len(), 2);
    assert_eq!(
        *accepted.lock().unwrap(),
        vec![(1, algorithm), (2, algorithm)]
    );
    let seen = acs.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen[0].header("authorization").is_none());
    // The Inform is sent again, whole, with the credentials.
    assert_eq!(seen[1].body, seen[0].body);
    let first = DigestCredentials::parse(seen[1].header("authorization").unwrap()).unwrap();
    let second = DigestCredentials::parse(seen[2].header("authorization").unwrap()).unwrap();
    assert_eq!((first.nc, second.nc), (Some(1), Some(2)));
    assert_eq!(first.cnonce, second.cnonce, "one cnonce per challenge");
    assert_eq!(first.uri, "/cwmp");
    assert!(seen.iter().all(|s| s.conn == 0));
}

#[tokio::test]
async fn digest_md5() {
    digest_session(Algorithm::Md5).await;
}

#[tokio::test]
async fn digest_md5_sess() {
    digest_session(Algorithm::Md5Sess).await;
}

#[tokio::test]
async fn digest_sha256() {
    digest_session(Algorithm::Sha256).await;
}

#[tokio::test]
async fn each_challenge_gets_a_fresh_cnonce() {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let acs = FakeAcs::start(digest_acs(Algorithm::Md5, "cpe-secret", accepted)).await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    for _ in 0..2 {
        let report = client
            .run_session(&mut Script::new(vec![Next::empty()]))
            .await;
        assert_eq!(report.outcome, Ok(()));
    }
    let cnonces: Vec<String> = acs
        .seen()
        .iter()
        .filter_map(|s| s.header("authorization"))
        .map(|h| DigestCredentials::parse(h).unwrap().cnonce.unwrap())
        .collect();
    assert_eq!(cnonces.len(), 4);
    assert_eq!(cnonces[0], cnonces[1]);
    assert_eq!(cnonces[2], cnonces[3]);
    assert_ne!(cnonces[0], cnonces[2]);
    assert_eq!(cnonces[0].len(), 32);
}

#[tokio::test]
async fn wrong_password_fails_on_the_second_401() {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let acs = FakeAcs::start(digest_acs(
        Algorithm::Md5,
        "other-secret",
        Arc::clone(&accepted),
    ))
    .await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let mut driver = Script::new(vec![Next::empty()]);
    let report = client.run_session(&mut driver).await;
    assert_eq!(report.outcome, Err(SessionError::AuthRejected));
    assert_eq!(report.exchanges, 2);
    assert_eq!(report.last_status, Some(401));
    assert!(driver.answers.is_empty());
    assert!(accepted.lock().unwrap().is_empty());
}

#[tokio::test]
async fn stale_nonce_is_answered_once_more() {
    let server = DigestServer::new("acs-realm", b"0123456789abcdef0123456789abcdef", 300).unwrap();
    let calls = AtomicUsize::new(0);
    let acs = FakeAcs::start(move |seen| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let stale = n == 1;
        let authorized = seen.header("authorization").is_some_and(|h| {
            server
                .verify_header(
                    h,
                    "POST",
                    &seen.uri,
                    &StoredCredential {
                        username: "000000-Box-SN1",
                        secret: Secret::Password("cpe-secret"),
                    },
                    now(),
                )
                .is_ok()
        });
        if authorized && !stale {
            return Reply::status(204);
        }
        // The first answer is told its nonce went stale.
        Reply::status(401).header(
            "www-authenticate",
            server.challenge(now(), &rand::random(), stale),
        )
    })
    .await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let report = client.run_session(&mut Script::new(vec![])).await;
    assert_eq!(report.outcome, Ok(()));
    assert_eq!(report.exchanges, 3);
    assert_eq!(report.auth_challenges, 2);
}

#[tokio::test]
async fn basic_challenge_is_answered_and_kept() {
    let acs = FakeAcs::start(|seen| match seen.header("authorization") {
        Some(h) if basic::verify(h, "000000-Box-SN1", "cpe-secret").is_ok() => {
            if seen.body.is_empty() {
                Reply::status(204)
            } else {
                Reply::ok("<InformResponse/>")
            }
        }
        _ => Reply::status(401).header("www-authenticate", "Basic realm=\"acs\""),
    })
    .await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let report = client
        .run_session(&mut Script::new(vec![Next::empty()]))
        .await;
    assert_eq!(report.outcome, Ok(()));
    assert_eq!(report.auth_challenges, 1);
    let seen = acs.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[1].header("authorization"),
        seen[2].header("authorization")
    );
    assert!(
        seen[1]
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
}

#[tokio::test]
async fn digest_is_preferred_over_basic() {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let digest = digest_acs(Algorithm::Md5, "cpe-secret", Arc::clone(&accepted));
    let acs = FakeAcs::start(move |seen| {
        let mut reply = digest(seen);
        if reply.status == 401 {
            reply
                .headers
                .insert(0, ("www-authenticate", "Basic realm=\"acs\"".into()));
        }
        reply
    })
    .await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let report = client.run_session(&mut Script::new(vec![])).await;
    assert_eq!(report.outcome, Ok(()));
    assert!(
        acs.seen()[1]
            .header("authorization")
            .unwrap()
            .starts_with("Digest ")
    );
}

#[tokio::test]
async fn a_challenge_that_cannot_be_answered_fails() {
    let acs = FakeAcs::start(|_| Reply::status(401).header("www-authenticate", "Negotiate")).await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let report = client.run_session(&mut Script::new(vec![])).await;
    assert!(matches!(
        report.outcome,
        Err(SessionError::NoUsableChallenge(_))
    ));
    assert_eq!(report.exchanges, 1);

    let acs = FakeAcs::start(|_| Reply::status(401)).await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let report = client.run_session(&mut Script::new(vec![])).await;
    assert!(matches!(
        report.outcome,
        Err(SessionError::NoUsableChallenge(_))
    ));
}

#[tokio::test]
async fn preemptive_basic_is_only_sent_over_tls_unless_the_quirk_says_so() {
    let acs = FakeAcs::start(|_| Reply::status(204)).await;
    let mut cfg = config(&acs.url());
    cfg.auth = AuthPolicy::PreemptiveBasicOverTls;
    let client = AcsClient::new(cfg.clone()).unwrap();
    assert_eq!(
        client.run_session(&mut Script::new(vec![])).await.outcome,
        Ok(())
    );
    assert_eq!(acs.seen()[0].header("authorization"), None);

    cfg.quirks.basic_always = true;
    let client = AcsClient::new(cfg).unwrap();
    assert_eq!(
        client.run_session(&mut Script::new(vec![])).await.outcome,
        Ok(())
    );
    let expected = basic::authorization("000000-Box-SN1", "cpe-secret").unwrap();
    assert_eq!(
        acs.seen()[1].header("authorization"),
        Some(expected.as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn connection_close_between_exchanges_moves_the_session_to_a_new_connection() {
    let acs = FakeAcs::start(|seen| {
        if seen.body.is_empty() {
            Reply::status(204)
        } else {
            Reply::ok("<InformResponse/>")
                .header("set-cookie", "session=kept")
                .header("connection", "close")
        }
    })
    .await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let report = client
        .run_session(&mut Script::new(vec![Next::empty()]))
        .await;
    assert_eq!(report.outcome, Ok(()));
    assert_eq!(report.connections, 2);
    let seen = acs.seen();
    assert_eq!((seen[0].conn, seen[1].conn), (0, 1));
    assert_eq!(seen[1].header("cookie"), Some("session=kept"));
}

#[tokio::test]
async fn digest_goes_on_after_the_acs_closes_the_connection() {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let digest = digest_acs(Algorithm::Md5, "cpe-secret", Arc::clone(&accepted));
    let acs = FakeAcs::start(move |seen| digest(seen).header("connection", "close")).await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let report = client
        .run_session(&mut Script::new(vec![Next::empty()]))
        .await;
    assert_eq!(report.outcome, Ok(()));
    assert_eq!(report.connections, 3);
    assert_eq!(accepted.lock().unwrap().len(), 2);
}

/// A raw server that answers each request with `responses[i]` and then closes the socket
/// without `Connection: close`.
async fn closing_server(responses: Vec<&'static str>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&conns);
    tokio::spawn(async move {
        for response in responses {
            let (mut stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head and the body (Content-Length) of one request.
            loop {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0);
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            stream.write_all(response.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
        }
    });
    (addr, conns)
}

#[tokio::test]
async fn end_of_stream_between_exchanges_moves_the_session_to_a_new_connection() {
    let (addr, conns) = closing_server(vec![
        "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n<InformResponse/>",
        "HTTP/1.1 204 No Content\r\n\r\n",
    ])
    .await;
    let client = AcsClient::new(config(&format!("http://{addr}/"))).unwrap();
    let mut driver = Script::new(vec![Next::empty()]);
    // Time for the connection's driver to see the end of stream before the next POST.
    driver.pause = Some(Duration::from_millis(100));
    let report = client.run_session(&mut driver).await;
    assert_eq!(report.outcome, Ok(()));
    assert_eq!(report.connections, 2);
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_lost_before_the_response_fails_the_session() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut chunk = [0u8; 1024];
        let _ = stream.read(&mut chunk).await;
        // Closes without answering.
    });
    let client = AcsClient::new(config(&format!("http://{addr}/"))).unwrap();
    let report = client.run_session(&mut Script::new(vec![])).await;
    assert!(
        matches!(report.outcome, Err(SessionError::Connection(_))),
        "{:?}",
        report.outcome
    );
    // Not sent again (TR-069 §3.4.2).
    assert_eq!(report.connections, 1);
}

#[tokio::test]
async fn quirk_new_connection_per_request() {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let acs = FakeAcs::start(digest_acs(
        Algorithm::Md5,
        "cpe-secret",
        Arc::clone(&accepted),
    ))
    .await;
    let mut cfg = config(&acs.url());
    cfg.quirks = Quirks {
        new_connection_per_request: true,
        ..Quirks::default()
    };
    let client = AcsClient::new(cfg).unwrap();
    let report = client
        .run_session(&mut Script::new(vec![Next::empty()]))
        .await;
    assert_eq!(report.outcome, Ok(()));
    assert_eq!(report.exchanges, 3);
    assert_eq!(report.connections, 3);
    let conns: Vec<usize> = acs.seen().iter().map(|s| s.conn).collect();
    assert_eq!(conns, vec![0, 1, 2]);
}

#[tokio::test]
async fn source_address_is_bound() {
    let acs = FakeAcs::start(|_| Reply::status(204)).await;
    let mut cfg = config(&acs.url());
    cfg.local_addr = Some("127.0.0.2".parse().unwrap());
    let client = AcsClient::new(cfg).unwrap();
    let report = client.run_session(&mut Script::new(vec![])).await;
    assert_eq!(report.outcome, Ok(()));
    assert_eq!(acs.seen()[0].peer.ip().to_string(), "127.0.0.2");
}

#[tokio::test]
async fn refused_connection_fails() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = AcsClient::new(config(&format!("http://{addr}/"))).unwrap();
    let mut driver = Script::new(vec![]);
    let report = client.run_session(&mut driver).await;
    assert!(
        matches!(report.outcome, Err(SessionError::Connect(_))),
        "{:?}",
        report.outcome
    );
    assert_eq!((report.exchanges, report.connections), (0, 0));
    assert!(driver.answers.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Statuses, limits, timeouts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_503_goes_to_the_driver_with_its_retry_after() {
    let acs = FakeAcs::start(|_| {
        Reply {
            body: b"busy".to_vec(),
            ..Reply::status(503)
        }
        .header("retry-after", "120")
    })
    .await;
    let client = AcsClient::new(config(&acs.url())).unwrap();
    let mut driver = Script::new(vec![Next::Failed("ACS busy".into())]);
    let report = client.run_session(&mut driver).await;
    assert_eq!(report.outcome, Err(SessionError::Driver("ACS busy".into())));
    assert_eq!(driver.answers, vec![(503, b"busy".to_vec())]);
    assert_eq!(driver.retry_after, Some(Duration::from_secs(120)));
    assert_eq!(report.retry_after, Some(Duration::from_secs(120)));
    assert_eq!(report.last_status, Some(503));
}

#[tokio::test]
async fn other_statuses_go_to_the_driver() {
    for status in [302u16, 400, 404, 500] {
        let acs = FakeAcs::start(move |_| Reply::status(status)).await;
        let client = AcsClient::new(config(&acs.url())).unwrap();
        let mut driver = Script::new(vec![Next::Failed("no".into())]);
        let report = client.run_session(&mut driver).await;
        assert_eq!(driver.answers, vec![(status, Vec::new())]);
        assert!(report.outcome.is_err());
    }
}

#[tokio::test]
async fn quirk_give_up_on_non_2xx() {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let acs = FakeAcs::start(digest_acs(Algorithm::Md5, "cpe-secret", accepted)).await;
    let mut cfg = config(&acs.url());
    cfg.quirks.give_up_on_non_2xx = true;
    let client = AcsClient::new(cfg).unwrap();
    let mut driver = Script::new(vec![]);
    let report = client.run_session(&mut driver).await;
    assert_eq!(report.outcome, Err(SessionError::Status(401)));
    assert_eq!(report.exchanges, 1);
    assert!(driver.answers.is_empty());
}

#[tokio::test]
async fn no_response_in_time_fails() {
    let acs = FakeAcs::start(|_| Reply {
        delay: Some(Duration::from_secs(10)),
        ..Reply::status(204)
    })
    .await;
    let mut cfg = config(&acs.url());
    cfg.response_timeout = Duration::from_millis(300);
    let client = AcsClient::new(cfg).unwrap();
    let report = client.run_session(&mut Script::new(vec![])).await;
    assert_eq!(report.outcome, Err(SessionError::Timeout));
    assert!(
        report.duration < Duration::from_secs(3),
        "{:?}",
        report.duration
    );
}

#[tokio::test]
async fn default_response_timeout_is_thirty_seconds() {
    let cfg = AcsClientConfig::new("http://acs/", "u", "p");
    assert_eq!(cfg.response_timeout, Duration::from_secs(30));
}

#[tokio::test]
async fn oversized_response_fails() {
    let acs = FakeAcs::start(|_| Reply::ok(&"x".repeat(4096))).await;
    let mut cfg = config(&acs.url());
    cfg.max_response_bytes = 1024;
    let client = AcsClient::new(cfg).unwrap();
    let report = client.run_session(&mut Script::new(vec![])).await;
    assert_eq!(report.outcome, Err(SessionError::ResponseTooLarge));
}

#[tokio::test]
async fn a_runaway_acs_is_cut_off() {
    let acs = FakeAcs::start(|_| Reply::ok("<GetRPCMethods/>")).await;
    let mut cfg = config(&acs.url());
    cfg.max_exchanges = 3;
    let client = AcsClient::new(cfg).unwrap();
    let mut driver = Script::new((0..10).map(|_| Next::response(b"<R/>".to_vec())).collect());
    let report = client.run_session(&mut driver).await;
    assert_eq!(report.outcome, Err(SessionError::TooManyExchanges));
    assert_eq!(report.exchanges, 3);
}

#[tokio::test]
async fn garbage_from_the_acs_fails_without_panicking() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut chunk = [0u8; 1024];
        let _ = stream.read(&mut chunk).await;
        let _ = stream.write_all(b"\x00\xffHTTP/9 banana\r\n\r\n").await;
    });
    let client = AcsClient::new(config(&format!("http://{addr}/"))).unwrap();
    let report = client.run_session(&mut Script::new(vec![])).await;
    assert!(matches!(report.outcome, Err(SessionError::Connection(_))));
}

#[tokio::test]
async fn sessions_run_on_spawned_tasks() {
    // The fleet runs each device's session on its own task: the future must be `Send`.
    let acs = FakeAcs::start(|_| Reply::status(204)).await;
    let client = Arc::new(AcsClient::new(config(&acs.url())).unwrap());
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let client = Arc::clone(&client);
            tokio::spawn(async move { client.run_session(&mut Script::new(vec![])).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().outcome, Ok(()));
    }
    assert_eq!(acs.seen().len(), 4);
}

#[tokio::test]
async fn huge_timeouts_do_not_panic() {
    let acs = FakeAcs::start(|_| Reply::status(204)).await;
    let mut cfg = config(&acs.url());
    cfg.response_timeout = Duration::MAX;
    cfg.connect_timeout = Duration::MAX;
    let report = AcsClient::new(cfg)
        .unwrap()
        .run_session(&mut Script::new(vec![]))
        .await;
    assert_eq!(report.outcome, Ok(()));
}
