//! The embedded SQLite store.
//!
//! One database file in WAL mode. One OS thread owns the only write connection and groups
//! the writes of many sessions into one transaction (a failing call is rolled back alone:
//! see `writer`), committing with one `fsync` for the whole group:
//! that is how an Inform's changes are durable before the answer leaves while thousands of
//! sessions per second commit. Reads run on a few reader threads, each owning a
//! read-only connection and taking reads from one queue; WAL lets them read while the
//! writer writes.
//!
//! Parameter paths are interned in the `paths` table and the whole map is kept in memory,
//! shared by the writer and the readers. The writer also keeps a cache of device ids.
//! One process owns a database file at a time.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use acs_core::change::Change;
use acs_core::preset::{Name, Preset, ScriptKind};
use acs_core::task::{NewTask, TaskId};
use acs_core::{DeviceId, Timestamp};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use crate::{
    ConnectionRequestTarget, CpeCredential, DeviceQuery, DeviceSummary, ListQuery, Page,
    Provisioning, ProvisioningSnapshot, Result, Script, SessionClaim, SessionData, Store,
    StoreError, TokenRecord,
};

mod apply;
mod checkpoint;
mod provisioning;
mod read;
pub(crate) mod schema;
mod summaries;
mod writer;

use crate::shared::filter::Value as Arg;
use crate::shared::paths::{PathMap, SharedPaths};
use summaries::{Effect, Summaries};
use writer::{Job, WriteCtx};

pub use schema::migrate;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// How the SQLite store runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// `synchronous=FULL` (the default): a commit is on disk when it returns. With `false`,
    /// `synchronous=NORMAL`: commits survive a crash of the process but the last ones may
    /// be lost on power loss or an OS crash, although the store reported them durable.
    pub synchronous_full: bool,
    /// Days Inform events are kept (default 7); 0: events are not recorded at all.
    pub event_retention_days: u32,
    /// Read-only connections, hence concurrent reads (default 4).
    pub readers: usize,
    /// Most calls grouped into one write transaction (default 512).
    pub max_group: usize,
    /// Writes waiting for the writer before callers wait to enqueue (default 8192).
    pub queue: usize,
    /// Page cache of the write connection in MiB (default 64); each reader gets a quarter.
    pub cache_mib: u32,
    /// How long a connection waits for a lock held elsewhere (default 5 s).
    pub busy_timeout: Duration,
    /// Device summaries held in memory for sessions to start from (default 100,000, about
    /// 300 bytes each; 0: none). Sized to the fleet, no session reads the database before
    /// its Inform is committed.
    pub summary_cache_entries: usize,
    /// Frames (pages) in the WAL past which the checkpointer thread copies them into the
    /// database file (default 16,384: 64 MiB; see `schema::open_writer`).
    pub checkpoint_frames: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous_full: true,
            event_retention_days: 7,
            readers: 4,
            max_group: 512,
            queue: 8192,
            cache_mib: 64,
            busy_timeout: Duration::from_secs(5),
            summary_cache_entries: 100_000,
            checkpoint_frames: 16_384,
        }
    }
}

pub(crate) use crate::shared::WriterCounters as Stats;
pub use crate::shared::WriterStats;

/// The SQLite implementation of [`Store`]. Cheap to clone: clones share the connections.
/// The writer thread stops, and the connections close, when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    jobs: Option<mpsc::Sender<Job>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The checkpointer thread and its requests (`checkpoint.rs`).
    checkpoints: Arc<checkpoint::Requests>,
    checkpointer: Mutex<Option<JoinHandle<()>>>,
    /// The reader threads' queue (`None` once closed: the threads then end).
    reads: Mutex<Option<std::sync::mpsc::Sender<ReadJob>>>,
    stats: Arc<Stats>,
    summaries: Arc<Summaries>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer once it has finished what was queued.
        self.jobs.take();
        self.reads
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        join(&mut self.writer);
        self.checkpoints.close();
        join(&mut self.checkpointer);
    }
}

