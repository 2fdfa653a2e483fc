//! The device store: what the ACS keeps of devices, tasks, faults and API tokens, behind
//! the [`Store`] trait, with an embedded SQLite implementation ([`sqlite::SqliteStore`])
//! and a PostgreSQL one for several nodes sharing a database
//! ([`postgres::PostgresStore`]). The two share the filter compiler, the list queries and
//! the rendering of devices (`shared`).
//!
//! Two paths matter. The CWMP hot path reads at most one small row per session
//! ([`Store::device_summary`]) unless the device has work queued, and hands its writes to
//! [`Store::commit`], which returns only once they are durable: one writer groups the
//! changes of many concurrent sessions into one transaction. The NBI path compiles the
//! filter language ([`acs_core::query`]) to indexed SQL.
//!
//! Provisioning (presets, provisions, virtual parameters) is small and read at every
//! session, so nodes keep it in memory: [`Store::provisioning`] reads all of it with a
//! revision that every write raises, and [`Store::provisioning_revision`] tells a node
//! cheaply whether its copy is stale.

#![forbid(unsafe_code)]

use std::future::Future;

use acs_core::change::{Change, PendingTransfer};
use acs_core::device::DeviceData;
use acs_core::preset::{Name, Preset, ScriptKind};
use acs_core::query::{Field, Filter, InvalidQuery};
use acs_core::task::{NewTask, Task, TaskId};
use acs_core::{DeviceId, Timestamp};
use serde_json::Value;

mod any;
pub mod postgres;
mod shared;
pub mod sqlite;

pub use any::AnyStore;
pub use shared::WriterStats;

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// The store is shut down.
    #[error("the store is closed")]
    Closed,
    /// A query the store cannot run.
    #[error(transparent)]
    InvalidQuery(#[from] InvalidQuery),
}

/// Result of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// What a session needs of a device when its Inform arrives: one small row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSummary {
    /// The device.
    pub device: DeviceId,
    /// Connection-request credentials the ACS set on the device, if any.
    pub cr_credentials: Option<(String, String)>,
    /// Whether any task is queued for the device (due or not).
    pub has_tasks: bool,
    /// Whether transfers started by the ACS await completion.
    pub has_transfers: bool,
    /// When the device was last seen.
    pub last_inform: Option<Timestamp>,
    /// When it was first seen, last booted (`1 BOOT`) and last bootstrapped: presets'
    /// preconditions and `Events.*` read them.
    pub registered: Option<Timestamp>,
    /// Last `1 BOOT`.
    pub last_boot: Option<Timestamp>,
    /// Last `0 BOOTSTRAP`.
    pub last_bootstrap: Option<Timestamp>,
    /// Whether the device has a fault recorded (a preset's channel may be backing off).
    pub has_faults: bool,
    /// Its tags, sorted: presets' preconditions and `Tags.*` read them.
    pub tags: Vec<String>,
}

/// Everything a session with work to do needs: the known data, the due tasks, the pending
/// transfers.
#[derive(Debug, Clone, Default)]
pub struct SessionData {
    /// Every known parameter of the device.
    pub data: DeviceData,
    /// Tasks due now: not expired, not waiting for a retry, oldest first.
    pub tasks: Vec<Task>,
    /// Transfers awaiting their completion.
    pub transfers: Vec<PendingTransfer>,
    /// The device's tags, sorted.
    pub tags: Vec<String>,
    /// Its faults outside tasks' channels (provisioning channels, `transfer`, ...):
    /// channel, when, retries so far.
    pub channel_faults: Vec<(String, Timestamp, u32)>,
}

/// A CPE's credentials for authenticating to the ACS (per device), kept as Digest HA1
/// values so that no password is stored: HA1 = H(username:realm:password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpeCredential {
    /// The username the CPE presents (normally its device id).
    pub username: String,
    /// The device it authenticates.
    pub device: DeviceId,
    /// MD5 HA1 for the configured realm (Digest MD5, MD5-sess, and Basic checks).
    pub ha1_md5: String,
    /// SHA-256 HA1 for the configured realm.
    pub ha1_sha256: String,
}

/// Where and how to send a device a connection request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRequestTarget {
    /// `ManagementServer.ConnectionRequestURL`.
    pub url: String,
    /// Credentials the ACS set, if any.
    pub credentials: Option<(String, String)>,
}

/// A device query of the NBI.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceQuery {
    /// Which devices.
    pub filter: Filter,
    /// Which fields to return: prefixes such as `Device.DeviceInfo` or `_lastInform`;
    /// empty: everything.
    pub projection: Vec<String>,
    /// Order; by `_id` when empty (and as the last key always, for stable paging).
    pub sort: Vec<(Field, bool)>,
    /// Devices to skip.
    pub skip: u64,
    /// At most this many.
    pub limit: Option<u64>,
    /// Count the matches exactly only up to this many; beyond it the page's `total` may be
    /// a lower bound (`total_exact` false). `None`: always count exactly. Counting every
    /// match of a broad filter costs time in proportion to the matches (a value shared by
    /// 220,000 of a million devices: a quarter of a second on PostgreSQL) while the page
    /// itself stays cheap, so the API counts exactly only when asked (BENCHMARKS.md).
    pub count_limit: Option<u64>,
}

