//! Connection requests (TR-069 §3.2.2): an HTTP GET to the device's
//! `ConnectionRequestURL`, answering its Digest challenge with the credentials the ACS set.
//!
//! The exchange, all of it bounded by the configured timeout:
//!
//! 1. `GET` without credentials on a new HTTP/1.1 keep-alive connection; 200 or 204 ends it.
//! 2. On 401, the `WWW-Authenticate` challenges are answered: Digest (MD5 preferred, a fresh
//!    random cnonce, nc 1), or Basic only when `allow_basic` is set.
//! 3. The authenticated `GET` goes on the same connection when the device kept it open, else
//!    on a new one: some CPEs close the connection after their challenge (notes §9 #9), and a
//!    request that fails on the reused connection is sent once more on a new one.
//! 4. A second 401 means the credentials are wrong, except a Digest challenge with
//!    `stale=true` (RFC 7616 §3.3), which is answered once more.
//!
//! TR-069 requires HTTP, not HTTPS, for connection requests: other schemes are refused.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use bytes::Bytes;
use cwmp::auth::{basic, digest};
use http::header::{AUTHORIZATION, HOST, USER_AGENT, WWW_AUTHENTICATE};
use http::uri::PathAndQuery;
use http::{HeaderValue, Method, Request};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::config::ConnectionRequestConfig;

/// Why a connection request did not reach the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionRequestError {
    /// The URL cannot be used (not `http://host[:port]/path`).
    #[error("invalid connection request URL {0:?}")]
    InvalidUrl(String),
    /// Connecting failed or the connection was reset.
    #[error("device unreachable: {0}")]
    Unreachable(String),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The device refused the credentials.
    #[error("the device refused the credentials")]
    AuthenticationFailed,
    /// The device asks for credentials the ACS does not have.
    #[error("the device asks for credentials and none are known")]
    NoCredentials,
    /// The device offers only Basic, which is not allowed.
    #[error("the device offers only Basic authentication, which is disabled")]
    BasicNotAllowed,
    /// The device is busy (503) or answered with another status.
    #[error("the device answered {0}")]
    Status(u16),
}

impl ConnectionRequestError {
    /// A short label for metrics and logs: `invalid_url`, `unreachable`, `timeout`, `auth`,
    /// `no_credentials`, `basic_not_allowed`, `busy` (503) or `status`.
    pub fn outcome(&self) -> &'static str {
        match self {
            ConnectionRequestError::InvalidUrl(_) => "invalid_url",
            ConnectionRequestError::Unreachable(_) => "unreachable",
            ConnectionRequestError::Timeout(_) => "timeout",
            ConnectionRequestError::AuthenticationFailed => "auth",
            ConnectionRequestError::NoCredentials => "no_credentials",
            ConnectionRequestError::BasicNotAllowed => "basic_not_allowed",
            ConnectionRequestError::Status(503) => "busy",
            ConnectionRequestError::Status(_) => "status",
        }
    }
}

/// Longest URL accepted (TR-181 gives `ConnectionRequestURL` 256 characters).
const MAX_URL_LEN: usize = 2048;
/// Longest response body read (and dropped) to keep the connection usable.
const MAX_BODY_LEN: usize = 64 * 1024;
/// The `User-Agent` sent.
const USER_AGENT_VALUE: &str = concat!("acs/", env!("CARGO_PKG_VERSION"));

/// Sends connection requests.
#[derive(Debug, Clone)]
pub struct ConnectionRequester {
    timeout: Duration,
    allow_basic: bool,
}

impl ConnectionRequester {
    /// A requester with the configured timeout and Basic policy.
    pub fn new(config: &ConnectionRequestConfig) -> ConnectionRequester {
        ConnectionRequester {
            timeout: Duration::from_secs(config.timeout_secs),
            allow_basic: config.allow_basic,
        }
    }

