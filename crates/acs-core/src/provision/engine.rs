//! The provisioning engine: runs a session's provisions, gathers their declarations,
//! compares them with what is known of the device and chooses the next RPC that closes
//! the gap — discovery first (GetParameterNames), then reads (one GetParameterValues for
//! everything stale), then writes (DeleteObject, AddObject, one SetParameterValues for all
//! values, SetParameterAttributes, FactoryReset, Reboot) — and runs the provisions again on
//! what the answer taught, until every declaration is met. GenieACS's model: scripts are
//! re-run from the top, so what they see is always the data as known now, and the data
//! model's operations are idempotent.
//!
//! Faults are per channel (each preset names one): a CPE fault on an RPC is recorded for
//! the channels whose declarations asked for it, and those channels' provisions stop for
//! the session; the others go on.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cwmp::{Body, ParameterValueStruct};
use serde_json::{Value as Json, json};

use super::declaration::{Declaration, Freshness};
use super::path::{PathPattern, Segment};
use crate::change::{Change, ParamUpdate};
use crate::device::{DeviceData, DeviceIdentity, Param, StoredValue, ValueType};
use crate::fault::Fault;
use crate::id::DeviceId;
use crate::plan::{apply_data, command_response};
use crate::task::{Task, TaskId};
use crate::time::Timestamp;

mod tasks;

use tasks::{Asked, TaskWork};

/// What the engine knows of the device besides its parameters: the special roots
/// `DeviceID.*`, `Tags.*` and `Events.*`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFacts {
    /// The device.
    pub id: DeviceId,
    /// Its Inform identity.
    pub identity: DeviceIdentity,
    /// Its tags.
    pub tags: BTreeSet<String>,
    /// This session's Inform.
    pub inform: Timestamp,
    /// The last `1 BOOT` and `0 BOOTSTRAP`, if any.
    pub last_boot: Option<Timestamp>,
    /// The last bootstrap.
    pub last_bootstrap: Option<Timestamp>,
    /// When the device was first seen.
    pub registered: Option<Timestamp>,
}

/// One provision to run in this session: from a preset of `channel`, with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Active {
    /// The preset's channel: faults are recorded there.
    pub channel: String,
    /// The provision's name (built-in or script).
    pub provision: String,
    /// Its arguments.
    pub args: Vec<Json>,
}

/// An extension call a provision made: `ext(name, function, ...args)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtCall {
    /// The extension.
    pub name: String,
    /// The function.
    pub function: String,
    /// The arguments, as JSON text (so calls can be keys).
    pub args: String,
}

/// Whether a script may go on after `commit()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Everything declared so far is met.
    Continue,
    /// RPCs are needed first: stop the run; it starts again from the top after them.
    Yield,
}

/// The answer to `ext()`.
#[derive(Debug, Clone, PartialEq)]
pub enum ExtAnswer {
    /// The result (of an earlier call in this session).
    Value(Json),
    /// Not called yet: stop the run; it starts again once the result is in.
    Yield,
}

/// One match of a declaration as a script sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Instance {
    /// Its path (objects without the trailing `.`, as GenieACS shows them).
    pub path: String,
    /// Whether it is an object, if known.
    pub object: Option<bool>,
    /// Writable, if known.
    pub writable: Option<bool>,
    /// `[value, type]`, if known.
    pub value: Option<(Json, String)>,
    /// Notification, if known.
    pub notification: Option<u8>,
    /// Access list, if known.
    pub access_list: Option<Vec<String>>,
}

/// How a provision run ended, besides yielding (which the [`Host`] records).
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// It ran to the end (or to a yield); a virtual parameter's script returns its value.
    Finished(Json),
    /// It failed: a script error (with script, line and column in the message), a runaway
    /// script, an unknown provision. Recorded as a fault of the channel.
    Failed {
        /// `script.error`, `script.timeout`, `script.memory`, `provision.unknown`...
        code: String,
        /// What happened.
        message: String,
    },
}

/// Runs provisions that are not built in (JavaScript, in a sandbox the caller owns). It is
/// shared by the sessions of a server (`&self`, `Send + Sync`): a JavaScript runner keeps
/// its engine per thread.
pub trait Runner: Send + Sync + std::fmt::Debug {
    /// Runs provision script `name` with `args` against `host`; `None` when there is no
    /// such script.
    fn run_provision(&self, name: &str, args: &[Json], host: &mut Host<'_>) -> Option<RunOutcome>;

    /// Runs the script of virtual parameter `name`; `args` are GenieACS's four: the
    /// current attribute timestamps and values, the declared timestamps and values. It
    /// returns `{writable, value: [value, type]}`. `None` when there is no such script.
    fn run_virtual_parameter(
        &self,
        name: &str,
        args: &[Json],
        host: &mut Host<'_>,
    ) -> Option<RunOutcome> {
        let _ = (name, args, host);
        None
    }
}

/// A runner with no scripts: only built-in provisions exist.
#[derive(Debug, Default)]
pub struct NoScripts;

impl Runner for NoScripts {
    fn run_provision(&self, _: &str, _: &[Json], _: &mut Host<'_>) -> Option<RunOutcome> {
        None
    }
}

/// What one run of one provision sees and does: `declare`, `clear`, `commit`, `ext`,
/// `log` (the script API), against the data as known when the run started.
#[derive(Debug)]
pub struct Host<'a> {
    known: &'a DeviceData,
    facts: &'a DeviceFacts,
    ext: &'a HashMap<ExtCall, Json>,
    /// The session's time (`Date.now()`).
    pub now: Timestamp,
    declarations: Vec<Declaration>,
    met: usize,
    ext_wanted: Vec<ExtCall>,
    clears: Vec<(PathPattern, Timestamp)>,
    logs: Vec<String>,
    yielded: bool,
}

impl<'a> Host<'a> {
    fn new(
        known: &'a DeviceData,
        facts: &'a DeviceFacts,
        ext: &'a HashMap<ExtCall, Json>,
        now: Timestamp,
    ) -> Host<'a> {
        Host {
            known,
            facts,
            ext,
            now,
            declarations: Vec::new(),
            met: 0,
            ext_wanted: Vec::new(),
            clears: Vec::new(),
            logs: Vec::new(),
            yielded: false,
        }
    }

    /// The device (for the seed of `Math.random()`).
    pub fn device(&self) -> &DeviceId {
        &self.facts.id
    }

    /// Whether the run asked to stop (an unmet commit, an ext result not in yet).
    pub fn yielded(&self) -> bool {
        self.yielded
    }

    /// `declare(path, timestamps, values)`: records the declaration and returns what
    /// matches it now. An invalid declaration is an error thrown into the script.
    pub fn declare(
        &mut self,
        path: &str,
        timestamps: &Json,
        values: &Json,
    ) -> Result<Vec<Instance>, String> {
        if self.yielded {
            return Err("the run has yielded".into());
        }
        let d = Declaration::parse(path, timestamps, values).map_err(|e| e.to_string())?;
        let out = instances(&d, self.known, self.facts);
        self.declarations.push(d);
        Ok(out)
    }

    /// `clear(path, timestamp)`: what is known at or below `path` and older than
    /// `timestamp` is forgotten (read again when next declared).
    pub fn clear(&mut self, path: &str, timestamp: Timestamp) -> Result<(), String> {
        if self.yielded {
            return Err("the run has yielded".into());
        }
        let p = PathPattern::parse(path).map_err(|e| e.to_string())?;
        self.clears.push((p, timestamp));
        Ok(())
    }

    /// `commit()`: goes on when everything declared since the last commit is met.
    pub fn commit(&mut self) -> Flow {
        if self.yielded {
            return Flow::Yield;
        }
        let unmet = self.declarations[self.met..]
            .iter()
            .any(|d| !needs(d, self.known, self.facts, &[], self.now).is_empty());
        if unmet {
            self.yielded = true;
            Flow::Yield
        } else {
            self.met = self.declarations.len();
            Flow::Continue
        }
    }

    /// `ext(name, function, ...args)`: the result of an earlier call, or a yield while
    /// the engine's caller makes it.
    pub fn ext(&mut self, name: &str, function: &str, args: &[Json]) -> ExtAnswer {
        let call = ExtCall {
            name: name.to_owned(),
            function: function.to_owned(),
            args: Json::Array(args.to_vec()).to_string(),
        };
        if let Some(v) = self.ext.get(&call) {
            return ExtAnswer::Value(v.clone());
        }
        self.yielded = true;
        self.ext_wanted.push(call);
        ExtAnswer::Yield
    }

    /// `log(message)`.
    pub fn log(&mut self, message: &str) {
        self.logs.push(message.chars().take(2000).collect());
    }
}

