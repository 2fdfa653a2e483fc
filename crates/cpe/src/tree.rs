//! The parameter tree of one device: a shared immutable template and the device's own
//! changes.
//!
//! A [`Tree`] is an `Arc<`[`Template`]`>` shared by every device of a kind (definitions,
//! factory instances, factory values), the device's [`Identity`] (which renders the
//! per-device [placeholders](placeholder) of factory values when they are read), its boot
//! time, and an *overlay* holding only what differs from the factory: values written,
//! attributes set, tables whose instances changed (with their next instance number), and
//! changes awaiting an Inform. A device with a couple of changes costs about a kilobyte
//! (see `examples/tree_memory.rs`).
//!
//! Computed values: `DeviceInfo.UpTime` (seconds since boot), `Time.CurrentLocalTime`
//! (now, in UTC), traffic counters (`...Stats.BytesSent`, `BytesReceived`, `PacketsSent`,
//! `PacketsReceived`, TR-098 `Total...`: the factory value plus a per-device,
//! per-interface rate times the seconds since boot, wrapping at 2^32 for 32-bit counters),
//! `...NumberOfEntries` (the number of instances), and the four identity parameters of
//! `DeviceInfo` (from the [`Identity`], so that they always equal the Inform's DeviceId).
//!
//! The [`DataModel`] implementation answers the ACS's parameter methods with TR-069
//! semantics (notes §4.2, §4.3); see [`rpc`] for the rules where the specification is
//! loose. The overlay survives a restart through [`Tree::overlay_state`] and
//! [`Tree::with_state`].

pub mod placeholder;
pub mod rpc;
mod state;
mod template;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use cwmp::{ParameterValue, ParameterValueStruct};
use serde::{Deserialize, Serialize};

use crate::data_model::{DataModel, PendingChanges};
use crate::model::{Access, ActiveNotify, BaseType, Model, ObjectId, ParamId};
use crate::time::Time;

pub use state::{AttributeState, OverlayState, TableState};
pub use template::Template;
use template::{IdField, ParamKind};

/// Who the device is: the Inform's DeviceIdStruct (notes §6.3), and the index from which
/// its MAC and IP addresses are derived.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// `DeviceInfo.Manufacturer` (64 characters at most).
    pub manufacturer: String,
    /// `DeviceInfo.ManufacturerOUI`: six upper-case hex digits.
    pub oui: String,
    /// `DeviceInfo.ProductClass`.
    pub product_class: String,
    /// `DeviceInfo.SerialNumber`.
    pub serial_number: String,
    /// The device's number in the simulation: seeds MACs, IPs, UUIDs and traffic rates.
    pub index: u64,
}

/// Attributes set by the ACS on one parameter (absent: the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attr {
    pub(crate) notification: u8,
    pub(crate) subscriber: bool,
}

/// A table whose instances differ from the factory's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) instances: Vec<u32>,
    pub(crate) next: u32,
}

/// What one device changed. Keys are `[id, instance numbers...]` of a parameter (values,
/// attributes, pending) or of a table and its parent instance (tables).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Overlay {
    pub(crate) values: BTreeMap<Box<[u32]>, Box<str>>,
    pub(crate) attrs: BTreeMap<Box<[u32]>, Attr>,
    pub(crate) tables: BTreeMap<Box<[u32]>, Table>,
    /// Changed parameters with passive or active notification → active.
    pub(crate) pending: BTreeMap<Box<[u32]>, bool>,
}

/// One device's parameters.
#[derive(Debug, Clone)]
pub struct Tree {
    template: Arc<Template>,
    identity: Identity,
    boot: Time,
    overlay: Overlay,
}

/// Most `minEntries` instances one new instance brings with it (see
/// `Tree::create_instance`).
pub(crate) const MAX_NESTED_INSTANCES: usize = 1_000;

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The empty path: the whole tree.
    Root,
    /// A single object or an instance (`Device.DeviceInfo.`, `Device.WiFi.SSID.1.`).
    Object(ObjectId, Vec<u32>),
    /// A table (`Device.WiFi.SSID.`), with the parent's instance numbers.
    Table(ObjectId, Vec<u32>),
    /// A parameter.
    Param(ParamId, Vec<u32>),
}

