//! The SQL of the NBI's lists (devices, tasks, faults): their conditions and pages.

use acs_core::query::InvalidQuery;
use acs_core::task::{TaskId, task_json};
use serde_json::Value as Json;

use super::filter::{Sql, Value};
use super::render;
use crate::{ListQuery, Result, StoreError};

fn sql_i64(n: u64) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The count and the page of a list: `SELECT COUNT(*) FROM {from} WHERE {condition}` (with
/// `count_limit`, of at most `count_limit + 1` matches: see [`counted`]) and
/// `SELECT {select} FROM {from}{joins} WHERE {condition} ORDER BY {order} LIMIT OFFSET`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn paged(
    select: &str,
    from: &str,
    joins: Sql,
    condition: Sql,
    order: &str,
    skip: u64,
    limit: Option<u64>,
    count_limit: Option<u64>,
) -> (Sql, Sql) {
    let mut total = Sql::default();
    // A device filter that is one membership (a tag, a parameter's value) is counted from
    // that table's index alone.
    let member = (from == "devices d")
        .then(|| super::filter::membership(&condition))
        .flatten();
    match (count_limit, member) {
        (None, None) => {
            total.push(&format!("SELECT COUNT(*) FROM {from} WHERE "));
            total.append(condition.clone());
        }
        (None, Some(m)) => {
            total.push("SELECT COUNT(*) ");
            total.append(m);
        }
        (Some(n), member) => {
            total.push("SELECT COUNT(*) FROM (");
            match member {
                Some(m) => {
                    total.push("SELECT 1 ");
                    total.append(m);
                }
                None => {
                    total.push(&format!("SELECT 1 FROM {from} WHERE "));
                    total.append(condition.clone());
                }
            }
            total.push(" LIMIT ");
            total.bind(sql_i64(n.saturating_add(1)));
            total.push(") AS counted");
        }
    }
    let mut page = Sql::default();
    page.push(&format!("SELECT {select} FROM {from}"));
    page.append(joins);
    page.push(" WHERE ");
    page.append(condition);
    page.push(&format!(" ORDER BY {order} LIMIT "));
    page.bind(limit.map_or(Value::Integer(i64::MAX), sql_i64));
    page.push(" OFFSET ");
    page.bind(sql_i64(skip));
    (total, page)
}

/// The `total` and `total_exact` of a page from what a count statement of [`paged`]
/// returned: more than `count_limit` is a lower bound.
pub(crate) fn counted(n: i64, count_limit: Option<u64>) -> (u64, bool) {
    let n = super::count(n);
    (n, count_limit.is_none_or(|limit| n <= limit))
}

/// An equality on a list's field: a string (`_id` of a task may be a number).
fn text_arg(key: &str, v: &Json) -> Result<String> {
    match v {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) if key == "_id" => Ok(n.to_string()),
        _ => Err(StoreError::InvalidQuery(InvalidQuery(format!(
            "{key} must be a string"
        )))),
    }
}

/// Tasks with their device and fault.
pub(crate) const TASKS_FROM: &str = "tasks t JOIN devices d ON d.id = t.device \
     LEFT JOIN faults f ON f.device = t.device AND f.channel = 'task_' || t.id";
/// The columns [`task_item`] takes, in order.
pub(crate) const TASKS_SELECT: &str = "t.id, d.device_id, t.json, t.retries, f.channel, \
     f.code, f.message, f.detail, f.timestamp, f.retries";
pub(crate) const TASKS_ORDER: &str = "t.id";

pub(crate) fn tasks_condition(query: &ListQuery) -> Result<Sql> {
    let mut condition = Sql::default();
    condition.push("1 = 1");
    for (key, value) in &query.equals {
        let arg = text_arg(key, value)?;
        condition.push(" AND ");
        match key.as_str() {
            "device" => condition.push("d.device_id = "),
            "name" => condition.push("t.name = "),
            "_id" => match arg.parse::<i64>() {
                Ok(id) => {
                    condition.push("t.id = ");
                    condition.bind(Value::Integer(id));
                    continue;
                }
                Err(_) => {
                    condition.push("1 = 0");
                    continue;
                }
            },
            other => {
                return Err(StoreError::InvalidQuery(InvalidQuery(format!(
                    "tasks cannot be filtered by {other:?} (device, name, _id)"
                ))));
            }
        }
        condition.bind(Value::Text(arg));
    }
    Ok(condition)
}

/// The columns of a fault, as [`render::fault_json`] takes them after device and channel.
pub(crate) type FaultColumns = (String, String, Option<String>, i64, i64);

/// A task as the API shows it, from the columns of [`TASKS_SELECT`].
pub(crate) fn task_item(
    id: TaskId,
    device: &str,
    json: String,
    retries: i64,
    fault: Option<(String, FaultColumns)>,
) -> Json {
    let mut task = task_json(id, &super::json_or_string(json));
    if let Json::Object(o) = &mut task {
        if retries > 0 || fault.is_some() {
            o.insert("retries".into(), Json::from(retries));
        }
        if let Some((channel, (code, message, detail, timestamp, retries))) = fault {
            o.insert(
                "fault".into(),
                render::fault_json(device, &channel, code, message, detail, timestamp, retries),
            );
        }
    }
    task
}

/// Faults with their device.
pub(crate) const FAULTS_FROM: &str = "faults f JOIN devices d ON d.id = f.device";
/// The columns of a fault: device id, channel, then [`FaultColumns`].
pub(crate) const FAULTS_SELECT: &str =
    "d.device_id, f.channel, f.code, f.message, f.detail, f.timestamp, f.retries";
pub(crate) const FAULTS_ORDER: &str = "d.device_id, f.channel";

pub(crate) fn faults_condition(query: &ListQuery) -> Result<Sql> {
    let mut condition = Sql::default();
    condition.push("1 = 1");
    for (key, value) in &query.equals {
        let arg = text_arg(key, value)?;
        condition.push(" AND ");
        let column = match key.as_str() {
            "device" => "d.device_id = ",
            "channel" => "f.channel = ",
            "code" => "f.code = ",
            "_id" => {
                match arg.split_once(':') {
                    Some((device, channel)) => {
                        condition.push("d.device_id = ");
                        condition.bind(Value::Text(device.to_owned()));
                        condition.push(" AND f.channel = ");
                        condition.bind(Value::Text(channel.to_owned()));
                    }
                    None => condition.push("1 = 0"),
                }
                continue;
            }
            other => {
                return Err(StoreError::InvalidQuery(InvalidQuery(format!(
                    "faults cannot be filtered by {other:?} (device, channel, code, _id)"
                ))));
            }
        };
        condition.push(column);
        condition.bind(Value::Text(arg));
    }
    Ok(condition)
}
