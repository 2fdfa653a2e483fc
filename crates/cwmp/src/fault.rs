//! Fault codes (TR-069 Annex A.5, notes §4.3) and the SOAP Fault that carries them (§2.7).

use std::borrow::Cow;
use std::fmt;

use crate::codec::check::FaultContext;
use crate::codec::{Leaf, cwmp_struct};
use crate::xml::writer::Writer;

/// A CWMP fault code: 9000–9899 from a CPE, 8000–8899 from an ACS, and 0 ("no fault") in
/// the `FaultStruct` of a completed transfer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaultCode(pub u32);

/// The SOAP 1.1 `faultcode` class of a fault: who is to blame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum FaultClass {
    /// The request was wrong.
    Client,
    /// The responder failed.
    Server,
}

macro_rules! fault_codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $class:ident, $meaning:literal; )*) => {
        impl FaultCode {
            $( $(#[$doc])* #[doc = concat!("`", $code, "` ", $meaning)] pub const $name: FaultCode = FaultCode($code); )*

            /// Every fault code the specification defines.
            pub const ALL: &'static [FaultCode] = &[$(FaultCode::$name),*];

            /// The constant's name, e.g. `INVALID_ARGUMENTS`, for a defined code.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $code => Some(stringify!($name)), )*
                    _ => None,
                }
            }

            /// The meaning given by the specification, for a defined code.
            pub fn meaning(self) -> Option<&'static str> {
                match self.0 {
                    $( $code => Some($meaning), )*
                    _ => None,
                }
            }

            /// The SOAP `faultcode` (`Client` or `Server`) that goes with this code
            /// (TR-069 Tables A.5.1 and A.5.2). Vendor and undefined codes are `Server`.
            pub fn class(self) -> FaultClass {
                match self.0 {
                    $( $code => FaultClass::$class, )*
                    _ => FaultClass::Server,
                }
            }
        }
    };
}

fault_codes! {
    /// Success, in the `FaultStruct` of TransferComplete and AutonomousTransferComplete.
    SUCCESS = 0, Server, "No fault";
    METHOD_NOT_SUPPORTED = 9000, Server, "Method not supported";
    REQUEST_DENIED = 9001, Server, "Request denied (no reason specified)";
    INTERNAL_ERROR = 9002, Server, "Internal error";
    INVALID_ARGUMENTS = 9003, Client, "Invalid arguments";
    RESOURCES_EXCEEDED = 9004, Server, "Resources exceeded";
    INVALID_PARAMETER_NAME = 9005, Client, "Invalid parameter name";
    INVALID_PARAMETER_TYPE = 9006, Client, "Invalid parameter type";
    INVALID_PARAMETER_VALUE = 9007, Client, "Invalid parameter value";
    NON_WRITABLE_PARAMETER = 9008, Client, "Attempt to set a non-writable parameter";
    NOTIFICATION_REQUEST_REJECTED = 9009, Server, "Notification request rejected";
    FILE_TRANSFER_FAILURE = 9010, Server, "File transfer failure";
    UPLOAD_FAILURE = 9011, Server, "Upload failure";
    FILE_TRANSFER_SERVER_AUTHENTICATION_FAILURE = 9012, Server,
        "File transfer server authentication failure";
    UNSUPPORTED_PROTOCOL_FOR_FILE_TRANSFER = 9013, Server,
        "Unsupported protocol for file transfer";
    FILE_TRANSFER_MULTICAST_JOIN_FAILURE = 9014, Server,
        "File transfer failure: unable to join multicast group";
    FILE_TRANSFER_SERVER_UNREACHABLE = 9015, Server,
        "File transfer failure: unable to contact file server";
    FILE_TRANSFER_FILE_UNREACHABLE = 9016, Server,
        "File transfer failure: unable to access file";
    FILE_TRANSFER_INCOMPLETE = 9017, Server,
        "File transfer failure: unable to complete download";
    FILE_TRANSFER_FILE_CORRUPTED = 9018, Server,
        "File transfer failure: file corrupted or otherwise unusable";
    FILE_TRANSFER_FILE_AUTHENTICATION_FAILURE = 9019, Server,
        "File transfer failure: file authentication failure";
    FILE_TRANSFER_WINDOW_EXCEEDED = 9020, Client,
        "File transfer failure: unable to complete download within specified time windows";
    CANCELATION_NOT_PERMITTED = 9021, Client,
        "Cancelation of file transfer not permitted in current transfer state";
    INVALID_UUID_FORMAT = 9022, Server, "Invalid UUID Format";
    UNKNOWN_EXECUTION_ENVIRONMENT = 9023, Server, "Unknown Execution Environment";
    DISABLED_EXECUTION_ENVIRONMENT = 9024, Server, "Disabled Execution Environment";
    DEPLOYMENT_UNIT_EXECUTION_ENVIRONMENT_MISMATCH = 9025, Server,
        "Deployment Unit to Execution Environment Mismatch";
    DUPLICATE_DEPLOYMENT_UNIT = 9026, Server, "Duplicate Deployment Unit";
    SYSTEM_RESOURCES_EXCEEDED = 9027, Server, "System Resources Exceeded";
    UNKNOWN_DEPLOYMENT_UNIT = 9028, Server, "Unknown Deployment Unit";
    INVALID_DEPLOYMENT_UNIT_STATE = 9029, Server, "Invalid Deployment Unit State";
    DEPLOYMENT_UNIT_DOWNGRADE_NOT_PERMITTED = 9030, Server,
        "Invalid Deployment Unit Update - Downgrade not permitted";
    DEPLOYMENT_UNIT_VERSION_NOT_SPECIFIED = 9031, Server,
        "Invalid Deployment Unit Update - Version not specified";
    DEPLOYMENT_UNIT_VERSION_EXISTS = 9032, Server,
        "Invalid Deployment Unit Update - Version already exists";
    ACS_METHOD_NOT_SUPPORTED = 8000, Server, "Method not supported";
    ACS_REQUEST_DENIED = 8001, Server, "Request denied (no reason specified)";
    ACS_INTERNAL_ERROR = 8002, Server, "Internal error";
    ACS_INVALID_ARGUMENTS = 8003, Client, "Invalid arguments";
    ACS_RESOURCES_EXCEEDED = 8004, Server, "Resources exceeded";
    /// A CPE that gets this for the Inform ends the session and retries later; for any other
    /// request it retries that request later in the session (notes §3.3 rule 6).
    ACS_RETRY_REQUEST = 8005, Server, "Retry request";
    /// Answer to an Inform when no CWMP version is common to both sides (CWMP 1.4).
    ACS_VERSION_INCOMPATIBLE = 8006, Server, "ACS version incompatible with CPE";
}