/// A node met while walking the tree.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Node<'a> {
    Object(ObjectId, &'a [u32]),
    Table(ObjectId, &'a [u32]),
    Param(ParamId, &'a [u32]),
}

pub(crate) fn key(id: u32, nums: &[u32]) -> Box<[u32]> {
    let mut v = Vec::with_capacity(nums.len() + 1);
    v.push(id);
    v.extend_from_slice(nums);
    v.into_boxed_slice()
}

/// Calls `f` with the key `[id, nums...]`, built on the stack when short.
fn with_key<R>(id: u32, nums: &[u32], f: impl FnOnce(&[u32]) -> R) -> R {
    let mut buf = [0u32; 16];
    match buf.get_mut(1..=nums.len()) {
        Some(slot) => {
            slot.copy_from_slice(nums);
            buf[0] = id;
            f(buf.get(..=nums.len()).unwrap_or(&[]))
        }
        None => f(&key(id, nums)),
    }
}

/// A template path with its `{i}` replaced by `nums`, in order.
pub(crate) fn concrete(template: &str, nums: &[u32]) -> String {
    let mut out = String::with_capacity(template.len() + 4 * nums.len());
    let mut rest = template;
    let mut it = nums.iter();
    while let Some(pos) = rest.find("{i}") {
        out.push_str(rest.get(..pos).unwrap_or(""));
        match it.next() {
            Some(n) => out.push_str(&n.to_string()),
            None => out.push_str("{i}"),
        }
        rest = rest.get(pos + 3..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

impl Tree {
    /// A device fresh from the factory, booted at `now`.
    pub fn new(template: Arc<Template>, identity: Identity, now: Time) -> Tree {
        Tree {
            template,
            identity,
            boot: now,
            overlay: Overlay::default(),
        }
    }

    /// The shared template.
    pub fn template(&self) -> &Arc<Template> {
        &self.template
    }

    fn model(&self) -> &Model {
        &self.template.model
    }

    /// Who the device is.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The Inform's `DeviceId` (notes §4.2 Inform).
    pub fn device_id(&self) -> cwmp::DeviceIdStruct<'static> {
        cwmp::DeviceIdStruct {
            manufacturer: Cow::Owned(self.identity.manufacturer.clone()),
            oui: Cow::Owned(self.identity.oui.clone()),
            product_class: Cow::Owned(self.identity.product_class.clone()),
            serial_number: Cow::Owned(self.identity.serial_number.clone()),
        }
    }

    /// When the device last booted.
    pub fn boot_time(&self) -> Time {
        self.boot
    }

    /// `ManagementServer.ParameterKey` (notes §4.7).
    pub fn parameter_key(&self) -> String {
        match self.template.parameter_key {
            Some(p) => self.text(p, &[], self.boot).into_owned(),
            None => String::new(),
        }
    }

    /// The value of a parameter (full name) for the device's own use: like
    /// [`DataModel::value`] but hidden and secured values are not blanked (the agent needs
    /// `ManagementServer.Password` to authenticate).
    pub fn raw_value(&self, path: &str, now: Time) -> Option<ParameterValue<'static>> {
        let Some(Target::Param(p, nums)) = self.resolve(path) else {
            return None;
        };
        Some(self.model().typed_value_raw(p, &self.text(p, &nums, now)))
    }

    /// A `ManagementServer` parameter by its name relative to it (`URL`,
    /// `PeriodicInformInterval`, `ConnectionRequestPassword`), not blanked.
    pub fn management_value(&self, name: &str, now: Time) -> Option<ParameterValue<'static>> {
        self.raw_value(
            &format!("{}ManagementServer.{name}", self.model().root()),
            now,
        )
    }

    /// A `ManagementServer` parameter's value as text (`true`/`false` for booleans).
    pub fn management_text(&self, name: &str, now: Time) -> Option<String> {
        self.management_value(name, now)
            .map(|v| v.text().into_owned())
    }

    /// Sets a `ManagementServer` parameter as the device (no writability check; the
    /// notification attribute applies, e.g. to `ConnectionRequestURL`). `false` if it does
    /// not exist or the value does not fit it.
    pub fn set_management_value(
        &mut self,
        name: &str,
        value: ParameterValue<'static>,
        now: Time,
    ) -> bool {
        let path = format!("{}ManagementServer.{name}", self.model().root());
        self.set_value(&path, value, now)
    }

    /// The `DiagnosticsState` parameters (full names) the ACS has set to `Requested`, in
    /// tree order: the diagnostics the agent should run after the session.
    pub fn requested_diagnostics(&self) -> Vec<String> {
        self.overlay
            .values
            .iter()
            .filter(|(k, v)| {
                &***v == "Requested"
                    && k.first().is_some_and(|&p| {
                        self.template.kind(ParamId(p)) == ParamKind::DiagnosticsState
                    })
            })
            .filter_map(|(k, _)| {
                let (&p, nums) = k.split_first()?;
                Some(self.param_name(ParamId(p), nums))
            })
            .collect()
    }

    /// The ACS's extra Inform parameters (TR-181 `ManagementServer.InformParameter.{i}`):
    /// for each enabled entry whose `EventList` holds one of `events` (an empty list: any
    /// event but `4 VALUE CHANGE`), the existing parameters its `ParameterName` names, `*`
    /// standing for any instance number. The agent appends them to
    /// [`DataModel::inform_parameters`], whose parameters are not repeated here.
    pub fn inform_parameter_extras(
        &self,
        events: &[&str],
        now: Time,
    ) -> Vec<ParameterValueStruct<'static>> {
        let table = format!("{}ManagementServer.InformParameter.", self.model().root());
        let Some(entries) = self.instance_numbers(&table) else {
            return Vec::new();
        };
        let mut seen: Vec<String> = self
            .inform_parameters(now)
            .into_iter()
            .map(|p| p.name.into_owned())
            .collect();
        let mut out = Vec::new();
        for n in entries {
            let text = |name: &str| {
                self.raw_value(&format!("{table}{n}.{name}"), now)
                    .map(|v| v.text().into_owned())
                    .unwrap_or_default()
            };
            if text("Enable") != "true" {
                continue;
            }
            let list = text("EventList");
            let wanted: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .collect();
            let applies = if wanted.is_empty() {
                events.iter().any(|e| *e != "4 VALUE CHANGE")
            } else {
                events.iter().any(|e| wanted.contains(e))
            };
            if !applies {
                continue;
            }
            for (p, nums) in self.expand_pattern(&text("ParameterName")) {
                let name = self.param_name(p, &nums);
                if !seen.contains(&name) {
                    out.push(ParameterValueStruct::new(
                        name.clone(),
                        self.typed(p, &nums, now),
                    ));
                    seen.push(name);
                }
            }
        }
        out
    }

    /// The existing parameters a full name with `*` for instance numbers names.
    pub(crate) fn expand_pattern(&self, pattern: &str) -> Vec<(ParamId, Vec<u32>)> {
        let model = self.model();
        if !pattern.starts_with(model.root()) || pattern.ends_with('.') {
            return Vec::new();
        }
        let segs: Vec<&str> = pattern.split('.').collect();
        let Some((name, objects)) = segs.split_last() else {
            return Vec::new();
        };
        let mut template = String::with_capacity(pattern.len() + 8);
        let mut fixed: Vec<Option<u32>> = Vec::new();
        for seg in objects {
            if *seg == "*" {
                fixed.push(None);
                template.push_str("{i}.");
            } else if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                fixed.push(seg.parse().ok());
                template.push_str("{i}.");
            } else {
                template.push_str(seg);
                template.push('.');
            }
        }
        let Some(obj) = model.object_id(&template) else {
            return Vec::new();
        };
        let Some(p) = model.param_in(obj, name) else {
            return Vec::new();
        };
        self.all_instances(obj)
            .into_iter()
            .filter(|nums| {
                nums.len() == fixed.len()
                    && nums
                        .iter()
                        .zip(&fixed)
                        .all(|(n, f)| f.is_none_or(|f| f == *n))
            })
            .map(|nums| (p, nums))
            .collect()
    }

    /// Whether a path (parameter, object, instance or table) exists on the device.
    pub fn exists(&self, path: &str) -> bool {
        self.resolve(path).is_some()
    }

    /// The instance numbers of a table (`Device.Hosts.Host.`), ascending.
    pub fn instance_numbers(&self, table: &str) -> Option<Vec<u32>> {
        match self.resolve(table)? {
            Target::Table(t, parent) => Some(self.instances(t, &parent).to_vec()),
            _ => None,
        }
    }

    // ----- paths -----

    /// What `path` names, if it exists on this device.
    pub(crate) fn resolve(&self, path: &str) -> Option<Target> {
        let target = self.parse_target(path)?;
        let ok = match &target {
            Target::Root => true,
            Target::Object(o, nums) => self.instances_exist(*o, nums),
            Target::Table(t, parent) => {
                let parent_obj = self.model().object_def(*t).and_then(|d| d.parent);
                parent_obj.is_some_and(|p| self.instances_exist(p, parent))
            }
            Target::Param(p, nums) => self
                .model()
                .param_def(*p)
                .is_some_and(|d| self.instances_exist(d.object, nums)),
        };
        ok.then_some(target)
    }

    /// What `path` would name by the definitions alone.
    fn parse_target(&self, path: &str) -> Option<Target> {
        if path.is_empty() {
            return Some(Target::Root);
        }
        let model = self.model();
        if !path.starts_with(model.root()) || path.len() > 1024 {
            return None;
        }
        let is_object = path.ends_with('.');
        let body = path.strip_suffix('.').unwrap_or(path);
        let mut segs: Vec<&str> = body.split('.').collect();
        let name = if is_object { None } else { segs.pop() };
        let mut template = String::with_capacity(path.len() + 8);
        let mut nums = Vec::new();
        let mut last_numeric = false;
        for seg in segs {
            if seg.is_empty() {
                return None;
            }
            if seg.bytes().all(|b| b.is_ascii_digit()) {
                if seg.starts_with('0') {
                    return None;
                }
                nums.push(seg.parse::<u32>().ok()?);
                template.push_str("{i}.");
                last_numeric = true;
            } else {
                template.push_str(seg);
                template.push('.');
                last_numeric = false;
            }
        }
        if let Some(name) = name {
            if name.is_empty() || name.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let obj = model.object_id(&template)?;
            return Some(Target::Param(model.param_in(obj, name)?, nums));
        }
        if let Some(obj) = model.object_id(&template) {
            return Some(Target::Object(obj, nums));
        }
        if last_numeric {
            return None;
        }
        template.push_str("{i}.");
        let table = model.object_id(&template)?;
        Some(Target::Table(table, nums))
    }

    /// Whether every instance in `nums` exists along `obj`'s path.
    fn instances_exist(&self, obj: ObjectId, nums: &[u32]) -> bool {
        let Some(def) = self.model().object_def(obj) else {
            return false;
        };
        if nums.len() != def.tables.len() {
            return false;
        }
        def.tables.iter().enumerate().all(|(k, &t)| {
            let parent = nums.get(..k).unwrap_or(&[]);
            nums.get(k)
                .is_some_and(|n| self.instances(t, parent).binary_search(n).is_ok())
        })
    }

    /// The instance numbers of table `table` under `parent`, ascending.
    pub(crate) fn instances(&self, table: ObjectId, parent: &[u32]) -> &[u32] {
        with_key(table.0, parent, |k| match self.overlay.tables.get(k) {
            Some(t) => &t.instances[..],
            None => self.template.factory_instances(k),
        })
    }

    /// The number the next instance of a table gets: never one used before.
    fn next_instance(&self, table: ObjectId, parent: &[u32]) -> u32 {
        with_key(table.0, parent, |k| match self.overlay.tables.get(k) {
            Some(t) => t.next,
            None => self
                .template
                .factory_instances(k)
                .last()
                .map_or(1, |n| n.saturating_add(1)),
        })
    }

    pub(crate) fn param_name(&self, p: ParamId, nums: &[u32]) -> String {
        concrete(&self.model().param_path(p), nums)
    }

    pub(crate) fn object_name(&self, o: ObjectId, nums: &[u32]) -> String {
        let path = self.model().object_def(o).map(|d| &*d.path).unwrap_or("");
        concrete(path, nums)
    }

    pub(crate) fn table_name(&self, t: ObjectId, parent: &[u32]) -> String {
        let path = self
            .model()
            .object_def(t)
            .map(|d| d.table_path())
            .unwrap_or("");
        concrete(path, parent)
    }

    /// Walks an object (or instance) and everything below it, in tree order: the object,
    /// its parameters, then its child objects and tables.
    pub(crate) fn walk_object(
        &self,
        obj: ObjectId,
        nums: &mut Vec<u32>,
        f: &mut dyn FnMut(Node<'_>),
    ) {
        let Some(def) = self.model().object_def(obj) else {
            return;
        };
        f(Node::Object(obj, nums));
        for &p in &def.params {
            f(Node::Param(p, nums));
        }
        for &c in &def.children {
            if self.model().object_def(c).is_some_and(|d| d.multi) {
                self.walk_table(c, nums, f);
            } else {
                self.walk_object(c, nums, f);
            }
        }
    }

    /// Walks a table: the table, then each instance's subtree.
    pub(crate) fn walk_table(
        &self,
        table: ObjectId,
        nums: &mut Vec<u32>,
        f: &mut dyn FnMut(Node<'_>),
    ) {
        f(Node::Table(table, nums));
        let list = self.instances(table, nums);
        for &n in list {
            nums.push(n);
            self.walk_object(table, nums, f);
            nums.pop();
        }
    }

    /// Walks whatever a target names.
    pub(crate) fn walk(&self, target: &Target, f: &mut dyn FnMut(Node<'_>)) {
        match target {
            Target::Root => self.walk_object(self.model().root_id(), &mut Vec::new(), f),
            Target::Object(o, nums) => self.walk_object(*o, &mut nums.clone(), f),
            Target::Table(t, parent) => self.walk_table(*t, &mut parent.clone(), f),
            Target::Param(p, nums) => f(Node::Param(*p, nums)),
        }
    }

    /// Every existing instance-number vector of an object definition.
    pub(crate) fn all_instances(&self, obj: ObjectId) -> Vec<Vec<u32>> {
        let tables = self
            .model()
            .object_def(obj)
            .map(|d| d.tables.clone())
            .unwrap_or_default();
        let mut out = vec![Vec::new()];
        for t in tables {
            let mut next = Vec::new();
            for nums in &out {
                for &n in self.instances(t, nums) {
                    let mut v = nums.clone();
                    v.push(n);
                    next.push(v);
                }
            }
            out = next;
        }
        out
    }

    // ----- values -----

    /// The factory value of a parameter, rendered, or its initial value.
    fn factory_text(&self, p: ParamId, nums: &[u32]) -> Cow<'_, str> {
        let v = with_key(p.0, nums, |k| self.template.values.get(k));
        match v {
            Some(v) if v.templated => {
                Cow::Owned(placeholder::render(&v.text, &self.identity).into_owned())
            }
            Some(v) => Cow::Borrowed(&v.text),
            None => {
                let def = self.model().param_def(p);
                match def.and_then(|d| d.default.as_deref()) {
                    Some(d) if placeholder::has_placeholders(d) => {
                        Cow::Owned(placeholder::render(d, &self.identity).into_owned())
                    }
                    Some(d) => Cow::Borrowed(d),
                    // A CPE-assigned alias starts with `cpe-` (TR-069 Appendix II); the
                    // ACS may replace it once (Alias is writeOnceReadOnly).
                    None if def.is_some_and(|d| &*d.name == "Alias") && !nums.is_empty() => {
                        Cow::Owned(format!("cpe-{}", nums.last().copied().unwrap_or(0)))
                    }
                    None => Cow::Owned(self.model().initial_text(p)),
                }
            }
        }
    }

    /// The current value of a parameter as stored text (not blanked).
    pub(crate) fn text(&self, p: ParamId, nums: &[u32], now: Time) -> Cow<'_, str> {
        let kind = self.template.kind(p);
        match kind {
            ParamKind::Identity(f) => {
                return Cow::Borrowed(match f {
                    IdField::Manufacturer => &self.identity.manufacturer,
                    IdField::Oui => &self.identity.oui,
                    IdField::ProductClass => &self.identity.product_class,
                    IdField::SerialNumber => &self.identity.serial_number,
                });
            }
            ParamKind::UpTime => {
                return Cow::Owned((now.millis_since(self.boot) / 1000).to_string());
            }
            ParamKind::NumEntries(t) => {
                return Cow::Owned(self.instances(t, nums).len().to_string());
            }
            _ => {}
        }
        if let Some(v) = with_key(p.0, nums, |k| self.overlay.values.get(k)) {
            return Cow::Borrowed(v);
        }
        match kind {
            ParamKind::LocalTime => Cow::Owned(now.to_datetime().to_string()),
            ParamKind::Counter { packets, sent } => {
                let base: u64 = self.factory_text(p, nums).trim().parse().unwrap_or(0);
                Cow::Owned(self.counter(p, nums, packets, sent, base, now).to_string())
            }
            _ => self.factory_text(p, nums),
        }
    }

    /// A traffic counter: `base` plus a rate (per device, interface and direction) times
    /// the seconds since boot; packets average 700 bytes.
    fn counter(
        &self,
        p: ParamId,
        nums: &[u32],
        packets: bool,
        sent: bool,
        base: u64,
        now: Time,
    ) -> u64 {
        let def = self.model().param_def(p);
        let obj = def.map_or(0, |d| d.object.0);
        let mut h = placeholder::mix(self.identity.index ^ (u64::from(obj) << 32));
        for &n in nums {
            h = placeholder::mix(h ^ u64::from(n));
        }
        h = placeholder::mix(h ^ u64::from(sent));
        let bytes_rate = 1_000 + h % 250_000;
        let rate = if packets {
            bytes_rate / 700 + 1
        } else {
            bytes_rate
        };
        let secs = now.millis_since(self.boot) / 1000;
        let v = base.wrapping_add(rate.wrapping_mul(secs));
        if def.is_some_and(|d| d.syntax.base == BaseType::UnsignedInt) {
            v & 0xFFFF_FFFF
        } else {
            v
        }
    }

    /// The value as GetParameterValues gives it (hidden and secured blanked).
    pub(crate) fn typed(&self, p: ParamId, nums: &[u32], now: Time) -> ParameterValue<'static> {
        self.model().typed_value(p, &self.text(p, nums, now))
    }

    /// Stores a canonical value; an overlay entry only when it differs from the factory.
    pub(crate) fn store(&mut self, p: ParamId, nums: &[u32], canonical: String) {
        let write_once = self
            .model()
            .param_def(p)
            .is_some_and(|d| d.access == Access::WriteOnceReadOnly);
        let same = !write_once && *self.factory_text(p, nums) == *canonical;
        if same {
            with_key(p.0, nums, |k| self.overlay.values.remove(k));
        } else {
            self.overlay
                .values
                .insert(key(p.0, nums), canonical.into_boxed_str());
        }
    }

    /// Whether the ACS may write a parameter now.
    pub(crate) fn param_writable(&self, p: ParamId, nums: &[u32]) -> bool {
        match self.model().param_def(p).map(|d| d.access) {
            Some(Access::ReadWrite) => true,
            Some(Access::WriteOnceReadOnly) => {
                !with_key(p.0, nums, |k| self.overlay.values.contains_key(k))
            }
            _ => false,
        }
    }

    /// The notification attribute in effect (notes §4.2, §4.5).
    pub(crate) fn notification(&self, p: ParamId, nums: &[u32]) -> u8 {
        let notify = self
            .model()
            .param_def(p)
            .map(|d| d.active_notify)
            .unwrap_or_default();
        if notify == ActiveNotify::ForceEnabled {
            return 2;
        }
        if let Some(a) = with_key(p.0, nums, |k| self.overlay.attrs.get(k).copied()) {
            return a.notification;
        }
        if notify == ActiveNotify::ForceDefaultEnabled {
            2
        } else {
            0
        }
    }

    /// Whether `Subscriber` is in the parameter's access list.
    pub(crate) fn subscriber(&self, p: ParamId, nums: &[u32]) -> bool {
        with_key(p.0, nums, |k| {
            self.overlay.attrs.get(k).is_some_and(|a| a.subscriber)
        })
    }

    /// Remembers a change made by the device for the next Inform, per the notification
    /// attribute: 1, 3, 4 passive; 2, 5, 6 active (lightweight notification is not
    /// simulated, so 3–6 act as their non-lightweight part).
    fn record_change(&mut self, p: ParamId, nums: &[u32]) {
        let n = self.notification(p, nums);
        let active = matches!(n, 2 | 5 | 6);
        if active || matches!(n, 1 | 3 | 4) {
            let e = self.overlay.pending.entry(key(p.0, nums)).or_insert(false);
            *e |= active;
        }
    }

    /// Sets ParameterKey after a successful SetParameterValues, AddObject or DeleteObject
    /// (notes §4.7).
    pub(crate) fn set_parameter_key(&mut self, value: &str) {
        if let Some(p) = self.template.parameter_key {
            self.store(p, &[], value.to_owned());
        }
    }

    // ----- instances -----

    /// Creates an instance of `table` under `parent`: the next number (parameters read
    /// their defaults, `Alias` reads `cpe-N`) and the `minEntries` instances of its
    /// sub-tables, at most [`MAX_NESTED_INSTANCES`] of them (nested tables asking for 64
    /// each would otherwise ask for 64^n). `None` when `maxEntries` is reached.
    pub(crate) fn create_instance(&mut self, table: ObjectId, parent: &[u32]) -> Option<u32> {
        let mut budget = MAX_NESTED_INSTANCES;
        self.create_within(table, parent, &mut budget)
    }

    fn create_within(
        &mut self,
        table: ObjectId,
        parent: &[u32],
        budget: &mut usize,
    ) -> Option<u32> {
        let def = self.model().object_def(table)?;
        if !def.multi {
            return None;
        }
        let max = def.max_entries;
        let mut list = self.instances(table, parent).to_vec();
        if max.is_some_and(|m| list.len() >= m as usize) {
            return None;
        }
        let n = self.next_instance(table, parent);
        let next = n.checked_add(1)?;
        list.push(n);
        self.overlay.tables.insert(
            key(table.0, parent),
            Table {
                instances: list,
                next,
            },
        );
        let mut nums = parent.to_vec();
        nums.push(n);
        self.populate_min(table, &mut nums, 0, budget);
        Some(n)
    }

    fn populate_min(
        &mut self,
        obj: ObjectId,
        nums: &mut Vec<u32>,
        depth: usize,
        budget: &mut usize,
    ) {
        if depth > 16 {
            return;
        }
        let children = self
            .model()
            .object_def(obj)
            .map(|d| d.children.clone())
            .unwrap_or_default();
        for c in children {
            let Some((multi, min)) = self.model().object_def(c).map(|d| (d.multi, d.min_entries))
            else {
                continue;
            };
            if multi {
                for _ in 0..min.min(64) {
                    if *budget == 0 {
                        return;
                    }
                    *budget -= 1;
                    if self.create_within(c, nums, budget).is_none() {
                        break;
                    }
                }
            } else {
                self.populate_min(c, nums, depth + 1, budget);
            }
        }
    }

    /// Deletes instance `nums` (its last number) of `table` and everything below it.
    pub(crate) fn remove_instance(&mut self, table: ObjectId, nums: &[u32]) -> bool {
        let Some((&n, parent)) = nums.split_last() else {
            return false;
        };
        let mut list = self.instances(table, parent).to_vec();
        let Ok(pos) = list.binary_search(&n) else {
            return false;
        };
        let next = self.next_instance(table, parent);
        list.remove(pos);
        self.overlay.tables.insert(
            key(table.0, parent),
            Table {
                instances: list,
                next,
            },
        );
        self.purge(table, nums);
        true
    }

    /// Drops the overlay entries below instance `nums` of `table`.
    fn purge(&mut self, table: ObjectId, nums: &[u32]) {
        let template = Arc::clone(&self.template);
        let model = &template.model;
        let Some(last) = nums.len().checked_sub(1) else {
            return;
        };
        let under = |obj: Option<ObjectId>, rest: &[u32]| -> bool {
            obj.and_then(|o| model.object_def(o))
                .is_some_and(|d| d.tables.get(last) == Some(&table))
                && rest.starts_with(nums)
        };
        let param_under = |k: &[u32]| -> bool {
            k.split_first().is_some_and(|(&p, rest)| {
                under(model.param_def(ParamId(p)).map(|d| d.object), rest)
            })
        };
        self.overlay.values.retain(|k, _| !param_under(k));
        self.overlay.attrs.retain(|k, _| !param_under(k));
        self.overlay.pending.retain(|k, _| !param_under(k));
        self.overlay.tables.retain(|k, _| {
            !k.split_first()
                .is_some_and(|(&t, rest)| under(Some(ObjectId(t)), rest))
        });
    }
}

