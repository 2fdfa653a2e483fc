//! Client-side HTTP authentication state shared by the ACS client and file transfers: which
//! scheme answers the server's challenge, and the `Authorization` value of each request.
//!
//! TR-069 §3.4.4–3.4.5 (notes §3.2): the CPE MUST support Basic and Digest (qop `auth`, MD5
//! and MD5-sess; SHA-256 is answered too, through `cwmp::auth::digest`), uses a fresh cnonce
//! per challenge, and SHOULD keep sending `Authorization` on the later requests of the
//! connection. Digest wins when a server offers both, since it does not reveal the password.

use cwmp::auth::{basic, digest};
use http::HeaderMap;
use http::HeaderValue;
use http::header::WWW_AUTHENTICATE;

/// The scheme in use, with what each request needs.
#[derive(Debug, Clone)]
enum Active {
    /// The same header on every request.
    Basic(HeaderValue),
    /// Digest: one challenge, one cnonce, an increasing nonce count (RFC 7616 §3.4).
    Digest {
        challenge: Box<digest::DigestChallenge>,
        cnonce: String,
        /// The count of the last request sent with this nonce.
        nc: u32,
    },
}

/// What an answered challenge was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answered {
    /// A Digest challenge with `stale=true` (RFC 7616 §3.3): the previous credentials were
    /// right, only the nonce expired.
    pub stale: bool,
}

/// Authentication state of one session or transfer.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientAuth {
    active: Option<Active>,
}

impl ClientAuth {
    /// Basic on every request from the start (TR-069 §3.4.4: over TLS the CPE SHOULD send
    /// Basic credentials pre-emptively).
    pub(crate) fn preemptive_basic(username: &str, password: &str) -> Result<ClientAuth, String> {
        let value = basic_header(username, password)?;
        Ok(ClientAuth {
            active: Some(Active::Basic(value)),
        })
    }

    /// Takes the challenges of a 401 and picks the scheme for the next requests: Digest with
    /// `preference` among the Digest challenges, else Basic. Errors when nothing offered can
    /// be answered.
    pub(crate) fn answer(
        &mut self,
        headers: &HeaderMap,
        username: &str,
        password: &str,
        preference: digest::AlgorithmPreference,
    ) -> Result<Answered, String> {
        let mut challenges = Vec::new();
        for value in headers.get_all(WWW_AUTHENTICATE) {
            // A line that does not parse is skipped; another line may still be usable.
            if let Ok(Ok(mut parsed)) = value.to_str().map(digest::parse_challenges) {
                challenges.append(&mut parsed);
            }
        }
        match digest::select_challenge(&challenges, preference) {
            Ok(challenge) => {
                let stale = challenge.stale;
                self.active = Some(Active::Digest {
                    challenge: Box::new(challenge.clone()),
                    cnonce: hex::encode(rand::random::<[u8; 16]>()),
                    nc: 0,
                });
                Ok(Answered { stale })
            }
            Err(digest_error) => {
                if challenges
                    .iter()
                    .any(|c| matches!(c, digest::Challenge::Basic { .. }))
                {
                    self.active = Some(Active::Basic(basic_header(username, password)?));
                    Ok(Answered { stale: false })
                } else if challenges.is_empty() {
                    Err("401 without a challenge that parses".to_owned())
                } else {
                    Err(format!("no usable challenge: {digest_error}"))
                }
            }
        }
    }

    /// The `Authorization` value for the next request, if any. Each Digest call uses the next
    /// nonce count.
    pub(crate) fn header(
        &mut self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
    ) -> Result<Option<HeaderValue>, String> {
        match &mut self.active {
            None => Ok(None),
            Some(Active::Basic(value)) => Ok(Some(value.clone())),
            Some(Active::Digest {
                challenge,
                cnonce,
                nc,
            }) => {
                *nc = nc.checked_add(1).ok_or("nonce count exhausted")?;
                let credentials = challenge
                    .respond(&digest::DigestRequest {
                        username,
                        password,
                        method,
                        uri,
                        cnonce,
                        nc: *nc,
                    })
                    .map_err(|e| e.to_string())?;
                let value = credentials.to_header_value().map_err(|e| e.to_string())?;
                HeaderValue::try_from(value)
                    .map(Some)
                    .map_err(|_| "credentials cannot go into a header".to_owned())
            }
        }
    }
}

fn basic_header(username: &str, password: &str) -> Result<HeaderValue, String> {
    let value = basic::authorization(username, password).map_err(|e| e.to_string())?;
    let mut value =
        HeaderValue::try_from(value).map_err(|_| "credentials cannot go into a header")?;
    value.set_sensitive(true);
    Ok(value)
}