impl FaultCode {
    /// A code an ACS sends (8000–8899).
    pub fn is_acs(self) -> bool {
        (8000..=8899).contains(&self.0)
    }

    /// A code a CPE sends (9000–9899).
    pub fn is_cpe(self) -> bool {
        (9000..=9899).contains(&self.0)
    }

    /// A vendor-specific code (8800–8899 or 9800–9899).
    pub fn is_vendor(self) -> bool {
        (8800..=8899).contains(&self.0) || (9800..=9899).contains(&self.0)
    }
}

impl fmt::Debug for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "FaultCode({} {name})", self.0),
            None => write!(f, "FaultCode({})", self.0),
        }
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.meaning() {
            Some(meaning) => write!(f, "{} ({meaning})", self.0),
            None if self.is_vendor() => write!(f, "{} (vendor fault)", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl serde::Serialize for FaultCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'a> Leaf<'a> for FaultCode {
    const XSD_TYPE: &'static str = "fault code (xsd:unsignedInt)";

    fn parse(text: Cow<'a, str>) -> Result<Self, Cow<'a, str>> {
        text.trim().parse().map(FaultCode).map_err(|_| text)
    }

    fn write(&self, w: &mut Writer<'_>) {
        use fmt::Write as _;
        let _ = write!(w.out, "{}", self.0);
    }
}

impl crate::codec::Validate for FaultCode {
    fn validate(&self, _: &mut crate::codec::Validator) {}
}

crate::codec::owned_is_self!(FaultCode);

cwmp_struct! {
    /// One parameter that made a SetParameterValues fail (notes §4.2).
    pub struct SetParameterValuesFault<'a> {
        /// The parameter in error.
        "ParameterName" parameter_name: Cow<'a, str>,
        /// 9005 unknown name, 9006 wrong type, 9007 bad value, 9008 not writable.
        "FaultCode" fault_code: FaultCode => fault_code(FaultContext::SetParameterValues),
        "FaultString" fault_string: Option<Cow<'a, str>>,
    }
}

cwmp_struct! {
    /// `cwmp:Fault`, the CWMP part of a SOAP Fault's `detail`.
    pub struct CwmpFault<'a> {
        "FaultCode" fault_code: FaultCode => fault_code(FaultContext::Fault),
        "FaultString" fault_string: Option<Cow<'a, str>>,
        /// Only in a fault answering SetParameterValues, one per parameter in error.
        "SetParameterValuesFault" [repeated] set_parameter_values_faults: Vec<SetParameterValuesFault<'a>>,
    }
}

/// A SOAP 1.1 `faultcode` (SOAP 1.1 §4.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoapFaultCode<'a> {
    /// `Client`: the message was wrong.
    Client,
    /// `Server`: the responder failed.
    Server,
    /// `MustUnderstand`: a mandatory header was not understood.
    MustUnderstand,
    /// `VersionMismatch`: not a SOAP 1.1 envelope.
    VersionMismatch,
    /// Anything else, as written (a local name, dot-extended like `Client.Auth`).
    Other(Cow<'a, str>),
}

impl SoapFaultCode<'_> {
    /// The local name, e.g. `Client`.
    pub fn as_str(&self) -> &str {
        match self {
            SoapFaultCode::Client => "Client",
            SoapFaultCode::Server => "Server",
            SoapFaultCode::MustUnderstand => "MustUnderstand",
            SoapFaultCode::VersionMismatch => "VersionMismatch",
            SoapFaultCode::Other(s) => s,
        }
    }

    /// Parses a `faultcode`: qualified (`soap:Client`) or not (`Client`, as TR-069 writes
    /// it), notes §2.7.
    pub fn parse<'b>(text: Cow<'b, str>) -> SoapFaultCode<'b> {
        let local = text.trim().rsplit(':').next().unwrap_or_default();
        match local {
            "Client" => SoapFaultCode::Client,
            "Server" => SoapFaultCode::Server,
            "MustUnderstand" => SoapFaultCode::MustUnderstand,
            "VersionMismatch" => SoapFaultCode::VersionMismatch,
            _ => SoapFaultCode::Other(text),
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> SoapFaultCode<'static> {
        match self {
            SoapFaultCode::Client => SoapFaultCode::Client,
            SoapFaultCode::Server => SoapFaultCode::Server,
            SoapFaultCode::MustUnderstand => SoapFaultCode::MustUnderstand,
            SoapFaultCode::VersionMismatch => SoapFaultCode::VersionMismatch,
            SoapFaultCode::Other(s) => SoapFaultCode::Other(Cow::Owned(s.into_owned())),
        }
    }
}

