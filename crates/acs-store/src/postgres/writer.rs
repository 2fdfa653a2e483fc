//! The writer task: group commit, and what the writes do.
//!
//! The task waits for the first queued call, takes every call already queued (up to
//! `max_group`), runs them in one transaction, commits once, and only then answers them
//! all. A call that fails gets its error and the others run again without it (see
//! `WriteCtx::run_group`); if the commit itself fails, every caller of the group gets
//! the error and nothing of the group is written.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use acs_core::change::{Change, InformRecord, ParamUpdate, PendingTransfer};
use acs_core::device::ValueType;
use acs_core::fault::{Fault, task_channel};
use acs_core::query::InvalidQuery;
use acs_core::task::{NewTask, TaskId};
use acs_core::{DeviceId, Timestamp};
use sqlx::pool::PoolConnection;
use sqlx::{Executor, PgPool, Postgres};
use tokio::sync::{mpsc, oneshot};

use super::{PostgresOptions, Stats};
use crate::shared::inform::{self, InformDigest, LastInform, ParamsPlan};
use crate::shared::paths::prefix_upper_bound;
use crate::shared::statements;
use crate::shared::{EventPruning, channel_task, event_codes_json, json_text, stored_device_id};
use crate::{CpeCredential, Result, StoreError, TokenRecord};

/// A write.
#[derive(Debug)]
pub(super) enum Op {
    Commit(Vec<Change>),
    SetCpeCredential(DeviceId, Option<CpeCredential>),
    DeleteDevice(DeviceId),
    Tag(DeviceId, String, bool),
    InsertTask(NewTask),
    DeleteTask(TaskId),
    RetryTask(TaskId),
    ExpireTasks(Timestamp),
    DeleteFault(DeviceId, String),
    InsertToken(TokenRecord),
}

impl Op {
    /// The devices the write names (a task id names none: what it does to the tasks
    /// table does not depend on the order of Informs).
    fn devices(&self) -> Vec<&DeviceId> {
        match self {
            Op::Commit(changes) => changes.iter().filter_map(Change::device).collect(),
            Op::SetCpeCredential(d, _)
            | Op::DeleteDevice(d)
            | Op::Tag(d, _, _)
            | Op::DeleteFault(d, _) => vec![d],
            Op::InsertTask(task) => vec![&task.device],
            Op::DeleteTask(_) | Op::RetryTask(_) | Op::ExpireTasks(_) | Op::InsertToken(_) => {
                Vec::new()
            }
        }
    }

