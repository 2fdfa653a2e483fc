//! HTTP Digest authentication (RFC 7616, RFC 2617) for both CWMP roles.
//!
//! TR-069 uses Digest in both directions (§3.4.4, §3.4.5, §3.2.2):
//!
//! * the ACS authenticates CPEs posting to it, and the CPE's Connection Request server
//!   authenticates the ACS: the **server side** is [`DigestServer`] (stateless nonces, see
//!   below) plus [`NonceCounts`] (replay protection);
//! * the CPE posting to an ACS and the ACS sending a Connection Request answer a challenge:
//!   the **client side** is [`parse_challenges`], [`select_challenge`] and
//!   [`DigestChallenge::respond`] (or [`authorize`] doing all three).
//!
//! TR-069 §3.4.5 requires `qop="auth"` and MD5 on both sides, and MD5-sess on the CPE.
//! SHA-256 and SHA-256-sess (RFC 7616 §3.3) are also implemented; SHA-512-256 and `auth-int`
//! are not. Legacy RFC 2069 responses (no qop, no cnonce, no nc) are produced on the client
//! side only, because old CPE Connection Request servers still challenge that way; the server
//! side always challenges with `qop="auth"` and rejects responses without it.
//!
//! # Nonces
//!
//! [`DigestServer`] issues stateless nonces:
//! `base64url_nopad( ts_be64 || random[16] || HMAC-SHA256(key, "cwmp-digest-nonce-v1\0" ||
//! realm || "\0" || ts_be64 || random)[..16] )`, 54 characters. The server recognises its own
//! nonces (constant-time MAC check) and knows their age without storing them; a nonce older
//! than the configured lifetime yields [`DigestError::Stale`] *after* the response has been
//! checked, so the caller can re-challenge with `stale=true` (RFC 7616 §3.3) and the client
//! retries without asking for a password again.
//!
//! TR-069 §3.4.5: the ACS SHOULD use a fresh nonce for each new TCP connection (nonce reuse
//! across connections without TLS allows replay). Stateless nonces do not enforce that by
//! themselves: a caller that wants to enforce it issues a challenge on each new connection,
//! remembers the nonce on the connection state and compares `credentials.nonce` with it
//! before calling [`DigestServer::verify`]. Within a connection, [`NonceCounts`] rejects
//! replayed `Authorization` headers (nonce count not increasing, RFC 7616 §3.4).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use md5::Md5;
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub use super::DigestError;
use super::{ct_eq_hidden_len, hmac_sha256, is_tchar, push_quoted};

/// Longest `WWW-Authenticate` / `Authorization` value accepted, in bytes. Bounds the work done
/// on hostile input (notes §7.3: bounded parsers); real values are a few hundred bytes.
pub const MAX_HEADER_LEN: usize = 8192;

/// Most parameters accepted in one challenge or credentials. RFC 7616 defines about a dozen;
/// the cap keeps the duplicate check cheap on hostile input.
pub const MAX_PARAMS: usize = 32;

// ---------------------------------------------------------------------------------------------
// Algorithms and qop
// ---------------------------------------------------------------------------------------------

/// A Digest algorithm (RFC 7616 §3.3, §6.1). The default, used when a challenge or
/// credentials carry no `algorithm` parameter, is MD5 (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// `MD5`: required by TR-069 §3.4.5.
    #[default]
    Md5,
    /// `MD5-sess`: the CPE MUST support it (TR-069 §3.4.5).
    Md5Sess,
    /// `SHA-256` (RFC 7616).
    Sha256,
    /// `SHA-256-sess` (RFC 7616).
    Sha256Sess,
}

impl Algorithm {
    /// All supported algorithms.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Md5,
        Algorithm::Md5Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
    ];

    /// The name as written in headers (RFC 7616 §6.1).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Looks an algorithm up by name, case-insensitively (peers send `md5`, `MD5-SESS`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// Whether this is a `-sess` variant (HA1 includes nonce and cnonce, RFC 7616 §3.4.2).
    pub fn is_session(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// Whether the hash function is SHA-256 (otherwise MD5).
    pub fn is_sha256(self) -> bool {
        matches!(self, Algorithm::Sha256 | Algorithm::Sha256Sess)
    }

    /// Length of a hash in lower-case hex: 32 for MD5, 64 for SHA-256.
    pub fn hex_len(self) -> usize {
        if self.is_sha256() { 64 } else { 32 }
    }

    /// `H(data)` in lower-case hex (RFC 7616 §3.4.1).
    pub fn hash_hex(self, data: &[u8]) -> String {
        self.hash_joined(&[data])
    }

    /// `H(p1 ":" p2 ":" ...)` in lower-case hex, without building the joined string.
    fn hash_joined(self, parts: &[&[u8]]) -> String {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> String {
            let mut hasher = D::new();
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    hasher.update(b":");
                }
                hasher.update(part);
            }
            hex::encode(hasher.finalize())
        }
        if self.is_sha256() {
            run::<Sha256>(parts)
        } else {
            run::<Md5>(parts)
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| DigestError::UnsupportedAlgorithm { name: s.to_owned() })
    }
}

/// A quality-of-protection value (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authentication only. The only qop this crate computes (TR-069 §3.4.5).
    Auth,
    /// `auth-int`: authentication with body integrity. Parsed, never computed or accepted.
    AuthInt,
}

impl Qop {
    /// The name as written in headers.
    pub fn name(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }

    /// Looks a qop up by name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        [Qop::Auth, Qop::AuthInt]
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---------------------------------------------------------------------------------------------
// Response computation (RFC 7616 §3.4.1 - §3.4.3, RFC 2617 §3.2.2, RFC 2069 §2.1.2)
// ---------------------------------------------------------------------------------------------

/// `H(username ":" realm ":" password)`, lower-case hex: the HA1 of the non-`-sess`
/// algorithms, and the value an ACS can store instead of the plaintext password
/// (RFC 7616 §3.4.2; one value per hash function, MD5 and SHA-256 differ).
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_joined(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// `H(ha1 ":" nonce ":" cnonce)`: the session HA1 of the `-sess` algorithms (RFC 7616 §3.4.2).
pub fn session_ha1(algorithm: Algorithm, ha1: &str, nonce: &str, cnonce: &str) -> String {
    algorithm.hash_joined(&[ha1.as_bytes(), nonce.as_bytes(), cnonce.as_bytes()])
}

/// `H(method ":" uri)`: HA2 for qop `auth` or no qop (RFC 7616 §3.4.3).
pub fn ha2(algorithm: Algorithm, method: &str, uri: &str) -> String {
    algorithm.hash_joined(&[method.as_bytes(), uri.as_bytes()])
}

/// The `response` value (RFC 7616 §3.4.1):
/// `H(ha1 ":" nonce ":" nc ":" cnonce ":" "auth" ":" ha2)` with qop `auth`, or the RFC 2069
/// form `H(ha1 ":" nonce ":" ha2)` when `qop` is `None`. `ha1` is the effective (session, for
/// `-sess`) HA1.
pub fn request_digest(
    algorithm: Algorithm,
    ha1: &str,
    nonce: &str,
    qop: Option<QopAuth<'_>>,
    ha2: &str,
) -> String {
    match qop {
        Some(q) => {
            let nc = format!("{:08x}", q.nc);
            algorithm.hash_joined(&[
                ha1.as_bytes(),
                nonce.as_bytes(),
                nc.as_bytes(),
                q.cnonce.as_bytes(),
                b"auth",
                ha2.as_bytes(),
            ])
        }
        None => algorithm.hash_joined(&[ha1.as_bytes(), nonce.as_bytes(), ha2.as_bytes()]),
    }
}

/// The client's nonce count and cnonce, present when qop is `auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QopAuth<'a> {
    /// Nonce count (written as 8 hex digits; starts at 1 for each nonce).
    pub nc: u32,
    /// Client nonce.
    pub cnonce: &'a str,
}

/// The secret used to compute or check a response.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Secret<'a> {
    /// The plaintext password.
    Password(&'a str),
    /// A stored `H(username:realm:password)` ([`ha1`]) in hex, for the same hash function as
    /// the algorithm in use (MD5 for MD5/MD5-sess, SHA-256 for SHA-256/SHA-256-sess).
    Ha1(&'a str),
}

impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Password(<redacted>)"),
            Secret::Ha1(_) => f.write_str("Ha1(<redacted>)"),
        }
    }
}

/// Inputs of [`compute`].
#[derive(Debug, Clone, Copy)]
pub struct ResponseParams<'a> {
    /// Algorithm.
    pub algorithm: Algorithm,
    /// User name (the real one, also when `userhash` hides it in the header).
    pub username: &'a str,
    /// Realm from the challenge.
    pub realm: &'a str,
    /// Password or stored HA1.
    pub secret: Secret<'a>,
    /// HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// The `uri` parameter (the request target).
    pub uri: &'a str,
    /// Server nonce.
    pub nonce: &'a str,
    /// `Some` for qop `auth`, `None` for an RFC 2069 response.
    pub qop: Option<QopAuth<'a>>,
}

/// The hashes of one response, lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestHashes {
    /// Effective HA1 (the session HA1 for `-sess` algorithms).
    pub ha1: String,
    /// HA2.
    pub ha2: String,
    /// The `response` value.
    pub response: String,
}

/// Computes HA1, HA2 and the response.
///
/// Errors: [`DigestError::SessionWithoutQop`] for a `-sess` algorithm without qop (there is
/// no cnonce), [`DigestError::Ha1LengthMismatch`] for a stored HA1 of the wrong length.
pub fn compute(params: &ResponseParams<'_>) -> Result<DigestHashes, DigestError> {
    let algorithm = params.algorithm;
    let base = match params.secret {
        Secret::Password(password) => ha1(algorithm, params.username, params.realm, password),
        Secret::Ha1(stored) => {
            if stored.len() != algorithm.hex_len() {
                return Err(DigestError::Ha1LengthMismatch {
                    len: stored.len(),
                    expected: algorithm.hex_len(),
                    algorithm,
                });
            }
            stored.to_ascii_lowercase()
        }
    };
    let effective = if algorithm.is_session() {
        let q = params.qop.ok_or(DigestError::SessionWithoutQop)?;
        session_ha1(algorithm, &base, params.nonce, q.cnonce)
    } else {
        base
    };
    let ha2 = ha2(algorithm, params.method, params.uri);
    let response = request_digest(algorithm, &effective, params.nonce, params.qop, &ha2);
    Ok(DigestHashes {
        ha1: effective,
        ha2,
        response,
    })
}