impl From<FaultClass> for SoapFaultCode<'_> {
    fn from(class: FaultClass) -> Self {
        match class {
            FaultClass::Client => SoapFaultCode::Client,
            FaultClass::Server => SoapFaultCode::Server,
        }
    }
}

impl serde::Serialize for SoapFaultCode<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A SOAP 1.1 Fault, normally carrying a [`CwmpFault`] in its `detail` (notes §2.7). It is a
/// response: the CPE sends it in a POST answering an ACS request, the ACS in an HTTP
/// response answering a CPE request.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Fault<'a> {
    /// SOAP `faultcode`.
    #[serde(rename = "faultcode")]
    pub faultcode: SoapFaultCode<'a>,
    /// SOAP `faultstring`; TR-069 stacks write `CWMP fault`.
    #[serde(rename = "faultstring")]
    pub faultstring: Cow<'a, str>,
    /// The CWMP fault; absent only for SOAP-level faults such as `MustUnderstand`.
    #[serde(rename = "detail")]
    pub detail: Option<CwmpFault<'a>>,
}

impl<'a> Fault<'a> {
    /// A CWMP fault with the `faultcode` class the code's table gives, `faultstring`
    /// `CWMP fault`, and `message` as `FaultString` (the code's meaning when `None`).
    pub fn cwmp(code: FaultCode, message: Option<Cow<'a, str>>) -> Fault<'a> {
        let fault_string = message.or_else(|| code.meaning().map(Cow::Borrowed));
        Fault {
            faultcode: code.class().into(),
            faultstring: Cow::Borrowed("CWMP fault"),
            detail: Some(CwmpFault {
                fault_code: code,
                fault_string,
                set_parameter_values_faults: Vec::new(),
            }),
        }
    }

    /// The SOAP `MustUnderstand` fault for a header that was not understood.
    pub fn must_understand(header: &str) -> Fault<'a> {
        Fault {
            faultcode: SoapFaultCode::MustUnderstand,
            faultstring: Cow::Owned(format!("header {header} not understood")),
            detail: None,
        }
    }

    /// The CWMP fault code, if the fault carries one.
    pub fn code(&self) -> Option<FaultCode> {
        self.detail.as_ref().map(|d| d.fault_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_defined_code_has_name_meaning_and_class() {
        let codes: Vec<u32> = FaultCode::ALL.iter().map(|c| c.0).collect();
        for code in (9000..=9032).chain(8000..=8006) {
            assert!(codes.contains(&code), "{code} missing");
            let c = FaultCode(code);
            assert!(c.name().is_some() && c.meaning().is_some());
        }
        assert_eq!(FaultCode::INVALID_ARGUMENTS.0, 9003);
        assert_eq!(FaultCode::INVALID_ARGUMENTS.class(), FaultClass::Client);
        assert_eq!(FaultCode::INTERNAL_ERROR.class(), FaultClass::Server);
        assert_eq!(FaultCode::ACS_INVALID_ARGUMENTS.class(), FaultClass::Client);
        assert_eq!(FaultCode(9850).to_string(), "9850 (vendor fault)");
        assert_eq!(FaultCode(9005).to_string(), "9005 (Invalid parameter name)");
        assert!(FaultCode(9850).is_vendor() && FaultCode(9850).is_cpe());
        assert!(FaultCode::ACS_RETRY_REQUEST.is_acs());
    }

    #[test]
    fn faultcode_qualified_or_not() {
        assert_eq!(
            SoapFaultCode::parse("soap:Client".into()),
            SoapFaultCode::Client
        );
        assert_eq!(
            SoapFaultCode::parse(" Server ".into()),
            SoapFaultCode::Server
        );
        assert_eq!(
            SoapFaultCode::parse("Client.Auth".into()),
            SoapFaultCode::Other("Client.Auth".into())
        );
    }
}
