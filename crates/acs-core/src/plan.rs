//! What tasks and provisions share about the device's answers: the data an answer
//! teaches ([`apply_data`]), faults as recorded, and the tasks that are one command
//! (Download, Upload, ScheduleInform, ...): their RPC and what their answer means. The
//! tasks that are wants on the device's data go through the provisioning engine
//! (`provision::engine::tasks`).

use std::borrow::Cow;

use cwmp::{Body, ParameterValue, ParameterValueStruct};
use serde_json::{Value, json};

use crate::change::{Change, ParamUpdate, PendingTransfer};
use crate::device::{Attributes, DeviceData, Param, StoredValue};
use crate::fault::Fault;
use crate::id::{DeviceId, ParameterPath};
use crate::task::{DuOperation, Task, TaskKind, Transfer};
use crate::time::Timestamp;

/// A CWMP fault as a task fault: code `cwmp.<n>`, the CPE's message, and
/// SetParameterValuesFault entries as detail.
pub(crate) fn cwmp_fault(fault: &cwmp::Fault<'_>, now: Timestamp, retries: u32) -> Fault {
    let (code, message, detail) = match &fault.detail {
        Some(d) => {
            let detail = (!d.set_parameter_values_faults.is_empty()).then(|| {
                Value::Array(
                    d.set_parameter_values_faults
                        .iter()
                        .map(|f| {
                            json!({
                                "parameterName": f.parameter_name,
                                "faultCode": f.fault_code.0,
                                "faultString": f.fault_string.as_deref().unwrap_or(""),
                            })
                        })
                        .collect(),
                )
            });
            let message = d
                .fault_string
                .as_deref()
                .map(str::to_owned)
                .or_else(|| d.fault_code.meaning().map(str::to_owned))
                .unwrap_or_default();
            (format!("cwmp.{}", d.fault_code.0), message, detail)
        }
        None => (
            format!("soap.{}", fault.faultcode.as_str()),
            fault.faultstring.to_string(),
            None,
        ),
    };
    Fault {
        code,
        message,
        detail,
        timestamp: now,
        retries,
    }
}

/// A fault the ACS itself raises about a task (bad arguments, a misbehaving device).
pub(crate) fn acs_fault(
    code: &str,
    message: impl Into<String>,
    now: Timestamp,
    retries: u32,
) -> Fault {
    Fault {
        code: code.to_owned(),
        message: message.into(),
        detail: None,
        timestamp: now,
        retries,
    }
}

/// The CommandKey of a task's RPC: `task_<id>` (at most 32 characters, as the schema
/// requires: an i64 has at most 19 digits).
pub(crate) fn command_key(task: &Task) -> String {
    format!("task_{}", task.id)
}

fn names(paths: &[impl AsRef<str>]) -> Vec<Cow<'static, str>> {
    paths
        .iter()
        .map(|p| Cow::Owned(p.as_ref().to_owned()))
        .collect()
}

/// Whether `path` was read at or after `since`: a parameter by its timestamp, an object by
/// all the parameters known below it (none known: not fresh).
fn value_json(v: &StoredValue) -> Value {
    json!([v.text, v.value_type.xsi_name()])
}