    /// The Inform this write is, if it is one Inform.
    fn lone_inform(&self) -> Option<&InformRecord> {
        match self {
            Op::Commit(changes) => match changes.as_slice() {
                [Change::Inform(r)] => Some(r),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The places in `jobs` of the Informs to write together: each is a call of one Inform
/// of a device no other call of the group names, so writing it first changes nothing.
fn batched_informs(jobs: &[Job]) -> Vec<usize> {
    let mut named: HashMap<&str, usize> = HashMap::new();
    for job in jobs {
        for d in job.op.devices() {
            *named.entry(d.as_str()).or_default() += 1;
        }
    }
    jobs.iter()
        .enumerate()
        .filter(|(_, job)| {
            job.op
                .lone_inform()
                .is_some_and(|r| named.get(r.device.as_str()) == Some(&1))
        })
        .map(|(i, _)| i)
        .collect()
}

/// What a write returns.
#[derive(Debug)]
pub(super) enum Out {
    Unit,
    Bool(bool),
    Task(TaskId),
    Device(Option<DeviceId>),
    Count(u64),
}

/// A queued call and where to answer it.
#[derive(Debug)]
pub(super) struct Job {
    op: Op,
    tx: oneshot::Sender<Result<Out>>,
}

impl Job {
    pub(super) fn new(op: Op, tx: oneshot::Sender<Result<Out>>) -> Job {
        Job { op, tx }
    }
}

/// The writer's state.
pub(super) struct WriteCtx {
    pool: PgPool,
    /// The writer's connection; taken again from the pool after it failed.
    conn: Option<PoolConnection<Postgres>>,
    /// Interned paths: they never change, so they are kept.
    paths: HashMap<String, i64>,
    /// Device ids looked up in this group (another node may delete a device between
    /// groups).
    devices: HashMap<String, i64>,
    pruning: EventPruning,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for WriteCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteCtx")
            .field("paths", &self.paths.len())
            .field("devices", &self.devices.len())
            .finish_non_exhaustive()
    }
}

/// The columns of `params` rows to upsert, as arrays for `unnest`.
#[derive(Debug, Default)]
struct ParamArrays {
    device: Vec<i64>,
    path: Vec<i64>,
    object: Vec<bool>,
    writable: Vec<Option<bool>>,
    value: Vec<Option<String>>,
    code: Vec<Option<i16>>,
    other: Vec<Option<String>>,
    num: Vec<Option<f64>>,
    ts: Vec<Option<i64>>,
    notification: Vec<Option<i16>>,
    access_list: Vec<Option<String>>,
    attr_ts: Vec<Option<i64>>,
}

/// What a device row says of its last Inform: `device_id`, `inform_values`,
/// `inform_paths`, `last_inform`.
type DeviceLastInformRow = (String, Option<Vec<u8>>, Option<i64>, Option<i64>);

impl ParamArrays {
    fn push(
        &mut self,
        device: i64,
        path: i64,
        u: &ParamUpdate,
        informed_at: Option<i64>,
    ) -> Result<()> {
        self.device.push(device);
        self.path.push(path);
        self.object.push(u.object || u.path.ends_with('.'));
        self.writable.push(u.writable);
        match &u.value {
            Some(v) => {
                self.value.push(Some(v.text.clone()));
                self.code.push(Some(i16::from(v.value_type.code())));
                self.other.push(match &v.value_type {
                    ValueType::Other(name) => Some(name.clone()),
                    _ => None,
                });
                self.num.push(v.number());
            }
            None => {
                self.value.push(None);
                self.code.push(None);
                self.other.push(None);
                self.num.push(None);
            }
        }
        self.ts.push(inform::stored_read_time(u, informed_at));
        match &u.attributes {
            Some((a, ts)) => {
                self.notification.push(Some(i16::from(a.notification)));
                self.access_list.push(Some(json_text(&a.access_list)?));
                self.attr_ts.push(Some(ts.millis()));
            }
            None => {
                self.notification.push(None);
                self.access_list.push(None);
                self.attr_ts.push(None);
            }
        }
        Ok(())
    }
}

impl WriteCtx {
    pub(super) fn new(pool: PgPool, options: &PostgresOptions, stats: Arc<Stats>) -> WriteCtx {
        WriteCtx {
            pool,
            conn: None,
            paths: HashMap::new(),
            devices: HashMap::new(),
            pruning: EventPruning::new(options.event_retention_days),
            stats,
        }
    }

    /// The writer's connection.
    fn conn(&mut self) -> Result<&mut PoolConnection<Postgres>> {
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Database("the writer has no connection".into()))
    }

    async fn exec(&mut self, sql: &str) -> Result<()> {
        self.conn()?.execute(sql).await?;
        Ok(())
    }

    /// Begins the group's transaction, on a connection from the pool if the writer has
    /// none.
    async fn begin(&mut self) -> Result<()> {
        if self.conn.is_none() {
            self.conn = Some(self.pool.acquire().await?);
        }
        self.exec("BEGIN").await
    }

    /// Runs one group of calls in one transaction.
    ///
    /// No savepoints: each would be a subtransaction, and past 64 in one transaction
    /// PostgreSQL's snapshots of every other session get slower. When a call fails, the
    /// transaction is rolled back and the group runs again without it: calls fail rarely
    /// (a change for a device deleted meanwhile), and nothing of a rolled-back run was
    /// written.
    async fn run_group(&mut self, mut jobs: Vec<Job>) {
        let mut failed: Vec<(oneshot::Sender<Result<Out>>, StoreError)> = Vec::new();
        let mut batch = true;
        loop {
            if jobs.is_empty() {
                break;
            }
            self.devices.clear();
            let mut begun = self.begin().await;
            if begun.is_err() {
                // The connection was lost (the server restarted, or closed it): nothing
                // was done yet, so the group can start again on a new one.
                self.conn = None;
                begun = self.begin().await;
            }
            if let Err(e) = begun {
                self.conn = None;
                for job in jobs.drain(..) {
                    failed.push((job.tx, StoreError::Database(e.to_string())));
                }
                break;
            }
            // The group's Informs first, all together: a statement per table instead of
            // four per Inform, each a round trip. If that fails, the group runs again
            // one call after the other, which finds the failing call.
            let mut batched = vec![false; jobs.len()];
            if batch {
                let places = batched_informs(&jobs);
                if places.len() > 1 {
                    let informs: Vec<&InformRecord> = places
                        .iter()
                        .filter_map(|&i| jobs[i].op.lone_inform())
                        .collect();
                    if self.informs(&informs).await.is_err() {
                        self.devices.clear();
                        if self.exec("ROLLBACK").await.is_err() {
                            self.conn = None;
                        }
                        batch = false;
                        continue;
                    }
                    self.stats
                        .informs_batched
                        .fetch_add(places.len() as u64, Ordering::Relaxed);
                    for i in places {
                        batched[i] = true;
                    }
                }
            }
            let mut results = Vec::with_capacity(jobs.len());
            let mut failing = None;
            for (i, job) in jobs.iter().enumerate() {
                if batched[i] {
                    results.push(Out::Unit);
                    continue;
                }
                match self.apply_op(&job.op).await {
                    Ok(out) => results.push(out),
                    Err(e) => {
                        failing = Some((i, e));
                        break;
                    }
                }
            }
            if let Some((i, e)) = failing {
                self.devices.clear();
                if self.exec("ROLLBACK").await.is_err() {
                    self.conn = None;
                }
                failed.push((jobs.remove(i).tx, e));
                continue;
            }
            if let Err(e) = self.exec("COMMIT").await {
                if self.exec("ROLLBACK").await.is_err() {
                    self.conn = None;
                }
                for job in jobs.drain(..) {
                    failed.push((job.tx, StoreError::Database(e.to_string())));
                }
                break;
            }
            self.stats.transactions.fetch_add(1, Ordering::Relaxed);
            self.stats
                .calls
                .fetch_add(jobs.len() as u64, Ordering::Relaxed);
            for (job, out) in jobs.drain(..).zip(results) {
                let _ = job.tx.send(Ok(out));
            }
        }
        self.stats
            .failed
            .fetch_add(failed.len() as u64, Ordering::Relaxed);
        for (tx, e) in failed {
            let _ = tx.send(Err(e));
        }
    }

    /// Deletes one chunk of events older than the retention when a step is due.
    async fn prune_events(&mut self) {
        if self.conn.is_none() {
            return;
        }
        let Some(cutoff) = self.pruning.due() else {
            return;
        };
        let deleted = match self.conn() {
            Ok(conn) => sqlx::query(statements::PRUNE_EVENTS)
                .bind(cutoff)
                .bind(EventPruning::CHUNK)
                .execute(&mut **conn)
                .await
                .map(|r| r.rows_affected())
                .ok(),
            Err(_) => return,
        };
        if let Some(n) = deleted {
            self.stats.events_pruned.fetch_add(n, Ordering::Relaxed);
        }
        self.pruning.done(deleted);
    }

    async fn apply_op(&mut self, op: &Op) -> Result<Out> {
        match op {
            Op::Commit(changes) => {
                for c in changes {
                    self.apply(c).await?;
                }
                Ok(Out::Unit)
            }
            Op::SetCpeCredential(device, credential) => self
                .set_cpe_credential(device, credential.as_ref())
                .await
                .map(|()| Out::Unit),
            Op::DeleteDevice(device) => self.delete_device(device).await.map(Out::Bool),
            Op::Tag(device, tag, add) => self.tag(device, tag, *add).await.map(Out::Bool),
            Op::InsertTask(task) => self.insert_task(task).await.map(Out::Task),
            Op::DeleteTask(task) => self.delete_task(*task).await.map(Out::Device),
            Op::RetryTask(task) => self.retry_task(*task).await.map(Out::Bool),
            Op::ExpireTasks(now) => self.expire_tasks(*now).await.map(Out::Count),
            Op::DeleteFault(device, channel) => {
                self.delete_fault(device, channel).await.map(Out::Bool)
            }
            Op::InsertToken(token) => self.insert_token(token).await.map(|()| Out::Unit),
        }
    }

    /// The internal id of a device, if it exists.
    async fn device(&mut self, device: &DeviceId) -> Result<Option<i64>> {
        if let Some(&id) = self.devices.get(device.as_str()) {
            return Ok(Some(id));
        }
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM devices WHERE device_id = $1")
            .bind(device.as_str())
            .fetch_optional(&mut **self.conn()?)
            .await?;
        if let Some(id) = id {
            self.devices.insert(device.as_str().into(), id);
        }
        Ok(id)
    }

    /// The internal id of a device that must exist for a change to apply.
    async fn existing(&mut self, device: &DeviceId) -> Result<i64> {
        self.device(device)
            .await?
            .ok_or_else(|| StoreError::Database(format!("unknown device {device}")))
    }

    /// Runs a statement taking (device or id, one more argument).
    async fn exec2<A, B>(&mut self, sql: &str, a: A, b: B) -> Result<u64>
    where
        A: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send,
        B: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send,
    {
        Ok(sqlx::query(sql)
            .bind(a)
            .bind(b)
            .execute(&mut **self.conn()?)
            .await?
            .rows_affected())
    }

    async fn apply(&mut self, change: &Change) -> Result<()> {
        match change {
            Change::Inform(inform) => self.inform(inform).await,
            Change::Params { device, updates } => {
                let id = self.existing(device).await?;
                self.forget_inform_values(id).await?;
                self.upsert_params(id, &updates.iter().collect::<Vec<_>>(), None)
                    .await
            }
            Change::DeleteParams { device, paths } => {
                let id = self.existing(device).await?;
                self.forget_inform_values(id).await?;
                for p in paths {
                    self.delete_params(id, p).await?;
                }
                Ok(())
            }
            Change::TaskDone { task, device } => {
                let id = self.existing(device).await?;
                self.exec2("DELETE FROM tasks WHERE id = $1 AND device = $2", *task, id)
                    .await?;
                self.delete_fault_row(id, &task_channel(*task)).await?;
                Ok(())
            }
            Change::TaskProgress { task, progress } => {
                // A task deleted meanwhile (by the API) has no progress to keep.
                self.exec2(
                    "UPDATE tasks SET progress = $1 WHERE id = $2",
                    json_text(progress)?,
                    *task,
                )
                .await?;
                Ok(())
            }
            Change::TaskFault {
                task,
                device,
                fault,
                retry_at,
            } => {
                let id = self.existing(device).await?;
                // The fault counts earlier attempts; the next attempt is one more retry.
                let updated = sqlx::query(statements::TASK_FAULTED)
                    .bind(i64::from(fault.retries) + 1)
                    .bind(retry_at.millis())
                    .bind(*task)
                    .bind(id)
                    .execute(&mut **self.conn()?)
                    .await?
                    .rows_affected();
                // No fault is recorded for a task deleted meanwhile.
                if updated > 0 {
                    self.upsert_fault(id, &task_channel(*task), fault).await?;
                }
                Ok(())
            }
            Change::DeviceFault {
                device,
                channel,
                fault,
            } => {
                let id = self.existing(device).await?;
                self.upsert_fault(id, channel, fault).await
            }
            Change::ClearFault { device, channel } => {
                let id = self.existing(device).await?;
                self.delete_fault_row(id, channel).await.map(drop)
            }
            Change::ConnectionRequestCredentials {
                device,
                username,
                password,
            } => {
                let id = self.existing(device).await?;
                sqlx::query(statements::SET_CR_CREDENTIALS)
                    .bind(username)
                    .bind(password)
                    .bind(id)
                    .execute(&mut **self.conn()?)
                    .await?;
                Ok(())
            }
            Change::TransferStarted { device, transfer } => {
                let id = self.existing(device).await?;
                self.transfer_started(id, transfer).await
            }
            Change::Tags {
                device,
                add,
                remove,
            } => {
                for t in add {
                    self.tag(device, t, true).await?;
                }
                for t in remove {
                    self.tag(device, t, false).await?;
                }
                Ok(())
            }
            Change::TransferCompleted {
                device,
                command_key,
            } => {
                let id = self.existing(device).await?;
                self.exec2(statements::DELETE_TRANSFER, id, command_key.as_str())
                    .await?;
                Ok(())
            }
        }
    }

    async fn inform(&mut self, inform: &InformRecord) -> Result<()> {
        self.informs(&[inform]).await
    }

    /// Writes Informs of distinct devices, with one statement per table for all of them:
    /// each device row, created or updated, its event row, and its parameter rows as the
    /// Inform's digests plan them (`shared::inform`). A bootstrap first deletes the
    /// device's parameters and the connection-request credentials the ACS set.
    async fn informs(&mut self, informs: &[&InformRecord]) -> Result<()> {
        let device_ids: Vec<&str> = informs.iter().map(|r| r.device.as_str()).collect();
        // The rows are locked first, so that what they say of the last Inform is the latest
        // committed, which another node's session may have changed; in one order, so that
        // nodes writing the same devices cannot deadlock.
        let rows: Vec<DeviceLastInformRow> = sqlx::query_as(
            "SELECT device_id, inform_values, inform_paths, last_inform FROM devices \
             WHERE device_id = ANY($1) ORDER BY device_id FOR UPDATE",
        )
        .bind(&device_ids)
        .fetch_all(&mut **self.conn()?)
        .await?;
        let mut last: HashMap<String, LastInform> = rows
            .into_iter()
            .map(|(d, values, paths, at)| (d, LastInform { values, paths, at }))
            .collect();

        let n = informs.len();
        let mut digests = Vec::with_capacity(n);
        let (mut manufacturer, mut oui, mut product_class, mut serial) =
            (Vec::with_capacity(n), Vec::new(), Vec::new(), Vec::new());
        let (mut at, mut boot, mut bootstrap, mut version, mut remote) = (
            Vec::with_capacity(n),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let (mut values, mut paths) = (Vec::with_capacity(n), Vec::new());
        for r in informs {
            let t = r.at.millis();
            self.pruning.saw_inform(t);
            let digest = InformDigest::of(&r.params, t);
            manufacturer.push(r.identity.manufacturer.as_str());
            oui.push(r.identity.oui.as_str());
            product_class.push(r.identity.product_class.as_str());
            serial.push(r.identity.serial_number.as_str());
            at.push(t);
            boot.push(r.boot.then_some(t));
            bootstrap.push(r.bootstrap.then_some(t));
            version.push(r.cwmp_version.as_str());
            remote.push(r.remote_address.as_deref());
            values.push(digest.values.clone());
            paths.push(digest.paths);
            digests.push(digest);
        }
        // UPSERT_DEVICE, a row per Inform.
        let ids: Vec<(i64, String)> = sqlx::query_as(
            "INSERT INTO devices (device_id, manufacturer, oui, product_class, \
                 serial_number, registered, last_inform, last_boot, last_bootstrap, \
                 cwmp_version, remote_address, inform_values, inform_paths) \
             SELECT d, m, o, p, s, t, t, b, bs, v, r, iv, ip FROM unnest($1::text[], \
                 $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::int8[], \
                 $8::int8[], $9::text[], $10::text[], $11::bytea[], $12::int8[]) \
                 AS x(d, m, o, p, s, t, b, bs, v, r, iv, ip) \
             ON CONFLICT (device_id) DO UPDATE SET manufacturer = excluded.manufacturer, \
                 oui = excluded.oui, product_class = excluded.product_class, \
                 serial_number = excluded.serial_number, \
                 last_inform = excluded.last_inform, \
                 last_boot = COALESCE(excluded.last_boot, devices.last_boot), \
                 last_bootstrap = COALESCE(excluded.last_bootstrap, devices.last_bootstrap), \
                 cwmp_version = excluded.cwmp_version, \
                 remote_address = COALESCE(excluded.remote_address, devices.remote_address), \
                 inform_values = excluded.inform_values, \
                 inform_paths = excluded.inform_paths \
             RETURNING id, device_id",
        )
        .bind(&device_ids)
        .bind(&manufacturer)
        .bind(&oui)
        .bind(&product_class)
        .bind(&serial)
        .bind(&at)
        .bind(&boot)
        .bind(&bootstrap)
        .bind(&version)
        .bind(&remote)
        .bind(&values)
        .bind(&paths)
        .fetch_all(&mut **self.conn()?)
        .await?;
        for (id, device) in ids {
            self.devices.insert(device, id);
        }
        let mut device_rows = Vec::with_capacity(n);
        for r in informs {
            let id = self
                .devices
                .get(r.device.as_str())
                .copied()
                .ok_or_else(|| {
                    StoreError::Database(format!("device {} was not written", r.device))
                })?;
            device_rows.push(id);
        }

        let reset: Vec<i64> = informs
            .iter()
            .zip(&device_rows)
            .filter(|(r, _)| r.bootstrap)
            .map(|(_, &id)| id)
            .collect();
        if !reset.is_empty() {
            // The devices were reset: what was known of them, and the connection-request
            // credentials the ACS set, are gone.
            sqlx::query("DELETE FROM params WHERE device = ANY($1)")
                .bind(&reset)
                .execute(&mut **self.conn()?)
                .await?;
            // One statement per device: bootstraps are rare, and the statement is the one
            // the SQLite store runs.
            for id in &reset {
                sqlx::query(statements::CLEAR_CR_CREDENTIALS)
                    .bind(id)
                    .execute(&mut **self.conn()?)
                    .await?;
            }
        }
        if self.pruning.records_events() {
            let codes = informs
                .iter()
                .map(|r| event_codes_json(r))
                .collect::<Result<Vec<String>>>()?;
            let retries: Vec<i64> = informs.iter().map(|r| i64::from(r.retry_count)).collect();
            sqlx::query(
                "INSERT INTO events (device, ts, codes, retry_count) \
                 SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::int8[])",
            )
            .bind(&device_rows)
            .bind(&at)
            .bind(&codes)
            .bind(&retries)
            .execute(&mut **self.conn()?)
            .await?;
        }

        let mut unmark: (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
        let mut rows: Vec<(i64, &ParamUpdate, Option<i64>)> = Vec::new();
        for ((r, digest), &id) in informs.iter().zip(&digests).zip(&device_rows) {
            let t = Some(r.at.millis());
            let last = last.remove(r.device.as_str()).unwrap_or_default();
            match last.plan(digest, r.bootstrap) {
                ParamsPlan::Keep => {}
                ParamsPlan::Changed(which) => {
                    rows.extend(
                        which
                            .iter()
                            .filter_map(|&i| r.params.get(i))
                            .map(|u| (id, u, t)),
                    );
                }
                ParamsPlan::Write => rows.extend(r.params.iter().map(|u| (id, u, t))),
                ParamsPlan::UnmarkThenWrite { at: before } => {
                    unmark.0.push(id);
                    unmark.1.push(before);
                    rows.extend(r.params.iter().map(|u| (id, u, t)));
                }
            }
        }
        if !unmark.0.is_empty() {
            sqlx::query(
                "UPDATE params SET ts = x.at FROM unnest($1::int8[], $2::int8[]) AS x(device, at) \
                 WHERE params.device = x.device AND params.ts = -1",
            )
            .bind(&unmark.0)
            .bind(&unmark.1)
            .execute(&mut **self.conn()?)
            .await?;
        }
        self.upsert_rows(&rows).await
    }

    /// Another write changes the device's parameters: the stored digest of its last
    /// Inform's values no longer describes its rows.
    async fn forget_inform_values(&mut self, device: i64) -> Result<()> {
        sqlx::query(inform::FORGET_INFORM_VALUES)
            .bind(device)
            .execute(&mut **self.conn()?)
            .await?;
        Ok(())
    }

    /// The ids of paths, interning the new ones. Interning commits at once, on another
    /// connection, outside the group transaction: a path row is never deleted, so one
    /// interned for a call that is rolled back is merely unused.
    async fn path_ids(&mut self, updates: &[&ParamUpdate]) -> Result<Vec<i64>> {
        let missing: Vec<&str> = updates
            .iter()
            .map(|u| u.path.as_str())
            .filter(|p| !self.paths.contains_key(*p))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            sqlx::query(
                "INSERT INTO paths (path) SELECT * FROM unnest($1::text[]) \
                 ON CONFLICT (path) DO NOTHING",
            )
            .bind(&missing)
            .execute(&self.pool)
            .await?;
            let rows: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, path FROM paths WHERE path = ANY($1)")
                    .bind(&missing)
                    .fetch_all(&mut **self.conn()?)
                    .await?;
            for (id, path) in rows {
                self.paths.insert(path, id);
            }
        }
        updates
            .iter()
            .map(|u| {
                self.paths.get(&u.path).copied().ok_or_else(|| {
                    StoreError::Database(format!("path {:?} was not interned", u.path))
                })
            })
            .collect()
    }

    /// Inserts or updates paths; `None` fields keep what is stored.
    /// `informed_at`: the time of the Inform writing them, if one is (see
    /// [`inform::stored_read_time`]).
    async fn upsert_params(
        &mut self,
        device: i64,
        updates: &[&ParamUpdate],
        informed_at: Option<i64>,
    ) -> Result<()> {
        let rows: Vec<(i64, &ParamUpdate, Option<i64>)> =
            updates.iter().map(|u| (device, *u, informed_at)).collect();
        self.upsert_rows(&rows).await
    }

    /// Inserts or updates parameter rows of any devices: (device, update, the time of the
    /// Inform writing it if one is). One statement per run of distinct rows (an upsert
    /// cannot touch a row twice).
    async fn upsert_rows(&mut self, rows: &[(i64, &ParamUpdate, Option<i64>)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let updates: Vec<&ParamUpdate> = rows.iter().map(|(_, u, _)| *u).collect();
        let ids = self.path_ids(&updates).await?;
        let mut arrays = ParamArrays::default();
        let mut seen = HashSet::new();
        for (&(device, u, informed_at), path) in rows.iter().zip(ids) {
            if !seen.insert((device, path)) {
                self.upsert_arrays(std::mem::take(&mut arrays)).await?;
                seen.clear();
                seen.insert((device, path));
            }
            arrays.push(device, path, u, informed_at)?;
        }
        self.upsert_arrays(arrays).await
    }

    async fn upsert_arrays(&mut self, a: ParamArrays) -> Result<()> {
        if a.path.is_empty() {
            return Ok(());
        }
        // A value (type not NULL) replaces value, type and number together; attributes
        // (notification not NULL) replace the access list and their timestamp together.
        sqlx::query(
            "INSERT INTO params (device, path, object, writable, value, type, other_type, \
                 num, ts, notification, access_list, attr_ts) \
             SELECT * FROM unnest($1::int8[], $2::int8[], $3::bool[], $4::bool[], \
                 $5::text[], $6::int2[], $7::text[], $8::float8[], $9::int8[], $10::int2[], \
                 $11::text[], $12::int8[]) \
             ON CONFLICT (device, path) DO UPDATE SET \
                 object = excluded.object, \
                 writable = COALESCE(excluded.writable, params.writable), \
                 value = CASE WHEN excluded.type IS NULL THEN params.value \
                     ELSE excluded.value END, \
                 other_type = CASE WHEN excluded.type IS NULL THEN params.other_type \
                     ELSE excluded.other_type END, \
                 num = CASE WHEN excluded.type IS NULL THEN params.num ELSE excluded.num END, \
                 type = COALESCE(excluded.type, params.type), \
                 ts = COALESCE(excluded.ts, params.ts), \
                 access_list = CASE WHEN excluded.notification IS NULL \
                     THEN params.access_list ELSE excluded.access_list END, \
                 attr_ts = CASE WHEN excluded.notification IS NULL THEN params.attr_ts \
                     ELSE excluded.attr_ts END, \
                 notification = COALESCE(excluded.notification, params.notification)",
        )
        .bind(&a.device)
        .bind(&a.path)
        .bind(&a.object)
        .bind(&a.writable)
        .bind(&a.value)
        .bind(&a.code)
        .bind(&a.other)
        .bind(&a.num)
        .bind(&a.ts)
        .bind(&a.notification)
        .bind(&a.access_list)
        .bind(&a.attr_ts)
        .execute(&mut **self.conn()?)
        .await?;
        Ok(())
    }

    /// Deletes a path, and for an object everything below it.
    async fn delete_params(&mut self, device: i64, path: &str) -> Result<()> {
        let conn = &mut **self.conn()?;
        if path.is_empty() {
            sqlx::query("DELETE FROM params WHERE device = $1")
                .bind(device)
                .execute(conn)
                .await?;
        } else if path.ends_with('.') {
            match prefix_upper_bound(path) {
                Some(upper) => {
                    sqlx::query(statements::DELETE_PARAMS_RANGE)
                        .bind(device)
                        .bind(path)
                        .bind(upper)
                        .execute(conn)
                        .await?;
                }
                None => {
                    sqlx::query(statements::DELETE_PARAMS_FROM)
                        .bind(device)
                        .bind(path)
                        .execute(conn)
                        .await?;
                }
            }
        } else {
            sqlx::query(
                "DELETE FROM params WHERE device = $1 \
                 AND path = (SELECT id FROM paths WHERE path = $2)",
            )
            .bind(device)
            .bind(path)
            .execute(conn)
            .await?;
        }
        Ok(())
    }

    async fn upsert_fault(&mut self, device: i64, channel: &str, fault: &Fault) -> Result<()> {
        let detail = fault.detail.as_ref().map(json_text).transpose()?;
        sqlx::query(statements::UPSERT_FAULT)
            .bind(device)
            .bind(channel)
            .bind(&fault.code)
            .bind(&fault.message)
            .bind(detail)
            .bind(fault.timestamp.millis())
            .bind(i64::from(fault.retries))
            .execute(&mut **self.conn()?)
            .await?;
        Ok(())
    }

    /// Deletes a fault row; whether it existed.
    async fn delete_fault_row(&mut self, device: i64, channel: &str) -> Result<bool> {
        let n = self
            .exec2(
                "DELETE FROM faults WHERE device = $1 AND channel = $2",
                device,
                channel,
            )
            .await?;
        Ok(n > 0)
    }

    async fn transfer_started(&mut self, device: i64, t: &PendingTransfer) -> Result<()> {
        sqlx::query(statements::UPSERT_TRANSFER)
            .bind(device)
            .bind(&t.command_key)
            .bind(t.task)
            .bind(json_text(&t.detail)?)
            .bind(t.started.millis())
            .execute(&mut **self.conn()?)
            .await?;
        Ok(())
    }

    async fn set_cpe_credential(
        &mut self,
        device: &DeviceId,
        credential: Option<&CpeCredential>,
    ) -> Result<()> {
        let conn = &mut **self.conn()?;
        sqlx::query("DELETE FROM cpe_credentials WHERE device_id = $1")
            .bind(device.as_str())
            .execute(&mut *conn)
            .await?;
        if let Some(c) = credential {
            sqlx::query(statements::UPSERT_CPE_CREDENTIAL)
                .bind(&c.username)
                .bind(device.as_str())
                .bind(&c.ha1_md5)
                .bind(&c.ha1_sha256)
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    async fn delete_device(&mut self, device: &DeviceId) -> Result<bool> {
        let Some(id) = self.device(device).await? else {
            return Ok(false);
        };
        let conn = &mut **self.conn()?;
        for sql in statements::DELETE_DEVICE {
            sqlx::query(sql).bind(id).execute(&mut *conn).await?;
        }
        self.devices.remove(device.as_str());
        Ok(true)
    }

    /// Adds (or removes) a tag; `false` if the device does not exist.
    async fn tag(&mut self, device: &DeviceId, tag: &str, add: bool) -> Result<bool> {
        let Some(id) = self.device(device).await? else {
            return Ok(false);
        };
        let sql = if add {
            statements::ADD_TAG
        } else {
            "DELETE FROM tags WHERE device = $1 AND tag = $2"
        };
        self.exec2(sql, id, tag).await?;
        Ok(true)
    }

    async fn insert_task(&mut self, task: &NewTask) -> Result<TaskId> {
        let Some(device) = self.device(&task.device).await? else {
            return Err(StoreError::InvalidQuery(InvalidQuery(format!(
                "no device {}",
                task.device
            ))));
        };
        if let Some(key) = &task.unique_key {
            let replaced: Vec<TaskId> = sqlx::query_scalar(statements::TASKS_BY_KEY)
                .bind(device)
                .bind(key)
                .fetch_all(&mut **self.conn()?)
                .await?;
            for id in replaced {
                self.delete_task_rows(device, id).await?;
            }
        }
        let name = task
            .json
            .get("name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        Ok(sqlx::query_scalar(
            "INSERT INTO tasks (device, name, json, created, expiry, unique_key) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(device)
        .bind(name)
        .bind(json_text(&task.json)?)
        .bind(task.created.millis())
        .bind(task.expiry.map(Timestamp::millis))
        .bind(&task.unique_key)
        .fetch_one(&mut **self.conn()?)
        .await?)
    }

    /// Deletes a task and its fault.
    async fn delete_task_rows(&mut self, device: i64, task: TaskId) -> Result<()> {
        sqlx::query("DELETE FROM tasks WHERE id = $1")
            .bind(task)
            .execute(&mut **self.conn()?)
            .await?;
        self.delete_fault_row(device, &task_channel(task)).await?;
        Ok(())
    }

    /// A task's internal device id and device id.
    async fn task_owner(&mut self, task: TaskId) -> Result<Option<(i64, String)>> {
        Ok(sqlx::query_as(statements::TASK_OWNER)
            .bind(task)
            .fetch_optional(&mut **self.conn()?)
            .await?)
    }

    async fn delete_task(&mut self, task: TaskId) -> Result<Option<DeviceId>> {
        let Some((device, device_id)) = self.task_owner(task).await? else {
            return Ok(None);
        };
        self.delete_task_rows(device, task).await?;
        stored_device_id(&device_id).map(Some)
    }

    /// Clears the task's fault, retry delay and retry count.
    async fn retry_task(&mut self, task: TaskId) -> Result<bool> {
        let Some((device, _)) = self.task_owner(task).await? else {
            return Ok(false);
        };
        sqlx::query(statements::RETRY_TASK)
            .bind(task)
            .execute(&mut **self.conn()?)
            .await?;
        self.delete_fault_row(device, &task_channel(task)).await?;
        Ok(true)
    }

    async fn expire_tasks(&mut self, now: Timestamp) -> Result<u64> {
        let expired: Vec<(TaskId, i64)> =
            sqlx::query_as("SELECT id, device FROM tasks WHERE expiry <= $1")
                .bind(now.millis())
                .fetch_all(&mut **self.conn()?)
                .await?;
        for &(task, device) in &expired {
            self.delete_task_rows(device, task).await?;
        }
        Ok(expired.len() as u64)
    }

    /// Deletes a fault, and for a task channel the task; whether the fault existed.
    async fn delete_fault(&mut self, device: &DeviceId, channel: &str) -> Result<bool> {
        let Some(id) = self.device(device).await? else {
            return Ok(false);
        };
        let existed = self.delete_fault_row(id, channel).await?;
        if let Some(task) = channel_task(channel) {
            self.exec2("DELETE FROM tasks WHERE id = $1 AND device = $2", task, id)
                .await?;
        }
        Ok(existed)
    }

    async fn insert_token(&mut self, token: &TokenRecord) -> Result<()> {
        sqlx::query(statements::UPSERT_TOKEN)
            .bind(&token.hash)
            .bind(&token.name)
            .bind(token.created.millis())
            .execute(&mut **self.conn()?)
            .await?;
        Ok(())
    }
}

/// The writer task's loop; returns when every sender is gone and the queue is drained.
pub(super) async fn run(mut ctx: WriteCtx, mut rx: mpsc::Receiver<Job>, max_group: usize) {
    while let Some(first) = rx.recv().await {
        let mut jobs = Vec::with_capacity(max_group.min(64));
        jobs.push(first);
        while jobs.len() < max_group {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        ctx.run_group(jobs).await;
        ctx.prune_events().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use acs_core::change::InformRecord;

    fn inform(serial: &str, bootstrap: bool) -> Op {
        Op::Commit(vec![Change::Inform(InformRecord {
            device: DeviceId::parse(serial).unwrap(),
            identity: acs_core::device::DeviceIdentity {
                manufacturer: "M".into(),
                oui: "00D09E".into(),
                product_class: "HGW".into(),
                serial_number: serial.into(),
            },
            at: Timestamp(1),
            events: Vec::new(),
            retry_count: 0,
            cwmp_version: "1.2".into(),
            bootstrap,
            boot: false,
            params: Vec::new(),
            remote_address: None,
        })])
    }

    fn jobs(ops: Vec<Op>) -> Vec<Job> {
        ops.into_iter()
            .map(|op| Job::new(op, oneshot::channel().0))
            .collect()
    }

    #[test]
    fn informs_of_devices_named_once_are_batched() {
        let d = |s: &str| DeviceId::parse(s).unwrap();
        let group = jobs(vec![
            inform("A", false),
            inform("B", false),
            // Named again by a later call: its order with that call matters.
            inform("C", false),
            Op::DeleteDevice(d("C")),
            // Named by an earlier call.
            Op::Tag(d("D"), "t".into(), true),
            inform("D", false),
            // Twice.
            inform("E", false),
            inform("E", false),
            // A bootstrap is batched too.
            inform("F", true),
            // More than an Inform in the call.
            Op::Commit(vec![
                Change::Inform(match inform("G", false) {
                    Op::Commit(mut c) => match c.pop().unwrap() {
                        Change::Inform(r) => r,
                        _ => unreachable!(),
                    },
                    _ => unreachable!(),
                }),
                Change::Tags {
                    device: d("G"),
                    add: vec!["x".into()],
                    remove: Vec::new(),
                },
            ]),
            Op::DeleteTask(7),
            inform("H", false),
        ]);
        assert_eq!(batched_informs(&group), [0, 1, 8, 11]);
    }
}
