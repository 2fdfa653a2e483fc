//! The ACS's parameter methods on a [`Tree`] (TR-069 A.3.2.1–A.3.2.7, notes §4.2, §4.3).
//!
//! Decisions where the specification is loose:
//!
//! - **GetParameterNames** follows the table of notes §4.2: a parameter with
//!   `NextLevel=true` is 9003; the empty path with `NextLevel=true` gives the root object
//!   only; `Writable` of a table is whether AddObject is allowed, of an instance whether
//!   DeleteObject is, of any other object false.
//! - **GetParameterValues** and **GetParameterAttributes** take full names and partial
//!   paths; the empty string means the whole tree; any unknown name fails the whole request
//!   with 9005; the order is tree order (parameters of an object, then its child objects;
//!   instances ascending).
//! - **SetParameterValues** is all or nothing. Each parameter in error gets a
//!   `SetParameterValuesFault` (9005 unknown or a partial path, 9008 not writable, 9006
//!   type, 9007 value, checked in that order; a name given twice gets 9003) under an overall
//!   9003. Types are matched leniently as [`crate::model::ValueError`] explains (an
//!   `xsd:string` carrying a valid number is accepted). Values are stored in canonical
//!   form. ACS changes are not notified back (notes §4.2). ParameterKey longer than 32
//!   characters is 9003.
//! - **SetParameterAttributes** is all or nothing too. For a full parameter name, active
//!   notification (2, 5, 6) on a `canDeny` parameter, or anything but 2 on a `forceEnabled`
//!   one, is 9009. For a partial path the change applies to every parameter below that
//!   accepts it; the others are left as they are. Notification 3–6 (lightweight, CWMP 1.4)
//!   are stored and read back; they notify like 1 (3, 4) or 2 (5, 6). Unknown AccessList
//!   entries are ignored (only `Subscriber` exists).
//! - `ManagementServer.InformParameter.{i}`: a `ParameterName` naming a forced-inform
//!   parameter, or with `*` elsewhere than instance numbers, and an `EventList` with
//!   `4 VALUE CHANGE`, are 9007 (TR-181); see `Tree::inform_parameter_extras`.
//! - Setting a writable parameter of a diagnostics object without its `DiagnosticsState`
//!   sets that `DiagnosticsState` to `None` (TR-181 `DiagnosticsState` data type).
//! - **AddObject** needs a table path ending in `.`: 9005 when it does not exist, is not a
//!   table, or the table is not writable (AddObject not allowed); 9004 at `maxEntries`.
//!   **DeleteObject** needs an instance path: 9005 likewise; 9001 when the deletion would go
//!   below `minEntries`. Both set ParameterKey and answer Status 0.

use std::borrow::Cow;
use std::collections::HashSet;

use cwmp::{
    AddObject, AddObjectResponse, ApplyStatus, Body, DeleteObject, DeleteObjectResponse, Fault,
    FaultCode, GetParameterAttributesResponse, GetParameterNamesResponse,
    GetParameterValuesResponse, Notification, ParameterAttributeStruct, ParameterInfoStruct,
    ParameterValueStruct, SetParameterAttributes, SetParameterAttributesResponse,
    SetParameterValues, SetParameterValuesFault, SetParameterValuesResponse,
};

use super::{Attr, Node, Target, Tree, key};
use crate::model::{Access, ActiveNotify, ParamId, is_xml_char};
use crate::time::Time;

type Res<T> = Result<T, Fault<'static>>;

fn fault(code: FaultCode, message: impl Into<String>) -> Fault<'static> {
    Fault::cwmp(code, Some(sendable(message.into())))
}

