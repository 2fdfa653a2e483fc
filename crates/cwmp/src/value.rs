//! Typed parameter values (`ParameterValueStruct/Value`, an `xs:anySimpleType` whose type
//! the sender names with `xsi:type`, notes §2.5).

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::codec::{Codec, Leaf, Validate, Validator, check, parse_bool};
use crate::datetime::DateTime;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::xml::reader::{Cursor, Ns, Tag};
use crate::xml::writer::Writer;

/// A parameter value with its type.
///
/// Decoding never fails on a value: a type this crate does not model (`xsd:decimal`, a
/// vendor type) and a value whose text does not fit its declared type (`-1` as
/// `xsd:unsignedInt`, which real CPEs send) are both kept as [`ParameterValue::Other`], so
/// that one bad parameter does not make a whole Inform unreadable. A missing `xsi:type`
/// means `xsd:string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterValue<'a> {
    /// `xsd:string`.
    String(Cow<'a, str>),
    /// `xsd:int`.
    Int(i32),
    /// `xsd:unsignedInt`.
    UnsignedInt(u32),
    /// `xsd:long`.
    Long(i64),
    /// `xsd:unsignedLong`.
    UnsignedLong(u64),
    /// `xsd:boolean` (`0`, `1`, `false`, `true` on input).
    Boolean(bool),
    /// `xsd:dateTime`.
    DateTime(DateTime),
    /// `xsd:base64Binary` (also `xsd:base64` and `soapenc:base64` on input), decoded.
    Base64(Vec<u8>),
    /// `xsd:hexBinary`, decoded.
    HexBinary(Vec<u8>),
    /// Any other value, kept as written.
    Other {
        /// The type, `xsd:NAME` when it is in the XML Schema namespace, otherwise as
        /// written.
        xsi_type: Cow<'a, str>,
        /// The text.
        text: Cow<'a, str>,
    },
}

/// Base64 as TR-069 writes it: standard alphabet, no line breaks; padding optional on input.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The types this crate models, by their local name in the XML Schema namespace.
fn modeled_type(local: &str) -> Option<&'static str> {
    Some(match local {
        "string" => "xsd:string",
        "int" => "xsd:int",
        "unsignedInt" => "xsd:unsignedInt",
        "long" => "xsd:long",
        "unsignedLong" => "xsd:unsignedLong",
        "boolean" => "xsd:boolean",
        "dateTime" => "xsd:dateTime",
        // GenieACS writes `xsd:base64`, which XML Schema does not define; it is read, but
        // `xsd:base64Binary` is written, so that what we emit validates.
        "base64" | "base64Binary" => "xsd:base64Binary",
        "hexBinary" => "xsd:hexBinary",
        _ => return None,
    })
}

impl<'a> ParameterValue<'a> {
    /// The `xsi:type` written for this value.
    pub fn xsi_type(&self) -> &str {
        match self {
            ParameterValue::String(_) => "xsd:string",
            ParameterValue::Int(_) => "xsd:int",
            ParameterValue::UnsignedInt(_) => "xsd:unsignedInt",
            ParameterValue::Long(_) => "xsd:long",
            ParameterValue::UnsignedLong(_) => "xsd:unsignedLong",
            ParameterValue::Boolean(_) => "xsd:boolean",
            ParameterValue::DateTime(_) => "xsd:dateTime",
            ParameterValue::Base64(_) => "xsd:base64Binary",
            ParameterValue::HexBinary(_) => "xsd:hexBinary",
            ParameterValue::Other { xsi_type, .. } => xsi_type,
        }
    }

