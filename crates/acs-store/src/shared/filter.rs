//! The NBI filter language ([`Filter`]) compiled to SQL over `devices d`, for SQLite and
//! PostgreSQL alike: the [`Dialect`] says how the two differ (the regex operator, booleans,
//! where NULLs sort), and [`PathLookup`] how a parameter path is named in SQL (an interned
//! id known in memory, or a sub-query on `paths`).
//!
//! Fields of the device row compare its columns. Tags and parameters are sets of rows
//! beside the device, compared with `d.id IN (SELECT device FROM ... WHERE ...)` so that
//! the indexes on `tags(tag)`, `params(path, value)` and `params(path, num)` choose the
//! devices; negations (`$ne`, `$nin`, `null`) are `NOT IN`, so that a device without the
//! parameter matches them, as MongoDB has it. Every fragment is two-valued (never NULL),
//! so that `NOT` and `$not` mean what they say.

use acs_core::query::{Field, Filter, InvalidQuery, Op, Scalar};

use super::paths::PathMap;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Integer(i64),
    Real(f64),
    Text(String),
    /// An array of integers (PostgreSQL's `= ANY(?)`; SQLite has no arrays).
    Integers(Vec<i64>),
}

/// How the SQL of the two backends differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The regular-expression match operator (SQLite's `REGEXP` calls the `regexp`
    /// function each reader registers).
    fn regex(self) -> &'static str {
        match self {
            Dialect::Sqlite => "REGEXP",
            Dialect::Postgres => "~",
        }
    }

    /// A boolean column as an integer 0/1 (SQLite stores booleans as integers already).
    fn int(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => col.to_owned(),
            Dialect::Postgres => format!("{col}::int"),
        }
    }

    /// Where NULLs sort: first ascending and last descending, as MongoDB sorts a missing
    /// field (SQLite's default; PostgreSQL's is the opposite).
    fn nulls(self, ascending: bool) -> &'static str {
        match (self, ascending) {
            (Dialect::Sqlite, _) => "",
            (Dialect::Postgres, true) => " NULLS FIRST",
            (Dialect::Postgres, false) => " NULLS LAST",
        }
    }
}

/// How a parameter path appears in SQL.
#[derive(Debug, Clone)]
pub(crate) enum PathRef {
    /// Its interned id.
    Id(i64),
    /// Looked up in `paths` by the query.
    Name(String),
}

impl PathRef {
    /// Binds the path id.
    fn bind(&self, out: &mut Sql) {
        match self {
            PathRef::Id(id) => out.bind(Value::Integer(*id)),
            PathRef::Name(p) => {
                out.push("(SELECT id FROM paths WHERE path = ");
                out.bind(Value::Text(p.clone()));
                out.push(")");
            }
        }
    }
}

/// Resolves parameter paths for a query; `None`: no device has the path.
pub(crate) trait PathLookup {
    fn path_ref(&self, path: &str) -> Option<PathRef>;
}

impl PathLookup for PathMap {
    fn path_ref(&self, path: &str) -> Option<PathRef> {
        self.id(path).map(PathRef::Id)
    }
}

/// Paths named in the query, for a store whose path map is not all in memory (several
/// nodes intern paths in one database).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ByName;

impl PathLookup for ByName {
    fn path_ref(&self, path: &str) -> Option<PathRef> {
        Some(PathRef::Name(path.to_owned()))
    }
}

const TRUE: &str = "1 = 1";
const FALSE: &str = "1 = 0";

/// The engine of `$regex` (SQLite's `REGEXP`, and the check of every pattern): the one
/// the in-memory evaluation uses, so that the two agree.
pub(crate) use acs_core::query::compile_regex;

/// SQL text with its positional (`?`) parameters; [`Sql::numbered`] gives PostgreSQL's
/// `$1, $2...`. The SQL built here has no `?` but its placeholders.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) params: Vec<Value>,
}

impl Sql {
    pub(crate) fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    pub(crate) fn bind(&mut self, v: Value) {
        self.text.push('?');
        self.params.push(v);
    }

    pub(crate) fn append(&mut self, other: Sql) {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
    }

    /// The text with `$1, $2...` for its placeholders, as PostgreSQL numbers them.
    pub(crate) fn numbered(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 8);
        let mut n = 0;
        for c in self.text.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    }
}

