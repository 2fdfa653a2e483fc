//! What the readers do, each on a read-only connection.
//!
//! Reads that span several statements run in one read transaction, so that they see one
//! snapshot. The path map is locked only to compile a query and to map ids back to paths,
//! never while SQL runs: the writer needs it to intern new paths.

use std::collections::{BTreeMap, HashSet};

use acs_core::change::PendingTransfer;
use acs_core::device::{DeviceData, Param};
use acs_core::task::{Task, TaskId, parse_task};
use acs_core::{DeviceId, Timestamp};
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde_json::Value;

use crate::shared::filter::{self, Dialect, Sql};
use crate::shared::lists;
use crate::shared::paths::{self, SharedPaths};
use crate::shared::render::{
    self, DEVICE_COLUMNS, DeviceRow, PARAM_COLUMNS, ParamColumns, ParamRow, Projection,
};
use crate::shared::statements;
use crate::shared::{count, json_or_string, stored_device_id};
use crate::{
    ConnectionRequestTarget, CpeCredential, DeviceQuery, DeviceSummary, ListQuery, Page, Result,
    SessionData,
};

/// At most this many path ids are listed in SQL for a projection; more, and the device's
/// rows are all read and filtered here.
const MAX_LISTED_PATHS: usize = 64;

/// Reads a row selected with [`PARAM_COLUMNS`] starting at column `at`.
fn param_row(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ParamRow> {
    Ok(ParamRow {
        path: row.get(at)?,
        param: render::param(ParamColumns {
            object: row.get(at + 1)?,
            writable: row.get(at + 2)?,
            text: row.get(at + 3)?,
            code: row.get(at + 4)?,
            other: row.get(at + 5)?,
            ts: row.get(at + 6)?,
            notification: row.get(at + 7)?,
            access_list: row.get(at + 8)?,
            attr_ts: row.get(at + 9)?,
        }),
    })
}

fn device_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        id: row.get(0)?,
        device_id: row.get(1)?,
        manufacturer: row.get(2)?,
        oui: row.get(3)?,
        product_class: row.get(4)?,
        serial_number: row.get(5)?,
        registered: row.get(6)?,
        last_inform: row.get(7)?,
        last_boot: row.get(8)?,
        last_bootstrap: row.get(9)?,
    })
}

pub(super) fn device_summary(
    conn: &Connection,
    device: &DeviceId,
) -> Result<Option<DeviceSummary>> {
    Ok(conn
        .prepare_cached(statements::DEVICE_SUMMARY)?
        .query_row([device.as_str()], |r| {
            let username: Option<String> = r.get(0)?;
            let password: Option<String> = r.get(1)?;
            Ok(DeviceSummary {
                device: device.clone(),
                cr_credentials: username.zip(password),
                last_inform: r.get::<_, Option<i64>>(2)?.map(Timestamp),
                has_tasks: r.get(3)?,
                has_transfers: r.get(4)?,
                registered: r.get::<_, Option<i64>>(5)?.map(Timestamp),
                last_boot: r.get::<_, Option<i64>>(6)?.map(Timestamp),
                last_bootstrap: r.get::<_, Option<i64>>(7)?.map(Timestamp),
                has_faults: r.get(8)?,
                tags: statements::summary_tags(r.get(9)?),
            })
        })
        .optional()?)
}

fn params_of(conn: &Connection, device: i64) -> Result<Vec<ParamRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {PARAM_COLUMNS} FROM params WHERE device = ?1"
        ))?
        .query_map([device], |r| param_row(r, 0))?
        .collect::<rusqlite::Result<_>>()?)
}

