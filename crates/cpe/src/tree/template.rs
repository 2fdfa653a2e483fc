//! [`Template`]: what all devices of one kind share, built once and kept behind an `Arc`:
//! the definitions ([`Model`]), the factory instances and the factory values.
//!
//! # Which parameters and instances a device has
//!
//! - From a BBF model alone ([`Template::from_model`]): every object and parameter of the
//!   model; **no instances of multi-instance tables** except what `minEntries` requires (the
//!   tree is "the whole model, tables empty"); values are the model's defaults, or the null
//!   value of the type adjusted to its facets (the first enumeration value, the lower bound
//!   of a range excluding 0).
//! - From a profile and a model ([`Template::from_profile`] with `Some(model)`): the
//!   definitions of the model restricted to what the profile names (a device supports what
//!   it reports), plus, for a table the profile declares without naming any of its
//!   parameters, the model's whole subtree of that table, plus the `NumberOfEntries`
//!   parameters of every table. Instances and values come from the profile. Parameters the
//!   model does not define (vendor `X_` extensions) get definitions inferred as below.
//! - From a profile alone: definitions inferred from the profile (see
//!   [`crate::model::profile`]).
//!
//! Factory values that do not fit their definitions (real dumps have `-1` in unsignedInt
//! parameters) are kept as written and reported by [`Template::warnings`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use crate::model::{
    Access, ActiveNotify, BaseType, EnumValue, ListFacet, LoadError, Model, ObjectId, ParamDef,
    ParamId, Profile, ProfileEntry, Range, Syntax, profile::parse_bounds, split_param_path,
};

use super::Identity;
use super::placeholder;

/// A factory value: the text, and whether it holds placeholders to render per device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FactoryValue {
    pub(crate) text: Box<str>,
    pub(crate) templated: bool,
}

/// The identity fields the device reads from its [`Identity`] rather than from values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdField {
    Manufacturer,
    Oui,
    ProductClass,
    SerialNumber,
}

/// Parameters whose value is computed when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    Plain,
    /// `DeviceInfo.Manufacturer`, `ManufacturerOUI`, `ProductClass`, `SerialNumber`: from
    /// the identity, so that they always equal the Inform's DeviceId (notes §6.3).
    Identity(IdField),
    /// `DeviceInfo.UpTime`: seconds since boot.
    UpTime,
    /// `Time.CurrentLocalTime`: now.
    LocalTime,
    /// A traffic counter (`...Stats.BytesSent` etc.) growing from boot.
    Counter {
        packets: bool,
        sent: bool,
    },
    /// A table's `...NumberOfEntries`.
    NumEntries(ObjectId),
    /// A `DiagnosticsState` (plain value; listed by `Tree::requested_diagnostics`).
    DiagnosticsState,
}

/// Definitions, factory instances and factory values shared by all devices of a kind.
#[derive(Clone)]
pub struct Template {
    pub(crate) model: Model,
    /// Factory instances: `[table, parent instance numbers...]` → sorted numbers.
    pub(crate) instances: HashMap<Box<[u32]>, Box<[u32]>>,
    /// Factory values: `[param, instance numbers...]` → value.
    pub(crate) values: HashMap<Box<[u32]>, FactoryValue>,
    pub(crate) kinds: Vec<ParamKind>,
    pub(crate) forced: Vec<ParamId>,
    pub(crate) parameter_key: Option<ParamId>,
    inferred: Vec<String>,
    warnings: Vec<String>,
    manufacturer: String,
    oui: String,
    product_class: String,
    source: String,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("source", &self.source)
            .field("model", &self.model)
            .field("tables", &self.instances.len())
            .field("values", &self.values.len())
            .finish()
    }
}

/// Forced-inform parameters by root (notes §4.5), relative to the root, for definitions
/// inferred from a profile.
const FORCED_DEVICE: &[&str] = &[
    "RootDataModelVersion",
    "DeviceSummary",
    "DeviceInfo.HardwareVersion",
    "DeviceInfo.SoftwareVersion",
    "DeviceInfo.ProvisioningCode",
    "ManagementServer.ParameterKey",
    "ManagementServer.ConnectionRequestURL",
    "ManagementServer.AliasBasedAddressing",
];
const FORCED_IGD: &[&str] = &[
    "DeviceSummary",
    "DeviceInfo.HardwareVersion",
    "DeviceInfo.SoftwareVersion",
    "DeviceInfo.SpecVersion",
    "DeviceInfo.ProvisioningCode",
    "ManagementServer.ParameterKey",
    "ManagementServer.ConnectionRequestURL",
    "ManagementServer.AliasBasedAddressing",
    "WANDevice.{i}.WANConnectionDevice.{i}.WANIPConnection.{i}.ExternalIPAddress",
    "WANDevice.{i}.WANConnectionDevice.{i}.WANPPPConnection.{i}.ExternalIPAddress",
];

/// Most instances `minEntries` makes in a template (see `populate_min_entries`).
pub(crate) const MAX_MIN_INSTANCES: usize = 10_000;

