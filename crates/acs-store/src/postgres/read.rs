//! What the readers do, each on a connection of the pool.
//!
//! Reads that span several statements run in one read-only REPEATABLE READ transaction,
//! so that they see one snapshot. Parameter rows are read with their path's text.

use std::collections::{BTreeMap, HashMap};

use acs_core::change::PendingTransfer;
use acs_core::device::{DeviceData, Param};
use acs_core::query::InvalidQuery;
use acs_core::task::{Task, TaskId, parse_task};
use acs_core::{DeviceId, Timestamp};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::bind_all;
use crate::shared::filter::{self, ByName, Dialect, Sql};
use crate::shared::lists;
use crate::shared::render::{self, DEVICE_COLUMNS, DeviceRow, ParamColumns, Projection};
use crate::shared::statements;
use crate::shared::{count, json_or_string, stored_device_id};
use crate::{
    ConnectionRequestTarget, CpeCredential, DeviceQuery, DeviceSummary, ListQuery, Page, Result,
    SessionData, StoreError,
};

/// The columns [`param_row`] reads: the path's text, then the `params` columns (`x`),
/// the read time as [`read_time`](crate::shared::inform::read_time) gives it.
const PARAM_COLUMNS: &str = "p.path, x.object, x.writable, x.value, x.type, x.other_type, \
     CASE WHEN x.ts = -1 THEN (SELECT last_inform FROM devices WHERE devices.id = x.device) \
     ELSE x.ts END, x.notification, x.access_list, x.attr_ts";

fn param_row(row: &PgRow, at: usize) -> sqlx::Result<(String, Param)> {
    Ok((
        row.try_get(at)?,
        render::param(ParamColumns {
            object: row.try_get(at + 1)?,
            writable: row.try_get(at + 2)?,
            text: row.try_get(at + 3)?,
            code: row.try_get::<Option<i16>, _>(at + 4)?.map(i64::from),
            other: row.try_get(at + 5)?,
            ts: row.try_get(at + 6)?,
            notification: row.try_get::<Option<i16>, _>(at + 7)?.map(i64::from),
            access_list: row.try_get(at + 8)?,
            attr_ts: row.try_get(at + 9)?,
        }),
    ))
}

fn device_row(row: &PgRow) -> sqlx::Result<DeviceRow> {
    Ok(DeviceRow {
        id: row.try_get(0)?,
        device_id: row.try_get(1)?,
        manufacturer: row.try_get(2)?,
        oui: row.try_get(3)?,
        product_class: row.try_get(4)?,
        serial_number: row.try_get(5)?,
        registered: row.try_get(6)?,
        last_inform: row.try_get(7)?,
        last_boot: row.try_get(8)?,
        last_bootstrap: row.try_get(9)?,
    })
}

/// A read-only transaction seeing one snapshot.
pub(super) async fn snapshot(pool: &PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

pub(super) async fn device_summary(
    pool: &PgPool,
    device: &DeviceId,
) -> Result<Option<DeviceSummary>> {
    let row = sqlx::query(statements::DEVICE_SUMMARY)
        .bind(device.as_str())
        .fetch_optional(pool)
        .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let username: Option<String> = r.try_get(0)?;
    let password: Option<String> = r.try_get(1)?;
    Ok(Some(DeviceSummary {
        device: device.clone(),
        cr_credentials: username.zip(password),
        last_inform: r.try_get::<Option<i64>, _>(2)?.map(Timestamp),
        has_tasks: r.try_get(3)?,
        has_transfers: r.try_get(4)?,
        registered: r.try_get::<Option<i64>, _>(5)?.map(Timestamp),
        last_boot: r.try_get::<Option<i64>, _>(6)?.map(Timestamp),
        last_bootstrap: r.try_get::<Option<i64>, _>(7)?.map(Timestamp),
        has_faults: r.try_get(8)?,
        tags: statements::summary_tags(r.try_get(9)?),
    }))
}

async fn device_id(conn: &mut PgConnection, device: &DeviceId) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM devices WHERE device_id = $1")
            .bind(device.as_str())
            .fetch_optional(conn)
            .await?,
    )
}

/// The parameters of devices, by device, those the projection shows (all for `None`).
/// `text` with LIKE's wildcards (`%`, `_`) and its escape character taken literally.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

