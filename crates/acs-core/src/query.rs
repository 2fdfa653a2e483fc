//! The NBI filter language: the MongoDB-style queries GenieACS takes
//! (`{"Device.DeviceInfo.SoftwareVersion": "3.0.21", "_tags": {"$ne": "lab"}}`), parsed
//! into a [`Filter`] that each store translates to indexed SQL.
//!
//! Semantics, as MongoDB gives them to GenieACS users: several keys in one object are all
//! required; `$ne` and `$nin` also match devices that lack the parameter; `null` matches a
//! missing parameter. A parameter compared with a number is compared numerically (integer
//! types, booleans as 0/1, date-times in milliseconds), with a string as text, with a
//! boolean as `xsd:boolean`.
//!
//! The stores compile a filter to SQL; [`Filter::compile`] gives a [`Matcher`] that
//! evaluates it in memory against one device ([`DeviceView`]) with the same semantics.

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use crate::task::parse_time;

mod eval;

pub use eval::{DeviceSnapshot, DeviceView, Matcher};

/// The largest compiled regular expression accepted (bytes), against patterns built to
/// exhaust memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The engine of `$regex`, in memory and in SQLite: Rust's `regex`, which runs in linear
/// time; patterns it does not support (look-around, back-references) are refused.
pub fn compile_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// A condition on devices.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every device (`{}`).
    All,
    /// All of these.
    And(Vec<Filter>),
    /// Any of these.
    Or(Vec<Filter>),
    /// Not this.
    Not(Box<Filter>),
    /// A comparison on one field.
    Cond(Field, Op),
}

/// What a condition looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `_id`: the device id.
    Id,
    /// `_tags`: one of the device's tags.
    Tags,
    /// `_lastInform`.
    LastInform,
    /// `_lastBoot`.
    LastBoot,
    /// `_lastBootstrap`.
    LastBootstrap,
    /// `_registered`.
    Registered,
    /// `_deviceId._OUI`.
    Oui,
    /// `_deviceId._ProductClass`.
    ProductClass,
    /// `_deviceId._SerialNumber`.
    SerialNumber,
    /// `_deviceId._Manufacturer`.
    Manufacturer,
    /// A parameter's value (`Device.X` or `Device.X._value`).
    Value(String),
    /// When a parameter was last read (`Device.X._timestamp`), in milliseconds.
    Timestamp(String),
    /// A parameter's writable flag (`Device.X._writable`).
    Writable(String),
}

impl Field {
    /// Whether the field holds a time (compared in milliseconds).
    pub fn is_time(&self) -> bool {
        matches!(
            self,
            Field::LastInform
                | Field::LastBoot
                | Field::LastBootstrap
                | Field::Registered
                | Field::Timestamp(_)
        )
    }
}

/// A literal in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `null`: matches a missing field.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (times: milliseconds since the epoch).
    Number(f64),
    /// A string.
    String(String),
}

/// A comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Equal (also a bare value).
    Eq(Scalar),
    /// Not equal, or missing.
    Ne(Scalar),
    /// Less than.
    Lt(Scalar),
    /// Less than or equal.
    Lte(Scalar),
    /// Greater than.
    Gt(Scalar),
    /// Greater than or equal.
    Gte(Scalar),
    /// Equal to one of these.
    In(Vec<Scalar>),
    /// Equal to none of these, or missing.
    Nin(Vec<Scalar>),
    /// Matches the regular expression.
    Regex {
        /// The pattern.
        pattern: String,
        /// `$options: "i"`.
        case_insensitive: bool,
    },
    /// Exists (or not).
    Exists(bool),
}

/// A query the API refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid query: {0}")]
pub struct InvalidQuery(pub String);

fn bad(msg: impl Into<String>) -> InvalidQuery {
    InvalidQuery(msg.into())
}

/// Bounds against queries built to be expensive.
const MAX_CONDITIONS: usize = 256;
const MAX_DEPTH: usize = 16;

/// Parses a filter from its JSON.
pub fn parse_filter(json: &Value) -> Result<Filter, InvalidQuery> {
    let mut count = 0;
    let f = parse_object(json, 0, &mut count)?;
    Ok(simplify(f))
}

