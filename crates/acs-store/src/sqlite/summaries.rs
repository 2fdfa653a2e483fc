//! Device summaries kept in memory, so that a session starts without a database read.
//!
//! Every session begins with its device's summary (`Store::device_summary`): its tags,
//! whether it has tasks, transfers or faults, its boot times. On SQLite one process owns
//! the database and every write goes through its one writer thread, so the writer can keep
//! the summaries it holds current: after each group commit, and before it answers that
//! group's callers, it applies what the group changed ([`Effect`]). A periodic Inform
//! moves the summary's times in place; anything else that concerns a device drops the
//! device's entry, and a write whose devices are not known drops them all. The next read
//! of a dropped entry goes to the database again, and keeps what it read unless a commit
//! changed summaries meanwhile (the epoch), since its snapshot may predate that commit.
//!
//! What it saves: a reader-thread round trip per session; periodic sessions took 15%
//! less of the ACS's CPU without it (BENCHMARKS.md). The cache is bounded
//! (`SqliteOptions::summary_cache_entries`, about 300 bytes an entry); a device not held is
//! read from the database as before.

use std::sync::{Mutex, PoisonError};

use acs_core::change::Change;
use acs_core::{DeviceId, Timestamp};
use quick_cache::sync::Cache;

use crate::DeviceSummary;

/// What a committed write did to summaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// An Inform of the device, at `at`: its times move; a bootstrap also forgets the
    /// connection-request credentials (as `apply::inform` does to the row).
    Informed {
        device: DeviceId,
        at: Timestamp,
        boot: bool,
        bootstrap: bool,
    },
    /// Something else of the device's summary may have changed.
    Touched(DeviceId),
    /// The write may have changed any device's summary.
    All,
}

impl Effect {
    /// What a committed change does to summaries, if anything.
    pub(crate) fn of(change: &Change) -> Option<Effect> {
        match change {
            Change::Inform(i) => Some(Effect::Informed {
                device: i.device.clone(),
                at: i.at,
                boot: i.boot,
                bootstrap: i.bootstrap,
            }),
            // Parameters and a task's progress are no part of a summary.
            Change::Params { .. } | Change::DeleteParams { .. } | Change::TaskProgress { .. } => {
                None
            }
            other => Some(
                other
                    .device()
                    .map_or(Effect::All, |d| Effect::Touched(d.clone())),
            ),
        }
    }
}

/// The cache.
#[derive(Debug)]
pub(crate) struct Summaries {
    /// `None` when the cache is off (no entries allowed).
    entries: Option<Cache<DeviceId, DeviceSummary>>,
    /// Counts the commits that changed summaries; taken by every change of `entries`
    /// other than a lookup, so that a read from the database is kept only if no such
    /// commit came between its start and its end.
    epoch: Mutex<u64>,
}

/// A summary to read from the database: `keep` it with the epoch it was asked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Miss(u64);

impl Summaries {
    pub(crate) fn new(capacity: usize) -> Summaries {
        Summaries {
            entries: (capacity > 0).then(|| Cache::new(capacity)),
            epoch: Mutex::new(0),
        }
    }

    /// The device's summary if held; else what to `keep` the database's answer with.
    pub(crate) fn get(&self, device: &DeviceId) -> Result<DeviceSummary, Miss> {
        if let Some(summary) = self.entries.as_ref().and_then(|e| e.get(device)) {
            return Ok(summary);
        }
        Err(Miss(*self.epoch()))
    }

    /// Keeps a summary read from the database after `miss`, unless a commit changed
    /// summaries since (the read may have seen the database before it).
    pub(crate) fn keep(&self, miss: Miss, summary: &DeviceSummary) {
        let epoch = self.epoch();
        if let Some(entries) = &self.entries
            && *epoch == miss.0
        {
            entries.insert(summary.device.clone(), summary.clone());
        }
    }