// ---------------------------------------------------------------------------------------------
// Header grammar (RFC 7235 §2.1, RFC 7230 §3.2.6, §7)
// ---------------------------------------------------------------------------------------------

/// A byte-offset cursor over a header value. All slicing goes through `str::get`, and the
/// position only ever advances by whole characters, so nothing here can panic.
#[derive(Debug, Clone, Copy)]
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos..).and_then(|rest| rest.chars().next())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn slice(&self, start: usize) -> &'a str {
        self.s.get(start..self.pos).unwrap_or_default()
    }

    /// Skips optional whitespace (OWS); returns whether any was skipped.
    fn skip_ows(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Skips whitespace and commas: list separators and empty list elements (RFC 7230 §7).
    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | ',')) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, expected: &'static str) -> DigestError {
        match self.peek() {
            Some(found) => DigestError::UnexpectedChar {
                pos: self.pos,
                found,
                expected,
            },
            None => DigestError::UnexpectedEnd {
                pos: self.pos,
                expected,
            },
        }
    }

    fn token(&mut self, expected: &'static str) -> Result<&'a str, DigestError> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.unexpected(expected));
        }
        Ok(self.slice(start))
    }

    /// Consumes a token68 (RFC 7235 §2.1) if one stands alone here, i.e. is followed by the
    /// end of the value or a comma. `realm="x"` is not one: the `=` is followed by more.
    fn try_token68(&mut self) -> bool {
        let mut c = *self;
        let start = c.pos;
        while c
            .peek()
            .is_some_and(|ch| ch.is_ascii_alphanumeric() || "-._~+/".contains(ch))
        {
            c.pos += 1;
        }
        if c.pos == start {
            return false;
        }
        while c.peek() == Some('=') {
            c.pos += 1;
        }
        c.skip_ows();
        if c.at_end() || c.peek() == Some(',') {
            *self = c;
            true
        } else {
            false
        }
    }

    /// After a comma: does an auth-param (`token BWS "="`) follow, rather than a new scheme?
    fn next_is_param(&self) -> bool {
        let mut c = *self;
        c.skip_separators();
        if c.token("").is_err() {
            return false;
        }
        c.skip_ows();
        c.peek() == Some('=')
    }

    fn quoted_string(&mut self) -> Result<String, DigestError> {
        let open = self.pos;
        self.bump();
        let mut out = String::new();
        loop {
            let at = self.pos;
            match self.bump() {
                None => return Err(DigestError::UnterminatedQuotedString { pos: open }),
                Some('"') => return Ok(out),
                Some('\\') => {
                    let at = self.pos;
                    match self.bump() {
                        None => return Err(DigestError::UnterminatedQuotedString { pos: open }),
                        Some(c) if c.is_control() && c != '\t' => {
                            return Err(DigestError::ControlCharacter { pos: at });
                        }
                        Some(c) => out.push(c),
                    }
                }
                Some(c) if c.is_control() && c != '\t' => {
                    return Err(DigestError::ControlCharacter { pos: at });
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// An unquoted value. RFC 7235 says token, but peers send base64 nonces and paths
    /// unquoted (`nonce=ab/c+d==`, `uri=/cr`), so any run of visible characters other than
    /// `,`, `"` and `\` is accepted.
    fn unquoted_value(&mut self) -> Result<String, DigestError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == ',' || c == ' ' || c == '\t' {
                break;
            }
            if c == '"' || c == '\\' {
                return Err(self.unexpected("a token or quoted-string value"));
            }
            if c.is_control() {
                return Err(DigestError::ControlCharacter { pos: self.pos });
            }
            self.pos += c.len_utf8();
        }
        if self.pos == start {
            return Err(self.unexpected("a parameter value"));
        }
        Ok(self.slice(start).to_owned())
    }

    /// `auth-param = token BWS "=" BWS ( token / quoted-string )`.
    fn param(&mut self) -> Result<(&'a str, String), DigestError> {
        let name = self.token("a parameter name")?;
        self.skip_ows();
        if self.peek() != Some('=') {
            return Err(self.unexpected("'=' after the parameter name"));
        }
        self.pos += 1;
        self.skip_ows();
        let value = if self.peek() == Some('"') {
            self.quoted_string()?
        } else {
            self.unquoted_value()?
        };
        Ok((name, value))
    }
}

/// One challenge or credentials before interpretation.
#[derive(Debug)]
struct RawItem<'a> {
    scheme: &'a str,
    scheme_pos: usize,
    params: Vec<(&'a str, String)>,
}

/// Splits a header value into challenges / credentials (RFC 7235 §4.1:
/// `1#challenge`, `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`).
fn parse_items(input: &str) -> Result<Vec<RawItem<'_>>, DigestError> {
    if input.len() > MAX_HEADER_LEN {
        return Err(DigestError::TooLong {
            len: input.len(),
            max: MAX_HEADER_LEN,
        });
    }
    let mut c = Cursor { s: input, pos: 0 };
    let mut items = Vec::new();
    loop {
        c.skip_separators();
        if c.at_end() {
            break;
        }
        let scheme_pos = c.pos;
        let scheme = c.token("an authentication scheme")?;
        let mut item = RawItem {
            scheme,
            scheme_pos,
            params: Vec::new(),
        };
        let had_space = c.skip_ows();
        if c.at_end() || c.peek() == Some(',') {
            items.push(item);
            continue;
        }
        if !had_space {
            return Err(c.unexpected("whitespace after the authentication scheme"));
        }
        // Digest never uses the token68 form; not trying it there gives better errors for
        // broken parameters such as `realm=,`.
        if !scheme.eq_ignore_ascii_case("digest") && c.try_token68() {
            items.push(item);
            continue;
        }
        loop {
            if item.params.len() >= MAX_PARAMS {
                return Err(DigestError::TooManyParameters { max: MAX_PARAMS });
            }
            let (name, value) = c.param()?;
            if item
                .params
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                return Err(DigestError::DuplicateParameter {
                    name: name.to_ascii_lowercase(),
                });
            }
            item.params.push((name, value));
            c.skip_ows();
            match c.peek() {
                None => break,
                Some(',') if c.next_is_param() => c.skip_separators(),
                Some(',') => break,
                Some(_) => return Err(c.unexpected("',' or the end of the header value")),
            }
        }
        items.push(item);
    }
    if items.is_empty() {
        return Err(DigestError::Empty);
    }
    Ok(items)
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, DigestError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(DigestError::InvalidParameter {
            name,
            reason: "must be true or false",
        })
    }
}

/// Appends `, name="value"` (or `name="value"` at the start).
fn push_quoted_param(out: &mut String, name: &'static str, value: &str) -> Result<(), DigestError> {
    if !out.ends_with(' ') {
        out.push_str(", ");
    }
    out.push_str(name);
    out.push('=');
    push_quoted(out, value).ok_or(DigestError::Unformattable {
        field: name,
        reason: "contains a control character",
    })
}

/// Appends `, name=token` (values produced by this module only, always valid tokens).
fn push_token_param(out: &mut String, name: &str, value: &str) {
    if !out.ends_with(' ') {
        out.push_str(", ");
    }
    out.push_str(name);
    out.push('=');
    out.push_str(value);
}

// ---------------------------------------------------------------------------------------------
// Challenges (WWW-Authenticate)
// ---------------------------------------------------------------------------------------------

/// One challenge from a `WWW-Authenticate` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Challenge {
    /// A Basic challenge (RFC 7617).
    Basic {
        /// The realm, if given.
        realm: Option<String>,
    },
    /// A Digest challenge with an algorithm this crate implements.
    Digest(DigestChallenge),
    /// A Digest challenge with an algorithm this crate does not implement (e.g.
    /// `SHA-512-256`). Kept so that a header offering several Digest challenges still parses
    /// and the client can answer another one.
    UnsupportedDigest {
        /// The algorithm as received.
        algorithm: String,
    },
    /// Any other scheme (parameters are skipped).
    Other {
        /// The scheme name as received.
        scheme: String,
    },
}

/// A Digest challenge (RFC 7616 §3.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DigestChallenge {
    /// `realm` (required).
    pub realm: String,
    /// `nonce` (required).
    pub nonce: String,
    /// `opaque`, echoed unchanged by the client.
    pub opaque: Option<String>,
    /// `domain`, a space-separated URI list (kept verbatim).
    pub domain: Option<String>,
    /// `algorithm`; `None` means absent (MD5 implied). Kept as received so the client can echo
    /// it exactly.
    pub algorithm: Option<Algorithm>,
    /// `qop` options. `None`: absent, an RFC 2069 challenge. `Some(list)`: the known options in
    /// the order given; unknown options are dropped, so `Some(vec![])` means "qop required,
    /// but none this crate knows".
    pub qop: Option<Vec<Qop>>,
    /// `stale=true`: the previous nonce expired but the credentials were right (RFC 7616
    /// §3.3); retry with the same credentials and this new nonce.
    pub stale: bool,
    /// `userhash=true` (RFC 7616 §3.4.4): the client sends `H(username:realm)` as username.
    pub userhash: bool,
}

/// Parses every challenge of one `WWW-Authenticate` header value, e.g.
/// `Basic realm="x", Digest realm="y", nonce="..", qop="auth,auth-int", algorithm=MD5`.
///
/// Scheme and parameter names are case-insensitive; values may be quoted-strings (with
/// backslash escapes) or unquoted; extra whitespace, empty list elements and unknown
/// parameters are tolerated. When a response has several `WWW-Authenticate` header lines,
/// parse each and concatenate the results.
///
/// Errors: any syntax error, a duplicate parameter, or a Digest challenge without `realm` or
/// `nonce` or with an invalid `stale`/`userhash`. A Digest challenge with an unknown
/// algorithm is not an error: it becomes [`Challenge::UnsupportedDigest`].
///
/// This is a fuzzing entry point: it never panics.
pub fn parse_challenges(header_value: &str) -> Result<Vec<Challenge>, DigestError> {
    parse_items(header_value)?
        .into_iter()
        .map(challenge_from_item)
        .collect()
}