/// Fallback identity when the profile gives none.
const DEFAULT_MANUFACTURER: &str = "cpe-sim";
const DEFAULT_OUI: &str = "000000";
const DEFAULT_PRODUCT_CLASS: &str = "Simulated";

/// A path split into its template form and instance numbers.
struct Split {
    template: String,
    nums: Vec<u32>,
    /// Written with `{i}` somewhere: a definition, not an instance.
    generic: bool,
    /// The last segment is an instance number (an instance path).
    instance: bool,
}

fn split(path: &str) -> Split {
    let is_object = path.ends_with('.');
    let body = path.strip_suffix('.').unwrap_or(path);
    let mut template = String::with_capacity(path.len() + 8);
    let mut nums = Vec::new();
    let mut generic = false;
    let mut instance = false;
    let segs: Vec<&str> = body.split('.').collect();
    let count = segs.len();
    for (i, seg) in segs.into_iter().enumerate() {
        let last = i + 1 == count;
        if seg == "{i}" {
            generic = true;
            template.push_str("{i}");
            instance = last;
        } else if let Ok(n) = seg.parse::<u32>() {
            nums.push(n);
            template.push_str("{i}");
            instance = last;
        } else {
            template.push_str(seg);
            instance = false;
        }
        if !last || is_object {
            template.push('.');
        }
    }
    Split {
        template,
        nums,
        generic,
        instance,
    }
}

fn fkey(id: u32, nums: &[u32]) -> Box<[u32]> {
    let mut v = Vec::with_capacity(nums.len() + 1);
    v.push(id);
    v.extend_from_slice(nums);
    v.into_boxed_slice()
}

impl Template {
    /// Loads what the command line gives: a profile, a BBF model, both, or neither (the
    /// built-in profile).
    pub fn load(profile: Option<&Path>, bbf: Option<&Path>) -> Result<Template, LoadError> {
        let model = bbf.map(Model::from_bbf_file).transpose()?;
        match (profile, model) {
            (None, None) => Template::builtin(),
            (None, Some(model)) => Ok(Template::from_model(model)),
            (Some(p), model) => Template::from_profile(&Profile::from_file(p)?, model),
        }
    }

    /// The built-in TR-181 home gateway ([`Profile::builtin`]), definitions inferred from
    /// the profile (no BBF file needed).
    pub fn builtin() -> Result<Template, LoadError> {
        Template::from_profile(&Profile::builtin()?, None)
    }

    /// The whole model with empty tables (module docs).
    pub fn from_model(model: Model) -> Template {
        let source = model.name().to_owned();
        let mut t = Template::empty(model, source);
        t.populate_min_entries();
        t.finish(&HashMap::new());
        t
    }

    /// A profile, with definitions from `model` when given (module docs).
    pub fn from_profile(profile: &Profile, model: Option<Model>) -> Result<Template, LoadError> {
        let root = profile.root().to_owned();
        let (mut model, from_bbf) = match model {
            Some(m) => {
                if m.root() != root {
                    return Err(LoadError::Invalid {
                        file: profile.source().to_owned(),
                        message: format!(
                            "the profile's root {root} is not the model's root {}",
                            m.root()
                        ),
                    });
                }
                (select(&m, profile), true)
            }
            None => {
                let name = if root == "InternetGatewayDevice." {
                    "InternetGatewayDevice:1"
                } else {
                    "Device:2"
                };
                (Model::empty(name, &root), false)
            }
        };
        let defined_params = model.params().len();
        let defined_objects = model.objects().len();
        let inferred = infer(&mut model, profile)?;
        let source = profile.source().to_owned();
        let mut t = Template::empty(model, source.clone());
        t.inferred = inferred;
        let err = |line: usize, message: String| LoadError::Syntax {
            file: source.clone(),
            line,
            message,
        };

        // Table attributes from object lines, for inferred objects only.
        for e in profile.entries().iter().filter(|e| e.is_object) {
            let s = split(&e.path);
            let table = t.model.object_id(&s.template).filter(|&id| {
                t.model.object_def(id).is_some_and(|o| o.multi) && (s.instance || s.generic)
            });
            let table = table.or_else(|| t.model.object_id(&format!("{}{{i}}.", s.template)));
            let Some(table) = table else { continue };
            if from_bbf && table.index() < defined_objects {
                continue;
            }
            apply_table_attrs(&mut t.model, table, e);
        }

        // Instances and values.
        let mut lines: HashMap<Box<[u32]>, usize> = HashMap::new();
        for e in profile.entries() {
            let s = split(&e.path);
            if e.is_object {
                let obj = t
                    .model
                    .object_id(&s.template)
                    .or_else(|| t.model.object_id(&format!("{}{{i}}.", s.template)));
                let Some(obj) = obj else { continue };
                if !s.generic {
                    t.add_factory_instances(obj, &s.nums);
                }
                continue;
            }
            let Some(pid) = t.model.param_id(&s.template) else {
                continue;
            };
            if s.generic {
                // An empty value leaves the default unset: the null value of the type (and
                // `cpe-N` for an Alias).
                if let Some(def) = t.model.param_mut(pid).filter(|_| !e.value.is_empty()) {
                    def.default = Some(e.value.as_str().into());
                }
                continue;
            }
            let obj = t.model.param_def(pid).map(|p| p.object);
            if let Some(obj) = obj {
                t.add_factory_instances(obj, &s.nums);
            }
            let key = fkey(pid.0, &s.nums);
            if let Some(first) = lines.insert(key.clone(), e.line) {
                return Err(err(
                    e.line,
                    format!("{} already given on line {first}", e.path),
                ));
            }
            t.values.insert(
                key,
                FactoryValue {
                    templated: placeholder::has_placeholders(&e.value),
                    text: e.value.as_str().into(),
                },
            );
        }
        let _ = defined_params;
        t.populate_min_entries();
        t.finish(&lines);
        Ok(t)
    }

