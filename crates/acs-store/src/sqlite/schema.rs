//! Connections, PRAGMAs and migrations.

use std::path::Path;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags};

use super::{SqliteOptions, open_connection};
use crate::{Result, StoreError};

/// The migrations, in order: (version, SQL). Each runs once, in a transaction.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_initial.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_provisioning.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_periodic_informs.sql"),
    ),
    (
        4,
        include_str!("../../migrations/sqlite/0004_inform_digest_per_parameter.sql"),
    ),
];

/// Opens the database at `path` (creating it if needed) and applies the pending
/// migrations; returns the versions applied. `acs migrate` calls this; opening the store
/// does it too.
pub fn migrate(path: &Path) -> Result<Vec<i64>> {
    let conn = open_writer(path, &SqliteOptions::default())?;
    apply_migrations(&conn)
}

/// The write connection, with its PRAGMAs.
///
/// The WAL is checkpointed every `SqliteOptions::checkpoint_frames` frames, 64 MiB by
/// default, rather than SQLite's 4 MiB: parameter rows land on random pages of the value
/// indexes, and each checkpoint writes every page changed since the last one, so a page
/// changed by many groups is written back once rather than once per group (about a
/// quarter less written for new devices, measured). The WAL file is cut back to 64 MiB
/// after a checkpoint. The store's writer hands its checkpoints to a thread of their own
/// (`checkpoint.rs`) at the same mark; other users of this connection (migrations, `acs
/// provisioning import`) keep SQLite's automatic one.
pub(super) fn open_writer(path: &Path, options: &SqliteOptions) -> Result<Connection> {
    let conn = open_connection(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        options.busy_timeout,
    )?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database(format!(
            "{} cannot use WAL mode (journal mode {mode})",
            path.display()
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync};
         PRAGMA cache_size = -{cache};
         PRAGMA temp_store = MEMORY;
         PRAGMA foreign_keys = OFF;
         PRAGMA wal_autocheckpoint = {checkpoint};
         PRAGMA journal_size_limit = 67108864;",
        sync = synchronous(options),
        cache = u64::from(options.cache_mib.max(1)) * 1024,
        checkpoint = options.checkpoint_frames,
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// The `synchronous` setting of the connections that write.
fn synchronous(options: &SqliteOptions) -> &'static str {
    if options.synchronous_full {
        "FULL"
    } else {
        "NORMAL"
    }
}

/// The checkpointer's connection (`checkpoint.rs`). A checkpoint syncs the WAL before it
/// copies and the database file after, as the connection's `synchronous` says: the
/// writer's setting.
pub(super) fn open_checkpointer(path: &Path, options: &SqliteOptions) -> Result<Connection> {
    let conn = open_connection(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        options.busy_timeout,
    )?;
    conn.execute_batch(&format!("PRAGMA synchronous = {};", synchronous(options)))?;
    Ok(conn)
}

/// A read-only connection with the REGEXP function.
pub(super) fn open_reader(path: &Path, options: &SqliteOptions) -> Result<Connection> {
    let conn = open_connection(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        options.busy_timeout,
    )?;
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -{cache}; PRAGMA temp_store = MEMORY;",
        cache = u64::from(options.cache_mib.max(4)) * 256,
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let re = ctx.get_or_create_aux(0, |pattern| -> Result<regex::Regex> {
                let pattern = pattern
                    .as_str()
                    .map_err(|e| StoreError::Database(e.to_string()))?;
                crate::shared::filter::compile_regex(pattern)
                    .map_err(|e| StoreError::Database(e.to_string()))
            })?;
            Ok(match ctx.get_raw(1) {
                rusqlite::types::ValueRef::Text(t) => {
                    std::str::from_utf8(t).is_ok_and(|s| re.is_match(s))
                }
                _ => false,
            })
        },
    )?;
    Ok(conn)
}

/// Applies the migrations not yet applied, each in its own transaction; returns their
/// versions. Refuses a database written by a newer program.
pub(crate) fn apply_migrations(conn: &Connection) -> Result<Vec<i64>> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             applied_at INTEGER NOT NULL
         )",
    )?;
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| -> Result<bool> {
            let current: Option<i64> =
                conn.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                    r.get(0)
                })?;
            let current = current.unwrap_or(0);
            let newest = MIGRATIONS.last().map_or(0, |m| m.0);
            if current > newest {
                return Err(StoreError::Database(format!(
                    "the database schema is version {current}, newer than this program's \
                     {newest}"
                )));
            }
            if current >= version {
                return Ok(false);
            }
            conn.execute_batch(sql)?;
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                (version, now_millis()),
            )?;
            Ok(true)
        })();
        match result {
            Ok(done) => {
                conn.execute_batch("COMMIT")?;
                if done {
                    applied.push(version);
                }
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
    }
    Ok(applied)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