fn challenge_from_item(item: RawItem<'_>) -> Result<Challenge, DigestError> {
    if item.scheme.eq_ignore_ascii_case("basic") {
        let realm = item
            .params
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("realm"))
            .map(|(_, v)| v);
        return Ok(Challenge::Basic { realm });
    }
    if !item.scheme.eq_ignore_ascii_case("digest") {
        return Ok(Challenge::Other {
            scheme: item.scheme.to_owned(),
        });
    }
    let mut realm = None;
    let mut nonce = None;
    let mut challenge = DigestChallenge::default();
    for (name, value) in item.params {
        match name.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value),
            "nonce" => nonce = Some(value),
            "opaque" => challenge.opaque = Some(value),
            "domain" => challenge.domain = Some(value),
            "stale" => challenge.stale = parse_bool("stale", &value)?,
            "userhash" => challenge.userhash = parse_bool("userhash", &value)?,
            "algorithm" => match Algorithm::from_name(&value) {
                Some(a) => challenge.algorithm = Some(a),
                None => return Ok(Challenge::UnsupportedDigest { algorithm: value }),
            },
            "qop" => {
                challenge.qop = Some(
                    value
                        .split(',')
                        .filter_map(|q| Qop::from_name(q.trim_matches([' ', '\t'])))
                        .collect(),
                );
            }
            // charset (only UTF-8 is defined) and extensions: ignored (RFC 7616 §3.3).
            _ => {}
        }
    }
    challenge.realm = realm.ok_or(DigestError::MissingParameter { name: "realm" })?;
    challenge.nonce = nonce.ok_or(DigestError::MissingParameter { name: "nonce" })?;
    Ok(Challenge::Digest(challenge))
}

impl DigestChallenge {
    /// The algorithm in effect: the `algorithm` parameter, or MD5 when absent.
    pub fn effective_algorithm(&self) -> Algorithm {
        self.algorithm.unwrap_or_default()
    }

    /// Whether a client can answer it: RFC 2069 (no qop) or qop options including `auth`.
    pub fn is_answerable(&self) -> bool {
        match &self.qop {
            None => !self.effective_algorithm().is_session(),
            Some(list) => list.contains(&Qop::Auth),
        }
    }

    /// Formats the `WWW-Authenticate` value. `algorithm` and `stale` are unquoted tokens,
    /// the rest quoted-strings (RFC 7616 §3.3); `stale` and `userhash` are only written when
    /// true. Fails only if a field contains a control character.
    pub fn to_header_value(&self) -> Result<String, DigestError> {
        let mut out = String::from("Digest ");
        push_quoted_param(&mut out, "realm", &self.realm)?;
        if let Some(domain) = &self.domain {
            push_quoted_param(&mut out, "domain", domain)?;
        }
        if let Some(qop) = &self.qop {
            let list: Vec<&str> = qop.iter().map(|q| q.name()).collect();
            push_quoted_param(&mut out, "qop", &list.join(","))?;
        }
        if let Some(algorithm) = self.algorithm {
            push_token_param(&mut out, "algorithm", algorithm.name());
        }
        push_quoted_param(&mut out, "nonce", &self.nonce)?;
        if let Some(opaque) = &self.opaque {
            push_quoted_param(&mut out, "opaque", opaque)?;
        }
        if self.stale {
            push_token_param(&mut out, "stale", "true");
        }
        if self.userhash {
            push_token_param(&mut out, "userhash", "true");
        }
        Ok(out)
    }

    /// Answers this challenge (client side): computes the response and returns the
    /// credentials to send. Echoes `realm`, `nonce`, `opaque` and `algorithm` (as received,
    /// absent stays absent). With qop options including `auth` it uses qop `auth` with the
    /// caller's cnonce and nonce count; without qop it produces an RFC 2069 response (no
    /// cnonce, no nc). With `userhash=true` the username is sent as `H(username:realm)`.
    ///
    /// Errors: [`DigestError::UnsupportedQop`] if qop options are given but `auth` is not
    /// among them (e.g. only `auth-int`); [`DigestError::SessionWithoutQop`] for a `-sess`
    /// algorithm without qop; [`DigestError::InvalidParameter`] for a nonce count of 0.
    pub fn respond(&self, request: &DigestRequest<'_>) -> Result<DigestCredentials, DigestError> {
        let algorithm = self.effective_algorithm();
        let qop = match &self.qop {
            None => None,
            Some(list) if list.contains(&Qop::Auth) => {
                if request.nc == 0 {
                    return Err(DigestError::InvalidParameter {
                        name: "nc",
                        reason: "nonce counts start at 1",
                    });
                }
                Some(QopAuth {
                    nc: request.nc,
                    cnonce: request.cnonce,
                })
            }
            Some(_) => {
                return Err(DigestError::UnsupportedQop {
                    found: "the challenge does not offer qop=auth",
                });
            }
        };
        let hashes = compute(&ResponseParams {
            algorithm,
            username: request.username,
            realm: &self.realm,
            secret: Secret::Password(request.password),
            method: request.method,
            uri: request.uri,
            nonce: &self.nonce,
            qop,
        })?;
        let username = if self.userhash {
            algorithm.hash_joined(&[request.username.as_bytes(), self.realm.as_bytes()])
        } else {
            request.username.to_owned()
        };
        Ok(DigestCredentials {
            username,
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: request.uri.to_owned(),
            response: hashes.response,
            algorithm: self.algorithm,
            cnonce: qop.map(|q| q.cnonce.to_owned()),
            opaque: self.opaque.clone(),
            qop: qop.map(|_| Qop::Auth),
            nc: qop.map(|q| q.nc),
            userhash: self.userhash,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------------------------

/// Which hash a client prefers when a server offers several Digest challenges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlgorithmPreference {
    /// Prefer MD5 / MD5-sess, the algorithms TR-069 §3.4.5 requires and every CWMP peer
    /// implements; answer a SHA-256 challenge only if no MD5 one is usable. The default.
    #[default]
    PreferMd5,
    /// Prefer SHA-256 / SHA-256-sess (RFC 7616), fall back to MD5.
    PreferSha256,
}

/// What the client needs to answer a challenge.
#[derive(Clone, Copy)]
pub struct DigestRequest<'a> {
    /// User name (e.g. `ConnectionRequestUsername`, or the CPE's `OUI-ProductClass-Serial`).
    pub username: &'a str,
    /// Password.
    pub password: &'a str,
    /// HTTP method of the request being authorised, e.g. `GET` or `POST`.
    pub method: &'a str,
    /// Request target exactly as in the request line, e.g. `/cr/8f3a2b` (RFC 7616 §3.4.6).
    pub uri: &'a str,
    /// Client nonce: caller-supplied random, e.g. 16 random bytes in hex (TR-069 §3.4.5: a
    /// fresh cnonce). Unused for RFC 2069 challenges.
    pub cnonce: &'a str,
    /// Nonce count: 1 for the first request with a given nonce, then incremented.
    pub nc: u32,
}

impl fmt::Debug for DigestRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("cnonce", &self.cnonce)
            .field("nc", &self.nc)
            .finish()
    }
}

/// Picks the Digest challenge to answer.
///
/// Only answerable challenges count (see [`DigestChallenge::is_answerable`]). Among them the
/// hash chosen by `preference` wins, then a challenge with qop `auth` beats an RFC 2069 one,
/// then the earlier challenge wins (servers list their preferred one first, RFC 7616 §3.7).
///
/// Errors when nothing is answerable: [`DigestError::UnsupportedQop`] if a Digest challenge
/// offered qop options without `auth`, else [`DigestError::UnsupportedAlgorithm`] if one used
/// an unknown algorithm, else [`DigestError::NoUsableChallenge`].
pub fn select_challenge(
    challenges: &[Challenge],
    preference: AlgorithmPreference,
) -> Result<&DigestChallenge, DigestError> {
    let mut best: Option<(u8, &DigestChallenge)> = None;
    let mut error = DigestError::NoUsableChallenge;
    for challenge in challenges {
        match challenge {
            Challenge::Digest(d) if d.is_answerable() => {
                let sha = d.effective_algorithm().is_sha256();
                let preferred = match preference {
                    AlgorithmPreference::PreferMd5 => !sha,
                    AlgorithmPreference::PreferSha256 => sha,
                };
                let score = u8::from(preferred) * 2 + u8::from(d.qop.is_some());
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, d));
                }
            }
            Challenge::Digest(d) => {
                error = if d.qop.is_some() {
                    DigestError::UnsupportedQop {
                        found: "the challenge does not offer qop=auth",
                    }
                } else {
                    DigestError::SessionWithoutQop
                };
            }
            Challenge::UnsupportedDigest { algorithm } => {
                if error == DigestError::NoUsableChallenge {
                    error = DigestError::UnsupportedAlgorithm {
                        name: algorithm.clone(),
                    };
                }
            }
            Challenge::Basic { .. } | Challenge::Other { .. } => {}
        }
    }
    best.map(|(_, d)| d).ok_or(error)
}

/// Client convenience: parses a `WWW-Authenticate` value, selects a challenge
/// ([`select_challenge`]), answers it ([`DigestChallenge::respond`]) and formats the
/// `Authorization` header value.
pub fn authorize(
    www_authenticate: &str,
    preference: AlgorithmPreference,
    request: &DigestRequest<'_>,
) -> Result<String, DigestError> {
    let challenges = parse_challenges(www_authenticate)?;
    select_challenge(&challenges, preference)?
        .respond(request)?
        .to_header_value()
}

// ---------------------------------------------------------------------------------------------
// Credentials (Authorization)
// ---------------------------------------------------------------------------------------------

