//! The CWMP (TR-069) protocol core: every CWMP message in both directions for CWMP 1.0 to
//! 1.4, the SOAP envelope codec, fault codes, version negotiation, and the HTTP and UDP
//! authentication helpers of both sides.
//!
//! No I/O, no async runtime, no clock reads: bytes, time and randomness are inputs.
//!
//! ```
//! let body = br#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"
//!     xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap-env:Header>
//!     <cwmp:ID soap-env:mustUnderstand="1">42</cwmp:ID></soap-env:Header>
//!     <soap-env:Body><cwmp:Reboot><CommandKey>k1</CommandKey></cwmp:Reboot></soap-env:Body>
//!     </soap-env:Envelope>"#;
//! let envelope = cwmp::decode(body)?;
//! let cwmp::Body::Reboot(reboot) = &envelope.body else { unreachable!() };
//! assert_eq!(reboot.command_key, "k1");
//!
//! // Answer in the peer's namespace, echoing its ID.
//! let reply = cwmp::Envelope::new(envelope.namespace, envelope.header.id.clone(), cwmp::RebootResponse {});
//! assert!(reply.encode()?.contains("<cwmp:RebootResponse></cwmp:RebootResponse>"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
mod charset;
mod codec;
mod datetime;
mod envelope;
mod error;
mod fault;
mod limits;
pub mod message;
mod namespace;
mod value;
pub mod version;
mod xml;

pub use charset::transcode;
pub use datetime::{DateTime, InvalidDateTime};
pub use envelope::{Envelope, Header};
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use fault::{CwmpFault, Fault, FaultClass, FaultCode, SetParameterValuesFault, SoapFaultCode};
pub use limits::Limits;
pub use message::*;
pub use namespace::{
    CwmpVersion, InvalidVersion, Namespace, SOAP_ENC, SOAP_ENV, XSD, XSI, format_version_list,
    parse_version_list,
};
pub use value::{ParameterValue, ParameterValueStruct};
pub use xml::writer::{BooleanStyle, EncodeOptions};

/// Converts a value that may borrow from the decoded input into one that does not.
pub trait IntoOwned {
    /// The owned form, with `'static` in place of the input's lifetime.
    type Owned;
    /// Copies whatever is borrowed.
    fn into_owned(self) -> Self::Owned;
}

/// Decodes a CWMP envelope with the default [`Limits`]. The body must be UTF-8; see
/// [`transcode`] for other charsets. Strings in the result borrow from `body` unless they
/// contained escapes.
pub fn decode(body: &[u8]) -> Result<Envelope<'_>, DecodeError> {
    envelope::decode(body, Limits::DEFAULT)
}

/// Decodes a CWMP envelope within the given limits.
pub fn decode_with_limits(body: &[u8], limits: Limits) -> Result<Envelope<'_>, DecodeError> {
    envelope::decode(body, limits)
}