    /// Sends one connection request; `Ok` when the device answered 200 or 204.
    ///
    /// `credentials` are the device's `ConnectionRequestUsername` and
    /// `ConnectionRequestPassword`. The whole exchange (name resolution, connections, both
    /// requests) is bounded by the configured timeout.
    pub async fn send(
        &self,
        url: &str,
        credentials: Option<(&str, &str)>,
    ) -> Result<(), ConnectionRequestError> {
        let target = Target::parse(url)?;
        match tokio::time::timeout(self.timeout, self.exchange(&target, credentials)).await {
            Ok(result) => result,
            Err(_) => Err(ConnectionRequestError::Timeout(self.timeout)),
        }
    }

    async fn exchange(
        &self,
        target: &Target,
        credentials: Option<(&str, &str)>,
    ) -> Result<(), ConnectionRequestError> {
        let mut conn = Conn::open(target).await?;
        let first = conn.get(target, None).await.map_err(unreachable)?;
        match first.status {
            200 | 204 => return Ok(()),
            401 => {}
            status => return Err(ConnectionRequestError::Status(status)),
        }
        let Some((username, password)) = credentials else {
            return Err(ConnectionRequestError::NoCredentials);
        };
        let mut authorization = self.answer(&first.challenges, target, username, password)?;
        let mut reusable = first.reusable;
        let mut stale_answered = false;
        loop {
            let answer =
                authenticated_get(&mut conn, reusable, target, &authorization.value).await?;
            match answer.status {
                200 | 204 => return Ok(()),
                401 if authorization.digest && !stale_answered && is_stale(&answer.challenges) => {
                    tracing::debug!(url = %target.display, "stale nonce, answering the new challenge");
                    stale_answered = true;
                    authorization = self.answer(&answer.challenges, target, username, password)?;
                    reusable = answer.reusable;
                }
                401 => return Err(ConnectionRequestError::AuthenticationFailed),
                status => return Err(ConnectionRequestError::Status(status)),
            }
        }
    }

    /// The `Authorization` value answering the challenges of a 401.
    fn answer(
        &self,
        challenges: &[digest::Challenge],
        target: &Target,
        username: &str,
        password: &str,
    ) -> Result<Authorization, ConnectionRequestError> {
        let failed = |_| ConnectionRequestError::AuthenticationFailed;
        match digest::select_challenge(challenges, digest::AlgorithmPreference::PreferMd5) {
            Ok(challenge) => {
                let cnonce = hex::encode(rand::random::<[u8; 16]>());
                let credentials = challenge
                    .respond(&digest::DigestRequest {
                        username,
                        password,
                        method: "GET",
                        uri: target.path.as_str(),
                        cnonce: &cnonce,
                        nc: 1,
                    })
                    .map_err(failed)?;
                let value = credentials.to_header_value().map_err(failed)?;
                let value = HeaderValue::from_str(&value)
                    .map_err(|_| ConnectionRequestError::AuthenticationFailed)?;
                Ok(Authorization {
                    value,
                    digest: true,
                })
            }
            Err(error) => {
                let offers_basic = challenges
                    .iter()
                    .any(|c| matches!(c, digest::Challenge::Basic { .. }));
                if !offers_basic {
                    tracing::debug!(url = %target.display, %error, "no usable challenge");
                    return Err(ConnectionRequestError::AuthenticationFailed);
                }
                if !self.allow_basic {
                    return Err(ConnectionRequestError::BasicNotAllowed);
                }
                let value = basic::authorization(username, password)
                    .map_err(|_| ConnectionRequestError::AuthenticationFailed)?;
                let value = HeaderValue::from_str(&value)
                    .map_err(|_| ConnectionRequestError::AuthenticationFailed)?;
                Ok(Authorization {
                    value,
                    digest: false,
                })
            }
        }
    }
}

