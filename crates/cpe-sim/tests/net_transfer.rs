//! File transfers (TR-069 §3.4.3; notes §3.6) against a file server on 127.0.0.1: Basic and
//! Digest with the RPC's credentials, redirects, sizes, and the fault code of each failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cpe_sim::net::{FileTransfer, TransferConfig, TransferFault, validate_url};
use cwmp::auth::basic;
use cwmp::auth::digest::{DigestServer, Secret, StoredCredential};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const USER: &str = "files";
const PASS: &str = "file-secret";

fn file() -> Bytes {
    Bytes::from((0..10_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A body without a known length (sent chunked): `data`, then the end, an error, or nothing
/// ever again.
struct Chunked {
    data: Option<Bytes>,
    then: Then,
}

#[derive(Clone, Copy)]
enum Then {
    End,
    Fail,
    Stall,
}

impl Body for Chunked {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        match self.then {
            Then::End => Poll::Ready(None),
            Then::Fail => Poll::Ready(Some(Err(std::io::Error::other("disk on fire")))),
            Then::Stall => Poll::Pending,
        }
    }
}

type Reply = Response<Either<Full<Bytes>, Chunked>>;

fn reply(status: u16, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Either::Left(Full::new(body.into())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
}

fn chunked(data: Bytes, then: Then) -> Reply {
    Response::new(Either::Right(Chunked {
        data: Some(data),
        then,
    }))
}

/// An upload the server received.
#[derive(Debug, Clone)]
struct Upload {
    method: String,
    path: String,
    content_type: Option<String>,
    content_length: Option<String>,
    body: Bytes,
}

/// `Authorization` headers seen, per path.
type Authorizations = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct FileServer {
    addr: SocketAddr,
    uploads: Arc<Mutex<Vec<Upload>>>,
    authorizations: Authorizations,
}

impl FileServer {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn start_files() -> FileServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let uploads = Arc::new(Mutex::new(Vec::new()));
    let authorizations: Authorizations = Arc::new(Mutex::new(Vec::new()));
    let digest =
        Arc::new(DigestServer::new("files", b"fedcba9876543210fedcba9876543210", 300).unwrap());
    let (uploads_in, auth_in) = (Arc::clone(&uploads), Arc::clone(&authorizations));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (uploads, authorizations, digest) = (
                Arc::clone(&uploads_in),
                Arc::clone(&auth_in),
                Arc::clone(&digest),
            );
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let (uploads, authorizations, digest) = (
                        Arc::clone(&uploads),
                        Arc::clone(&authorizations),
                        Arc::clone(&digest),
                    );
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let path = parts.uri.path().to_owned();
                        let method = parts.method.to_string();
                        let auth = parts
                            .headers
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_owned());
                        authorizations
                            .lock()
                            .unwrap()
                            .push((path.clone(), auth.clone()));
                        let basic_ok = auth
                            .as_deref()
                            .is_some_and(|h| basic::verify(h, USER, PASS).is_ok());
                        let digest_ok = auth.as_deref().is_some_and(|h| {
                            digest
                                .verify_header(
                                    h,
                                    &method,
                                    parts.uri.path(),
                                    &StoredCredential {
                                        username: USER,
                                        secret: Secret::Password(PASS),
                                    },
                                    now(),
                                )
                                .is_ok()
                        });
                        let basic_challenge = || {
                            let mut r = reply(401, "who are you");
                            r.headers_mut().insert(
                                "www-authenticate",
                                "Basic realm=\"files\"".parse().unwrap(),
                            );
                            r
                        };
                        let digest_challenge = || {
                            let mut r = reply(401, "");
                            r.headers_mut().insert(
                                "www-authenticate",
                                digest
                                    .challenge(now(), &rand::random(), false)
                                    .parse()
                                    .unwrap(),
                            );
                            r
                        };
                        let redirect = |status: u16, location: String| {
                            let mut r = reply(status, "moved");
                            r.headers_mut()
                                .insert("location", location.parse().unwrap());
                            r
                        };
                        let record = |status: u16| {
                            uploads.lock().unwrap().push(Upload {
                                method: method.clone(),
                                path: path.clone(),
                                content_type: parts
                                    .headers
                                    .get("content-type")
                                    .map(|v| v.to_str().unwrap().to_owned()),
                                content_length: parts
                                    .headers
                                    .get("content-length")
                                    .map(|v| v.to_str().unwrap().to_owned()),
                                body: body.clone(),
                            });
                            reply(status, "")
                        };
                        let response = match (method.as_str(), path.as_str()) {
                            ("GET", "/open/fw.bin") => reply(200, file()),
                            ("GET", "/basic/fw.bin") if basic_ok => reply(200, file()),
                            ("GET", "/basic/fw.bin") => basic_challenge(),
                            ("GET", "/digest/fw.bin") if digest_ok => reply(200, file()),
                            ("GET", "/digest/fw.bin") => digest_challenge(),
                            ("GET", "/missing") => reply(404, "no such file"),
                            ("GET", "/forbidden") => reply(403, ""),
                            ("GET", "/error") => reply(500, ""),
                            ("GET", "/redirect") => redirect(302, "/open/fw.bin".into()),
                            ("GET", "/redirect/relative") => redirect(307, "../open/fw.bin".into()),
                            ("GET", "/redirect-abs") => {
                                redirect(301, format!("http://{addr}/digest/fw.bin"))
                            }
                            ("GET", "/loop") => redirect(302, "/loop".into()),
                            ("GET", "/redirect-ftp") => redirect(302, "ftp://x/fw.bin".into()),
                            ("GET", "/chunked") => chunked(file(), Then::End),
                            ("GET", "/truncated") => chunked(file().slice(..100), Then::Fail),
                            ("GET", "/stall") => chunked(file().slice(..100), Then::Stall),
                            ("PUT", "/upload/log.txt") => record(201),
                            ("PUT", "/digest/log.txt") if digest_ok => record(204),
                            ("PUT", "/digest/log.txt") => digest_challenge(),
                            ("PUT", "/post-only") => reply(405, ""),
                            _ => reply(404, ""),
                        };
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    FileServer {
        addr,
        uploads,
        authorizations,
    }
}

fn transfers() -> FileTransfer {
    FileTransfer::new(TransferConfig::default()).unwrap()
}

const T: Duration = Duration::from_secs(5);
const MAX: u64 = 1 << 20;

async fn download_fault(url: &str, user: &str, pass: &str) -> TransferFault {
    transfers()
        .download(url, user, pass, MAX, None, T)
        .await
        .unwrap_err()
}

// ---------------------------------------------------------------------------------------------
// Downloads
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn download_without_authentication() {
    let server = start_files().await;
    let got = transfers()
        .download(&server.url("/open/fw.bin"), "", "", MAX, Some(10_000), T)
        .await
        .unwrap();
    assert_eq!(got, file());
    // No credentials are sent to a server that does not ask for them.
    let got = transfers()
        .download(&server.url("/open/fw.bin"), USER, PASS, MAX, None, T)
        .await
        .unwrap();
    assert_eq!(got, file());
    assert!(
        server
            .authorizations
            .lock()
            .unwrap()
            .iter()
            .all(|(_, a)| a.is_none())
    );
}

#[tokio::test]
async fn download_with_basic() {
    let server = start_files().await;
    let got = transfers()
        .download(
            &server.url("/basic/fw.bin"),
            USER,
            PASS,
            MAX,
            Some(10_000),
            T,
        )
        .await
        .unwrap();
    assert_eq!(got, file());
    let seen = server.authorizations.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].1.is_none());
    assert!(seen[1].1.as_deref().unwrap().starts_with("Basic "));
}

