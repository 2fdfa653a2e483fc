//! Provisioning on SQLite: writes on the writer thread (each in its savepoint of a group
//! transaction, with the revision raised in the same savepoint), reads on the readers.

use acs_core::preset::{Name, Preset, ScriptKind};
use rusqlite::{Connection, OptionalExtension};

use super::writer::WriteCtx;
use crate::shared::provisioning::{self as sql, preset_row, preset_text, script_row, script_sql};
use crate::{Provisioning, ProvisioningSnapshot, Result, Script};

impl WriteCtx {
    fn bump_revision(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(sql::BUMP_REVISION)?
            .query_row([], |r| r.get(0))?;
        Ok(sql::revision(n))
    }

    fn upsert_preset(&self, preset: &Preset) -> Result<()> {
        self.conn
            .prepare_cached(sql::PUT_PRESET)?
            .execute((preset.name.as_str(), preset_text(preset)))?;
        Ok(())
    }

    fn upsert_script(&self, kind: ScriptKind, name: &Name, source: &str) -> Result<()> {
        self.conn
            .prepare_cached(script_sql(kind).put)?
            .execute((name.as_str(), source))?;
        Ok(())
    }

    pub(super) fn put_preset(&mut self, preset: &Preset) -> Result<u64> {
        self.upsert_preset(preset)?;
        self.bump_revision()
    }

    pub(super) fn delete_preset(&mut self, name: &Name) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(sql::DELETE_PRESET)?
            .execute([name.as_str()])?;
        if n > 0 {
            self.bump_revision()?;
        }
        Ok(n > 0)
    }

    pub(super) fn put_script(
        &mut self,
        kind: ScriptKind,
        name: &Name,
        source: &str,
    ) -> Result<u64> {
        self.upsert_script(kind, name, source)?;
        self.bump_revision()
    }

    pub(super) fn delete_script(&mut self, kind: ScriptKind, name: &Name) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(script_sql(kind).delete)?
            .execute([name.as_str()])?;
        if n > 0 {
            self.bump_revision()?;
        }
        Ok(n > 0)
    }

    pub(super) fn import_provisioning(
        &mut self,
        items: &Provisioning,
        replace: bool,
    ) -> Result<u64> {
        if replace {
            self.conn.execute(sql::DELETE_ALL_PRESETS, [])?;
            for kind in ScriptKind::ALL {
                self.conn.execute(script_sql(kind).delete_all, [])?;
            }
        }
        for preset in &items.presets {
            self.upsert_preset(preset)?;
        }
        for kind in ScriptKind::ALL {
            for s in items.scripts(kind) {
                self.upsert_script(kind, &s.name, &s.source)?;
            }
        }
        self.bump_revision()
    }
}

pub(super) fn revision(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached(sql::REVISION)?
        .query_row([], |r| r.get(0))?;
    Ok(sql::revision(n))
}

pub(super) fn preset(conn: &Connection, name: &Name) -> Result<Option<Preset>> {
    let json: Option<String> = conn
        .prepare_cached(sql::GET_PRESET)?
        .query_row([name.as_str()], |r| r.get(0))
        .optional()?;
    json.map(|j| crate::shared::provisioning::stored_preset(name, &j))
        .transpose()
}

pub(super) fn list_presets(conn: &Connection) -> Result<Vec<Preset>> {
    let mut stmt = conn.prepare_cached(sql::LIST_PRESETS)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.iter().map(|(n, j)| preset_row(n, j)).collect()
}

pub(super) fn script(conn: &Connection, kind: ScriptKind, name: &Name) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(script_sql(kind).get)?
        .query_row([name.as_str()], |r| r.get(0))
        .optional()?)
}

pub(super) fn list_scripts(conn: &Connection, kind: ScriptKind) -> Result<Vec<Script>> {
    let mut stmt = conn.prepare_cached(script_sql(kind).list)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(|(n, s)| script_row(&n, s)).collect()
}

/// Everything, in one read transaction.
pub(super) fn load(conn: &Connection) -> Result<ProvisioningSnapshot> {
    let tx = conn.unchecked_transaction()?;
    let snapshot = ProvisioningSnapshot {
        revision: revision(&tx)?,
        provisioning: Provisioning {
            presets: list_presets(&tx)?,
            provisions: list_scripts(&tx, ScriptKind::Provision)?,
            virtual_parameters: list_scripts(&tx, ScriptKind::VirtualParameter)?,
        },
    };
    tx.commit()?;
    Ok(snapshot)
}
