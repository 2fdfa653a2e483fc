//! CWMP version negotiation (TR-069 Amendment 5/6 §3.7.4; notes §2.3).
//!
//! A CPE writes its Inform in the namespace of the highest version it supports and, from
//! CWMP 1.4 on, lists its versions in `SupportedCWMPVersions`. The ACS picks the highest
//! common version and names it in `UseCWMPVersion`, in that version's namespace. Without
//! the list, the version follows from the namespace (and `SessionTimeout`, which only 1.3
//! and later send), and no `UseCWMPVersion` is sent: a CPE older than 1.4 would have to
//! fault on an unknown header marked `mustUnderstand="1"`.

use std::fmt;

use crate::envelope::Header;
use crate::fault::{Fault, FaultCode};
use crate::namespace::{CwmpVersion, Namespace};

/// The outcome of negotiation on the ACS side: what the session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The CWMP version of the session.
    pub version: CwmpVersion,
    /// The namespace of every message of the session, InformResponse included.
    pub namespace: Namespace,
    /// The `UseCWMPVersion` header to put in the InformResponse, if any.
    pub use_cwmp_version: Option<CwmpVersion>,
}

/// No version is common to the CPE and the ACS: the ACS answers the Inform with fault
/// 8006 (`cwmp-1-4.xsd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoCommonVersion {
    /// What the CPE offered (or what its namespace implies).
    pub cpe: Vec<CwmpVersion>,
    /// What the ACS supports.
    pub acs: Vec<CwmpVersion>,
}

impl NoCommonVersion {
    /// The fault to answer the Inform with.
    pub fn fault(&self) -> Fault<'static> {
        Fault::cwmp(
            FaultCode::ACS_VERSION_INCOMPATIBLE,
            Some(self.to_string().into()),
        )
    }
}

impl fmt::Display for NoCommonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[CwmpVersion]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(
            f,
            "no common CWMP version: CPE {}, ACS {}",
            list(&self.cpe),
            list(&self.acs)
        )
    }
}

impl std::error::Error for NoCommonVersion {}

/// The version a CPE speaks when it does not list its versions: from the namespace of its
/// Inform, and 1.3 rather than 1.2 when it sends `SessionTimeout`.
pub fn implied_version(namespace: Namespace, header: &Header<'_>) -> CwmpVersion {
    match namespace {
        Namespace::Cwmp1_2 if header.session_timeout.is_some() => CwmpVersion::V1_3,
        ns => ns.base_version(),
    }
}

/// ACS side: picks the session's version from the Inform's namespace and headers.
pub fn negotiate(
    inform_namespace: Namespace,
    header: &Header<'_>,
    acs_versions: &[CwmpVersion],
) -> Result<Negotiated, NoCommonVersion> {
    if let Some(offered) = &header.supported_cwmp_versions {
        let best = offered
            .iter()
            .filter(|v| acs_versions.contains(v) && v.namespace().is_some())
            .max()
            .copied();
        return match best.and_then(|v| Some((v, v.namespace()?))) {
            Some((version, namespace)) => Ok(Negotiated {
                version,
                namespace,
                use_cwmp_version: Some(version),
            }),
            None => Err(NoCommonVersion {
                cpe: offered.clone(),
                acs: acs_versions.to_vec(),
            }),
        };
    }
    let implied = implied_version(inform_namespace, header);
    // The ACS may speak an older minor version written in the same namespace (a 1.3 CPE
    // to a 1.2 ACS), never a different namespace, which the CPE would not expect.
    let best = acs_versions
        .iter()
        .filter(|v| v.namespace() == Some(inform_namespace) && **v <= implied)
        .max()
        .copied();
    match best {
        Some(version) => Ok(Negotiated {
            version,
            namespace: inform_namespace,
            use_cwmp_version: None,
        }),
        None => Err(NoCommonVersion {
            cpe: vec![implied],
            acs: acs_versions.to_vec(),
        }),
    }
}

/// The ACS chose a version the CPE does not support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the ACS chose CWMP {0}, which this CPE does not support")]
pub struct UnsupportedVersion(pub CwmpVersion);

