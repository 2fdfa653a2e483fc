//! The store the configuration chose, behind one type: the ACS is generic over [`Store`],
//! and this is the one instance the binary builds.

use acs_core::change::Change;
use acs_core::preset::{Name, Preset, ScriptKind};
use acs_core::task::{NewTask, TaskId};
use acs_core::{DeviceId, Timestamp};

use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;
use crate::{
    ConnectionRequestTarget, CpeCredential, DeviceQuery, DeviceSummary, ListQuery, Page,
    Provisioning, ProvisioningSnapshot, Result, Script, SessionClaim, SessionData, Store,
    TokenRecord,
};

/// SQLite (one node, the default) or PostgreSQL (several nodes).
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// The embedded store.
    Sqlite(SqliteStore),
    /// The shared store.
    Postgres(PostgresStore),
}

impl AnyStore {
    /// Which backend: `"sqlite"` or `"postgres"` (for logs and metrics).
    pub fn backend(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Postgres(_) => "postgres",
        }
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(s: SqliteStore) -> Self {
        AnyStore::Sqlite(s)
    }
}

impl From<PostgresStore> for AnyStore {
    fn from(s: PostgresStore) -> Self {
        AnyStore::Postgres(s)
    }
}

/// Calls the same method on whichever store it is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $call.await,
            AnyStore::Postgres($s) => $call.await,
        }
    };
}

impl Store for AnyStore {
    fn writer_stats(&self) -> Option<crate::WriterStats> {
        Some(match self {
            AnyStore::Sqlite(s) => s.writer_stats(),
            AnyStore::Postgres(s) => s.writer_stats(),
        })
    }

    async fn device_summary(&self, device: &DeviceId) -> Result<Option<DeviceSummary>> {
        each!(self, s => s.device_summary(device))
    }

    async fn session_data(&self, device: &DeviceId, now: Timestamp) -> Result<SessionData> {
        each!(self, s => s.session_data(device, now))
    }

    async fn commit(&self, changes: Vec<Change>) -> Result<()> {
        each!(self, s => s.commit(changes))
    }

    async fn cpe_credential(&self, username: &str) -> Result<Option<CpeCredential>> {
        each!(self, s => s.cpe_credential(username))
    }

    async fn set_cpe_credential(
        &self,
        device: &DeviceId,
        credential: Option<CpeCredential>,
    ) -> Result<()> {
        each!(self, s => s.set_cpe_credential(device, credential))
    }

    async fn query_devices(&self, query: &DeviceQuery) -> Result<Page> {
        each!(self, s => s.query_devices(query))
    }

    async fn delete_device(&self, device: &DeviceId) -> Result<bool> {
        each!(self, s => s.delete_device(device))
    }

    async fn add_tag(&self, device: &DeviceId, tag: &str) -> Result<bool> {
        each!(self, s => s.add_tag(device, tag))
    }

    async fn remove_tag(&self, device: &DeviceId, tag: &str) -> Result<bool> {
        each!(self, s => s.remove_tag(device, tag))
    }

    async fn connection_request_target(
        &self,
        device: &DeviceId,
    ) -> Result<Option<ConnectionRequestTarget>> {
        each!(self, s => s.connection_request_target(device))
    }

    async fn insert_task(&self, task: NewTask) -> Result<TaskId> {
        each!(self, s => s.insert_task(task))
    }

    async fn list_tasks(&self, query: &ListQuery) -> Result<Page> {
        each!(self, s => s.list_tasks(query))
    }

    async fn task_device(&self, task: TaskId) -> Result<Option<DeviceId>> {
        each!(self, s => s.task_device(task))
    }

    async fn delete_task(&self, task: TaskId) -> Result<Option<DeviceId>> {
        each!(self, s => s.delete_task(task))
    }

    async fn retry_task(&self, task: TaskId) -> Result<bool> {
        each!(self, s => s.retry_task(task))
    }

    async fn expire_tasks(&self, now: Timestamp) -> Result<u64> {
        each!(self, s => s.expire_tasks(now))
    }

    async fn list_faults(&self, query: &ListQuery) -> Result<Page> {
        each!(self, s => s.list_faults(query))
    }

    async fn delete_fault(&self, device: &DeviceId, channel: &str) -> Result<bool> {
        each!(self, s => s.delete_fault(device, channel))
    }

    async fn counts(&self) -> Result<(u64, u64)> {
        each!(self, s => s.counts())
    }

    async fn insert_token(&self, token: TokenRecord) -> Result<()> {
        each!(self, s => s.insert_token(token))
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<String>> {
        each!(self, s => s.token_by_hash(hash))
    }

    async fn token_count(&self) -> Result<u64> {
        each!(self, s => s.token_count())
    }

    async fn put_preset(&self, preset: &Preset) -> Result<u64> {
        each!(self, s => s.put_preset(preset))
    }

    async fn preset(&self, name: &Name) -> Result<Option<Preset>> {
        each!(self, s => s.preset(name))
    }

    async fn delete_preset(&self, name: &Name) -> Result<bool> {
        each!(self, s => s.delete_preset(name))
    }

    async fn list_presets(&self) -> Result<Vec<Preset>> {
        each!(self, s => s.list_presets())
    }

    async fn put_script(&self, kind: ScriptKind, name: &Name, source: &str) -> Result<u64> {
        each!(self, s => s.put_script(kind, name, source))
    }

    async fn script(&self, kind: ScriptKind, name: &Name) -> Result<Option<String>> {
        each!(self, s => s.script(kind, name))
    }

    async fn delete_script(&self, kind: ScriptKind, name: &Name) -> Result<bool> {
        each!(self, s => s.delete_script(kind, name))
    }

    async fn list_scripts(&self, kind: ScriptKind) -> Result<Vec<Script>> {
        each!(self, s => s.list_scripts(kind))
    }

    async fn provisioning(&self) -> Result<ProvisioningSnapshot> {
        each!(self, s => s.provisioning())
    }

    async fn provisioning_revision(&self) -> Result<u64> {
        each!(self, s => s.provisioning_revision())
    }

    async fn import_provisioning(&self, items: &Provisioning, replace: bool) -> Result<u64> {
        each!(self, s => s.import_provisioning(items, replace))
    }

    fn shared_by_nodes(&self) -> bool {
        match self {
            AnyStore::Sqlite(s) => s.shared_by_nodes(),
            AnyStore::Postgres(s) => s.shared_by_nodes(),
        }
    }

    async fn claim_session(
        &self,
        device: &DeviceId,
        claim: &SessionClaim,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        each!(self, s => s.claim_session(device, claim, now, until))
    }

    async fn release_session(&self, device: &DeviceId, claim: &SessionClaim) -> Result<()> {
        each!(self, s => s.release_session(device, claim))
    }

    async fn claim_job(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        next: Timestamp,
    ) -> Result<bool> {
        each!(self, s => s.claim_job(name, owner, now, next))
    }
}
