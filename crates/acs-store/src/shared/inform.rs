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
//! - The device row keeps digests of its last Inform's parameters ([`InformDigest`]):
//!   `inform_values` one per parameter over its path and value, `inform_paths` one over
//!   the paths alone.
//! - An Inform whose values digests equal the stored ones leaves the parameter rows
//!   alone: moving `last_inform` moves their read time. One with the same paths writes
//!   the rows of the parameters whose digest differs, and only those (a counter and the
//!   up time, say). Every other write of a device's parameters clears `inform_values`,
//!   so the digests only ever stand for rows that hold exactly the last Inform's values.
//! - An Inform with other paths first gives the rows still marked [`INFORMED`] the time of
//!   the Inform before (they were read then, and are not read now). Other writes never
//!   add marked rows, so the stored `inform_paths` covers every marked row, and an Inform
//!   with the same paths needs no such step.

use acs_core::change::ParamUpdate;
use acs_core::device::ValueType;
use xxhash_rust::xxh3::xxh3_64;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InformDigest {
    /// One digest per parameter, in the Inform's order, 8 bytes each (little-endian):
    /// over every field its row takes from the Inform but the read time of one marked
    /// [`INFORMED`]. Per parameter, so that an Inform in which a few values changed (a
    /// counter, the up time) writes those rows alone.
    pub(crate) values: Vec<u8>,
    /// Over the paths alone, in order.
    pub(crate) paths: i64,
    /// A path occurs twice. Its row then holds the later occurrence's value, and a
    /// repeated later value does not mean the row holds it: nothing may be skipped.
    repeats: bool,
}

/// The bytes each parameter's digest takes in [`InformDigest::values`].
const DIGEST_LEN: usize = 8;

impl InformDigest {
    /// XXH3 (64 bits), a fixed algorithm: digests stored by one version or node compare
    /// with another's. A collision could only hide a device's own change from itself
    /// until its next other write; a differing digest merely costs the rewrite.
    pub(crate) fn of(params: &[ParamUpdate], at: i64) -> InformDigest {
        // Each digest is XXH3 of bytes laid out in a buffer and hashed at once: the same
        // digest as XXH3's streaming interface fed the same bytes, at a fraction of its
        // cost per field (it was 2% of the ACS's instructions per periodic session).
        let mut values = Vec::with_capacity(params.len() * DIGEST_LEN);
        let mut path_digests = Vec::with_capacity(params.len());
        let mut paths = Vec::with_capacity(params.len() * 48);
        let mut h = Vec::with_capacity(128);
        for u in params {
            h.clear();
            match stored_read_time(u, Some(at)) {
                Some(INFORMED) => h.push(0),
                ts => {
                    h.push(1);
                    h.extend_from_slice(&ts.unwrap_or(i64::MIN).to_le_bytes());
                }
            }
            field(&mut paths, u.path.as_bytes());
            path_digests.push(xxh3_64(u.path.as_bytes()));
            field(&mut h, u.path.as_bytes());
            h.extend_from_slice(&[
                u8::from(u.object),
                match u.writable {
                    None => 2,
                    Some(w) => u8::from(w),
                },
            ]);
            match &u.value {
                None => h.push(0),
                Some(v) => {
                    h.extend_from_slice(&[1, v.value_type.code()]);
                    if let ValueType::Other(name) = &v.value_type {
                        field(&mut h, name.as_bytes());
                    }
                    field(&mut h, v.text.as_bytes());
                }
            }
            match &u.attributes {
                None => h.push(0),
                Some((a, ts)) => {
                    h.extend_from_slice(&[1, a.notification]);
                    h.extend_from_slice(&ts.millis().to_le_bytes());
                    h.extend_from_slice(&(a.access_list.len() as u64).to_le_bytes());
                    for name in &a.access_list {
                        field(&mut h, name.as_bytes());
                    }
                }
            }
            values.extend_from_slice(&xxh3_64(&h).to_le_bytes());
        }
        // Two paths with one digest count as a repeat: the safe side.
        path_digests.sort_unstable();
        let repeats = path_digests.windows(2).any(|w| w[0] == w[1]);
        InformDigest {
            values,
            paths: i64::from_le_bytes(xxh3_64(&paths).to_le_bytes()),
            repeats,
        }
    }
}

/// Appends a length-prefixed field, so that fields cannot run into one another.
fn field(h: &mut Vec<u8>, bytes: &[u8]) {
    h.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    h.extend_from_slice(bytes);
}

/// What the device row said of the Inform before this one.
#[derive(Debug, Clone, Default)]
pub(crate) struct LastInform {
    pub(crate) values: Option<Vec<u8>>,
    pub(crate) paths: Option<i64>,
    pub(crate) at: Option<i64>,
}

/// What an Inform must do to the device's parameter rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParamsPlan {
    /// The rows hold the Inform's values already: nothing.
    Keep,
    /// Write the rows of these of the Inform's parameters (their places in it), marked
    /// [`INFORMED`]; each differs from the row the Inform before wrote. The other rows
    /// hold their values already.
    Changed(Vec<usize>),
    /// Write all the Inform's rows, marked [`INFORMED`].
    Write,
    /// First give the rows still marked the time of the Inform before (`at`), then write
    /// all the Inform's rows.
    UnmarkThenWrite { at: i64 },
}

