//! Identifiers parsed at the boundary: [`DeviceId`] and [`ParameterPath`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// A device's identity, built from its Inform's `DeviceId` as GenieACS builds it:
/// `OUI-ProductClass-SerialNumber` (or `OUI-SerialNumber` without a product class), each
/// part with every byte that is not an ASCII letter, digit or `_` written as `%` and its
/// upper-case hex value. GenieACS writes bytes below 0x10 with one hex digit (`%9` for a
/// tab); so do we, so that device ids carry over from GenieACS unchanged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceId(String);

/// A string that cannot be a device id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a device id (OUI-ProductClass-SerialNumber, percent-escaped)")]
pub struct InvalidDeviceId(pub String);

/// The longest device id accepted: three fields of 64 characters, each character escaped
/// to at most 12 bytes (a 4-byte UTF-8 character as `%XX%XX%XX%XX`), and two dashes.
const MAX_DEVICE_ID: usize = 3 * 64 * 12 + 2;

impl DeviceId {
    /// The id of the device identified by an Inform's `DeviceId`.
    pub fn from_identity(oui: &str, product_class: &str, serial_number: &str) -> DeviceId {
        let mut id = escape(oui);
        id.push('-');
        if !product_class.is_empty() {
            id.push_str(&escape(product_class));
            id.push('-');
        }
        id.push_str(&escape(serial_number));
        DeviceId(id)
    }

    /// Parses an id as written in URLs and the API: only letters, digits, `_`, `-` and `%`.
    pub fn parse(s: &str) -> Result<DeviceId, InvalidDeviceId> {
        let ok = !s.is_empty()
            && s.len() <= MAX_DEVICE_ID
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'%'));
        if ok {
            Ok(DeviceId(s.to_owned()))
        } else {
            Err(InvalidDeviceId(s.chars().take(80).collect()))
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn escape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for b in field.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:X}"));
        }
    }
    out
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DeviceId {
    type Error = InvalidDeviceId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DeviceId::parse(&s)
    }
}

impl From<DeviceId> for String {
    fn from(id: DeviceId) -> String {
        id.0
    }
}

/// A parameter path: a full parameter name (`Device.DeviceInfo.UpTime`) or a partial path
/// naming an object, ending with `.` (`Device.IP.Interface.1.`). The empty path names the
/// whole tree (GetParameterNames with `""`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ParameterPath(String);

/// A string that cannot be a parameter path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path:?} is not a parameter path: {reason}")]
pub struct InvalidPath {
    /// The path (shortened).
    pub path: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl ParameterPath {
    /// The root: every parameter.
    pub fn root() -> ParameterPath {
        ParameterPath(String::new())
    }

    /// Parses a path: at most 256 characters (the schemas' limit), segments of letters,
    /// digits, `_`, `-`, or an instance alias `[...]`, separated by single dots.
    pub fn parse(s: &str) -> Result<ParameterPath, InvalidPath> {
        let bad = |reason| InvalidPath {
            path: s.chars().take(80).collect(),
            reason,
        };
        if s.is_empty() {
            return Ok(ParameterPath::root());
        }
        if s.chars().count() > 256 {
            return Err(bad("longer than 256 characters"));
        }
        let body = s.strip_suffix('.').unwrap_or(s);
        for segment in body.split('.') {
            let ok = if let Some(alias) = segment.strip_prefix('[') {
                alias
                    .strip_suffix(']')
                    .is_some_and(|a| !a.is_empty() && !a.contains([']', '[']))
            } else {
                !segment.is_empty()
                    && segment
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            };
            if !ok {
                return Err(bad(
                    "segments are letters, digits, '_', '-' or an [alias], separated by single dots",
                ));
            }
        }
        Ok(ParameterPath(s.to_owned()))
    }

    /// The path as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this names an object (partial path, or the root).
    pub fn is_object(&self) -> bool {
        self.0.is_empty() || self.0.ends_with('.')
    }

    /// Whether `other` is this path or lies below it (for an object path).
    pub fn covers(&self, other: &str) -> bool {
        if self.is_object() {
            other.starts_with(&self.0)
        } else {
            other == self.0
        }
    }
}

impl fmt::Display for ParameterPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ParameterPath {
    type Error = InvalidPath;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ParameterPath::parse(&s)
    }
}

impl From<ParameterPath> for String {
    fn from(p: ParameterPath) -> String {
        p.0
    }
}

impl AsRef<str> for ParameterPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_as_genieacs_builds_them() {
        assert_eq!(
            DeviceId::from_identity("00D09E", "HGW-1", "SN000001").as_str(),
            "00D09E-HGW%2D1-SN000001"
        );
        assert_eq!(
            DeviceId::from_identity("202BC1", "", "000000").as_str(),
            "202BC1-000000"
        );
        assert_eq!(
            DeviceId::from_identity("00D09E", "Box é", "a_b\t").as_str(),
            "00D09E-Box%20%C3%A9-a_b%9"
        );
        assert!(DeviceId::parse("00D09E-HGW%2D1-SN000001").is_ok());
        assert!(DeviceId::parse("a/b").is_err());
        assert!(DeviceId::parse("").is_err());
    }

    #[test]
    fn parameter_paths() {
        for ok in [
            "",
            "Device.",
            "Device.DeviceInfo.UpTime",
            "Device.IP.Interface.1.",
            "Device.NAT.PortMapping.[web].Enable",
            "InternetGatewayDevice.X_00D09E_Foo-Bar",
        ] {
            assert!(ParameterPath::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            ".",
            "Device..X",
            "Device. X",
            "a".repeat(257).as_str(),
            "Device.[].X",
            "Device.*",
        ] {
            assert!(ParameterPath::parse(bad).is_err(), "{bad}");
        }
        let p = ParameterPath::parse("Device.IP.").unwrap();
        assert!(p.covers("Device.IP.Interface.1.Enable") && !p.covers("Device.IPsec."));
        assert!(ParameterPath::root().covers("Device.X"));
    }
}
