//! The data model of a device: parameter and object definitions (types, access, ranges,
//! enumerations, defaults) from a BBF full data-model XML, a device profile file, or the
//! built-in TR-181 home-gateway profile.
//!
//! A [`Model`] holds *definitions* only, with template paths (`Device.WiFi.SSID.{i}.SSID`,
//! notes §6.2): which objects and parameters exist, their syntax ([`Syntax`]: base type,
//! size, ranges, enumerations, patterns, list facet, hidden/secured), their access, whether
//! they are forced-inform parameters (notes §4.5) and their `activeNotify` attribute. Which
//! instances exist and what the values are is the business of
//! [`Template`](crate::tree::Template) (factory state) and [`Tree`](crate::tree::Tree) (one
//! device).
//!
//! Sources:
//! - [`Model::from_bbf_file`]: a BBF *full* data-model XML (`tr-181-2-17-0-cwmp-full.xml`,
//!   `tr-098-1-8-0-full.xml`), read with quick-xml as a stream of events (no DOM). Named data
//!   types (`<dataType ref="IPAddress"/>`) are resolved to their base type and facets.
//!   `status="deleted"` items are left out; deprecated and obsoleted ones are kept.
//! - [`Profile`]: a device profile (values dumped from a device, see [`profile`] for the
//!   format), which [`Template`](crate::tree::Template) combines with a model or uses alone
//!   (definitions then inferred from the profile).
//!
//! Values are checked against a definition with [`Model::check_value`] (as the ACS sends
//! them in SetParameterValues) and [`Model::check_text`] (text from a profile); both give the
//! canonical text the tree stores, or a [`ValueError`] that maps to fault 9006 or 9007.

pub mod bbf;
pub mod profile;
mod syntax;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use profile::{Profile, ProfileEntry};
pub use syntax::{ValueError, is_xml_char};

/// Index of an object definition in its [`Model`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub(crate) u32);

/// Index of a parameter definition in its [`Model`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(pub(crate) u32);

impl ObjectId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

impl ParamId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// `access` of a parameter or object (cwmp-datamodel `ParameterAccess`, `ObjectAccess`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Access {
    /// The ACS may not write it (an object: no AddObject/DeleteObject).
    #[default]
    ReadOnly,
    /// The ACS may write it (a table: AddObject and DeleteObject allowed).
    ReadWrite,
    /// The ACS may write it once, then it is read-only (e.g. some `Alias` parameters).
    WriteOnceReadOnly,
}

impl Access {
    /// Parses the data-model attribute value.
    pub fn parse(s: &str) -> Option<Access> {
        Some(match s {
            "readOnly" => Access::ReadOnly,
            "readWrite" => Access::ReadWrite,
            "writeOnceReadOnly" => Access::WriteOnceReadOnly,
            _ => return None,
        })
    }
}

/// The `activeNotify` attribute of a parameter (notes §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ActiveNotify {
    /// The ACS may set any notification.
    #[default]
    Normal,
    /// Always active: GetParameterAttributes reports 2 and it cannot be changed.
    ForceEnabled,
    /// Active by default; the ACS may change it.
    ForceDefaultEnabled,
    /// The CPE may refuse active notification (this simulator does: fault 9009).
    CanDeny,
}

impl ActiveNotify {
    /// Parses the data-model attribute value.
    pub fn parse(s: &str) -> Option<ActiveNotify> {
        Some(match s {
            "normal" => ActiveNotify::Normal,
            "forceEnabled" => ActiveNotify::ForceEnabled,
            "forceDefaultEnabled" => ActiveNotify::ForceDefaultEnabled,
            "canDeny" => ActiveNotify::CanDeny,
            _ => return None,
        })
    }
}

