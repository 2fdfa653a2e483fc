//! File transfers the ACS asked for (Download, Upload, ScheduleDownload; TR-069 A.3.2.8,
//! A.4.1.5, A.4.1.7), their completion records (TransferComplete, A.3.3.2) and the
//! deployment-unit changes of ChangeDUState (A.4.1.10) with their DUStateChangeComplete.
//! Everything here is persisted in [`crate::agent::AgentState`].

use std::borrow::Cow;

use cwmp::{
    DUStateChangeComplete, DeploymentUnitFaultStruct, DeploymentUnitState, FaultCode,
    InstallOpStruct, OpResultStruct, Operation, TransferComplete, TransferCompleteFaultStruct,
    UninstallOpStruct, UpdateOpStruct,
};
use serde::{Deserialize, Serialize};

use crate::time::Time;

/// At most this many transfers are queued, in progress or awaiting their TransferComplete
/// (GetAllQueuedTransfersResponse lists at most 16); beyond, Download, Upload and
/// ScheduleDownload get fault 9004 (resources exceeded).
pub const MAX_TRANSFERS: usize = 16;

/// Largest file a download accepts unless the embedder says otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// `FileType` of a firmware image (notes §4.6).
pub const FIRMWARE: &str = "1 Firmware Upgrade Image";
/// `FileType` of a configuration file (notes §4.6).
pub const VENDOR_CONFIG: &str = "3 Vendor Configuration File";

/// The RPC a transfer came from: decides the `M` event of its completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferMethod {
    /// Download → `M Download`.
    Download,
    /// Upload → `M Upload`.
    Upload,
    /// ScheduleDownload → `M ScheduleDownload`.
    ScheduleDownload,
}

impl TransferMethod {
    /// The `M` event code of the completion.
    pub fn event_code(self) -> &'static str {
        match self {
            TransferMethod::Download => cwmp::event_code::M_DOWNLOAD,
            TransferMethod::Upload => cwmp::event_code::M_UPLOAD,
            TransferMethod::ScheduleDownload => cwmp::event_code::M_SCHEDULE_DOWNLOAD,
        }
    }

    /// The fault a failure reports when its own code is not allowed in TransferComplete.
    pub fn generic_fault(self) -> FaultCode {
        match self {
            TransferMethod::Upload => FaultCode::UPLOAD_FAILURE,
            _ => FaultCode::FILE_TRANSFER_FAILURE,
        }
    }
}

/// `WindowMode` of a ScheduleDownload time window (A.4.1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowMode {
    /// `1 At Any Time`.
    AtAnyTime,
    /// `2 Immediately`.
    Immediately,
    /// `3 When Idle`: a simulated device is always idle.
    WhenIdle,
    /// `4 Confirmation Needed`: nobody can confirm on a simulated device, so the window is
    /// never used (and the transfer ends with 9020 if no other window serves).
    ConfirmationNeeded,
    /// A vendor mode (`X ...`) this device does not know: never used either.
    Unsupported,
}

impl WindowMode {
    /// Parses `WindowMode`.
    pub fn parse(text: &str) -> WindowMode {
        match text.trim() {
            "1 At Any Time" => WindowMode::AtAnyTime,
            "2 Immediately" => WindowMode::Immediately,
            "3 When Idle" => WindowMode::WhenIdle,
            "4 Confirmation Needed" => WindowMode::ConfirmationNeeded,
            _ => WindowMode::Unsupported,
        }
    }

    /// Whether the device downloads in such a window.
    pub fn usable(self) -> bool {
        matches!(
            self,
            WindowMode::AtAnyTime | WindowMode::Immediately | WindowMode::WhenIdle
        )
    }
}

/// A ScheduleDownload time window in absolute time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Opens.
    pub start: Time,
    /// Closes.
    pub end: Time,
    /// How the device may use it.
    pub mode: WindowMode,
    /// Retries allowed after a failure in the window; -1: the CPE decides.
    pub max_retries: i32,
}

