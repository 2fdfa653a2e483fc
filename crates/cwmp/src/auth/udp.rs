//! Signed UDP Connection Request (TR-069 Annex G, formerly TR-111 Part 2).
//!
//! A CPE behind NAT learns its public `UDPConnectionRequestAddress` via STUN; the ACS then
//! sends it a single-datagram HTTP 1.1 GET whose absolute request URI carries
//!
//! | name  | value |
//! |-------|-------|
//! | `ts`  | Unix time when the request was created |
//! | `id`  | message ID, unique per Connection Request (retransmissions reuse it) |
//! | `un`  | `ConnectionRequestUsername` |
//! | `cn`  | cnonce, a random string chosen by the ACS |
//! | `sig` | HMAC-SHA1(key = `ConnectionRequestPassword`, text = ts ‖ id ‖ un ‖ cn), 40 hex digits |
//!
//! For example (TR-069 notes §5.2 test vector, password `secret`; CRLF line ends):
//!
//! ```text
//! GET http://203.0.113.5:7547?ts=1120673700&id=1234&un=CPE57689&cn=XTGRWIPC6D3IPXS3&sig=FDA44088E52A347CE49D6312521D5621EEB40037 HTTP/1.1
//! Host: 203.0.113.5:7547
//!
//! ```
//!
//! The ACS side uses [`build`] (the ACS usually sends the datagram a few times, as UDP is
//! unreliable). The CPE side uses [`parse`], [`UdpConnectionRequest::verify`] and
//! [`ReplayGuard::accept`], in that order, and sends no response (notes §5.2).
//!
//! Parsing is strict where Annex G is explicit (GET, HTTP/1.1, absolute `http` URI, empty
//! path, no body, Content-Length 0 if present) and bounded ([`MAX_DATAGRAM_LEN`]). Decisions
//! where Annex G is silent:
//!
//! * a path of `/` is tolerated as well as the required empty path, because generic HTTP
//!   libraries normalise `http://host:port?q` to `http://host:port/?q`;
//! * query names other than the five above are ignored (forward compatibility), each of the
//!   five must appear exactly once;
//! * `ts` and `id` must be canonical decimals (no sign, no leading zero), so the signed text
//!   is unambiguous;
//! * the `Host` header is optional and its value ignored: with an absolute request URI the
//!   URI's authority is authoritative (RFC 7230 §5.4);
//! * a final empty line is expected, but a datagram ending right after the last header's CRLF
//!   is tolerated (the datagram boundary already delimits the message).

use std::fmt;

use subtle::ConstantTimeEq;

pub use super::UdpError;
use super::{ct_eq_hidden_len, hmac_sha1, is_tchar};

/// Largest datagram accepted: the largest UDP payload that fits an Ethernet frame over IPv4
/// without fragmentation (1500 − 20 − 8). Far above any real Connection Request.
pub const MAX_DATAGRAM_LEN: usize = 1472;

/// A parsed (or built) UDP Connection Request.
#[derive(Clone, PartialEq, Eq)]
pub struct UdpConnectionRequest {
    /// `host[:port]` from the request URI (e.g. `203.0.113.5:7547`, `[2001:db8::1]:7547`).
    pub authority: String,
    /// `ts`: creation time, Unix seconds.
    pub ts: u64,
    /// `id`: message ID. Keep it within `u32` when sending: some CPEs (icwmp) parse it as
    /// a 32-bit unsigned integer.
    pub id: u64,
    /// `un`: the Connection Request username.
    pub username: String,
    /// `cn`: the cnonce.
    pub cnonce: String,
    /// `sig`: the HMAC-SHA1 signature.
    pub signature: [u8; 20],
}

impl fmt::Debug for UdpConnectionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpConnectionRequest")
            .field("authority", &self.authority)
            .field("ts", &self.ts)
            .field("id", &self.id)
            .field("username", &self.username)
            .field("cnonce", &self.cnonce)
            .field("signature", &hex::encode_upper(self.signature))
            .finish()
    }
}

/// The Annex G signature: HMAC-SHA1 keyed with the password over the decimal `ts`, decimal
/// `id`, `un` and `cn` concatenated without separators.
pub fn signature(password: &str, ts: u64, id: u64, username: &str, cnonce: &str) -> [u8; 20] {
    let ts = ts.to_string();
    let id = id.to_string();
    hmac_sha1(
        password.as_bytes(),
        &[
            ts.as_bytes(),
            id.as_bytes(),
            username.as_bytes(),
            cnonce.as_bytes(),
        ],
    )
}

