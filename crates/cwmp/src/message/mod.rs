//! Every CWMP message (TR-069 Annex A, the BBF `cwmp-1-*.xsd` schemas), both directions.
//!
//! [`to_cpe`] holds the methods an ACS calls on a CPE and their responses; [`to_acs`] the
//! methods a CPE calls on an ACS and theirs. `GetRPCMethods` goes both ways and lives in
//! [`to_cpe`]. [`Body`] is the one message an envelope carries.

use std::borrow::Cow;

use serde::Serialize;

use crate::codec::{Codec, Leaf, Validate, Validator};
use crate::error::DecodeError;
use crate::fault::Fault;
use crate::namespace::Namespace;
use crate::xml::reader::{Cursor, Tag};
use crate::xml::writer::Writer;

pub mod to_acs;
pub mod to_cpe;

pub use to_acs::*;
pub use to_cpe::*;

use crate::codec::int_enum;

int_enum! {
    /// `Status` of SetParameterValuesResponse, AddObjectResponse and DeleteObjectResponse.
    pub enum ApplyStatus: "Status (0 or 1)" {
        /// 0: the changes have been validated and applied.
        Applied = 0,
        /// 1: validated and committed, but not yet applied (e.g. a reboot is needed).
        Committed = 1,
    }
}

int_enum! {
    /// `Status` of DownloadResponse and UploadResponse.
    pub enum TransferStatus: "Status (0 or 1)" {
        /// 0: the transfer has completed (and, for a download, been applied).
        Completed = 0,
        /// 1: not yet completed; a TransferComplete follows in a later session.
        Pending = 1,
    }
}

int_enum! {
    /// `State` of a queued transfer.
    pub enum TransferState: "TransferStateType (1, 2 or 3)" {
        /// 1: not yet started.
        NotYetStarted = 1,
        /// 2: in progress.
        InProgress = 2,
        /// 3: completed, finishing or finished.
        Completed = 3,
    }
}

/// Parameter attribute `Notification` (notes §4.2; values 3–6 are CWMP 1.4 lightweight
/// notification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Notification {
    /// 0: off.
    Off = 0,
    /// 1: passive, the new value is in the next Inform.
    Passive = 1,
    /// 2: active, a change starts a session with `4 VALUE CHANGE`.
    Active = 2,
    /// 3: passive lightweight notification.
    PassiveLightweight = 3,
    /// 4: passive, and passive lightweight.
    PassiveAndPassiveLightweight = 4,
    /// 5: active lightweight notification.
    ActiveLightweight = 5,
    /// 6: passive, and active lightweight.
    PassiveAndActiveLightweight = 6,
}

impl Notification {
    /// The notification with the given value.
    pub fn from_code(code: i64) -> Option<Notification> {
        Some(match code {
            0 => Notification::Off,
            1 => Notification::Passive,
            2 => Notification::Active,
            3 => Notification::PassiveLightweight,
            4 => Notification::PassiveAndPassiveLightweight,
            5 => Notification::ActiveLightweight,
            6 => Notification::PassiveAndActiveLightweight,
            _ => return None,
        })
    }
}

impl<'a> Leaf<'a> for Notification {
    const XSD_TYPE: &'static str = "Notification (0 to 6)";

    /// An empty value reads as 0: GenieACS sends `<Notification></Notification>` when
    /// `NotificationChange` is false (notes §4.2).
    fn parse(text: Cow<'a, str>) -> Result<Self, Cow<'a, str>> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Notification::Off);
        }
        t.parse().ok().and_then(Notification::from_code).ok_or(text)
    }

    fn write(&self, w: &mut Writer<'_>) {
        use std::fmt::Write as _;
        let _ = write!(w.out, "{}", *self as u8);
    }
}

impl Validate for Notification {
    fn validate(&self, _: &mut Validator) {}
}

crate::codec::owned_is_self!(Notification);

impl Serialize for Notification {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*self as u8)
    }
}

/// Whether a message asks or answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A method call.
    Request,
    /// A method response or a fault.
    Response,
}

/// Who sends a request (for a response: who sends the request it answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    /// The ACS calls a CPE method.
    Acs,
    /// The CPE calls an ACS method.
    Cpe,
    /// Either side (GetRPCMethods).
    Either,
}

