//! Tasks: what an operator asks of a device through the NBI, queued until the device's
//! next session. The JSON shapes are GenieACS's (`{"name": "setParameterValues",
//! "parameterValues": [["Device.X", "v", "xsd:string"]]}`), so existing integrations work;
//! tasks for the RPCs GenieACS lacks follow the same style.

use serde_json::{Map, Value};

use crate::device::ValueType;
use crate::id::{DeviceId, ParameterPath};
use crate::time::Timestamp;

/// A task's id: a positive integer, shown as a string in the API (as GenieACS's ObjectIds).
pub type TaskId = i64;

/// A value to set: a JSON scalar and, optionally, its type.
#[derive(Debug, Clone, PartialEq)]
pub struct SetValue {
    /// Full parameter name (relative to the new instance for AddObject).
    pub path: String,
    /// The value as given: string, number or boolean.
    pub value: Value,
    /// The type, if given; otherwise the known type of the parameter is used.
    pub value_type: Option<ValueType>,
}

impl SetValue {
    /// The value as text: strings as they are, booleans `true`/`false`, numbers in decimal.
    pub fn text(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        }
    }

    /// The type to use when the device's type is unknown: from the JSON value.
    pub fn inferred_type(&self) -> ValueType {
        match &self.value {
            Value::Bool(_) => ValueType::Boolean,
            Value::Number(n) if n.is_u64() => ValueType::UnsignedInt,
            Value::Number(n) if n.is_i64() => ValueType::Int,
            _ => ValueType::String,
        }
    }
}

/// A file transfer's arguments (Download, Upload, ScheduleDownload).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transfer {
    /// `1 Firmware Upgrade Image`, `3 Vendor Configuration File`, ...
    pub file_type: String,
    /// Where from (Download) or where to (Upload).
    pub url: String,
    /// File-server credentials.
    pub username: String,
    /// File-server credentials.
    pub password: String,
    /// Size in bytes, 0 if unknown.
    pub file_size: u32,
    /// Name on the device.
    pub target_file_name: String,
    /// Delay before the transfer starts.
    pub delay_seconds: u32,
}

/// A time window of ScheduleDownload.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeWindow {
    /// Seconds from the request.
    pub window_start: u32,
    /// Seconds from the request.
    pub window_end: u32,
    /// `1 At Any Time`, `2 Immediately`, `3 When Idle`, `4 Confirmation Needed`.
    pub window_mode: String,
    /// Shown to the user in mode 4.
    pub user_message: String,
    /// -1: the CPE decides.
    pub max_retries: i32,
}

/// One ChangeDUState operation.
#[derive(Debug, Clone, PartialEq)]
pub enum DuOperation {
    /// Install from `url`.
    Install {
        /// Package URL.
        url: String,
        /// UUID to give the unit.
        uuid: Option<String>,
        /// Execution environment.
        execution_env_ref: Option<String>,
        /// Credentials.
        username: Option<String>,
        /// Credentials.
        password: Option<String>,
    },
    /// Update a unit.
    Update {
        /// Which unit.
        uuid: Option<String>,
        /// To which version.
        version: Option<String>,
        /// From where.
        url: Option<String>,
        /// Credentials.
        username: Option<String>,
        /// Credentials.
        password: Option<String>,
    },
    /// Uninstall a unit.
    Uninstall {
        /// Which unit.
        uuid: String,
        /// Which version.
        version: Option<String>,
        /// Execution environment.
        execution_env_ref: Option<String>,
    },
}

/// An attribute change of SetParameterAttributes.
#[derive(Debug, Clone, PartialEq)]
pub struct SetAttribute {
    /// Full name or partial path.
    pub path: ParameterPath,
    /// New notification, if it changes.
    pub notification: Option<u8>,
    /// New access list, if it changes.
    pub access_list: Option<Vec<String>>,
}

