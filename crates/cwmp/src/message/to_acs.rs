//! Methods a CPE calls on the ACS (TR-069 A.3.3, A.4.2), and their responses, in the
//! element order of the BBF schemas.

use std::borrow::Cow;

use crate::codec::check::{FaultContext, FileTypeKind};
use crate::codec::{Leaf, Validate, Validator, array_item, cwmp_struct};
use crate::datetime::DateTime;
use crate::fault::FaultCode;
use crate::value::ParameterValueStruct;
use crate::xml::writer::Writer;

/// No limit on the number of members.
const UNBOUNDED: usize = usize::MAX;

cwmp_struct! {
    /// Identifies the CPE (A.3.3.1); must equal `DeviceInfo.ManufacturerOUI`, `ProductClass`
    /// and `SerialNumber`.
    pub struct DeviceIdStruct<'a> {
        "Manufacturer" manufacturer: Cow<'a, str> => max_len(64),
        /// Six upper-case hexadecimal digits.
        "OUI" oui: Cow<'a, str> => oui(),
        "ProductClass" product_class: Cow<'a, str> => max_len(64),
        "SerialNumber" serial_number: Cow<'a, str> => max_len(64),
    }
}

cwmp_struct! {
    /// Why the session was opened (notes §4.4).
    pub struct EventStruct<'a> {
        /// E.g. `0 BOOTSTRAP`, `M Download`.
        "EventCode" event_code: Cow<'a, str> => event_code(),
        /// The CommandKey of the method that caused an `M` event; empty otherwise.
        "CommandKey" command_key: Cow<'a, str> => max_len(32),
    }
}
array_item!(EventStruct<'a>, "EventStruct", "cwmp:EventStruct");

impl<'a> EventStruct<'a> {
    /// An event without a CommandKey.
    pub fn new(event_code: impl Into<Cow<'a, str>>) -> EventStruct<'a> {
        EventStruct {
            event_code: event_code.into(),
            command_key: Cow::Borrowed(""),
        }
    }
}

/// Standard event codes (notes §4.4).
pub mod event_code {
    /// First contact after installation or factory reset, or a new ACS URL.
    pub const BOOTSTRAP: &str = "0 BOOTSTRAP";
    /// Power-up or reboot.
    pub const BOOT: &str = "1 BOOT";
    /// PeriodicInformInterval elapsed.
    pub const PERIODIC: &str = "2 PERIODIC";
    /// A ScheduleInform timer fired.
    pub const SCHEDULED: &str = "3 SCHEDULED";
    /// A parameter with notification changed.
    pub const VALUE_CHANGE: &str = "4 VALUE CHANGE";
    /// A Kicked session.
    pub const KICKED: &str = "5 KICKED";
    /// A valid Connection Request.
    pub const CONNECTION_REQUEST: &str = "6 CONNECTION REQUEST";
    /// A transfer finished; TransferComplete follows in this session.
    pub const TRANSFER_COMPLETE: &str = "7 TRANSFER COMPLETE";
    /// An ACS-requested diagnostic finished.
    pub const DIAGNOSTICS_COMPLETE: &str = "8 DIAGNOSTICS COMPLETE";
    /// The CPE will call RequestDownload.
    pub const REQUEST_DOWNLOAD: &str = "9 REQUEST DOWNLOAD";
    /// A transfer the ACS did not ask for finished (CWMP 1.1).
    pub const AUTONOMOUS_TRANSFER_COMPLETE: &str = "10 AUTONOMOUS TRANSFER COMPLETE";
    /// A ChangeDUState finished (CWMP 1.2).
    pub const DU_STATE_CHANGE_COMPLETE: &str = "11 DU STATE CHANGE COMPLETE";
    /// Deployment units changed on their own (CWMP 1.2).
    pub const AUTONOMOUS_DU_STATE_CHANGE_COMPLETE: &str = "12 AUTONOMOUS DU STATE CHANGE COMPLETE";
    /// Woke from standby (CWMP 1.4).
    pub const WAKEUP: &str = "13 WAKEUP";
    /// Heartbeat timer (TR-069 Amendment 6; in no schema).
    pub const HEARTBEAT: &str = "14 HEARTBEAT";
    /// A Reboot finished.
    pub const M_REBOOT: &str = "M Reboot";
    /// A ScheduleInform fired.
    pub const M_SCHEDULE_INFORM: &str = "M ScheduleInform";
    /// A Download finished.
    pub const M_DOWNLOAD: &str = "M Download";
    /// A ScheduleDownload finished.
    pub const M_SCHEDULE_DOWNLOAD: &str = "M ScheduleDownload";
    /// An Upload finished.
    pub const M_UPLOAD: &str = "M Upload";
    /// A ChangeDUState finished.
    pub const M_CHANGE_DU_STATE: &str = "M ChangeDUState";

    /// Whether `code` is an `EventCode` the schema of some CWMP version allows (the
    /// enumerated codes of 1.0, the patterns of 1.1 and 1.2: `14 HEARTBEAT`,
    /// `M ChangeDUState`, `X 00D09E ...`), as the codec checks an Inform's events. For
    /// input that names events without knowing the device's CWMP version, such as the
    /// events a provisioning preset waits for.
    pub fn is_valid(code: &str) -> bool {
        crate::Namespace::ALL.into_iter().any(|ns| {
            let mut v = crate::codec::Validator::new(ns);
            crate::codec::check::event_code(code, &mut v);
            v.finish().is_ok()
        })
    }
}

cwmp_struct! {
    /// Opens every session (A.3.3.1).
    pub struct Inform<'a> {
        "DeviceId" device_id: DeviceIdStruct<'a>,
        /// At most 64 events.
        "Event" event: Vec<EventStruct<'a>> => items(0, 64),
        /// Always 1 since Amendment 1, ignored on reception (notes §3.4).
        "MaxEnvelopes" max_envelopes: u32,
        /// The Unknown Time if the CPE's clock is not set.
        "CurrentTime" current_time: DateTime,
        /// Unsuccessful attempts to deliver this set of events so far.
        "RetryCount" retry_count: u32,
        /// Forced inform parameters, changed parameters with notification, and the ACS's
        /// extra inform parameters.
        "ParameterList" parameter_list: Vec<ParameterValueStruct<'a>>,
    }
}

cwmp_struct! {
    /// Inform accepted.
    pub struct InformResponse {
        /// Always 1.
        "MaxEnvelopes" max_envelopes: u32,
    }
}

cwmp_struct! {
    /// Outcome of a transfer: fault code 0 for success.
    pub struct TransferCompleteFaultStruct<'a> {
        "FaultCode" fault_code: FaultCode => fault_code(FaultContext::Transfer),
        "FaultString" fault_string: Cow<'a, str> => max_len(256),
    }
}

