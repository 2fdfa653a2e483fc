//! Serial numbers of simulated devices from a pattern: `SIM{n:06}` gives `SIM000000`,
//! `SIM000001`, ... Device number `n` also seeds its MAC and IP addresses (see
//! `cpe::tree` placeholders), so the same index gives the same device in every run.

use std::fmt;

/// A parsed `--serial-pattern`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialPattern {
    prefix: String,
    width: usize,
    suffix: String,
}

/// Why a serial pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SerialPatternError {
    /// No `{n}` or `{n:0W}` in it.
    #[error("the serial pattern needs one {{n}} or {{n:0W}} (e.g. SIM{{n:06}})")]
    NoIndex,
    /// A second placeholder, or a bad width.
    #[error("bad serial pattern {0:?}: use text with one {{n}} or {{n:0W}}, W at most 20")]
    Malformed(String),
    /// Serial numbers are at most 64 characters (notes §4.2, DeviceIdStruct).
    #[error("serial numbers from this pattern would exceed 64 characters")]
    TooLong,
    /// Characters that cannot go into a serial number and a URL path.
    #[error("serial patterns may hold letters, digits, '-', '_' and '.' only")]
    BadCharacter,
}

impl SerialPattern {
    /// Parses a pattern.
    pub fn parse(pattern: &str) -> Result<SerialPattern, SerialPatternError> {
        let Some(start) = pattern.find('{') else {
            return Err(SerialPatternError::NoIndex);
        };
        let (prefix, rest) = pattern.split_at(start);
        let Some(end) = rest.find('}') else {
            return Err(SerialPatternError::Malformed(pattern.to_owned()));
        };
        let (placeholder, suffix) = (&rest[1..end], &rest[end + 1..]);
        let width = match placeholder {
            "n" => 0,
            p => match p.strip_prefix("n:0") {
                Some(w) if !w.is_empty() && w.len() <= 2 => w
                    .parse::<usize>()
                    .ok()
                    .filter(|w| *w <= 20)
                    .ok_or_else(|| SerialPatternError::Malformed(pattern.to_owned()))?,
                _ => return Err(SerialPatternError::Malformed(pattern.to_owned())),
            },
        };
        if suffix.contains(['{', '}']) || prefix.contains('}') {
            return Err(SerialPatternError::Malformed(pattern.to_owned()));
        }
        let ok = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !ok(prefix) || !ok(suffix) {
            return Err(SerialPatternError::BadCharacter);
        }
        // u64::MAX has 20 digits.
        if prefix.len() + suffix.len() + width.max(20) > 64 {
            return Err(SerialPatternError::TooLong);
        }
        Ok(SerialPattern {
            prefix: prefix.to_owned(),
            width,
            suffix: suffix.to_owned(),
        })
    }

    /// The serial number of device `n`.
    pub fn render(&self, n: u64) -> String {
        format!("{}{:0w$}{}", self.prefix, n, self.suffix, w = self.width)
    }
}

impl Default for SerialPattern {
    fn default() -> Self {
        SerialPattern {
            prefix: "SIM".to_owned(),
            width: 8,
            suffix: String::new(),
        }
    }
}

impl fmt::Display for SerialPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.width == 0 {
            write!(f, "{}{{n}}{}", self.prefix, self.suffix)
        } else {
            write!(f, "{}{{n:0{}}}{}", self.prefix, self.width, self.suffix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_and_without_width() {
        let p = SerialPattern::parse("SIM{n:06}").unwrap();
        assert_eq!(p.render(0), "SIM000000");
        assert_eq!(p.render(1234567), "SIM1234567");
        let p = SerialPattern::parse("cpe-{n}-x").unwrap();
        assert_eq!(p.render(42), "cpe-42-x");
        assert_eq!(p.to_string(), "cpe-{n}-x");
        assert_eq!(SerialPattern::default().render(5), "SIM00000005");
        assert_eq!(
            SerialPattern::parse(&SerialPattern::default().to_string()).unwrap(),
            SerialPattern::default()
        );
    }

    #[test]
    fn refuses_bad_patterns() {
        assert_eq!(
            SerialPattern::parse("SIM"),
            Err(SerialPatternError::NoIndex)
        );
        for bad in [
            "SIM{", "S{x}", "S{n:6}", "S{n:0}", "S{n:099}", "{n}{n}", "a}{n}",
        ] {
            assert!(SerialPattern::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            SerialPattern::parse("a b{n}"),
            Err(SerialPatternError::BadCharacter)
        );
        assert_eq!(
            SerialPattern::parse(&format!("{}{{n}}", "x".repeat(50))),
            Err(SerialPatternError::TooLong)
        );
    }
}