// Each placeholder has one type whatever the value bound to it, because PostgreSQL
// connections cache a statement by its text with the parameter types of its first use
// (sqlx does not key its cache on them), and a later value of another type is then sent
// as bytes the server reads as the first type: `num >= $2` prepared for the float 99.5,
// then run with the integer 100, compared `num` with the float whose bits are those of
// 100 (about 5e-322). Hence `num` and `writable` always compare with a float (exact for
// every integer below 2^53, and `num` is a float anyway), times always with an integer.

/// A number compared with `num` or `writable`.
fn real(n: f64) -> Value {
    Value::Real(n)
}

/// A time in milliseconds, compared with an integer column. Times in filters come from
/// `parse_time`, so they are whole; `as` saturates beyond the range of `i64`.
fn millis(n: f64) -> Value {
    Value::Integer(n as i64)
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Cmp {
    fn sym(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
        }
    }
}

/// A column of `devices`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Time,
}

/// Rows beside the device that a condition looks for.
#[derive(Debug, Clone)]
enum Set {
    Tags,
    /// A parameter's value; `object` is the object path `<path>.`, which makes the
    /// parameter exist too.
    Value {
        leaf: Option<PathRef>,
        object: Option<PathRef>,
    },
    Timestamp(Option<PathRef>),
    Writable(Option<PathRef>),
}

/// What to look for in a set.
#[derive(Debug)]
enum Pred<'a> {
    Cmp(Cmp, &'a Scalar),
    Regex(String),
}

/// Compiles a filter to a condition on `d`.
pub(crate) fn compile(
    filter: &Filter,
    paths: &dyn PathLookup,
    dialect: Dialect,
) -> Result<Sql, InvalidQuery> {
    let mut out = Sql::default();
    Compiler { paths, dialect }.filter(filter, &mut out)?;
    Ok(out)
}

/// The rows a compiled filter asks the device to have, when that is all it asks (one tag,
/// values or a range of one parameter): `FROM tags WHERE tag = ?` (from `SELECT device
/// FROM tags WHERE tag = ?`). Their count
/// is the number of matching devices and their `device` column the devices, so counting
/// or listing the matches reads that table's index alone, without visiting `devices`.
pub(crate) fn membership(compiled: &Sql) -> Option<Sql> {
    let inner = compiled.text.strip_prefix("d.id IN (")?.strip_suffix(')')?;
    // The prefix's parenthesis must close at the very end: `d.id IN (a) OR d.id IN (b)`
    // is not one membership.
    let mut depth = 1usize;
    for c in inner.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return None;
                }
            }
            _ => {}
        }
    }
    // One row per device, so that the rows count the devices: a parameter's row is unique
    // per (device, path), a tag's per (device, tag); several tags (a regex, `$in`,
    // `$exists`) could count a device twice.
    // (PostgreSQL names the path by a subquery on `paths`, SQLite by its id.)
    let one_per_device = inner.starts_with("SELECT device FROM params WHERE path = ?")
        || inner.starts_with(
            "SELECT device FROM params WHERE path = (SELECT id FROM paths WHERE path = ?)",
        )
        || inner == "SELECT device FROM tags WHERE tag = ?";
    // Without its SELECT: the caller picks `device`, or `1` to count from the index alone.
    one_per_device.then(|| Sql {
        text: inner["SELECT device ".len()..].to_owned(),
        params: compiled.params.clone(),
    })
}

/// The same condition with each membership `d.id IN (SELECT device FROM t WHERE c)` as a
/// per-device probe, `EXISTS (SELECT 1 FROM t WHERE device = d.id AND c OFFSET 0)`. The
/// `OFFSET 0` keeps PostgreSQL from turning the probe back into a join, so the only plan
/// left for a page is to walk the sort key's index and test each device until the page is
/// full: right when many devices match (a value on 22% of them: a few hundred probes),
/// whatever the planner estimates (it multiplies the frequencies of a path and of a value,
/// which are correlated, and is off by 300 times for such a value).
pub(crate) fn as_probes(sql: &Sql) -> Sql {
    const OPEN: &str = "d.id IN (SELECT device FROM ";
    let text = &sql.text;
    let mut out = String::with_capacity(text.len() + 64);
    // Depths at which a probe was opened, to close it with OFFSET 0.
    let mut probes: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if let Some(after) = rest.strip_prefix(OPEN) {
            // `t WHERE c)` or `t)`.
            let table_end = after.find([' ', ')']).unwrap_or(after.len());
            let table = &after[..table_end];
            out.push_str("EXISTS (SELECT 1 FROM ");
            out.push_str(table);
            out.push_str(" WHERE device = d.id");
            let mut consumed = OPEN.len() + table_end;
            if after[table_end..].starts_with(" WHERE ") {
                out.push_str(" AND ");
                consumed += " WHERE ".len();
            }
            depth += 1;
            probes.push(depth);
            i += consumed;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        match c {
            '(' => {
                depth += 1;
                out.push(c);
            }
            ')' => {
                if probes.last() == Some(&depth) {
                    probes.pop();
                    out.push_str(" OFFSET 0)");
                } else {
                    out.push(c);
                }
                depth = depth.saturating_sub(1);
            }
            _ => out.push(c),
        }
        i += c.len_utf8();
    }
    Sql {
        text: out,
        params: sql.params.clone(),
    }
}

