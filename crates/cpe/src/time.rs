//! Time as the agent sees it: milliseconds since the Unix epoch, passed in by the caller.

use serde::{Deserialize, Serialize};

/// A point in time: milliseconds since 1970-01-01T00:00:00Z.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Time(pub u64);

impl Time {
    /// `ms` milliseconds later (saturating).
    pub fn plus_millis(self, ms: u64) -> Time {
        Time(self.0.saturating_add(ms))
    }

    /// `s` seconds later (saturating).
    pub fn plus_secs(self, s: u64) -> Time {
        self.plus_millis(s.saturating_mul(1000))
    }

    /// Milliseconds from `earlier` to `self`, 0 if `earlier` is later.
    pub fn millis_since(self, earlier: Time) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Whole seconds since the epoch.
    pub fn unix_secs(self) -> i64 {
        i64::try_from(self.0 / 1000).unwrap_or(i64::MAX)
    }

    /// This time as a CWMP dateTime (UTC, millisecond precision dropped).
    pub fn to_datetime(self) -> cwmp::DateTime {
        cwmp::DateTime::from_unix_timestamp(self.unix_secs()).unwrap_or(cwmp::DateTime::UNKNOWN)
    }
}
