//! HTTP and UDP authentication helpers for CWMP (TR-069), without I/O.
//!
//! CWMP authenticates in three places, and each has its own helper here:
//!
//! * [`basic`]: HTTP Basic (RFC 7617). TR-069 §3.4.4: the ACS SHOULD use Basic only when the
//!   connection is protected by TLS; the CPE MUST support it and SHOULD send it pre-emptively
//!   over TLS.
//! * [`digest`]: HTTP Digest (RFC 7616, RFC 2617), used by both roles. TR-069 §3.4.4: without
//!   TLS the ACS MUST use Digest to authenticate CPEs; §3.2.2: the CPE MUST use Digest to
//!   authenticate the ACS on an HTTP Connection Request. §3.4.5: both MUST support `qop="auth"`
//!   and MD5, the CPE MUST also support MD5-sess. SHA-256 (RFC 7616) is supported as an option.
//!   The module contains the header parsers/formatters, the response computation, a client
//!   helper that answers a challenge, a stateless server ([`digest::DigestServer`]) and a
//!   nonce-count replay tracker ([`digest::NonceCounts`]).
//! * [`udp`]: the signed UDP Connection Request of TR-069 Annex G (formerly TR-111 Part 2):
//!   build, parse, verify (HMAC-SHA1) and replay protection.
//!
//! Nothing here reads a clock, a random source or a socket: the current time ("now", Unix
//! seconds) and random bytes are always arguments, so the caller decides where they come from
//! and tests are deterministic.
//!
//! Every parser is bounded and total: malformed input returns one of the typed errors below
//! ([`BasicError`], [`DigestError`], [`UdpError`]) and never panics. Secret comparisons use
//! `subtle` (constant time), as TR-069 security practice and RFC 7616 §5 recommend.

pub mod basic;
pub mod digest;
pub mod udp;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// Error from [`basic`]: parsing, building or verifying HTTP Basic credentials (RFC 7617).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BasicError {
    /// The header value is longer than [`basic::MAX_HEADER_LEN`].
    #[error("Basic header value is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Length of the rejected value in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The header value does not start with the `Basic` scheme.
    #[error("expected the Basic authentication scheme, found {found:?}")]
    WrongScheme {
        /// The scheme that was found (possibly empty).
        found: String,
    },
    /// `Basic` is not followed by a token68 credentials string.
    #[error("Basic scheme without credentials")]
    MissingCredentials,
    /// The credentials are not valid base64 (RFC 7617 §2 requires base64 of `user-id:password`).
    #[error("Basic credentials are not valid base64: {reason}")]
    InvalidBase64 {
        /// Description of the base64 error, including its offset.
        reason: String,
    },
    /// The decoded credentials are not UTF-8 (RFC 7617 §2.1: this crate only accepts UTF-8).
    #[error("decoded Basic credentials are not valid UTF-8")]
    NotUtf8,
    /// The decoded credentials contain no `:` between user-id and password.
    #[error("decoded Basic credentials contain no ':' separating user-id and password")]
    MissingColon,
    /// A user-id containing `:` cannot be represented (RFC 7617 §2).
    #[error("the Basic user-id must not contain ':'")]
    ColonInUsername,
    /// A control character in a field (RFC 7617 §2 forbids them in user-id and password).
    #[error("control character in the Basic {field}")]
    ControlCharacter {
        /// Which field: `user-id`, `password` or `realm`.
        field: &'static str,
    },
    /// The credentials are well formed but do not match the expected ones.
    #[error("Basic credentials do not match")]
    BadCredentials,
}