struct Compiler<'p> {
    paths: &'p dyn PathLookup,
    dialect: Dialect,
}

impl Compiler<'_> {
    fn filter(&self, f: &Filter, out: &mut Sql) -> Result<(), InvalidQuery> {
        match f {
            Filter::All => out.push(TRUE),
            Filter::And(parts) => self.join(parts, " AND ", TRUE, out)?,
            Filter::Or(parts) => self.join(parts, " OR ", FALSE, out)?,
            Filter::Not(inner) => {
                out.push("NOT (");
                self.filter(inner, out)?;
                out.push(")");
            }
            Filter::Cond(field, op) => self.cond(field, op, out)?,
        }
        Ok(())
    }

    fn join(
        &self,
        parts: &[Filter],
        sep: &str,
        empty: &str,
        out: &mut Sql,
    ) -> Result<(), InvalidQuery> {
        if parts.is_empty() {
            out.push(empty);
            return Ok(());
        }
        out.push("(");
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push(sep);
            }
            self.filter(p, out)?;
        }
        out.push(")");
        Ok(())
    }

    fn cond(&self, field: &Field, op: &Op, out: &mut Sql) -> Result<(), InvalidQuery> {
        let path_id = |p: &str| self.paths.path_ref(p);
        let d = self.dialect;
        match field {
            Field::Id => column(d, "d.device_id", Kind::Text, op, out),
            Field::Manufacturer => column(d, "d.manufacturer", Kind::Text, op, out),
            Field::Oui => column(d, "d.oui", Kind::Text, op, out),
            Field::ProductClass => column(d, "d.product_class", Kind::Text, op, out),
            Field::SerialNumber => column(d, "d.serial_number", Kind::Text, op, out),
            Field::LastInform => column(d, "d.last_inform", Kind::Time, op, out),
            Field::LastBoot => column(d, "d.last_boot", Kind::Time, op, out),
            Field::LastBootstrap => column(d, "d.last_bootstrap", Kind::Time, op, out),
            Field::Registered => column(d, "d.registered", Kind::Time, op, out),
            Field::Tags => set(d, &Set::Tags, op, out),
            // An object path (`Device.WiFi.`) has no value; it exists or not.
            Field::Value(p) if p.ends_with('.') => set(
                d,
                &Set::Value {
                    leaf: None,
                    object: path_id(p),
                },
                op,
                out,
            ),
            Field::Value(p) => set(
                d,
                &Set::Value {
                    leaf: path_id(p),
                    object: path_id(&format!("{p}.")),
                },
                op,
                out,
            ),
            Field::Timestamp(p) => set(d, &Set::Timestamp(path_id(p)), op, out),
            Field::Writable(p) => set(d, &Set::Writable(path_id(p)), op, out),
        }
    }
}

/// `each` of `list`, ORed; false when the list is empty (`$in: []` matches nothing).
fn any(
    list: &[Scalar],
    out: &mut Sql,
    mut each: impl FnMut(&Scalar, &mut Sql) -> Result<(), InvalidQuery>,
) -> Result<(), InvalidQuery> {
    if list.is_empty() {
        out.push(FALSE);
        return Ok(());
    }
    out.push("(");
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(" OR ");
        }
        each(s, out)?;
    }
    out.push(")");
    Ok(())
}