/// Waits for a thread of the store to end.
fn join(thread: &mut Mutex<Option<JoinHandle<()>>>) {
    let handle = thread
        .get_mut()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(handle) = handle {
        let _ = handle.join();
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applies pending migrations, and
    /// starts the writer thread. Blocking: call it before serving, or on a blocking thread.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        let mut conn = schema::open_writer(path, &options)?;
        schema::apply_migrations(&conn)?;
        let paths = load_paths(&conn)?;

        let (reads, queue) = std::sync::mpsc::channel::<ReadJob>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..options.readers.max(1) {
            let conn = schema::open_reader(path, &options)?;
            let queue = queue.clone();
            let paths = paths.clone();
            std::thread::Builder::new()
                .name(format!("acs-store-read-{n}"))
                .spawn(move || read_loop(&conn, &paths, &queue))
                .map_err(|e| StoreError::Database(format!("cannot start a reader: {e}")))?;
        }

        let stats = Arc::new(Stats::default());
        let checkpoints = Arc::new(checkpoint::Requests::default());
        let checkpointer = {
            let conn = schema::open_checkpointer(path, &options)?;
            let (requests, stats) = (checkpoints.clone(), stats.clone());
            std::thread::Builder::new()
                .name("acs-store-checkpoint".into())
                .spawn(move || checkpoint::run(&conn, &requests, &stats))
                .map_err(|e| StoreError::Database(format!("cannot start the checkpointer: {e}")))?
        };
        checkpoint::install(
            &mut conn,
            options.checkpoint_frames,
            checkpoints.clone(),
            stats.clone(),
        )?;
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let summaries = Arc::new(Summaries::new(options.summary_cache_entries));
        let ctx = WriteCtx::new(
            conn,
            paths.clone(),
            &options,
            stats.clone(),
            checkpoints.clone(),
            summaries.clone(),
        )?;
        let max_group = options.max_group.max(1);
        let handle = std::thread::Builder::new()
            .name("acs-store-writer".into())
            .spawn(move || writer::run(ctx, rx, max_group))
            .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;

        Ok(SqliteStore {
            inner: Arc::new(Inner {
                jobs: Some(tx),
                writer: Mutex::new(Some(handle)),
                checkpoints,
                checkpointer: Mutex::new(Some(checkpointer)),
                reads: Mutex::new(Some(reads)),
                stats,
                summaries,
            }),
        })
    }

    /// What the writer has done so far.
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.stats.snapshot()
    }

    /// Runs `f` on the writer thread, in the next group transaction (again if the group is
    /// retried because another call failed: `f` is `FnMut`); returns its result once the
    /// transaction is committed. Any device's summary may have changed: the cached ones
    /// are dropped (see [`SqliteStore::write_then`] for writes that know better).
    async fn write<T, F>(&self, mut f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T> + Send + 'static,
    {
        self.write_then(move |w| {
            let r = f(w)?;
            w.effects.push(Effect::All);
            Ok(r)
        })
        .await
    }

    /// [`SqliteStore::write`] for an `f` that records in `WriteCtx::effects` what it
    /// changed of device summaries.
    async fn write_then<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut WriteCtx) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let jobs = self.inner.jobs.as_ref().ok_or(StoreError::Closed)?;
        jobs.send(writer::job(f, tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        let (answer, f) = rx.await.map_err(|_| StoreError::Closed)?;
        drop(f);
        answer
    }

    /// Runs `f` on a reader thread with its read-only connection.
    ///
    /// The queue is unbounded and the caller only awaits the answer: nothing a waiting
    /// caller holds can keep a connection from others. (An async semaphore in front of a
    /// pool of connections did: in bench/scenarios.sh `work` with 1,000 devices its
    /// permits went to requests that were never polled again, those of connections whose
    /// cleanup waited for them, a bug since fixed in the CWMP endpoint, and every later
    /// read of the process hung.) The number of reads in flight is bounded upstream, by
    /// the sessions admitted (`cwmp.max_sessions`) and the API's requests.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &SharedPaths) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn, paths| {
            let _ = tx.send(f(conn, paths));
        });
        self.inner
            .reads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(job)
            .map_err(|_| StoreError::Closed)?;
        rx.await
            .map_err(|_| StoreError::Database("the read failed (its thread panicked)".into()))?
    }
}

