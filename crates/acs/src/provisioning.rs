//! `acs provisioning export DIR` and `acs provisioning import DIR`: provisioning as files,
//! to keep in version control or move between ACS installations.
//!
//! The layout, one file per item, named by the item:
//!
//! ```text
//! DIR/presets/<name>.json              the preset's JSON form (without _id)
//! DIR/provisions/<name>.js             the provision's source, byte for byte
//! DIR/virtual_parameters/<name>.js     the virtual parameter's source, byte for byte
//! ```
//!
//! Import reads and checks every file first (a preset as `PUT /presets/{name}` checks
//! it, a script as [`crate::api::check_script`] does) and writes nothing if any is
//! invalid; otherwise it writes everything in one transaction of the store. Entries whose
//! name starts with `.` (`.git`, `.gitkeep`) and files directly in `DIR` are ignored;
//! anything else that is not an item is an error, so that a misspelt directory or a
//! stray file does not go unnoticed.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use acs_core::preset::{Name, Preset, ScriptKind};
use acs_store::{Provisioning, Script, Store, StoreError};
use serde_json::Value;

/// The directory of presets.
const PRESETS: &str = "presets";

/// What went wrong with provisioning files.
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    /// Files that are not valid items; nothing was written.
    #[error("{}", FileErrors(.0))]
    Invalid(Vec<FileError>),
    /// Reading or writing a file failed.
    #[error("{}: {error}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One invalid file, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// Why it is refused.
    pub reason: String,
}

struct FileErrors<'a>(&'a [FileError]);

impl fmt::Display for FileErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nothing imported: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{}: {}", e.path.display(), e.reason)?;
        }
        Ok(())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProvisioningError + '_ {
    move |error| ProvisioningError::Io {
        path: path.to_owned(),
        error,
    }
}

/// What an export or import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Presets written.
    pub presets: usize,
    /// Provisions written.
    pub provisions: usize,
    /// Virtual parameters written.
    pub virtual_parameters: usize,
    /// Export: files of items no longer in the store, removed.
    pub removed: Vec<PathBuf>,
    /// The store's provisioning revision exported, or reached by the import.
    pub revision: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} presets, {} provisions, {} virtual parameters (revision {})",
            self.presets, self.provisions, self.virtual_parameters, self.revision
        )?;
        for path in &self.removed {
            write!(f, "\nremoved {}", path.display())?;
        }
        Ok(())
    }
}

fn extension(kind: Option<ScriptKind>) -> &'static str {
    match kind {
        None => "json",
        Some(_) => "js",
    }
}

fn dir_name(kind: Option<ScriptKind>) -> &'static str {
    kind.map_or(PRESETS, ScriptKind::collection)
}

/// Writes all of the store's provisioning under `dir` (created if needed), one snapshot.
/// Files of the layout's kind (`*.json` in `presets/`, `*.js` in the script directories)
/// that no longer name an item are removed, so that the directory mirrors the store and a
/// later import does not bring back what was deleted.
pub async fn export(store: &impl Store, dir: &Path) -> Result<Summary, ProvisioningError> {
    let snapshot = store.provisioning().await?;
    let p = &snapshot.provisioning;
    let mut summary = Summary {
        presets: p.presets.len(),
        provisions: p.provisions.len(),
        virtual_parameters: p.virtual_parameters.len(),
        removed: Vec::new(),
        revision: snapshot.revision,
    };
    let mut write = |kind: Option<ScriptKind>, files: Vec<(&Name, Vec<u8>)>| {
        let sub = dir.join(dir_name(kind));
        std::fs::create_dir_all(&sub).map_err(io(&sub))?;
        let ext = extension(kind);
        let mut kept = BTreeSet::new();
        for (name, bytes) in files {
            let path = sub.join(format!("{name}.{ext}"));
            std::fs::write(&path, bytes).map_err(io(&path))?;
            kept.insert(path);
        }
        for entry in std::fs::read_dir(&sub).map_err(io(&sub))? {
            let path = entry.map_err(io(&sub))?.path();
            if path.is_file() && path.extension().is_some_and(|e| e == ext) && !kept.contains(&path)
            {
                std::fs::remove_file(&path).map_err(io(&path))?;
                summary.removed.push(path);
            }
        }
        Ok::<(), ProvisioningError>(())
    };
    write(
        None,
        p.presets
            .iter()
            .map(|preset| {
                let mut text = serde_json::to_string_pretty(&preset.to_json())
                    .unwrap_or_default()
                    .into_bytes();
                text.push(b'\n');
                (&preset.name, text)
            })
            .collect(),
    )?;
    for kind in ScriptKind::ALL {
        write(
            Some(kind),
            p.scripts(kind)
                .iter()
                .map(|s| (&s.name, s.source.clone().into_bytes()))
                .collect(),
        )?;
    }
    summary.removed.sort();
    Ok(summary)
}

