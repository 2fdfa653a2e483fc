//! The writer thread: group commit.
//!
//! The thread blocks for the first queued call, then takes every call already queued (up
//! to `max_group`), runs them in one transaction, commits once, and only then answers them
//! all. A call that fails must fail alone: the transaction is then rolled back and the
//! group runs again, each call in its own savepoint, so that the failed call is rolled back
//! to its savepoint and only its caller gets the error. Calls rarely fail, and a savepoint
//! per call costs on every group (SQLite copies each page a savepoint first touches into a
//! statement journal: 9% of the writer's time in a profile of Inform sessions), hence the
//! optimistic first try. If the commit itself fails, every caller of the group gets the
//! error and nothing of the group is written.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::checkpoint::{self, Requests};
use super::summaries::{Effect, Summaries};
use super::{SqliteOptions, Stats};
use crate::shared::paths::{self, SharedPaths};
use crate::shared::{EventPruning, statements};
use crate::{Result, StoreError};

/// A queued call.
pub(crate) type Job = Box<dyn Work>;

/// A call to run on the writer: [`Work::run`] inside the group transaction (again if the
/// group is retried), then [`Work::finish`] once the transaction is over.
pub(crate) trait Work: Send {
    /// Applies the call; `true` if it succeeded. The last run's result is the answer.
    fn run(&mut self, ctx: &mut WriteCtx) -> bool;
    /// Answers the caller; `group_error` when the whole group failed.
    fn finish(self: Box<Self>, group_error: Option<StoreError>);
}

/// The answer to a call, with the call's `f` given back: the caller drops it, and with it
/// what it captured (a session's changes: tens of small allocations made on the caller's
/// thread). Freed on the writer's thread, each of those would be a cross-thread free that
/// the allocator hands back to the allocating thread later, at a cost on both threads
/// (`_mi_page_free_collect` took 3% of the ACS's CPU in a profile of Inform sessions).
pub(crate) type Answer<T, F> = (Result<T>, F);

/// A call running `f` and answering on `tx`.
pub(crate) fn job<T, F>(f: F, tx: oneshot::Sender<Answer<T, F>>) -> Job
where
    T: Send + 'static,
    F: FnMut(&mut WriteCtx) -> Result<T> + Send + 'static,
{
    Box::new(Call {
        f,
        result: None,
        tx,
    })
}

struct Call<T, F> {
    f: F,
    result: Option<Result<T>>,
    tx: oneshot::Sender<Answer<T, F>>,
}

impl<T, F> Work for Call<T, F>
where
    T: Send + 'static,
    F: FnMut(&mut WriteCtx) -> Result<T> + Send + 'static,
{
    fn run(&mut self, ctx: &mut WriteCtx) -> bool {
        let result = (self.f)(ctx);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, group_error: Option<StoreError>) {
        let Call { f, result, tx } = *self;
        let answer = match (result, group_error) {
            // Its own error says more than the group's.
            (Some(Err(e)), _) => Err(e),
            (_, Some(e)) => Err(e),
            (Some(r), None) => r,
            (None, None) => Err(StoreError::Closed),
        };
        // The caller may have gone away (its session ended); the write stands.
        let _ = tx.send((answer, f));
    }
}

/// The writer's state: the connection, the device-id cache, the paths added in the current
/// transaction.
pub(crate) struct WriteCtx {
    pub(super) conn: Connection,
    pub(super) paths: SharedPaths,
    /// Device id to internal id, filled on demand. Cleared when a call or a transaction
    /// is rolled back (it may hold ids created there); the database refills it.
    pub(super) devices: HashMap<Box<str>, i64>,
    /// Paths interned in the current transaction, removed from the map on rollback.
    new_paths: Vec<i64>,
    pub(super) pruning: EventPruning,
    stats: Arc<Stats>,
    /// The checkpoint under way, whose end is the writer's (`checkpoint.rs`), and the WAL
    /// frames past which one runs.
    checkpoints: Arc<Requests>,
    checkpoint_frames: u32,
    /// The device summaries held for sessions, and what the current transaction's calls
    /// changed of them, applied once it is committed.
    summaries: Arc<Summaries>,
    pub(super) effects: Vec<Effect>,
    /// `PRAGMA data_version` when last asked: it changes when another connection (another
    /// process: `acs provisioning import`, say) committed, and then no summary held can
    /// be trusted.
    data_version: i64,
}

