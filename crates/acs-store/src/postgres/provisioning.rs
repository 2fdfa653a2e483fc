//! Provisioning on PostgreSQL. Writes are rare operator actions, so each runs in a
//! transaction of its own on a pooled connection rather than through the group-commit
//! writer; raising the revision in that transaction locks its one row, so writers on any
//! node take turns and every write gets its own revision. Reads of everything run in one
//! snapshot, so the revision read names exactly the contents read with it.

use acs_core::preset::{Name, Preset, ScriptKind};
use sqlx::{PgConnection, PgPool, Row};

use super::read::snapshot;
use crate::shared::provisioning::{
    self as sql, preset_row, preset_text, script_row, script_sql, stored_preset,
};
use crate::{Provisioning, ProvisioningSnapshot, Result, Script};

async fn bump_revision(conn: &mut PgConnection) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(sql::BUMP_REVISION)
        .fetch_one(conn)
        .await?;
    Ok(sql::revision(n))
}

async fn upsert_preset(conn: &mut PgConnection, preset: &Preset) -> Result<()> {
    sqlx::query(sql::PUT_PRESET)
        .bind(preset.name.as_str())
        .bind(preset_text(preset))
        .execute(conn)
        .await?;
    Ok(())
}

async fn upsert_script(
    conn: &mut PgConnection,
    kind: ScriptKind,
    name: &Name,
    source: &str,
) -> Result<()> {
    sqlx::query(script_sql(kind).put)
        .bind(name.as_str())
        .bind(source)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn put_preset(pool: &PgPool, preset: &Preset) -> Result<u64> {
    let mut tx = pool.begin().await?;
    upsert_preset(&mut tx, preset).await?;
    let revision = bump_revision(&mut tx).await?;
    tx.commit().await?;
    Ok(revision)
}

pub(super) async fn put_script(
    pool: &PgPool,
    kind: ScriptKind,
    name: &Name,
    source: &str,
) -> Result<u64> {
    let mut tx = pool.begin().await?;
    upsert_script(&mut tx, kind, name, source).await?;
    let revision = bump_revision(&mut tx).await?;
    tx.commit().await?;
    Ok(revision)
}

/// Runs a delete statement on `name`; raises the revision only if a row went.
async fn delete(pool: &PgPool, statement: &str, name: &Name) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query(statement)
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    if deleted {
        bump_revision(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

pub(super) async fn delete_preset(pool: &PgPool, name: &Name) -> Result<bool> {
    delete(pool, sql::DELETE_PRESET, name).await
}

pub(super) async fn delete_script(pool: &PgPool, kind: ScriptKind, name: &Name) -> Result<bool> {
    delete(pool, script_sql(kind).delete, name).await
}

pub(super) async fn import(pool: &PgPool, items: &Provisioning, replace: bool) -> Result<u64> {
    let mut tx = pool.begin().await?;
    if replace {
        sqlx::query(sql::DELETE_ALL_PRESETS)
            .execute(&mut *tx)
            .await?;
        for kind in ScriptKind::ALL {
            sqlx::query(script_sql(kind).delete_all)
                .execute(&mut *tx)
                .await?;
        }
    }
    for preset in &items.presets {
        upsert_preset(&mut tx, preset).await?;
    }
    for kind in ScriptKind::ALL {
        for s in items.scripts(kind) {
            upsert_script(&mut tx, kind, &s.name, &s.source).await?;
        }
    }
    let revision = bump_revision(&mut tx).await?;
    tx.commit().await?;
    Ok(revision)
}

pub(super) async fn revision(pool: &PgPool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(sql::REVISION).fetch_one(pool).await?;
    Ok(sql::revision(n))
}

pub(super) async fn preset(pool: &PgPool, name: &Name) -> Result<Option<Preset>> {
    let json: Option<String> = sqlx::query_scalar(sql::GET_PRESET)
        .bind(name.as_str())
        .fetch_optional(pool)
        .await?;
    json.map(|j| stored_preset(name, &j)).transpose()
}

pub(super) async fn script(pool: &PgPool, kind: ScriptKind, name: &Name) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(script_sql(kind).get)
        .bind(name.as_str())
        .fetch_optional(pool)
        .await?)
}

async fn presets_on(conn: &mut PgConnection) -> Result<Vec<Preset>> {
    let rows = sqlx::query(sql::LIST_PRESETS).fetch_all(conn).await?;
    rows.iter()
        .map(|r| preset_row(r.try_get(0)?, r.try_get(1)?))
        .collect()
}

async fn scripts_on(conn: &mut PgConnection, kind: ScriptKind) -> Result<Vec<Script>> {
    let rows = sqlx::query(script_sql(kind).list).fetch_all(conn).await?;
    rows.iter()
        .map(|r| script_row(r.try_get(0)?, r.try_get(1)?))
        .collect()
}

pub(super) async fn list_presets(pool: &PgPool) -> Result<Vec<Preset>> {
    presets_on(&mut *pool.acquire().await?).await
}

pub(super) async fn list_scripts(pool: &PgPool, kind: ScriptKind) -> Result<Vec<Script>> {
    scripts_on(&mut *pool.acquire().await?, kind).await
}

pub(super) async fn load(pool: &PgPool) -> Result<ProvisioningSnapshot> {
    let mut tx = snapshot(pool).await?;
    let revision: i64 = sqlx::query_scalar(sql::REVISION)
        .fetch_one(&mut *tx)
        .await?;
    let presets = presets_on(&mut tx).await?;
    let provisions = scripts_on(&mut tx, ScriptKind::Provision).await?;
    let virtual_parameters = scripts_on(&mut tx, ScriptKind::VirtualParameter).await?;
    tx.commit().await?;
    Ok(ProvisioningSnapshot {
        revision: sql::revision(revision),
        provisioning: Provisioning {
            presets,
            provisions,
            virtual_parameters,
        },
    })
}