/// The RPC of a task that is one command (sent once, its answer is its result); `None`
/// for the tasks that are wants on the device's data, which the provisioning engine
/// turns into declarations (GetParameterValues, SetParameterValues, RefreshObject,
/// AddObject, Reboot, FactoryReset).
pub(crate) fn command_body(task: &Task) -> Option<Body<'static>> {
    let body = match &task.kind {
        TaskKind::GetParameterValues(_)
        | TaskKind::SetParameterValues { .. }
        | TaskKind::RefreshObject(_)
        | TaskKind::AddObject { .. }
        | TaskKind::Reboot
        | TaskKind::FactoryReset => return None,
        TaskKind::DeleteObject(path) => Body::DeleteObject(cwmp::DeleteObject {
            object_name: Cow::Owned(path.as_str().to_owned()),
            parameter_key: Cow::Borrowed(""),
        }),
        TaskKind::Download(t) => Body::Download(download(&command_key(task), t)),
        TaskKind::Upload(t) => Body::Upload(cwmp::Upload {
            command_key: command_key(task).into(),
            file_type: t.file_type.clone().into(),
            url: t.url.clone().into(),
            username: t.username.clone().into(),
            password: t.password.clone().into(),
            delay_seconds: t.delay_seconds,
        }),
        TaskKind::ScheduleInform {
            delay_seconds,
            command_key,
        } => Body::ScheduleInform(cwmp::ScheduleInform {
            delay_seconds: *delay_seconds,
            command_key: command_key.clone().into(),
        }),
        TaskKind::ScheduleDownload {
            transfer: t,
            windows,
        } => Body::ScheduleDownload(cwmp::ScheduleDownload {
            command_key: command_key(task).into(),
            file_type: t.file_type.clone().into(),
            url: t.url.clone().into(),
            username: t.username.clone().into(),
            password: t.password.clone().into(),
            file_size: t.file_size,
            target_file_name: t.target_file_name.clone().into(),
            time_window_list: windows
                .iter()
                .map(|w| cwmp::TimeWindowStruct {
                    window_start: w.window_start,
                    window_end: w.window_end,
                    window_mode: w.window_mode.clone().into(),
                    user_message: w.user_message.clone().into(),
                    max_retries: w.max_retries,
                })
                .collect(),
        }),
        TaskKind::CancelTransfer(key) => Body::CancelTransfer(cwmp::CancelTransfer {
            command_key: key.clone().into(),
        }),
        TaskKind::GetQueuedTransfers => Body::GetQueuedTransfers(cwmp::GetQueuedTransfers {}),
        TaskKind::GetAllQueuedTransfers => {
            Body::GetAllQueuedTransfers(cwmp::GetAllQueuedTransfers {})
        }
        TaskKind::GetRpcMethods => Body::GetRPCMethods(cwmp::GetRPCMethods {}),
        TaskKind::ChangeDuState { operations } => Body::ChangeDUState(cwmp::ChangeDUState {
            operations: operations.iter().map(du_operation).collect(),
            command_key: Some(command_key(task).into()),
        }),
        TaskKind::GetParameterAttributes(paths) => {
            Body::GetParameterAttributes(cwmp::GetParameterAttributes {
                parameter_names: names(paths),
            })
        }
        TaskKind::SetParameterAttributes(attrs) => {
            Body::SetParameterAttributes(cwmp::SetParameterAttributes {
                parameter_list: attrs
                    .iter()
                    .map(|a| cwmp::SetParameterAttributesStruct {
                        name: a.path.as_str().to_owned().into(),
                        notification_change: a.notification.is_some(),
                        notification: a
                            .notification
                            .and_then(|n| cwmp::Notification::from_code(i64::from(n)))
                            .unwrap_or(cwmp::Notification::Off),
                        access_list_change: a.access_list.is_some(),
                        access_list: a
                            .access_list
                            .clone()
                            .unwrap_or_default()
                            .into_iter()
                            .map(Cow::Owned)
                            .collect(),
                    })
                    .collect(),
            })
        }
    };
    Some(body)
}