fn parse_object(json: &Value, depth: usize, count: &mut usize) -> Result<Filter, InvalidQuery> {
    if depth > MAX_DEPTH {
        return Err(bad(format!("nested deeper than {MAX_DEPTH} levels")));
    }
    let Value::Object(obj) = json else {
        return Err(bad("a filter is a JSON object"));
    };
    let mut all = Vec::new();
    for (key, value) in obj {
        match key.as_str() {
            "$and" | "$or" | "$nor" => {
                let Value::Array(items) = value else {
                    return Err(bad(format!("{key} takes an array")));
                };
                if items.is_empty() {
                    return Err(bad(format!("{key} takes a non-empty array")));
                }
                let parts = items
                    .iter()
                    .map(|i| parse_object(i, depth + 1, count))
                    .collect::<Result<Vec<_>, _>>()?;
                all.push(match key.as_str() {
                    "$and" => Filter::And(parts),
                    "$or" => Filter::Or(parts),
                    _ => Filter::Not(Box::new(Filter::Or(parts))),
                });
            }
            k if k.starts_with('$') => {
                return Err(bad(format!("unknown operator {k} at the top of a filter")));
            }
            _ => {
                let field = parse_field(key)?;
                all.push(parse_ops(&field, value, count)?);
            }
        }
    }
    Ok(match all.len() {
        0 => Filter::All,
        1 => all.pop().unwrap_or(Filter::All),
        _ => Filter::And(all),
    })
}

fn parse_field(key: &str) -> Result<Field, InvalidQuery> {
    Ok(match key {
        "_id" => Field::Id,
        "_tags" => Field::Tags,
        "_lastInform" => Field::LastInform,
        "_lastBoot" => Field::LastBoot,
        "_lastBootstrap" => Field::LastBootstrap,
        "_registered" => Field::Registered,
        "_deviceId._OUI" => Field::Oui,
        "_deviceId._ProductClass" => Field::ProductClass,
        "_deviceId._SerialNumber" => Field::SerialNumber,
        "_deviceId._Manufacturer" => Field::Manufacturer,
        k if k.starts_with('_') => return Err(bad(format!("unknown field {k}"))),
        k => {
            let (path, attr) = match k.rsplit_once("._") {
                Some((path, attr)) => (path, Some(attr)),
                None => (k, None),
            };
            crate::id::ParameterPath::parse(path).map_err(|e| bad(e.to_string()))?;
            match attr {
                None | Some("value") => Field::Value(path.to_owned()),
                Some("timestamp") => Field::Timestamp(path.to_owned()),
                Some("writable") => Field::Writable(path.to_owned()),
                Some(other) => return Err(bad(format!("unknown parameter attribute _{other}"))),
            }
        }
    })
}

fn scalar(field: &Field, v: &Value) -> Result<Scalar, InvalidQuery> {
    if field.is_time() && !matches!(v, Value::Null) {
        return parse_time(v)
            .map(|t| Scalar::Number(t.millis() as f64))
            .ok_or_else(|| bad(format!("{v} is not a time (milliseconds or a date)")));
    }
    Ok(match v {
        Value::Null => Scalar::Null,
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => Scalar::Number(n.as_f64().ok_or_else(|| bad("number out of range"))?),
        Value::String(s) => Scalar::String(s.clone()),
        other => {
            return Err(bad(format!(
                "{other} is not a string, number, boolean or null"
            )));
        }
    })
}

fn scalars(field: &Field, v: &Value, op: &str) -> Result<Vec<Scalar>, InvalidQuery> {
    let Value::Array(items) = v else {
        return Err(bad(format!("{op} takes an array")));
    };
    items.iter().map(|i| scalar(field, i)).collect()
}

