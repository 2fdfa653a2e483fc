//! Periodic Informs that repeat the last one, and what lets the writers skip their
//! parameter rows.
//!
//! A CPE's periodic Inform carries the same Forced Inform parameters with, nearly always,
//! the same values (TR-069 §3.7.1.5: the Inform's ParameterList holds the Forced Inform
//! parameters and those whose change is to be notified). Each one's read time is the
//! Inform's time. Rewriting those rows for every Inform only to move their read time was
//! half of what the SQLite writer spent on a periodic session (BENCHMARKS.md). So:
//!
//! - A parameter row written from an Inform, with a value read at the Inform's time,
//!   stores [`INFORMED`] as its read time, which means "the device's `last_inform`";
//!   readers substitute it ([`read_time`]).
//! - The device row keeps a digest of its last Inform's parameters ([`InformDigest`]):
//!   `inform_values` over paths and values, `inform_paths` over paths alone.
//! - An Inform whose values digest equals the stored one leaves the parameter rows alone:
//!   moving `last_inform` moves their read time. Every other write of a device's
//!   parameters clears `inform_values`, so the digest only ever stands for rows that hold
//!   exactly the last Inform's values.
//! - An Inform with other paths first gives the rows still marked [`INFORMED`] the time of
//!   the Inform before (they were read then, and are not read now). Other writes never
//!   add marked rows, so the stored `inform_paths` covers every marked row, and an Inform
//!   with the same paths needs no such step.

use acs_core::change::ParamUpdate;
use acs_core::device::ValueType;
use xxhash_rust::xxh3::Xxh3;

/// The read time of a parameter row that the device's last Inform carried: the device's
/// `last_inform` stands for it. No real time is -1 ms.
pub(crate) const INFORMED: i64 = -1;

/// The read time to store for `u`, written by an Inform of time `informed_at` (or by
/// another write: `None`).
pub(crate) fn stored_read_time(u: &ParamUpdate, informed_at: Option<i64>) -> Option<i64> {
    let ts = u.ts.map(acs_core::Timestamp::millis);
    match informed_at {
        Some(at) if ts == Some(at) && u.value.is_some() && !u.object => Some(INFORMED),
        _ => ts,
    }
}

/// Gives the rows still marked [`INFORMED`] the time of the Inform that read them: `$1`
/// that time, `$2` the device.
pub(crate) const UNMARK_INFORMED: &str = "UPDATE params SET ts = $1 WHERE device = $2 AND ts = -1";

/// Clears a device's Inform values digest: another write changed its parameters.
pub(crate) const FORGET_INFORM_VALUES: &str =
    "UPDATE devices SET inform_values = NULL WHERE id = $1 AND inform_values IS NOT NULL";

/// The SQL expression of a `params` row's read time, `table` naming the row (the table or
/// its alias).
pub(crate) fn read_time(table: &str) -> String {
    format!(
        "CASE WHEN {table}.ts = -1 THEN (SELECT last_inform FROM devices \
         WHERE devices.id = {table}.device) ELSE {table}.ts END"
    )
}

/// Digests of an Inform's parameters, stored on the device row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InformDigest {
    /// Over every field a parameter row takes from the Inform, in the Inform's order,
    /// but the read time of those marked [`INFORMED`].
    pub(crate) values: i64,
    /// Over the paths alone.
    pub(crate) paths: i64,
}

impl InformDigest {
    /// XXH3 (64 bits), a fixed algorithm: digests stored by one version or node compare
    /// with another's. A collision could only hide a device's own change from itself
    /// until its next other write; a differing digest merely costs the rewrite.
    pub(crate) fn of(params: &[ParamUpdate], at: i64) -> InformDigest {
        let mut values = Xxh3::new();
        let mut paths = Xxh3::new();
        for u in params {
            match stored_read_time(u, Some(at)) {
                Some(INFORMED) => values.update(&[0]),
                ts => {
                    values.update(&[1]);
                    values.update(&ts.unwrap_or(i64::MIN).to_le_bytes());
                }
            }
            field(&mut paths, u.path.as_bytes());
            field(&mut values, u.path.as_bytes());
            values.update(&[
                u8::from(u.object),
                match u.writable {
                    None => 2,
                    Some(w) => u8::from(w),
                },
            ]);
            match &u.value {
                None => values.update(&[0]),
                Some(v) => {
                    values.update(&[1, v.value_type.code()]);
                    if let ValueType::Other(name) = &v.value_type {
                        field(&mut values, name.as_bytes());
                    }
                    field(&mut values, v.text.as_bytes());
                }
            }
            match &u.attributes {
                None => values.update(&[0]),
                Some((a, ts)) => {
                    values.update(&[1, a.notification]);
                    values.update(&ts.millis().to_le_bytes());
                    values.update(&(a.access_list.len() as u64).to_le_bytes());
                    for name in &a.access_list {
                        field(&mut values, name.as_bytes());
                    }
                }
            }
        }
        InformDigest {
            values: i64::from_le_bytes(values.digest().to_le_bytes()),
            paths: i64::from_le_bytes(paths.digest().to_le_bytes()),
        }
    }
}

