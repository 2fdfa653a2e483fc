//! Methods the ACS calls on a CPE (TR-069 A.3.2, A.4.1), and their responses, in the
//! element order of the BBF schemas.

use std::borrow::Cow;

use base64::Engine as _;

use super::{ApplyStatus, Notification, TransferState, TransferStatus};
use crate::codec::check::FileTypeKind;
use crate::codec::{Codec, Leaf, Validate, Validator, array_item, cwmp_struct};
use crate::datetime::DateTime;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::value::ParameterValueStruct;
use crate::xml::reader::{Cursor, Ns, Tag};
use crate::xml::writer::Writer;

/// No limit on the number of array members.
const UNBOUNDED: usize = usize::MAX;

cwmp_struct! {
    /// Asks for the methods the peer supports (A.3.1.1; both directions).
    pub struct GetRPCMethods {}
}

cwmp_struct! {
    /// The methods the peer supports, required ones included.
    pub struct GetRPCMethodsResponse<'a> {
        "MethodList" method_list: Vec<Cow<'a, str>> => items(1, UNBOUNDED), each_max_len(64),
    }
}

cwmp_struct! {
    /// Sets parameter values, all or nothing (A.3.2.1).
    pub struct SetParameterValues<'a> {
        "ParameterList" parameter_list: Vec<ParameterValueStruct<'a>>,
        /// The value `ManagementServer.ParameterKey` takes if the call succeeds.
        "ParameterKey" parameter_key: Cow<'a, str> => max_len(32),
    }
}

cwmp_struct! {
    /// SetParameterValues succeeded.
    pub struct SetParameterValuesResponse {
        "Status" status: ApplyStatus,
    }
}

cwmp_struct! {
    /// Reads parameter values; each name is a full name or a partial path ending in `.`
    /// (A.3.2.2).
    pub struct GetParameterValues<'a> {
        "ParameterNames" parameter_names: Vec<Cow<'a, str>> => items(1, UNBOUNDED), each_max_len(256),
    }
}

cwmp_struct! {
    /// The values read.
    pub struct GetParameterValuesResponse<'a> {
        "ParameterList" parameter_list: Vec<ParameterValueStruct<'a>>,
    }
}

cwmp_struct! {
    /// Discovers names below a path (A.3.2.3; semantics table in notes §4.2).
    pub struct GetParameterNames<'a> {
        "ParameterPath" parameter_path: Cow<'a, str> => max_len(256),
        /// Only the immediate children of a partial path.
        "NextLevel" next_level: bool,
    }
}

cwmp_struct! {
    /// A name found by GetParameterNames; objects end with `.`.
    pub struct ParameterInfoStruct<'a> {
        "Name" name: Cow<'a, str> => max_len(256),
        /// For a table: AddObject allowed; for an instance: DeleteObject allowed.
        "Writable" writable: bool,
    }
}
array_item!(
    ParameterInfoStruct<'a>,
    "ParameterInfoStruct",
    "cwmp:ParameterInfoStruct"
);

cwmp_struct! {
    /// The names found.
    pub struct GetParameterNamesResponse<'a> {
        "ParameterList" parameter_list: Vec<ParameterInfoStruct<'a>>,
    }
}

cwmp_struct! {
    /// One attribute change of SetParameterAttributes.
    pub struct SetParameterAttributesStruct<'a> {
        /// Full name or partial path.
        "Name" name: Cow<'a, str> => max_len(256),
        "NotificationChange" notification_change: bool,
        "Notification" notification: Notification => notification(),
        "AccessListChange" access_list_change: bool,
        /// Entities besides the ACS that may write the parameter; only `Subscriber` exists.
        "AccessList" access_list: Vec<Cow<'a, str>> => access_list(),
    }
}
array_item!(
    SetParameterAttributesStruct<'a>,
    "SetParameterAttributesStruct",
    "cwmp:SetParameterAttributesStruct"
);

cwmp_struct! {
    /// Sets notification and access-list attributes (A.3.2.4).
    pub struct SetParameterAttributes<'a> {
        "ParameterList" parameter_list: Vec<SetParameterAttributesStruct<'a>> => items(1, UNBOUNDED),
    }
}