/// A primitive data type (notes §2.5). `decimal` exists in the 1-15 schema and a few TR-181
/// 2.17 parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BaseType {
    /// `string`.
    #[default]
    String,
    /// `int` (32 bits).
    Int,
    /// `unsignedInt` (32 bits).
    UnsignedInt,
    /// `long` (64 bits).
    Long,
    /// `unsignedLong` (64 bits).
    UnsignedLong,
    /// `boolean`.
    Boolean,
    /// `dateTime`.
    DateTime,
    /// `base64`; size facets count decoded octets.
    Base64,
    /// `hexBinary`; size facets count decoded octets.
    HexBinary,
    /// `decimal`.
    Decimal,
}

impl BaseType {
    /// The `xsi:type` a value of this type is sent with.
    pub fn xsd_name(self) -> &'static str {
        match self {
            BaseType::String => "xsd:string",
            BaseType::Int => "xsd:int",
            BaseType::UnsignedInt => "xsd:unsignedInt",
            BaseType::Long => "xsd:long",
            BaseType::UnsignedLong => "xsd:unsignedLong",
            BaseType::Boolean => "xsd:boolean",
            BaseType::DateTime => "xsd:dateTime",
            BaseType::Base64 => "xsd:base64Binary",
            BaseType::HexBinary => "xsd:hexBinary",
            BaseType::Decimal => "xsd:decimal",
        }
    }

    /// From a data-model element name (`unsignedInt`) or an `xsi:type` (`xsd:unsignedInt`,
    /// `xsd:base64`, `xsd:base64Binary`).
    pub fn from_name(name: &str) -> Option<BaseType> {
        let local = name.rsplit(':').next().unwrap_or(name);
        Some(match local {
            "string" => BaseType::String,
            "int" => BaseType::Int,
            "unsignedInt" => BaseType::UnsignedInt,
            "long" => BaseType::Long,
            "unsignedLong" => BaseType::UnsignedLong,
            "boolean" => BaseType::Boolean,
            "dateTime" => BaseType::DateTime,
            "base64" | "base64Binary" => BaseType::Base64,
            "hexBinary" => BaseType::HexBinary,
            "decimal" => BaseType::Decimal,
            _ => return None,
        })
    }

    /// The bounds of an integer type.
    pub fn integer_bounds(self) -> Option<(i128, i128)> {
        Some(match self {
            BaseType::Int => (i128::from(i32::MIN), i128::from(i32::MAX)),
            BaseType::UnsignedInt => (0, i128::from(u32::MAX)),
            BaseType::Long => (i128::from(i64::MIN), i128::from(i64::MAX)),
            BaseType::UnsignedLong => (0, i128::from(u64::MAX)),
            _ => return None,
        })
    }
}

/// One `<range>` facet: the value must lie in at least one of a parameter's ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Range {
    /// `minInclusive`.
    pub min: Option<i128>,
    /// `maxInclusive`.
    pub max: Option<i128>,
    /// `step`, counted from `min` (or 0).
    pub step: Option<i128>,
}

impl Range {
    /// Whether `v` lies in the range.
    pub fn contains(&self, v: i128) -> bool {
        let lo = self.min.unwrap_or(i128::MIN);
        if v < lo || v > self.max.unwrap_or(i128::MAX) {
            return false;
        }
        match self.step {
            Some(step) if step > 1 => v
                .checked_sub(self.min.unwrap_or(0))
                .is_some_and(|d| d % step == 0),
            _ => true,
        }
    }
}

/// One `<enumeration>` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumValue {
    /// The value.
    pub value: Box<str>,
    /// `access="readOnly"`: the CPE may report it but the ACS may not set it (e.g.
    /// `DiagnosticsState` `Complete`); SetParameterValues with it gets 9007.
    pub read_only: bool,
}

/// The `<list>` facet: the value is a comma-separated list of items of the base type, sent
/// as `xsd:string`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListFacet {
    /// `minItems`.
    pub min_items: u32,
    /// `maxItems`.
    pub max_items: Option<u32>,
    /// `<list><size maxLength>`: the length of the whole list text.
    pub max_length: Option<u32>,
}