#[tokio::test]
async fn download_with_digest() {
    let server = start_files().await;
    let got = transfers()
        .download(
            &server.url("/digest/fw.bin"),
            USER,
            PASS,
            MAX,
            Some(10_000),
            T,
        )
        .await
        .unwrap();
    assert_eq!(got, file());
    let seen = server.authorizations.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].1.as_deref().unwrap().starts_with("Digest "));
}

#[tokio::test]
async fn refused_credentials_are_9012() {
    let server = start_files().await;
    for path in ["/basic/fw.bin", "/digest/fw.bin"] {
        let fault = download_fault(&server.url(path), USER, "wrong").await;
        assert_eq!(fault.code.0, 9012, "{path}: {fault}");
        // No credentials at all, and the server asks for them.
        let fault = download_fault(&server.url(path), "", "").await;
        assert_eq!(fault.code.0, 9012, "{path}: {fault}");
    }
}

#[tokio::test]
async fn missing_or_forbidden_file_is_9016() {
    let server = start_files().await;
    assert_eq!(
        download_fault(&server.url("/missing"), "", "").await.code.0,
        9016
    );
    assert_eq!(
        download_fault(&server.url("/forbidden"), "", "")
            .await
            .code
            .0,
        9016
    );
    assert_eq!(
        download_fault(&server.url("/error"), "", "").await.code.0,
        9010
    );
}

#[tokio::test]
async fn unreachable_server_is_9015() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let fault = download_fault(&format!("http://{addr}/fw.bin"), "", "").await;
    assert_eq!(fault.code.0, 9015, "{fault}");
}

#[tokio::test]
async fn size_other_than_expected_is_9018() {
    let server = start_files().await;
    // Content-Length says so before the body is read.
    let fault = transfers()
        .download(&server.url("/open/fw.bin"), "", "", MAX, Some(9_999), T)
        .await
        .unwrap_err();
    assert_eq!(fault.code.0, 9018, "{fault}");
    // Without Content-Length, the count at the end does.
    let fault = transfers()
        .download(&server.url("/chunked"), "", "", MAX, Some(10_001), T)
        .await
        .unwrap_err();
    assert_eq!(fault.code.0, 9018, "{fault}");
    let got = transfers()
        .download(&server.url("/chunked"), "", "", MAX, Some(10_000), T)
        .await
        .unwrap();
    assert_eq!(got, file());
}

