//! Provisioning's statements, run unchanged by both backends (`$N` placeholders, each used
//! once and in order, which SQLite binds by position), and its rows to domain values.
//!
//! Every write runs in one transaction with [`BUMP_REVISION`], so the revision read with
//! the contents in one snapshot names exactly those contents.

use acs_core::preset::{Name, Preset, ScriptKind};
use serde_json::Value;

use crate::{Result, Script, StoreError};

/// Raises the revision and returns it.
pub(crate) const BUMP_REVISION: &str =
    "UPDATE provisioning_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision";

pub(crate) const REVISION: &str = "SELECT revision FROM provisioning_revision WHERE id = 1";

pub(crate) const PUT_PRESET: &str = "INSERT INTO presets (name, json) VALUES ($1, $2) \
     ON CONFLICT (name) DO UPDATE SET json = excluded.json";
pub(crate) const GET_PRESET: &str = "SELECT json FROM presets WHERE name = $1";
pub(crate) const DELETE_PRESET: &str = "DELETE FROM presets WHERE name = $1";
pub(crate) const LIST_PRESETS: &str = "SELECT name, json FROM presets ORDER BY name";
pub(crate) const DELETE_ALL_PRESETS: &str = "DELETE FROM presets";

/// The statements of one kind of script, whose table is the collection's name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScriptSql {
    pub(crate) put: &'static str,
    pub(crate) get: &'static str,
    pub(crate) delete: &'static str,
    pub(crate) list: &'static str,
    pub(crate) delete_all: &'static str,
}

macro_rules! script_sql {
    ($table:literal) => {
        ScriptSql {
            put: concat!(
                "INSERT INTO ",
                $table,
                " (name, script) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET script = excluded.script"
            ),
            get: concat!("SELECT script FROM ", $table, " WHERE name = $1"),
            delete: concat!("DELETE FROM ", $table, " WHERE name = $1"),
            list: concat!("SELECT name, script FROM ", $table, " ORDER BY name"),
            delete_all: concat!("DELETE FROM ", $table),
        }
    };
}

const PROVISIONS: ScriptSql = script_sql!("provisions");
const VIRTUAL_PARAMETERS: ScriptSql = script_sql!("virtual_parameters");

/// The statements of `kind`.
pub(crate) fn script_sql(kind: ScriptKind) -> ScriptSql {
    match kind {
        ScriptKind::Provision => PROVISIONS,
        ScriptKind::VirtualParameter => VIRTUAL_PARAMETERS,
    }
}

/// A preset as stored: its JSON text without the name.
pub(crate) fn preset_text(preset: &Preset) -> String {
    preset.to_json().to_string()
}

/// A stored name. Only names that were checked are written, so a bad one means the row
/// was written by something else.
pub(crate) fn stored_name(name: &str) -> Result<Name> {
    Name::parse(name).map_err(|e| StoreError::Database(format!("stored provisioning name: {e}")))
}

/// A stored preset, checked again as it is read (its patterns are compiled here).
pub(crate) fn stored_preset(name: &Name, json: &str) -> Result<Preset> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| StoreError::Database(format!("stored preset {name}: {e}")))?;
    Preset::from_json(name, &value)
        .map_err(|e| StoreError::Database(format!("stored preset {name}: {e}")))
}

/// A preset row (`name, json`).
pub(crate) fn preset_row(name: &str, json: &str) -> Result<Preset> {
    stored_preset(&stored_name(name)?, json)
}

/// A script row (`name, script`).
pub(crate) fn script_row(name: &str, source: String) -> Result<Script> {
    Ok(Script {
        name: stored_name(name)?,
        source,
    })
}

/// A revision from SQL (never negative: it starts at 0 and only goes up).
pub(crate) fn revision(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