/// CPE side: the session's version from the InformResponse. `UseCWMPVersion` decides when
/// present; otherwise the ACS predates CWMP 1.4 and the version is the highest of the CPE's
/// versions below 1.4 written in the response's namespace (notes §2.3 step 3).
pub fn accept(
    response_namespace: Namespace,
    header: &Header<'_>,
    cpe_versions: &[CwmpVersion],
) -> Result<CwmpVersion, UnsupportedVersion> {
    if let Some(chosen) = header.use_cwmp_version {
        return if cpe_versions.contains(&chosen) {
            Ok(chosen)
        } else {
            Err(UnsupportedVersion(chosen))
        };
    }
    cpe_versions
        .iter()
        .filter(|v| v.namespace() == Some(response_namespace) && **v < CwmpVersion::V1_4)
        .max()
        .copied()
        .ok_or(UnsupportedVersion(response_namespace.base_version()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [CwmpVersion; 5] = CwmpVersion::ALL;

    fn header(session_timeout: Option<u32>, supported: Option<&str>) -> Header<'static> {
        Header {
            session_timeout,
            supported_cwmp_versions: supported
                .map(|s| crate::namespace::parse_version_list(s).unwrap()),
            ..Header::default()
        }
    }

    /// Inform namespace, SessionTimeout, SupportedCWMPVersions, ACS versions, and the
    /// expected version, namespace and whether UseCWMPVersion is sent (None: fault 8006).
    type Case<'a> = (
        Namespace,
        Option<u32>,
        Option<&'a str>,
        &'a [CwmpVersion],
        Option<(CwmpVersion, Namespace, bool)>,
    );

    /// The matrix of notes §10.2.
    #[test]
    fn negotiation_matrix() {
        use CwmpVersion as V;
        use Namespace as N;
        let cases: &[Case<'_>] = &[
            (
                N::Cwmp1_0,
                None,
                None,
                &ALL,
                Some((V::V1_0, N::Cwmp1_0, false)),
            ),
            (
                N::Cwmp1_1,
                None,
                None,
                &ALL,
                Some((V::V1_1, N::Cwmp1_1, false)),
            ),
            (
                N::Cwmp1_2,
                None,
                None,
                &ALL,
                Some((V::V1_2, N::Cwmp1_2, false)),
            ),
            (
                N::Cwmp1_2,
                Some(60),
                None,
                &ALL,
                Some((V::V1_3, N::Cwmp1_2, false)),
            ),
            (
                N::Cwmp1_2,
                Some(60),
                Some("1.0,1.1,1.2,1.3,1.4"),
                &ALL,
                Some((V::V1_4, N::Cwmp1_2, true)),
            ),
            (
                N::Cwmp1_2,
                None,
                Some("1.0, 1.4"),
                &ALL,
                Some((V::V1_4, N::Cwmp1_2, true)),
            ),
            (
                N::Cwmp1_2,
                None,
                Some("1.0, 1.4"),
                &[V::V1_0, V::V1_1, V::V1_2],
                Some((V::V1_0, N::Cwmp1_0, true)),
            ),
            (
                N::Cwmp1_2,
                None,
                Some("1.1,1.2,1.3"),
                &[V::V1_0, V::V1_1],
                Some((V::V1_1, N::Cwmp1_1, true)),
            ),
            (N::Cwmp1_2, None, Some("2.0"), &ALL, None),
            (
                N::Cwmp1_2,
                Some(30),
                None,
                &[V::V1_0, V::V1_1, V::V1_2],
                Some((V::V1_2, N::Cwmp1_2, false)),
            ),
            (N::Cwmp1_0, None, None, &[V::V1_2, V::V1_3, V::V1_4], None),
            (N::Cwmp1_1, None, None, &[V::V1_0], None),
        ];
        for (ns, timeout, supported, acs, expected) in cases {
            let got = negotiate(*ns, &header(*timeout, *supported), acs);
            match expected {
                Some((version, namespace, use_header)) => {
                    let got = got.unwrap_or_else(|e| panic!("{ns:?} {supported:?}: {e}"));
                    assert_eq!(got.version, *version, "{ns:?} {supported:?}");
                    assert_eq!(got.namespace, *namespace, "{ns:?} {supported:?}");
                    assert_eq!(
                        got.use_cwmp_version.is_some(),
                        *use_header,
                        "{ns:?} {supported:?}"
                    );
                }
                None => {
                    let err = got.unwrap_err();
                    assert_eq!(
                        err.fault().code(),
                        Some(FaultCode::ACS_VERSION_INCOMPATIBLE)
                    );
                }
            }
        }
    }

    #[test]
    fn cpe_accepts_use_cwmp_version_or_namespace() {
        use CwmpVersion as V;
        let h = Header {
            use_cwmp_version: Some(V::V1_4),
            ..Header::default()
        };
        assert_eq!(accept(Namespace::Cwmp1_2, &h, &ALL), Ok(V::V1_4));
        assert_eq!(
            accept(Namespace::Cwmp1_2, &h, &[V::V1_2]),
            Err(UnsupportedVersion(V::V1_4))
        );
        let h = Header::default();
        assert_eq!(accept(Namespace::Cwmp1_1, &h, &ALL), Ok(V::V1_1));
        assert_eq!(accept(Namespace::Cwmp1_2, &h, &ALL), Ok(V::V1_3));
        assert!(accept(Namespace::Cwmp1_2, &h, &[V::V1_0]).is_err());
    }
}
