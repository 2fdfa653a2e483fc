//! The generator against the baseline and against test servers that check what a CPE must
//! send (framing, cookies, credentials) and answer in the ways an ACS may.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cwmp::auth::digest::{DigestServer, Secret, StoredCredential};
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use loadgen::baseline::INFORM_RESPONSE;
use loadgen::run::{Config, Limit, Report, run};
use loadgen::session::{AuthMode, SessionConfig};
use tokio::net::TcpListener;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Digest,
    Basic,
    /// Sends SetParameterValues after the empty POST, then 204.
    AskSpv,
    /// 503 to every Inform.
    Busy,
    /// Closes the connection after the InformResponse (`Connection: close`).
    CloseAfterInform,
}

struct Server {
    mode: Mode,
    peers: Mutex<std::collections::BTreeSet<std::net::IpAddr>>,
    cookies: Mutex<std::collections::HashSet<String>>,
    digest: DigestServer,
    violations: Mutex<Vec<String>>,
}

#[derive(Default)]
struct ConnState {
    asked: bool,
}

const PASSWORD: &str = "s3cret";

impl Server {
    fn violation(&self, v: String) {
        self.violations.lock().unwrap().push(v);
    }

    fn authorized(&self, req: &Request<Incoming>) -> bool {
        let Some(auth) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        match self.mode {
            Mode::Digest => {
                let Ok(creds) = cwmp::auth::digest::DigestCredentials::parse(auth) else {
                    self.violation(format!("unparsable Authorization {auth}"));
                    return false;
                };
                if !creds.username.starts_with("00D09E-LoadGen-LG") {
                    self.violation(format!("username {}", creds.username));
                }
                let expected = StoredCredential {
                    username: &creds.username,
                    secret: Secret::Password(PASSWORD),
                };
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                self.digest
                    .verify(&creds, "POST", req.uri().path(), &expected, now)
                    .is_ok()
            }
            Mode::Basic => {
                let c = cwmp::auth::basic::BasicCredentials::parse(auth).unwrap();
                c.matches("fleet", PASSWORD)
            }
            _ => false,
        }
    }

    async fn handle(
        self: Arc<Self>,
        conn: Arc<Mutex<ConnState>>,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let respond = |status: StatusCode, body: &'static str| {
            let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
            *r.status_mut() = status;
            if !body.is_empty() {
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
            }
            r
        };
        let needs_auth = matches!(self.mode, Mode::Digest | Mode::Basic);
        if needs_auth && !self.authorized(&req) {
            if self.mode == Mode::Basic {
                self.violation("Basic credentials missing or wrong".into());
            }
            let _ = req.into_body().collect().await;
            let mut r = respond(StatusCode::UNAUTHORIZED, "");
            let challenge = self.digest.challenge(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs(),
                &rand::random(),
                false,
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge.parse().unwrap());
            return Ok(r);
        }
        let headers = req.headers().clone();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let h = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        if h("host").is_none() {
            self.violation("no Host".into());
        }
        if !body.is_empty() {
            let env = cwmp::decode(&body).unwrap();
            match env.body {
                cwmp::Body::Inform(inform) => {
                    if !h("content-type").is_some_and(|c| c.starts_with("text/xml")) {
                        self.violation("Inform without text/xml".into());
                    }
                    if h("soapaction").as_deref() != Some("") {
                        self.violation(format!("Inform SOAPAction {:?}", h("soapaction")));
                    }
                    if h("cookie").is_some() {
                        self.violation("cookie on the Inform".into());
                    }
                    if inform.parameter_list.len() != 20 {
                        self.violation("not 20 parameters".into());
                    }
                    if self.mode == Mode::Busy {
                        return Ok(respond(StatusCode::SERVICE_UNAVAILABLE, ""));
                    }
                    let cookie = format!("sid={}", rand::random::<u64>());
                    self.cookies.lock().unwrap().insert(cookie.clone());
                    let mut r = respond(StatusCode::OK, INFORM_RESPONSE);
                    if self.mode == Mode::CloseAfterInform {
                        r.headers_mut()
                            .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    }
                    r.headers_mut().insert(
                        header::SET_COOKIE,
                        format!("{cookie}; Path=/; HttpOnly").parse().unwrap(),
                    );
                    return Ok(r);
                }
                cwmp::Body::SetParameterValuesResponse(_) => {
                    if h("soapaction").is_some() {
                        self.violation("SOAPAction on a response".into());
                    }
                    return Ok(respond(StatusCode::NO_CONTENT, ""));
                }
                other => {
                    self.violation(format!("unexpected {}", other.name()));
                    return Ok(respond(StatusCode::BAD_REQUEST, ""));
                }
            }
        }
        // The empty POST.
        if h("content-length").as_deref() != Some("0") {
            self.violation(format!(
                "empty POST Content-Length {:?}",
                h("content-length")
            ));
        }
        if h("content-type").is_some() || h("soapaction").is_some() {
            self.violation("empty POST with Content-Type or SOAPAction".into());
        }
        let cookie = h("cookie").unwrap_or_default();
        if !self.cookies.lock().unwrap().remove(&cookie) {
            self.violation(format!("cookie {cookie:?} was not set"));
        }
        let mut state = conn.lock().unwrap();
        if self.mode == Mode::AskSpv && !state.asked {
            state.asked = true;
            return Ok(respond(
                StatusCode::OK,
                r#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">spv1</cwmp:ID></soap-env:Header><soap-env:Body><cwmp:SetParameterValues><ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>Device.ManagementServer.ConnectionRequestUsername</Name><Value xsi:type="xsd:string">cr</Value></ParameterValueStruct></ParameterList><ParameterKey></ParameterKey></cwmp:SetParameterValues></soap-env:Body></soap-env:Envelope>"#,
            ));
        }
        Ok(respond(StatusCode::NO_CONTENT, ""))
    }
}

