//! Integration tests for `cwmp::auth`: the test vectors of the protocol notes (§3.2, §5.2),
//! RFC 2617 / RFC 7616 vectors, and complete client/server exchanges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cwmp::auth::basic::{self, BasicCredentials};
use cwmp::auth::digest::{
    self, Algorithm, AlgorithmPreference, Challenge, DigestChallenge, DigestCredentials,
    DigestRequest, DigestServer, NonceCounts, QopAuth, ResponseParams, Secret, StoredCredential,
};
use cwmp::auth::udp::{self, ReplayGuard, UdpConnectionRequest};
use cwmp::auth::{BasicError, DigestError, UdpError};

const NONCE: &str = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
const CNONCE: &str = "0a4f113b";

fn params<'a>(
    algorithm: Algorithm,
    username: &'a str,
    realm: &'a str,
    password: &'a str,
    uri: &'a str,
) -> ResponseParams<'a> {
    ResponseParams {
        algorithm,
        username,
        realm,
        secret: Secret::Password(password),
        method: "GET",
        uri,
        nonce: NONCE,
        qop: Some(QopAuth {
            nc: 1,
            cnonce: CNONCE,
        }),
    }
}

// ------------------------------------------------------------------------------------------
// Digest vectors
// ------------------------------------------------------------------------------------------

#[test]
fn digest_rfc2617_section_3_5_vector() {
    let h = digest::compute(&params(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
        "/dir/index.html",
    ))
    .unwrap();
    assert_eq!(h.response, "6629fae49393a05397450978507c4ef1");
}

#[test]
fn digest_cwmp_md5_vector() {
    let p = params(
        Algorithm::Md5,
        "acs",
        "IGD Authentication",
        "crpass",
        "/cr/8f3a2b",
    );
    let h = digest::compute(&p).unwrap();
    assert_eq!(h.ha1, "90719f7216dc086df77b7339afb3b868");
    assert_eq!(h.ha2, "57ca6a5d328f3f4726fa1d2421f54f22");
    assert_eq!(h.response, "f52249d19f2f4548b6b4e65426b8b502");
    // The building blocks give the same values.
    assert_eq!(
        digest::ha1(Algorithm::Md5, "acs", "IGD Authentication", "crpass"),
        h.ha1
    );
    assert_eq!(digest::ha2(Algorithm::Md5, "GET", "/cr/8f3a2b"), h.ha2);
    assert_eq!(
        digest::request_digest(Algorithm::Md5, &h.ha1, NONCE, p.qop, &h.ha2),
        h.response
    );
}

#[test]
fn digest_cwmp_md5_sess_vector() {
    let h = digest::compute(&params(
        Algorithm::Md5Sess,
        "acs",
        "IGD Authentication",
        "crpass",
        "/cr/8f3a2b",
    ))
    .unwrap();
    assert_eq!(h.response, "dea2c86096d0cb49d5b93802c8daa427");
    assert_eq!(
        h.ha1,
        digest::session_ha1(
            Algorithm::Md5Sess,
            "90719f7216dc086df77b7339afb3b868",
            NONCE,
            CNONCE
        )
    );
}

