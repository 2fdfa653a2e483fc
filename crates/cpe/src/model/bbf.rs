//! Loading a BBF *full* data-model XML (`cwmp-datamodel-1-x.xsd`, notes §6.4).
//!
//! The document is read as a stream of quick-xml events over the file's text, no DOM:
//! `<dataType>` definitions at document level are collected, the first `<model>` that is
//! not a service model (`isService="true"`) is read object by object, and everything else
//! (`<description>`, `<profile>`, `<bibliography>`, other models) is skipped. A named data
//! type (`<dataType ref="IPv4Address"/>`) is resolved through its `base` chain to a
//! primitive type; facets given at each level (size, range, enumeration, pattern, list)
//! replace those of the level below, as the schema's refinement rules say.
//!
//! Left out: items with `status="deleted"` (and objects below a deleted object). Kept:
//! deprecated and obsoleted items, `command="true"` parameters. An `enumerationRef` takes the
//! enumeration of the parameter it names. Not enforced: `pathRef`, `instanceRef`,
//! `uniqueKey`, `decimalRange`.
//!
//! A file that is not well-formed, or whose model cannot be built (an object outside the
//! root, an undefined data type), is an error naming the file and line.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::{
    Access, ActiveNotify, BaseType, EnumValue, ListFacet, LoadError, Model, ObjectId, ParamDef,
    ParamId, Range, Syntax, parent_object_path,
};

/// A `<syntax>` (or named data type) as written, before its data type is resolved.
#[derive(Debug, Clone, Default)]
struct RawSyntax {
    base: Option<BaseType>,
    type_ref: Option<String>,
    list: Option<ListFacet>,
    min_length: Option<u32>,
    max_length: Option<u32>,
    ranges: Vec<Range>,
    enumeration: Vec<EnumValue>,
    patterns: Vec<String>,
    /// How many `<size>` facets this level has.
    sizes: u32,
    /// `<enumerationRef targetParam nullValue>`.
    enum_ref: Option<(String, Option<String>)>,
    hidden: bool,
    secured: bool,
    /// Priority (factory 3, object 2, implementation 1) and value.
    default: Option<(u8, String)>,
}

impl RawSyntax {
    /// `self` refined by `over`: what `over` states replaces what `self` states.
    fn refined(&self, over: &RawSyntax) -> RawSyntax {
        let mut r = self.clone();
        if over.base.is_some() {
            r.base = over.base;
        }
        if over.list.is_some() {
            r.list = over.list;
        }
        if over.sizes > 0 {
            r.min_length = over.min_length;
            r.max_length = over.max_length;
            r.sizes = over.sizes;
        }
        if !over.ranges.is_empty() {
            r.ranges = over.ranges.clone();
        }
        if !over.enumeration.is_empty() {
            r.enumeration = over.enumeration.clone();
        }
        if !over.patterns.is_empty() {
            r.patterns = over.patterns.clone();
        }
        if over.enum_ref.is_some() {
            r.enum_ref = over.enum_ref.clone();
        }
        r.hidden |= over.hidden;
        r.secured |= over.secured;
        if over.default.is_some() {
            r.default = over.default.clone();
        }
        r.type_ref = None;
        r
    }
}

/// A document-level `<dataType name=... base=...>`.
#[derive(Debug)]
struct NamedType {
    base: Option<String>,
    raw: RawSyntax,
    pos: usize,
}

/// What reading a `<model>` gives: the model so far, its parameters waiting for their data
/// types, and the tables' `numEntriesParameter` names.
type ModelParts = (Model, Vec<PendingParam>, Vec<(ObjectId, String)>);

/// A parameter waiting for its data type to be resolved.
#[derive(Debug)]
struct PendingParam {
    object: ObjectId,
    name: String,
    access: Access,
    forced_inform: bool,
    active_notify: ActiveNotify,
    raw: RawSyntax,
    /// Byte offset, for errors (lines are counted only then).
    pos: usize,
}

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    text: &'a str,
    source: &'a str,
}

type Res<T> = Result<T, LoadError>;