impl Window {
    /// Attempts the device makes in the window: one plus the retries (-1 → 3 retries, the
    /// CPE's choice).
    pub fn attempts(&self) -> u32 {
        match u32::try_from(self.max_retries) {
            Ok(n) => n.saturating_add(1),
            Err(_) => 4,
        }
    }
}

/// What is moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferSpec {
    /// Download or upload.
    pub is_download: bool,
    /// `FileType`.
    pub file_type: String,
    /// `URL`.
    pub url: String,
    /// File-server credentials.
    pub username: String,
    /// File-server credentials.
    pub password: String,
    /// `FileSize` (downloads; 0 unknown).
    pub file_size: u32,
    /// `TargetFileName` (downloads).
    pub target_file_name: String,
}

/// Where a queued transfer stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferPhase {
    /// Waiting for its time (State 1).
    Queued,
    /// Handed to the embedder as a [`crate::agent::TransferJob`] (State 2).
    InProgress {
        /// When it started (StartTime).
        started: Time,
    },
}

/// A transfer the ACS asked for, not finished yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedTransfer {
    /// Also the [`crate::agent::TransferJob`] id.
    pub id: u64,
    /// Which RPC.
    pub method: TransferMethod,
    /// Its CommandKey.
    pub command_key: String,
    /// What.
    pub spec: TransferSpec,
    /// Not before (request time + DelaySeconds).
    pub due: Time,
    /// Requested in the session still open: TR-069 A.3.2.8 forbids starting a delayed
    /// transfer in that session; the agent starts none before the session ends.
    pub after_session: bool,
    /// ScheduleDownload's windows (empty for the others).
    #[serde(default)]
    pub windows: Vec<Window>,
    /// Attempts made in the current window (ScheduleDownload).
    #[serde(default)]
    pub attempts: u32,
    /// The last failure, reported if no window is left.
    #[serde(default)]
    pub last_failure: Option<(u32, String)>,
    /// Queued or in progress.
    pub phase: TransferPhase,
}

impl QueuedTransfer {
    /// The window the device may download in at `now` (ScheduleDownload), if any.
    pub fn open_window(&self, now: Time) -> Option<&Window> {
        self.windows
            .iter()
            .find(|w| w.mode.usable() && w.start <= now && now <= w.end)
    }

    /// When it may next start: its due time, and for ScheduleDownload the start of the
    /// next usable window. `None` when no window is left.
    pub fn next_start(&self, now: Time) -> Option<Time> {
        if self.windows.is_empty() {
            return Some(self.due);
        }
        self.windows
            .iter()
            .filter(|w| w.mode.usable() && w.end >= now.max(self.due))
            .map(|w| w.start.max(self.due))
            .min()
    }

    /// When its last window closes (ScheduleDownload).
    #[cfg(test)]
    pub fn windows_end(&self) -> Option<Time> {
        self.windows.iter().map(|w| w.end).max()
    }
}

/// A finished transfer whose TransferComplete awaits its response (notes §4.4:
/// `7 TRANSFER COMPLETE` and the `M` event are kept until TransferCompleteResponse).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecord {
    /// Unique among records.
    pub id: u64,
    /// Which RPC.
    pub method: TransferMethod,
    /// Its CommandKey.
    pub command_key: String,
    /// What was moved (for GetAllQueuedTransfers, State 3).
    pub spec: TransferSpec,
    /// 0 on success.
    pub fault_code: u32,
    /// Empty on success.
    pub fault_string: String,
    /// StartTime.
    pub start: Time,
    /// CompleteTime.
    pub complete: Time,
}

