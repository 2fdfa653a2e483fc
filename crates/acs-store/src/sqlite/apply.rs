//! What the writer does: applying a session's changes and the API's writes.

use acs_core::change::{Change, InformRecord, ParamUpdate, PendingTransfer};
use acs_core::device::ValueType;
use acs_core::fault::{Fault, task_channel};
use acs_core::query::InvalidQuery;
use acs_core::task::{NewTask, TaskId};
use acs_core::{DeviceId, Timestamp};
use rusqlite::OptionalExtension;

use super::writer::WriteCtx;
use crate::shared::inform::{self, InformDigest, LastInform, ParamsPlan};
use crate::shared::paths::prefix_upper_bound;
use crate::shared::statements;
use crate::shared::{channel_task, event_codes_json, json_text, stored_device_id};
use crate::{CpeCredential, Result, StoreError, TokenRecord};

/// The parameters of the statements of [`WriteCtx::upsert_params`].
type ParamArgs<'a> = (
    i64,
    i64,
    bool,
    Option<bool>,
    Option<&'a str>,
    Option<i64>,
    Option<&'a str>,
    Option<f64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

/// `informed_at`: the time of the Inform writing it, if one is.
fn param_args(
    device: i64,
    path: i64,
    u: &ParamUpdate,
    informed_at: Option<i64>,
) -> Result<ParamArgs<'_>> {
    let (value, code, other, num) = match &u.value {
        Some(v) => (
            Some(v.text.as_str()),
            Some(i64::from(v.value_type.code())),
            match &v.value_type {
                ValueType::Other(name) => Some(name.as_str()),
                _ => None,
            },
            v.number(),
        ),
        None => (None, None, None, None),
    };
    let (notification, access_list, attr_ts) = match &u.attributes {
        Some((a, ts)) => (
            Some(i64::from(a.notification)),
            Some(json_text(&a.access_list)?),
            Some(ts.millis()),
        ),
        None => (None, None, None),
    };
    Ok((
        device,
        path,
        u.object || u.path.ends_with('.'),
        u.writable,
        value,
        code,
        other,
        num,
        inform::stored_read_time(u, informed_at),
        notification,
        access_list,
        attr_ts,
    ))
}

/// A cached statement taken from the connection's cache on first use.
struct Lazy<'c> {
    conn: &'c rusqlite::Connection,
    sql: &'static str,
    statement: Option<rusqlite::CachedStatement<'c>>,
}

impl<'c> Lazy<'c> {
    fn new(conn: &'c rusqlite::Connection, sql: &'static str) -> Lazy<'c> {
        Lazy {
            conn,
            sql,
            statement: None,
        }
    }

    fn get(&mut self) -> Result<&mut rusqlite::CachedStatement<'c>> {
        match &mut self.statement {
            Some(statement) => Ok(statement),
            slot => Ok(slot.insert(self.conn.prepare_cached(self.sql)?)),
        }
    }
}

/// `first`, then `rest`: statement parameters that differ only in ?1.
fn prepend<'a>(
    first: &'a dyn rusqlite::ToSql,
    rest: [&'a dyn rusqlite::ToSql; 11],
) -> [&'a dyn rusqlite::ToSql; 12] {
    let mut all = [first; 12];
    all[1..].copy_from_slice(&rest);
    all
}

impl WriteCtx {
    /// The internal id of a device, if it exists.
    pub(super) fn device(&mut self, device: &DeviceId) -> Result<Option<i64>> {
        if let Some(&id) = self.devices.get(device.as_str()) {
            return Ok(Some(id));
        }
        let id: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM devices WHERE device_id = ?1")?
            .query_row([device.as_str()], |r| r.get(0))
            .optional()?;
        if let Some(id) = id {
            self.devices.insert(device.as_str().into(), id);
        }
        Ok(id)
    }

    /// The internal id of a device that must exist for a change to apply.
    fn existing(&mut self, device: &DeviceId) -> Result<i64> {
        self.device(device)?
            .ok_or_else(|| StoreError::Database(format!("unknown device {device}")))
    }