/// The authenticated GET: on the open connection if the device kept it, else (or if that
/// fails) on a new one, once.
async fn authenticated_get(
    conn: &mut Conn,
    reusable: bool,
    target: &Target,
    authorization: &HeaderValue,
) -> Result<Answer, ConnectionRequestError> {
    if reusable && !conn.sender.is_closed() {
        match conn.get(target, Some(authorization)).await {
            Ok(answer) => return Ok(answer),
            Err(error) => {
                tracing::debug!(url = %target.display, %error, "connection lost after the challenge, reconnecting");
            }
        }
    }
    *conn = Conn::open(target).await?;
    conn.get(target, Some(authorization))
        .await
        .map_err(unreachable)
}

fn unreachable(error: hyper::Error) -> ConnectionRequestError {
    ConnectionRequestError::Unreachable(error.to_string())
}

/// Whether a 401 carries a Digest challenge with `stale=true`.
fn is_stale(challenges: &[digest::Challenge]) -> bool {
    challenges
        .iter()
        .any(|c| matches!(c, digest::Challenge::Digest(d) if d.stale))
}

/// An `Authorization` header value and whether it answers a Digest challenge.
struct Authorization {
    value: HeaderValue,
    digest: bool,
}

/// What a response said.
struct Answer {
    status: u16,
    /// The challenges of every `WWW-Authenticate` line that parses.
    challenges: Vec<digest::Challenge>,
    /// Whether the connection can carry another request.
    reusable: bool,
}

/// One HTTP/1.1 client connection; its driver task ends when it is dropped.
struct Conn {
    sender: http1::SendRequest<Empty<Bytes>>,
    driver: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Conn {
    async fn open(target: &Target) -> Result<Conn, ConnectionRequestError> {
        let connected = match target.ip {
            Some(ip) => TcpStream::connect((ip, target.port)).await,
            None => TcpStream::connect((target.host.as_str(), target.port)).await,
        };
        let stream = connected.map_err(|e| {
            ConnectionRequestError::Unreachable(format!("{}: {e}", target.authority))
        })?;
        // Best effort: small requests should go out at once.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(unreachable)?;
        let driver = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, "connection request connection ended");
            }
        });
        Ok(Conn { sender, driver })
    }

    async fn get(
        &mut self,
        target: &Target,
        authorization: Option<&HeaderValue>,
    ) -> Result<Answer, hyper::Error> {
        self.sender.ready().await?;
        let mut request = Request::new(Empty::<Bytes>::new());
        *request.method_mut() = Method::GET;
        *request.uri_mut() = target.path.clone().into();
        let headers = request.headers_mut();
        headers.insert(HOST, target.host_header.clone());
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        if let Some(value) = authorization {
            headers.insert(AUTHORIZATION, value.clone());
        }
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        if status != 401 {
            return Ok(Answer {
                status,
                challenges: Vec::new(),
                reusable: false,
            });
        }
        let mut challenges = Vec::new();
        for value in response.headers().get_all(WWW_AUTHENTICATE) {
            if let Ok(Ok(mut parsed)) = value.to_str().map(digest::parse_challenges) {
                challenges.append(&mut parsed);
            }
        }
        // The body must be read for the connection to carry the next request.
        let reusable = Limited::new(response.into_body(), MAX_BODY_LEN)
            .collect()
            .await
            .is_ok();
        Ok(Answer {
            status,
            challenges,
            reusable,
        })
    }
}

/// A parsed connection request URL.
#[derive(Debug, Clone)]
struct Target {
    /// The URL, for logs.
    display: String,
    /// The host to resolve (an IPv6 literal without brackets).
    host: String,
    /// The host as an address, when it is a literal.
    ip: Option<IpAddr>,
    port: u16,
    /// `host[:port]` as written.
    authority: String,
    host_header: HeaderValue,
    /// The request target, origin-form.
    path: PathAndQuery,
}