cwmp_struct! {
    /// SetParameterAttributes succeeded.
    pub struct SetParameterAttributesResponse {}
}

cwmp_struct! {
    /// Reads attributes (A.3.2.5).
    pub struct GetParameterAttributes<'a> {
        "ParameterNames" parameter_names: Vec<Cow<'a, str>> => items(1, UNBOUNDED), each_max_len(256),
    }
}

cwmp_struct! {
    /// The attributes of one parameter.
    pub struct ParameterAttributeStruct<'a> {
        "Name" name: Cow<'a, str> => max_len(256),
        "Notification" notification: Notification => notification(),
        "AccessList" access_list: Vec<Cow<'a, str>> => access_list(),
    }
}
array_item!(
    ParameterAttributeStruct<'a>,
    "ParameterAttributeStruct",
    "cwmp:ParameterAttributeStruct"
);

cwmp_struct! {
    /// The attributes read.
    pub struct GetParameterAttributesResponse<'a> {
        "ParameterList" parameter_list: Vec<ParameterAttributeStruct<'a>>,
    }
}

cwmp_struct! {
    /// Creates an instance of a table (A.3.2.6).
    pub struct AddObject<'a> {
        /// The table, ending with `.`, e.g. `Device.NAT.PortMapping.`.
        "ObjectName" object_name: Cow<'a, str> => object_name(),
        "ParameterKey" parameter_key: Cow<'a, str> => max_len(32),
    }
}

cwmp_struct! {
    /// The instance created.
    pub struct AddObjectResponse {
        "InstanceNumber" instance_number: u32 => min_u32(1),
        "Status" status: ApplyStatus,
    }
}

cwmp_struct! {
    /// Deletes an instance (A.3.2.7).
    pub struct DeleteObject<'a> {
        /// The instance, ending with `.`, e.g. `Device.NAT.PortMapping.3.`.
        "ObjectName" object_name: Cow<'a, str> => object_name(),
        "ParameterKey" parameter_key: Cow<'a, str> => max_len(32),
    }
}

cwmp_struct! {
    /// DeleteObject succeeded.
    pub struct DeleteObjectResponse {
        "Status" status: ApplyStatus,
    }
}

cwmp_struct! {
    /// Downloads a file (A.3.2.8). All ten arguments are always sent (notes §9 #13).
    pub struct Download<'a> {
        "CommandKey" command_key: Cow<'a, str> => max_len(32),
        /// E.g. `1 Firmware Upgrade Image` (notes §4.6).
        "FileType" file_type: Cow<'a, str> => file_type(FileTypeKind::Download),
        "URL" url: Cow<'a, str> => max_len(256),
        "Username" username: Cow<'a, str> => max_len(256),
        "Password" password: Cow<'a, str> => max_len(256),
        /// Size in bytes, 0 if unknown.
        "FileSize" file_size: u32,
        "TargetFileName" target_file_name: Cow<'a, str> => max_len(256),
        /// A transfer with a delay does not start in the same session.
        "DelaySeconds" delay_seconds: u32,
        "SuccessURL" success_url: Cow<'a, str> => max_len(256),
        "FailureURL" failure_url: Cow<'a, str> => max_len(256),
    }
}

cwmp_struct! {
    /// Download accepted (`Pending`, completion via TransferComplete) or done.
    pub struct DownloadResponse {
        "Status" status: TransferStatus,
        /// The Unknown Time when `Pending`.
        "StartTime" start_time: DateTime,
        "CompleteTime" complete_time: DateTime,
    }
}

cwmp_struct! {
    /// Reboots after the session; the next Inform carries `1 BOOT` and `M Reboot`.
    pub struct Reboot<'a> {
        "CommandKey" command_key: Cow<'a, str> => max_len(32),
    }
}

cwmp_struct! {
    /// Reboot accepted.
    pub struct RebootResponse {}
}

cwmp_struct! {
    /// Lists transfers queued by this ACS.
    pub struct GetQueuedTransfers {}
}

