//! HTTP Basic authentication (RFC 7617) for CWMP.
//!
//! TR-069 §3.4.4: when TLS is used only for encryption the ACS SHOULD authenticate the CPE with
//! Basic; the CPE MUST support Basic and SHOULD send it pre-emptively over TLS. Basic sends the
//! password in clear, so it must never be offered over plain HTTP (notes §7.3 item 6); that
//! policy belongs to the caller, this module only handles the header values.
//!
//! Credentials are `base64(user-id ":" password)`, decoded as UTF-8 (RFC 7617 §2.1). The
//! user-id cannot contain `:`; the password may. Control characters are rejected in both
//! (RFC 7617 §2).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use std::fmt;

pub use super::BasicError;

/// Longest `Authorization` / `WWW-Authenticate` value accepted, in bytes. Bounds the work done
/// on hostile input; real Basic credentials are far shorter (TR-181 limits usernames and
/// passwords to 256 characters).
pub const MAX_HEADER_LEN: usize = 8192;

/// A user-id and password pair, as carried by `Authorization: Basic`.
///
/// The `Debug` output redacts the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The user-id. Never contains `:` when produced by [`BasicCredentials::parse`].
    pub username: String,
    /// The password (may contain `:`).
    pub password: String,
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl BasicCredentials {
    /// Creates credentials, checking that they can be encoded: the user-id must not contain
    /// `:` and neither field may contain control characters (RFC 7617 §2).
    pub fn new(
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, BasicError> {
        let credentials = Self {
            username: username.into(),
            password: password.into(),
        };
        credentials.validate()?;
        Ok(credentials)
    }

    fn validate(&self) -> Result<(), BasicError> {
        if self.username.contains(':') {
            return Err(BasicError::ColonInUsername);
        }
        if self.username.chars().any(char::is_control) {
            return Err(BasicError::ControlCharacter { field: "user-id" });
        }
        if self.password.chars().any(char::is_control) {
            return Err(BasicError::ControlCharacter { field: "password" });
        }
        Ok(())
    }

    /// Parses an `Authorization` header value such as `Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==`.
    ///
    /// The scheme name is case-insensitive (RFC 7235 §2.1); surrounding whitespace is ignored;
    /// base64 padding is optional. The password is everything after the first `:`.
    pub fn parse(header_value: &str) -> Result<Self, BasicError> {
        if header_value.len() > MAX_HEADER_LEN {
            return Err(BasicError::TooLong {
                len: header_value.len(),
                max: MAX_HEADER_LEN,
            });
        }
        let value = header_value.trim_matches([' ', '\t']);
        let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(BasicError::WrongScheme {
                found: scheme.to_owned(),
            });
        }
        let encoded = rest.trim_matches([' ', '\t']);
        if encoded.is_empty() {
            return Err(BasicError::MissingCredentials);
        }
        let decoded =
            STANDARD_PAD_INDIFFERENT
                .decode(encoded)
                .map_err(|e| BasicError::InvalidBase64 {
                    reason: e.to_string(),
                })?;
        let text = String::from_utf8(decoded).map_err(|_| BasicError::NotUtf8)?;
        let (username, password) = text.split_once(':').ok_or(BasicError::MissingColon)?;
        let credentials = Self {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        credentials.validate()?;
        Ok(credentials)
    }

    /// Formats the `Authorization` header value: `Basic <base64(user-id:password)>`.
    pub fn to_header_value(&self) -> Result<String, BasicError> {
        self.validate()?;
        let plain = format!("{}:{}", self.username, self.password);
        Ok(format!("Basic {}", STANDARD.encode(plain)))
    }

    /// Compares with the expected credentials in constant time. Both fields are always
    /// compared (no short-circuit) and their lengths are not revealed (SHA-256 is applied to
    /// both sides first), so timing tells an attacker nothing (notes §7.3 item 6).
    pub fn matches(&self, username: &str, password: &str) -> bool {
        let user_ok = super::ct_eq_hidden_len(self.username.as_bytes(), username.as_bytes());
        let pass_ok = super::ct_eq_hidden_len(self.password.as_bytes(), password.as_bytes());
        bool::from(user_ok & pass_ok)
    }
}

/// Builds an `Authorization` header value for `username` / `password`.
pub fn authorization(username: &str, password: &str) -> Result<String, BasicError> {
    BasicCredentials::new(username, password)?.to_header_value()
}

/// Builds a `WWW-Authenticate` challenge value: `Basic realm="<realm>"`.
///
/// The realm is written as a quoted-string with `"` and `\` escaped. No `charset` parameter is
/// sent (RFC 7617 §2.1 makes it optional) because some embedded HTTP clients mis-parse extra
/// parameters; credentials are still decoded as UTF-8.
pub fn challenge(realm: &str) -> Result<String, BasicError> {
    let mut out = String::from("Basic realm=");
    super::push_quoted(&mut out, realm).ok_or(BasicError::ControlCharacter { field: "realm" })?;
    Ok(out)
}

/// Parses `header_value` and checks it against the expected credentials in constant time.
///
/// Returns [`BasicError::BadCredentials`] on a mismatch, or the parse error.
pub fn verify(header_value: &str, username: &str, password: &str) -> Result<(), BasicError> {
    let credentials = BasicCredentials::parse(header_value)?;
    if credentials.matches(username, password) {
        Ok(())
    } else {
        Err(BasicError::BadCredentials)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc7617_example() {
        assert_eq!(
            authorization("Aladdin", "open sesame").unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        let c = BasicCredentials::parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==").unwrap();
        assert_eq!(c.username, "Aladdin");
        assert_eq!(c.password, "open sesame");
    }

    #[test]
    fn scheme_case_whitespace_and_padding_are_tolerated() {
        for v in [
            "basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
            "  BASIC \t QWxhZGRpbjpvcGVuIHNlc2FtZQ  ",
        ] {
            let c = BasicCredentials::parse(v).unwrap();
            assert_eq!(
                (c.username.as_str(), c.password.as_str()),
                ("Aladdin", "open sesame")
            );
        }
    }

    #[test]
    fn password_may_contain_colons_and_be_empty() {
        let h = authorization("cpe", "a:b::c").unwrap();
        let c = BasicCredentials::parse(&h).unwrap();
        assert_eq!(c.password, "a:b::c");
        let c = BasicCredentials::parse(&authorization("cpe", "").unwrap()).unwrap();
        assert_eq!(c.password, "");
    }

    #[test]
    fn utf8_credentials_round_trip() {
        // RFC 7617 §2.1 example user "test" / password "123£".
        let h = authorization("test", "123\u{a3}").unwrap();
        assert_eq!(h, "Basic dGVzdDoxMjPCow==");
        assert!(verify(&h, "test", "123\u{a3}").is_ok());
    }

    #[test]
    fn errors_are_typed() {
        assert!(matches!(
            BasicCredentials::parse("Digest abc"),
            Err(BasicError::WrongScheme { found }) if found == "Digest"
        ));
        assert_eq!(
            BasicCredentials::parse("Basic"),
            Err(BasicError::MissingCredentials)
        );
        assert_eq!(
            BasicCredentials::parse("Basic   "),
            Err(BasicError::MissingCredentials)
        );
        assert!(matches!(
            BasicCredentials::parse("Basic !!!!"),
            Err(BasicError::InvalidBase64 { .. })
        ));
        assert!(matches!(
            BasicCredentials::parse("Basic QWxh ZGRp"),
            Err(BasicError::InvalidBase64 { .. })
        ));
        // base64 of [0xff, 0xfe, b':', b'x']
        assert_eq!(
            BasicCredentials::parse("Basic //46eA=="),
            Err(BasicError::NotUtf8)
        );
        // base64 of "nocolon"
        assert_eq!(
            BasicCredentials::parse("Basic bm9jb2xvbg=="),
            Err(BasicError::MissingColon)
        );
        // base64 of "a\nb:c"
        assert_eq!(
            BasicCredentials::parse("Basic YQpiOmM="),
            Err(BasicError::ControlCharacter { field: "user-id" })
        );
        assert_eq!(authorization("a:b", "c"), Err(BasicError::ColonInUsername));
        assert_eq!(
            authorization("a", "c\r\n"),
            Err(BasicError::ControlCharacter { field: "password" })
        );
        let long = format!("Basic {}", "A".repeat(MAX_HEADER_LEN));
        assert!(matches!(
            BasicCredentials::parse(&long),
            Err(BasicError::TooLong { .. })
        ));
    }

    #[test]
    fn challenge_quotes_realm() {
        assert_eq!(challenge("CWMP").unwrap(), "Basic realm=\"CWMP\"");
        assert_eq!(challenge("a\"b\\").unwrap(), "Basic realm=\"a\\\"b\\\\\"");
        assert_eq!(
            challenge("a\r\nSet-Cookie: x"),
            Err(BasicError::ControlCharacter { field: "realm" })
        );
    }

    #[test]
    fn verification_is_exact() {
        let h = authorization("cpe", "pw").unwrap();
        assert!(verify(&h, "cpe", "pw").is_ok());
        assert_eq!(verify(&h, "cpe", "pw2"), Err(BasicError::BadCredentials));
        assert_eq!(verify(&h, "CPE", "pw"), Err(BasicError::BadCredentials));
        assert_eq!(verify(&h, "cpe", ""), Err(BasicError::BadCredentials));
    }

    #[test]
    fn debug_redacts_password() {
        let c = BasicCredentials::new("u", "hunter2").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    proptest! {
        #[test]
        fn round_trip(user in "[^:\\p{Cc}]{0,40}", pass in "[^\\p{Cc}]{0,40}") {
            let h = authorization(&user, &pass).unwrap();
            let c = BasicCredentials::parse(&h).unwrap();
            prop_assert_eq!(c.username, user);
            prop_assert_eq!(c.password, pass);
        }

        #[test]
        fn parse_never_panics(s in ".{0,200}") {
            let _ = BasicCredentials::parse(&s);
            let _ = BasicCredentials::parse(&format!("Basic {s}"));
        }
    }
}