async fn start(mode: Mode) -> (SocketAddr, Arc<Server>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Arc::new(Server {
        mode,
        peers: Mutex::default(),
        cookies: Mutex::default(),
        digest: DigestServer::new("acs", &[7; 32], 300).unwrap(),
        violations: Mutex::new(Vec::new()),
    });
    let s = Arc::clone(&server);
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            s.peers.lock().unwrap().insert(peer.ip());
            let s = Arc::clone(&s);
            let conn = Arc::new(Mutex::new(ConnState::default()));
            tokio::spawn(async move {
                let svc = service_fn(move |req| Arc::clone(&s).handle(Arc::clone(&conn), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, server)
}

fn config(addr: SocketAddr, auth: AuthMode, limit: Limit) -> Config {
    Config {
        url: format!("http://{addr}/"),
        session: SessionConfig {
            addr,
            also: Vec::new(),
            host: HeaderValue::from_str(&addr.to_string()).unwrap(),
            path: "/".into(),
            auth,
            username: None,
            password: PASSWORD.into(),
            timeout: Duration::from_secs(10),
            max_exchanges: 16,
            source_addrs: 4,
        },
        concurrency: 8,
        devices: 100,
        parameters: 20,
        warmup: Duration::ZERO,
        limit,
        rate: None,
        server_pids: Vec::new(),
        grace: Duration::from_secs(2),
    }
}

fn assert_all_ok(report: &Report, n: u64, exchanges: u32) {
    assert_eq!(report.failures, Default::default(), "{report}");
    assert_eq!(report.ok, n, "{report}");
    assert_eq!(report.exchanges.get(&exchanges), Some(&n), "{report}");
    assert_eq!(report.without_cookie, 0);
    assert_eq!(
        report.connections, n,
        "one connection per session: {report}"
    );
    assert!(report.latency.is_some());
    assert!(report.own_cpu.is_some());
}

fn assert_no_violations(server: &Server) {
    assert_eq!(*server.violations.lock().unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_sessions() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(loadgen::baseline::serve(listener));
    let mut cfg = config(addr, AuthMode::None, Limit::Sessions(300));
    cfg.server_pids = vec![std::process::id()];
    let report = run(cfg).await.unwrap();
    assert_all_ok(&report, 300, 2);
    assert!(report.server_cpu.is_some() && report.server_memory.is_some());
    let json = report.to_json();
    assert_eq!(json["sessions_ok"], 300);
    assert_eq!(json["exchanges_per_session"], 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_and_cookies() {
    let (addr, server) = start(Mode::Plain).await;
    let report = run(config(addr, AuthMode::None, Limit::Sessions(200)))
        .await
        .unwrap();
    assert_all_ok(&report, 200, 2);
    assert_no_violations(&server);
    let peers: Vec<String> = server
        .peers
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(peers, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_goes_on_in_a_new_connection_after_close() {
    let (addr, server) = start(Mode::CloseAfterInform).await;
    let report = run(config(addr, AuthMode::None, Limit::Sessions(100)))
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{report}");
    assert_eq!(report.ok, 100);
    assert_eq!(report.connections, 200, "{report}");
    assert_no_violations(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_challenge_is_answered_on_the_same_connection() {
    let (addr, server) = start(Mode::Digest).await;
    let report = run(config(addr, AuthMode::Digest, Limit::Sessions(100)))
        .await
        .unwrap();
    // 401, Inform with credentials, empty POST with credentials (nc=2).
    assert_all_ok(&report, 100, 3);
    assert_eq!(report.challenges, 100);
    assert_no_violations(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_is_pre_emptive() {
    let (addr, server) = start(Mode::Basic).await;
    let mut cfg = config(addr, AuthMode::Basic, Limit::Sessions(100));
    cfg.session.username = Some("fleet".into());
    let report = run(cfg).await.unwrap();
    assert_all_ok(&report, 100, 2);
    assert_eq!(report.challenges, 0);
    assert_no_violations(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acs_requests_are_answered() {
    let (addr, server) = start(Mode::AskSpv).await;
    let report = run(config(addr, AuthMode::None, Limit::Sessions(50)))
        .await
        .unwrap();
    assert_all_ok(&report, 50, 3);
    assert_eq!(report.acs_requests.get("SetParameterValues"), Some(&50));
    assert_no_violations(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_counted_by_cause() {
    let (addr, _server) = start(Mode::Busy).await;
    let report = run(config(addr, AuthMode::None, Limit::Sessions(40)))
        .await
        .unwrap();
    assert_eq!(report.ok, 0);
    assert_eq!(
        report.failures.get("status 503 (inform)"),
        Some(&40),
        "{report}"
    );

    // Without credentials, a Digest server's 401 is a failure.
    let (addr, _server) = start(Mode::Digest).await;
    let report = run(config(addr, AuthMode::None, Limit::Sessions(10)))
        .await
        .unwrap();
    assert_eq!(
        report.failures.get("status 401 (inform)"),
        Some(&10),
        "{report}"
    );

    // A wrong password: the answered challenge is refused again.
    let mut cfg = config(addr, AuthMode::Digest, Limit::Sessions(10));
    cfg.session.password = "wrong".into();
    let report = run(cfg).await.unwrap();
    assert_eq!(
        report.failures.get("auth rejected (inform)"),
        Some(&10),
        "{report}"
    );

    // Nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let report = run(config(closed, AuthMode::None, Limit::Sessions(5)))
        .await
        .unwrap();
    assert_eq!(
        report.failures.get("connect: ConnectionRefused"),
        Some(&5),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_window_after_warmup_and_rate() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(loadgen::baseline::serve(listener));
    let mut cfg = config(
        addr,
        AuthMode::None,
        Limit::Duration(Duration::from_millis(1000)),
    );
    cfg.warmup = Duration::from_millis(300);
    cfg.rate = Some(200.0);
    let report = run(cfg).await.unwrap();
    assert!(report.failures.is_empty(), "{report}");
    let secs = report.elapsed.as_secs_f64();
    assert!((0.9..1.3).contains(&secs), "window {secs}");
    // 200/s for one second, give or take the timer's slack.
    assert!((150..=230).contains(&report.ok), "{report}");
    assert!(
        report.unmeasured >= 40,
        "warm-up sessions not counted: {report}"
    );
}