    fn empty(model: Model, source: String) -> Template {
        Template {
            model,
            instances: HashMap::new(),
            values: HashMap::new(),
            kinds: Vec::new(),
            forced: Vec::new(),
            parameter_key: None,
            inferred: Vec::new(),
            warnings: Vec::new(),
            manufacturer: DEFAULT_MANUFACTURER.into(),
            oui: DEFAULT_OUI.into(),
            product_class: DEFAULT_PRODUCT_CLASS.into(),
            source,
        }
    }

    /// Makes instance `nums[k]` of each table along `obj`'s path exist.
    fn add_factory_instances(&mut self, obj: ObjectId, nums: &[u32]) {
        let Some(def) = self.model.object_def(obj) else {
            return;
        };
        let tables = def.tables.clone();
        for (k, (&table, &n)) in tables.iter().zip(nums).enumerate() {
            let key = fkey(table.0, nums.get(..k).unwrap_or(&[]));
            let list = self.instances.entry(key).or_default();
            if !list.contains(&n) {
                let mut v = list.to_vec();
                v.push(n);
                v.sort_unstable();
                *list = v.into_boxed_slice();
            }
        }
    }

    /// Creates `minEntries` instances of tables that have none, below every factory
    /// instance: at most [`MAX_MIN_INSTANCES`] in all (nested tables asking for 64 each
    /// would otherwise ask for 64^n), with a warning when that cuts them short.
    fn populate_min_entries(&mut self) {
        let mut nums = Vec::new();
        let mut budget = MAX_MIN_INSTANCES;
        self.populate_below(self.model.root_id(), &mut nums, 0, &mut budget);
        if budget == 0 {
            self.warnings.push(format!(
                "{}: minEntries asks for more than {MAX_MIN_INSTANCES} instances; \
                 only that many were created",
                self.source
            ));
        }
    }

    fn populate_below(
        &mut self,
        obj: ObjectId,
        nums: &mut Vec<u32>,
        depth: usize,
        budget: &mut usize,
    ) {
        if depth > 32 {
            return;
        }
        let children = self
            .model
            .object_def(obj)
            .map(|o| o.children.clone())
            .unwrap_or_default();
        for c in children {
            let Some(def) = self.model.object_def(c) else {
                continue;
            };
            if !def.multi {
                self.populate_below(c, nums, depth + 1, budget);
                continue;
            }
            let min = usize::try_from(def.min_entries.min(64)).unwrap_or(64);
            let key = fkey(c.0, nums);
            if min > 0 && self.instances.get(&key).is_none_or(|l| l.is_empty()) {
                // One past the budget marks it as exhausted (`budget` reaches 0).
                let n = min.min(*budget);
                *budget -= n;
                if n < min {
                    *budget = 0;
                }
                if n > 0 {
                    let last = u32::try_from(n).unwrap_or(64);
                    self.instances
                        .insert(key.clone(), (1..=last).collect::<Vec<_>>().into());
                }
            }
            let list = self.instances.get(&key).cloned().unwrap_or_default();
            for n in list.iter() {
                nums.push(*n);
                self.populate_below(c, nums, depth + 1, budget);
                nums.pop();
            }
        }
    }