/// What values a parameter takes (the resolved `<syntax>` element).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Syntax {
    /// The primitive type (of each item, for a list).
    pub base: BaseType,
    /// Present for list-valued parameters.
    pub list: Option<ListFacet>,
    /// `<size minLength>`: characters of a string, octets of base64/hexBinary.
    pub min_length: Option<u32>,
    /// `<size maxLength>`.
    pub max_length: Option<u32>,
    /// `<range>` facets of integer types (any one must hold).
    pub ranges: Vec<Range>,
    /// `<enumeration>` values; empty means any value.
    pub enumeration: Vec<EnumValue>,
    /// Indexes of `<pattern>` facets in the model's pattern table (any one must match).
    pub patterns: Vec<u32>,
    /// `hidden="true"`: reads back as the null value (an empty string).
    pub hidden: bool,
    /// `secured="true"`: the same as hidden for CWMP, which has no permission to read it.
    pub secured: bool,
}

impl Syntax {
    /// Whether reads return the null value instead of the value (cwmp-datamodel
    /// `hidden`/`secured`, notes §6.2).
    pub fn reads_empty(&self) -> bool {
        self.hidden || self.secured
    }

    /// The `xsi:type` the value is sent with: lists are strings.
    pub fn xsd_name(&self) -> &'static str {
        if self.list.is_some() {
            "xsd:string"
        } else {
            self.base.xsd_name()
        }
    }
}

/// A parameter definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamDef {
    /// The parameter's own name, e.g. `SSID`.
    pub name: Box<str>,
    /// The object it belongs to.
    pub object: ObjectId,
    /// Its values.
    pub syntax: Syntax,
    /// Who may write it.
    pub access: Access,
    /// The value a new instance (or, without a factory value, the device) starts with:
    /// `<default type="factory|object">`.
    pub default: Option<Box<str>>,
    /// `forcedInform="true"`: in every Inform (notes §4.5).
    pub forced_inform: bool,
    /// `activeNotify`.
    pub active_notify: ActiveNotify,
}

/// An object definition: a single object (`Device.DeviceInfo.`) or a multi-instance table
/// (`Device.WiFi.SSID.{i}.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDef {
    /// Template path with a trailing dot, `{i}` for instance numbers.
    pub path: Box<str>,
    /// For a table: `ReadWrite` allows AddObject and DeleteObject.
    pub access: Access,
    /// Whether this is a multi-instance table (its path ends with `{i}.`).
    pub multi: bool,
    /// `minEntries` (tables).
    pub min_entries: u32,
    /// `maxEntries`, `None` for unbounded (tables).
    pub max_entries: Option<u32>,
    /// The `...NumberOfEntries` parameter counting the table's instances (in the parent).
    pub num_entries: Option<ParamId>,
    /// The enclosing object; `None` for the root.
    pub parent: Option<ObjectId>,
    /// Parameters, in document order.
    pub params: Vec<ParamId>,
    /// Child objects, in document order.
    pub children: Vec<ObjectId>,
    /// The tables along the path, outermost first, ending with this object if it is one:
    /// instance number `k` of a concrete path belongs to `tables[k]`.
    pub tables: Vec<ObjectId>,
}

impl ObjectDef {
    /// The table's path as the ACS writes it for AddObject: `Device.WiFi.SSID.` (template
    /// form, without the trailing `{i}.`).
    pub fn table_path(&self) -> &str {
        self.path.strip_suffix("{i}.").unwrap_or(&self.path)
    }
}

/// A `<pattern>` facet, compiled on first use (most are never needed).
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) source: Box<str>,
    compiled: OnceLock<Option<regex::Regex>>,
}

impl Pattern {
    fn new(source: &str) -> Pattern {
        Pattern {
            source: source.into(),
            compiled: OnceLock::new(),
        }
    }