/// A read for a reader thread.
type ReadJob = Box<dyn FnOnce(&Connection, &SharedPaths) + Send>;

/// A reader thread: runs reads from the queue on its connection until the queue closes.
/// A read that panics answers nothing (its caller gets an error) and the thread goes on.
fn read_loop(
    conn: &Connection,
    paths: &SharedPaths,
    queue: &Mutex<std::sync::mpsc::Receiver<ReadJob>>,
) {
    loop {
        let job = match queue.lock().unwrap_or_else(PoisonError::into_inner).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn, paths)));
    }
}

impl Store for SqliteStore {
    async fn device_summary(&self, device: &DeviceId) -> Result<Option<DeviceSummary>> {
        let miss = match self.inner.summaries.get(device) {
            Ok(held) => {
                self.inner
                    .stats
                    .summary_hits
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(Some(held));
            }
            Err(miss) => miss,
        };
        self.inner
            .stats
            .summary_misses
            .fetch_add(1, Ordering::Relaxed);
        let d = device.clone();
        let found = self
            .read(move |conn, _| read::device_summary(conn, &d))
            .await?;
        if let Some(s) = &found {
            self.inner.summaries.keep(miss, s);
        }
        Ok(found)
    }

    async fn session_data(&self, device: &DeviceId, now: Timestamp) -> Result<SessionData> {
        let device = device.clone();
        self.read(move |conn, paths| read::session_data(conn, paths, &device, now))
            .await
    }