impl std::fmt::Debug for WriteCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteCtx")
            .field("devices", &self.devices.len())
            .field("new_paths", &self.new_paths.len())
            .finish_non_exhaustive()
    }
}

impl WriteCtx {
    pub(super) fn new(
        conn: Connection,
        paths: SharedPaths,
        options: &SqliteOptions,
        stats: Arc<Stats>,
        checkpoints: Arc<Requests>,
        summaries: Arc<Summaries>,
    ) -> Result<WriteCtx> {
        let data_version = data_version(&conn)?;
        Ok(WriteCtx {
            conn,
            paths,
            devices: HashMap::new(),
            new_paths: Vec::new(),
            pruning: EventPruning::new(options.event_retention_days),
            stats,
            checkpoints,
            checkpoint_frames: options.checkpoint_frames,
            summaries,
            effects: Vec::new(),
            data_version,
        })
    }

    fn exec(&self, sql: &str) -> rusqlite::Result<()> {
        self.conn.prepare_cached(sql)?.execute([]).map(drop)
    }

    /// The id of `path`, interning it if new.
    pub(super) fn path_id(&mut self, path: &str) -> Result<i64> {
        if let Some(id) = paths::read(&self.paths).id(path) {
            return Ok(id);
        }
        self.conn
            .prepare_cached("INSERT INTO paths (path) VALUES (?1)")?
            .execute([path])?;
        let id = self.conn.last_insert_rowid();
        paths::write(&self.paths).insert(id, path);
        self.new_paths.push(id);
        Ok(id)
    }

    /// Forgets the paths interned since `mark` (their rows were rolled back).
    fn forget_paths(&mut self, mark: usize) {
        if self.new_paths.len() > mark {
            let mut map = paths::write(&self.paths);
            for id in self.new_paths.drain(mark..) {
                map.remove(id);
            }
        }
    }

    /// Runs one group of calls in one transaction: all at once, or, if one fails, again
    /// with a savepoint each.
    fn run_group(&mut self, mut jobs: Vec<Job>) {
        match data_version(&self.conn) {
            Ok(v) if v == self.data_version => {}
            seen => {
                self.summaries.apply(&[Effect::All]);
                self.data_version = seen.unwrap_or(self.data_version);
            }
        }
        if let Err(e) = self.exec("BEGIN IMMEDIATE") {
            self.fail_all(jobs, &e.to_string());
            return;
        }
        let failed_at = jobs.iter_mut().position(|job| !job.run(self));
        match failed_at {
            None => {
                let committed = self.exec("COMMIT").map_err(|e| e.to_string());
                self.finish(jobs, committed.err(), 0);
            }
            Some(_) if jobs.len() == 1 => {
                // Alone in its group: rolling the transaction back is rolling it back.
                self.rollback();
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                for job in jobs {
                    job.finish(None);
                }
            }
            Some(_) => {
                self.rollback();
                self.run_group_with_savepoints(jobs);
            }
        }
    }

