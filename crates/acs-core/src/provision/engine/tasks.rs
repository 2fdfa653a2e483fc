//! NBI tasks in the engine. Each task is a channel `task_<id>` beside the presets'
//! channels, and its wants are needs of the same rounds: one GetParameterValues reads what
//! tasks and provisions want, one SetParameterValues writes all their values, a task can
//! read or set a virtual parameter, and a fault stops only that task.
//!
//! A task names parameters the way the CWMP RPCs do, not as GenieACS's discovery patterns:
//! a full name that is not known is read directly (GetParameterValues says whether it
//! exists, its value and its type) rather than found by listing its parent, and what the
//! device leaves out of the answer to a read of this session does not exist (a device that
//! answers less than asked cannot loop the session). A task that is one command (Download,
//! Upload, ScheduleInform, ...) sends its RPC once, after the round's data RPCs.

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};

use super::{DeviceFacts, Needs, enumerated_at, last_command, needs};
use crate::device::{DeviceData, StoredValue};
use crate::fault::task_channel;
use crate::plan::{command_body, values_result};
use crate::provision::declaration::Declaration;
use crate::task::{SetValue, Task, TaskKind};
use crate::time::Timestamp;

/// Why a task cannot go on: a fault code and message.
type Stop = (String, String);

/// Adds the needs of a declaration (path, timestamps, values) made for a task.
type Declare<'a> = dyn Fn(&mut Needs, &str, Json, Json) -> Result<(), Stop> + 'a;

/// A task being worked on in a session.
#[derive(Debug)]
pub(super) struct TaskWork {
    pub(super) task: Task,
    pub(super) channel: String,
    /// The instance its AddObject created; from the task's progress when an earlier
    /// session broke off after the AddObject (so that a retry does not add a second).
    pub(super) instance: Option<u32>,
    pub(super) add_sent: bool,
    pub(super) command_sent: bool,
    /// A command's result (its answer).
    pub(super) result: Json,
    /// Done or faulted in this session.
    pub(super) finished: bool,
}

/// What the engine asked of the device in this session and got answered:
/// GetParameterValues names, GetParameterNames paths.
#[derive(Debug, Default)]
pub(super) struct Asked {
    pub(super) values: BTreeSet<String>,
    pub(super) names: BTreeSet<String>,
}

impl Asked {
    /// Whether `path` or an object above it was read.
    fn read(&self, path: &str) -> bool {
        if self.values.contains(path) {
            return true;
        }
        let body = path.strip_suffix('.').unwrap_or(path);
        body.match_indices('.')
            .any(|(i, _)| self.values.contains(&path[..=i]))
    }
}

/// The roots of the data model (`Device.`, `InternetGatewayDevice.`) known.
fn roots(known: &DeviceData) -> Vec<String> {
    known
        .params
        .keys()
        .filter(|k| k.ends_with('.') && k.matches('.').count() == 1)
        .filter(|k| !matches!(k.as_str(), "Downloads." | "VirtualParameters."))
        .cloned()
        .collect()
}

/// Paths whose values are the ACS's or a script's, not the device's: they go through the
/// declarations the scripts use.
fn special(path: &str) -> bool {
    path.starts_with("VirtualParameters.")
}