    async fn commit(&self, changes: Vec<Change>) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let digests = apply::inform_digests(&changes);
        self.write_then(move |w| {
            w.apply_all(&changes, &digests)?;
            w.effects.extend(changes.iter().filter_map(Effect::of));
            Ok(())
        })
        .await
    }

    async fn cpe_credential(&self, username: &str) -> Result<Option<CpeCredential>> {
        let username = username.to_owned();
        self.read(move |conn, _| read::cpe_credential(conn, &username))
            .await
    }

    async fn set_cpe_credential(
        &self,
        device: &DeviceId,
        credential: Option<CpeCredential>,
    ) -> Result<()> {
        let device = device.clone();
        // CPE credentials are no part of a summary.
        self.write_then(move |w| w.set_cpe_credential(&device, credential.as_ref()))
            .await
    }

    async fn query_devices(&self, query: &DeviceQuery) -> Result<Page> {
        let query = query.clone();
        self.read(move |conn, paths| read::query_devices(conn, paths, &query))
            .await
    }

    async fn delete_device(&self, device: &DeviceId) -> Result<bool> {
        let device = device.clone();
        self.write_then(move |w| {
            let deleted = w.delete_device(&device)?;
            w.effects.push(Effect::Touched(device.clone()));
            Ok(deleted)
        })
        .await
    }

    async fn add_tag(&self, device: &DeviceId, tag: &str) -> Result<bool> {
        let (device, tag) = (device.clone(), tag.to_owned());
        self.write_then(move |w| {
            let added = w.tag(&device, &tag, true)?;
            w.effects.push(Effect::Touched(device.clone()));
            Ok(added)
        })
        .await
    }

    async fn remove_tag(&self, device: &DeviceId, tag: &str) -> Result<bool> {
        let (device, tag) = (device.clone(), tag.to_owned());
        self.write_then(move |w| {
            let removed = w.tag(&device, &tag, false)?;
            w.effects.push(Effect::Touched(device.clone()));
            Ok(removed)
        })
        .await
    }

    async fn connection_request_target(
        &self,
        device: &DeviceId,
    ) -> Result<Option<ConnectionRequestTarget>> {
        let device = device.clone();
        self.read(move |conn, paths| read::connection_request_target(conn, paths, &device))
            .await
    }

    async fn insert_task(&self, task: NewTask) -> Result<TaskId> {
        self.write_then(move |w| {
            let id = w.insert_task(&task)?;
            w.effects.push(Effect::Touched(task.device.clone()));
            Ok(id)
        })
        .await
    }

    async fn list_tasks(&self, query: &ListQuery) -> Result<Page> {
        let query = query.clone();
        self.read(move |conn, _| read::list_tasks(conn, &query))
            .await
    }

    async fn task_device(&self, task: TaskId) -> Result<Option<DeviceId>> {
        self.read(move |conn, _| read::task_device(conn, task))
            .await
    }

    async fn delete_task(&self, task: TaskId) -> Result<Option<DeviceId>> {
        self.write_then(move |w| {
            let device = w.delete_task(task)?;
            w.effects
                .extend(device.iter().cloned().map(Effect::Touched));
            Ok(device)
        })
        .await
    }

    async fn retry_task(&self, task: TaskId) -> Result<bool> {
        self.write(move |w| w.retry_task(task)).await
    }

    async fn expire_tasks(&self, now: Timestamp) -> Result<u64> {
        self.write_then(move |w| {
            let expired = w.expire_tasks(now)?;
            if expired > 0 {
                w.effects.push(Effect::All);
            }
            Ok(expired)
        })
        .await
    }

    async fn list_faults(&self, query: &ListQuery) -> Result<Page> {
        let query = query.clone();
        self.read(move |conn, _| read::list_faults(conn, &query))
            .await
    }

    async fn delete_fault(&self, device: &DeviceId, channel: &str) -> Result<bool> {
        let (device, channel) = (device.clone(), channel.to_owned());
        self.write_then(move |w| {
            let deleted = w.delete_fault(&device, &channel)?;
            w.effects.push(Effect::Touched(device.clone()));
            Ok(deleted)
        })
        .await
    }

    async fn counts(&self) -> Result<(u64, u64)> {
        self.read(|conn, _| read::counts(conn)).await
    }

    async fn insert_token(&self, token: TokenRecord) -> Result<()> {
        self.write_then(move |w| w.insert_token(&token)).await
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<String>> {
        let hash = hash.to_owned();
        self.read(move |conn, _| read::token_by_hash(conn, &hash))
            .await
    }

    async fn token_count(&self) -> Result<u64> {
        self.read(|conn, _| read::token_count(conn)).await
    }

    async fn put_preset(&self, preset: &Preset) -> Result<u64> {
        let preset = preset.clone();
        self.write(move |w| w.put_preset(&preset)).await
    }

    async fn preset(&self, name: &Name) -> Result<Option<Preset>> {
        let name = name.clone();
        self.read(move |conn, _| provisioning::preset(conn, &name))
            .await
    }

    async fn delete_preset(&self, name: &Name) -> Result<bool> {
        let name = name.clone();
        self.write(move |w| w.delete_preset(&name)).await
    }

    async fn list_presets(&self) -> Result<Vec<Preset>> {
        self.read(|conn, _| provisioning::list_presets(conn)).await
    }

    async fn put_script(&self, kind: ScriptKind, name: &Name, source: &str) -> Result<u64> {
        let (name, source) = (name.clone(), source.to_owned());
        self.write(move |w| w.put_script(kind, &name, &source))
            .await
    }

    async fn script(&self, kind: ScriptKind, name: &Name) -> Result<Option<String>> {
        let name = name.clone();
        self.read(move |conn, _| provisioning::script(conn, kind, &name))
            .await
    }

    async fn delete_script(&self, kind: ScriptKind, name: &Name) -> Result<bool> {
        let name = name.clone();
        self.write(move |w| w.delete_script(kind, &name)).await
    }

    async fn list_scripts(&self, kind: ScriptKind) -> Result<Vec<Script>> {
        self.read(move |conn, _| provisioning::list_scripts(conn, kind))
            .await
    }

    async fn provisioning(&self) -> Result<ProvisioningSnapshot> {
        self.read(|conn, _| provisioning::load(conn)).await
    }

    async fn provisioning_revision(&self) -> Result<u64> {
        self.read(|conn, _| provisioning::revision(conn)).await
    }

    async fn import_provisioning(&self, items: &Provisioning, replace: bool) -> Result<u64> {
        let items = items.clone();
        self.write(move |w| w.import_provisioning(&items, replace))
            .await
    }

    /// `false`: a SQLite database serves one node, whose own session registry keeps a
    /// device to one session (the `acs` binary refuses to open a database file another
    /// process has open).
    fn shared_by_nodes(&self) -> bool {
        false
    }

    /// Always `true`: no other node can hold the device ([`Store::shared_by_nodes`]).
    async fn claim_session(
        &self,
        _device: &DeviceId,
        _claim: &SessionClaim,
        _now: Timestamp,
        _until: Timestamp,
    ) -> Result<bool> {
        Ok(true)
    }

    async fn release_session(&self, _device: &DeviceId, _claim: &SessionClaim) -> Result<()> {
        Ok(())
    }

    /// Always `true`: one node, whose own schedule is the only one.
    async fn claim_job(
        &self,
        _name: &str,
        _owner: &str,
        _now: Timestamp,
        _next: Timestamp,
    ) -> Result<bool> {
        Ok(true)
    }
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Arg::Integer(n) => ValueRef::Integer(*n),
            Arg::Real(n) => ValueRef::Real(*n),
            Arg::Text(s) => ValueRef::Text(s.as_bytes()),
            Arg::Integers(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "SQLite has no arrays".into(),
                ));
            }
        }))
    }
}