macro_rules! body {
    ($( $(#[$doc:meta])* $name:ident $(<$lt:lifetime>)? : $since:ident, $kind:ident, $caller:ident; )*) => {
        /// The message of an envelope's `Body`.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[allow(clippy::large_enum_variant)]
        pub enum Body<'a> {
            $( $(#[$doc])* $name($name $(<$lt>)?), )*
            /// A SOAP Fault (a response).
            Fault(Fault<'a>),
        }

        impl<'a> Body<'a> {
            /// The method name, e.g. `GetParameterValuesResponse`, or `Fault`.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Body::$name(_) => stringify!($name), )*
                    Body::Fault(_) => "Fault",
                }
            }

            /// The oldest namespace whose schema defines the message.
            pub fn since(&self) -> Namespace {
                match self {
                    $( Body::$name(_) => Namespace::$since, )*
                    Body::Fault(_) => Namespace::Cwmp1_0,
                }
            }

            /// Request or response.
            pub fn kind(&self) -> MessageKind {
                match self {
                    $( Body::$name(_) => MessageKind::$kind, )*
                    Body::Fault(_) => MessageKind::Response,
                }
            }

            /// Who calls the method (of a request, or of the request a response answers).
            pub fn caller(&self) -> Option<Caller> {
                match self {
                    $( Body::$name(_) => Some(Caller::$caller), )*
                    Body::Fault(_) => None,
                }
            }

            /// The oldest namespace that defines the method `name`, or `None` if `name` is
            /// not a CWMP method.
            pub fn method_since(name: &str) -> Option<Namespace> {
                match name {
                    $( stringify!($name) => Some(Namespace::$since), )*
                    _ => None,
                }
            }

            pub(crate) fn decode_method(
                cur: &mut Cursor<'a>,
                tag: &Tag<'a>,
            ) -> Option<Result<Body<'a>, DecodeError>> {
                Some(match tag.local {
                    $( stringify!($name) => <$name $(<$lt>)? as Codec>::decode(cur, tag).map(Body::$name), )*
                    _ => return None,
                })
            }

            pub(crate) fn encode_method(&self, w: &mut Writer<'_>) {
                match self {
                    $( Body::$name(m) => m.encode(concat!("cwmp:", stringify!($name)), w), )*
                    Body::Fault(f) => crate::envelope::encode_fault(f, w),
                }
            }

            /// Validates the message; [`Envelope::validate`](crate::Envelope::validate)
            /// checked that it exists in the namespace.
            pub(crate) fn validate(&self, v: &mut Validator) {
                match self {
                    $( Body::$name(m) => v.at(stringify!($name), |v| m.validate(v)), )*
                    Body::Fault(f) => v.at("Fault", |v| crate::envelope::validate_fault(f, v)),
                }
            }

            /// A copy that borrows nothing.
            pub fn into_owned(self) -> Body<'static> {
                match self {
                    $( Body::$name(m) => Body::$name(crate::IntoOwned::into_owned(m)), )*
                    Body::Fault(f) => Body::Fault(crate::IntoOwned::into_owned(f)),
                }
            }
        }

        impl<'a> From<Fault<'a>> for Body<'a> {
            fn from(f: Fault<'a>) -> Body<'a> {
                Body::Fault(f)
            }
        }

        $(
            impl<'a> From<$name $(<$lt>)?> for Body<'a> {
                fn from(m: $name $(<$lt>)?) -> Body<'a> {
                    Body::$name(m)
                }
            }
        )*
    };
}

