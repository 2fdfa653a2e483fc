//! Checking values against a [`Syntax`] and converting stored text to typed values.
//!
//! # Typing rule for SetParameterValues (notes §2.5)
//!
//! TR-069 says a value whose `xsi:type` does not match the parameter's type fails with 9006.
//! Many ACSes (GenieACS among them) send everything as `xsd:string`, so this CPE is lenient
//! in one direction only:
//!
//! - The parameter's own type is always accepted (9007 if the value does not fit its facets;
//!   a value the decoder could not parse as its declared type, e.g. `xsd:int` `abc`, is 9007).
//! - `xsd:string` is accepted for any type when its text parses as that type (9007 when it
//!   does not): `xsd:string` `true` sets a boolean, `xsd:string` `300` an unsignedInt.
//! - The four integer types (and `xsd:decimal`-family types for decimals) are interchangeable
//!   when the number fits the parameter's type (9007 when it does not).
//! - Anything else is 9006: `xsd:boolean` for an int, `xsd:int` for a string, `xsd:dateTime`
//!   for a boolean.
//!
//! Lists (comma-separated, sent as `xsd:string`) take `xsd:string`, or a single value of the
//! item type.

use std::borrow::Cow;

use cwmp::ParameterValue;

use super::{BaseType, Model, Syntax};

/// Why a value does not fit a parameter: 9006 for a type that cannot carry the
/// parameter's type, 9007 for a value that does not fit it.
///
/// Typing rule for SetParameterValues (notes §2.5): the parameter's own type is always
/// accepted; `xsd:string` is accepted for any type when its text parses as that type (what
/// GenieACS and many ACSes send); the four integer types are interchangeable when the
/// number fits; anything else (`xsd:boolean` for an int, `xsd:int` for a string) is 9006.
/// Lists are strings. Values must be XML characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The value's type cannot carry the parameter's type: fault 9006.
    #[error("invalid type: {0}")]
    Type(String),
    /// The value's text does not fit the type or its facets: fault 9007.
    #[error("invalid value: {0}")]
    Value(String),
}

impl ValueError {
    /// The CWMP fault code for this error.
    pub fn fault_code(&self) -> cwmp::FaultCode {
        match self {
            ValueError::Type(_) => cwmp::FaultCode::INVALID_PARAMETER_TYPE,
            ValueError::Value(_) => cwmp::FaultCode::INVALID_PARAMETER_VALUE,
        }
    }
}

fn is_integer(t: BaseType) -> bool {
    matches!(
        t,
        BaseType::Int | BaseType::UnsignedInt | BaseType::Long | BaseType::UnsignedLong
    )
}

/// XML Schema numeric types other than the four CWMP ones.
fn is_numeric_xsd(local: &str) -> bool {
    matches!(
        local,
        "int"
            | "unsignedInt"
            | "long"
            | "unsignedLong"
            | "integer"
            | "nonNegativeInteger"
            | "positiveInteger"
            | "nonPositiveInteger"
            | "negativeInteger"
            | "byte"
            | "short"
            | "unsignedByte"
            | "unsignedShort"
    )
}

fn local_type(xsi_type: &str) -> &str {
    xsi_type.rsplit(':').next().unwrap_or(xsi_type)
}