    /// Whether `text` matches; a pattern the regex crate cannot compile (XSD-only syntax)
    /// matches everything.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let re = self.compiled.get_or_init(|| {
            // XSD patterns are implicitly anchored (XML Schema Part 2 §F).
            regex::RegexBuilder::new(&format!("^(?:{})$", self.source))
                .size_limit(1 << 20)
                .build()
                .ok()
        });
        re.as_ref().is_none_or(|re| re.is_match(text))
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

/// Data-model definitions of one root model (`Device:2.17`, `InternetGatewayDevice:1.14`).
#[derive(Clone)]
pub struct Model {
    name: String,
    root: String,
    objects: Vec<ObjectDef>,
    params: Vec<ParamDef>,
    index: HashMap<Box<str>, ObjectId>,
    patterns: Vec<Pattern>,
    pattern_index: HashMap<Box<str>, u32>,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field("objects", &self.objects.len())
            .field("params", &self.params.len())
            .finish()
    }
}

/// A data model or profile that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Malformed or unusable content, at a line of a file.
    #[error("{file}:{line}: {message}")]
    Syntax {
        /// The file (or the name given for a string).
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Content that is well-formed but cannot make a model (e.g. no `<model>`).
    #[error("{file}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

impl Model {
    /// An empty model with the root object `root` (`Device.`), named `name` (`Device:2`).
    pub(crate) fn empty(name: &str, root: &str) -> Model {
        let mut m = Model {
            name: name.to_owned(),
            root: root.to_owned(),
            objects: Vec::new(),
            params: Vec::new(),
            index: HashMap::new(),
            patterns: Vec::new(),
            pattern_index: HashMap::new(),
        };
        m.ensure_object(root);
        m
    }

    /// Loads the root model of a BBF full data-model XML file (see [`bbf`]).
    pub fn from_bbf_file(path: impl AsRef<Path>) -> Result<Model, LoadError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
        bbf::parse(&text, &path.display().to_string())
    }

    /// Loads the root model of a BBF full data-model XML document; `source` names it in
    /// errors.
    pub fn from_bbf_str(text: &str, source: &str) -> Result<Model, LoadError> {
        bbf::parse(text, source)
    }

    /// The model's name, e.g. `Device:2.17`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The root object, `Device.` or `InternetGatewayDevice.`.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// All object definitions, in document order (the root first).
    pub fn objects(&self) -> &[ObjectDef] {
        &self.objects
    }

    /// All parameter definitions.
    pub fn params(&self) -> &[ParamDef] {
        &self.params
    }

    /// The root object's id.
    pub fn root_id(&self) -> ObjectId {
        ObjectId(0)
    }

    /// An object definition by id.
    pub fn object_def(&self, id: ObjectId) -> Option<&ObjectDef> {
        self.objects.get(id.index())
    }

    /// A parameter definition by id.
    pub fn param_def(&self, id: ParamId) -> Option<&ParamDef> {
        self.params.get(id.index())
    }

    /// An object by template path (`Device.WiFi.SSID.{i}.`).
    pub fn object_id(&self, path: &str) -> Option<ObjectId> {
        self.index.get(path).copied()
    }

    /// An object definition by template path.
    pub fn object(&self, path: &str) -> Option<&ObjectDef> {
        self.object_id(path).and_then(|id| self.object_def(id))
    }

    /// A parameter by template path (`Device.WiFi.SSID.{i}.SSID`).
    pub fn param_id(&self, path: &str) -> Option<ParamId> {
        let (object, name) = split_param_path(path)?;
        let obj = self.object(object)?;
        obj.params
            .iter()
            .copied()
            .find(|&p| self.params.get(p.index()).is_some_and(|d| &*d.name == name))
    }

    /// A parameter definition by template path.
    pub fn param(&self, path: &str) -> Option<&ParamDef> {
        self.param_id(path).and_then(|id| self.param_def(id))
    }

    /// The template path of a parameter.
    pub fn param_path(&self, id: ParamId) -> String {
        match self.param_def(id) {
            Some(p) => {
                let obj = self.object_def(p.object).map(|o| &*o.path).unwrap_or("");
                format!("{obj}{}", p.name)
            }
            None => String::new(),
        }
    }

    /// The pattern source texts of a syntax.
    pub fn patterns(&self, syntax: &Syntax) -> Vec<&str> {
        syntax
            .patterns
            .iter()
            .filter_map(|&i| self.patterns.get(i as usize).map(|p| &*p.source))
            .collect()
    }

    pub(crate) fn pattern(&self, i: u32) -> Option<&Pattern> {
        self.patterns.get(i as usize)
    }

    /// Interns a pattern, giving its index.
    pub(crate) fn intern_pattern(&mut self, source: &str) -> u32 {
        if let Some(&i) = self.pattern_index.get(source) {
            return i;
        }
        let i = u32::try_from(self.patterns.len()).unwrap_or(u32::MAX);
        self.patterns.push(Pattern::new(source));
        self.pattern_index.insert(source.into(), i);
        i
    }

    /// The object with this template path, created (with its missing ancestors, as
    /// read-only single objects or tables) if need be. The path must start with the root.
    pub(crate) fn ensure_object(&mut self, path: &str) -> ObjectId {
        if let Some(id) = self.object_id(path) {
            return id;
        }
        let parent = parent_object_path(path).map(|p| self.ensure_object(p));
        let id = ObjectId(u32::try_from(self.objects.len()).unwrap_or(u32::MAX));
        let multi = path.ends_with(".{i}.");
        let mut tables = parent
            .and_then(|p| self.object_def(p))
            .map(|p| p.tables.clone())
            .unwrap_or_default();
        if multi {
            tables.push(id);
        }
        self.objects.push(ObjectDef {
            path: path.into(),
            access: Access::ReadOnly,
            multi,
            min_entries: 0,
            max_entries: if multi { None } else { Some(1) },
            num_entries: None,
            parent,
            params: Vec::new(),
            children: Vec::new(),
            tables,
        });
        self.index.insert(path.into(), id);
        if let Some(p) = parent.and_then(|p| self.objects.get_mut(p.index())) {
            p.children.push(id);
        }
        id
    }

    /// Adds a parameter to an object (which must exist).
    pub(crate) fn add_param(&mut self, def: ParamDef) -> ParamId {
        let id = ParamId(u32::try_from(self.params.len()).unwrap_or(u32::MAX));
        if let Some(o) = self.objects.get_mut(def.object.index()) {
            o.params.push(id);
        }
        self.params.push(def);
        id
    }

    pub(crate) fn object_mut(&mut self, id: ObjectId) -> Option<&mut ObjectDef> {
        self.objects.get_mut(id.index())
    }

    pub(crate) fn param_mut(&mut self, id: ParamId) -> Option<&mut ParamDef> {
        self.params.get_mut(id.index())
    }

    /// The parameter of object `object` named `name`.
    pub fn param_in(&self, object: ObjectId, name: &str) -> Option<ParamId> {
        self.object_def(object)?
            .params
            .iter()
            .copied()
            .find(|&p| self.params.get(p.index()).is_some_and(|d| &*d.name == name))
    }

    /// Links each table to its `numEntriesParameter` given by name (in the parent object).
    pub(crate) fn link_num_entries(&mut self, names: &[(ObjectId, String)]) {
        for (table, name) in names {
            let Some(parent) = self.object_def(*table).and_then(|o| o.parent) else {
                continue;
            };
            let param = self.param_in(parent, name);
            if let Some(o) = self.object_mut(*table) {
                o.num_entries = param;
            }
        }
    }

    /// The model restricted to the objects and parameters kept (ancestors of kept objects
    /// are kept too), ids renumbered, document order preserved.
    pub(crate) fn subset(&self, keep_object: &[bool], keep_param: &[bool]) -> Model {
        let mut keep_o = keep_object.to_vec();
        keep_o.resize(self.objects.len(), false);
        // Ancestors of kept objects and objects of kept parameters.
        for (i, p) in self.params.iter().enumerate() {
            if keep_param.get(i).copied().unwrap_or(false)
                && let Some(k) = keep_o.get_mut(p.object.index())
            {
                *k = true;
            }
        }
        for i in (0..self.objects.len()).rev() {
            if keep_o.get(i).copied().unwrap_or(false) {
                let mut cur = self.objects.get(i).and_then(|o| o.parent);
                while let Some(p) = cur {
                    if let Some(k) = keep_o.get_mut(p.index()) {
                        *k = true;
                    }
                    cur = self.objects.get(p.index()).and_then(|o| o.parent);
                }
            }
        }
        if let Some(k) = keep_o.first_mut() {
            *k = true;
        }
        let mut m = Model {
            name: self.name.clone(),
            root: self.root.clone(),
            objects: Vec::new(),
            params: Vec::new(),
            index: HashMap::new(),
            patterns: self.patterns.clone(),
            pattern_index: self.pattern_index.clone(),
        };
        let mut object_map: Vec<Option<ObjectId>> = vec![None; self.objects.len()];
        for (i, o) in self.objects.iter().enumerate() {
            if !keep_o.get(i).copied().unwrap_or(false) {
                continue;
            }
            let id = m.ensure_object(&o.path);
            if let Some(slot) = object_map.get_mut(i) {
                *slot = Some(id);
            }
            if let Some(n) = m.object_mut(id) {
                n.access = o.access;
                n.min_entries = o.min_entries;
                n.max_entries = o.max_entries;
            }
        }
        let mut param_map: Vec<Option<ParamId>> = vec![None; self.params.len()];
        // Parameters in the order of their objects, then of the object's list.
        for (i, o) in self.objects.iter().enumerate() {
            let Some(new_obj) = object_map.get(i).copied().flatten() else {
                continue;
            };
            for &p in &o.params {
                if !keep_param.get(p.index()).copied().unwrap_or(false) {
                    continue;
                }
                if let Some(def) = self.params.get(p.index()) {
                    let mut def = def.clone();
                    def.object = new_obj;
                    let id = m.add_param(def);
                    if let Some(slot) = param_map.get_mut(p.index()) {
                        *slot = Some(id);
                    }
                }
            }
        }
        for (i, o) in self.objects.iter().enumerate() {
            let Some(new_obj) = object_map.get(i).copied().flatten() else {
                continue;
            };
            let ne = o
                .num_entries
                .and_then(|p| param_map.get(p.index()).copied().flatten());
            if let Some(n) = m.object_mut(new_obj) {
                n.num_entries = ne;
            }
        }
        m
    }

    /// Checks a value as sent by the ACS (`by_acs`: read-only enumeration values refused)
    /// or set by the device, giving its canonical text. [`ValueError`] gives the typing
    /// rules.
    pub fn check_value(
        &self,
        param: ParamId,
        value: &cwmp::ParameterValue<'_>,
        by_acs: bool,
    ) -> Result<String, ValueError> {
        let Some(def) = self.param_def(param) else {
            return Err(ValueError::Value("no such parameter".into()));
        };
        syntax::check_value(self, &def.syntax, value, by_acs)
    }

    /// Checks a value given as text (a profile value, a default), giving its canonical text.
    pub fn check_text(&self, param: ParamId, text: &str) -> Result<String, ValueError> {
        let Some(def) = self.param_def(param) else {
            return Err(ValueError::Value("no such parameter".into()));
        };
        syntax::check_text(self, &def.syntax, text, false)
    }

    /// The typed value of a parameter whose stored text is `text`, as GetParameterValues
    /// sends it (hidden and secured parameters read as the null value).
    pub fn typed_value(&self, param: ParamId, text: &str) -> cwmp::ParameterValue<'static> {
        match self.param_def(param) {
            Some(def) if def.syntax.reads_empty() => syntax::null_value(&def.syntax),
            Some(def) => syntax::typed(&def.syntax, text),
            None => cwmp::ParameterValue::String(text.to_owned().into()),
        }
    }

    /// The typed value without hiding (for the device's own use: the agent needs
    /// `ManagementServer.Password`).
    pub fn typed_value_raw(&self, param: ParamId, text: &str) -> cwmp::ParameterValue<'static> {
        match self.param_def(param) {
            Some(def) => syntax::typed(&def.syntax, text),
            None => cwmp::ParameterValue::String(text.to_owned().into()),
        }
    }

    /// The value a parameter has when nothing else gives one: its default, or the null
    /// value of its type adjusted to its facets (the first enumeration value, the lower
    /// bound of a range that excludes 0).
    pub fn initial_text(&self, param: ParamId) -> String {
        let Some(def) = self.param_def(param) else {
            return String::new();
        };
        if let Some(d) = &def.default {
            return d.to_string();
        }
        syntax::initial_text(&def.syntax)
    }
}

