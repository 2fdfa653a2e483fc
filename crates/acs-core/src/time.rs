//! Time as the domain sees it: milliseconds since the Unix epoch, passed in by the caller.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (UTC).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The epoch; also "never" for timestamps of data never read.
    pub const ZERO: Timestamp = Timestamp(0);

    /// From milliseconds.
    pub const fn from_millis(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This time plus `ms` milliseconds, saturating.
    pub const fn plus_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// This time plus `s` seconds, saturating.
    pub const fn plus_secs(self, s: i64) -> Timestamp {
        self.plus_millis(s.saturating_mul(1000))
    }

    /// As an `xsd:dateTime`, for JSON output (`2024-05-01T12:00:00.000Z`).
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(1000);
        let ms = self.0.rem_euclid(1000);
        match cwmp::DateTime::from_unix_timestamp(secs) {
            Some(t) => {
                let s = t.to_string();
                let base = s.strip_suffix('Z').unwrap_or(&s);
                format!("{base}.{ms:03}Z")
            }
            None => String::new(),
        }
    }

    /// From a CWMP `dateTime`.
    pub fn from_datetime(t: cwmp::DateTime) -> Timestamp {
        Timestamp(
            t.unix_timestamp()
                .saturating_mul(1000)
                .saturating_add(i64::from(t.nanosecond() / 1_000_000)),
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds() {
        assert_eq!(
            Timestamp(1_714_564_800_123).to_rfc3339(),
            "2024-05-01T12:00:00.123Z"
        );
        let t = cwmp::DateTime::parse("2024-05-01T12:00:00.5Z").unwrap();
        assert_eq!(Timestamp::from_datetime(t), Timestamp(1_714_564_800_500));
    }
}
