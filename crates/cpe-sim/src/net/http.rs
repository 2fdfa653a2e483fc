//! Client-side HTTP/1.1 plumbing shared by the ACS client and file transfers: opening a
//! (TLS) connection within a time limit, from an optional source address, sending one request
//! at a time on it, and reading bounded bodies.
//!
//! Each connection's hyper driver runs as its own task, aborted when the [`Conn`] is dropped;
//! when the peer closes the connection the driver ends, which fails any request still queued
//! on it instead of leaving it pending.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONNECTION;
use http::{Request, Response, Version};
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::tls::TlsClientConfig;
use super::url::{HttpUrl, Scheme};

/// `now + after`, saturating: a configured duration too large for the clock means "never"
/// (about a century) rather than a panic.
pub(crate) fn deadline_after(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

/// Request bodies are always complete in memory: CWMP envelopes and uploaded files.
pub(crate) type ReqBody = Full<Bytes>;

/// How to open a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectOptions<'a> {
    /// TLS policy for `https` URLs.
    pub tls: &'a TlsClientConfig,
    /// Time for name resolution, TCP and the TLS handshake together.
    pub timeout: Duration,
    /// Source address to bind before connecting.
    pub local_addr: Option<IpAddr>,
}

/// Why a connection could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnectError {
    /// The host name did not resolve (or resolved to no usable address).
    Resolve(String),
    /// Every address refused or failed.
    Connect(String),
    /// Out of time.
    Timeout,
    /// The TLS handshake failed (certificate, host name, protocol).
    Tls(String),
    /// The HTTP/1 handshake failed (should not happen on a fresh socket).
    Http(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Resolve(e) => write!(f, "name resolution failed: {e}"),
            ConnectError::Connect(e) => write!(f, "connect failed: {e}"),
            ConnectError::Timeout => write!(f, "connect timed out"),
            ConnectError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            ConnectError::Http(e) => write!(f, "HTTP handshake failed: {e}"),
        }
    }
}

/// A plain or TLS stream.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One HTTP/1.1 client connection. No pipelining (TR-069 §3.4.6): one request at a time.
pub(crate) struct Conn {
    sender: http1::SendRequest<ReqBody>,
    driver: JoinHandle<()>,
    /// Cleared when a response said `Connection: close` (or was HTTP/1.0).
    reusable: bool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Why a request got no response.
pub(crate) enum SendError {
    /// The connection was already closed: the request never left, it may go on a new one.
    NotSent(Box<Request<ReqBody>>),
    /// The request was (at least partly) written and then the exchange failed.
    Failed(hyper::Error),
}

impl Conn {
    /// Whether the connection can carry another request.
    pub(crate) fn is_usable(&self) -> bool {
        self.reusable && !self.sender.is_closed() && !self.driver.is_finished()
    }

    /// Marks the connection as not to be used again.
    pub(crate) fn retire(&mut self) {
        self.reusable = false;
    }

    /// Sends a request and waits for the response head.
    pub(crate) async fn send(
        &mut self,
        request: Request<ReqBody>,
    ) -> Result<Response<Incoming>, SendError> {
        if self.sender.ready().await.is_err() {
            return Err(SendError::NotSent(Box::new(request)));
        }
        match self.sender.try_send_request(request).await {
            Ok(response) => {
                if wants_close(&response) {
                    self.reusable = false;
                }
                Ok(response)
            }
            Err(mut error) => match error.take_message() {
                Some(request) => Err(SendError::NotSent(Box::new(request))),
                None => {
                    self.reusable = false;
                    Err(SendError::Failed(error.into_error()))
                }
            },
        }
    }
}

/// Whether the server announced that it closes the connection after this response.
fn wants_close<B>(response: &Response<B>) -> bool {
    let close_token = response.headers().get_all(CONNECTION).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    });
    close_token || response.version() < Version::HTTP_11
}

/// Opens a connection to `url`'s host within `options.timeout`: resolution, TCP (each
/// resolved address in turn), TLS for `https` with SNI and certificate checks on the URL's
/// host, then the HTTP/1.1 handshake.
pub(crate) async fn connect(
    url: &HttpUrl,
    options: &ConnectOptions<'_>,
) -> Result<Conn, ConnectError> {
    let deadline = deadline_after(options.timeout);
    match tokio::time::timeout_at(deadline, connect_inner(url, options)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::Timeout),
    }
}

async fn connect_inner(url: &HttpUrl, options: &ConnectOptions<'_>) -> Result<Conn, ConnectError> {
    let tcp = tcp_connect(url, options.local_addr).await?;
    // Best effort: CWMP messages are small and should leave at once.
    let _ = tcp.set_nodelay(true);
    let stream = match url.scheme() {
        Scheme::Http => Stream::Plain(tcp),
        Scheme::Https => {
            let name = ServerName::try_from(url.host().to_owned())
                .map_err(|e| ConnectError::Tls(format!("bad server name: {e}")))?;
            let tls = options
                .tls
                .connector()
                .connect(name, tcp)
                .await
                .map_err(|e| ConnectError::Tls(e.to_string()))?;
            Stream::Tls(Box::new(tls))
        }
    };
    let (sender, connection) = http1::Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ConnectError::Http(e.to_string()))?;
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::trace!(%error, "HTTP client connection ended");
        }
    });
    Ok(Conn {
        sender,
        driver,
        reusable: true,
    })
}

async fn tcp_connect(url: &HttpUrl, local: Option<IpAddr>) -> Result<TcpStream, ConnectError> {
    let addrs: Vec<SocketAddr> = match url.ip() {
        Some(ip) => vec![SocketAddr::new(ip, url.port())],
        None => tokio::net::lookup_host((url.host(), url.port()))
            .await
            .map_err(|e| ConnectError::Resolve(format!("{}: {e}", url.host())))?
            .collect(),
    };
    // With a source address, only addresses of its family can be reached.
    let addrs: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| local.is_none_or(|l| l.is_ipv4() == a.is_ipv4()))
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::Resolve(format!(
            "{}: no usable address",
            url.host()
        )));
    }
    let mut last = String::new();
    for addr in addrs {
        let attempt = match local {
            None => TcpStream::connect(addr).await,
            Some(ip) => bound_connect(ip, addr).await,
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(ConnectError::Connect(last))
}

/// Binds the source address first. Many simulated devices talking to an ACS on loopback each
/// get their own 127.0.0.x, as real CPEs have their own address; from one address the
/// ephemeral ports run out under load (the lesson of `loadgen`).
async fn bound_connect(local: IpAddr, addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = match local {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(addr).await
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Longer than the limit.
    TooLarge,
    /// The connection failed while reading.
    Http(String),
}

/// Reads a whole body, failing as soon as it exceeds `limit` bytes.
pub(crate) async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) => {
            if error.downcast_ref::<LengthLimitError>().is_some() {
                Err(BodyError::TooLarge)
            } else {
                Err(BodyError::Http(error.to_string()))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deadlines_saturate() {
        let now = Instant::now();
        assert!(deadline_after(Duration::MAX) > now + Duration::from_secs(365 * 86_400));
        let soon = deadline_after(Duration::from_secs(1));
        assert!(soon > now && soon <= Instant::now() + Duration::from_secs(1));
    }
}