    /// Kinds, forced-inform list, identity defaults, and checks of the factory values.
    fn finish(&mut self, lines: &HashMap<Box<[u32]>, usize>) {
        let root = self.model.root().to_owned();
        let info = format!("{root}DeviceInfo.");
        let time = format!("{root}Time.");
        let mut kinds = vec![ParamKind::Plain; self.model.params().len()];
        for (i, p) in self.model.params().iter().enumerate() {
            let obj = self
                .model
                .object_def(p.object)
                .map(|o| &*o.path)
                .unwrap_or("");
            let name = &*p.name;
            let kind = if obj == info {
                match name {
                    "Manufacturer" => ParamKind::Identity(IdField::Manufacturer),
                    "ManufacturerOUI" => ParamKind::Identity(IdField::Oui),
                    "ProductClass" => ParamKind::Identity(IdField::ProductClass),
                    "SerialNumber" => ParamKind::Identity(IdField::SerialNumber),
                    "UpTime" => ParamKind::UpTime,
                    _ => ParamKind::Plain,
                }
            } else if obj == time && name == "CurrentLocalTime" {
                ParamKind::LocalTime
            } else if name == "DiagnosticsState" {
                ParamKind::DiagnosticsState
            } else {
                counter_kind(obj, name, p.syntax.base).unwrap_or(ParamKind::Plain)
            };
            if let Some(k) = kinds.get_mut(i) {
                *k = kind;
            }
            if p.forced_inform {
                self.forced
                    .push(ParamId(u32::try_from(i).unwrap_or(u32::MAX)));
            }
        }
        for o in self.model.objects() {
            if let Some(ne) = o.num_entries
                && let (Some(k), Some(table)) =
                    (kinds.get_mut(ne.index()), self.model.object_id(&o.path))
            {
                *k = ParamKind::NumEntries(table);
            }
        }
        self.kinds = kinds;
        self.parameter_key = self
            .model
            .param_id(&format!("{root}ManagementServer.ParameterKey"));

        let plain = |t: &Template, name: &str| -> Option<String> {
            let pid = t.model.param_id(&format!("{info}{name}"))?;
            let v = t.values.get(&fkey(pid.0, &[]))?;
            (!v.templated && !v.text.is_empty()).then(|| v.text.to_string())
        };
        if let Some(v) = plain(self, "Manufacturer") {
            self.manufacturer = v;
        }
        if let Some(v) = plain(self, "ManufacturerOUI") {
            self.oui = v;
        }
        if let Some(v) = plain(self, "ProductClass") {
            self.product_class = v;
        }

        // Check and canonicalise factory values and defaults.
        let sample = self.identity(0, "SAMPLE0000");
        let mut warnings = Vec::new();
        let mut keys: Vec<&Box<[u32]>> = self.values.keys().collect();
        keys.sort();
        let mut canonical: Vec<(Box<[u32]>, Box<str>)> = Vec::new();
        for key in keys {
            let Some(v) = self.values.get(key) else {
                continue;
            };
            let Some((&pid, nums)) = key.split_first() else {
                continue;
            };
            let pid = ParamId(pid);
            let text = placeholder::render(&v.text, &sample);
            match self.model.check_text(pid, &text) {
                Ok(c) => {
                    if !v.templated && *c != *v.text {
                        canonical.push((key.clone(), c.into()));
                    }
                }
                Err(e) => {
                    let line = lines
                        .get(key)
                        .map(|l| format!("{}:{l}: ", self.source))
                        .unwrap_or_default();
                    let path = super::concrete(&self.model.param_path(pid), nums);
                    warnings.push(format!("{line}{path} = {:?}: {e}", &*text));
                }
            }
        }
        for (key, text) in canonical {
            if let Some(v) = self.values.get_mut(&key) {
                v.text = text;
            }
        }
        for (i, p) in self.model.params().iter().enumerate() {
            if let Some(d) = &p.default {
                let pid = ParamId(u32::try_from(i).unwrap_or(u32::MAX));
                let text = placeholder::render(d, &sample);
                if let Err(e) = self.model.check_text(pid, &text) {
                    warnings.push(format!(
                        "default of {} = {:?}: {e}",
                        self.model.param_path(pid),
                        &*text
                    ));
                }
            }
        }
        self.warnings.extend(warnings);
    }

    /// The definitions.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The root object, `Device.` or `InternetGatewayDevice.`.
    pub fn root(&self) -> &str {
        self.model.root()
    }

    /// Where the template came from (profile file or model name).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Template paths whose definitions were inferred from the profile (not in the BBF
    /// model); all of them for a profile used alone.
    pub fn inferred(&self) -> &[String] {
        &self.inferred
    }

    /// Factory values and defaults that do not fit their definitions, with file, line,
    /// path and reason (placeholders are rendered for a sample device); and `minEntries`
    /// instances left out past 10,000 in all.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Replaces the factory value of a parameter outside any table (e.g.
    /// `Device.ManagementServer.URL` from the command line), so that devices start with it
    /// and return to it on FactoryReset, as a real device's factory configuration does.
    /// The value is checked against the parameter's definition; `{serial}`-style
    /// placeholders are not expanded in it.
    pub fn set_factory_value(&mut self, path: &str, text: &str) -> Result<(), String> {
        self.set_factory(path, text, false)
    }

    /// Like [`Template::set_factory_value`], with placeholders (`{serial}`, `{ip}`, ...)
    /// rendered per device: e.g. `ConnectionRequestURL` =
    /// `http://192.0.2.1:7548/cr/{serial}`.
    pub fn set_factory_template(&mut self, path: &str, text: &str) -> Result<(), String> {
        self.set_factory(path, text, true)
    }

