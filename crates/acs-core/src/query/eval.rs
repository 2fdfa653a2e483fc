//! The filter language evaluated in memory against one device: what a preset's
//! precondition needs at session time, when the device's data is already loaded and asking
//! the store would cost a query per preset.
//!
//! It must select exactly the devices the stores' SQL selects for the same filter
//! (`acs-store`'s `shared/filter.rs`; a test in the store's suite compares the two on every
//! backend), so it follows that compiler rule for rule rather than MongoDB's documents:
//!
//! - Device fields (`_id`, `_deviceId.*`, the times) are nullable columns: a comparison is
//!   false when the field is missing; text fields compare only with strings (byte order,
//!   as SQLite's BINARY and PostgreSQL's `COLLATE "C"`), times only with numbers.
//! - Tags and parameters are sets of rows beside the device: a comparison holds if some
//!   row satisfies it (`_tags: {"$lt": "m"}`: some tag sorts before "m"), and a negation
//!   (`$ne`, `$nin`, `$not`, `null`) is the complement, so it matches devices without the
//!   parameter.
//! - A parameter exists when its value is known, or when an object of that name exists
//!   (`Device.WiFi` exists when `Device.WiFi.` does); one known by name only is `null`.
//! - A string compares with a value's text whatever its type; a number with its number
//!   ([`StoredValue::number`]: the integer types, booleans as 0/1, date-times in
//!   milliseconds), so `1` also matches a `true`; a boolean only with an `xsd:boolean`.
//! - `_timestamp` is known when the value was read ([`Timestamp::ZERO`] is never, as the
//!   store loads a missing one), `_writable` when the names were read.
//! - `$regex` uses Rust's `regex` engine with the store's size limits, unanchored, with
//!   `(?i)` for `$options: "i"`, as SQLite's `REGEXP` does. PostgreSQL runs `~` (its own
//!   engine, on `COLLATE "C"` text); the two agree on the common syntax, not on every
//!   corner: `\b` is a word boundary here and a backspace there, and `$options: "i"` folds
//!   the case of non-ASCII letters here (`ÜNÏ` matches `ünï`) but not there.

use std::collections::BTreeSet;

use regex::Regex;

use super::{Field, Filter, InvalidQuery, Op, Scalar, compile_regex};
use crate::device::{DeviceData, Param, ValueType};
use crate::time::Timestamp;

/// One device as a filter sees it.
pub trait DeviceView {
    /// `_id`: the device id as stored (`OUI-ProductClass-SerialNumber`, escaped).
    fn id(&self) -> &str;
    /// `_deviceId._Manufacturer`.
    fn manufacturer(&self) -> Option<&str>;
    /// `_deviceId._OUI`.
    fn oui(&self) -> Option<&str>;
    /// `_deviceId._ProductClass`.
    fn product_class(&self) -> Option<&str>;
    /// `_deviceId._SerialNumber`.
    fn serial_number(&self) -> Option<&str>;
    /// `_lastInform`.
    fn last_inform(&self) -> Option<Timestamp>;
    /// `_lastBoot`.
    fn last_boot(&self) -> Option<Timestamp>;
    /// `_lastBootstrap`.
    fn last_bootstrap(&self) -> Option<Timestamp>;
    /// `_registered`.
    fn registered(&self) -> Option<Timestamp>;
    /// The device's tags.
    fn tags(&self) -> impl Iterator<Item = &str>;
    /// What is known of `path` (objects end with `.`).
    fn param(&self, path: &str) -> Option<&Param>;
}

/// A device's identity, times, tags and known data, owned: a [`DeviceView`] for callers
/// that have gathered them (a session, a test).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceSnapshot {
    /// `_id`.
    pub id: String,
    /// `_deviceId._Manufacturer`.
    pub manufacturer: Option<String>,
    /// `_deviceId._OUI`.
    pub oui: Option<String>,
    /// `_deviceId._ProductClass`.
    pub product_class: Option<String>,
    /// `_deviceId._SerialNumber`.
    pub serial_number: Option<String>,
    /// `_lastInform`.
    pub last_inform: Option<Timestamp>,
    /// `_lastBoot`.
    pub last_boot: Option<Timestamp>,
    /// `_lastBootstrap`.
    pub last_bootstrap: Option<Timestamp>,
    /// `_registered`.
    pub registered: Option<Timestamp>,
    /// `_tags`.
    pub tags: BTreeSet<String>,
    /// The known parameters.
    pub data: DeviceData,
}

