//! Device profiles: the parameters of a device, one a line, as dumped from a real device
//! (or written by hand, like the built-in profile).
//!
//! # Format
//!
//! UTF-8 text. Empty lines and lines starting with `#` are ignored. Every other line is
//! tab-separated:
//!
//! ```text
//! path <TAB> type <TAB> writable <TAB> value [<TAB> attribute]...
//! ```
//!
//! - `path`: a full parameter name with concrete instance numbers
//!   (`Device.WiFi.SSID.1.SSID`), or an object path ending in `.`: an object
//!   (`Device.DeviceInfo.`), a table (`Device.NAT.PortMapping.` or
//!   `Device.NAT.PortMapping.{i}.`) or an instance (`Device.WiFi.SSID.1.`). A path with
//!   `{i}` in place of an instance number (`Device.NAT.PortMapping.{i}.Enable`) declares a
//!   parameter without creating an instance: its value (when not empty) is the default of
//!   new instances. A parameter path never ends with an instance number.
//! - `type`: `xsd:string`, `string`, `xsd:unsignedInt`, `xsd:boolean`, `xsd:dateTime`,
//!   `xsd:base64`/`xsd:base64Binary`, `xsd:hexBinary`, `xsd:int`, `xsd:long`,
//!   `xsd:unsignedLong`, `xsd:decimal`; empty or `object` for objects.
//! - `writable`: `1`/`0`/`true`/`false` (empty = `0`). On a table or instance line: whether
//!   the ACS may AddObject/DeleteObject.
//! - `value`: the rest up to the next tab. Escapes `\t`, `\n`, `\r` and `\\` stand for a
//!   tab, a newline, a carriage return and a backslash; any other backslash is itself.
//!   Values may hold per-device placeholders (`{serial}`, `{mac:0}`, ...), rendered by the
//!   tree (see [`crate::tree::placeholder`]).
//! - `attribute`s (optional) refine the definition when it is inferred from the profile
//!   (they are ignored for parameters a BBF model defines):
//!   - `hidden`, `secured` (reads back empty), `plain` (neither, overriding the defaults
//!     below), `forced` (forced-inform parameter), `writeonce` (writeOnceReadOnly);
//!   - `notify=normal|forceEnabled|forceDefaultEnabled|canDeny`;
//!   - `len=MAX` or `len=MIN:MAX` (characters; octets for base64/hexBinary);
//!   - `range=MIN:MAX` or `range=MIN:MAX:STEP` (integers; repeatable, either bound may be
//!     empty);
//!   - `enum=A|B|C` and `enum-ro=X|Y` (values the ACS may not set);
//!   - `pattern=REGEX` (repeatable; anchored);
//!   - `list` or `list=MIN:MAX` (comma-separated list of items of the type);
//!   - `default=VALUE` (value of new instances, when different from this line's);
//!   - on table lines: `min=N`, `max=N|unbounded`, `entries=NAME` (the
//!     `...NumberOfEntries` parameter in the parent object; by default
//!     `<Table>NumberOfEntries` when the parent has it).
//!
//! Definitions inferred from a profile alone: the type and writability as given; objects
//! from the paths; tables (`{i}`) wherever a path has a numeric segment; AddObject and
//! DeleteObject allowed when a table or instance line says writable. Forced-inform
//! parameters, `activeNotify` and hidden/secured follow TR-181/TR-098 where the names are
//! the standard ones (notes §4.5, §6.2) unless attributes say otherwise.

use super::{BaseType, LoadError};

/// One line of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileEntry {
    /// 1-based line number.
    pub line: usize,
    /// The path as written.
    pub path: String,
    /// Whether the path names an object (ends with `.`).
    pub is_object: bool,
    /// The type column; `None` when empty or `object`.
    pub base: Option<BaseType>,
    /// The writable column.
    pub writable: bool,
    /// The value, escapes resolved.
    pub value: String,
    /// Attribute columns, as written.
    pub attrs: Vec<String>,
}

/// A parsed profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    source: String,
    entries: Vec<ProfileEntry>,
}

/// The text of the built-in TR-181 home-gateway profile.
pub const BUILTIN: &str = include_str!("builtin_profile.tsv");