async fn params_of(
    conn: &mut PgConnection,
    devices: &[i64],
    projection: Option<&Projection>,
) -> Result<HashMap<i64, BTreeMap<String, Param>>> {
    let rows = match projection.and_then(|p| p.params.as_ref()) {
        None => {
            sqlx::query(&format!(
                "SELECT x.device, {PARAM_COLUMNS} FROM params x JOIN paths p ON p.id = x.path \
                 WHERE x.device = ANY($1)"
            ))
            .bind(devices)
            .fetch_all(conn)
            .await?
        }
        // Only the projected paths: their ids first (a small table), then the (device,
        // path) keys, so that a page of a hundred devices reads the few rows it shows, not
        // every parameter of every device on it.
        Some(prefixes) => {
            let below: Vec<String> = prefixes
                .iter()
                .map(|p| format!("{}.%", like_escape(p)))
                .collect();
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM paths WHERE path = ANY($1) OR path LIKE ANY($2)",
            )
            .bind(prefixes)
            .bind(&below)
            .fetch_all(&mut *conn)
            .await?;
            if ids.is_empty() {
                return Ok(HashMap::new());
            }
            sqlx::query(&format!(
                "SELECT x.device, {PARAM_COLUMNS} FROM params x JOIN paths p ON p.id = x.path \
                 WHERE x.device = ANY($1) AND x.path = ANY($2)"
            ))
            .bind(devices)
            .bind(&ids)
            .fetch_all(conn)
            .await?
        }
    };
    let mut out: HashMap<i64, BTreeMap<String, Param>> = HashMap::new();
    for r in rows {
        let device: i64 = r.try_get(0)?;
        let (path, param) = param_row(&r, 1)?;
        if projection.is_none_or(|p| p.covers(&path)) {
            out.entry(device).or_default().insert(path, param);
        }
    }
    Ok(out)
}

pub(super) async fn session_data(
    pool: &PgPool,
    device: &DeviceId,
    now: Timestamp,
) -> Result<SessionData> {
    let mut tx = snapshot(pool).await?;
    let Some(id) = device_id(&mut tx, device).await? else {
        return Ok(SessionData::default());
    };
    let params = params_of(&mut tx, &[id], None)
        .await?
        .remove(&id)
        .unwrap_or_default();

    // A task whose stored JSON no longer parses (written by another version) is skipped
    // here and stays listable, so that an operator can see and delete it.
    let rows = sqlx::query(statements::SESSION_TASKS)
        .bind(id)
        .bind(now.millis())
        .fetch_all(&mut *tx)
        .await?;
    let mut tasks = Vec::new();
    for r in rows {
        let task_id: TaskId = r.try_get(0)?;
        let json: String = r.try_get(1)?;
        let created = Timestamp(r.try_get(2)?);
        let Ok(json) = serde_json::from_str::<Value>(&json) else {
            continue;
        };
        let Ok(parsed) = parse_task(device.clone(), &json, created) else {
            continue;
        };
        let progress: Option<String> = r.try_get(4)?;
        tasks.push(Task {
            id: task_id,
            device: device.clone(),
            created,
            expiry: r.try_get::<Option<i64>, _>(3)?.map(Timestamp),
            kind: parsed.kind,
            progress: progress.map(json_or_string),
            retries: u32::try_from(r.try_get::<i64, _>(5)?).unwrap_or(0),
            not_before: r.try_get::<Option<i64>, _>(6)?.map(Timestamp),
        });
    }

    let rows = sqlx::query(statements::SESSION_TRANSFERS)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
    let transfers = rows
        .iter()
        .map(|r| {
            Ok(PendingTransfer {
                command_key: r.try_get(0)?,
                task: r.try_get(1)?,
                detail: json_or_string(r.try_get(2)?),
                started: Timestamp(r.try_get(3)?),
            })
        })
        .collect::<sqlx::Result<_>>()?;
    let tags = sqlx::query_scalar(statements::SESSION_TAGS)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
    let channel_faults = sqlx::query(statements::SESSION_CHANNEL_FAULTS)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>(0)?,
                Timestamp(r.try_get(1)?),
                u32::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0),
            ))
        })
        .collect::<sqlx::Result<_>>()?;
    tx.commit().await?;
    Ok(SessionData {
        data: DeviceData { params },
        tasks,
        transfers,
        tags,
        channel_faults,
    })
}

