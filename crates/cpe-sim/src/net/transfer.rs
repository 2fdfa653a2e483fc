//! File transfers for the Download and Upload RPCs (TR-069 §3.4.3; notes §3.6): an HTTP(S)
//! GET or PUT with the RPC's credentials, and the fault code TransferComplete reports when it
//! fails (Annex A.5; notes §4.3).
//!
//! Rules:
//!
//! * HTTP and HTTPS only; the same TLS policy as the ACS client ([`super::tls`]).
//! * The URL must not carry user information (A.3.2.8): [`validate_url`] lets the agent refuse
//!   such a Download or Upload when the RPC arrives, with fault 9003 (or 9013 for another
//!   scheme), before answering it.
//! * Basic and Digest on the file server (the CPE MUST support both), answered only after a
//!   401 with the RPC's `Username`/`Password`: credentials are never sent to a server that did
//!   not ask for them.
//! * Downloads follow up to [`TransferConfig::max_redirects`] redirects (301, 302, 303, 307,
//!   308), to `http` or `https` from `http`, to `https` only from `https`: a redirect never
//!   downgrades a secure transfer. Credentials answer the new server's own challenge, if any.
//! * Uploads use `PUT`, and do not follow redirects: a server that only takes `POST`, or
//!   moved, fails the upload with 9011. (TR-069 names PUT for HTTP uploads; re-sending a file
//!   with another method to another place is the file server's misconfiguration to fix, not
//!   the CPE's to guess.)
//! * One time limit covers the whole transfer, redirects and authentication included.
//!
//! Fault codes ([`TransferFault::code`]):
//!
//! | what happened | Download | Upload |
//! |---|---|---|
//! | not http/https | 9013 | 9013 |
//! | user information, or a malformed URL | 9003 | 9003 |
//! | name resolution, connect, TLS handshake, connect timeout | 9015 | 9011 |
//! | credentials missing or refused (a 401 after answering) | 9012 | 9012 |
//! | 403, 404, 410 | 9016 | 9011 |
//! | reset, or out of time, once connected | 9017 | 9011 |
//! | size differs from the expected `FileSize` | 9018 | — |
//! | larger than allowed, bad redirect, any other status | 9010 | 9011 |

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use cwmp::FaultCode;
use cwmp::auth::digest::AlgorithmPreference;
use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderMap, HeaderValue, LOCATION, USER_AGENT,
};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::time::Instant;

use super::auth::ClientAuth;
use super::http::{
    BodyError, Conn, ConnectError, ConnectOptions, SendError, connect, deadline_after, read_body,
};
use super::tls::{TlsClientConfig, TlsError};
use super::url::{HttpUrl, Scheme, UrlError};

/// Largest body of a 401, a redirect or an upload's answer read (and dropped) to keep the
/// connection usable.
const MAX_AUX_BODY: usize = 64 * 1024;

/// A failed transfer: the fault code for TransferComplete's `FaultStruct` and a message for
/// its `FaultString`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct TransferFault {
    /// 9003, 9010–9018 (see the module documentation).
    pub code: FaultCode,
    /// What went wrong, for `FaultString` and logs.
    pub message: String,
}

impl TransferFault {
    fn new(code: FaultCode, message: impl Into<String>) -> TransferFault {
        TransferFault {
            code,
            message: message.into(),
        }
    }
}

/// Checks a Download or Upload URL when the RPC arrives: 9013 (unsupported protocol) for a
/// scheme other than `http`/`https`, 9003 (invalid arguments) for user information in the URL
/// (TR-069 A.3.2.8) or a URL that does not parse.
pub fn validate_url(url: &str) -> Result<HttpUrl, TransferFault> {
    HttpUrl::parse(url).map_err(url_fault)
}

fn url_fault(error: UrlError) -> TransferFault {
    match error {
        UrlError::UnsupportedScheme(_) => TransferFault::new(
            FaultCode::UNSUPPORTED_PROTOCOL_FOR_FILE_TRANSFER,
            error.to_string(),
        ),
        other => TransferFault::new(FaultCode::INVALID_ARGUMENTS, other.to_string()),
    }
}