/// The device's answer to a command task's RPC: the changes to persist and the task's
/// result. A response of the wrong kind is a protocol fault.
pub(crate) fn command_response(
    task: &Task,
    device: &DeviceId,
    sent: &Body<'static>,
    response: &Body<'_>,
    known: &mut DeviceData,
    now: Timestamp,
) -> Result<(Vec<Change>, Value), Box<Fault>> {
    let started = |command_key: &str, detail: Value| Change::TransferStarted {
        device: device.clone(),
        transfer: PendingTransfer {
            command_key: command_key.to_owned(),
            task: Some(task.id),
            detail,
            started: now,
        },
    };
    let mut changes = Vec::new();
    let mut result = Value::Null;
    match (sent, response) {
        (Body::GetParameterAttributes(_), Body::GetParameterAttributesResponse(r)) => {
            result = Value::Array(
                r.parameter_list
                    .iter()
                    .map(|a| {
                        json!({"name": a.name, "notification": a.notification as u8,
                               "accessList": a.access_list})
                    })
                    .collect(),
            );
            changes.extend(apply_data(device, sent, response, known, now).unwrap_or_default());
        }
        (Body::DeleteObject(_), _) | (Body::SetParameterAttributes(_), _)
            if apply_data_matches(sent, response) =>
        {
            changes.extend(apply_data(device, sent, response, known, now).unwrap_or_default());
        }
        (Body::ScheduleInform(_), Body::ScheduleInformResponse(_)) => {}
        // Status 1: the transfer goes on after the session; TransferComplete (with
        // `M Download`/`M Upload`) reports it later. Status 0: done and applied.
        (
            Body::Download(cwmp::Download {
                command_key,
                url,
                file_type,
                ..
            }),
            Body::DownloadResponse(cwmp::DownloadResponse { status, .. }),
        )
        | (
            Body::Upload(cwmp::Upload {
                command_key,
                url,
                file_type,
                ..
            }),
            Body::UploadResponse(cwmp::UploadResponse { status, .. }),
        ) => {
            result = json!({ "status": status.code() });
            if *status == cwmp::TransferStatus::Pending {
                let detail = json!({"method": sent.name(), "url": url, "fileType": file_type});
                changes.push(started(command_key, detail));
            }
        }
        (Body::ScheduleDownload(req), Body::ScheduleDownloadResponse(_)) => {
            changes.push(started(
                &req.command_key,
                json!({"method": "ScheduleDownload", "url": req.url, "fileType": req.file_type}),
            ));
        }
        (Body::ChangeDUState(req), Body::ChangeDUStateResponse(_)) => {
            let key = req.command_key.as_deref().unwrap_or("");
            changes.push(started(key, json!({"method": "ChangeDUState"})));
        }
        (Body::CancelTransfer(req), Body::CancelTransferResponse(_)) => {
            changes.push(Change::TransferCompleted {
                device: device.clone(),
                command_key: req.command_key.to_string(),
            });
        }
        (Body::GetQueuedTransfers(_), Body::GetQueuedTransfersResponse(r)) => {
            result = Value::Array(
                r.transfer_list
                    .iter()
                    .map(|t| json!({"commandKey": t.command_key, "state": t.state.code()}))
                    .collect(),
            );
        }
        (Body::GetAllQueuedTransfers(_), Body::GetAllQueuedTransfersResponse(r)) => {
            result = Value::Array(
                r.transfer_list
                    .iter()
                    .map(|t| {
                        json!({"commandKey": t.command_key, "state": t.state.code(), "isDownload": t.is_download,
                               "fileType": t.file_type, "fileSize": t.file_size, "targetFileName": t.target_file_name})
                    })
                    .collect(),
            );
        }
        (Body::GetRPCMethods(_), Body::GetRPCMethodsResponse(r)) => {
            result = Value::Array(
                r.method_list
                    .iter()
                    .map(|m| Value::String(m.to_string()))
                    .collect(),
            );
        }
        (sent, got) => {
            return Err(Box::new(acs_fault(
                "protocol",
                format!(
                    "expected the response to {}, got {}",
                    sent.name(),
                    got.name()
                ),
                now,
                task.retries,
            )));
        }
    }
    Ok((changes, result))
}

fn download(command_key: &str, t: &Transfer) -> cwmp::Download<'static> {
    // All ten arguments are always sent, empty when unused (notes §9 #13).
    cwmp::Download {
        command_key: command_key.to_owned().into(),
        file_type: t.file_type.clone().into(),
        url: t.url.clone().into(),
        username: t.username.clone().into(),
        password: t.password.clone().into(),
        file_size: t.file_size,
        target_file_name: t.target_file_name.clone().into(),
        delay_seconds: t.delay_seconds,
        success_url: Cow::Borrowed(""),
        failure_url: Cow::Borrowed(""),
    }
}

fn du_operation(op: &DuOperation) -> cwmp::Operation<'static> {
    let own = |s: &Option<String>| s.clone().map(Cow::Owned);
    match op {
        DuOperation::Install {
            url,
            uuid,
            execution_env_ref,
            username,
            password,
        } => cwmp::Operation::Install(cwmp::InstallOpStruct {
            url: url.clone().into(),
            uuid: own(uuid),
            username: own(username),
            password: own(password),
            execution_env_ref: own(execution_env_ref),
        }),
        DuOperation::Update {
            uuid,
            version,
            url,
            username,
            password,
        } => cwmp::Operation::Update(cwmp::UpdateOpStruct {
            uuid: own(uuid),
            version: own(version),
            url: own(url),
            username: own(username),
            password: own(password),
        }),
        DuOperation::Uninstall {
            uuid,
            version,
            execution_env_ref,
        } => cwmp::Operation::Uninstall(cwmp::UninstallOpStruct {
            uuid: uuid.clone().into(),
            version: own(version),
            execution_env_ref: own(execution_env_ref),
        }),
    }
}

