//! `http` and `https` URLs as the CPE uses them: the ACS URL (`ManagementServer.URL`) and the
//! file URLs of the Download and Upload RPCs.
//!
//! A small, bounded parser rather than a general URL library, because the CPE accepts much
//! less than RFC 3986 allows:
//!
//! * only the `http` and `https` schemes (TR-069 §3.4.3: HTTP and HTTPS are the transfer
//!   protocols a CPE must support; anything else is "unsupported protocol", fault 9013);
//! * no user information: TR-069 §3.4.3 / A.3.2.8 forbid `user:pass@` in a file URL (the
//!   credentials travel in the RPC's Username/Password), and a CPE that accepted one would
//!   leak it into logs and `Host` headers (notes §3.6);
//! * hosts are DNS names, IPv4 literals or bracketed IPv6 literals; no percent-encoding;
//! * the path and query must already be valid in an HTTP request line;
//! * at most [`MAX_URL_LEN`] bytes (TR-181 gives these URLs 256 to 1024 characters).
//!
//! Parsing never panics on any input.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use http::HeaderValue;
use http::uri::PathAndQuery;

/// Longest URL accepted, in bytes. TR-181 limits `ManagementServer.URL` to 256 characters and
/// `AutonomousTransferComplete` URLs to 1024; redirects may be longer, but not unboundedly so.
pub const MAX_URL_LEN: usize = 2048;

/// Longest DNS name (RFC 1035 §2.3.4, without the trailing dot).
const MAX_HOST_LEN: usize = 253;

/// The scheme of an [`HttpUrl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP, default port 80.
    Http,
    /// HTTP over TLS, default port 443.
    Https,
}

impl Scheme {
    /// The default port.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// A scheme other than `http` or `https` (TR-069 fault 9013 for a transfer).
    #[error("unsupported URL scheme {0:?}: only http and https are supported")]
    UnsupportedScheme(String),
    /// The URL carries user information (`user:pass@host`), which TR-069 forbids.
    #[error("the URL contains user information, which TR-069 forbids")]
    UserInfo,
    /// Anything else: empty, too long, bad host, bad port, bad characters.
    #[error("invalid URL: {0}")]
    Invalid(&'static str),
}

/// A parsed `http` or `https` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl {
    scheme: Scheme,
    /// Host without brackets (an IPv6 literal is bare here).
    host: String,
    ip: Option<IpAddr>,
    port: u16,
    /// `host[:port]` as it goes into the `Host` header (IPv6 in brackets; the default port
    /// omitted).
    authority: String,
    /// Origin-form request target: path and query, `/` when empty; no fragment.
    path: String,
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpUrl({self})")
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority,
            self.path
        )
    }
}

impl HttpUrl {
    /// Parses `scheme://host[:port][/path][?query][#fragment]`; the fragment is dropped.
    /// Leading and trailing whitespace is ignored.
    pub fn parse(url: &str) -> Result<HttpUrl, UrlError> {
        if url.len() > MAX_URL_LEN {
            return Err(UrlError::Invalid("longer than 2048 bytes"));
        }
        let url = url.trim();
        if url.is_empty() {
            return Err(UrlError::Invalid("empty"));
        }
        let Some((scheme_text, rest)) = url.split_once("://") else {
            // `mailto:x`, `ftp:/x`, a bare host: not a URL this CPE can use. Name the scheme
            // when there is one, so the caller can tell "unsupported protocol" apart.
            return match url.split_once(':') {
                Some((scheme, _)) if is_scheme(scheme) => {
                    Err(UrlError::UnsupportedScheme(shorten(scheme)))
                }
                _ => Err(UrlError::Invalid("not an absolute http or https URL")),
            };
        };
        let scheme = if scheme_text.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme_text.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else if is_scheme(scheme_text) {
            return Err(UrlError::UnsupportedScheme(shorten(scheme_text)));
        } else {
            return Err(UrlError::Invalid("not an absolute http or https URL"));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest
            .split_at_checked(end)
            .ok_or(UrlError::Invalid("bad authority"))?;
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, ip, port) = parse_authority(authority, scheme)?;
        let path = normalize_path(tail)?;
        Ok(HttpUrl::from_parts(scheme, host, ip, port, path))
    }

    fn from_parts(
        scheme: Scheme,
        host: String,
        ip: Option<IpAddr>,
        port: u16,
        path: String,
    ) -> HttpUrl {
        let host_part = match ip {
            Some(IpAddr::V6(_)) => format!("[{host}]"),
            _ => host.clone(),
        };
        let authority = if port == scheme.default_port() {
            host_part
        } else {
            format!("{host_part}:{port}")
        };
        HttpUrl {
            scheme,
            host,
            ip,
            port,
            authority,
            path,
        }
    }

