//! What a session changes: the records the engine hands to the store, which commits them
//! (durably) before the answer that depends on them leaves.

use serde_json::Value;

use crate::device::{Attributes, DeviceIdentity, StoredValue};
use crate::fault::Fault;
use crate::id::DeviceId;
use crate::task::TaskId;
use crate::time::Timestamp;

/// One event of an Inform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `0 BOOTSTRAP`, `M Reboot`, ...
    pub code: String,
    /// The CommandKey of an `M` event.
    pub command_key: String,
}

/// An update of one path; `None` fields keep what is stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParamUpdate {
    /// Full path (objects end with `.`).
    pub path: String,
    /// Whether it is an object.
    pub object: bool,
    /// New writable flag.
    pub writable: Option<bool>,
    /// New value.
    pub value: Option<StoredValue>,
    /// New timestamp of the value (parameters) or of the enumeration (objects).
    pub ts: Option<Timestamp>,
    /// New attributes, with when they were read.
    pub attributes: Option<(Attributes, Timestamp)>,
}

/// The Inform of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct InformRecord {
    /// The device.
    pub device: DeviceId,
    /// Its identity fields.
    pub identity: DeviceIdentity,
    /// When.
    pub at: Timestamp,
    /// Its events.
    pub events: Vec<Event>,
    /// `RetryCount`.
    pub retry_count: u32,
    /// The session's CWMP version.
    pub cwmp_version: String,
    /// `0 BOOTSTRAP`: everything known of the device is reset before `params` are stored.
    pub bootstrap: bool,
    /// `1 BOOT`.
    pub boot: bool,
    /// The Inform's parameters.
    pub params: Vec<ParamUpdate>,
    /// Where the session came from, for the record.
    pub remote_address: Option<String>,
}

/// A file transfer awaiting its TransferComplete (or DUStateChangeComplete).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingTransfer {
    /// The CommandKey sent (and echoed in TransferComplete).
    pub command_key: String,
    /// The task that started it.
    pub task: Option<TaskId>,
    /// What was asked, for the record.
    pub detail: Value,
    /// When it was accepted.
    pub started: Timestamp,
}

/// A change to persist.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A session's Inform: create or update the device, record the events.
    Inform(InformRecord),
    /// Parameters learned or set.
    Params {
        /// The device.
        device: DeviceId,
        /// The updates.
        updates: Vec<ParamUpdate>,
    },
    /// Paths that no longer exist: each path, and below it for objects.
    DeleteParams {
        /// The device.
        device: DeviceId,
        /// The paths.
        paths: Vec<String>,
    },
    /// A task finished; it is removed (as GenieACS does), with its fault if any.
    TaskDone {
        /// The task.
        task: TaskId,
        /// The device.
        device: DeviceId,
    },
    /// A task advanced; its progress is kept so an interrupted session resumes it.
    TaskProgress {
        /// The task.
        task: TaskId,
        /// What is done.
        progress: Value,
    },
    /// A task failed: its fault is recorded and it is retried no earlier than `retry_at`.
    TaskFault {
        /// The task.
        task: TaskId,
        /// The device.
        device: DeviceId,
        /// The fault (its `retries` counts earlier attempts).
        fault: Fault,
        /// Earliest retry.
        retry_at: Timestamp,
    },
    /// A fault outside tasks, in a named channel.
    DeviceFault {
        /// The device.
        device: DeviceId,
        /// The channel (`transfer`, `cr_credentials`, ...).
        channel: String,
        /// The fault.
        fault: Fault,
    },
    /// A channel's fault is over.
    ClearFault {
        /// The device.
        device: DeviceId,
        /// The channel.
        channel: String,
    },
    /// The connection-request credentials the ACS set on the device.
    ConnectionRequestCredentials {
        /// The device.
        device: DeviceId,
        /// Username.
        username: String,
        /// Password.
        password: String,
    },
    /// A transfer started (Download, Upload, ScheduleDownload, ChangeDUState with Status
    /// 1 or an empty response): remembered until its completion arrives.
    TransferStarted {
        /// The device.
        device: DeviceId,
        /// The transfer.
        transfer: PendingTransfer,
    },
    /// Tags added to and removed from a device (by a provision).
    Tags {
        /// The device.
        device: DeviceId,
        /// Tags to add.
        add: Vec<String>,
        /// Tags to remove.
        remove: Vec<String>,
    },
    /// A transfer completed (TransferComplete, DUStateChangeComplete): forgotten.
    TransferCompleted {
        /// The device.
        device: DeviceId,
        /// Its CommandKey.
        command_key: String,
    },
}

impl Change {
    /// The device the change concerns, if one.
    pub fn device(&self) -> Option<&DeviceId> {
        match self {
            Change::Inform(i) => Some(&i.device),
            Change::Params { device, .. }
            | Change::DeleteParams { device, .. }
            | Change::TaskDone { device, .. }
            | Change::TaskFault { device, .. }
            | Change::DeviceFault { device, .. }
            | Change::ClearFault { device, .. }
            | Change::ConnectionRequestCredentials { device, .. }
            | Change::TransferStarted { device, .. }
            | Change::Tags { device, .. }
            | Change::TransferCompleted { device, .. } => Some(device),
            Change::TaskProgress { .. } => None,
        }
    }
}
