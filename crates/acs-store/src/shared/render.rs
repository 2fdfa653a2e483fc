//! Rows to domain values and to the JSON the NBI shows, as GenieACS shows them; each
//! backend reads its rows' columns and hands them to these.

use std::collections::{BTreeMap, HashSet};

use acs_core::Timestamp;
use acs_core::device::{Attributes, Param, StoredValue, ValueType};
use serde_json::{Map, Value, json};

use super::paths::PathMap;

/// The columns of a `params` row (selected `FROM params`, unaliased), the read time as
/// [`read_time`](super::inform::read_time) gives it.
pub(crate) const PARAM_COLUMNS: &str = "path, object, writable, value, type, other_type, \
    CASE WHEN params.ts = -1 THEN (SELECT last_inform FROM devices WHERE devices.id = \
    params.device) ELSE params.ts END, notification, access_list, attr_ts";

/// A `params` row as read, before its path id is mapped back to the path.
#[derive(Debug)]
pub(crate) struct ParamRow {
    pub(crate) path: i64,
    pub(crate) param: Param,
}

/// The columns of a `params` row after its path, as [`PARAM_COLUMNS`] selects them.
#[derive(Debug, Default)]
pub(crate) struct ParamColumns {
    pub(crate) object: bool,
    pub(crate) writable: Option<bool>,
    pub(crate) text: Option<String>,
    pub(crate) code: Option<i64>,
    pub(crate) other: Option<String>,
    pub(crate) ts: Option<i64>,
    pub(crate) notification: Option<i64>,
    pub(crate) access_list: Option<String>,
    pub(crate) attr_ts: Option<i64>,
}

/// The parameter a `params` row describes.
pub(crate) fn param(c: ParamColumns) -> Param {
    let ParamColumns {
        object,
        writable,
        text,
        code,
        other,
        ts,
        notification,
        access_list,
        attr_ts,
    } = c;
    let value = match (text, code) {
        (Some(text), Some(code)) => u8::try_from(code)
            .ok()
            .and_then(|c| ValueType::from_code(c, other.as_deref()))
            .map(|value_type| StoredValue { text, value_type }),
        _ => None,
    };
    let attributes = notification.map(|n| {
        let access_list = access_list
            .and_then(|l| serde_json::from_str::<Vec<String>>(&l).ok())
            .unwrap_or_default();
        (
            Attributes {
                notification: u8::try_from(n).unwrap_or(0),
                access_list,
            },
            Timestamp(attr_ts.unwrap_or(0)),
        )
    });
    Param {
        object,
        writable,
        value,
        ts: Timestamp(ts.unwrap_or(0)),
        attributes,
    }
}

/// Maps the rows' path ids back to paths (dropping any the map does not know, which only
/// a row written by another program could have).
pub(crate) fn with_paths(rows: Vec<ParamRow>, paths: &PathMap) -> BTreeMap<String, Param> {
    rows.into_iter()
        .filter_map(|r| Some((paths.path(r.path)?.to_string(), r.param)))
        .collect()
}

/// The columns of a `devices` row that a device document shows.
#[derive(Debug)]
pub(crate) struct DeviceRow {
    pub(crate) id: i64,
    pub(crate) device_id: String,
    pub(crate) manufacturer: Option<String>,
    pub(crate) oui: Option<String>,
    pub(crate) product_class: Option<String>,
    pub(crate) serial_number: Option<String>,
    pub(crate) registered: Option<i64>,
    pub(crate) last_inform: Option<i64>,
    pub(crate) last_boot: Option<i64>,
    pub(crate) last_bootstrap: Option<i64>,
}

/// The columns [`device_row`] reads.
pub(crate) const DEVICE_COLUMNS: &str = "d.id, d.device_id, d.manufacturer, d.oui, \
     d.product_class, d.serial_number, d.registered, d.last_inform, d.last_boot, \
     d.last_bootstrap";

fn time(ms: i64) -> Value {
    Value::String(Timestamp(ms).to_rfc3339())
}