impl TransferRecord {
    /// The TransferComplete; `fallback` replaces a fault code the namespace does not allow
    /// in TransferComplete.
    pub fn message(&self, fallback: bool) -> TransferComplete<'static> {
        let code = if fallback && self.fault_code != 0 {
            self.method.generic_fault()
        } else {
            FaultCode(self.fault_code)
        };
        TransferComplete {
            command_key: Cow::Owned(self.command_key.clone()),
            fault_struct: TransferCompleteFaultStruct {
                fault_code: code,
                fault_string: Cow::Owned(self.fault_string.clone()),
            },
            start_time: self.start.to_datetime(),
            complete_time: self.complete.to_datetime(),
        }
    }
}

/// A firmware image downloaded, applied when the device reboots (TR-069: the
/// TransferComplete follows in the session after that boot, with `1 BOOT`, `M Download`
/// and `7 TRANSFER COMPLETE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFirmware {
    /// The new `DeviceInfo.SoftwareVersion`.
    pub version: String,
    /// The completion to record at boot (CompleteTime set then).
    pub record: TransferRecord,
}

/// One ChangeDUState operation, owned and persistable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op")]
pub enum DuOp {
    /// `InstallOpStruct`.
    Install {
        /// URL.
        url: String,
        /// UUID.
        uuid: Option<String>,
        /// Username.
        username: Option<String>,
        /// Password.
        password: Option<String>,
        /// ExecutionEnvRef.
        execution_env_ref: Option<String>,
    },
    /// `UpdateOpStruct`.
    Update {
        /// UUID.
        uuid: Option<String>,
        /// Version.
        version: Option<String>,
        /// URL.
        url: Option<String>,
        /// Username.
        username: Option<String>,
        /// Password.
        password: Option<String>,
    },
    /// `UninstallOpStruct`.
    Uninstall {
        /// UUID.
        uuid: String,
        /// Version.
        version: Option<String>,
        /// ExecutionEnvRef.
        execution_env_ref: Option<String>,
    },
}

fn owned(s: &Option<Cow<'_, str>>) -> Option<String> {
    s.as_ref().map(|s| s.to_string())
}

fn cow(s: &Option<String>) -> Option<Cow<'static, str>> {
    s.clone().map(Cow::Owned)
}

impl DuOp {
    /// From the decoded operation.
    pub fn from_operation(op: &Operation<'_>) -> DuOp {
        match op {
            Operation::Install(i) => DuOp::Install {
                url: i.url.to_string(),
                uuid: owned(&i.uuid),
                username: owned(&i.username),
                password: owned(&i.password),
                execution_env_ref: owned(&i.execution_env_ref),
            },
            Operation::Update(u) => DuOp::Update {
                uuid: owned(&u.uuid),
                version: owned(&u.version),
                url: owned(&u.url),
                username: owned(&u.username),
                password: owned(&u.password),
            },
            Operation::Uninstall(u) => DuOp::Uninstall {
                uuid: u.uuid.to_string(),
                version: owned(&u.version),
                execution_env_ref: owned(&u.execution_env_ref),
            },
        }
    }

    /// The file to download first, with its credentials: Install always, Update when it
    /// has a URL.
    pub fn download(&self) -> Option<(String, String, String)> {
        match self {
            DuOp::Install {
                url,
                username,
                password,
                ..
            } => Some((
                url.clone(),
                username.clone().unwrap_or_default(),
                password.clone().unwrap_or_default(),
            )),
            DuOp::Update {
                url: Some(url),
                username,
                password,
                ..
            } if !url.is_empty() => Some((
                url.clone(),
                username.clone().unwrap_or_default(),
                password.clone().unwrap_or_default(),
            )),
            _ => None,
        }
    }

    /// The UUID the operation names (empty when it names none).
    pub fn uuid(&self) -> &str {
        match self {
            DuOp::Install { uuid, .. } | DuOp::Update { uuid, .. } => uuid.as_deref().unwrap_or(""),
            DuOp::Uninstall { uuid, .. } => uuid,
        }
    }