fn parse_ops(field: &Field, value: &Value, count: &mut usize) -> Result<Filter, InvalidQuery> {
    let ops = match value {
        Value::Object(o) if !o.is_empty() && o.keys().all(|k| k.starts_with('$')) => o,
        Value::Object(_) | Value::Array(_) => {
            return Err(bad(
                "compare with a string, number, boolean, null or operators ($eq, $ne, ...)",
            ));
        }
        v => return cond(field.clone(), Op::Eq(scalar(field, v)?), count),
    };
    let mut parts = Vec::new();
    for (op, arg) in ops {
        let f = match op.as_str() {
            "$eq" => cond(field.clone(), Op::Eq(scalar(field, arg)?), count)?,
            "$ne" => cond(field.clone(), Op::Ne(scalar(field, arg)?), count)?,
            "$lt" => cond(field.clone(), Op::Lt(scalar(field, arg)?), count)?,
            "$lte" => cond(field.clone(), Op::Lte(scalar(field, arg)?), count)?,
            "$gt" => cond(field.clone(), Op::Gt(scalar(field, arg)?), count)?,
            "$gte" => cond(field.clone(), Op::Gte(scalar(field, arg)?), count)?,
            "$in" => cond(field.clone(), Op::In(scalars(field, arg, op)?), count)?,
            "$nin" => cond(field.clone(), Op::Nin(scalars(field, arg, op)?), count)?,
            "$exists" => match arg {
                Value::Bool(b) => cond(field.clone(), Op::Exists(*b), count)?,
                _ => return Err(bad("$exists takes true or false")),
            },
            "$regex" => {
                let Value::String(pattern) = arg else {
                    return Err(bad("$regex takes a string"));
                };
                let case_insensitive = match ops.get("$options") {
                    None => false,
                    Some(Value::String(o)) if o.chars().all(|c| c == 'i') => o.contains('i'),
                    Some(_) => return Err(bad("$options may only be \"i\"")),
                };
                regex_syntax_ok(pattern)?;
                cond(
                    field.clone(),
                    Op::Regex {
                        pattern: pattern.clone(),
                        case_insensitive,
                    },
                    count,
                )?
            }
            "$options" => continue,
            "$not" => Filter::Not(Box::new(parse_ops(field, arg, count)?)),
            other => return Err(bad(format!("unknown operator {other}"))),
        };
        parts.push(f);
    }
    if ops.contains_key("$options") && !ops.contains_key("$regex") {
        return Err(bad("$options goes with $regex"));
    }
    Ok(if parts.len() == 1 {
        parts.pop().unwrap_or(Filter::All)
    } else {
        Filter::And(parts)
    })
}

fn cond(field: Field, op: Op, count: &mut usize) -> Result<Filter, InvalidQuery> {
    *count += 1;
    if *count > MAX_CONDITIONS {
        return Err(bad(format!("more than {MAX_CONDITIONS} conditions")));
    }
    Ok(Filter::Cond(field, op))
}

/// Refuses patterns no engine can run: unbalanced groups or classes. The store compiles the
/// pattern with its own engine and reports what that refuses.
fn regex_syntax_ok(pattern: &str) -> Result<(), InvalidQuery> {
    if pattern.len() > 1024 {
        return Err(bad("$regex longer than 1024 bytes"));
    }
    Ok(())
}

fn simplify(f: Filter) -> Filter {
    match f {
        Filter::And(parts) => {
            let parts: Vec<Filter> = parts
                .into_iter()
                .map(simplify)
                .filter(|p| *p != Filter::All)
                .collect();
            match parts.len() {
                0 => Filter::All,
                1 => parts.into_iter().next().unwrap_or(Filter::All),
                _ => Filter::And(parts),
            }
        }
        Filter::Or(parts) => Filter::Or(parts.into_iter().map(simplify).collect()),
        Filter::Not(inner) => Filter::Not(Box::new(simplify(*inner))),
        other => other,
    }
}

/// Sort order of a device query: a field and a direction (`1` ascending, `-1` descending).
pub fn parse_sort(json: &Value) -> Result<Vec<(Field, bool)>, InvalidQuery> {
    let Value::Object(obj) = json else {
        return Err(bad("sort is a JSON object such as {\"_lastInform\": -1}"));
    };
    obj.iter()
        .map(|(k, v)| {
            let ascending = match v.as_i64() {
                Some(1) => true,
                Some(-1) => false,
                _ => return Err(bad(format!("sort direction of {k} is 1 or -1"))),
            };
            Ok((parse_field(k)?, ascending))
        })
        .collect()
}