/// What a task asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskKind {
    /// Read values (full names or partial paths).
    GetParameterValues(Vec<ParameterPath>),
    /// Set values, all at once.
    SetParameterValues {
        /// The values.
        values: Vec<SetValue>,
        /// ParameterKey to send (empty by default).
        parameter_key: String,
    },
    /// Rediscover an object's names, writable flags and values (`""`: everything).
    RefreshObject(ParameterPath),
    /// Create an instance of a table, then set values in it.
    AddObject {
        /// The table, ending with `.`.
        object: ParameterPath,
        /// Values relative to the new instance.
        values: Vec<SetValue>,
    },
    /// Delete an instance.
    DeleteObject(ParameterPath),
    /// Reboot.
    Reboot,
    /// Factory reset.
    FactoryReset,
    /// Download a file.
    Download(Transfer),
    /// Upload a file.
    Upload(Transfer),
    /// Open a session later.
    ScheduleInform {
        /// Delay.
        delay_seconds: u32,
        /// Echoed in `M ScheduleInform`.
        command_key: String,
    },
    /// Download within time windows.
    ScheduleDownload {
        /// The transfer.
        transfer: Transfer,
        /// One or two windows.
        windows: Vec<TimeWindow>,
    },
    /// Cancel a queued transfer.
    CancelTransfer(String),
    /// List queued transfers.
    GetQueuedTransfers,
    /// List all queued transfers.
    GetAllQueuedTransfers,
    /// Install, update or uninstall deployment units.
    ChangeDuState {
        /// The operations.
        operations: Vec<DuOperation>,
    },
    /// List the methods the device supports.
    GetRpcMethods,
    /// Read attributes.
    GetParameterAttributes(Vec<ParameterPath>),
    /// Change attributes.
    SetParameterAttributes(Vec<SetAttribute>),
}

/// A task as stored: its kind, its JSON as submitted, and its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Id.
    pub id: TaskId,
    /// The device.
    pub device: DeviceId,
    /// When it was created: data read before this does not satisfy it.
    pub created: Timestamp,
    /// When it stops being attempted.
    pub expiry: Option<Timestamp>,
    /// What it asks.
    pub kind: TaskKind,
    /// What is done of it so far (e.g. the instance an AddObject created), so that a
    /// session that breaks off does not repeat it.
    pub progress: Option<Value>,
    /// Retries after faults so far.
    pub retries: u32,
    /// Not before this time (set after a fault).
    pub not_before: Option<Timestamp>,
}

/// A task accepted from the API, before it has an id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// The device.
    pub device: DeviceId,
    /// Creation time.
    pub created: Timestamp,
    /// Expiry, if any.
    pub expiry: Option<Timestamp>,
    /// What it asks.
    pub kind: TaskKind,
    /// An existing task of the device with the same key is replaced (GenieACS `uniqueKey`).
    pub unique_key: Option<String>,
    /// The submitted JSON, normalised (`name`, fields, `timestamp`, `expiry`, `device`).
    pub json: Value,
}

/// A task the API refuses, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTask(pub String);

fn invalid(msg: impl Into<String>) -> InvalidTask {
    InvalidTask(msg.into())
}

fn string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, InvalidTask> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("'{key}' must be a string"))),
    }
}

fn required_string(obj: &Map<String, Value>, key: &str) -> Result<String, InvalidTask> {
    string(obj, key)?.ok_or_else(|| invalid(format!("Missing '{key}' property")))
}

fn uint(obj: &Map<String, Value>, key: &str) -> Result<Option<u32>, InvalidTask> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| invalid(format!("'{key}' must be a non-negative integer"))),
    }
}

fn path(s: &str) -> Result<ParameterPath, InvalidTask> {
    ParameterPath::parse(s).map_err(|e| invalid(e.to_string()))
}

fn paths(obj: &Map<String, Value>, key: &str) -> Result<Vec<ParameterPath>, InvalidTask> {
    let Some(Value::Array(items)) = obj.get(key) else {
        return Err(invalid(format!("Missing '{key}' property")));
    };
    if items.is_empty() {
        return Err(invalid(format!("Missing '{key}' property")));
    }
    items
        .iter()
        .map(|v| match v {
            Value::String(s) if !s.is_empty() => path(s),
            other => Err(invalid(format!("Invalid parameter name '{other}'"))),
        })
        .collect()
}