    fn set_factory(&mut self, path: &str, text: &str, templated: bool) -> Result<(), String> {
        let pid = self
            .model
            .param_id(path)
            .ok_or_else(|| format!("{path}: no such parameter in the data model"))?;
        let canonical = self
            .model
            .check_text(pid, text)
            .map_err(|e| format!("{path}: {e}"))?;
        self.values.insert(
            fkey(pid.0, &[]),
            FactoryValue {
                text: canonical.into_boxed_str(),
                templated: templated && placeholder::has_placeholders(text),
            },
        );
        Ok(())
    }

    /// An identity for device number `index` with serial number `serial`, manufacturer,
    /// OUI and product class from the profile's `DeviceInfo` values.
    pub fn identity(&self, index: u64, serial: impl Into<String>) -> Identity {
        Identity {
            manufacturer: self.manufacturer.clone(),
            oui: self.oui.clone(),
            product_class: self.product_class.clone(),
            serial_number: serial.into(),
            index,
        }
    }

    /// The factory instance numbers of a table, by parent key.
    pub(crate) fn factory_instances(&self, key: &[u32]) -> &[u32] {
        self.instances.get(key).map(|b| &b[..]).unwrap_or(&[])
    }

    pub(crate) fn kind(&self, pid: ParamId) -> ParamKind {
        self.kinds
            .get(pid.index())
            .copied()
            .unwrap_or(ParamKind::Plain)
    }
}

fn counter_kind(obj: &str, name: &str, base: BaseType) -> Option<ParamKind> {
    if !matches!(base, BaseType::UnsignedInt | BaseType::UnsignedLong) {
        return None;
    }
    let (stem, total) = match name.strip_prefix("Total") {
        Some(rest) => (rest, true),
        None => (name, false),
    };
    // `Total...` counters are TR-098's (WANCommonInterfaceConfig, WLANConfiguration);
    // elsewhere (TR-181 download diagnostics) they are results, not traffic.
    let counters = if total {
        obj.ends_with(".WANCommonInterfaceConfig.") || obj.ends_with(".WLANConfiguration.{i}.")
    } else {
        obj.ends_with(".Stats.")
    };
    if !counters {
        return None;
    }
    let (packets, sent) = match stem {
        "BytesSent" => (false, true),
        "BytesReceived" => (false, false),
        "PacketsSent" => (true, true),
        "PacketsReceived" => (true, false),
        _ => return None,
    };
    Some(ParamKind::Counter { packets, sent })
}

/// The model restricted to what the profile names (module docs).
fn select(model: &Model, profile: &Profile) -> Model {
    let mut keep_o = vec![false; model.objects().len()];
    let mut keep_p = vec![false; model.params().len()];
    for e in profile.entries() {
        let s = split(&e.path);
        if e.is_object {
            let id = model
                .object_id(&s.template)
                .or_else(|| model.object_id(&format!("{}{{i}}.", s.template)));
            if let Some(k) = id.and_then(|id| keep_o.get_mut(id.index())) {
                *k = true;
            }
        } else if let Some(k) = model
            .param_id(&s.template)
            .and_then(|id| keep_p.get_mut(id.index()))
        {
            *k = true;
        }
    }
    // Objects holding a kept parameter, and their ancestors.
    let mut has_param = vec![false; model.objects().len()];
    for (i, p) in model.params().iter().enumerate() {
        if keep_p.get(i).copied().unwrap_or(false) {
            let mut cur = Some(p.object);
            while let Some(o) = cur {
                if let Some(h) = has_param.get_mut(o.index()) {
                    *h = true;
                }
                if let Some(k) = keep_o.get_mut(o.index()) {
                    *k = true;
                }
                cur = model.object_def(o).and_then(|d| d.parent);
            }
        }
    }
    // Declared tables naming no parameter: their whole subtree.
    let whole: Vec<String> = model
        .objects()
        .iter()
        .enumerate()
        .filter(|(i, o)| {
            o.multi
                && keep_o.get(*i).copied().unwrap_or(false)
                && !has_param.get(*i).copied().unwrap_or(false)
        })
        .map(|(_, o)| o.path.to_string())
        .collect();
    if !whole.is_empty() {
        for (i, o) in model.objects().iter().enumerate() {
            if whole.iter().any(|w| o.path.starts_with(w.as_str())) {
                if let Some(k) = keep_o.get_mut(i) {
                    *k = true;
                }
                for p in &o.params {
                    if let Some(k) = keep_p.get_mut(p.index()) {
                        *k = true;
                    }
                }
            }
        }
    }
    // Ancestors of kept objects, then the NumberOfEntries of kept tables.
    for i in 0..keep_o.len() {
        if keep_o.get(i).copied().unwrap_or(false) {
            let mut cur = model.objects().get(i).and_then(|o| o.parent);
            while let Some(o) = cur {
                if let Some(k) = keep_o.get_mut(o.index()) {
                    *k = true;
                }
                cur = model.object_def(o).and_then(|d| d.parent);
            }
        }
    }
    for (i, o) in model.objects().iter().enumerate() {
        if o.multi
            && keep_o.get(i).copied().unwrap_or(false)
            && let Some(k) = o.num_entries.and_then(|p| keep_p.get_mut(p.index()))
        {
            *k = true;
        }
    }
    model.subset(&keep_o, &keep_p)
}