/// Splits a parameter path into its object path (with the trailing dot) and name.
pub(crate) fn split_param_path(path: &str) -> Option<(&str, &str)> {
    let dot = path.rfind('.')?;
    let (object, name) = path.split_at(dot + 1);
    (!name.is_empty()).then_some((object, name))
}

/// The parent of an object template path: `Device.WiFi.` for `Device.WiFi.SSID.{i}.` and
/// `Device.WiFi.SSID.{i}.` for `Device.WiFi.SSID.{i}.Stats.`; `None` for the root.
pub(crate) fn parent_object_path(path: &str) -> Option<&str> {
    let trimmed = path.strip_suffix('.')?;
    let trimmed = trimmed.strip_suffix(".{i}").unwrap_or(trimmed);
    let dot = trimmed.rfind('.')?;
    trimmed.get(..=dot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_paths() {
        assert_eq!(parent_object_path("Device."), None);
        assert_eq!(parent_object_path("Device.WiFi."), Some("Device."));
        assert_eq!(
            parent_object_path("Device.WiFi.SSID.{i}."),
            Some("Device.WiFi.")
        );
        assert_eq!(
            parent_object_path("Device.WiFi.SSID.{i}.Stats."),
            Some("Device.WiFi.SSID.{i}.")
        );
        assert_eq!(
            split_param_path("Device.WiFi.SSID.{i}.SSID"),
            Some(("Device.WiFi.SSID.{i}.", "SSID"))
        );
        assert_eq!(split_param_path("Device."), None);
    }

    #[test]
    fn ensure_object_builds_ancestors_and_tables() {
        let mut m = Model::empty("Device:2", "Device.");
        let id = m.ensure_object("Device.WiFi.SSID.{i}.Stats.");
        let def = m.object_def(id).unwrap();
        assert!(!def.multi);
        assert_eq!(def.tables.len(), 1);
        let ssid = m.object("Device.WiFi.SSID.{i}.").unwrap();
        assert!(ssid.multi);
        assert_eq!(ssid.table_path(), "Device.WiFi.SSID.");
        assert_eq!(m.object("Device.WiFi.").unwrap().children.len(), 1);
    }

    #[test]
    fn ranges() {
        let r = Range {
            min: Some(1),
            max: Some(10),
            step: Some(3),
        };
        assert!(r.contains(1) && r.contains(4) && r.contains(10));
        assert!(!r.contains(2) && !r.contains(0) && !r.contains(11));
        assert!(Range::default().contains(-5));
    }

    #[test]
    fn patterns_anchor_and_tolerate_xsd_only_syntax() {
        let p = Pattern::new("[0-9A-F]{6}");
        assert!(p.matches("00259E"));
        assert!(!p.matches("00259E0"));
        assert!(!p.matches("00259e"));
        let bad = Pattern::new("[a-z-[aeiou]]+\\i");
        assert!(bad.matches("anything"));
    }
}
