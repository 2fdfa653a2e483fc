//! The writer thread: group commit.
//!
//! The thread blocks for the first queued call, then takes every call already queued (up
//! to `max_group`), runs them in one transaction, each in its own savepoint, commits once,
//! and only then answers them all. A call that fails is rolled back to its savepoint and
//! only its caller gets the error; if the commit itself fails, every caller of the group
//! gets the error and nothing of the group is written.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::{SqliteOptions, Stats};
use crate::shared::paths::{self, SharedPaths};
use crate::shared::{EventPruning, statements};
use crate::{Result, StoreError};

/// A queued call.
pub(crate) type Job = Box<dyn Work>;

/// A call to run on the writer: [`Work::run`] inside the group transaction, then
/// [`Work::finish`] once the transaction is over.
pub(crate) trait Work: Send {
    /// Applies the call; `true` if it succeeded (its savepoint is released).
    fn run(&mut self, ctx: &mut WriteCtx) -> bool;
    /// Answers the caller; `group_error` when the whole group failed.
    fn finish(self: Box<Self>, group_error: Option<StoreError>);
}

/// A call running `f` and answering on `tx`.
pub(crate) fn job<T, F>(f: F, tx: oneshot::Sender<Result<T>>) -> Job
where
    T: Send + 'static,
    F: FnOnce(&mut WriteCtx) -> Result<T> + Send + 'static,
{
    Box::new(Call {
        f: Some(f),
        result: None,
        tx,
    })
}

struct Call<T, F> {
    f: Option<F>,
    result: Option<Result<T>>,
    tx: oneshot::Sender<Result<T>>,
}

impl<T, F> Work for Call<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut WriteCtx) -> Result<T> + Send + 'static,
{
    fn run(&mut self, ctx: &mut WriteCtx) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let result = f(ctx);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, group_error: Option<StoreError>) {
        let Call { result, tx, .. } = *self;
        let answer = match (result, group_error) {
            // Its own error says more than the group's.
            (Some(Err(e)), _) => Err(e),
            (_, Some(e)) => Err(e),
            (Some(r), None) => r,
            (None, None) => Err(StoreError::Closed),
        };
        // The caller may have gone away (its session ended); the write stands.
        let _ = tx.send(answer);
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
    ) -> WriteCtx {
        WriteCtx {
            conn,
            paths,
            devices: HashMap::new(),
            new_paths: Vec::new(),
            pruning: EventPruning::new(options.event_retention_days),
            stats,
        }
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

    /// Runs one group of calls in one transaction.
    fn run_group(&mut self, jobs: Vec<Job>) {
        if let Err(e) = self.exec("BEGIN IMMEDIATE") {
            self.stats
                .failed
                .fetch_add(jobs.len() as u64, Ordering::Relaxed);
            for job in jobs {
                job.finish(Some(StoreError::Database(e.to_string())));
            }
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
        match group_error {
            Some(e) => {
                if !self.conn.is_autocommit() {
                    let _ = self.exec("ROLLBACK");
                }
                self.forget_paths(0);
                self.devices.clear();
                self.stats
                    .failed
                    .fetch_add(ran.len() as u64, Ordering::Relaxed);
                for job in ran {
                    job.finish(Some(StoreError::Database(e.clone())));
                }
            }
            None => {
                self.new_paths.clear();
                self.stats.transactions.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .calls
                    .fetch_add(ran.len() as u64 - failed, Ordering::Relaxed);
                self.stats.failed.fetch_add(failed, Ordering::Relaxed);
                for job in ran {
                    job.finish(None);
                }
            }
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
    }
}
