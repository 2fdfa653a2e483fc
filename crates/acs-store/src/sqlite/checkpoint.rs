//! WAL checkpoints, mostly on a thread of their own.
//!
//! SQLite checkpoints a WAL database from the connection whose commit took the WAL past
//! `wal_autocheckpoint` frames, inside that commit: the writer thread copied every page
//! changed since the last checkpoint back into the database file, and synced it, before
//! it could answer the group that had committed or start the next one. With periodic
//! Informs at 6,000–8,000 sessions/s that was a stall of about 11 ms, 1.6 times a second,
//! during which every session in flight waited (BENCHMARKS.md).
//!
//! Here the writer's commit only asks (a WAL hook, which replaces the automatic
//! checkpoint), and a thread of its own copies the WAL on a connection of its own, in
//! PASSIVE mode: it copies the frames of the snapshot it starts with while the writer goes
//! on appending, and blocks nobody. SQLite reuses the WAL from its start only at a write
//! that finds every frame copied, which a checkpoint racing the writer rarely leaves. So
//! once that bulk pass is done, the writer copies the few frames appended meanwhile
//! itself, between two groups, after it has answered the last one: the next group then
//! starts the WAL over. (Letting the thread pass again until one pass ended between two
//! commits cost an extra sync of the database file per pass, and at small groups the WAL
//! was hardly ever reused.)

use std::ffi::c_int;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, MAIN_DB};

use super::Stats;
use crate::Result;

/// The writer copies the frames the checkpointer left only if they are at most this share
/// of the mark (1/8: 8 MiB at the default), so its pause stays short; a longer rest, as on
/// a large database whose checkpoint takes seconds while the writer appends, goes back to
/// the thread, and each pass leaves less.
const TAIL_SHARE: u32 = 8;

/// Where the current WAL's checkpoint is, shared by the writer and the checkpointer.
#[derive(Debug, Default)]
pub(super) struct Requests {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    phase: Phase,
    closing: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The WAL is below the mark, or its checkpoint is finished.
    #[default]
    Idle,
    /// The writer asked; the checkpointer has not started.
    Asked,
    /// The checkpointer is copying.
    Copying,
    /// The bulk is copied, through this frame: the writer copies the rest between two
    /// groups, or asks for another pass if the rest is long.
    Copied(c_int),
}

impl Requests {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The WAL is past the mark: starts a checkpoint unless one is under way.
    fn ask(&self) {
        let mut state = self.lock();
        if state.phase == Phase::Idle {
            state.phase = Phase::Asked;
            self.wake.notify_one();
        }
    }

    /// What the writer does between two groups: when the checkpointer has copied the
    /// bulk, copy the rest itself if `frames` (the WAL's now) leaves at most a
    /// [`TAIL_SHARE`] of the mark to copy, else ask for another pass. After the writer's
    /// copy the checkpoint counts as finished: a WAL still past the mark asks again.
    pub(super) fn writer_turn(&self, frames: u64, mark: u32) -> bool {
        let mut state = self.lock();
        let Phase::Copied(through) = state.phase else {
            return false;
        };
        let rest = frames.saturating_sub(u64::try_from(through).unwrap_or(0));
        if rest <= u64::from(mark / TAIL_SHARE) {
            state.phase = Phase::Idle;
            true
        } else {
            state.phase = Phase::Asked;
            self.wake.notify_one();
            false
        }
    }

    /// Ends the checkpointer's loop.
    pub(super) fn close(&self) {
        self.lock().closing = true;
        self.wake.notify_one();
    }

    /// Waits for a request and marks it under way: `false` once closing.
    fn start(&self) -> bool {
        let mut state = self.lock();
        loop {
            if state.closing {
                return false;
            }
            if state.phase == Phase::Asked {
                state.phase = Phase::Copying;
                return true;
            }
            state = self
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn copied(&self, through: c_int) {
        self.lock().phase = Phase::Copied(through);
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
    while requests.start() {
        // Failed: nothing is known to be copied, and the writer asks again.
        requests.copied(passive(conn, stats).unwrap_or(0));
    }
}

/// One PASSIVE checkpoint on `conn`, counted: through which frame the WAL is copied.
pub(super) fn passive(conn: &Connection, stats: &Stats) -> Option<c_int> {
    match conn.wal_checkpoint_v2(Some(MAIN_DB), CheckpointMode::PASSIVE) {
        Ok((_, copied)) => {
            stats.checkpoints.fetch_add(1, Ordering::Relaxed);
            Some(copied)
        }
        // The WAL keeps what was not copied; a commit that finds it past the mark asks
        // again.
        Err(_) => {
            stats.checkpoint_failures.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_goes_from_the_thread_to_the_writer_once() {
        let r = Requests::default();
        r.ask();
        r.ask();
        assert!(!r.writer_turn(100, 64), "nothing copied yet");
        assert!(r.start());
        r.ask();
        r.copied(96);
        assert!(r.writer_turn(100, 64));
        assert!(!r.writer_turn(100, 64));
        r.ask();
        r.close();
        assert!(!r.start());
    }

    #[test]
    fn a_long_rest_goes_back_to_the_thread() {
        let r = Requests::default();
        r.ask();
        assert!(r.start());
        r.copied(100);
        // 1/8 of a mark of 64 is 8 frames.
        assert!(!r.writer_turn(109, 64));
        assert!(r.start(), "asked again");
        r.copied(109);
        assert!(r.writer_turn(117, 64));
    }
}
