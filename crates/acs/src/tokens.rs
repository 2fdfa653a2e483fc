//! API tokens: random secrets shown once, stored only as SHA-256 hashes.
//!
//! A token is `acs_` followed by 32 random bytes in base64url without padding (47
//! characters). The store keeps its hex SHA-256 and the name given at creation; a request
//! presents the token as `Authorization: Bearer <token>`. The secret has 256 bits of
//! entropy, so a plain (unsalted, fast) hash is enough: the lookup by hash reveals nothing
//! usable about other tokens.

use acs_core::Timestamp;
use acs_store::{Store, TokenRecord};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// The prefix of every token (recognisable in logs and by secret scanners).
pub const PREFIX: &str = "acs_";

/// The name of the token created on first start.
pub const ADMIN: &str = "admin";

/// Longest `Authorization` value looked at; anything longer is not a token of ours.
const MAX_AUTHORIZATION_LEN: usize = 1024;

/// A new random token.
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a token: hex SHA-256.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates and stores a token named `name`; returns the secret (shown once).
pub async fn create<S: Store>(store: &S, name: &str, now: Timestamp) -> acs_store::Result<String> {
    let token = generate();
    store
        .insert_token(TokenRecord {
            name: name.to_owned(),
            hash: hash(&token),
            created: now,
        })
        .await?;
    Ok(token)
}

/// On first start (no token stored), creates the `admin` token and returns its secret.
/// Of several nodes starting together on a new shared database, one does (the one whose
/// claim of the once-only job `admin_token` wins; should it die before creating the token,
/// `acs token create` makes one).
pub async fn ensure_admin<S: Store>(
    store: &S,
    node: &str,
    now: Timestamp,
) -> acs_store::Result<Option<String>> {
    if store.token_count().await? > 0
        || !store
            .claim_job("admin_token", node, now, Timestamp::from_millis(i64::MAX))
            .await?
    {
        return Ok(None);
    }
    create(store, ADMIN, now).await.map(Some)
}

/// The token of an `Authorization` value `Bearer <token>`: the scheme is case-insensitive,
/// spaces and tabs around and between are tolerated. `None` for anything else.
pub fn parse_bearer(authorization: &str) -> Option<&str> {
    if authorization.len() > MAX_AUTHORIZATION_LEN {
        return None;
    }
    let value = authorization.trim_matches([' ', '\t']);
    let (scheme, token) = value.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_matches([' ', '\t']);
    // RFC 6750 §2.1 b64token characters only.
    let valid = !token.is_empty()
        && token.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
        });
    valid.then_some(token)
}

/// The name of the token an `Authorization: Bearer ...` value carries, if valid.
pub async fn authenticate<S: Store>(
    store: &S,
    authorization: &str,
) -> acs_store::Result<Option<String>> {
    let Some(token) = parse_bearer(authorization) else {
        return Ok(None);
    };
    store.token_by_hash(&hash(token)).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_base64url() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), PREFIX.len() + 43);
        let body = a.strip_prefix(PREFIX).unwrap();
        assert!(
            body.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
        assert_eq!(parse_bearer(&format!("Bearer {a}")), Some(a.as_str()));
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = generate();
        assert_eq!(hash(&t), hash(&t));
        assert_ne!(hash(&t), hash(&generate()));
    }

    #[test]
    fn bearer_values_parse() {
        for (value, want) in [
            ("Bearer acs_abc", Some("acs_abc")),
            ("bearer acs_abc", Some("acs_abc")),
            ("BEARER acs_abc", Some("acs_abc")),
            ("  Bearer \t acs_abc \t ", Some("acs_abc")),
            ("Bearer abc.def~+/=", Some("abc.def~+/=")),
            ("", None),
            ("Bearer", None),
            ("Bearer ", None),
            ("Bearer    ", None),
            ("acs_abc", None),
            ("Basic acs_abc", None),
            ("Bearerx acs_abc", None),
            ("Bearer acs abc", None),
            ("Bearer acs_\u{e9}", None),
            ("Bearer acs_abc\r\n", None),
            ("Bearer \"acs_abc\"", None),
        ] {
            assert_eq!(parse_bearer(value), want, "{value:?}");
        }
        let long = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_LEN));
        assert_eq!(parse_bearer(&long), None);
    }

    #[tokio::test]
    async fn admin_token_on_first_start_then_authentication() {
        use acs_store::sqlite::{SqliteOptions, SqliteStore};
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(&dir.path().join("acs.db"), SqliteOptions::default()).unwrap();
        let now = Timestamp::from_millis(1_700_000_000_000);

        let admin = ensure_admin(&store, "node", now).await.unwrap().unwrap();
        assert!(admin.starts_with(PREFIX));
        assert_eq!(ensure_admin(&store, "node", now).await.unwrap(), None);
        assert_eq!(store.token_count().await.unwrap(), 1);

        let other = create(&store, "ci", now).await.unwrap();
        assert_eq!(store.token_count().await.unwrap(), 2);
        assert_eq!(
            authenticate(&store, &format!("Bearer {admin}"))
                .await
                .unwrap()
                .as_deref(),
            Some(ADMIN)
        );
        assert_eq!(
            authenticate(&store, &format!(" bearer  {other} "))
                .await
                .unwrap()
                .as_deref(),
            Some("ci")
        );
        // The secret itself is not stored: its hash is not a token.
        assert_eq!(
            authenticate(&store, &format!("Bearer {}", hash(&admin)))
                .await
                .unwrap(),
            None
        );
        for bad in ["", "Bearer", "Bearer acs_unknown", "Basic YTpi", &admin] {
            assert_eq!(authenticate(&store, bad).await.unwrap(), None, "{bad:?}");
        }
    }
}