fn regex_pattern(pattern: &str, case_insensitive: bool) -> Result<String, InvalidQuery> {
    let pattern = if case_insensitive {
        format!("(?i){pattern}")
    } else {
        pattern.to_owned()
    };
    compile_regex(&pattern).map_err(|e| InvalidQuery(format!("$regex: {e}")))?;
    Ok(pattern)
}

/// A condition on a nullable column of `devices`.
fn column(d: Dialect, col: &str, kind: Kind, op: &Op, out: &mut Sql) -> Result<(), InvalidQuery> {
    let cmp = |c: Cmp, v: &Scalar, out: &mut Sql| {
        let value = match (kind, v) {
            (Kind::Text, Scalar::String(s)) => Value::Text(s.clone()),
            (Kind::Time, Scalar::Number(n)) => millis(*n),
            // A string never equals a number, nor a time a string (as in MongoDB).
            _ => return out.push(FALSE),
        };
        out.push(&format!("({col} IS NOT NULL AND {col} {} ", c.sym()));
        out.bind(value);
        out.push(")");
    };
    match op {
        Op::Eq(Scalar::Null) | Op::Lte(Scalar::Null) | Op::Gte(Scalar::Null) => {
            out.push(&format!("{col} IS NULL"));
        }
        Op::Ne(Scalar::Null) => out.push(&format!("{col} IS NOT NULL")),
        Op::Lt(Scalar::Null) | Op::Gt(Scalar::Null) => out.push(FALSE),
        Op::Eq(v) => cmp(Cmp::Eq, v, out),
        Op::Ne(v) => {
            out.push("NOT ");
            cmp(Cmp::Eq, v, out);
        }
        Op::Lt(v) => cmp(Cmp::Lt, v, out),
        Op::Lte(v) => cmp(Cmp::Lte, v, out),
        Op::Gt(v) => cmp(Cmp::Gt, v, out),
        Op::Gte(v) => cmp(Cmp::Gte, v, out),
        Op::In(list) => any(list, out, |v, out| {
            column(d, col, kind, &Op::Eq(v.clone()), out)
        })?,
        Op::Nin(list) => {
            out.push("NOT ");
            any(list, out, |v, out| {
                column(d, col, kind, &Op::Eq(v.clone()), out)
            })?;
        }
        Op::Regex {
            pattern,
            case_insensitive,
        } => {
            let pattern = regex_pattern(pattern, *case_insensitive)?;
            if kind == Kind::Text {
                out.push(&format!("({col} IS NOT NULL AND {col} {} ", d.regex()));
                out.bind(Value::Text(pattern));
                out.push(")");
            } else {
                out.push(FALSE);
            }
        }
        Op::Exists(true) => out.push(&format!("{col} IS NOT NULL")),
        Op::Exists(false) => out.push(&format!("{col} IS NULL")),
    }
    Ok(())
}

/// A condition on a set of rows beside the device.
fn set(d: Dialect, s: &Set, op: &Op, out: &mut Sql) -> Result<(), InvalidQuery> {
    match op {
        Op::Eq(Scalar::Null) | Op::Lte(Scalar::Null) | Op::Gte(Scalar::Null) => {
            out.push("NOT ");
            exists(d, s, out);
        }
        Op::Ne(Scalar::Null) => exists(d, s, out),
        Op::Lt(Scalar::Null) | Op::Gt(Scalar::Null) => out.push(FALSE),
        Op::Eq(v) => matches(d, s, &Pred::Cmp(Cmp::Eq, v), out),
        Op::Ne(v) => {
            out.push("NOT ");
            matches(d, s, &Pred::Cmp(Cmp::Eq, v), out);
        }
        Op::Lt(v) => matches(d, s, &Pred::Cmp(Cmp::Lt, v), out),
        Op::Lte(v) => matches(d, s, &Pred::Cmp(Cmp::Lte, v), out),
        Op::Gt(v) => matches(d, s, &Pred::Cmp(Cmp::Gt, v), out),
        Op::Gte(v) => matches(d, s, &Pred::Cmp(Cmp::Gte, v), out),
        Op::In(list) => any(list, out, |v, out| set(d, s, &Op::Eq(v.clone()), out))?,
        Op::Nin(list) => {
            out.push("NOT ");
            any(list, out, |v, out| set(d, s, &Op::Eq(v.clone()), out))?;
        }
        Op::Regex {
            pattern,
            case_insensitive,
        } => {
            let pattern = regex_pattern(pattern, *case_insensitive)?;
            matches(d, s, &Pred::Regex(pattern), out);
        }
        Op::Exists(true) => exists(d, s, out),
        Op::Exists(false) => {
            out.push("NOT ");
            exists(d, s, out);
        }
    }
    Ok(())
}