    /// As `InstallOpStruct` (for an Install).
    pub fn install_struct(&self) -> Option<InstallOpStruct<'static>> {
        match self {
            DuOp::Install {
                url,
                uuid,
                username,
                password,
                execution_env_ref,
            } => Some(InstallOpStruct {
                url: Cow::Owned(url.clone()),
                uuid: cow(uuid),
                username: cow(username),
                password: cow(password),
                execution_env_ref: cow(execution_env_ref),
            }),
            _ => None,
        }
    }

    /// As `UpdateOpStruct` (for an Update).
    pub fn update_struct(&self) -> Option<UpdateOpStruct<'static>> {
        match self {
            DuOp::Update {
                uuid,
                version,
                url,
                username,
                password,
            } => Some(UpdateOpStruct {
                uuid: cow(uuid),
                version: cow(version),
                url: cow(url),
                username: cow(username),
                password: cow(password),
            }),
            _ => None,
        }
    }

    /// As `UninstallOpStruct` (for an Uninstall).
    pub fn uninstall_struct(&self) -> Option<UninstallOpStruct<'static>> {
        match self {
            DuOp::Uninstall {
                uuid,
                version,
                execution_env_ref,
            } => Some(UninstallOpStruct {
                uuid: Cow::Owned(uuid.clone()),
                version: cow(version),
                execution_env_ref: cow(execution_env_ref),
            }),
            _ => None,
        }
    }
}

/// An `OpResultStruct`, owned and persistable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuResult {
    /// UUID.
    pub uuid: String,
    /// DeploymentUnitRef.
    pub deployment_unit_ref: String,
    /// Version.
    pub version: String,
    /// `Installed`, `Uninstalled` or `Failed`.
    pub current_state: String,
    /// Resolved.
    pub resolved: bool,
    /// ExecutionUnitRefList.
    pub execution_unit_ref_list: String,
    /// StartTime, seconds since the epoch.
    pub start: i64,
    /// CompleteTime, seconds since the epoch.
    pub complete: i64,
    /// 0 on success.
    pub fault_code: u32,
    /// FaultString.
    pub fault_string: Option<String>,
}

impl DuResult {
    /// From what the `du` functions return.
    pub fn from_struct(r: &OpResultStruct<'_>) -> DuResult {
        DuResult {
            uuid: r.uuid.to_string(),
            deployment_unit_ref: r.deployment_unit_ref.to_string(),
            version: r.version.to_string(),
            current_state: r.current_state.as_str().to_owned(),
            resolved: r.resolved,
            execution_unit_ref_list: r.execution_unit_ref_list.to_string(),
            start: r.start_time.unix_timestamp(),
            complete: r.complete_time.unix_timestamp(),
            fault_code: r.fault.fault_code.0,
            fault_string: owned(&r.fault.fault_string),
        }
    }

    /// Back to the message's structure.
    pub fn to_struct(&self) -> OpResultStruct<'static> {
        let state = match self.current_state.as_str() {
            "Installed" => DeploymentUnitState::Installed,
            "Uninstalled" => DeploymentUnitState::Uninstalled,
            _ => DeploymentUnitState::Failed,
        };
        let time =
            |s: i64| cwmp::DateTime::from_unix_timestamp(s).unwrap_or(cwmp::DateTime::UNKNOWN);
        OpResultStruct {
            uuid: Cow::Owned(self.uuid.clone()),
            deployment_unit_ref: Cow::Owned(self.deployment_unit_ref.clone()),
            version: Cow::Owned(self.version.clone()),
            current_state: state,
            resolved: self.resolved,
            execution_unit_ref_list: Cow::Owned(self.execution_unit_ref_list.clone()),
            start_time: time(self.start),
            complete_time: time(self.complete),
            fault: DeploymentUnitFaultStruct {
                fault_code: FaultCode(self.fault_code),
                fault_string: cow(&self.fault_string),
            },
        }
    }
}