/// `[[name, value, type?], ...]`, as GenieACS takes them.
fn set_values(
    obj: &Map<String, Value>,
    key: &str,
    required: bool,
) -> Result<Vec<SetValue>, InvalidTask> {
    let items = match obj.get(key) {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) if !required => return Ok(Vec::new()),
        _ => return Err(invalid(format!("Missing '{key}' property"))),
    };
    if required && items.is_empty() {
        return Err(invalid(format!("Missing '{key}' property")));
    }
    items
        .iter()
        .map(|item| {
            let bad = || invalid(format!("Invalid parameter value '{item}'"));
            let Value::Array(parts) = item else {
                return Err(bad());
            };
            let (Some(Value::String(name)), Some(value)) = (parts.first(), parts.get(1)) else {
                return Err(bad());
            };
            if name.is_empty()
                || name.ends_with('.')
                || !matches!(value, Value::String(_) | Value::Bool(_) | Value::Number(_))
            {
                return Err(bad());
            }
            let value_type = match parts.get(2) {
                None | Some(Value::Null) => None,
                // The type is written into the SetParameterValues: only the TR-069 types
                // (A.2.1) validate against the CWMP schema, so nothing else is taken.
                Some(Value::String(t)) => match ValueType::from_xsi_name(t) {
                    ValueType::Other(_) => {
                        return Err(invalid(format!(
                            "unknown type {t:?}: xsd:string, xsd:int, xsd:unsignedInt, xsd:long, \
                             xsd:unsignedLong, xsd:boolean, xsd:dateTime, xsd:base64 or xsd:hexBinary"
                        )));
                    }
                    known => Some(known),
                },
                Some(_) => return Err(bad()),
            };
            if key == "parameterValues"
                && obj.get("name").and_then(Value::as_str) != Some("addObject")
            {
                path(name)?;
            }
            Ok(SetValue {
                path: name.clone(),
                value: value.clone(),
                value_type,
            })
        })
        .collect()
}

fn transfer(obj: &Map<String, Value>) -> Result<Transfer, InvalidTask> {
    let url = string(obj, "url")?.unwrap_or_default();
    if url.is_empty() {
        return Err(invalid(
            "Missing 'url' property (the file's URL; the ACS serves no files yet)",
        ));
    }
    if url.contains('@')
        && url.split("://").nth(1).is_some_and(|rest| {
            rest.split('/')
                .next()
                .is_some_and(|auth| auth.contains('@'))
        })
    {
        // TR-069 A.3.2.8: credentials go in Username/Password, never in the URL.
        return Err(invalid(
            "'url' must not contain credentials; use 'username' and 'password'",
        ));
    }
    Ok(Transfer {
        file_type: required_string(obj, "fileType")?,
        url,
        username: string(obj, "username")?.unwrap_or_default(),
        password: string(obj, "password")?.unwrap_or_default(),
        file_size: uint(obj, "fileSize")?.unwrap_or(0),
        target_file_name: string(obj, "targetFileName")?.unwrap_or_default(),
        delay_seconds: uint(obj, "delaySeconds")?.unwrap_or(0),
    })
}

