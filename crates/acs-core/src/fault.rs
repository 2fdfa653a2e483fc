//! Device faults: what went wrong with a device, in which channel, how often, and when to
//! try again.

use serde::{Deserialize, Serialize};

use crate::id::DeviceId;
use crate::time::Timestamp;

/// A fault, as GenieACS records one: a code (`cwmp.9005` for CPE fault 9005), a message,
/// details, when, and how many times the work was retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// `cwmp.<FaultCode>` for CWMP faults, or a word such as `timeout`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// More, e.g. the SetParameterValuesFault entries.
    pub detail: Option<serde_json::Value>,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Retries done so far.
    pub retries: u32,
}

/// The channel of a task's faults (`task_<id>`), as in GenieACS.
pub fn task_channel(task: i64) -> String {
    format!("task_{task}")
}

/// A fault's id in the API: `<device>:<channel>`.
pub fn fault_id(device: &DeviceId, channel: &str) -> String {
    format!("{device}:{channel}")
}

/// When to retry after a fault: exponential back-off from `base_secs`, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Delay after the first fault, in seconds.
    pub base_secs: i64,
    /// Longest delay, in seconds.
    pub max_secs: i64,
}

impl Default for RetryPolicy {
    /// 5 minutes, doubling, up to 1 day.
    fn default() -> Self {
        RetryPolicy {
            base_secs: 300,
            max_secs: 86_400,
        }
    }
}

impl RetryPolicy {
    /// The earliest time to retry after the `retries`-th retry failed (0: first fault).
    pub fn next_attempt(&self, now: Timestamp, retries: u32) -> Timestamp {
        let delay = self
            .base_secs
            .saturating_mul(1i64 << retries.min(30))
            .min(self.max_secs);
        now.plus_secs(delay.max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            base_secs: 60,
            max_secs: 3600,
        };
        let t = Timestamp(0);
        assert_eq!(p.next_attempt(t, 0), Timestamp(60_000));
        assert_eq!(p.next_attempt(t, 2), Timestamp(240_000));
        assert_eq!(p.next_attempt(t, 40), Timestamp(3_600_000));
    }
}