    /// Builds a value from a type name (`xsd:int`, `int`, `unsignedInt`, ...) and its
    /// text, as [`decode`](crate::decode) does: unknown types and text that does not fit
    /// the type become [`ParameterValue::Other`].
    pub fn from_text(xsi_type: &str, text: Cow<'a, str>) -> ParameterValue<'a> {
        let local = xsi_type.rsplit(':').next().unwrap_or(xsi_type);
        match modeled_type(local) {
            Some(name) => Self::typed(name, text),
            None => ParameterValue::Other {
                xsi_type: Cow::Owned(xsi_type.to_owned()),
                text,
            },
        }
    }

    /// Parses `text` as the modeled type `name` (`xsd:...`), keeping it as `Other` when it
    /// does not fit.
    fn typed(name: &'static str, text: Cow<'a, str>) -> ParameterValue<'a> {
        let t = text.trim();
        let parsed = match name {
            "xsd:string" => return ParameterValue::String(text),
            "xsd:int" => t.parse().ok().map(ParameterValue::Int),
            "xsd:unsignedInt" => t.parse().ok().map(ParameterValue::UnsignedInt),
            "xsd:long" => t.parse().ok().map(ParameterValue::Long),
            "xsd:unsignedLong" => t.parse().ok().map(ParameterValue::UnsignedLong),
            "xsd:boolean" => parse_bool(t).map(ParameterValue::Boolean),
            "xsd:dateTime" => DateTime::parse(t).ok().map(ParameterValue::DateTime),
            "xsd:base64Binary" => {
                // XML Schema lets base64 text carry white space; TR-069 writes none.
                let compact: String = t.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                BASE64.decode(compact).ok().map(ParameterValue::Base64)
            }
            "xsd:hexBinary" => hex::decode(t).ok().map(ParameterValue::HexBinary),
            _ => None,
        };
        parsed.unwrap_or(ParameterValue::Other {
            xsi_type: Cow::Borrowed(name),
            text,
        })
    }

    /// The value as text, in canonical form (`true`/`false` for booleans).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            ParameterValue::String(s) => Cow::Borrowed(s),
            ParameterValue::Int(v) => Cow::Owned(v.to_string()),
            ParameterValue::UnsignedInt(v) => Cow::Owned(v.to_string()),
            ParameterValue::Long(v) => Cow::Owned(v.to_string()),
            ParameterValue::UnsignedLong(v) => Cow::Owned(v.to_string()),
            ParameterValue::Boolean(v) => Cow::Borrowed(if *v { "true" } else { "false" }),
            ParameterValue::DateTime(v) => Cow::Owned(v.to_string()),
            ParameterValue::Base64(v) => Cow::Owned(BASE64.encode(v)),
            ParameterValue::HexBinary(v) => Cow::Owned(hex::encode_upper(v)),
            ParameterValue::Other { text, .. } => Cow::Borrowed(text),
        }
    }

    /// Whether the value was kept as text because its type is unknown or its text did not
    /// fit its type.
    pub fn is_other(&self) -> bool {
        matches!(self, ParameterValue::Other { .. })
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> ParameterValue<'static> {
        match self {
            ParameterValue::String(s) => ParameterValue::String(Cow::Owned(s.into_owned())),
            ParameterValue::Int(v) => ParameterValue::Int(v),
            ParameterValue::UnsignedInt(v) => ParameterValue::UnsignedInt(v),
            ParameterValue::Long(v) => ParameterValue::Long(v),
            ParameterValue::UnsignedLong(v) => ParameterValue::UnsignedLong(v),
            ParameterValue::Boolean(v) => ParameterValue::Boolean(v),
            ParameterValue::DateTime(v) => ParameterValue::DateTime(v),
            ParameterValue::Base64(v) => ParameterValue::Base64(v),
            ParameterValue::HexBinary(v) => ParameterValue::HexBinary(v),
            ParameterValue::Other { xsi_type, text } => ParameterValue::Other {
                xsi_type: Cow::Owned(xsi_type.into_owned()),
                text: Cow::Owned(text.into_owned()),
            },
        }
    }
}

impl fmt::Display for ParameterValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl<'a> Codec<'a> for ParameterValue<'a> {
    fn decode(cur: &mut Cursor<'a>, tag: &Tag<'a>) -> Result<Self, DecodeError> {
        let text = cur.text()?;
        let Some(ty) = &tag.xsi_type else {
            return Ok(ParameterValue::String(text));
        };
        // By namespace, never by prefix; an undeclared prefix (Ns::Other) is matched by
        // local name, since CPEs write `xsd:string` without declaring `xsd`.
        let modeled = match ty.ns {
            Ns::Xsd | Ns::SoapEnc | Ns::Other | Ns::None => modeled_type(&ty.local),
            _ => None,
        };
        Ok(match modeled {
            Some(name) => ParameterValue::typed(name, text),
            None => {
                let xsi_type = match ty.ns {
                    Ns::Xsd => Cow::Owned(format!("xsd:{}", ty.local)),
                    Ns::SoapEnc => Cow::Owned(format!("soap-enc:{}", ty.local)),
                    Ns::Cwmp(_) => Cow::Owned(format!("cwmp:{}", ty.local)),
                    _ => ty.local.clone(),
                };
                ParameterValue::Other { xsi_type, text }
            }
        })
    }

    fn encode(&self, name: &str, w: &mut Writer<'_>) {
        w.open_with(name, "xsi:type", self.xsi_type());
        match self {
            ParameterValue::String(s) | ParameterValue::Other { text: s, .. } => w.text(s),
            ParameterValue::Boolean(b) => {
                let s = w.boolean(*b);
                w.out.push_str(s);
            }
            other => w.out.push_str(&other.text()),
        }
        w.close(name);
    }
}