/// Deepest object path (segments) and syntax nesting accepted: far beyond any BBF model,
/// low enough that recursion over them cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Parses the root model of a BBF full data-model document.
pub(crate) fn parse(text: &str, source: &str) -> Res<Model> {
    let mut p = Parser {
        reader: Reader::from_str(text),
        text,
        source,
    };
    p.reader.config_mut().check_end_names = true;
    p.reader.config_mut().trim_text(true);

    let mut types: HashMap<String, NamedType> = HashMap::new();
    let mut found: Option<ModelParts> = None;
    let mut depth = 0usize;
    loop {
        let pos = p.position();
        let (e, is_start) = match p.next()? {
            Event::Start(e) => (e, true),
            Event::Empty(e) => (e, false),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let local = e.local_name();
        match local.as_ref() {
            "document" if depth == 0 => {
                if is_start {
                    depth += 1;
                }
            }
            "dataType" if depth == 1 => {
                let name = p.attr(&e, "name")?;
                let base = p.attr(&e, "base")?;
                let mut raw = RawSyntax::default();
                if is_start {
                    p.syntax_children(&mut raw, "dataType", 0)?;
                }
                if let Some(name) = name {
                    types.insert(name, NamedType { base, raw, pos });
                }
            }
            "model" if depth == 1 && found.is_none() => {
                let service = p.attr(&e, "isService")?;
                let name = p.attr(&e, "name")?.unwrap_or_default();
                if service.as_deref() == Some("true") || !is_start {
                    if is_start {
                        p.skip(&e)?;
                    }
                } else {
                    found = Some(p.model(name)?);
                }
            }
            _ => {
                if is_start {
                    p.skip(&e)?;
                }
            }
        }
    }

    let Some((mut model, pending, num_entries)) = found else {
        return Err(LoadError::Invalid {
            file: source.to_owned(),
            message: "no <model> element".into(),
        });
    };
    let mut resolved: HashMap<String, RawSyntax> = HashMap::new();
    let mut enum_refs = Vec::new();
    for pp in pending {
        let raw = match &pp.raw.type_ref {
            Some(r) => {
                let base = resolve_type(&types, &mut resolved, r, 0, text)
                    .map_err(|message| p.error(pp.pos, message))?;
                base.refined(&pp.raw)
            }
            None => pp.raw,
        };
        let syntax = Syntax {
            base: raw.base.unwrap_or_default(),
            list: raw.list,
            min_length: raw.min_length,
            max_length: raw.max_length,
            ranges: raw.ranges,
            enumeration: raw.enumeration,
            patterns: raw
                .patterns
                .iter()
                .map(|p| model.intern_pattern(p))
                .collect(),
            hidden: raw.hidden,
            secured: raw.secured,
        };
        let def = ParamDef {
            name: pp.name.as_str().into(),
            object: pp.object,
            syntax,
            access: pp.access,
            default: raw.default.map(|(_, v)| v.into()),
            forced_inform: pp.forced_inform,
            active_notify: pp.active_notify,
        };
        let id = match model.param_in(pp.object, &pp.name) {
            Some(existing) => {
                if let Some(slot) = model.param_mut(existing) {
                    *slot = def;
                }
                existing
            }
            None => model.add_param(def),
        };
        if let Some(r) = raw.enum_ref {
            enum_refs.push((id, r));
        }
    }
    model.link_num_entries(&num_entries);
    resolve_enum_refs(&mut model, enum_refs);
    Ok(model)
}

/// Gives a parameter with `<enumerationRef targetParam>` the enumeration of its target
/// (plus `nullValue`): the values the target may list are a superset of what it lists.
/// Targets are relative to the object (`Name`, `#.Name` for the parent, `##.Name`...),
/// the root (`.IPsec.Name`) or absolute. A target without an enumeration imposes nothing.
fn resolve_enum_refs(model: &mut Model, refs: Vec<(ParamId, (String, Option<String>))>) {
    for (id, (target, null)) in refs {
        let Some(object) = model.param_def(id).map(|d| d.object) else {
            continue;
        };
        let Some(mut base) = model.object_def(object).map(|o| o.path.to_string()) else {
            continue;
        };
        let path = if target.starts_with(model.root()) {
            target
        } else if let Some(rest) = target.strip_prefix('.') {
            format!("{}{rest}", model.root())
        } else {
            let ups = target.bytes().take_while(|&b| b == b'#').count();
            let rest = target.get(ups..).unwrap_or("");
            let rest = if ups > 0 {
                rest.strip_prefix('.').unwrap_or(rest)
            } else {
                rest
            };
            for _ in 0..ups {
                base = parent_object_path(&base).unwrap_or(&base).to_owned();
            }
            format!("{base}{rest}")
        };
        let Some(values) = model.param(&path).map(|d| d.syntax.enumeration.clone()) else {
            continue;
        };
        if values.is_empty() {
            continue;
        }
        if let Some(def) = model.param_mut(id)
            && def.syntax.enumeration.is_empty()
        {
            def.syntax.enumeration = values
                .into_iter()
                .map(|e| EnumValue {
                    read_only: false,
                    ..e
                })
                .collect();
            if let Some(null) = null {
                def.syntax.enumeration.push(EnumValue {
                    value: null.into(),
                    read_only: false,
                });
            }
        }
    }
}

/// Resolves a named data type through its `base` chain.
fn resolve_type(
    types: &HashMap<String, NamedType>,
    cache: &mut HashMap<String, RawSyntax>,
    name: &str,
    depth: usize,
    text: &str,
) -> Result<RawSyntax, String> {
    if let Some(r) = cache.get(name) {
        return Ok(r.clone());
    }
    if depth > 16 {
        return Err(format!(
            "data type {name:?}: base chain too long (a cycle?)"
        ));
    }
    let t = types
        .get(name)
        .ok_or_else(|| format!("undefined data type {name:?}"))?;
    let below = match t.base.as_deref().or(t.raw.type_ref.as_deref()) {
        Some(base) => resolve_type(types, cache, base, depth + 1, text)
            .map_err(|e| format!("{e} (line {})", line_at(text, t.pos)))?,
        None => RawSyntax::default(),
    };
    let r = below.refined(&t.raw);
    cache.insert(name.to_owned(), r.clone());
    Ok(r)
}

/// The 1-based line of a byte offset (counted only for errors).
fn line_at(text: &str, pos: usize) -> usize {
    let end = pos.min(text.len());
    text.as_bytes()
        .get(..end)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count() + 1)
        .unwrap_or(1)
}

