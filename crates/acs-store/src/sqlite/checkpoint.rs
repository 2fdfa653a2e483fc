//! WAL checkpoints on a thread of their own.
//!
//! SQLite checkpoints a WAL database from the connection whose commit took the WAL past
//! `wal_autocheckpoint` frames, inside that commit: the writer thread copied every page
//! changed since the last checkpoint back into the database file, and synced it, before
//! it could answer the group that had committed or start the next one. With periodic
//! Informs at 6,000–8,000 sessions/s that was a stall of about 11 ms, 1.6 times a second,
//! during which every session in flight waited (BENCHMARKS.md). Here the writer's commit
//! only asks (a WAL hook, which replaces the automatic checkpoint), and this thread runs
//! the checkpoint on a connection of its own, in PASSIVE mode: it copies the frames of the
//! snapshot it starts with while the writer goes on appending, and blocks nobody. The
//! CPU it takes is the same; on two cores it is no longer on the writer's path.
//!
//! SQLite reuses the WAL from its start at the first write after a checkpoint has copied
//! every frame. Under load, frames are appended while a checkpoint runs; the hook asks
//! again after each commit while the WAL is past the mark, so the next pass copies those
//! few, until one ends between two commits. What the WAL holds is reported as a gauge.

use std::ffi::c_int;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, MAIN_DB};

use super::Stats;
use crate::Result;

/// The writer's requests to the checkpointer.
#[derive(Debug, Default)]
pub(super) struct Requests {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    asked: bool,
    closing: bool,
}

impl Requests {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks for a checkpoint; a request not yet taken stands for this one too.
    fn ask(&self) {
        let mut state = self.lock();
        if !state.asked {
            state.asked = true;
            self.wake.notify_one();
        }
    }

    /// Ends the checkpointer's loop.
    pub(super) fn close(&self) {
        self.lock().closing = true;
        self.wake.notify_one();
    }

    /// Waits for a request: `false` once closing.
    fn wait(&self) -> bool {
        let mut state = self.lock();
        loop {
            if state.closing {
                return false;
            }
            if state.asked {
                state.asked = false;
                return true;
            }
            state = self
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Installs the hook on the writer's connection: after each commit, ask for a checkpoint
/// once the WAL holds `mark` frames (`SqliteOptions::checkpoint_frames`).
pub(super) fn install(
    conn: &mut Connection,
    mark: u32,
    requests: Arc<Requests>,
    stats: Arc<Stats>,
) -> Result<()> {
    let mark = c_int::try_from(mark).unwrap_or(c_int::MAX).max(1);
    conn.wal_hook(Some(move |_: &mut Wal, frames: c_int| {
        stats
            .wal_frames
            .store(u64::try_from(frames).unwrap_or(0), Ordering::Relaxed);
        if frames >= mark {
            requests.ask();
        }
        // Never an error: it would make the commit, which has happened, report one.
        Ok(())
    }))?;
    Ok(())
}

/// The checkpointer thread's loop, until [`Requests::close`].
pub(super) fn run(conn: &Connection, requests: &Requests, stats: &Stats) {
    while requests.wait() {
        let counter = match conn.wal_checkpoint_v2(Some(MAIN_DB), CheckpointMode::PASSIVE) {
            Ok(_) => &stats.checkpoints,
            // The WAL keeps what was not copied, and the next commit asks again.
            Err(_) => &stats.checkpoint_failures,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_standing_request_is_taken_once() {
        let r = Requests::default();
        r.ask();
        r.ask();
        assert!(r.wait());
        r.close();
        assert!(!r.wait());
    }
}