impl Validate for ParameterValue<'_> {
    fn validate(&self, v: &mut Validator) {
        match self {
            ParameterValue::String(s) => check::xml_chars(s, v),
            ParameterValue::DateTime(t) => t.validate(v),
            ParameterValue::Other { xsi_type, text } => {
                check::xml_chars(text, v);
                // A type must exist in the schemas an envelope is validated against, and the
                // text must be of it: only XML Schema built-in types whose lexical form we
                // check can be written; the types we model must use their variant.
                let local = xsi_type.strip_prefix("xsd:");
                match local.map(|l| (l, modeled_type(l), other_type_accepts(l, text))) {
                    Some((_, Some(_), _)) => v.fail(format!(
                        "{xsi_type} value {:?} does not parse; use the typed variant",
                        crate::error::excerpt(text)
                    )),
                    Some((_, None, Some(true))) => {}
                    Some((_, None, Some(false))) => v.fail(format!(
                        "{:?} is not a valid {xsi_type}",
                        crate::error::excerpt(text)
                    )),
                    _ => v.fail(format!(
                        "xsi:type {xsi_type:?} cannot be written: use a typed variant or one of \
                         {}",
                        OTHER_TYPES.join(", ")
                    )),
                }
            }
            _ => {}
        }
    }
}

/// The XML Schema types besides the modeled ones that an `Other` value may be written as.
const OTHER_TYPES: [&str; 14] = [
    "xsd:decimal",
    "xsd:integer",
    "xsd:nonNegativeInteger",
    "xsd:positiveInteger",
    "xsd:nonPositiveInteger",
    "xsd:negativeInteger",
    "xsd:byte",
    "xsd:short",
    "xsd:unsignedByte",
    "xsd:unsignedShort",
    "xsd:float",
    "xsd:double",
    "xsd:normalizedString",
    "xsd:token",
];

/// Whether `text` is in the lexical space of the XML Schema built-in type `local`, or `None`
/// when `local` is not one of [`OTHER_TYPES`]. Numeric types collapse white space first
/// (XML Schema Part 2 §4.3.6).
fn other_type_accepts(local: &str, text: &str) -> Option<bool> {
    let t = text.trim_matches([' ', '\t', '\n', '\r']);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let integer = |s: &str| digits(s.strip_prefix(['+', '-']).unwrap_or(s));
    let is_zero = |s: &str| s.trim_start_matches(['+', '-']).bytes().all(|b| b == b'0');
    let decimal = |s: &str| {
        let s = s.strip_prefix(['+', '-']).unwrap_or(s);
        match s.split_once('.') {
            Some((i, f)) => {
                (digits(i) || i.is_empty())
                    && (digits(f) || f.is_empty())
                    && !(i.is_empty() && f.is_empty())
            }
            None => digits(s),
        }
    };
    // libxml2 (xmllint, which `validate-envelope` runs) holds xs:decimal and the integer
    // types derived from it in 24 digits — those of the integer part after its leading
    // zeros, and every fraction digit — and refuses longer values, although XML Schema
    // allows them. What is written must validate, so longer values are not written.
    let fits = |s: &str| {
        let s = s.strip_prefix(['+', '-']).unwrap_or(s);
        let (i, f) = s.split_once('.').unwrap_or((s, ""));
        i.trim_start_matches('0').len() + f.len() <= 24
    };
    Some(match local {
        "decimal" => decimal(t) && fits(t),
        "integer" => integer(t) && fits(t),
        "nonNegativeInteger" => integer(t) && fits(t) && (!t.starts_with('-') || is_zero(t)),
        "positiveInteger" => integer(t) && fits(t) && !t.starts_with('-') && !is_zero(t),
        "nonPositiveInteger" => integer(t) && fits(t) && (t.starts_with('-') || is_zero(t)),
        "negativeInteger" => integer(t) && fits(t) && t.starts_with('-') && !is_zero(t),
        "byte" => t.parse::<i8>().is_ok(),
        "short" => t.parse::<i16>().is_ok(),
        "unsignedByte" => t.parse::<u8>().is_ok(),
        "unsignedShort" => t.parse::<u16>().is_ok(),
        "float" | "double" => {
            matches!(t, "INF" | "-INF" | "NaN")
                || match t.split_once(['e', 'E']) {
                    Some((m, e)) => decimal(m) && integer(e),
                    None => decimal(t),
                }
        }
        "normalizedString" => !text.contains(['\t', '\n', '\r']),
        "token" => {
            !text.contains(['\t', '\n', '\r'])
                && !text.starts_with(' ')
                && !text.ends_with(' ')
                && !text.contains("  ")
        }
        _ => return None,
    })
}