/// What a declaration matches now, as the script sees it.
fn instances(d: &Declaration, known: &DeviceData, facts: &DeviceFacts) -> Vec<Instance> {
    match d.path.root() {
        Some("Tags") => {
            let name = d.path.segments().get(1);
            facts
                .tags
                .iter()
                .filter(|t| match name {
                    Some(Segment::Name(n)) => n == *t,
                    Some(Segment::Wildcard) => true,
                    _ => false,
                })
                .map(|t| Instance {
                    path: format!("Tags.{t}"),
                    object: Some(false),
                    writable: Some(true),
                    value: Some((Json::Bool(true), "xsd:boolean".into())),
                    ..Instance::default()
                })
                .collect()
        }
        Some("DeviceID") => {
            let i = &facts.identity;
            let all = [
                ("ID", facts.id.as_str()),
                ("Manufacturer", i.manufacturer.as_str()),
                ("OUI", i.oui.as_str()),
                ("ProductClass", i.product_class.as_str()),
                ("SerialNumber", i.serial_number.as_str()),
            ];
            let name = d.path.segments().get(1);
            all.iter()
                .filter(|(n, _)| match name {
                    Some(Segment::Name(x)) => x == n,
                    Some(Segment::Wildcard) => true,
                    _ => false,
                })
                .map(|(n, v)| Instance {
                    path: format!("DeviceID.{n}"),
                    object: Some(false),
                    writable: Some(false),
                    value: Some((Json::String((*v).to_owned()), "xsd:string".into())),
                    ..Instance::default()
                })
                .collect()
        }
        Some("Events") => {
            let all = [
                ("Inform", Some(facts.inform)),
                ("1_BOOT", facts.last_boot),
                ("0_BOOTSTRAP", facts.last_bootstrap),
                ("Registered", facts.registered),
            ];
            let name = d.path.segments().get(1);
            all.iter()
                .filter_map(|(n, t)| Some((n, (*t)?)))
                .filter(|(n, _)| match name {
                    Some(Segment::Name(x)) => x == *n,
                    Some(Segment::Wildcard) => true,
                    _ => false,
                })
                .map(|(n, t)| Instance {
                    path: format!("Events.{n}"),
                    object: Some(false),
                    writable: Some(false),
                    value: Some((Json::from(t.0), "xsd:dateTime".into())),
                    ..Instance::default()
                })
                .collect()
        }
        _ => d
            .path
            .matches(known)
            .paths
            .iter()
            .filter_map(|p| known.params.get(p).map(|param| (p, param)))
            .map(|(p, param)| instance(p, param))
            .collect(),
    }
}

fn instance(path: &str, p: &Param) -> Instance {
    let value = p.value.as_ref().map(|v| {
        let j = match v.value_type {
            ValueType::Boolean => Json::Bool(v.text == "true" || v.text == "1"),
            ValueType::Int | ValueType::UnsignedInt | ValueType::Long | ValueType::UnsignedLong => {
                v.text
                    .parse::<i64>()
                    .map(Json::from)
                    .unwrap_or_else(|_| Json::String(v.text.clone()))
            }
            ValueType::DateTime => v
                .number()
                .map(|ms| Json::from(ms as i64))
                .unwrap_or_else(|| Json::String(v.text.clone())),
            _ => Json::String(v.text.clone()),
        };
        (j, v.value_type.xsi_name().to_owned())
    });
    Instance {
        path: path.strip_suffix('.').unwrap_or(path).to_owned(),
        object: Some(p.object),
        writable: p.writable,
        value,
        notification: p.attributes.as_ref().map(|(a, _)| a.notification),
        access_list: p.attributes.as_ref().map(|(a, _)| a.access_list.clone()),
    }
}

/// What the declarations still need, by kind of RPC.
#[derive(Debug, Default, Clone, PartialEq)]
struct Needs {
    /// Objects to enumerate (GetParameterNames, whole subtree).
    enumerate: BTreeSet<String>,
    /// Parameters or objects to read (GetParameterValues).
    read: BTreeSet<String>,
    /// Attributes to read (GetParameterAttributes).
    read_attributes: BTreeSet<String>,
    /// Instances to delete.
    delete: BTreeSet<String>,
    /// Objects to add an instance to, with the alias values the new instance must get.
    add: Vec<(String, Vec<(String, String)>)>,
    /// Values to set.
    set: BTreeMap<String, StoredValue>,
    /// Attributes to set: notification, access list.
    set_attributes: BTreeMap<String, (Option<u8>, Option<Vec<String>>)>,
    /// Tags to add (true) or remove (false).
    tags: BTreeMap<String, bool>,
    reboot: bool,
    factory_reset: bool,
    /// Virtual parameters to compute: name → (declared timestamps, declared values), as
    /// the script's `args[2]` and `args[3]`.
    virtual_parameters: BTreeMap<String, (Json, Json)>,
    /// AddObject tasks without their instance yet: channel, object.
    task_add: Vec<(String, String)>,
    /// Command tasks to send (their channels).
    commands: Vec<String>,
    /// The ParameterKey of a task's SetParameterValues.
    parameter_key: Option<String>,
    /// The CommandKey of a task's Reboot (its channel).
    reboot_key: Option<String>,
}

impl Needs {
    fn is_empty(&self) -> bool {
        *self == Needs::default()
    }

    fn merge(&mut self, other: Needs) {
        self.enumerate.extend(other.enumerate);
        self.read.extend(other.read);
        self.read_attributes.extend(other.read_attributes);
        self.delete.extend(other.delete);
        for a in other.add {
            if !self.add.contains(&a) {
                self.add.push(a);
            }
        }
        self.set.extend(other.set);
        self.set_attributes.extend(other.set_attributes);
        self.tags.extend(other.tags);
        self.reboot |= other.reboot;
        self.factory_reset |= other.factory_reset;
        self.virtual_parameters.extend(other.virtual_parameters);
        self.task_add.extend(other.task_add);
        self.commands.extend(other.commands);
        self.parameter_key = self.parameter_key.take().or(other.parameter_key);
        self.reboot_key = self.reboot_key.take().or(other.reboot_key);
    }
}

/// The time of the last command on a special root (`Reboot`, `FactoryReset`), kept in the
/// known data as a dateTime parameter of that name.
fn last_command(known: &DeviceData, root: &str) -> Timestamp {
    known
        .params
        .get(root)
        .and_then(|p| p.value.as_ref())
        .and_then(StoredValue::number)
        .map_or(Timestamp::ZERO, |ms| Timestamp(ms as i64))
}

/// A declared value as a time (milliseconds, or a date-time string).
fn as_time(v: &Json) -> Option<Timestamp> {
    match v {
        Json::Number(n) => n.as_f64().map(|f| Timestamp(f as i64)),
        Json::String(s) => cwmp::DateTime::parse(s).ok().map(Timestamp::from_datetime),
        _ => None,
    }
}