    /// Resolves a redirect's `Location` against this URL (RFC 7231 §7.1.2 with RFC 3986
    /// §5.2): an absolute URL, a network-path `//host/..`, an absolute path `/..`, or a
    /// relative path, which replaces the last segment of this URL's path.
    pub fn join(&self, location: &str) -> Result<HttpUrl, UrlError> {
        let location = location.trim();
        if location.len() > MAX_URL_LEN {
            return Err(UrlError::Invalid("longer than 2048 bytes"));
        }
        // RFC 3986 §4.2: a colon before any `/`, `?` or `#` makes the reference absolute.
        if location.split_once(':').is_some_and(|(s, _)| is_scheme(s)) {
            return HttpUrl::parse(location);
        }
        if let Some(rest) = location.strip_prefix("//") {
            return HttpUrl::parse(&format!("{}://{rest}", self.scheme.as_str()));
        }
        let base = self.path.split('?').next().unwrap_or("/");
        let merged = if location.starts_with('/') {
            location.to_owned()
        } else if location.is_empty() {
            return Ok(self.clone());
        } else if location.starts_with('?') {
            format!("{base}{location}")
        } else {
            let dir = base.rfind('/').and_then(|i| base.get(..=i)).unwrap_or("/");
            format!("{dir}{location}")
        };
        let path = normalize_path(&merged)?;
        let (path_part, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path.as_str(), None),
        };
        let mut path_only = remove_dot_segments(path_part);
        if let Some(query) = query {
            path_only.push('?');
            path_only.push_str(query);
        }
        let path = path_only;
        Ok(HttpUrl::from_parts(
            self.scheme,
            self.host.clone(),
            self.ip,
            self.port,
            path,
        ))
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host: a DNS name, or an IP literal (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host as an address when it is a literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The port (the scheme's default when the URL names none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host[:port]` as sent in the `Host` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The origin-form request target (path and query).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether `other` has the same scheme, host and port (RFC 6454 origin).
    pub fn same_origin(&self, other: &HttpUrl) -> bool {
        self.scheme == other.scheme
            && self.port == other.port
            && self.host.eq_ignore_ascii_case(&other.host)
    }

    /// The `Host` header value.
    pub(crate) fn host_header(&self) -> Result<HeaderValue, UrlError> {
        HeaderValue::from_str(&self.authority).map_err(|_| UrlError::Invalid("bad host"))
    }
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
fn is_scheme(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && text.len() <= 32
}

fn shorten(text: &str) -> String {
    text.chars().take(32).collect()
}

fn parse_authority(
    authority: &str,
    scheme: Scheme,
) -> Result<(String, Option<IpAddr>, u16), UrlError> {
    let (host, ip, port_text) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (literal, after) = bracketed
            .split_once(']')
            .ok_or(UrlError::Invalid("unterminated IPv6 literal"))?;
        let address: Ipv6Addr = literal
            .parse()
            .map_err(|_| UrlError::Invalid("bad IPv6 literal"))?;
        let port_text = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or(UrlError::Invalid("junk after IPv6 literal"))?,
            ),
        };
        (address.to_string(), Some(IpAddr::V6(address)), port_text)
    } else {
        let (host, port_text) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let valid = !host.is_empty()
            && host.len() <= MAX_HOST_LEN
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !valid {
            return Err(UrlError::Invalid("bad host"));
        }
        (host.to_owned(), host.parse::<IpAddr>().ok(), port_text)
    };
    let port = match port_text {
        None | Some("") => scheme.default_port(),
        Some(text) if text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit()) => {
            match text.parse::<u16>() {
                Ok(port) if port != 0 => port,
                _ => return Err(UrlError::Invalid("bad port")),
            }
        }
        Some(_) => return Err(UrlError::Invalid("bad port")),
    };
    Ok((host, ip, port))
}

/// Drops the fragment, makes the target origin-form and checks that it can go into a request
/// line as is.
fn normalize_path(tail: &str) -> Result<String, UrlError> {
    let tail = tail.split('#').next().unwrap_or("");
    let path = if tail.starts_with('/') {
        tail.to_owned()
    } else {
        format!("/{tail}")
    };
    PathAndQuery::try_from(path.as_str()).map_err(|_| UrlError::Invalid("bad path"))?;
    // `PathAndQuery` accepts some bytes that are not valid in a request line; be strict.
    if path
        .bytes()
        .any(|b| b <= b' ' || b == 0x7f || b >= 0x80 || b == b'"' || b == b'\\')
    {
        return Err(UrlError::Invalid("bad character in path"));
    }
    Ok(path)
}