/// The text of `value` if its type may carry a value of type `target` (see the module
/// docs), else a type error.
fn carried_text<'v>(
    target: BaseType,
    value: &'v ParameterValue<'_>,
) -> Result<Cow<'v, str>, ValueError> {
    let sent = value.xsi_type();
    let mismatch = || {
        Err(ValueError::Type(format!(
            "{sent} given for a parameter of type {}",
            target.xsd_name()
        )))
    };
    match value {
        ParameterValue::String(s) => Ok(Cow::Borrowed(s)),
        ParameterValue::Int(_)
        | ParameterValue::UnsignedInt(_)
        | ParameterValue::Long(_)
        | ParameterValue::UnsignedLong(_)
            if is_integer(target) || target == BaseType::Decimal =>
        {
            Ok(value.text())
        }
        ParameterValue::Boolean(_) if target == BaseType::Boolean => Ok(value.text()),
        ParameterValue::DateTime(_) if target == BaseType::DateTime => Ok(value.text()),
        ParameterValue::Base64(_) if target == BaseType::Base64 => Ok(value.text()),
        ParameterValue::HexBinary(_) if target == BaseType::HexBinary => Ok(value.text()),
        ParameterValue::Other { xsi_type, text } => {
            let local = local_type(xsi_type);
            let ok = match target {
                BaseType::String => false,
                BaseType::Int | BaseType::UnsignedInt | BaseType::Long | BaseType::UnsignedLong => {
                    is_numeric_xsd(local)
                }
                BaseType::Decimal => {
                    is_numeric_xsd(local) || matches!(local, "decimal" | "float" | "double")
                }
                BaseType::Boolean => local == "boolean",
                BaseType::DateTime => local == "dateTime",
                BaseType::Base64 => matches!(local, "base64" | "base64Binary"),
                BaseType::HexBinary => local == "hexBinary",
            };
            if ok {
                Ok(Cow::Borrowed(text))
            } else {
                mismatch()
            }
        }
        _ => mismatch(),
    }
}

/// Checks a typed value (module docs); canonical text.
pub(crate) fn check_value(
    model: &Model,
    syntax: &Syntax,
    value: &ParameterValue<'_>,
    by_acs: bool,
) -> Result<String, ValueError> {
    let text = carried_text(syntax.base, value)?;
    check_text(model, syntax, &text, by_acs)
}

/// Checks text against a syntax (list and facets); canonical text.
pub(crate) fn check_text(
    model: &Model,
    syntax: &Syntax,
    text: &str,
    by_acs: bool,
) -> Result<String, ValueError> {
    let Some(list) = &syntax.list else {
        return check_item(model, syntax, text, by_acs);
    };
    if let Some(max) = list.max_length
        && text.chars().count() > max as usize
    {
        return Err(ValueError::Value(format!(
            "list longer than {max} characters"
        )));
    }
    let items: Vec<&str> = if text.trim().is_empty() {
        Vec::new()
    } else {
        text.split(',').map(str::trim).collect()
    };
    let n = u32::try_from(items.len()).unwrap_or(u32::MAX);
    if n < list.min_items {
        return Err(ValueError::Value(format!(
            "at least {} list items required",
            list.min_items
        )));
    }
    if list.max_items.is_some_and(|max| n > max) {
        return Err(ValueError::Value(format!(
            "at most {} list items allowed",
            list.max_items.unwrap_or(0)
        )));
    }
    let mut out = String::with_capacity(text.len());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&check_item(model, syntax, item, by_acs)?);
    }
    Ok(out)
}

fn check_length(syntax: &Syntax, len: usize, unit: &str) -> Result<(), ValueError> {
    if let Some(min) = syntax.min_length
        && len < min as usize
    {
        return Err(ValueError::Value(format!("shorter than {min} {unit}")));
    }
    if let Some(max) = syntax.max_length
        && len > max as usize
    {
        return Err(ValueError::Value(format!("longer than {max} {unit}")));
    }
    Ok(())
}

fn check_enumeration(syntax: &Syntax, canonical: &str, by_acs: bool) -> Result<(), ValueError> {
    if syntax.enumeration.is_empty() {
        return Ok(());
    }
    match syntax.enumeration.iter().find(|e| &*e.value == canonical) {
        Some(e) if e.read_only && by_acs => Err(ValueError::Value(format!(
            "{canonical:?} may not be set by the ACS"
        ))),
        Some(_) => Ok(()),
        None => Err(ValueError::Value(format!(
            "{:?} is not one of the enumerated values",
            excerpt(canonical)
        ))),
    }
}

fn check_patterns(model: &Model, syntax: &Syntax, text: &str) -> Result<(), ValueError> {
    if syntax.patterns.is_empty() {
        return Ok(());
    }
    let ok = syntax
        .patterns
        .iter()
        .any(|&i| model.pattern(i).is_none_or(|p| p.matches(text)));
    if ok {
        Ok(())
    } else {
        Err(ValueError::Value(format!(
            "{:?} does not match the parameter's pattern",
            excerpt(text)
        )))
    }
}