/// Reads and checks everything under `dir`; every invalid file is reported.
pub fn read(dir: &Path) -> Result<Provisioning, ProvisioningError> {
    let mut out = Provisioning::default();
    let mut errors = Vec::new();
    let meta = std::fs::metadata(dir).map_err(io(dir))?;
    if !meta.is_dir() {
        return Err(ProvisioningError::Invalid(vec![FileError {
            path: dir.to_owned(),
            reason: "not a directory".into(),
        }]));
    }
    let known = [
        None,
        Some(ScriptKind::Provision),
        Some(ScriptKind::VirtualParameter),
    ];
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden || !path.is_dir() {
            continue;
        }
        if !known
            .iter()
            .any(|k| path.file_name().is_some_and(|n| n == dir_name(*k)))
        {
            errors.push(FileError {
                path,
                reason: "not one of presets/, provisions/, virtual_parameters/".into(),
            });
        }
    }
    for kind in known {
        let sub = dir.join(dir_name(kind));
        if !sub.exists() {
            continue;
        }
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&sub).map_err(io(&sub))? {
            entries.push(entry.map_err(io(&sub))?.path());
        }
        entries.sort();
        for path in entries {
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            match read_item(&path, kind) {
                Ok(Item::Preset(p)) => out.presets.push(*p),
                Ok(Item::Script(k, s)) => out.scripts_mut(k).push(s),
                Err(reason) => errors.push(FileError { path, reason }),
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ProvisioningError::Invalid(errors))
    }
}

enum Item {
    Preset(Box<Preset>),
    Script(ScriptKind, Script),
}

/// One file: its name is the item's name, its contents checked as the API checks them.
fn read_item(path: &Path, kind: Option<ScriptKind>) -> Result<Item, String> {
    let ext = extension(kind);
    if !path.is_file() {
        return Err(format!("not a .{ext} file"));
    }
    let stem = match (path.file_stem(), path.extension()) {
        (Some(stem), Some(e)) if e == ext => stem.to_string_lossy().into_owned(),
        _ => return Err(format!("not a .{ext} file")),
    };
    let name = Name::parse(&stem).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    match kind {
        None => {
            let json: Value = serde_json::from_slice(&bytes)
                .map_err(|e| format!("the preset is not JSON: {e}"))?;
            Preset::from_json(&name, &json)
                .map(|p| Item::Preset(Box::new(p)))
                .map_err(|e| e.to_string())
        }
        Some(kind) => {
            crate::api::check_script(kind, &name, &bytes).map_err(|e| e.to_string())?;
            let source = String::from_utf8(bytes).map_err(|e| e.to_string())?;
            Ok(Item::Script(kind, Script { name, source }))
        }
    }
}

/// Checks everything under `dir`, then writes it to the store in one transaction (with
/// `replace`, deleting whatever the directory does not hold).
pub async fn import(
    store: &impl Store,
    dir: &Path,
    replace: bool,
) -> Result<Summary, ProvisioningError> {
    let items = read(dir)?;
    let revision = store.import_provisioning(&items, replace).await?;
    Ok(Summary {
        presets: items.presets.len(),
        provisions: items.provisions.len(),
        virtual_parameters: items.virtual_parameters.len(),
        removed: Vec::new(),
        revision,
    })
}