/// Adds definitions for profile entries the model lacks; their template paths.
fn infer(model: &mut Model, profile: &Profile) -> Result<Vec<String>, LoadError> {
    let root = model.root().to_owned();
    let mut inferred = Vec::new();
    let mut inferred_set: HashSet<ParamId> = HashSet::new();
    let mut deferred: Vec<String> = Vec::new();
    let mut new_tables: Vec<ObjectId> = Vec::new();
    for e in profile.entries() {
        let s = split(&e.path);
        if e.is_object {
            let known = model.object_id(&s.template).is_some()
                || model.object_id(&format!("{}{{i}}.", s.template)).is_some();
            if known {
                continue;
            }
            if s.instance || s.generic && s.template.ends_with("{i}.") {
                let before = model.objects().len();
                let id = model.ensure_object(&s.template);
                if model.objects().len() > before {
                    inferred.push(s.template.clone());
                    new_tables.push(id);
                }
            } else {
                deferred.push(s.template);
            }
            continue;
        }
        if let Some(pid) = model.param_id(&s.template) {
            if inferred_set.contains(&pid) {
                apply_param_attrs(model, pid, e).map_err(|m| line_error(profile, e, m))?;
            }
            continue;
        }
        let Some((obj_path, name)) = split_param_path(&s.template) else {
            continue;
        };
        let Some(base) = e.base else {
            return Err(line_error(
                profile,
                e,
                format!("{} needs a type: the data model does not define it", e.path),
            ));
        };
        let before = model.objects().len();
        let obj = model.ensure_object(obj_path);
        for o in before..model.objects().len() {
            if let Some(def) = model.objects().get(o)
                && def.multi
            {
                new_tables.push(ObjectId(u32::try_from(o).unwrap_or(u32::MAX)));
            }
        }
        let rel = s.template.strip_prefix(&root).unwrap_or(&s.template);
        let def = well_known(&root, rel, obj_path, name, base, e.writable);
        let def = ParamDef { object: obj, ..def };
        let pid = model.add_param(def);
        inferred_set.insert(pid);
        inferred.push(s.template.clone());
        apply_param_attrs(model, pid, e).map_err(|m| line_error(profile, e, m))?;
    }
    for path in deferred {
        if model.object_id(&path).is_none() && model.object_id(&format!("{path}{{i}}.")).is_none() {
            model.ensure_object(&path);
            inferred.push(path);
        }
    }
    // NumberOfEntries of inferred tables: `<Table>NumberOfEntries` in the parent.
    let mut links = Vec::new();
    for t in new_tables {
        let Some(def) = model.object_def(t) else {
            continue;
        };
        if def.num_entries.is_some() {
            continue;
        }
        let table = def.table_path().trim_end_matches('.');
        let name = table.rsplit('.').next().unwrap_or("");
        links.push((t, format!("{name}NumberOfEntries")));
    }
    model.link_num_entries(&links);
    Ok(inferred)
}

fn line_error(profile: &Profile, e: &ProfileEntry, message: String) -> LoadError {
    LoadError::Syntax {
        file: profile.source().to_owned(),
        line: e.line,
        message,
    }
}

/// The definition of a parameter known only from a profile: its type and writability,
/// with the forced-inform list, `activeNotify` and hidden/secured the standard models give
/// the standard names (notes §4.5, §6.2).
fn well_known(
    root: &str,
    rel: &str,
    obj_path: &str,
    name: &str,
    base: BaseType,
    writable: bool,
) -> ParamDef {
    let forced = if root == "InternetGatewayDevice." {
        FORCED_IGD.contains(&rel)
    } else {
        FORCED_DEVICE.contains(&rel)
    };
    let active_notify = match rel {
        "DeviceInfo.SoftwareVersion" | "DeviceInfo.ProvisioningCode" => ActiveNotify::ForceEnabled,
        "ManagementServer.ConnectionRequestURL" => ActiveNotify::ForceDefaultEnabled,
        "DeviceInfo.UpTime" | "ManagementServer.ParameterKey" => ActiveNotify::CanDeny,
        _ if name == "ExternalIPAddress" && root == "InternetGatewayDevice." => {
            ActiveNotify::ForceDefaultEnabled
        }
        _ if obj_path.ends_with(".Stats.") => ActiveNotify::CanDeny,
        _ => ActiveNotify::Normal,
    };
    let in_ms = obj_path == format!("{root}ManagementServer.");
    let hidden = in_ms
        && matches!(
            name,
            "Password" | "ConnectionRequestPassword" | "STUNPassword"
        );
    let secured = !hidden
        && base == BaseType::String
        && [
            "Password",
            "Passphrase",
            "PreSharedKey",
            "WEPKey",
            "Secret",
            "KeyPassphrase",
        ]
        .iter()
        .any(|s| name.ends_with(s));
    ParamDef {
        name: name.into(),
        object: ObjectId(0),
        syntax: Syntax {
            base,
            hidden,
            secured,
            ..Syntax::default()
        },
        access: if writable {
            Access::ReadWrite
        } else {
            Access::ReadOnly
        },
        default: None,
        forced_inform: forced,
        active_notify,
    }
}