/// RFC 3986 §5.2.4 for an absolute path: resolves `.` and `..` segments (`..` never climbs
/// above the root).
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => trailing_slash = i == last,
            ".." => {
                out.pop();
                trailing_slash = i == last;
            }
            other => {
                out.push(other);
                trailing_slash = false;
            }
        }
    }
    let mut result = String::with_capacity(path.len());
    for segment in &out {
        result.push('/');
        result.push_str(segment);
    }
    if trailing_slash || result.is_empty() {
        result.push('/');
    }
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_and_https() {
        let u = HttpUrl::parse("http://acs.example.net:7547/cwmp?x=1#frag").unwrap();
        assert_eq!(u.scheme(), Scheme::Http);
        assert_eq!(
            (u.host(), u.port(), u.path()),
            ("acs.example.net", 7547, "/cwmp?x=1")
        );
        assert_eq!(u.authority(), "acs.example.net:7547");
        assert_eq!(u.ip(), None);

        let u = HttpUrl::parse("HTTPS://10.1.2.3").unwrap();
        assert_eq!(u.scheme(), Scheme::Https);
        assert_eq!((u.port(), u.path(), u.authority()), (443, "/", "10.1.2.3"));
        assert_eq!(u.ip(), Some("10.1.2.3".parse().unwrap()));

        let u = HttpUrl::parse("http://[::1]:8080/a").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.authority()),
            ("::1", 8080, "[::1]:8080")
        );
        assert_eq!(u.to_string(), "http://[::1]:8080/a");

        let u = HttpUrl::parse("  http://h?q  ").unwrap();
        assert_eq!(u.path(), "/?q");
    }

    #[test]
    fn refuses_userinfo_other_schemes_and_junk() {
        assert_eq!(
            HttpUrl::parse("http://user:pw@host/f"),
            Err(UrlError::UserInfo)
        );
        assert_eq!(
            HttpUrl::parse("https://user@host/f"),
            Err(UrlError::UserInfo)
        );
        assert_eq!(
            HttpUrl::parse("ftp://host/f"),
            Err(UrlError::UnsupportedScheme("ftp".into()))
        );
        assert_eq!(
            HttpUrl::parse("tftp:host"),
            Err(UrlError::UnsupportedScheme("tftp".into()))
        );
        for bad in [
            "",
            "host/file",
            "http://",
            "http:///x",
            "http://h:0/",
            "http://h:65536/",
            "http://h:1:2/",
            "http://h:-1/",
            "http://[::1/",
            "http://[zz]/",
            "http://[::1]x/",
            "http://a b/",
            "http://h/a b",
            "http://h/\r\nX: y",
            "http://h\u{e9}/",
            "http://h/\u{e9}",
            "://h/",
        ] {
            assert!(
                matches!(HttpUrl::parse(bad), Err(UrlError::Invalid(_))),
                "{bad:?}: {:?}",
                HttpUrl::parse(bad)
            );
        }
        let long = format!("http://h/{}", "a".repeat(MAX_URL_LEN));
        assert!(HttpUrl::parse(&long).is_err());
    }

    #[test]
    fn joins_redirect_locations() {
        let base = HttpUrl::parse("http://files:8080/dir/fw.bin?x").unwrap();
        assert_eq!(
            base.join("https://other/new").unwrap().to_string(),
            "https://other/new"
        );
        assert_eq!(
            base.join("/abs?y").unwrap().to_string(),
            "http://files:8080/abs?y"
        );
        assert_eq!(
            base.join("rel.bin").unwrap().to_string(),
            "http://files:8080/dir/rel.bin"
        );
        assert_eq!(base.join("//x:1/p").unwrap().to_string(), "http://x:1/p");
        assert_eq!(
            base.join("?z").unwrap().to_string(),
            "http://files:8080/dir/fw.bin?z"
        );
        assert_eq!(base.join("../up.bin").unwrap().path(), "/up.bin");
        assert_eq!(base.join("../../../up.bin").unwrap().path(), "/up.bin");
        assert_eq!(
            base.join("./a/./b/../c?q=../x").unwrap().path(),
            "/dir/a/c?q=../x"
        );
        assert_eq!(base.join("/a/b/..").unwrap().path(), "/a/");
        assert_eq!(base.join("..").unwrap().path(), "/");
        assert_eq!(base.join("").unwrap(), base);
        assert_eq!(base.join("http://u:p@x/"), Err(UrlError::UserInfo));
        assert!(matches!(
            base.join("ftp://x/"),
            Err(UrlError::UnsupportedScheme(_))
        ));
    }

    #[test]
    fn origins() {
        let a = HttpUrl::parse("http://H:80/a").unwrap();
        let b = HttpUrl::parse("http://h/b").unwrap();
        let c = HttpUrl::parse("https://h/b").unwrap();
        assert!(a.same_origin(&b));
        assert!(!a.same_origin(&c));
    }
}