/// Digest credentials from an `Authorization` header (RFC 7616 §3.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DigestCredentials {
    /// `username` (or `H(username:realm)` when `userhash` is true).
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce` echoed from the challenge.
    pub nonce: String,
    /// `uri`: the request target.
    pub uri: String,
    /// `response`, hex.
    pub response: String,
    /// `algorithm`; `None` means absent (MD5).
    pub algorithm: Option<Algorithm>,
    /// `cnonce`; present exactly when `qop` is.
    pub cnonce: Option<String>,
    /// `opaque` echoed from the challenge.
    pub opaque: Option<String>,
    /// `qop`; `None` for an RFC 2069 response.
    pub qop: Option<Qop>,
    /// `nc`, written as 8 hex digits; present exactly when `qop` is.
    pub nc: Option<u32>,
    /// `userhash=true`.
    pub userhash: bool,
}

impl DigestCredentials {
    /// Parses an `Authorization` value such as
    /// `Digest username="acs", realm="IGD Authentication", nonce="..", uri="/cr/8f3a2b",
    /// qop=auth, nc=00000001, cnonce="..", response=".."`.
    ///
    /// Requires `username`, `realm`, `nonce`, `uri` and `response` (hex); `nc` must be exactly
    /// 8 hex digits; `qop`, `cnonce` and `nc` must come together; an unknown `algorithm` or
    /// `qop` is an error. Values may be quoted or not (many clients quote `qop` and
    /// `algorithm`). Unknown parameters are ignored.
    ///
    /// This is a fuzzing entry point: it never panics.
    pub fn parse(header_value: &str) -> Result<Self, DigestError> {
        let mut items = parse_items(header_value)?.into_iter();
        let item = items.next().ok_or(DigestError::Empty)?;
        if let Some(extra) = items.next() {
            return Err(DigestError::TrailingCredentials {
                pos: extra.scheme_pos,
            });
        }
        if !item.scheme.eq_ignore_ascii_case("digest") {
            return Err(DigestError::WrongScheme {
                found: item.scheme.to_owned(),
            });
        }
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut c = DigestCredentials::default();
        for (name, value) in item.params {
            match name.to_ascii_lowercase().as_str() {
                "username" => username = Some(value),
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "uri" => uri = Some(value),
                "response" => {
                    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(DigestError::InvalidParameter {
                            name: "response",
                            reason: "must be hexadecimal",
                        });
                    }
                    response = Some(value);
                }
                "algorithm" => c.algorithm = Some(value.parse()?),
                "cnonce" => c.cnonce = Some(value),
                "opaque" => c.opaque = Some(value),
                "qop" => {
                    c.qop = Some(Qop::from_name(&value).ok_or(DigestError::UnsupportedQop {
                        found: "unknown qop value",
                    })?);
                }
                "nc" => c.nc = Some(parse_nc(&value)?),
                "userhash" => c.userhash = parse_bool("userhash", &value)?,
                _ => {}
            }
        }
        c.username = username.ok_or(DigestError::MissingParameter { name: "username" })?;
        c.realm = realm.ok_or(DigestError::MissingParameter { name: "realm" })?;
        c.nonce = nonce.ok_or(DigestError::MissingParameter { name: "nonce" })?;
        c.uri = uri.ok_or(DigestError::MissingParameter { name: "uri" })?;
        c.response = response.ok_or(DigestError::MissingParameter { name: "response" })?;
        c.check_qop_consistency()?;
        Ok(c)
    }

    /// RFC 7616 §3.4: `cnonce` and `nc` MUST be sent with `qop` and MUST NOT be sent without.
    fn check_qop_consistency(&self) -> Result<(), DigestError> {
        if self.qop.is_some() {
            if self.cnonce.is_none() {
                return Err(DigestError::MissingParameter { name: "cnonce" });
            }
            if self.nc.is_none() {
                return Err(DigestError::MissingParameter { name: "nc" });
            }
        } else if self.cnonce.is_some() || self.nc.is_some() {
            return Err(DigestError::InvalidParameter {
                name: "qop",
                reason: "cnonce and nc are only allowed together with qop",
            });
        }
        Ok(())
    }

    /// The algorithm in effect: the `algorithm` parameter, or MD5 when absent.
    pub fn effective_algorithm(&self) -> Algorithm {
        self.algorithm.unwrap_or_default()
    }

    /// Formats the `Authorization` value. `algorithm`, `qop` and `nc` are unquoted, the rest
    /// quoted-strings (RFC 7616 §3.4). Fails if a field contains a control character or
    /// `qop`/`cnonce`/`nc` are inconsistent.
    pub fn to_header_value(&self) -> Result<String, DigestError> {
        self.check_qop_consistency()?;
        let mut out = String::from("Digest ");
        push_quoted_param(&mut out, "username", &self.username)?;
        push_quoted_param(&mut out, "realm", &self.realm)?;
        push_quoted_param(&mut out, "nonce", &self.nonce)?;
        push_quoted_param(&mut out, "uri", &self.uri)?;
        if let Some(algorithm) = self.algorithm {
            push_token_param(&mut out, "algorithm", algorithm.name());
        }
        push_quoted_param(&mut out, "response", &self.response)?;
        if let Some(opaque) = &self.opaque {
            push_quoted_param(&mut out, "opaque", opaque)?;
        }
        if let Some(qop) = self.qop {
            push_token_param(&mut out, "qop", qop.name());
        }
        if let Some(nc) = self.nc {
            push_token_param(&mut out, "nc", &format!("{nc:08x}"));
        }
        if let Some(cnonce) = &self.cnonce {
            push_quoted_param(&mut out, "cnonce", cnonce)?;
        }
        if self.userhash {
            push_token_param(&mut out, "userhash", "true");
        }
        Ok(out)
    }
}

/// `nc-value = 8LHEX` (RFC 7616 §3.4; upper-case hex tolerated).
fn parse_nc(value: &str) -> Result<u32, DigestError> {
    if value.len() != 8 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DigestError::InvalidParameter {
            name: "nc",
            reason: "must be exactly 8 hexadecimal digits",
        });
    }
    u32::from_str_radix(value, 16).map_err(|_| DigestError::InvalidParameter {
        name: "nc",
        reason: "must be exactly 8 hexadecimal digits",
    })
}

// ---------------------------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------------------------

/// Number of caller-supplied random bytes in each nonce.
pub const NONCE_RANDOM_LEN: usize = 16;
/// Length of the truncated HMAC-SHA256 tag in each nonce.
const NONCE_TAG_LEN: usize = 16;
/// Raw nonce length: timestamp, random, tag.
const NONCE_RAW_LEN: usize = 8 + NONCE_RANDOM_LEN + NONCE_TAG_LEN;
/// Length of an encoded nonce: unpadded base64url of 40 bytes.
pub const NONCE_LEN: usize = 54;
/// Domain separation for the nonce MAC, so the key could be shared with other uses.
const NONCE_MAC_LABEL: &[u8] = b"cwmp-digest-nonce-v1\0";

/// The username and secret the server expects for this request.
#[derive(Debug, Clone, Copy)]
pub struct StoredCredential<'a> {
    /// The expected username (compared in constant time).
    pub username: &'a str,
    /// The password, or the stored HA1 for the hash family of the credentials' algorithm.
    pub secret: Secret<'a>,
}

/// A successfully verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The authenticated username.
    pub username: String,
    /// The algorithm used.
    pub algorithm: Algorithm,
    /// The nonce (give this to [`NonceCounts::accept`]).
    pub nonce: String,
    /// When the nonce was issued (Unix seconds).
    pub nonce_issued_at: u64,
    /// The nonce count.
    pub nc: u32,
    /// The client nonce.
    pub cnonce: String,
}

/// Stateless Digest server: issues challenges and verifies credentials (RFC 7616 §3.3,
/// §3.4; TR-069 §3.4.5 and §3.2.2). See the module documentation for the nonce format.
///
/// Use it for the ACS authenticating CPEs and for the CPE's Connection Request server.
/// Combine it with [`NonceCounts`] to reject replayed requests.
#[derive(Clone)]
pub struct DigestServer {
    realm: String,
    quoted_realm: String,
    key: Vec<u8>,
    nonce_lifetime: u64,
    algorithms: Vec<Algorithm>,
}

impl fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestServer")
            .field("realm", &self.realm)
            .field("key", &"<redacted>")
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("algorithms", &self.algorithms)
            .finish()
    }
}

impl DigestServer {
    /// Creates a server for `realm`, keyed with a caller-supplied secret `key` (use at least
    /// 32 random bytes, kept across restarts if nonces should survive them), issuing nonces
    /// valid for `nonce_lifetime_secs`. It offers and accepts MD5 only until
    /// [`DigestServer::with_algorithms`] says otherwise.
    ///
    /// Fails with [`DigestError::Unformattable`] if the realm contains a control character.
    pub fn new(
        realm: impl Into<String>,
        key: &[u8],
        nonce_lifetime_secs: u64,
    ) -> Result<Self, DigestError> {
        let realm = realm.into();
        let mut quoted_realm = String::new();
        push_quoted(&mut quoted_realm, &realm).ok_or(DigestError::Unformattable {
            field: "realm",
            reason: "contains a control character",
        })?;
        Ok(Self {
            realm,
            quoted_realm,
            key: key.to_vec(),
            nonce_lifetime: nonce_lifetime_secs,
            algorithms: vec![Algorithm::Md5],
        })
    }

    /// Sets the algorithms offered (one challenge each, in this order of preference) and
    /// accepted. Duplicates are dropped; an empty list leaves the setting unchanged.
    /// TR-069 peers must support MD5, so keep MD5 in the list.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        let mut list = Vec::new();
        for &a in algorithms {
            if !list.contains(&a) {
                list.push(a);
            }
        }
        if !list.is_empty() {
            self.algorithms = list;
        }
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Nonce lifetime in seconds.
    pub fn nonce_lifetime(&self) -> u64 {
        self.nonce_lifetime
    }