    /// Applies a committed group's effects. Called by the writer after the commit and
    /// before it answers the group's callers.
    pub(crate) fn apply(&self, effects: &[Effect]) {
        if effects.is_empty() {
            return;
        }
        let mut epoch = self.epoch();
        *epoch += 1;
        let Some(entries) = &self.entries else {
            return;
        };
        for effect in effects {
            match effect {
                Effect::Informed {
                    device,
                    at,
                    boot,
                    bootstrap,
                } => {
                    if let Some(mut s) = entries.peek(device) {
                        s.last_inform = Some(*at);
                        if *boot {
                            s.last_boot = Some(*at);
                        }
                        if *bootstrap {
                            s.last_bootstrap = Some(*at);
                            s.cr_credentials = None;
                        }
                        let _ = entries.replace(device.clone(), s, true);
                    }
                }
                Effect::Touched(device) => {
                    entries.remove(device);
                }
                Effect::All => {
                    entries.clear();
                    return;
                }
            }
        }
    }

    fn epoch(&self) -> std::sync::MutexGuard<'_, u64> {
        self.epoch.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn summary(device: &str, last_inform: i64) -> DeviceSummary {
        DeviceSummary {
            device: DeviceId::parse(device).unwrap(),
            cr_credentials: Some(("u".into(), "p".into())),
            has_tasks: false,
            has_transfers: false,
            last_inform: Some(Timestamp(last_inform)),
            registered: Some(Timestamp(1)),
            last_boot: Some(Timestamp(1)),
            last_bootstrap: Some(Timestamp(1)),
            has_faults: false,
            tags: vec!["t".into()],
        }
    }

    #[test]
    fn a_read_overtaken_by_a_commit_is_not_kept() {
        let cache = Summaries::new(10);
        let s = summary("A", 5);
        let miss = cache.get(&s.device).unwrap_err();
        cache.apply(&[Effect::Touched(DeviceId::parse("B").unwrap())]);
        cache.keep(miss, &s);
        assert!(cache.get(&s.device).is_err());
        let miss = cache.get(&s.device).unwrap_err();
        cache.keep(miss, &s);
        assert_eq!(cache.get(&s.device).unwrap(), s);
    }

    #[test]
    fn informs_move_the_times_and_other_writes_drop() {
        let cache = Summaries::new(10);
        let (a, b) = (summary("A", 5), summary("B", 5));
        for s in [&a, &b] {
            let miss = cache.get(&s.device).unwrap_err();
            cache.keep(miss, s);
        }
        cache.apply(&[Effect::Informed {
            device: a.device.clone(),
            at: Timestamp(9),
            boot: true,
            bootstrap: false,
        }]);
        let got = cache.get(&a.device).unwrap();
        assert_eq!(
            (got.last_inform, got.last_boot, got.last_bootstrap),
            (Some(Timestamp(9)), Some(Timestamp(9)), Some(Timestamp(1)))
        );
        assert!(got.cr_credentials.is_some());
        cache.apply(&[Effect::Informed {
            device: a.device.clone(),
            at: Timestamp(10),
            boot: false,
            bootstrap: true,
        }]);
        let got = cache.get(&a.device).unwrap();
        assert_eq!(got.last_bootstrap, Some(Timestamp(10)));
        assert_eq!(got.cr_credentials, None);

        cache.apply(&[Effect::Touched(a.device.clone())]);
        assert!(cache.get(&a.device).is_err());
        assert!(cache.get(&b.device).is_ok());
        cache.apply(&[Effect::All]);
        assert!(cache.get(&b.device).is_err());
    }

    #[test]
    fn an_inform_of_a_device_not_held_adds_nothing() {
        let cache = Summaries::new(10);
        let d = DeviceId::parse("A").unwrap();
        cache.apply(&[Effect::Informed {
            device: d.clone(),
            at: Timestamp(9),
            boot: false,
            bootstrap: false,
        }]);
        assert!(cache.get(&d).is_err());
    }

    #[test]
    fn off_holds_nothing() {
        let cache = Summaries::new(0);
        let s = summary("A", 5);
        let miss = cache.get(&s.device).unwrap_err();
        cache.keep(miss, &s);
        assert!(cache.get(&s.device).is_err());
    }
}
