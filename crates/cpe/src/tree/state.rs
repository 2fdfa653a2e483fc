//! The overlay of a [`Tree`] in a serializable form, keyed by concrete paths rather than
//! template ids, so that it survives a process restart and, as far as paths still exist,
//! a change of template.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Attr, Identity, Overlay, Table, Target, Template, Tree, key};
use crate::model::ParamId;
use crate::time::Time;

/// Attributes the ACS set on one parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeState {
    /// Notification, 0–6.
    pub notification: u8,
    /// The access list (`Subscriber` or nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_list: Vec<String>,
}

/// A table whose instances differ from the factory's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    /// Instance numbers, ascending.
    pub instances: Vec<u32>,
    /// The number the next instance gets (never reused, notes §6.2).
    pub next_instance: u32,
}

/// Everything a device changed, by path: what [`Tree::overlay_state`] gives and
/// [`Tree::with_state`] takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayState {
    /// When the device last booted.
    pub boot_time: Time,
    /// Parameter values that differ from the factory's (canonical text).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// Attributes set by the ACS.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeState>,
    /// Tables (`Device.NAT.PortMapping.`) whose instances changed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, TableState>,
    /// Changed parameters awaiting an Inform, with whether their notification is active.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, bool>,
}

impl Tree {
    /// The device's state, for saving.
    pub fn overlay_state(&self) -> OverlayState {
        let name = |k: &[u32]| -> Option<String> {
            let (&p, nums) = k.split_first()?;
            Some(self.param_name(ParamId(p), nums))
        };
        let o = &self.overlay;
        OverlayState {
            boot_time: self.boot,
            values: o
                .values
                .iter()
                .filter_map(|(k, v)| Some((name(k)?, v.to_string())))
                .collect(),
            attributes: o
                .attrs
                .iter()
                .filter_map(|(k, a)| {
                    Some((
                        name(k)?,
                        AttributeState {
                            notification: a.notification,
                            access_list: if a.subscriber {
                                vec!["Subscriber".to_owned()]
                            } else {
                                Vec::new()
                            },
                        },
                    ))
                })
                .collect(),
            tables: o
                .tables
                .iter()
                .filter_map(|(k, t)| {
                    let (&id, parent) = k.split_first()?;
                    Some((
                        self.table_name(crate::model::ObjectId(id), parent),
                        TableState {
                            instances: t.instances.clone(),
                            next_instance: t.next,
                        },
                    ))
                })
                .collect(),
            pending: o
                .pending
                .iter()
                .filter_map(|(k, a)| Some((name(k)?, *a)))
                .collect(),
        }
    }

    /// A device restored from saved state. Entries naming paths the template does not have
    /// (or values that no longer fit their parameter) are dropped.
    pub fn with_state(template: Arc<Template>, identity: Identity, state: &OverlayState) -> Tree {
        let mut tree = Tree {
            template,
            identity,
            boot: state.boot_time,
            overlay: Overlay::default(),
        };
        // Parent tables sort before their descendants (their path is a prefix).
        for (path, t) in &state.tables {
            if let Some(Target::Table(id, parent)) = tree.resolve(path) {
                let mut instances = t.instances.clone();
                instances.sort_unstable();
                instances.dedup();
                instances.retain(|&n| n > 0);
                let floor = instances.last().map_or(1, |n| n.saturating_add(1));
                tree.overlay.tables.insert(
                    key(id.0, &parent),
                    Table {
                        instances,
                        next: t.next_instance.max(floor),
                    },
                );
            }
        }
        for (path, v) in &state.values {
            if let Some(Target::Param(p, nums)) = tree.resolve(path)
                && let Ok(c) = tree.model().check_text(p, v)
            {
                tree.overlay
                    .values
                    .insert(key(p.0, &nums), c.into_boxed_str());
            }
        }
        for (path, a) in &state.attributes {
            if let Some(Target::Param(p, nums)) = tree.resolve(path) {
                tree.overlay.attrs.insert(
                    key(p.0, &nums),
                    Attr {
                        notification: a.notification.min(6),
                        subscriber: a.access_list.iter().any(|s| s == "Subscriber"),
                    },
                );
            }
        }
        for (path, active) in &state.pending {
            if let Some(Target::Param(p, nums)) = tree.resolve(path) {
                tree.overlay.pending.insert(key(p.0, &nums), *active);
            }
        }
        tree
    }
}