/// A ChangeDUState being carried out, one operation after the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuChange {
    /// Unique among changes and records.
    pub id: u64,
    /// CommandKey (optional in ChangeDUState).
    pub command_key: Option<String>,
    /// The operations, in order.
    pub ops: Vec<DuOp>,
    /// Results of the operations done so far.
    pub results: Vec<DuResult>,
    /// The download of the current operation: job id and start time.
    pub job: Option<(u64, Time)>,
    /// Requested in the session still open.
    pub after_session: bool,
}

/// A finished ChangeDUState whose DUStateChangeComplete awaits its response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuRecord {
    /// Unique among records.
    pub id: u64,
    /// CommandKey.
    pub command_key: Option<String>,
    /// One per operation.
    pub results: Vec<DuResult>,
}

impl DuRecord {
    /// The DUStateChangeComplete.
    pub fn message(&self) -> DUStateChangeComplete<'static> {
        DUStateChangeComplete {
            results: self.results.iter().map(DuResult::to_struct).collect(),
            command_key: cow(&self.command_key),
        }
    }
}

/// Checks a transfer URL (TR-069 §3.4.3, notes §3.6): HTTP and HTTPS only (9013 for
/// another scheme), no userinfo and a host (9003).
pub fn check_url(url: &str) -> Result<(), FaultCode> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(FaultCode::INVALID_ARGUMENTS);
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(FaultCode::INVALID_ARGUMENTS);
    }
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(FaultCode::UNSUPPORTED_PROTOCOL_FOR_FILE_TRANSFER);
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(FaultCode::INVALID_ARGUMENTS);
    }
    Ok(())
}

/// The software version a firmware image carries: the image itself when it is at most 64
/// bytes of printable text (trimmed), else the last path segment of `target_file_name`,
/// or failing that of the URL, without its extension. `None` when nothing usable is found.
pub fn firmware_version(file: &[u8], url: &str, target_file_name: &str) -> Option<String> {
    if file.len() <= 64
        && let Ok(text) = std::str::from_utf8(file)
    {
        let text = text.trim();
        if !text.is_empty() && text.chars().all(|c| !c.is_control()) {
            return Some(text.to_owned());
        }
    }
    let from_path = |path: &str| -> Option<String> {
        let path = path.split(['?', '#']).next().unwrap_or("");
        let last = path.rsplit(['/', '\\']).next().unwrap_or("").trim();
        let stem = match last.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => last,
        };
        let stem: String = stem.chars().filter(|c| !c.is_control()).take(64).collect();
        (!stem.is_empty()).then_some(stem)
    };
    from_path(target_file_name).or_else(|| {
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        // Only the path: a URL without one (`http://host`) names no file.
        let path = after_scheme.split_once('/').map_or("", |(_, p)| p);
        from_path(path)
    })
}

/// The `name<TAB or =>value` lines of a vendor configuration file; anything else
/// (comments, blank lines, names outside `root`) is ignored.
pub fn config_lines<'a>(file: &'a str, root: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
    file.lines().filter_map(move |line| {
        let line = line.trim_end_matches('\r');
        if line.trim_start().starts_with('#') {
            return None;
        }
        let (name, value) = match (line.find('\t'), line.find('=')) {
            (Some(t), Some(e)) => line.split_at(t.min(e)),
            (Some(i), None) | (None, Some(i)) => line.split_at(i),
            (None, None) => return None,
        };
        let name = name.trim();
        let value = value.get(1..).unwrap_or("");
        (name.starts_with(root) && !name.ends_with('.') && name.len() > root.len())
            .then_some((name, value))
    })
}

