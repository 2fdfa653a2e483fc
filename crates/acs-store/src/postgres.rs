//! The PostgreSQL store, for several ACS nodes sharing one database.
//!
//! The tables are those of the SQLite store (`migrations/postgres`). Each store runs one
//! writer task on one connection that groups the writes of many sessions into one
//! transaction (a failing call is left out and the others run again without it) and
//! answers them once it is committed, as the SQLite writer does. Reads run on the
//! other connections of the pool; those that span several statements read one snapshot.
//!
//! Several nodes may write at once, so nothing is cached across transactions but the ids
//! of interned parameter paths, which never change: paths are interned outside the group
//! transaction (a path interned by a group that rolls back stays, unused), and queries
//! name paths by text, looked up in `paths` by PostgreSQL.

use std::str::FromStr;
use std::sync::Arc;

use acs_core::change::Change;
use acs_core::preset::{Name, Preset, ScriptKind};
use acs_core::task::{NewTask, TaskId};
use acs_core::{DeviceId, Timestamp};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, PgPool, Postgres};
use tokio::sync::{mpsc, oneshot};

use crate::shared::filter::Value as Arg;
use crate::{
    ConnectionRequestTarget, CpeCredential, DeviceQuery, DeviceSummary, ListQuery, Page,
    Provisioning, ProvisioningSnapshot, Result, Script, SessionClaim, SessionData, Store,
    StoreError, TokenRecord,
};

mod provisioning;
mod read;
mod writer;

use writer::{Op, Out};

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// The migrations, in order: (version, SQL). Each runs once, in a transaction.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_initial.sql")),
    (2, include_str!("../migrations/postgres/0002_cluster.sql")),
    (
        3,
        include_str!("../migrations/postgres/0003_last_inform_order.sql"),
    ),
    (
        4,
        include_str!("../migrations/postgres/0004_tags_by_tag.sql"),
    ),
    (
        5,
        include_str!("../migrations/postgres/0005_provisioning.sql"),
    ),
    (
        6,
        include_str!("../migrations/postgres/0006_device_id_with_id.sql"),
    ),
    (
        7,
        include_str!("../migrations/postgres/0007_inform_digest.sql"),
    ),
    (
        8,
        include_str!("../migrations/postgres/0008_inform_digest_per_parameter.sql"),
    ),
];

/// How the PostgreSQL store runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The schema holding the tables, created if needed; `None`: the connection's default
    /// `search_path` (normally `public`).
    pub schema: Option<String>,
    /// Connections in the pool, the writer's included (default 8, at least 2).
    pub pool_size: u32,
    /// Days Inform events are kept (default 7); 0: events are not recorded at all.
    pub event_retention_days: u32,
    /// Most calls grouped into one write transaction (default 512).
    pub max_group: usize,
    /// Writes waiting for the writer before callers wait to enqueue (default 8192).
    pub queue: usize,
    /// A device query matching at most this many devices orders its page from their ids
    /// rather than leaving PostgreSQL to pick a plan from its estimates (default 10,000;
    /// see `read::query_devices`).
    pub few_matches: i64,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: None,
            pool_size: 8,
            event_retention_days: 7,
            max_group: 512,
            queue: 8192,
            few_matches: 10_000,
        }
    }
}

pub(crate) use crate::shared::WriterCounters as Stats;
pub use crate::shared::WriterStats;

/// The PostgreSQL implementation of [`Store`]. Cheap to clone: clones share the pool and
/// the writer, which stops once the last clone is dropped and what was queued is written.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    /// Connections with `synchronous_commit = off`, for session leases and job claims
    /// only: their commits need not wait for the disk, since losing the last claims in a
    /// database crash frees devices whose sessions that crash ended anyway.
    leases: PgPool,
    jobs: mpsc::Sender<writer::Job>,
    stats: Arc<Stats>,
    connect: PgConnectOptions,
    options: PostgresOptions,
}

/// `name` quoted as an SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn connect_options(url: &str) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(url)
        .map(|o| o.disable_statement_logging())
        .map_err(|e| StoreError::Database(format!("bad PostgreSQL URL: {e}")))
}

/// One connection outside the pool, with the schema as its `search_path`.
async fn connect_one(connect: &PgConnectOptions, schema: Option<&str>) -> Result<PgConnection> {
    let mut conn = PgConnection::connect_with(connect).await?;
    if let Some(schema) = schema {
        conn.execute(format!("SET search_path TO {}", quote_ident(schema)).as_str())
            .await?;
    }
    Ok(conn)
}