/// A projection: the fields to return (`"Device.DeviceInfo,_lastInform"`); empty: all.
pub fn parse_projection(s: &str) -> Result<Vec<String>, InvalidQuery> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.len() > 256 || p.contains(char::is_whitespace) {
                Err(bad(format!("{p:?} is not a projection field")))
            } else {
                Ok(p.to_owned())
            }
        })
        .collect()
}

/// An object from a `Map`, for tests and callers building filters.
pub fn filter_from_map(map: Map<String, Value>) -> Result<Filter, InvalidQuery> {
    parse_filter(&Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mongo_shapes() {
        let f = parse_filter(
            &json!({"Device.DeviceInfo.SoftwareVersion": "3.0.21", "_tags": {"$ne": "lab"}}),
        )
        .unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::Cond(
                    Field::Value("Device.DeviceInfo.SoftwareVersion".into()),
                    Op::Eq(Scalar::String("3.0.21".into()))
                ),
                Filter::Cond(Field::Tags, Op::Ne(Scalar::String("lab".into()))),
            ])
        );
        let f = parse_filter(&json!({"Device.X._value": {"$gt": 5, "$lte": 9}})).unwrap();
        assert!(matches!(f, Filter::And(ref p) if p.len() == 2));
        let f = parse_filter(
            &json!({"$or": [{"_id": "a"}, {"_id": {"$regex": "^b", "$options": "i"}}]}),
        )
        .unwrap();
        assert!(matches!(f, Filter::Or(_)));
        let f = parse_filter(&json!({"_lastInform": {"$lt": "2024-05-01T12:00:00Z"}})).unwrap();
        assert_eq!(
            f,
            Filter::Cond(
                Field::LastInform,
                Op::Lt(Scalar::Number(1_714_564_800_000.0))
            )
        );
        let f = parse_filter(&json!({"Device.X": {"$not": {"$in": [1, 2]}}})).unwrap();
        assert!(matches!(f, Filter::Not(_)));
        assert_eq!(parse_filter(&json!({})).unwrap(), Filter::All);
        assert_eq!(
            parse_filter(&json!({"_deviceId._SerialNumber": "SN1"})).unwrap(),
            Filter::Cond(Field::SerialNumber, Op::Eq(Scalar::String("SN1".into())))
        );
        assert_eq!(
            parse_filter(&json!({"Device.X._timestamp": {"$gt": 5}})).unwrap(),
            Filter::Cond(
                Field::Timestamp("Device.X".into()),
                Op::Gt(Scalar::Number(5.0))
            )
        );
    }

    #[test]
    fn refusals() {
        for q in [
            json!([]),
            json!({"$where": "1"}),
            json!({"_foo": 1}),
            json!({"Device..X": 1}),
            json!({"Device.X": {"$gt": [1]}}),
            json!({"Device.X": {"$in": 1}}),
            json!({"Device.X": {"$bogus": 1}}),
            json!({"Device.X": {"a": 1}}),
            json!({"Device.X": {"$options": "i"}}),
            json!({"$or": []}),
            json!({"_lastInform": "yesterday"}),
        ] {
            assert!(parse_filter(&q).is_err(), "{q}");
        }
        let mut deep = json!({"_id": "x"});
        for _ in 0..20 {
            deep = json!({"$and": [deep]});
        }
        assert!(parse_filter(&deep).is_err());
    }

    #[test]
    fn sort_and_projection() {
        assert_eq!(
            parse_sort(&json!({"_lastInform": -1})).unwrap(),
            vec![(Field::LastInform, false)]
        );
        assert!(parse_sort(&json!({"_lastInform": 2})).is_err());
        assert_eq!(
            parse_projection("Device.DeviceInfo, _lastInform").unwrap(),
            ["Device.DeviceInfo", "_lastInform"]
        );
    }
}