    /// Algorithms offered and accepted, in order of preference.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    fn nonce_tag(&self, ts: &[u8], random: &[u8]) -> [u8; 32] {
        hmac_sha256(
            &self.key,
            &[NONCE_MAC_LABEL, self.realm.as_bytes(), b"\0", ts, random],
        )
    }

    /// Issues a nonce at time `now` with caller-supplied randomness.
    pub fn issue_nonce(&self, now: u64, random: &[u8; NONCE_RANDOM_LEN]) -> String {
        let ts = now.to_be_bytes();
        let tag = self.nonce_tag(&ts, random);
        let mut raw = Vec::with_capacity(NONCE_RAW_LEN);
        raw.extend_from_slice(&ts);
        raw.extend_from_slice(random);
        raw.extend(tag.iter().take(NONCE_TAG_LEN));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Checks that `nonce` was issued by this server (same key and realm); returns its issue
    /// time. The MAC is compared in constant time. Does not check the age.
    pub fn nonce_issued_at(&self, nonce: &str) -> Result<u64, DigestError> {
        if nonce.len() != NONCE_LEN {
            return Err(DigestError::InvalidNonce);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| DigestError::InvalidNonce)?;
        let (ts, rest) = raw.split_at_checked(8).ok_or(DigestError::InvalidNonce)?;
        let (random, tag) = rest
            .split_at_checked(NONCE_RANDOM_LEN)
            .ok_or(DigestError::InvalidNonce)?;
        let ts: [u8; 8] = ts.try_into().map_err(|_| DigestError::InvalidNonce)?;
        let expected = self.nonce_tag(&ts, random);
        let expected = expected.get(..NONCE_TAG_LEN).unwrap_or_default();
        if tag.len() == NONCE_TAG_LEN && bool::from(expected.ct_eq(tag)) {
            Ok(u64::from_be_bytes(ts))
        } else {
            Err(DigestError::InvalidNonce)
        }
    }

    /// One `WWW-Authenticate` value per configured algorithm, all with the same fresh nonce,
    /// in order of preference: `Digest realm="..", qop="auth", algorithm=MD5, nonce=".."`
    /// plus `, stale=true` when `stale` (send it after [`DigestError::Stale`]). Send each as
    /// its own `WWW-Authenticate` header line.
    pub fn challenges(
        &self,
        now: u64,
        random: &[u8; NONCE_RANDOM_LEN],
        stale: bool,
    ) -> Vec<String> {
        let nonce = self.issue_nonce(now, random);
        self.algorithms
            .iter()
            .map(|a| {
                let mut out = format!(
                    "Digest realm={}, qop=\"auth\", algorithm={}, nonce=\"{nonce}\"",
                    self.quoted_realm,
                    a.name()
                );
                if stale {
                    out.push_str(", stale=true");
                }
                out
            })
            .collect()
    }

    /// The challenge for the preferred (first) algorithm; see [`DigestServer::challenges`].
    pub fn challenge(&self, now: u64, random: &[u8; NONCE_RANDOM_LEN], stale: bool) -> String {
        self.challenges(now, random, stale)
            .into_iter()
            .next()
            .unwrap_or_default()
    }

    /// Verifies parsed credentials for a request with `method` and `request_uri` (the request
    /// target exactly as in the request line).
    ///
    /// Checks, in order: no `userhash`; the realm; the algorithm is one this server offers;
    /// qop is `auth` (RFC 2069 responses are rejected); the nonce is ours; the `uri`
    /// parameter matches `request_uri` (RFC 7616 §3.4.6; an absolute-form `http(s)://host/p`
    /// on one side matches origin-form `/p` on the other); the username and the response
    /// (constant time); finally the nonce age, which yields [`DigestError::Stale`] only for
    /// otherwise valid credentials, so the caller re-challenges with `stale=true`.
    ///
    /// The nonce count is not checked here: pass the result to [`NonceCounts::accept`].
    pub fn verify(
        &self,
        credentials: &DigestCredentials,
        method: &str,
        request_uri: &str,
        expected: &StoredCredential<'_>,
        now: u64,
    ) -> Result<Verified, DigestError> {
        if credentials.userhash {
            return Err(DigestError::UserhashUnsupported);
        }
        if credentials.realm != self.realm {
            return Err(DigestError::RealmMismatch {
                expected: self.realm.clone(),
                found: credentials.realm.clone(),
            });
        }
        let algorithm = credentials.effective_algorithm();
        if !self.algorithms.contains(&algorithm) {
            return Err(DigestError::AlgorithmNotOffered { algorithm });
        }
        match credentials.qop {
            Some(Qop::Auth) => {}
            Some(Qop::AuthInt) => {
                return Err(DigestError::UnsupportedQop { found: "auth-int" });
            }
            None => {
                return Err(DigestError::UnsupportedQop {
                    found: "no qop (RFC 2069 responses are not accepted)",
                });
            }
        }
        let nc = credentials
            .nc
            .ok_or(DigestError::MissingParameter { name: "nc" })?;
        let cnonce = credentials
            .cnonce
            .as_deref()
            .ok_or(DigestError::MissingParameter { name: "cnonce" })?;
        let issued_at = self.nonce_issued_at(&credentials.nonce)?;
        if !uri_matches(&credentials.uri, request_uri) {
            return Err(DigestError::UriMismatch {
                expected: request_uri.to_owned(),
                found: credentials.uri.clone(),
            });
        }
        let hashes = compute(&ResponseParams {
            algorithm,
            username: expected.username,
            realm: &self.realm,
            secret: expected.secret,
            method,
            uri: &credentials.uri,
            nonce: &credentials.nonce,
            qop: Some(QopAuth { nc, cnonce }),
        })?;
        let user_ok = ct_eq_hidden_len(
            credentials.username.as_bytes(),
            expected.username.as_bytes(),
        );
        let received = credentials.response.to_ascii_lowercase();
        let response_ok = hashes.response.as_bytes().ct_eq(received.as_bytes());
        if !bool::from(user_ok) {
            return Err(DigestError::UsernameMismatch);
        }
        if !bool::from(response_ok) {
            return Err(DigestError::BadResponse);
        }
        if issued_at > now || now - issued_at > self.nonce_lifetime {
            return Err(DigestError::Stale);
        }
        Ok(Verified {
            username: credentials.username.clone(),
            algorithm,
            nonce: credentials.nonce.clone(),
            nonce_issued_at: issued_at,
            nc,
            cnonce: cnonce.to_owned(),
        })
    }

    /// Parses an `Authorization` value ([`DigestCredentials::parse`]) and verifies it
    /// ([`DigestServer::verify`]). Convenient when the expected username is known in advance,
    /// as on a CPE's Connection Request server.
    pub fn verify_header(
        &self,
        authorization: &str,
        method: &str,
        request_uri: &str,
        expected: &StoredCredential<'_>,
        now: u64,
    ) -> Result<Verified, DigestError> {
        let credentials = DigestCredentials::parse(authorization)?;
        self.verify(&credentials, method, request_uri, expected, now)
    }
}

/// The path-and-query of an absolute-form `http(s)://authority/path?query` request target
/// (`/` when the path is empty), or `None` for any other form.
fn origin_form(uri: &str) -> Option<String> {
    let lower_prefix = |p: &str| {
        uri.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    };
    let rest = if lower_prefix("http://") {
        uri.get(7..)?
    } else if lower_prefix("https://") {
        uri.get(8..)?
    } else {
        return None;
    };
    let path = rest
        .find(['/', '?'])
        .and_then(|i| rest.get(i..))
        .unwrap_or("");
    if path.starts_with('/') {
        Some(path.to_owned())
    } else {
        Some(format!("/{path}"))
    }
}