    /// Applies a session step's changes, in order. `digests`: those of the Informs among
    /// them ([`inform_digests`]), computed by the caller.
    pub(super) fn apply_all(
        &mut self,
        changes: &[Change],
        digests: &[Option<InformDigest>],
    ) -> Result<()> {
        changes
            .iter()
            .enumerate()
            .try_for_each(|(i, c)| self.apply(c, digests.get(i).and_then(Option::as_ref)))
    }

    fn apply(&mut self, change: &Change, digest: Option<&InformDigest>) -> Result<()> {
        match change {
            Change::Inform(inform) => self.inform(inform, digest),
            Change::Params { device, updates } => {
                let id = self.existing(device)?;
                self.forget_inform_values(id)?;
                self.upsert_params(id, &updates.iter().collect::<Vec<_>>(), None, false)
            }
            Change::DeleteParams { device, paths } => {
                let id = self.existing(device)?;
                self.forget_inform_values(id)?;
                paths.iter().try_for_each(|p| self.delete_params(id, p))
            }
            Change::TaskDone { task, device } => {
                let id = self.existing(device)?;
                self.conn
                    .prepare_cached("DELETE FROM tasks WHERE id = ?1 AND device = ?2")?
                    .execute((task, id))?;
                self.delete_fault_row(id, &task_channel(*task))?;
                Ok(())
            }
            Change::TaskProgress { task, progress } => {
                // A task deleted meanwhile (by the API) has no progress to keep.
                self.conn
                    .prepare_cached("UPDATE tasks SET progress = ?1 WHERE id = ?2")?
                    .execute((json_text(progress)?, task))?;
                Ok(())
            }
            Change::TaskFault {
                task,
                device,
                fault,
                retry_at,
            } => {
                let id = self.existing(device)?;
                // The fault counts earlier attempts; the next attempt is one more retry.
                let updated = self
                    .conn
                    .prepare_cached(statements::TASK_FAULTED)?
                    .execute((i64::from(fault.retries) + 1, retry_at.millis(), task, id))?;
                // No fault is recorded for a task deleted meanwhile.
                if updated > 0 {
                    self.upsert_fault(id, &task_channel(*task), fault)?;
                }
                Ok(())
            }
            Change::DeviceFault {
                device,
                channel,
                fault,
            } => {
                let id = self.existing(device)?;
                self.upsert_fault(id, channel, fault)
            }
            Change::ClearFault { device, channel } => {
                let id = self.existing(device)?;
                self.delete_fault_row(id, channel).map(drop)
            }
            Change::ConnectionRequestCredentials {
                device,
                username,
                password,
            } => {
                let id = self.existing(device)?;
                self.conn
                    .prepare_cached(statements::SET_CR_CREDENTIALS)?
                    .execute((username, password, id))?;
                Ok(())
            }
            Change::TransferStarted { device, transfer } => {
                let id = self.existing(device)?;
                self.transfer_started(id, transfer)
            }
            Change::Tags {
                device,
                add,
                remove,
            } => {
                for t in add {
                    self.tag(device, t, true)?;
                }
                for t in remove {
                    self.tag(device, t, false)?;
                }
                Ok(())
            }
            Change::TransferCompleted {
                device,
                command_key,
            } => {
                let id = self.existing(device)?;
                self.conn
                    .prepare_cached(statements::DELETE_TRANSFER)?
                    .execute((id, command_key))?;
                Ok(())
            }
        }
    }

