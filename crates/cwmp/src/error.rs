//! Errors of the codec: what went wrong, where (element path and byte offset), and for
//! decoding, enough of the envelope (its `cwmp:ID` and namespace) to answer with a fault.

use std::fmt;

use crate::namespace::Namespace;

/// Why an envelope could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The body is larger than [`Limits::max_body_bytes`](crate::Limits::max_body_bytes).
    TooLarge {
        /// Size of the body in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Elements are nested deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// More elements than [`Limits::max_elements`](crate::Limits::max_elements).
    TooManyElements {
        /// The configured limit.
        limit: usize,
    },
    /// An element with more attributes than
    /// [`Limits::max_attributes`](crate::Limits::max_attributes).
    TooManyAttributes {
        /// The configured limit.
        limit: usize,
    },
    /// The body is not UTF-8 and no other charset was declared.
    NotUtf8,
    /// The body declares a charset this crate cannot read.
    UnsupportedCharset(String),
    /// A `<!DOCTYPE`: DTDs, and with them entity expansion, are refused (notes §7.3).
    Doctype,
    /// A processing instruction other than the XML declaration.
    ProcessingInstruction(String),
    /// A reference to an entity other than the five predefined ones.
    UndefinedEntity(String),
    /// The XML is not well-formed.
    Syntax(String),
    /// The input ended inside an element.
    UnexpectedEof,
    /// Something other than white space or comments follows the root element.
    TrailingContent,
    /// The root element is not a SOAP 1.1 `Envelope`.
    NotEnvelope {
        /// The root element as written.
        found: String,
    },
    /// A SOAP 1.2 envelope; TR-069 uses SOAP 1.1 only.
    SoapVersionMismatch,
    /// The envelope has no `Body`.
    MissingBody,
    /// The `Body` holds no message.
    EmptyBody,
    /// The `Body` holds more than one message; CWMP allows one envelope per HTTP message
    /// holding one message (notes §3.4).
    MultipleMessages,
    /// A header element with `mustUnderstand="1"` that this implementation does not
    /// understand; SOAP 1.1 §4.2.3 requires a `MustUnderstand` fault.
    MustUnderstand {
        /// The header element as written.
        header: String,
    },
    /// A message in a CWMP namespace that is not a CWMP method.
    UnknownMethod {
        /// The element's local name.
        name: String,
    },
    /// The message element is not in a CWMP namespace (or in one this crate does not know).
    NotCwmp {
        /// The element as written.
        element: String,
        /// Its namespace URI, empty when it has none.
        namespace: String,
    },
    /// A name uses a prefix that no `xmlns` declaration binds.
    UnboundPrefix(String),
    /// A required element is missing.
    MissingElement(&'static str),
    /// An element that may occur once occurs again.
    DuplicateElement(&'static str),
    /// An element where only text may stand.
    UnexpectedElement(String),
    /// Text that is not a valid value of its type.
    InvalidValue {
        /// The expected type, e.g. `xsd:unsignedInt`.
        expected: &'static str,
        /// The text found (shortened when long).
        found: String,
    },
    /// A required attribute is missing.
    MissingAttribute(&'static str),
    /// A `ChangeDUState` operation whose `xsi:type` is not one of the three operation types.
    UnknownOperationType(String),
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeErrorKind as K;
        match self {
            K::TooLarge { size, limit } => {
                write!(f, "body of {size} bytes exceeds the limit of {limit} bytes")
            }
            K::TooDeep { limit } => write!(f, "elements nested deeper than {limit} levels"),
            K::TooManyElements { limit } => write!(f, "more than {limit} elements"),
            K::TooManyAttributes { limit } => {
                write!(f, "more than {limit} attributes on one element")
            }
            K::NotUtf8 => f.write_str("body is not valid UTF-8"),
            K::UnsupportedCharset(c) => write!(f, "unsupported charset {c:?}"),
            K::Doctype => f.write_str("DOCTYPE is not allowed (no DTDs, no entity expansion)"),
            K::ProcessingInstruction(p) => {
                write!(f, "processing instruction <?{p}?> is not allowed")
            }
            K::UndefinedEntity(e) => write!(f, "undefined entity &{e};"),
            K::Syntax(s) => write!(f, "malformed XML: {s}"),
            K::UnexpectedEof => f.write_str("unexpected end of input"),
            K::TrailingContent => f.write_str("content after the root element"),
            K::NotEnvelope { found } => {
                write!(f, "root element <{found}> is not a SOAP 1.1 Envelope")
            }
            K::SoapVersionMismatch => f.write_str("SOAP 1.2 envelope; CWMP uses SOAP 1.1"),
            K::MissingBody => f.write_str("envelope has no Body"),
            K::EmptyBody => f.write_str("Body holds no message"),
            K::MultipleMessages => f.write_str("Body holds more than one message"),
            K::MustUnderstand { header } => {
                write!(
                    f,
                    "header <{header}> has mustUnderstand=\"1\" but is not understood"
                )
            }
            K::UnknownMethod { name } => write!(f, "unknown CWMP method {name}"),
            K::NotCwmp { element, namespace } if namespace.is_empty() => {
                write!(f, "message <{element}> is not in a CWMP namespace")
            }
            K::NotCwmp { element, namespace } => {
                write!(
                    f,
                    "message <{element}> is in namespace {namespace:?}, not a CWMP namespace"
                )
            }
            K::UnboundPrefix(p) => write!(f, "namespace prefix {p:?} is not declared"),
            K::MissingElement(e) => write!(f, "missing required element <{e}>"),
            K::DuplicateElement(e) => write!(f, "element <{e}> occurs more than once"),
            K::UnexpectedElement(e) => write!(f, "unexpected element <{e}> in text content"),
            K::InvalidValue { expected, found } => write!(f, "{found:?} is not a valid {expected}"),
            K::MissingAttribute(a) => write!(f, "missing required attribute {a}"),
            K::UnknownOperationType(t) => write!(
                f,
                "operation type {t:?} is not InstallOpStruct, UpdateOpStruct or UninstallOpStruct"
            ),
        }
    }
}

/// A decoding failure: what, where, and what was known of the envelope at that point.
///
/// Boxed: every decode step returns `Result<_, DecodeError>`, and an error held inline
/// would make each of those results as large as itself, to be copied on every successful
/// return (about 100 bytes, against one pointer; errors are rare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(Box<Failure>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    kind: DecodeErrorKind,
    offset: u64,
    path: String,
    id: Option<String>,
    namespace: Option<Namespace>,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, offset: u64) -> DecodeError {
        DecodeError(Box::new(Failure {
            kind,
            offset,
            path: String::new(),
            id: None,
            namespace: None,
        }))
    }

    /// Prepends an element name to the path (called by each enclosing element on the way
    /// out, so paths cost nothing unless decoding fails).
    pub(crate) fn within(mut self, element: &str) -> DecodeError {
        self.0.path.insert_str(0, element);
        self.0.path.insert(0, '/');
        self
    }

    /// Prepends `element[index]` (1-based, as in XPath) to the path.
    pub(crate) fn within_item(self, element: &str, index: usize) -> DecodeError {
        self.within(&format!("{element}[{}]", index + 1))
    }

    pub(crate) fn with_context(mut self, id: Option<String>, ns: Option<Namespace>) -> Self {
        self.0.id = self.0.id.take().or(id);
        self.0.namespace = self.0.namespace.or(ns);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.0.kind
    }

    /// Byte offset in the input near the failure (the start of the element concerned, or
    /// where the XML reader stopped).
    pub fn offset(&self) -> u64 {
        self.0.offset
    }

    /// Element path of the failure, e.g. `/Envelope/Body/Inform/DeviceId/OUI`; empty when
    /// the failure is not inside an element.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// The envelope's `cwmp:ID` header when it was read before the failure: a responder
    /// echoes it in its fault (notes §2.7).
    pub fn request_id(&self) -> Option<&str> {
        self.0.id.as_deref()
    }

    /// The envelope's CWMP namespace when it was known before the failure: a responder
    /// answers in it.
    pub fn namespace(&self) -> Option<Namespace> {
        self.0.namespace
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.0.kind, self.0.offset)?;
        if !self.0.path.is_empty() {
            write!(f, " in {}", self.0.path)?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

/// Why a message could not be encoded: it would not be valid in the target namespace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The method or header does not exist in that namespace (e.g. `ChangeDUState` in
    /// `cwmp-1-0`).
    #[error("{item} does not exist in namespace {namespace}")]
    NotInNamespace {
        /// The method or header name.
        item: &'static str,
        /// The target namespace.
        namespace: Namespace,
    },
    /// A value breaks a constraint of the BBF schema of the target namespace.
    #[error("{path}: {reason}")]
    Invalid {
        /// Element path of the value.
        path: String,
        /// The constraint broken.
        reason: String,
    },
}

/// Shortens text quoted in an error message so that a hostile 100 MB value does not end
/// up in a log line.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        None => s.to_owned(),
        Some((i, _)) => format!("{}…", s.get(..i).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_what_and_where() {
        let e = DecodeError::new(
            DecodeErrorKind::InvalidValue {
                expected: "xsd:unsignedInt",
                found: "x".into(),
            },
            120,
        )
        .within("RetryCount")
        .within("Inform")
        .within("Body")
        .within("Envelope");
        assert_eq!(
            e.to_string(),
            "\"x\" is not a valid xsd:unsignedInt at byte 120 in /Envelope/Body/Inform/RetryCount"
        );
    }

    #[test]
    fn excerpt_shortens_on_char_boundaries() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "é".repeat(100);
        assert_eq!(excerpt(&long).chars().count(), 65);
    }
}