cwmp_struct! {
    /// A Download, Upload or ScheduleDownload finished (A.3.3.2); sent in a session with
    /// `7 TRANSFER COMPLETE`.
    pub struct TransferComplete<'a> {
        "CommandKey" command_key: Cow<'a, str> => max_len(32),
        "FaultStruct" fault_struct: TransferCompleteFaultStruct<'a>,
        "StartTime" start_time: DateTime,
        "CompleteTime" complete_time: DateTime,
    }
}

cwmp_struct! {
    /// TransferComplete recorded; the CPE may now forget the transfer.
    pub struct TransferCompleteResponse {}
}

cwmp_struct! {
    /// A transfer the ACS did not request finished (CWMP 1.1, A.3.3.3).
    pub struct AutonomousTransferComplete<'a> {
        "AnnounceURL" announce_url: Cow<'a, str> => max_len(1024),
        "TransferURL" transfer_url: Cow<'a, str> => max_len(1024),
        "IsDownload" is_download: bool,
        "FileType" file_type: Cow<'a, str> => file_type(FileTypeKind::Transfer),
        "FileSize" file_size: u32,
        "TargetFileName" target_file_name: Cow<'a, str> => max_len(256),
        "FaultStruct" fault_struct: TransferCompleteFaultStruct<'a>,
        "StartTime" start_time: DateTime,
        "CompleteTime" complete_time: DateTime,
    }
}

cwmp_struct! {
    /// AutonomousTransferComplete recorded.
    pub struct AutonomousTransferCompleteResponse {}
}

/// State of a deployment unit after an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum DeploymentUnitState {
    /// `Installed`.
    Installed,
    /// `Uninstalled`.
    Uninstalled,
    /// `Failed`.
    Failed,
}

impl DeploymentUnitState {
    /// The value as written.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentUnitState::Installed => "Installed",
            DeploymentUnitState::Uninstalled => "Uninstalled",
            DeploymentUnitState::Failed => "Failed",
        }
    }
}

impl<'a> Leaf<'a> for DeploymentUnitState {
    const XSD_TYPE: &'static str = "DeploymentUnitState (Installed, Uninstalled or Failed)";

    fn parse(text: Cow<'a, str>) -> Result<Self, Cow<'a, str>> {
        match text.trim() {
            "Installed" => Ok(DeploymentUnitState::Installed),
            "Uninstalled" => Ok(DeploymentUnitState::Uninstalled),
            "Failed" => Ok(DeploymentUnitState::Failed),
            _ => Err(text),
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.out.push_str(self.as_str());
    }
}

impl Validate for DeploymentUnitState {
    fn validate(&self, _: &mut Validator) {}
}

crate::codec::owned_is_self!(DeploymentUnitState);

cwmp_struct! {
    /// Outcome of a deployment-unit operation: fault code 0 for success.
    pub struct DeploymentUnitFaultStruct<'a> {
        "FaultCode" fault_code: FaultCode => fault_code(FaultContext::DeploymentUnit),
        "FaultString" fault_string: Option<Cow<'a, str>>,
    }
}

cwmp_struct! {
    /// Result of one ChangeDUState operation.
    pub struct OpResultStruct<'a> {
        "UUID" uuid: Cow<'a, str> => uuid(),
        /// Path of the `SoftwareModules.DeploymentUnit.{i}` instance.
        "DeploymentUnitRef" deployment_unit_ref: Cow<'a, str>,
        "Version" version: Cow<'a, str> => max_len(32),
        "CurrentState" current_state: DeploymentUnitState,
        "Resolved" resolved: bool,
        /// Comma-separated paths of the execution units.
        "ExecutionUnitRefList" execution_unit_ref_list: Cow<'a, str>,
        "StartTime" start_time: DateTime,
        "CompleteTime" complete_time: DateTime,
        "Fault" fault: DeploymentUnitFaultStruct<'a>,
    }
}