/// Parses a task as the API receives it. `now` is its creation time unless the JSON gives
/// a `timestamp`; `expiry` is seconds from creation or an absolute date, as in GenieACS.
pub fn parse_task(device: DeviceId, json: &Value, now: Timestamp) -> Result<NewTask, InvalidTask> {
    let Value::Object(obj) = json else {
        return Err(invalid("a task is a JSON object"));
    };
    let name = required_string(obj, "name")?;
    let kind = match name.as_str() {
        "getParameterValues" => TaskKind::GetParameterValues(paths(obj, "parameterNames")?),
        "setParameterValues" => TaskKind::SetParameterValues {
            values: set_values(obj, "parameterValues", true)?,
            parameter_key: string(obj, "parameterKey")?.unwrap_or_default(),
        },
        "refreshObject" => {
            let object = string(obj, "objectName")?
                .ok_or_else(|| invalid("Missing 'objectName' property"))?;
            // GenieACS accepts "Device" for "Device.": an object is meant.
            let object = if object.is_empty() || object.ends_with('.') {
                object
            } else {
                format!("{object}.")
            };
            TaskKind::RefreshObject(path(&object)?)
        }
        "addObject" => {
            let object = required_string(obj, "objectName")?;
            let object = if object.ends_with('.') {
                object
            } else {
                format!("{object}.")
            };
            TaskKind::AddObject {
                object: path(&object)?,
                values: set_values(obj, "parameterValues", false)?,
            }
        }
        "deleteObject" => {
            let object = required_string(obj, "objectName")?;
            let object = if object.ends_with('.') {
                object
            } else {
                format!("{object}.")
            };
            TaskKind::DeleteObject(path(&object)?)
        }
        "reboot" => TaskKind::Reboot,
        "factoryReset" => TaskKind::FactoryReset,
        "download" => TaskKind::Download(transfer(obj)?),
        "upload" => TaskKind::Upload(transfer(obj)?),
        "scheduleInform" => TaskKind::ScheduleInform {
            delay_seconds: uint(obj, "delaySeconds")?
                .ok_or_else(|| invalid("Missing 'delaySeconds' property"))?,
            command_key: string(obj, "commandKey")?.unwrap_or_default(),
        },
        "scheduleDownload" => {
            let Some(Value::Array(items)) = obj.get("timeWindows") else {
                return Err(invalid("Missing 'timeWindows' property"));
            };
            if items.is_empty() || items.len() > 2 {
                return Err(invalid("'timeWindows' holds one or two windows"));
            }
            let windows = items
                .iter()
                .map(|w| {
                    let Value::Object(w) = w else {
                        return Err(invalid("a time window is an object"));
                    };
                    Ok(TimeWindow {
                        window_start: uint(w, "windowStart")?
                            .ok_or_else(|| invalid("Missing 'windowStart'"))?,
                        window_end: uint(w, "windowEnd")?
                            .ok_or_else(|| invalid("Missing 'windowEnd'"))?,
                        window_mode: string(w, "windowMode")?
                            .unwrap_or_else(|| "1 At Any Time".into()),
                        user_message: string(w, "userMessage")?.unwrap_or_default(),
                        max_retries: match w.get("maxRetries") {
                            None | Some(Value::Null) => -1,
                            Some(v) => v
                                .as_i64()
                                .and_then(|n| i32::try_from(n).ok())
                                .ok_or_else(|| invalid("'maxRetries' must be an integer"))?,
                        },
                    })
                })
                .collect::<Result<_, _>>()?;
            TaskKind::ScheduleDownload {
                transfer: transfer(obj)?,
                windows,
            }
        }
        "cancelTransfer" => TaskKind::CancelTransfer(required_string(obj, "commandKey")?),
        "getQueuedTransfers" => TaskKind::GetQueuedTransfers,
        "getAllQueuedTransfers" => TaskKind::GetAllQueuedTransfers,
        "getRPCMethods" => TaskKind::GetRpcMethods,
        "changeDUState" => {
            let Some(Value::Array(items)) = obj.get("operations") else {
                return Err(invalid("Missing 'operations' property"));
            };
            if items.is_empty() {
                return Err(invalid("Missing 'operations' property"));
            }
            let operations = items
                .iter()
                .map(|op| {
                    let Value::Object(op) = op else {
                        return Err(invalid("an operation is an object"));
                    };
                    Ok(match required_string(op, "type")?.as_str() {
                        "install" => DuOperation::Install {
                            url: required_string(op, "url")?,
                            uuid: string(op, "uuid")?,
                            execution_env_ref: string(op, "executionEnvRef")?,
                            username: string(op, "username")?,
                            password: string(op, "password")?,
                        },
                        "update" => DuOperation::Update {
                            uuid: string(op, "uuid")?,
                            version: string(op, "version")?,
                            url: string(op, "url")?,
                            username: string(op, "username")?,
                            password: string(op, "password")?,
                        },
                        "uninstall" => DuOperation::Uninstall {
                            uuid: required_string(op, "uuid")?,
                            version: string(op, "version")?,
                            execution_env_ref: string(op, "executionEnvRef")?,
                        },
                        other => {
                            return Err(invalid(format!(
                                "operation type {other:?} is not install, update or uninstall"
                            )));
                        }
                    })
                })
                .collect::<Result<_, _>>()?;
            TaskKind::ChangeDuState { operations }
        }
        "getParameterAttributes" => TaskKind::GetParameterAttributes(paths(obj, "parameterNames")?),
        "setParameterAttributes" => {
            let Some(Value::Array(items)) = obj.get("parameterAttributes") else {
                return Err(invalid("Missing 'parameterAttributes' property"));
            };
            if items.is_empty() {
                return Err(invalid("Missing 'parameterAttributes' property"));
            }
            let attrs = items
                .iter()
                .map(|a| {
                    let Value::Object(a) = a else {
                        return Err(invalid("an attribute change is an object"));
                    };
                    let notification = match a.get("notification") {
                        None | Some(Value::Null) => None,
                        Some(v) => Some(
                            v.as_u64()
                                .filter(|n| *n <= 6)
                                .and_then(|n| u8::try_from(n).ok())
                                .ok_or_else(|| invalid("'notification' is 0 to 6"))?,
                        ),
                    };
                    let access_list = match a.get("accessList") {
                        None | Some(Value::Null) => None,
                        Some(Value::Array(l)) => Some(
                            l.iter()
                                .map(|s| {
                                    s.as_str()
                                        .map(str::to_owned)
                                        .ok_or_else(|| invalid("'accessList' holds strings"))
                                })
                                .collect::<Result<Vec<_>, _>>()?,
                        ),
                        Some(_) => return Err(invalid("'accessList' is an array")),
                    };
                    Ok(SetAttribute {
                        path: path(&required_string(a, "name")?)?,
                        notification,
                        access_list,
                    })
                })
                .collect::<Result<_, _>>()?;
            TaskKind::SetParameterAttributes(attrs)
        }
        other => return Err(invalid(format!("unknown task {other:?}"))),
    };

    let created = match obj.get("timestamp") {
        None | Some(Value::Null) => now,
        Some(v) => {
            parse_time(v).ok_or_else(|| invalid("'timestamp' must be a date or milliseconds"))?
        }
    };
    let expiry = match obj.get("expiry") {
        None | Some(Value::Null) => None,
        // A number is seconds from creation; a string is a date (GenieACS).
        Some(Value::Number(n)) => Some(
            created.plus_millis(
                n.as_f64()
                    .map(|s| (s * 1000.0) as i64)
                    .ok_or_else(|| invalid("bad 'expiry'"))?,
            ),
        ),
        Some(v) => {
            Some(parse_time(v).ok_or_else(|| invalid("'expiry' must be seconds or a date"))?)
        }
    };
    let unique_key = string(obj, "uniqueKey")?;

    let mut normalised = obj.clone();
    normalised.remove("_id");
    normalised.insert("device".into(), Value::String(device.to_string()));
    normalised.insert("timestamp".into(), Value::String(created.to_rfc3339()));
    match expiry {
        Some(e) => normalised.insert("expiry".into(), Value::String(e.to_rfc3339())),
        None => normalised.remove("expiry"),
    };
    Ok(NewTask {
        device,
        created,
        expiry,
        kind,
        unique_key,
        json: Value::Object(normalised),
    })
}

