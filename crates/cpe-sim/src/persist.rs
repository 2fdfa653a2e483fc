//! Device state on disk (`--state-dir`): one JSON file per device, named after its serial
//! number, holding the tree's changes and the agent's state. A device that finds its file
//! resumes: it boots with `1 BOOT` rather than `0 BOOTSTRAP`, delivers the TransferComplete
//! of a download that finished before the restart, keeps the ACS's parameter values and
//! attributes.
//!
//! Files are replaced by rename, so a crash leaves the old state or the new one, never half
//! of each.

use std::io;
use std::path::{Path, PathBuf};

use cpe::agent::AgentState;
use cpe::tree::{Identity, OverlayState};
use serde::{Deserialize, Serialize};

/// The format version written in each file.
const FORMAT: u32 = 1;

/// What one device keeps across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceFile {
    /// [`FORMAT`].
    pub format: u32,
    /// Who the device is (a check that the file belongs to it).
    pub identity: Identity,
    /// The tree's changes.
    pub tree: OverlayState,
    /// The agent's state.
    pub agent: AgentState,
}

impl DeviceFile {
    /// A file's contents for a device.
    pub fn new(identity: Identity, tree: OverlayState, agent: AgentState) -> DeviceFile {
        DeviceFile {
            format: FORMAT,
            identity,
            tree,
            agent,
        }
    }
}

/// Why a state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The file is not a device state of this version.
    #[error("{path}: not a cpe-sim device state: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Uses (and creates) `dir`.
    pub fn open(dir: &Path) -> Result<StateDir, PersistError> {
        std::fs::create_dir_all(dir).map_err(|source| PersistError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok(StateDir {
            dir: dir.to_owned(),
        })
    }

    /// The file of the device with this serial number (serials are checked by
    /// [`crate::serial::SerialPattern`] to be file-name safe; others are hex-escaped).
    pub fn path(&self, serial: &str) -> PathBuf {
        let safe = !serial.is_empty()
            && !serial.starts_with('.')
            && serial
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        let name = if safe {
            format!("{serial}.json")
        } else {
            format!("x-{}.json", hex::encode(serial))
        };
        self.dir.join(name)
    }

    /// The saved state of a device, `None` if it has none yet.
    pub async fn load(&self, identity: &Identity) -> Result<Option<DeviceFile>, PersistError> {
        let path = self.path(&identity.serial_number);
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(PersistError::Io { path, source }),
        };
        let file: DeviceFile =
            serde_json::from_slice(&bytes).map_err(|e| PersistError::Format {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if file.format != FORMAT {
            return Err(PersistError::Format {
                path,
                reason: format!("format {} (this cpe-sim writes {FORMAT})", file.format),
            });
        }
        if file.identity.serial_number != identity.serial_number {
            return Err(PersistError::Format {
                path,
                reason: format!(
                    "it belongs to serial number {:?}",
                    file.identity.serial_number
                ),
            });
        }
        Ok(Some(file))
    }

    /// Saves a device's state (write to a temporary file, then rename over the old one).
    pub async fn save(&self, file: &DeviceFile) -> Result<(), PersistError> {
        let path = self.path(&file.identity.serial_number);
        let json = serde_json::to_vec(file).map_err(|e| PersistError::Format {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let tmp = path.with_extension("json.tmp");
        let io = |source| PersistError::Io {
            path: path.clone(),
            source,
        };
        tokio::fs::write(&tmp, &json).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(serial: &str) -> Identity {
        Identity {
            manufacturer: "M".into(),
            oui: "02C0DE".into(),
            product_class: "P".into(),
            serial_number: serial.into(),
            index: 3,
        }
    }

    #[tokio::test]
    async fn round_trip_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::open(&dir.path().join("sub")).unwrap();
        let id = identity("SIM0001");
        assert_eq!(sd.load(&id).await.unwrap(), None);
        let mut tree = OverlayState::default();
        tree.values
            .insert("Device.ManagementServer.URL".into(), "http://x/".into());
        let file = DeviceFile::new(id.clone(), tree, AgentState::default());
        sd.save(&file).await.unwrap();
        assert_eq!(sd.load(&id).await.unwrap(), Some(file.clone()));

        // A file copied under another serial's name is refused.
        std::fs::copy(sd.path("SIM0001"), sd.path("SIM0002")).unwrap();
        let err = sd.load(&identity("SIM0002")).await.unwrap_err();
        assert!(err.to_string().contains("belongs to"), "{err}");

        // Garbage is refused with the file's name.
        std::fs::write(sd.path("SIM0003"), b"{not json").unwrap();
        let err = sd.load(&identity("SIM0003")).await.unwrap_err();
        assert!(err.to_string().contains("SIM0003.json"), "{err}");
    }

    #[test]
    fn unsafe_serials_are_escaped() {
        let sd = StateDir {
            dir: PathBuf::from("/s"),
        };
        assert_eq!(sd.path("A-1.b"), PathBuf::from("/s/A-1.b.json"));
        assert_eq!(sd.path("../x"), PathBuf::from("/s/x-2e2e2f78.json"));
        assert_eq!(sd.path(""), PathBuf::from("/s/x-.json"));
    }
}