impl DeviceView for DeviceSnapshot {
    fn id(&self) -> &str {
        &self.id
    }
    fn manufacturer(&self) -> Option<&str> {
        self.manufacturer.as_deref()
    }
    fn oui(&self) -> Option<&str> {
        self.oui.as_deref()
    }
    fn product_class(&self) -> Option<&str> {
        self.product_class.as_deref()
    }
    fn serial_number(&self) -> Option<&str> {
        self.serial_number.as_deref()
    }
    fn last_inform(&self) -> Option<Timestamp> {
        self.last_inform
    }
    fn last_boot(&self) -> Option<Timestamp> {
        self.last_boot
    }
    fn last_bootstrap(&self) -> Option<Timestamp> {
        self.last_bootstrap
    }
    fn registered(&self) -> Option<Timestamp> {
        self.registered
    }
    fn tags(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(String::as_str)
    }
    fn param(&self, path: &str) -> Option<&Param> {
        self.data.params.get(path)
    }
}

/// A filter ready to evaluate: its regular expressions compiled once.
#[derive(Debug, Clone)]
pub struct Matcher {
    node: Node,
}

impl Default for Matcher {
    /// Matches every device (`{}`).
    fn default() -> Self {
        Matcher { node: Node::All }
    }
}

#[derive(Debug, Clone)]
enum Node {
    All,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Cond(Field, Test),
}