impl LastInform {
    /// The plan for an Inform with `digest`; `reset` when the device's rows were just
    /// deleted (a bootstrap).
    pub(crate) fn plan(&self, digest: &InformDigest, reset: bool) -> ParamsPlan {
        if reset {
            return ParamsPlan::Write;
        }
        let same_paths = self.paths == Some(digest.paths);
        match &self.values {
            Some(v) if *v == digest.values => return ParamsPlan::Keep,
            // Same paths in the same order: the rows of the parameters whose digest is
            // unchanged hold what this Inform would write.
            Some(v) if same_paths && !digest.repeats && v.len() == digest.values.len() => {
                let changed = v
                    .chunks_exact(DIGEST_LEN)
                    .zip(digest.values.chunks_exact(DIGEST_LEN))
                    .enumerate()
                    .filter(|(_, (a, b))| a != b)
                    .map(|(i, _)| i)
                    .collect();
                return ParamsPlan::Changed(changed);
            }
            _ => {}
        }
        if same_paths || self.at.is_none() {
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

    const PINNED_VALUES: [u64; 5] = [
        13835799800295453170,
        8759071931132850613,
        17737918941694960716,
        13658997208016632631,
        4095478175035171002,
    ];
    const PINNED_PATHS: i64 = -8249111050990805557;

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

    /// Digests are stored: a new version must compute what the old one stored, or every
    /// device's next Inform rewrites all its rows. These are XXH3 of the documented
    /// layout, pinned.
    #[test]
    fn digests_are_pinned_across_versions() {
        let mut attributed = p("A.D", "z");
        attributed.attributes = Some((
            Attributes {
                notification: 2,
                access_list: vec!["Subscriber".into()],
            },
            Timestamp(7),
        ));
        attributed.writable = Some(true);
        let mut object = p("A.E.", "");
        object.object = true;
        object.value = None;
        object.ts = None;
        let mut other = p("A.F", "v");
        other.value = Some(StoredValue {
            text: "v".into(),
            value_type: ValueType::Other("ext:thing".into()),
        });
        other.ts = Some(Timestamp(5));
        let d = InformDigest::of(&[p("A.B", "x"), p("A.C", ""), attributed, object, other], 1);
        let values: Vec<u64> = d
            .values
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(values, PINNED_VALUES);
        assert_eq!(d.paths, PINNED_PATHS);
        assert!(!d.repeats);
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
    fn each_parameter_has_its_own_digest() {
        let base = vec![p("A.B", "x"), p("A.C", "y"), p("A.D", "z")];
        let d = InformDigest::of(&base, 1);
        assert_eq!(d.values.len(), 3 * DIGEST_LEN);
        assert!(!d.repeats);
        let mut other = base.clone();
        other[1] = p("A.C", "w");
        let o = InformDigest::of(&other, 1);
        assert_eq!(o.values[..DIGEST_LEN], d.values[..DIGEST_LEN]);
        assert_ne!(
            o.values[DIGEST_LEN..2 * DIGEST_LEN],
            d.values[DIGEST_LEN..2 * DIGEST_LEN]
        );
        assert_eq!(o.values[2 * DIGEST_LEN..], d.values[2 * DIGEST_LEN..]);
        let repeated = vec![p("A.B", "x"), p("A.C", "y"), p("A.B", "z")];
        assert!(InformDigest::of(&repeated, 1).repeats);
    }

    #[test]
    fn plans() {
        let digests = |values: &[u64], paths, repeats| InformDigest {
            values: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            paths,
            repeats,
        };
        let d = digests(&[1, 2, 3], 9, false);
        let last = |values: Option<&[u64]>, paths, at| LastInform {
            values: values.map(|v| digests(v, 0, false).values),
            paths,
            at,
        };
        assert_eq!(
            last(Some(&[1, 2, 3]), Some(9), Some(5)).plan(&d, false),
            ParamsPlan::Keep
        );
        assert_eq!(
            last(Some(&[1, 2, 3]), Some(9), Some(5)).plan(&d, true),
            ParamsPlan::Write
        );
        assert_eq!(
            last(Some(&[1, 7, 8]), Some(9), Some(5)).plan(&d, false),
            ParamsPlan::Changed(vec![1, 2])
        );
        // A path twice: the rows cannot be told apart by place.
        assert_eq!(
            last(Some(&[1, 7, 3]), Some(9), Some(5)).plan(&digests(&[1, 2, 3], 9, true), false),
            ParamsPlan::Write
        );
        // Digests of another length (not from this version): no place compares.
        assert_eq!(
            last(Some(&[1, 2]), Some(9), Some(5)).plan(&d, false),
            ParamsPlan::Write
        );
        assert_eq!(
            last(None, Some(9), Some(5)).plan(&d, false),
            ParamsPlan::Write
        );
        assert_eq!(
            last(None, None, Some(5)).plan(&d, false),
            ParamsPlan::UnmarkThenWrite { at: 5 }
        );
        // Other paths: the places do not compare either.
        assert_eq!(
            last(Some(&[1, 7, 3]), Some(4), Some(5)).plan(&d, false),
            ParamsPlan::UnmarkThenWrite { at: 5 }
        );
        assert_eq!(LastInform::default().plan(&d, false), ParamsPlan::Write);
    }
}