/// Builds the datagram (see [`UdpConnectionRequest::to_bytes`]) for a new signed request.
///
/// `authority` is the CPE's `UDPConnectionRequestAddress` (`host` or `host:port`).
pub fn build(
    authority: &str,
    ts: u64,
    id: u64,
    username: &str,
    cnonce: &str,
    password: &str,
) -> Result<Vec<u8>, UdpError> {
    Ok(UdpConnectionRequest::signed(authority, ts, id, username, cnonce, password)?.to_bytes())
}

impl UdpConnectionRequest {
    /// Creates and signs a request. Fails if `authority` is not `host[:port]`, or if the
    /// datagram would exceed [`MAX_DATAGRAM_LEN`] (a long username or cnonce, once
    /// percent-encoded): it would not fit one Ethernet frame, and [`parse`] refuses it.
    pub fn signed(
        authority: &str,
        ts: u64,
        id: u64,
        username: &str,
        cnonce: &str,
        password: &str,
    ) -> Result<Self, UdpError> {
        validate_authority(authority)?;
        let request = Self {
            authority: authority.to_owned(),
            ts,
            id,
            username: username.to_owned(),
            cnonce: cnonce.to_owned(),
            signature: signature(password, ts, id, username, cnonce),
        };
        let len = request.to_bytes().len();
        if len > MAX_DATAGRAM_LEN {
            return Err(UdpError::TooLarge {
                len,
                max: MAX_DATAGRAM_LEN,
            });
        }
        Ok(request)
    }

    /// The request URI: `http://AUTHORITY?ts=..&id=..&un=..&cn=..&sig=..` with the values
    /// `application/x-www-form-urlencoded` and the signature in upper-case hex.
    pub fn uri(&self) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("ts", &self.ts.to_string())
            .append_pair("id", &self.id.to_string())
            .append_pair("un", &self.username)
            .append_pair("cn", &self.cnonce)
            .append_pair("sig", &hex::encode_upper(self.signature))
            .finish();
        format!("http://{}?{query}", self.authority)
    }

    /// The datagram: `GET <uri> HTTP/1.1\r\nHost: <authority>\r\n\r\n`.
    pub fn to_bytes(&self) -> Vec<u8> {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.uri(),
            self.authority
        )
        .into_bytes()
    }

    /// Checks the username (constant time, length hidden) and the signature (constant time)
    /// against the CPE's `ConnectionRequestUsername` and `ConnectionRequestPassword`.
    ///
    /// Call [`ReplayGuard::accept`] only after this succeeded.
    pub fn verify(&self, username: &str, password: &str) -> Result<(), UdpError> {
        let expected = signature(password, self.ts, self.id, &self.username, &self.cnonce);
        let user_ok = ct_eq_hidden_len(self.username.as_bytes(), username.as_bytes());
        let sig_ok = expected.ct_eq(&self.signature);
        if !bool::from(user_ok) {
            return Err(UdpError::WrongUsername);
        }
        if !bool::from(sig_ok) {
            return Err(UdpError::BadSignature);
        }
        Ok(())
    }
}

/// Checks `host[:port]`: a reg-name or IPv4 address, or a bracketed IPv6 literal, with an
/// optional decimal port up to 65535; no user-info.
fn validate_authority(authority: &str) -> Result<(), UdpError> {
    let err = |reason| UdpError::InvalidAuthority {
        found: authority.to_owned(),
        reason,
    };
    if authority.is_empty() {
        return Err(err("empty"));
    }
    if authority.contains('@') {
        return Err(err("user-info is not allowed"));
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (literal, after) = rest
            .split_once(']')
            .ok_or(err("unterminated IPv6 literal"))?;
        if literal.is_empty()
            || !literal.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '%' | '-' | '_' | '~')
            })
        {
            return Err(err("invalid IPv6 literal"));
        }
        match after {
            "" => ("", None),
            _ => (
                "",
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or(err("junk after IPv6 literal"))?,
                ),
            ),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if !authority.starts_with('[')
        && (host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~')))
    {
        return Err(err("invalid host"));
    }
    if let Some(port) = port
        && (port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err())
    {
        return Err(err("invalid port"));
    }
    Ok(())
}