/// Whether two values are the same for their type: numbers, booleans and date-times by
/// meaning (`1` and `true`; `...00Z` and `...00.000Z`), everything else by text.
fn same_value(a: &StoredValue, b: &StoredValue) -> bool {
    if a.text == b.text {
        return true;
    }
    match (a.number(), b.number()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The enumeration time of object `path` (`Device.WiFi.`): when its subtree was last
/// listed, by itself or by an ancestor.
fn enumerated_at(known: &DeviceData, object: &str) -> Timestamp {
    let mut best = Timestamp::ZERO;
    let mut end = 0;
    while let Some(i) = object[end..].find('.') {
        end += i + 1;
        if let Some(p) = known.params.get(&object[..end])
            && p.object
            && p.ts > best
        {
            best = p.ts;
        }
    }
    best
}

/// What declaration `d` still needs, given the known data; `created` lists instances this
/// session added for alias filters (their filter values are set as part of the need).
fn needs(
    d: &Declaration,
    known: &DeviceData,
    facts: &DeviceFacts,
    created: &[(String, Vec<(String, String)>)],
    now: Timestamp,
) -> Needs {
    let mut out = Needs::default();
    match d.path.root() {
        Some("Tags") => {
            if let (Some(Segment::Name(tag)), Some(want)) =
                (d.path.segments().get(1), d.wanted.value.as_ref())
            {
                let on = match &want.value {
                    Json::Bool(b) => *b,
                    Json::String(s) => s == "true" || s == "1",
                    Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                    _ => false,
                };
                if on != facts.tags.contains(tag) {
                    out.tags.insert(tag.clone(), on);
                }
            }
            return out;
        }
        Some("DeviceID" | "Events") => return out,
        Some("VirtualParameters") => {
            let Some(Segment::Name(name)) = d.path.segments().get(1) else {
                return out;
            };
            let path = format!("VirtualParameters.{name}");
            let current = known.params.get(&path);
            let stale = d
                .freshness
                .value
                .is_some_and(|t| current.is_none_or(|p| p.value.is_none() || p.ts < t.min(now)));
            let differs = d.wanted.value.as_ref().is_some_and(|w| {
                let known_value = current.and_then(|p| p.value.as_ref());
                match w.stored(
                    known_value
                        .map(|v| &v.value_type)
                        .or(Some(&ValueType::String)),
                ) {
                    Some(want) => known_value.is_none_or(|k| !same_value(k, &want)),
                    None => true,
                }
            });
            if stale || differs {
                let ts = json!({ "value": d.freshness.value.map(|t| t.0) });
                let values = match &d.wanted.value {
                    Some(w) if differs => {
                        let t = w
                            .value_type
                            .as_ref()
                            .or(current
                                .and_then(|p| p.value.as_ref())
                                .map(|v| &v.value_type))
                            .map_or("xsd:string", ValueType::xsi_name);
                        json!({ "value": [w.value, t] })
                    }
                    _ => json!({}),
                };
                out.virtual_parameters.insert(name.clone(), (ts, values));
            }
            return out;
        }
        Some(root @ ("Reboot" | "FactoryReset")) => {
            if let Some(want) = d.wanted.value.as_ref().and_then(|w| as_time(&w.value)) {
                // A command is due when the declared time is later than the last one sent;
                // a time in the future is capped at now, so it is sent once.
                let want = want.min(now);
                if want > last_command(known, root) {
                    if root == "Reboot" {
                        out.reboot = true;
                    } else {
                        out.factory_reset = true;
                    }
                }
            }
            return out;
        }
        _ => {}
    }

    // `Downloads.*` is the ACS's own record of the downloads it ordered (GenieACS's
    // model): kept in the known data, never read from the device, always current.
    let local = d.path.root() == Some("Downloads");
    let local_copy;
    let d = if local {
        local_copy = Declaration {
            freshness: Freshness::default(),
            ..d.clone()
        };
        &local_copy
    } else {
        d
    };

    // Existence: every object a wildcard or filter lists, or that must hold a named path
    // not known yet, must have been enumerated at or after the path timestamp. Without one,
    // any enumeration will do for paths not known at all; known paths are taken as they
    // are (an Inform's parameters need no GetParameterNames to be used).
    let wants_anything = d.freshness != Freshness::default()
        || d.wanted.value.is_some()
        || d.wanted.path.is_some()
        || d.wanted.notification.is_some()
        || d.wanted.access_list.is_some();
    if !wants_anything {
        return out;
    }
    let path_ts = d.freshness.path.unwrap_or(Timestamp(1)).min(now);
    let segments = d.path.segments();
    let last = segments.len() - 1;
    let known_param = d
        .path
        .concrete()
        .filter(|name| known.params.contains_key(*name));
    let mut current: Vec<String> = match known_param {
        // A parameter known by its full name (the usual declaration): the loop below
        // would find every object above it known, and only its parent's listing can be
        // too old, when the declaration asks for a fresh path.
        Some(name) => {
            let parent = parent_object(name);
            let listed = local || parent.is_empty() || enumerated_at(known, &parent) >= path_ts;
            if d.freshness.path.is_some() && !listed {
                out.enumerate.insert(parent);
            }
            vec![name.to_owned()]
        }
        None => vec![String::new()],
    };
    for (i, segment) in segments.iter().enumerate() {
        if known_param.is_some() {
            break;
        }
        let mut next = Vec::new();
        for prefix in &current {
            let listed = local || prefix.is_empty() || enumerated_at(known, prefix) >= path_ts;
            match segment {
                Segment::Name(name) => {
                    let object = format!("{prefix}{name}.");
                    let param = format!("{prefix}{name}");
                    let explicit = d.freshness.path.is_some();
                    if i == last && known.params.contains_key(&param) {
                        // A parameter: its existence is as fresh as its parent's listing.
                        if explicit && !listed {
                            out.enumerate.insert(prefix.clone());
                        }
                        next.push(param);
                    } else if known.below(&object).next().is_some() {
                        // An object: asked to be fresh, it is listed itself (its subtree).
                        if explicit && i == last && enumerated_at(known, &object) < path_ts {
                            out.enumerate.insert(object.clone());
                        }
                        next.push(object);
                    } else if !listed {
                        // Not known: the parent's listing will tell whether it exists.
                        out.enumerate.insert(prefix.clone());
                    }
                }
                Segment::Wildcard | Segment::Alias(_) => {
                    if !listed {
                        out.enumerate.insert(prefix.clone());
                    }
                    for (path, p) in known.below(prefix) {
                        let rest = &path[prefix.len()..];
                        let Some(name) = rest.strip_suffix('.') else {
                            continue;
                        };
                        if !p.object || name.is_empty() || name.contains('.') {
                            continue;
                        }
                        if let Segment::Alias(pairs) = segment {
                            let mut all = true;
                            for (k, v) in pairs {
                                let fp = format!("{path}{k}");
                                match known.params.get(&fp) {
                                    Some(Param {
                                        value: Some(sv),
                                        ts,
                                        ..
                                    }) if *ts >= path_ts => {
                                        all &= alias_matches(&sv.text, v);
                                    }
                                    _ => {
                                        // When values below the instance are wanted too,
                                        // the whole instance is read at once: its
                                        // filter values and the wanted ones' types.
                                        if d.wanted.value.is_some() || d.freshness.value.is_some() {
                                            out.read.insert(path.clone());
                                        } else if known.params.contains_key(&fp) || listed {
                                            out.read.insert(fp);
                                        }
                                        all = false;
                                    }
                                }
                            }
                            if !all {
                                continue;
                            }
                        }
                        next.push(path.clone());
                    }
                }
            }
        }
        current = next;
    }
    // Paths still being discovered are not judged further: their needs show once known.
    if !out.enumerate.is_empty() {
        // Objects listed under an object that is itself to be listed are covered by it.
        return out;
    }

    // Instance counts, per parent object.
    if let (Some((lo, hi)), Some(parent)) = (d.wanted.path, d.path.parent()) {
        let alias = match segments.last() {
            Some(Segment::Alias(pairs)) => pairs.clone(),
            _ => Vec::new(),
        };
        for p in parent.matches(known).paths {
            if !p.ends_with('.') {
                continue;
            }
            let mut mine: Vec<&String> = current.iter().filter(|m| m.starts_with(&p)).collect();
            // Instances this session added for this filter count before their filter
            // values are set (else each round would add another).
            for (instance, pairs) in created {
                if instance.starts_with(&p)
                    && !alias.is_empty()
                    && *pairs == alias
                    && !mine.contains(&instance)
                {
                    mine.push(instance);
                }
            }
            let n = u32::try_from(mine.len()).unwrap_or(u32::MAX);
            if n < lo {
                for _ in n..lo {
                    out.add.push((p.clone(), alias.clone()));
                }
            } else if n > hi {
                // The newest (highest-numbered) instances go first.
                mine.sort_by_key(|m| instance_number(m));
                for m in mine.iter().rev().take((n - hi) as usize) {
                    out.delete.insert((*m).clone());
                }
            }
        }
    }
    for (instance, pairs) in created {
        if current.iter().any(|m| m == instance) || d.wanted.path.is_none() {
            continue;
        }
        // An instance this session added for this filter gets the filter's values.
        if segments.last() == Some(&Segment::Alias(pairs.clone())) {
            for (k, v) in pairs {
                let p = format!("{instance}{k}");
                match known.params.get(&p) {
                    Some(Param {
                        value: Some(sv), ..
                    }) => {
                        let want = StoredValue {
                            text: v.clone(),
                            value_type: sv.value_type.clone(),
                        };
                        if !same_value(sv, &want) {
                            out.set.insert(p, want);
                        }
                    }
                    _ if enumerated_at(known, instance) > Timestamp::ZERO => {
                        out.read.insert(p);
                    }
                    _ => {
                        out.enumerate.insert(instance.clone());
                    }
                }
            }
        }
    }

    for m in &current {
        let param = known.params.get(m);
        let object = m.ends_with('.');
        if let Some(t) = d.freshness.value.map(|t| t.min(now)) {
            if object {
                let stale = known.below(m).any(|(_, p)| !p.object && p.ts < t)
                    || enumerated_at(known, m) < t;
                if stale {
                    out.read.insert(m.clone());
                }
            } else if param.is_none_or(|p| p.value.is_none() || p.ts < t) {
                out.read.insert(m.clone());
            }
        }
        for t in [d.freshness.writable, d.freshness.object]
            .into_iter()
            .flatten()
        {
            let parent = parent_object(m);
            if enumerated_at(known, &parent) < t.min(now) {
                out.enumerate.insert(parent);
            }
        }
        if let Some(t) = [d.freshness.notification, d.freshness.access_list]
            .into_iter()
            .flatten()
            .max()
            .map(|t| t.min(now))
            && param
                .and_then(|p| p.attributes.as_ref())
                .is_none_or(|(_, at)| *at < t)
        {
            out.read_attributes.insert(m.clone());
        }
        if let Some(want) = &d.wanted.value {
            if object {
                continue;
            }
            let known_value = param.and_then(|p| p.value.as_ref());
            match want.stored(known_value.map(|v| &v.value_type)) {
                // The type is not known yet: read first.
                None => {
                    out.read.insert(m.clone());
                }
                Some(stored) if local && m.ends_with(".Download") => {
                    // A download is ordered when the declared time is later than the last
                    // order (capped at now: once).
                    let last = known_value.and_then(StoredValue::number).unwrap_or(0.0);
                    let want = want.value.as_f64().or_else(|| stored.number());
                    if want.is_some_and(|w| w.min(now.0 as f64) > last) {
                        out.set.insert(
                            m.clone(),
                            StoredValue {
                                text: now.to_rfc3339(),
                                value_type: ValueType::DateTime,
                            },
                        );
                    }
                }
                Some(stored) => {
                    if known_value.is_none_or(|k| !same_value(k, &stored)) {
                        out.set.insert(m.clone(), stored);
                    }
                }
            }
        }
        if d.wanted.notification.is_some() || d.wanted.access_list.is_some() {
            match param.and_then(|p| p.attributes.as_ref()) {
                None => {
                    out.read_attributes.insert(m.clone());
                }
                Some((a, _)) => {
                    let n = d.wanted.notification.filter(|n| *n != a.notification);
                    let l = d.wanted.access_list.clone().filter(|l| *l != a.access_list);
                    if n.is_some() || l.is_some() {
                        out.set_attributes.insert(m.clone(), (n, l));
                    }
                }
            }
        }
    }
    out
}

fn alias_matches(stored: &str, wanted: &str) -> bool {
    let b = |s: &str| match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    };
    stored == wanted || (b(stored).is_some() && b(stored) == b(wanted))
}

fn instance_number(path: &str) -> u64 {
    path.trim_end_matches('.')
        .rsplit('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Whether declaration `d` needs more than an Inform's values to be judged: anything but a
/// parameter the known data holds by its full name, or the roots the session knows
/// without the store (`DeviceID`, `Tags`, `Events`).
fn wants_stored_data(d: &Declaration, known: &DeviceData) -> bool {
    match d.path.root() {
        Some("DeviceID" | "Tags" | "Events") => false,
        _ if !d.path.is_concrete() => true,
        _ => d
            .path
            .concrete()
            .is_none_or(|name| !known.params.contains_key(name)),
    }
}

/// The object holding `path` (`Device.A.B` → `Device.A.`; `Device.A.` → `Device.`).
fn parent_object(path: &str) -> String {
    let body = path.strip_suffix('.').unwrap_or(path);
    match body.rfind('.') {
        Some(i) => body[..=i].to_owned(),
        None => String::new(),
    }
}

/// Settings of a session's provisioning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Rounds (runs of every provision, then one RPC or tag change) per session: a
    /// provision that keeps declaring something new cannot keep the session.
    pub max_rounds: u32,
    /// Where files named by `Downloads.*.FileName` are served (`FileName` appended after a
    /// `/`); a `FileName` that is a URL is used as it is.
    pub file_base_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_rounds: 64,
            file_base_url: None,
        }
    }
}