    fn inform(&mut self, inform: &InformRecord, digest: Option<&InformDigest>) -> Result<()> {
        let at = inform.at.millis();
        self.pruning.saw_inform(at);
        let identity = &inform.identity;
        let computed;
        let digest = match digest {
            Some(d) => d,
            None => {
                computed = InformDigest::of(&inform.params, at);
                &computed
            }
        };
        // A known device whose identity is unchanged (nearly every Inform) is updated
        // without assigning the identity columns: SQLite rewrites an index entry whenever
        // its columns are assigned, even to the same value, and the serial number and
        // OUI/product class indexes would each cost a page written per Inform.
        const KNOWN_DEVICE: &str = "UPDATE devices SET last_inform = ?6, \
                 last_boot = COALESCE(?7, last_boot), \
                 last_bootstrap = COALESCE(?8, last_bootstrap), \
                 cwmp_version = ?9, \
                 remote_address = COALESCE(?10, remote_address), \
                 inform_values = ?11, \
                 inform_paths = ?12 \
             WHERE id = ?1 AND manufacturer IS ?2 AND oui IS ?3 AND product_class IS ?4 \
                 AND serial_number IS ?5";
        // ?2 to ?12 of both statements; ?1 is the row id or the device id.
        let boot = inform.boot.then_some(at);
        let bootstrap = inform.bootstrap.then_some(at);
        let fields: [&dyn rusqlite::ToSql; 11] = [
            &identity.manufacturer,
            &identity.oui,
            &identity.product_class,
            &identity.serial_number,
            &at,
            &boot,
            &bootstrap,
            &inform.cwmp_version,
            &inform.remote_address,
            &digest.values,
            &digest.paths,
        ];
        let last = self.last_inform(&inform.device)?;
        let id: i64 = match last {
            Some((id, _))
                if self
                    .conn
                    .prepare_cached(KNOWN_DEVICE)?
                    .execute(&prepend(&id, fields)[..])?
                    == 1 =>
            {
                id
            }
            _ => self
                .conn
                .prepare_cached(statements::UPSERT_DEVICE)?
                .query_row(&prepend(&inform.device.as_str(), fields)[..], |r| r.get(0))?,
        };
        self.devices.insert(inform.device.as_str().into(), id);

        if inform.bootstrap {
            // The device was reset: what was known of it, and the connection-request
            // credentials the ACS set, are gone.
            self.conn
                .prepare_cached("DELETE FROM params WHERE device = ?1")?
                .execute([id])?;
            self.conn
                .prepare_cached(statements::CLEAR_CR_CREDENTIALS)?
                .execute([id])?;
        }
        if self.pruning.records_events() {
            self.conn
                .prepare_cached(statements::INSERT_EVENT)?
                .execute((id, at, event_codes_json(inform)?, inform.retry_count))?;
        }
        let last = last.map(|(_, l)| l).unwrap_or_default();
        let all = || inform.params.iter().collect::<Vec<_>>();
        match last.plan(digest, inform.bootstrap) {
            ParamsPlan::Keep => Ok(()),
            ParamsPlan::Changed(which) => {
                let changed: Vec<&ParamUpdate> =
                    which.iter().filter_map(|&i| inform.params.get(i)).collect();
                self.upsert_params(id, &changed, Some(at), true)
            }
            ParamsPlan::Write => self.upsert_params(id, &all(), Some(at), false),
            ParamsPlan::UnmarkThenWrite { at: before } => {
                self.conn
                    .prepare_cached(inform::UNMARK_INFORMED)?
                    .execute((before, id))?;
                self.upsert_params(id, &all(), Some(at), false)
            }
        }
    }