/// A query on tasks or faults: equality on their top-level fields (`device`, `name`,
/// `channel`, `code`, `_id`), with skip and limit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    /// Field equals value, all required.
    pub equals: Vec<(String, Value)>,
    /// Items to skip.
    pub skip: u64,
    /// At most this many.
    pub limit: Option<u64>,
}

/// A page of results and the total count matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The items, as the API returns them.
    pub items: Vec<Value>,
    /// How many match in all (the `total` header of the API), or, when `total_exact` is
    /// false, a lower bound of it: more than the query's `count_limit` match.
    pub total: u64,
    /// Whether `total` is the exact count.
    pub total_exact: bool,
}

impl Page {
    /// A page whose total is exactly `total`.
    pub fn exact(items: Vec<Value>, total: u64) -> Self {
        Self {
            items,
            total,
            total_exact: true,
        }
    }
}

/// An API token as stored: the SHA-256 of the secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Name given at creation.
    pub name: String,
    /// Hex SHA-256 of the token.
    pub hash: String,
    /// When created.
    pub created: Timestamp,
}

/// Who claims a device's session: a node, and which of its sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaim {
    /// The node (`cluster.node_id`).
    pub owner: String,
    /// The session, unique within the node.
    pub session: String,
}

/// A provisioning script: a provision or a virtual parameter, JavaScript source by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Its name.
    pub name: Name,
    /// The source text, as put.
    pub source: String,
}

/// Presets, provisions and virtual parameters, each list sorted by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provisioning {
    /// The presets.
    pub presets: Vec<Preset>,
    /// The provisions.
    pub provisions: Vec<Script>,
    /// The virtual parameters.
    pub virtual_parameters: Vec<Script>,
}

impl Provisioning {
    /// The scripts of one kind.
    pub fn scripts(&self, kind: ScriptKind) -> &[Script] {
        match kind {
            ScriptKind::Provision => &self.provisions,
            ScriptKind::VirtualParameter => &self.virtual_parameters,
        }
    }

    /// The scripts of one kind, to change.
    pub fn scripts_mut(&mut self, kind: ScriptKind) -> &mut Vec<Script> {
        match kind {
            ScriptKind::Provision => &mut self.provisions,
            ScriptKind::VirtualParameter => &mut self.virtual_parameters,
        }
    }
}

/// All of provisioning as of one revision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProvisioningSnapshot {
    /// The revision: raised by every write, so a node whose copy has the store's current
    /// revision has the current contents.
    pub revision: u64,
    /// The contents.
    pub provisioning: Provisioning,
}

