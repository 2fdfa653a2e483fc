//! A pull reader over the [`Lexer`] that resolves the few namespaces CWMP cares about,
//! enforces the [`Limits`], and refuses DTDs and processing instructions.
//!
//! quick-xml's own `NsReader` copies every namespace binding into its resolver; CWMP
//! envelopes declare all namespaces once on the `Envelope`, so a small scope stack that
//! classifies each URI on declaration is enough: `NsReader` tokenizing and resolving alone
//! costs as much as this whole decoder (BENCHMARKS.md).

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesRef, BytesText};
use quick_xml::name::QName;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::limits::Limits;
use crate::namespace::{self, Namespace};
use crate::xml::lexer::{Attrs, Lexer, Token, is_whitespace};

/// The namespace of an element or attribute, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    /// No namespace (unprefixed, no default namespace in scope).
    None,
    SoapEnv,
    SoapEnc,
    Xsd,
    Xsi,
    Cwmp(Namespace),
    Soap12Env,
    /// Any other namespace.
    Other,
}

impl Ns {
    fn classify(uri: &str) -> Ns {
        match uri {
            namespace::SOAP_ENV => Ns::SoapEnv,
            namespace::SOAP_ENC => Ns::SoapEnc,
            namespace::XSD => Ns::Xsd,
            // Old SOAP stacks still use the 1999 and 2000/10 drafts of XML Schema.
            "http://www.w3.org/1999/XMLSchema" | "http://www.w3.org/2000/10/XMLSchema" => Ns::Xsd,
            namespace::XSI => Ns::Xsi,
            "http://www.w3.org/1999/XMLSchema-instance"
            | "http://www.w3.org/2000/10/XMLSchema-instance" => Ns::Xsi,
            namespace::SOAP12_ENV => Ns::Soap12Env,
            _ => Namespace::from_uri(uri).map_or(Ns::Other, Ns::Cwmp),
        }
    }
}

/// A qualified name resolved against the scope: `ns` plus local part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved<'a> {
    pub ns: Ns,
    pub local: Cow<'a, str>,
}

/// A start tag with the attributes the codec uses, already resolved.
#[derive(Debug)]
pub(crate) struct Tag<'a> {
    pub ns: Ns,
    pub local: &'a str,
    /// The name as written, for messages.
    pub qname: &'a str,
    /// Byte offset of the `<`.
    pub offset: u64,
    /// `xsi:type`, with its QName value resolved in the scope of this element.
    pub xsi_type: Option<Resolved<'a>>,
    /// `soapenv:mustUnderstand` is `1` or `true`.
    pub must_understand: bool,
    /// `xsi:nil` is `true` or `1`.
    pub nil: bool,
}

impl Tag<'_> {
    /// Children of CWMP structures are unqualified per the schemas
    /// (`elementFormDefault="unqualified"`), but a body written with a default namespace
    /// puts them in the CWMP namespace; both are accepted (notes §10.1).
    pub fn is_cwmp_child(&self) -> bool {
        matches!(self.ns, Ns::None | Ns::Cwmp(_))
    }
}

/// A namespace declaration in scope, borrowed from the input (an envelope declares about
/// five; owning them was two allocations each).
struct Binding<'a> {
    /// The prefix; empty for the default namespace.
    prefix: &'a str,
    ns: Ns,
    uri: Cow<'a, str>,
    depth: usize,
}

/// Pull reader state. Each decode function is entered just after its start tag was read
/// and must consume through its end tag (with [`Cursor::next_child`] until `None`,
/// [`Cursor::text`] or [`Cursor::skip`]).
pub(crate) struct Cursor<'a> {
    /// Added to offsets reported to the caller (a stripped byte-order mark).
    base: u64,
    lexer: Lexer<'a>,
    scopes: Vec<Binding<'a>>,
    /// How many bindings in `scopes` are of the default namespace.
    default_bindings: usize,
    depth: usize,
    elements: usize,
    limits: Limits,
    /// Offset of the `<` of the most recent start tag.
    tag_offset: u64,
    /// `cwmp:ID` of the envelope once read, for errors.
    pub id: Option<String>,
    /// CWMP namespace of the envelope once known, for errors.
    pub namespace: Option<Namespace>,
    /// The first CWMP namespace declared by an `xmlns` attribute.
    pub declared_cwmp: Option<Namespace>,
    /// Reusable buffers for the attributes of one start tag.
    attrs: AttrScratch<'a>,
}