/// RFC 7616 §3.4.6: the `uri` parameter must identify the request target. Exact match, or one
/// side absolute-form and the other its origin-form (RFC 7230 §5.3).
fn uri_matches(param: &str, target: &str) -> bool {
    if param == target {
        return true;
    }
    match (origin_form(param), origin_form(target)) {
        (Some(p), None) => p == target,
        (None, Some(t)) => param == t,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Nonce-count replay protection
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct NonceEntry {
    issued_at: u64,
    last_nc: u32,
}

/// Bounded nonce-count tracker (RFC 7616 §3.4, "nc"): accepts a request only if its nonce
/// count is greater than the last accepted one for that nonce, so a replayed `Authorization`
/// header is rejected with [`DigestError::Replay`].
///
/// Feed it only requests that [`DigestServer::verify`] accepted, so unauthenticated traffic
/// cannot fill it. Entries are dropped once their nonce is older than the lifetime (give it
/// the server's nonce lifetime: such nonces are rejected as stale anyway). When it is full,
/// the entry with the oldest nonce is evicted and every nonce issued at or before that one
/// and not tracked any more is answered with [`DigestError::Stale`] (the client re-tries with
/// a fresh nonce), so eviction never re-opens a replay window.
///
/// TR-069 §3.4.5: the ACS SHOULD also use a fresh nonce for each new TCP connection; see the
/// module documentation.
#[derive(Debug, Clone)]
pub struct NonceCounts {
    capacity: usize,
    lifetime: u64,
    entries: BTreeMap<String, NonceEntry>,
    /// Nonces issued at or before this time that are not in `entries` were evicted.
    evicted_up_to: Option<u64>,
}

impl NonceCounts {
    /// A tracker for at most `capacity` nonces (at least 1), forgetting nonces older than
    /// `lifetime_secs`.
    pub fn new(capacity: usize, lifetime_secs: u64) -> Self {
        Self {
            capacity: capacity.max(1),
            lifetime: lifetime_secs,
            entries: BTreeMap::new(),
            evicted_up_to: None,
        }
    }

    /// Number of tracked nonces.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no nonce is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expired(&self, issued_at: u64, now: u64) -> bool {
        now.saturating_sub(issued_at) > self.lifetime
    }

    /// Records `verified.nc` for `verified.nonce` at time `now` if it is greater than the last
    /// accepted count. Errors: [`DigestError::Replay`] for a count that did not increase
    /// (including 0), [`DigestError::Stale`] for an expired or evicted nonce.
    pub fn accept(&mut self, verified: &Verified, now: u64) -> Result<(), DigestError> {
        let nc = verified.nc;
        if self.expired(verified.nonce_issued_at, now) {
            return Err(DigestError::Stale);
        }
        if let Some(entry) = self.entries.get_mut(&verified.nonce) {
            if nc <= entry.last_nc {
                return Err(DigestError::Replay {
                    nc,
                    last: entry.last_nc,
                });
            }
            entry.last_nc = nc;
            return Ok(());
        }
        if nc == 0 {
            return Err(DigestError::Replay { nc, last: 0 });
        }
        if self
            .evicted_up_to
            .is_some_and(|t| verified.nonce_issued_at <= t)
        {
            return Err(DigestError::Stale);
        }
        if self.entries.len() >= self.capacity {
            let lifetime = self.lifetime;
            self.entries
                .retain(|_, e| now.saturating_sub(e.issued_at) <= lifetime);
        }
        if self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.issued_at)
                .map(|(k, e)| (k.clone(), e.issued_at));
            if let Some((key, issued_at)) = oldest {
                if verified.nonce_issued_at <= issued_at {
                    // The newcomer is the oldest: refuse it rather than evict a newer one.
                    return Err(DigestError::Stale);
                }
                self.entries.remove(&key);
                self.evicted_up_to =
                    Some(self.evicted_up_to.map_or(issued_at, |t| t.max(issued_at)));
            }
        }
        self.entries.insert(
            verified.nonce.clone(),
            NonceEntry {
                issued_at: verified.nonce_issued_at,
                last_nc: nc,
            },
        );
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NONCE: &str = "dcd98b7102dd2f0e8b11d0f600bfb0c093";

    fn md5_params<'a>(
        username: &'a str,
        realm: &'a str,
        password: &'a str,
        uri: &'a str,
    ) -> ResponseParams<'a> {
        ResponseParams {
            algorithm: Algorithm::Md5,
            username,
            realm,
            secret: Secret::Password(password),
            method: "GET",
            uri,
            nonce: NONCE,
            qop: Some(QopAuth {
                nc: 1,
                cnonce: "0a4f113b",
            }),
        }
    }

    #[test]
    fn rfc2069_vector() {
        // RFC 2069 §2.4 example (password "CircleOfLife" there), response from its errata.
        let mut p = md5_params(
            "Mufasa",
            "testrealm@host.com",
            "CircleOfLife",
            "/dir/index.html",
        );
        p.qop = None;
        assert_eq!(
            compute(&p).unwrap().response,
            "1949323746fe6a43ef61f9606e7febea"
        );
    }

    #[test]
    fn stored_ha1_gives_same_response() {
        let p = md5_params("acs", "IGD Authentication", "crpass", "/cr/8f3a2b");
        let stored = ha1(Algorithm::Md5, "acs", "IGD Authentication", "crpass").to_uppercase();
        let mut q = p;
        q.secret = Secret::Ha1(&stored);
        assert_eq!(compute(&p).unwrap(), compute(&q).unwrap());
        q.secret = Secret::Ha1("abc");
        assert!(matches!(
            compute(&q),
            Err(DigestError::Ha1LengthMismatch { len: 3, .. })
        ));
        q.algorithm = Algorithm::Md5Sess;
        q.qop = None;
        q.secret = Secret::Password("x");
        assert_eq!(compute(&q), Err(DigestError::SessionWithoutQop));
    }

    #[test]
    fn algorithm_names() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
            assert_eq!(Algorithm::from_name(&a.name().to_lowercase()), Some(a));
            assert_eq!(a.to_string().parse::<Algorithm>(), Ok(a));
        }
        assert_eq!(
            "SHA-512-256".parse::<Algorithm>(),
            Err(DigestError::UnsupportedAlgorithm {
                name: "SHA-512-256".into()
            })
        );
        assert_eq!(Algorithm::Sha256.hash_hex(b"").len(), 64);
        assert_eq!(
            Algorithm::Md5.hash_hex(b""),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn parses_multiple_challenges() {
        let v = "Basic realm=\"x\", Digest realm=\"y\", nonce=\"n1\", qop=\"auth,auth-int\", \
                 algorithm=MD5, opaque=\"o\", stale=TRUE, Newauth realm=\"apps\", type=1, \
                 title=\"Login to \\\"apps\\\"\", Negotiate abc==, Digest realm=\"z\", nonce=n2";
        let c = parse_challenges(v).unwrap();
        assert_eq!(c.len(), 5);
        assert_eq!(
            c[0],
            Challenge::Basic {
                realm: Some("x".into())
            }
        );
        assert_eq!(
            c[1],
            Challenge::Digest(DigestChallenge {
                realm: "y".into(),
                nonce: "n1".into(),
                opaque: Some("o".into()),
                algorithm: Some(Algorithm::Md5),
                qop: Some(vec![Qop::Auth, Qop::AuthInt]),
                stale: true,
                ..Default::default()
            })
        );
        assert_eq!(
            c[2],
            Challenge::Other {
                scheme: "Newauth".into()
            }
        );
        assert_eq!(
            c[3],
            Challenge::Other {
                scheme: "Negotiate".into()
            }
        );
        let Challenge::Digest(d) = &c[4] else {
            panic!("expected digest")
        };
        assert_eq!(
            (d.realm.as_str(), d.nonce.as_str(), d.qop.as_ref()),
            ("z", "n2", None)
        );
    }

    #[test]
    fn tolerant_syntax() {
        let v = " ,, DIGEST   REALM = \"r\" ,,  Nonce=abc/def+g==,qop=auth , \
                 unknown=\"x\", charset=UTF-8 ,";
        let c = parse_challenges(v).unwrap();
        let Challenge::Digest(d) = &c[0] else {
            panic!("expected digest")
        };
        assert_eq!(d.realm, "r");
        assert_eq!(d.nonce, "abc/def+g==");
        assert_eq!(d.qop, Some(vec![Qop::Auth]));
        assert_eq!(c.len(), 1);
        // Unknown qop options are dropped; a list with none known is kept as Some(empty).
        let c = parse_challenges("Digest realm=r, nonce=n, qop=\"auth-conf, x\"").unwrap();
        let Challenge::Digest(d) = &c[0] else {
            panic!("expected digest")
        };
        assert_eq!(d.qop, Some(vec![]));
        assert!(!d.is_answerable());
    }

    #[test]
    fn unknown_algorithm_is_kept_apart() {
        let c = parse_challenges(
            "Digest realm=r, nonce=n, algorithm=SHA-512-256, Digest realm=r, nonce=m",
        )
        .unwrap();
        assert_eq!(
            c[0],
            Challenge::UnsupportedDigest {
                algorithm: "SHA-512-256".into()
            }
        );
        assert!(matches!(c[1], Challenge::Digest(_)));
    }

    #[test]
    fn challenge_errors() {
        use DigestError as E;
        let cases: &[(&str, DigestError)] = &[
            ("", E::Empty),
            (" , ,", E::Empty),
            ("Digest nonce=n", E::MissingParameter { name: "realm" }),
            ("Digest realm=r", E::MissingParameter { name: "nonce" }),
            (
                "Digest realm=r, Realm=s, nonce=n",
                E::DuplicateParameter {
                    name: "realm".into(),
                },
            ),
            (
                "Digest realm=\"r, nonce=n",
                E::UnterminatedQuotedString { pos: 13 },
            ),
            (
                "Digest realm=\"r\\",
                E::UnterminatedQuotedString { pos: 13 },
            ),
            (
                "Digest realm=\"a\nb\", nonce=n",
                E::ControlCharacter { pos: 15 },
            ),
            (
                "Digest realm=r, nonce=n, stale=maybe",
                E::InvalidParameter {
                    name: "stale",
                    reason: "must be true or false",
                },
            ),
            (
                "Digest nonce=n, realm=, opaque=o",
                E::UnexpectedChar {
                    pos: 22,
                    found: ',',
                    expected: "a parameter value",
                },
            ),
            (
                "Digest realm =",
                E::UnexpectedEnd {
                    pos: 14,
                    expected: "a parameter value",
                },
            ),
            (
                "Digest realm \"x\"",
                E::UnexpectedChar {
                    pos: 13,
                    found: '"',
                    expected: "'=' after the parameter name",
                },
            ),
            (
                "Digest realm=, nonce=n",
                E::UnexpectedChar {
                    pos: 13,
                    found: ',',
                    expected: "a parameter value",
                },
            ),
            (
                "Digest abc",
                E::UnexpectedEnd {
                    pos: 10,
                    expected: "'=' after the parameter name",
                },
            ),
            (
                "Digest realm=\"r\" nonce=n",
                E::UnexpectedChar {
                    pos: 17,
                    found: 'n',
                    expected: "',' or the end of the header value",
                },
            ),
            (
                "Digest\"x\"",
                E::UnexpectedChar {
                    pos: 6,
                    found: '"',
                    expected: "whitespace after the authentication scheme",
                },
            ),
            (
                "\u{e9}t\u{e9}",
                E::UnexpectedChar {
                    pos: 0,
                    found: '\u{e9}',
                    expected: "an authentication scheme",
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                &parse_challenges(input).unwrap_err(),
                expected,
                "input {input:?}"
            );
        }
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=v")).collect();
        assert_eq!(
            parse_challenges(&format!("Digest {}", many.join(", "))),
            Err(E::TooManyParameters { max: MAX_PARAMS })
        );
        let long = format!("Digest realm=\"{}\"", "a".repeat(MAX_HEADER_LEN));
        assert!(matches!(parse_challenges(&long), Err(E::TooLong { .. })));
    }

    #[test]
    fn credentials_parse_and_errors() {
        let v = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
                 qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
                 response=\"6629fae49393a05397450978507c4ef1\", \
                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let c = DigestCredentials::parse(v).unwrap();
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.nc, Some(1));
        assert_eq!(c.qop, Some(Qop::Auth));
        assert_eq!(c.algorithm, None);
        assert_eq!(c.effective_algorithm(), Algorithm::Md5);
        // Quoted qop/algorithm (curl style) and upper-case hex nc are accepted.
        let c2 =
            DigestCredentials::parse(&v.replace("qop=auth", "qop=\"auth\", algorithm=\"md5\""))
                .unwrap();
        assert_eq!(c2.algorithm, Some(Algorithm::Md5));

        use DigestError as E;
        let base = "Digest username=u, realm=r, nonce=n, uri=/, response=ab";
        let cases: Vec<(String, DigestError)> = vec![
            (
                "Basic abc".into(),
                E::WrongScheme {
                    found: "Basic".into(),
                },
            ),
            (
                format!("{base}, Basic x"),
                E::TrailingCredentials { pos: 57 },
            ),
            (
                base.replace("username=u, ", ""),
                E::MissingParameter { name: "username" },
            ),
            (
                base.replace(", uri=/", ""),
                E::MissingParameter { name: "uri" },
            ),
            (
                base.replace("response=ab", "response=xyz"),
                E::InvalidParameter {
                    name: "response",
                    reason: "must be hexadecimal",
                },
            ),
            (
                format!("{base}, algorithm=SHA-512-256"),
                E::UnsupportedAlgorithm {
                    name: "SHA-512-256".into(),
                },
            ),
            (
                format!("{base}, qop=auth-conf, nc=00000001, cnonce=c"),
                E::UnsupportedQop {
                    found: "unknown qop value",
                },
            ),
            (
                format!("{base}, qop=auth, nc=1, cnonce=c"),
                E::InvalidParameter {
                    name: "nc",
                    reason: "must be exactly 8 hexadecimal digits",
                },
            ),
            (
                format!("{base}, qop=auth, nc=+0000001, cnonce=c"),
                E::InvalidParameter {
                    name: "nc",
                    reason: "must be exactly 8 hexadecimal digits",
                },
            ),
            (
                format!("{base}, qop=auth, cnonce=c"),
                E::MissingParameter { name: "nc" },
            ),
            (
                format!("{base}, qop=auth, nc=00000001"),
                E::MissingParameter { name: "cnonce" },
            ),
            (
                format!("{base}, nc=00000001"),
                E::InvalidParameter {
                    name: "qop",
                    reason: "cnonce and nc are only allowed together with qop",
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                DigestCredentials::parse(&input).unwrap_err(),
                expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn formatting_quotes_per_rfc7616() {
        let c = DigestCredentials {
            username: "a\"b".into(),
            realm: "r".into(),
            nonce: "n".into(),
            uri: "/x".into(),
            response: "ab".into(),
            algorithm: Some(Algorithm::Md5Sess),
            cnonce: Some("c".into()),
            opaque: Some("o".into()),
            qop: Some(Qop::Auth),
            nc: Some(10),
            userhash: false,
        };
        assert_eq!(
            c.to_header_value().unwrap(),
            "Digest username=\"a\\\"b\", realm=\"r\", nonce=\"n\", uri=\"/x\", \
             algorithm=MD5-sess, response=\"ab\", opaque=\"o\", qop=auth, nc=0000000a, cnonce=\"c\""
        );
        let mut bad = c.clone();
        bad.username = "a\r\nX-Injected: 1".into();
        assert_eq!(
            bad.to_header_value(),
            Err(DigestError::Unformattable {
                field: "username",
                reason: "contains a control character"
            })
        );
        let mut bad = c;
        bad.nc = None;
        assert_eq!(
            bad.to_header_value(),
            Err(DigestError::MissingParameter { name: "nc" })
        );
    }

    #[test]
    fn client_selection() {
        let h = "Digest realm=r, nonce=a, algorithm=SHA-256, qop=auth, \
                 Digest realm=r, nonce=b, algorithm=MD5, \
                 Digest realm=r, nonce=c, algorithm=MD5, qop=auth";
        let c = parse_challenges(h).unwrap();
        assert_eq!(
            select_challenge(&c, AlgorithmPreference::PreferMd5)
                .unwrap()
                .nonce,
            "c"
        );
        assert_eq!(
            select_challenge(&c, AlgorithmPreference::PreferSha256)
                .unwrap()
                .nonce,
            "a"
        );
        let only_sha = parse_challenges("Digest realm=r, nonce=a, algorithm=SHA-256").unwrap();
        assert_eq!(
            select_challenge(&only_sha, AlgorithmPreference::PreferMd5)
                .unwrap()
                .nonce,
            "a"
        );
        let auth_int = parse_challenges("Digest realm=r, nonce=a, qop=\"auth-int\"").unwrap();
        assert!(matches!(
            select_challenge(&auth_int, AlgorithmPreference::PreferMd5),
            Err(DigestError::UnsupportedQop { .. })
        ));
        let unknown =
            parse_challenges("Basic realm=x, Digest realm=r, nonce=a, algorithm=X").unwrap();
        assert_eq!(
            select_challenge(&unknown, AlgorithmPreference::PreferMd5),
            Err(DigestError::UnsupportedAlgorithm { name: "X".into() })
        );
        let basic = parse_challenges("Basic realm=x").unwrap();
        assert_eq!(
            select_challenge(&basic, AlgorithmPreference::PreferMd5),
            Err(DigestError::NoUsableChallenge)
        );
    }

    #[test]
    fn client_rfc2069_and_userhash() {
        let request = DigestRequest {
            username: "Mufasa",
            password: "CircleOfLife",
            method: "GET",
            uri: "/dir/index.html",
            cnonce: "ignored",
            nc: 1,
        };
        let h = authorize(
            "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
            AlgorithmPreference::PreferMd5,
            &request,
        )
        .unwrap();
        assert_eq!(
            h,
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
             response=\"1949323746fe6a43ef61f9606e7febea\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""
        );
        let sess = parse_challenges("Digest realm=r, nonce=n, algorithm=MD5-sess").unwrap();
        assert_eq!(
            select_challenge(&sess, AlgorithmPreference::PreferMd5),
            Err(DigestError::SessionWithoutQop)
        );
        let Challenge::Digest(d) = &sess[0] else {
            panic!("expected digest")
        };
        assert_eq!(d.respond(&request), Err(DigestError::SessionWithoutQop));

        let uh = parse_challenges("Digest realm=r, nonce=n, qop=auth, userhash=true").unwrap();
        let Challenge::Digest(d) = &uh[0] else {
            panic!("expected digest")
        };
        let creds = d.respond(&request).unwrap();
        assert!(creds.userhash);
        assert_eq!(creds.username, ha2(Algorithm::Md5, "Mufasa", "r"));
        let zero = DigestRequest { nc: 0, ..request };
        assert!(matches!(
            d.respond(&zero),
            Err(DigestError::InvalidParameter { name: "nc", .. })
        ));
    }

    fn server() -> DigestServer {
        DigestServer::new(
            "IGD Authentication",
            b"0123456789abcdef0123456789abcdef",
            300,
        )
        .unwrap()
    }

    #[test]
    fn nonce_format_and_authenticity() {
        let s = server();
        let nonce = s.issue_nonce(1_700_000_000, &[7; 16]);
        assert_eq!(nonce.len(), NONCE_LEN);
        assert!(
            nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(s.nonce_issued_at(&nonce), Ok(1_700_000_000));
        // Another key or realm does not recognise it.
        let other = DigestServer::new("IGD Authentication", b"other key", 300).unwrap();
        assert_eq!(
            other.nonce_issued_at(&nonce),
            Err(DigestError::InvalidNonce)
        );
        let other = DigestServer::new("other", b"0123456789abcdef0123456789abcdef", 300).unwrap();
        assert_eq!(
            other.nonce_issued_at(&nonce),
            Err(DigestError::InvalidNonce)
        );
        // Any single-character change is detected.
        for i in 0..nonce.len() {
            let mut bytes = nonce.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert_eq!(
                s.nonce_issued_at(&tampered),
                Err(DigestError::InvalidNonce),
                "{i}"
            );
        }
        for bad in ["", "short", "!".repeat(NONCE_LEN).as_str(), NONCE] {
            assert_eq!(s.nonce_issued_at(bad), Err(DigestError::InvalidNonce));
        }
    }

    #[test]
    fn server_challenges() {
        let s = server().with_algorithms(&[Algorithm::Sha256, Algorithm::Md5, Algorithm::Sha256]);
        let c = s.challenges(1000, &[1; 16], true);
        assert_eq!(c.len(), 2);
        assert!(c[0].starts_with(
            "Digest realm=\"IGD Authentication\", qop=\"auth\", algorithm=SHA-256, nonce=\""
        ));
        assert!(c[1].contains("algorithm=MD5,"));
        assert!(c[1].ends_with(", stale=true"));
        let parsed = parse_challenges(&c[0]).unwrap();
        let Challenge::Digest(d) = &parsed[0] else {
            panic!("expected digest")
        };
        assert!(d.stale);
        assert_eq!(s.nonce_issued_at(&d.nonce), Ok(1000));
        assert_eq!(s.challenge(1000, &[1; 16], true), c[0]);
        assert!(DigestServer::new("a\nb", b"k", 1).is_err());
    }

    fn exchange(s: &DigestServer, uri_sent: &str, now: u64) -> DigestCredentials {
        let challenge = s.challenge(now, &[9; 16], false);
        let challenges = parse_challenges(&challenge).unwrap();
        let d = select_challenge(&challenges, AlgorithmPreference::PreferMd5).unwrap();
        d.respond(&DigestRequest {
            username: "acs",
            password: "crpass",
            method: "GET",
            uri: uri_sent,
            cnonce: "c1",
            nc: 1,
        })
        .unwrap()
    }

    #[test]
    fn server_verification_paths() {
        let s = server();
        let good = StoredCredential {
            username: "acs",
            secret: Secret::Password("crpass"),
        };
        let creds = exchange(&s, "/cr/8f3a2b", 1000);
        let v = s.verify(&creds, "GET", "/cr/8f3a2b", &good, 1010).unwrap();
        assert_eq!(
            (v.username.as_str(), v.nc, v.nonce_issued_at),
            ("acs", 1, 1000)
        );

        // Stored HA1 works too.
        let stored = ha1(Algorithm::Md5, "acs", "IGD Authentication", "crpass");
        let by_ha1 = StoredCredential {
            username: "acs",
            secret: Secret::Ha1(&stored),
        };
        assert!(s.verify(&creds, "GET", "/cr/8f3a2b", &by_ha1, 1010).is_ok());

        // Absolute-form request target vs origin-form uri, both ways.
        assert!(
            s.verify(&creds, "GET", "http://10.0.0.1:7547/cr/8f3a2b", &good, 1010)
                .is_ok()
        );
        let abs = exchange(&s, "HTTP://10.0.0.1:7547/cr/8f3a2b", 1000);
        assert!(s.verify(&abs, "GET", "/cr/8f3a2b", &good, 1010).is_ok());

        use DigestError as E;
        let wrong_pw = StoredCredential {
            username: "acs",
            secret: Secret::Password("nope"),
        };
        assert_eq!(
            s.verify(&creds, "GET", "/cr/8f3a2b", &wrong_pw, 1010),
            Err(E::BadResponse)
        );
        let wrong_user = StoredCredential {
            username: "other",
            secret: Secret::Password("crpass"),
        };
        assert_eq!(
            s.verify(&creds, "GET", "/cr/8f3a2b", &wrong_user, 1010),
            Err(E::UsernameMismatch)
        );
        assert_eq!(
            s.verify(&creds, "POST", "/cr/8f3a2b", &good, 1010),
            Err(E::BadResponse)
        );
        assert!(matches!(
            s.verify(&creds, "GET", "/cr/other", &good, 1010),
            Err(E::UriMismatch { .. })
        ));
        assert_eq!(
            s.verify(&creds, "GET", "/cr/8f3a2b", &good, 1301),
            Err(E::Stale)
        );
        assert_eq!(
            s.verify(&creds, "GET", "/cr/8f3a2b", &good, 999),
            Err(E::Stale)
        );
        // Stale is only reported for otherwise valid credentials.
        assert_eq!(
            s.verify(&creds, "GET", "/cr/8f3a2b", &wrong_pw, 5000),
            Err(E::BadResponse)
        );

        let mut c = creds.clone();
        c.realm = "x".into();
        assert!(matches!(
            s.verify(&c, "GET", "/cr/8f3a2b", &good, 1010),
            Err(E::RealmMismatch { .. })
        ));
        let mut c = creds.clone();
        c.algorithm = Some(Algorithm::Sha256);
        assert_eq!(
            s.verify(&c, "GET", "/cr/8f3a2b", &good, 1010),
            Err(E::AlgorithmNotOffered {
                algorithm: Algorithm::Sha256
            })
        );
        let mut c = creds.clone();
        c.qop = None;
        c.nc = None;
        c.cnonce = None;
        assert!(matches!(
            s.verify(&c, "GET", "/cr/8f3a2b", &good, 1010),
            Err(E::UnsupportedQop { .. })
        ));
        let mut c = creds.clone();
        c.qop = Some(Qop::AuthInt);
        assert!(matches!(
            s.verify(&c, "GET", "/cr/8f3a2b", &good, 1010),
            Err(E::UnsupportedQop { .. })
        ));
        let mut c = creds.clone();
        c.nonce = NONCE.into();
        assert_eq!(
            s.verify(&c, "GET", "/cr/8f3a2b", &good, 1010),
            Err(E::InvalidNonce)
        );
        let mut c = creds.clone();
        c.userhash = true;
        assert_eq!(
            s.verify(&c, "GET", "/cr/8f3a2b", &good, 1010),
            Err(E::UserhashUnsupported)
        );
        // Upper-case response hex is accepted.
        let mut c = creds;
        c.response = c.response.to_uppercase();
        assert!(s.verify(&c, "GET", "/cr/8f3a2b", &good, 1010).is_ok());
    }

    #[test]
    fn uri_matching() {
        assert!(uri_matches("/a?b", "/a?b"));
        assert!(uri_matches("http://h/a?b", "/a?b"));
        assert!(uri_matches("/", "https://h:1"));
        assert!(uri_matches("/?q", "http://h?q"));
        assert!(!uri_matches("/a", "/b"));
        assert!(!uri_matches("http://h/a", "http://g/a"));
        assert!(!uri_matches("/a", "/a/"));
    }

    fn verified(nonce: &str, issued_at: u64, nc: u32) -> Verified {
        Verified {
            username: "u".into(),
            algorithm: Algorithm::Md5,
            nonce: nonce.into(),
            nonce_issued_at: issued_at,
            nc,
            cnonce: "c".into(),
        }
    }

    #[test]
    fn nonce_counts_reject_replays() {
        let mut t = NonceCounts::new(4, 300);
        assert_eq!(t.accept(&verified("a", 100, 1), 100), Ok(()));
        assert_eq!(
            t.accept(&verified("a", 100, 1), 101),
            Err(DigestError::Replay { nc: 1, last: 1 })
        );
        assert_eq!(t.accept(&verified("a", 100, 3), 101), Ok(()));
        assert_eq!(
            t.accept(&verified("a", 100, 2), 101),
            Err(DigestError::Replay { nc: 2, last: 3 })
        );
        assert_eq!(
            t.accept(&verified("b", 100, 0), 101),
            Err(DigestError::Replay { nc: 0, last: 0 })
        );
        assert_eq!(
            t.accept(&verified("a", 100, 4), 401),
            Err(DigestError::Stale)
        );
        assert_eq!(t.len(), 1);
        assert!(!t.is_empty());
    }

    #[test]
    fn nonce_counts_eviction_never_reopens_replay() {
        let mut t = NonceCounts::new(2, 300);
        t.accept(&verified("a", 100, 1), 150).unwrap();
        t.accept(&verified("b", 110, 1), 150).unwrap();
        // Full: "a" (oldest) is evicted for "c".
        t.accept(&verified("c", 120, 1), 150).unwrap();
        assert_eq!(t.len(), 2);
        // A replay of "a" is now refused as stale rather than accepted.
        assert_eq!(
            t.accept(&verified("a", 100, 1), 150),
            Err(DigestError::Stale)
        );
        // A newcomer older than everything tracked is refused instead of evicting.
        assert_eq!(
            t.accept(&verified("z", 105, 1), 150),
            Err(DigestError::Stale)
        );
        // Expired entries are purged first when full.
        t.accept(&verified("d", 400, 1), 415).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.accept(&verified("b", 110, 2), 415),
            Err(DigestError::Stale)
        );
        assert_eq!(t.accept(&verified("c", 120, 2), 415), Ok(()));
        // Capacity 0 is raised to 1.
        let mut t = NonceCounts::new(0, 10);
        t.accept(&verified("a", 1, 1), 1).unwrap();
        assert_eq!(t.len(), 1);
    }

    fn challenge_strategy() -> impl Strategy<Value = DigestChallenge> {
        let text = "[^\\p{Cc}]{0,24}|[\\t -~]{0,24}";
        let qop = prop_oneof![
            Just(None),
            Just(Some(vec![])),
            Just(Some(vec![Qop::Auth])),
            Just(Some(vec![Qop::AuthInt])),
            Just(Some(vec![Qop::Auth, Qop::AuthInt])),
            Just(Some(vec![Qop::AuthInt, Qop::Auth])),
        ];
        (
            text,
            text,
            proptest::option::of(text),
            proptest::option::of(text),
            proptest::option::of(proptest::sample::select(Algorithm::ALL.to_vec())),
            qop,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(realm, nonce, opaque, domain, algorithm, qop, stale, userhash)| DigestChallenge {
                    realm,
                    nonce,
                    opaque,
                    domain,
                    algorithm,
                    qop,
                    stale,
                    userhash,
                },
            )
    }

    fn credentials_strategy() -> impl Strategy<Value = DigestCredentials> {
        let text = "[^\\p{Cc}]{0,24}|[\\t -~]{0,24}";
        (
            (text, text, text, text, "[0-9a-fA-F]{1,64}"),
            proptest::option::of(proptest::sample::select(Algorithm::ALL.to_vec())),
            proptest::option::of(text),
            proptest::option::of((
                proptest::sample::select(vec![Qop::Auth, Qop::AuthInt]),
                any::<u32>(),
                text,
            )),
            any::<bool>(),
        )
            .prop_map(
                |((username, realm, nonce, uri, response), algorithm, opaque, qop, userhash)| {
                    DigestCredentials {
                        username,
                        realm,
                        nonce,
                        uri,
                        response,
                        algorithm,
                        cnonce: qop.as_ref().map(|q| q.2.clone()),
                        opaque,
                        qop: qop.as_ref().map(|q| q.0),
                        nc: qop.as_ref().map(|q| q.1),
                        userhash,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn challenge_round_trip(c in challenge_strategy()) {
            let header = c.to_header_value().unwrap();
            let parsed = parse_challenges(&header).unwrap();
            prop_assert_eq!(parsed, vec![Challenge::Digest(c)]);
        }

        #[test]
        fn challenge_list_round_trip(a in challenge_strategy(), b in challenge_strategy()) {
            let header = format!(
                "Basic realm=\"x\", {}, {}",
                a.to_header_value().unwrap(),
                b.to_header_value().unwrap()
            );
            let parsed = parse_challenges(&header).unwrap();
            prop_assert_eq!(
                parsed,
                vec![
                    Challenge::Basic { realm: Some("x".into()) },
                    Challenge::Digest(a),
                    Challenge::Digest(b),
                ]
            );
        }

        #[test]
        fn credentials_round_trip(c in credentials_strategy()) {
            let header = c.to_header_value().unwrap();
            prop_assert_eq!(DigestCredentials::parse(&header).unwrap(), c);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,300}|[ -~]{0,300}|.{0,300}") {
            let _ = parse_challenges(&s);
            let _ = DigestCredentials::parse(&s);
            let _ = DigestCredentials::parse(&format!("Digest {s}"));
            let _ = parse_challenges(&format!("Digest {s}"));
        }

        #[test]
        fn verify_never_panics(s in "[ -~]{0,200}", nonce in "[A-Za-z0-9_-]{54}") {
            let srv = server();
            let good = StoredCredential { username: "u", secret: Secret::Ha1(&s) };
            if let Ok(mut c) = DigestCredentials::parse(&format!("Digest {s}")) {
                let _ = srv.verify(&c, "GET", &s, &good, 0);
                c.nonce = nonce;
                let _ = srv.verify(&c, "GET", &s, &good, u64::MAX);
            }
        }
    }
}