/// A value as typed JSON: numbers for the integer types, booleans for `xsd:boolean`,
/// strings otherwise (and for text that does not fit its type).
pub(crate) fn typed_value(v: &StoredValue) -> Value {
    let text = v.text.trim();
    match v.value_type {
        ValueType::Int | ValueType::Long => text.parse::<i64>().map(Value::from).ok(),
        ValueType::UnsignedInt | ValueType::UnsignedLong => {
            text.parse::<u64>().map(Value::from).ok()
        }
        ValueType::Boolean => match text {
            "true" | "1" => Some(Value::Bool(true)),
            "false" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
    .unwrap_or_else(|| Value::String(v.text.clone()))
}

/// The device as GenieACS shows it: `_id`, `_deviceId`, the times, `_tags`, and the
/// parameter tree (objects with `_object`, `_writable`, `_timestamp`; parameters with
/// `_value`, `_type`, `_timestamp`, `_writable` and attributes).
pub(crate) fn device_json(
    d: &DeviceRow,
    tags: &[String],
    params: &BTreeMap<String, Param>,
) -> Value {
    let mut doc = Map::new();
    doc.insert("_id".into(), Value::String(d.device_id.clone()));
    let mut id = Map::new();
    for (key, v) in [
        ("_Manufacturer", &d.manufacturer),
        ("_OUI", &d.oui),
        ("_ProductClass", &d.product_class),
        ("_SerialNumber", &d.serial_number),
    ] {
        if let Some(v) = v {
            id.insert(key.into(), Value::String(v.clone()));
        }
    }
    doc.insert("_deviceId".into(), Value::Object(id));
    for (key, v) in [
        ("_registered", d.registered),
        ("_lastInform", d.last_inform),
        ("_lastBoot", d.last_boot),
        ("_lastBootstrap", d.last_bootstrap),
    ] {
        if let Some(ms) = v {
            doc.insert(key.into(), time(ms));
        }
    }
    if !tags.is_empty() {
        doc.insert("_tags".into(), json!(tags));
    }
    for (path, p) in params {
        let body = path.strip_suffix('.').unwrap_or(path);
        if body.is_empty() {
            continue;
        }
        let Some(node) = node(&mut doc, body) else {
            continue;
        };
        node.insert("_object".into(), Value::Bool(p.object));
        if let Some(v) = &p.value {
            node.insert("_value".into(), typed_value(v));
            node.insert(
                "_type".into(),
                Value::String(v.value_type.xsi_name().into()),
            );
        }
        if p.ts != Timestamp::ZERO {
            node.insert("_timestamp".into(), time(p.ts.millis()));
        }
        if let Some(w) = p.writable {
            node.insert("_writable".into(), Value::Bool(w));
        }
        if let Some((a, _)) = &p.attributes {
            node.insert("_notification".into(), Value::from(a.notification));
            node.insert("_accessList".into(), json!(a.access_list));
        }
    }
    Value::Object(doc)
}

/// The node of a dotted path in the tree, created as needed; `None` if a non-object
/// stands in the way.
fn node<'a>(doc: &'a mut Map<String, Value>, path: &str) -> Option<&'a mut Map<String, Value>> {
    let mut cur = doc;
    for segment in path.split('.') {
        cur = cur
            .entry(segment)
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()?;
    }
    Some(cur)
}

/// What a projection asks to load.
#[derive(Debug)]
pub(crate) struct Projection {
    /// The fields as given, split at dots (empty: everything).
    fields: Vec<Vec<String>>,
    /// Whether tags are shown.
    pub(crate) tags: bool,
    /// Parameter prefixes (`Device.DeviceInfo`: that path and everything below it);
    /// `None`: every parameter.
    pub(crate) params: Option<Vec<String>>,
}

impl Projection {
    pub(crate) fn new(projection: &[String]) -> Projection {
        if projection.is_empty() {
            return Projection {
                fields: Vec::new(),
                tags: true,
                params: None,
            };
        }
        let mut fields = Vec::new();
        let mut prefixes = Vec::new();
        let mut all_params = false;
        for p in projection {
            let p = p.trim_end_matches('.');
            let segments: Vec<String> = p.split('.').map(str::to_owned).collect();
            if !p.starts_with('_') {
                // `Device.X._value` loads `Device.X`.
                let cut = segments
                    .iter()
                    .position(|s| s.starts_with('_'))
                    .unwrap_or(segments.len());
                let prefix = segments[..cut].join(".");
                if prefix.is_empty() {
                    all_params = true;
                }
                prefixes.push(prefix);
            }
            fields.push(segments);
        }
        fields.push(vec!["_id".to_owned()]);
        Projection {
            tags: projection.iter().any(|p| p == "_tags"),
            params: (!all_params).then_some(prefixes),
            fields,
        }
    }