/// Configuration shared by all transfers of a process.
#[derive(Debug, Clone)]
pub struct TransferConfig {
    /// TLS for `https`; `None`: Mozilla's roots only.
    pub tls: Option<TlsClientConfig>,
    /// Time to resolve, connect and finish the TLS handshake (within the transfer's own time
    /// limit). Default 10 s.
    pub connect_timeout: Duration,
    /// Source address to bind before connecting.
    pub local_addr: Option<IpAddr>,
    /// Redirects followed by a download. Default 5.
    pub max_redirects: u32,
    /// Which Digest challenge to answer when the server offers several.
    pub digest_preference: AlgorithmPreference,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl Default for TransferConfig {
    fn default() -> Self {
        TransferConfig {
            tls: None,
            connect_timeout: Duration::from_secs(10),
            local_addr: None,
            max_redirects: 5,
            digest_preference: AlgorithmPreference::default(),
            user_agent: concat!("cpe-sim/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Runs downloads and uploads.
#[derive(Clone)]
pub struct FileTransfer {
    config: TransferConfig,
    tls: TlsClientConfig,
    user_agent: HeaderValue,
}

impl fmt::Debug for FileTransfer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileTransfer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Which way the file goes: decides the fault codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Download,
    Upload,
}

impl Direction {
    fn generic(self) -> FaultCode {
        match self {
            Direction::Download => FaultCode::FILE_TRANSFER_FAILURE,
            Direction::Upload => FaultCode::UPLOAD_FAILURE,
        }
    }

    fn unreachable(self) -> FaultCode {
        match self {
            Direction::Download => FaultCode::FILE_TRANSFER_SERVER_UNREACHABLE,
            Direction::Upload => FaultCode::UPLOAD_FAILURE,
        }
    }

    fn inaccessible(self) -> FaultCode {
        match self {
            Direction::Download => FaultCode::FILE_TRANSFER_FILE_UNREACHABLE,
            Direction::Upload => FaultCode::UPLOAD_FAILURE,
        }
    }

    fn incomplete(self) -> FaultCode {
        match self {
            Direction::Download => FaultCode::FILE_TRANSFER_INCOMPLETE,
            Direction::Upload => FaultCode::UPLOAD_FAILURE,
        }
    }
}

/// What a transfer needs besides the URL.
struct Job<'a> {
    direction: Direction,
    username: &'a str,
    password: &'a str,
    deadline: Instant,
}

impl FileTransfer {
    /// Builds the transfer client; the TLS configuration defaults to Mozilla's roots.
    pub fn new(config: TransferConfig) -> Result<FileTransfer, TlsError> {
        let tls = match &config.tls {
            Some(tls) => tls.clone(),
            None => TlsClientConfig::webpki_roots()?,
        };
        let user_agent = HeaderValue::try_from(config.user_agent.as_str())
            .unwrap_or(HeaderValue::from_static("cpe-sim"));
        Ok(FileTransfer {
            config,
            tls,
            user_agent,
        })
    }

    /// Downloads `url` (HTTP GET) within `timeout`, authenticating with `username` and
    /// `password` if the server asks. Fails with 9010 when the file is larger than
    /// `max_bytes` (checked against `Content-Length` before reading, and while reading), and
    /// with 9018 when `expected_size` (the RPC's `FileSize`, when not 0) differs from the size
    /// received.
    pub async fn download(
        &self,
        url: &str,
        username: &str,
        password: &str,
        max_bytes: u64,
        expected_size: Option<u64>,
        timeout: Duration,
    ) -> Result<Bytes, TransferFault> {
        let direction = Direction::Download;
        let mut url = validate_url(url)?;
        let job = Job {
            direction,
            username,
            password,
            deadline: deadline_after(timeout),
        };
        let mut conn: Option<Conn> = None;
        let mut redirects = 0;
        loop {
            let (status, headers, body) = self
                .authenticated(&job, &url, &mut conn, Method::GET, Bytes::new(), None)
                .await?;
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        TransferFault::new(
                            direction.generic(),
                            format!("{status} without Location"),
                        )
                    })?;
                let next = url.join(location).map_err(|e| {
                    TransferFault::new(direction.generic(), format!("bad redirect: {e}"))
                })?;
                if url.scheme() == Scheme::Https && next.scheme() == Scheme::Http {
                    return Err(TransferFault::new(
                        direction.generic(),
                        "redirect from https to http refused",
                    ));
                }
                redirects += 1;
                if redirects > self.config.max_redirects {
                    return Err(TransferFault::new(
                        direction.generic(),
                        "too many redirects",
                    ));
                }
                self.drain(&job, &mut conn, body, next.same_origin(&url))
                    .await;
                tracing::debug!(from = %url, to = %next, "download redirected");
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(status_fault(direction, status));
            }
            let announced = headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if let Some(len) = announced {
                if len > max_bytes {
                    return Err(TransferFault::new(
                        direction.generic(),
                        format!("file of {len} bytes is larger than the {max_bytes} allowed"),
                    ));
                }
                if let Some(expected) = expected_size
                    && expected != len
                {
                    return Err(TransferFault::new(
                        FaultCode::FILE_TRANSFER_FILE_CORRUPTED,
                        format!("file is {len} bytes, {expected} expected"),
                    ));
                }
            }
            let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
            let file = match tokio::time::timeout_at(job.deadline, read_body(body, limit)).await {
                Err(_) => {
                    return Err(TransferFault::new(
                        direction.incomplete(),
                        "timed out while receiving the file",
                    ));
                }
                Ok(Err(BodyError::TooLarge)) => {
                    return Err(TransferFault::new(
                        direction.generic(),
                        format!("file is larger than the {max_bytes} bytes allowed"),
                    ));
                }
                Ok(Err(BodyError::Http(reason))) => {
                    return Err(TransferFault::new(
                        direction.incomplete(),
                        format!("transfer broken: {reason}"),
                    ));
                }
                Ok(Ok(file)) => file,
            };
            if let Some(expected) = expected_size
                && expected != file.len() as u64
            {
                return Err(TransferFault::new(
                    FaultCode::FILE_TRANSFER_FILE_CORRUPTED,
                    format!("received {} bytes, {expected} expected", file.len()),
                ));
            }
            return Ok(file);
        }
    }

