//! What the SQLite and PostgreSQL stores share: the filter compiler (with the dialect
//! differences), the interned path map, the queries of the task and fault lists, and the
//! rendering of rows as the NBI shows them.

pub(crate) mod filter;
pub(crate) mod lists;
pub(crate) mod paths;
pub(crate) mod render;
pub(crate) mod statements;

use std::sync::atomic::{AtomicU64, Ordering};

use acs_core::DeviceId;
use serde_json::Value;

use crate::{Result, StoreError};

pub(crate) fn stored_device_id(s: &str) -> Result<DeviceId> {
    DeviceId::parse(s).map_err(|e| StoreError::Database(format!("stored device id: {e}")))
}

pub(crate) fn json_text(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Database(format!("cannot encode JSON: {e}")))
}

/// Stored JSON text as JSON (as a string if it does not parse).
pub(crate) fn json_or_string(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// A count from SQL.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The task id of a task fault channel (`task_<id>`).
pub(crate) fn channel_task(channel: &str) -> Option<acs_core::task::TaskId> {
    channel.strip_prefix("task_")?.parse().ok()
}

/// What a store's writer has done since the store was opened, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed.
    pub transactions: u64,
    /// Calls committed (`commit` and the other writes): `calls / transactions` is the mean
    /// group size.
    pub calls: u64,
    /// Calls that failed (rolled back alone, or with their whole group).
    pub failed: u64,
    /// Event rows pruned after their retention.
    pub events_pruned: u64,
}

/// The writer's live counters behind [`WriterStats`].
#[derive(Debug, Default)]
pub(crate) struct WriterCounters {
    pub(crate) transactions: AtomicU64,
    pub(crate) calls: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) events_pruned: AtomicU64,
}

impl WriterCounters {
    pub(crate) fn snapshot(&self) -> WriterStats {
        WriterStats {
            transactions: self.transactions.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            events_pruned: self.events_pruned.load(Ordering::Relaxed),
        }
    }
}
