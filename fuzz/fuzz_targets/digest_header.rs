//! The HTTP authentication header parsers (Digest challenges and credentials, Basic
//! credentials): never panic, and what they parse formats and parses back to the same thing.
#![no_main]

use cwmp::auth::basic::BasicCredentials;
use cwmp::auth::digest::{self, Challenge, DigestCredentials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(challenges) = digest::parse_challenges(text) {
        for challenge in challenges {
            if let Challenge::Digest(c) = challenge
                && let Ok(value) = c.to_header_value()
            {
                let again = digest::parse_challenges(&value).expect("formatted challenge parses");
                assert_eq!(again, vec![Challenge::Digest(c)], "{value}");
            }
        }
    }
    if let Ok(credentials) = DigestCredentials::parse(text)
        && let Ok(value) = credentials.to_header_value()
    {
        let again = DigestCredentials::parse(&value).expect("formatted credentials parse");
        assert_eq!(again, credentials, "{value}");
    }
    if let Ok(credentials) = BasicCredentials::parse(text)
        && let Ok(value) = credentials.to_header_value()
    {
        let again = BasicCredentials::parse(&value).expect("formatted Basic credentials parse");
        assert_eq!(again, credentials, "{value}");
    }
});
