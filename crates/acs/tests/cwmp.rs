//! The CWMP endpoint driven over HTTP by test CPEs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use http::{Method, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_inform_registers_the_device() {
    let app = spawn_app().await;
    let mut cpe = TestCpe::new("SN0001");
    let r = cpe.session(app.cwmp, &["0 BOOTSTRAP", "1 BOOT"]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // First contact: the ACS sets the connection-request credentials.
    assert_eq!(r.rpcs, ["SetParameterValues"]);
    let dev = app.device(&cpe.id()).await.expect("registered");
    assert_eq!(dev["_id"], cpe.id());
    assert_eq!(dev["_deviceId"]["_SerialNumber"], "SN0001");
    assert_eq!(
        dev["Device"]["DeviceInfo"]["SoftwareVersion"]["_value"],
        "3.0.21"
    );
    assert!(
        dev["_lastInform"].is_string()
            && dev["_lastBoot"].is_string()
            && dev["_registered"].is_string()
    );
    cpe.validate_received();
    let r = app.api(Method::GET, "/devices", None).await;
    assert_eq!(r.headers["total"], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_periodic_inform_without_work_is_two_exchanges() {
    let app = spawn_app().await;
    let mut cpe = TestCpe::new("SN0002");
    cpe.session(app.cwmp, &["0 BOOTSTRAP"]).await;
    let r = cpe.session(app.cwmp, &["2 PERIODIC"]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.rpcs.is_empty(), "{:?}", r.rpcs);
    cpe.validate_received();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_is_required_and_checked() {
    let app = spawn_app().await;
    let mut cpe = TestCpe::new("SN0003");
    cpe.auth = CpeAuth::None;
    assert_eq!(
        cpe.session(app.cwmp, &["0 BOOTSTRAP"]).await.status,
        StatusCode::UNAUTHORIZED
    );
    cpe.auth = CpeAuth::Digest(DEFAULT_USER.into(), "wrong-password".into());
    assert_eq!(
        cpe.session(app.cwmp, &["0 BOOTSTRAP"]).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Basic over plain HTTP is refused even with the right password.
    cpe.auth = CpeAuth::Basic(DEFAULT_USER.into(), DEFAULT_PASS.into());
    assert_eq!(
        cpe.session(app.cwmp, &["0 BOOTSTRAP"]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        app.device(&cpe.id()).await.is_none(),
        "nothing stored for refused sessions"
    );

    // Per-device credentials, set through the API; they only open their own device.
    let r = app
        .api(
            Method::PUT,
            &format!("/devices/{}/credentials", urlencode(&cpe.id())),
            Some(serde_json::json!({"password": "device-secret"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    cpe.auth = CpeAuth::Digest(cpe.id(), "device-secret".into());
    assert_eq!(
        cpe.session(app.cwmp, &["0 BOOTSTRAP"]).await.status,
        StatusCode::NO_CONTENT
    );
    let mut other = TestCpe::new("SN0004");
    other.auth = CpeAuth::Digest(cpe.id(), "device-secret".into());
    assert_eq!(
        other.session(app.cwmp, &["0 BOOTSTRAP"]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(app.device(&other.id()).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_can_be_turned_off() {
    let app = spawn_app_with(|c| c.cwmp.auth.enabled = false).await;
    let mut cpe = TestCpe::new("SN0005");
    cpe.auth = CpeAuth::None;
    assert_eq!(
        cpe.session(app.cwmp, &["0 BOOTSTRAP"]).await.status,
        StatusCode::NO_CONTENT
    );
}

/// A raw CWMP exchange on a fresh connection, for malformed and hostile requests.
async fn raw_post(
    addr: std::net::SocketAddr,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, http::HeaderMap, String) {
    use http_body_util::{BodyExt, Full};
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder().method(Method::POST).uri("/");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(bytes::Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text =
        String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned();
    (status, headers, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_its_error_and_stores_nothing() {
    let app = spawn_app_with(|c| {
        c.cwmp.auth.enabled = false;
        c.cwmp.max_body_bytes = 64 * 1024;
    })
    .await;
    // Broken XML as the first request: 400, the device is not created.
    let (status, _, text) = raw_post(app.cwmp, &[], b"<soap:Envelope><oops".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    // An Inform with a wrong type: a SOAP fault 8003 naming where.
    let inform = TestCpe::new("SN0006").inform_xml(&["0 BOOTSTRAP"]).replace(
        "<RetryCount>0</RetryCount>",
        "<RetryCount>many</RetryCount>",
    );
    let (status, _, text) = raw_post(app.cwmp, &[], inform.into_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    let env = cwmp::decode(text.as_bytes()).unwrap();
    let cwmp::Body::Fault(f) = &env.body else {
        panic!("{text}")
    };
    assert_eq!(f.code(), Some(cwmp::FaultCode::ACS_INVALID_ARGUMENTS));
    assert!(
        f.detail
            .as_ref()
            .unwrap()
            .fault_string
            .as_deref()
            .unwrap()
            .contains("/Envelope/Body/Inform/RetryCount")
    );
    assert_eq!(env.header.id.as_deref(), Some("cpe-inform"));
    // An oversized body: 413 before it is read.
    let (status, _, _) = raw_post(app.cwmp, &[], vec![b' '; 100_000]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // A DOCTYPE: refused.
    let (status, _, _) = raw_post(
        app.cwmp,
        &[],
        b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><x/>".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // An unknown content encoding: 415. A GET: 405.
    let (status, _, _) = raw_post(app.cwmp, &[("Content-Encoding", "br")], b"x".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(app.device(&TestCpe::new("SN0006").id()).await.is_none());
    // The engine's answers validate.
    validate(&[text]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_are_accepted_and_bounded() {
    use std::io::Write as _;
    let app = spawn_app_with(|c| {
        c.cwmp.auth.enabled = false;
        c.cwmp.max_body_bytes = 64 * 1024;
    })
    .await;
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let inform = TestCpe::new("SN0007").inform_xml(&["0 BOOTSTRAP"]);
    let (status, _, text) = raw_post(
        app.cwmp,
        &[("Content-Encoding", "gzip")],
        gz(inform.as_bytes()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("InformResponse"));
    // A gzip bomb: small on the wire, over the limit once inflated.
    let (status, _, _) = raw_post(
        app.cwmp,
        &[("Content-Encoding", "gzip")],
        gz(&vec![b' '; 10_000_000]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_beyond_the_limit_get_503_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.cwmp.auth.enabled = false;
        c.cwmp.max_sessions = 1;
        c.cwmp.retry_after_secs = 42;
    })
    .await;
    // The first session stays open (the CPE never sends its empty POST).
    let first = TestCpe::new("SN0008").inform_xml(&["0 BOOTSTRAP"]);
    let (status, _, _) = raw_post(app.cwmp, &[], first.into_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    let second = TestCpe::new("SN0009").inform_xml(&["0 BOOTSTRAP"]);
    let (status, headers, _) = raw_post(app.cwmp, &[], second.into_bytes()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_device_never_has_two_sessions_at_once() {
    let app = spawn_app_with(|c| c.cwmp.auth.enabled = false).await;
    let cpe = TestCpe::new("SN0010");
    let (status, _, _) =
        raw_post(app.cwmp, &[], cpe.inform_xml(&["0 BOOTSTRAP"]).into_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, _) =
        raw_post(app.cwmp, &[], cpe.inform_xml(&["2 PERIODIC"]).into_bytes()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_continues_on_a_new_connection_with_its_cookie() {
    let app = spawn_app_with(|c| c.cwmp.auth.enabled = false).await;
    let cpe = TestCpe::new("SN0011");
    let (status, headers, _) =
        raw_post(app.cwmp, &[], cpe.inform_xml(&["2 PERIODIC"]).into_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("session="));
    // New connection, same session: the empty POST ends it (credentials set on first
    // contact come first).
    let (status, _, body) = raw_post(app.cwmp, &[("Cookie", &cookie)], Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("SetParameterValues"));
    // Without the cookie, an empty POST on a new connection is no session.
    let (status, _, _) = raw_post(app.cwmp, &[], Vec::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_the_inform_and_the_api_read_loses_nothing() {
    let app = spawn_app().await;
    let mut cpe = TestCpe::new("SN0012");
    assert_eq!(
        cpe.session(app.cwmp, &["0 BOOTSTRAP"]).await.status,
        StatusCode::NO_CONTENT
    );
    let app = app.restart().await;
    let dev = app
        .device(&cpe.id())
        .await
        .expect("still registered after restart");
    assert_eq!(
        dev["Device"]["DeviceInfo"]["SoftwareVersion"]["_value"],
        "3.0.21"
    );
    // The credentials the ACS set are still known: no second SetParameterValues.
    let r = cpe.session(app.cwmp, &["1 BOOT"]).await;
    assert!(r.rpcs.is_empty(), "{:?}", r.rpcs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpe_requests_in_session_are_answered() {
    let app = spawn_app().await;
    let mut cpe = TestCpe::new("SN0013");
    cpe.session(app.cwmp, &["0 BOOTSTRAP"]).await;
    let r = cpe
        .session_with(
            app.cwmp,
            &["2 PERIODIC"],
            vec![
                cwmp::Body::GetRPCMethods(cwmp::GetRPCMethods {}),
                cwmp::Body::TransferComplete(cwmp::TransferComplete {
                    command_key: "unknown-key".into(),
                    fault_struct: cwmp::TransferCompleteFaultStruct {
                        fault_code: cwmp::FaultCode(9010),
                        fault_string: "failed".into(),
                    },
                    start_time: cwmp::DateTime::UNKNOWN,
                    complete_time: cwmp::DateTime::UNKNOWN,
                }),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    cpe.validate_received();
    // The failed transfer is a device fault.
    let r = app
        .api(
            Method::GET,
            &format!(
                "/faults?query={}",
                urlencode(&serde_json::json!({"device": cpe.id()}).to_string())
            ),
            None,
        )
        .await;
    let faults = r.json();
    assert_eq!(faults[0]["code"], "cwmp.9010", "{faults}");
    assert_eq!(faults[0]["channel"], "transfer");
}

/// With `hold_requests`, the ACS's messages carry HoldRequests while it has work; a CPE
/// request sent anyway is told to retry (8005); closing after the final 204 ends the
/// session, so the device's next session is not refused as a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_requests_is_sent_and_lifted() {
    let app = spawn_app_with(|c| c.cwmp.hold_requests = true).await;
    let mut cpe = TestCpe::new("SN0090");
    cpe.session(app.cwmp, &["0 BOOTSTRAP"]).await;
    let q = format!("/devices/{}/tasks", urlencode(&cpe.id()));
    let r = app
        .api(
            Method::POST,
            &q,
            Some(serde_json::json!({"name": "reboot"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cpe.received.lock().unwrap().clear();
    let request = cwmp::Body::GetRPCMethods(cwmp::GetRPCMethods {});
    let r = cpe
        .session_with(app.cwmp, &["2 PERIODIC"], vec![request])
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(r.rpcs, ["Reboot"]);
    let received = cpe.received.lock().unwrap().clone();
    assert!(received[0].contains("HoldRequests"), "{}", received[0]);
    assert!(
        received[1].contains("<FaultCode>8005</FaultCode>"),
        "{}",
        received[1]
    );
    assert!(
        received[2].contains("HoldRequests") && received[2].contains("Reboot"),
        "{}",
        received[2]
    );
    cpe.validate_received();
    // The connection closed after the 204: the session is over, the next one is accepted.
    let r = cpe.session(app.cwmp, &["1 BOOT", "M Reboot"]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(
        !cpe.received
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .contains("HoldRequests")
    );
}

/// Shutting down lets a session in flight finish: the ACS stops taking new sessions, the
/// CPE mid-session still gets its 204, and only then does the server stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_sessions_in_flight() {
    use http_body_util::{BodyExt, Full};
    let mut app = spawn_app_with(|c| {
        c.cwmp.auth.enabled = false;
        c.cwmp.set_connection_request_credentials = false;
    })
    .await;
    let cpe = TestCpe::new("SN0100");
    let stream = tokio::net::TcpStream::connect(app.cwmp).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let post = |body: Vec<u8>, cookie: Option<String>| {
        let mut req = http::Request::builder().method(Method::POST).uri("/");
        if let Some(c) = cookie {
            req = req.header(http::header::COOKIE, c);
        }
        req.body(Full::new(bytes::Bytes::from(body))).unwrap()
    };
    let resp = sender
        .send_request(post(cpe.inform_xml(&["2 PERIODIC"]).into_bytes(), None))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()[http::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    resp.into_body().collect().await.unwrap();

    let running = app.running.take().unwrap();
    let stopping = tokio::spawn(running.shutdown());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !stopping.is_finished(),
        "the session in flight holds the shutdown"
    );
    // A new session is not taken any more.
    let other = TestCpe::new("SN0101");
    if let Ok(stream) = tokio::net::TcpStream::connect(app.cwmp).await {
        // The listener may still accept; the answer is then 503 (or the connection closes).
        if let Ok((mut s, c)) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await
        {
            tokio::spawn(c);
            if let Ok(r) = s
                .send_request(post(other.inform_xml(&["2 PERIODIC"]).into_bytes(), None))
                .await
            {
                assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            }
        }
    }

    sender.ready().await.unwrap();
    let resp = sender
        .send_request(post(Vec::new(), Some(cookie)))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    tokio::time::timeout(std::time::Duration::from_secs(5), stopping)
        .await
        .expect("stops once the session ended")
        .unwrap();
}
