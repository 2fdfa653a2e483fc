//! XML namespaces of CWMP envelopes and CWMP protocol versions.
//!
//! TR-069 has five protocol versions but only three CWMP namespaces: CWMP 1.3 and 1.4
//! re-use `urn:dslforum-org:cwmp-1-2` (the `targetNamespace` of `cwmp-1-3.xsd` and
//! `cwmp-1-4.xsd`). Some implementations nevertheless send `cwmp-1-3` / `cwmp-1-4`
//! (notes §2.1, §9 #1); the decoder accepts them as the 1-2 namespace and the encoder
//! never emits them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// SOAP 1.1 envelope namespace (TR-069 uses SOAP 1.1 only).
pub const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.1 encoding namespace (arrays, `soapenc:base64`).
pub const SOAP_ENC: &str = "http://schemas.xmlsoap.org/soap/encoding/";
/// XML Schema namespace (`xsd:string`, `xsd:int`, ...).
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema";
/// XML Schema instance namespace (`xsi:type`).
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// SOAP 1.2 envelope namespace, recognised only to refuse it with a clear error.
pub(crate) const SOAP12_ENV: &str = "http://www.w3.org/2003/05/soap-envelope";

/// The CWMP namespace of an envelope: one of the three that the BBF schemas define.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Namespace {
    /// `urn:dslforum-org:cwmp-1-0` (CWMP 1.0, TR-069 Amendment 1).
    #[serde(rename = "urn:dslforum-org:cwmp-1-0")]
    Cwmp1_0,
    /// `urn:dslforum-org:cwmp-1-1` (CWMP 1.1, Amendment 2).
    #[serde(rename = "urn:dslforum-org:cwmp-1-1")]
    Cwmp1_1,
    /// `urn:dslforum-org:cwmp-1-2` (CWMP 1.2, 1.3 and 1.4, Amendments 3 to 6).
    #[serde(rename = "urn:dslforum-org:cwmp-1-2")]
    Cwmp1_2,
}

impl Namespace {
    /// Every namespace, oldest first.
    pub const ALL: [Namespace; 3] = [Namespace::Cwmp1_0, Namespace::Cwmp1_1, Namespace::Cwmp1_2];

    /// The namespace URI, as emitted.
    pub const fn uri(self) -> &'static str {
        match self {
            Namespace::Cwmp1_0 => "urn:dslforum-org:cwmp-1-0",
            Namespace::Cwmp1_1 => "urn:dslforum-org:cwmp-1-1",
            Namespace::Cwmp1_2 => "urn:dslforum-org:cwmp-1-2",
        }
    }

    /// Recognises a CWMP namespace URI on input. `cwmp-1-3` and `cwmp-1-4` are not BBF
    /// namespaces but are seen in the wild; they mean the 1-2 namespace (notes §2.1).
    pub fn from_uri(uri: &str) -> Option<Namespace> {
        match uri.trim() {
            "urn:dslforum-org:cwmp-1-0" => Some(Namespace::Cwmp1_0),
            "urn:dslforum-org:cwmp-1-1" => Some(Namespace::Cwmp1_1),
            "urn:dslforum-org:cwmp-1-2"
            | "urn:dslforum-org:cwmp-1-3"
            | "urn:dslforum-org:cwmp-1-4" => Some(Namespace::Cwmp1_2),
            _ => None,
        }
    }

    /// The CWMP version a peer using this namespace speaks when it says nothing more
    /// (no `SupportedCWMPVersions`, no `SessionTimeout`): notes §2.3 step 2.
    pub const fn base_version(self) -> CwmpVersion {
        match self {
            Namespace::Cwmp1_0 => CwmpVersion::V1_0,
            Namespace::Cwmp1_1 => CwmpVersion::V1_1,
            Namespace::Cwmp1_2 => CwmpVersion::V1_2,
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri())
    }
}