/// Applies the pending migrations to the database at `url` (in the schema of `options`,
/// created if needed); returns the versions applied. Several nodes may call this at once:
/// an advisory lock makes them take turns, and each migration runs once.
pub async fn migrate(url: &str, options: &PostgresOptions) -> Result<Vec<i64>> {
    migrate_with(&connect_options(url)?, options.schema.as_deref()).await
}

async fn migrate_with(connect: &PgConnectOptions, schema: Option<&str>) -> Result<Vec<i64>> {
    // A connection of its own: closing it releases the lock whatever happens.
    let mut conn = connect_one(connect, None).await?;
    let key = format!("acs-store migrate {}", schema.unwrap_or(""));
    sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
        .bind(&key)
        .execute(&mut conn)
        .await?;
    let result = migrate_locked(&mut conn, schema).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(&key)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    let applied = result?;
    unlocked?;
    Ok(applied)
}

async fn migrate_locked(conn: &mut PgConnection, schema: Option<&str>) -> Result<Vec<i64>> {
    if let Some(schema) = schema {
        let schema = quote_ident(schema);
        conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
            .await?;
        conn.execute(format!("SET search_path TO {schema}").as_str())
            .await?;
    }
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY,
             applied_at BIGINT NOT NULL
         )",
    )
    .await?;
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await?;
    let current = current.unwrap_or(0);
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        return Err(StoreError::Database(format!(
            "the database schema is version {current}, newer than this program's {newest}"
        )));
    }
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS {
        if version <= current {
            continue;
        }
        let mut tx = conn.begin().await?;
        let conn: &mut PgConnection = &mut tx;
        conn.execute(sql).await?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        applied.push(version);
    }
    Ok(applied)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Binds the arguments of compiled SQL.
fn bind_all<'q>(
    mut query: Query<'q, Postgres, PgArguments>,
    args: &'q [Arg],
) -> Query<'q, Postgres, PgArguments> {
    for a in args {
        query = match a {
            Arg::Integer(n) => query.bind(*n),
            Arg::Real(n) => query.bind(*n),
            Arg::Text(s) => query.bind(s.as_str()),
            Arg::Integers(ids) => query.bind(ids.as_slice()),
        };
    }
    query
}

