//! The paths of provision declarations: parameter paths whose segments may be a wildcard
//! (`*`, any instance) or an alias filter (`[SSID:guest,Enable:true]`, the instances whose
//! children have those values), GenieACS's path format. A filter's value may hold dots
//! (`[SourceIPAddress:192.168.1.0]`), so segments are split outside brackets only.

use std::fmt;

use crate::device::DeviceData;

/// One segment of a [`PathPattern`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A name or an instance number.
    Name(String),
    /// `*`: every child.
    Wildcard,
    /// `[key:value,...]`: the instances whose parameter `key` (a path relative to the
    /// instance, `Stats.Enable` allowed) has `value`; `[]` matches every instance.
    Alias(Vec<(String, String)>),
}

/// A declaration's path: parsed once, matched against the known data many times.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathPattern {
    segments: Vec<Segment>,
    /// The path's name when every segment is a name, kept because most declarations
    /// name one parameter: matching them is then one lookup, with no name built per
    /// segment (the provisioning engine matches each declaration several times a run).
    concrete: Option<String>,
}

/// A path a declaration cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path {path:?}: {reason}")]
pub struct InvalidPattern {
    /// The path (shortened).
    pub path: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// The longest path accepted: the schemas' 256 plus room for alias filters.
const MAX_LEN: usize = 1024;

impl PathPattern {
    /// Parses a declaration path. A trailing `.` is ignored (`Device.WiFi.` and
    /// `Device.WiFi` declare the same object).
    pub fn parse(s: &str) -> Result<PathPattern, InvalidPattern> {
        let bad = |reason| InvalidPattern {
            path: s.chars().take(80).collect(),
            reason,
        };
        if s.len() > MAX_LEN {
            return Err(bad("longer than 1024 bytes"));
        }
        let body = s.strip_suffix('.').unwrap_or(s);
        if body.is_empty() {
            return Err(bad("empty"));
        }
        let mut segments = Vec::new();
        let mut rest = body;
        loop {
            let (segment, after) = if let Some(inner) = rest.strip_prefix('[') {
                let close = inner.find(']').ok_or_else(|| bad("unclosed ["))?;
                let filter = &inner[..close];
                let after = &inner[close + 1..];
                let mut pairs = Vec::new();
                if !filter.is_empty() {
                    for pair in filter.split(',') {
                        let (k, v) = pair
                            .split_once(':')
                            .ok_or_else(|| bad("an alias filter is [name:value,...]"))?;
                        if k.is_empty() || !k.split('.').all(valid_name) {
                            return Err(bad("an alias filter's name is a relative path"));
                        }
                        pairs.push((k.to_owned(), v.to_owned()));
                    }
                }
                (Segment::Alias(pairs), after)
            } else {
                let end = rest.find('.').unwrap_or(rest.len());
                let name = &rest[..end];
                let segment = match name {
                    "*" => Segment::Wildcard,
                    n if valid_name(n) => Segment::Name(n.to_owned()),
                    _ => return Err(bad("a segment is a name, a number, * or [filter]")),
                };
                (segment, &rest[end..])
            };
            segments.push(segment);
            if after.is_empty() {
                break;
            }
            rest = after
                .strip_prefix('.')
                .ok_or_else(|| bad("] must be followed by . or the end"))?;
            if rest.is_empty() {
                return Err(bad("empty segment"));
            }
        }
        Ok(PathPattern::from_segments(segments))
    }

    fn from_segments(segments: Vec<Segment>) -> PathPattern {
        let mut name = String::new();
        for s in &segments {
            let Segment::Name(n) = s else {
                return PathPattern {
                    segments,
                    concrete: None,
                };
            };
            if !name.is_empty() {
                name.push('.');
            }
            name.push_str(n);
        }
        PathPattern {
            segments,
            concrete: Some(name),
        }
    }

    /// The path's name when every segment is a name (`Device.DeviceInfo.UpTime`).
    pub fn concrete(&self) -> Option<&str> {
        self.concrete.as_deref()
    }

    /// The segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The first segment's name (`Device`, `Tags`, `Reboot`...), if it is a name.
    pub fn root(&self) -> Option<&str> {
        match self.segments.first() {
            Some(Segment::Name(n)) => Some(n),
            _ => None,
        }
    }