cwmp_struct! {
    /// One queued transfer.
    pub struct QueuedTransferStruct<'a> {
        "CommandKey" command_key: Cow<'a, str> => max_len(32),
        "State" state: TransferState,
    }
}
array_item!(
    QueuedTransferStruct<'a>,
    "QueuedTransferStruct",
    "cwmp:QueuedTransferStruct"
);

cwmp_struct! {
    /// The queued transfers (at most 16).
    pub struct GetQueuedTransfersResponse<'a> {
        "TransferList" transfer_list: Vec<QueuedTransferStruct<'a>> => items(0, 16),
    }
}

cwmp_struct! {
    /// Opens a session after a delay with `3 SCHEDULED` and `M ScheduleInform`.
    pub struct ScheduleInform<'a> {
        "DelaySeconds" delay_seconds: u32,
        "CommandKey" command_key: Cow<'a, str> => max_len(32),
    }
}

cwmp_struct! {
    /// ScheduleInform accepted.
    pub struct ScheduleInformResponse {}
}

/// A signed option voucher (`soapenc:base64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voucher(pub Vec<u8>);

impl<'a> Leaf<'a> for Voucher {
    const XSD_TYPE: &'static str = "soapenc:base64";

    fn parse(text: Cow<'a, str>) -> Result<Self, Cow<'a, str>> {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map(Voucher)
            .map_err(|_| text)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.out
            .push_str(&base64::engine::general_purpose::STANDARD.encode(&self.0));
    }
}

impl Validate for Voucher {
    fn validate(&self, _: &mut Validator) {}
}

crate::codec::owned_is_self!(Voucher);

impl serde::Serialize for Voucher {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

array_item!(Voucher, "base64", "soap-enc:base64");

cwmp_struct! {
    /// Installs option vouchers.
    pub struct SetVouchers {
        "VoucherList" voucher_list: Vec<Voucher> => items(1, UNBOUNDED),
    }
}

cwmp_struct! {
    /// SetVouchers succeeded.
    pub struct SetVouchersResponse {}
}

cwmp_struct! {
    /// Reads the state of options (an empty name: all).
    pub struct GetOptions<'a> {
        "OptionName" option_name: Cow<'a, str> => max_len(64),
    }
}

cwmp_struct! {
    /// The state of one option.
    pub struct OptionStruct<'a> {
        "OptionName" option_name: Cow<'a, str> => max_len(64),
        "VoucherSN" voucher_sn: u32,
        /// 0..=3: enabled or disabled, set up or not.
        "State" state: u32 => range_u32(0, 3),
        /// 0 disabled, 1 enabled with expiration, 2 enabled without.
        "Mode" mode: i32 => range_i32(0, 2),
        "StartDate" start_date: DateTime,
        "ExpirationDate" expiration_date: Option<DateTime>,
        /// 0 or 1.
        "IsTransferable" is_transferable: i32 => range_i32(0, 1),
    }
}
array_item!(OptionStruct<'a>, "OptionStruct", "cwmp:OptionStruct");

cwmp_struct! {
    /// The options.
    pub struct GetOptionsResponse<'a> {
        "OptionList" option_list: Vec<OptionStruct<'a>>,
    }
}

cwmp_struct! {
    /// Uploads a file (A.4.1.5).
    pub struct Upload<'a> {
        "CommandKey" command_key: Cow<'a, str> => max_len(32),
        /// E.g. `1 Vendor Configuration File`.
        "FileType" file_type: Cow<'a, str> => file_type(FileTypeKind::Upload),
        "URL" url: Cow<'a, str> => max_len(256),
        "Username" username: Cow<'a, str> => max_len(256),
        "Password" password: Cow<'a, str> => max_len(256),
        "DelaySeconds" delay_seconds: u32,
    }
}

cwmp_struct! {
    /// Upload accepted or done.
    pub struct UploadResponse {
        "Status" status: TransferStatus,
        "StartTime" start_time: DateTime,
        "CompleteTime" complete_time: DateTime,
    }
}

cwmp_struct! {
    /// Resets the CPE to factory defaults; it returns with `0 BOOTSTRAP`.
    pub struct FactoryReset {}
}