impl DataModel for Tree {
    fn root(&self) -> &str {
        self.model().root()
    }

    fn handle_parameter_rpc(
        &mut self,
        request: &cwmp::Body<'_>,
        now: Time,
    ) -> Option<cwmp::Body<'static>> {
        rpc::handle(self, request, now)
    }

    fn value(&self, path: &str, now: Time) -> Option<ParameterValue<'static>> {
        match self.resolve(path)? {
            Target::Param(p, nums) => Some(self.typed(p, &nums, now)),
            _ => None,
        }
    }

    /// Also `false` when the value does not fit the parameter's type and facets (enumeration
    /// values reserved to the CPE are allowed), and for the identity parameters and
    /// `NumberOfEntries` counts, which the device cannot set this way. Setting `UpTime`
    /// moves the boot time.
    fn set_value(&mut self, path: &str, value: ParameterValue<'static>, now: Time) -> bool {
        let Some(Target::Param(p, nums)) = self.resolve(path) else {
            return false;
        };
        let Ok(canonical) = self.model().check_value(p, &value, false) else {
            return false;
        };
        match self.template.kind(p) {
            ParamKind::Identity(_) | ParamKind::NumEntries(_) => return false,
            ParamKind::UpTime => {
                let secs: u64 = canonical.parse().unwrap_or(0);
                self.boot = Time(now.0.saturating_sub(secs.saturating_mul(1000)));
                return true;
            }
            _ => {}
        }
        if *self.text(p, &nums, now) == *canonical {
            return true;
        }
        self.store(p, &nums, canonical);
        self.record_change(p, &nums);
        true
    }

    /// `None` when the table does not exist or is full (`maxEntries`). AddObject's
    /// writability does not apply: the device may create instances of read-only tables
    /// (`Hosts.Host`, `DeploymentUnit`).
    fn add_instance(&mut self, table: &str, now: Time) -> Option<u32> {
        let Some(Target::Table(t, parent)) = self.resolve(table) else {
            return None;
        };
        let _ = now;
        let n = self.create_instance(t, &parent)?;
        if let Some(ne) = self.model().object_def(t).and_then(|d| d.num_entries) {
            self.record_change(ne, &parent);
        }
        Some(n)
    }

    fn delete_instance(&mut self, object: &str, now: Time) -> bool {
        let _ = now;
        let Some(Target::Object(o, nums)) = self.resolve(object) else {
            return false;
        };
        let Some(def) = self.model().object_def(o) else {
            return false;
        };
        if !def.multi || !object.ends_with('.') {
            return false;
        }
        let ne = def.num_entries;
        if !self.remove_instance(o, &nums) {
            return false;
        }
        if let (Some(ne), Some((_, parent))) = (ne, nums.split_last()) {
            self.record_change(ne, parent);
        }
        true
    }

    /// Forced-inform parameters in model order (for one inside a table, such as TR-098's
    /// `ExternalIPAddress`, the first instance with a non-empty value: the default
    /// connection), then the changed parameters with notification in tree order, each once.
    fn inform_parameters(&self, now: Time) -> Vec<ParameterValueStruct<'static>> {
        let mut out = Vec::new();
        let mut seen: Vec<Box<[u32]>> = Vec::new();
        for &p in &self.template.forced {
            let Some(def) = self.model().param_def(p) else {
                continue;
            };
            let in_table = self
                .model()
                .object_def(def.object)
                .is_some_and(|o| !o.tables.is_empty());
            let chosen = if in_table {
                self.all_instances(def.object)
                    .into_iter()
                    .find(|nums| !self.text(p, nums, now).is_empty())
            } else {
                Some(Vec::new())
            };
            if let Some(nums) = chosen {
                out.push(ParameterValueStruct::new(
                    self.param_name(p, &nums),
                    self.typed(p, &nums, now),
                ));
                seen.push(key(p.0, &nums));
            }
        }
        for k in self.overlay.pending.keys() {
            if seen.contains(k) {
                continue;
            }
            if let Some((&p, nums)) = k.split_first() {
                out.push(ParameterValueStruct::new(
                    self.param_name(ParamId(p), nums),
                    self.typed(ParamId(p), nums, now),
                ));
            }
        }
        out
    }

    fn pending_changes(&self) -> PendingChanges {
        PendingChanges {
            any: !self.overlay.pending.is_empty(),
            active: self.overlay.pending.values().any(|&a| a),
        }
    }

    fn clear_changes(&mut self) {
        self.overlay.pending.clear();
    }

    /// Drops the whole overlay (values, attributes, instances, instance counters, pending
    /// changes); ParameterKey becomes empty even if the profile gave it a value. A factory
    /// reset reboots the device, so the boot time becomes `now` too.
    fn factory_reset(&mut self, now: Time) {
        self.overlay = Overlay::default();
        self.boot = now;
        if let Some(p) = self.template.parameter_key
            && !self.factory_text(p, &[]).is_empty()
        {
            self.overlay.values.insert(key(p.0, &[]), "".into());
        }
    }

    /// Pending changes are kept: the agent decides what a reboot does to events.
    fn reboot(&mut self, now: Time) {
        self.boot = now;
    }

    fn requested_diagnostics(&self) -> Vec<String> {
        Tree::requested_diagnostics(self)
    }

    fn instance_numbers(&self, table: &str) -> Option<Vec<u32>> {
        Tree::instance_numbers(self, table)
    }

    /// From the [`Identity`], which the `DeviceInfo` parameters always equal.
    fn device_id(&self) -> cwmp::DeviceIdStruct<'static> {
        Tree::device_id(self)
    }

    /// Not blanked: hidden values (`Password`) are the device's own.
    fn management_value(&self, name: &str, now: Time) -> Option<ParameterValue<'static>> {
        Tree::management_value(self, name, now)
    }

    fn inform_parameter_extras(
        &self,
        events: &[&str],
        now: Time,
    ) -> Vec<ParameterValueStruct<'static>> {
        Tree::inform_parameter_extras(self, events, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concrete_paths() {
        assert_eq!(
            concrete("Device.A.{i}.B.{i}.C", &[3, 14]),
            "Device.A.3.B.14.C"
        );
        assert_eq!(concrete("Device.A.", &[]), "Device.A.");
        assert_eq!(concrete("Device.A.{i}.", &[]), "Device.A.{i}.");
    }

    #[test]
    fn trees_cross_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Tree>();
        shared::<Template>();
    }

    /// A new instance whose nested tables each ask for 64 instances brings at most
    /// MAX_NESTED_INSTANCES with it, not 64^n.
    #[test]
    fn nested_min_entries_of_a_new_instance_are_bounded() {
        let mut objects = String::from(
            "<object name=\"Device.\" access=\"readOnly\" minEntries=\"1\" maxEntries=\"1\"/>\
             <object name=\"Device.A.{i}.\" access=\"readWrite\" minEntries=\"0\" \
             maxEntries=\"unbounded\"/>",
        );
        let mut path = String::from("Device.A.{i}.");
        for level in 0..5 {
            path.push_str(&format!("T{level}.{{i}}."));
            objects.push_str(&format!(
                "<object name=\"{path}\" access=\"readOnly\" minEntries=\"64\" \
                 maxEntries=\"unbounded\"/>"
            ));
        }
        let doc = format!(
            "<dm:document xmlns:dm=\"urn:broadband-forum-org:cwmp:datamodel-1-14\">\
             <model name=\"Device:2.1\">{objects}</model></dm:document>"
        );
        let model = Model::from_bbf_str(&doc, "nested.xml").unwrap();
        let template = Arc::new(Template::from_model(model));
        let id = template.identity(1, "S1");
        let mut tree = Tree::new(template, id, Time(0));
        assert_eq!(tree.add_instance("Device.A.", Time(0)), Some(1));
        let total: usize = tree
            .overlay
            .tables
            .values()
            .map(|t| t.instances.len())
            .sum();
        assert!(total <= MAX_NESTED_INSTANCES + 1, "{total}");
        assert!(total > 64, "{total}");
        // Depth first: the first branch takes the budget.
        assert!(
            tree.instance_numbers("Device.A.1.T0.1.T1.1.T2.1.T3.1.T4.")
                .is_some_and(|l| l.len() == 64)
        );
        assert!(tree.delete_instance("Device.A.1.", Time(0)));
        assert_eq!(tree.instance_numbers("Device.A."), Some(vec![]));
    }

    #[test]
    fn stack_keys() {
        assert_eq!(with_key(7, &[1, 2], |k| k.to_vec()), vec![7, 1, 2]);
        let long: Vec<u32> = (0..20).collect();
        assert_eq!(with_key(7, &long, |k| k.len()), 21);
    }
}