/// Parses a datagram into a request; checks syntax only (see the module docs for the rules).
/// Verify it with [`UdpConnectionRequest::verify`].
///
/// This is a fuzzing entry point: it never panics.
pub fn parse(datagram: &[u8]) -> Result<UdpConnectionRequest, UdpError> {
    if datagram.len() > MAX_DATAGRAM_LEN {
        return Err(UdpError::TooLarge {
            len: datagram.len(),
            max: MAX_DATAGRAM_LEN,
        });
    }
    let text = std::str::from_utf8(datagram).map_err(|_| UdpError::NotUtf8)?;
    let head = match text.split_once("\r\n\r\n") {
        Some((head, body)) => {
            if !body.is_empty() {
                return Err(UdpError::BodyNotAllowed { len: body.len() });
            }
            head
        }
        None => text.strip_suffix("\r\n").ok_or(UdpError::Truncated)?,
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let target = parse_request_line(request_line)?;
    for (index, line) in lines.enumerate() {
        check_header(line, index + 2)?;
    }
    parse_target(target)
}

/// `GET SP request-target SP HTTP/1.1`; returns the request target.
fn parse_request_line(line: &str) -> Result<&str, UdpError> {
    if line.chars().any(char::is_control) {
        return Err(UdpError::MalformedRequestLine);
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(UdpError::MalformedRequestLine);
    };
    if method.is_empty() || target.is_empty() || version.is_empty() {
        return Err(UdpError::MalformedRequestLine);
    }
    // Methods are case-sensitive (RFC 7231 §4.1).
    if method != "GET" {
        return Err(UdpError::WrongMethod {
            found: method.to_owned(),
        });
    }
    if version != "HTTP/1.1" {
        return Err(UdpError::WrongVersion {
            found: version.to_owned(),
        });
    }
    Ok(target)
}

/// One header line: `field-name ":" OWS field-value OWS` (RFC 7230 §3.2), no obs-fold.
fn check_header(line: &str, line_no: usize) -> Result<(), UdpError> {
    let malformed = UdpError::MalformedHeader { line: line_no };
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(malformed);
    }
    let (name, value) = line.split_once(':').ok_or(malformed.clone())?;
    if name.is_empty() || !name.chars().all(is_tchar) {
        return Err(malformed);
    }
    let value = value.trim_matches([' ', '\t']);
    if name.eq_ignore_ascii_case("content-length") {
        if value.is_empty() || !value.bytes().all(|b| b == b'0') {
            return Err(UdpError::NonZeroContentLength {
                found: value.to_owned(),
            });
        }
    } else if name.eq_ignore_ascii_case("transfer-encoding") {
        return Err(UdpError::TransferEncodingNotAllowed);
    }
    Ok(())
}

/// Prefix check, ASCII case-insensitive, without slicing panics.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// The absolute URI `http://authority[/]?query` and its query fields.
fn parse_target(target: &str) -> Result<UdpConnectionRequest, UdpError> {
    let rest = match strip_prefix_ignore_case(target, "http://") {
        Some(rest) => rest,
        None => {
            return Err(match target.split_once("://") {
                Some((scheme, _)) => UdpError::UnsupportedScheme {
                    found: scheme.to_owned(),
                },
                None => UdpError::NotAbsoluteUri,
            });
        }
    };
    if rest.contains('#') {
        return Err(UdpError::FragmentNotAllowed);
    }
    let (before_query, query) = rest.split_once('?').ok_or(UdpError::MissingQuery)?;
    let (authority, path) = match before_query.find('/') {
        Some(i) => (
            before_query.get(..i).unwrap_or_default(),
            before_query.get(i..).unwrap_or_default(),
        ),
        None => (before_query, ""),
    };
    if !path.is_empty() && path != "/" {
        return Err(UdpError::NonEmptyPath {
            found: path.to_owned(),
        });
    }
    validate_authority(authority)?;

    let mut ts = None;
    let mut id = None;
    let mut un = None;
    let mut cn = None;
    let mut sig = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let (slot, name) = match name.as_ref() {
            "ts" => (&mut ts, "ts"),
            "id" => (&mut id, "id"),
            "un" => (&mut un, "un"),
            "cn" => (&mut cn, "cn"),
            "sig" => (&mut sig, "sig"),
            _ => continue,
        };
        if slot.is_some() {
            return Err(UdpError::DuplicateField { name });
        }
        *slot = Some(value.into_owned());
    }
    let ts = ts.ok_or(UdpError::MissingField { name: "ts" })?;
    let id = id.ok_or(UdpError::MissingField { name: "id" })?;
    let username = un.ok_or(UdpError::MissingField { name: "un" })?;
    let cnonce = cn.ok_or(UdpError::MissingField { name: "cn" })?;
    let sig = sig.ok_or(UdpError::MissingField { name: "sig" })?;
    let mut signature = [0u8; 20];
    if sig.len() != 40 || hex::decode_to_slice(&sig, &mut signature).is_err() {
        return Err(UdpError::InvalidSignatureFormat);
    }
    Ok(UdpConnectionRequest {
        authority: authority.to_owned(),
        ts: parse_decimal("ts", &ts)?,
        id: parse_decimal("id", &id)?,
        username,
        cnonce,
        signature,
    })
}