/// An [`Op`] with its pattern compiled.
#[derive(Debug, Clone)]
enum Test {
    Eq(Scalar),
    Ne(Scalar),
    Cmp(Cmp, Scalar),
    In(Vec<Scalar>),
    Nin(Vec<Scalar>),
    Regex(Regex),
    Exists(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Cmp {
    fn holds<T: PartialOrd + ?Sized>(self, a: &T, b: &T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Lt => a < b,
            Cmp::Lte => a <= b,
            Cmp::Gt => a > b,
            Cmp::Gte => a >= b,
        }
    }
}

impl Filter {
    /// The filter ready to evaluate in memory; refuses a `$regex` the engine cannot run,
    /// as the stores do.
    pub fn compile(&self) -> Result<Matcher, InvalidQuery> {
        Ok(Matcher { node: node(self)? })
    }
}

fn node(f: &Filter) -> Result<Node, InvalidQuery> {
    Ok(match f {
        Filter::All => Node::All,
        Filter::And(parts) => Node::And(parts.iter().map(node).collect::<Result<_, _>>()?),
        Filter::Or(parts) => Node::Or(parts.iter().map(node).collect::<Result<_, _>>()?),
        Filter::Not(inner) => Node::Not(Box::new(node(inner)?)),
        Filter::Cond(field, op) => Node::Cond(field.clone(), test(op)?),
    })
}

fn test(op: &Op) -> Result<Test, InvalidQuery> {
    Ok(match op {
        Op::Eq(v) => Test::Eq(v.clone()),
        Op::Ne(v) => Test::Ne(v.clone()),
        Op::Lt(v) => Test::Cmp(Cmp::Lt, v.clone()),
        Op::Lte(v) => Test::Cmp(Cmp::Lte, v.clone()),
        Op::Gt(v) => Test::Cmp(Cmp::Gt, v.clone()),
        Op::Gte(v) => Test::Cmp(Cmp::Gte, v.clone()),
        Op::In(list) => Test::In(list.clone()),
        Op::Nin(list) => Test::Nin(list.clone()),
        Op::Regex {
            pattern,
            case_insensitive,
        } => {
            let pattern = if *case_insensitive {
                format!("(?i){pattern}")
            } else {
                pattern.clone()
            };
            Test::Regex(compile_regex(&pattern).map_err(|e| InvalidQuery(format!("$regex: {e}")))?)
        }
        Op::Exists(b) => Test::Exists(*b),
    })
}

impl Matcher {
    /// Whether the device matches.
    pub fn matches(&self, device: &impl DeviceView) -> bool {
        eval(&self.node, device)
    }
}

fn eval(n: &Node, d: &impl DeviceView) -> bool {
    match n {
        Node::All => true,
        Node::And(parts) => parts.iter().all(|p| eval(p, d)),
        Node::Or(parts) => parts.iter().any(|p| eval(p, d)),
        Node::Not(inner) => !eval(inner, d),
        Node::Cond(field, t) => cond(field, t, d),
    }
}

fn cond(field: &Field, t: &Test, d: &impl DeviceView) -> bool {
    match field {
        Field::Id => text_column(Some(d.id()), t),
        Field::Manufacturer => text_column(d.manufacturer(), t),
        Field::Oui => text_column(d.oui(), t),
        Field::ProductClass => text_column(d.product_class(), t),
        Field::SerialNumber => text_column(d.serial_number(), t),
        Field::LastInform => time_column(d.last_inform(), t),
        Field::LastBoot => time_column(d.last_boot(), t),
        Field::LastBootstrap => time_column(d.last_bootstrap(), t),
        Field::Registered => time_column(d.registered(), t),
        Field::Tags => set(&Tags(d), t),
        Field::Value(p) if p.ends_with('.') => set(&Object(d.param(p).is_some()), t),
        Field::Value(p) => set(
            &Value {
                param: d.param(p),
                object: d.param(&format!("{p}.")).is_some(),
            },
            t,
        ),
        Field::Timestamp(p) => set(&Ts(d.param(p)), t),
        Field::Writable(p) => set(&Writable(d.param(p)), t),
    }
}

/// A condition on a device column holding `v` (`None`: NULL).
fn column<V: Copy>(
    v: Option<V>,
    t: &Test,
    cmp: impl Fn(V, Cmp, &Scalar) -> bool + Copy,
    regex: impl Fn(V, &Regex) -> bool,
) -> bool {
    let eq = |s: &Scalar| match s {
        Scalar::Null => v.is_none(),
        s => v.is_some_and(|v| cmp(v, Cmp::Eq, s)),
    };
    match t {
        Test::Eq(s) => eq(s),
        Test::Ne(s) => !eq(s),
        // `$lte: null` and `$gte: null` match what `null` matches; `$lt`/`$gt` nothing.
        Test::Cmp(Cmp::Lte | Cmp::Gte, Scalar::Null) => v.is_none(),
        Test::Cmp(_, Scalar::Null) => false,
        Test::Cmp(c, s) => v.is_some_and(|v| cmp(v, *c, s)),
        Test::In(list) => list.iter().any(eq),
        Test::Nin(list) => !list.iter().any(eq),
        Test::Regex(re) => v.is_some_and(|v| regex(v, re)),
        Test::Exists(b) => v.is_some() == *b,
    }
}

fn text_column(v: Option<&str>, t: &Test) -> bool {
    column(
        v,
        t,
        |v, c, s| match s {
            Scalar::String(s) => c.holds(v, s.as_str()),
            // A string never equals a number or a boolean.
            _ => false,
        },
        |v, re| re.is_match(v),
    )
}

fn time_column(v: Option<Timestamp>, t: &Test) -> bool {
    column(
        v,
        t,
        |v, c, s| match s {
            // Times are milliseconds; a query's number may have a fraction.
            Scalar::Number(n) => c.holds(&(v.millis() as f64), n),
            _ => false,
        },
        // No pattern matches a time.
        |_, _| false,
    )
}

/// Rows beside the device: whether any exists, and whether one satisfies a comparison
/// or a pattern.
trait RowSet {
    fn exists(&self) -> bool;
    fn any(&self, c: Cmp, s: &Scalar) -> bool;
    fn any_match(&self, re: &Regex) -> bool;
}

/// A condition on a set of rows beside the device: `null` is "no row", a negation the
/// complement of the positive condition.
fn set(rows: &impl RowSet, t: &Test) -> bool {
    let eq = |s: &Scalar| match s {
        Scalar::Null => !rows.exists(),
        s => rows.any(Cmp::Eq, s),
    };
    match t {
        Test::Eq(s) => eq(s),
        Test::Ne(s) => !eq(s),
        Test::Cmp(Cmp::Lte | Cmp::Gte, Scalar::Null) => !rows.exists(),
        Test::Cmp(_, Scalar::Null) => false,
        Test::Cmp(c, s) => rows.any(*c, s),
        Test::In(list) => list.iter().any(eq),
        Test::Nin(list) => !list.iter().any(eq),
        Test::Regex(re) => rows.any_match(re),
        Test::Exists(b) => rows.exists() == *b,
    }
}

struct Tags<'a, D>(&'a D);