/// What the engine wants next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this RPC; its answer goes to [`Provisioning::on_response`] or
    /// [`Provisioning::on_fault`].
    Send(Body<'static>),
    /// Make these extension calls, hand each result to [`Provisioning::on_ext`], then ask
    /// again.
    Ext(Vec<ExtCall>),
    /// The provisions name data the session does not have: load the device's stored
    /// data, hand it to the session, then ask again (see [`Provisioning::defer_data`]).
    Load,
    /// Nothing (more) to do in this session.
    Done,
}

/// A step of the engine: the action, the changes to persist now (tags, faults, ...), and
/// the provisions' log lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Next {
    /// What to do.
    pub action: Action,
    /// Changes to persist before the action's message leaves.
    pub changes: Vec<Change>,
    /// `log()` lines, with their channel.
    pub logs: Vec<(String, String)>,
    /// The tasks done now, with their results (with [`Action::Done`]).
    pub finished_tasks: Vec<(TaskId, Json)>,
}

/// A session's provisioning.
#[derive(Debug)]
pub struct Provisioning {
    device: DeviceId,
    /// The session's start: `Date.now()` for every run, so that what was read in this
    /// session meets a `{value: Date.now()}` declaration in every later round.
    start: Timestamp,
    active: Vec<Active>,
    /// Channels with a fault when the session started, with its retries so far: cleared
    /// if they now run cleanly, counted one retry more if they fault again.
    old_faults: BTreeMap<String, u32>,
    /// The AddObject in flight: its object and the alias values the instance must get.
    adding: Option<(String, Vec<(String, String)>)>,
    /// The `Downloads.N.` instance whose Download is in flight.
    downloading: Option<String>,
    options: Options,
    faulted: BTreeSet<String>,
    ext: HashMap<ExtCall, Json>,
    created: Vec<(String, Vec<(String, String)>)>,
    rounds: u32,
    /// The channels whose declarations the RPC in flight serves.
    in_flight: BTreeSet<String>,
    /// The values each channel wanted set when the RPC in flight was chosen: a
    /// SetParameterValues fault naming parameters faults only the channels that wanted them.
    in_flight_sets: Vec<(String, BTreeSet<String>)>,
    /// Channels that ran cleanly in this session (their old faults are cleared at the end).
    clean: BTreeSet<String>,
    /// The NBI tasks due, in their order, after the provisions.
    tasks: Vec<TaskWork>,
    /// What was read and listed in this session.
    asked: Asked,
    /// The task whose AddObject or command is in flight.
    task_in_flight: Option<String>,
    /// Tasks done since the last step, with their results.
    finished_tasks: Vec<(TaskId, Json)>,
    /// The known data is only what the Inform carried (see [`Provisioning::defer_data`]).
    deferred: bool,
}

impl Provisioning {
    /// Provisioning for a session that started at `start`: `active` are the provisions of
    /// the presets that apply, in order; `old_faults` the channels with a recorded fault.
    pub fn new(
        device: DeviceId,
        start: Timestamp,
        active: Vec<Active>,
        old_faults: BTreeMap<String, u32>,
        options: Options,
    ) -> Provisioning {
        Provisioning {
            device,
            start,
            active,
            old_faults,
            adding: None,
            downloading: None,
            options,
            faulted: BTreeSet::new(),
            ext: HashMap::new(),
            created: Vec::new(),
            rounds: 0,
            in_flight: BTreeSet::new(),
            in_flight_sets: Vec::new(),
            clean: BTreeSet::new(),
            tasks: Vec::new(),
            asked: Asked::default(),
            task_in_flight: None,
            finished_tasks: Vec::new(),
            deferred: false,
        }
    }

    /// The known data holds only what this session's Inform carried: the device's stored
    /// data was not loaded, to spare the read in the common case of provisions that look
    /// only at the Inform's values, tags and identity. A round whose declarations name
    /// anything else (a path the Inform did not carry, a wildcard or filter, a virtual
    /// parameter, `Reboot`, `Downloads.*`...) is dropped before it acts, and the engine
    /// answers [`Action::Load`]; [`Provisioning::data_loaded`] then lets it go on.
    pub fn defer_data(mut self) -> Provisioning {
        self.deferred = true;
        self
    }