/// A canonical unsigned decimal: digits only, no leading zero unless the value is 0.
fn parse_decimal(name: &'static str, value: &str) -> Result<u64, UdpError> {
    let invalid = || UdpError::InvalidNumber {
        name,
        value: value.to_owned(),
    };
    if value.is_empty()
        || !value.bytes().all(|b| b.is_ascii_digit())
        || (value.len() > 1 && value.starts_with('0'))
    {
        return Err(invalid());
    }
    value.parse().map_err(|_| invalid())
}

/// Replay protection for UDP Connection Requests (notes §5.2, §7.4): a request is accepted
/// only if its `id` differs from the last accepted id, its `ts` is newer than the last
/// accepted ts, and `ts` is within `window` seconds of the caller's current time (either
/// direction, to allow for clock skew). Retransmissions of an accepted request (same `id`
/// and `ts`) are therefore rejected, which is what the CPE wants: one session per request.
///
/// A CPE without a trustworthy clock can use a window of `u64::MAX` to rely on the
/// monotonic `ts` / `id` checks only. The state is two numbers: persist it across reboots if
/// replays across reboots matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayGuard {
    window: u64,
    last: Option<(u64, u64)>,
}

impl ReplayGuard {
    /// A guard with the given freshness window in seconds and no accepted request yet.
    pub fn new(window_secs: u64) -> Self {
        Self {
            window: window_secs,
            last: None,
        }
    }

    /// A guard restored from persisted state: the last accepted `(ts, id)`.
    pub fn with_last(window_secs: u64, last_ts: u64, last_id: u64) -> Self {
        Self {
            window: window_secs,
            last: Some((last_ts, last_id)),
        }
    }

    /// The last accepted `(ts, id)`, if any.
    pub fn last(&self) -> Option<(u64, u64)> {
        self.last
    }

    /// Checks the request without recording it.
    pub fn check(&self, request: &UdpConnectionRequest, now: u64) -> Result<(), UdpError> {
        if let Some((last_ts, last_id)) = self.last {
            if request.id == last_id {
                return Err(UdpError::Replay { id: request.id });
            }
            if request.ts <= last_ts {
                return Err(UdpError::NotNewer {
                    ts: request.ts,
                    last_ts,
                });
            }
        }
        if request.ts.abs_diff(now) > self.window {
            return Err(UdpError::OutsideWindow {
                ts: request.ts,
                now,
                window: self.window,
            });
        }
        Ok(())
    }