impl Profile {
    /// Parses a profile; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Profile, LoadError> {
        let mut entries = Vec::new();
        let err = |line: usize, message: String| LoadError::Syntax {
            file: source.to_owned(),
            line,
            message,
        };
        let mut root: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.strip_suffix('\r').unwrap_or(raw);
            let l = if i == 0 {
                l.strip_prefix('\u{feff}').unwrap_or(l)
            } else {
                l
            };
            if l.trim().is_empty() || l.trim_start().starts_with('#') {
                continue;
            }
            let mut cols = l.split('\t');
            let path = cols.next().unwrap_or("").trim().to_owned();
            let ty = cols.next().unwrap_or("").trim();
            let writable = cols.next().unwrap_or("").trim();
            let value = cols.next().unwrap_or("");
            let mut attrs: Vec<String> = cols
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty())
                .collect();
            // An object has no value: an attribute written in the value column counts as
            // an attribute.
            let value = if path.ends_with('.') && !value.trim().is_empty() {
                check_attr(value.trim())
                    .map_err(|_| err(line, format!("object {path:?} cannot have a value")))?;
                attrs.insert(0, value.trim().to_owned());
                ""
            } else {
                value
            };
            check_path(&path).map_err(|m| err(line, m))?;
            let this_root = path.split('.').next().unwrap_or("").to_owned() + ".";
            match &root {
                None => root = Some(this_root),
                Some(r) if *r != this_root => {
                    return Err(err(
                        line,
                        format!("path {path:?} is not under the root {r}"),
                    ));
                }
                Some(_) => {}
            }
            let is_object = path.ends_with('.');
            let base = match ty {
                "" | "object" => None,
                t => Some(
                    BaseType::from_name(t)
                        .ok_or_else(|| err(line, format!("unknown type {t:?}")))?,
                ),
            };
            if is_object && base.is_some() {
                return Err(err(line, format!("object {path:?} cannot have a type")));
            }
            let writable = match writable {
                "" | "0" | "false" => false,
                "1" | "true" => true,
                w => {
                    return Err(err(
                        line,
                        format!("writable must be 0/1/true/false, not {w:?}"),
                    ));
                }
            };
            for a in &attrs {
                check_attr(a).map_err(|m| err(line, m))?;
            }
            entries.push(ProfileEntry {
                line,
                path,
                is_object,
                base,
                writable,
                value: unescape(value),
                attrs,
            });
        }
        if entries.is_empty() {
            return Err(LoadError::Invalid {
                file: source.to_owned(),
                message: "the profile has no parameters".into(),
            });
        }
        Ok(Profile {
            source: source.to_owned(),
            entries,
        })
    }

    /// Reads and parses a profile file.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Profile, LoadError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
        Profile::parse(&text, &path.display().to_string())
    }

    /// The built-in TR-181 home-gateway profile (`builtin_profile.tsv`).
    pub fn builtin() -> Result<Profile, LoadError> {
        Profile::parse(BUILTIN, "builtin_profile.tsv")
    }

    /// Where the profile came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The lines, in order.
    pub fn entries(&self) -> &[ProfileEntry] {
        &self.entries
    }

    /// The root object (`Device.`).
    pub fn root(&self) -> &str {
        self.entries
            .first()
            .and_then(|e| e.path.find('.').and_then(|i| e.path.get(..=i)))
            .unwrap_or("")
    }
}

/// A path is segments of letters, digits, `_`, `-` (vendor names) separated by dots;
/// instance numbers are positive without leading zeros, or `{i}`.
fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.len() > 256 {
        return Err(format!("path longer than 256 characters: {path:?}"));
    }
    let body = path.strip_suffix('.').unwrap_or(path);
    for (i, seg) in body.split('.').enumerate() {
        let ok = if seg == "{i}" {
            i > 0
        } else if seg.bytes().all(|b| b.is_ascii_digit()) {
            i > 0 && !seg.is_empty() && !seg.starts_with('0') && seg.parse::<u32>().is_ok()
        } else {
            seg.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !ok {
            return Err(format!("bad path {path:?} (segment {seg:?})"));
        }
    }
    if !path.contains('.') {
        return Err(format!("bad path {path:?}: no root object"));
    }
    let last = body.rsplit('.').next().unwrap_or("");
    if !path.ends_with('.') && (last == "{i}" || last.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!(
            "bad path {path:?}: an instance is an object, its path ends with '.'"
        ));
    }
    Ok(())
}