    /// The device's stored data is now in the known data.
    pub fn data_loaded(&mut self) {
        self.deferred = false;
    }

    /// The NBI tasks due in this session, each in its channel `task_<id>`, worked on
    /// after the provisions in every round.
    pub fn with_tasks(mut self, tasks: Vec<Task>) -> Provisioning {
        self.tasks = tasks.into_iter().map(TaskWork::new).collect();
        self
    }

    /// Other provisions from now on (the presets were selected again): the tasks, what
    /// was asked, the channels that faulted and the rounds so far stay.
    pub fn reselect(&mut self, active: Vec<Active>, old_faults: BTreeMap<String, u32>) {
        self.active = active;
        self.old_faults = old_faults;
    }

    /// The task behind channel `channel`, if it is a task's.
    pub fn task_of(&self, channel: &str) -> Option<&Task> {
        self.tasks
            .iter()
            .find(|t| t.channel == channel)
            .map(|t| &t.task)
    }

    /// When the session started (`Date.now()` of its scripts).
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The next step at time `now`: runs every provision against the known data, and
    /// returns the RPC that closes the first gap, the extension calls to make, or `Done`.
    pub fn next(
        &mut self,
        known: &mut DeviceData,
        facts: &mut DeviceFacts,
        now: Timestamp,
        runner: &dyn Runner,
    ) -> Next {
        let start = self.start;
        known
            .params
            .entry("Downloads.".to_owned())
            .or_insert_with(|| Param {
                object: true,
                writable: Some(true),
                ts: start,
                ..Param::default()
            });
        let mut changes = Vec::new();
        let mut logs = Vec::new();
        loop {
            self.rounds += 1;
            if self.rounds > self.options.max_rounds {
                let channels: BTreeSet<String> = self
                    .active
                    .iter()
                    .map(|a| a.channel.clone())
                    .chain(
                        self.tasks
                            .iter()
                            .filter(|t| !t.finished)
                            .map(|t| t.channel.clone()),
                    )
                    .filter(|c| !self.faulted.contains(c))
                    .collect();
                for c in channels {
                    changes.push(self.fault(
                        &c,
                        "too_many_rounds",
                        format!(
                            "provisioning did not settle after {} rounds (a provision keeps declaring something new)",
                            self.options.max_rounds
                        ),
                        now,
                    ));
                }
                return Next {
                    action: Action::Done,
                    changes,
                    logs,
                    finished_tasks: std::mem::take(&mut self.finished_tasks),
                };
            }
            let mut all = Needs::default();
            let mut owners: Vec<(String, Needs)> = Vec::new();
            let mut ext_wanted = Vec::new();
            let mut clears = Vec::new();
            let mut failed = Vec::new();
            let mut wants_stored = false;
            let round_logs = logs.len();
            for a in &self.active {
                if self.faulted.contains(&a.channel) {
                    continue;
                }
                let mut host = Host::new(known, facts, &self.ext, start);
                let outcome = match builtin(&a.provision, &a.args, &mut host) {
                    Some(o) => Some(o),
                    None => runner.run_provision(&a.provision, &a.args, &mut host),
                };
                match outcome {
                    None => failed.push((
                        a.channel.clone(),
                        "provision.unknown".to_owned(),
                        format!("no provision named {:?}", a.provision),
                    )),
                    Some(RunOutcome::Failed { code, message }) => {
                        failed.push((a.channel.clone(), code, message));
                    }
                    Some(RunOutcome::Finished(_)) => {}
                }
                for l in host.logs.drain(..) {
                    logs.push((a.channel.clone(), l));
                }
                ext_wanted.append(&mut host.ext_wanted);
                clears.append(&mut host.clears);
                if self.deferred {
                    wants_stored |= host
                        .declarations
                        .iter()
                        .any(|d| wants_stored_data(d, known));
                }
                let mut mine = Needs::default();
                for d in &host.declarations {
                    mine.merge(needs(d, known, facts, &self.created, start));
                }
                all.merge(mine.clone());
                owners.push((a.channel.clone(), mine));
            }
            let mut done_now = Vec::new();
            for t in &self.tasks {
                if t.finished || self.faulted.contains(&t.channel) {
                    continue;
                }
                match t.needs(known, facts, &self.created, start, &self.asked) {
                    // Met: the task is done now, whatever the others still need.
                    Ok(mine) if mine.is_empty() => done_now.push(t.task.id),
                    Ok(mine) => {
                        all.merge(mine.clone());
                        owners.push((t.channel.clone(), mine));
                    }
                    Err((code, message)) => failed.push((t.channel.clone(), code, message)),
                }
            }
            if self.deferred && (wants_stored || !self.tasks.is_empty()) {
                // Nothing of this round has acted yet: it runs again on the full data.
                self.rounds -= 1;
                logs.truncate(round_logs);
                return Next {
                    action: Action::Load,
                    changes,
                    logs,
                    finished_tasks: Vec::new(),
                };
            }
            for t in &mut self.tasks {
                if done_now.contains(&t.task.id) {
                    t.finished = true;
                    self.finished_tasks.push((t.task.id, t.outcome(known)));
                }
            }
            // Virtual parameters the provisions want computed: each script runs like a
            // provision (its declarations join this round's, under the channels that
            // asked); a run that finishes gives the value, stored like a parameter's.
            let mut computed = false;
            for (name, (ts, values)) in std::mem::take(&mut all.virtual_parameters) {
                let path = format!("VirtualParameters.{name}");
                let asking: Vec<String> = owners
                    .iter()
                    .filter(|(_, n)| n.virtual_parameters.contains_key(&name))
                    .map(|(c, _)| c.clone())
                    .collect();
                let current = known.params.get(&path);
                let args = [
                    json!({ "value": current.map(|p| p.ts.0) }),
                    json!({ "value": current
                        .and_then(|p| p.value.as_ref())
                        .map(|v| json!([v.text, v.value_type.xsi_name()])) }),
                    ts,
                    values,
                ];
                let mut host = Host::new(known, facts, &self.ext, start);
                let outcome = runner.run_virtual_parameter(&name, &args, &mut host);
                for l in host.logs.drain(..) {
                    logs.push((format!("VirtualParameters.{name}"), l));
                }
                ext_wanted.append(&mut host.ext_wanted);
                let mut mine = Needs::default();
                for d in &host.declarations {
                    mine.merge(needs(d, known, facts, &self.created, start));
                }
                all.merge(mine.clone());
                for c in &asking {
                    owners.push((c.clone(), mine.clone()));
                }
                let stored = match outcome {
                    None => Err(("virtual_parameter.unknown".to_owned(), format!("no virtual parameter named {name:?}"))),
                    Some(RunOutcome::Failed { code, message }) => Err((code, message)),
                    Some(RunOutcome::Finished(_)) if host.yielded || !mine.is_empty() => Ok(None),
                    Some(RunOutcome::Finished(v)) => virtual_value(&v)
                        .map(Some)
                        .ok_or_else(|| ("virtual_parameter.result".to_owned(), format!("VirtualParameters.{name} must return {{writable, value: [value, type]}}, not {v}"))),
                };
                match stored {
                    Ok(None) => {}
                    Ok(Some((value, writable))) => {
                        known.params.insert(
                            path.clone(),
                            Param {
                                value: Some(value.clone()),
                                writable: Some(writable),
                                ts: now,
                                ..Param::default()
                            },
                        );
                        changes.push(Change::Params {
                            device: self.device.clone(),
                            updates: vec![ParamUpdate {
                                path,
                                value: Some(value),
                                writable: Some(writable),
                                ts: Some(now),
                                ..ParamUpdate::default()
                            }],
                        });
                        computed = true;
                    }
                    Err((code, message)) => {
                        for c in asking {
                            failed.push((c, code.clone(), message.clone()));
                        }
                    }
                }
            }
            for (channel, code, message) in failed {
                if !self.faulted.contains(&channel) {
                    changes.push(self.fault(&channel, &code, message, now));
                }
            }
            if computed {
                continue;
            }
            if !clears.is_empty() && self.apply_clears(known, &clears) {
                continue;
            }
            // Tags change without an RPC; then everything runs again on the new tags.
            if !all.tags.is_empty() {
                let (add, remove): (Vec<_>, Vec<_>) = all.tags.iter().partition(|(_, on)| **on);
                let add: Vec<String> = add.into_iter().map(|(t, _)| t.clone()).collect();
                let remove: Vec<String> = remove.into_iter().map(|(t, _)| t.clone()).collect();
                for t in &add {
                    facts.tags.insert(t.clone());
                }
                for t in &remove {
                    facts.tags.remove(t);
                }
                changes.push(Change::Tags {
                    device: self.device.clone(),
                    add,
                    remove,
                });
                continue;
            }
            if !ext_wanted.is_empty() {
                ext_wanted.dedup();
                return Next {
                    action: Action::Ext(ext_wanted),
                    changes,
                    logs,
                    finished_tasks: std::mem::take(&mut self.finished_tasks),
                };
            }
            if self.apply_local(&all, known, now, &mut changes) {
                continue;
            }
            self.task_in_flight = None;
            let Some((body, serves)) = self.choose(&all, known) else {
                // Everything met: the channels that had a fault and ran cleanly now are
                // cleared.
                for a in &self.active {
                    if self.old_faults.contains_key(&a.channel)
                        && !self.faulted.contains(&a.channel)
                        && self.clean.insert(a.channel.clone())
                    {
                        changes.push(Change::ClearFault {
                            device: self.device.clone(),
                            channel: a.channel.clone(),
                        });
                    }
                }
                return Next {
                    action: Action::Done,
                    changes,
                    logs,
                    finished_tasks: std::mem::take(&mut self.finished_tasks),
                };
            };
            if let Body::AddObject(_) = &body
                && self.task_in_flight.is_none()
            {
                self.adding = all.add.first().cloned();
            }
            if let Some(t) = self
                .task_in_flight
                .as_ref()
                .and_then(|c| self.tasks.iter_mut().find(|t| t.channel == *c))
            {
                if matches!(body, Body::AddObject(_)) {
                    t.add_sent = true;
                } else {
                    t.command_sent = true;
                }
            }
            self.in_flight = owners
                .iter()
                .filter(|(_, n)| serves(n))
                .map(|(c, _)| c.clone())
                .collect();
            self.in_flight_sets = owners
                .iter()
                .map(|(c, n)| (c.clone(), n.set.keys().cloned().collect()))
                .collect();
            if let Body::Download(dl) = &body {
                // The order is recorded when sent: `Download` holds its time, `Last*`
                // what was ordered.
                let instance = self.downloading.clone().unwrap_or_default();
                let mut updates = Vec::new();
                for (name, text, value_type) in [
                    ("Download", now.to_rfc3339(), ValueType::DateTime),
                    ("LastDownload", now.to_rfc3339(), ValueType::DateTime),
                    ("LastFileType", dl.file_type.to_string(), ValueType::String),
                    ("LastFileName", dl.url.to_string(), ValueType::String),
                ] {
                    let path = format!("{instance}{name}");
                    let v = StoredValue { text, value_type };
                    known.params.insert(
                        path.clone(),
                        Param {
                            value: Some(v.clone()),
                            writable: Some(name == "Download"),
                            ts: now,
                            ..Param::default()
                        },
                    );
                    updates.push(ParamUpdate {
                        path,
                        value: Some(v),
                        writable: Some(name == "Download"),
                        ts: Some(now),
                        ..ParamUpdate::default()
                    });
                }
                changes.push(Change::Params {
                    device: self.device.clone(),
                    updates,
                });
            }
            if let Body::Reboot(_) | Body::FactoryReset(_) = &body {
                // Remembered when sent: the device may reboot before the session ends.
                let root = if matches!(body, Body::Reboot(_)) {
                    "Reboot"
                } else {
                    "FactoryReset"
                };
                let v = StoredValue {
                    text: now.to_rfc3339(),
                    value_type: ValueType::DateTime,
                };
                known.params.insert(
                    root.to_owned(),
                    Param {
                        value: Some(v.clone()),
                        ts: now,
                        writable: Some(true),
                        ..Param::default()
                    },
                );
                changes.push(Change::Params {
                    device: self.device.clone(),
                    updates: vec![ParamUpdate {
                        path: root.to_owned(),
                        value: Some(v),
                        ts: Some(now),
                        writable: Some(true),
                        ..ParamUpdate::default()
                    }],
                });
            }
            return Next {
                action: Action::Send(body),
                changes,
                logs,
                finished_tasks: std::mem::take(&mut self.finished_tasks),
            };
        }
    }