/// Applies a profile line's attribute columns to an inferred parameter definition.
fn apply_param_attrs(model: &mut Model, pid: ParamId, e: &ProfileEntry) -> Result<(), String> {
    let mut patterns = Vec::new();
    for a in &e.attrs {
        let (key, value) = a.split_once('=').unwrap_or((a.as_str(), ""));
        if key == "pattern" {
            patterns.push(model.intern_pattern(value));
        }
    }
    let Some(def) = model.param_mut(pid) else {
        return Ok(());
    };
    let mut ranges = Vec::new();
    for a in &e.attrs {
        let (key, value) = a.split_once('=').unwrap_or((a.as_str(), ""));
        let bad = || format!("bad attribute {a:?}");
        match key {
            "hidden" => def.syntax.hidden = true,
            "secured" => def.syntax.secured = true,
            "plain" => {
                def.syntax.hidden = false;
                def.syntax.secured = false;
            }
            "forced" => def.forced_inform = true,
            "writeonce" => def.access = Access::WriteOnceReadOnly,
            "notify" => def.active_notify = ActiveNotify::parse(value).ok_or_else(bad)?,
            "len" => {
                let (min, max, _) = parse_bounds(value).ok_or_else(bad)?;
                def.syntax.min_length = min.and_then(|v| u32::try_from(v).ok());
                def.syntax.max_length = max.and_then(|v| u32::try_from(v).ok());
            }
            "range" => {
                let (min, max, step) = parse_bounds(value).ok_or_else(bad)?;
                ranges.push(Range { min, max, step });
            }
            "enum" | "enum-ro" => {
                for v in value.split('|') {
                    def.syntax.enumeration.push(EnumValue {
                        value: v.into(),
                        read_only: key == "enum-ro",
                    });
                }
            }
            "list" => {
                let (min, max) = if value.is_empty() {
                    (None, None)
                } else {
                    let (min, max, _) = parse_bounds(value).ok_or_else(bad)?;
                    (min, max)
                };
                def.syntax.list = Some(ListFacet {
                    min_items: min.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
                    max_items: max.and_then(|v| u32::try_from(v).ok()),
                    max_length: None,
                });
            }
            "default" => def.default = Some(value.into()),
            _ => {}
        }
    }
    if !ranges.is_empty() {
        def.syntax.ranges = ranges;
    }
    if !patterns.is_empty() {
        def.syntax.patterns = patterns;
    }
    Ok(())
}