    /// The internal id of a device and what its row says of its last Inform, if it exists.
    fn last_inform(&mut self, device: &DeviceId) -> Result<Option<(i64, LastInform)>> {
        let row = |r: &rusqlite::Row<'_>| {
            Ok((
                r.get(0)?,
                LastInform {
                    values: r.get(1)?,
                    paths: r.get(2)?,
                    at: r.get(3)?,
                },
            ))
        };
        let found = match self.devices.get(device.as_str()) {
            Some(&id) => self
                .conn
                .prepare_cached(
                    "SELECT id, inform_values, inform_paths, last_inform FROM devices \
                     WHERE id = ?1",
                )?
                .query_row([id], row)
                .optional()?,
            None => self
                .conn
                .prepare_cached(
                    "SELECT id, inform_values, inform_paths, last_inform FROM devices \
                     WHERE device_id = ?1",
                )?
                .query_row([device.as_str()], row)
                .optional()?,
        };
        Ok(found)
    }

    /// Another write changes the device's parameters: the stored digest of its last
    /// Inform's values no longer describes its rows.
    fn forget_inform_values(&mut self, device: i64) -> Result<()> {
        self.conn
            .prepare_cached(inform::FORGET_INFORM_VALUES)?
            .execute([device])?;
        Ok(())
    }

    /// Inserts or updates paths; `None` fields keep what is stored.
    ///
    /// An update that does not change the value leaves the value indexes alone: SQLite
    /// rewrites an index entry whenever its columns are assigned, even to the same value,
    /// and in WAL mode every page touched is written whole. Periodic Informs mostly repeat
    /// values, so a value is first matched with an UPDATE that assigns no indexed column.
    /// `informed_at`: the time of the Inform writing them, if one is (see
    /// [`inform::stored_read_time`]). `changed`: each row is known to differ from its
    /// update (the Inform's digests say so), and the first try is spared.
    fn upsert_params(
        &mut self,
        device: i64,
        updates: &[&ParamUpdate],
        informed_at: Option<i64>,
        changed: bool,
    ) -> Result<()> {
        let ids = updates
            .iter()
            .map(|u| self.path_id(&u.path))
            .collect::<Result<Vec<i64>>>()?;
        // Every statement takes the same parameters: ?1 device, ?2 path, ?3 object,
        // ?4 writable, ?5 value, ?6 type, ?7 other_type, ?8 num, ?9 ts, ?10 notification,
        // ?11 access_list, ?12 attr_ts. A value (type not NULL) replaces value, type and
        // number together; attributes (notification not NULL) replace the access list and
        // their timestamp together.
        const SAME_VALUE: &str = "UPDATE params SET \
                 object = ?3, \
                 writable = COALESCE(?4, writable), \
                 type = ?6, \
                 other_type = ?7, \
                 ts = COALESCE(?9, ts), \
                 access_list = CASE WHEN ?10 IS NULL THEN access_list ELSE ?11 END, \
                 attr_ts = CASE WHEN ?10 IS NULL THEN attr_ts ELSE ?12 END, \
                 notification = COALESCE(?10, notification) \
             WHERE device = ?1 AND path = ?2 AND value = ?5 AND num IS ?8";
        const NO_VALUE: &str = "INSERT INTO params (device, path, object, writable, value, \
                 type, other_type, num, ts, notification, access_list, attr_ts) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
             ON CONFLICT (device, path) DO UPDATE SET \
                 object = excluded.object, \
                 writable = COALESCE(excluded.writable, params.writable), \
                 ts = COALESCE(excluded.ts, params.ts), \
                 access_list = CASE WHEN excluded.notification IS NULL \
                     THEN params.access_list ELSE excluded.access_list END, \
                 attr_ts = CASE WHEN excluded.notification IS NULL THEN params.attr_ts \
                     ELSE excluded.attr_ts END, \
                 notification = COALESCE(excluded.notification, params.notification)";
        const NEW_VALUE: &str = "INSERT INTO params (device, path, object, writable, value, \
                 type, other_type, num, ts, notification, access_list, attr_ts) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
             ON CONFLICT (device, path) DO UPDATE SET \
                 object = excluded.object, \
                 writable = COALESCE(excluded.writable, params.writable), \
                 value = excluded.value, \
                 type = excluded.type, \
                 other_type = excluded.other_type, \
                 num = excluded.num, \
                 ts = COALESCE(excluded.ts, params.ts), \
                 access_list = CASE WHEN excluded.notification IS NULL \
                     THEN params.access_list ELSE excluded.access_list END, \
                 attr_ts = CASE WHEN excluded.notification IS NULL THEN params.attr_ts \
                     ELSE excluded.attr_ts END, \
                 notification = COALESCE(excluded.notification, params.notification)";
        // A row the Inform before wrote, whose value changed: it exists (any write that
        // could have deleted it cleared the digests), so a plain UPDATE, one B-tree seek
        // where the upsert makes two; the upsert stays as the fallback. An Inform's value
        // carries no writable flag and no attributes, so the statement binds only what it
        // sets: 8 parameters where the others bind 12 (binding took about 5% of the ACS's
        // instructions per periodic session, callgrind).
        // ?1 device, ?2 path, ?3 object, ?4 value, ?5 type, ?6 other_type, ?7 num, ?8 ts.
        const CHANGED_VALUE: &str = "UPDATE params SET \
                 object = ?3, value = ?4, type = ?5, other_type = ?6, num = ?7, \
                 ts = COALESCE(?8, ts) \
             WHERE device = ?1 AND path = ?2";
        // Each statement is taken from the cache once per call, and only if used: a
        // cache lookup hashes and compares the statement's text, and an Inform's changed
        // values need one statement of the four.
        let conn = &self.conn;
        let mut same_value = Lazy::new(conn, SAME_VALUE);
        let mut changed_value = Lazy::new(conn, CHANGED_VALUE);
        let mut no_value = Lazy::new(conn, NO_VALUE);
        let mut new_value = Lazy::new(conn, NEW_VALUE);
        for (u, path) in updates.iter().zip(ids) {
            let args = param_args(device, path, u, informed_at)?;
            if u.value.is_none() {
                no_value.get()?.execute(args)?;
            } else if changed {
                let value_only = u.writable.is_none() && u.attributes.is_none();
                let (device, path, object, _, value, code, other, num, ts, ..) = args;
                if !value_only
                    || changed_value
                        .get()?
                        .execute((device, path, object, value, code, other, num, ts))?
                        == 0
                {
                    new_value.get()?.execute(args)?;
                }
            } else if same_value.get()?.execute(args.clone())? == 0 {
                new_value.get()?.execute(args)?;
            }
        }
        Ok(())
    }

    /// Deletes a path, and for an object everything below it.
    fn delete_params(&mut self, device: i64, path: &str) -> Result<()> {
        if path.is_empty() {
            self.conn
                .prepare_cached("DELETE FROM params WHERE device = ?1")?
                .execute([device])?;
        } else if path.ends_with('.') {
            match prefix_upper_bound(path) {
                Some(upper) => {
                    self.conn
                        .prepare_cached(statements::DELETE_PARAMS_RANGE)?
                        .execute((device, path, upper))?;
                }
                None => {
                    self.conn
                        .prepare_cached(statements::DELETE_PARAMS_FROM)?
                        .execute((device, path))?;
                }
            }
        } else if let Some(id) = crate::shared::paths::read(&self.paths).id(path) {
            self.conn
                .prepare_cached("DELETE FROM params WHERE device = ?1 AND path = ?2")?
                .execute((device, id))?;
        }
        Ok(())
    }

    fn upsert_fault(&mut self, device: i64, channel: &str, fault: &Fault) -> Result<()> {
        let detail = fault.detail.as_ref().map(json_text).transpose()?;
        self.conn
            .prepare_cached(statements::UPSERT_FAULT)?
            .execute((
                device,
                channel,
                &fault.code,
                &fault.message,
                detail,
                fault.timestamp.millis(),
                fault.retries,
            ))?;
        Ok(())
    }

    /// Deletes a fault row; whether it existed.
    fn delete_fault_row(&mut self, device: i64, channel: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM faults WHERE device = ?1 AND channel = ?2")?
            .execute((device, channel))?;
        Ok(n > 0)
    }

    fn transfer_started(&mut self, device: i64, t: &PendingTransfer) -> Result<()> {
        self.conn
            .prepare_cached(statements::UPSERT_TRANSFER)?
            .execute((
                device,
                &t.command_key,
                t.task,
                json_text(&t.detail)?,
                t.started.millis(),
            ))?;
        Ok(())
    }

    pub(super) fn set_cpe_credential(
        &mut self,
        device: &DeviceId,
        credential: Option<&CpeCredential>,
    ) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM cpe_credentials WHERE device_id = ?1")?
            .execute([device.as_str()])?;
        if let Some(c) = credential {
            self.conn
                .prepare_cached(statements::UPSERT_CPE_CREDENTIAL)?
                .execute((&c.username, device.as_str(), &c.ha1_md5, &c.ha1_sha256))?;
        }
        Ok(())
    }

    pub(super) fn delete_device(&mut self, device: &DeviceId) -> Result<bool> {
        let Some(id) = self.device(device)? else {
            return Ok(false);
        };
        for sql in statements::DELETE_DEVICE {
            self.conn.prepare_cached(sql)?.execute([id])?;
        }
        self.devices.remove(device.as_str());
        Ok(true)
    }

    /// Adds (or removes) a tag; `false` if the device does not exist.
    pub(super) fn tag(&mut self, device: &DeviceId, tag: &str, add: bool) -> Result<bool> {
        let Some(id) = self.device(device)? else {
            return Ok(false);
        };
        let sql = if add {
            statements::ADD_TAG
        } else {
            "DELETE FROM tags WHERE device = ?1 AND tag = ?2"
        };
        self.conn.prepare_cached(sql)?.execute((id, tag))?;
        Ok(true)
    }

    pub(super) fn insert_task(&mut self, task: &NewTask) -> Result<TaskId> {
        let Some(device) = self.device(&task.device)? else {
            return Err(StoreError::InvalidQuery(InvalidQuery(format!(
                "no device {}",
                task.device
            ))));
        };
        if let Some(key) = &task.unique_key {
            let replaced: Vec<TaskId> = self
                .conn
                .prepare_cached(statements::TASKS_BY_KEY)?
                .query_map((device, key), |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for id in replaced {
                self.delete_task_rows(device, id)?;
            }
        }
        let name = task
            .json
            .get("name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        self.conn
            .prepare_cached(
                "INSERT INTO tasks (device, name, json, created, expiry, unique_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute((
                device,
                name,
                json_text(&task.json)?,
                task.created.millis(),
                task.expiry.map(Timestamp::millis),
                &task.unique_key,
            ))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Deletes a task and its fault.
    fn delete_task_rows(&mut self, device: i64, task: TaskId) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM tasks WHERE id = ?1")?
            .execute([task])?;
        self.delete_fault_row(device, &task_channel(task))?;
        Ok(())
    }

    /// A task's internal device id and device id.
    fn task_owner(&mut self, task: TaskId) -> Result<Option<(i64, String)>> {
        Ok(self
            .conn
            .prepare_cached(statements::TASK_OWNER)?
            .query_row([task], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    pub(super) fn delete_task(&mut self, task: TaskId) -> Result<Option<DeviceId>> {
        let Some((device, device_id)) = self.task_owner(task)? else {
            return Ok(None);
        };
        self.delete_task_rows(device, task)?;
        stored_device_id(&device_id).map(Some)
    }

    /// Clears the task's fault, retry delay and retry count (as deleting the fault does in
    /// GenieACS, where the count lives in the fault).
    pub(super) fn retry_task(&mut self, task: TaskId) -> Result<bool> {
        let Some((device, _)) = self.task_owner(task)? else {
            return Ok(false);
        };
        self.conn
            .prepare_cached(statements::RETRY_TASK)?
            .execute([task])?;
        self.delete_fault_row(device, &task_channel(task))?;
        Ok(true)
    }

    pub(super) fn expire_tasks(&mut self, now: Timestamp) -> Result<u64> {
        let expired: Vec<(TaskId, i64)> = self
            .conn
            .prepare_cached("SELECT id, device FROM tasks WHERE expiry <= ?1")?
            .query_map([now.millis()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for &(task, device) in &expired {
            self.delete_task_rows(device, task)?;
        }
        Ok(expired.len() as u64)
    }

    /// Deletes a fault, and for a task channel the task; whether the fault existed.
    pub(super) fn delete_fault(&mut self, device: &DeviceId, channel: &str) -> Result<bool> {
        let Some(id) = self.device(device)? else {
            return Ok(false);
        };
        let existed = self.delete_fault_row(id, channel)?;
        if let Some(task) = channel_task(channel) {
            self.conn
                .prepare_cached("DELETE FROM tasks WHERE id = ?1 AND device = ?2")?
                .execute((task, id))?;
        }
        Ok(existed)
    }

    pub(super) fn insert_token(&mut self, token: &TokenRecord) -> Result<()> {
        self.conn
            .prepare_cached(statements::UPSERT_TOKEN)?
            .execute((&token.hash, &token.name, token.created.millis()))?;
        Ok(())
    }
}

/// The digests of the Informs among `changes`, in their places (`None` for other changes).
/// The caller computes them on its own thread: on the writer's, every session of a group
/// would wait for them.
pub(super) fn inform_digests(changes: &[Change]) -> Vec<Option<InformDigest>> {
    changes
        .iter()
        .map(|c| match c {
            Change::Inform(i) => Some(InformDigest::of(&i.params, i.at.millis())),
            _ => None,
        })
        .collect()
}