    /// The RPC for the first kind of need, in the order reads before writes, and a test of
    /// which channels' needs it serves.
    #[allow(clippy::type_complexity)]
    fn choose(
        &mut self,
        all: &Needs,
        known: &DeviceData,
    ) -> Option<(Body<'static>, Box<dyn Fn(&Needs) -> bool>)> {
        if let Some(first) = outermost(&all.enumerate).into_iter().next() {
            let f = first.clone();
            return Some((
                Body::GetParameterNames(cwmp::GetParameterNames {
                    parameter_path: first.into(),
                    next_level: false,
                }),
                Box::new(move |n: &Needs| n.enumerate.iter().any(|e| e.starts_with(&f))),
            ));
        }
        if !all.read.is_empty() {
            let names: Vec<String> = outermost(&all.read);
            return Some((
                Body::GetParameterValues(cwmp::GetParameterValues {
                    parameter_names: names.into_iter().map(Into::into).collect(),
                }),
                Box::new(|n: &Needs| !n.read.is_empty()),
            ));
        }
        if !all.read_attributes.is_empty() {
            return Some((
                Body::GetParameterAttributes(cwmp::GetParameterAttributes {
                    parameter_names: all
                        .read_attributes
                        .iter()
                        .cloned()
                        .map(Into::into)
                        .collect(),
                }),
                Box::new(|n: &Needs| !n.read_attributes.is_empty()),
            ));
        }
        if let Some(first) = all.delete.iter().next_back() {
            let f = first.clone();
            return Some((
                Body::DeleteObject(cwmp::DeleteObject {
                    object_name: first.clone().into(),
                    parameter_key: "".into(),
                }),
                Box::new(move |n: &Needs| n.delete.contains(&f)),
            ));
        }
        if let Some((object, _)) = all.add.first() {
            let o = object.clone();
            return Some((
                Body::AddObject(cwmp::AddObject {
                    object_name: object.clone().into(),
                    parameter_key: "".into(),
                }),
                Box::new(move |n: &Needs| n.add.iter().any(|(x, _)| *x == o)),
            ));
        }
        if let Some((channel, object)) = all.task_add.first() {
            self.task_in_flight = Some(channel.clone());
            let c = channel.clone();
            return Some((
                Body::AddObject(cwmp::AddObject {
                    object_name: object.clone().into(),
                    parameter_key: "".into(),
                }),
                Box::new(move |n: &Needs| n.task_add.iter().any(|(x, _)| *x == c)),
            ));
        }
        if let Some(path) = all
            .set
            .keys()
            .find(|p| p.starts_with("Downloads.") && p.ends_with(".Download"))
        {
            let instance = path.trim_end_matches("Download").to_owned();
            let get = |name: &str| {
                known
                    .params
                    .get(&format!("{instance}{name}"))
                    .and_then(|p| p.value.as_ref())
                    .map(|v| v.text.clone())
                    .unwrap_or_default()
            };
            let file = get("FileName");
            let url = if file.contains("://") {
                file
            } else {
                match &self.options.file_base_url {
                    Some(base) => format!("{}/{}", base.trim_end_matches('/'), file),
                    None => file,
                }
            };
            let (file_type, target) = (get("FileType"), get("TargetFileName"));
            self.downloading = Some(instance);
            let p = path.clone();
            return Some((
                Body::Download(cwmp::Download {
                    command_key: "provision".into(),
                    file_type: file_type.into(),
                    url: url.into(),
                    username: "".into(),
                    password: "".into(),
                    file_size: 0,
                    target_file_name: target.into(),
                    delay_seconds: 0,
                    success_url: "".into(),
                    failure_url: "".into(),
                }),
                Box::new(move |n: &Needs| n.set.contains_key(&p)),
            ));
        }
        if !all.set.is_empty() {
            let mut list = Vec::with_capacity(all.set.len());
            for (path, v) in &all.set {
                let value = v.to_cwmp().unwrap_or_else(|| cwmp::ParameterValue::Other {
                    xsi_type: v.value_type.xsi_name().to_owned().into(),
                    text: v.text.clone().into(),
                });
                list.push(ParameterValueStruct::new(path.clone(), value));
            }
            return Some((
                Body::SetParameterValues(cwmp::SetParameterValues {
                    parameter_list: list,
                    parameter_key: all.parameter_key.clone().unwrap_or_default().into(),
                }),
                Box::new(|n: &Needs| !n.set.is_empty()),
            ));
        }
        if !all.set_attributes.is_empty() {
            let list = all
                .set_attributes
                .iter()
                .map(|(path, (n, l))| cwmp::SetParameterAttributesStruct {
                    name: path.clone().into(),
                    notification_change: n.is_some(),
                    notification: n
                        .and_then(|n| cwmp::Notification::from_code(i64::from(n)))
                        .unwrap_or(cwmp::Notification::Off),
                    access_list_change: l.is_some(),
                    access_list: l
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .map(Into::into)
                        .collect(),
                })
                .collect();
            return Some((
                Body::SetParameterAttributes(cwmp::SetParameterAttributes {
                    parameter_list: list,
                }),
                Box::new(|n: &Needs| !n.set_attributes.is_empty()),
            ));
        }
        // A task's command: after the data RPCs, before a reset or reboot ends the session.
        if let Some(channel) = all.commands.first()
            && let Some(body) = self
                .tasks
                .iter()
                .find(|t| t.channel == *channel)
                .and_then(TaskWork::command)
        {
            self.task_in_flight = Some(channel.clone());
            let c = channel.clone();
            return Some((body, Box::new(move |n: &Needs| n.commands.contains(&c))));
        }
        if all.factory_reset {
            return Some((
                Body::FactoryReset(cwmp::FactoryReset {}),
                Box::new(|n: &Needs| n.factory_reset),
            ));
        }
        if all.reboot {
            return Some((
                Body::Reboot(cwmp::Reboot {
                    command_key: all
                        .reboot_key
                        .clone()
                        .unwrap_or_else(|| "provision".to_owned())
                        .into(),
                }),
                Box::new(|n: &Needs| n.reboot),
            ));
        }
        None
    }