impl<D: DeviceView> RowSet for Tags<'_, D> {
    fn exists(&self) -> bool {
        self.0.tags().next().is_some()
    }
    fn any(&self, c: Cmp, s: &Scalar) -> bool {
        match s {
            Scalar::String(s) => self.0.tags().any(|tag| c.holds(tag, s.as_str())),
            _ => false,
        }
    }
    fn any_match(&self, re: &Regex) -> bool {
        self.0.tags().any(|tag| re.is_match(tag))
    }
}

/// An object path (`Device.WiFi.`): it exists or not, and has no value to compare.
struct Object(bool);

impl RowSet for Object {
    fn exists(&self) -> bool {
        self.0
    }
    fn any(&self, _: Cmp, _: &Scalar) -> bool {
        false
    }
    fn any_match(&self, _: &Regex) -> bool {
        false
    }
}

/// A parameter's value; `object`: an object of the same name exists, which makes the
/// parameter exist too.
struct Value<'a> {
    param: Option<&'a Param>,
    object: bool,
}

impl RowSet for Value<'_> {
    fn exists(&self) -> bool {
        self.param.is_some_and(|p| p.value.is_some()) || self.object
    }
    fn any(&self, c: Cmp, s: &Scalar) -> bool {
        let Some(v) = self.param.and_then(|p| p.value.as_ref()) else {
            return false;
        };
        match s {
            Scalar::String(s) => c.holds(v.text.as_str(), s.as_str()),
            Scalar::Number(n) => v.number().is_some_and(|x| c.holds(&x, n)),
            Scalar::Bool(b) => {
                v.value_type == ValueType::Boolean
                    && v.number()
                        .is_some_and(|x| c.holds(&x, &f64::from(u8::from(*b))))
            }
            Scalar::Null => false,
        }
    }
    fn any_match(&self, re: &Regex) -> bool {
        self.param
            .and_then(|p| p.value.as_ref())
            .is_some_and(|v| re.is_match(&v.text))
    }
}

/// When a parameter was read.
struct Ts<'a>(Option<&'a Param>);

impl Ts<'_> {
    fn get(&self) -> Option<Timestamp> {
        self.0.map(|p| p.ts).filter(|ts| *ts != Timestamp::ZERO)
    }
}

impl RowSet for Ts<'_> {
    fn exists(&self) -> bool {
        self.get().is_some()
    }
    fn any(&self, c: Cmp, s: &Scalar) -> bool {
        match (self.get(), s) {
            (Some(ts), Scalar::Number(n)) => c.holds(&(ts.millis() as f64), n),
            _ => false,
        }
    }
    fn any_match(&self, _: &Regex) -> bool {
        false
    }
}

/// A parameter's writable flag, compared as 0/1.
struct Writable<'a>(Option<&'a Param>);