fn parse_u32(s: &str) -> Option<u32> {
    s.trim().parse().ok()
}

impl<'a> Parser<'a> {
    fn position(&self) -> usize {
        usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX)
    }

    fn line_at(&self, pos: usize) -> usize {
        line_at(self.text, pos)
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> LoadError {
        LoadError::Syntax {
            file: self.source.to_owned(),
            line: self.line_at(pos),
            message: message.into(),
        }
    }

    fn next(&mut self) -> Res<Event<'a>> {
        match self.reader.read_event() {
            Ok(e) => Ok(e),
            Err(e) => {
                let pos = usize::try_from(self.reader.error_position()).unwrap_or(usize::MAX);
                Err(self.error(pos, format!("malformed XML: {e}")))
            }
        }
    }

    /// An attribute's value, entity references resolved.
    fn attr(&self, e: &BytesStart<'_>, name: &str) -> Res<Option<String>> {
        for a in e.attributes() {
            let a =
                a.map_err(|err| self.error(self.position(), format!("bad attribute: {err}")))?;
            if a.key.as_ref() == name {
                let v = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|err| {
                        self.error(self.position(), format!("bad attribute value: {err}"))
                    })?;
                return Ok(Some(v.into_owned()));
            }
        }
        Ok(None)
    }

    /// Skips the rest of an element whose start tag was just read.
    fn skip(&mut self, e: &BytesStart<'_>) -> Res<()> {
        let pos = self.position();
        let name = e.name();
        self.reader
            .read_to_end(name)
            .map(|_| ())
            .map_err(|err| self.error(pos, format!("malformed XML: {err}")))
    }

    /// Reads a `<model>` through its end tag.
    fn model(&mut self, name: String) -> Res<ModelParts> {
        let mut model: Option<Model> = None;
        let mut pending = Vec::new();
        let mut num_entries = Vec::new();
        let mut deleted: Vec<String> = Vec::new();
        loop {
            let pos = self.position();
            let (e, is_start) = match self.next()? {
                Event::Start(e) => (e, true),
                Event::Empty(e) => (e, false),
                Event::End(_) => break,
                Event::Eof => return Err(self.error(pos, "unexpected end of file in <model>")),
                _ => continue,
            };
            if e.local_name().as_ref() != "object" {
                if is_start {
                    self.skip(&e)?;
                }
                continue;
            }
            let Some(path) = self.attr(&e, "name")? else {
                if is_start {
                    self.skip(&e)?;
                }
                continue;
            };
            let status = self.attr(&e, "status")?;
            if status.as_deref() == Some("deleted") || deleted.iter().any(|d| path.starts_with(d)) {
                deleted.push(path);
                if is_start {
                    self.skip(&e)?;
                }
                continue;
            }
            if !path.ends_with('.') || path.contains("..") {
                return Err(self.error(pos, format!("object name {path:?} is not a path")));
            }
            if path.split('.').count() > MAX_DEPTH {
                return Err(self.error(pos, format!("object name {path:?} is too deep")));
            }
            let m = match &mut model {
                Some(m) => m,
                None => {
                    if parent_object_path(&path).is_some() {
                        return Err(
                            self.error(pos, format!("first object {path:?} is not a root object"))
                        );
                    }
                    model.insert(Model::empty(&name, &path))
                }
            };
            if !path.starts_with(m.root()) {
                return Err(self.error(
                    pos,
                    format!("object {path:?} is outside the root {}", m.root()),
                ));
            }
            let id = m.ensure_object(&path);
            let access = self.attr(&e, "access")?;
            let min = self.attr(&e, "minEntries")?;
            let max = self.attr(&e, "maxEntries")?;
            let ne = self.attr(&e, "numEntriesParameter")?;
            if let Some(def) = m.object_mut(id) {
                def.access = access
                    .as_deref()
                    .and_then(Access::parse)
                    .unwrap_or_default();
                def.min_entries = min.as_deref().and_then(parse_u32).unwrap_or(0);
                def.max_entries = match max.as_deref() {
                    Some("unbounded") => None,
                    Some(v) => parse_u32(v),
                    None => Some(1),
                };
                if def.multi && def.max_entries == Some(1) && max.is_none() {
                    def.max_entries = None;
                }
            }
            if let Some(ne) = ne {
                num_entries.push((id, ne));
            }
            if is_start {
                self.object_children(id, &mut pending)?;
            }
        }
        let model = model.ok_or_else(|| LoadError::Invalid {
            file: self.source.to_owned(),
            message: format!("model {name:?} has no objects"),
        })?;
        Ok((model, pending, num_entries))
    }

    /// Reads the parameters of an object through its end tag.
    fn object_children(&mut self, object: ObjectId, pending: &mut Vec<PendingParam>) -> Res<()> {
        loop {
            let pos = self.position();
            let (e, is_start) = match self.next()? {
                Event::Start(e) => (e, true),
                Event::Empty(e) => (e, false),
                Event::End(_) => return Ok(()),
                Event::Eof => return Err(self.error(pos, "unexpected end of file in <object>")),
                _ => continue,
            };
            if e.local_name().as_ref() != "parameter" {
                if is_start {
                    self.skip(&e)?;
                }
                continue;
            }
            let name = self.attr(&e, "name")?;
            let status = self.attr(&e, "status")?;
            let access = self.attr(&e, "access")?;
            let forced = self.attr(&e, "forcedInform")?;
            let notify = self.attr(&e, "activeNotify")?;
            let Some(name) = name.filter(|_| status.as_deref() != Some("deleted")) else {
                if is_start {
                    self.skip(&e)?;
                }
                continue;
            };
            if name.is_empty() || name.contains('.') {
                return Err(self.error(pos, format!("parameter name {name:?} is not a name")));
            }
            let mut raw = RawSyntax::default();
            if is_start {
                self.parameter_children(&mut raw)?;
            }
            pending.push(PendingParam {
                object,
                name,
                access: access
                    .as_deref()
                    .and_then(Access::parse)
                    .unwrap_or_default(),
                forced_inform: forced.as_deref() == Some("true"),
                active_notify: notify
                    .as_deref()
                    .and_then(ActiveNotify::parse)
                    .unwrap_or_default(),
                raw,
                pos,
            });
        }
    }

    /// Reads a `<parameter>`'s children through its end tag, keeping its `<syntax>`.
    fn parameter_children(&mut self, raw: &mut RawSyntax) -> Res<()> {
        loop {
            let pos = self.position();
            let (e, is_start) = match self.next()? {
                Event::Start(e) => (e, true),
                Event::Empty(e) => (e, false),
                Event::End(_) => return Ok(()),
                Event::Eof => {
                    return Err(self.error(pos, "unexpected end of file in <parameter>"));
                }
                _ => continue,
            };
            if e.local_name().as_ref() == "syntax" {
                raw.hidden = self.attr(&e, "hidden")?.as_deref() == Some("true");
                raw.secured = self.attr(&e, "secured")?.as_deref() == Some("true");
                if is_start {
                    self.syntax_children(raw, "syntax", 0)?;
                }
            } else if is_start {
                self.skip(&e)?;
            }
        }
    }

    /// Reads the content of a `<syntax>`, a named `<dataType>` or a type element through
    /// its end tag: list facet, type, type reference, facets, default.
    fn syntax_children(&mut self, raw: &mut RawSyntax, element: &str, depth: usize) -> Res<()> {
        if depth > MAX_DEPTH {
            return Err(self.error(self.position(), "syntax nested too deeply"));
        }
        loop {
            let pos = self.position();
            let (e, is_start) = match self.next()? {
                Event::Start(e) => (e, true),
                Event::Empty(e) => (e, false),
                Event::End(_) => return Ok(()),
                Event::Eof => {
                    return Err(self.error(pos, format!("unexpected end of file in <{}>", element)));
                }
                _ => continue,
            };
            let local = e.local_name();
            let local = local.as_ref();
            if let Some(base) = BaseType::from_name(local)
                && local != "dataType"
            {
                raw.base = Some(base);
                if is_start {
                    self.syntax_children(raw, local, depth + 1)?;
                }
                continue;
            }
            match local {
                "list" => {
                    let min = self.attr(&e, "minItems")?;
                    let max = self.attr(&e, "maxItems")?;
                    let mut list = ListFacet {
                        min_items: min.as_deref().and_then(parse_u32).unwrap_or(0),
                        max_items: max.as_deref().and_then(parse_u32),
                        max_length: None,
                    };
                    if is_start {
                        let mut inner = RawSyntax::default();
                        self.syntax_children(&mut inner, "list", depth + 1)?;
                        list.max_length = inner.max_length;
                    }
                    raw.list = Some(list);
                }
                "dataType" => {
                    raw.type_ref = self.attr(&e, "ref")?;
                    if is_start {
                        self.syntax_children(raw, "dataType", depth + 1)?;
                    }
                }
                "default" => {
                    let status = self.attr(&e, "status")?;
                    let kind = self.attr(&e, "type")?;
                    let value = self.attr(&e, "value")?;
                    let prio = match kind.as_deref() {
                        Some("factory") => 3,
                        Some("object") => 2,
                        _ => 1,
                    };
                    if let Some(v) = value.filter(|_| status.as_deref() != Some("deleted"))
                        && raw.default.as_ref().is_none_or(|(p, _)| prio > *p)
                    {
                        raw.default = Some((prio, v));
                    }
                    if is_start {
                        self.skip(&e)?;
                    }
                }
                "size" => {
                    // Several size facets at one level are alternatives (WEPKey: 5 or 13
                    // octets): keep the range that covers them all.
                    let min = self.attr(&e, "minLength")?.as_deref().and_then(parse_u32);
                    let max = self.attr(&e, "maxLength")?.as_deref().and_then(parse_u32);
                    if raw.sizes == 0 {
                        raw.min_length = min;
                        raw.max_length = max;
                    } else {
                        raw.min_length = raw.min_length.zip(min).map(|(a, b)| a.min(b));
                        raw.max_length = raw.max_length.zip(max).map(|(a, b)| a.max(b));
                    }
                    raw.sizes += 1;
                    if is_start {
                        self.skip(&e)?;
                    }
                }
                "range" => {
                    let num = |s: Option<String>| s.and_then(|s| s.trim().parse::<i128>().ok());
                    let r = Range {
                        min: num(self.attr(&e, "minInclusive")?),
                        max: num(self.attr(&e, "maxInclusive")?),
                        step: num(self.attr(&e, "step")?),
                    };
                    if self.attr(&e, "status")?.as_deref() != Some("deleted") {
                        raw.ranges.push(r);
                    }
                    if is_start {
                        self.skip(&e)?;
                    }
                }
                "enumeration" => {
                    let value = self.attr(&e, "value")?;
                    let access = self.attr(&e, "access")?;
                    let status = self.attr(&e, "status")?;
                    if let Some(v) = value.filter(|_| status.as_deref() != Some("deleted")) {
                        raw.enumeration.push(EnumValue {
                            value: v.into(),
                            read_only: access.as_deref() == Some("readOnly"),
                        });
                    }
                    if is_start {
                        self.skip(&e)?;
                    }
                }
                "enumerationRef" => {
                    if let Some(t) = self.attr(&e, "targetParam")? {
                        raw.enum_ref = Some((t, self.attr(&e, "nullValue")?));
                    }
                    if is_start {
                        self.skip(&e)?;
                    }
                }
                "pattern" => {
                    let value = self.attr(&e, "value")?;
                    let status = self.attr(&e, "status")?;
                    if let Some(v) = value.filter(|_| status.as_deref() != Some("deleted")) {
                        raw.patterns.push(v);
                    }
                    if is_start {
                        self.skip(&e)?;
                    }
                }
                _ => {
                    if is_start {
                        self.skip(&e)?;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0"?>
<dm:document xmlns:dm="urn:broadband-forum-org:cwmp:datamodel-1-14">
  <dataType name="_AliasCommon"><description>x</description><string><size maxLength="64"/></string></dataType>
  <dataType name="Alias" base="_AliasCommon"/>
  <dataType name="IPAddress"><string><size maxLength="45"/></string></dataType>
  <dataType name="IPv4Address" base="IPAddress">
    <size maxLength="15"/>
    <pattern value=""/>
    <pattern value="((25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])"/>
  </dataType>
  <model name="Service:1" isService="true"><object name="X." access="readOnly"/></model>
  <model name="Device:2.17">
    <object name="Device." access="readOnly" minEntries="1" maxEntries="1">
      <parameter name="RootDataModelVersion" access="readOnly" forcedInform="true">
        <syntax><string><size maxLength="32"/></string></syntax>
      </parameter>
      <parameter name="ThingNumberOfEntries" access="readOnly"><syntax><unsignedInt/></syntax></parameter>
    </object>
    <object name="Device.Thing.{i}." access="readWrite" minEntries="0" maxEntries="4"
        numEntriesParameter="ThingNumberOfEntries">
      <parameter name="Alias" access="readWrite"><syntax><dataType ref="Alias"/></syntax></parameter>
      <parameter name="Addr" access="readWrite" activeNotify="canDeny">
        <syntax><list maxItems="2"><size maxLength="40"/></list><dataType ref="IPv4Address"/>
          <default type="object" value=""/></syntax>
      </parameter>
      <parameter name="Gone" access="readWrite" status="deleted"><syntax><boolean/></syntax></parameter>
      <parameter name="Secret" access="readWrite"><syntax hidden="true"><string/></syntax></parameter>
      <parameter name="Mode" access="readWrite">
        <syntax><string><enumeration value="A"/><enumeration value="B" access="readOnly"/>
          <enumeration value="C" status="deleted"/></string><default type="object" value="A"/></syntax>
      </parameter>
      <parameter name="Level" access="readWrite">
        <syntax><int><range minInclusive="-1" maxInclusive="10" step="1"/></int></syntax>
      </parameter>
    </object>
    <object name="Device.Old." access="readOnly" minEntries="1" maxEntries="1" status="deleted">
      <parameter name="X" access="readOnly"><syntax><boolean/></syntax></parameter>
    </object>
    <object name="Device.Old.Sub." access="readOnly" minEntries="1" maxEntries="1"/>
    <profile name="Baseline:1"><object ref="Device." requirement="present"/></profile>
  </model>
</dm:document>"#;

    #[test]
    fn small_document() {
        let m = parse(DOC, "doc.xml").unwrap();
        assert_eq!(m.name(), "Device:2.17");
        assert_eq!(m.root(), "Device.");
        assert!(m.object("Device.Old.").is_none());
        assert!(m.object("Device.Old.Sub.").is_none());
        let thing = m.object("Device.Thing.{i}.").unwrap();
        assert!(thing.multi);
        assert_eq!(thing.access, Access::ReadWrite);
        assert_eq!(thing.max_entries, Some(4));
        assert_eq!(thing.num_entries, m.param_id("Device.ThingNumberOfEntries"));
        assert!(m.param("Device.Thing.{i}.Gone").is_none());
        let alias = m.param("Device.Thing.{i}.Alias").unwrap();
        assert_eq!(alias.syntax.base, BaseType::String);
        assert_eq!(alias.syntax.max_length, Some(64));
        let addr = m.param("Device.Thing.{i}.Addr").unwrap();
        assert_eq!(addr.syntax.max_length, Some(15));
        assert_eq!(addr.syntax.patterns.len(), 2);
        assert_eq!(addr.syntax.list.unwrap().max_items, Some(2));
        assert_eq!(addr.syntax.list.unwrap().max_length, Some(40));
        assert_eq!(addr.active_notify, ActiveNotify::CanDeny);
        let id = m.param_id("Device.Thing.{i}.Addr").unwrap();
        assert!(m.check_text(id, "10.0.0.1,192.168.1.1").is_ok());
        assert!(m.check_text(id, "10.0.0.300").is_err());
        assert!(m.param("Device.Thing.{i}.Secret").unwrap().syntax.hidden);
        let mode = m.param("Device.Thing.{i}.Mode").unwrap();
        assert_eq!(mode.syntax.enumeration.len(), 2);
        assert!(mode.syntax.enumeration[1].read_only);
        assert_eq!(mode.default.as_deref(), Some("A"));
        let level = m.param("Device.Thing.{i}.Level").unwrap();
        assert_eq!(level.syntax.base, BaseType::Int);
        assert_eq!(level.syntax.ranges[0].min, Some(-1));
        assert!(
            m.param("Device.RootDataModelVersion")
                .unwrap()
                .forced_inform
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad = "<dm:document>\n<model name=\"D:1\">\n<object name=\"Device.\">\n</model>";
        let e = parse(bad, "bad.xml").unwrap_err().to_string();
        assert!(e.starts_with("bad.xml:"), "{e}");
        let undefined = DOC.replace("ref=\"Alias\"", "ref=\"Nope\"");
        let e = parse(&undefined, "u.xml").unwrap_err().to_string();
        assert!(e.contains("u.xml:") && e.contains("Nope"), "{e}");
        assert!(parse("<a/>", "x.xml").is_err());
        // Hostile nesting is an error, not a stack overflow.
        let deep = format!(
            "<dm:document><model name=\"D:1\"><object name=\"Device.\">\
             <parameter name=\"P\"><syntax>{}{}</syntax></parameter></object></model></dm:document>",
            "<string>".repeat(10_000),
            "</string>".repeat(10_000)
        );
        let e = parse(&deep, "deep.xml").unwrap_err().to_string();
        assert!(e.contains("too deeply"), "{e}");
        let long = format!(
            "<dm:document><model name=\"D:1\"><object name=\"Device.\"/>\
             <object name=\"Device.{}\"/></model></dm:document>",
            "A.".repeat(100)
        );
        let e = parse(&long, "long.xml").unwrap_err().to_string();
        assert!(e.contains("too deep"), "{e}");
        assert!(parse("", "x.xml").is_err());
        assert!(parse("<<<", "x.xml").is_err());
    }
}