/// A length-prefixed field, so that fields cannot run into one another.
fn field(h: &mut Xxh3, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// What the device row said of the Inform before this one.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LastInform {
    pub(crate) values: Option<i64>,
    pub(crate) paths: Option<i64>,
    pub(crate) at: Option<i64>,
}

/// What an Inform must do to the device's parameter rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamsPlan {
    /// The rows hold the Inform's values already: nothing.
    Keep,
    /// Write the Inform's rows, marked [`INFORMED`].
    Write,
    /// First give the rows still marked the time of the Inform before (`at`), then write.
    UnmarkThenWrite { at: i64 },
}

impl LastInform {
    /// The plan for an Inform with `digest`; `reset` when the device's rows were just
    /// deleted (a bootstrap).
    pub(crate) fn plan(&self, digest: InformDigest, reset: bool) -> ParamsPlan {
        if reset {
            ParamsPlan::Write
        } else if self.values == Some(digest.values) {
            ParamsPlan::Keep
        } else if self.paths == Some(digest.paths) || self.at.is_none() {
            // Same paths: every marked row is written again. No earlier Inform: no row
            // is marked.
            ParamsPlan::Write
        } else {
            ParamsPlan::UnmarkThenWrite {
                at: self.at.unwrap_or(0),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use acs_core::Timestamp;
    use acs_core::device::{Attributes, StoredValue};

    fn p(path: &str, text: &str) -> ParamUpdate {
        ParamUpdate {
            path: path.into(),
            object: false,
            writable: None,
            value: Some(StoredValue {
                text: text.into(),
                value_type: ValueType::String,
            }),
            ts: Some(Timestamp(1)),
            attributes: None,
        }
    }

    #[test]
    fn digests_see_every_stored_field_but_the_read_time() {
        let base = vec![p("A.B", "x"), p("A.C", "y")];
        let d = InformDigest::of(&base, 1);
        let later: Vec<ParamUpdate> = base
            .iter()
            .map(|u| ParamUpdate {
                ts: Some(Timestamp(2)),
                ..u.clone()
            })
            .collect();
        assert_eq!(InformDigest::of(&later, 2), d);
        // A read time other than the Inform's is stored as it is, and counts.
        assert_ne!(InformDigest::of(&later, 1), d);

        type Change = Box<dyn Fn(&mut ParamUpdate)>;
        let changed: [Change; 7] = [
            Box::new(|u| u.ts = Some(Timestamp(0))),
            Box::new(|u| u.value.as_mut().unwrap().text = "z".into()),
            Box::new(|u| u.value.as_mut().unwrap().value_type = ValueType::Int),
            Box::new(|u| {
                u.value.as_mut().unwrap().value_type = ValueType::Other("xsd:token".into());
            }),
            Box::new(|u| u.writable = Some(true)),
            Box::new(|u| u.value = None),
            Box::new(|u| {
                u.attributes = Some((
                    Attributes {
                        notification: 1,
                        access_list: Vec::new(),
                    },
                    Timestamp(1),
                ));
            }),
        ];
        for change in &changed {
            let mut other = base.clone();
            change(&mut other[0]);
            let o = InformDigest::of(&other, 1);
            assert_ne!(o.values, d.values);
            assert_eq!(o.paths, d.paths);
        }
        // Fields cannot run into one another.
        let shifted = vec![p("A.B", "xA.C"), p("", "y")];
        assert_ne!(InformDigest::of(&shifted, 1).values, d.values);
        let renamed = vec![p("A.B", "x"), p("A.D", "y")];
        assert_ne!(InformDigest::of(&renamed, 1).paths, d.paths);
    }

    #[test]
    fn only_values_read_at_the_inform_are_marked() {
        let u = p("A.B", "x");
        assert_eq!(stored_read_time(&u, Some(1)), Some(INFORMED));
        assert_eq!(stored_read_time(&u, Some(2)), Some(1));
        assert_eq!(stored_read_time(&u, None), Some(1));
        let no_value = ParamUpdate {
            value: None,
            ..u.clone()
        };
        assert_eq!(stored_read_time(&no_value, Some(1)), Some(1));
        let object = ParamUpdate { object: true, ..u };
        assert_eq!(stored_read_time(&object, Some(1)), Some(1));
    }

    #[test]
    fn plans() {
        let d = InformDigest {
            values: 1,
            paths: 2,
        };
        let last = |values, paths, at| LastInform { values, paths, at };
        assert_eq!(
            last(Some(1), Some(2), Some(5)).plan(d, false),
            ParamsPlan::Keep
        );
        assert_eq!(
            last(Some(1), Some(2), Some(5)).plan(d, true),
            ParamsPlan::Write
        );
        assert_eq!(
            last(None, Some(2), Some(5)).plan(d, false),
            ParamsPlan::Write
        );
        assert_eq!(
            last(None, None, Some(5)).plan(d, false),
            ParamsPlan::UnmarkThenWrite { at: 5 }
        );
        assert_eq!(
            last(Some(3), Some(4), Some(5)).plan(d, false),
            ParamsPlan::UnmarkThenWrite { at: 5 }
        );
        assert_eq!(LastInform::default().plan(d, false), ParamsPlan::Write);
    }
}