impl RowSet for Writable<'_> {
    fn exists(&self) -> bool {
        self.0.is_some_and(|p| p.writable.is_some())
    }
    fn any(&self, c: Cmp, s: &Scalar) -> bool {
        let Some(w) = self.0.and_then(|p| p.writable) else {
            return false;
        };
        let w = f64::from(u8::from(w));
        match s {
            Scalar::Bool(b) => c.holds(&w, &f64::from(u8::from(*b))),
            Scalar::Number(n) => c.holds(&w, n),
            _ => false,
        }
    }
    fn any_match(&self, _: &Regex) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::StoredValue;
    use crate::query::parse_filter;
    use serde_json::json;

    fn device() -> DeviceSnapshot {
        let mut d = DeviceSnapshot {
            id: "00D09E-HGW-SN1".into(),
            manufacturer: Some("Acme".into()),
            oui: Some("00D09E".into()),
            product_class: Some("HGW".into()),
            serial_number: Some("SN1".into()),
            last_inform: Some(Timestamp(1_000)),
            tags: ["lab".to_owned()].into(),
            ..DeviceSnapshot::default()
        };
        let mut put = |path: &str, text: Option<&str>, t: ValueType, writable: Option<bool>| {
            d.data.params.insert(
                path.into(),
                Param {
                    object: path.ends_with('.'),
                    writable,
                    value: text.map(|text| StoredValue {
                        text: text.into(),
                        value_type: t,
                    }),
                    ts: Timestamp(500),
                    attributes: None,
                },
            );
        };
        put("Device.A", Some("100"), ValueType::UnsignedInt, Some(true));
        put("Device.B", Some("true"), ValueType::Boolean, Some(false));
        put("Device.C", None, ValueType::String, None);
        put("Device.O.", None, ValueType::String, Some(false));
        d
    }

    fn m(filter: serde_json::Value) -> bool {
        parse_filter(&filter)
            .unwrap()
            .compile()
            .unwrap()
            .matches(&device())
    }

    #[test]
    fn values_by_type() {
        assert!(m(json!({"Device.A": 100})));
        assert!(m(json!({"Device.A": "100"})));
        assert!(m(json!({"Device.A": {"$gt": 99.5}})));
        assert!(
            !m(json!({"Device.A": {"$gt": "2"}})),
            "text order: \"100\" < \"2\""
        );
        assert!(m(json!({"Device.B": true})));
        assert!(m(json!({"Device.B": 1})), "booleans are 0/1 numbers too");
        assert!(
            !m(json!({"Device.A": true})),
            "only an xsd:boolean is a boolean"
        );
        assert!(m(json!({"Device.A": {"$regex": "^1"}})));
    }

    #[test]
    fn missing_values_and_objects() {
        assert!(m(json!({"Device.C": null})), "known by name only");
        assert!(m(json!({"Device.C": {"$ne": "x"}})));
        assert!(m(json!({"Device.Z": {"$nin": ["x"]}})));
        assert!(!m(json!({"Device.Z": {"$lt": "x"}})));
        assert!(m(json!({"Device.O": {"$exists": true}})));
        assert!(m(json!({"Device.O.": {"$exists": true}})));
        assert!(!m(json!({"Device.O.": "x"})));
        assert!(m(json!({"Device.O.": {"$ne": "x"}})));
        assert!(m(json!({"Device.Z": {"$lte": null}})));
        assert!(!m(json!({"Device.Z": {"$lt": null}})));
    }

    #[test]
    fn device_fields_tags_attributes() {
        assert!(m(json!({"_id": {"$regex": "SN1$"}})));
        assert!(m(json!({"_deviceId._OUI": {"$in": ["00D09E", "x"]}})));
        assert!(!m(json!({"_deviceId._OUI": 5})));
        assert!(m(json!({"_lastInform": {"$gte": 1000}})));
        assert!(m(json!({"_lastBoot": null})));
        assert!(!m(json!({"_lastBoot": {"$ne": null}})));
        assert!(m(json!({"_tags": "lab"})));
        assert!(m(json!({"_tags": {"$lt": "m"}})));
        assert!(!m(json!({"_tags": {"$ne": "lab"}})));
        assert!(m(json!({"Device.A._writable": true})));
        assert!(m(json!({"Device.B._writable": {"$ne": true}})));
        assert!(m(json!({"Device.C._writable": {"$exists": false}})));
        assert!(m(json!({"Device.A._timestamp": {"$lt": 501}})));
        assert!(m(
            json!({"$nor": [{"Device.A": 1}], "$or": [{"_tags": "x"}, {"Device.B": true}]})
        ));
    }

    #[test]
    fn bad_patterns_are_refused() {
        let f = parse_filter(&json!({"Device.A": {"$regex": "(?<=a)b"}})).unwrap();
        assert!(f.compile().is_err());
    }
}