impl TaskWork {
    pub(super) fn new(task: Task) -> TaskWork {
        let instance = task
            .progress
            .as_ref()
            .and_then(|p| p.get("instance"))
            .and_then(Json::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        TaskWork {
            channel: task_channel(task.id),
            task,
            instance,
            add_sent: false,
            command_sent: false,
            result: Json::Null,
            finished: false,
        }
    }

    /// What the task still needs of the device, or why it cannot go on (code, message).
    pub(super) fn needs(
        &self,
        known: &DeviceData,
        facts: &DeviceFacts,
        created: &[(String, Vec<(String, String)>)],
        start: Timestamp,
        asked: &Asked,
    ) -> Result<Needs, Stop> {
        // Read at or after the task was queued is fresh enough for it.
        let since = self.task.created.min(start);
        let mut out = Needs::default();
        let declared = |out: &mut Needs, path: &str, ts: Json, values: Json| {
            let d = Declaration::parse(path, &ts, &values)
                .map_err(|e| ("invalid_arguments".to_owned(), format!("{path}: {e}")))?;
            out.merge(needs(&d, known, facts, created, start));
            Ok::<(), Stop>(())
        };
        match &self.task.kind {
            TaskKind::GetParameterValues(paths) => {
                for p in paths {
                    let p = p.as_str();
                    if special(p) {
                        declared(&mut out, p, json!({ "value": since.0 }), Json::Null)?;
                    } else if p.is_empty() {
                        // GetParameterValues of "" is not defined (notes §4.2): the roots.
                        for r in roots(known) {
                            if !asked.read(&r) {
                                out.read.insert(r);
                            }
                        }
                    } else if p.ends_with('.') {
                        // An object is always read: the values known below it may be fresh
                        // and still not all there are.
                        if !asked.read(p) {
                            out.read.insert(p.to_owned());
                        }
                    } else if !asked.read(p)
                        && known
                            .params
                            .get(p)
                            .is_none_or(|k| k.value.is_none() || k.ts < since)
                    {
                        out.read.insert(p.to_owned());
                    }
                }
            }
            TaskKind::RefreshObject(path) => {
                let p = path.as_str();
                let listed = if p.is_empty() {
                    asked.names.contains("")
                } else {
                    asked.names.contains(p) || enumerated_at(known, p) >= since
                };
                if !listed {
                    out.enumerate.insert(p.to_owned());
                    return Ok(out);
                }
                let targets = if p.is_empty() {
                    roots(known)
                } else {
                    vec![p.to_owned()]
                };
                for r in targets {
                    let stale = known.below(&r).any(|(_, k)| !k.object && k.ts < since);
                    if stale && !asked.read(&r) {
                        out.read.insert(r);
                    }
                }
            }
            TaskKind::SetParameterValues {
                values,
                parameter_key,
            } => {
                self.set_values(&mut out, known, asked, since, values, "", &declared)?;
                if !out.set.is_empty() && !parameter_key.is_empty() {
                    out.parameter_key = Some(parameter_key.clone());
                }
            }
            TaskKind::AddObject { object, values } => {
                let Some(n) = self.instance else {
                    if self.add_sent {
                        return Err(("protocol".into(), "AddObject gave no instance".into()));
                    }
                    out.task_add
                        .push((self.channel.clone(), object.as_str().to_owned()));
                    return Ok(out);
                };
                // The new instance's names and values are learned (the operator sees
                // it), then its values set.
                let instance = format!("{}{n}.", object.as_str());
                if enumerated_at(known, &instance) < since && !asked.names.contains(&instance) {
                    out.enumerate.insert(instance);
                    return Ok(out);
                }
                let stale = known
                    .below(&instance)
                    .any(|(_, k)| !k.object && k.ts < since);
                if stale && !asked.read(&instance) {
                    out.read.insert(instance);
                    return Ok(out);
                }
                self.set_values(&mut out, known, asked, since, values, &instance, &declared)?;
            }
            TaskKind::Reboot => {
                if since > last_command(known, "Reboot") {
                    out.reboot = true;
                    out.reboot_key = Some(self.channel.clone());
                }
            }
            TaskKind::FactoryReset => {
                if since > last_command(known, "FactoryReset") {
                    out.factory_reset = true;
                }
            }
            _ => {
                if !self.command_sent {
                    out.commands.push(self.channel.clone());
                }
            }
        }
        Ok(out)
    }

    /// Values to set (below `prefix` for an AddObject): a value whose type is neither
    /// given nor known is read first; one read in this session and still unknown is sent
    /// with the type its JSON suggests (the device refuses it if the name is wrong). A
    /// value known equal since the task was queued is not sent again.
    #[allow(clippy::too_many_arguments)]
    fn set_values(
        &self,
        out: &mut Needs,
        known: &DeviceData,
        asked: &Asked,
        since: Timestamp,
        values: &[SetValue],
        prefix: &str,
        declared: &Declare<'_>,
    ) -> Result<(), Stop> {
        for v in values {
            let path = format!("{prefix}{}", v.path);
            if special(&path) {
                let value = match &v.value_type {
                    Some(t) => json!([v.value, t.xsi_name()]),
                    None => v.value.clone(),
                };
                declared(out, &path, Json::Null, json!({ "value": value }))?;
                continue;
            }
            let param = known.params.get(&path);
            let known_type = param
                .and_then(|p| p.value.as_ref())
                .map(|s| s.value_type.clone());
            let value_type = match v.value_type.clone().or(known_type) {
                Some(t) => t,
                None if !asked.read(&path) => {
                    out.read.insert(path);
                    continue;
                }
                None => v.inferred_type(),
            };
            let stored = StoredValue {
                text: v.text(),
                value_type,
            };
            let Some(cwmp_value) = stored.to_cwmp() else {
                return Err((
                    "cwmp.9007".into(),
                    format!(
                        "{:?} is not a valid {} for {path}",
                        stored.text,
                        stored.value_type.xsi_name()
                    ),
                ));
            };
            // Compared as the device would store it (`1` and `true` for a boolean).
            let stored = StoredValue::from_cwmp(&cwmp_value);
            let same = param
                .is_some_and(|p| p.ts >= since && p.value.as_ref().is_some_and(|k| *k == stored));
            if !same {
                out.set.insert(path, stored);
            }
        }
        Ok(())
    }

    /// The task's result once done: the values read, the instance created, the
    /// command's answer.
    pub(super) fn outcome(&self, known: &DeviceData) -> Json {
        match &self.task.kind {
            TaskKind::GetParameterValues(paths) => values_result(known, paths),
            TaskKind::AddObject { .. } => json!({ "instanceNumber": self.instance }),
            _ => self.result.clone(),
        }
    }

    /// The RPC of a command task.
    pub(super) fn command(&self) -> Option<cwmp::Body<'static>> {
        command_body(&self.task)
    }
}
