//! A declaration: what a provision wants of a path — how recently each attribute must have
//! been read (`timestamps`) and which values it must have (`values`) — parsed from the
//! JSON a script passed to `declare(path, timestamps, values)`.

use serde_json::Value as Json;

use super::path::{InvalidPattern, PathPattern};
use crate::device::{StoredValue, ValueType};
use crate::time::Timestamp;

/// How recently each attribute must have been read; `None`: no requirement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Freshness {
    /// The paths matching the declaration (instances discovered, existence known).
    pub path: Option<Timestamp>,
    /// Whether each match is an object.
    pub object: Option<Timestamp>,
    /// The writable flag.
    pub writable: Option<Timestamp>,
    /// The value.
    pub value: Option<Timestamp>,
    /// The notification attribute.
    pub notification: Option<Timestamp>,
    /// The access list attribute.
    pub access_list: Option<Timestamp>,
}

/// What the matches must be.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Wanted {
    /// How many instances (a pattern ending in `*` or a filter): at least, at most.
    pub path: Option<(u32, u32)>,
    /// The value, with the type to write it as when one was given.
    pub value: Option<WantedValue>,
    /// The notification attribute (0 to 6).
    pub notification: Option<u8>,
    /// The access list.
    pub access_list: Option<Vec<String>>,
}

/// A value a declaration sets: as the script gave it (a string, number or boolean), with
/// the type if it gave one (`["x", "xsd:string"]`).
#[derive(Debug, Clone, PartialEq)]
pub struct WantedValue {
    /// The value.
    pub value: Json,
    /// Its type, if declared; otherwise the parameter's known type is used.
    pub value_type: Option<ValueType>,
}

impl WantedValue {
    /// The value as stored for `value_type` (the declared type, else `known`), or `None`
    /// when there is no type to write it as yet.
    pub fn stored(&self, known: Option<&ValueType>) -> Option<StoredValue> {
        let value_type = self.value_type.clone().or_else(|| known.cloned())?;
        Some(StoredValue {
            text: text_for(&self.value, &value_type),
            value_type,
        })
    }
}

/// The canonical text of a script's value for a type: booleans `true`/`false` (from
/// `true`, `1`, `"1"`, `"true"`), date-times from milliseconds since the epoch, integral
/// numbers without a fraction.
fn text_for(value: &Json, value_type: &ValueType) -> String {
    match value_type {
        ValueType::Boolean => {
            let truth = match value {
                Json::Bool(b) => Some(*b),
                Json::Number(n) => n.as_f64().map(|f| f != 0.0),
                Json::String(s) => match s.as_str() {
                    "true" | "1" => Some(true),
                    "false" | "0" => Some(false),
                    _ => None,
                },
                _ => None,
            };
            match truth {
                Some(b) => b.to_string(),
                None => plain_text(value),
            }
        }
        ValueType::DateTime => match value.as_f64() {
            Some(ms) if value.is_number() => Timestamp(ms as i64).to_rfc3339(),
            _ => plain_text(value),
        },
        _ => plain_text(value),
    }
}

fn plain_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Json::Bool(b) => b.to_string(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// One `declare()` call.
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    /// The path.
    pub path: PathPattern,
    /// How fresh the matches' attributes must be.
    pub freshness: Freshness,
    /// What they must be.
    pub wanted: Wanted,
}

/// A `declare()` the engine cannot accept; thrown back into the script as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDeclaration {
    /// The path.
    #[error(transparent)]
    Path(#[from] InvalidPattern),
    /// An attribute's timestamp or value.
    #[error("{0}")]
    Attribute(String),
}