    /// Uploads `body` to `url` with HTTP PUT within `timeout`, authenticating with `username`
    /// and `password` if the server asks. Any 2xx is success.
    pub async fn upload(
        &self,
        url: &str,
        username: &str,
        password: &str,
        body: Bytes,
        content_type: &str,
        timeout: Duration,
    ) -> Result<(), TransferFault> {
        let direction = Direction::Upload;
        let url = validate_url(url)?;
        let content_type = HeaderValue::try_from(content_type).map_err(|_| {
            TransferFault::new(
                FaultCode::INTERNAL_ERROR,
                "content type cannot go into a header",
            )
        })?;
        let job = Job {
            direction,
            username,
            password,
            deadline: deadline_after(timeout),
        };
        let mut conn: Option<Conn> = None;
        let (status, _headers, answer) = self
            .authenticated(&job, &url, &mut conn, Method::PUT, body, Some(content_type))
            .await?;
        // The answer's body is not needed; reading it lets the server finish cleanly.
        self.drain(&job, &mut conn, answer, false).await;
        if status.is_success() {
            Ok(())
        } else {
            Err(status_fault(direction, status))
        }
    }

    /// One request, answering a 401 with the job's credentials (and a `stale=true` Digest
    /// re-challenge once). Returns the first non-401 answer.
    async fn authenticated(
        &self,
        job: &Job<'_>,
        url: &HttpUrl,
        conn: &mut Option<Conn>,
        method: Method,
        body: Bytes,
        content_type: Option<HeaderValue>,
    ) -> Result<(StatusCode, HeaderMap, Incoming), TransferFault> {
        let auth_fault = |message: String| {
            TransferFault::new(
                FaultCode::FILE_TRANSFER_SERVER_AUTHENTICATION_FAILURE,
                message,
            )
        };
        let mut auth = ClientAuth::default();
        let mut answered = false;
        let mut stale_answered = false;
        loop {
            let authorization = auth
                .header(job.username, job.password, method.as_str(), url.path())
                .map_err(auth_fault)?;
            let mut request = Request::new(Full::new(body.clone()));
            *request.method_mut() = method.clone();
            *request.uri_mut() = http::Uri::try_from(url.path())
                .map_err(|_| TransferFault::new(FaultCode::INVALID_ARGUMENTS, "bad path in URL"))?;
            let headers = request.headers_mut();
            headers.insert(
                HOST,
                url.host_header()
                    .map_err(|e| TransferFault::new(FaultCode::INVALID_ARGUMENTS, e.to_string()))?,
            );
            headers.insert(USER_AGENT, self.user_agent.clone());
            if method == Method::PUT {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
            }
            if let Some(value) = &content_type {
                headers.insert(CONTENT_TYPE, value.clone());
            }
            if let Some(value) = authorization {
                headers.insert(AUTHORIZATION, value);
            }
            let (status, headers, response_body) = self.send(job, url, conn, request).await?;
            if status != StatusCode::UNAUTHORIZED {
                return Ok((status, headers, response_body));
            }
            if job.username.is_empty() {
                return Err(auth_fault(
                    "the server asks for credentials and the RPC gave none".to_owned(),
                ));
            }
            let result = auth.answer(
                &headers,
                job.username,
                job.password,
                self.config.digest_preference,
            );
            let now = match result {
                Ok(a) => a,
                Err(_) if answered => {
                    return Err(auth_fault("the server refused the credentials".to_owned()));
                }
                Err(reason) => return Err(auth_fault(reason)),
            };
            if answered {
                if !now.stale || stale_answered {
                    return Err(auth_fault("the server refused the credentials".to_owned()));
                }
                stale_answered = true;
            }
            answered = true;
            self.drain(job, conn, response_body, true).await;
        }
    }