/// The changes recording what a response taught: these updates, and these paths gone.
fn params_changes(
    device: &DeviceId,
    updates: Vec<ParamUpdate>,
    gone: Vec<String>,
) -> impl Iterator<Item = Change> {
    let deleted = (!gone.is_empty()).then(|| Change::DeleteParams {
        device: device.clone(),
        paths: gone,
    });
    std::iter::once(Change::Params {
        device: device.clone(),
        updates,
    })
    .chain(deleted)
}

/// Whether `response` answers `sent` and [`apply_data`] applies it.
fn apply_data_matches(sent: &Body<'_>, response: &Body<'_>) -> bool {
    matches!(
        (sent, response),
        (
            Body::GetParameterValues(_),
            Body::GetParameterValuesResponse(_)
        ) | (
            Body::GetParameterNames(_),
            Body::GetParameterNamesResponse(_)
        ) | (
            Body::SetParameterValues(_),
            Body::SetParameterValuesResponse(_)
        ) | (Body::AddObject(_), Body::AddObjectResponse(_))
            | (Body::DeleteObject(_), Body::DeleteObjectResponse(_))
            | (
                Body::GetParameterAttributes(_),
                Body::GetParameterAttributesResponse(_)
            )
            | (
                Body::SetParameterAttributes(_),
                Body::SetParameterAttributesResponse(_)
            )
    )
}

/// What the answer to a data RPC (names, values, attributes read or set, an instance added
/// or deleted) tells of the device: `known` is updated and the changes to persist returned.
/// `None` when `response` is not the answer to such a `sent`. Tasks and provisions share it.
pub(crate) fn apply_data(
    device: &DeviceId,
    sent: &Body<'_>,
    response: &Body<'_>,
    known: &mut DeviceData,
    now: Timestamp,
) -> Option<Vec<Change>> {
    let mut changes = Vec::new();
    match (sent, response) {
        (Body::GetParameterValues(req), Body::GetParameterValuesResponse(r)) => {
            let updates = apply_values(known, &r.parameter_list, now);
            // Values missing below a requested object no longer exist.
            let returned: std::collections::HashSet<&str> =
                r.parameter_list.iter().map(|p| p.name.as_ref()).collect();
            let mut gone = Vec::new();
            for name in &req.parameter_names {
                if name.ends_with('.') {
                    for (path, p) in known.below(name) {
                        if !p.object && !returned.contains(path.as_str()) {
                            gone.push(path.clone());
                        }
                    }
                }
            }
            for g in &gone {
                known.params.remove(g);
            }
            changes.extend(params_changes(device, updates, gone));
        }
        (Body::GetParameterNames(req), Body::GetParameterNamesResponse(r)) => {
            let prefix = req.parameter_path.as_ref();
            let mut updates = Vec::with_capacity(r.parameter_list.len());
            let mut seen = std::collections::HashSet::new();
            for info in &r.parameter_list {
                let name = info.name.as_ref();
                let object = name.ends_with('.');
                seen.insert(name.to_owned());
                let entry = known.params.entry(name.to_owned()).or_default();
                entry.object = object;
                entry.writable = Some(info.writable);
                if object {
                    entry.ts = now;
                }
                updates.push(ParamUpdate {
                    path: name.to_owned(),
                    object,
                    writable: Some(info.writable),
                    ts: object.then_some(now),
                    ..ParamUpdate::default()
                });
            }
            // Everything known below the path that the device no longer lists is gone;
            // whatever the path itself names was just enumerated.
            let gone: Vec<String> = known
                .below(prefix)
                .map(|(k, _)| k.clone())
                .filter(|k| !seen.contains(k) && k.as_str() != prefix)
                .collect();
            for g in &gone {
                known.params.remove(g);
            }
            if !prefix.is_empty() && prefix.ends_with('.') {
                let entry = known.params.entry(prefix.to_owned()).or_default();
                entry.object = true;
                entry.ts = now;
                updates.push(ParamUpdate {
                    path: prefix.to_owned(),
                    object: true,
                    ts: Some(now),
                    ..ParamUpdate::default()
                });
            }
            changes.extend(params_changes(device, updates, gone));
        }
        (Body::SetParameterValues(req), Body::SetParameterValuesResponse(_)) => {
            let updates = apply_values(known, &req.parameter_list, now);
            changes.push(Change::Params {
                device: device.clone(),
                updates,
            });
        }
        (Body::AddObject(req), Body::AddObjectResponse(r)) if r.instance_number > 0 => {
            let path = format!("{}{}.", req.object_name, r.instance_number);
            known.params.insert(
                path.clone(),
                Param {
                    object: true,
                    writable: Some(true),
                    ..Param::default()
                },
            );
            changes.push(Change::Params {
                device: device.clone(),
                updates: vec![ParamUpdate {
                    path,
                    object: true,
                    writable: Some(true),
                    ..ParamUpdate::default()
                }],
            });
        }
        (Body::DeleteObject(req), Body::DeleteObjectResponse(_)) => {
            let path = req.object_name.to_string();
            let gone: Vec<String> = known.below(&path).map(|(k, _)| k.clone()).collect();
            for g in &gone {
                known.params.remove(g);
            }
            changes.push(Change::DeleteParams {
                device: device.clone(),
                paths: vec![path],
            });
        }
        (Body::GetParameterAttributes(_), Body::GetParameterAttributesResponse(r)) => {
            let mut updates = Vec::new();
            for a in &r.parameter_list {
                let attrs = Attributes {
                    notification: a.notification as u8,
                    access_list: a.access_list.iter().map(|s| s.to_string()).collect(),
                };
                known
                    .params
                    .entry(a.name.to_string())
                    .or_default()
                    .attributes = Some((attrs.clone(), now));
                updates.push(ParamUpdate {
                    path: a.name.to_string(),
                    object: a.name.ends_with('.'),
                    attributes: Some((attrs, now)),
                    ..ParamUpdate::default()
                });
            }
            changes.push(Change::Params {
                device: device.clone(),
                updates,
            });
        }
        (Body::SetParameterAttributes(req), Body::SetParameterAttributesResponse(_)) => {
            let mut updates = Vec::new();
            for s in &req.parameter_list {
                // The attributes are now what was set where they changed; where they did
                // not, what was known (or the defaults) stays.
                let entry = known.params.entry(s.name.to_string()).or_default();
                let (mut attrs, _) = entry.attributes.clone().unwrap_or((
                    Attributes {
                        notification: 0,
                        access_list: Vec::new(),
                    },
                    Timestamp::ZERO,
                ));
                if s.notification_change {
                    attrs.notification = s.notification as u8;
                }
                if s.access_list_change {
                    attrs.access_list = s.access_list.iter().map(|a| a.to_string()).collect();
                }
                entry.attributes = Some((attrs.clone(), now));
                updates.push(ParamUpdate {
                    path: s.name.to_string(),
                    object: s.name.ends_with('.'),
                    attributes: Some((attrs, now)),
                    ..ParamUpdate::default()
                });
            }
            changes.push(Change::Params {
                device: device.clone(),
                updates,
            });
        }
        _ => return None,
    }
    Some(changes)
}