/// The device has a row in the set (a tag; a value or the object for a parameter).
fn exists(d: Dialect, s: &Set, out: &mut Sql) {
    match s {
        Set::Tags => out.push("d.id IN (SELECT device FROM tags)"),
        Set::Value { leaf, object } => {
            let leaf_rows = |out: &mut Sql, leaf: &PathRef| {
                param_rows(
                    leaf,
                    &d.parts(Part::All),
                    Some(&|out: &mut Sql| out.push("value IS NOT NULL")),
                    out,
                );
            };
            // An object's row has no value, so no number.
            let object_rows = |out: &mut Sql, object: &PathRef| {
                param_rows(object, &d.parts(Part::Text), None, out)
            };
            match (leaf, object) {
                (None, None) => out.push(FALSE),
                (Some(leaf), None) => leaf_rows(out, leaf),
                (None, Some(object)) => object_rows(out, object),
                (Some(leaf), Some(object)) => {
                    out.push("(");
                    leaf_rows(out, leaf);
                    out.push(" OR ");
                    object_rows(out, object);
                    out.push(")");
                }
            }
        }
        Set::Timestamp(id) | Set::Writable(id) => {
            let Some(id) = id else {
                return out.push(FALSE);
            };
            let col = if matches!(s, Set::Timestamp(_)) {
                "ts"
            } else {
                "writable"
            };
            let cond = |out: &mut Sql| out.push(&format!("{col} IS NOT NULL"));
            param_rows(id, &d.parts(Part::All), Some(&cond), out);
        }
    }
}

/// Which of a parameter's rows a condition can hold for, by whether their value is a
/// number (`num` not NULL). SQLite's index on (path, value) holds the other rows only, and
/// the numbers are in the one on (path, num): a value changing from one number to another
/// (counters, up time: most of what changes between periodic Informs) then rewrites one
/// index entry rather than two. A condition on all rows is therefore asked of each part,
/// each read through its own index.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    All,
    Text,
    Numbers,
    /// Numbers among these (a text equality: only the numbers that text reads as).
    NumbersIn(Vec<f64>),
}

impl Dialect {
    /// The parts of the rows to ask a condition on `part` of: on PostgreSQL, whose index
    /// on (path, value) holds every row, the one part.
    fn parts(self, part: Part) -> Vec<Part> {
        match (self, part) {
            (Dialect::Sqlite, Part::All) => vec![Part::Text, Part::Numbers],
            (Dialect::Sqlite, Part::NumbersIn(ns)) if ns.is_empty() => vec![Part::Text],
            (Dialect::Sqlite, Part::NumbersIn(ns)) => vec![Part::Text, Part::NumbersIn(ns)],
            (Dialect::Postgres, Part::NumbersIn(_)) => vec![Part::All],
            (_, part) => vec![part],
        }
    }
}

/// The numbers a value whose text is `text` can have in `num`: what
/// [`StoredValue::number`](acs_core::device::StoredValue::number) makes of it as each
/// numeric type (the integer types read it alike).
fn numbers_of(text: &str) -> Vec<f64> {
    use acs_core::device::{StoredValue, ValueType};
    let mut out: Vec<f64> = [ValueType::Long, ValueType::Boolean, ValueType::DateTime]
        .into_iter()
        .filter_map(|value_type| {
            StoredValue {
                text: text.to_owned(),
                value_type,
            }
            .number()
        })
        // SQLite stores NaN as NULL: such a row is in the other part.
        .filter(|n| !n.is_nan())
        .collect();
    out.sort_by(f64::total_cmp);
    out.dedup();
    out
}