pub(super) async fn cpe_credential(pool: &PgPool, username: &str) -> Result<Option<CpeCredential>> {
    let row = sqlx::query(statements::CPE_CREDENTIAL)
        .bind(username)
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        let device: String = r.try_get(0)?;
        Ok(CpeCredential {
            username: username.to_owned(),
            device: stored_device_id(&device)?,
            ha1_md5: r.try_get(1)?,
            ha1_sha256: r.try_get(2)?,
        })
    })
    .transpose()
}

pub(super) async fn connection_request_target(
    pool: &PgPool,
    device: &DeviceId,
) -> Result<Option<ConnectionRequestTarget>> {
    let mut tx = snapshot(pool).await?;
    let row = sqlx::query(statements::DEVICE_CR_CREDENTIALS)
        .bind(device.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id: i64 = row.try_get(0)?;
    let username: Option<String> = row.try_get(1)?;
    let password: Option<String> = row.try_get(2)?;
    let mut url = None;
    for path in [
        "Device.ManagementServer.ConnectionRequestURL",
        "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
    ] {
        url = sqlx::query_scalar::<_, Option<String>>(
            "SELECT value FROM params WHERE device = $1 \
             AND path = (SELECT id FROM paths WHERE path = $2)",
        )
        .bind(id)
        .bind(path)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        if url.is_some() {
            break;
        }
    }
    tx.commit().await?;
    Ok(Some(ConnectionRequestTarget {
        // Empty when the device never reported it: the caller says so.
        url: url.unwrap_or_default(),
        credentials: username.zip(password),
    }))
}

/// An error of a device query: a regular expression PostgreSQL cannot run (the filter
/// compiler checked it with Rust's `regex`, whose syntax differs a little) is the query's
/// fault.
fn query_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("2201B") => {
            StoreError::InvalidQuery(InvalidQuery(format!("$regex: {}", db.message())))
        }
        _ => e.into(),
    }
}

/// Above this many matches a page is found by probing devices along the sort key rather
/// than from the matches' ids (see `query_devices`).
const PROBE_ABOVE: i64 = 1000;