cwmp_struct! {
    /// A ChangeDUState finished (CWMP 1.2, A.4.2.3), with `11 DU STATE CHANGE COMPLETE`.
    pub struct DUStateChangeComplete<'a> {
        "Results" [repeated1] results: Vec<OpResultStruct<'a>> => items(1, UNBOUNDED),
        "CommandKey" command_key: Option<Cow<'a, str>> => max_len(32),
    }
}

cwmp_struct! {
    /// DUStateChangeComplete recorded.
    pub struct DUStateChangeCompleteResponse {}
}

cwmp_struct! {
    /// Result of one autonomous deployment-unit change: an `OpResultStruct` plus the
    /// operation performed.
    pub struct AutonOpResultStruct<'a> {
        "UUID" uuid: Cow<'a, str> => uuid(),
        "DeploymentUnitRef" deployment_unit_ref: Cow<'a, str>,
        "Version" version: Cow<'a, str> => max_len(32),
        "CurrentState" current_state: DeploymentUnitState,
        "Resolved" resolved: bool,
        "ExecutionUnitRefList" execution_unit_ref_list: Cow<'a, str>,
        "StartTime" start_time: DateTime,
        "CompleteTime" complete_time: DateTime,
        "Fault" fault: DeploymentUnitFaultStruct<'a>,
        /// `Install`, `Update`, `Uninstall` or a vendor string.
        "OperationPerformed" operation_performed: Cow<'a, str>,
    }
}

cwmp_struct! {
    /// Deployment units changed without a ChangeDUState (CWMP 1.2, A.4.2.4).
    pub struct AutonomousDUStateChangeComplete<'a> {
        "Results" [repeated1] results: Vec<AutonOpResultStruct<'a>> => items(1, UNBOUNDED),
    }
}

cwmp_struct! {
    /// AutonomousDUStateChangeComplete recorded.
    pub struct AutonomousDUStateChangeCompleteResponse {}
}

cwmp_struct! {
    /// A name-value argument of RequestDownload.
    pub struct ArgStruct<'a> {
        "Name" name: Cow<'a, str> => max_len(64),
        "Value" value: Cow<'a, str> => max_len(256),
    }
}
array_item!(ArgStruct<'a>, "ArgStruct", "cwmp:ArgStruct");

cwmp_struct! {
    /// The CPE asks for a file (A.4.2.2), with `9 REQUEST DOWNLOAD`.
    pub struct RequestDownload<'a> {
        "FileType" file_type: Cow<'a, str> => file_type(FileTypeKind::Download),
        "FileTypeArg" file_type_arg: Vec<ArgStruct<'a>> => items(0, 16),
    }
}

cwmp_struct! {
    /// RequestDownload recorded.
    pub struct RequestDownloadResponse {}
}

cwmp_struct! {
    /// A web page on the CPE was kicked (A.4.2.1, legacy), with `5 KICKED`.
    pub struct Kicked<'a> {
        "Command" command: Cow<'a, str> => max_len(32),
        "Referer" referer: Cow<'a, str> => max_len(64),
        "Arg" arg: Cow<'a, str> => max_len(256),
        "Next" next: Cow<'a, str> => max_len(1024),
    }
}

cwmp_struct! {
    /// Where to send the browser next.
    pub struct KickedResponse<'a> {
        "NextURL" next_url: Cow<'a, str> => max_len(1024),
    }
}

#[cfg(test)]
mod tests {
    use super::event_code;

    #[test]
    fn event_codes_of_any_version() {
        for ok in [
            event_code::BOOTSTRAP,
            event_code::M_CHANGE_DU_STATE,
            "14 HEARTBEAT",
            "M X_00D09E_Foo",
            // CWMP 1.0 allows an empty vendor tail, 1.2 a vendor name instead of an OUI.
            "X 00D09E ",
            "X ACME rebooted",
        ] {
            assert!(event_code::is_valid(ok), "{ok:?}");
        }
        for bad in ["", "BOOT", "0  BOOTSTRAP", "0 BOOTSTRAP ", "M ", "X 00D09E"] {
            assert!(!event_code::is_valid(bad), "{bad:?}");
        }
    }
}