/// `d.id IN (SELECT device FROM params WHERE path = <path> AND <cond>)` for each part,
/// ORed.
fn param_rows(path: &PathRef, parts: &[Part], cond: Option<&dyn Fn(&mut Sql)>, out: &mut Sql) {
    if parts.len() > 1 {
        out.push("(");
    }
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(" OR ");
        }
        out.push("d.id IN (SELECT device FROM params WHERE path = ");
        path.bind(out);
        match part {
            Part::All => {}
            Part::Text => out.push(" AND num IS NULL"),
            Part::Numbers => out.push(" AND num IS NOT NULL"),
            Part::NumbersIn(ns) => {
                out.push(" AND num IN (");
                for (j, n) in ns.iter().enumerate() {
                    if j > 0 {
                        out.push(", ");
                    }
                    out.bind(real(*n));
                }
                out.push(")");
            }
        }
        if let Some(cond) = cond {
            out.push(" AND ");
            cond(out);
        }
        out.push(")");
    }
    if parts.len() > 1 {
        out.push(")");
    }
}

/// The device has a row in the set matching `pred`.
fn matches(d: Dialect, s: &Set, pred: &Pred<'_>, out: &mut Sql) {
    // (the parameter, the parts of its rows to look in, the column compared, the value
    // bound)
    let (path, part, col, value) = match (s, pred) {
        (Set::Tags, Pred::Cmp(c, Scalar::String(v))) => {
            out.push(&format!(
                "d.id IN (SELECT device FROM tags WHERE tag {} ",
                c.sym()
            ));
            out.bind(Value::Text(v.clone()));
            return out.push(")");
        }
        (Set::Tags, Pred::Regex(p)) => {
            out.push(&format!(
                "d.id IN (SELECT device FROM tags WHERE tag {} ",
                d.regex()
            ));
            out.bind(Value::Text(p.clone()));
            return out.push(")");
        }
        (Set::Value { leaf, .. }, Pred::Cmp(Cmp::Eq, Scalar::String(v))) => (
            leaf,
            Part::NumbersIn(numbers_of(v)),
            "value = ".to_owned(),
            Value::Text(v.clone()),
        ),
        (Set::Value { leaf, .. }, Pred::Cmp(c, Scalar::String(v))) => (
            leaf,
            Part::All,
            format!("value {} ", c.sym()),
            Value::Text(v.clone()),
        ),
        (Set::Value { leaf, .. }, Pred::Cmp(c, Scalar::Number(n))) => {
            (leaf, Part::Numbers, format!("num {} ", c.sym()), real(*n))
        }
        // Booleans compare as xsd:boolean: 0/1 in num, of type boolean.
        (Set::Value { leaf, .. }, Pred::Cmp(c, Scalar::Bool(b))) => (
            leaf,
            Part::Numbers,
            format!("type = 5 AND num {} ", c.sym()),
            real(f64::from(u8::from(*b))),
        ),
        (Set::Value { leaf, .. }, Pred::Regex(p)) => (
            leaf,
            Part::All,
            format!("value {} ", d.regex()),
            Value::Text(p.clone()),
        ),
        (Set::Timestamp(id), Pred::Cmp(c, Scalar::Number(n))) => (
            id,
            Part::All,
            format!("{} {} ", super::inform::read_time("params"), c.sym()),
            millis(*n),
        ),
        (Set::Writable(id), Pred::Cmp(c, Scalar::Bool(b))) => (
            id,
            Part::All,
            format!("{} {} ", d.int("writable"), c.sym()),
            real(f64::from(u8::from(*b))),
        ),
        (Set::Writable(id), Pred::Cmp(c, Scalar::Number(n))) => (
            id,
            Part::All,
            format!("{} {} ", d.int("writable"), c.sym()),
            real(*n),
        ),
        // A type that cannot match (a number against a tag, a regex on a timestamp...).
        _ => return out.push(FALSE),
    };
    let Some(path) = path else {
        // A path no device has ever reported.
        return out.push(FALSE);
    };
    let cond = |out: &mut Sql| {
        out.push(&col);
        out.bind(value.clone());
    };
    param_rows(path, &d.parts(part), Some(&cond), out);
}