    /// Applies what changes only the ACS's own records (`Downloads.*` instances and their
    /// values but the `Download` order itself); true when something was applied.
    fn apply_local(
        &mut self,
        all: &Needs,
        known: &mut DeviceData,
        now: Timestamp,
        changes: &mut Vec<Change>,
    ) -> bool {
        let mut updates = Vec::new();
        let mut deleted = Vec::new();
        let set = |known: &mut DeviceData,
                   updates: &mut Vec<ParamUpdate>,
                   path: String,
                   v: StoredValue| {
            known.params.insert(
                path.clone(),
                Param {
                    value: Some(v.clone()),
                    writable: Some(true),
                    ts: now,
                    ..Param::default()
                },
            );
            updates.push(ParamUpdate {
                path,
                value: Some(v),
                writable: Some(true),
                ts: Some(now),
                ..ParamUpdate::default()
            });
        };
        for (object, pairs) in all.add.iter().filter(|(o, _)| o == "Downloads.") {
            let n = known
                .below(object)
                .filter_map(|(k, _)| k[object.len()..].split('.').next()?.parse::<u64>().ok())
                .max()
                .unwrap_or(0)
                + 1;
            let instance = format!("{object}{n}.");
            known.params.insert(
                instance.clone(),
                Param {
                    object: true,
                    writable: Some(true),
                    ts: now,
                    ..Param::default()
                },
            );
            updates.push(ParamUpdate {
                path: instance.clone(),
                object: true,
                writable: Some(true),
                ts: Some(now),
                ..ParamUpdate::default()
            });
            let text = |s: &str| StoredValue {
                text: s.to_owned(),
                value_type: ValueType::String,
            };
            for name in ["FileType", "FileName", "TargetFileName"] {
                let v = pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map_or("", |(_, v)| v.as_str());
                set(known, &mut updates, format!("{instance}{name}"), text(v));
            }
            set(
                known,
                &mut updates,
                format!("{instance}Download"),
                StoredValue {
                    text: Timestamp::ZERO.to_rfc3339(),
                    value_type: ValueType::DateTime,
                },
            );
        }
        for gone in all.delete.iter().filter(|p| p.starts_with("Downloads.")) {
            let paths: Vec<String> = known.below(gone).map(|(k, _)| k.clone()).collect();
            for p in paths {
                known.params.remove(&p);
            }
            deleted.push(gone.clone());
        }
        for (path, v) in &all.set {
            if path.starts_with("Downloads.") && !path.ends_with(".Download") {
                set(known, &mut updates, path.clone(), v.clone());
            }
        }
        let any = !updates.is_empty() || !deleted.is_empty();
        if !updates.is_empty() {
            changes.push(Change::Params {
                device: self.device.clone(),
                updates,
            });
        }
        if !deleted.is_empty() {
            changes.push(Change::DeleteParams {
                device: self.device.clone(),
                paths: deleted,
            });
        }
        any
    }

    /// Forgets what `clears` invalidate; true when something was forgotten.
    fn apply_clears(&self, known: &mut DeviceData, clears: &[(PathPattern, Timestamp)]) -> bool {
        let mut any = false;
        for (pattern, t) in clears {
            let Some(prefix) = pattern.concrete() else {
                continue;
            };
            let object = format!("{prefix}.");
            for (path, p) in known.params.iter_mut() {
                if (path == prefix || path.starts_with(&object))
                    && p.ts < *t
                    && p.ts > Timestamp::ZERO
                {
                    p.ts = Timestamp::ZERO;
                    any = true;
                }
            }
        }
        any
    }

    /// The device's answer to the RPC the engine sent: updates `known`, returns the changes.
    pub fn on_response(
        &mut self,
        sent: &Body<'_>,
        response: &Body<'_>,
        known: &mut DeviceData,
        now: Timestamp,
    ) -> Vec<Change> {
        match (sent, response) {
            (Body::GetParameterValues(req), Body::GetParameterValuesResponse(_)) => {
                self.asked
                    .values
                    .extend(req.parameter_names.iter().map(|n| n.to_string()));
            }
            (Body::GetParameterNames(req), Body::GetParameterNamesResponse(_)) => {
                self.asked.names.insert(req.parameter_path.to_string());
            }
            _ => {}
        }
        if let Some(channel) = self.task_in_flight.take()
            && let Some(i) = self.tasks.iter().position(|t| t.channel == channel)
        {
            return self.on_task_response(i, sent, response, known, now);
        }
        if let (Body::AddObject(req), Body::AddObjectResponse(r)) = (sent, response) {
            let pairs = self
                .adding
                .take()
                .map(|(_, pairs)| pairs)
                .unwrap_or_default();
            if r.instance_number > 0 {
                let instance = format!("{}{}.", req.object_name, r.instance_number);
                self.created.push((instance, pairs));
            }
        }
        if let (Body::Download(d), Body::DownloadResponse(r)) = (sent, response) {
            // Status 1: the transfer goes on after the session; TransferComplete reports
            // it (a failure becomes a fault of channel `transfer`).
            if r.status == cwmp::TransferStatus::Pending {
                return vec![Change::TransferStarted {
                    device: self.device.clone(),
                    transfer: crate::change::PendingTransfer {
                        command_key: d.command_key.to_string(),
                        task: None,
                        detail: json!({"method": "Download", "url": d.url, "fileType": d.file_type}),
                        started: now,
                    },
                }];
            }
            return Vec::new();
        }
        apply_data(&self.device, sent, response, known, now).unwrap_or_default()
    }

    /// A CWMP fault (or a wrong answer) for the RPC the engine sent: recorded for the
    /// channels it served, whose provisions then stop for this session. A
    /// SetParameterValues fault that names its parameters (SetParameterValuesFault) is
    /// recorded only for the channels that wanted those set; the others go on (their
    /// values are sent again without the refused ones).
    pub fn on_fault(&mut self, fault: Fault) -> Vec<Change> {
        let mut channels = std::mem::take(&mut self.in_flight);
        let named: BTreeSet<String> = fault
            .detail
            .as_ref()
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.get("parameterName")?.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !named.is_empty() {
            let culprits: BTreeSet<String> = self
                .in_flight_sets
                .iter()
                .filter(|(_, set)| !set.is_disjoint(&named))
                .map(|(c, _)| c.clone())
                .collect();
            if !culprits.is_empty() {
                channels = culprits;
            }
        }
        let mut out = Vec::new();
        for c in channels {
            self.faulted.insert(c.clone());
            let mut fault = fault.clone();
            fault.retries = self.retries(&c);
            out.push(Change::DeviceFault {
                device: self.device.clone(),
                channel: c,
                fault,
            });
        }
        out
    }