cwmp_struct! {
    /// FactoryReset accepted.
    pub struct FactoryResetResponse {}
}

cwmp_struct! {
    /// Lists every queued transfer, whoever queued it (CWMP 1.1).
    pub struct GetAllQueuedTransfers {}
}

cwmp_struct! {
    /// One queued transfer, in detail.
    pub struct AllQueuedTransferStruct<'a> {
        "CommandKey" command_key: Cow<'a, str> => max_len(32),
        "State" state: TransferState,
        "IsDownload" is_download: bool,
        "FileType" file_type: Cow<'a, str> => file_type(FileTypeKind::Transfer),
        "FileSize" file_size: u32,
        "TargetFileName" target_file_name: Cow<'a, str> => max_len(256),
    }
}
array_item!(
    AllQueuedTransferStruct<'a>,
    "AllQueuedTransferStruct",
    "cwmp:AllQueuedTransferStruct"
);

cwmp_struct! {
    /// The queued transfers (at most 16).
    pub struct GetAllQueuedTransfersResponse<'a> {
        "TransferList" transfer_list: Vec<AllQueuedTransferStruct<'a>> => items(0, 16),
    }
}

cwmp_struct! {
    /// A time window of ScheduleDownload, in seconds from the request.
    pub struct TimeWindowStruct<'a> {
        "WindowStart" window_start: u32,
        "WindowEnd" window_end: u32,
        /// `1 At Any Time`, `2 Immediately`, `3 When Idle`, `4 Confirmation Needed`.
        "WindowMode" window_mode: Cow<'a, str> => window_mode(),
        "UserMessage" user_message: Cow<'a, str> => max_len(256),
        /// -1: the CPE decides.
        "MaxRetries" max_retries: i32,
    }
}
array_item!(
    TimeWindowStruct<'a>,
    "TimeWindowStruct",
    "cwmp:TimeWindowStruct"
);

cwmp_struct! {
    /// Downloads within one or two time windows (CWMP 1.2).
    pub struct ScheduleDownload<'a> {
        "CommandKey" command_key: Cow<'a, str> => max_len(32),
        "FileType" file_type: Cow<'a, str> => file_type(FileTypeKind::Download),
        "URL" url: Cow<'a, str> => max_len(256),
        "Username" username: Cow<'a, str> => max_len(256),
        "Password" password: Cow<'a, str> => max_len(256),
        "FileSize" file_size: u32,
        "TargetFileName" target_file_name: Cow<'a, str> => max_len(256),
        "TimeWindowList" time_window_list: Vec<TimeWindowStruct<'a>> => items(1, 2),
    }
}

cwmp_struct! {
    /// ScheduleDownload accepted.
    pub struct ScheduleDownloadResponse {}
}

cwmp_struct! {
    /// Cancels a queued transfer (CWMP 1.2).
    pub struct CancelTransfer<'a> {
        "CommandKey" command_key: Cow<'a, str> => max_len(32),
    }
}

cwmp_struct! {
    /// CancelTransfer succeeded.
    pub struct CancelTransferResponse {}
}

cwmp_struct! {
    /// Installs a deployment unit.
    pub struct InstallOpStruct<'a> {
        "URL" url: Cow<'a, str> => any_uri(1024),
        "UUID" uuid: Option<Cow<'a, str>> => uuid(),
        "Username" username: Option<Cow<'a, str>> => max_len(256),
        "Password" password: Option<Cow<'a, str>> => max_len(256),
        "ExecutionEnvRef" execution_env_ref: Option<Cow<'a, str>> => max_len(256),
    }
}

cwmp_struct! {
    /// Updates a deployment unit.
    pub struct UpdateOpStruct<'a> {
        "UUID" uuid: Option<Cow<'a, str>> => uuid(),
        "Version" version: Option<Cow<'a, str>> => max_len(32),
        "URL" url: Option<Cow<'a, str>> => any_uri(1024),
        "Username" username: Option<Cow<'a, str>> => max_len(256),
        "Password" password: Option<Cow<'a, str>> => max_len(256),
    }
}