/// Devices matching a query, a page of them; up to `few` matches, the page is ordered from
/// the matches' ids.
pub(super) async fn query_devices(pool: &PgPool, query: &DeviceQuery, few: i64) -> Result<Page> {
    let projection = Projection::new(&query.projection);
    let condition = filter::compile(&query.filter, &ByName, Dialect::Postgres)?;
    let (joins, order) = filter::order_by(&query.sort, &ByName, Dialect::Postgres)?;
    let (total, _) = lists::paged(
        DEVICE_COLUMNS,
        "devices d",
        joins.clone(),
        condition.clone(),
        &order,
        query.skip,
        query.limit,
        query.count_limit,
    );

    let mut tx = snapshot(pool).await?;
    // Few matches: take them first (which also counts them), then order that page. Asked
    // for the first page of a filter in `ORDER BY ... LIMIT` form, PostgreSQL may walk the
    // sort key's index and test each device, which is right when many match and a walk
    // through the whole table when its estimate of a rare tag or value is off (a tag on
    // 113 of a million devices: 1.4 s instead of 27 ms). Taking at most `few` + 1 ids
    // settles which case this is without depending on estimates.
    let member = filter::membership(&condition);
    let condition_for_page = condition.clone();
    let limit_few = filter::Value::Integer(few.saturating_add(1));
    // Whether more than `few` match is counted first, as cheaply as PostgreSQL can (one
    // tag or one parameter's value: from its index alone, without visiting devices; a
    // column range such as the last inform: from the column's index), before any id is
    // fetched: a broad filter then costs no list of ids at all.
    let counted = {
        let mut c = Sql::default();
        c.push("SELECT COUNT(*) FROM (SELECT 1 ");
        match &member {
            Some(m) => c.append(m.clone()),
            None => {
                c.push("FROM devices d WHERE ");
                c.append(condition.clone());
            }
        }
        c.push(" LIMIT ");
        c.bind(limit_few.clone());
        c.push(") AS m");
        let text = c.numbered();
        let n: i64 = bind_all(sqlx::query(&text), &c.params)
            .fetch_one(&mut *tx)
            .await
            .map_err(query_error)?
            .try_get(0)?;
        n
    };
    // Up to PROBE_ABOVE matches, the page is ordered from their ids (PostgreSQL looks each
    // up); beyond, walking the sort key and probing each device is cheaper than testing
    // every device walked against a long list of ids.
    let probe = counted > few.min(PROBE_ABOVE);
    let ids: Vec<i64> = if probe {
        Vec::new()
    } else {
        let mut ids = Sql::default();
        match &member {
            Some(m) => {
                ids.push("SELECT device ");
                ids.append(m.clone());
            }
            None => {
                ids.push("SELECT d.id FROM devices d WHERE ");
                ids.append(condition);
            }
        }
        ids.push(" LIMIT ");
        ids.bind(limit_few);
        let ids_text = ids.numbered();
        bind_all(sqlx::query(&ids_text), &ids.params)
            .fetch_all(&mut *tx)
            .await
            .map_err(query_error)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<sqlx::Result<_>>()?
    };
    // Counted in the same snapshot: at most few + 1.
    let matched = counted;
    let ((total, total_exact), page) = if !probe {
        let mut by_id = Sql::default();
        by_id.push("d.id = ANY(");
        by_id.bind(filter::Value::Integers(ids));
        by_id.push(")");
        let page = lists::paged(
            DEVICE_COLUMNS,
            "devices d",
            joins,
            by_id,
            &order,
            query.skip,
            query.limit,
            None,
        )
        .1;
        ((count(matched), true), page)
    } else {
        let total = if matched <= few {
            (count(matched), true)
        } else if query
            .count_limit
            .is_some_and(|limit| i64::try_from(limit).unwrap_or(i64::MAX) < matched)
        {
            // More than the count limit match, as the ids just showed.
            (count(matched), false)
        } else {
            let total_text = total.numbered();
            let total: i64 = bind_all(sqlx::query(&total_text), &total.params)
                .fetch_one(&mut *tx)
                .await
                .map_err(query_error)?
                .try_get(0)?;
            lists::counted(total, query.count_limit)
        };
        // Many match: the page walks the sort key's index and tests each device until the
        // page is full ([`filter::as_probes`]).
        let page = lists::paged(
            DEVICE_COLUMNS,
            "devices d",
            joins,
            filter::as_probes(&condition_for_page),
            &order,
            query.skip,
            query.limit,
            None,
        )
        .1;
        (total, page)
    };
    let page_text = page.numbered();
    let devices = bind_all(sqlx::query(&page_text), &page.params)
        .fetch_all(&mut *tx)
        .await
        .map_err(query_error)?
        .iter()
        .map(device_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
    let ids: Vec<i64> = devices.iter().map(|d| d.id).collect();

    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    if projection.tags && !ids.is_empty() {
        let rows = sqlx::query("SELECT device, tag FROM tags WHERE device = ANY($1) ORDER BY tag")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
        for r in rows {
            tags.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
        }
    }
    let mut params = if projection.wants_params() && !ids.is_empty() {
        params_of(&mut tx, &ids, Some(&projection)).await?
    } else {
        HashMap::new()
    };
    tx.commit().await?;

    let items = devices
        .iter()
        .map(|d| {
            let tags = tags.get(&d.id).map_or(&[][..], Vec::as_slice);
            let tree = params.remove(&d.id).unwrap_or_default();
            projection.apply(render::device_json(d, tags, &tree))
        })
        .collect();
    Ok(Page {
        items,
        total,
        total_exact,
    })
}

async fn list_page(
    pool: &PgPool,
    from: &str,
    condition: Sql,
    select: &str,
    order: &str,
    query: &ListQuery,
    item: impl Fn(&PgRow) -> Result<Value>,
) -> Result<Page> {
    let (total, page) = lists::paged(
        select,
        from,
        Default::default(),
        condition,
        order,
        query.skip,
        query.limit,
        None,
    );
    let mut tx = snapshot(pool).await?;
    let total_text = total.numbered();
    let total: i64 = bind_all(sqlx::query(&total_text), &total.params)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    let page_text = page.numbered();
    let rows = bind_all(sqlx::query(&page_text), &page.params)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let items = rows.iter().map(item).collect::<Result<_>>()?;
    Ok(Page::exact(items, count(total)))
}

pub(super) async fn list_tasks(pool: &PgPool, query: &ListQuery) -> Result<Page> {
    list_page(
        pool,
        lists::TASKS_FROM,
        lists::tasks_condition(query)?,
        lists::TASKS_SELECT,
        lists::TASKS_ORDER,
        query,
        |r| {
            let device: String = r.try_get(1)?;
            let channel: Option<String> = r.try_get(4)?;
            let fault = match channel {
                Some(channel) => Some((
                    channel,
                    (
                        r.try_get(5)?,
                        r.try_get(6)?,
                        r.try_get(7)?,
                        r.try_get(8)?,
                        r.try_get(9)?,
                    ),
                )),
                None => None,
            };
            Ok(lists::task_item(
                r.try_get(0)?,
                &device,
                r.try_get(2)?,
                r.try_get(3)?,
                fault,
            ))
        },
    )
    .await
}

pub(super) async fn list_faults(pool: &PgPool, query: &ListQuery) -> Result<Page> {
    list_page(
        pool,
        lists::FAULTS_FROM,
        lists::faults_condition(query)?,
        lists::FAULTS_SELECT,
        lists::FAULTS_ORDER,
        query,
        |r| {
            let device: String = r.try_get(0)?;
            let channel: String = r.try_get(1)?;
            Ok(render::fault_json(
                &device,
                &channel,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
                r.try_get(5)?,
                r.try_get(6)?,
            ))
        },
    )
    .await
}

pub(super) async fn task_device(pool: &PgPool, task: TaskId) -> Result<Option<DeviceId>> {
    let device: Option<String> = sqlx::query_scalar(statements::TASK_DEVICE)
        .bind(task)
        .fetch_optional(pool)
        .await?;
    device.as_deref().map(stored_device_id).transpose()
}

pub(super) async fn counts(pool: &PgPool) -> Result<(u64, u64)> {
    let row = sqlx::query(statements::COUNTS).fetch_one(pool).await?;
    Ok((count(row.try_get(0)?), count(row.try_get(1)?)))
}

pub(super) async fn token_by_hash(pool: &PgPool, hash: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT name FROM tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(pool)
            .await?,
    )
}