    /// Checks the request and, if it passes, records it as the last accepted one. Call it
    /// only for requests that passed [`UdpConnectionRequest::verify`], so forged requests
    /// cannot move the state.
    pub fn accept(&mut self, request: &UdpConnectionRequest, now: u64) -> Result<(), UdpError> {
        self.check(request, now)?;
        self.last = Some((request.ts, request.id));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VECTOR: &[u8] = b"GET http://203.0.113.5:7547?ts=1120673700&id=1234&un=CPE57689\
    &cn=XTGRWIPC6D3IPXS3&sig=FDA44088E52A347CE49D6312521D5621EEB40037 HTTP/1.1\r\n\
    Host: 203.0.113.5:7547\r\n\r\n";

    fn text(s: &str) -> Result<UdpConnectionRequest, UdpError> {
        parse(s.as_bytes())
    }

    fn with_target(target: &str) -> String {
        format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n")
    }

    const Q: &str = "ts=1&id=2&un=u&cn=c&sig=FDA44088E52A347CE49D6312521D5621EEB40037";

    #[test]
    fn vector_round_trip() {
        let built = build(
            "203.0.113.5:7547",
            1_120_673_700,
            1234,
            "CPE57689",
            "XTGRWIPC6D3IPXS3",
            "secret",
        )
        .unwrap();
        assert_eq!(built, VECTOR);
        let r = parse(VECTOR).unwrap();
        assert_eq!(r.to_bytes(), VECTOR);
        assert!(r.verify("CPE57689", "secret").is_ok());
    }

    #[test]
    fn encodes_and_decodes_query_values() {
        let r = UdpConnectionRequest::signed("[2001:db8::1]:7547", 5, 6, "a b&c=d/é", "x+y", "pw")
            .unwrap();
        let bytes = r.to_bytes();
        let s = String::from_utf8(bytes.clone()).unwrap();
        assert!(s.contains("un=a+b%26c%3Dd%2F%C3%A9&cn=x%2By&"), "{s}");
        let p = parse(&bytes).unwrap();
        assert_eq!(p, r);
        assert!(p.verify("a b&c=d/é", "pw").is_ok());
    }

    #[test]
    fn tolerated_variants() {
        for v in [
            with_target(&format!("http://h:1/?{Q}")),
            with_target(&format!("HTTP://h?{Q}&extra=1")),
            format!("GET http://h?{Q} HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n"),
            format!("GET http://h?{Q} HTTP/1.1\r\n\r\n"),
        ] {
            let r = text(&v).unwrap();
            assert_eq!(
                (r.ts, r.id, r.username.as_str(), r.cnonce.as_str()),
                (1, 2, "u", "c")
            );
        }
        // Lower-case signature hex is fine.
        let r = text(&with_target(&format!("http://h?{}", Q.to_lowercase()))).unwrap();
        assert_eq!(
            hex::encode_upper(r.signature),
            "FDA44088E52A347CE49D6312521D5621EEB40037"
        );
    }

    #[test]
    fn strict_errors() {
        use UdpError as E;
        let good = format!("http://h?{Q}");
        let cases: Vec<(String, UdpError)> = vec![
            (
                format!("POST {good} HTTP/1.1\r\n\r\n"),
                E::WrongMethod {
                    found: "POST".into(),
                },
            ),
            (
                format!("get {good} HTTP/1.1\r\n\r\n"),
                E::WrongMethod {
                    found: "get".into(),
                },
            ),
            (
                format!("GET {good} HTTP/1.0\r\n\r\n"),
                E::WrongVersion {
                    found: "HTTP/1.0".into(),
                },
            ),
            (
                format!("GET {good}  HTTP/1.1\r\n\r\n"),
                E::MalformedRequestLine,
            ),
            (format!("GET {good}\r\n\r\n"), E::MalformedRequestLine),
            (with_target(&format!("/?{Q}")), E::NotAbsoluteUri),
            (
                with_target(&format!("https://h?{Q}")),
                E::UnsupportedScheme {
                    found: "https".into(),
                },
            ),
            (
                with_target(&format!("http://h/cr?{Q}")),
                E::NonEmptyPath {
                    found: "/cr".into(),
                },
            ),
            (
                with_target(&format!("http://h?{Q}#f")),
                E::FragmentNotAllowed,
            ),
            (with_target("http://h"), E::MissingQuery),
            (
                with_target(&format!("http://?{Q}")),
                E::InvalidAuthority {
                    found: "".into(),
                    reason: "empty",
                },
            ),
            (
                with_target(&format!("http://u@h?{Q}")),
                E::InvalidAuthority {
                    found: "u@h".into(),
                    reason: "user-info is not allowed",
                },
            ),
            (
                with_target(&format!("http://h:99999?{Q}")),
                E::InvalidAuthority {
                    found: "h:99999".into(),
                    reason: "invalid port",
                },
            ),
            (
                with_target(&format!("http://h:?{Q}")),
                E::InvalidAuthority {
                    found: "h:".into(),
                    reason: "invalid port",
                },
            ),
            (
                with_target(&format!("http://[::1?{Q}")),
                E::InvalidAuthority {
                    found: "[::1".into(),
                    reason: "unterminated IPv6 literal",
                },
            ),
            (
                with_target("http://h?id=2&un=u&cn=c&sig=00"),
                E::MissingField { name: "ts" },
            ),
            (
                with_target("http://h?ts=1&un=u&cn=c&sig=00"),
                E::MissingField { name: "id" },
            ),
            (
                with_target("http://h?ts=1&id=2&cn=c&sig=00"),
                E::MissingField { name: "un" },
            ),
            (
                with_target("http://h?ts=1&id=2&un=u&sig=00"),
                E::MissingField { name: "cn" },
            ),
            (
                with_target("http://h?ts=1&id=2&un=u&cn=c"),
                E::MissingField { name: "sig" },
            ),
            (
                with_target(&format!("http://h?{Q}&un=v")),
                E::DuplicateField { name: "un" },
            ),
            (
                with_target("http://h?ts=1&id=2&un=u&cn=c&sig=00"),
                E::InvalidSignatureFormat,
            ),
            (
                with_target(&format!("http://h?{}", Q.replace("sig=F", "sig=G"))),
                E::InvalidSignatureFormat,
            ),
            (
                with_target(&format!("http://h?{}", Q.replace("ts=1", "ts=01"))),
                E::InvalidNumber {
                    name: "ts",
                    value: "01".into(),
                },
            ),
            (
                with_target(&format!("http://h?{}", Q.replace("id=2", "id=-2"))),
                E::InvalidNumber {
                    name: "id",
                    value: "-2".into(),
                },
            ),
            (
                with_target(&format!(
                    "http://h?{}",
                    Q.replace("id=2", "id=99999999999999999999")
                )),
                E::InvalidNumber {
                    name: "id",
                    value: "99999999999999999999".into(),
                },
            ),
            (
                format!("GET {good} HTTP/1.1\r\nHost: h\r\n\r\nbody"),
                E::BodyNotAllowed { len: 4 },
            ),
            (
                format!("GET {good} HTTP/1.1\r\nContent-Length: 4\r\n\r\n"),
                E::NonZeroContentLength { found: "4".into() },
            ),
            (
                format!("GET {good} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
                E::TransferEncodingNotAllowed,
            ),
            (
                format!("GET {good} HTTP/1.1\r\nHost h\r\n\r\n"),
                E::MalformedHeader { line: 2 },
            ),
            (
                format!("GET {good} HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n"),
                E::MalformedHeader { line: 3 },
            ),
            (
                format!("GET {good} HTTP/1.1\r\nHost: a\nb\r\n\r\n"),
                E::MalformedHeader { line: 2 },
            ),
            (format!("GET {good} HTTP/1.1\r\nHost: h"), E::Truncated),
            (format!("GET {good} HTTP/1.1"), E::Truncated),
            (
                format!("GET {good}\tHTTP/1.1\r\n\r\n"),
                E::MalformedRequestLine,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(text(&input), Err(expected), "input {input:?}");
        }
        assert_eq!(parse(b"GET \xff HTTP/1.1\r\n\r\n"), Err(E::NotUtf8));
        let big = vec![b'a'; MAX_DATAGRAM_LEN + 1];
        assert_eq!(
            parse(&big),
            Err(E::TooLarge {
                len: MAX_DATAGRAM_LEN + 1,
                max: MAX_DATAGRAM_LEN
            })
        );
    }

    #[test]
    fn build_rejects_bad_authority() {
        for bad in [
            "", "h/x", "h?x", "a b", "h:port", "[::1]x", "[]", "u@h", "h:1:2",
        ] {
            assert!(
                matches!(
                    build(bad, 1, 2, "u", "c", "p"),
                    Err(UdpError::InvalidAuthority { .. })
                ),
                "{bad:?}"
            );
        }
        for good in [
            "h",
            "h:80",
            "10.0.0.1:7547",
            "[2001:db8::1]",
            "[fe80::1%25eth0]:7547",
        ] {
            assert!(build(good, 1, 2, "u", "c", "p").is_ok(), "{good:?}");
        }
    }

    #[test]
    fn verification() {
        let r = parse(VECTOR).unwrap();
        assert_eq!(r.verify("CPE57689", "wrong"), Err(UdpError::BadSignature));
        assert_eq!(r.verify("other", "secret"), Err(UdpError::WrongUsername));
        let mut t = r.clone();
        t.id += 1;
        assert_eq!(t.verify("CPE57689", "secret"), Err(UdpError::BadSignature));
        assert!(format!("{r:?}").contains("FDA44088"));
    }

    #[test]
    fn replay_guard() {
        let req = |ts, id| UdpConnectionRequest::signed("h", ts, id, "u", "c", "p").unwrap();
        let mut g = ReplayGuard::new(60);
        assert_eq!(g.accept(&req(1000, 1), 1010), Ok(()));
        assert_eq!(g.last(), Some((1000, 1)));
        assert_eq!(
            g.accept(&req(1000, 1), 1010),
            Err(UdpError::Replay { id: 1 })
        );
        assert_eq!(
            g.accept(&req(1001, 1), 1010),
            Err(UdpError::Replay { id: 1 })
        );
        assert_eq!(
            g.accept(&req(1000, 2), 1010),
            Err(UdpError::NotNewer {
                ts: 1000,
                last_ts: 1000
            })
        );
        assert_eq!(
            g.accept(&req(999, 2), 1010),
            Err(UdpError::NotNewer {
                ts: 999,
                last_ts: 1000
            })
        );
        assert_eq!(
            g.accept(&req(1100, 2), 1010),
            Err(UdpError::OutsideWindow {
                ts: 1100,
                now: 1010,
                window: 60
            })
        );
        assert_eq!(g.check(&req(1001, 2), 1010), Ok(()));
        assert_eq!(g.last(), Some((1000, 1)));
        assert_eq!(g.accept(&req(1001, 2), 1010), Ok(()));
        let mut g = ReplayGuard::new(60);
        assert!(matches!(
            g.accept(&req(100, 1), 1010),
            Err(UdpError::OutsideWindow { .. })
        ));
        let mut g = ReplayGuard::with_last(u64::MAX, 5, 5);
        assert_eq!(g.accept(&req(6, 6), u64::MAX), Ok(()));
    }

    /// Datagrams that get past the first checks, to exercise the deeper parser paths.
    const NEAR_MISS: &str = concat!(
        "GET (HTTP|http)://[ -~]{0,120}",
        "( HTTP/1.1)?(\r\n[ -~]{0,30}){0,3}(\r\n\r\n)?"
    );

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_near_misses(s in NEAR_MISS) {
            let _ = parse(s.as_bytes());
        }

        #[test]
        fn build_parse_round_trip(
            ts in any::<u64>(),
            id in any::<u64>(),
            un in "\\PC{0,40}",
            cn in "\\PC{0,40}",
            pw in "\\PC{0,40}",
            port in proptest::option::of(any::<u16>()),
        ) {
            let authority = match port {
                Some(p) => format!("cpe.example:{p}"),
                None => "cpe.example".to_owned(),
            };
            let r = UdpConnectionRequest::signed(&authority, ts, id, &un, &cn, &pw).unwrap();
            let p = parse(&r.to_bytes()).unwrap();
            prop_assert!(p.verify(&un, &pw).is_ok());
            prop_assert_eq!(p, r);
        }
    }

    #[test]
    fn signed_refuses_a_datagram_that_parse_would_refuse() {
        // `\` is percent-encoded to three bytes: 500 of them make 1500 bytes of query.
        let long = "\\".repeat(500);
        let err = UdpConnectionRequest::signed("203.0.113.5:7547", 1, 2, &long, "cn", "pw");
        assert!(matches!(
            err,
            Err(UdpError::TooLarge {
                max: MAX_DATAGRAM_LEN,
                ..
            })
        ));
        let ok =
            UdpConnectionRequest::signed("203.0.113.5:7547", 1, 2, &"u".repeat(1300), "cn", "pw");
        let bytes = ok.unwrap().to_bytes();
        assert!(bytes.len() <= MAX_DATAGRAM_LEN);
        assert!(parse(&bytes).is_ok());
    }
}