    /// Whether every segment is a name: the pattern names one path.
    pub fn is_concrete(&self) -> bool {
        self.concrete.is_some()
    }

    /// Whether the last segment selects instances (`*` or a filter): the declaration's
    /// `path` value then counts instances (AddObject / DeleteObject).
    pub fn ends_with_instances(&self) -> bool {
        matches!(
            self.segments.last(),
            Some(Segment::Wildcard | Segment::Alias(_))
        )
    }

    /// The pattern without its last segment (the object holding the instances).
    pub fn parent(&self) -> Option<PathPattern> {
        (self.segments.len() > 1)
            .then(|| PathPattern::from_segments(self.segments[..self.segments.len() - 1].to_vec()))
    }

    /// The known paths this pattern matches now, in the data's order: parameters by their
    /// name, objects and instances with their trailing `.`.
    ///
    /// Also reports what matching could not decide: the objects whose children had to be
    /// listed for a wildcard or filter segment (`enumerated`), and the paths of the alias
    /// filters' parameters that were looked at (`filter_params`), so the engine can tell
    /// whether they are fresh enough.
    pub fn matches(&self, known: &DeviceData) -> Matches {
        let mut out = Matches::default();
        if let Some(name) = &self.concrete {
            // What the loop below finds for names alone: the parameter, else the object
            // when anything is known below it (then every ancestor is known too).
            if known.params.contains_key(name) {
                out.paths.push(name.clone());
            } else {
                let object = format!("{name}.");
                if known.below(&object).next().is_some() {
                    out.paths.push(object);
                }
            }
            return out;
        }
        let mut current: Vec<String> = vec![String::new()];
        let last = self.segments.len() - 1;
        for (i, segment) in self.segments.iter().enumerate() {
            let mut next = Vec::new();
            for prefix in &current {
                match segment {
                    Segment::Name(name) => {
                        let object = format!("{prefix}{name}.");
                        let param = format!("{prefix}{name}");
                        // An object is known when anything below it is (an Inform's
                        // parameters come without their objects' rows).
                        if i == last && known.params.contains_key(&param) {
                            next.push(param);
                        } else if known.below(&object).next().is_some() {
                            next.push(object);
                        }
                    }
                    Segment::Wildcard | Segment::Alias(_) => {
                        out.enumerated.push(prefix.clone());
                        for instance in children(known, prefix) {
                            if let Segment::Alias(pairs) = segment {
                                let mut all = true;
                                for (k, v) in pairs {
                                    let p = format!("{instance}{k}");
                                    let holds = known
                                        .params
                                        .get(&p)
                                        .and_then(|p| p.value.as_ref())
                                        .is_some_and(|sv| alias_value_matches(&sv.text, v));
                                    out.filter_params.push(p);
                                    all &= holds;
                                }
                                if !all {
                                    continue;
                                }
                            }
                            next.push(instance);
                        }
                    }
                }
            }
            current = next;
            if current.is_empty() {
                break;
            }
        }
        out.paths = current;
        out
    }
}

/// The result of [`PathPattern::matches`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Matches {
    /// The matching paths.
    pub paths: Vec<String>,
    /// Objects whose children a wildcard or filter listed (`Device.WiFi.SSID.`).
    pub enumerated: Vec<String>,
    /// Parameters an alias filter compared.
    pub filter_params: Vec<String>,
}

/// The direct children of object `prefix` (`""` for the roots) that are objects: the
/// instances under a multi-instance object.
fn children<'a>(known: &'a DeviceData, prefix: &'a str) -> impl Iterator<Item = String> + 'a {
    known.below(prefix).filter_map(move |(path, param)| {
        let rest = &path[prefix.len()..];
        let name = rest.strip_suffix('.')?;
        (param.object && !name.is_empty() && !name.contains('.')).then(|| path.clone())
    })
}