pub(super) async fn token_count(pool: &PgPool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
        .fetch_one(pool)
        .await?;
    Ok(count(n))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::postgres::{PostgresOptions, PostgresStore};
    use acs_core::query::parse_filter;
    use serde_json::json;
    use sqlx::{Connection, Executor};

    fn url() -> String {
        std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    /// PostgreSQL's plan for the device query of `filter`, with sequential scans made
    /// as costly as PostgreSQL makes them: one shows only if no index can serve.
    async fn plan(conn: &mut PgConnection, filter: Value) -> String {
        let sql =
            filter::compile(&parse_filter(&filter).unwrap(), &ByName, Dialect::Postgres).unwrap();
        let text = format!(
            "EXPLAIN SELECT d.id FROM devices d WHERE {}",
            sql.numbered()
        );
        let rows = bind_all(sqlx::query(&text), &sql.params)
            .fetch_all(conn)
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>(0))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The filters an operator runs on a million devices can be answered from indexes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn positive_conditions_use_indexes() {
        let schema = format!("acs_test_plan_{}", std::process::id());
        let store = PostgresStore::connect(
            &url(),
            PostgresOptions {
                schema: Some(schema.clone()),
                ..PostgresOptions::default()
            },
        )
        .await
        .unwrap();
        let mut conn = PgConnection::connect(&url()).await.unwrap();
        conn.execute(format!("SET search_path TO \"{schema}\"; SET enable_seqscan = off").as_str())
            .await
            .unwrap();
        let cases = [
            (
                json!({"Device.DeviceInfo.SoftwareVersion": "3.0.21"}),
                "params_value",
            ),
            (
                json!({"Device.DeviceInfo.SoftwareVersion": {"$in": ["3.0.21", "3.0.22"]}}),
                "params_value",
            ),
            (
                json!({"Device.DeviceInfo.UpTime": {"$gt": 3600}}),
                "params_num",
            ),
            (json!({"_tags": "lab"}), "tags_tag"),
            (
                json!({"_lastInform": {"$lt": "2026-01-01T00:00:00Z"}}),
                "devices_last_inform",
            ),
            (
                json!({"_deviceId._SerialNumber": "SN1"}),
                "devices_serial_number",
            ),
            (json!({"_id": "00D09E-HGW-SN1"}), "devices_device_id_key"),
        ];
        let mut failures = Vec::new();
        for (filter, index) in cases {
            let text = plan(&mut conn, filter.clone()).await;
            if !text.contains(index) || text.contains("Seq Scan") {
                failures.push(format!(
                    "{filter}: expected {index}, no Seq Scan, in\n{text}"
                ));
            }
        }
        drop(store);
        conn.execute(format!("DROP SCHEMA \"{schema}\" CASCADE").as_str())
            .await
            .unwrap();
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }
}