impl serde::Serialize for ParameterValue<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ParameterValue::Int(v) => s.serialize_i32(*v),
            ParameterValue::UnsignedInt(v) => s.serialize_u32(*v),
            ParameterValue::Long(v) => s.serialize_i64(*v),
            ParameterValue::UnsignedLong(v) => s.serialize_u64(*v),
            ParameterValue::Boolean(v) => s.serialize_bool(*v),
            other => s.serialize_str(&other.text()),
        }
    }
}

/// `ParameterValueStruct`: a parameter's full name and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterValueStruct<'a> {
    /// Full parameter name, e.g. `Device.DeviceInfo.SoftwareVersion`.
    pub name: Cow<'a, str>,
    /// The value.
    pub value: ParameterValue<'a>,
}

impl<'a> ParameterValueStruct<'a> {
    /// A name and a value.
    pub fn new(name: impl Into<Cow<'a, str>>, value: ParameterValue<'a>) -> Self {
        ParameterValueStruct {
            name: name.into(),
            value,
        }
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> ParameterValueStruct<'static> {
        ParameterValueStruct {
            name: Cow::Owned(self.name.into_owned()),
            value: self.value.into_owned(),
        }
    }
}

impl crate::IntoOwned for ParameterValueStruct<'_> {
    type Owned = ParameterValueStruct<'static>;
    fn into_owned(self) -> ParameterValueStruct<'static> {
        ParameterValueStruct::into_owned(self)
    }
}

impl<'a> Codec<'a> for ParameterValueStruct<'a> {
    fn decode(cur: &mut Cursor<'a>, tag: &Tag<'a>) -> Result<Self, DecodeError> {
        let mut name = None;
        let mut value = None;
        while let Some(child) = cur.next_child()? {
            match (child.is_cwmp_child(), child.local) {
                (true, "Name") => {
                    if name.is_some() {
                        return Err(cur
                            .error(DecodeErrorKind::DuplicateElement("Name"))
                            .within("Name"));
                    }
                    name = Some(<Cow<'a, str> as Leaf>::parse(cur.text()?).unwrap_or_default());
                }
                (true, "Value") => {
                    if value.is_some() {
                        return Err(cur
                            .error(DecodeErrorKind::DuplicateElement("Value"))
                            .within("Value"));
                    }
                    value =
                        Some(ParameterValue::decode(cur, &child).map_err(|e| e.within("Value"))?);
                }
                _ => cur.skip()?,
            }
        }
        let missing =
            |element| DecodeError::new(DecodeErrorKind::MissingElement(element), tag.offset);
        Ok(ParameterValueStruct {
            name: name.ok_or_else(|| missing("Name"))?,
            value: value.ok_or_else(|| missing("Value"))?,
        })
    }

    fn encode(&self, name: &str, w: &mut Writer<'_>) {
        w.open(name);
        w.leaf("Name", &self.name);
        self.value.encode("Value", w);
        w.close(name);
    }
}