#[tokio::test]
async fn a_file_larger_than_allowed_is_refused() {
    let server = start_files().await;
    for path in ["/open/fw.bin", "/chunked"] {
        let fault = transfers()
            .download(&server.url(path), "", "", 4096, None, T)
            .await
            .unwrap_err();
        assert_eq!(fault.code.0, 9010, "{path}: {fault}");
        assert!(fault.message.contains("4096"), "{fault}");
    }
}

#[tokio::test]
async fn a_broken_transfer_is_9017() {
    let server = start_files().await;
    assert_eq!(
        download_fault(&server.url("/truncated"), "", "")
            .await
            .code
            .0,
        9017
    );
    let fault = transfers()
        .download(
            &server.url("/stall"),
            "",
            "",
            MAX,
            None,
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert_eq!(fault.code.0, 9017, "{fault}");
}

#[tokio::test]
async fn redirects_are_followed_within_limits() {
    let server = start_files().await;
    for path in ["/redirect", "/redirect/relative"] {
        let got = transfers()
            .download(&server.url(path), "", "", MAX, None, T)
            .await
            .unwrap();
        assert_eq!(got, file(), "{path}");
    }
    // To a server that asks for credentials: answered there.
    let got = transfers()
        .download(&server.url("/redirect-abs"), USER, PASS, MAX, None, T)
        .await
        .unwrap();
    assert_eq!(got, file());
    let fault = download_fault(&server.url("/loop"), "", "").await;
    assert_eq!(fault.code.0, 9010, "{fault}");
    assert!(fault.message.contains("redirects"));
    let fault = download_fault(&server.url("/redirect-ftp"), "", "").await;
    assert_eq!(fault.code.0, 9010, "{fault}");
}

#[tokio::test]
async fn bad_urls_are_refused_before_any_traffic() {
    let fault = validate_url("http://user:pass@127.0.0.1:1/fw.bin").unwrap_err();
    assert_eq!(fault.code.0, 9003);
    assert_eq!(
        validate_url("ftp://127.0.0.1/fw.bin").unwrap_err().code.0,
        9013
    );
    assert_eq!(
        validate_url("tftp://127.0.0.1/fw.bin").unwrap_err().code.0,
        9013
    );
    assert!(validate_url("https://files.example/fw.bin").is_ok());
    let server = start_files().await;
    let with_userinfo = format!("http://{USER}:{PASS}@{}/open/fw.bin", server.addr);
    assert_eq!(download_fault(&with_userinfo, "", "").await.code.0, 9003);
    let fault = transfers()
        .upload(
            &with_userinfo,
            "",
            "",
            Bytes::from_static(b"x"),
            "text/plain",
            T,
        )
        .await
        .unwrap_err();
    assert_eq!(fault.code.0, 9003);
    assert!(server.authorizations.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Uploads
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn upload_puts_the_file_intact() {
    let server = start_files().await;
    let log = Bytes::from("line 1\nline 2\n".repeat(1000));
    transfers()
        .upload(
            &server.url("/upload/log.txt"),
            "",
            "",
            log.clone(),
            "text/plain",
            T,
        )
        .await
        .unwrap();
    let uploads = server.uploads.lock().unwrap().clone();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].method, "PUT");
    assert_eq!(uploads[0].path, "/upload/log.txt");
    assert_eq!(uploads[0].content_type.as_deref(), Some("text/plain"));
    assert_eq!(uploads[0].content_length, Some(log.len().to_string()));
    assert_eq!(uploads[0].body, log);
}

#[tokio::test]
async fn upload_with_digest() {
    let server = start_files().await;
    let config = Bytes::from_static(b"<config/>");
    transfers()
        .upload(
            &server.url("/digest/log.txt"),
            USER,
            PASS,
            config.clone(),
            "text/xml",
            T,
        )
        .await
        .unwrap();
    let uploads = server.uploads.lock().unwrap().clone();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].body, config);
    let fault = transfers()
        .upload(
            &server.url("/digest/log.txt"),
            USER,
            "wrong",
            config,
            "text/xml",
            T,
        )
        .await
        .unwrap_err();
    assert_eq!(fault.code.0, 9012);
}

#[tokio::test]
async fn upload_failures_are_9011() {
    let server = start_files().await;
    let body = Bytes::from_static(b"x");
    for path in ["/post-only", "/missing"] {
        let fault = transfers()
            .upload(&server.url(path), "", "", body.clone(), "text/plain", T)
            .await
            .unwrap_err();
        assert_eq!(fault.code.0, 9011, "{path}: {fault}");
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let fault = transfers()
        .upload(&format!("http://{addr}/x"), "", "", body, "text/plain", T)
        .await
        .unwrap_err();
    assert_eq!(fault.code.0, 9011, "{fault}");
}

#[tokio::test]
async fn transfers_run_on_spawned_tasks() {
    let server = start_files().await;
    let url = server.url("/digest/fw.bin");
    let transfers = transfers();
    let task =
        tokio::spawn(async move { transfers.download(&url, USER, PASS, MAX, None, T).await });
    assert_eq!(task.await.unwrap().unwrap(), file());
}