body! {
    // Methods of the CPE (TR-069 A.3.2 and A.4.1), called by the ACS.
    /// List the methods the peer supports (either direction).
    GetRPCMethods: Cwmp1_0, Request, Either;
    /// The supported methods.
    GetRPCMethodsResponse<'a>: Cwmp1_0, Response, Either;
    /// Set parameter values, all or nothing.
    SetParameterValues<'a>: Cwmp1_0, Request, Acs;
    /// SetParameterValues succeeded.
    SetParameterValuesResponse: Cwmp1_0, Response, Acs;
    /// Read parameter values (full names or partial paths).
    GetParameterValues<'a>: Cwmp1_0, Request, Acs;
    /// The values read.
    GetParameterValuesResponse<'a>: Cwmp1_0, Response, Acs;
    /// Discover parameter and object names.
    GetParameterNames<'a>: Cwmp1_0, Request, Acs;
    /// The names found, with their writable flags.
    GetParameterNamesResponse<'a>: Cwmp1_0, Response, Acs;
    /// Set notification and access-list attributes.
    SetParameterAttributes<'a>: Cwmp1_0, Request, Acs;
    /// SetParameterAttributes succeeded.
    SetParameterAttributesResponse: Cwmp1_0, Response, Acs;
    /// Read notification and access-list attributes.
    GetParameterAttributes<'a>: Cwmp1_0, Request, Acs;
    /// The attributes read.
    GetParameterAttributesResponse<'a>: Cwmp1_0, Response, Acs;
    /// Create an object instance.
    AddObject<'a>: Cwmp1_0, Request, Acs;
    /// The new instance number.
    AddObjectResponse: Cwmp1_0, Response, Acs;
    /// Delete an object instance.
    DeleteObject<'a>: Cwmp1_0, Request, Acs;
    /// DeleteObject succeeded.
    DeleteObjectResponse: Cwmp1_0, Response, Acs;
    /// Reboot after the session.
    Reboot<'a>: Cwmp1_0, Request, Acs;
    /// Reboot accepted.
    RebootResponse: Cwmp1_0, Response, Acs;
    /// Download a file (firmware, configuration, ...).
    Download<'a>: Cwmp1_0, Request, Acs;
    /// Download accepted or done.
    DownloadResponse: Cwmp1_0, Response, Acs;
    /// Upload a file (configuration, log).
    Upload<'a>: Cwmp1_0, Request, Acs;
    /// Upload accepted or done.
    UploadResponse: Cwmp1_0, Response, Acs;
    /// Reset to factory defaults.
    FactoryReset: Cwmp1_0, Request, Acs;
    /// FactoryReset accepted.
    FactoryResetResponse: Cwmp1_0, Response, Acs;
    /// List transfers this ACS queued (deprecated for GetAllQueuedTransfers).
    GetQueuedTransfers: Cwmp1_0, Request, Acs;
    /// The queued transfers.
    GetQueuedTransfersResponse<'a>: Cwmp1_0, Response, Acs;
    /// Open a session after a delay, with `3 SCHEDULED`.
    ScheduleInform<'a>: Cwmp1_0, Request, Acs;
    /// ScheduleInform accepted.
    ScheduleInformResponse: Cwmp1_0, Response, Acs;
    /// Install option vouchers.
    SetVouchers: Cwmp1_0, Request, Acs;
    /// SetVouchers succeeded.
    SetVouchersResponse: Cwmp1_0, Response, Acs;
    /// Read the state of options.
    GetOptions<'a>: Cwmp1_0, Request, Acs;
    /// The options.
    GetOptionsResponse<'a>: Cwmp1_0, Response, Acs;
    /// List all queued transfers, whoever queued them.
    GetAllQueuedTransfers: Cwmp1_1, Request, Acs;
    /// The queued transfers.
    GetAllQueuedTransfersResponse<'a>: Cwmp1_1, Response, Acs;
    /// Download within time windows.
    ScheduleDownload<'a>: Cwmp1_2, Request, Acs;
    /// ScheduleDownload accepted.
    ScheduleDownloadResponse: Cwmp1_2, Response, Acs;
    /// Cancel a queued transfer.
    CancelTransfer<'a>: Cwmp1_2, Request, Acs;
    /// CancelTransfer succeeded.
    CancelTransferResponse: Cwmp1_2, Response, Acs;
    /// Install, update or uninstall deployment units.
    ChangeDUState<'a>: Cwmp1_2, Request, Acs;
    /// ChangeDUState accepted.
    ChangeDUStateResponse: Cwmp1_2, Response, Acs;
    // Methods of the ACS (TR-069 A.3.3 and A.4.2), called by the CPE.
    /// Opens every session.
    Inform<'a>: Cwmp1_0, Request, Cpe;
    /// Inform accepted.
    InformResponse: Cwmp1_0, Response, Cpe;
    /// A Download, Upload or ScheduleDownload finished.
    TransferComplete<'a>: Cwmp1_0, Request, Cpe;
    /// TransferComplete recorded.
    TransferCompleteResponse: Cwmp1_0, Response, Cpe;
    /// A transfer the ACS did not ask for finished.
    AutonomousTransferComplete<'a>: Cwmp1_1, Request, Cpe;
    /// AutonomousTransferComplete recorded.
    AutonomousTransferCompleteResponse: Cwmp1_1, Response, Cpe;
    /// A ChangeDUState finished.
    DUStateChangeComplete<'a>: Cwmp1_2, Request, Cpe;
    /// DUStateChangeComplete recorded.
    DUStateChangeCompleteResponse: Cwmp1_2, Response, Cpe;
    /// Deployment units changed without a ChangeDUState.
    AutonomousDUStateChangeComplete<'a>: Cwmp1_2, Request, Cpe;
    /// AutonomousDUStateChangeComplete recorded.
    AutonomousDUStateChangeCompleteResponse: Cwmp1_2, Response, Cpe;
    /// The CPE asks for a download.
    RequestDownload<'a>: Cwmp1_0, Request, Cpe;
    /// RequestDownload recorded.
    RequestDownloadResponse: Cwmp1_0, Response, Cpe;
    /// A web page on the CPE was kicked (legacy).
    Kicked<'a>: Cwmp1_0, Request, Cpe;
    /// Where to send the browser next.
    KickedResponse<'a>: Cwmp1_0, Response, Cpe;
}