/// Text echoed from a request made fit for XML 1.0: characters it cannot carry (which a
/// lenient decoder, or a caller building the request itself, may let through) become
/// U+FFFD, so that the fault still encodes.
fn sendable(text: String) -> Cow<'static, str> {
    if text.chars().all(is_xml_char) {
        Cow::Owned(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

fn unknown(name: &str) -> Fault<'static> {
    fault(
        FaultCode::INVALID_PARAMETER_NAME,
        format!("{name}: no such parameter or object"),
    )
}

/// Answers a parameter method; `None` for any other message.
pub(crate) fn handle(tree: &mut Tree, request: &Body<'_>, now: Time) -> Option<Body<'static>> {
    let result = match request {
        Body::GetParameterNames(r) => get_parameter_names(tree, &r.parameter_path, r.next_level)
            .map(|parameter_list| GetParameterNamesResponse { parameter_list }.into()),
        Body::GetParameterValues(r) => get_parameter_values(tree, &r.parameter_names, now)
            .map(|parameter_list| GetParameterValuesResponse { parameter_list }.into()),
        Body::SetParameterValues(r) => set_parameter_values(tree, r),
        Body::GetParameterAttributes(r) => get_parameter_attributes(tree, &r.parameter_names)
            .map(|parameter_list| GetParameterAttributesResponse { parameter_list }.into()),
        Body::SetParameterAttributes(r) => set_parameter_attributes(tree, r),
        Body::AddObject(r) => add_object(tree, r),
        Body::DeleteObject(r) => delete_object(tree, r),
        _ => return None,
    };
    Some(result.unwrap_or_else(Body::Fault))
}

fn info(tree: &Tree, node: Node<'_>) -> ParameterInfoStruct<'static> {
    let model = tree.model();
    let (name, writable) = match node {
        Node::Object(o, nums) => {
            let def = model.object_def(o);
            let deletable = def.is_some_and(|d| d.multi && d.access == Access::ReadWrite);
            (tree.object_name(o, nums), deletable)
        }
        Node::Table(t, parent) => {
            let addable = model
                .object_def(t)
                .is_some_and(|d| d.access == Access::ReadWrite);
            (tree.table_name(t, parent), addable)
        }
        Node::Param(p, nums) => (tree.param_name(p, nums), tree.param_writable(p, nums)),
    };
    ParameterInfoStruct {
        name: Cow::Owned(name),
        writable,
    }
}

fn get_parameter_names(
    tree: &Tree,
    path: &str,
    next_level: bool,
) -> Res<Vec<ParameterInfoStruct<'static>>> {
    let target = tree.resolve(path).ok_or_else(|| unknown(path))?;
    let mut out = Vec::new();
    if !next_level {
        tree.walk(&target, &mut |n| out.push(info(tree, n)));
        return Ok(out);
    }
    let model = tree.model();
    match target {
        Target::Param(..) => {
            return Err(fault(
                FaultCode::INVALID_ARGUMENTS,
                format!("{path} is a parameter: NextLevel must be false"),
            ));
        }
        Target::Root => out.push(info(tree, Node::Object(model.root_id(), &[]))),
        Target::Object(o, nums) => {
            let Some(def) = model.object_def(o) else {
                return Ok(out);
            };
            for &p in &def.params {
                out.push(info(tree, Node::Param(p, &nums)));
            }
            for &c in &def.children {
                let node = if model.object_def(c).is_some_and(|d| d.multi) {
                    Node::Table(c, &nums)
                } else {
                    Node::Object(c, &nums)
                };
                out.push(info(tree, node));
            }
        }
        Target::Table(t, parent) => {
            let mut nums = parent.clone();
            for &n in tree.instances(t, &parent) {
                nums.push(n);
                out.push(info(tree, Node::Object(t, &nums)));
                nums.pop();
            }
        }
    }
    Ok(out)
}

/// The parameters a name covers, in tree order.
fn params_of(tree: &Tree, target: &Target) -> Vec<(ParamId, Vec<u32>)> {
    let mut out = Vec::new();
    tree.walk(target, &mut |n| {
        if let Node::Param(p, nums) = n {
            out.push((p, nums.to_vec()));
        }
    });
    out
}

fn get_parameter_values(
    tree: &Tree,
    names: &[Cow<'_, str>],
    now: Time,
) -> Res<Vec<ParameterValueStruct<'static>>> {
    let mut out = Vec::new();
    for name in names {
        let target = tree.resolve(name).ok_or_else(|| unknown(name))?;
        tree.walk(&target, &mut |n| {
            if let Node::Param(p, nums) = n {
                out.push(ParameterValueStruct::new(
                    tree.param_name(p, nums),
                    tree.typed(p, nums, now),
                ));
            }
        });
    }
    Ok(out)
}

fn set_parameter_values(tree: &mut Tree, r: &SetParameterValues<'_>) -> Res<Body<'static>> {
    check_key(&r.parameter_key)?;
    let mut faults = Vec::new();
    let mut staged = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut spv_fault = |name: &str, code: FaultCode, message: String| {
        faults.push(SetParameterValuesFault {
            parameter_name: sendable(name.to_owned()),
            fault_code: code,
            fault_string: Some(sendable(message)),
        });
    };
    for pv in &r.parameter_list {
        let name: &str = &pv.name;
        if !seen.insert(name) {
            spv_fault(
                name,
                FaultCode::INVALID_ARGUMENTS,
                "parameter named more than once".into(),
            );
            continue;
        }
        let Some(Target::Param(p, nums)) = tree.resolve(name) else {
            spv_fault(
                name,
                FaultCode::INVALID_PARAMETER_NAME,
                "no such parameter".into(),
            );
            continue;
        };
        if !tree.param_writable(p, &nums) {
            spv_fault(
                name,
                FaultCode::NON_WRITABLE_PARAMETER,
                "parameter is not writable".into(),
            );
            continue;
        }
        match tree.model().check_value(p, &pv.value, true) {
            Ok(canonical) => match check_inform_parameter(tree, p, &canonical) {
                Ok(()) => staged.push((p, nums, canonical)),
                Err(message) => {
                    spv_fault(name, FaultCode::INVALID_PARAMETER_VALUE, message);
                }
            },
            Err(e) => spv_fault(name, e.fault_code(), e.to_string()),
        }
    }
    if !faults.is_empty() {
        let mut f = fault(FaultCode::INVALID_ARGUMENTS, "Invalid arguments");
        if let Some(d) = f.detail.as_mut() {
            d.set_parameter_values_faults = faults;
        }
        return Err(f);
    }
    reset_diagnostics(tree, &staged);
    for (p, nums, canonical) in staged {
        tree.store(p, &nums, canonical);
    }
    tree.set_parameter_key(&r.parameter_key);
    Ok(SetParameterValuesResponse {
        status: ApplyStatus::Applied,
    }
    .into())
}

/// TR-181 `ManagementServer.InformParameter.{i}`: `ParameterName` may not name a
/// forced-inform parameter, and may hold `*` only in place of instance numbers; `EventList`
/// may not hold `4 VALUE CHANGE` (9007).
fn check_inform_parameter(tree: &Tree, p: ParamId, value: &str) -> Result<(), String> {
    let model = tree.model();
    let path = model.param_path(p);
    let Some(rel) = path.strip_prefix(model.root()) else {
        return Ok(());
    };
    match rel {
        "ManagementServer.InformParameter.{i}.ParameterName" if !value.is_empty() => {
            let template: Vec<&str> = value
                .split('.')
                .map(|seg| {
                    if seg == "*" || (!seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit())) {
                        "{i}"
                    } else {
                        seg
                    }
                })
                .collect();
            match model.param(&template.join(".")) {
                Some(def) if def.forced_inform => {
                    Err(format!("{value} is a forced inform parameter"))
                }
                Some(_) => Ok(()),
                None if value.contains('*') => {
                    Err(format!("{value}: * only in place of instance numbers"))
                }
                None => Ok(()),
            }
        }
        "ManagementServer.InformParameter.{i}.EventList"
            if value.split(',').any(|e| e.trim() == "4 VALUE CHANGE") =>
        {
            Err("4 VALUE CHANGE is not allowed in EventList".into())
        }
        _ => Ok(()),
    }
}

/// TR-181 `DiagnosticsState`: "Modifying any of the writable parameters in this object
/// except for this one MUST result in the value of this parameter being set to None" (and
/// a test in progress is terminated). Applies to objects whose `DiagnosticsState` the same
/// request does not set.
fn reset_diagnostics(tree: &mut Tree, staged: &[(ParamId, Vec<u32>, String)]) {
    let mut resets = Vec::new();
    for (p, nums, _) in staged {
        let Some(object) = tree.model().param_def(*p).map(|d| d.object) else {
            continue;
        };
        let Some(state) = tree.model().param_in(object, "DiagnosticsState") else {
            continue;
        };
        if state == *p || staged.iter().any(|(q, n, _)| *q == state && n == nums) {
            continue;
        }
        if tree.template.kind(state) == super::ParamKind::DiagnosticsState
            && !resets.contains(&(state, nums.clone()))
        {
            resets.push((state, nums.clone()));
        }
    }
    for (state, nums) in resets {
        let none_allowed = tree
            .model()
            .param_def(state)
            .is_some_and(|d| d.syntax.enumeration.iter().any(|e| &*e.value == "None"));
        if none_allowed && tree.text(state, &nums, Time(0)) != "None" {
            tree.store(state, &nums, "None".to_owned());
        }
    }
}

/// ParameterKey is `string(32)` and is sent back in every Inform.
fn check_key(key: &str) -> Res<()> {
    if key.chars().count() > 32 || !key.chars().all(is_xml_char) {
        return Err(fault(
            FaultCode::INVALID_ARGUMENTS,
            "ParameterKey must be at most 32 XML characters",
        ));
    }
    Ok(())
}

fn get_parameter_attributes(
    tree: &Tree,
    names: &[Cow<'_, str>],
) -> Res<Vec<ParameterAttributeStruct<'static>>> {
    let mut out = Vec::new();
    for name in names {
        let target = tree.resolve(name).ok_or_else(|| unknown(name))?;
        for (p, nums) in params_of(tree, &target) {
            let n = tree.notification(p, &nums);
            out.push(ParameterAttributeStruct {
                name: Cow::Owned(tree.param_name(p, &nums)),
                notification: Notification::from_code(i64::from(n)).unwrap_or(Notification::Off),
                access_list: if tree.subscriber(p, &nums) {
                    vec![Cow::Borrowed("Subscriber")]
                } else {
                    Vec::new()
                },
            });
        }
    }
    Ok(out)
}

fn set_parameter_attributes(tree: &mut Tree, r: &SetParameterAttributes<'_>) -> Res<Body<'static>> {
    // (parameter, instance numbers, new notification, new subscriber flag)
    type Change = (ParamId, Vec<u32>, Option<u8>, Option<bool>);
    let mut staged: Vec<Change> = Vec::new();
    for s in &r.parameter_list {
        let name: &str = &s.name;
        let target = tree.resolve(name).ok_or_else(|| unknown(name))?;
        let partial = !matches!(target, Target::Param(..));
        let n = s.notification as u8;
        let subscriber = s
            .access_list_change
            .then(|| s.access_list.iter().any(|a| a == "Subscriber"));
        for (p, nums) in params_of(tree, &target) {
            let mut notification = None;
            if s.notification_change {
                let notify = tree
                    .model()
                    .param_def(p)
                    .map(|d| d.active_notify)
                    .unwrap_or_default();
                let refused = match notify {
                    ActiveNotify::ForceEnabled => n != 2,
                    ActiveNotify::CanDeny => matches!(n, 2 | 5 | 6),
                    _ => false,
                };
                if refused && !partial {
                    return Err(fault(
                        FaultCode::NOTIFICATION_REQUEST_REJECTED,
                        format!("{name}: notification {n} refused"),
                    ));
                }
                if !refused {
                    notification = Some(n);
                }
            }
            if notification.is_some() || subscriber.is_some() {
                staged.push((p, nums, notification, subscriber));
            }
        }
    }
    for (p, nums, notification, subscriber) in staged {
        let current = Attr {
            notification: tree.notification(p, &nums),
            subscriber: tree.subscriber(p, &nums),
        };
        let new = Attr {
            notification: notification.unwrap_or(current.notification),
            subscriber: subscriber.unwrap_or(current.subscriber),
        };
        let default_notification = match tree.model().param_def(p).map(|d| d.active_notify) {
            Some(ActiveNotify::ForceEnabled | ActiveNotify::ForceDefaultEnabled) => 2,
            _ => 0,
        };
        if new.notification == default_notification && !new.subscriber {
            tree.overlay.attrs.remove(&key(p.0, &nums));
        } else {
            tree.overlay.attrs.insert(key(p.0, &nums), new);
        }
    }
    Ok(SetParameterAttributesResponse {}.into())
}

fn add_object(tree: &mut Tree, r: &AddObject<'_>) -> Res<Body<'static>> {
    check_key(&r.parameter_key)?;
    let name: &str = &r.object_name;
    let (table, parent) = match tree.resolve(name) {
        Some(Target::Table(t, parent)) if name.ends_with('.') => (t, parent),
        Some(_) => {
            return Err(fault(
                FaultCode::INVALID_PARAMETER_NAME,
                format!("{name} is not a multi-instance object"),
            ));
        }
        None => return Err(unknown(name)),
    };
    let Some(def) = tree.model().object_def(table) else {
        return Err(unknown(name));
    };
    if def.access != Access::ReadWrite {
        return Err(fault(
            FaultCode::INVALID_PARAMETER_NAME,
            format!("{name}: AddObject is not allowed on this table"),
        ));
    }
    let max = def.max_entries;
    let instance_number = tree.create_instance(table, &parent).ok_or_else(|| {
        fault(
            FaultCode::RESOURCES_EXCEEDED,
            format!(
                "{name}: at most {} instances",
                max.map_or_else(|| "so many".to_owned(), |m| m.to_string())
            ),
        )
    })?;
    tree.set_parameter_key(&r.parameter_key);
    Ok(AddObjectResponse {
        instance_number,
        status: ApplyStatus::Applied,
    }
    .into())
}

fn delete_object(tree: &mut Tree, r: &DeleteObject<'_>) -> Res<Body<'static>> {
    check_key(&r.parameter_key)?;
    let name: &str = &r.object_name;
    let (obj, nums) = match tree.resolve(name) {
        Some(Target::Object(o, nums)) if tree.model().object_def(o).is_some_and(|d| d.multi) => {
            (o, nums)
        }
        Some(_) => {
            return Err(fault(
                FaultCode::INVALID_PARAMETER_NAME,
                format!("{name} is not an instance of a multi-instance object"),
            ));
        }
        None => return Err(unknown(name)),
    };
    let Some(def) = tree.model().object_def(obj) else {
        return Err(unknown(name));
    };
    if def.access != Access::ReadWrite {
        return Err(fault(
            FaultCode::INVALID_PARAMETER_NAME,
            format!("{name}: DeleteObject is not allowed on this table"),
        ));
    }
    let min = def.min_entries as usize;
    let parent = nums.get(..nums.len().saturating_sub(1)).unwrap_or(&[]);
    if tree.instances(obj, parent).len() <= min {
        return Err(fault(
            FaultCode::REQUEST_DENIED,
            format!("{name}: the table must keep at least {min} instances"),
        ));
    }
    if !tree.remove_instance(obj, &nums) {
        return Err(unknown(name));
    }
    tree.set_parameter_key(&r.parameter_key);
    Ok(DeleteObjectResponse {
        status: ApplyStatus::Applied,
    }
    .into())
}