/// Stores values read or set, with `now` as their time; returns the updates to persist.
pub(crate) fn apply_values(
    known: &mut DeviceData,
    list: &[ParameterValueStruct<'_>],
    now: Timestamp,
) -> Vec<ParamUpdate> {
    let updates = value_updates(list, now);
    for u in &updates {
        let entry = known.params.entry(u.path.clone()).or_default();
        entry.object = false;
        entry.value.clone_from(&u.value);
        entry.ts = now;
    }
    updates
}

/// The updates that persist values read or set, with `now` as their time.
pub(crate) fn value_updates(list: &[ParameterValueStruct<'_>], now: Timestamp) -> Vec<ParamUpdate> {
    list.iter()
        .map(|p| ParamUpdate {
            path: p.name.to_string(),
            object: false,
            value: Some(StoredValue::from_cwmp(&p.value)),
            ts: Some(now),
            ..ParamUpdate::default()
        })
        .collect()
}

/// The values a GetParameterValues task read: `{path: [value, type]}`.
pub(crate) fn values_result(known: &DeviceData, paths: &[ParameterPath]) -> Value {
    let mut out = serde_json::Map::new();
    for path in paths {
        if path.is_object() {
            for (k, p) in known.below(path.as_str()) {
                if let Some(v) = &p.value {
                    out.insert(k.clone(), value_json(v));
                }
            }
        } else if let Some(v) = known
            .params
            .get(path.as_str())
            .and_then(|p| p.value.as_ref())
        {
            out.insert(path.to_string(), value_json(v));
        }
    }
    Value::Object(out)
}

/// The value of a parameter as a CWMP value to send, for the engine's own SPVs.
pub(crate) fn string_value(s: String) -> ParameterValue<'static> {
    ParameterValue::String(Cow::Owned(s))
}
