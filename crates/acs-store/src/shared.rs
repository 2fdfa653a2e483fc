//! What the SQLite and PostgreSQL stores share: the filter compiler (with the dialect
//! differences), the interned path map, the queries of the task and fault lists, and the
//! rendering of rows as the NBI shows them.

pub(crate) mod filter;
pub(crate) mod inform;
pub(crate) mod lists;
pub(crate) mod paths;
pub(crate) mod provisioning;
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

/// An Inform's events as `events.codes` holds them, `[[code, command key], ...]`: one
/// format that both stores write and the API reads back.
pub(crate) fn event_codes_json(inform: &acs_core::change::InformRecord) -> Result<String> {
    let codes: Vec<[&str; 2]> = inform
        .events
        .iter()
        .map(|e| [e.code.as_str(), e.command_key.as_str()])
        .collect();
    json_text(&codes)
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
    /// Informs written with others of their group, a statement per table for all
    /// (PostgreSQL).
    pub informs_batched: u64,
    /// Device summaries answered from memory (SQLite).
    pub summary_hits: u64,
    /// Device summaries the SQLite store did not hold and read from the database.
    pub summary_misses: u64,
    /// WAL checkpoints run, and those that failed (SQLite).
    pub checkpoints: u64,
    /// See [`WriterStats::checkpoints`].
    pub checkpoint_failures: u64,
    /// Frames in the WAL after the last commit (SQLite).
    pub wal_frames: u64,
}

/// The writer's live counters behind [`WriterStats`].
#[derive(Debug, Default)]
pub(crate) struct WriterCounters {
    pub(crate) transactions: AtomicU64,
    pub(crate) calls: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) events_pruned: AtomicU64,
    pub(crate) informs_batched: AtomicU64,
    pub(crate) summary_hits: AtomicU64,
    pub(crate) summary_misses: AtomicU64,
    pub(crate) checkpoints: AtomicU64,
    pub(crate) checkpoint_failures: AtomicU64,
    pub(crate) wal_frames: AtomicU64,
}

impl WriterCounters {
    pub(crate) fn snapshot(&self) -> WriterStats {
        WriterStats {
            transactions: self.transactions.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            events_pruned: self.events_pruned.load(Ordering::Relaxed),
            informs_batched: self.informs_batched.load(Ordering::Relaxed),
            summary_hits: self.summary_hits.load(Ordering::Relaxed),
            summary_misses: self.summary_misses.load(Ordering::Relaxed),
            checkpoints: self.checkpoints.load(Ordering::Relaxed),
            checkpoint_failures: self.checkpoint_failures.load(Ordering::Relaxed),
            wal_frames: self.wal_frames.load(Ordering::Relaxed),
        }
    }
}

/// When a store's writer prunes events past their retention: one chunk after a group, at
/// most hourly once caught up, chunk after chunk while behind. The clock is the latest
/// Inform time written, not the wall clock, so a store replaying old data prunes by it.
#[derive(Debug)]
pub(crate) struct EventPruning {
    retention_ms: Option<i64>,
    latest_inform: i64,
    last_prune: Option<i64>,
    behind: bool,
}

impl EventPruning {
    /// Event rows deleted per prune step (a step runs after a group, in its own
    /// transaction).
    pub(crate) const CHUNK: i64 = 10_000;
    /// Pruning starts at most this often once caught up.
    const INTERVAL_MS: i64 = 3_600_000;

    /// Events kept `retention_days` days; 0: events are not recorded at all.
    pub(crate) fn new(retention_days: u32) -> EventPruning {
        EventPruning {
            retention_ms: (retention_days > 0).then(|| i64::from(retention_days) * 86_400_000),
            latest_inform: 0,
            last_prune: None,
            behind: false,
        }
    }

    /// Whether Inform events are recorded.
    pub(crate) fn records_events(&self) -> bool {
        self.retention_ms.is_some()
    }

    /// An Inform of time `at` (ms) was written.
    pub(crate) fn saw_inform(&mut self, at: i64) {
        self.latest_inform = self.latest_inform.max(at);
    }

    /// The cutoff (ms) of the prune step due now, if one is.
    pub(crate) fn due(&self) -> Option<i64> {
        let retention = self.retention_ms?;
        if self.latest_inform == 0 {
            return None;
        }
        let due = self.behind
            || self
                .last_prune
                .is_none_or(|t| self.latest_inform.saturating_sub(t) >= Self::INTERVAL_MS);
        due.then(|| self.latest_inform.saturating_sub(retention))
    }

    /// The step deleted `deleted` rows, or failed (`None`: tried again at the next
    /// interval).
    pub(crate) fn done(&mut self, deleted: Option<u64>) {
        self.behind = deleted.is_some_and(|n| i64::try_from(n).unwrap_or(i64::MAX) >= Self::CHUNK);
        if !self.behind {
            self.last_prune = Some(self.latest_inform);
        }
    }
}