/// Loads every interned path.
fn load_paths(conn: &Connection) -> Result<SharedPaths> {
    let mut map = PathMap::default();
    let mut stmt = conn.prepare("SELECT id, path FROM paths")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let path: String = row.get(1)?;
        map.insert(id, &path);
    }
    Ok(Arc::new(std::sync::RwLock::new(map)))
}

/// A connection to the database at `path` that waits `busy_timeout` for a lock held
/// elsewhere.
fn open_connection(path: &Path, flags: OpenFlags, busy_timeout: Duration) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(busy_timeout)?;
    Ok(conn)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// A store in a fresh directory (kept alive by the returned guard) with `readers`
    /// reader threads.
    fn open_with_readers(readers: usize) -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions {
            readers,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open(&dir.path().join("acs.db"), options).unwrap();
        (dir, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_that_panics_fails_alone_and_the_reader_goes_on() {
        let (_dir, store) = open_with_readers(1);
        let failed = store
            .read(|_, _| -> Result<()> { panic!("a bug in a read") })
            .await;
        assert!(matches!(failed, Err(StoreError::Database(_))), "{failed:?}");
        // The one reader thread is still there.
        assert_eq!(store.token_count().await.unwrap(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_reads_at_once_on_few_readers_all_complete() {
        let (_dir, store) = open_with_readers(2);
        let reads = (0..500).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.token_count().await })
        });
        for r in reads.collect::<Vec<_>>() {
            assert_eq!(r.await.unwrap().unwrap(), 0);
        }
        // Half of a burst abandoned by its callers does not keep the rest waiting.
        let abandoned: Vec<_> = (0..200)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.token_count().await })
            })
            .collect();
        for (i, t) in abandoned.into_iter().enumerate() {
            if i % 2 == 0 {
                t.abort();
            }
        }
        assert_eq!(store.token_count().await.unwrap(), 0);
    }
}