pub(super) fn session_data(
    conn: &Connection,
    paths: &SharedPaths,
    device: &DeviceId,
    now: Timestamp,
) -> Result<SessionData> {
    let tx = conn.unchecked_transaction()?;
    let id: Option<i64> = conn
        .prepare_cached("SELECT id FROM devices WHERE device_id = ?1")?
        .query_row([device.as_str()], |r| r.get(0))
        .optional()?;
    let Some(id) = id else {
        return Ok(SessionData::default());
    };
    let rows = params_of(conn, id)?;

    // A task whose stored JSON no longer parses (written by another version) is skipped
    // here and stays listable, so that an operator can see and delete it.
    let mut tasks = Vec::new();
    let mut stmt = conn.prepare_cached(statements::SESSION_TASKS)?;
    let mut task_rows = stmt.query((id, now.millis()))?;
    while let Some(r) = task_rows.next()? {
        let task_id: TaskId = r.get(0)?;
        let json: String = r.get(1)?;
        let created = Timestamp(r.get(2)?);
        let Ok(json) = serde_json::from_str::<Value>(&json) else {
            continue;
        };
        let Ok(parsed) = parse_task(device.clone(), &json, created) else {
            continue;
        };
        let progress: Option<String> = r.get(4)?;
        tasks.push(Task {
            id: task_id,
            device: device.clone(),
            created,
            expiry: r.get::<_, Option<i64>>(3)?.map(Timestamp),
            kind: parsed.kind,
            progress: progress.map(json_or_string),
            retries: u32::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
            not_before: r.get::<_, Option<i64>>(6)?.map(Timestamp),
        });
    }
    drop(task_rows);
    drop(stmt);

    let transfers = conn
        .prepare_cached(statements::SESSION_TRANSFERS)?
        .query_map([id], |r| {
            Ok(PendingTransfer {
                command_key: r.get(0)?,
                task: r.get(1)?,
                detail: json_or_string(r.get(2)?),
                started: Timestamp(r.get(3)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let tags = conn
        .prepare_cached(statements::SESSION_TAGS)?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let channel_faults = conn
        .prepare_cached(statements::SESSION_CHANNEL_FAULTS)?
        .query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Timestamp(r.get(1)?),
                u32::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    drop(tx);

    let params = render::with_paths(rows, &paths::read(paths));
    Ok(SessionData {
        data: DeviceData { params },
        tasks,
        transfers,
        tags,
        channel_faults,
    })
}

pub(super) fn cpe_credential(conn: &Connection, username: &str) -> Result<Option<CpeCredential>> {
    let row: Option<(String, String, String)> = conn
        .prepare_cached(statements::CPE_CREDENTIAL)?
        .query_row([username], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(device, ha1_md5, ha1_sha256)| {
        Ok(CpeCredential {
            username: username.to_owned(),
            device: stored_device_id(&device)?,
            ha1_md5,
            ha1_sha256,
        })
    })
    .transpose()
}

pub(super) fn connection_request_target(
    conn: &Connection,
    paths: &SharedPaths,
    device: &DeviceId,
) -> Result<Option<ConnectionRequestTarget>> {
    let url_paths: Vec<i64> = {
        let map = paths::read(paths);
        [
            "Device.ManagementServer.ConnectionRequestURL",
            "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
        ]
        .iter()
        .filter_map(|p| map.id(p))
        .collect()
    };
    let tx = conn.unchecked_transaction()?;
    let row: Option<(i64, Option<String>, Option<String>)> = conn
        .prepare_cached(statements::DEVICE_CR_CREDENTIALS)?
        .query_row([device.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((id, username, password)) = row else {
        return Ok(None);
    };
    let mut url = None;
    for path in url_paths {
        url = conn
            .prepare_cached("SELECT value FROM params WHERE device = ?1 AND path = ?2")?
            .query_row((id, path), |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten();
        if url.is_some() {
            break;
        }
    }
    drop(tx);
    Ok(Some(ConnectionRequestTarget {
        // Empty when the device never reported it: the caller says so.
        url: url.unwrap_or_default(),
        credentials: username.zip(password),
    }))
}

/// Which parameter rows a device query reads.
enum Load {
    None,
    All,
    Listed(Vec<i64>),
    Filtered(HashSet<i64>),
}

pub(super) fn query_devices(
    conn: &Connection,
    paths: &SharedPaths,
    query: &DeviceQuery,
) -> Result<Page> {
    let projection = Projection::new(&query.projection);
    let (condition, joins, order, load) = {
        let map = paths::read(paths);
        let condition = filter::compile(&query.filter, &*map, Dialect::Sqlite)?;
        let (joins, order) = filter::order_by(&query.sort, &*map, Dialect::Sqlite)?;
        let load = if !projection.wants_params() {
            Load::None
        } else {
            match projection.path_ids(&map) {
                None => Load::All,
                Some(ids) if ids.is_empty() => Load::None,
                Some(ids) if ids.len() <= MAX_LISTED_PATHS => {
                    let mut ids: Vec<i64> = ids.into_iter().collect();
                    ids.sort_unstable();
                    Load::Listed(ids)
                }
                Some(ids) => Load::Filtered(ids),
            }
        };
        (condition, joins, order, load)
    };

    let (total, page) = lists::paged(
        DEVICE_COLUMNS,
        "devices d",
        joins,
        condition,
        &order,
        query.skip,
        query.limit,
        query.count_limit,
    );
    let tx = conn.unchecked_transaction()?;
    let total: i64 = conn
        .prepare_cached(&total.text)?
        .query_row(params_from_iter(total.params.iter()), |r| r.get(0))?;
    let devices: Vec<DeviceRow> = conn
        .prepare_cached(&page.text)?
        .query_map(params_from_iter(page.params.iter()), device_row)?
        .collect::<rusqlite::Result<_>>()?;

    let mut loaded: Vec<(Vec<String>, Vec<ParamRow>)> = Vec::with_capacity(devices.len());
    for d in &devices {
        let tags: Vec<String> = if projection.tags {
            conn.prepare_cached("SELECT tag FROM tags WHERE device = ?1 ORDER BY tag")?
                .query_map([d.id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        } else {
            Vec::new()
        };
        let rows = match &load {
            Load::None => Vec::new(),
            Load::All => params_of(conn, d.id)?,
            Load::Filtered(ids) => {
                let mut rows = params_of(conn, d.id)?;
                rows.retain(|r| ids.contains(&r.path));
                rows
            }
            Load::Listed(ids) => {
                let marks = vec!["?"; ids.len()].join(", ");
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {PARAM_COLUMNS} FROM params WHERE device = ? AND path IN ({marks})"
                ))?;
                let args = std::iter::once(d.id).chain(ids.iter().copied());
                stmt.query_map(params_from_iter(args), |r| param_row(r, 0))?
                    .collect::<rusqlite::Result<_>>()?
            }
        };
        loaded.push((tags, rows));
    }
    drop(tx);

    let trees: Vec<BTreeMap<String, Param>> = {
        let map = paths::read(paths);
        loaded
            .iter_mut()
            .map(|(_, rows)| render::with_paths(std::mem::take(rows), &map))
            .collect()
    };
    let items = devices
        .iter()
        .zip(loaded.iter().zip(trees.iter()))
        .map(|(d, ((tags, _), tree))| projection.apply(render::device_json(d, tags, tree)))
        .collect();
    let (total, total_exact) = lists::counted(total, query.count_limit);
    Ok(Page {
        items,
        total,
        total_exact,
    })
}

fn list_page(
    conn: &Connection,
    from: &str,
    condition: Sql,
    select: &str,
    order: &str,
    query: &ListQuery,
    mut item: impl FnMut(&rusqlite::Row<'_>) -> Result<Value>,
) -> Result<Page> {
    let (total, page) = lists::paged(
        select,
        from,
        Sql::default(),
        condition,
        order,
        query.skip,
        query.limit,
        None,
    );
    let tx = conn.unchecked_transaction()?;
    let total: i64 = conn
        .prepare_cached(&total.text)?
        .query_row(params_from_iter(total.params.iter()), |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&page.text)?;
    let mut rows = stmt.query(params_from_iter(page.params.iter()))?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        items.push(item(r)?);
    }
    drop(rows);
    drop(stmt);
    drop(tx);
    Ok(Page::exact(items, count(total)))
}

pub(super) fn list_tasks(conn: &Connection, query: &ListQuery) -> Result<Page> {
    list_page(
        conn,
        lists::TASKS_FROM,
        lists::tasks_condition(query)?,
        lists::TASKS_SELECT,
        lists::TASKS_ORDER,
        query,
        |r| {
            let device: String = r.get(1)?;
            let channel: Option<String> = r.get(4)?;
            let fault = match channel {
                Some(channel) => Some((
                    channel,
                    (r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?),
                )),
                None => None,
            };
            Ok(lists::task_item(
                r.get(0)?,
                &device,
                r.get(2)?,
                r.get(3)?,
                fault,
            ))
        },
    )
}

pub(super) fn list_faults(conn: &Connection, query: &ListQuery) -> Result<Page> {
    list_page(
        conn,
        lists::FAULTS_FROM,
        lists::faults_condition(query)?,
        lists::FAULTS_SELECT,
        lists::FAULTS_ORDER,
        query,
        |r| {
            let device: String = r.get(0)?;
            let channel: String = r.get(1)?;
            Ok(render::fault_json(
                &device,
                &channel,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        },
    )
}

pub(super) fn task_device(conn: &Connection, task: TaskId) -> Result<Option<DeviceId>> {
    let device: Option<String> = conn
        .prepare_cached(statements::TASK_DEVICE)?
        .query_row([task], |r| r.get(0))
        .optional()?;
    device.as_deref().map(stored_device_id).transpose()
}

pub(super) fn counts(conn: &Connection) -> Result<(u64, u64)> {
    let (tasks, faults): (i64, i64) = conn
        .prepare_cached(statements::COUNTS)?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((count(tasks), count(faults)))
}

pub(super) fn token_by_hash(conn: &Connection, hash: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT name FROM tokens WHERE hash = ?1")?
        .query_row([hash], |r| r.get(0))
        .optional()?)
}

pub(super) fn token_count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM tokens")?
        .query_row([], |r| r.get(0))?;
    Ok(count(n))
}