/// Error from [`digest`]: parsing, formatting, answering or verifying HTTP Digest
/// authentication (RFC 7616 / RFC 2617).
///
/// Positions (`pos`) are byte offsets into the header value that was parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The header value is longer than [`digest::MAX_HEADER_LEN`].
    #[error("header value is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Length of the rejected value in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A challenge or credentials has more than [`digest::MAX_PARAMS`] parameters.
    #[error("more than {max} parameters in one challenge or credentials")]
    TooManyParameters {
        /// The limit.
        max: usize,
    },
    /// The header value contains no challenge or credentials at all.
    #[error("header value is empty")]
    Empty,
    /// The value ended where something else was required.
    #[error("unexpected end of header value at byte {pos}: expected {expected}")]
    UnexpectedEnd {
        /// Byte offset of the end.
        pos: usize,
        /// What the parser was looking for.
        expected: &'static str,
    },
    /// A character that the grammar (RFC 7235 §2.1) does not allow here.
    #[error("unexpected character {found:?} at byte {pos}: expected {expected}")]
    UnexpectedChar {
        /// Byte offset of the character.
        pos: usize,
        /// The character.
        found: char,
        /// What the parser was looking for.
        expected: &'static str,
    },
    /// A quoted-string without its closing quote.
    #[error("quoted-string starting at byte {pos} is not terminated")]
    UnterminatedQuotedString {
        /// Byte offset of the opening quote.
        pos: usize,
    },
    /// A control character inside a value (RFC 7230 §3.2.6 only allows HTAB).
    #[error("control character at byte {pos}")]
    ControlCharacter {
        /// Byte offset of the character.
        pos: usize,
    },
    /// The same parameter appears twice in one challenge or credentials
    /// (RFC 7235 §2.1: each parameter name MUST only occur once).
    #[error("parameter {name:?} appears more than once")]
    DuplicateParameter {
        /// Parameter name, lower-cased.
        name: String,
    },
    /// A parameter required by RFC 7616 §3.3 / §3.4 is missing.
    #[error("required parameter {name:?} is missing")]
    MissingParameter {
        /// Parameter name.
        name: &'static str,
    },
    /// A parameter has a value of the wrong shape.
    #[error("parameter {name:?} is invalid: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The credentials are not of the Digest scheme.
    #[error("expected the Digest authentication scheme, found {found:?}")]
    WrongScheme {
        /// The scheme that was found.
        found: String,
    },
    /// More than one set of credentials in an `Authorization` value.
    #[error("more than one set of credentials at byte {pos}")]
    TrailingCredentials {
        /// Byte offset where the second scheme starts.
        pos: usize,
    },
    /// An algorithm this crate does not implement (RFC 7616 §3.3 lists MD5, SHA-256 and
    /// SHA-512-256, each with a `-sess` variant; this crate implements MD5 and SHA-256).
    #[error("unsupported Digest algorithm {name:?}")]
    UnsupportedAlgorithm {
        /// The algorithm as received.
        name: String,
    },
    /// The qop is not `auth` (this crate does not implement `auth-int`), or the server requires
    /// a qop and the credentials have none.
    #[error("unsupported or missing qop: {found}")]
    UnsupportedQop {
        /// Description of what was found.
        found: &'static str,
    },
    /// `userhash` (RFC 7616 §3.4.4) is not supported on the server side.
    #[error("userhash credentials are not supported")]
    UserhashUnsupported,
    /// No challenge in the header value could be answered with Digest.
    #[error("no usable Digest challenge was offered")]
    NoUsableChallenge,
    /// A `-sess` algorithm needs a cnonce, which RFC 2069-style (no qop) exchanges lack.
    #[error("a -sess algorithm requires qop=auth")]
    SessionWithoutQop,
    /// A value cannot be formatted into a header (control character or invalid token).
    #[error("field {field} cannot be written into a header: {reason}")]
    Unformattable {
        /// Which field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The credentials name a different realm than this server's.
    #[error("realm mismatch: expected {expected:?}, found {found:?}")]
    RealmMismatch {
        /// The server's realm.
        expected: String,
        /// The realm in the credentials.
        found: String,
    },
    /// The credentials use an algorithm this server did not offer.
    #[error("algorithm {algorithm} was not offered by this server")]
    AlgorithmNotOffered {
        /// The algorithm used by the client.
        algorithm: digest::Algorithm,
    },
    /// The nonce was not issued by this server (bad format or bad MAC).
    #[error("nonce was not issued by this server")]
    InvalidNonce,
    /// The `uri` parameter does not match the request target (RFC 7616 §3.4.6).
    #[error("uri parameter {found:?} does not match the request target {expected:?}")]
    UriMismatch {
        /// The request target of the HTTP request.
        expected: String,
        /// The `uri` parameter of the credentials.
        found: String,
    },
    /// The username is not the expected one.
    #[error("unknown username")]
    UsernameMismatch,
    /// A stored HA1 has the wrong length for the algorithm in use.
    #[error("stored HA1 is {len} hex digits, algorithm {algorithm} needs {expected}")]
    Ha1LengthMismatch {
        /// Length of the stored HA1.
        len: usize,
        /// Length the algorithm needs.
        expected: usize,
        /// The algorithm.
        algorithm: digest::Algorithm,
    },
    /// The response does not match: wrong password (or tampered request).
    #[error("Digest response does not match")]
    BadResponse,
    /// The nonce is ours and the response is right, but the nonce expired (or was forgotten by
    /// the nonce-count tracker). Re-challenge with `stale=true` (RFC 7616 §3.3) so the client
    /// retries with the same credentials.
    #[error("nonce is stale")]
    Stale,
    /// The nonce count did not increase: a replayed `Authorization` header (RFC 7616 §3.4).
    #[error("nonce count {nc:08x} is not greater than the last accepted {last:08x}")]
    Replay {
        /// The nonce count received.
        nc: u32,
        /// The last accepted nonce count for that nonce.
        last: u32,
    },
}