/// The device store.
///
/// Every method is safe to call concurrently. Writes through [`Store::commit`] are durable
/// when the future completes with `Ok`; a failed commit has written nothing of its batch.
pub trait Store: Clone + Send + Sync + 'static {
    /// What the store's writer has done so far (for metrics); `None` for a store without
    /// one (test doubles).
    fn writer_stats(&self) -> Option<WriterStats> {
        None
    }

    /// The summary of a device, or `None` if it was never seen.
    fn device_summary(
        &self,
        device: &DeviceId,
    ) -> impl Future<Output = Result<Option<DeviceSummary>>> + Send;

    /// The known data, due tasks and pending transfers of a device, for a session.
    fn session_data(
        &self,
        device: &DeviceId,
        now: Timestamp,
    ) -> impl Future<Output = Result<SessionData>> + Send;

    /// Persists a session step's changes, in order, atomically; returns once durable.
    /// Calls from many sessions are grouped into one transaction.
    fn commit(&self, changes: Vec<Change>) -> impl Future<Output = Result<()>> + Send;

    /// The per-device CPE credentials presented under `username`.
    fn cpe_credential(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Option<CpeCredential>>> + Send;

    /// Sets (or with `None`, removes) a device's CPE credentials.
    fn set_cpe_credential(
        &self,
        device: &DeviceId,
        credential: Option<CpeCredential>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Devices matching the query, rendered as GenieACS renders them.
    fn query_devices(&self, query: &DeviceQuery) -> impl Future<Output = Result<Page>> + Send;

    /// Deletes a device with its parameters, tags, tasks, faults and transfers; `false`
    /// if it did not exist.
    fn delete_device(&self, device: &DeviceId) -> impl Future<Output = Result<bool>> + Send;

    /// Adds a tag; `false` if the device does not exist.
    fn add_tag(&self, device: &DeviceId, tag: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Removes a tag; `false` if the device does not exist.
    fn remove_tag(&self, device: &DeviceId, tag: &str)
    -> impl Future<Output = Result<bool>> + Send;

    /// Where to send a device a connection request; `None` if the device is unknown.
    fn connection_request_target(
        &self,
        device: &DeviceId,
    ) -> impl Future<Output = Result<Option<ConnectionRequestTarget>>> + Send;

    /// Queues a task (replacing the device's task with the same unique key) and returns its id.
    fn insert_task(&self, task: NewTask) -> impl Future<Output = Result<TaskId>> + Send;

    /// Queued tasks, as the API shows them (`_id`, `device`, `name`, arguments,
    /// `timestamp`, `expiry`, and `retries` and `fault` once faulted).
    fn list_tasks(&self, query: &ListQuery) -> impl Future<Output = Result<Page>> + Send;

    /// The device of a queued task, if the task exists.
    fn task_device(&self, task: TaskId) -> impl Future<Output = Result<Option<DeviceId>>> + Send;

    /// Deletes a task and its fault; the task's device, if it existed.
    fn delete_task(&self, task: TaskId) -> impl Future<Output = Result<Option<DeviceId>>> + Send;

    /// Clears a task's fault and retry delay, so the next session tries it again; `false`
    /// if the task does not exist.
    fn retry_task(&self, task: TaskId) -> impl Future<Output = Result<bool>> + Send;

    /// Deletes tasks whose expiry has passed (and their faults); how many.
    fn expire_tasks(&self, now: Timestamp) -> impl Future<Output = Result<u64>> + Send;

    /// Faults, as the API shows them (`_id` = `device:channel`, `device`, `channel`,
    /// `code`, `message`, `detail`, `timestamp`, `retries`).
    fn list_faults(&self, query: &ListQuery) -> impl Future<Output = Result<Page>> + Send;

    /// Deletes a fault; for a task channel (`task_<id>`) the task too, as GenieACS does.
    fn delete_fault(
        &self,
        device: &DeviceId,
        channel: &str,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Counts for metrics: queued tasks and recorded faults.
    fn counts(&self) -> impl Future<Output = Result<(u64, u64)>> + Send;

    /// Stores an API token.
    fn insert_token(&self, token: TokenRecord) -> impl Future<Output = Result<()>> + Send;

    /// The name of the token with this hash, if any.
    fn token_by_hash(&self, hash: &str) -> impl Future<Output = Result<Option<String>>> + Send;

    /// How many tokens exist (none: first start, create the admin token).
    fn token_count(&self) -> impl Future<Output = Result<u64>> + Send;

    /// Whether several nodes may share this store, so that a session must claim its device
    /// in it ([`Store::claim_session`]). A store that one node alone opens has no claims to
    /// make: that node's own session table keeps one session per device.
    fn shared_by_nodes(&self) -> bool;

    /// Claims the device for session `session` of `owner` (one ACS node) until `until`:
    /// `true` if no other owner holds an unexpired claim at `now` (the owner's own claim is
    /// taken over, its session being over). Claiming again renews. Nodes that share a
    /// database thus never run two sessions of one device at once (TR-069 §3.7.1: one
    /// session at a time), and a node that dies leaves its claims to expire instead of
    /// locking its devices out.
    fn claim_session(
        &self,
        device: &DeviceId,
        claim: &SessionClaim,
        now: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Gives up the claim on the device, if it is still this one's.
    fn release_session(
        &self,
        device: &DeviceId,
        claim: &SessionClaim,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Creates or replaces a preset; returns the new provisioning revision.
    fn put_preset(&self, preset: &Preset) -> impl Future<Output = Result<u64>> + Send;

    /// The preset named `name`, if any.
    fn preset(&self, name: &Name) -> impl Future<Output = Result<Option<Preset>>> + Send;

    /// Deletes a preset; `false` if there was none (the revision is then unchanged).
    fn delete_preset(&self, name: &Name) -> impl Future<Output = Result<bool>> + Send;

    /// Every preset, by name.
    fn list_presets(&self) -> impl Future<Output = Result<Vec<Preset>>> + Send;

    /// Creates or replaces a provision or virtual parameter; returns the new provisioning
    /// revision.
    fn put_script(
        &self,
        kind: ScriptKind,
        name: &Name,
        source: &str,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// The source of the script named `name`, if any.
    fn script(
        &self,
        kind: ScriptKind,
        name: &Name,
    ) -> impl Future<Output = Result<Option<String>>> + Send;

    /// Deletes a script; `false` if there was none (the revision is then unchanged).
    fn delete_script(
        &self,
        kind: ScriptKind,
        name: &Name,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Every script of a kind, by name.
    fn list_scripts(&self, kind: ScriptKind) -> impl Future<Output = Result<Vec<Script>>> + Send;

    /// All of provisioning and its revision, read in one snapshot.
    fn provisioning(&self) -> impl Future<Output = Result<ProvisioningSnapshot>> + Send;

    /// The current provisioning revision: one small row, for nodes checking their copy.
    fn provisioning_revision(&self) -> impl Future<Output = Result<u64>> + Send;

    /// Writes every item of `items` (creating or replacing by name) in one transaction,
    /// raising the revision once; with `replace`, also deletes every item not in `items`.
    /// Returns the new revision.
    fn import_provisioning(
        &self,
        items: &Provisioning,
        replace: bool,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Claims the periodic job `name` for one run: `true` for exactly one caller (across all
    /// nodes sharing the database) whose `now` is past the previous claim's `next`; the job
    /// is then not due again before this claim's `next`.
    fn claim_job(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        next: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;
}