/// A pool whose connections use the schema and run `setup` first.
async fn open_pool(
    connect: &PgConnectOptions,
    search_path: Option<String>,
    setup: &'static [&'static str],
    size: u32,
) -> Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .after_connect(move |conn, _| {
            let search_path = search_path.clone();
            Box::pin(async move {
                if let Some(sql) = search_path {
                    conn.execute(sql.as_str()).await?;
                }
                for sql in setup {
                    conn.execute(*sql).await?;
                }
                Ok(())
            })
        })
        .connect_with(connect.clone())
        .await?)
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://` URL), applies the pending
    /// migrations, and starts the writer task. Call it inside a tokio runtime.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<PostgresStore> {
        let connect = connect_options(url)?;
        migrate_with(&connect, options.schema.as_deref()).await?;

        let search_path = options
            .schema
            .as_deref()
            .map(|s| format!("SET search_path TO {}", quote_ident(s)));
        // No JIT and no parallel workers: the store's statements are many and short, and
        // in the million-device benchmark compiling them cost more than it saved (84 ms of
        // a 160 ms read) and a tag's page took 28 ms with two workers, 14 ms without.
        const SETUP: &[&str] = &["SET jit TO off", "SET max_parallel_workers_per_gather TO 0"];
        const LEASE_SETUP: &[&str] = &[
            "SET jit TO off",
            "SET max_parallel_workers_per_gather TO 0",
            "SET synchronous_commit TO off",
        ];
        let pool = open_pool(
            &connect,
            search_path.clone(),
            SETUP,
            options.pool_size.max(2),
        )
        .await?;
        let leases = open_pool(
            &connect,
            search_path,
            LEASE_SETUP,
            (options.pool_size / 2).max(1),
        )
        .await?;

        let stats = Arc::new(Stats::default());
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let ctx = writer::WriteCtx::new(pool.clone(), &options, stats.clone());
        tokio::spawn(writer::run(ctx, rx, options.max_group.max(1)));
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                leases,
                jobs: tx,
                stats,
                connect,
                options,
            }),
        })
    }

    /// Applies the pending migrations (connecting does it too); the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        migrate_with(&self.inner.connect, self.inner.options.schema.as_deref()).await
    }

    /// What the writer has done so far.
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.stats.snapshot()
    }

    /// The connection pool (its connections use the store's schema).
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Runs `op` on the writer, in the next group transaction; returns its result once the transaction is committed.
    async fn write(&self, op: Op) -> Result<Out> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .jobs
            .send(writer::Job::new(op, tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

fn unexpected(out: Out) -> StoreError {
    StoreError::Database(format!("the writer answered {out:?}"))
}

impl Store for PostgresStore {
    async fn device_summary(&self, device: &DeviceId) -> Result<Option<DeviceSummary>> {
        read::device_summary(&self.inner.pool, device).await
    }

    async fn session_data(&self, device: &DeviceId, now: Timestamp) -> Result<SessionData> {
        read::session_data(&self.inner.pool, device, now).await
    }

    async fn commit(&self, changes: Vec<Change>) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        match self.write(Op::Commit(changes)).await? {
            Out::Unit => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    async fn cpe_credential(&self, username: &str) -> Result<Option<CpeCredential>> {
        read::cpe_credential(&self.inner.pool, username).await
    }

    async fn set_cpe_credential(
        &self,
        device: &DeviceId,
        credential: Option<CpeCredential>,
    ) -> Result<()> {
        match self
            .write(Op::SetCpeCredential(device.clone(), credential))
            .await?
        {
            Out::Unit => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    async fn query_devices(&self, query: &DeviceQuery) -> Result<Page> {
        read::query_devices(&self.inner.pool, query, self.inner.options.few_matches).await
    }

    async fn delete_device(&self, device: &DeviceId) -> Result<bool> {
        match self.write(Op::DeleteDevice(device.clone())).await? {
            Out::Bool(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    async fn add_tag(&self, device: &DeviceId, tag: &str) -> Result<bool> {
        match self
            .write(Op::Tag(device.clone(), tag.to_owned(), true))
            .await?
        {
            Out::Bool(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    async fn remove_tag(&self, device: &DeviceId, tag: &str) -> Result<bool> {
        match self
            .write(Op::Tag(device.clone(), tag.to_owned(), false))
            .await?
        {
            Out::Bool(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    async fn connection_request_target(
        &self,
        device: &DeviceId,
    ) -> Result<Option<ConnectionRequestTarget>> {
        read::connection_request_target(&self.inner.pool, device).await
    }

    async fn insert_task(&self, task: NewTask) -> Result<TaskId> {
        match self.write(Op::InsertTask(task)).await? {
            Out::Task(id) => Ok(id),
            other => Err(unexpected(other)),
        }
    }

    async fn list_tasks(&self, query: &ListQuery) -> Result<Page> {
        read::list_tasks(&self.inner.pool, query).await
    }

    async fn task_device(&self, task: TaskId) -> Result<Option<DeviceId>> {
        read::task_device(&self.inner.pool, task).await
    }

    async fn delete_task(&self, task: TaskId) -> Result<Option<DeviceId>> {
        match self.write(Op::DeleteTask(task)).await? {
            Out::Device(d) => Ok(d),
            other => Err(unexpected(other)),
        }
    }

    async fn retry_task(&self, task: TaskId) -> Result<bool> {
        match self.write(Op::RetryTask(task)).await? {
            Out::Bool(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    async fn expire_tasks(&self, now: Timestamp) -> Result<u64> {
        match self.write(Op::ExpireTasks(now)).await? {
            Out::Count(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }

    async fn list_faults(&self, query: &ListQuery) -> Result<Page> {
        read::list_faults(&self.inner.pool, query).await
    }

    async fn delete_fault(&self, device: &DeviceId, channel: &str) -> Result<bool> {
        match self
            .write(Op::DeleteFault(device.clone(), channel.to_owned()))
            .await?
        {
            Out::Bool(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    async fn counts(&self) -> Result<(u64, u64)> {
        read::counts(&self.inner.pool).await
    }

    async fn insert_token(&self, token: TokenRecord) -> Result<()> {
        match self.write(Op::InsertToken(token)).await? {
            Out::Unit => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<String>> {
        read::token_by_hash(&self.inner.pool, hash).await
    }

    async fn token_count(&self) -> Result<u64> {
        read::token_count(&self.inner.pool).await
    }

    async fn put_preset(&self, preset: &Preset) -> Result<u64> {
        provisioning::put_preset(&self.inner.pool, preset).await
    }

    async fn preset(&self, name: &Name) -> Result<Option<Preset>> {
        provisioning::preset(&self.inner.pool, name).await
    }

    async fn delete_preset(&self, name: &Name) -> Result<bool> {
        provisioning::delete_preset(&self.inner.pool, name).await
    }

    async fn list_presets(&self) -> Result<Vec<Preset>> {
        provisioning::list_presets(&self.inner.pool).await
    }

    async fn put_script(&self, kind: ScriptKind, name: &Name, source: &str) -> Result<u64> {
        provisioning::put_script(&self.inner.pool, kind, name, source).await
    }

    async fn script(&self, kind: ScriptKind, name: &Name) -> Result<Option<String>> {
        provisioning::script(&self.inner.pool, kind, name).await
    }

    async fn delete_script(&self, kind: ScriptKind, name: &Name) -> Result<bool> {
        provisioning::delete_script(&self.inner.pool, kind, name).await
    }

    async fn list_scripts(&self, kind: ScriptKind) -> Result<Vec<Script>> {
        provisioning::list_scripts(&self.inner.pool, kind).await
    }

    async fn provisioning(&self) -> Result<ProvisioningSnapshot> {
        provisioning::load(&self.inner.pool).await
    }

    async fn provisioning_revision(&self) -> Result<u64> {
        provisioning::revision(&self.inner.pool).await
    }

    async fn import_provisioning(&self, items: &Provisioning, replace: bool) -> Result<u64> {
        provisioning::import(&self.inner.pool, items, replace).await
    }

    fn shared_by_nodes(&self) -> bool {
        true
    }

    async fn claim_session(
        &self,
        device: &DeviceId,
        claim: &SessionClaim,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        // ON CONFLICT ... DO UPDATE ... WHERE locks the row and tests the condition on its
        // newest version, so of two nodes claiming at once exactly one gets a row back.
        let claimed = sqlx::query(
            "INSERT INTO session_leases (device_id, owner, session, expires)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (device_id) DO UPDATE SET owner = EXCLUDED.owner,
                 session = EXCLUDED.session, expires = EXCLUDED.expires
             WHERE session_leases.owner = EXCLUDED.owner OR session_leases.expires <= $5
             RETURNING 1",
        )
        .bind(device.as_str())
        .bind(&claim.owner)
        .bind(&claim.session)
        .bind(until.millis())
        .bind(now.millis())
        .fetch_optional(&self.inner.leases)
        .await?;
        Ok(claimed.is_some())
    }

    async fn release_session(&self, device: &DeviceId, claim: &SessionClaim) -> Result<()> {
        sqlx::query(
            "DELETE FROM session_leases WHERE device_id = $1 AND owner = $2 AND session = $3",
        )
        .bind(device.as_str())
        .bind(&claim.owner)
        .bind(&claim.session)
        .execute(&self.inner.leases)
        .await?;
        Ok(())
    }

    async fn claim_job(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        next: Timestamp,
    ) -> Result<bool> {
        let claimed = sqlx::query(
            "INSERT INTO cluster_jobs (name, owner, next_run) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner,
                 next_run = EXCLUDED.next_run
             WHERE cluster_jobs.next_run <= $4
             RETURNING 1",
        )
        .bind(name)
        .bind(owner)
        .bind(next.millis())
        .bind(now.millis())
        .fetch_optional(&self.inner.leases)
        .await?;
        Ok(claimed.is_some())
    }
}

/// The futures of connecting and migrating are `Send` (sqlx's executors on `&mut
/// PgConnection` easily make them not, which only shows where they are spawned).
#[cfg(test)]
mod send_check {
    fn is_send<T: Send>(_: &T) {}
    #[allow(dead_code)]
    async fn check(c: &super::PgConnectOptions, conn: &mut super::PgConnection) {
        is_send(&super::connect_one(c, None));
        is_send(&super::migrate_locked(conn, None));
        is_send(&super::migrate_with(c, None));
        is_send(&super::PostgresStore::connect(
            "",
            super::PostgresOptions::default(),
        ));
    }
}