impl Target {
    /// Parses `http://host[:port][/path][?query][#fragment]`. The host is a name, an IPv4
    /// address or an IPv6 address in brackets; user information is refused.
    fn parse(url: &str) -> Result<Target, ConnectionRequestError> {
        let invalid = || {
            let shown: String = url.chars().take(256).collect();
            ConnectionRequestError::InvalidUrl(shown)
        };
        if url.len() > MAX_URL_LEN {
            return Err(invalid());
        }
        let url = url.trim();
        let rest = match url.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("http://") => url.get(7..).unwrap_or(""),
            _ => return Err(invalid()),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at_checked(end).ok_or_else(invalid)?;
        let tail = tail.split('#').next().unwrap_or("");
        let path = if tail.starts_with('/') {
            tail.to_owned()
        } else {
            format!("/{tail}")
        };
        let path = PathAndQuery::from_maybe_shared(Bytes::from(path)).map_err(|_| invalid())?;

        let (host, ip, port_text) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (literal, after) = bracketed.split_once(']').ok_or_else(invalid)?;
            let address: Ipv6Addr = literal.parse().map_err(|_| invalid())?;
            let port_text = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(invalid)?),
            };
            (literal.to_owned(), Some(IpAddr::V6(address)), port_text)
        } else {
            let (host, port_text) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let valid_name = !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
            if !valid_name {
                return Err(invalid());
            }
            (host.to_owned(), host.parse::<IpAddr>().ok(), port_text)
        };
        let port = match port_text {
            None | Some("") => 80,
            Some(text) if text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit()) => {
                match text.parse::<u16>() {
                    Ok(port) if port != 0 => port,
                    _ => return Err(invalid()),
                }
            }
            Some(_) => return Err(invalid()),
        };
        let host_header = HeaderValue::from_str(authority).map_err(|_| invalid())?;
        Ok(Target {
            display: url.to_owned(),
            host,
            ip,
            port,
            authority: authority.to_owned(),
            host_header,
            path,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let t = Target::parse("http://10.0.0.1:7547/cr/abc?x=1#frag").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("10.0.0.1", 7547, "/cr/abc?x=1")
        );
        assert_eq!(t.ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(t.host_header, "10.0.0.1:7547");

        let t = Target::parse("HTTP://cpe.example.net").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str(), t.ip),
            ("cpe.example.net", 80, "/", None)
        );

        let t = Target::parse("http://[2001:db8::1]:30005/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("2001:db8::1", 30005));
        assert_eq!(t.host_header, "[2001:db8::1]:30005");

        let t = Target::parse("http://[::1]?q").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/?q"));
    }

    #[test]
    fn bad_urls_are_refused() {
        for url in [
            "",
            "http://",
            "http:///path",
            "https://10.0.0.1/cr",
            "ftp://10.0.0.1/",
            "10.0.0.1:7547/cr",
            "http://user:pw@10.0.0.1/",
            "http://10.0.0.1:0/",
            "http://10.0.0.1:65536/",
            "http://10.0.0.1:99999999999999999999/",
            "http://10.0.0.1:-1/",
            "http://10.0.0.1:80:80/",
            "http://[::1/",
            "http://[::1]x/",
            "http://[zz::1]/",
            "http://a b/",
            "http://host/pa th",
            "http://host/\r\nX-Injected: 1",
            "http://ho\u{e9}st/",
            "http://\u{0}/",
            "h\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            assert!(
                matches!(
                    Target::parse(url),
                    Err(ConnectionRequestError::InvalidUrl(_))
                ),
                "{url:?}"
            );
        }
        let long = format!("http://h/{}", "a".repeat(MAX_URL_LEN));
        assert!(Target::parse(&long).is_err());
    }

    #[test]
    fn outcomes_are_labels() {
        assert_eq!(ConnectionRequestError::Status(503).outcome(), "busy");
        assert_eq!(ConnectionRequestError::Status(500).outcome(), "status");
        assert_eq!(
            ConnectionRequestError::AuthenticationFailed.outcome(),
            "auth"
        );
    }
}
