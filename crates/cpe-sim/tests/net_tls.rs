//! TLS for sessions and transfers (TR-069 §3.3; notes §7.1, §7.4) against servers on
//! 127.0.0.1 whose certificate comes from a CA generated here: trusted only when configured,
//! host name checked, SNI sent, no fallback to plain HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cpe_sim::net::{
    AcsClient, AcsClientConfig, AuthPolicy, FileTransfer, Next, SessionDriver, SessionError,
    TlsClientConfig, TransferConfig,
};
use cwmp::auth::basic;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// A CA and a server certificate for `localhost` signed by it.
struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "cpe-sim test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &*ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        server_chain: vec![leaf.der().clone()],
        server_key: leaf_key.serialize_der(),
    }
}

fn server_config(pki: &Pki, tls12_only: bool) -> Arc<rustls::ServerConfig> {
    let builder = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ));
    let builder = if tls12_only {
        builder.with_protocol_versions(&[&rustls::version::TLS12])
    } else {
        builder.with_safe_default_protocol_versions()
    }
    .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone()));
    Arc::new(
        builder
            .with_no_client_auth()
            .with_single_cert(pki.server_chain.clone(), key)
            .unwrap(),
    )
}

/// What the TLS server saw.
#[derive(Debug, Default)]
struct Seen {
    /// SNI of each completed handshake.
    sni: Vec<Option<String>>,
    failed_handshakes: usize,
    /// `Authorization` of each request.
    authorizations: Vec<Option<String>>,
}