cwmp_struct! {
    /// Uninstalls a deployment unit.
    pub struct UninstallOpStruct<'a> {
        "UUID" uuid: Cow<'a, str> => uuid(),
        "Version" version: Option<Cow<'a, str>> => max_len(32),
        "ExecutionEnvRef" execution_env_ref: Option<Cow<'a, str>> => max_len(256),
    }
}

/// One operation of ChangeDUState: the schema's abstract `OperationStruct`, whose concrete
/// type each `Operations` element names with `xsi:type` (notes §2.4).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "Type")]
pub enum Operation<'a> {
    /// `cwmp:InstallOpStruct`.
    #[serde(rename = "InstallOpStruct")]
    Install(InstallOpStruct<'a>),
    /// `cwmp:UpdateOpStruct`.
    #[serde(rename = "UpdateOpStruct")]
    Update(UpdateOpStruct<'a>),
    /// `cwmp:UninstallOpStruct`.
    #[serde(rename = "UninstallOpStruct")]
    Uninstall(UninstallOpStruct<'a>),
}

impl<'a> Codec<'a> for Operation<'a> {
    fn decode(cur: &mut Cursor<'a>, tag: &Tag<'a>) -> Result<Self, DecodeError> {
        let Some(ty) = &tag.xsi_type else {
            return Err(DecodeError::new(
                DecodeErrorKind::MissingAttribute("xsi:type"),
                tag.offset,
            ));
        };
        // The type must be the CWMP namespace's; an undeclared prefix is matched by name.
        let ok_ns = matches!(ty.ns, Ns::Cwmp(_) | Ns::Other);
        match (ok_ns, &*ty.local) {
            (true, "InstallOpStruct") => InstallOpStruct::decode(cur, tag).map(Operation::Install),
            (true, "UpdateOpStruct") => UpdateOpStruct::decode(cur, tag).map(Operation::Update),
            (true, "UninstallOpStruct") => {
                UninstallOpStruct::decode(cur, tag).map(Operation::Uninstall)
            }
            _ => Err(DecodeError::new(
                DecodeErrorKind::UnknownOperationType(crate::error::excerpt(&ty.local)),
                tag.offset,
            )),
        }
    }

    fn encode(&self, name: &str, w: &mut Writer<'_>) {
        let ty = match self {
            Operation::Install(_) => "cwmp:InstallOpStruct",
            Operation::Update(_) => "cwmp:UpdateOpStruct",
            Operation::Uninstall(_) => "cwmp:UninstallOpStruct",
        };
        w.open_with(name, "xsi:type", ty);
        match self {
            Operation::Install(op) => op.encode_fields(w),
            Operation::Update(op) => op.encode_fields(w),
            Operation::Uninstall(op) => op.encode_fields(w),
        }
        w.close(name);
    }
}

impl crate::IntoOwned for Operation<'_> {
    type Owned = Operation<'static>;
    fn into_owned(self) -> Operation<'static> {
        match self {
            Operation::Install(op) => Operation::Install(crate::IntoOwned::into_owned(op)),
            Operation::Update(op) => Operation::Update(crate::IntoOwned::into_owned(op)),
            Operation::Uninstall(op) => Operation::Uninstall(crate::IntoOwned::into_owned(op)),
        }
    }
}

impl Validate for Operation<'_> {
    fn validate(&self, v: &mut Validator) {
        match self {
            Operation::Install(op) => op.validate(v),
            Operation::Update(op) => op.validate(v),
            Operation::Uninstall(op) => op.validate(v),
        }
    }
}

cwmp_struct! {
    /// Installs, updates or uninstalls deployment units (CWMP 1.2); completion comes in a
    /// DUStateChangeComplete.
    pub struct ChangeDUState<'a> {
        "Operations" [repeated1] operations: Vec<Operation<'a>> => items(1, UNBOUNDED),
        "CommandKey" command_key: Option<Cow<'a, str>> => max_len(32),
    }
}

cwmp_struct! {
    /// ChangeDUState accepted.
    pub struct ChangeDUStateResponse {}
}