/// A time in a query or task: milliseconds since the epoch, or an ISO 8601 date-time.
pub fn parse_time(v: &Value) -> Option<Timestamp> {
    match v {
        Value::Number(n) => n.as_i64().map(Timestamp),
        Value::String(s) => {
            if let Ok(t) = cwmp::DateTime::parse(s) {
                return Some(Timestamp::from_datetime(t));
            }
            // GenieACS clients also send "2017-12-11 13:16:23 +0000".
            let s = s.trim();
            let (date_time, zone) = s.rsplit_once(' ')?;
            let zone = match (zone.len(), zone.get(..3), zone.get(3..)) {
                (5, Some(hours), Some(minutes)) => format!("{hours}:{minutes}"),
                _ => return None,
            };
            cwmp::DateTime::parse(&format!("{}{}", date_time.replacen(' ', "T", 1), zone))
                .ok()
                .map(Timestamp::from_datetime)
        }
        _ => None,
    }
}

/// The task as the API shows it: its submitted JSON with `_id`.
pub fn task_json(id: TaskId, json: &Value) -> Value {
    let mut v = json.clone();
    if let Value::Object(o) = &mut v {
        o.insert("_id".into(), Value::String(id.to_string()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dev() -> DeviceId {
        DeviceId::parse("00D09E-HGW-SN1").unwrap()
    }

    fn parse(v: Value) -> Result<NewTask, InvalidTask> {
        parse_task(dev(), &v, Timestamp(1_000_000))
    }

    #[test]
    fn genieacs_shapes() {
        let t = parse(json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.", "Device.X"]})).unwrap();
        assert!(matches!(&t.kind, TaskKind::GetParameterValues(p) if p.len() == 2));
        let t = parse(json!({"name": "setParameterValues", "parameterValues": [["Device.A", 5, "xsd:unsignedInt"], ["Device.B", true]], "expiry": 60})).unwrap();
        let TaskKind::SetParameterValues { values, .. } = &t.kind else {
            panic!()
        };
        assert_eq!(values[0].value_type, Some(ValueType::UnsignedInt));
        assert_eq!(values[1].text(), "true");
        assert_eq!(values[1].inferred_type(), ValueType::Boolean);
        assert_eq!(t.expiry, Some(Timestamp(1_060_000)));
        assert_eq!(t.json["device"], "00D09E-HGW-SN1");
        let t = parse(json!({"name": "refreshObject", "objectName": "Device.WiFi"})).unwrap();
        assert_eq!(
            t.kind,
            TaskKind::RefreshObject(ParameterPath::parse("Device.WiFi.").unwrap())
        );
        assert!(parse(json!({"name": "refreshObject", "objectName": ""})).is_ok());
        assert!(parse(json!({"name": "reboot"})).is_ok());
        let t = parse(json!({"name": "addObject", "objectName": "Device.NAT.PortMapping", "parameterValues": [["Enable", true]]})).unwrap();
        assert!(matches!(t.kind, TaskKind::AddObject { .. }));
    }

    #[test]
    fn refusals_say_why() {
        let err = |v| parse(v).unwrap_err().0;
        assert_eq!(
            err(json!({"name": "getParameterValues"})),
            "Missing 'parameterNames' property"
        );
        assert_eq!(
            err(json!({"name": "setParameterValues", "parameterValues": []})),
            "Missing 'parameterValues' property"
        );
        assert!(
            err(json!({"name": "setParameterValues", "parameterValues": [["Device.A"]]}))
                .starts_with("Invalid parameter value")
        );
        assert!(
            err(json!({"name": "getParameterValues", "parameterNames": ["Device..X"]}))
                .contains("not a parameter path")
        );
        assert_eq!(
            err(json!({"name": "launchMissiles"})),
            "unknown task \"launchMissiles\""
        );
        assert!(err(json!({"name": "download", "fileType": "1 Firmware Upgrade Image", "url": "http://u:p@h/f"})).contains("credentials"));
        assert!(
            err(json!({"name": "setParameterValues", "parameterValues": [["Device.A", 1, "xsd:nonsense"]]}))
                .starts_with("unknown type \"xsd:nonsense\"")
        );
        assert!(err(json!({"name": "scheduleDownload", "fileType": "1 X", "url": "http://h/f", "timeWindows": []})).contains("one or two"));
    }

    #[test]
    fn times_in_both_forms() {
        assert_eq!(parse_time(&json!(5)), Some(Timestamp(5)));
        assert_eq!(
            parse_time(&json!("2024-05-01T12:00:00Z")),
            Some(Timestamp(1_714_564_800_000))
        );
        assert_eq!(
            parse_time(&json!("2024-05-01 14:00:00 +0200")),
            Some(Timestamp(1_714_564_800_000))
        );
        assert_eq!(parse_time(&json!(true)), None);
    }
}