    /// Rolls the open transaction back (unless SQLite already did) and forgets what the
    /// caches learnt in it.
    fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.exec("ROLLBACK");
        }
        self.forget_paths(0);
        self.devices.clear();
        self.effects.clear();
    }

    /// Answers every call of a group that could not start with the database's error.
    fn fail_all(&mut self, jobs: Vec<Job>, error: &str) {
        self.stats
            .failed
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        for job in jobs {
            job.finish(Some(StoreError::Database(error.to_owned())));
        }
    }

    /// Runs one group of calls in one transaction, each in its own savepoint.
    fn run_group_with_savepoints(&mut self, jobs: Vec<Job>) {
        if let Err(e) = self.exec("BEGIN IMMEDIATE") {
            self.fail_all(jobs, &e.to_string());
            return;
        }
        let mut ran = Vec::with_capacity(jobs.len());
        let mut group_error: Option<String> = None;
        let mut failed = 0u64;
        for mut job in jobs {
            if group_error.is_some() {
                ran.push(job);
                continue;
            }
            if let Err(e) = self.exec("SAVEPOINT call") {
                group_error = Some(e.to_string());
                ran.push(job);
                continue;
            }
            let mark = self.new_paths.len();
            if job.run(self) {
                if let Err(e) = self.exec("RELEASE SAVEPOINT call") {
                    group_error = Some(e.to_string());
                }
            } else {
                failed += 1;
                self.forget_paths(mark);
                self.devices.clear();
                if self.conn.is_autocommit() {
                    // Some errors (disk full, I/O) make SQLite roll back the whole
                    // transaction: the calls before this one are lost too.
                    group_error = Some("the database rolled the transaction back".into());
                } else if let Err(e) = self
                    .exec("ROLLBACK TO SAVEPOINT call")
                    .and_then(|()| self.exec("RELEASE SAVEPOINT call"))
                {
                    group_error = Some(e.to_string());
                }
            }
            ran.push(job);
        }
        if group_error.is_none()
            && let Err(e) = self.exec("COMMIT")
        {
            group_error = Some(e.to_string());
        }
        self.finish(ran, group_error, failed);
    }

    /// Answers a group's calls once its transaction is over: with their own results, or
    /// all with the group's error (the transaction is then rolled back). `failed` calls of
    /// the group failed alone.
    fn finish(&mut self, jobs: Vec<Job>, group_error: Option<String>, failed: u64) {
        match group_error {
            Some(e) => {
                self.rollback();
                self.stats
                    .failed
                    .fetch_add(jobs.len() as u64, Ordering::Relaxed);
                for job in jobs {
                    job.finish(Some(StoreError::Database(e.clone())));
                }
            }
            None => {
                self.new_paths.clear();
                // Before any caller hears of the commit: its next session must see it.
                self.summaries.apply(&self.effects);
                self.effects.clear();
                self.stats.transactions.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .calls
                    .fetch_add(jobs.len() as u64 - failed, Ordering::Relaxed);
                self.stats.failed.fetch_add(failed, Ordering::Relaxed);
                for job in jobs {
                    job.finish(None);
                }
            }
        }
    }

    /// Copies into the database file the WAL frames appended while the checkpointer copied
    /// the bulk, once it has: with every frame copied, the next group starts the WAL over
    /// (`checkpoint.rs`). Called between groups, after the last one was answered.
    fn finish_checkpoint(&mut self) {
        let frames = self.stats.wal_frames.load(Ordering::Relaxed);
        if self.checkpoints.writer_turn(frames, self.checkpoint_frames) {
            checkpoint::passive(&self.conn, &self.stats);
        }
    }

    /// Deletes one chunk of events older than the retention when a step is due.
    fn prune_events(&mut self) {
        let Some(cutoff) = self.pruning.due() else {
            return;
        };
        let deleted = self
            .conn
            .prepare_cached(statements::PRUNE_EVENTS)
            .and_then(|mut stmt| stmt.execute((cutoff, EventPruning::CHUNK)))
            .ok()
            .map(|n| n as u64);
        if let Some(n) = deleted {
            self.stats.events_pruned.fetch_add(n, Ordering::Relaxed);
        }
        self.pruning.done(deleted);
    }
}

/// The connection's `PRAGMA data_version`.
fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))
}

/// The writer thread's loop; returns when every sender is gone.
pub(super) fn run(mut ctx: WriteCtx, mut rx: mpsc::Receiver<Job>, max_group: usize) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = Vec::with_capacity(max_group.min(64));
        jobs.push(first);
        while jobs.len() < max_group {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        ctx.run_group(jobs);
        ctx.prune_events();
        ctx.finish_checkpoint();
    }
}