/// Applies a table line's writable flag and attributes to an inferred table.
fn apply_table_attrs(model: &mut Model, table: ObjectId, e: &ProfileEntry) {
    let mut entries = None;
    if let Some(def) = model.object_mut(table) {
        if e.writable {
            def.access = Access::ReadWrite;
        }
        for a in &e.attrs {
            let (key, value) = a.split_once('=').unwrap_or((a.as_str(), ""));
            match key {
                "min" => def.min_entries = value.parse().unwrap_or(0),
                "max" => def.max_entries = value.parse().ok(),
                "entries" => entries = Some(value.to_owned()),
                _ => {}
            }
        }
    }
    if let Some(name) = entries {
        model.link_num_entries(&[(table, name)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_paths() {
        let s = split("Device.WiFi.SSID.2.Stats.BytesSent");
        assert_eq!(s.template, "Device.WiFi.SSID.{i}.Stats.BytesSent");
        assert_eq!(s.nums, vec![2]);
        assert!(!s.generic && !s.instance);
        let s = split("Device.WiFi.SSID.2.");
        assert_eq!(s.template, "Device.WiFi.SSID.{i}.");
        assert!(s.instance);
        let s = split("Device.NAT.PortMapping.{i}.Enable");
        assert!(s.generic);
        let s = split("Device.NAT.PortMapping.");
        assert_eq!(s.template, "Device.NAT.PortMapping.");
        assert!(!s.instance);
    }

    #[test]
    fn profile_alone_infers_tables_and_counts() {
        let text = "Device.RootDataModelVersion\txsd:string\t0\t2.17\n\
                    Device.DeviceInfo.Manufacturer\txsd:string\t0\tAcme\n\
                    Device.DeviceInfo.ManufacturerOUI\txsd:string\t0\t00259E\n\
                    Device.DeviceInfo.SerialNumber\txsd:string\t0\t{serial}\n\
                    Device.DeviceInfo.UpTime\txsd:unsignedInt\t0\t0\n\
                    Device.ManagementServer.Password\txsd:string\t1\tsecret\n\
                    Device.Things.ThingNumberOfEntries\txsd:unsignedInt\t0\t2\n\
                    Device.Things.Thing.\t\t1\t\tmax=3\n\
                    Device.Things.Thing.1.Name\txsd:string\t1\ta\tlen=8\n\
                    Device.Things.Thing.3.Name\txsd:string\t1\tb\n\
                    Device.Things.Thing.{i}.Name\txsd:string\t1\tnew\n\
                    Device.Things.Thing.1.Level\txsd:int\t1\t01\trange=-5:5\n\
                    Device.Things.Thing.3.Level\txsd:int\t1\t9\n";
        let p = Profile::parse(text, "t.tsv").unwrap();
        let t = Template::from_profile(&p, None).unwrap();
        let m = t.model();
        let table = m.object("Device.Things.Thing.{i}.").unwrap();
        assert!(table.multi);
        assert_eq!(table.access, Access::ReadWrite);
        assert_eq!(table.max_entries, Some(3));
        assert_eq!(
            table.num_entries,
            m.param_id("Device.Things.ThingNumberOfEntries")
        );
        let tid = m.object_id("Device.Things.Thing.{i}.").unwrap();
        assert_eq!(t.factory_instances(&[tid.0]), &[1, 3]);
        let name = m.param("Device.Things.Thing.{i}.Name").unwrap();
        assert_eq!(name.syntax.max_length, Some(8));
        assert_eq!(name.default.as_deref(), Some("new"));
        assert!(
            m.param("Device.ManagementServer.Password")
                .unwrap()
                .syntax
                .hidden
        );
        assert!(
            m.param("Device.RootDataModelVersion")
                .unwrap()
                .forced_inform
        );
        assert_eq!(t.identity(1, "S1").oui, "00259E");
        assert_eq!(t.identity(1, "S1").manufacturer, "Acme");
        // 9 is outside -5:5: a warning, with file and line; 01 canonicalised to 1.
        assert_eq!(t.warnings().len(), 1, "{:?}", t.warnings());
        assert!(t.warnings()[0].starts_with("t.tsv:13: Device.Things.Thing.3.Level"));
        let level = m.param_id("Device.Things.Thing.{i}.Level").unwrap();
        assert_eq!(&*t.values[&fkey(level.0, &[1])].text, "1");
    }

    /// Nested tables each asking for 64 instances: 64^5 instances would exhaust memory;
    /// the template stops at MAX_MIN_INSTANCES and says so (found writing the bbf_model
    /// fuzz target).
    #[test]
    fn nested_min_entries_are_bounded() {
        let mut objects = String::from(
            "<object name=\"Device.\" access=\"readOnly\" minEntries=\"1\" maxEntries=\"1\"/>",
        );
        let mut path = String::from("Device.");
        for level in 0..6 {
            path.push_str(&format!("T{level}.{{i}}."));
            objects.push_str(&format!(
                "<object name=\"{path}\" access=\"readWrite\" minEntries=\"64\" \
                 maxEntries=\"unbounded\"><parameter name=\"P\" access=\"readOnly\">\
                 <syntax><string/></syntax></parameter></object>"
            ));
        }
        let doc = format!(
            "<dm:document xmlns:dm=\"urn:broadband-forum-org:cwmp:datamodel-1-14\">\
             <model name=\"Device:2.1\">{objects}</model></dm:document>"
        );
        let model = Model::from_bbf_str(&doc, "nested.xml").unwrap();
        let t = Template::from_model(model);
        let total: usize = t.instances.values().map(|l| l.len()).sum();
        assert!(total <= MAX_MIN_INSTANCES, "{total}");
        assert!(total >= MAX_MIN_INSTANCES - 64, "{total}");
        assert!(
            t.warnings().iter().any(|w| w.contains("minEntries")),
            "{:?}",
            t.warnings()
        );
        // A model within the budget gets everything and no warning.
        let small = doc.replace("minEntries=\"64\"", "minEntries=\"2\"");
        let t = Template::from_model(Model::from_bbf_str(&small, "small.xml").unwrap());
        let total: usize = t.instances.values().map(|l| l.len()).sum();
        assert_eq!(total, 2 + 4 + 8 + 16 + 32 + 64);
        assert!(t.warnings().is_empty(), "{:?}", t.warnings());
    }

    #[test]
    fn duplicate_lines_are_errors() {
        let p = Profile::parse(
            "Device.A\txsd:string\t0\tx\nDevice.A\txsd:string\t0\ty\n",
            "d.tsv",
        )
        .unwrap();
        let e = Template::from_profile(&p, None).unwrap_err().to_string();
        assert!(e.starts_with("d.tsv:2:"), "{e}");
        let p = Profile::parse("Device.A\t\t0\tx\n", "n.tsv").unwrap();
        let e = Template::from_profile(&p, None).unwrap_err().to_string();
        assert!(
            e.starts_with("n.tsv:1:") && e.contains("needs a type"),
            "{e}"
        );
    }
}