impl Validate for ParameterValueStruct<'_> {
    fn validate(&self, v: &mut Validator) {
        v.at("Name", |v| {
            check::max_len(&self.name, v, 256);
            check::xml_chars(&self.name, v);
        });
        v.at("Value", |v| self.value.validate(v));
    }
}

impl serde::Serialize for ParameterValueStruct<'_> {
    /// `{"Name": ..., "Type": "xsd:unsignedInt", "Value": 300}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("ParameterValueStruct", 3)?;
        st.serialize_field("Name", &self.name)?;
        st.serialize_field("Type", self.value.xsi_type())?;
        st.serialize_field("Value", &self.value)?;
        st.end()
    }
}

crate::codec::array_item!(
    ParameterValueStruct<'a>,
    "ParameterValueStruct",
    "cwmp:ParameterValueStruct"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_text_types_and_keeps_misfits() {
        assert_eq!(
            ParameterValue::from_text("xsd:int", "-5".into()),
            ParameterValue::Int(-5)
        );
        assert_eq!(
            ParameterValue::from_text("unsignedInt", " 7 ".into()),
            ParameterValue::UnsignedInt(7)
        );
        assert_eq!(
            ParameterValue::from_text("xsd:boolean", "1".into()),
            ParameterValue::Boolean(true)
        );
        assert_eq!(
            ParameterValue::from_text("xsd:unsignedInt", "-1".into()),
            ParameterValue::Other {
                xsi_type: "xsd:unsignedInt".into(),
                text: "-1".into()
            }
        );
        assert_eq!(
            ParameterValue::from_text("xsd:decimal", "1.5".into()),
            ParameterValue::Other {
                xsi_type: "xsd:decimal".into(),
                text: "1.5".into()
            }
        );
        assert_eq!(
            ParameterValue::from_text("xsd:base64", "aGk".into()),
            ParameterValue::Base64(b"hi".to_vec())
        );
        assert_eq!(ParameterValue::Base64(b"hi".to_vec()).text(), "aGk=");
        assert_eq!(
            ParameterValue::Base64(vec![]).xsi_type(),
            "xsd:base64Binary"
        );
        assert_eq!(
            ParameterValue::from_text("xsd:hexBinary", "00ff".into()),
            ParameterValue::HexBinary(vec![0, 255])
        );
        assert_eq!(ParameterValue::HexBinary(vec![0, 255]).text(), "00FF");
    }

    #[test]
    fn other_types_are_checked_before_writing() {
        let ok = |t: &str, text: &str| other_type_accepts(t, text);
        assert_eq!(ok("decimal", " -1.50 "), Some(true));
        assert_eq!(ok("decimal", ".5"), Some(true));
        assert_eq!(ok("decimal", "."), Some(false));
        assert_eq!(ok("decimal", "1e3"), Some(false));
        // libxml2's 24 digits (checked with xmllint: the integer part's leading zeros do
        // not count, fraction digits all do).
        assert_eq!(ok("decimal", "123456789012345678901234"), Some(true));
        assert_eq!(ok("decimal", "1234567890123456789012345"), Some(false));
        assert_eq!(
            ok("decimal", "000000000123456789012345678901234"),
            Some(true)
        );
        assert_eq!(ok("decimal", "12345678901234567890123.4"), Some(true));
        assert_eq!(ok("decimal", "1.00000000000000000000000000"), Some(false));
        assert_eq!(ok("decimal", "0.000000000000000000000000001"), Some(false));
        assert_eq!(ok("integer", "-1234567890123456789012345"), Some(false));
        assert_eq!(
            ok("nonNegativeInteger", "123456789012345678901234"),
            Some(true)
        );
        assert_eq!(ok("double", "1e3"), Some(true));
        assert_eq!(ok("float", "-INF"), Some(true));
        assert_eq!(ok("float", "+INF"), Some(false));
        assert_eq!(ok("positiveInteger", "0"), Some(false));
        assert_eq!(ok("nonNegativeInteger", "-0"), Some(true));
        assert_eq!(ok("negativeInteger", "-3"), Some(true));
        assert_eq!(ok("unsignedByte", "256"), Some(false));
        assert_eq!(ok("token", "a  b"), Some(false));
        assert_eq!(ok("normalizedString", "a\nb"), Some(false));
        assert_eq!(ok("anyURI", "x"), None);
    }
}