    /// Sends one request on the open connection to the same server, or a new one.
    async fn send(
        &self,
        job: &Job<'_>,
        url: &HttpUrl,
        slot: &mut Option<Conn>,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, HeaderMap, Incoming), TransferFault> {
        let direction = job.direction;
        let timed_out = || TransferFault::new(direction.incomplete(), "timed out");
        loop {
            let (mut conn, fresh) = match slot.take() {
                Some(conn) if conn.is_usable() => (conn, false),
                _ => (self.open(job, url).await?, true),
            };
            match tokio::time::timeout_at(job.deadline, conn.send(request)).await {
                Err(_) => return Err(timed_out()),
                Ok(Ok(response)) => {
                    let (parts, body) = response.into_parts();
                    *slot = Some(conn);
                    return Ok((parts.status, parts.headers, body));
                }
                Ok(Err(SendError::NotSent(unsent))) if !fresh => request = *unsent,
                Ok(Err(SendError::NotSent(_))) => {
                    return Err(TransferFault::new(
                        direction.incomplete(),
                        "connection closed before the request was sent",
                    ));
                }
                Ok(Err(SendError::Failed(error))) => {
                    return Err(TransferFault::new(
                        direction.incomplete(),
                        format!("exchange failed: {error}"),
                    ));
                }
            }
        }
    }

    async fn open(&self, job: &Job<'_>, url: &HttpUrl) -> Result<Conn, TransferFault> {
        let left = job.deadline.saturating_duration_since(Instant::now());
        let options = ConnectOptions {
            tls: &self.tls,
            timeout: self.config.connect_timeout.min(left),
            local_addr: self.config.local_addr,
        };
        connect(url, &options).await.map_err(|error| {
            let message = match &error {
                ConnectError::Timeout => format!("{}: connect timed out", url.authority()),
                other => format!("{}: {other}", url.authority()),
            };
            TransferFault::new(job.direction.unreachable(), message)
        })
    }

    /// Reads and drops a small body so the connection can carry the next request; forgets
    /// the connection when that fails or when the next request goes elsewhere.
    async fn drain(&self, job: &Job<'_>, slot: &mut Option<Conn>, body: Incoming, keep: bool) {
        let drained = tokio::time::timeout_at(job.deadline, read_body(body, MAX_AUX_BODY)).await;
        if !keep || !matches!(drained, Ok(Ok(_))) {
            *slot = None;
        }
    }
}

fn status_fault(direction: Direction, status: StatusCode) -> TransferFault {
    let code = match status {
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::GONE => {
            direction.inaccessible()
        }
        _ => direction.generic(),
    };
    TransferFault::new(code, format!("the file server answered {status}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn url_validation_codes() {
        assert!(validate_url("http://files.example/fw.bin").is_ok());
        assert!(validate_url("https://files.example:8443/fw.bin").is_ok());
        assert_eq!(
            validate_url("http://u:p@files/fw").unwrap_err().code.0,
            9003
        );
        assert_eq!(validate_url("ftp://files/fw").unwrap_err().code.0, 9013);
        assert_eq!(validate_url("tftp:files").unwrap_err().code.0, 9013);
        assert_eq!(validate_url("not a url").unwrap_err().code.0, 9003);
    }

    #[test]
    fn status_codes_map_to_faults() {
        assert_eq!(
            status_fault(Direction::Download, StatusCode::NOT_FOUND)
                .code
                .0,
            9016
        );
        assert_eq!(
            status_fault(Direction::Download, StatusCode::FORBIDDEN)
                .code
                .0,
            9016
        );
        assert_eq!(
            status_fault(Direction::Download, StatusCode::INTERNAL_SERVER_ERROR)
                .code
                .0,
            9010
        );
        assert_eq!(
            status_fault(Direction::Upload, StatusCode::NOT_FOUND)
                .code
                .0,
            9011
        );
        assert_eq!(
            status_fault(Direction::Upload, StatusCode::METHOD_NOT_ALLOWED)
                .code
                .0,
            9011
        );
    }
}