/// An HTTPS server: POST answers like an ACS (Inform → 200, empty → 204); `GET /fw.bin` is a
/// file; `GET /to-http` redirects to plain HTTP.
async fn start_tls(pki: &Pki, tls12_only: bool) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(pki, tls12_only));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen_in = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&seen_in);
            tokio::spawn(async move {
                let tls = match acceptor.accept(stream).await {
                    Ok(tls) => tls,
                    Err(_) => {
                        seen.lock().unwrap().failed_handshakes += 1;
                        return;
                    }
                };
                let sni = tls.get_ref().1.server_name().map(str::to_owned);
                seen.lock().unwrap().sni.push(sni);
                let service = service_fn(move |request: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        seen.lock().unwrap().authorizations.push(
                            parts
                                .headers
                                .get("authorization")
                                .map(|v| v.to_str().unwrap().to_owned()),
                        );
                        let mut response = Response::new(Full::new(Bytes::new()));
                        match (parts.method.as_str(), parts.uri.path()) {
                            ("POST", _) if body.is_empty() => {
                                *response.status_mut() = StatusCode::NO_CONTENT;
                            }
                            ("POST", _) => {
                                *response.body_mut() = Full::new(Bytes::from("<InformResponse/>"));
                            }
                            ("GET", "/fw.bin") => {
                                *response.body_mut() = Full::new(Bytes::from("firmware"));
                            }
                            ("GET", "/to-http") => {
                                *response.status_mut() = StatusCode::FOUND;
                                response.headers_mut().insert(
                                    "location",
                                    "http://127.0.0.1:9/fw.bin".parse().unwrap(),
                                );
                            }
                            _ => *response.status_mut() = StatusCode::NOT_FOUND,
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

struct Inform;

impl SessionDriver for Inform {
    fn first(&mut self) -> Vec<u8> {
        b"<Inform/>".to_vec()
    }

    fn on_response(&mut self, status: u16, _body: &[u8]) -> Next {
        match status {
            200 => Next::empty(),
            204 => Next::Done,
            other => Next::Failed(format!("status {other}")),
        }
    }
}

fn trusting(pki: &Pki) -> TlsClientConfig {
    TlsClientConfig::builder()
        .add_ca_pem(pki.ca_pem.as_bytes())
        .unwrap()
        .build()
        .unwrap()
}

fn client(url: String, tls: Option<TlsClientConfig>) -> AcsClient {
    let mut config = AcsClientConfig::new(url, "000000-Box-SN1", "cpe-secret");
    config.tls = tls;
    config.response_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(5);
    AcsClient::new(config).unwrap()
}

#[tokio::test]
async fn session_over_tls_with_the_ca_from_a_pem_file() {
    let pki = pki();
    let (addr, seen) = start_tls(&pki, false).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let tls = TlsClientConfig::builder()
        .add_ca_pem_file(&ca_file)
        .unwrap()
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/cwmp", addr.port());
    let report = client(url, Some(tls)).run_session(&mut Inform).await;
    assert_eq!(report.outcome, Ok(()));
    assert_eq!(report.exchanges, 2);
    assert_eq!(report.connections, 1);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.sni, vec![Some("localhost".to_owned())]);
    assert_eq!(seen.authorizations, vec![None, None]);
}

#[tokio::test]
async fn tls_1_2_is_accepted() {
    let pki = pki();
    let (addr, _) = start_tls(&pki, true).await;
    let url = format!("https://localhost:{}/", addr.port());
    let report = client(url, Some(trusting(&pki)))
        .run_session(&mut Inform)
        .await;
    assert_eq!(report.outcome, Ok(()));
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_session() {
    let pki = pki();
    let (addr, seen) = start_tls(&pki, false).await;
    let url = format!("https://localhost:{}/cwmp", addr.port());
    // Mozilla's roots only: the test CA is unknown.
    let report = client(url, None).run_session(&mut Inform).await;
    assert!(
        matches!(report.outcome, Err(SessionError::Tls(_))),
        "{:?}",
        report.outcome
    );
    assert_eq!(report.exchanges, 0);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let seen = seen.lock().unwrap();
    assert!(seen.authorizations.is_empty());
    assert_eq!(seen.failed_handshakes, 1);
}

#[tokio::test]
async fn a_host_name_mismatch_fails_the_session() {
    let pki = pki();
    let (addr, seen) = start_tls(&pki, false).await;
    // The certificate names localhost, not 127.0.0.1.
    let url = format!("https://127.0.0.1:{}/cwmp", addr.port());
    let report = client(url, Some(trusting(&pki)))
        .run_session(&mut Inform)
        .await;
    let Err(SessionError::Tls(reason)) = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert!(
        reason.to_lowercase().contains("not valid for name"),
        "{reason}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(seen.lock().unwrap().authorizations.is_empty());
}

#[tokio::test]
async fn basic_is_sent_preemptively_over_tls_when_configured() {
    let pki = pki();
    let (addr, seen) = start_tls(&pki, false).await;
    let mut config = AcsClientConfig::new(
        format!("https://localhost:{}/cwmp", addr.port()),
        "000000-Box-SN1",
        "cpe-secret",
    );
    config.tls = Some(trusting(&pki));
    config.auth = AuthPolicy::PreemptiveBasicOverTls;
    let report = AcsClient::new(config)
        .unwrap()
        .run_session(&mut Inform)
        .await;
    assert_eq!(report.outcome, Ok(()));
    let expected = basic::authorization("000000-Box-SN1", "cpe-secret").unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.authorizations,
        vec![Some(expected.clone()), Some(expected)]
    );
}

#[tokio::test]
async fn an_https_url_never_falls_back_to_plain_http() {
    // A plain-HTTP server at an https URL: the handshake fails and nothing is sent in clear.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let received_in = Arc::clone(&received);
    let connections = Arc::new(AtomicUsize::new(0));
    let connections_in = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            connections_in.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 4096];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            received_in.lock().unwrap().extend_from_slice(&buf[..n]);
            // Answer like an HTTP server would to garbage, and close.
            use tokio::io::AsyncWriteExt;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let pki = pki();
    let url = format!("https://localhost:{}/cwmp", addr.port());
    let report = client(url, Some(trusting(&pki)))
        .run_session(&mut Inform)
        .await;
    assert!(
        matches!(report.outcome, Err(SessionError::Tls(_))),
        "{:?}",
        report.outcome
    );
    let received = received.lock().unwrap();
    // A TLS ClientHello (record type 22), never an HTTP request.
    assert_eq!(received.first(), Some(&0x16));
    assert!(!received.windows(4).any(|w| w == b"POST"));
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn download_over_https() {
    let pki = pki();
    let (addr, seen) = start_tls(&pki, false).await;
    let url = format!("https://localhost:{}/fw.bin", addr.port());
    let trusted = FileTransfer::new(TransferConfig {
        tls: Some(trusting(&pki)),
        ..TransferConfig::default()
    })
    .unwrap();
    let got = trusted
        .download(&url, "", "", 1 << 20, Some(8), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(got, Bytes::from("firmware"));
    assert_eq!(seen.lock().unwrap().sni, vec![Some("localhost".to_owned())]);

    // Without the CA: the server cannot be trusted, the file server is "unreachable".
    let untrusting = FileTransfer::new(TransferConfig::default()).unwrap();
    let fault = untrusting
        .download(&url, "", "", 1 << 20, None, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(fault.code.0, 9015, "{fault}");

    // A redirect from https to http is refused.
    let fault = trusted
        .download(
            &format!("https://localhost:{}/to-http", addr.port()),
            "",
            "",
            1 << 20,
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
    assert_eq!(fault.code.0, 9010, "{fault}");
    assert!(fault.message.contains("https to http"), "{fault}");
}