/// XML 1.0 `Char`: what a value may hold and still be sent (§2.2 of XML 1.0).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
}

fn excerpt(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Parses an integer the way XML Schema writes it (optional sign, digits, surrounding
/// white space).
pub(crate) fn parse_integer(text: &str) -> Option<i128> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.strip_prefix('+').unwrap_or(t).parse().ok()
}

fn is_decimal(text: &str) -> bool {
    let t = text.strip_prefix(['+', '-']).unwrap_or(text);
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match t.split_once('.') {
        Some((i, f)) => digits(i) && digits(f) && !(i.is_empty() && f.is_empty()),
        None => !t.is_empty() && digits(t),
    }
}

fn check_item(
    model: &Model,
    syntax: &Syntax,
    text: &str,
    by_acs: bool,
) -> Result<String, ValueError> {
    let canonical = match syntax.base {
        BaseType::String => {
            if let Some(c) = text.chars().find(|&c| !is_xml_char(c)) {
                return Err(ValueError::Value(format!(
                    "character U+{:04X} cannot be sent in XML",
                    u32::from(c)
                )));
            }
            check_length(syntax, text.chars().count(), "characters")?;
            check_patterns(model, syntax, text)?;
            text.to_owned()
        }
        t @ (BaseType::Int | BaseType::UnsignedInt | BaseType::Long | BaseType::UnsignedLong) => {
            let v = parse_integer(text).ok_or_else(|| {
                ValueError::Value(format!("{:?} is not an integer", excerpt(text)))
            })?;
            if let Some((lo, hi)) = t.integer_bounds()
                && (v < lo || v > hi)
            {
                return Err(ValueError::Value(format!(
                    "{v} is out of range for {}",
                    t.xsd_name()
                )));
            }
            if !syntax.ranges.is_empty() && !syntax.ranges.iter().any(|r| r.contains(v)) {
                return Err(ValueError::Value(format!(
                    "{v} is outside the allowed range"
                )));
            }
            v.to_string()
        }
        BaseType::Boolean => match text.trim() {
            "1" => "true".to_owned(),
            "0" => "false".to_owned(),
            t if t.eq_ignore_ascii_case("true") => "true".to_owned(),
            t if t.eq_ignore_ascii_case("false") => "false".to_owned(),
            _ => {
                return Err(ValueError::Value(format!(
                    "{:?} is not a boolean",
                    excerpt(text)
                )));
            }
        },
        BaseType::DateTime => cwmp::DateTime::parse(text)
            .map_err(|_| ValueError::Value(format!("{:?} is not a dateTime", excerpt(text))))?
            .to_string(),
        BaseType::Base64 | BaseType::HexBinary => {
            let name = if syntax.base == BaseType::Base64 {
                "xsd:base64Binary"
            } else {
                "xsd:hexBinary"
            };
            let v = ParameterValue::from_text(name, Cow::Borrowed(text));
            let len = match &v {
                ParameterValue::Base64(b) | ParameterValue::HexBinary(b) => b.len(),
                _ => {
                    return Err(ValueError::Value(format!(
                        "{:?} is not {name}",
                        excerpt(text)
                    )));
                }
            };
            check_length(syntax, len, "octets")?;
            v.text().into_owned()
        }
        BaseType::Decimal => {
            let t = text.trim();
            if !is_decimal(t) {
                return Err(ValueError::Value(format!(
                    "{:?} is not a decimal",
                    excerpt(text)
                )));
            }
            t.to_owned()
        }
    };
    check_enumeration(syntax, &canonical, by_acs)?;
    Ok(canonical)
}

/// The typed value of stored text. Text that does not parse as the type (a device profile
/// may hold `-1` for an unsignedInt) is sent as `xsd:string` rather than as an invalid
/// typed value, which the encoder would refuse.
pub(crate) fn typed(syntax: &Syntax, text: &str) -> ParameterValue<'static> {
    let string = || ParameterValue::String(Cow::Owned(text.to_owned()));
    if syntax.list.is_some() {
        return string();
    }
    let t = text.trim();
    match syntax.base {
        BaseType::String => string(),
        BaseType::Int => t
            .parse()
            .map(ParameterValue::Int)
            .unwrap_or_else(|_| string()),
        BaseType::UnsignedInt => t
            .parse()
            .map(ParameterValue::UnsignedInt)
            .unwrap_or_else(|_| string()),
        BaseType::Long => t
            .parse()
            .map(ParameterValue::Long)
            .unwrap_or_else(|_| string()),
        BaseType::UnsignedLong => t
            .parse()
            .map(ParameterValue::UnsignedLong)
            .unwrap_or_else(|_| string()),
        BaseType::Boolean => match t {
            "1" => ParameterValue::Boolean(true),
            "0" => ParameterValue::Boolean(false),
            _ if t.eq_ignore_ascii_case("true") => ParameterValue::Boolean(true),
            _ if t.eq_ignore_ascii_case("false") => ParameterValue::Boolean(false),
            _ => string(),
        },
        BaseType::DateTime => cwmp::DateTime::parse(t)
            .map(ParameterValue::DateTime)
            .unwrap_or_else(|_| string()),
        BaseType::Base64 => match ParameterValue::from_text("xsd:base64Binary", Cow::Borrowed(t)) {
            ParameterValue::Base64(b) => ParameterValue::Base64(b),
            _ => string(),
        },
        BaseType::HexBinary => match ParameterValue::from_text("xsd:hexBinary", Cow::Borrowed(t)) {
            ParameterValue::HexBinary(b) => ParameterValue::HexBinary(b),
            _ => string(),
        },
        BaseType::Decimal if is_decimal(t) => ParameterValue::Other {
            xsi_type: Cow::Borrowed("xsd:decimal"),
            text: Cow::Owned(t.to_owned()),
        },
        BaseType::Decimal => string(),
    }
}