/// The ORDER BY of a device query (always ending with the device id, for stable paging)
/// and the joins it needs.
pub(crate) fn order_by(
    sort: &[(Field, bool)],
    paths: &dyn PathLookup,
    d: Dialect,
) -> Result<(Sql, String), InvalidQuery> {
    let mut joins = Sql::default();
    let mut keys: Vec<String> = Vec::new();
    for (i, (field, ascending)) in sort.iter().enumerate() {
        let dir = if *ascending { "ASC" } else { "DESC" };
        let nulls = d.nulls(*ascending);
        let col = match field {
            Field::Id => "d.device_id",
            Field::Manufacturer => "d.manufacturer",
            Field::Oui => "d.oui",
            Field::ProductClass => "d.product_class",
            Field::SerialNumber => "d.serial_number",
            Field::LastInform => "d.last_inform",
            Field::LastBoot => "d.last_boot",
            Field::LastBootstrap => "d.last_bootstrap",
            Field::Registered => "d.registered",
            Field::Tags => return Err(InvalidQuery("cannot sort by _tags".into())),
            Field::Value(p) | Field::Timestamp(p) | Field::Writable(p) => {
                // A path no device has: every device ties.
                let Some(id) = paths.path_ref(p) else {
                    continue;
                };
                let alias = format!("s{i}");
                joins.push(&format!(
                    " LEFT JOIN params {alias} ON {alias}.device = d.id AND {alias}.path = "
                ));
                id.bind(&mut joins);
                match field {
                    // Missing first, then numbers, then strings, as MongoDB orders types.
                    Field::Value(_) => keys.push(format!(
                        "CASE WHEN {alias}.value IS NULL THEN 0 \
                         WHEN {alias}.num IS NOT NULL THEN 1 ELSE 2 END {dir}, \
                         {alias}.num {dir}{nulls}, {alias}.value {dir}{nulls}"
                    )),
                    Field::Timestamp(_) => {
                        keys.push(format!("{} {dir}{nulls}", super::inform::read_time(&alias)))
                    }
                    _ => keys.push(format!("{alias}.writable {dir}{nulls}")),
                }
                continue;
            }
        };
        keys.push(format!("{col} {dir}{nulls}"));
    }
    keys.push("d.device_id ASC".into());
    Ok((joins, keys.join(", ")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use acs_core::query::parse_filter;
    use rusqlite::{Connection, params_from_iter};

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        let mut sql = Sql::default();
        sql.push("a = ");
        sql.bind(Value::Integer(1));
        sql.push(" AND b = ");
        sql.bind(Value::Text("x".into()));
        assert_eq!(sql.numbered(), "a = $1 AND b = $2");
    }
    use serde_json::json;

    #[test]
    fn memberships_become_probes() {
        let mut paths = PathMap::default();
        paths.insert(1, "Device.DeviceInfo.SoftwareVersion");
        let p = |f: serde_json::Value| {
            let sql = compile(&parse_filter(&f).unwrap(), &paths, Dialect::Postgres).unwrap();
            let probes = as_probes(&sql);
            assert_eq!(probes.params.len(), sql.params.len());
            probes.text
        };
        assert_eq!(
            p(json!({"_tags": "lab"})),
            "EXISTS (SELECT 1 FROM tags WHERE device = d.id AND tag = ? OFFSET 0)"
        );
        assert_eq!(
            p(json!({"_tags": {"$exists": true}})),
            "EXISTS (SELECT 1 FROM tags WHERE device = d.id OFFSET 0)"
        );
        let both = p(
            json!({"$or": [{"_tags": "a"}, {"Device.DeviceInfo.SoftwareVersion": "1"}],
                            "_id": {"$ne": "x"}}),
        );
        assert!(!both.contains("d.id IN"), "{both}");
        assert_eq!(both.matches("OFFSET 0)").count(), 2, "{both}");
        assert_eq!(
            both.matches('(').count(),
            both.matches(')').count(),
            "{both}"
        );
    }

    #[test]
    fn single_memberships_are_recognised() {
        let mut paths = PathMap::default();
        paths.insert(1, "Device.DeviceInfo.SoftwareVersion");
        let m = |f: serde_json::Value| {
            let sql = compile(&parse_filter(&f).unwrap(), &paths, Dialect::Postgres).unwrap();
            membership(&sql).map(|m| (m.text, m.params.len()))
        };
        assert_eq!(
            m(json!({"_tags": "lab"})),
            Some(("FROM tags WHERE tag = ?".into(), 1))
        );
        assert_eq!(
            m(json!({"Device.DeviceInfo.SoftwareVersion": "1.0"}))
                .map(|(t, n)| (t.starts_with("FROM params WHERE path = ?"), n)),
            Some((true, 2))
        );
        let by_name = compile(
            &parse_filter(&json!({"Device.X": {"$gt": 3}})).unwrap(),
            &ByName,
            Dialect::Postgres,
        )
        .unwrap();
        assert!(membership(&by_name).is_some(), "{}", by_name.text);
        for not_one in [
            json!({}),
            json!({"_tags": {"$ne": "lab"}}),
            json!({"_tags": "lab", "Device.DeviceInfo.SoftwareVersion": "1.0"}),
            json!({"$or": [{"_tags": "a"}, {"_tags": "b"}]}),
            json!({"_id": "x"}),
            json!({"_tags": {"$exists": true}}),
            json!({"_tags": {"$regex": "^lab"}}),
        ] {
            assert_eq!(m(not_one.clone()), None, "{not_one}");
        }
    }

    /// SQLite's plan for the device query of `filter`, one line per step.
    fn plan(conn: &Connection, paths: &PathMap, filter: serde_json::Value) -> Vec<String> {
        let sql = compile(&parse_filter(&filter).unwrap(), paths, Dialect::Sqlite).unwrap();
        let text = format!(
            "EXPLAIN QUERY PLAN SELECT d.id FROM devices d WHERE {}",
            sql.text
        );
        let mut stmt = conn.prepare(&text).unwrap();
        stmt.query_map(params_from_iter(sql.params.iter()), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    /// The filters an operator runs on a million devices are answered from indexes: the
    /// devices table is searched by key (never scanned), and parameters, tags and device
    /// columns through their indexes.
    #[test]
    fn positive_conditions_use_indexes() {
        let conn = Connection::open_in_memory().unwrap();
        crate::sqlite::schema::apply_migrations(&conn).unwrap();
        let mut paths = PathMap::default();
        for (id, p) in [
            (1, "Device.DeviceInfo.SoftwareVersion"),
            (2, "Device.DeviceInfo.UpTime"),
        ] {
            conn.execute("INSERT INTO paths (id, path) VALUES (?1, ?2)", (id, p))
                .unwrap();
            paths.insert(id, p);
        }
        let cases = [
            (
                json!({"Device.DeviceInfo.SoftwareVersion": "3.0.21"}),
                "params_value",
            ),
            (
                json!({"Device.DeviceInfo.SoftwareVersion": {"$in": ["3.0.21", "3.0.22"]}}),
                "params_value",
            ),
            (
                json!({"Device.DeviceInfo.UpTime": {"$gt": 3600}}),
                "params_num",
            ),
            (
                json!({"Device.DeviceInfo.UpTime": {"$gte": 1, "$lt": 10}}),
                "params_num",
            ),
            (json!({"_tags": "lab"}), "tags_tag"),
            (
                json!({"_lastInform": {"$lt": "2026-01-01T00:00:00Z"}}),
                "devices_last_inform",
            ),
            (
                json!({"_deviceId._SerialNumber": "SN1"}),
                "devices_serial_number",
            ),
            (json!({"_id": "00D09E-HGW-SN1"}), "device_id"),
            (
                json!({"$or": [{"_tags": "lab"}, {"Device.DeviceInfo.SoftwareVersion": "1"}]}),
                "params_value",
            ),
            // Text that numbers read as too: numbers through their own index.
            (
                json!({"Device.DeviceInfo.UpTime": "3600"}),
                "params_value params_num",
            ),
            (
                json!({"Device.DeviceInfo.SoftwareVersion": {"$exists": true}}),
                "params_value params_num",
            ),
            (
                json!({"Device.DeviceInfo.SoftwareVersion": {"$gte": "3"}}),
                "params_value params_num",
            ),
            (
                json!({"Device.DeviceInfo.UpTime._timestamp": {"$gt": 0}}),
                "params_value params_num",
            ),
        ];
        for (filter, indexes) in cases {
            let steps = plan(&conn, &paths, filter.clone());
            let text = steps.join("\n");
            for index in indexes.split(' ') {
                assert!(
                    text.contains(index),
                    "{filter}: expected {index} in\n{text}"
                );
            }
            assert!(
                !steps.iter().any(|s| s.starts_with("SCAN")),
                "{filter}: a table is scanned:\n{text}"
            );
        }
        // A negation matches devices without the parameter too, so it must visit every
        // device: the check above does see scans.
        let steps = plan(
            &conn,
            &paths,
            json!({"Device.DeviceInfo.SoftwareVersion": {"$ne": "1"}}),
        );
        assert!(steps.iter().any(|s| s.starts_with("SCAN d")), "{steps:?}");
    }
}