/// Cuts a fault string to the 256 characters TransferComplete allows, without control
/// characters XML cannot carry.
pub fn fault_string(message: &str) -> String {
    message
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n'))
        .take(256)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(check_url("http://files.example/fw.bin"), Ok(()));
        assert_eq!(check_url("HTTPS://files.example:8443/a?b#c"), Ok(()));
        assert_eq!(
            check_url("ftp://files.example/fw.bin"),
            Err(FaultCode::UNSUPPORTED_PROTOCOL_FOR_FILE_TRANSFER)
        );
        assert_eq!(
            check_url("tftp://10.0.0.1/x"),
            Err(FaultCode::UNSUPPORTED_PROTOCOL_FOR_FILE_TRANSFER)
        );
        assert_eq!(
            check_url("http://user:pw@files.example/x"),
            Err(FaultCode::INVALID_ARGUMENTS)
        );
        assert_eq!(check_url(""), Err(FaultCode::INVALID_ARGUMENTS));
        assert_eq!(
            check_url("files.example/x"),
            Err(FaultCode::INVALID_ARGUMENTS)
        );
        assert_eq!(check_url("http:///x"), Err(FaultCode::INVALID_ARGUMENTS));
        // An @ in the path is not userinfo.
        assert_eq!(check_url("http://h/a@b"), Ok(()));
    }

    #[test]
    fn firmware_versions() {
        assert_eq!(
            firmware_version(b" 2.0.0\n", "http://h/x.bin", "").as_deref(),
            Some("2.0.0")
        );
        let big = vec![0u8; 1000];
        assert_eq!(
            firmware_version(&big, "http://h/images/fw-3.1.4.bin?x=1", "").as_deref(),
            Some("fw-3.1.4")
        );
        assert_eq!(
            firmware_version(&big, "http://h/images/fw.bin", "/tmp/5.0.img").as_deref(),
            Some("5.0")
        );
        // Binary content of 64 bytes or less is not a version.
        assert_eq!(
            firmware_version(&[0, 1, 2], "http://h/9.9", "").as_deref(),
            Some("9")
        );
        assert_eq!(firmware_version(b"", "http://h", ""), None);
        assert_eq!(firmware_version(&big, "http://h/", ""), None);
    }

    #[test]
    fn configuration_files() {
        let file =
            "# comment\nDevice.A.B\tx y\r\nDevice.C=1\n\nnot a line\nOther.D\t3\nDevice.E.=4\n";
        let lines: Vec<(&str, &str)> = config_lines(file, "Device.").collect();
        assert_eq!(lines, [("Device.A.B", "x y"), ("Device.C", "1")]);
        // The first separator counts: values may contain `=`.
        let lines: Vec<(&str, &str)> = config_lines("Device.U\ta=b\n", "Device.").collect();
        assert_eq!(lines, [("Device.U", "a=b")]);
    }

    #[test]
    fn windows() {
        let w = |start, end, mode| Window {
            start: Time(start),
            end: Time(end),
            mode,
            max_retries: 0,
        };
        let t = QueuedTransfer {
            id: 1,
            method: TransferMethod::ScheduleDownload,
            command_key: String::new(),
            spec: TransferSpec {
                is_download: true,
                file_type: FIRMWARE.into(),
                url: "http://h/f".into(),
                username: String::new(),
                password: String::new(),
                file_size: 0,
                target_file_name: String::new(),
            },
            due: Time(0),
            after_session: false,
            windows: vec![
                w(100, 200, WindowMode::ConfirmationNeeded),
                w(300, 400, WindowMode::AtAnyTime),
            ],
            attempts: 0,
            last_failure: None,
            phase: TransferPhase::Queued,
        };
        assert_eq!(t.next_start(Time(0)), Some(Time(300)));
        assert!(t.open_window(Time(150)).is_none());
        assert!(t.open_window(Time(350)).is_some());
        assert_eq!(t.next_start(Time(401)), None);
        assert_eq!(t.windows_end(), Some(Time(400)));
        assert_eq!(
            Window {
                max_retries: -1,
                ..w(0, 1, WindowMode::WhenIdle)
            }
            .attempts(),
            4
        );
    }
}