/// The null value of a type: what a hidden parameter reads as (TR-106 A.2.3.5).
pub(crate) fn null_value(syntax: &Syntax) -> ParameterValue<'static> {
    if syntax.list.is_some() {
        return ParameterValue::String(Cow::Borrowed(""));
    }
    match syntax.base {
        BaseType::String => ParameterValue::String(Cow::Borrowed("")),
        BaseType::Int => ParameterValue::Int(0),
        BaseType::UnsignedInt => ParameterValue::UnsignedInt(0),
        BaseType::Long => ParameterValue::Long(0),
        BaseType::UnsignedLong => ParameterValue::UnsignedLong(0),
        BaseType::Boolean => ParameterValue::Boolean(false),
        BaseType::DateTime => ParameterValue::DateTime(cwmp::DateTime::UNKNOWN),
        BaseType::Base64 => ParameterValue::Base64(Vec::new()),
        BaseType::HexBinary => ParameterValue::HexBinary(Vec::new()),
        BaseType::Decimal => ParameterValue::Other {
            xsi_type: Cow::Borrowed("xsd:decimal"),
            text: Cow::Borrowed("0"),
        },
    }
}

/// The value of a parameter without a default: the null value adjusted to the facets.
pub(crate) fn initial_text(syntax: &Syntax) -> String {
    if syntax.list.is_some() {
        return String::new();
    }
    if let Some(first) = syntax.enumeration.first() {
        return first.value.to_string();
    }
    match syntax.base {
        BaseType::Int | BaseType::UnsignedInt | BaseType::Long | BaseType::UnsignedLong => {
            if syntax.ranges.is_empty() || syntax.ranges.iter().any(|r| r.contains(0)) {
                "0".to_owned()
            } else {
                syntax
                    .ranges
                    .iter()
                    .filter_map(|r| r.min)
                    .min()
                    .unwrap_or(0)
                    .to_string()
            }
        }
        BaseType::Boolean => "false".to_owned(),
        BaseType::DateTime => "0001-01-01T00:00:00Z".to_owned(),
        BaseType::Decimal => "0".to_owned(),
        BaseType::String | BaseType::Base64 | BaseType::HexBinary => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EnumValue, ListFacet, Range};

    fn model() -> Model {
        Model::empty("Device:2", "Device.")
    }

    fn uint(min: i128, max: i128) -> Syntax {
        Syntax {
            base: BaseType::UnsignedInt,
            ranges: vec![Range {
                min: Some(min),
                max: Some(max),
                step: None,
            }],
            ..Syntax::default()
        }
    }

    #[test]
    fn integers_leniently_typed() {
        let m = model();
        let s = uint(1, 100);
        let ok = |v: ParameterValue<'_>| check_value(&m, &s, &v, true);
        assert_eq!(ok(ParameterValue::UnsignedInt(5)).unwrap(), "5");
        assert_eq!(ok(ParameterValue::Int(5)).unwrap(), "5");
        assert_eq!(ok(ParameterValue::String(" 7".into())).unwrap(), "7");
        assert!(matches!(
            ok(ParameterValue::Int(0)),
            Err(ValueError::Value(_))
        ));
        assert!(matches!(
            ok(ParameterValue::String("x".into())),
            Err(ValueError::Value(_))
        ));
        assert!(matches!(
            ok(ParameterValue::Boolean(true)),
            Err(ValueError::Type(_))
        ));
        assert!(matches!(
            ok(ParameterValue::from_text("xsd:unsignedInt", "-1".into())),
            Err(ValueError::Value(_))
        ));
        let s = Syntax {
            base: BaseType::UnsignedInt,
            ..Syntax::default()
        };
        assert!(check_value(&m, &s, &ParameterValue::Long(1 << 40), true).is_err());
        assert!(check_value(&m, &s, &ParameterValue::Int(-1), true).is_err());
    }

    #[test]
    fn strings_booleans_and_enumerations() {
        let m = model();
        let s = Syntax {
            max_length: Some(4),
            enumeration: vec![
                EnumValue {
                    value: "None".into(),
                    read_only: true,
                },
                EnumValue {
                    value: "Req".into(),
                    read_only: false,
                },
            ],
            ..Syntax::default()
        };
        assert!(check_value(&m, &s, &ParameterValue::String("Req".into()), true).is_ok());
        assert!(check_value(&m, &s, &ParameterValue::String("None".into()), true).is_err());
        assert!(check_value(&m, &s, &ParameterValue::String("None".into()), false).is_ok());
        assert!(matches!(
            check_value(&m, &s, &ParameterValue::Int(1), true),
            Err(ValueError::Type(_))
        ));
        let b = Syntax {
            base: BaseType::Boolean,
            ..Syntax::default()
        };
        assert_eq!(
            check_value(&m, &b, &ParameterValue::String("1".into()), true).unwrap(),
            "true"
        );
        assert!(matches!(
            check_value(&m, &b, &ParameterValue::Int(1), true),
            Err(ValueError::Type(_))
        ));
    }

    #[test]
    fn lists_check_each_item() {
        let m = model();
        let s = Syntax {
            list: Some(ListFacet {
                min_items: 0,
                max_items: Some(3),
                max_length: None,
            }),
            ..uint(1, 14)
        };
        assert_eq!(check_text(&m, &s, "1, 6,11", true).unwrap(), "1,6,11");
        assert_eq!(check_text(&m, &s, "", true).unwrap(), "");
        assert!(check_text(&m, &s, "1,2,3,4", true).is_err());
        assert!(check_text(&m, &s, "0", true).is_err());
        assert_eq!(typed(&s, "1,2"), ParameterValue::String("1,2".into()));
    }

    #[test]
    fn binary_sizes_count_octets() {
        let m = model();
        let s = Syntax {
            base: BaseType::HexBinary,
            max_length: Some(2),
            ..Syntax::default()
        };
        assert_eq!(check_text(&m, &s, "0a0b", true).unwrap(), "0A0B");
        assert!(check_text(&m, &s, "0a0b0c", true).is_err());
        assert!(check_text(&m, &s, "zz", true).is_err());
    }

    #[test]
    fn typed_falls_back_to_string() {
        let s = Syntax {
            base: BaseType::UnsignedInt,
            ..Syntax::default()
        };
        assert_eq!(typed(&s, "12"), ParameterValue::UnsignedInt(12));
        assert_eq!(typed(&s, "-1"), ParameterValue::String("-1".into()));
        assert_eq!(initial_text(&uint(5, 9)), "5");
    }
}