/// RFC 7616 §3.9.1 (password "Circle of Life", lower-case "of", see erratum 4495).
#[test]
fn digest_rfc7616_section_3_9_1_vectors() {
    let challenge = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
                     algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
                     opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    let md5_challenge = challenge.replace("SHA-256", "MD5");
    let request = DigestRequest {
        username: "Mufasa",
        password: "Circle of Life",
        method: "GET",
        uri: "/dir/index.html",
        cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        nc: 1,
    };
    for (header, expected) in [
        (
            challenge.to_owned(),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
        (md5_challenge, "8ca523f5e9506fed4657c9700eebdbec"),
    ] {
        let challenges = digest::parse_challenges(&header).unwrap();
        let selected =
            digest::select_challenge(&challenges, AlgorithmPreference::PreferSha256).unwrap();
        let credentials = selected.respond(&request).unwrap();
        assert_eq!(credentials.response, expected);
        assert_eq!(
            credentials.opaque.as_deref(),
            Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        );
        let header = credentials.to_header_value().unwrap();
        assert_eq!(DigestCredentials::parse(&header).unwrap(), credentials);
    }
}

#[test]
fn digest_client_header_for_cwmp_vector() {
    let header = digest::authorize(
        "Digest realm=\"IGD Authentication\", qop=\"auth\", algorithm=MD5-sess, \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"xyz\"",
        AlgorithmPreference::default(),
        &DigestRequest {
            username: "acs",
            password: "crpass",
            method: "GET",
            uri: "/cr/8f3a2b",
            cnonce: CNONCE,
            nc: 1,
        },
    )
    .unwrap();
    assert_eq!(
        header,
        "Digest username=\"acs\", realm=\"IGD Authentication\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/cr/8f3a2b\", algorithm=MD5-sess, \
         response=\"dea2c86096d0cb49d5b93802c8daa427\", opaque=\"xyz\", qop=auth, nc=00000001, \
         cnonce=\"0a4f113b\""
    );
}

#[test]
fn digest_client_rejects_auth_int_only() {
    let err = digest::authorize(
        "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
        AlgorithmPreference::PreferMd5,
        &DigestRequest {
            username: "u",
            password: "p",
            method: "GET",
            uri: "/",
            cnonce: "c",
            nc: 1,
        },
    )
    .unwrap_err();
    assert!(matches!(err, DigestError::UnsupportedQop { .. }));
}

// ------------------------------------------------------------------------------------------
// Full Digest exchange
// ------------------------------------------------------------------------------------------

const KEY: &[u8] = b"an ACS secret key of 32 bytes!!!";

#[test]
fn digest_full_exchange_replay_and_stale() {
    let lifetime = 300;
    let server = DigestServer::new("IGD Authentication", KEY, lifetime).unwrap();
    let mut counts = NonceCounts::new(64, lifetime);
    let expected = StoredCredential {
        username: "acs",
        secret: Secret::Password("crpass"),
    };
    let t0 = 1_700_000_000;

    // 1. Server challenges.
    let www = server.challenge(t0, &[0x42; 16], false);
    assert!(www.starts_with("Digest realm=\"IGD Authentication\", qop=\"auth\", algorithm=MD5"));

    // 2. Client answers.
    let challenges = digest::parse_challenges(&www).unwrap();
    let chosen = digest::select_challenge(&challenges, AlgorithmPreference::PreferMd5).unwrap();
    let mut request = DigestRequest {
        username: "acs",
        password: "crpass",
        method: "GET",
        uri: "/cr/8f3a2b",
        cnonce: "6b8d1e3f0a2c4e5d",
        nc: 1,
    };
    let authorization = chosen.respond(&request).unwrap().to_header_value().unwrap();

    // 3. Server verifies, then records the nonce count.
    let verified = server
        .verify_header(&authorization, "GET", "/cr/8f3a2b", &expected, t0 + 1)
        .unwrap();
    assert_eq!(verified.username, "acs");
    assert_eq!(verified.algorithm, Algorithm::Md5);
    assert_eq!(verified.nonce_issued_at, t0);
    counts.accept(&verified, t0 + 1).unwrap();

    // 4. The same header replayed verifies, but the nonce-count tracker rejects it.
    let replayed = server
        .verify_header(&authorization, "GET", "/cr/8f3a2b", &expected, t0 + 2)
        .unwrap();
    assert_eq!(
        counts.accept(&replayed, t0 + 2),
        Err(DigestError::Replay { nc: 1, last: 1 })
    );

    // 5. The next request on the same nonce with nc=2 is accepted.
    request.nc = 2;
    let second = chosen.respond(&request).unwrap().to_header_value().unwrap();
    let v2 = server
        .verify_header(&second, "GET", "/cr/8f3a2b", &expected, t0 + 3)
        .unwrap();
    counts.accept(&v2, t0 + 3).unwrap();

    // 6. After the lifetime the nonce is stale; the server re-challenges with stale=true and
    //    the client retries with the same password.
    request.nc = 3;
    let late = chosen.respond(&request).unwrap().to_header_value().unwrap();
    let t1 = t0 + lifetime + 1;
    assert_eq!(
        server.verify_header(&late, "GET", "/cr/8f3a2b", &expected, t1),
        Err(DigestError::Stale)
    );
    let rechallenge = server.challenge(t1, &[0x43; 16], true);
    let challenges = digest::parse_challenges(&rechallenge).unwrap();
    let fresh = digest::select_challenge(&challenges, AlgorithmPreference::PreferMd5).unwrap();
    assert!(fresh.stale);
    request.nc = 1;
    let retry = fresh.respond(&request).unwrap().to_header_value().unwrap();
    let v3 = server
        .verify_header(&retry, "GET", "/cr/8f3a2b", &expected, t1 + 1)
        .unwrap();
    counts.accept(&v3, t1 + 1).unwrap();
}

#[test]
fn digest_wrong_password_rejected() {
    let server = DigestServer::new("IGD Authentication", KEY, 300).unwrap();
    let www = server.challenge(1000, &[1; 16], false);
    let authorization = digest::authorize(
        &www,
        AlgorithmPreference::PreferMd5,
        &DigestRequest {
            username: "acs",
            password: "not-the-password",
            method: "GET",
            uri: "/cr/8f3a2b",
            cnonce: "c",
            nc: 1,
        },
    )
    .unwrap();
    let expected = StoredCredential {
        username: "acs",
        secret: Secret::Password("crpass"),
    };
    assert_eq!(
        server.verify_header(&authorization, "GET", "/cr/8f3a2b", &expected, 1001),
        Err(DigestError::BadResponse)
    );
}

#[test]
fn digest_exchange_with_stored_ha1_and_sha256() {
    let server = DigestServer::new("cwmp", KEY, 60)
        .unwrap()
        .with_algorithms(&[Algorithm::Sha256, Algorithm::Md5, Algorithm::Md5Sess]);
    let www = server.challenges(50, &[2; 16], false);
    assert_eq!(www.len(), 3);
    let mut challenges = Vec::new();
    for line in &www {
        challenges.extend(digest::parse_challenges(line).unwrap());
    }
    let request = DigestRequest {
        username: "00D09E-IGD-S123",
        password: "cpe-password",
        method: "POST",
        uri: "/acs",
        cnonce: "abcdef",
        nc: 1,
    };
    for (preference, algorithm) in [
        (AlgorithmPreference::PreferSha256, Algorithm::Sha256),
        (AlgorithmPreference::PreferMd5, Algorithm::Md5),
    ] {
        let chosen = digest::select_challenge(&challenges, preference).unwrap();
        assert_eq!(chosen.effective_algorithm(), algorithm);
        let credentials = chosen.respond(&request).unwrap();
        // The ACS looks the user up by the parsed username and checks a stored HA1.
        let parsed = DigestCredentials::parse(&credentials.to_header_value().unwrap()).unwrap();
        let stored = digest::ha1(algorithm, &parsed.username, "cwmp", "cpe-password");
        let expected = StoredCredential {
            username: "00D09E-IGD-S123",
            secret: Secret::Ha1(&stored),
        };
        let v = server
            .verify(&parsed, "POST", "/acs", &expected, 55)
            .unwrap();
        assert_eq!(v.algorithm, algorithm);
    }
    // MD5-sess, the TR-069 CPE requirement, with a stored (non-session) MD5 HA1.
    let Challenge::Digest(sess) = &challenges[2] else {
        panic!("expected a Digest challenge")
    };
    assert_eq!(sess.algorithm, Some(Algorithm::Md5Sess));
    let credentials = sess.respond(&request).unwrap();
    let stored = digest::ha1(Algorithm::Md5, "00D09E-IGD-S123", "cwmp", "cpe-password");
    let expected = StoredCredential {
        username: "00D09E-IGD-S123",
        secret: Secret::Ha1(&stored),
    };
    assert!(
        server
            .verify(&credentials, "POST", "/acs", &expected, 55)
            .is_ok()
    );
}

#[test]
fn digest_server_rejects_rfc2069_and_foreign_nonces() {
    let server = DigestServer::new("r", KEY, 60).unwrap();
    let legacy = DigestChallenge {
        realm: "r".into(),
        nonce: server.issue_nonce(10, &[3; 16]),
        ..Default::default()
    };
    let request = DigestRequest {
        username: "u",
        password: "p",
        method: "GET",
        uri: "/",
        cnonce: "c",
        nc: 1,
    };
    let expected = StoredCredential {
        username: "u",
        secret: Secret::Password("p"),
    };
    let credentials = legacy.respond(&request).unwrap();
    assert!(credentials.qop.is_none() && credentials.cnonce.is_none());
    assert!(matches!(
        server.verify(&credentials, "GET", "/", &expected, 11),
        Err(DigestError::UnsupportedQop { .. })
    ));
    let foreign = DigestChallenge {
        realm: "r".into(),
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
        qop: Some(vec![digest::Qop::Auth]),
        ..Default::default()
    };
    let credentials = foreign.respond(&request).unwrap();
    assert_eq!(
        server.verify(&credentials, "GET", "/", &expected, 11),
        Err(DigestError::InvalidNonce)
    );
}

// ------------------------------------------------------------------------------------------
// Basic
// ------------------------------------------------------------------------------------------

#[test]
fn basic_round_trip_and_verify() {
    let header = basic::authorization("00D09E-IGD-S123", "pa:ss word").unwrap();
    let parsed = BasicCredentials::parse(&header).unwrap();
    assert_eq!(parsed.username, "00D09E-IGD-S123");
    assert_eq!(parsed.password, "pa:ss word");
    assert!(basic::verify(&header, "00D09E-IGD-S123", "pa:ss word").is_ok());
    assert_eq!(
        basic::verify(&header, "00D09E-IGD-S123", "wrong"),
        Err(BasicError::BadCredentials)
    );
    assert_eq!(basic::challenge("CWMP").unwrap(), "Basic realm=\"CWMP\"");
    // The Digest challenge parser understands the Basic challenge too.
    assert_eq!(
        digest::parse_challenges(&basic::challenge("CWMP").unwrap()).unwrap(),
        vec![Challenge::Basic {
            realm: Some("CWMP".into())
        }]
    );
}

// ------------------------------------------------------------------------------------------
// UDP Connection Request (Annex G)
// ------------------------------------------------------------------------------------------

const UDP_VECTOR: &[u8] = b"GET http://203.0.113.5:7547?ts=1120673700&id=1234&un=CPE57689\
    &cn=XTGRWIPC6D3IPXS3&sig=FDA44088E52A347CE49D6312521D5621EEB40037 HTTP/1.1\r\n\
    Host: 203.0.113.5:7547\r\n\r\n";

#[test]
fn udp_signature_vector() {
    let sig = udp::signature(
        "secret",
        1_120_673_700,
        1234,
        "CPE57689",
        "XTGRWIPC6D3IPXS3",
    );
    assert_eq!(
        hex::encode_upper(sig),
        "FDA44088E52A347CE49D6312521D5621EEB40037"
    );
}

#[test]
fn udp_build_matches_vector_byte_for_byte() {
    let datagram = udp::build(
        "203.0.113.5:7547",
        1_120_673_700,
        1234,
        "CPE57689",
        "XTGRWIPC6D3IPXS3",
        "secret",
    )
    .unwrap();
    assert_eq!(datagram, UDP_VECTOR);
}

#[test]
fn udp_parse_verify_and_replay() {
    let request = udp::parse(UDP_VECTOR).unwrap();
    assert_eq!(request.authority, "203.0.113.5:7547");
    assert_eq!(request.ts, 1_120_673_700);
    assert_eq!(request.id, 1234);
    assert_eq!(request.username, "CPE57689");
    assert_eq!(request.cnonce, "XTGRWIPC6D3IPXS3");
    request.verify("CPE57689", "secret").unwrap();

    let now = 1_120_673_705;
    let mut guard = ReplayGuard::new(120);
    guard.accept(&request, now).unwrap();
    // The ACS retransmits the same datagram: rejected.
    assert_eq!(
        guard.accept(&udp::parse(UDP_VECTOR).unwrap(), now + 1),
        Err(UdpError::Replay { id: 1234 })
    );
    // A new request (new id, newer ts) is accepted.
    let next = UdpConnectionRequest::signed(
        "203.0.113.5:7547",
        1_120_673_710,
        1235,
        "CPE57689",
        "QWERTYUIOP123456",
        "secret",
    )
    .unwrap();
    let next = udp::parse(&next.to_bytes()).unwrap();
    next.verify("CPE57689", "secret").unwrap();
    guard.accept(&next, now + 6).unwrap();
}

#[test]
fn udp_stale_wrong_user_bad_signature() {
    let request = udp::parse(UDP_VECTOR).unwrap();
    // Stale: ts far older than now.
    let mut guard = ReplayGuard::new(300);
    assert_eq!(
        guard.accept(&request, 1_120_673_700 + 301),
        Err(UdpError::OutsideWindow {
            ts: 1_120_673_700,
            now: 1_120_674_001,
            window: 300
        })
    );
    // Not newer than the last accepted one (new id, older ts).
    let mut guard = ReplayGuard::with_last(300, 1_120_673_800, 1);
    assert_eq!(
        guard.accept(&request, 1_120_673_800),
        Err(UdpError::NotNewer {
            ts: 1_120_673_700,
            last_ts: 1_120_673_800
        })
    );
    // Wrong user.
    assert_eq!(
        request.verify("CPE00000", "secret"),
        Err(UdpError::WrongUsername)
    );
    // Bad signature: wrong password, and a tampered datagram.
    assert_eq!(
        request.verify("CPE57689", "Secret"),
        Err(UdpError::BadSignature)
    );
    let tampered = std::str::from_utf8(UDP_VECTOR)
        .unwrap()
        .replace("id=1234", "id=1235");
    let tampered = udp::parse(tampered.as_bytes()).unwrap();
    assert_eq!(
        tampered.verify("CPE57689", "secret"),
        Err(UdpError::BadSignature)
    );
    // Lower-case signature hex verifies (case-insensitive compare).
    let lower = std::str::from_utf8(UDP_VECTOR).unwrap().replace(
        "FDA44088E52A347CE49D6312521D5621EEB40037",
        "fda44088e52a347ce49d6312521d5621eeb40037",
    );
    assert!(
        udp::parse(lower.as_bytes())
            .unwrap()
            .verify("CPE57689", "secret")
            .is_ok()
    );
}