/// Error from [`udp`]: building, parsing, verifying or replay-checking a TR-069 Annex G UDP
/// Connection Request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdpError {
    /// The datagram is larger than [`udp::MAX_DATAGRAM_LEN`].
    #[error("datagram is {len} bytes long, the limit is {max}")]
    TooLarge {
        /// Datagram length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The datagram is not UTF-8 text.
    #[error("datagram is not valid UTF-8")]
    NotUtf8,
    /// The header section is not terminated by CRLF.
    #[error("datagram is truncated: the header section does not end with CRLF")]
    Truncated,
    /// Annex G: the message MUST contain no message body.
    #[error("datagram carries a message body of {len} bytes")]
    BodyNotAllowed {
        /// Length of the body.
        len: usize,
    },
    /// The request line is not `METHOD SP request-target SP HTTP-version`.
    #[error("malformed request line")]
    MalformedRequestLine,
    /// Annex G: the method MUST be GET.
    #[error("method must be GET, found {found:?}")]
    WrongMethod {
        /// The method found.
        found: String,
    },
    /// Annex G: the message MUST be HTTP 1.1.
    #[error("version must be HTTP/1.1, found {found:?}")]
    WrongVersion {
        /// The version found.
        found: String,
    },
    /// Annex G: the Request-URI MUST be an absolute URI.
    #[error("request target is not an absolute http URI")]
    NotAbsoluteUri,
    /// Annex G: the scheme MUST be `http`.
    #[error("URI scheme must be http, found {found:?}")]
    UnsupportedScheme {
        /// The scheme found.
        found: String,
    },
    /// The authority is not `host[:port]`.
    #[error("invalid authority {found:?}: {reason}")]
    InvalidAuthority {
        /// The authority.
        found: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Annex G: the path MUST be empty (`/` is tolerated).
    #[error("URI path must be empty, found {found:?}")]
    NonEmptyPath {
        /// The path found.
        found: String,
    },
    /// A URI fragment is not allowed.
    #[error("URI must not contain a fragment")]
    FragmentNotAllowed,
    /// The URI has no query.
    #[error("URI has no query")]
    MissingQuery,
    /// A required query field is absent.
    #[error("query field {name:?} is missing")]
    MissingField {
        /// Field name.
        name: &'static str,
    },
    /// A query field appears more than once.
    #[error("query field {name:?} appears more than once")]
    DuplicateField {
        /// Field name.
        name: &'static str,
    },
    /// `ts` or `id` is not a canonical unsigned decimal number.
    #[error("query field {name:?} is not a canonical unsigned decimal: {value:?}")]
    InvalidNumber {
        /// Field name.
        name: &'static str,
        /// The value found.
        value: String,
    },
    /// `sig` is not 40 hexadecimal digits.
    #[error("sig must be 40 hexadecimal digits")]
    InvalidSignatureFormat,
    /// A header line is malformed (no colon, bad name, control character or obsolete folding).
    #[error("malformed header line {line}")]
    MalformedHeader {
        /// 1-based line number within the datagram (the request line is line 1).
        line: usize,
    },
    /// Annex G: if Content-Length is present its value MUST be zero.
    #[error("Content-Length must be 0, found {found:?}")]
    NonZeroContentLength {
        /// The value found.
        found: String,
    },
    /// Transfer-Encoding implies a body, which Annex G forbids.
    #[error("Transfer-Encoding is not allowed")]
    TransferEncodingNotAllowed,
    /// The username does not match `ConnectionRequestUsername`.
    #[error("username does not match")]
    WrongUsername,
    /// The signature does not match (wrong password or tampered message).
    #[error("signature does not match")]
    BadSignature,
    /// The message ID equals the last accepted one (retransmission or replay).
    #[error("message id {id} was already accepted")]
    Replay {
        /// The repeated id.
        id: u64,
    },
    /// The timestamp is not newer than the last accepted one.
    #[error("timestamp {ts} is not newer than the last accepted {last_ts}")]
    NotNewer {
        /// The timestamp received.
        ts: u64,
        /// The last accepted timestamp.
        last_ts: u64,
    },
    /// The timestamp is too far from the caller's current time.
    #[error("timestamp {ts} is outside the freshness window of {window} s around {now}")]
    OutsideWindow {
        /// The timestamp received.
        ts: u64,
        /// The caller's current time.
        now: u64,
        /// The window in seconds.
        window: u64,
    },
}

/// Block size of both SHA-1 and SHA-256, which is the HMAC key size (RFC 2104 §2).
const HMAC_BLOCK: usize = 64;

/// Derives the HMAC key block as RFC 2104 §2 does: keys longer than the block are hashed with
/// `hash`, then the key is zero-padded to the block size. Passing the full block to
/// `KeyInit::new` is exactly equivalent to HMAC with the original key, and avoids the
/// (never failing, but `Result`-typed) `new_from_slice`.
fn hmac_key_block(key: &[u8], hash: impl FnOnce(&[u8]) -> Vec<u8>) -> [u8; HMAC_BLOCK] {
    let mut block = [0u8; HMAC_BLOCK];
    let hashed;
    let source: &[u8] = if key.len() > HMAC_BLOCK {
        hashed = hash(key);
        &hashed
    } else {
        key
    };
    for (dst, src) in block.iter_mut().zip(source) {
        *dst = *src;
    }
    block
}

/// HMAC-SHA256 over the concatenation of `parts`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let block = hmac_key_block(key, |k| Sha256::digest(k).to_vec());
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA1 over the concatenation of `parts` (TR-069 Annex G signature).
fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let block = hmac_key_block(key, |k| Sha1::digest(k).to_vec());
    let mut mac = <Hmac<Sha1> as KeyInit>::new(&block.into());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time equality of two byte strings that hides their lengths too: both sides are
/// hashed with SHA-256 first, so the comparison always covers 32 bytes.
fn ct_eq_hidden_len(a: &[u8], b: &[u8]) -> subtle::Choice {
    Sha256::digest(a)
        .as_slice()
        .ct_eq(Sha256::digest(b).as_slice())
}

/// Appends `value` as an HTTP quoted-string (RFC 7230 §3.2.6), escaping `"` and `\`.
///
/// Returns `None` if the value contains a control character other than HTAB, which a
/// quoted-string cannot carry; refusing it also prevents header injection (CR/LF).
fn push_quoted(out: &mut String, value: &str) -> Option<()> {
    out.push('"');
    for c in value.chars() {
        if c.is_control() && c != '\t' {
            return None;
        }
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Some(())
}

/// `tchar` of RFC 7230 §3.2.6.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc4231_case_1() {
        let mac = hmac_sha256(&[0x0b; 20], &[b"Hi ", b"There"]);
        assert_eq!(
            hex::encode(mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn hmac_sha256_matches_rfc4231_case_6_long_key() {
        let mac = hmac_sha256(
            &[0xaa; 131],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn hmac_sha1_matches_rfc2202_case_1() {
        let mac = hmac_sha1(&[0x0b; 20], &[b"Hi There"]);
        assert_eq!(hex::encode(mac), "b617318655057264e28bc0b6fb378c8ef146be00");
    }

    #[test]
    fn hmac_sha1_matches_rfc2202_case_6_long_key() {
        let mac = hmac_sha1(
            &[0xaa; 80],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(hex::encode(mac), "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    }

    #[test]
    fn hidden_length_comparison() {
        assert!(bool::from(ct_eq_hidden_len(b"abc", b"abc")));
        assert!(!bool::from(ct_eq_hidden_len(b"abc", b"abcd")));
        assert!(!bool::from(ct_eq_hidden_len(b"", b"a")));
    }

    #[test]
    fn quoting_escapes_and_rejects_controls() {
        let mut s = String::new();
        assert_eq!(push_quoted(&mut s, "a\"b\\c\td"), Some(()));
        assert_eq!(s, "\"a\\\"b\\\\c\td\"");
        assert_eq!(push_quoted(&mut String::new(), "a\r\nb"), None);
    }
}