    /// The result of an extension call: an error becomes the fault of the channels that
    /// made the call.
    pub fn on_ext(&mut self, call: ExtCall, result: Result<Json, String>) {
        match result {
            Ok(v) => {
                self.ext.insert(call, v);
            }
            Err(message) => {
                // Kept as an error object the script can see.
                self.ext.insert(call, json!({ "error": message }));
            }
        }
    }

    /// The answer to a task's AddObject or command.
    fn on_task_response(
        &mut self,
        i: usize,
        sent: &Body<'_>,
        response: &Body<'_>,
        known: &mut DeviceData,
        now: Timestamp,
    ) -> Vec<Change> {
        let device = self.device.clone();
        let Some(t) = self.tasks.get_mut(i) else {
            return Vec::new();
        };
        if let (Body::AddObject(_), Body::AddObjectResponse(r)) = (sent, response) {
            if r.instance_number == 0 {
                let channel = t.channel.clone();
                let message = "AddObjectResponse with instance number 0".to_owned();
                return vec![self.fault(&channel, "protocol", message, now)];
            }
            t.instance = Some(r.instance_number);
            let mut changes = apply_data(&device, sent, response, known, now).unwrap_or_default();
            changes.push(Change::TaskProgress {
                task: t.task.id,
                progress: json!({ "instance": r.instance_number }),
            });
            return changes;
        }
        let Some(sent) = t.command().filter(|c| c == sent) else {
            return Vec::new();
        };
        match command_response(&t.task, &device, &sent, response, known, now) {
            Ok((changes, result)) => {
                t.result = result;
                changes
            }
            Err(fault) => {
                let channel = t.channel.clone();
                vec![self.fault(&channel, &fault.code, fault.message, now)]
            }
        }
    }

    /// The retries of a channel's new fault: one more than its old fault's; a task's,
    /// its own count.
    fn retries(&self, channel: &str) -> u32 {
        if let Some(t) = self.task_of(channel) {
            return t.retries;
        }
        self.old_faults
            .get(channel)
            .map_or(0, |r| r.saturating_add(1))
    }

    fn fault(&mut self, channel: &str, code: &str, message: String, now: Timestamp) -> Change {
        self.faulted.insert(channel.to_owned());
        let retries = self.retries(channel);
        Change::DeviceFault {
            device: self.device.clone(),
            channel: channel.to_owned(),
            fault: Fault {
                code: code.to_owned(),
                message,
                detail: None,
                timestamp: now,
                retries,
            },
        }
    }
}

/// A virtual parameter script's result, `{writable, value: [value, type]}` (or a bare
/// value), as a stored value and its writable flag.
fn virtual_value(v: &Json) -> Option<(StoredValue, bool)> {
    let writable = v.get("writable").and_then(Json::as_bool).unwrap_or(false);
    let value = v.get("value")?;
    let (scalar, t) = match value {
        Json::Array(a) if a.len() == 2 => (&a[0], a[1].as_str().map(ValueType::from_xsi_name)),
        Json::Array(a) if a.len() == 1 => (&a[0], None),
        other => (other, None),
    };
    if scalar.is_array() || scalar.is_object() {
        return None;
    }
    let inferred = match scalar {
        Json::Bool(_) => ValueType::Boolean,
        Json::Number(n) if n.is_i64() || n.is_u64() => ValueType::Int,
        _ => ValueType::String,
    };
    let wanted = super::declaration::WantedValue {
        value: scalar.clone(),
        value_type: Some(t.unwrap_or(inferred)),
    };
    Some((wanted.stored(None)?, writable))
}

/// The paths of a set that no other path of the set contains (objects end with `.`).
fn outermost(set: &BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in set {
        if out
            .iter()
            .any(|o: &String| o.ends_with('.') && p.starts_with(o.as_str()))
        {
            continue;
        }
        out.push(p.clone());
    }
    out
}

/// The names of the built-in provisions: a script cannot take one (it would never run).
pub const BUILTIN_PROVISIONS: [&str; 7] = [
    "refresh",
    "value",
    "tag",
    "reboot",
    "reset",
    "download",
    "instances",
];

/// The built-in provisions: `refresh(path, age_secs?)`, `value(path, value)`,
/// `tag(name, on?)`, `reboot()`, `reset()`, `download(fileType, fileName,
/// targetFileName?)` (once per file name), `instances(path, count)`.
fn builtin(name: &str, args: &[Json], host: &mut Host<'_>) -> Option<RunOutcome> {
    let arg_str = |i: usize| args.get(i).and_then(Json::as_str);
    let bad = |m: &str| RunOutcome::Failed {
        code: "provision.args".into(),
        message: format!("{name}: {m}"),
    };
    let result = match name {
        "refresh" => {
            let Some(path) = arg_str(0) else {
                return Some(bad("refresh(path, maxAgeSeconds?) needs a path"));
            };
            let age = args.get(1).and_then(Json::as_f64).unwrap_or(0.0).max(0.0);
            let t = Timestamp(host.now.0 - (age * 1000.0) as i64);
            host.declare(path, &json!({"path": t.0, "value": t.0}), &Json::Null)
        }
        "value" => {
            let (Some(path), Some(v)) = (arg_str(0), args.get(1)) else {
                return Some(bad("value(path, value) needs a path and a value"));
            };
            host.declare(path, &Json::Null, &json!({ "value": v }))
        }
        "tag" => {
            let Some(tag) = arg_str(0) else {
                return Some(bad("tag(name, on?) needs a name"));
            };
            let on = args.get(1).and_then(Json::as_bool).unwrap_or(true);
            host.declare(&format!("Tags.{tag}"), &Json::Null, &json!({ "value": on }))
        }
        "reboot" => host.declare("Reboot", &Json::Null, &json!({ "value": host.now.0 })),
        "reset" => host.declare("FactoryReset", &Json::Null, &json!({ "value": host.now.0 })),
        "download" => {
            let (Some(file_type), Some(file)) = (arg_str(0), arg_str(1)) else {
                return Some(bad(
                    "download(fileType, fileName, targetFileName?) needs a type and a file",
                ));
            };
            let instance = format!("Downloads.[FileType:{file_type}]");
            let target = arg_str(2).unwrap_or("");
            host.declare(&instance, &json!({"path": 1}), &json!({"path": 1}))
                .and_then(|_| {
                    host.declare(
                        &format!("{instance}.FileName"),
                        &Json::Null,
                        &json!({ "value": file }),
                    )
                })
                .and_then(|_| {
                    host.declare(
                        &format!("{instance}.TargetFileName"),
                        &Json::Null,
                        &json!({ "value": target }),
                    )
                })
                .and_then(|_| {
                    // Ordered once: when the file named differs from the last one
                    // ordered (a new firmware), not in every session.
                    let last = host
                        .declare(
                            &format!("{instance}.LastFileName"),
                            &Json::Null,
                            &Json::Null,
                        )?
                        .first()
                        .and_then(|i| i.value.clone())
                        .map(|(v, _)| v);
                    if last
                        .as_ref()
                        .and_then(Json::as_str)
                        .is_some_and(|l| l.ends_with(file))
                    {
                        return Ok(Vec::new());
                    }
                    let now = host.now.0;
                    host.declare(
                        &format!("{instance}.Download"),
                        &Json::Null,
                        &json!({ "value": now }),
                    )
                })
        }
        "instances" => {
            let (Some(path), Some(n)) = (arg_str(0), args.get(1)) else {
                return Some(bad("instances(path, count) needs a path and a count"));
            };
            let path = if path.ends_with('*') || path.ends_with(']') {
                path.to_owned()
            } else {
                format!("{}.*", path.trim_end_matches('.'))
            };
            host.declare(&path, &json!({"path": 1}), &json!({ "path": n }))
        }
        _ => return None,
    };
    Some(match result {
        Ok(_) => {
            host.commit();
            RunOutcome::Finished(Json::Null)
        }
        Err(e) => bad(&e),
    })
}

#[cfg(test)]
mod tests;