impl Declaration {
    /// Parses `declare(path, timestamps, values)`; `timestamps` and `values` are objects,
    /// or null when absent.
    pub fn parse(
        path: &str,
        timestamps: &Json,
        values: &Json,
    ) -> Result<Declaration, InvalidDeclaration> {
        let path = PathPattern::parse(path)?;
        let bad = |m: String| InvalidDeclaration::Attribute(m);
        let mut freshness = Freshness::default();
        match timestamps {
            Json::Null => {}
            Json::Object(o) => {
                for (k, v) in o {
                    // A timestamp is milliseconds since the epoch; null means none.
                    let t = match v {
                        Json::Null => continue,
                        Json::Number(n) => n
                            .as_f64()
                            .filter(|f| f.is_finite())
                            .map(|f| Timestamp(f.max(0.0) as i64)),
                        Json::Bool(true) => Some(Timestamp(1)),
                        Json::Bool(false) => continue,
                        _ => None,
                    }
                    .ok_or_else(|| bad(format!("timestamp of {k:?} must be a number")))?;
                    let slot = match k.as_str() {
                        "path" => &mut freshness.path,
                        "object" => &mut freshness.object,
                        "writable" => &mut freshness.writable,
                        "value" => &mut freshness.value,
                        "notification" => &mut freshness.notification,
                        "accessList" => &mut freshness.access_list,
                        other => return Err(bad(format!("unknown attribute {other:?}"))),
                    };
                    *slot = Some(t);
                }
            }
            _ => return Err(bad("timestamps must be an object".into())),
        }
        let mut wanted = Wanted::default();
        match values {
            Json::Null => {}
            Json::Object(o) => {
                for (k, v) in o {
                    if v.is_null() {
                        continue;
                    }
                    match k.as_str() {
                        "path" => {
                            wanted.path = Some(count(v).ok_or_else(|| {
                                bad("path must be a count or [min, max] of instances".into())
                            })?)
                        }
                        "value" => {
                            wanted.value = Some(value(v).ok_or_else(|| {
                                bad("value must be a string, number, boolean or [value, type]"
                                    .into())
                            })?)
                        }
                        "notification" => {
                            wanted.notification = Some(
                                v.as_u64()
                                    .filter(|n| *n <= 6)
                                    .and_then(|n| u8::try_from(n).ok())
                                    .ok_or_else(|| bad("notification must be 0 to 6".into()))?,
                            );
                        }
                        "accessList" => {
                            let list = v
                                .as_array()
                                .and_then(|a| {
                                    a.iter()
                                        .map(|s| s.as_str().map(str::to_owned))
                                        .collect::<Option<Vec<_>>>()
                                })
                                .ok_or_else(|| bad("accessList must be strings".into()))?;
                            wanted.access_list = Some(list);
                        }
                        other => return Err(bad(format!("cannot set attribute {other:?}"))),
                    }
                }
            }
            _ => return Err(bad("values must be an object".into())),
        }
        if wanted.path.is_some() && !path.ends_with_instances() {
            return Err(bad(
                "a count of instances needs a path ending in * or [filter]".into(),
            ));
        }
        Ok(Declaration {
            path,
            freshness,
            wanted,
        })
    }
}

fn count(v: &Json) -> Option<(u32, u32)> {
    let n = |v: &Json| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f <= 1e6)
    };
    match v {
        Json::Array(a) if a.len() == 2 => {
            let (lo, hi) = (n(&a[0])? as u32, n(&a[1])? as u32);
            (lo <= hi).then_some((lo, hi))
        }
        _ => {
            let c = n(v)? as u32;
            Some((c, c))
        }
    }
}

fn value(v: &Json) -> Option<WantedValue> {
    match v {
        Json::Array(a) if a.len() == 2 && a[1].is_string() => {
            let scalar = &a[0];
            (!scalar.is_array() && !scalar.is_object()).then(|| WantedValue {
                value: scalar.clone(),
                value_type: a[1].as_str().map(ValueType::from_xsi_name),
            })
        }
        Json::String(_) | Json::Number(_) | Json::Bool(_) => Some(WantedValue {
            value: v.clone(),
            value_type: None,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_genieacs_declarations() {
        let d = Declaration::parse(
            "Device.WiFi.SSID.*.SSID",
            &json!({"path": 10, "value": 1_700_000_000_000i64}),
            &json!({"value": ["guest", "xsd:string"]}),
        )
        .unwrap();
        assert_eq!(d.freshness.path, Some(Timestamp(10)));
        assert_eq!(d.freshness.value, Some(Timestamp(1_700_000_000_000)));
        assert_eq!(
            d.wanted.value,
            Some(WantedValue {
                value: json!("guest"),
                value_type: Some(ValueType::String)
            })
        );
        let d = Declaration::parse(
            "A.B.*",
            &Json::Null,
            &json!({"path": [1, 3], "value": null}),
        )
        .unwrap();
        assert_eq!(d.wanted.path, Some((1, 3)));
        assert_eq!(
            Declaration::parse("A.B.[]", &Json::Null, &json!({"path": 0}))
                .unwrap()
                .wanted
                .path,
            Some((0, 0))
        );
        for (path, ts, values) in [
            ("A.B", json!({"value": "now"}), Json::Null),
            ("A.B", json!({"colour": 1}), Json::Null),
            ("A.B", Json::Null, json!({"path": 1})),
            ("A.*", Json::Null, json!({"path": [3, 1]})),
            ("A.B", Json::Null, json!({"value": {"a": 1}})),
            ("A.B", Json::Null, json!({"notification": 9})),
            ("A.B", json!([1]), Json::Null),
            ("A..B", Json::Null, Json::Null),
        ] {
            assert!(
                Declaration::parse(path, &ts, &values).is_err(),
                "{path} {ts} {values}"
            );
        }
    }

    #[test]
    fn values_take_the_declared_or_known_type() {
        let v = |j: Json| WantedValue {
            value: j,
            value_type: None,
        };
        assert_eq!(v(json!(300)).stored(None), None);
        assert_eq!(
            v(json!(300))
                .stored(Some(&ValueType::UnsignedInt))
                .unwrap()
                .text,
            "300"
        );
        assert_eq!(
            v(json!(1)).stored(Some(&ValueType::Boolean)).unwrap().text,
            "true"
        );
        assert_eq!(
            v(json!("0"))
                .stored(Some(&ValueType::Boolean))
                .unwrap()
                .text,
            "false"
        );
        assert_eq!(
            v(json!(0)).stored(Some(&ValueType::DateTime)).unwrap().text,
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            v(json!(1.5)).stored(Some(&ValueType::String)).unwrap().text,
            "1.5"
        );
    }
}