    /// Whether any parameter is shown.
    pub(crate) fn wants_params(&self) -> bool {
        self.params.as_ref().is_none_or(|p| !p.is_empty())
    }

    /// The ids of the interned paths the prefixes cover; `None`: all.
    pub(crate) fn path_ids(&self, paths: &PathMap) -> Option<HashSet<i64>> {
        let prefixes = self.params.as_ref()?;
        let mut ids = HashSet::new();
        for prefix in prefixes {
            ids.extend(
                paths
                    .starting_with(prefix)
                    .filter(|(p, _)| p.len() == prefix.len() || p[prefix.len()..].starts_with('.'))
                    .map(|(_, id)| id),
            );
        }
        Some(ids)
    }

    /// Whether a parameter path is shown.
    pub(crate) fn covers(&self, path: &str) -> bool {
        let Some(prefixes) = &self.params else {
            return true;
        };
        prefixes.iter().any(|prefix| {
            path.starts_with(prefix.as_str())
                && (path.len() == prefix.len() || path[prefix.len()..].starts_with('.'))
        })
    }

    /// Keeps only the projected fields of a rendered device.
    pub(crate) fn apply(&self, doc: Value) -> Value {
        if self.fields.is_empty() {
            return doc;
        }
        let Value::Object(doc) = doc else {
            return doc;
        };
        let mut out = Map::new();
        for field in &self.fields {
            copy(&doc, field, &mut out);
        }
        Value::Object(out)
    }
}

/// Copies the subtree at `path` of `from` into `to`, creating the objects on the way.
fn copy(from: &Map<String, Value>, path: &[String], to: &mut Map<String, Value>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(v) = from.get(first) else {
        return;
    };
    if rest.is_empty() {
        to.insert(first.clone(), v.clone());
        return;
    }
    let Value::Object(inner) = v else {
        return;
    };
    let slot = to
        .entry(first.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(slot) = slot {
        copy(inner, rest, slot);
    }
}

/// A fault as the API shows it.
pub(crate) fn fault_json(
    device: &str,
    channel: &str,
    code: String,
    message: String,
    detail: Option<String>,
    timestamp: i64,
    retries: i64,
) -> Value {
    let detail = detail.map_or(Value::Null, |d| {
        serde_json::from_str(&d).unwrap_or(Value::String(d))
    });
    json!({
        "_id": format!("{device}:{channel}"),
        "device": device,
        "channel": channel,
        "code": code,
        "message": message,
        "detail": detail,
        "timestamp": Timestamp(timestamp).to_rfc3339(),
        "retries": retries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_columns_read_the_informed_time() {
        let columns: String = PARAM_COLUMNS
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(columns.contains(&super::super::inform::read_time("params")));
    }

    #[test]
    fn projections_keep_subtrees() {
        let p = Projection::new(&["Device.DeviceInfo".into(), "_lastInform".into()]);
        assert_eq!(p.params, Some(vec!["Device.DeviceInfo".to_owned()]));
        assert!(!p.tags);
        let doc = json!({"_id": "x", "_lastInform": "t", "_registered": "r",
            "Device": {"_object": true, "DeviceInfo": {"A": {"_value": 1}}, "X": {}}});
        assert_eq!(
            p.apply(doc),
            json!({"Device": {"DeviceInfo": {"A": {"_value": 1}}}, "_lastInform": "t", "_id": "x"})
        );
        assert!(p.covers("Device.DeviceInfo."));
        assert!(p.covers("Device.DeviceInfo.A"));
        assert!(!p.covers("Device.DeviceInfoX"));
        assert!(!p.covers("Device."));
        let p = Projection::new(&["Device.X._value".into()]);
        assert_eq!(p.params, Some(vec!["Device.X".to_owned()]));
    }
}