/// An alias filter's value against a stored value's text: booleans compare by meaning
/// (`true` matches a stored `1`), everything else as text.
fn alias_value_matches(stored: &str, wanted: &str) -> bool {
    let boolean = |s: &str| match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    };
    stored == wanted || (boolean(stored).is_some() && boolean(stored) == boolean(wanted))
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match s {
                Segment::Name(n) => f.write_str(n)?,
                Segment::Wildcard => f.write_str("*")?,
                Segment::Alias(pairs) => {
                    f.write_str("[")?;
                    for (j, (k, v)) in pairs.iter().enumerate() {
                        if j > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{k}:{v}")?;
                    }
                    f.write_str("]")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Param, StoredValue, ValueType};

    fn data(paths: &[(&str, Option<&str>)]) -> DeviceData {
        let mut d = DeviceData::default();
        for (p, v) in paths {
            d.params.insert(
                (*p).to_owned(),
                Param {
                    object: p.ends_with('.'),
                    value: v.map(|t| StoredValue {
                        text: t.to_owned(),
                        value_type: ValueType::String,
                    }),
                    ..Param::default()
                },
            );
        }
        d
    }

    #[test]
    fn parses_wildcards_and_filters_with_dots_in_values() {
        let p = PathPattern::parse(
            "IGD.X.ListCfg.[SourceIPAddress:192.168.1.0,SourceNetMask:255.255.255.0].Enable",
        )
        .unwrap();
        assert_eq!(
            p.segments()[3],
            Segment::Alias(vec![
                ("SourceIPAddress".into(), "192.168.1.0".into()),
                ("SourceNetMask".into(), "255.255.255.0".into())
            ])
        );
        assert_eq!(p.segments()[4], Segment::Name("Enable".into()));
        assert_eq!(
            p.to_string(),
            "IGD.X.ListCfg.[SourceIPAddress:192.168.1.0,SourceNetMask:255.255.255.0].Enable"
        );
        let all = PathPattern::parse("Device.WiFi.SSID.*").unwrap();
        assert!(all.ends_with_instances() && !all.is_concrete());
        assert_eq!(all.parent().unwrap().to_string(), "Device.WiFi.SSID");
        assert_eq!(
            PathPattern::parse("A.[].B").unwrap().segments()[1],
            Segment::Alias(vec![])
        );
        assert_eq!(
            PathPattern::parse("Device.WiFi.").unwrap(),
            PathPattern::parse("Device.WiFi").unwrap()
        );
        for bad in [
            "", ".", "A..B", "A.[x", "A.[x].", "A.[x]B", "A.[:v]", "A.b c", "A.[k]",
        ] {
            assert!(PathPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matches_names_wildcards_and_filters() {
        let d = data(&[
            ("Device.", None),
            ("Device.WiFi.", None),
            ("Device.WiFi.SSID.", None),
            ("Device.WiFi.SSID.1.", None),
            ("Device.WiFi.SSID.1.SSID", Some("home")),
            ("Device.WiFi.SSID.1.Enable", Some("1")),
            ("Device.WiFi.SSID.2.", None),
            ("Device.WiFi.SSID.2.SSID", Some("guest")),
            ("Device.WiFi.SSID.2.Enable", Some("false")),
            ("Device.WiFi.SSID.10.", None),
        ]);
        let m = |p: &str| PathPattern::parse(p).unwrap().matches(&d);
        assert_eq!(
            m("Device.WiFi.SSID.*.SSID").paths,
            ["Device.WiFi.SSID.1.SSID", "Device.WiFi.SSID.2.SSID"]
        );
        assert_eq!(
            m("Device.WiFi.SSID.*").paths,
            [
                "Device.WiFi.SSID.1.",
                "Device.WiFi.SSID.10.",
                "Device.WiFi.SSID.2."
            ]
        );
        let guest = m("Device.WiFi.SSID.[SSID:guest].Enable");
        assert_eq!(guest.paths, ["Device.WiFi.SSID.2.Enable"]);
        assert_eq!(guest.enumerated, ["Device.WiFi.SSID."]);
        assert_eq!(
            guest.filter_params,
            [
                "Device.WiFi.SSID.1.SSID",
                "Device.WiFi.SSID.10.SSID",
                "Device.WiFi.SSID.2.SSID"
            ]
        );
        assert_eq!(
            m("Device.WiFi.SSID.[Enable:true]").paths,
            ["Device.WiFi.SSID.1."]
        );
        assert_eq!(m("Device.WiFi").paths, ["Device.WiFi."]);
        assert!(m("Device.WiFi.Radio.*.Enable").paths.is_empty());
        assert!(m("Device.Nope").paths.is_empty());
    }
}