/// A CWMP protocol version `major.minor`, as carried by `SupportedCWMPVersions` and
/// `UseCWMPVersion` (CWMP 1.4, TR-069 Amendment 5 §3.7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CwmpVersion {
    /// Major version (1 for every CWMP version defined so far).
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl CwmpVersion {
    /// CWMP 1.0.
    pub const V1_0: CwmpVersion = CwmpVersion::new(1, 0);
    /// CWMP 1.1.
    pub const V1_1: CwmpVersion = CwmpVersion::new(1, 1);
    /// CWMP 1.2.
    pub const V1_2: CwmpVersion = CwmpVersion::new(1, 2);
    /// CWMP 1.3 (adds the `SessionTimeout` header).
    pub const V1_3: CwmpVersion = CwmpVersion::new(1, 3);
    /// CWMP 1.4 (adds `SupportedCWMPVersions` / `UseCWMPVersion`).
    pub const V1_4: CwmpVersion = CwmpVersion::new(1, 4);
    /// Every version this crate implements, oldest first.
    pub const ALL: [CwmpVersion; 5] = [
        CwmpVersion::V1_0,
        CwmpVersion::V1_1,
        CwmpVersion::V1_2,
        CwmpVersion::V1_3,
        CwmpVersion::V1_4,
    ];

    /// A version from its parts.
    pub const fn new(major: u8, minor: u8) -> CwmpVersion {
        CwmpVersion { major, minor }
    }

    /// The namespace in which messages of this version are written, or `None` for a
    /// version this crate does not know (such as `2.0`).
    pub const fn namespace(self) -> Option<Namespace> {
        match (self.major, self.minor) {
            (1, 0) => Some(Namespace::Cwmp1_0),
            (1, 1) => Some(Namespace::Cwmp1_1),
            (1, 2..=4) => Some(Namespace::Cwmp1_2),
            _ => None,
        }
    }
}

impl fmt::Display for CwmpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for CwmpVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A string that is not a `major.minor` CWMP version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a CWMP version (expected major.minor, e.g. 1.4)")]
pub struct InvalidVersion(pub String);

impl FromStr for CwmpVersion {
    type Err = InvalidVersion;

    /// Parses `1.4`; surrounding white space is tolerated because icwmp sends
    /// `1.0, 1.1, 1.2` (notes §2.3).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let (major, minor) = t
            .split_once('.')
            .ok_or_else(|| InvalidVersion(s.to_owned()))?;
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) {
            return Err(InvalidVersion(s.to_owned()));
        }
        match (major.parse(), minor.parse()) {
            (Ok(major), Ok(minor)) => Ok(CwmpVersion { major, minor }),
            _ => Err(InvalidVersion(s.to_owned())),
        }
    }
}

/// Parses the comma-separated value of `SupportedCWMPVersions`.
pub fn parse_version_list(s: &str) -> Result<Vec<CwmpVersion>, InvalidVersion> {
    s.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// Formats a version list for `SupportedCWMPVersions` (`1.0,1.1,1.2,1.3,1.4`).
pub fn format_version_list(versions: &[CwmpVersion]) -> String {
    let mut out = String::new();
    for (i, v) in versions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&v.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonstandard_namespaces_mean_1_2() {
        assert_eq!(
            Namespace::from_uri("urn:dslforum-org:cwmp-1-3"),
            Some(Namespace::Cwmp1_2)
        );
        assert_eq!(
            Namespace::from_uri("urn:dslforum-org:cwmp-1-4"),
            Some(Namespace::Cwmp1_2)
        );
        assert_eq!(Namespace::from_uri("urn:dslforum-org:cwmp-1-5"), None);
        assert_eq!(
            Namespace::from_uri("urn:dslforum-org:cwmp-1-0"),
            Some(Namespace::Cwmp1_0)
        );
    }

    #[test]
    fn version_list_tolerates_spaces() {
        assert_eq!(
            parse_version_list("1.0, 1.1, 1.2, 1.3, 1.4").unwrap(),
            CwmpVersion::ALL.to_vec()
        );
        assert_eq!(
            format_version_list(&CwmpVersion::ALL),
            "1.0,1.1,1.2,1.3,1.4"
        );
        assert!(parse_version_list("1.0,x").is_err());
        assert!("1.".parse::<CwmpVersion>().is_err());
        assert!("+1.2".parse::<CwmpVersion>().is_err());
        assert_eq!("2.0".parse::<CwmpVersion>().unwrap().namespace(), None);
    }
}