fn check_attr(a: &str) -> Result<(), String> {
    let (key, value) = a.split_once('=').unwrap_or((a, ""));
    let ok = match key {
        "hidden" | "secured" | "plain" | "forced" | "writeonce" => value.is_empty(),
        "list" => value.is_empty() || parse_bounds(value).is_some(),
        "notify" => super::ActiveNotify::parse(value).is_some(),
        "len" | "range" => parse_bounds(value).is_some(),
        "enum" | "enum-ro" | "pattern" | "default" | "entries" => true,
        "min" => value.parse::<u32>().is_ok(),
        "max" => value == "unbounded" || value.parse::<u32>().is_ok(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("bad attribute {a:?}"))
    }
}

/// `MAX`, `MIN:MAX` or `MIN:MAX:STEP`, bounds optional.
pub(crate) fn parse_bounds(v: &str) -> Option<(Option<i128>, Option<i128>, Option<i128>)> {
    let num = |s: &str| -> Option<Option<i128>> {
        if s.trim().is_empty() {
            Some(None)
        } else {
            s.trim().parse().ok().map(Some)
        }
    };
    let parts: Vec<&str> = v.split(':').collect();
    match parts.as_slice() {
        [max] => Some((None, num(max)?, None)),
        [min, max] => Some((num(min)?, num(max)?, None)),
        [min, max, step] => Some((num(min)?, num(max)?, num(step)?)),
        _ => None,
    }
}

fn unescape(v: &str) -> String {
    if !v.contains('\\') {
        return v.to_owned();
    }
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('t') => {
                    out.push('\t');
                    chars.next();
                }
                Some('n') => {
                    out.push('\n');
                    chars.next();
                }
                Some('r') => {
                    out.push('\r');
                    chars.next();
                }
                Some('\\') => {
                    out.push('\\');
                    chars.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_columns_and_escapes() {
        let p = Profile::parse(
            "# a comment\n\nDevice.DeviceInfo.\t\t0\nDevice.X.1.Name\txsd:string\t1\ta\\tb\\\\c\\d\tlen=8\n\
             Device.X.{i}.On\txsd:boolean\ttrue\t1\n",
            "p.tsv",
        )
        .unwrap();
        assert_eq!(p.root(), "Device.");
        let e = p.entries();
        assert_eq!(e.len(), 3);
        assert!(e[0].is_object && e[0].base.is_none());
        assert_eq!(e[1].line, 4);
        assert_eq!(e[1].value, "a\tb\\c\\d");
        assert_eq!(e[1].attrs, vec!["len=8".to_owned()]);
        assert!(e[2].writable);
        assert_eq!(e[2].base, Some(BaseType::Boolean));
    }

    #[test]
    fn errors_have_lines() {
        for (text, line) in [
            ("Device.A\txsd:nope\t0\tx", 1),
            ("Device.A\txsd:string\tmaybe\tx", 1),
            ("# c\nDevice.A.01.B\txsd:string\t0\tx", 2),
            ("Device.A\txsd:string\t0\tx\nOther.B\txsd:string\t0\tx", 2),
            ("Device.A.\txsd:string\t0\t", 1),
            ("Device.A\txsd:string\t0\tx\tbogus=1", 1),
            ("Device..A\txsd:string\t0\tx", 1),
            ("Device.A\txsd:string\t0\tx\trange=a:b", 1),
            ("Device.A.1\txsd:string\t0\tx", 1),
            ("Device.A.{i}\txsd:string\t0\tx", 1),
        ] {
            match Profile::parse(text, "f.tsv") {
                Err(LoadError::Syntax { file, line: l, .. }) => {
                    assert_eq!((file.as_str(), l), ("f.tsv", line), "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(Profile::parse("# nothing\n", "e.tsv").is_err());
    }

    #[test]
    fn bounds() {
        assert_eq!(parse_bounds("64"), Some((None, Some(64), None)));
        assert_eq!(parse_bounds("1:"), Some((Some(1), None, None)));
        assert_eq!(parse_bounds("0:100:5"), Some((Some(0), Some(100), Some(5))));
        assert_eq!(parse_bounds("x"), None);
    }
}