/// What [`Cursor::read_attributes`] collects of one start tag, kept between tags so that
/// a tag costs no allocation.
#[derive(Default)]
struct AttrScratch<'a> {
    /// The prefixed attributes: (prefix, local part, value).
    prefixed: Vec<(&'a str, &'a str, Cow<'a, str>)>,
    /// Every attribute name seen, for the uniqueness check of XML 1.0 §3.1.
    names: Vec<&'a str>,
}

impl<'a> Cursor<'a> {
    pub fn new(input: &'a str, base: u64, limits: Limits) -> Cursor<'a> {
        Cursor {
            base,
            lexer: Lexer::new(input),
            scopes: Vec::new(),
            default_bindings: 0,
            depth: 0,
            elements: 0,
            limits,
            tag_offset: base,
            id: None,
            namespace: None,
            declared_cwmp: None,
            attrs: AttrScratch::default(),
        }
    }

    /// An error at the most recent start tag.
    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.tag_offset)
    }

    fn error_here(&self, kind: DecodeErrorKind) -> DecodeError {
        self.error_at(self.lexer.position(), kind)
    }

    /// An error at a position of the lexer (relative to the text it reads).
    fn error_at(&self, position: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.base + position as u64)
    }

    fn read(&mut self) -> Result<Token<'a>, DecodeError> {
        self.lexer
            .next_token()
            .map_err(|e| self.error_at(e.at, DecodeErrorKind::Syntax(e.message)))
    }

    /// Reads to the start tag of the root element: only the XML declaration, comments and
    /// white space may precede it.
    pub fn root(&mut self) -> Result<Tag<'a>, DecodeError> {
        loop {
            let before = self.lexer.position();
            match self.read()? {
                Token::Start {
                    content,
                    name_len,
                    at,
                } => return self.enter(content, name_len, at),
                Token::Decl | Token::Comment => {}
                Token::Text(t) if is_blank(t) => {}
                Token::Eof => return Err(self.error_here(DecodeErrorKind::UnexpectedEof)),
                other @ (Token::DocType | Token::Pi { .. }) => {
                    return Err(self.unexpected(other, before));
                }
                Token::End => {
                    return Err(self.error_here(DecodeErrorKind::Syntax(
                        "unexpected markup before the root element".into(),
                    )));
                }
                Token::Text(_) | Token::CData(_) | Token::Ref(_) => {
                    return Err(self.error_here(DecodeErrorKind::Syntax(
                        "text before the root element".into(),
                    )));
                }
            }
        }
    }

    /// After the root element's end tag: nothing but white space and comments may follow.
    pub fn finish(&mut self) -> Result<(), DecodeError> {
        loop {
            let before = self.lexer.position();
            match self.read()? {
                Token::Eof => return Ok(()),
                Token::Comment => {}
                Token::Text(t) if is_blank(t) => {}
                Token::DocType => return Err(self.error_at(before, DecodeErrorKind::Doctype)),
                _ => return Err(self.error_at(before, DecodeErrorKind::TrailingContent)),
            }
        }
    }

    /// The next child element of the current element, or `None` once its end tag has been
    /// consumed. Text between child elements is ignored.
    pub fn next_child(&mut self) -> Result<Option<Tag<'a>>, DecodeError> {
        loop {
            let before = self.lexer.position();
            match self.read()? {
                Token::Start {
                    content,
                    name_len,
                    at,
                } => return self.enter(content, name_len, at).map(Some),
                Token::End => {
                    self.leave();
                    return Ok(None);
                }
                Token::Text(_) | Token::CData(_) | Token::Ref(_) | Token::Comment => {}
                other => return Err(self.unexpected(other, before)),
            }
        }
    }

    /// The text content of the current element, through its end tag. Line ends are
    /// normalized (XML 1.0 §2.11) and entity and character references resolved; only the
    /// five predefined entities exist.
    pub fn text(&mut self) -> Result<Cow<'a, str>, DecodeError> {
        let mut acc: Option<Cow<'a, str>> = None;
        loop {
            let before = self.lexer.position();
            match self.read()? {
                Token::Text(t) | Token::CData(t) => {
                    append(&mut acc, BytesText::from_escaped(t).xml10_content());
                }
                Token::Ref(r) => {
                    let ch = self.resolve_reference(r)?;
                    let mut buf = [0u8; 4];
                    append(&mut acc, Cow::Owned(ch.encode_utf8(&mut buf).to_owned()));
                }
                Token::Comment => {}
                Token::End => {
                    self.leave();
                    return Ok(acc.unwrap_or(Cow::Borrowed("")));
                }
                Token::Start {
                    content, name_len, ..
                } => {
                    let name = crate::error::excerpt(content.get(..name_len).unwrap_or(content));
                    return Err(self.error_at(before, DecodeErrorKind::UnexpectedElement(name)));
                }
                other => return Err(self.unexpected(other, before)),
            }
        }
    }

    /// Skips the rest of the current element, through its end tag, still enforcing the
    /// limits so that an unknown element cannot smuggle in what a known one may not.
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        let target = self.depth;
        loop {
            let before = self.lexer.position();
            match self.read()? {
                Token::Start {
                    content,
                    name_len,
                    at,
                } => {
                    self.enter(content, name_len, at)?;
                }
                Token::End => {
                    self.leave();
                    if self.depth < target {
                        return Ok(());
                    }
                }
                Token::Ref(r) => {
                    self.resolve_reference(r)?;
                }
                Token::Text(_) | Token::CData(_) | Token::Comment => {}
                other => return Err(self.unexpected(other, before)),
            }
        }
    }

    /// An error for a token that may not stand where it does, at its start.
    fn unexpected(&self, token: Token<'_>, before: usize) -> DecodeError {
        let kind = match token {
            Token::DocType => DecodeErrorKind::Doctype,
            Token::Pi { target } => {
                DecodeErrorKind::ProcessingInstruction(crate::error::excerpt(target))
            }
            Token::Eof => DecodeErrorKind::UnexpectedEof,
            Token::Decl => DecodeErrorKind::Syntax("XML declaration inside the document".into()),
            _ => DecodeErrorKind::Syntax("unexpected markup".into()),
        };
        match kind {
            // Where the input ended is where the trouble is.
            DecodeErrorKind::UnexpectedEof => self.error_here(kind),
            kind => self.error_at(before, kind),
        }
    }

    /// The character a reference (`amp`, `#38`, `#x26`) stands for.
    fn resolve_reference(&self, name: &str) -> Result<char, DecodeError> {
        if name.starts_with('#') {
            return match BytesRef::new(name).resolve_char_ref() {
                Ok(Some(ch)) if is_xml_char(ch) => Ok(ch),
                _ => Err(self.error_here(DecodeErrorKind::Syntax(format!(
                    "invalid character reference &{};",
                    crate::error::excerpt(name)
                )))),
            };
        }
        match name {
            "lt" => Ok('<'),
            "gt" => Ok('>'),
            "amp" => Ok('&'),
            "apos" => Ok('\''),
            "quot" => Ok('"'),
            other => Err(
                self.error_here(DecodeErrorKind::UndefinedEntity(crate::error::excerpt(
                    other,
                ))),
            ),
        }
    }

    /// Processes a start tag: limits, namespace declarations, attributes we use.
    /// `content` is the tag between `<` and `>` (or `/>`), which begins with the name.
    fn enter(
        &mut self,
        content: &'a str,
        name_len: usize,
        at: usize,
    ) -> Result<Tag<'a>, DecodeError> {
        self.tag_offset = self.base + at as u64;

        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.error(DecodeErrorKind::TooDeep {
                limit: self.limits.max_depth,
            }));
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(self.error(DecodeErrorKind::TooManyElements {
                limit: self.limits.max_elements,
            }));
        }

        let qname = content.get(..name_len).unwrap_or(content);
        let mut tag = Tag {
            ns: Ns::None,
            local: qname,
            qname,
            offset: self.tag_offset,
            xsi_type: None,
            must_understand: false,
            nil: false,
        };

        let mut attrs = std::mem::take(&mut self.attrs);
        attrs.prefixed.clear();
        attrs.names.clear();
        let result = self.read_attributes(content, name_len, &mut attrs, &mut tag);
        self.attrs = attrs;
        result?;
        Ok(tag)
    }

    fn read_attributes(
        &mut self,
        content: &'a str,
        name_len: usize,
        attrs: &mut AttrScratch<'a>,
        tag: &mut Tag<'a>,
    ) -> Result<(), DecodeError> {
        if content.len() > name_len {
            // Names are checked for uniqueness below, against a buffer kept between tags:
            // quick-xml's own check allocated a vector per start tag, which was 1% of the
            // ACS's instructions per periodic session (callgrind, BENCHMARKS.md).
            for (count, attr) in Attrs::new(content, name_len).enumerate() {
                let (key, raw) =
                    attr.map_err(|e| self.error(DecodeErrorKind::Syntax(e.to_string())))?;
                if count >= self.limits.max_attributes {
                    return Err(self.error(DecodeErrorKind::TooManyAttributes {
                        limit: self.limits.max_attributes,
                    }));
                }
                // At most `max_attributes` names: the linear search stays small.
                if attrs.names.contains(&key) {
                    return Err(self.error(DecodeErrorKind::Syntax(format!(
                        "duplicate attribute {}",
                        crate::error::excerpt(key)
                    ))));
                }
                attrs.names.push(key);
                // The values used here (namespace URIs, QNames, booleans) rarely hold a
                // reference; only then is the value normalized (XML 1.0 §3.3.3), by
                // quick-xml.
                let value = if raw.contains('&') {
                    let attr = Attribute {
                        key: QName(key),
                        value: Cow::Borrowed(raw),
                    };
                    Cow::Owned(
                        attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map_err(|e| self.error(DecodeErrorKind::Syntax(e.to_string())))?
                            .into_owned(),
                    )
                } else {
                    Cow::Borrowed(raw)
                };
                if key == "xmlns" {
                    self.bind("", value);
                } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                    self.bind(prefix, value);
                } else if let Some((prefix, local)) = prefixed(key) {
                    attrs.prefixed.push((prefix, local, value));
                }
                // Unprefixed attributes are in no namespace; CWMP defines none.
            }
        }

        let (prefix, local) = split_qname(tag.qname);
        tag.local = local;
        tag.ns = self.lookup(prefix).ok_or_else(|| {
            self.error(DecodeErrorKind::UnboundPrefix(crate::error::excerpt(
                prefix,
            )))
        })?;

        for (prefix, local, value) in attrs.prefixed.drain(..) {
            let Some(ns) = self.lookup(prefix) else {
                return Err(
                    self.error(DecodeErrorKind::UnboundPrefix(crate::error::excerpt(
                        prefix,
                    ))),
                );
            };
            match (ns, local) {
                (Ns::Xsi, "type") => tag.xsi_type = Some(self.resolve_value_qname(value)),
                (Ns::Xsi, "nil") => tag.nil = matches!(value.trim(), "true" | "1"),
                (Ns::SoapEnv, "mustUnderstand") => {
                    tag.must_understand = matches!(value.trim(), "1" | "true")
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Resolves a QName written in an attribute value (`xsi:type="xsd:string"`). An
    /// undeclared prefix is common in the wild (CPEs that write `xsd:` without declaring
    /// it); it resolves to [`Ns::Other`] and the caller matches on the local part.
    fn resolve_value_qname(&self, value: Cow<'a, str>) -> Resolved<'a> {
        let resolve = |s: &str| {
            let (prefix, local) = split_qname(s.trim());
            (self.lookup(prefix).unwrap_or(Ns::Other), local.len())
        };
        let (ns, local_len) = resolve(&value);
        let local = match value {
            Cow::Borrowed(s) => {
                let s = s.trim();
                Cow::Borrowed(s.get(s.len() - local_len..).unwrap_or(s))
            }
            Cow::Owned(s) => {
                let s = s.trim();
                Cow::Owned(s.get(s.len() - local_len..).unwrap_or(s).to_owned())
            }
        };
        Resolved { ns, local }
    }

    fn bind(&mut self, prefix: &'a str, uri: Cow<'a, str>) {
        if prefix.is_empty() {
            self.default_bindings += 1;
        }
        let ns = if uri.is_empty() {
            Ns::None
        } else {
            Ns::classify(&uri)
        };
        if let Ns::Cwmp(cwmp) = ns {
            self.declared_cwmp.get_or_insert(cwmp);
        }
        self.scopes.push(Binding {
            prefix,
            ns,
            uri,
            depth: self.depth,
        });
    }

    /// The namespace bound to `prefix` (empty: the default namespace), innermost first.
    fn lookup(&self, prefix: &str) -> Option<Ns> {
        // Most elements of a body are unprefixed and no default namespace is declared.
        if prefix.is_empty() && self.default_bindings == 0 {
            return Some(Ns::None);
        }
        match self.scopes.iter().rev().find(|b| b.prefix == prefix) {
            Some(b) => Some(b.ns),
            None if prefix.is_empty() => Some(Ns::None),
            None if prefix == "xml" => Some(Ns::Other),
            None => None,
        }
    }

    /// The URI bound to the prefix of `qname`, for messages.
    pub fn uri_of(&self, qname: &str) -> String {
        let (prefix, _) = split_qname(qname);
        self.scopes
            .iter()
            .rev()
            .find(|b| b.prefix == prefix)
            .map(|b| b.uri.to_string())
            .unwrap_or_default()
    }

    fn leave(&mut self) {
        while self.scopes.last().is_some_and(|b| b.depth >= self.depth) {
            if self.scopes.pop().is_some_and(|b| b.prefix.is_empty()) {
                self.default_bindings -= 1;
            }
        }
        self.depth = self.depth.saturating_sub(1);
    }
}

/// `prefix:local` split at its colon; `("", qname)` without one.
fn split_qname(qname: &str) -> (&str, &str) {
    prefixed(qname).unwrap_or(("", qname))
}

/// `prefix:local` split at its first colon, if it has one.
fn prefixed(qname: &str) -> Option<(&str, &str)> {
    // A byte search: `str::split_once(char)` goes through the general pattern searcher,
    // which cost 3% of the ACS's instructions per session on these short names
    // (callgrind, BENCHMARKS.md). `:` is ASCII, so both sides are at character boundaries.
    let i = qname.bytes().position(|b| b == b':')?;
    Some((qname.get(..i)?, qname.get(i + 1..)?))
}

fn is_blank(t: &str) -> bool {
    t.bytes().all(is_whitespace)
}

fn append<'a>(acc: &mut Option<Cow<'a, str>>, piece: Cow<'a, str>) {
    match acc {
        None => *acc = Some(piece),
        Some(existing) => existing.to_mut().push_str(&piece),
    }
}

/// Characters that XML 1.0 §2.2 allows in a document.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}
